/* ensemble.c — models made of models. An ensemble averages the softmax
 * probabilities of its members with weights, each member seeing the face
 * through its own preprocessing (seed 48x48, seed2 40x40, a centre crop for
 * crop-trained nets), so that differently trained networks combine behind
 * the one ferc_model API that eval, predict, video and report already use:
 * model.c hands an ensemble's calls here. The weights can be fitted on the
 * validation split ferc_train carves from the Training rows. The file
 * format (members bundled in one file) is in file.c. */
#include "model/model.h"
#include "data/data.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Faces per pass through the members: a multiple of the 256-face chunks of
 * ferc_model_predict, so that a member sees the same batches as when it
 * classifies the same faces alone (batch size can change the last bits). */
#define ENSEMBLE_CHUNK 1024

/* ------------------------------------------------------------------------ */
/* Creation                                                                  */
/* ------------------------------------------------------------------------ */

static ferc_status check_members(ferc_model *const *members, const float *weights, int n, ferc_error *err) {
    if (n < 1 || n > ENSEMBLE_MAX_MEMBERS)
        return ferc_fail(err, FERC_ERR_ARG, "an ensemble holds 1 to %d models, not %d", ENSEMBLE_MAX_MEMBERS, n);
    double sum = 0;
    for (int i = 0; i < n; i++) {
        const ferc_model *k = members[i];
        if (!k) return ferc_fail(err, FERC_ERR_ARG, "ensemble member %d is NULL", i + 1);
        if (k->nmembers) return ferc_fail(err, FERC_ERR_ARG, "ensemble member %d is itself an ensemble; list its members instead", i + 1);
        for (int c = 0; c < FERC_NUM_CLASSES; c++)
            if (strcmp(k->labels[c], members[0]->labels[c]) != 0)
                return ferc_fail(err, FERC_ERR_ARG, "ensemble member %d calls class %d '%s', member 1 calls it '%s'", i + 1, c,
                                 k->labels[c], members[0]->labels[c]);
        if (weights && !(weights[i] >= 0 && isfinite(weights[i])))
            return ferc_fail(err, FERC_ERR_ARG, "ensemble weight %d is %g; weights must be finite and >= 0", i + 1, (double)weights[i]);
        sum += weights ? weights[i] : 1;
    }
    if (!(sum > 0)) return ferc_fail(err, FERC_ERR_ARG, "ensemble weights are all zero");
    return FERC_OK;
}

/* w normalised to sum 1 into out (equal weights when w is NULL): the one
 * normalisation, so that fitted and loaded weights agree to the bit. */
static void normalise_weights(const float *w, int n, float *out) {
    float sum = 0;
    for (int i = 0; i < n; i++) sum += w ? w[i] : 1.0f;
    for (int i = 0; i < n; i++) out[i] = (w ? w[i] : 1.0f) / sum;
}

/* "ensemble of 2: seed 48x48 + seed2 40x40", what ferc_model_spec says. */
static char *describe(ferc_model *const *members, int n) {
    size_t cap = 32 + (size_t)n * 80, len;
    char *s = malloc(cap);
    if (!s) return NULL;
    len = (size_t)snprintf(s, cap, "ensemble of %d:", n);
    for (int i = 0; i < n && len < cap; i++) {
        const ferc_model *k = members[i];
        len += (size_t)snprintf(s + len, cap - len, "%s %s %dx%d%s", i ? " +" : "", k->arch, k->input_size, k->input_size,
                                k->prep_crop ? " (centre crop)" : "");
    }
    return s;
}

