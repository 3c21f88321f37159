/* nn/nn.h — the network engine (internal): a network is a sequence of layers,
 * each with a forward and a backward pass over NCHW float buffers. The
 * training loop only sees the layer_ops table, never a particular layer, and
 * net_forward / net_backward, never the executor that runs them (nn/exec.h). */
#ifndef FERC_NN_H
#define FERC_NN_H

#include "core/core.h"

#include <stddef.h>
#include <stdint.h>

/* Layer kinds. New kinds go at the end (issue 12, for the ONNX exporter too):
 *   LAYER_GAP  `gap`: global average pooling (N,C,H,W) -> (N,C,1,1); like
 *              flatten, dense layers may follow it.
 *   LAYER_RES  `res<K>` / `res<K>s<S>`: a standard (post-activation) ResNet
 *              basic block, relu(bn2(conv2(relu(bn1(conv1_S(x))))) + sc(x)),
 *              sc = x, or bn(conv1x1_S(x)) when the shape changes. Its
 *              sub-layers are in l->sub (RES_CONV1 .. RES_SCBN); each conv
 *              carries a bias (as every ferc conv), tensors are named
 *              "<i>.res.conv1.weight", "<i>.res.bn1.gamma", ... "<i>.res.sc_conv.weight".
 * A conv's stride is l->stride (`conv64s2`; 1 unless given). */
typedef enum {
    LAYER_CONV, LAYER_BN, LAYER_RELU, LAYER_MAXPOOL, LAYER_DROPOUT, LAYER_FLATTEN, LAYER_DENSE,
    LAYER_GAP, LAYER_RES
} layer_kind;

/* Sub-layers of a LAYER_RES, in parameter order (the shortcut pair only
 * when nsub == 6). */
enum { RES_CONV1, RES_BN1, RES_CONV2, RES_BN2, RES_SCCONV, RES_SCBN };

struct layer;

/* What a pass may use: thread count and, for dropout, a per-step seed. */
typedef struct {
    int threads;
    int training;       /* batch statistics and dropout on */
    uint64_t step_seed; /* dropout masks are a hash of (step_seed, layer, element) */
} exec_ctx;

typedef struct layer_ops {
    const char *name;
    /* out = f(in) for N images; in is (N, c, h, w), l->out is (N, oc, oh, ow). */
    void (*forward)(struct layer *l, const float *in, int N, const exec_ctx *x);
    /* din = df/din given dout = dL/dout; accumulates parameter gradients into
     * l->grad (which the caller zeroes once per step). din may be NULL when
     * the input gradient is not needed (first layer). */
    void (*backward)(struct layer *l, const float *in, const float *dout, float *din, int N,
                     const exec_ctx *x);
} layer_ops;

typedef struct layer {
    layer_kind kind;
    const layer_ops *ops;
    int index;                 /* position in the network */
    int c, h, w;               /* input shape per image */
    int oc, oh, ow;            /* output shape per image */
    int k, pad;                /* conv: kernel side, padding */
    int stride;                /* conv: stride (1 unless the spec says s<S>); res: of its first conv */
    float p;                   /* dropout rate */
    float eps, momentum;       /* batchnorm: epsilon, running-stat momentum (torch convention) */
    size_t nparam;             /* trained parameters (views into net->params / net->grads) */
    float *param, *grad;
    size_t nstate;             /* untrained state saved with the model (BN running mean, var) */
    float *state;
    /* workspace, sized for net->max_batch, no allocation during a pass */
    float *out;                /* (N, oc, oh, ow) */
    float *stat;               /* bn: mean and inv-std per channel (2*c) */
    int32_t *idx;              /* maxpool: argmax per output element */
    uint8_t *mask;             /* dropout: keep mask */
    float *scratch;            /* conv: per-thread im2col + weight-gradient buffers */
    size_t scratch_per_thread;
    int nsub;                  /* res: its sub-layers (4, or 6 with a projection shortcut) */
    struct layer *sub;
    float *rg[3];              /* res: gradient buffers, N * max(in, out) each (training) */
    struct dconv *dnn;         /* res sub-conv: its oneDNN primitives (dnn_conv.c), or NULL */
    int ws_batch;              /* res sub-conv: the workspace's batch */
} layer;

