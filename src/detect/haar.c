/* haar.c — evaluating the cascade on the windows of one scale, with the
 * semantics and the float / double arithmetic of OpenCV 4's
 * HaarEvaluator and cascade loops, so that the same windows pass: each
 * window is variance-normalised over its inner (w-2)x(h-2) rectangle (too
 * flat ones are rejected), features are weighted rectangle sums of the
 * integral planes (pyramid.c), stages sum tree leaves in double. Feature
 * corner offsets are precomputed once per integral layout so that a window
 * costs only loads. With AVX2, stump cascades run 8 consecutive windows at
 * a time, lane by lane bit-identical to the scalar path. */
#include "detect/detect.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Precomputed offsets                                                       */
/* ------------------------------------------------------------------------ */

static void set_offsets(optfeat *of, const hfeature *f, int S, int half, int tofs) {
    memset(of, 0, sizeof *of);
    for (int r = 0; r < MAX_RECTS; r++) {
        hrect h = r < f->nrects ? f->r[r] : (hrect){.weight = 0.f};
        of->w[r] = h.weight;
        if (f->tilted && r < f->nrects) { /* corners (x,y) (x-h,y+h) (x+w,y+w) (x+w-h,y+w+h) */
            of->o[r][0] = tofs + lay(h.x, half) + S * h.y;
            of->o[r][1] = tofs + lay(h.x - h.h, half) + S * (h.y + h.h);
            of->o[r][2] = tofs + lay(h.x + h.w, half) + S * (h.y + h.w);
            of->o[r][3] = tofs + lay(h.x + h.w - h.h, half) + S * (h.y + h.w + h.h);
        } else {
            of->o[r][0] = lay(h.x, half) + S * h.y;
            of->o[r][1] = lay(h.x + h.w, half) + S * h.y;
            of->o[r][2] = lay(h.x, half) + S * (h.y + h.h);
            of->o[r][3] = lay(h.x + h.w, half) + S * (h.y + h.h);
        }
    }
}

static ferc_status layout_init(layout *L, const ferc_cascade *c, int S, int half, int tofs) {
    int nw = c->win_w - 2, nh = c->win_h - 2;
    L->nofs[0] = lay(1, half) + S * 1;
    L->nofs[1] = lay(1 + nw, half) + S * 1;
    L->nofs[2] = lay(1, half) + S * (1 + nh);
    L->nofs[3] = lay(1 + nw, half) + S * (1 + nh);
    if (c->max_nodes == 1) {
        L->stump = malloc(sizeof(optstump) * (size_t)c->ntrees);
        if (!L->stump) return FERC_ERR_NOMEM;
        for (int t = 0; t < c->ntrees; t++) {
            const hnode *nd = &c->nodes[c->trees[t].first_node];
            const float *lv = &c->leaves[c->trees[t].first_leaf];
            optstump *s = &L->stump[t];
            set_offsets(&s->f, &c->features[nd->feature], S, half, tofs);
            s->thr = nd->threshold;
            s->left = lv[-nd->left];
            s->right = lv[-nd->right];
        }
    } else {
        L->feat = malloc(sizeof(optfeat) * (size_t)c->nfeatures);
        if (!L->feat) return FERC_ERR_NOMEM;
        for (int i = 0; i < c->nfeatures; i++) set_offsets(&L->feat[i], &c->features[i], S, half, tofs);
    }
    return FERC_OK;
}

void ferc_haar_free(evaluator *ev) {
    for (int i = 0; i < 2; i++) { free(ev->lay[i].feat); free(ev->lay[i].stump); }
}

ferc_status ferc_haar_init(evaluator *ev, const ferc_cascade *c, int stride, int plane) {
    memset(ev, 0, sizeof *ev);
    ev->c = c;
    ev->stride = stride;
    ev->plane = plane;
    ev->half = (stride + 1) / 2;
    ev->area = (double)(c->win_w - 2) * (double)(c->win_h - 2);
#if defined(__AVX2__)
    /* The vector path converts window sums of squares as signed 32-bit. */
    ev->simd = c->max_nodes == 1 && ev->area * 65025.0 < 2147483647.0;
#endif
    if (layout_init(&ev->lay[0], c, stride, 0, 2 * plane) ||
        layout_init(&ev->lay[1], c, stride, ev->half, 2 * plane)) {
        ferc_haar_free(ev);
        return FERC_ERR_NOMEM;
    }
    return FERC_OK;
}

