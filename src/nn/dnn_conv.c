/* dnn_conv.c — a residual block's convolutions on oneDNN primitives (issue
 * 12). The block's sub-layers are plain layers (resblock.c) whose default
 * conv is im2col + sgemm per image (layers.c), several times slower than
 * oneDNN's direct and Winograd kernels on the blocked layouts; the deep nets
 * of issue 12 spend nearly all their time in these convs. Each conv of a
 * block gets its own forward, backward-data and backward-weights primitives
 * on the layout oneDNN picks (nChw16c on AVX-512), with reorders from and to
 * the NCHW buffers the rest of the engine uses, and from and to OIHW
 * weights; the parameter layout and file format are unchanged.
 *
 * Primitives have a fixed batch and thread count. They are made on a conv's
 * first pass for that (N, threads) and kept; a training pass whose batch is
 * not the workspace's (the last, smaller batch of an epoch) runs on the
 * im2col path instead, so that no training step allocates after the first
 * and which path runs depends only on the batch size (a resumed run is bit
 * for bit the uninterrupted one). Inference (re)makes them for its batch.
 * Any failure leaves the conv on the im2col path for good. */
#include "nn/nn.h"

#include <dnnl.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

enum { M_USRC, M_SRC, M_UDST, M_DST, M_UW, M_WF, M_WB, M_B, M_DW, M_UDW, M_DB, M_COUNT };

struct dconv {
    int N, T, ok, failed;
    dnnl_engine_t eng;
    dnnl_stream_t strm;
    dnnl_primitive_t fwd, bwdd, bwdw;
    dnnl_primitive_t r_src, r_dst, r_wf, r_ddst, r_dsrc, r_wb, r_dw;   /* NULL: same layout */
    dnnl_memory_t m[M_COUNT];
    float *b_src, *b_dst, *b_wf, *b_wb, *b_dw;   /* blocked copies (b_src kept for the weight gradient) */
};

static void *falloc(size_t bytes) { return aligned_alloc(64, (bytes + 63) & ~(size_t)63); }

static void prims_free(struct dconv *c) {
    dnnl_primitive_t *p[] = {&c->fwd, &c->bwdd, &c->bwdw, &c->r_src, &c->r_dst, &c->r_wf, &c->r_ddst,
                             &c->r_dsrc, &c->r_wb, &c->r_dw};
    for (size_t i = 0; i < sizeof p / sizeof *p; i++) { if (*p[i]) dnnl_primitive_destroy(*p[i]); *p[i] = NULL; }
    for (int i = 0; i < M_COUNT; i++) { if (c->m[i]) dnnl_memory_destroy(c->m[i]); c->m[i] = NULL; }
    free(c->b_src); free(c->b_dst); free(c->b_wf); free(c->b_wb); free(c->b_dw);
    c->b_src = c->b_dst = c->b_wf = c->b_wb = c->b_dw = NULL;
    c->ok = 0;
}

void dconv_free(struct dconv *c) {
    if (!c) return;
    prims_free(c);
    if (c->strm) dnnl_stream_destroy(c->strm);
    if (c->eng) dnnl_engine_destroy(c->eng);
    free(c);
}

/* A reorder from -> to (NULL when the layouts are the same), and, when buf
 * is given, the buffer of the blocked side (bufmd: padded channels make it
 * larger than the plain one). */
static int reorder(struct dconv *c, const dnnl_memory_desc_t *from, const dnnl_memory_desc_t *to,
                   dnnl_primitive_t *r, float **buf, const dnnl_memory_desc_t *bufmd) {
    if (dnnl_memory_desc_equal(from, to)) return 1;
    dnnl_primitive_desc_t pd;
    if (dnnl_reorder_primitive_desc_create(&pd, from, c->eng, to, c->eng, NULL) != dnnl_success) return 0;
    int ok = dnnl_primitive_create(r, pd) == dnnl_success;
    dnnl_primitive_desc_destroy(pd);
    if (ok && buf) ok = (*buf = falloc(dnnl_memory_desc_get_size(bufmd))) != NULL;
    return ok;
}

