/* net.c — builds a network from a spec string, owns its parameter, gradient
 * and workspace blocks (one allocation each), and runs the layers in order
 * for the forward pass and in reverse for the backward pass. */
#include "nn/nn.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const layer_ops conv_ops, bn_ops, relu_ops, pool_ops, drop_ops, flat_ops, dense_ops;

static int parse_word(const char *w, layer *l, ferc_error *err, int pos) {
    char *end;
    memset(l, 0, sizeof *l);
    if (strncmp(w, "conv", 4) == 0 && isdigit((unsigned char)w[4])) {
        long k = strtol(w + 4, &end, 10);
        l->kind = LAYER_CONV; l->ops = &conv_ops; l->oc = (int)k; l->k = 3; l->pad = 1;
        if (*end == 'k') { l->k = (int)strtol(end + 1, &end, 10); l->pad = l->k / 2; }
        if (*end || k <= 0 || k > 65536 || l->k <= 0 || l->k > 15) goto bad;
    } else if (strcmp(w, "bn") == 0) {
        l->kind = LAYER_BN; l->ops = &bn_ops; l->eps = 1e-3f; l->momentum = 0.01f;
    } else if (strcmp(w, "relu") == 0) {
        l->kind = LAYER_RELU; l->ops = &relu_ops;
    } else if (strcmp(w, "pool") == 0) {
        l->kind = LAYER_MAXPOOL; l->ops = &pool_ops;
    } else if (strncmp(w, "drop", 4) == 0) {
        l->kind = LAYER_DROPOUT; l->ops = &drop_ops;
        l->p = strtof(w + 4, &end);
        if (end == w + 4 || *end || !(l->p >= 0 && l->p < 1)) goto bad;
    } else if (strcmp(w, "flatten") == 0) {
        l->kind = LAYER_FLATTEN; l->ops = &flat_ops;
    } else if (strncmp(w, "dense", 5) == 0 && isdigit((unsigned char)w[5])) {
        long k = strtol(w + 5, &end, 10);
        l->kind = LAYER_DENSE; l->ops = &dense_ops; l->oc = (int)k;
        if (*end || k <= 0 || k > 1 << 20) goto bad;
    } else {
        goto bad;
    }
    return 1;
bad:
    ferc_fail(err, FERC_ERR_ARG, "architecture spec: word %d '%s' is not a layer "
              "(conv<N>[k<S>], bn, relu, pool, drop<P>, flatten, dense<N>)", pos, w);
    return 0;
}