/* A named block of trained parameters, for optimisers, files and tests. */
typedef struct {
    char name[32];
    size_t offset, size;
    int decay;                 /* weight decay applies (weights, not biases or BN) */
} param_tensor;

/* A step of the executor's schedule: one layer, or layers that run as one
 * unit (a fused block). net->prof is indexed by stage. */
typedef struct {
    int first, last;                 /* the layers it covers */
    int conv_prim;                   /* the conv layer it runs as a oneDNN primitive (timed on its
                                        own in net->prof), or -1 */
} net_stage;

struct net_executor;                 /* nn/exec.h */

typedef struct {
    int nlayers;
    layer *layers;
    int in_c, in_h, in_w;
    int nclasses;
    size_t nparams;            /* one allocation each: */
    float *params, *grads;
    size_t nstate;
    float *state;
    int ntensors;
    param_tensor *tensors;
    /* workspace */
    int max_batch, ws_threads, ws_training;
    void *ws;                  /* one allocation for every buffer below, in layers and the executor's */
    float *dbuf[2];            /* ping-pong gradient buffers */
    /* execution: net_build picks the executor (nn/exec.h) that runs the
     * layers, fused blocks when the net has them, else layer by layer */
    const struct net_executor *exec;
    void *exec_state;          /* the executor's own (fused.c: struct fused_state) */
    int nstages;               /* its schedule */
    net_stage *stages;
    int fuse;                  /* run fused blocks where there are some; net_build sets it, clear
                                  it for the layer-by-layer path; cleared when fusion fails */
    int last_fused;            /* the last net_forward ran fused (0/1) */
    char fuse_msg[160];        /* why fusion was switched off, "" when it was not */
    double *prof;              /* when not NULL: seconds per stage, accumulated by the fused
                                  executor: forward at [4s], backward at [4s+1], and inside
                                  them the oneDNN convolutions at [4s+2], [4s+3] */
} ferc_net;

/* resblock.c: the sub-layers, output shape and parameter counts of a
 * LAYER_RES whose input shape, oc and stride are set; 0 when out of memory. */
int res_build(layer *l);
/* dnn_conv.c: a res block's conv on oneDNN primitives. 0 when it cannot run
 * this pass there (the caller runs the layer op instead); a backward runs
 * there only when its forward did. */
struct dconv;
int dconv_forward(layer *l, const float *in, int N, const exec_ctx *x);
int dconv_backward(layer *l, const float *in, const float *dout, float *din, int N, const exec_ctx *x);
void dconv_free(struct dconv *c);

/* Build from a spec ("conv32 bn relu pool drop0.25 ... flatten dense128 relu
 * dense7"). Parameters are allocated but not initialised. */
ferc_status net_build(ferc_net *net, const char *spec, int in_c, int in_h, int in_w,
                      ferc_error *err);
void net_free(ferc_net *net);
/* The parameter and state counts spec implies, without allocating them. */
ferc_status net_count(const char *spec, int in_c, int in_h, int in_w, size_t *nparams, size_t *nstate,
                      ferc_error *err);
/* Glorot-uniform weights, zero biases, BN gamma 1 / beta 0 / mean 0 / var 1. */
void net_init(ferc_net *net, ferc_rng *rng);
/* Make sure the workspace holds N images (with training buffers if asked);
 * allocates only when it grows. */
ferc_status net_reserve(ferc_net *net, int N, int training, int threads, ferc_error *err);
/* Forward of N images x (N, in_c, in_h, in_w) -> logits, returned (N, nclasses). */
const float *net_forward(ferc_net *net, const float *x, int N, const exec_ctx *ctx);
/* Backward from dlogits (N, nclasses); parameter gradients are zeroed first.
 * dx (N, in_c, in_h, in_w) receives the input gradient when not NULL. */