/* ------------------------------------------------------------------------ */
/* One window at a time                                                      */
/* ------------------------------------------------------------------------ */

static inline int32_t rsum(const uint32_t *p, const int *o) {
    return (int32_t)(p[o[0]] - p[o[1]] - p[o[2]] + p[o[3]]);
}

/* float arithmetic in OpenCV's order: w0*s0 + w1*s1 (+ w2*s2). */
static inline float feat_value(const optfeat *f, const uint32_t *p) {
    float v = f->w[0] * (float)rsum(p, f->o[0]) + f->w[1] * (float)rsum(p, f->o[1]);
    if (f->w[2] != 0.0f) v += f->w[2] * (float)rsum(p, f->o[2]);
    return v;
}

/* Variance normalisation of the window at p (top-left corner in the sum
 * plane): 0 when the window is too flat (OpenCV's setWindow failing). */
static inline int window_norm(const evaluator *ev, const layout *L, const uint32_t *p, float *vnf) {
    const uint32_t *q = p + ev->plane;
    int32_t vs = rsum(p, L->nofs);
    uint32_t vq = q[L->nofs[0]] - q[L->nofs[1]] - q[L->nofs[2]] + q[L->nofs[3]];
    double nf = ev->area * (double)vq - (double)vs * (double)vs;
    if (!(nf > 0.)) return 0;
    *vnf = (float)(1. / sqrt(nf));
    return ev->area * (double)*vnf < 1e-1;
}

/* Stages s0.. of the window at p: 1 = object, -s = rejected by stage s. */
static int stages_from(const evaluator *ev, const layout *L, const uint32_t *p, float vnf, int s0) {
    const ferc_cascade *c = ev->c;
    if (L->stump) {
        for (int si = s0; si < c->nstages; si++) {
            const hstage *sg = &c->stages[si];
            const optstump *s = L->stump + sg->first_tree;
            double t = 0;
            for (int k = 0; k < sg->ntrees; k++, s++) {
                float v = feat_value(&s->f, p) * vnf;
                t += v < s->thr ? s->left : s->right;
            }
            if (t < sg->threshold) return -si;
        }
        return 1;
    }
    for (int si = s0; si < c->nstages; si++) {
        const hstage *sg = &c->stages[si];
        double t = 0;
        for (int k = 0; k < sg->ntrees; k++) {
            const htree *tr = &c->trees[sg->first_tree + k];
            const hnode *nodes = &c->nodes[tr->first_node];
            int idx = 0;
            do {
                const hnode *nd = &nodes[idx];
                float v = feat_value(&L->feat[nd->feature], p) * vnf;
                idx = v < nd->threshold ? nd->left : nd->right;
            } while (idx > 0);
            t += c->leaves[tr->first_leaf - idx];
        }
        if (t < sg->threshold) return -si;
    }
    return 1;
}

/* One window: 1 = object, 0 = rejected by the first stage, -s = rejected by
 * stage s, -1 also for windows too flat to normalise. */
static int run_at(const evaluator *ev, const layout *L, const uint32_t *p) {
    float vnf;
    if (!window_norm(ev, L, p, &vnf)) return -1;
    return stages_from(ev, L, p, vnf, 0);
}

/* ------------------------------------------------------------------------ */
/* Eight windows at a time (AVX2)                                            */
/* ------------------------------------------------------------------------ */

#if defined(__AVX2__)
#include <immintrin.h>

/* The same computations for the 8 consecutive windows p[0..7], lane by lane
 * bit-identical to the scalar code (no FMA: products and sums are rounded
 * separately, as in OpenCV). */
static inline __m256i vrsum_i(const uint32_t *p, const int *o) {
    __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)(p + o[0]));
    __m256i b = _mm256_loadu_si256((const __m256i *)(const void *)(p + o[1]));
    __m256i c = _mm256_loadu_si256((const __m256i *)(const void *)(p + o[2]));
    __m256i d = _mm256_loadu_si256((const __m256i *)(const void *)(p + o[3]));
    return _mm256_add_epi32(_mm256_sub_epi32(_mm256_sub_epi32(a, b), c), d);
}

