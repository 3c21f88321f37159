/* exec_layers.c — the layer-by-layer executor: every layer's layer_ops pass
 * (layers.c) in order for the forward pass and in reverse for the backward
 * pass, each writing its whole output. It is the reference the fused
 * executor is tested against, runs nets that have no fused block, and is
 * where the fused executor falls back to when fusion is off or fails. */
#include "nn/exec.h"

#include <string.h>

/* One stage per layer. */
static int layers_plan(ferc_net *net) {
    for (int i = 0; i < net->nlayers; i++)
        net->stages[i] = (net_stage){.first = i, .last = i, .conv_prim = -1};
    net->nstages = net->nlayers;
    return 1;
}

const float *net_forward_layers(ferc_net *net, const float *x, int N, const exec_ctx *ctx) {
    net->last_fused = 0;
    const float *in = x;
    for (int i = 0; i < net->nlayers; i++) {
        layer *l = &net->layers[i];
        l->ops->forward(l, in, N, ctx);
        in = l->out;
    }
    return in;
}

void net_backward_layers(ferc_net *net, const float *x, const float *dlogits, float *dx, int N,
                         const exec_ctx *ctx) {
    memset(net->grads, 0, sizeof(float) * net->nparams);
    const float *dout = dlogits;
    int which = 0;
    for (int i = net->nlayers - 1; i >= 0; i--) {
        layer *l = &net->layers[i];
        const float *in = i > 0 ? net->layers[i - 1].out : x;
        float *din = i > 0 ? net->dbuf[which] : dx;
        l->ops->backward(l, in, dout, din, N, ctx);
        dout = din;
        which ^= 1;
    }
}

/* Nothing of its own beyond the layers' buffers (net.c lays those out). */
const net_executor exec_layers = {
    .name = "layers",
    .plan = layers_plan,
    .workspace = NULL,
    .prepare = NULL,
    .forward = net_forward_layers,
    .backward = net_backward_layers,
    .set_bf16 = NULL,
    .release = NULL,
};
