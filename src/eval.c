/* eval.c — runs a model over every row of a dataset (in chunks, resized to
 * the model's input) and computes the metrics of its predictions. */
#include "net.h"
#include "internal.h"

#include <stdlib.h>
#include <string.h>

ferc_status ferc_evaluate(ferc_model *m, const ferc_dataset *d, int threads, int *pred,
                          float *probs, ferc_metrics *out, ferc_error *err) {
    if (!d || d->n <= 0) return ferc_fail(err, FERC_ERR_ARG, "no rows to evaluate");
    const int S = m->input_size, chunk = 512;
    threads = ferc_threads(threads);
    float *x = malloc(sizeof(float) * (size_t)chunk * S * S);
    float *p = malloc(sizeof(float) * (size_t)chunk * FERC_NUM_CLASSES);
    int *own = pred ? NULL : malloc(sizeof(int) * (size_t)d->n);
    int *yp = pred ? pred : own;
    if (!x || !p || !yp) { free(x); free(p); free(own); return ferc_fail(err, FERC_ERR_NOMEM, "out of memory"); }
    ferc_status st = FERC_OK;
    for (int i = 0; i < d->n && st == FERC_OK; i += chunk) {
        int n = d->n - i < chunk ? d->n - i : chunk;
        st = ferc_model_prepare_rows(m, d, i, n, x, err);
        if (st == FERC_OK) st = ferc_model_predict(m, x, n, p, threads, err);
        for (int k = 0; k < n && st == FERC_OK; k++) {
            const float *pk = p + (size_t)k * FERC_NUM_CLASSES;
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