/* Bit i set when window i can be normalised; its factor in lane i of vnf. */
static inline unsigned window_norm8(const evaluator *ev, const layout *L, const uint32_t *p, __m256 *vnf) {
    __m256i vs = vrsum_i(p, L->nofs), vq = vrsum_i(p + ev->plane, L->nofs);
    __m256d area = _mm256_set1_pd(ev->area), tenth = _mm256_set1_pd(1e-1), one = _mm256_set1_pd(1.0);
    __m256d s0 = _mm256_cvtepi32_pd(_mm256_castsi256_si128(vs));
    __m256d s1 = _mm256_cvtepi32_pd(_mm256_extracti128_si256(vs, 1));
    __m256d q0 = _mm256_cvtepi32_pd(_mm256_castsi256_si128(vq));
    __m256d q1 = _mm256_cvtepi32_pd(_mm256_extracti128_si256(vq, 1));
    __m256d n0 = _mm256_sub_pd(_mm256_mul_pd(area, q0), _mm256_mul_pd(s0, s0));
    __m256d n1 = _mm256_sub_pd(_mm256_mul_pd(area, q1), _mm256_mul_pd(s1, s1));
    unsigned pos = (unsigned)_mm256_movemask_pd(_mm256_cmp_pd(n0, _mm256_setzero_pd(), _CMP_GT_OQ)) |
                   ((unsigned)_mm256_movemask_pd(_mm256_cmp_pd(n1, _mm256_setzero_pd(), _CMP_GT_OQ)) << 4);
    __m128 f0 = _mm256_cvtpd_ps(_mm256_div_pd(one, _mm256_sqrt_pd(n0)));
    __m128 f1 = _mm256_cvtpd_ps(_mm256_div_pd(one, _mm256_sqrt_pd(n1)));
    __m256d a0 = _mm256_mul_pd(area, _mm256_cvtps_pd(f0)), a1 = _mm256_mul_pd(area, _mm256_cvtps_pd(f1));
    unsigned small = (unsigned)_mm256_movemask_pd(_mm256_cmp_pd(a0, tenth, _CMP_LT_OQ)) |
                     ((unsigned)_mm256_movemask_pd(_mm256_cmp_pd(a1, tenth, _CMP_LT_OQ)) << 4);
    *vnf = _mm256_set_m128(f1, f0);
    return pos & small;
}

/* Stage si for the 8 windows: bit i set when window i passes. */
static inline unsigned stage8(const ferc_cascade *c, const layout *L, int si, const uint32_t *p, __m256 vnf) {
    const hstage *sg = &c->stages[si];
    const optstump *s = L->stump + sg->first_tree;
    __m256d t0 = _mm256_setzero_pd(), t1 = _mm256_setzero_pd();
    for (int k = 0; k < sg->ntrees; k++, s++) {
        __m256 v = _mm256_add_ps(_mm256_mul_ps(_mm256_set1_ps(s->f.w[0]), _mm256_cvtepi32_ps(vrsum_i(p, s->f.o[0]))),
                                 _mm256_mul_ps(_mm256_set1_ps(s->f.w[1]), _mm256_cvtepi32_ps(vrsum_i(p, s->f.o[1]))));
        if (s->f.w[2] != 0.0f)
            v = _mm256_add_ps(v, _mm256_mul_ps(_mm256_set1_ps(s->f.w[2]), _mm256_cvtepi32_ps(vrsum_i(p, s->f.o[2]))));
        v = _mm256_mul_ps(v, vnf);
        __m256 leaf = _mm256_blendv_ps(_mm256_set1_ps(s->right), _mm256_set1_ps(s->left),
                                       _mm256_cmp_ps(v, _mm256_set1_ps(s->thr), _CMP_LT_OQ));
        t0 = _mm256_add_pd(t0, _mm256_cvtps_pd(_mm256_castps256_ps128(leaf)));
        t1 = _mm256_add_pd(t1, _mm256_cvtps_pd(_mm256_extractf128_ps(leaf, 1)));
    }
    __m256d th = _mm256_set1_pd((double)sg->threshold);
    return (unsigned)_mm256_movemask_pd(_mm256_cmp_pd(t0, th, _CMP_NLT_UQ)) |
           ((unsigned)_mm256_movemask_pd(_mm256_cmp_pd(t1, th, _CMP_NLT_UQ)) << 4);
}

