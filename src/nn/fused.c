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
#include "nn/nn.h"

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

/* Block bi's conv runs in bf16 (its input and weights rounded to bfloat16,
 * float accumulation and output): net->bf16, and the input comes from a block. */
static int blk_bf_in(const ferc_net *net, int bi) {
    const fblock *b = &net->blocks[bi];
    return net->bf16 && b->in_blocked && !b->direct;
}
/* Block bi writes its output in bf16 (the next block's conv reads it). */
static int blk_bf_out(const ferc_net *net, int bi) {
    return net->blocks[bi].out_blocked && bi + 1 < net->nblocks && blk_bf_in(net, bi + 1);
}

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

/* Create block b's primitives for (N, threads); forward always, backward when asked. */
static int prims_create(ferc_net *net, fset *s, int bi, int bwd, char *why, size_t whylen) {
    struct fdnn *d = net->dnn;
    const fblock *b = &net->blocks[bi];
    const layer *lc = &net->layers[b->conv];
    fprims *p = &s->p[bi];
    if (b->direct) return 1;   /* no oneDNN primitive: kernels below */
    conv_mds m;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t fpd = NULL, pd = NULL;
    dnnl_convolution_desc_t cd;
    int ok = 0;
    const char *stage = "descriptors";
    if (!conv_mds_init(b, lc, s->N, blk_bf_in(net, bi), &m)) goto out;
    if (dnnl_primitive_attr_create(&attr) != dnnl_success ||
        dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user) != dnnl_success) goto out;
    stage = "forward";
    /* Winograd F(4x4, 3x3) where oneDNN has it (float 3x3 stride-1 convs on
     * AVX-512) and the batch is large enough to pay for its transforms (below
     * 8 images direct is faster here), else direct; each pass picks on its own */
    const dnnl_alg_kind_t algs[2] = {dnnl_convolution_winograd, dnnl_convolution_direct};
    const int a0 = net->wino && !blk_bf_in(net, bi) && lc->k == 3 && lc->pad == 1 && s->N >= 8 ? 0 : 1;
    for (int a = a0; a < 2 && !fpd; a++)
        if (dnnl_convolution_forward_desc_init(&cd, dnnl_forward_training, algs[a], &m.src, &m.wany, &m.bias,
                                               &m.dst, m.strides, m.pl, m.pr) != dnnl_success ||
            dnnl_primitive_desc_create(&fpd, &cd, attr, d->eng, NULL) != dnnl_success) fpd = NULL;
    if (!fpd) goto out;
    const dnnl_memory_desc_t *wf = dnnl_primitive_desc_query_md(fpd, dnnl_query_weights_md, 0);
    if (!p->fwd.p) {
        int ids[4] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS, DNNL_ARG_DST};
        if (!fx_init(d, &p->fwd, fpd, ids, 4, &s->scr_size)) goto out;
        if (!make_reorder(d, &p->rw, &m.wuser, wf, attr, &p->w_plain, &p->wf, wf, &s->scr_size)) goto out;
        size_t nw = (size_t)b->K * b->C * lc->k * lc->k;
        if (!p->w_plain && nw <= ((size_t)1 << 20)) p->snap = falloc(sizeof(float) * nw);  /* optional */
    }
    if (bwd && !p->has_bwd) {
        stage = "backward data";
        for (int a = a0; a < 2 && !pd; a++)
            if (dnnl_convolution_backward_data_desc_init(&cd, algs[a], &m.dsrc, &m.wany, &m.ddst, m.strides,
                                                         m.pl, m.pr) != dnnl_success ||
                dnnl_primitive_desc_create(&pd, &cd, attr, d->eng, fpd) != dnnl_success) pd = NULL;
        if (!pd) goto out;
        int ids[3] = {DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC};
        if (!fx_init(d, &p->bwdd, pd, ids, 3, &s->scr_size)) goto out;
        const dnnl_memory_desc_t *wb = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
        int same_plain = 0;
        if (dnnl_memory_desc_equal(wb, wf)) p->wb_kind = 1;
        else if (!make_reorder(d, &p->rwb, &m.wuser, wb, attr, &same_plain, &p->wb, wb, &s->scr_size)) goto out;
        else p->wb_kind = same_plain ? 0 : 2;
        dnnl_primitive_desc_destroy(pd); pd = NULL;

        stage = "backward weights";
        for (int a = a0; a < 2 && !pd; a++)
            if (dnnl_convolution_backward_weights_desc_init(&cd, algs[a], &m.src, &m.dwany, &m.bias, &m.ddst,
                                                            m.strides, m.pl, m.pr) != dnnl_success ||
                dnnl_primitive_desc_create(&pd, &cd, attr, d->eng, fpd) != dnnl_success) pd = NULL;
        if (!pd) goto out;
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
    if (!ok) snprintf(why, whylen, "oneDNN %s%s primitive for layer %d (conv%d on %dx%dx%d, batch %d) not available",
                      blk_bf_in(net, bi) ? "bf16 " : "", stage, b->conv + 1, b->K, b->C, b->H, b->W, s->N);
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

void net_set_bf16(ferc_net *net, int on) {
    on = on ? 1 : 0;
    if (net->bf16 == on) return;
    fused_release(net);      /* primitives are remade for the new precision */
    net->bf16 = on;
    if (net->fuse && net->nblocks && net->ws_training && net->max_batch)
        fused_prepare(net, net->max_batch, net->ws_threads);
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

static int fused_direct_ok(const fblock *b, const layer *lc);

void fused_plan(ferc_net *net) {
#ifdef FERC_NO_FUSE
    net->fuse = 0;   /* build switches for experiments: the layer-by-layer path, */
#else
    net->fuse = 1;
#endif
#ifndef FERC_NO_WINO
    net->wino = 1;   /* Winograd convolutions where oneDNN has them */
#endif
#ifdef FERC_BF16_DEFAULT
    net->bf16 = 1;   /* or bf16 convolutions everywhere (ferc train has no option for it yet) */
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
            b->stage = net->nstages - 1;
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
        b->direct = fused_direct_ok(b, &net->layers[b->conv]);
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

static int fused_direct_ok(const fblock *b, const layer *lc) {
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
    const int keep = net->ws_training;   /* a backward pass may follow: keep what it needs */
    float *y = b->out_blocked ? lo->out : net->ftr + b->tr_off;
    const int ybf = blk_bf_out(net, bi), xbf = blk_bf_in(net, bi);
    const lay xl = lay_make(xbf, CB, b->CH, b->CW), yl = lay_make(ybf, CB, b->OH, b->OW);
    coefs cf = coef_arrays(net);
    const float *gamma = lb->param, *beta = lb->param + K;
    float *rmean = lb->state, *rvar = lb->state + K;
    dropgen dg;
    drop_init(&dg, net, b, ctx, (size_t)b->OH * b->OW);

    if (b->direct) {
        /* the first layer's conv map is never stored: statistics, then the output */
        if (ctx->training) k_c1_stats(b, lc, in, N, net->fpart, T);
    } else {
        /* the conv, padded with zero images up to the primitive's batch */
        const float *src = in;
        if (Np > N) {
            if (in_is_input) {
                memcpy(net->xpad, in, sizeof(float) * N * insz);
                src = net->xpad;
            }
            size_t es = xbf ? 2 : 4;
            memset((char *)src + N * insz * es, 0, es * (size_t)(Np - N) * insz);
        }
        d->src_used[bi] = src;
        int old = set_threads(T);
        double t0 = net->prof ? ferc_now() : 0;   /* profile: oneDNN work incl. weight reorders */
        const float *w = lc->param;
        if (!p->w_plain) {
            /* inference keeps the reordered weights while the parameters stay the same */
            if (ctx->training || !p->snap || !p->snap_ok || memcmp(p->snap, lc->param, sizeof(float) * nw)) {
                fx_run(d, &p->rw, s->scr, lc->param, p->wf, NULL, NULL);
                p->snap_ok = 0;
                if (!ctx->training && p->snap) { memcpy(p->snap, lc->param, sizeof(float) * nw); p->snap_ok = 1; }
            }
            w = p->wf;
        }
        fx_run(d, &p->fwd, s->scr, src, w, lc->param + nw, lc->out);
        if (net->prof) net->prof[4 * b->stage + 2] += ferc_now() - t0;
        set_threads(old);
        if (ctx->training) k_stats(lc->out, &xl, xbf, N, CB, (int)CHW, net->fpart, T);
    }

    /* batch-norm coefficients: y = a x + b per channel */
    if (ctx->training) {
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
    if (b->direct)
        k_c1_fwd(b, lc, in, y, &yl, ybf, keep && b->pool >= 0 ? (uint8_t *)net->layers[b->pool].idx : NULL,
                 lb->out, N, &cf, &dg, T);
    else if (b->pool >= 0)
        k_fwd_pool(b, lc->out, &xl, xbf, y, &yl, ybf, keep ? (uint8_t *)net->layers[b->pool].idx : NULL,
                   keep ? lb->out : NULL, N, &cf, &dg, T);
    else
        k_fwd_plain(b, lc->out, &xl, xbf, y, &yl, ybf, N, &cf, &dg, T);
    if (!b->out_blocked) to_nchw(y, lo->out, N, K, b->OH * b->OW, T);
    return lo->out;
}

void fused_block_backward(ferc_net *net, int bi, const float *in, const float *dout, float *din,
                          int N, const exec_ctx *ctx) {
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
    const int ybf = blk_bf_out(net, bi), dbf = blk_bf_in(net, bi);
    const lay xl = lay_make(dbf, CB, b->CH, b->CW), yl = lay_make(ybf, CB, b->OH, b->OW);
    const uint8_t *rec = b->pool >= 0 ? (const uint8_t *)net->layers[b->pool].idx : NULL;
    dropgen dg;
    drop_init(&dg, net, b, ctx, (size_t)OHW);
    coefs cf = coef_arrays(net);
    for (int c = 0; c < K; c++) { cf.mean[c] = lb->stat[c]; cf.inv[c] = lb->stat[K + c]; }

    /* pass 1: per-channel sums of dbn and dbn * xhat */
    if (b->pool >= 0) k_bwd1_pool(b, dy, &yl, rec, lb->out, N, dg.scale, net->fpart, T);
    else if (b->direct) k_c1_bwd1_plain(b, lc, in, dy, y, &yl, ybf, N, dg.scale, &cf, net->fpart, T);
    else k_bwd1_plain(b, dy, y, &yl, ybf, lc->out, &xl, dbf, N, dg.scale, &cf, net->fpart, T);
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

    float *g = lc->grad;
    if (b->direct) {
        /* pass 2 with the weight gradient; partials reduced in image order */
        const int kk = lc->k * lc->k;
        k_c1_bwd(b, lc, in, dy, y, &yl, ybf, rec, din ? net->dconv : NULL, N, dg.scale, &cf, net->fpart, T);
        for (int cb = 0; cb < CB; cb++)
            for (int n = 0; n < N; n++) {
                const float *pp = net->fpart + ((size_t)n * CB + cb) * (kk + 1) * 16;
                for (int j = 0; j < kk; j++)
                    for (int l = 0; l < 16; l++) g[(size_t)(cb * 16 + l) * kk + j] += pp[j * 16 + l];
                for (int l = 0; l < 16; l++) g[nw + cb * 16 + l] += pp[kk * 16 + l];
            }
        if (din) k_c1_dx(b, lc, net->dconv, din, N, T);
        return;
    }

    /* pass 2: the conv output gradient */
    float *dconv = net->dconv;
    if (b->pool >= 0) k_bwd2_pool(b, dy, &yl, rec, lc->out, &xl, dbf, dconv, dbf, N, dg.scale, &cf, T);
    else k_bwd2_plain(b, dy, y, &yl, ybf, lc->out, &xl, dbf, dconv, dbf, N, dg.scale, &cf, T);
    if (Np > N) {
        size_t es = dbf ? 2 : 4;
        memset((char *)dconv + (size_t)N * K * CHW * es, 0, es * (size_t)(Np - N) * K * CHW);
    }

    /* conv backward: weights, then data */
    int old = set_threads(T);
    double t0 = net->prof ? ferc_now() : 0;
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
    if (net->prof) net->prof[4 * b->stage + 3] += ferc_now() - t0;
    set_threads(old);
    for (size_t i = 0; i < nw; i++) g[i] += p->dwp[i];
    for (int k = 0; k < K; k++) g[nw + k] += p->db[k];
}
