/* fused.c — fast execution of conv blocks: conv -> bn -> relu [-> 2x2 max-pool]
 * [-> dropout] runs as one unit on the nChw16c layout (16 channels innermost).
 *
 * Forward: the convolution is a oneDNN primitive; the batch-norm statistics
 * are per (image, channel) partial sums combined in a fixed order; then one
 * pass normalises, applies ReLU, pools and drops out, writing only the block
 * output plus, per pooled element, a one-byte record (argmax in the window,
 * and whether the gradient passes ReLU and dropout) and the normalised value
 * at the argmax. Backward: one pass over the small pooled arrays gives the
 * per-channel sums of batch-norm's backward, a second pass writes the conv
 * output gradient, then oneDNN's backward-weights and backward-data run.
 * The results equal the layer-by-layer path of layers.c up to float rounding
 * (tests/test_fused.c compares them). The parameter layout is unchanged:
 * weights are reordered from OIHW for each pass.
 *
 * oneDNN's primitives have a fixed batch and thread count. A training
 * workspace (net_reserve) creates the set for its batch up front, and a
 * smaller training batch runs on it padded with zero images, so a training
 * step never allocates; other sizes (inference) get sets on first use, kept
 * in a small cache. Every pass runs on exec_ctx.threads threads, with static
 * schedules and fixed reduction orders: bit-identical for a thread count. */
#include "net.h"
#include "internal.h"

#include <dnnl.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef float v16f __attribute__((vector_size(64), may_alias));
typedef int32_t v16i __attribute__((vector_size(64), may_alias));
typedef uint64_t v8u __attribute__((vector_size(64)));
typedef int64_t v8l __attribute__((vector_size(64)));
typedef int32_t v8i __attribute__((vector_size(32)));
typedef uint8_t v16b __attribute__((vector_size(16), may_alias));

#define FSETS 6

/* A primitive with its argument memories; the scratchpad comes last. */
typedef struct {
    dnnl_primitive_t p;
    int n, scr;
    dnnl_exec_arg_t a[6];
} fexec;

typedef struct {
    fexec fwd, rw;               /* conv forward; OIHW -> forward weight format */
    fexec bwdd, rwb;             /* backward data; OIHW -> its weight format */
    fexec bwdw, rdw;             /* backward weights; its format -> OIHW */
    int w_plain, wb_kind, dw_plain, has_bwd;  /* wb_kind: 0 OIHW, 1 as forward, 2 own */
    float *wf, *wb, *dw, *dwp, *db;
} fprims;

typedef struct {
    int N, threads, has_bwd, live;
    long used;
    fprims *p;                   /* one per block */
    void *scr;                   /* user scratchpad shared by the set's primitives */
    size_t scr_size;
} fset;

struct fdnn {
    dnnl_engine_t eng;
    dnnl_stream_t strm;
    fset sets[FSETS];
    int cur, pinned;
    long tick;
    const float **src_used;      /* per block: the conv input of the last forward */
};

/* ------------------------------------------------------------------------ */
/* oneDNN helpers                                                            */
/* ------------------------------------------------------------------------ */

static int set_threads(int t) {
    int old = omp_get_max_threads();
    omp_set_num_threads(t);
    return old;
}

static void fx_free(fexec *e) {
    for (int i = 0; i < e->n; i++) dnnl_memory_destroy(e->a[i].memory);
    if (e->p) dnnl_primitive_destroy(e->p);
    memset(e, 0, sizeof *e);
}

/* Primitive of pd with (unbound) memories for args ids[0..n). */
static int fx_init(struct fdnn *d, fexec *e, const_dnnl_primitive_desc_t pd, const int *ids, int n,
                   size_t *scr) {
    memset(e, 0, sizeof *e);
    for (int i = 0; i < n; i++) {
        const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, ids[i]);
        if (!md || dnnl_memory_create(&e->a[e->n].memory, md, d->eng, DNNL_MEMORY_NONE) != dnnl_success)
            return 0;
        e->a[e->n++].arg = ids[i];
    }
    const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    size_t ss = smd ? dnnl_memory_desc_get_size(smd) : 0;
    if (ss) {
        if (dnnl_memory_create(&e->a[e->n].memory, smd, d->eng, DNNL_MEMORY_NONE) != dnnl_success) return 0;
        e->a[e->n++].arg = DNNL_ARG_SCRATCHPAD;
        e->scr = 1;
        if (ss > *scr) *scr = ss;
    }
    return dnnl_primitive_create(&e->p, pd) == dnnl_success;
}

static void fx_run(struct fdnn *d, fexec *e, void *scr, const void *h0, const void *h1,
                   const void *h2, const void *h3) {
    const void *h[4] = {h0, h1, h2, h3};
    int n = e->n - e->scr;
    for (int i = 0; i < n; i++) dnnl_memory_set_data_handle(e->a[i].memory, (void *)h[i]);
    if (e->scr) dnnl_memory_set_data_handle(e->a[n].memory, scr);
    dnnl_primitive_execute(e->p, d->strm, e->n, e->a);
    dnnl_stream_wait(d->strm);
}