static int mem(struct dconv *c, int i, const dnnl_memory_desc_t *md) {
    return dnnl_memory_create(&c->m[i], md, c->eng, DNNL_MEMORY_NONE) == dnnl_success;
}

typedef struct {
    dnnl_memory_desc_t usrc, udst, uw, b, any_src, any_dst, any_w;
    dnnl_dims_t st, pl, pr;
    dnnl_alg_kind_t alg;
} cdescs;

static int descs(const layer *l, int N, cdescs *d) {
    dnnl_dims_t sd = {N, l->c, l->h, l->w}, dd = {N, l->oc, l->oh, l->ow}, wd = {l->oc, l->c, l->k, l->k},
                bd = {l->oc};
    d->st[0] = d->st[1] = l->stride;
    d->pl[0] = d->pl[1] = l->pad;
    d->pr[0] = (l->oh - 1) * l->stride + l->k - l->h - l->pad;
    d->pr[1] = (l->ow - 1) * l->stride + l->k - l->w - l->pad;
    return dnnl_memory_desc_init_by_tag(&d->usrc, 4, sd, dnnl_f32, dnnl_nchw) == dnnl_success &&
           dnnl_memory_desc_init_by_tag(&d->udst, 4, dd, dnnl_f32, dnnl_nchw) == dnnl_success &&
           dnnl_memory_desc_init_by_tag(&d->uw, 4, wd, dnnl_f32, dnnl_oihw) == dnnl_success &&
           dnnl_memory_desc_init_by_tag(&d->b, 1, bd, dnnl_f32, dnnl_x) == dnnl_success &&
           dnnl_memory_desc_init_by_tag(&d->any_src, 4, sd, dnnl_f32, dnnl_format_tag_any) == dnnl_success &&
           dnnl_memory_desc_init_by_tag(&d->any_dst, 4, dd, dnnl_f32, dnnl_format_tag_any) == dnnl_success &&
           dnnl_memory_desc_init_by_tag(&d->any_w, 4, wd, dnnl_f32, dnnl_format_tag_any) == dnnl_success;
}

#define QMD(pd, what, i) dnnl_primitive_desc_query_md(pd, what, i)

/* The forward primitive (its layouts chosen by oneDNN) and its reorders. */
static int make_fwd(struct dconv *c, const cdescs *d, dnnl_primitive_desc_t *fpd) {
    dnnl_convolution_desc_t cd;
    if (dnnl_convolution_forward_desc_init(&cd, dnnl_forward_training, d->alg, &d->any_src,
                                           &d->any_w, &d->b, &d->any_dst, d->st, d->pl, d->pr) != dnnl_success ||
        dnnl_primitive_desc_create(fpd, &cd, NULL, c->eng, NULL) != dnnl_success) { *fpd = NULL; return 0; }
    const dnnl_memory_desc_t *src = QMD(*fpd, dnnl_query_src_md, 0), *dst = QMD(*fpd, dnnl_query_dst_md, 0),
                             *w = QMD(*fpd, dnnl_query_weights_md, 0);
    return dnnl_primitive_create(&c->fwd, *fpd) == dnnl_success && reorder(c, &d->usrc, src, &c->r_src, &c->b_src, src) &&
           reorder(c, dst, &d->udst, &c->r_dst, &c->b_dst, dst) && reorder(c, &d->uw, w, &c->r_wf, &c->b_wf, w) &&
           mem(c, M_USRC, &d->usrc) && mem(c, M_SRC, src) && mem(c, M_UDST, &d->udst) && mem(c, M_DST, dst) &&
           mem(c, M_UW, &d->uw) && mem(c, M_WF, w) && mem(c, M_B, &d->b);
}

