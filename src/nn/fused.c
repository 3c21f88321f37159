/* fused.c — the fused executor (exec_fused, nn/exec.h): finds the blocks
 * conv -> bn -> relu [-> 2x2 max-pool] [-> dropout] of a net, each run as
 * one unit (fused_block.c) whose conv is a oneDNN primitive (fused_dnn.c),
 * and runs the net as a schedule of stages: blocks, and single layers
 * through their layer_ops. This is the default path of training and
 * inference; the layer-by-layer executor (exec_layers.c) is its reference
 * and its fallback: fusion off (net->fuse clear), or primitives oneDNN cannot
 * make (fuse_msg says why).
 *
 * Its state (struct fused_state, fused.h) hangs off net->exec_state; its
 * buffers are carved from the net's workspace after the layers' own. */
#include "nn/fused.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fuse_off(ferc_net *net, const char *why) {
    net->fuse = 0;
    if (why && !net->fuse_msg[0]) snprintf(net->fuse_msg, sizeof net->fuse_msg, "%s", why);
}

/* ------------------------------------------------------------------------ */
/* Plan                                                                      */
/* ------------------------------------------------------------------------ */

/* If a block starts at layer i, describe it in b and return the layer after
 * it; else return i. */
static int block_at(const ferc_net *net, int i, fblock *b) {
    const layer *l = net->layers;
    if (!(l[i].kind == LAYER_CONV && i + 2 < net->nlayers && l[i + 1].kind == LAYER_BN &&
          l[i + 2].kind == LAYER_RELU && l[i].oc % 16 == 0 && l[i].stride == 1)) return i;   /* strided: layer ops */
    memset(b, 0, sizeof *b);
    b->conv = i; b->bn = i + 1; b->relu = i + 2; b->pool = b->drop = -1;
    int j = i + 3;
    if (j < net->nlayers && l[j].kind == LAYER_MAXPOOL) b->pool = j++;
    if (j < net->nlayers && l[j].kind == LAYER_DROPOUT) b->drop = j++;
    b->first = i; b->last = j - 1;
    b->C = l[i].c; b->H = l[i].h; b->W = l[i].w;
    b->K = l[i].oc; b->CH = l[i].oh; b->CW = l[i].ow;
    b->OH = l[b->last].oh; b->OW = l[b->last].ow;
    return j;
}

/* The schedule: every block a stage, every other layer a stage of its own;
 * then each block's layouts (nChw16c between blocks) and kernels. */
static void find_blocks(ferc_net *net, fused_state *fs) {
    for (int i = 0; i < net->nlayers;) {
        int s = net->nstages++;
        fblock *b = &fs->blocks[fs->nblocks];
        int j = block_at(net, i, b);
        net->stages[s] = (net_stage){.first = i, .last = i, .conv_prim = -1};
        fs->stage_block[s] = -1;
        if (j > i) {
            net->stages[s].last = b->last;
            fs->stage_block[s] = fs->nblocks++;
            b->stage = s;
            i = j;
        } else {
            i++;
        }
    }
    for (int s = 0; s < net->nstages; s++) {
        if (fs->stage_block[s] < 0) continue;
        fblock *b = &fs->blocks[fs->stage_block[s]];
        b->in_blocked = s > 0 && fs->stage_block[s - 1] >= 0;
        b->out_blocked = s + 1 < net->nstages && fs->stage_block[s + 1] >= 0;
        b->direct = fused_direct_ok(b, &net->layers[b->conv]);
        if (!b->direct) net->stages[s].conv_prim = b->conv;
    }
}

static void state_free(fused_state *fs) {
    if (!fs) return;
    fused_dnn_release(fs);
    free(fs->blocks); free(fs->stage_block); free(fs);
}

/* Takes the nets that have at least one block. */
static int fused_plan(ferc_net *net) {
#ifdef FERC_NO_FUSE
    net->fuse = 0;   /* build switches for experiments: the layer-by-layer path, */
#endif
    fused_state *fs = calloc(1, sizeof *fs);
    if (fs) {
        fs->blocks = calloc((size_t)net->nlayers, sizeof *fs->blocks);
        fs->stage_block = calloc((size_t)net->nlayers, sizeof *fs->stage_block);
    }
    if (!fs || !fs->blocks || !fs->stage_block) {
        state_free(fs);
        fuse_off(net, "out of memory");
        return 0;
    }
#ifndef FERC_NO_WINO
    fs->wino = 1;    /* Winograd convolutions where oneDNN has them */
#endif
#ifdef FERC_BF16_DEFAULT
    fs->bf16 = 1;    /* or bf16 convolutions everywhere (ferc train has no option for it yet) */
#endif
    find_blocks(net, fs);
    if (!fs->nblocks) {
        state_free(fs);
        net->nstages = 0;
        return 0;
    }
    net->exec_state = fs;
    return 1;
}

