/* fused_dnn.c — the oneDNN side of the fused executor: the convolution of
 * each fused block (forward, backward data, backward weights) as oneDNN
 * primitives, with the reorders between the net's OIHW weights and the
 * formats the primitives want. The parameter layout is unchanged: weights
 * are reordered from OIHW for each pass.
 *
 * oneDNN's primitives have a fixed batch and thread count. A training
 * workspace (net_reserve) creates the set for its batch up front, and a
 * smaller training batch runs on it padded with zero images, so a training
 * step never allocates; other sizes (inference) get sets on first use, kept
 * in a small cache. Every primitive runs on exec_ctx.threads threads:
 * bit-identical for a thread count. */
#include "nn/fused.h"

#include <dnnl.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    float *snap;                 /* OIHW weights that wf was made from (inference), or NULL */
    int snap_ok;
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
    free(p->wf); free(p->wb); free(p->dw); free(p->dwp); free(p->db); free(p->snap);
    memset(p, 0, sizeof *p);
}

static void set_free(fset *s, int nblocks) {
    if (s->p) for (int b = 0; b < nblocks; b++) prims_free(&s->p[b]);
    free(s->p);
    free(s->scr);
    memset(s, 0, sizeof *s);
}

typedef struct {
    dnnl_memory_desc_t src, wany, wuser, bias, dst, dsrc, ddst, dwany;
    dnnl_dims_t strides, pl, pr;
} conv_mds;

static int conv_mds_init(const fblock *b, const layer *lc, int N, int bf, conv_mds *m) {
    const dnnl_data_type_t dt = bf ? dnnl_bf16 : dnnl_f32;
    dnnl_dims_t sd = {N, b->C, b->H, b->W}, wd = {b->K, b->C, lc->k, lc->k}, bd = {b->K},
                dd = {N, b->K, b->CH, b->CW};
    m->strides[0] = m->strides[1] = 1;
    m->pl[0] = m->pl[1] = lc->pad;
    m->pr[0] = b->CH - 1 + lc->k - b->H - lc->pad;
    m->pr[1] = b->CW - 1 + lc->k - b->W - lc->pad;
    /* the AMX bf16 kernels take NHWC; float convs nChw16c */
    const dnnl_format_tag_t st = bf ? dnnl_nhwc : b->in_blocked ? dnnl_nChw16c : dnnl_nchw;
    const dnnl_format_tag_t dt_ = bf ? dnnl_nhwc : dnnl_nChw16c;
    return dnnl_memory_desc_init_by_tag(&m->src, 4, sd, dt, st) == dnnl_success &&
           dnnl_memory_desc_init_by_tag(&m->dsrc, 4, sd, dnnl_f32, st) == dnnl_success &&
           dnnl_memory_desc_init_by_tag(&m->wany, 4, wd, dt, dnnl_format_tag_any) == dnnl_success &&
           dnnl_memory_desc_init_by_tag(&m->dwany, 4, wd, dnnl_f32, dnnl_format_tag_any) == dnnl_success &&
           dnnl_memory_desc_init_by_tag(&m->ddst, 4, dd, dt, dt_) == dnnl_success &&
           dnnl_memory_desc_init_by_tag(&m->wuser, 4, wd, dnnl_f32, dnnl_oihw) == dnnl_success &&
           dnnl_memory_desc_init_by_tag(&m->bias, 1, bd, dnnl_f32, dnnl_x) == dnnl_success &&
           dnnl_memory_desc_init_by_tag(&m->dst, 4, dd, dt, dt_) == dnnl_success;   /* bf16 out in bf16 */
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

/* ---- one block's primitives ----------------------------------------------- */

/* What the passes of a block's conv share while their primitives are made. */
typedef struct {
    struct fdnn *d;
    fset *s;
    fprims *p;
    const fblock *b;
    const layer *lc;
    conv_mds m;
    dnnl_primitive_attr_t attr;
    dnnl_primitive_desc_t fpd;       /* the forward's: the hint of the backward passes */
    int a0;                          /* first algorithm tried: 0 Winograd, 1 direct */
} pmake;

static const dnnl_alg_kind_t conv_algs[2] = {dnnl_convolution_winograd, dnnl_convolution_direct};

/* Forward primitive and its weight reorder (OIHW -> the primitive's format). */
static int make_fwd(pmake *k) {
    dnnl_convolution_desc_t cd;
    conv_mds *m = &k->m;
    for (int a = k->a0; a < 2 && !k->fpd; a++)
        if (dnnl_convolution_forward_desc_init(&cd, dnnl_forward_training, conv_algs[a], &m->src, &m->wany,
                                               &m->bias, &m->dst, m->strides, m->pl, m->pr) != dnnl_success ||
            dnnl_primitive_desc_create(&k->fpd, &cd, k->attr, k->d->eng, NULL) != dnnl_success) k->fpd = NULL;
    if (!k->fpd) return 0;
    fprims *p = k->p;
    if (p->fwd.p) return 1;
    const dnnl_memory_desc_t *wf = dnnl_primitive_desc_query_md(k->fpd, dnnl_query_weights_md, 0);
    int ids[4] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS, DNNL_ARG_DST};
    if (!fx_init(k->d, &p->fwd, k->fpd, ids, 4, &k->s->scr_size)) return 0;
    if (!make_reorder(k->d, &p->rw, &m->wuser, wf, k->attr, &p->w_plain, &p->wf, wf, &k->s->scr_size)) return 0;
    size_t nw = (size_t)k->b->K * k->b->C * k->lc->k * k->lc->k;
    if (!p->w_plain && nw <= ((size_t)1 << 20)) p->snap = falloc(sizeof(float) * nw);  /* optional */
    return 1;
}

