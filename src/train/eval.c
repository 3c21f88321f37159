/* eval.c — runs a model over every row of a dataset (in chunks, resized to
 * the model's input) and computes the metrics of its predictions. */
#include "train/train.h"
#include "data/data.h"

#include <stdlib.h>
#include <string.h>

/* The views of rows [first, first+n) for TTA: x (n * V, S, S). */
static void tta_views(const ferc_model *m, const ferc_dataset *d, int first, int n, int V, float *x) {
    const int S = m->input_size, P = d->h;
    float face[256 * 256];
    for (int i = 0; i < n; i++) {
        const uint8_t *px = d->pix + (size_t)(first + i) * d->h * d->w;
        float *xi = x + (size_t)i * V * S * S;
        for (int k = 0; k < d->h * d->w; k++) face[k] = px[k] / 255.0f;
        if (V == 10) {
            ferc_augment_ten_crop(face, P, P, xi, S, S);
        } else {
            ferc_model_prepare(m, face, d->h, d->w, xi);
            for (int r = 0; r < S; r++)   /* the mirror image: x' (r, c) = x (r, S-1-c) */
                for (int c = 0; c < S; c++) xi[(size_t)S * S + r * S + c] = xi[r * S + (S - 1 - c)];
        }
    }
}

static ferc_status evaluate(ferc_model *m, const ferc_dataset *d, int threads, int tta, int *pred,
                            float *probs, ferc_metrics *out, ferc_error *err);

ferc_status ferc_evaluate(ferc_model *m, const ferc_dataset *d, int threads, int *pred,
                          float *probs, ferc_metrics *out, ferc_error *err) {
    return evaluate(m, d, threads, 0, pred, probs, out, err);
}

ferc_status ferc_evaluate_tta(ferc_model *m, const ferc_dataset *d, int threads, int *pred,
                              float *probs, ferc_metrics *out, ferc_error *err) {
    return evaluate(m, d, threads, 1, pred, probs, out, err);
}

static ferc_status evaluate(ferc_model *m, const ferc_dataset *d, int threads, int tta, int *pred,
                            float *probs, ferc_metrics *out, ferc_error *err) {
    if (!d || d->n <= 0) return ferc_fail(err, FERC_ERR_ARG, "no rows to evaluate");
    const int S = m->input_size, chunk = 512;
    int V = !tta ? 1 : m->prep_crop ? 10 : 2;
    if (tta && (d->h > 256 || d->w != d->h || (m->prep_crop && d->h != m->prep_size)))
        return ferc_fail(err, FERC_ERR_ARG, "test-time augmentation needs square faces of the training size");
    threads = ferc_threads(threads);
    float *x = malloc(sizeof(float) * (size_t)chunk * V * S * S);
    float *p = malloc(sizeof(float) * (size_t)chunk * V * FERC_NUM_CLASSES);
    int *own = pred ? NULL : malloc(sizeof(int) * (size_t)d->n);
    int *yp = pred ? pred : own;
    if (!x || !p || !yp) { free(x); free(p); free(own); return ferc_fail(err, FERC_ERR_NOMEM, "out of memory"); }
    ferc_status st = FERC_OK;
    for (int i = 0; i < d->n && st == FERC_OK; i += chunk) {
        int n = d->n - i < chunk ? d->n - i : chunk;
        if (V == 1) st = ferc_model_prepare_rows(m, d, i, n, x, err);
        else tta_views(m, d, i, n, V, x);
        if (st == FERC_OK) st = ferc_model_predict(m, x, n * V, p, threads, err);
        for (int k = 0; k < n && st == FERC_OK; k++) {
            float *pk = p + (size_t)k * V * FERC_NUM_CLASSES;   /* mean over the views */
            for (int v = 1; v < V; v++)
                for (int c = 0; c < FERC_NUM_CLASSES; c++) pk[c] += pk[(size_t)v * FERC_NUM_CLASSES + c];
            for (int c = 0; c < FERC_NUM_CLASSES; c++) pk[c] /= (float)V;
            int best = 0;
            for (int c = 1; c < FERC_NUM_CLASSES; c++) if (pk[c] > pk[best]) best = c;
            yp[i + k] = best;
            if (probs) memcpy(probs + (size_t)(i + k) * FERC_NUM_CLASSES, pk, sizeof(float) * FERC_NUM_CLASSES);
        }
    }
    if (st == FERC_OK && out) ferc_metrics_compute(d->label, yp, d->n, out);
    free(x); free(p); free(own);
    return st;
}
