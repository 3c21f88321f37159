/* fused_block.c — one fused block's passes: conv -> bn -> relu [-> 2x2
 * max-pool] [-> dropout] as one unit on the nChw16c layout (16 channels
 * innermost), and the kernels they run.
 *
 * Forward: the convolution is a oneDNN primitive (fused_dnn.c); the
 * batch-norm statistics are per (image, channel) partial sums combined in a
 * fixed order; then one pass normalises, applies ReLU, pools and drops out,
 * writing only the block output plus, per pooled element, a one-byte record
 * (argmax in the window, and whether the gradient passes ReLU and dropout)
 * and the normalised value at the argmax. Backward: one pass over the small
 * pooled arrays gives the per-channel sums of batch-norm's backward, a second
 * pass writes the conv output gradient, then oneDNN's backward-weights and
 * backward-data run. A 1-channel first layer skips oneDNN: direct kernels
 * below. The results equal the layer-by-layer path (exec_layers.c over
 * layers.c) up to float rounding (tests/test_fused.c compares them).
 *
 * Every pass runs on exec_ctx.threads threads, with static schedules and
 * fixed reduction orders: bit-identical for a thread count. */
#include "nn/fused.h"

#include <math.h>
#include <string.h>

typedef float v16f __attribute__((vector_size(64), may_alias));
typedef int32_t v16i __attribute__((vector_size(64), may_alias));
typedef uint64_t v8u __attribute__((vector_size(64)));
typedef int64_t v8l __attribute__((vector_size(64)));
typedef int32_t v8i __attribute__((vector_size(32)));
typedef uint8_t v16b __attribute__((vector_size(16), may_alias));

/* ------------------------------------------------------------------------ */
/* Kernels on nChw16c                                                        */
/* ------------------------------------------------------------------------ */

static inline v16f vsel(v16i m, v16f a, v16f b) { return (v16f)((m & (v16i)a) | (~m & (v16i)b)); }
static inline v16i vseli(v16i m, v16i a, v16i b) { return (m & a) | (~m & b); }

/* Dropout keep bits of 16 channels at once: element i of lane l is i0 + l*stride
 * (NCHW index), the same hash as dropout_keep(). */
typedef struct {
    int on;
    uint64_t z;
    uint32_t th;
    float scale;
    v8u lo, hi;
} dropgen;

#define DG_C1 0xD1B54A32D192ED03ull
#define DG_C2 0x9E3779B97F4A7C15ull
#define DG_C3 0xBF58476D1CE4E5B9ull
#define DG_C4 0x94D049BB133111EBull

static void drop_init(dropgen *g, const ferc_net *net, const fblock *b, const exec_ctx *x, size_t stride) {
    memset(g, 0, sizeof *g);
    g->scale = 1.0f;
    if (b->drop < 0 || !x->training) return;
    const layer *ld = &net->layers[b->drop];
    if (!(ld->p > 0)) return;
    g->on = 1;
    g->z = x->step_seed ^ ((uint64_t)(ld->index + 1) * DG_C1);
    g->th = (uint32_t)(ld->p * 16777216.0f);
    g->scale = 1.0f / (1.0f - ld->p);
    for (int l = 0; l < 8; l++) {
        g->lo[l] = (uint64_t)l * stride * DG_C2;
        g->hi[l] = (uint64_t)(l + 8) * stride * DG_C2;
    }
}