/* Backward-data primitive; its weights are the forward's when the formats
 * agree, else reordered from OIHW on their own. */
static int make_bwd_data(pmake *k) {
    dnnl_convolution_desc_t cd;
    dnnl_primitive_desc_t pd = NULL;
    conv_mds *m = &k->m;
    fprims *p = k->p;
    for (int a = k->a0; a < 2 && !pd; a++)
        if (dnnl_convolution_backward_data_desc_init(&cd, conv_algs[a], &m->dsrc, &m->wany, &m->ddst, m->strides,
                                                     m->pl, m->pr) != dnnl_success ||
            dnnl_primitive_desc_create(&pd, &cd, k->attr, k->d->eng, k->fpd) != dnnl_success) pd = NULL;
    if (!pd) return 0;
    int ids[3] = {DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC};
    int ok = fx_init(k->d, &p->bwdd, pd, ids, 3, &k->s->scr_size);
    if (ok) {
        const dnnl_memory_desc_t *wb = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
        const dnnl_memory_desc_t *wf = dnnl_primitive_desc_query_md(k->fpd, dnnl_query_weights_md, 0);
        int same_plain = 0;
        if (dnnl_memory_desc_equal(wb, wf)) p->wb_kind = 1;
        else if (!make_reorder(k->d, &p->rwb, &m->wuser, wb, k->attr, &same_plain, &p->wb, wb, &k->s->scr_size)) ok = 0;
        else p->wb_kind = same_plain ? 0 : 2;
    }
    dnnl_primitive_desc_destroy(pd);
    return ok;
}

/* Backward-weights primitive, the reorder of its gradient to OIHW, and the
 * OIHW gradient buffers. */
static int make_bwd_weights(pmake *k) {
    dnnl_convolution_desc_t cd;
    dnnl_primitive_desc_t pd = NULL;
    conv_mds *m = &k->m;
    fprims *p = k->p;
    for (int a = k->a0; a < 2 && !pd; a++)
        if (dnnl_convolution_backward_weights_desc_init(&cd, conv_algs[a], &m->src, &m->dwany, &m->bias, &m->ddst,
                                                        m->strides, m->pl, m->pr) != dnnl_success ||
            dnnl_primitive_desc_create(&pd, &cd, k->attr, k->d->eng, k->fpd) != dnnl_success) pd = NULL;
    if (!pd) return 0;
    int wids[4] = {DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS, DNNL_ARG_DIFF_BIAS};
    int ok = fx_init(k->d, &p->bwdw, pd, wids, 4, &k->s->scr_size);
    if (ok) {
        const dnnl_memory_desc_t *dw = dnnl_primitive_desc_query_md(pd, dnnl_query_diff_weights_md, 0);
        ok = make_reorder(k->d, &p->rdw, dw, &m->wuser, k->attr, &p->dw_plain, &p->dw, dw, &k->s->scr_size);
    }
    if (ok) {
        size_t nw = (size_t)k->b->K * k->b->C * k->lc->k * k->lc->k;
        if (!p->dwp) p->dwp = falloc(sizeof(float) * nw);
        if (!p->db) p->db = falloc(sizeof(float) * (size_t)k->b->K);
        ok = p->dwp && p->db;
    }
    dnnl_primitive_desc_destroy(pd);
    return ok;
}

/* Create block bi's primitives for the set's (N, threads): forward always,
 * backward when asked. On failure `why` says which could not be made. */
