/* nn/exec.h — the executor interface (internal to src/nn/): how a network's
 * layers are run, as a table of functions in the manner of ggml's backends.
 * net.c builds the net, owns its parameters and workspace, and calls through
 * net->exec only; it knows no executor's insides. Two implementations:
 *   exec_layers  (exec_layers.c)  every layer on its own, in order, through
 *                                 the layer_ops kernels of layers.c: the
 *                                 reference path;
 *   exec_fused   (fused.c, fused_dnn.c, fused_block.c)  conv -> bn -> relu
 *                                 [-> pool] [-> dropout] blocks as one unit on
 *                                 oneDNN convolutions, the other layers (and
 *                                 every layer when fusion is off) through
 *                                 exec_layers.
 * net_build takes the first of them (fused, then layers) whose plan accepts
 * the net. */
#ifndef FERC_NN_EXEC_H
#define FERC_NN_EXEC_H

#include "nn/nn.h"

/* The workspace is one allocation, laid out twice by the same code: first
 * measured (base NULL, every take returns NULL), then carved. */
typedef struct {
    char *base;
    size_t off;
} ws_carver;

/* The next `bytes` of the workspace, 64-byte aligned; NULL while measuring. */
static inline void *ws_take(ws_carver *c, size_t bytes) {
    void *p = c->base ? c->base + c->off : NULL;
    c->off += (bytes + 63) & ~(size_t)63;
    return p;
}

typedef struct net_executor {
    const char *name;
    /* net_build: decide how to run the layers. Fills net->stages (room for
     * nlayers is there) and net->nstages, may set net->exec_state. Returns 0
     * when the executor does not apply to this net (the next one is tried;
     * it must leave exec_state NULL then). */
    int (*plan)(ferc_net *net);
    /* net_reserve, in both layout passes: take the executor's own buffers
     * for N images (after the layers' buffers). May be NULL. */
    void (*workspace)(ferc_net *net, ws_carver *c, int N, int training);
    /* net_reserve, once the workspace is in place: make what passes of up to
     * N images on `threads` threads need, so that a training step never
     * allocates. May be NULL. */
    void (*prepare)(ferc_net *net, int N, int threads, int training);
    /* The contracts of net_forward and net_backward (nn.h). */
    const float *(*forward)(ferc_net *net, const float *x, int N, const exec_ctx *ctx);
    void (*backward)(ferc_net *net, const float *x, const float *dlogits, float *dx, int N,
                     const exec_ctx *ctx);
    /* net_set_bf16; NULL when the executor computes in float only. */
    void (*set_bf16)(ferc_net *net, int on);
    /* net_free: free exec_state and whatever it holds. May be NULL. */
    void (*release)(ferc_net *net);
} net_executor;

extern const net_executor exec_layers, exec_fused;

#endif