/* Backward data and weights on the forward's src / dst layouts. */
static int make_bwd(struct dconv *c, const cdescs *d, const_dnnl_primitive_desc_t fpd) {
    const dnnl_memory_desc_t *src = QMD(fpd, dnnl_query_src_md, 0), *dst = QMD(fpd, dnnl_query_dst_md, 0);
    dnnl_convolution_desc_t cd;
    dnnl_primitive_desc_t pd = NULL, pw = NULL;
    int ok = dnnl_convolution_backward_data_desc_init(&cd, d->alg, src, &d->any_w, dst, d->st,
                                                      d->pl, d->pr) == dnnl_success &&
             dnnl_primitive_desc_create(&pd, &cd, NULL, c->eng, fpd) == dnnl_success &&
             dnnl_convolution_backward_weights_desc_init(&cd, d->alg, src, &d->any_w, &d->b, dst,
                                                         d->st, d->pl, d->pr) == dnnl_success &&
             dnnl_primitive_desc_create(&pw, &cd, NULL, c->eng, fpd) == dnnl_success;
    if (ok) {
        const dnnl_memory_desc_t *wb = QMD(pd, dnnl_query_weights_md, 0), *dw = QMD(pw, dnnl_query_diff_weights_md, 0);
        ok = dnnl_primitive_create(&c->bwdd, pd) == dnnl_success && dnnl_primitive_create(&c->bwdw, pw) == dnnl_success &&
             reorder(c, &d->udst, dst, &c->r_ddst, NULL, NULL) && reorder(c, src, &d->usrc, &c->r_dsrc, NULL, NULL) &&
             reorder(c, &d->uw, wb, &c->r_wb, &c->b_wb, wb) && reorder(c, dw, &d->uw, &c->r_dw, &c->b_dw, dw) &&
             mem(c, M_WB, wb) && mem(c, M_DW, dw) && mem(c, M_UDW, &d->uw) && mem(c, M_DB, &d->b);
    }
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (pw) dnnl_primitive_desc_destroy(pw);
    return ok;
}

/* Primitives for (N, T); 0 when oneDNN cannot make them. Direct
 * convolutions only: oneDNN's Winograd primitives (which the fused executor
 * uses for its blocks) gave input and weight gradients 1-4% off the im2col
 * path here (forward right), a difference not found yet; see
 * tests/test_resnet.c resnet_dnn_conv_matches_im2col. */
static int make(struct dconv *c, const layer *l, int N, int T) {
    prims_free(c);
    c->N = N; c->T = T;
    cdescs d;
    d.alg = dnnl_convolution_direct;
    dnnl_primitive_desc_t fpd = NULL;
    int old = omp_get_max_threads();
    omp_set_num_threads(T);   /* a primitive keeps the thread count it was made with */
    int ok = descs(l, N, &d) && make_fwd(c, &d, &fpd) && make_bwd(c, &d, fpd);
    omp_set_num_threads(old);
    if (fpd) dnnl_primitive_desc_destroy(fpd);
    if (!ok) prims_free(c);
    c->ok = ok;
    return ok;
}

/* Run p with (arg id, memory, data) triples. */
static void run(struct dconv *c, dnnl_primitive_t p, int n, const int *ids, const int *mi, void *const *h) {
    dnnl_exec_arg_t a[5];
    for (int i = 0; i < n; i++) {
        dnnl_memory_set_data_handle(c->m[mi[i]], h[i]);
        a[i] = (dnnl_exec_arg_t){.arg = ids[i], .memory = c->m[mi[i]]};
    }
    dnnl_primitive_execute(p, c->strm, n, a);
    dnnl_stream_wait(c->strm);
}

static void run_reorder(struct dconv *c, dnnl_primitive_t r, int mfrom, void *from, int mto, void *to) {
    const int ids[2] = {DNNL_ARG_FROM, DNNL_ARG_TO}, mi[2] = {mfrom, mto};
    void *const h[2] = {from, to};
    run(c, r, 2, ids, mi, h);
}