ferc_status ensemble_new(ferc_model **members, const char *const *names, const float *weights, int n,
                         ferc_model **out, ferc_error *err) {
    *out = NULL;
    ferc_status st = check_members(members, weights, n, err);
    ferc_model *m = st == FERC_OK ? calloc(1, sizeof *m) : NULL;
    if (!m) {
        for (int i = 0; i < n && members; i++) ferc_model_free(members[i]);
        return st != FERC_OK ? st : ferc_fail(err, FERC_ERR_NOMEM, "out of memory");
    }
    m->temperature = 1.0f;
    m->members = calloc((size_t)n, sizeof *m->members);
    m->member_names = calloc((size_t)n, sizeof *m->member_names);
    m->weights = malloc(sizeof(float) * (size_t)n);
    int oom = !m->members || !m->member_names || !m->weights;
    for (int i = 0; i < n; i++) {
        if (m->members) { m->members[i] = members[i]; m->nmembers = i + 1; }
        else ferc_model_free(members[i]);
    }
    for (int i = 0; i < n && !oom; i++) {
        const char *nm = names && names[i] ? names[i] : "";
        oom |= !(m->member_names[i] = strdup(nm));
        int f = ferc_model_face_size(members[i]);
        if (f > m->input_size) m->input_size = f;
    }
    if (!oom) oom = !(m->spec = describe(members, n));
    if (oom) { ferc_model_free(m); return ferc_fail(err, FERC_ERR_NOMEM, "out of memory"); }
    normalise_weights(weights, n, m->weights);
    snprintf(m->arch, sizeof m->arch, "ensemble");
    memcpy(m->labels, members[0]->labels, sizeof m->labels);
    m->norm_scale = 1.0f / 255.0f; m->norm_mean = 0; m->norm_std = 1;
    m->prep_size = m->input_size; m->prep_crop = 0;
    m->fit = (ferc_ensemble_fit){.nval = 0, .acc_equal = NAN, .acc_fitted = NAN};
    *out = m;
    return FERC_OK;
}

ferc_status ferc_ensemble_create(ferc_model **members, const char *const *names, const float *weights,
                                 int n, ferc_model **out, ferc_error *err) {
    if (!out) return ferc_fail(err, FERC_ERR_ARG, "ferc_ensemble_create: NULL output");
    if (!members) { *out = NULL; return ferc_fail(err, FERC_ERR_ARG, "ferc_ensemble_create: no members"); }
    return ensemble_new(members, names, weights, n, out, err);
}

int ferc_model_num_members(const ferc_model *m) { return m ? m->nmembers : 0; }

const ferc_model *ferc_model_member(const ferc_model *m, int i, const char **name, float *weight) {
    if (!m || i < 0 || i >= m->nmembers) return NULL;
    if (name) *name = m->member_names[i];
    if (weight) *weight = m->weights[i];
    return m->members[i];
}

void ferc_ensemble_fit_info(const ferc_model *m, ferc_ensemble_fit *fit) {
    *fit = m->nmembers ? m->fit : (ferc_ensemble_fit){.nval = 0, .acc_equal = NAN, .acc_fitted = NAN};
}

/* ------------------------------------------------------------------------ */
/* Inference                                                                 */
/* ------------------------------------------------------------------------ */

/* Does member k take the ensemble's input as it is? (A resize to the same
 * size is the identity, to the bit.) */
static int same_view(const ferc_model *k, int S) { return k->input_size == S && !k->prep_crop; }

/* The largest member input, in floats per face. */
static size_t max_member_input(const ferc_model *m) {
    size_t mx = 1;
    for (int k = 0; k < m->nmembers; k++) {
        size_t s = (size_t)m->members[k]->input_size * m->members[k]->input_size;
        if (s > mx) mx = s;
    }
    return mx;
}

/* Probabilities pm (b, 7) of member k for b faces x (b, S, S) at the
 * ensemble's input, through the member's own preprocessing (into xm). */
static ferc_status member_probs(ferc_model *m, int k, const float *x, int b, float *xm, float *pm, int threads,
                                ferc_error *err) {
    ferc_model *mk = m->members[k];
    const int S = m->input_size, Sk = mk->input_size;
    const float *xk = x;
    if (!same_view(mk, S)) {
        for (int j = 0; j < b; j++) ferc_model_prepare(mk, x + (size_t)j * S * S, S, S, xm + (size_t)j * Sk * Sk);
        xk = xm;
    }
    return ferc_model_predict(mk, xk, b, pm, threads, err);
}

ferc_status ensemble_predict(ferc_model *m, const float *x, int n, float *probs, int threads,
                             ferc_error *err) {
    const size_t per = (size_t)m->input_size * m->input_size;
    const int chunk = n < ENSEMBLE_CHUNK ? n : ENSEMBLE_CHUNK;
    float *xm = malloc(sizeof(float) * max_member_input(m) * (size_t)chunk);
    float *pm = malloc(sizeof(float) * FERC_NUM_CLASSES * (size_t)chunk);
    if (!xm || !pm) { free(xm); free(pm); return ferc_fail(err, FERC_ERR_NOMEM, "out of memory"); }
    ferc_status st = FERC_OK;
    for (int i = 0; i < n && st == FERC_OK; i += chunk) {
        const int b = n - i < chunk ? n - i : chunk;
        float *pb = probs + (size_t)i * FERC_NUM_CLASSES;
        memset(pb, 0, sizeof(float) * FERC_NUM_CLASSES * (size_t)b);
        for (int k = 0; k < m->nmembers && st == FERC_OK; k++) {
            if (m->weights[k] == 0) continue;   /* adds nothing: not run */
            st = member_probs(m, k, x + (size_t)i * per, b, xm, pm, threads, err);
            for (size_t q = 0; st == FERC_OK && q < (size_t)b * FERC_NUM_CLASSES; q++) pb[q] += m->weights[k] * pm[q];
        }
    }
    free(xm);
    free(pm);
    return st;
}