static void fused_release(ferc_net *net) {
    state_free(fused_of(net));
    net->exec_state = NULL;
}

/* ------------------------------------------------------------------------ */
/* Workspace and primitives                                                  */
/* ------------------------------------------------------------------------ */

/* The buffers of the block passes for N images: each of them sized for the
 * largest block, except ftr and rec, which hold something of every block
 * that needs one until the backward pass. */
static void fused_workspace(ferc_net *net, ws_carver *c, int N, int training) {
    fused_state *fs = fused_of(net);
    size_t convmax = 0, kmax = 0, trsum = 0, trmax = 0, partmax = 0, recsum = 0;
    for (int b = 0; b < fs->nblocks; b++) {
        fblock *fb = &fs->blocks[b];
        size_t co = (size_t)fb->K * fb->CH * fb->CW, bo = (size_t)fb->K * fb->OH * fb->OW;
        if (co > convmax) convmax = co;
        if ((size_t)fb->K > kmax) kmax = (size_t)fb->K;
        size_t part = 2 * (size_t)fb->K;   /* per image: 2 per channel, or dW partials */
        if (fb->direct) {
            size_t kk = (size_t)net->layers[fb->conv].k * net->layers[fb->conv].k;
            part = (size_t)fb->K * (kk + 1);
        }
        if (part > partmax) partmax = part;
        if (!fb->out_blocked) {
            fb->tr_off = trsum;
            trsum += (size_t)N * bo;
            if (bo > trmax) trmax = bo;
        }
        if (fb->pool >= 0) {   /* one byte per pooled element */
            fb->rec_off = recsum;
            recsum += ((size_t)N * bo + 63) & ~(size_t)63;
        }
    }
    fs->logits = ws_take(c, sizeof(float) * (size_t)N * net->nclasses);
    fs->fcoef = ws_take(c, sizeof(float) * 8 * kmax);
    fs->fpart = ws_take(c, sizeof(float) * (size_t)N * partmax);
    fs->ftr = trsum ? ws_take(c, sizeof(float) * trsum) : NULL;
    fs->dconv = fs->ftd = fs->xpad = NULL;
    fs->rec = NULL;
    if (training) {
        fs->dconv = ws_take(c, sizeof(float) * (size_t)N * convmax);
        if (trmax) fs->ftd = ws_take(c, sizeof(float) * (size_t)N * trmax);
        fs->xpad = ws_take(c, sizeof(float) * (size_t)N * net->in_c * net->in_h * net->in_w);
        if (recsum) fs->rec = ws_take(c, recsum);
    }
}

/* A training workspace gets its primitives now, so that no step allocates. */
static void fused_prepare_ws(ferc_net *net, int N, int threads, int training) {
    if (training && net->fuse) fused_prepare(net, N, threads);
}

static void fused_set_bf16(ferc_net *net, int on) {
    fused_state *fs = fused_of(net);
    on = on ? 1 : 0;
    if (fs->bf16 == on) return;
    fused_dnn_release(fs);   /* primitives are remade for the new precision */
    fs->bf16 = on;
    if (net->fuse && fs->nblocks && net->ws_training && net->max_batch)
        fused_prepare(net, net->max_batch, net->ws_threads);
}

/* ------------------------------------------------------------------------ */
/* Passes                                                                    */
/* ------------------------------------------------------------------------ */

/* Output of stage s of the schedule (x for s < 0); flatten is a view. */
static const float *stage_out(const ferc_net *net, int s, const float *x) {
    const fused_state *fs = fused_of(net);
    for (; s >= 0; s--) {
        const layer *l = &net->layers[net->stages[s].last];
        if (fs->stage_block[s] < 0 && l->kind == LAYER_FLATTEN) continue;
        return l->out;
    }
    return x;
}