ferc_status net_build(ferc_net *net, const char *spec, int in_c, int in_h, int in_w,
                      ferc_error *err) {
    memset(net, 0, sizeof *net);
    net->in_c = in_c; net->in_h = in_h; net->in_w = in_w;
    int cap = 8;
    net->layers = calloc((size_t)cap, sizeof(layer));
    if (!net->layers) return ferc_fail(err, FERC_ERR_NOMEM, "out of memory");
    int c = in_c, h = in_h, w = in_w, flat = 0;
    const char *p = spec;
    char word[64];
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == ',') p++;
        if (!*p) break;
        size_t n = 0;
        while (p[n] && p[n] != ' ' && p[n] != '\t' && p[n] != '\n' && p[n] != ',') n++;
        if (n >= sizeof word) { net_free(net); return ferc_fail(err, FERC_ERR_ARG, "architecture spec: word too long"); }
        memcpy(word, p, n); word[n] = 0; p += n;
        if (net->nlayers == cap) {
            cap *= 2;
            layer *nl = realloc(net->layers, sizeof(layer) * (size_t)cap);
            if (!nl) { net_free(net); return ferc_fail(err, FERC_ERR_NOMEM, "out of memory"); }
            net->layers = nl;
        }
        layer *l = &net->layers[net->nlayers];
        if (!parse_word(word, l, err, net->nlayers + 1)) { net_free(net); return FERC_ERR_ARG; }
        l->index = net->nlayers;
        l->c = c; l->h = h; l->w = w;
        l->oc = l->oc ? l->oc : c; l->oh = h; l->ow = w;
        switch (l->kind) {
        case LAYER_CONV:
            if (flat) goto after_flatten;
            l->oh = h + 2 * l->pad - l->k + 1; l->ow = w + 2 * l->pad - l->k + 1;
            l->nparam = (size_t)l->oc * c * l->k * l->k + l->oc;
            break;
        case LAYER_BN:   /* after flatten: per-feature batch norm on (N, C, 1, 1) */
            l->nparam = 2 * (size_t)c; l->nstate = 2 * (size_t)c;
            break;
        case LAYER_MAXPOOL:
            if (flat) goto after_flatten;
            if (h < 2 || w < 2) { net_free(net); return ferc_fail(err, FERC_ERR_ARG, "architecture spec: pool on a %dx%d map", h, w); }
            l->oh = h / 2; l->ow = w / 2;
            break;
        case LAYER_FLATTEN:
            l->oc = c * h * w; l->oh = 1; l->ow = 1; flat = 1;
            break;
        case LAYER_DENSE:
            if (!flat) { net_free(net); return ferc_fail(err, FERC_ERR_ARG, "architecture spec: dense before flatten"); }
            l->oh = 1; l->ow = 1;
            l->nparam = (size_t)l->oc * c * h * w + l->oc;
            break;
        default: break;
        }
        if (l->oh <= 0 || l->ow <= 0) { net_free(net); return ferc_fail(err, FERC_ERR_ARG, "architecture spec: layer %d shrinks the map to nothing", l->index + 1); }
        c = l->oc; h = l->oh; w = l->ow;
        net->nparams += l->nparam;
        net->nstate += l->nstate;
        net->nlayers++;
        continue;
    after_flatten:
        net_free(net);
        return ferc_fail(err, FERC_ERR_ARG, "architecture spec: '%s' after flatten", word);
    }
    if (net->nlayers == 0 || net->layers[net->nlayers - 1].kind != LAYER_DENSE)
        { net_free(net); return ferc_fail(err, FERC_ERR_ARG, "architecture spec: must end with a dense layer"); }
    net->nclasses = net->layers[net->nlayers - 1].oc;
    net->params = calloc(net->nparams, sizeof(float));
    net->grads = calloc(net->nparams, sizeof(float));
    net->state = calloc(net->nstate ? net->nstate : 1, sizeof(float));
    net->tensors = calloc((size_t)net->nlayers * 2, sizeof(param_tensor));
    if (!net->params || !net->grads || !net->state || !net->tensors)
        { net_free(net); return ferc_fail(err, FERC_ERR_NOMEM, "out of memory for %zu parameters", net->nparams); }
    size_t po = 0, so = 0;
    for (int i = 0; i < net->nlayers; i++) {
        layer *l = &net->layers[i];
        l->param = net->params + po; l->grad = net->grads + po; l->state = net->state + so;
        if (l->kind == LAYER_CONV || l->kind == LAYER_DENSE || l->kind == LAYER_BN) {
            size_t nb = (l->kind == LAYER_BN) ? (size_t)l->c : (size_t)l->oc;
            param_tensor *a = &net->tensors[net->ntensors++], *b = &net->tensors[net->ntensors++];
            const char *nm = l->kind == LAYER_CONV ? "conv" : l->kind == LAYER_DENSE ? "dense" : "bn";
            snprintf(a->name, sizeof a->name, "%d.%s.%s", i, nm, l->kind == LAYER_BN ? "gamma" : "weight");
            snprintf(b->name, sizeof b->name, "%d.%s.%s", i, nm, l->kind == LAYER_BN ? "beta" : "bias");
            a->offset = po; a->size = l->nparam - nb; a->decay = l->kind != LAYER_BN;
            b->offset = po + a->size; b->size = nb; b->decay = 0;
        }
        po += l->nparam; so += l->nstate;
    }
    fused_plan(net);
    return FERC_OK;
}

void net_free(ferc_net *net) {
    fused_release(net);
    free(net->stages); free(net->blocks);
    free(net->layers); free(net->params); free(net->grads); free(net->state);
    free(net->tensors); free(net->ws);
    memset(net, 0, sizeof *net);
}