/* Below this many live windows out of 8, finish them one by one (measured:
 * running the vectors to the end is fastest). */
#define VEC_MIN_LIVE 1

/* Scan one row of nj windows (window j at row + j, image column j * step),
 * 8 at a time; detections are pushed in order of j. Windows past nj are
 * computed (their loads stay inside the planes' slack) and ignored. */
static int scan_row8(const evaluator *ev, const layout *L, const uint32_t *row, int nj, int y, int step, float sc,
                     int bw, int bh, boxlist *out) {
    const ferc_cascade *c = ev->c;
    int skip = 0;
    for (int j0 = 0; j0 < nj; j0 += 8) {
        const uint32_t *p = row + j0;
        int lanes = nj - j0 < 8 ? nj - j0 : 8;
        __m256 vnf;
        unsigned ok = window_norm8(ev, L, p, &vnf);
        unsigned pass = ok ? stage8(c, L, 0, p, vnf) : 0;
        unsigned live = 0;
        for (int i = 0; i < lanes; i++) {
            if (skip) { skip = 0; continue; }        /* OpenCV skips the position after a stage-0 reject */
            if (!(ok >> i & 1)) continue;            /* too flat: -1, no skip */
            if (!(pass >> i & 1)) { skip = 1; continue; }
            live |= 1u << i;
        }
        int si = 1;
        while (live && si < c->nstages && __builtin_popcount(live) >= VEC_MIN_LIVE)
            live &= stage8(c, L, si++, p, vnf);
        if (!live) continue;
        if (si < c->nstages) {
            float f[8];
            _mm256_storeu_ps(f, vnf);
            for (int i = 0; i < lanes; i++)
                if ((live >> i & 1) && stages_from(ev, L, p + i, f[i], si) <= 0) live &= ~(1u << i);
        }
        for (int i = 0; i < lanes; i++)
            if (live >> i & 1) {
                ferc_box b = {.x = round_f((float)((j0 + i) * step) * sc), .y = round_f((float)y * sc), .w = bw, .h = bh};
                if (!boxlist_push(out, b)) return 0;
            }
    }
    return 1;
}
#endif

/* ------------------------------------------------------------------------ */
/* Scanning one scale                                                        */
/* ------------------------------------------------------------------------ */

/* Scan one row of nj windows (window j at row + j, image column j * step)
 * one at a time; detections are pushed in order of j. */
static int scan_row(const evaluator *ev, const layout *L, const uint32_t *row, int nj, int y, int step, float sc,
                    int bw, int bh, boxlist *out) {
    int skip = 0;
    for (int j = 0; j < nj; j++) {
        if (skip) { skip = 0; continue; }
        int r = run_at(ev, L, row + j);
        if (r > 0) {
            ferc_box b = {.x = round_f((float)(j * step) * sc), .y = round_f((float)y * sc), .w = bw, .h = bh};
            if (!boxlist_push(out, b)) return 0;
        } else if (r == 0) {
            skip = 1; /* OpenCV skips the next position after a first-stage reject */
        }
    }
    return 1;
}

int ferc_haar_scan(const evaluator *ev, const uint32_t *sum, int szw, int szh, int step, float sc, int bw,
                   int bh, boxlist *out) {
    const layout *L = &ev->lay[step == 2];
    int nj = (szw + step - 1) / step; /* windows per row, at x = j * step */
    for (int y = 0; y < szh; y += step) {
        const uint32_t *row = sum + (size_t)y * ev->stride; /* window j at row + j in both layouts */
#if defined(__AVX2__)
        if (ev->simd) {
            if (!scan_row8(ev, L, row, nj, y, step, sc, bw, bh, out)) return 0;
            continue;
        }
#endif
        if (!scan_row(ev, L, row, nj, y, step, sc, bw, bh, out)) return 0;
    }
    return 1;
}