static int prims_create(const ferc_net *net, fset *s, int bi, int bwd, char *why, size_t whylen) {
    const fused_state *fs = fused_of(net);
    const fblock *b = &fs->blocks[bi];
    if (b->direct) return 1;   /* no oneDNN primitive: fused_block.c's own kernels */
    pmake k = {.d = fs->dnn, .s = s, .p = &s->p[bi], .b = b, .lc = &net->layers[b->conv],
               .attr = NULL, .fpd = NULL};
    const int bf = blk_bf_in(fs, bi);
    const char *stage = "descriptors";
    int ok = conv_mds_init(b, k.lc, s->N, bf, &k.m) &&
             dnnl_primitive_attr_create(&k.attr) == dnnl_success &&
             dnnl_primitive_attr_set_scratchpad_mode(k.attr, dnnl_scratchpad_mode_user) == dnnl_success;
    /* Winograd F(4x4, 3x3) where oneDNN has it (float 3x3 stride-1 convs on
     * AVX-512) and the batch is large enough to pay for its transforms (below
     * 8 images direct is faster here), else direct; each pass picks on its own */
    k.a0 = fs->wino && !bf && k.lc->k == 3 && k.lc->pad == 1 && s->N >= 8 ? 0 : 1;
    if (ok) { stage = "forward"; ok = make_fwd(&k); }
    if (ok && bwd && !k.p->has_bwd) {
        stage = "backward data";
        ok = make_bwd_data(&k);
        if (ok) { stage = "backward weights"; ok = make_bwd_weights(&k); }
        if (ok) k.p->has_bwd = 1;
    }
    if (!ok) snprintf(why, whylen, "oneDNN %s%s primitive for layer %d (conv%d on %dx%dx%d, batch %d) not available",
                      bf ? "bf16 " : "", stage, b->conv + 1, b->K, b->C, b->H, b->W, s->N);
    if (k.fpd) dnnl_primitive_desc_destroy(k.fpd);
    if (k.attr) dnnl_primitive_attr_destroy(k.attr);
    return ok;
}

/* ---- sets of primitives ----------------------------------------------------- */

