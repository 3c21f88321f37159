/* select.c — class-offset tuning after training: per-class offsets added to
 * the logits, chosen on the validation split to maximise macro F1 (then
 * folded into the last dense bias by train.c). Kept apart from the loop
 * because it only looks at logits, never at the network. Nothing here
 * allocates: the caller passes the prediction scratch. */
#include "train/train.h"

#include <math.h>

/* Macro F1 (ferc_metrics_compute) of pred = argmax(logits + off) against
 * y_true; pred (n) is the caller's scratch, so nothing is allocated. */
double ferc_macro_f1_offsets(const float *logits, const int *y_true, int n, const float *off, int *pred) {
    for (int i = 0; i < n; i++) {
        const float *z = logits + (size_t)i * FERC_NUM_CLASSES;
        int best = 0;
        for (int k = 1; k < FERC_NUM_CLASSES; k++) if (z[k] + off[k] > z[best] + off[best]) best = k;
        pred[i] = best;
    }
    ferc_metrics m;
    ferc_metrics_compute(y_true, pred, n, &m);
    return m.macro_f1;
}

/* Per-class logit offsets that maximise macro F1 on the given logits:
 * coordinate ascent over a grid of -3..3 in steps of 0.05, three sweeps,
 * keeping a change only when it raises the score (ties keep the smaller
 * offset). Returns the final score; off (7) starts at 0. */
double ferc_tune_class_offsets(const float *logits, const int *y_true, int n, float *off, int *pred) {
    for (int k = 0; k < FERC_NUM_CLASSES; k++) off[k] = 0;
    double best = ferc_macro_f1_offsets(logits, y_true, n, off, pred);
    for (int sweep = 0; sweep < 3; sweep++) {
        int changed = 0;
        for (int c = 0; c < FERC_NUM_CLASSES; c++) {
            float keep = off[c], bestv = keep;
            for (int g = -60; g <= 60; g++) {
                off[c] = 0.05f * (float)g;
                double f = ferc_macro_f1_offsets(logits, y_true, n, off, pred);
                if (f > best + 1e-12 || (fabs(f - best) <= 1e-12 && fabsf(off[c]) < fabsf(bestv))) {
                    if (f > best + 1e-12) changed = 1;
                    best = f > best ? f : best; bestv = off[c];
                }
            }
            off[c] = bestv;
        }
        if (!changed) break;
    }
    return best;
}