static void *falloc(size_t bytes) {
    return aligned_alloc(64, (bytes + 63) & ~(size_t)63);
}

static void prims_free(fprims *p) {
    fx_free(&p->fwd); fx_free(&p->rw); fx_free(&p->bwdd); fx_free(&p->rwb);
    fx_free(&p->bwdw); fx_free(&p->rdw);
    free(p->wf); free(p->wb); free(p->dw); free(p->dwp); free(p->db);
    memset(p, 0, sizeof *p);
}

static void set_free(fset *s, int nblocks) {
    if (s->p) for (int b = 0; b < nblocks; b++) prims_free(&s->p[b]);
    free(s->p);
    free(s->scr);
    memset(s, 0, sizeof *s);
}

typedef struct {
    dnnl_memory_desc_t src, wany, wuser, bias, dst;
    dnnl_dims_t strides, pl, pr;
} conv_mds;

static int conv_mds_init(const fblock *b, const layer *lc, int N, conv_mds *m) {
    dnnl_dims_t sd = {N, b->C, b->H, b->W}, wd = {b->K, b->C, lc->k, lc->k}, bd = {b->K},
                dd = {N, b->K, b->CH, b->CW};
    m->strides[0] = m->strides[1] = 1;
    m->pl[0] = m->pl[1] = lc->pad;
    m->pr[0] = b->CH - 1 + lc->k - b->H - lc->pad;
    m->pr[1] = b->CW - 1 + lc->k - b->W - lc->pad;
    return dnnl_memory_desc_init_by_tag(&m->src, 4, sd, dnnl_f32, b->in_blocked ? dnnl_nChw16c : dnnl_nchw) == dnnl_success &&
           dnnl_memory_desc_init_by_tag(&m->wany, 4, wd, dnnl_f32, dnnl_format_tag_any) == dnnl_success &&
           dnnl_memory_desc_init_by_tag(&m->wuser, 4, wd, dnnl_f32, dnnl_oihw) == dnnl_success &&
           dnnl_memory_desc_init_by_tag(&m->bias, 1, bd, dnnl_f32, dnnl_x) == dnnl_success &&
           dnnl_memory_desc_init_by_tag(&m->dst, 4, dd, dnnl_f32, dnnl_nChw16c) == dnnl_success;
}

/* A reorder from -> to, or *plain = 1 when the formats are the same. */
static int make_reorder(struct fdnn *d, fexec *e, const dnnl_memory_desc_t *from,
                        const dnnl_memory_desc_t *to, const_dnnl_primitive_attr_t attr, int *plain,
                        float **buf, const dnnl_memory_desc_t *bufmd, size_t *scr) {
    if (dnnl_memory_desc_equal(from, to)) { *plain = 1; return 1; }
    *plain = 0;
    dnnl_primitive_desc_t pd;
    if (dnnl_reorder_primitive_desc_create(&pd, from, d->eng, to, d->eng, attr) != dnnl_success) return 0;
    int ids[2] = {DNNL_ARG_FROM, DNNL_ARG_TO};
    int ok = fx_init(d, e, pd, ids, 2, scr);
    dnnl_primitive_desc_destroy(pd);
    if (ok && buf && !*buf) ok = (*buf = falloc(dnnl_memory_desc_get_size(bufmd))) != NULL;
    return ok;
}