/* Glorot uniform: w ~ U(-a, a), a = sqrt(6 / (fan_in + fan_out)). */
void net_init(ferc_net *net, ferc_rng *rng) {
    for (int i = 0; i < net->nlayers; i++) {
        layer *l = &net->layers[i];
        if (l->kind == LAYER_CONV || l->kind == LAYER_DENSE) {
            size_t nw = l->nparam - (size_t)l->oc;
            double fan_in = (double)nw / l->oc, fan_out;
            fan_out = l->kind == LAYER_CONV ? (double)l->oc * l->k * l->k : (double)l->oc;
            float a = (float)sqrt(6.0 / (fan_in + fan_out));
            for (size_t j = 0; j < nw; j++) l->param[j] = (2.0f * ferc_rng_uniform(rng) - 1.0f) * a;
            memset(l->param + nw, 0, sizeof(float) * (size_t)l->oc);
        } else if (l->kind == LAYER_BN) {
            for (int c = 0; c < l->c; c++) {
                l->param[c] = 1; l->param[l->c + c] = 0;
                l->state[c] = 0; l->state[l->c + c] = 1;
            }
        }
    }
}

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

ferc_status net_reserve(ferc_net *net, int N, int training, int threads, ferc_error *err) {
    threads = ferc_threads(threads);
    if (N <= net->max_batch && threads <= net->ws_threads && (!training || net->ws_training))
        return FERC_OK;
    if (N < net->max_batch) N = net->max_batch;
    if (threads < net->ws_threads) threads = net->ws_threads;
    training = training || net->ws_training;
    /* two passes: measure, then carve */
    size_t maxact = (size_t)net->in_c * net->in_h * net->in_w;
    size_t total = 0;
    for (int pass = 0; pass < 2; pass++) {
        char *base = net->ws;
        size_t off = 0;
#define CARVE(ptr, type, count) do {                                   \
            size_t sz_ = align64(sizeof(type) * (size_t)(count));         \
            if (pass) ptr = (type *)(void *)(base + off);                 \
            off += sz_;                                                   \
        } while (0)
        for (int i = 0; i < net->nlayers; i++) {
            layer *l = &net->layers[i];
            size_t in_sz = (size_t)l->c * l->h * l->w, out_sz = (size_t)l->oc * l->oh * l->ow;
            if (out_sz > maxact) maxact = out_sz;
            CARVE(l->out, float, (size_t)N * out_sz);
            if (l->kind == LAYER_BN) CARVE(l->stat, float, 2 * l->c);
            if (l->kind == LAYER_MAXPOOL) CARVE(l->idx, int32_t, (size_t)N * out_sz);
            if (l->kind == LAYER_DROPOUT && training) CARVE(l->mask, uint8_t, (size_t)N * in_sz);
            if (l->kind == LAYER_CONV) {
                size_t ckk = (size_t)l->c * l->k * l->k, hw = (size_t)l->oh * l->ow;
                size_t per = ckk * hw;                       /* im2col */
                if (training) per = 2 * ckk * hw + (size_t)l->oc * ckk + l->oc;
                per = align64(per * sizeof(float)) / sizeof(float);
                if (pass) l->scratch_per_thread = per;
                CARVE(l->scratch, float, per * (size_t)threads);
            }
        }
        if (training) {
            CARVE(net->dbuf[0], float, (size_t)N * maxact);
            CARVE(net->dbuf[1], float, (size_t)N * maxact);
        }
        /* fused blocks */
        size_t convmax = 0, kmax = 0, trsum = 0, trmax = 0, partmax = 0;
        for (int b = 0; b < net->nblocks; b++) {
            fblock *fb = &net->blocks[b];
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
                if (pass) fb->tr_off = trsum;
                trsum += (size_t)N * bo;
                if (bo > trmax) trmax = bo;
            }
        }
        if (net->nblocks) {
            CARVE(net->logits, float, (size_t)N * net->nclasses);
            CARVE(net->fcoef, float, 8 * kmax);
            CARVE(net->fpart, float, (size_t)N * partmax);
            if (trsum) CARVE(net->ftr, float, trsum);
            if (training) {
                CARVE(net->dconv, float, (size_t)N * convmax);
                if (trmax) CARVE(net->ftd, float, (size_t)N * trmax);
                CARVE(net->xpad, float, (size_t)N * net->in_c * net->in_h * net->in_w);
            }
        }
#undef CARVE
        if (!pass) {
            total = off;
            free(net->ws);
            net->ws = aligned_alloc(64, total ? total : 64);
            if (!net->ws) {
                net->max_batch = 0;
                return ferc_fail(err, FERC_ERR_NOMEM, "out of memory for a batch of %d (%zu MB)", N, total >> 20);
            }
        }
    }
    net->max_batch = N; net->ws_threads = threads; net->ws_training = training;
    if (training && net->fuse && net->nblocks) fused_prepare(net, N, threads);
    return FERC_OK;
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