/* Make set s (N, threads) complete, with backward primitives when asked. */
static int set_fill(ferc_net *net, fset *s, int bwd) {
    int old = set_threads(s->threads);
    size_t before = s->scr_size;
    int ok = 1;
    for (int b = 0; b < fused_of(net)->nblocks && ok; b++)
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

static int dnn_create(fused_state *fs) {
    struct fdnn *d = calloc(1, sizeof *d);
    if (!d) return 0;
    d->src_used = calloc((size_t)fs->nblocks, sizeof *d->src_used);
    d->cur = d->pinned = -1;
    if (!d->src_used || dnnl_engine_create(&d->eng, dnnl_cpu, 0) != dnnl_success) {
        free(d->src_used); free(d);
        return 0;
    }
    if (dnnl_stream_create(&d->strm, d->eng, dnnl_stream_default_flags) != dnnl_success) {
        dnnl_engine_destroy(d->eng); free(d->src_used); free(d);
        return 0;
    }
    fs->dnn = d;
    return 1;
}

void fused_dnn_release(fused_state *fs) {
    struct fdnn *d = fs->dnn;
    if (!d) return;
    for (int i = 0; i < FSETS; i++) set_free(&d->sets[i], fs->nblocks);
    dnnl_stream_destroy(d->strm);
    dnnl_engine_destroy(d->eng);
    free(d->src_used);
    free(d);
    fs->dnn = NULL;
}

/* A set for (N, threads): found, or made in a free / least recently used slot. */
static int set_get(ferc_net *net, int N, int threads, int bwd, int pin) {
    const int nblocks = fused_of(net)->nblocks;
    struct fdnn *d = fused_of(net)->dnn;
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
    set_free(&d->sets[k], nblocks);
    fset *s = &d->sets[k];
    s->N = N; s->threads = threads;
    s->p = calloc((size_t)nblocks, sizeof *s->p);
    if (!s->p) { set_free(s, nblocks); return -1; }
    s->live = 1;
    if (!set_fill(net, s, bwd)) { set_free(s, nblocks); return -1; }
    return k;
}

void fused_prepare(ferc_net *net, int N, int threads) {
    fused_state *fs = fused_of(net);
    if (!net->fuse || !fs->nblocks) return;
    if (!fs->dnn && !dnn_create(fs)) { fuse_off(net, "oneDNN engine not available"); return; }
    struct fdnn *d = fs->dnn;
    int k = set_get(net, N, threads, 1, 1);
    if (k < 0) { fuse_off(net, NULL); return; }
    d->pinned = k;
    d->sets[k].used = ++d->tick;
}

int fused_ready(ferc_net *net, int N, const exec_ctx *ctx, int need_bwd) {
    fused_state *fs = fused_of(net);
    if (!net->fuse || !fs->nblocks || N <= 0) return 0;
    if (!fs->dnn && !dnn_create(fs)) { fuse_off(net, "oneDNN engine not available"); return 0; }
    struct fdnn *d = fs->dnn;
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

/* ---- the convolution of a block pass ------------------------------------------ */

/* The weights in the forward primitive's format. Inference keeps the
 * reordered weights while the parameters stay the same. */
static const float *fwd_weights(struct fdnn *d, fset *s, fprims *p, const layer *lc, size_t nw, int training) {
    if (p->w_plain) return lc->param;
    if (training || !p->snap || !p->snap_ok || memcmp(p->snap, lc->param, sizeof(float) * nw)) {
        fx_run(d, &p->rw, s->scr, lc->param, p->wf, NULL, NULL);
        p->snap_ok = 0;
        if (!training && p->snap) { memcpy(p->snap, lc->param, sizeof(float) * nw); p->snap_ok = 1; }
    }
    return p->wf;
}

/* The default path of a conv in a block (the layer-by-layer one is
 * layers.c:conv_forward / conv_backward, im2col + sgemm). */
void fused_conv_forward(ferc_net *net, int bi, const float *in, int in_is_input, int N,
                        const exec_ctx *ctx) {
    fused_state *fs = fused_of(net);
    struct fdnn *d = fs->dnn;
    fset *s = &d->sets[d->cur];
    fprims *p = &s->p[bi];
    const fblock *b = &fs->blocks[bi];
    const layer *lc = &net->layers[b->conv];
    const int T = ctx->threads > 0 ? ctx->threads : 1, Np = s->N;
    const size_t insz = (size_t)b->C * b->H * b->W, nw = (size_t)b->K * b->C * lc->k * lc->k;
    /* the conv, padded with zero images up to the primitive's batch */
    const float *src = in;
    if (Np > N) {
        if (in_is_input) {
            memcpy(fs->xpad, in, sizeof(float) * N * insz);
            src = fs->xpad;
        }
        size_t es = blk_bf_in(fs, bi) ? 2 : 4;
        memset((char *)src + N * insz * es, 0, es * (size_t)(Np - N) * insz);
    }
    d->src_used[bi] = src;
    int old = set_threads(T);
    double t0 = net->prof ? ferc_now() : 0;   /* profile: oneDNN work incl. weight reorders */
    const float *w = fwd_weights(d, s, p, lc, nw, ctx->training);
    fx_run(d, &p->fwd, s->scr, src, w, lc->param + nw, lc->out);
    if (net->prof) net->prof[4 * b->stage + 2] += ferc_now() - t0;
    set_threads(old);
}

void fused_conv_backward(ferc_net *net, int bi, float *dconv, float *din, int N,
                         const exec_ctx *ctx) {
    fused_state *fs = fused_of(net);
    struct fdnn *d = fs->dnn;
    fset *s = &d->sets[d->cur];
    fprims *p = &s->p[bi];
    const fblock *b = &fs->blocks[bi];
    const layer *lc = &net->layers[b->conv];
    const int T = ctx->threads > 0 ? ctx->threads : 1, Np = s->N, K = b->K;
    const size_t insz = (size_t)b->C * b->H * b->W, CHW = (size_t)b->CH * b->CW;
    const size_t nw = (size_t)K * b->C * lc->k * lc->k;
    if (Np > N) {
        size_t es = blk_bf_in(fs, bi) ? 2 : 4;
        memset((char *)dconv + (size_t)N * K * CHW * es, 0, es * (size_t)(Np - N) * K * CHW);
    }
    /* weights, then data */
    int old = set_threads(T);
    double t0 = net->prof ? ferc_now() : 0;
    fx_run(d, &p->bwdw, s->scr, d->src_used[bi], dconv, p->dw_plain ? p->dwp : p->dw, p->db);
    if (!p->dw_plain) fx_run(d, &p->rdw, s->scr, p->dw, p->dwp, NULL, NULL);
    if (din) {
        const float *w = lc->param;
        if (p->wb_kind == 1) w = p->w_plain ? lc->param : p->wf;
        else if (p->wb_kind == 2) { fx_run(d, &p->rwb, s->scr, lc->param, p->wb, NULL, NULL); w = p->wb; }
        int staged = Np > N && din != net->dbuf[0] && din != net->dbuf[1];
        fx_run(d, &p->bwdd, s->scr, dconv, w, staged ? fs->xpad : din, NULL);
        if (staged) memcpy(din, fs->xpad, sizeof(float) * N * insz);
    }
    if (net->prof) net->prof[4 * b->stage + 3] += ferc_now() - t0;
    set_threads(old);
    float *g = lc->grad;
    for (size_t i = 0; i < nw; i++) g[i] += p->dwp[i];
    for (int k = 0; k < K; k++) g[nw + k] += p->db[k];
}