/* Create block b's primitives for (N, threads); forward always, backward when asked. */
static int prims_create(ferc_net *net, fset *s, int bi, int bwd, char *why, size_t whylen) {
    struct fdnn *d = net->dnn;
    const fblock *b = &net->blocks[bi];
    const layer *lc = &net->layers[b->conv];
    fprims *p = &s->p[bi];
    conv_mds m;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t fpd = NULL, pd = NULL;
    dnnl_convolution_desc_t cd;
    int ok = 0;
    const char *stage = "descriptors";
    if (!conv_mds_init(b, lc, s->N, &m)) goto out;
    if (dnnl_primitive_attr_create(&attr) != dnnl_success ||
        dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user) != dnnl_success) goto out;
    stage = "forward";
    if (dnnl_convolution_forward_desc_init(&cd, dnnl_forward_training, dnnl_convolution_direct, &m.src,
                                           &m.wany, &m.bias, &m.dst, m.strides, m.pl, m.pr) != dnnl_success ||
        dnnl_primitive_desc_create(&fpd, &cd, attr, d->eng, NULL) != dnnl_success) goto out;
    const dnnl_memory_desc_t *wf = dnnl_primitive_desc_query_md(fpd, dnnl_query_weights_md, 0);
    if (!p->fwd.p) {
        int ids[4] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS, DNNL_ARG_DST};
        if (!fx_init(d, &p->fwd, fpd, ids, 4, &s->scr_size)) goto out;
        if (!make_reorder(d, &p->rw, &m.wuser, wf, attr, &p->w_plain, &p->wf, wf, &s->scr_size)) goto out;
    }
    if (bwd && !p->has_bwd) {
        stage = "backward data";
        if (dnnl_convolution_backward_data_desc_init(&cd, dnnl_convolution_direct, &m.src, &m.wany, &m.dst,
                                                     m.strides, m.pl, m.pr) != dnnl_success ||
            dnnl_primitive_desc_create(&pd, &cd, attr, d->eng, fpd) != dnnl_success) goto out;
        int ids[3] = {DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC};
        if (!fx_init(d, &p->bwdd, pd, ids, 3, &s->scr_size)) goto out;
        const dnnl_memory_desc_t *wb = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
        int same_plain = 0;
        if (dnnl_memory_desc_equal(wb, wf)) p->wb_kind = 1;
        else if (!make_reorder(d, &p->rwb, &m.wuser, wb, attr, &same_plain, &p->wb, wb, &s->scr_size)) goto out;
        else p->wb_kind = same_plain ? 0 : 2;
        dnnl_primitive_desc_destroy(pd); pd = NULL;

        stage = "backward weights";
        if (dnnl_convolution_backward_weights_desc_init(&cd, dnnl_convolution_direct, &m.src, &m.wany,
                                                        &m.bias, &m.dst, m.strides, m.pl, m.pr) != dnnl_success ||
            dnnl_primitive_desc_create(&pd, &cd, attr, d->eng, fpd) != dnnl_success) goto out;
        int wids[4] = {DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS, DNNL_ARG_DIFF_BIAS};
        if (!fx_init(d, &p->bwdw, pd, wids, 4, &s->scr_size)) goto out;
        const dnnl_memory_desc_t *dw = dnnl_primitive_desc_query_md(pd, dnnl_query_diff_weights_md, 0);
        if (!make_reorder(d, &p->rdw, dw, &m.wuser, attr, &p->dw_plain, &p->dw, dw, &s->scr_size)) goto out;
        size_t nw = (size_t)b->K * b->C * lc->k * lc->k;
        if (!p->dwp) p->dwp = falloc(sizeof(float) * nw);
        if (!p->db) p->db = falloc(sizeof(float) * (size_t)b->K);
        if (!p->dwp || !p->db) goto out;
        p->has_bwd = 1;
    }
    ok = 1;
out:
    if (!ok) snprintf(why, whylen, "oneDNN %s primitive for layer %d (conv%d on %dx%dx%d, batch %d) not available",
                      stage, b->conv + 1, b->K, b->C, b->H, b->W, s->N);
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (fpd) dnnl_primitive_desc_destroy(fpd);
    if (attr) dnnl_primitive_attr_destroy(attr);
    return ok;
}

/* Make set s (N, threads) complete, with backward primitives when asked. */
static int set_fill(ferc_net *net, fset *s, int bwd) {
    int old = set_threads(s->threads);
    size_t before = s->scr_size;
    int ok = 1;
    for (int b = 0; b < net->nblocks && ok; b++)
        ok = prims_create(net, s, b, bwd, net->fuse_msg, sizeof net->fuse_msg);
    if (ok && (s->scr_size > before || !s->scr)) {
        free(s->scr);
        s->scr = falloc(s->scr_size ? s->scr_size : 64);
        ok = s->scr != NULL;
        if (!ok) snprintf(net->fuse_msg, sizeof net->fuse_msg, "out of memory for oneDNN scratchpad");
    }
    set_threads(old);
    if (ok && bwd) s->has_bwd = 1;
    return ok;
}

static int dnn_create(ferc_net *net) {
    struct fdnn *d = calloc(1, sizeof *d);
    if (!d) return 0;
    d->src_used = calloc((size_t)net->nblocks, sizeof *d->src_used);
    d->cur = d->pinned = -1;
    if (!d->src_used || dnnl_engine_create(&d->eng, dnnl_cpu, 0) != dnnl_success) {
        free(d->src_used); free(d);
        return 0;
    }
    if (dnnl_stream_create(&d->strm, d->eng, dnnl_stream_default_flags) != dnnl_success) {
        dnnl_engine_destroy(d->eng); free(d->src_used); free(d);
        return 0;
    }
    net->dnn = d;
    return 1;
}

void fused_release(ferc_net *net) {
    struct fdnn *d = net->dnn;
    if (!d) return;
    for (int i = 0; i < FSETS; i++) set_free(&d->sets[i], net->nblocks);
    dnnl_stream_destroy(d->strm);
    dnnl_engine_destroy(d->eng);
    free(d->src_used);
    free(d);
    net->dnn = NULL;
}

static void fuse_off(ferc_net *net, const char *why) {
    net->fuse = 0;
    if (why && !net->fuse_msg[0]) snprintf(net->fuse_msg, sizeof net->fuse_msg, "%s", why);
}