/* Output of stage s of the fused schedule (x for s < 0); flatten is a view. */
static const float *stage_out(const ferc_net *net, int s, const float *x) {
    for (; s >= 0; s--) {
        const net_stage *st = &net->stages[s];
        const layer *l = &net->layers[st->last];
        if (st->block < 0 && l->kind == LAYER_FLATTEN) continue;
        return l->out;
    }
    return x;
}

/* Inference sub-batch: a few images at a time keep the conv maps in cache. */
#define INFER_CHUNK 64

static const float *forward_fused(ferc_net *net, const float *x, int N, const exec_ctx *ctx) {
    const float *in = x;
    for (int s = 0; s < net->nstages; s++) {
        const net_stage *st = &net->stages[s];
        double t0 = net->prof ? ferc_now() : 0;
        if (st->block >= 0) {
            in = fused_block_forward(net, st->block, in, s == 0, N, ctx);
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

const float *net_forward(ferc_net *net, const float *x, int N, const exec_ctx *ctx) {
    if (!net->fuse || !net->nblocks) return net_forward_layers(net, x, N, ctx);
    if (ctx->training || net->ws_training || N <= INFER_CHUNK || !net->logits) {
        if (!fused_ready(net, N, ctx, ctx->training)) return net_forward_layers(net, x, N, ctx);
        return forward_fused(net, x, N, ctx);
    }
    /* inference of a large batch (no backward can follow): in chunks */
    const size_t per = (size_t)net->in_c * net->in_h * net->in_w, K = (size_t)net->nclasses;
    for (int i = 0; i < N; i += INFER_CHUNK) {
        int n = N - i < INFER_CHUNK ? N - i : INFER_CHUNK;
        if (!fused_ready(net, n, ctx, 0)) return net_forward_layers(net, x, N, ctx);
        const float *z = forward_fused(net, x + (size_t)i * per, n, ctx);
        memcpy(net->logits + (size_t)i * K, z, sizeof(float) * (size_t)n * K);
    }
    return net->logits;
}

void net_backward(ferc_net *net, const float *x, const float *dlogits, float *dx, int N,
                  const exec_ctx *ctx) {
    if (!net->last_fused) { net_backward_layers(net, x, dlogits, dx, N, ctx); return; }
    if (!fused_ready(net, N, ctx, 1)) {
        /* only in eval mode (training primitives always have their backward):
         * the layer-by-layer forward has no side effects there */
        net_forward_layers(net, x, N, ctx);
        net_backward_layers(net, x, dlogits, dx, N, ctx);
        return;
    }
    memset(net->grads, 0, sizeof(float) * net->nparams);
    const float *dout = dlogits;
    int cur = -1;   /* which dbuf holds dout (-1: neither) */
    for (int s = net->nstages - 1; s >= 0; s--) {
        const net_stage *st = &net->stages[s];
        layer *l = &net->layers[st->first];
        if (st->block < 0 && l->kind == LAYER_FLATTEN) {   /* a view: pass dout through */
            if (s == 0 && dx) memcpy(dx, dout, sizeof(float) * (size_t)N * l->c * l->h * l->w);
            continue;
        }
        const float *in = stage_out(net, s - 1, x);
        float *din = s > 0 ? net->dbuf[cur == 0 ? 1 : 0] : dx;
        double t0 = net->prof ? ferc_now() : 0;
        if (st->block >= 0) fused_block_backward(net, st->block, in, dout, din, N, ctx);
        else l->ops->backward(l, in, dout, din, N, ctx);
        if (net->prof) net->prof[4 * s + 1] += ferc_now() - t0;
        dout = din;
        cur = din == net->dbuf[0] ? 0 : 1;
    }
}

double net_flops(const ferc_net *net) {
    double f = 0;
    for (int i = 0; i < net->nlayers; i++) {
        const layer *l = &net->layers[i];
        if (l->kind == LAYER_CONV || l->kind == LAYER_DENSE)
            f += 2.0 * (double)(l->nparam - (size_t)l->oc) * l->oh * l->ow;
    }
    return f;
}
