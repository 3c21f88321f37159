/* tune/sample.c — trial i's point in the search space, and the rungs and
 * promotions of successive halving (ASHA, Li et al. 2020; synchronous
 * successive halving as in Hyperband's brackets when `sync` is set).
 *
 * Everything here is a pure function of its arguments: the CLI recomputes
 * the search's state from the trials' model files after a kill, so no
 * decision has to be stored. */
#include "tune/tune.h"

#include "core/core.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static const unsigned PRIMES[TUNE_MAX_PARAMS] = {2,  3,  5,  7,  11, 13, 17, 19, 23, 29, 31,
                                                 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79,
                                                 83, 89, 97, 101, 103, 107, 109, 113, 127, 131};

double tune_radical_inverse(unsigned long i, unsigned b) {
    double f = 1.0, r = 0.0;
    for (; i > 0; i /= b) { f /= b; r += f * (double)(i % b); }
    return r;
}

/* The k-th coordinate of trial's point, in [0, 1). Halton points are
 * shifted by a per-dimension random offset (Cranley-Patterson rotation), so
 * different seeds give different, still even, designs. */
static double coordinate(ferc_sampler sm, uint64_t seed, int trial, int k) {
    ferc_rng r;
    if (sm == FERC_SAMPLER_HALTON) {
        ferc_rng_seed(&r, seed * 0x9E3779B97F4A7C15ull + (uint64_t)k);
        double u = tune_radical_inverse((unsigned long)trial + 1, PRIMES[k]) + ferc_rng_uniform(&r);
        return u - floor(u);
    }
    ferc_rng_seed(&r, seed ^ (0xD1B54A32D192ED03ull * ((uint64_t)trial + 1)));
    double u = 0;
    for (int j = 0; j <= k; j++) u = ferc_rng_uniform(&r);
    return u;
}

static void value_text(const tune_param *p, double u, char *out) {
    if (p->kind == TUNE_CHOICE) {
        int i = (int)(u * p->n);
        snprintf(out, TUNE_TEXT, "%s", p->choice[i < p->n ? i : p->n - 1]);
        return;
    }
    double v = p->kind == TUNE_UNIFORM ? p->lo + u * (p->hi - p->lo)
                                       : exp(log(p->lo) + u * (log(p->hi) - log(p->lo)));
    snprintf(out, TUNE_TEXT, "%.4g", v);
}

ferc_status ferc_space_sample(const ferc_space *s, ferc_sampler sm, uint64_t seed, int trial,
                              char (*values)[64], ferc_error *err) {
    if (!s || !values || trial < 0) return ferc_fail(err, FERC_ERR_ARG, "ferc_space_sample: bad arguments");
    if (sm != FERC_SAMPLER_RANDOM && sm != FERC_SAMPLER_HALTON)
        return ferc_fail(err, FERC_ERR_ARG, "ferc_space_sample: unknown sampler %d", (int)sm);
    for (int k = 0; k < s->n; k++) value_text(&s->p[k], coordinate(sm, seed, trial, k), values[k]);
    return FERC_OK;
}

int ferc_tune_rungs(int min_epochs, int max_epochs, int eta, int *rungs, int cap) {
    if (min_epochs < 1 || max_epochs < min_epochs || eta < 2 || cap < 1) return 0;
    int m = 0;
    for (long r = min_epochs; r < max_epochs && m < cap - 1; r *= eta) rungs[m++] = (int)r;
    rungs[m++] = max_epochs;
    return m;
}

/* Trials that completed rung k (not failed), best first (ties: lower index). */
static int ranked(const ferc_tune_trial *t, int n, int r, int *idx) {
    int c = 0;
    for (int i = 0; i < n; i++)
        if (!t[i].failed && t[i].epochs_done >= r) idx[c++] = i;
    for (int a = 1; a < c; a++)   /* insertion sort: n is small */
        for (int b = a; b > 0; b--) {
            float sb = t[idx[b]].best[r - 1], sa = t[idx[b - 1]].best[r - 1];
            if (!(sb > sa)) break;
            int x = idx[b]; idx[b] = idx[b - 1]; idx[b - 1] = x;
        }
    return c;
}

static int promote_from(const ferc_tune_trial *t, int n, const int *rungs, int k, int eta, int *to) {
    int *idx = malloc(sizeof(int) * (size_t)(n > 0 ? n : 1));
    if (!idx) return -1;
    const int keep = ranked(t, n, rungs[k], idx) / eta;
    int found = -1;
    for (int j = 0; j < keep && found < 0; j++) {
        const ferc_tune_trial *x = &t[idx[j]];
        if (x->target == 0 && x->epochs_done < rungs[k + 1]) { found = idx[j]; *to = rungs[k + 1]; }
    }
    free(idx);
    return found;
}

/* Asynchronous (ASHA): promote a trial as soon as it is in the top 1/eta of
 * those that completed its rung; the highest rung first. */
static int next_async(const ferc_tune_trial *t, int n, const int *rungs, int m, int eta, int *to) {
    for (int k = m - 2; k >= 0; k--) {
        int i = promote_from(t, n, rungs, k, eta, to);
        if (i >= 0) return i;
    }
    return -1;
}

/* Synchronous successive halving: every trial runs to rung 0, the best
 * max(1, n/eta) of them to rung 1, and so on; a rung is ranked only when all
 * its trials have finished it (ranking is by the figure at the rung's epoch,
 * so it is the same after a restart). */
static int next_sync(const ferc_tune_trial *t, int n, const int *rungs, int m, int eta, int *to) {
    int *idx = malloc(sizeof(int) * (size_t)(n > 0 ? n : 1));
    if (!idx) return -1;
    int c = 0, found = -1;
    for (int i = 0; i < n; i++) if (!t[i].failed) idx[c++] = i;
    for (int k = 0; k < m && found < 0 && c > 0; k++) {
        int waiting = 0;
        for (int j = 0; j < c && found < 0; j++) {
            const ferc_tune_trial *x = &t[idx[j]];
            if (x->epochs_done >= rungs[k]) continue;
            waiting = 1;
            if (x->target == 0) { found = idx[j]; *to = rungs[k]; }
        }
        if (waiting) break;
        if (k + 1 < m) {   /* the next rung's trials: this rung's best */
            int keep = c / eta > 0 ? c / eta : 1;
            c = ranked(t, n, rungs[k], idx);
            c = keep < c ? keep : c;
        }
    }
    free(idx);
    return found;
}

int ferc_tune_next(const ferc_tune_trial *t, int n, const int *rungs, int m, int eta, int sync, int *to) {
    if (!t || !rungs || m < 1 || eta < 2 || !to) return -1;
    if (sync) return next_sync(t, n, rungs, m, eta, to);
    int i = next_async(t, n, rungs, m, eta, to);
    if (i >= 0) return i;
    for (i = 0; i < n; i++)   /* then trials that never finished their first rung */
        if (!t[i].failed && t[i].target == 0 && t[i].epochs_done < rungs[0]) { *to = rungs[0]; return i; }
    return -1;
}