/* A set for (N, threads): found, or made in a free / least recently used slot. */
static int set_get(ferc_net *net, int N, int threads, int bwd, int pin) {
    struct fdnn *d = net->dnn;
    for (int i = 0; i < FSETS; i++)
        if (d->sets[i].live && d->sets[i].N == N && d->sets[i].threads == threads) {
            if (bwd && !d->sets[i].has_bwd && !set_fill(net, &d->sets[i], 1)) return -1;
            return i;
        }
    int k = -1;
    for (int i = 0; i < FSETS; i++) {
        if (i == d->pinned && !pin) continue;
        if (!d->sets[i].live) { k = i; break; }
        if (k < 0 || d->sets[i].used < d->sets[k].used) k = i;
    }
    if (k == d->pinned) d->pinned = -1;
    set_free(&d->sets[k], net->nblocks);
    fset *s = &d->sets[k];
    s->N = N; s->threads = threads;
    s->p = calloc((size_t)net->nblocks, sizeof *s->p);
    if (!s->p) { set_free(s, net->nblocks); return -1; }
    s->live = 1;
    if (!set_fill(net, s, bwd)) { set_free(s, net->nblocks); return -1; }
    return k;
}

void fused_prepare(ferc_net *net, int N, int threads) {
    if (!net->fuse || !net->nblocks) return;
    if (!net->dnn && !dnn_create(net)) { fuse_off(net, "oneDNN engine not available"); return; }
    struct fdnn *d = net->dnn;
    int k = set_get(net, N, threads, 1, 1);
    if (k < 0) { fuse_off(net, NULL); return; }
    d->pinned = k;
    d->sets[k].used = ++d->tick;
}