static inline v16i drop_keep16(const dropgen *g, size_t i0) {
    uint64_t base = g->z + (uint64_t)(i0 + 1) * DG_C2;
    v8u a = base + g->lo, b = base + g->hi;
    a = (a ^ (a >> 30)) * DG_C3; b = (b ^ (b >> 30)) * DG_C3;
    a = (a ^ (a >> 27)) * DG_C4; b = (b ^ (b >> 27)) * DG_C4;
    a ^= a >> 31; b ^= b >> 31;
    v8u th = (v8u){0, 0, 0, 0, 0, 0, 0, 0} + (uint64_t)g->th;
    v8i ka = __builtin_convertvector((v8l)((a >> 40) >= th), v8i);
    v8i kb = __builtin_convertvector((v8l)((b >> 40) >= th), v8i);
    return __builtin_shufflevector(ka, kb, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
}

typedef struct {     /* per-channel coefficient arrays in fcoef */
    float *a, *b, *mean, *inv, *k, *mdy, *mdyx;
} coefs;

static coefs coef_arrays(const fused_state *fs) {
    int kmax = 16;
    for (int b = 0; b < fs->nblocks; b++) if (fs->blocks[b].K > kmax) kmax = fs->blocks[b].K;
    float *c = fs->fcoef;
    return (coefs){.a = c, .b = c + kmax, .mean = c + 2 * kmax, .inv = c + 3 * kmax, .k = c + 4 * kmax,
                   .mdy = c + 5 * kmax, .mdyx = c + 6 * kmax};
}

/* One 16-channel group's coefficients. */
typedef struct { v16f a, b, mu, is, k, mdy, mdyx; } chv;

static inline chv chv_load(const coefs *cf, int cb) {
    chv c;
    c.a = ((const v16f *)cf->a)[cb]; c.b = ((const v16f *)cf->b)[cb];
    c.mu = ((const v16f *)cf->mean)[cb]; c.is = ((const v16f *)cf->inv)[cb];
    c.k = ((const v16f *)cf->k)[cb]; c.mdy = ((const v16f *)cf->mdy)[cb];
    c.mdyx = ((const v16f *)cf->mdyx)[cb];
    return c;
}

/* Vectors of 16 channels stored as float or as bfloat16 (the input of a
 * bf16 convolution, or its output gradient). Rounding to nearest even. */
typedef uint16_t v16h __attribute__((vector_size(32), may_alias));
typedef uint32_t v16u __attribute__((vector_size(64)));

static inline v16h f2bf(v16f f) {
    v16u u = (v16u)f;
    u = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
    return __builtin_convertvector(u, v16h);
}
static inline v16f bf2f(v16h h) { return (v16f)(__builtin_convertvector(h, v16u) << 16); }
static inline void vst(void *p, size_t i, v16f v, int bf) {
    if (bf) ((v16h *)p)[i] = f2bf(v);
    else ((v16f *)p)[i] = v;
}
static inline v16f vld(const void *p, size_t i, int bf) {
    return bf ? bf2f(((const v16h *)p)[i]) : ((const v16f *)p)[i];
}
static inline void *voff(const void *p, size_t i, int bf) { return (char *)p + i * (bf ? 32 : 64); }

/* ---- layouts ------------------------------------------------------------- */

/* Where the 16-channel vector (n, cb, h, w) of a (N, CB*16, H, W) tensor is,
 * in vectors: nChw16c (fp32 convs) or NHWC (the AMX bf16 convs want it). */
typedef struct { size_t n, c, h, w; } lay;

static inline lay lay_make(int nhwc, int CB, int H, int W) {
    lay l;
    if (nhwc) { l.n = (size_t)H * W * CB; l.c = 1; l.h = (size_t)W * CB; l.w = (size_t)CB; }
    else { l.n = (size_t)CB * H * W; l.c = (size_t)H * W; l.h = (size_t)W; l.w = 1; }
    return l;
}
static inline size_t lay_at(const lay *l, int n, int cb, int h, int w) {
    return (size_t)n * l->n + (size_t)cb * l->c + (size_t)h * l->h + (size_t)w * l->w;
}

/* ---- rows ---------------------------------------------------------------- */

/* One pooled row from conv-output rows x0, x1 (vector stride xw): y =
 * drop(max_2x2(relu(a x + b))) at stride yw; with ro: the record (argmax |
 * 4 when the gradient passes) and xo: the normalised value at the argmax
 * (both contiguous). i0: NCHW index of lane 0 of the first element. */
static inline void fwd_pool_row(const void *x0, const void *x1, size_t xw, int xbf, int OW, const chv *c,
                                const dropgen *dg, size_t i0, void *yo, size_t yw, int ybf, v16b *ro,
                                v16f *xo) {
    const v16f zero = {0};
    const v16i one = zero == zero, i1 = one & 1, i2 = one & 2, i3 = one & 3, i4 = one & 4;
    for (int ow = 0; ow < OW; ow++) {
        size_t a0 = (size_t)2 * ow * xw, a1 = a0 + xw;
        v16f p0 = vld(x0, a0, xbf), p1 = vld(x0, a1, xbf), p2 = vld(x1, a0, xbf), p3 = vld(x1, a1, xbf);
        v16f v0 = p0 * c->a + c->b, v1 = p1 * c->a + c->b, v2 = p2 * c->a + c->b, v3 = p3 * c->a + c->b;
        v16f best = v0, xb = p0;
        v16i idx = one & 0, m;
        m = v1 > best; best = vsel(m, v1, best); xb = vsel(m, p1, xb); idx = vseli(m, i1, idx);
        m = v2 > best; best = vsel(m, v2, best); xb = vsel(m, p2, xb); idx = vseli(m, i2, idx);
        m = v3 > best; best = vsel(m, v3, best); xb = vsel(m, p3, xb); idx = vseli(m, i3, idx);
        v16i act = best > zero;
        v16f out = vsel(act, best, zero);
        if (dg->on) {
            v16i keep = drop_keep16(dg, i0 + ow);
            act &= keep;
            out = vsel(keep, out * dg->scale, zero);
        }
        vst(yo, (size_t)ow * yw, out, ybf);
        if (ro) {
            ro[ow] = __builtin_convertvector(idx | (act & i4), v16b);
            xo[ow] = (xb - c->mu) * c->is;
        }
    }
}

/* One row without pooling: y = drop(relu(a x + b)). */
static inline void fwd_plain_row(const void *xr, size_t xw, int xbf, int CW, const chv *c, const dropgen *dg,
                                 size_t i0, void *yr, size_t yw, int ybf) {
    const v16f zero = {0};
    for (int w = 0; w < CW; w++) {
        v16f v = vld(xr, (size_t)w * xw, xbf) * c->a + c->b;
        v16f out = vsel(v > zero, v, zero);
        if (dg->on) out = vsel(drop_keep16(dg, i0 + w), out * dg->scale, zero);
        vst(yr, (size_t)w * yw, out, ybf);
    }
}

/* The two conv-gradient rows under one pooled row: dconv = k (dbn - mdy - xhat mdyx),
 * dbn = g at the recorded argmax when the gradient passes, 0 elsewhere. x and
 * dconv rows at stride xw, g at stride gw, the record contiguous. */
static inline void bwd2_pool_row(const void *x0, const void *x1, size_t xw, int xbf, void *d0, void *d1, int dbf,
                                 const v16f *g, size_t gw, const v16b *rr, int OW, int CW, float scale,
                                 const chv *c) {
    const v16f zero = {0};
    const v16i one = zero == zero, z = one & 0, i1 = one & 1, i2 = one & 2, i3 = one & 3, i4 = one & 4;
    for (int ow = 0; ow < OW; ow++) {
        size_t a0 = (size_t)2 * ow * xw, a1 = a0 + xw;
        v16i ri = __builtin_convertvector(rr[ow], v16i), idx = ri & i3;
        v16f gg = vsel((ri & i4) != z, g[(size_t)ow * gw] * scale, zero);
        v16f xh;
        xh = (vld(x0, a0, xbf) - c->mu) * c->is;
        vst(d0, a0, c->k * ((vsel(idx == z, gg, zero) - c->mdy) - xh * c->mdyx), dbf);
        xh = (vld(x0, a1, xbf) - c->mu) * c->is;
        vst(d0, a1, c->k * ((vsel(idx == i1, gg, zero) - c->mdy) - xh * c->mdyx), dbf);
        xh = (vld(x1, a0, xbf) - c->mu) * c->is;
        vst(d1, a0, c->k * ((vsel(idx == i2, gg, zero) - c->mdy) - xh * c->mdyx), dbf);
        xh = (vld(x1, a1, xbf) - c->mu) * c->is;
        vst(d1, a1, c->k * ((vsel(idx == i3, gg, zero) - c->mdy) - xh * c->mdyx), dbf);
    }
    for (int w = 2 * OW; w < CW; w++) {   /* odd width: the column no window covers */
        size_t a = (size_t)w * xw;
        vst(d0, a, c->k * ((zero - c->mdy) - ((vld(x0, a, xbf) - c->mu) * c->is) * c->mdyx), dbf);
        vst(d1, a, c->k * ((zero - c->mdy) - ((vld(x1, a, xbf) - c->mu) * c->is) * c->mdyx), dbf);
    }
}

/* A conv-gradient row that no pooling window covers (odd height). */
static inline void bwd2_edge_row(const void *xr, size_t xw, int xbf, void *dr, int dbf, int CW, const chv *c) {
    const v16f zero = {0};
    for (int w = 0; w < CW; w++) {
        size_t a = (size_t)w * xw;
        vst(dr, a, c->k * ((zero - c->mdy) - ((vld(xr, a, xbf) - c->mu) * c->is) * c->mdyx), dbf);
    }
}

/* A conv-gradient row without pooling; the ReLU/dropout outcome is y > 0.
 * g and y at stride yw, x and dconv at stride xw. */
static inline void bwd2_plain_row(const v16f *g, const void *yr, size_t yw, int ybf, const void *xr,
                                  size_t xw, int xbf, void *dr, int dbf, int CW, float scale, const chv *c) {
    const v16f zero = {0};
    for (int w = 0; w < CW; w++) {
        size_t a = (size_t)w * xw, b = (size_t)w * yw;
        v16f gg = vsel(vld(yr, b, ybf) > zero, g[b] * scale, zero);
        vst(dr, a, c->k * ((gg - c->mdy) - ((vld(xr, a, xbf) - c->mu) * c->is) * c->mdyx), dbf);
    }
}

/* ---- whole-tensor passes --------------------------------------------------- */

/* Per (image, 16-channel group): sum and sum of squared deviations from the
 * group's own mean, per lane -> part[t*32 .. +32), t = n*CB + cb. */
static void k_stats(const void *x, const lay *xl, int xbf, int N, int CB, int HW, float *part, int T) {
#pragma omp parallel for num_threads(T) schedule(static)
    for (int t = 0; t < N * CB; t++) {
        const void *p = voff(x, lay_at(xl, t / CB, t % CB, 0, 0), xbf);
        const size_t w = xl->w;
        v16f s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
        int i = 0;
        for (; i + 4 <= HW; i += 4) {
            s0 += vld(p, i * w, xbf); s1 += vld(p, (i + 1) * w, xbf);
            s2 += vld(p, (i + 2) * w, xbf); s3 += vld(p, (i + 3) * w, xbf);
        }
        for (; i < HW; i++) s0 += vld(p, i * w, xbf);
        v16f s = (s0 + s1) + (s2 + s3), mu = s * (1.0f / (float)HW);
        v16f q0 = {0}, q1 = {0}, q2 = {0}, q3 = {0};
        for (i = 0; i + 4 <= HW; i += 4) {
            v16f d0 = vld(p, i * w, xbf) - mu, d1 = vld(p, (i + 1) * w, xbf) - mu;
            v16f d2 = vld(p, (i + 2) * w, xbf) - mu, d3 = vld(p, (i + 3) * w, xbf) - mu;
            q0 += d0 * d0; q1 += d1 * d1; q2 += d2 * d2; q3 += d3 * d3;
        }
        for (; i < HW; i++) { v16f d0 = vld(p, i * w, xbf) - mu; q0 += d0 * d0; }
        *(v16f *)(part + (size_t)t * 32) = s;
        *(v16f *)(part + (size_t)t * 32 + 16) = (q0 + q1) + (q2 + q3);
    }
}

/* Forward with 2x2 pooling, one pooled row per task. */
static void k_fwd_pool(const fblock *b, const void *x, const lay *xl, int xbf, void *y, const lay *yl, int ybf,
                       uint8_t *rec, float *xh, int N, const coefs *cf, const dropgen *dg, int T) {
    const int CB = b->K / 16, OH = b->OH, OW = b->OW, K = b->K;
    const size_t OHW = (size_t)OH * OW;
    const int tasks = N * CB * OH;
#pragma omp parallel for num_threads(T) schedule(static)
    for (int t = 0; t < tasks; t++) {
        int n = t / (CB * OH), r = t % (CB * OH), cb = r / OH, oh = r % OH;
        size_t xo = lay_at(xl, n, cb, 2 * oh, 0);
        size_t o = (((size_t)n * CB + cb) * OH + oh) * OW;
        chv c = chv_load(cf, cb);
        size_t i0 = (size_t)n * K * OHW + (size_t)cb * 16 * OHW + (size_t)oh * OW;
        fwd_pool_row(voff(x, xo, xbf), voff(x, xo + xl->h, xbf), xl->w, xbf, OW, &c, dg, i0,
                     voff(y, lay_at(yl, n, cb, oh, 0), ybf), yl->w, ybf,
                     rec ? (v16b *)rec + o : NULL, rec ? (v16f *)xh + o : NULL);
    }
}

/* Forward without pooling, one conv-output row per task. */
static void k_fwd_plain(const fblock *b, const void *x, const lay *xl, int xbf, void *y, const lay *yl, int ybf,
                        int N, const coefs *cf, const dropgen *dg, int T) {
    const int CB = b->K / 16, CH = b->CH, CW = b->CW, K = b->K;
    const size_t HW = (size_t)CH * CW;
    const int tasks = N * CB * CH;
#pragma omp parallel for num_threads(T) schedule(static)
    for (int t = 0; t < tasks; t++) {
        int n = t / (CB * CH), r = t % (CB * CH), cb = r / CH, h = r % CH;
        chv c = chv_load(cf, cb);
        size_t i0 = (size_t)n * K * HW + (size_t)cb * 16 * HW + (size_t)h * CW;
        fwd_plain_row(voff(x, lay_at(xl, n, cb, h, 0), xbf), xl->w, xbf, CW, &c, dg, i0,
                      voff(y, lay_at(yl, n, cb, h, 0), ybf), yl->w, ybf);
    }
}

/* Backward pass 1 with pooling: per (image, group) sums of g and g * xhat. */
static void k_bwd1_pool(const fblock *b, const float *dy, const lay *yl, const uint8_t *rec, const float *xh,
                        int N, float scale, float *part, int T) {
    const int CB = b->K / 16, OHW = b->OH * b->OW;
    const int tasks = N * CB;
#pragma omp parallel for num_threads(T) schedule(static)
    for (int t = 0; t < tasks; t++) {
        const v16f *g = (const v16f *)dy + lay_at(yl, t / CB, t % CB, 0, 0);
        const v16f *xr = (const v16f *)xh + (size_t)t * OHW;
        const v16b *rr = (const v16b *)rec + (size_t)t * OHW;
        const size_t gw = yl->w;
        v16f s0 = {0}, s1 = {0}, zero = {0};
        const v16i i4 = (zero == zero) & 4, z = i4 & 0;
        for (int i = 0; i < OHW; i++) {
            v16i ri = __builtin_convertvector(rr[i], v16i);
            v16f gg = vsel((ri & i4) != z, g[i * gw] * scale, zero);
            s0 += gg;
            s1 += gg * xr[i];
        }
        *(v16f *)(part + (size_t)t * 32) = s0;
        *(v16f *)(part + (size_t)t * 32 + 16) = s1;
    }
}

/* Backward pass 1 without pooling: the ReLU/dropout outcome is y > 0. */
static void k_bwd1_plain(const fblock *b, const float *dy, const void *y, const lay *yl, int ybf,
                         const void *x, const lay *xl, int xbf, int N, float scale, const coefs *cf, float *part,
                         int T) {
    const int CB = b->K / 16, HW = b->CH * b->CW;
    const int tasks = N * CB;
#pragma omp parallel for num_threads(T) schedule(static)
    for (int t = 0; t < tasks; t++) {
        int n = t / CB, cb = t % CB;
        size_t yo = lay_at(yl, n, cb, 0, 0), gw = yl->w, xw = xl->w;
        const v16f *g = (const v16f *)dy + yo;
        const void *xr = voff(x, lay_at(xl, n, cb, 0, 0), xbf);
        const void *yr = voff(y, yo, ybf);
        const v16f mu = ((const v16f *)cf->mean)[cb], is = ((const v16f *)cf->inv)[cb];
        v16f s0 = {0}, s1 = {0}, zero = {0};
        for (int i = 0; i < HW; i++) {
            v16f gg = vsel(vld(yr, i * gw, ybf) > zero, g[i * gw] * scale, zero);
            s0 += gg;
            s1 += gg * ((vld(xr, i * xw, xbf) - mu) * is);
        }
        *(v16f *)(part + (size_t)t * 32) = s0;
        *(v16f *)(part + (size_t)t * 32 + 16) = s1;
    }
}

/* Backward pass 2 with pooling, one pooled row per task (the last one of a
 * group also covers rows below the pooled area). dconv has x's layout. */
static void k_bwd2_pool(const fblock *b, const float *dy, const lay *yl, const uint8_t *rec, const void *x,
                        const lay *xl, int xbf, void *dx, int dbf, int N, float scale, const coefs *cf, int T) {
    const int CB = b->K / 16, CH = b->CH, CW = b->CW, OH = b->OH, OW = b->OW;
    const int tasks = N * CB * OH;
#pragma omp parallel for num_threads(T) schedule(static)
    for (int t = 0; t < tasks; t++) {
        int n = t / (CB * OH), r = t % (CB * OH), cb = r / OH, oh = r % OH;
        size_t xo = lay_at(xl, n, cb, 2 * oh, 0);
        size_t o = (((size_t)n * CB + cb) * OH + oh) * OW;
        chv c = chv_load(cf, cb);
        bwd2_pool_row(voff(x, xo, xbf), voff(x, xo + xl->h, xbf), xl->w, xbf, voff(dx, xo, dbf),
                      voff(dx, xo + xl->h, dbf), dbf, (const v16f *)dy + lay_at(yl, n, cb, oh, 0), yl->w,
                      (const v16b *)rec + o, OW, CW, scale, &c);
        if (oh == OH - 1)
            for (int h = 2 * OH; h < CH; h++) {
                size_t e = lay_at(xl, n, cb, h, 0);
                bwd2_edge_row(voff(x, e, xbf), xl->w, xbf, voff(dx, e, dbf), dbf, CW, &c);
            }
    }
}

static void k_bwd2_plain(const fblock *b, const float *dy, const void *y, const lay *yl, int ybf,
                         const void *x, const lay *xl, int xbf, void *dx, int dbf, int N, float scale,
                         const coefs *cf, int T) {
    const int CB = b->K / 16, CH = b->CH, CW = b->CW;
    const int tasks = N * CB * CH;
#pragma omp parallel for num_threads(T) schedule(static)
    for (int t = 0; t < tasks; t++) {
        int n = t / (CB * CH), r = t % (CB * CH), cb = r / CH, h = r % CH;
        chv c = chv_load(cf, cb);
        size_t yo = lay_at(yl, n, cb, h, 0), xo = lay_at(xl, n, cb, h, 0);
        bwd2_plain_row((const v16f *)dy + yo, voff(y, yo, ybf), yl->w, ybf, voff(x, xo, xbf), xl->w, xbf,
                       voff(dx, xo, dbf), dbf, CW, scale, &c);
    }
}

/* NCHW <-> nChw16c for N images of K channels (K a multiple of 16). */
static void to_nchw(const float *src, float *dst, int N, int K, int HW, int T) {
    const int CB = K / 16;
#pragma omp parallel for num_threads(T) schedule(static)
    for (int t = 0; t < N * CB; t++) {
        const float *s = src + (size_t)t * HW * 16;
        float *d = dst + (size_t)t * 16 * HW;
        for (int i = 0; i < HW; i++)
            for (int l = 0; l < 16; l++) d[(size_t)l * HW + i] = s[(size_t)i * 16 + l];
    }
}

static void to_blocked(const float *src, float *dst, int N, int K, int HW, int T) {
    const int CB = K / 16;
#pragma omp parallel for num_threads(T) schedule(static)
    for (int t = 0; t < N * CB; t++) {
        const float *s = src + (size_t)t * 16 * HW;
        float *d = dst + (size_t)t * HW * 16;
        for (int i = 0; i < HW; i++)
            for (int l = 0; l < 16; l++) d[(size_t)i * 16 + l] = s[(size_t)l * HW + i];
    }
}

/* ------------------------------------------------------------------------ */
/* Direct first layer (1 input channel): no oneDNN; statistics in the conv   */
/* pass, conv -> pool without the full map for inference, and the weight     */
/* gradient accumulated in the conv-gradient pass without storing it.        */
/* ------------------------------------------------------------------------ */

#define C1_MAXK 7
#define C1_MAXPAD 16384   /* floats of a padded input image */

int fused_direct_ok(const fblock *b, const layer *lc) {
    return b->C == 1 && !b->in_blocked && lc->k <= C1_MAXK &&
           (size_t)(b->H + 2 * lc->pad) * (b->W + 2 * lc->pad) <= C1_MAXPAD && b->CW <= 256;   /* stack rows */
}

/* Zero-padded copy of a one-channel image. */
static void c1_pad(const float *x, int H, int W, int pad, int PW, int PH, float *xp) {
    memset(xp, 0, sizeof(float) * (size_t)PH * PW);
    for (int h = 0; h < H; h++) memcpy(xp + (size_t)(h + pad) * PW + pad, x + (size_t)h * W, sizeof(float) * W);
}

static void c1_weights(const layer *lc, int cb, v16f *wv, v16f *bias) {
    const int kk = lc->k * lc->k;
    const float *w = lc->param, *bb = lc->param + (size_t)lc->oc * kk;
    for (int j = 0; j < kk; j++)
        for (int l = 0; l < 16; l++) wv[j][l] = w[(size_t)(cb * 16 + l) * kk + j];
    for (int l = 0; l < 16; l++) (*bias)[l] = bb[cb * 16 + l];
}

/* Conv row h: out[w] = bias + sum_{u,v} wv[u,v] xp[h+u, w+v]. */
static inline void c1_row(const float *xp, int PW, int ks, const v16f *wv, v16f bias, int h, int CW,
                          v16f *out) {
    int w = 0;
    if (ks == 3) {
        const v16f w0 = wv[0], w1 = wv[1], w2 = wv[2], w3 = wv[3], w4 = wv[4], w5 = wv[5], w6 = wv[6],
                   w7 = wv[7], w8 = wv[8];
        for (; w + 8 <= CW; w += 8) {
            v16f acc[8];
            const float *r0 = xp + (size_t)h * PW + w, *r1 = r0 + PW, *r2 = r1 + PW;
#pragma GCC unroll 8
            for (int j = 0; j < 8; j++) {
                v16f a = bias;
                a += r0[j] * w0; a += r0[j + 1] * w1; a += r0[j + 2] * w2;
                a += r1[j] * w3; a += r1[j + 1] * w4; a += r1[j + 2] * w5;
                a += r2[j] * w6; a += r2[j + 1] * w7; a += r2[j + 2] * w8;
                acc[j] = a;
            }
#pragma GCC unroll 8
            for (int j = 0; j < 8; j++) out[w + j] = acc[j];
        }
    }
    for (; w < CW; w++) {
        v16f a = bias;
        for (int u = 0; u < ks; u++)
            for (int v = 0; v < ks; v++) a += xp[(size_t)(h + u) * PW + w + v] * wv[u * ks + v];
        out[w] = a;
    }
}

/* Weight-gradient accumulation of conv-gradient row h: dw[u,v] += d[w] xp[h+u, w+v]. */
static inline void c1_dw_row(const float *xp, int PW, int ks, const v16f *d, int h, int CW, v16f *dw,
                             v16f *db) {
    if (ks == 3) {
        v16f a0 = dw[0], a1 = dw[1], a2 = dw[2], a3 = dw[3], a4 = dw[4], a5 = dw[5], a6 = dw[6], a7 = dw[7],
             a8 = dw[8], s = *db;
        const float *r0 = xp + (size_t)h * PW, *r1 = r0 + PW, *r2 = r1 + PW;
        for (int w = 0; w < CW; w++) {
            v16f g = d[w];
            s += g;
            a0 += r0[w] * g; a1 += r0[w + 1] * g; a2 += r0[w + 2] * g;
            a3 += r1[w] * g; a4 += r1[w + 1] * g; a5 += r1[w + 2] * g;
            a6 += r2[w] * g; a7 += r2[w + 1] * g; a8 += r2[w + 2] * g;
        }
        dw[0] = a0; dw[1] = a1; dw[2] = a2; dw[3] = a3; dw[4] = a4; dw[5] = a5; dw[6] = a6; dw[7] = a7;
        dw[8] = a8; *db = s;
        return;
    }
    for (int w = 0; w < CW; w++) {
        v16f g = d[w];
        *db += g;
        for (int u = 0; u < ks; u++)
            for (int v = 0; v < ks; v++) dw[u * ks + v] += xp[(size_t)(h + u) * PW + w + v] * g;
    }
}

typedef double v16d __attribute__((vector_size(128)));

/* Training forward, pass 1: per (image, group) sum and M2 of the conv
 * output, computed row by row and not stored (the conv is cheap to redo). */
static void k_c1_stats(const fblock *b, const layer *lc, const float *x, int N, float *part, int T) {
    const int CB = b->K / 16, CH = b->CH, CW = b->CW, ks = lc->k, pad = lc->pad;
    const int PW = b->W + 2 * pad, PH = b->H + 2 * pad;
    const int tasks = N * CB;
#pragma omp parallel for num_threads(T) schedule(static)
    for (int t = 0; t < tasks; t++) {
        int n = t / CB, cb = t % CB;
        float xp[PH * PW];
        v16f wv[C1_MAXK * C1_MAXK], bias, row[CW];
        c1_pad(x + (size_t)n * b->H * b->W, b->H, b->W, pad, PW, PH, xp);
        c1_weights(lc, cb, wv, &bias);
        v16d s = {0}, q = {0};
        v16f shift = bias;   /* sums around the first row's mean: no cancellation */
        for (int h = 0; h < CH; h++) {
            c1_row(xp, PW, ks, wv, bias, h, CW, row);
            v16f rs = {0}, rq = {0};
            if (h == 0) {
                for (int w = 0; w < CW; w++) rs += row[w];
                shift = rs * (1.0f / (float)CW);
                rs = rs - rs;
            }
            for (int w = 0; w < CW; w++) { v16f d = row[w] - shift; rs += d; rq += d * d; }
            s += __builtin_convertvector(rs, v16d);
            q += __builtin_convertvector(rq, v16d);
        }
        double HW = (double)CH * CW;
        for (int l = 0; l < 16; l++) {
            part[(size_t)t * 32 + l] = (float)(s[l] + HW * shift[l]);
            double m2 = q[l] - s[l] * s[l] / HW;
            part[(size_t)t * 32 + 16 + l] = (float)(m2 > 0 ? m2 : 0);
        }
    }
}

/* conv -> bn -> relu [-> pool] [-> dropout] straight to the output, with the
 * pooling record (rec, xh) when they are not NULL. */
static void k_c1_fwd(const fblock *b, const layer *lc, const float *x, void *y, const lay *yl, int ybf,
                     uint8_t *rec, float *xh, int N, const coefs *cf, const dropgen *dg, int T) {
    const int CB = b->K / 16, CH = b->CH, CW = b->CW, ks = lc->k, pad = lc->pad, OH = b->OH, OW = b->OW;
    const int PW = b->W + 2 * pad, PH = b->H + 2 * pad, K = b->K;
    const int tasks = N * CB;
#pragma omp parallel for num_threads(T) schedule(static)
    for (int t = 0; t < tasks; t++) {
        int n = t / CB, cb = t % CB;
        float xp[PH * PW];
        v16f wv[C1_MAXK * C1_MAXK], bias, r0[CW], r1[CW];
        c1_pad(x + (size_t)n * b->H * b->W, b->H, b->W, pad, PW, PH, xp);
        c1_weights(lc, cb, wv, &bias);
        chv c = chv_load(cf, cb);
        if (b->pool >= 0) {
            const size_t OHW = (size_t)OH * OW;
            for (int oh = 0; oh < OH; oh++) {
                c1_row(xp, PW, ks, wv, bias, 2 * oh, CW, r0);
                c1_row(xp, PW, ks, wv, bias, 2 * oh + 1, CW, r1);
                size_t i0 = (size_t)n * K * OHW + (size_t)cb * 16 * OHW + (size_t)oh * OW;
                size_t o = ((size_t)t * OH + oh) * OW;
                fwd_pool_row(r0, r1, 1, 0, OW, &c, dg, i0, voff(y, lay_at(yl, n, cb, oh, 0), ybf), yl->w, ybf,
                             rec ? (v16b *)rec + o : NULL, rec ? (v16f *)xh + o : NULL);
            }
        } else {
            const size_t HW = (size_t)CH * CW;
            for (int h = 0; h < CH; h++) {
                c1_row(xp, PW, ks, wv, bias, h, CW, r0);
                size_t i0 = (size_t)n * K * HW + (size_t)cb * 16 * HW + (size_t)h * CW;
                fwd_plain_row(r0, 1, 0, CW, &c, dg, i0, voff(y, lay_at(yl, n, cb, h, 0), ybf), yl->w, ybf);
            }
        }
    }
}

/* Backward pass 2 fused with the weight gradient: per (image, group) partial
 * dW (ks*ks vectors) and db in part2; the conv gradient is written to dconv
 * only when dconv != NULL (the input gradient needs it). */
static void k_c1_bwd(const fblock *b, const layer *lc, const float *x, const float *dy, const void *y,
                     const lay *yl, int ybf, const uint8_t *rec, float *dconv, int N, float scale,
                     const coefs *cf, float *part2, int T) {
    const int CB = b->K / 16, CH = b->CH, CW = b->CW, ks = lc->k, pad = lc->pad, OH = b->OH, OW = b->OW;
    const int PW = b->W + 2 * pad, PH = b->H + 2 * pad, kk = ks * ks;
    const int tasks = N * CB;
#pragma omp parallel for num_threads(T) schedule(static)
    for (int t = 0; t < tasks; t++) {
        int n = t / CB, cb = t % CB;
        float xp[PH * PW];
        v16f r0[CW], r1[CW], x0[CW], x1[CW], wv[C1_MAXK * C1_MAXK], bias, dw[C1_MAXK * C1_MAXK], db = {0};
        for (int j = 0; j < kk; j++) dw[j] = db;
        c1_pad(x + (size_t)n * b->H * b->W, b->H, b->W, pad, PW, PH, xp);
        c1_weights(lc, cb, wv, &bias);
        chv c = chv_load(cf, cb);
        v16f *dg = dconv ? (v16f *)dconv + (size_t)t * CH * CW : NULL;
        /* the conv output rows are recomputed, exactly as the forward made them */
        if (b->pool >= 0) {
            for (int oh = 0; oh < OH; oh++) {
                size_t o = ((size_t)t * OH + oh) * OW;
                v16f *d0 = dg ? dg + (size_t)2 * oh * CW : r0, *d1 = dg ? d0 + CW : r1;
                c1_row(xp, PW, ks, wv, bias, 2 * oh, CW, x0);
                c1_row(xp, PW, ks, wv, bias, 2 * oh + 1, CW, x1);
                bwd2_pool_row(x0, x1, 1, 0, d0, d1, 0, (const v16f *)dy + lay_at(yl, n, cb, oh, 0), yl->w,
                              (const v16b *)rec + o, OW, CW, scale, &c);
                c1_dw_row(xp, PW, ks, d0, 2 * oh, CW, dw, &db);
                c1_dw_row(xp, PW, ks, d1, 2 * oh + 1, CW, dw, &db);
            }
            for (int h = 2 * OH; h < CH; h++) {
                v16f *d0 = dg ? dg + (size_t)h * CW : r0;
                c1_row(xp, PW, ks, wv, bias, h, CW, x0);
                bwd2_edge_row(x0, 1, 0, d0, 0, CW, &c);
                c1_dw_row(xp, PW, ks, d0, h, CW, dw, &db);
            }
        } else {
            for (int h = 0; h < CH; h++) {
                size_t o = lay_at(yl, n, cb, h, 0);
                v16f *d0 = dg ? dg + (size_t)h * CW : r0;
                c1_row(xp, PW, ks, wv, bias, h, CW, x0);
                bwd2_plain_row((const v16f *)dy + o, voff(y, o, ybf), yl->w, ybf, x0, 1, 0, d0, 0, CW, scale, &c);
                c1_dw_row(xp, PW, ks, d0, h, CW, dw, &db);
            }
        }
        v16f *pp = (v16f *)part2 + (size_t)t * (kk + 1);
        for (int j = 0; j < kk; j++) pp[j] = dw[j];
        pp[kk] = db;
    }
}

/* Backward pass 1 without pooling for the first layer: the conv rows are
 * recomputed for xhat. */
static void k_c1_bwd1_plain(const fblock *b, const layer *lc, const float *x, const float *dy, const void *y,
                            const lay *yl, int ybf, int N, float scale, const coefs *cf, float *part, int T) {
    const int CB = b->K / 16, CH = b->CH, CW = b->CW, ks = lc->k, pad = lc->pad;
    const int PW = b->W + 2 * pad, PH = b->H + 2 * pad;
#pragma omp parallel for num_threads(T) schedule(static)
    for (int t = 0; t < N * CB; t++) {
        int n = t / CB, cb = t % CB;
        float xp[PH * PW];
        v16f wv[C1_MAXK * C1_MAXK], bias, xr[CW], s0 = {0}, s1 = {0}, zero = {0};
        c1_pad(x + (size_t)n * b->H * b->W, b->H, b->W, pad, PW, PH, xp);
        c1_weights(lc, cb, wv, &bias);
        const v16f mu = ((const v16f *)cf->mean)[cb], is = ((const v16f *)cf->inv)[cb];
        for (int h = 0; h < CH; h++) {
            c1_row(xp, PW, ks, wv, bias, h, CW, xr);
            size_t o = lay_at(yl, n, cb, h, 0);
            for (int w = 0; w < CW; w++) {
                size_t a = o + (size_t)w * yl->w;
                v16f gg = vsel(vld(y, a, ybf) > zero, ((const v16f *)dy)[a] * scale, zero);
                s0 += gg;
                s1 += gg * ((xr[w] - mu) * is);
            }
        }
        *(v16f *)(part + (size_t)t * 32) = s0;
        *(v16f *)(part + (size_t)t * 32 + 16) = s1;
    }
}

/* Input gradient of the first layer from the stored conv gradient (rare:
 * saliency maps): dx[h,w] = sum_{k,u,v} dconv[k, h-u+p, w-v+p] w[k,u,v]. */
static void k_c1_dx(const fblock *b, const layer *lc, const float *dconv, float *dx, int N, int T) {
    const int CB = b->K / 16, CH = b->CH, CW = b->CW, ks = lc->k, pad = lc->pad, H = b->H, W = b->W;
#pragma omp parallel for num_threads(T) schedule(static)
    for (int t = 0; t < N * H; t++) {
        int n = t / H, h = t % H;
        for (int w = 0; w < W; w++) {
            v16f acc = {0};
            for (int cb = 0; cb < CB; cb++) {
                v16f wv[C1_MAXK * C1_MAXK], bias;
                c1_weights(lc, cb, wv, &bias);
                const v16f *d = (const v16f *)dconv + ((size_t)n * CB + cb) * CH * CW;
                for (int u = 0; u < ks; u++) {
                    int oh = h - u + pad;
                    if (oh < 0 || oh >= CH) continue;
                    for (int v = 0; v < ks; v++) {
                        int ow = w - v + pad;
                        if (ow < 0 || ow >= CW) continue;
                        acc += d[(size_t)oh * CW + ow] * wv[u * ks + v];
                    }
                }
            }
            float s = 0;
            for (int l = 0; l < 16; l++) s += acc[l];
            dx[((size_t)n * H + h) * W + w] = s;
        }
    }
}


/* ------------------------------------------------------------------------ */
/* Block passes                                                              */
/* ------------------------------------------------------------------------ */

/* Batch norm's forward coefficients y = a x + b per channel. Training: mean
 * and variance from the per-(image, channel) partial sums, combined in image
 * order, and the running statistics updated; eval: the running statistics.
 * The layer's stat keeps mean and inverse std for the backward pass. */
static void bn_fwd_coefs(layer *lb, const float *fpart, int N, int K, size_t CHW, int training, coefs *cf) {
    const int CB = K / 16;
    const float *gamma = lb->param, *beta = lb->param + K;
    float *rmean = lb->state, *rvar = lb->state + K;
    if (training) {
        const double M = (double)N * CHW;
        for (int c = 0; c < K; c++) {
            const float *pp = fpart + (size_t)(c / 16) * 32 + (c % 16);
            double sum = 0;
            for (int n = 0; n < N; n++) sum += pp[(size_t)n * CB * 32];
            double mu = sum / M, m2 = 0;
            for (int n = 0; n < N; n++) {
                double mi = pp[(size_t)n * CB * 32] / (double)CHW - mu;
                m2 += pp[(size_t)n * CB * 32 + 16] + (double)CHW * mi * mi;
            }
            double var = m2 / M;
            float mean = (float)mu, invstd = (float)(1.0 / sqrt(var + lb->eps));
            rmean[c] = (1 - lb->momentum) * rmean[c] + lb->momentum * mean;
            rvar[c] = (1 - lb->momentum) * rvar[c] + lb->momentum * (float)(M > 1 ? var * M / (M - 1) : var);
            cf->mean[c] = mean; cf->inv[c] = invstd;
        }
    } else {
        for (int c = 0; c < K; c++) { cf->mean[c] = rmean[c]; cf->inv[c] = 1.0f / sqrtf(rvar[c] + lb->eps); }
    }
    for (int c = 0; c < K; c++) {
        lb->stat[c] = cf->mean[c]; lb->stat[K + c] = cf->inv[c];
        cf->a[c] = gamma[c] * cf->inv[c];
        cf->b[c] = beta[c] - cf->mean[c] * cf->a[c];
    }
}

/* Normalise, ReLU, pool, dropout from the conv output (or, for the direct
 * first layer, from the input) into y. With a training workspace (a backward
 * pass may follow) also the pooling record and the normalised value at the
 * argmax, which goes to the BN layer's own buffer. */
static void fwd_output(ferc_net *net, int bi, const float *in, void *y, const lay *xl, const lay *yl, int N,
                       const coefs *cf, const exec_ctx *ctx) {
    const fused_state *fs = fused_of(net);
    const fblock *b = &fs->blocks[bi];
    const layer *lc = &net->layers[b->conv];
    float *xh = net->layers[b->bn].out;
    const int T = ctx->threads > 0 ? ctx->threads : 1, keep = net->ws_training;
    const int ybf = blk_bf_out(fs, bi), xbf = blk_bf_in(fs, bi);
    uint8_t *rec = keep && b->pool >= 0 ? fs->rec + b->rec_off : NULL;
    dropgen dg;
    drop_init(&dg, net, b, ctx, (size_t)b->OH * b->OW);
    if (b->direct)
        k_c1_fwd(b, lc, in, y, yl, ybf, rec, xh, N, cf, &dg, T);
    else if (b->pool >= 0)
        k_fwd_pool(b, lc->out, xl, xbf, y, yl, ybf, rec, keep ? xh : NULL, N, cf, &dg, T);
    else
        k_fwd_plain(b, lc->out, xl, xbf, y, yl, ybf, N, cf, &dg, T);
}

const float *fused_block_forward(ferc_net *net, int bi, const float *in, int in_is_input, int N,
                                 const exec_ctx *ctx) {
    fused_state *fs = fused_of(net);
    const fblock *b = &fs->blocks[bi];
    layer *lc = &net->layers[b->conv], *lb = &net->layers[b->bn], *lo = &net->layers[b->last];
    const int T = ctx->threads > 0 ? ctx->threads : 1, K = b->K, CB = K / 16;
    const size_t CHW = (size_t)b->CH * b->CW;
    const int ybf = blk_bf_out(fs, bi), xbf = blk_bf_in(fs, bi);
    const lay xl = lay_make(xbf, CB, b->CH, b->CW), yl = lay_make(ybf, CB, b->OH, b->OW);
    if (b->direct) {
        /* the first layer's conv map is never stored: statistics, then the output */
        if (ctx->training) k_c1_stats(b, lc, in, N, fs->fpart, T);
    } else {
        fused_conv_forward(net, bi, in, in_is_input, N, ctx);
        if (ctx->training) k_stats(lc->out, &xl, xbf, N, CB, (int)CHW, fs->fpart, T);
    }
    coefs cf = coef_arrays(fs);
    bn_fwd_coefs(lb, fs->fpart, N, K, CHW, ctx->training, &cf);
    float *y = b->out_blocked ? lo->out : fs->ftr + b->tr_off;
    fwd_output(net, bi, in, y, &xl, &yl, N, &cf, ctx);
    if (!b->out_blocked) to_nchw(y, lo->out, N, K, b->OH * b->OW, T);
    return lo->out;
}

/* Batch norm's backward from the per-(image, channel) sums of pass 1: the
 * gamma and beta gradients, and the coefficients of pass 2. */
static void bn_bwd_coefs(layer *lb, const float *fpart, int N, int K, size_t CHW, int training, coefs *cf) {
    const int CB = K / 16;
    float *dgamma = lb->grad, *dbeta = lb->grad + K;
    const float *gamma = lb->param;
    const float M = (float)N * (float)CHW;
    for (int c = 0; c < K; c++) {
        const float *pp = fpart + (size_t)(c / 16) * 32 + (c % 16);
        double sdy = 0, sdyx = 0;
        for (int n = 0; n < N; n++) { sdy += pp[(size_t)n * CB * 32]; sdyx += pp[(size_t)n * CB * 32 + 16]; }
        dgamma[c] += (float)sdyx;
        dbeta[c] += (float)sdy;
        cf->k[c] = gamma[c] * cf->inv[c];
        cf->mdy[c] = training ? (float)(sdy / M) : 0.0f;
        cf->mdyx[c] = training ? (float)(sdyx / M) : 0.0f;
    }
}

/* The direct first layer's pass 2, which yields its weight gradient too:
 * partials reduced in image order. The input gradient (rare: saliency maps)
 * from the conv gradient, stored only then. */
static void bwd_direct(ferc_net *net, const fblock *b, const float *in, const float *dy, const void *y,
                       const lay *yl, int ybf, const uint8_t *rec, float *din, int N, float scale, const coefs *cf,
                       int T) {
    const fused_state *fs = fused_of(net);
    const layer *lc = &net->layers[b->conv];
    const int CB = b->K / 16, kk = lc->k * lc->k;
    const size_t nw = (size_t)b->K * b->C * lc->k * lc->k;
    float *g = lc->grad;
    k_c1_bwd(b, lc, in, dy, y, yl, ybf, rec, din ? fs->dconv : NULL, N, scale, cf, fs->fpart, T);
    for (int cb = 0; cb < CB; cb++)
        for (int n = 0; n < N; n++) {
            const float *pp = fs->fpart + ((size_t)n * CB + cb) * (kk + 1) * 16;
            for (int j = 0; j < kk; j++)
                for (int l = 0; l < 16; l++) g[(size_t)(cb * 16 + l) * kk + j] += pp[j * 16 + l];
            for (int l = 0; l < 16; l++) g[nw + cb * 16 + l] += pp[kk * 16 + l];
        }
    if (din) k_c1_dx(b, lc, fs->dconv, din, N, T);
}

void fused_block_backward(ferc_net *net, int bi, const float *in, const float *dout, float *din,
                          int N, const exec_ctx *ctx) {
    fused_state *fs = fused_of(net);
    const fblock *b = &fs->blocks[bi];
    layer *lc = &net->layers[b->conv], *lb = &net->layers[b->bn], *lo = &net->layers[b->last];
    const int T = ctx->threads > 0 ? ctx->threads : 1, K = b->K, CB = K / 16;
    const size_t CHW = (size_t)b->CH * b->CW;
    const int OHW = b->OH * b->OW;

    const float *dy = dout;
    if (!b->out_blocked) { to_blocked(dout, fs->ftd, N, K, OHW, T); dy = fs->ftd; }
    const float *y = b->out_blocked ? lo->out : fs->ftr + b->tr_off;
    const int ybf = blk_bf_out(fs, bi), dbf = blk_bf_in(fs, bi);
    const lay xl = lay_make(dbf, CB, b->CH, b->CW), yl = lay_make(ybf, CB, b->OH, b->OW);
    const uint8_t *rec = b->pool >= 0 ? fs->rec + b->rec_off : NULL;
    dropgen dg;
    drop_init(&dg, net, b, ctx, (size_t)OHW);
    coefs cf = coef_arrays(fs);
    for (int c = 0; c < K; c++) { cf.mean[c] = lb->stat[c]; cf.inv[c] = lb->stat[K + c]; }

    /* pass 1: per-channel sums of dbn and dbn * xhat */
    if (b->pool >= 0) k_bwd1_pool(b, dy, &yl, rec, lb->out, N, dg.scale, fs->fpart, T);
    else if (b->direct) k_c1_bwd1_plain(b, lc, in, dy, y, &yl, ybf, N, dg.scale, &cf, fs->fpart, T);
    else k_bwd1_plain(b, dy, y, &yl, ybf, lc->out, &xl, dbf, N, dg.scale, &cf, fs->fpart, T);
    bn_bwd_coefs(lb, fs->fpart, N, K, CHW, ctx->training, &cf);
    if (b->direct) {
        bwd_direct(net, b, in, dy, y, &yl, ybf, rec, din, N, dg.scale, &cf, T);
        return;
    }

    /* pass 2: the conv output gradient, then the conv's own backward */
    if (b->pool >= 0) k_bwd2_pool(b, dy, &yl, rec, lc->out, &xl, dbf, fs->dconv, dbf, N, dg.scale, &cf, T);
    else k_bwd2_plain(b, dy, y, &yl, ybf, lc->out, &xl, dbf, fs->dconv, dbf, N, dg.scale, &cf, T);
    fused_conv_backward(net, bi, fs->dconv, din, N, ctx);
}