/* g += w P^T gk, P the linear map of member k's preprocessing from the
 * ensemble's input (S, S) to its own (Sk, Sk): column j of P is the member's
 * view of the image that is 1 at pixel j and 0 elsewhere. */
static void add_back_projected(const ferc_model *mk, int S, const float *gk, float w, float *g, float *unit,
                               float *col) {
    const size_t SS = (size_t)S * S, SK = (size_t)mk->input_size * mk->input_size;
    if (same_view(mk, S)) {
        for (size_t j = 0; j < SS; j++) g[j] += w * gk[j];
        return;
    }
    memset(unit, 0, sizeof(float) * SS);
    for (size_t j = 0; j < SS; j++) {
        unit[j] = 1.0f;
        ferc_model_prepare(mk, unit, S, S, col);
        unit[j] = 0.0f;
        double dot = 0;
        for (size_t q = 0; q < SK; q++) dot += (double)col[q] * gk[q];
        g[j] += w * (float)dot;
    }
}

/* The weighted sum of the members' d logit[cls] / d x, each taken on the
 * member's view of the face and carried back to the ensemble's input. */
ferc_status ensemble_saliency(ferc_model *m, const float *x, int cls, float *grad, ferc_error *err) {
    const int S = m->input_size;
    const size_t SS = (size_t)S * S, mx = max_member_input(m);
    float *xm = malloc(sizeof(float) * mx), *gm = malloc(sizeof(float) * mx), *col = malloc(sizeof(float) * mx);
    float *unit = malloc(sizeof(float) * SS);
    ferc_status st = xm && gm && col && unit ? FERC_OK : ferc_fail(err, FERC_ERR_NOMEM, "out of memory");
    if (st == FERC_OK) memset(grad, 0, sizeof(float) * SS);
    for (int k = 0; k < m->nmembers && st == FERC_OK; k++) {
        ferc_model *mk = m->members[k];
        ferc_model_prepare(mk, x, S, S, xm);
        if ((st = ferc_model_saliency(mk, xm, cls, gm, err)) == FERC_OK)
            add_back_projected(mk, S, gm, m->weights[k], grad, unit, col);
    }
    free(xm); free(gm); free(col); free(unit);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Fitting the weights on the validation split                               */
/* ------------------------------------------------------------------------ */

/* Every member's probabilities of every face of v: P (K, v->n, 7). */
static ferc_status all_member_probs(ferc_model *m, const ferc_dataset *v, int threads, float *P, ferc_error *err) {
    const int chunk = v->n < ENSEMBLE_CHUNK ? v->n : ENSEMBLE_CHUNK;
    const size_t per = (size_t)m->input_size * m->input_size;
    float *x = malloc(sizeof(float) * per * (size_t)chunk), *xm = malloc(sizeof(float) * max_member_input(m) * (size_t)chunk);
    ferc_status st = x && xm ? FERC_OK : ferc_fail(err, FERC_ERR_NOMEM, "out of memory");
    for (int i = 0; i < v->n && st == FERC_OK; i += chunk) {
        const int b = v->n - i < chunk ? v->n - i : chunk;
        st = ferc_model_prepare_rows(m, v, i, b, x, err);
        for (int k = 0; k < m->nmembers && st == FERC_OK; k++)
            st = member_probs(m, k, x, b, xm, P + ((size_t)k * v->n + i) * FERC_NUM_CLASSES, threads, err);
    }
    free(x);
    free(xm);
    return st;
}

/* Accuracy of the ensemble with raw weights w: summed as ensemble_predict
 * sums (normalised weights, member order, float), argmax as ferc_evaluate. */
static double weighted_accuracy(const float *P, int K, const ferc_dataset *v, const float *w) {
    float wn[ENSEMBLE_MAX_MEMBERS];
    normalise_weights(w, K, wn);
    long right = 0;
    for (int i = 0; i < v->n; i++) {
        float p[FERC_NUM_CLASSES] = {0};
        for (int k = 0; k < K; k++)
            for (int c = 0; c < FERC_NUM_CLASSES; c++) p[c] += wn[k] * P[((size_t)k * v->n + i) * FERC_NUM_CLASSES + c];
        int best = 0;
        for (int c = 1; c < FERC_NUM_CLASSES; c++) if (p[c] > p[best]) best = c;
        right += best == v->label[i];
    }
    return (double)right / v->n;
}

/* Coordinate ascent from equal weights: each raw weight in turn tries the
 * grid 0, 0.05 .. 1 (the others held, so every ratio is reachable by
 * lowering the others), a change kept only when it raises the accuracy,
 * until a round changes nothing. Returns the accuracy of w. */
static double ascend(const float *P, int K, const ferc_dataset *v, float *w) {
    for (int k = 0; k < K; k++) w[k] = 1.0f;   /* normalised, exactly the equal weights */
    double best = weighted_accuracy(P, K, v, w);
    for (int round = 0, changed = 1; changed && round < 50; round++) {
        changed = 0;
        for (int k = 0; k < K; k++) {
            float keep = w[k], sum_others = 0;
            for (int q = 0; q < K; q++) if (q != k) sum_others += w[q];
            for (int g = 0; g <= 20; g++) {
                w[k] = 0.05f * (float)g;
                if (w[k] == keep || (w[k] == 0 && sum_others == 0)) continue;
                double a = weighted_accuracy(P, K, v, w);
                if (a > best) { best = a; keep = w[k]; changed = 1; }
            }
            w[k] = keep;
        }
    }
    return best;
}

ferc_status ferc_ensemble_fit_weights(ferc_model *ens, const ferc_dataset *d, float val_fraction,
                                      uint64_t seed, int threads, ferc_ensemble_fit *fit, ferc_error *err) {
    if (!ens || !ens->nmembers) return ferc_fail(err, FERC_ERR_ARG, "fitting weights needs an ensemble");
    if (!d || d->n < 2) return ferc_fail(err, FERC_ERR_ARG, "fitting weights needs at least 2 faces (got %d)", d ? d->n : 0);
    if (!(val_fraction > 0 && val_fraction < 1)) return ferc_fail(err, FERC_ERR_ARG, "val fraction must be in (0,1)");
    for (int i = 0; i < d->n; i++)
        if (d->label[i] < 0 || d->label[i] >= FERC_NUM_CLASSES)
            return ferc_fail(err, FERC_ERR_ARG, "row %d has label %d outside 0..6", i, d->label[i]);
    const int K = ens->nmembers;
    int *scratch = malloc(sizeof(int) * (size_t)d->n), *val = malloc(sizeof(int) * (size_t)d->n);
    if (!scratch || !val) { free(scratch); free(val); return ferc_fail(err, FERC_ERR_NOMEM, "out of memory"); }
    int nval = data_split_stratified(d, val_fraction, seed, scratch, NULL, NULL, val);   /* ferc_train's rows */
    free(scratch);
    ferc_dataset v = {0};
    ferc_status st = nval ? data_subset(d, val, nval, &v, err)
                          : ferc_fail(err, FERC_ERR_ARG, "the validation split of %d faces at fraction %g is empty", d->n, (double)val_fraction);
    free(val);
    float *P = st == FERC_OK ? malloc(sizeof(float) * (size_t)K * nval * FERC_NUM_CLASSES) : NULL;
    if (st == FERC_OK && !P) st = ferc_fail(err, FERC_ERR_NOMEM, "out of memory");
    if (st == FERC_OK) st = all_member_probs(ens, &v, threads, P, err);
    if (st == FERC_OK) {
        float w[ENSEMBLE_MAX_MEMBERS] = {0}, eq[ENSEMBLE_MAX_MEMBERS] = {0};
        for (int k = 0; k < K; k++) eq[k] = 1.0f;
        double acc_equal = weighted_accuracy(P, K, &v, eq), acc = ascend(P, K, &v, w);
        normalise_weights(w, K, ens->weights);
        ens->fit = (ferc_ensemble_fit){.nval = nval, .acc_equal = (float)acc_equal, .acc_fitted = (float)acc};
        if (fit) *fit = ens->fit;
    }
    free(P);
    ferc_dataset_free(&v);
    return st;
}