int fused_ready(ferc_net *net, int N, const exec_ctx *ctx, int need_bwd) {
    if (!net->fuse || !net->nblocks || N <= 0) return 0;
    if (!net->dnn && !dnn_create(net)) { fuse_off(net, "oneDNN engine not available"); return 0; }
    struct fdnn *d = net->dnn;
    int T = ctx->threads > 0 ? ctx->threads : 1, k = -1;
    /* training: the workspace's set, padded when the batch is smaller */
    if (ctx->training && d->pinned >= 0) {
        fset *p = &d->sets[d->pinned];
        if (p->threads == T && p->N >= N && p->N <= net->max_batch && p->has_bwd) k = d->pinned;
    }
    if (k < 0) k = set_get(net, N, T, need_bwd, 0);
    if (k < 0) { fuse_off(net, NULL); return 0; }
    d->sets[k].used = ++d->tick;
    d->cur = k;
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Block detection                                                           */
/* ------------------------------------------------------------------------ */

void fused_plan(ferc_net *net) {
#ifdef FERC_NO_FUSE
    net->fuse = 0;   /* build switch for comparisons with the layer-by-layer path */
#else
    net->fuse = 1;
#endif
    net->stages = calloc((size_t)net->nlayers, sizeof *net->stages);
    net->blocks = calloc((size_t)net->nlayers, sizeof *net->blocks);
    if (!net->stages || !net->blocks) {
        free(net->stages); free(net->blocks);
        net->stages = NULL; net->blocks = NULL;
        fuse_off(net, "out of memory");
        return;
    }
    for (int i = 0; i < net->nlayers;) {
        const layer *l = net->layers;
        net_stage *st = &net->stages[net->nstages++];
        st->first = st->last = i; st->block = -1;
        if (l[i].kind == LAYER_CONV && i + 2 < net->nlayers && l[i + 1].kind == LAYER_BN &&
            l[i + 2].kind == LAYER_RELU && l[i].oc % 16 == 0) {
            fblock *b = &net->blocks[net->nblocks];
            memset(b, 0, sizeof *b);
            b->conv = i; b->bn = i + 1; b->relu = i + 2; b->pool = b->drop = -1;
            int j = i + 3;
            if (j < net->nlayers && l[j].kind == LAYER_MAXPOOL) b->pool = j++;
            if (j < net->nlayers && l[j].kind == LAYER_DROPOUT) b->drop = j++;
            b->first = i; b->last = j - 1;
            b->C = l[i].c; b->H = l[i].h; b->W = l[i].w;
            b->K = l[i].oc; b->CH = l[i].oh; b->CW = l[i].ow;
            b->OH = l[b->last].oh; b->OW = l[b->last].ow;
            st->last = b->last; st->block = net->nblocks++;
            i = j;
        } else {
            i++;
        }
    }
    for (int s = 0; s < net->nstages; s++) {
        const net_stage *st = &net->stages[s];
        if (st->block < 0) continue;
        fblock *b = &net->blocks[st->block];
        b->in_blocked = s > 0 && net->stages[s - 1].block >= 0;
        b->out_blocked = s + 1 < net->nstages && net->stages[s + 1].block >= 0;
    }
}

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

/* Per (image, 16-channel group): sum and sum of squared deviations from the
 * group's own mean, per lane -> part[t*32 .. +32). */
static void k_stats(const float *x, int tasks, int HW, float *part, int T) {
#pragma omp parallel for num_threads(T) schedule(static)
    for (int t = 0; t < tasks; t++) {
        const v16f *p = (const v16f *)(x + (size_t)t * HW * 16);
        v16f s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
        int i = 0;
        for (; i + 4 <= HW; i += 4) { s0 += p[i]; s1 += p[i + 1]; s2 += p[i + 2]; s3 += p[i + 3]; }
        for (; i < HW; i++) s0 += p[i];
        v16f s = (s0 + s1) + (s2 + s3), mu = s * (1.0f / (float)HW);
        v16f q0 = {0}, q1 = {0}, q2 = {0}, q3 = {0};
        for (i = 0; i + 4 <= HW; i += 4) {
            v16f d0 = p[i] - mu, d1 = p[i + 1] - mu, d2 = p[i + 2] - mu, d3 = p[i + 3] - mu;
            q0 += d0 * d0; q1 += d1 * d1; q2 += d2 * d2; q3 += d3 * d3;
        }
        for (; i < HW; i++) { v16f d0 = p[i] - mu; q0 += d0 * d0; }
        *(v16f *)(part + (size_t)t * 32) = s;
        *(v16f *)(part + (size_t)t * 32 + 16) = (q0 + q1) + (q2 + q3);
    }
}

typedef struct {     /* per-channel coefficient arrays in net->fcoef */
    float *a, *b, *mean, *inv, *k, *mdy, *mdyx;
} coefs;

static coefs coef_arrays(const ferc_net *net) {
    int kmax = 16;
    for (int b = 0; b < net->nblocks; b++) if (net->blocks[b].K > kmax) kmax = net->blocks[b].K;
    float *c = net->fcoef;
    coefs r = {c, c + kmax, c + 2 * kmax, c + 3 * kmax, c + 4 * kmax, c + 5 * kmax, c + 6 * kmax};
    return r;
}

/* Forward with 2x2 pooling, one pooled row per task. */
static void k_fwd_pool(const fblock *b, const float *x, float *y, uint8_t *rec, float *xh, int N,
                       const coefs *cf, const dropgen *dg, int T) {
    const int CB = b->K / 16, CH = b->CH, CW = b->CW, OH = b->OH, OW = b->OW, K = b->K;
    const size_t OHW = (size_t)OH * OW;
    const int tasks = N * CB * OH;
#pragma omp parallel for num_threads(T) schedule(static)
    for (int t = 0; t < tasks; t++) {
        int n = t / (CB * OH), r = t % (CB * OH), cb = r / OH, oh = r % OH;
        const v16f *x0 = (const v16f *)x + (((size_t)n * CB + cb) * CH + 2 * oh) * CW, *x1 = x0 + CW;
        size_t o = (((size_t)n * CB + cb) * OH + oh) * OW;
        v16f *yo = (v16f *)y + o;
        const v16f a = ((const v16f *)cf->a)[cb], bb = ((const v16f *)cf->b)[cb];
        const v16f mu = ((const v16f *)cf->mean)[cb], is = ((const v16f *)cf->inv)[cb];
        const v16f zero = {0};
        const v16i one = zero == zero, i1 = one & 1, i2 = one & 2, i3 = one & 3, i4 = one & 4;
        size_t i0 = (size_t)n * K * OHW + (size_t)cb * 16 * OHW + (size_t)oh * OW;
        for (int ow = 0; ow < OW; ow++) {
            v16f p0 = x0[2 * ow], p1 = x0[2 * ow + 1], p2 = x1[2 * ow], p3 = x1[2 * ow + 1];
            v16f v0 = p0 * a + bb, v1 = p1 * a + bb, v2 = p2 * a + bb, v3 = p3 * a + bb;
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
            yo[ow] = out;
            if (rec) {
                ((v16b *)rec)[o + ow] = __builtin_convertvector(idx | (act & i4), v16b);
                ((v16f *)xh)[o + ow] = (xb - mu) * is;
            }
        }
    }
}

/* Forward without pooling, one conv-output row per task. */
static void k_fwd_plain(const fblock *b, const float *x, float *y, int N, const coefs *cf,
                        const dropgen *dg, int T) {
    const int CB = b->K / 16, CH = b->CH, CW = b->CW, K = b->K;
    const size_t HW = (size_t)CH * CW;
    const int tasks = N * CB * CH;
#pragma omp parallel for num_threads(T) schedule(static)
    for (int t = 0; t < tasks; t++) {
        int n = t / (CB * CH), r = t % (CB * CH), cb = r / CH, h = r % CH;
        size_t o = (((size_t)n * CB + cb) * CH + h) * CW;
        const v16f *xr = (const v16f *)x + o;
        v16f *yr = (v16f *)y + o;
        const v16f a = ((const v16f *)cf->a)[cb], bb = ((const v16f *)cf->b)[cb], zero = {0};
        size_t i0 = (size_t)n * K * HW + (size_t)cb * 16 * HW + (size_t)h * CW;
        for (int w = 0; w < CW; w++) {
            v16f v = xr[w] * a + bb;
            v16f out = vsel(v > zero, v, zero);
            if (dg->on) out = vsel(drop_keep16(dg, i0 + w), out * dg->scale, zero);
            yr[w] = out;
        }
    }
}

/* Backward pass 1 with pooling: per (image, group) sums of g and g * xhat. */
static void k_bwd1_pool(const fblock *b, const float *dy, const uint8_t *rec, const float *xh, int N,
                        float scale, float *part, int T) {
    const int CB = b->K / 16, OHW = b->OH * b->OW;
    const int tasks = N * CB;
#pragma omp parallel for num_threads(T) schedule(static)
    for (int t = 0; t < tasks; t++) {
        const v16f *g = (const v16f *)dy + (size_t)t * OHW, *xr = (const v16f *)xh + (size_t)t * OHW;
        const v16b *rr = (const v16b *)rec + (size_t)t * OHW;
        v16f s0 = {0}, s1 = {0}, zero = {0};
        const v16i i4 = (zero == zero) & 4, z = i4 & 0;
        for (int i = 0; i < OHW; i++) {
            v16i ri = __builtin_convertvector(rr[i], v16i);
            v16f gg = vsel((ri & i4) != z, g[i] * scale, zero);
            s0 += gg;
            s1 += gg * xr[i];
        }
        *(v16f *)(part + (size_t)t * 32) = s0;
        *(v16f *)(part + (size_t)t * 32 + 16) = s1;
    }
}

/* Backward pass 1 without pooling: the ReLU/dropout outcome is y > 0. */
static void k_bwd1_plain(const fblock *b, const float *dy, const float *y, const float *x, int N,
                         float scale, const coefs *cf, float *part, int T) {
    const int CB = b->K / 16, HW = b->CH * b->CW;
    const int tasks = N * CB;
#pragma omp parallel for num_threads(T) schedule(static)
    for (int t = 0; t < tasks; t++) {
        int cb = t % CB;
        const v16f *g = (const v16f *)dy + (size_t)t * HW, *yr = (const v16f *)y + (size_t)t * HW;
        const v16f *xr = (const v16f *)x + (size_t)t * HW;
        const v16f mu = ((const v16f *)cf->mean)[cb], is = ((const v16f *)cf->inv)[cb];
        v16f s0 = {0}, s1 = {0}, zero = {0};
        for (int i = 0; i < HW; i++) {
            v16f gg = vsel(yr[i] > zero, g[i] * scale, zero);
            s0 += gg;
            s1 += gg * ((xr[i] - mu) * is);
        }
        *(v16f *)(part + (size_t)t * 32) = s0;
        *(v16f *)(part + (size_t)t * 32 + 16) = s1;
    }
}

/* Backward pass 2 with pooling: dconv = k (dbn - mdy - xhat mdyx), one pooled row per task
 * (the last task of a group also covers rows below the pooled area). */
static void k_bwd2_pool(const fblock *b, const float *dy, const uint8_t *rec, const float *x, float *dx,
                        int N, float scale, const coefs *cf, int T) {
    const int CB = b->K / 16, CH = b->CH, CW = b->CW, OH = b->OH, OW = b->OW;
    const int tasks = N * CB * OH;
#pragma omp parallel for num_threads(T) schedule(static)
    for (int t = 0; t < tasks; t++) {
        int n = t / (CB * OH), r = t % (CB * OH), cb = r / OH, oh = r % OH;
        size_t xo = (((size_t)n * CB + cb) * CH + 2 * oh) * CW;
        const v16f *x0 = (const v16f *)x + xo, *x1 = x0 + CW;
        v16f *d0 = (v16f *)dx + xo, *d1 = d0 + CW;
        size_t o = (((size_t)n * CB + cb) * OH + oh) * OW;
        const v16f *g = (const v16f *)dy + o;
        const v16b *rr = (const v16b *)rec + o;
        const v16f mu = ((const v16f *)cf->mean)[cb], is = ((const v16f *)cf->inv)[cb];
        const v16f kk = ((const v16f *)cf->k)[cb], mdy = ((const v16f *)cf->mdy)[cb];
        const v16f mdyx = ((const v16f *)cf->mdyx)[cb], zero = {0};
        const v16i one = zero == zero, z = one & 0, i1 = one & 1, i2 = one & 2, i3 = one & 3, i4 = one & 4;
        for (int ow = 0; ow < OW; ow++) {
            v16i ri = __builtin_convertvector(rr[ow], v16i), idx = ri & i3;
            v16f gg = vsel((ri & i4) != z, g[ow] * scale, zero);
            v16f xh;
            xh = (x0[2 * ow] - mu) * is;
            d0[2 * ow] = kk * ((vsel(idx == z, gg, zero) - mdy) - xh * mdyx);
            xh = (x0[2 * ow + 1] - mu) * is;
            d0[2 * ow + 1] = kk * ((vsel(idx == i1, gg, zero) - mdy) - xh * mdyx);
            xh = (x1[2 * ow] - mu) * is;
            d1[2 * ow] = kk * ((vsel(idx == i2, gg, zero) - mdy) - xh * mdyx);
            xh = (x1[2 * ow + 1] - mu) * is;
            d1[2 * ow + 1] = kk * ((vsel(idx == i3, gg, zero) - mdy) - xh * mdyx);
        }
        for (int w = 2 * OW; w < CW; w++) {   /* odd width: the column no window covers */
            d0[w] = kk * ((zero - mdy) - ((x0[w] - mu) * is) * mdyx);
            d1[w] = kk * ((zero - mdy) - ((x1[w] - mu) * is) * mdyx);
        }
        if (oh == OH - 1)
            for (int h = 2 * OH; h < CH; h++) {   /* odd height */
                const v16f *xr = (const v16f *)x + (((size_t)n * CB + cb) * CH + h) * CW;
                v16f *dr = (v16f *)dx + (((size_t)n * CB + cb) * CH + h) * CW;
                for (int w = 0; w < CW; w++) dr[w] = kk * ((zero - mdy) - ((xr[w] - mu) * is) * mdyx);
            }
    }
}

static void k_bwd2_plain(const fblock *b, const float *dy, const float *y, const float *x, float *dx,
                         int N, float scale, const coefs *cf, int T) {
    const int CB = b->K / 16, CH = b->CH, CW = b->CW;
    const int tasks = N * CB * CH;
#pragma omp parallel for num_threads(T) schedule(static)
    for (int t = 0; t < tasks; t++) {
        int cb = (t / CH) % CB;
        size_t o = (size_t)t * CW;
        const v16f *g = (const v16f *)dy + o, *yr = (const v16f *)y + o, *xr = (const v16f *)x + o;
        v16f *dr = (v16f *)dx + o;
        const v16f mu = ((const v16f *)cf->mean)[cb], is = ((const v16f *)cf->inv)[cb];
        const v16f kk = ((const v16f *)cf->k)[cb], mdy = ((const v16f *)cf->mdy)[cb];
        const v16f mdyx = ((const v16f *)cf->mdyx)[cb], zero = {0};
        for (int w = 0; w < CW; w++) {
            v16f gg = vsel(yr[w] > zero, g[w] * scale, zero);
            dr[w] = kk * ((gg - mdy) - ((xr[w] - mu) * is) * mdyx);
        }
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
/* Block passes                                                              */
/* ------------------------------------------------------------------------ */

const float *fused_block_forward(ferc_net *net, int bi, const float *in, int in_is_input, int N,
                                 const exec_ctx *ctx) {
    struct fdnn *d = net->dnn;
    fset *s = &d->sets[d->cur];
    fprims *p = &s->p[bi];
    const fblock *b = &net->blocks[bi];
    layer *lc = &net->layers[b->conv], *lb = &net->layers[b->bn], *lo = &net->layers[b->last];
    const int T = ctx->threads > 0 ? ctx->threads : 1, Np = s->N, K = b->K, CB = K / 16;
    const size_t insz = (size_t)b->C * b->H * b->W, CHW = (size_t)b->CH * b->CW;
    const size_t nw = (size_t)K * b->C * lc->k * lc->k;

    /* the conv, padded with zero images up to the primitive's batch */
    const float *src = in;
    if (Np > N) {
        if (in_is_input) {
            memcpy(net->xpad, in, sizeof(float) * N * insz);
            src = net->xpad;
        }
        memset((float *)src + N * insz, 0, sizeof(float) * (size_t)(Np - N) * insz);
    }
    d->src_used[bi] = src;
    int old = set_threads(T);
    const float *w = lc->param;
    if (!p->w_plain) { fx_run(d, &p->rw, s->scr, lc->param, p->wf, NULL, NULL); w = p->wf; }
    fx_run(d, &p->fwd, s->scr, src, w, lc->param + nw, lc->out);
    set_threads(old);

    /* batch-norm coefficients: y = a x + b per channel */
    coefs cf = coef_arrays(net);
    const float *gamma = lb->param, *beta = lb->param + K;
    float *rmean = lb->state, *rvar = lb->state + K;
    if (ctx->training) {
        k_stats(lc->out, N * CB, (int)CHW, net->fpart, T);
        const double M = (double)N * CHW;
        for (int c = 0; c < K; c++) {
            const float *pp = net->fpart + (size_t)(c / 16) * 32 + (c % 16);
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
            cf.mean[c] = mean; cf.inv[c] = invstd;
        }
    } else {
        for (int c = 0; c < K; c++) { cf.mean[c] = rmean[c]; cf.inv[c] = 1.0f / sqrtf(rvar[c] + lb->eps); }
    }
    for (int c = 0; c < K; c++) {
        lb->stat[c] = cf.mean[c]; lb->stat[K + c] = cf.inv[c];
        cf.a[c] = gamma[c] * cf.inv[c];
        cf.b[c] = beta[c] - cf.mean[c] * cf.a[c];
    }

    /* normalise, ReLU, pool, dropout */
    float *y = b->out_blocked ? lo->out : net->ftr + b->tr_off;
    dropgen dg;
    drop_init(&dg, net, b, ctx, (size_t)b->OH * b->OW);
    if (b->pool >= 0) {
        int keep = net->ws_training;   /* records for a backward pass */
        k_fwd_pool(b, lc->out, y, keep ? (uint8_t *)net->layers[b->pool].idx : NULL,
                   keep ? lb->out : NULL, N, &cf, &dg, T);
    } else {
        k_fwd_plain(b, lc->out, y, N, &cf, &dg, T);
    }
    if (!b->out_blocked) to_nchw(y, lo->out, N, K, b->OH * b->OW, T);
    return lo->out;
}

void fused_block_backward(ferc_net *net, int bi, const float *in, const float *dout, float *din,
                          int N, const exec_ctx *ctx) {
    (void)in;
    struct fdnn *d = net->dnn;
    fset *s = &d->sets[d->cur];
    fprims *p = &s->p[bi];
    const fblock *b = &net->blocks[bi];
    layer *lc = &net->layers[b->conv], *lb = &net->layers[b->bn], *lo = &net->layers[b->last];
    const int T = ctx->threads > 0 ? ctx->threads : 1, Np = s->N, K = b->K, CB = K / 16;
    const size_t insz = (size_t)b->C * b->H * b->W, CHW = (size_t)b->CH * b->CW;
    const size_t nw = (size_t)K * b->C * lc->k * lc->k;
    const int OHW = b->OH * b->OW;

    const float *dy = dout;
    if (!b->out_blocked) { to_blocked(dout, net->ftd, N, K, OHW, T); dy = net->ftd; }
    const float *y = b->out_blocked ? lo->out : net->ftr + b->tr_off;
    dropgen dg;
    drop_init(&dg, net, b, ctx, (size_t)OHW);
    coefs cf = coef_arrays(net);
    for (int c = 0; c < K; c++) { cf.mean[c] = lb->stat[c]; cf.inv[c] = lb->stat[K + c]; }

    /* pass 1: per-channel sums of dbn and dbn * xhat */
    if (b->pool >= 0)
        k_bwd1_pool(b, dy, (const uint8_t *)net->layers[b->pool].idx, lb->out, N, dg.scale, net->fpart, T);
    else
        k_bwd1_plain(b, dy, y, lc->out, N, dg.scale, &cf, net->fpart, T);
    float *dgamma = lb->grad, *dbeta = lb->grad + K;
    const float *gamma = lb->param;
    const float M = (float)N * (float)CHW;
    for (int c = 0; c < K; c++) {
        const float *pp = net->fpart + (size_t)(c / 16) * 32 + (c % 16);
        double sdy = 0, sdyx = 0;
        for (int n = 0; n < N; n++) { sdy += pp[(size_t)n * CB * 32]; sdyx += pp[(size_t)n * CB * 32 + 16]; }
        dgamma[c] += (float)sdyx;
        dbeta[c] += (float)sdy;
        cf.k[c] = gamma[c] * cf.inv[c];
        cf.mdy[c] = ctx->training ? (float)(sdy / M) : 0.0f;
        cf.mdyx[c] = ctx->training ? (float)(sdyx / M) : 0.0f;
    }

    /* pass 2: the conv output gradient */
    float *dconv = net->dconv;
    if (b->pool >= 0)
        k_bwd2_pool(b, dy, (const uint8_t *)net->layers[b->pool].idx, lc->out, dconv, N, dg.scale, &cf, T);
    else
        k_bwd2_plain(b, dy, y, lc->out, dconv, N, dg.scale, &cf, T);
    if (Np > N) memset(dconv + (size_t)N * K * CHW, 0, sizeof(float) * (size_t)(Np - N) * K * CHW);

    /* conv backward: weights, then data */
    int old = set_threads(T);
    fx_run(d, &p->bwdw, s->scr, d->src_used[bi], dconv, p->dw_plain ? p->dwp : p->dw, p->db);
    if (!p->dw_plain) fx_run(d, &p->rdw, s->scr, p->dw, p->dwp, NULL, NULL);
    if (din) {
        const float *w = lc->param;
        if (p->wb_kind == 1) w = p->w_plain ? lc->param : p->wf;
        else if (p->wb_kind == 2) { fx_run(d, &p->rwb, s->scr, lc->param, p->wb, NULL, NULL); w = p->wb; }
        int staged = Np > N && din != net->dbuf[0] && din != net->dbuf[1];
        fx_run(d, &p->bwdd, s->scr, dconv, w, staged ? net->xpad : din, NULL);
        if (staged) memcpy(din, net->xpad, sizeof(float) * N * insz);
    }
    set_threads(old);
    float *g = lc->grad;
    for (size_t i = 0; i < nw; i++) g[i] += p->dwp[i];
    for (int k = 0; k < K; k++) g[nw + k] += p->db[k];
}
