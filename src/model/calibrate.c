/* calibrate.c — temperature scaling of a model's probabilities (Guo et al.
 * 2017, "On Calibration of Modern Neural Networks"): one number T, fitted
 * on the validation split by minimising the negative log-likelihood, makes
 * the scores mean what they say without changing any prediction.
 *
 * T acts on probabilities, not logits: softmax(z / T) = p^(1/T) normalised,
 * because ln p = z - logsumexp(z) differs from z by a per-row constant. So
 * the same code calibrates a network and an ensemble (whose output is an
 * average of probabilities, with no logits of its own). */
#include "model/model.h"
#include "data/data.h"
#include "core/core.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { K = FERC_NUM_CLASSES, CALIB_BINS = 15, GOLDEN_STEPS = 80 };

void ferc_probs_temper(float *probs, int n, float factor) {
    for (int i = 0; i < n; i++) {
        float *p = probs + (size_t)i * K;
        double l[K], mx = -INFINITY, sum = 0;
        for (int c = 0; c < K; c++) {   /* in the log domain: no underflow for small p */
            l[c] = p[c] > 0 ? factor * log((double)p[c]) : -INFINITY;
            if (l[c] > mx) mx = l[c];
        }
        if (!isfinite(mx)) continue;
        for (int c = 0; c < K; c++) { l[c] = exp(l[c] - mx); sum += l[c]; }
        for (int c = 0; c < K; c++) p[c] = (float)(l[c] / sum);
    }
}

/* Mean -ln p(true) of probs tempered by factor (probs left unchanged). */
static double nll(const float *probs, const int *labels, int n, double factor) {
    double s = 0;
    for (int i = 0; i < n; i++) {
        const float *p = probs + (size_t)i * K;
        double mx = -INFINITY, sum = 0, l[K];
        for (int c = 0; c < K; c++) {
            l[c] = factor * log(fmax((double)p[c], 1e-30));
            if (l[c] > mx) mx = l[c];
        }
        for (int c = 0; c < K; c++) sum += exp(l[c] - mx);
        s -= l[labels[i]] - mx - log(sum);
    }
    return n > 0 ? s / n : 0;
}

/* argmin over T in [0.05, 20] of nll(1/T): golden-section search on ln T
 * (the NLL is convex in 1/T, so unimodal in ln T). */
double calibrate_fit_temperature(const float *probs, const int *labels, int n) {
    const double g = (sqrt(5.0) - 1) / 2;
    double a = log(0.05), b = log(20.0);
    double x1 = b - g * (b - a), x2 = a + g * (b - a);
    double f1 = nll(probs, labels, n, exp(-x1)), f2 = nll(probs, labels, n, exp(-x2));
    for (int it = 0; it < GOLDEN_STEPS; it++) {
        if (f1 < f2) { b = x2; x2 = x1; f2 = f1; x1 = b - g * (b - a); f1 = nll(probs, labels, n, exp(-x1)); }
        else { a = x1; x1 = x2; f1 = f2; x2 = a + g * (b - a); f2 = nll(probs, labels, n, exp(-x2)); }
    }
    return exp((a + b) / 2);
}

float ferc_model_temperature(const ferc_model *m) { return m ? m->temperature : 1.0f; }

ferc_status ferc_model_set_temperature(ferc_model *m, float t, ferc_error *err) {
    if (!m) return ferc_fail(err, FERC_ERR_ARG, "no model");
    if (!(t >= FERC_TEMPERATURE_MIN && t <= FERC_TEMPERATURE_MAX))
        return ferc_fail(err, FERC_ERR_ARG, "temperature %g is outside %g..%g", (double)t,
                         (double)FERC_TEMPERATURE_MIN, (double)FERC_TEMPERATURE_MAX);
    m->temperature = t;
    return FERC_OK;
}

/* The uncalibrated probabilities of the validation faces of d. */
static ferc_status validation_probs(ferc_model *m, const ferc_dataset *d, float frac, uint64_t seed, int threads,
                                    ferc_dataset *v, float **probs, ferc_error *err) {
    int *scratch = malloc(sizeof(int) * (size_t)d->n), *val = malloc(sizeof(int) * (size_t)d->n);
    if (!scratch || !val) { free(scratch); free(val); return ferc_fail(err, FERC_ERR_NOMEM, "out of memory"); }
    const int nval = data_split_stratified(d, frac, seed, scratch, NULL, NULL, val);   /* ferc_train's rows */
    free(scratch);
    ferc_status st = nval ? data_subset(d, val, nval, v, err)
                          : ferc_fail(err, FERC_ERR_ARG, "the validation split of %d faces at fraction %g is empty",
                                      d->n, (double)frac);
    free(val);
    if (st) return st;
    *probs = malloc(sizeof(float) * K * (size_t)nval);
    if (!*probs) return ferc_fail(err, FERC_ERR_NOMEM, "out of memory");
    const float keep = m->temperature;
    m->temperature = 1.0f;
    ferc_metrics met;
    st = ferc_evaluate(m, v, threads, NULL, *probs, &met, err);
    m->temperature = keep;
    return st;
}

static ferc_status check_calibrate(const ferc_model *m, const ferc_dataset *d, float frac, ferc_error *err) {
    if (!m || !d) return ferc_fail(err, FERC_ERR_ARG, "calibrate: no model or data");
    if (!(frac > 0 && frac < 1)) return ferc_fail(err, FERC_ERR_ARG, "calibrate: validation fraction must be in (0,1)");
    for (int i = 0; i < d->n; i++)
        if (d->label[i] < 0 || d->label[i] >= K)
            return ferc_fail(err, FERC_ERR_ARG, "calibrate: row %d has label %d outside 0..6", i, d->label[i]);
    return FERC_OK;
}

ferc_status ferc_model_calibrate(ferc_model *m, const ferc_dataset *d, float val_fraction, uint64_t seed,
                                 int threads, ferc_calibration_fit *fit, ferc_error *err) {
    ferc_status st = check_calibrate(m, d, val_fraction, err);
    if (st) return st;
    ferc_dataset v = {0};
    float *p = NULL;
    st = validation_probs(m, d, val_fraction, seed, threads, &v, &p, err);
    ferc_calibration before, after;
    if (st == FERC_OK) st = ferc_calibration_compute(p, v.label, v.n, CALIB_BINS, &before, err);
    if (st == FERC_OK) {
        const double t = calibrate_fit_temperature(p, v.label, v.n);
        ferc_calibration_fit f = {.nval = v.n, .temperature = (float)t,
                                  .nll_before = (float)nll(p, v.label, v.n, 1.0),
                                  .nll_after = (float)nll(p, v.label, v.n, 1.0 / (float)t),
                                  .ece_before = (float)before.ece};
        ferc_probs_temper(p, v.n, 1.0f / (float)t);
        st = ferc_calibration_compute(p, v.label, v.n, CALIB_BINS, &after, err);
        f.ece_after = (float)after.ece;
        if (st == FERC_OK) st = ferc_model_set_temperature(m, f.temperature, err);
        if (st == FERC_OK && fit) *fit = f;
    }
    free(p);
    ferc_dataset_free(&v);
    return st;
}
