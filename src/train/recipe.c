/* recipe.c — training-recipe pieces from the literature that act around the
 * optimiser step rather than inside the network: the targets of a batch
 * (label smoothing, Szegedy et al. 2016, then mixup, Zhang et al. 2018, or
 * CutMix, Yun et al. 2019: smoothed first, then mixed, as timm does), the
 * Beta sampler the mixes draw their weight from, and the exponential moving
 * average of the weights.
 *
 * Everything random comes from the explicit ferc_rng passed in, drawn in a
 * fixed order on one thread, so a run is the same bit for bit for a seed and
 * a checkpoint resumes it exactly; nothing here allocates (the buffers come
 * from train_begin). */
#include "train/train.h"

#include <math.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Gamma and Beta variates                                                   */
/* ------------------------------------------------------------------------ */

/* Uniform in (0, 1]: a logarithm of it is finite. */
static double uniform_open(ferc_rng *r) {
    return ((ferc_rng_next(r) >> 11) + 1.0) * 0x1.0p-53;
}

/* log of a Gamma(a, 1) variate. Marsaglia and Tsang (2000) for a >= 1; for
 * a < 1 their boost Gamma(a) = Gamma(a + 1) U^(1/a), kept as a logarithm
 * because U^(1/a) underflows for the small alphas mixup uses. */
static double log_gamma_variate(ferc_rng *r, double a) {
    if (a < 1) return log_gamma_variate(r, a + 1) + log(uniform_open(r)) / a;
    const double d = a - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        const double x = ferc_rng_normal(r), t = 1.0 + c * x;
        if (t <= 0) continue;
        const double v = t * t * t, u = uniform_open(r);
        if (u < 1.0 - 0.0331 * x * x * x * x || log(u) < 0.5 * x * x + d * (1.0 - v + log(v)))
            return log(d) + log(v);
    }
}

double recipe_beta(ferc_rng *r, double a, double b) {
    const double lx = log_gamma_variate(r, a), ly = log_gamma_variate(r, b);
    return 1.0 / (1.0 + exp(ly - lx));   /* X / (X + Y) without forming X or Y */
}

/* ------------------------------------------------------------------------ */
/* Targets: label smoothing, then mixup and CutMix                           */
/* ------------------------------------------------------------------------ */

void recipe_targets(const int *y, int n, float e, float *t) {
    const float off = e / FERC_NUM_CLASSES;
    for (size_t i = 0; i < (size_t)n * FERC_NUM_CLASSES; i++) t[i] = off;
    for (int i = 0; i < n; i++) t[(size_t)i * FERC_NUM_CLASSES + y[i]] = 1.0f - e + off;
}

static void permute(int *perm, int n, ferc_rng *r) {
    for (int i = 0; i < n; i++) perm[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)ferc_rng_below(r, (uint32_t)i + 1);
        int t = perm[i]; perm[i] = perm[j]; perm[j] = t;
    }
}

/* The CutMix box as timm's rand_bbox draws it: sides S sqrt(1 - lam), the
 * centre uniform over the image, clipped to it. */
static void cutmix_box(ferc_rng *r, int S, float lam, recipe_mix *m) {
    const int cut = (int)(S * sqrtf(1.0f - lam));
    const int cy = (int)ferc_rng_below(r, (uint32_t)S), cx = (int)ferc_rng_below(r, (uint32_t)S);
    m->y0 = cy - cut / 2 < 0 ? 0 : cy - cut / 2;
    m->y1 = cy + cut / 2 > S ? S : cy + cut / 2;
    m->x0 = cx - cut / 2 < 0 ? 0 : cx - cut / 2;
    m->x1 = cx + cut / 2 > S ? S : cx + cut / 2;
}

/* Image i from its partner j (the batch before mixing in xs). */
static void mix_image(const recipe_mix *m, const float *xs, float *x, int i, int j, int S) {
    const size_t P = (size_t)S * S;
    float *xi = x + P * (size_t)i;
    const float *xj = xs + P * (size_t)j, lam = m->lam;
    if (!m->cutmix) {
        const float *own = xs + P * (size_t)i;
        for (size_t k = 0; k < P; k++) xi[k] = lam * own[k] + (1.0f - lam) * xj[k];
        return;
    }
    for (int r = m->y0; r < m->y1; r++)
        memcpy(xi + (size_t)r * S + m->x0, xj + (size_t)r * S + m->x0, sizeof(float) * (size_t)(m->x1 - m->x0));
}

/* Draw order: the batch's coin (only when mix_prob < 1), the method (only
 * with both on), lambda, the permutation, CutMix's box centre. */
void recipe_mix_batch(const ferc_train_opts *o, ferc_rng *r, float *x, float *t, int *y, int n, int S,
                      recipe_mix_buffers *buf, recipe_mix *m) {
    const int K = FERC_NUM_CLASSES;
    memset(m, 0, sizeof *m);
    m->lam = 1.0f;
    if (!(o->mixup > 0 || o->cutmix > 0) || n < 1) return;
    if (o->mix_prob < 1 && !(ferc_rng_uniform(r) < o->mix_prob)) return;
    m->cutmix = o->mixup > 0 && o->cutmix > 0 ? ferc_rng_uniform(r) < 0.5f : o->cutmix > 0;
    const double alpha = m->cutmix ? o->cutmix : o->mixup;
    m->mixed = 1;
    m->lam = (float)recipe_beta(r, alpha, alpha);
    permute(buf->perm, n, r);
    if (m->cutmix) {
        cutmix_box(r, S, m->lam, m);
        m->lam = 1.0f - (float)((m->y1 - m->y0) * (m->x1 - m->x0)) / (float)(S * S);
    }
    memcpy(buf->x, x, sizeof(float) * (size_t)n * S * S);
    memcpy(buf->t, t, sizeof(float) * (size_t)n * K);
    memcpy(buf->y, y, sizeof(int) * (size_t)n);
    const float lam = m->lam;
    for (int i = 0; i < n; i++) {
        const int j = buf->perm[i];
        mix_image(m, buf->x, x, i, j, S);
        for (int k = 0; k < K; k++)
            t[(size_t)i * K + k] = lam * buf->t[(size_t)i * K + k] + (1.0f - lam) * buf->t[(size_t)j * K + k];
        y[i] = lam >= 0.5f ? buf->y[i] : buf->y[j];   /* the dominant label, for the accuracy */
    }
}

/* ------------------------------------------------------------------------ */
/* Exponential moving average of the weights                                 */
/* ------------------------------------------------------------------------ */

float recipe_ema_decay(float decay, long step) {
    const double warm = (1.0 + (double)step) / (10.0 + (double)step);
    return warm < decay ? (float)warm : decay;
}

void recipe_ema_update(float *avg, const float *p, size_t n, float decay, int threads) {
    const float w = 1.0f - decay;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (size_t i = 0; i < n; i++) avg[i] += w * (p[i] - avg[i]);
}