void net_backward(ferc_net *net, const float *x, const float *dlogits, float *dx, int N,
                  const exec_ctx *ctx);
double net_flops(const ferc_net *net);  /* forward, per image */
/* The layer-by-layer (unfused, reference) passes of exec_layers.c: every
 * layer's `out` holds its output afterwards (net_forward may skip the
 * intermediate outputs of fused blocks). Same contract as net_forward /
 * net_backward. */
const float *net_forward_layers(ferc_net *net, const float *x, int N, const exec_ctx *ctx);
void net_backward_layers(ferc_net *net, const float *x, const float *dlogits, float *dx, int N,
                         const exec_ctx *ctx);

/* bf16 compute for the fused convolutions (not the first layer's): inputs
 * and weights rounded to bfloat16, float accumulation, float master weights,
 * batch norm and everything else in float. Off by default; no effect on the
 * layer-by-layer path. */
void net_set_bf16(ferc_net *net, int on);

/* The dropout keep bit of element i: a hash of (seed, layer, i), so masks
 * do not depend on how the work is split over threads. */
static inline int dropout_keep(uint64_t seed, int layer, size_t i, uint32_t thresh) {
    uint64_t z = seed ^ ((uint64_t)(layer + 1) * 0xD1B54A32D192ED03ull);
    z += (uint64_t)(i + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (uint32_t)(z >> 40) >= thresh;
}

/* Softmax cross-entropy. labels (N) when onehot == NULL, else onehot (N,K);
 * class weights w (K) or NULL. Returns the mean loss sum_i w_i ce_i / N;
 * dlogits (N,K) = w_i (softmax - target) / N; probs (N,K) optional output. */
double softmax_xent(const float *logits, const int *labels, const float *onehot,
                    const float *w, int N, int K, float *dlogits, float *probs);
void softmax_rows(const float *logits, int N, int K, float *probs);

/* Row-major C (M,N) = alpha op(A) op(B) + beta C through oneDNN's sgemm,
 * split over `threads` OpenMP threads (runs single-threaded when already
 * inside a parallel region). */
void gemm(char ta, char tb, int M, int N, int K, float alpha, const float *A, int lda,
          const float *B, int ldb, float beta, float *C, int ldc, int threads);

/* The naive reference kernels, kept beside the fast ones and used by tests. */
void ref_conv_forward(const float *x, const float *w, const float *b, float *y, int N, int C,
                      int H, int W, int K, int ks, int pad);
void ref_conv_backward(const float *x, const float *w, const float *dy, float *dx, float *dw,
                       float *db, int N, int C, int H, int W, int K, int ks, int pad);
/* The same with stride st (output (H + 2 pad - ks) / st + 1). */
void ref_conv_forward_s(const float *x, const float *w, const float *b, float *y, int N, int C,
                        int H, int W, int K, int ks, int pad, int st);
void ref_conv_backward_s(const float *x, const float *w, const float *dy, float *dx, float *dw,
                         float *db, int N, int C, int H, int W, int K, int ks, int pad, int st);

/* Optimisers over the whole parameter block. */
typedef struct {
    ferc_optimizer kind;
    float lr, beta1, beta2, eps, momentum, weight_decay;
    int nesterov;
    long t;                    /* steps taken */
    float *m, *v;              /* Adam moments / SGD momentum buffer (m) */
    size_t n;
} optim_state;

ferc_status optim_init(optim_state *o, const ferc_train_opts *opts, size_t n, ferc_error *err);
void optim_free(optim_state *o);
/* One step: p -= update(g); decay applies per tensor flag. */
void optim_step(optim_state *o, const ferc_net *net, int threads);
/* The kernels on one flat block (used by optim_step and the tests). */
void adam_update(float *p, const float *g, float *m, float *v, size_t n, float lr, float b1,
                 float b2, float eps, float wd, long t);
void sgd_update(float *p, const float *g, float *buf, size_t n, float lr, float momentum,
                int nesterov, float wd, long t);

#endif
