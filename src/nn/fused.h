/* nn/fused.h — the fused executor's own header, shared by its three files:
 *   fused.c        the executor: finding the blocks, the workspace, the
 *                  schedule of stages (blocks and single layers);
 *   fused_dnn.c    the oneDNN convolution primitives, per (batch, threads);
 *   fused_block.c  one block's forward and backward passes and their
 *                  kernels on the nChw16c layout.
 * Nothing outside these files sees it: net.c reaches them through exec_fused
 * (nn/exec.h), and this state hangs off net->exec_state. */
#ifndef FERC_NN_FUSED_H
#define FERC_NN_FUSED_H

#include "nn/exec.h"

/* A fused conv block: conv -> bn -> relu [-> pool] [-> dropout] runs as one
 * unit on the nChw16c layout (16 channels innermost). */
typedef struct {
    int conv, bn, relu, pool, drop;  /* layer indices; pool, drop -1 when absent */
    int first, last;                 /* the layers it covers */
    int in_blocked, out_blocked;     /* input / output in nChw16c (else NCHW) */
    int direct;                      /* 1-channel first layer: direct kernels, no oneDNN */
    int C, H, W;                     /* conv input per image */
    int K, CH, CW;                   /* conv output (= bn, relu) per image */
    int OH, OW;                      /* block output per image (pooled or CH, CW) */
    size_t tr_off;                   /* floats into ftr (output when !out_blocked) */
    size_t rec_off;                  /* bytes into rec (blocks with a pool) */
    int stage;                       /* its index in net->stages */
} fblock;

struct fdnn;                         /* oneDNN engine, stream, primitives (fused_dnn.c) */

typedef struct fused_state {
    int nblocks;
    fblock *blocks;
    int *stage_block;                /* per stage of net->stages: its block, or -1 */
    struct fdnn *dnn;                /* created on first use */
    int bf16;                        /* convs after the first in bfloat16 (net_set_bf16) */
    int wino;                        /* 3x3 convs by Winograd F(4x4,3x3) where oneDNN has it
                                        (set by the plan, before the first pass) */
    /* buffers in net->ws (fused_workspace) */
    float *dconv;                    /* (N, K, CH, CW) conv output gradient, largest block */
    float *fpart;                    /* per (image, channel) partial sums, 2 per channel */
    float *fcoef;                    /* per-channel coefficients, 8 per channel */
    float *ftr;                      /* blocked outputs of blocks whose output is NCHW */
    float *ftd;                      /* blocked copy of an NCHW output gradient */
    float *xpad;                     /* first-layer input padded to a primitive's batch */
    float *logits;                   /* (N, nclasses): output of an inference run in chunks */
    uint8_t *rec;                    /* training: per pooled element of each block with a pool,
                                        argmax in the window | 4 when the gradient passes */
} fused_state;

static inline fused_state *fused_of(const ferc_net *net) { return (fused_state *)net->exec_state; }

/* Block bi's conv runs in bf16 (its input and weights rounded to bfloat16,
 * float accumulation and output): bf16 is on, and the input comes from a block. */
static inline int blk_bf_in(const fused_state *fs, int bi) {
    const fblock *b = &fs->blocks[bi];
    return fs->bf16 && b->in_blocked && !b->direct;
}
/* Block bi writes its output in bf16 (the next block's conv reads it). */
static inline int blk_bf_out(const fused_state *fs, int bi) {
    return fs->blocks[bi].out_blocked && bi + 1 < fs->nblocks && blk_bf_in(fs, bi + 1);
}

/* fused.c: switch fusion off for good; the first reason given stays in fuse_msg. */
void fuse_off(ferc_net *net, const char *why);

/* fused_dnn.c */
/* Create the training primitives for a batch of N on `threads` threads
 * (net_reserve); on failure fusion is switched off and fuse_msg says why. */
void fused_prepare(ferc_net *net, int N, int threads);
/* Ready to run fused for N images (creates primitives when needed)? */
int fused_ready(ferc_net *net, int N, const exec_ctx *ctx, int need_bwd);
void fused_dnn_release(fused_state *fs);   /* free the oneDNN objects */
/* Block bi's conv forward into its conv layer's `out`, on the set that
 * fused_ready chose (the input padded with zero images to its batch). */
void fused_conv_forward(ferc_net *net, int bi, const float *in, int in_is_input, int N,
                        const exec_ctx *ctx);
/* Block bi's conv backward from dconv: weight and bias gradients added to
 * the conv layer's grad, the input gradient into din when not NULL. */
void fused_conv_backward(ferc_net *net, int bi, float *dconv, float *din, int N,
                         const exec_ctx *ctx);

/* fused_block.c */
int fused_direct_ok(const fblock *b, const layer *lc);   /* direct first-layer kernels apply */
const float *fused_block_forward(ferc_net *net, int bi, const float *in, int in_is_input, int N,
                                 const exec_ctx *ctx);
void fused_block_backward(ferc_net *net, int bi, const float *in, const float *dout, float *din,
                          int N, const exec_ctx *ctx);

#endif