/* Inference sub-batch: a few images at a time keep the conv maps in cache. */
#define INFER_CHUNK 64

static const float *forward_stages(ferc_net *net, const float *x, int N, const exec_ctx *ctx) {
    const fused_state *fs = fused_of(net);
    const float *in = x;
    for (int s = 0; s < net->nstages; s++) {
        const net_stage *st = &net->stages[s];
        double t0 = net->prof ? ferc_now() : 0;
        if (fs->stage_block[s] >= 0) {
            in = fused_block_forward(net, fs->stage_block[s], in, s == 0, N, ctx);
        } else {
            layer *l = &net->layers[st->first];
            if (l->kind == LAYER_FLATTEN) continue;   /* NCHW is already flat */
            l->ops->forward(l, in, N, ctx);
            in = l->out;
        }
        if (net->prof) net->prof[4 * s] += ferc_now() - t0;
    }
    net->last_fused = 1;
    return in;
}

static const float *fused_forward(ferc_net *net, const float *x, int N, const exec_ctx *ctx) {
    const fused_state *fs = fused_of(net);
    if (!net->fuse) return exec_layers.forward(net, x, N, ctx);
    if (ctx->training || net->ws_training || N <= INFER_CHUNK || !fs->logits) {
        if (!fused_ready(net, N, ctx, ctx->training)) return exec_layers.forward(net, x, N, ctx);
        return forward_stages(net, x, N, ctx);
    }
    /* inference of a large batch (no backward can follow): in chunks */
    const size_t per = (size_t)net->in_c * net->in_h * net->in_w, K = (size_t)net->nclasses;
    for (int i = 0; i < N; i += INFER_CHUNK) {
        int n = N - i < INFER_CHUNK ? N - i : INFER_CHUNK;
        if (!fused_ready(net, n, ctx, 0)) return exec_layers.forward(net, x, N, ctx);
        const float *z = forward_stages(net, x + (size_t)i * per, n, ctx);
        memcpy(fs->logits + (size_t)i * K, z, sizeof(float) * (size_t)n * K);
    }
    return fs->logits;
}

static void backward_stages(ferc_net *net, const float *x, const float *dlogits, float *dx, int N,
                            const exec_ctx *ctx) {
    const fused_state *fs = fused_of(net);
    memset(net->grads, 0, sizeof(float) * net->nparams);
    const float *dout = dlogits;
    int cur = -1;   /* which dbuf holds dout (-1: neither) */
    for (int s = net->nstages - 1; s >= 0; s--) {
        const int block = fs->stage_block[s];
        layer *l = &net->layers[net->stages[s].first];
        if (block < 0 && l->kind == LAYER_FLATTEN) {   /* a view: pass dout through */
            if (s == 0 && dx) memcpy(dx, dout, sizeof(float) * (size_t)N * l->c * l->h * l->w);
            continue;
        }
        const float *in = stage_out(net, s - 1, x);
        float *din = s > 0 ? net->dbuf[cur == 0 ? 1 : 0] : dx;
        double t0 = net->prof ? ferc_now() : 0;
        if (block >= 0) fused_block_backward(net, block, in, dout, din, N, ctx);
        else l->ops->backward(l, in, dout, din, N, ctx);
        if (net->prof) net->prof[4 * s + 1] += ferc_now() - t0;
        dout = din;
        cur = din == net->dbuf[0] ? 0 : 1;
    }
}

static void fused_backward(ferc_net *net, const float *x, const float *dlogits, float *dx, int N,
                           const exec_ctx *ctx) {
    if (!net->last_fused) { exec_layers.backward(net, x, dlogits, dx, N, ctx); return; }
    if (!fused_ready(net, N, ctx, 1)) {
        /* only in eval mode (training primitives always have their backward):
         * the layer-by-layer forward has no side effects there */
        exec_layers.forward(net, x, N, ctx);
        exec_layers.backward(net, x, dlogits, dx, N, ctx);
        return;
    }
    backward_stages(net, x, dlogits, dx, N, ctx);
}

const net_executor exec_fused = {
    .name = "fused",
    .plan = fused_plan,
    .workspace = fused_workspace,
    .prepare = fused_prepare_ws,
    .forward = fused_forward,
    .backward = fused_backward,
    .set_bf16 = fused_set_bf16,
    .release = fused_release,
};