/* Ready for a pass of N images on T threads (see the note at the top)? */
static int ready(layer *l, int N, int T, int training) {
    if (training && N != l->ws_batch) return 0;   /* the epoch's last, smaller batch */
    struct dconv *c = l->dnn;
    if (!c) {
        if (!(c = l->dnn = calloc(1, sizeof *c))) return 0;
        if (dnnl_engine_create(&c->eng, dnnl_cpu, 0) != dnnl_success ||
            dnnl_stream_create(&c->strm, c->eng, dnnl_stream_default_flags) != dnnl_success) c->failed = 1;
    }
    if (c->failed) return 0;
    if (c->ok && c->N == N && c->T == T) return 1;
    if (!make(c, l, N, T)) { c->failed = 1; return 0; }
    return 1;
}

int dconv_forward(layer *l, const float *in, int N, const exec_ctx *x) {
    const int T = x->threads > 0 ? x->threads : 1;
    if (!ready(l, N, T, x->training)) return 0;
    struct dconv *c = l->dnn;
    const size_t nw = (size_t)l->oc * l->c * l->k * l->k;
    int old = omp_get_max_threads();
    omp_set_num_threads(T);
    void *src = (void *)in, *w = l->param, *dst = l->out;
    if (c->r_src) { run_reorder(c, c->r_src, M_USRC, (void *)in, M_SRC, c->b_src); src = c->b_src; }
    if (c->r_wf) { run_reorder(c, c->r_wf, M_UW, l->param, M_WF, c->b_wf); w = c->b_wf; }
    if (c->r_dst) dst = c->b_dst;
    const int ids[4] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS, DNNL_ARG_DST}, mi[4] = {M_SRC, M_WF, M_B, M_DST};
    void *const h[4] = {src, w, l->param + nw, dst};
    run(c, c->fwd, 4, ids, mi, h);
    if (c->r_dst) run_reorder(c, c->r_dst, M_DST, c->b_dst, M_UDST, l->out);
    omp_set_num_threads(old);
    return 1;
}

/* Called right after dconv_forward of the same batch (the blocked input is
 * kept from it); din may be NULL. Gradients are added to l->grad. */
int dconv_backward(layer *l, const float *in, const float *dout, float *din, int N, const exec_ctx *x) {
    struct dconv *c = l->dnn;
    const int T = x->threads > 0 ? x->threads : 1;
    if (!c || !c->ok || c->N != N || c->T != T) return 0;
    const size_t nw = (size_t)l->oc * l->c * l->k * l->k;
    int old = omp_get_max_threads();
    omp_set_num_threads(T);
    /* the output gradient in the primitive's layout: b_dst is free now */
    void *dd = (void *)dout, *src = c->r_src ? (void *)c->b_src : (void *)in;
    if (c->r_ddst) { run_reorder(c, c->r_ddst, M_UDST, (void *)dout, M_DST, c->b_dst); dd = c->b_dst; }
    float *dw = c->r_dw ? c->b_dw : l->scratch, *db = l->scratch + nw;   /* scratch: (nw + oc) floats at least */
    const int wids[4] = {DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS, DNNL_ARG_DIFF_BIAS},
              wmi[4] = {M_SRC, M_DST, M_DW, M_DB};
    void *const wh[4] = {src, dd, dw, db};
    run(c, c->bwdw, 4, wids, wmi, wh);
    if (c->r_dw) run_reorder(c, c->r_dw, M_DW, c->b_dw, M_UDW, l->scratch);
    if (din) {
        void *w = l->param, *ds = din;
        if (c->r_wb) { run_reorder(c, c->r_wb, M_UW, l->param, M_WB, c->b_wb); w = c->b_wb; }
        if (c->r_dsrc) ds = c->b_src;   /* the blocked input is not needed any more */
        const int ids[3] = {DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC}, mi[3] = {M_DST, M_WB, M_SRC};
        void *const h[3] = {dd, w, ds};
        run(c, c->bwdd, 3, ids, mi, h);
        if (c->r_dsrc) run_reorder(c, c->r_dsrc, M_SRC, c->b_src, M_USRC, din);
    }
    omp_set_num_threads(old);
    for (size_t i = 0; i < nw + (size_t)l->oc; i++) l->grad[i] += l->scratch[i];
    return 1;
}
