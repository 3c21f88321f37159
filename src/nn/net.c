/* net.c — builds a network from a spec string, owns its parameter, gradient
 * and workspace blocks (one allocation each), and hands the passes to the
 * executor it picked at build time (nn/exec.h: fused blocks when the net has
 * them, else layer by layer), without knowing how that executor works. */
#include "nn/exec.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const layer_ops conv_ops, bn_ops, relu_ops, pool_ops, drop_ops, flat_ops, dense_ops, gap_ops,
    res_ops;

static int parse_word(const char *w, layer *l, ferc_error *err, int pos) {
    char *end;
    memset(l, 0, sizeof *l);
    if (strncmp(w, "conv", 4) == 0 && isdigit((unsigned char)w[4])) {
        long k = strtol(w + 4, &end, 10);
        l->kind = LAYER_CONV; l->ops = &conv_ops; l->oc = (int)k; l->k = 3; l->pad = 1; l->stride = 1;
        if (*end == 'k') { l->k = (int)strtol(end + 1, &end, 10); l->pad = l->k / 2; }
        if (*end == 's' && isdigit((unsigned char)end[1])) l->stride = (int)strtol(end + 1, &end, 10);
        if (*end || k <= 0 || k > 65536 || l->k <= 0 || l->k > 15 || l->stride < 1 || l->stride > 8) goto bad;
    } else if (strncmp(w, "res", 3) == 0 && isdigit((unsigned char)w[3])) {
        long k = strtol(w + 3, &end, 10);
        l->kind = LAYER_RES; l->ops = &res_ops; l->oc = (int)k; l->stride = 1;
        if (*end == 's' && isdigit((unsigned char)end[1])) l->stride = (int)strtol(end + 1, &end, 10);
        if (*end || k <= 0 || k > 65536 || l->stride < 1 || l->stride > 8) goto bad;
    } else if (strcmp(w, "gap") == 0) {
        l->kind = LAYER_GAP; l->ops = &gap_ops;
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
              "(conv<N>[k<K>][s<S>], res<N>[s<S>], bn, relu, pool, drop<P>, flatten, gap, dense<N>)", pos, w);
    return 0;
}

/* The next word of the spec into word (cap bytes): its length, 0 at the
 * end, -1 when it does not fit. */
static int next_word(const char **p, char *word, size_t cap) {
    const char *q = *p;
    while (*q == ' ' || *q == '\t' || *q == '\n' || *q == ',') q++;
    size_t n = 0;
    while (q[n] && q[n] != ' ' && q[n] != '\t' && q[n] != '\n' && q[n] != ',') n++;
    if (n >= cap) return -1;
    memcpy(word, q, n); word[n] = 0;
    *p = q + n;
    return (int)n;
}

/* Limits on what a spec may describe, checked while it is shaped (a spec
 * comes from the command line or from a model file, so it is hostile
 * input): one image's activations of a layer, and the whole parameter
 * block. Both are far above any network that trains on a CPU, and low
 * enough that every product below fits in int and size_t. */
#define NET_MAX_ACTIVATIONS (1L << 28)   /* floats per image per layer (1 GB) */
#define NET_MAX_PARAMS ((size_t)1 << 31) /* floats in the parameter block (8 GB) */

/* c * h * w as a long, or -1 when it is over NET_MAX_ACTIVATIONS. */
static long map_size(long c, long h, long w) {
    long ch, chw;
    if (__builtin_mul_overflow(c, h, &ch) || __builtin_mul_overflow(ch, w, &chw) || chw > NET_MAX_ACTIVATIONS)
        return -1;
    return chw;
}

/* The weights of a layer with fan_in inputs per output and oc outputs
 * (plus oc biases), or 0 when that is over NET_MAX_PARAMS. */
static size_t weight_count(size_t fan_in, size_t oc) {
    size_t n;
    if (__builtin_mul_overflow(fan_in, oc, &n) || __builtin_add_overflow(n, oc, &n) || n > NET_MAX_PARAMS) return 0;
    return n;
}

/* Output shape and parameter counts of l, whose input shape is set; *flat
 * says a flatten came before. */
static ferc_status layer_shape(layer *l, int *flat, const char *word, ferc_error *err) {
    const int c = l->c, h = l->h, w = l->w;
    l->oc = l->oc ? l->oc : c; l->oh = h; l->ow = w;
    switch (l->kind) {
    case LAYER_CONV:
        if (*flat) goto after_flatten;
        if (h + 2 * l->pad < l->k || w + 2 * l->pad < l->k) { l->oh = 0; break; }
        l->oh = (h + 2 * l->pad - l->k) / l->stride + 1; l->ow = (w + 2 * l->pad - l->k) / l->stride + 1;
        if (!(l->nparam = weight_count((size_t)c * (size_t)l->k * (size_t)l->k, (size_t)l->oc))) goto too_big;
        break;
    case LAYER_RES:
        if (*flat) goto after_flatten;
        if (weight_count((size_t)9 * c, (size_t)l->oc) == 0 || weight_count((size_t)9 * l->oc, (size_t)l->oc) == 0)
            goto too_big;
        if (!res_build(l)) return ferc_fail(err, FERC_ERR_NOMEM, "out of memory");
        break;
    case LAYER_GAP:   /* like flatten, dense layers may follow */
        if (*flat) goto after_flatten;
        l->oh = 1; l->ow = 1; *flat = 1;
        break;
    case LAYER_BN:   /* after flatten: per-feature batch norm on (N, C, 1, 1) */
        l->nparam = 2 * (size_t)c; l->nstate = 2 * (size_t)c;
        break;
    case LAYER_MAXPOOL:
        if (*flat) goto after_flatten;
        if (h < 2 || w < 2) return ferc_fail(err, FERC_ERR_ARG, "architecture spec: pool on a %dx%d map", h, w);
        l->oh = h / 2; l->ow = w / 2;
        break;
    case LAYER_FLATTEN: {
        long n = map_size(c, h, w);
        if (n < 0) goto too_big;
        l->oc = (int)n; l->oh = 1; l->ow = 1; *flat = 1;
        break;
    }
    case LAYER_DENSE:
        if (!*flat) return ferc_fail(err, FERC_ERR_ARG, "architecture spec: dense before flatten or gap");
        l->oh = 1; l->ow = 1;
        if (map_size(c, h, w) < 0 || !(l->nparam = weight_count((size_t)c * h * w, (size_t)l->oc))) goto too_big;
        break;
    default: break;
    }
    if (l->oh <= 0 || l->ow <= 0)
        return ferc_fail(err, FERC_ERR_ARG, "architecture spec: layer %d shrinks the map to nothing", l->index + 1);
    if (map_size(l->oc, l->oh, l->ow) < 0) goto too_big;
    return FERC_OK;
after_flatten:
    return ferc_fail(err, FERC_ERR_ARG, "architecture spec: '%s' after flatten", word);
too_big:
    return ferc_fail(err, FERC_ERR_LIMIT, "architecture spec: layer %d '%s' is too large (over %ld activations "
                     "per image or %zu parameters)", l->index + 1, word, NET_MAX_ACTIVATIONS, NET_MAX_PARAMS);
}

/* The layers of the spec, each shaped by the one before. */
static ferc_status parse_layers(ferc_net *net, const char *spec, ferc_error *err) {
    int cap = 8, c = net->in_c, h = net->in_h, w = net->in_w, flat = 0, n;
    net->layers = calloc((size_t)cap, sizeof(layer));
    if (!net->layers) return ferc_fail(err, FERC_ERR_NOMEM, "out of memory");
    const char *p = spec;
    char word[64];
    while ((n = next_word(&p, word, sizeof word)) != 0) {
        if (n < 0) return ferc_fail(err, FERC_ERR_ARG, "architecture spec: word too long");
        if (net->nlayers == cap) {
            cap *= 2;
            layer *nl = realloc(net->layers, sizeof(layer) * (size_t)cap);
            if (!nl) return ferc_fail(err, FERC_ERR_NOMEM, "out of memory");
            net->layers = nl;
        }
        layer *l = &net->layers[net->nlayers];
        if (!parse_word(word, l, err, net->nlayers + 1)) return FERC_ERR_ARG;
        l->index = net->nlayers;
        l->c = c; l->h = h; l->w = w;
        ferc_status st = layer_shape(l, &flat, word, err);
        if (st != FERC_OK) { free(l->sub); l->sub = NULL; return st; }   /* a res block's sub-layers */
        c = l->oc; h = l->oh; w = l->ow;
        net->nparams += l->nparam;
        net->nstate += l->nstate;
        net->nlayers++;
        if (net->nparams > NET_MAX_PARAMS)   /* each term is below it: the sum cannot wrap first */
            return ferc_fail(err, FERC_ERR_LIMIT, "architecture spec: over %zu parameters", NET_MAX_PARAMS);
    }
    if (net->nlayers == 0 || net->layers[net->nlayers - 1].kind != LAYER_DENSE)
        return ferc_fail(err, FERC_ERR_ARG, "architecture spec: must end with a dense layer");
    return FERC_OK;
}

/* The two named tensors (weight and bias, or gamma and beta) of a conv,
 * dense or bn layer at offset po, named "<i>.<nm>.weight" etc. */
static void name_tensors(ferc_net *net, const layer *l, size_t po, int i, const char *nm) {
    size_t nb = (l->kind == LAYER_BN) ? (size_t)l->c : (size_t)l->oc;
    param_tensor *a = &net->tensors[net->ntensors++], *b = &net->tensors[net->ntensors++];
    snprintf(a->name, sizeof a->name, "%d.%s.%s", i, nm, l->kind == LAYER_BN ? "gamma" : "weight");
    snprintf(b->name, sizeof b->name, "%d.%s.%s", i, nm, l->kind == LAYER_BN ? "beta" : "bias");
    a->offset = po; a->size = l->nparam - nb; a->decay = l->kind != LAYER_BN;
    b->offset = po + a->size; b->size = nb; b->decay = 0;
}

/* A res block's sub-layers: views into its own slice, tensors named
 * "<i>.res.conv1.weight" ... "<i>.res.sc_bn.beta". */
static void place_res(ferc_net *net, layer *l, size_t po, size_t so, int i) {
    static const char *const nm[6] = {"res.conv1", "res.bn1", "res.conv2", "res.bn2", "res.sc_conv", "res.sc_bn"};
    for (int j = 0; j < l->nsub; j++) {
        layer *s = &l->sub[j];
        s->param = net->params + po; s->grad = net->grads + po; s->state = net->state + so;
        name_tensors(net, s, po, i, nm[j]);
        po += s->nparam; so += s->nstate;
    }
}

/* Each layer's views into the parameter and state blocks, and the named
 * tensors of the layers that train. */
static void place_params(ferc_net *net) {
    size_t po = 0, so = 0;
    for (int i = 0; i < net->nlayers; i++) {
        layer *l = &net->layers[i];
        l->param = net->params + po; l->grad = net->grads + po; l->state = net->state + so;
        if (l->kind == LAYER_CONV || l->kind == LAYER_DENSE || l->kind == LAYER_BN)
            name_tensors(net, l, po, i, l->kind == LAYER_CONV ? "conv" : l->kind == LAYER_DENSE ? "dense" : "bn");
        if (l->kind == LAYER_RES) place_res(net, l, po, so, i);
        po += l->nparam; so += l->nstate;
    }
}

static void free_layers(layer *ls, int n) {
    for (int i = 0; ls && i < n; i++) {
        for (int j = 0; j < ls[i].nsub; j++) dconv_free(ls[i].sub[j].dnn);
        free(ls[i].sub);
    }
    free(ls);
}

/* What the spec implies without allocating its blocks: a model file's
 * loader compares it with the file's size before it trusts the spec. */
ferc_status net_count(const char *spec, int in_c, int in_h, int in_w, size_t *nparams, size_t *nstate,
                      ferc_error *err) {
    ferc_net net = {.in_c = in_c, .in_h = in_h, .in_w = in_w};
    ferc_status st = parse_layers(&net, spec, err);
    *nparams = net.nparams; *nstate = net.nstate;
    free_layers(net.layers, net.nlayers);
    return st;
}

/* The executors in order of preference: the first whose plan accepts the
 * net runs it (exec_layers accepts every net). */
static const net_executor *const executors[] = {&exec_fused, &exec_layers};

ferc_status net_build(ferc_net *net, const char *spec, int in_c, int in_h, int in_w,
                      ferc_error *err) {
    memset(net, 0, sizeof *net);
    net->in_c = in_c; net->in_h = in_h; net->in_w = in_w;
    ferc_status st = parse_layers(net, spec, err);
    if (st != FERC_OK) { net_free(net); return st; }
    net->nclasses = net->layers[net->nlayers - 1].oc;
    net->params = calloc(net->nparams, sizeof(float));
    net->grads = calloc(net->nparams, sizeof(float));
    net->state = calloc(net->nstate ? net->nstate : 1, sizeof(float));
    size_t ntens = 0;   /* two per layer, and two per sub-layer of a res block */
    for (int i = 0; i < net->nlayers; i++) ntens += 2 + 2 * (size_t)net->layers[i].nsub;
    net->tensors = calloc(ntens, sizeof(param_tensor));
    net->stages = calloc((size_t)net->nlayers, sizeof(net_stage));
    if (!net->params || !net->grads || !net->state || !net->tensors || !net->stages)
        { net_free(net); return ferc_fail(err, FERC_ERR_NOMEM, "out of memory for %zu parameters", net->nparams); }
    place_params(net);
    net->fuse = 1;
    for (size_t i = 0; i < sizeof executors / sizeof *executors && !net->exec; i++)
        if (executors[i]->plan(net)) net->exec = executors[i];
    return FERC_OK;
}

void net_free(ferc_net *net) {
    if (net->exec && net->exec->release) net->exec->release(net);
    free(net->stages);
    free_layers(net->layers, net->nlayers); free(net->params); free(net->grads); free(net->state);
    free(net->tensors); free(net->ws);
    memset(net, 0, sizeof *net);
}

/* Glorot uniform: w ~ U(-a, a), a = sqrt(6 / (fan_in + fan_out)). */
static void init_layer(layer *l, ferc_rng *rng) {
    if (l->kind == LAYER_RES)   /* its sub-layers in parameter order */
        for (int j = 0; j < l->nsub; j++) init_layer(&l->sub[j], rng);
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

void net_init(ferc_net *net, ferc_rng *rng) {
    for (int i = 0; i < net->nlayers; i++) init_layer(&net->layers[i], rng);
}

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

/* A layer's buffers for N images: output, BN statistics, pooling argmax,
 * dropout mask, conv scratch per thread. */
static void carve_layer(layer *l, ws_carver *c, int N, int training, int threads) {
    size_t in_sz = (size_t)l->c * l->h * l->w, out_sz = (size_t)l->oc * l->oh * l->ow;
    l->out = ws_take(c, sizeof(float) * (size_t)N * out_sz);
    if (l->kind == LAYER_BN) l->stat = ws_take(c, sizeof(float) * 2 * (size_t)l->c);
    if (l->kind == LAYER_MAXPOOL) l->idx = ws_take(c, sizeof(int32_t) * (size_t)N * out_sz);
    if (l->kind == LAYER_DROPOUT && training) l->mask = ws_take(c, sizeof(uint8_t) * (size_t)N * in_sz);
    if (l->kind == LAYER_CONV) {
        size_t ckk = (size_t)l->c * l->k * l->k, hw = (size_t)l->oh * l->ow;
        size_t per = ckk * hw;                       /* im2col */
        if (training) per = 2 * ckk * hw + (size_t)l->oc * ckk + l->oc;
        per = align64(per * sizeof(float)) / sizeof(float);
        l->scratch_per_thread = per;
        l->scratch = ws_take(c, sizeof(float) * per * (size_t)threads);
    }
    if (l->kind == LAYER_RES) {   /* its sub-layers' buffers, and three gradient buffers */
        for (int j = 0; j < l->nsub; j++) { carve_layer(&l->sub[j], c, N, training, threads); l->sub[j].ws_batch = N; }
        size_t g = (in_sz > out_sz ? in_sz : out_sz) * (size_t)N;
        for (int j = 0; j < 3; j++) l->rg[j] = training ? ws_take(c, sizeof(float) * g) : NULL;
    }
}

/* The whole workspace: the layers' buffers, the gradient ping-pong pair,
 * then the executor's own. */
static void layout(ferc_net *net, ws_carver *c, int N, int training, int threads) {
    size_t maxact = (size_t)net->in_c * net->in_h * net->in_w;
    for (int i = 0; i < net->nlayers; i++) {
        layer *l = &net->layers[i];
        size_t out_sz = (size_t)l->oc * l->oh * l->ow;
        if (out_sz > maxact) maxact = out_sz;
        carve_layer(l, c, N, training, threads);
    }
    if (training) {
        net->dbuf[0] = ws_take(c, sizeof(float) * (size_t)N * maxact);
        net->dbuf[1] = ws_take(c, sizeof(float) * (size_t)N * maxact);
    }
    if (net->exec->workspace) net->exec->workspace(net, c, N, training);
}

ferc_status net_reserve(ferc_net *net, int N, int training, int threads, ferc_error *err) {
    threads = ferc_threads(threads);
    if (N <= net->max_batch && threads <= net->ws_threads && (!training || net->ws_training))
        return FERC_OK;
    if (N < net->max_batch) N = net->max_batch;
    if (threads < net->ws_threads) threads = net->ws_threads;
    training = training || net->ws_training;
    ws_carver c = {.base = NULL, .off = 0};   /* measure, then carve */
    layout(net, &c, N, training, threads);
    size_t total = c.off;
    free(net->ws);
    net->ws = aligned_alloc(64, total ? total : 64);
    if (!net->ws) {
        net->max_batch = 0;
        return ferc_fail(err, FERC_ERR_NOMEM, "out of memory for a batch of %d (%zu MB)", N, total >> 20);
    }
    c = (ws_carver){.base = net->ws, .off = 0};
    layout(net, &c, N, training, threads);
    net->max_batch = N; net->ws_threads = threads; net->ws_training = training;
    if (net->exec->prepare) net->exec->prepare(net, N, threads, training);
    return FERC_OK;
}

const float *net_forward(ferc_net *net, const float *x, int N, const exec_ctx *ctx) {
    return net->exec->forward(net, x, N, ctx);
}

void net_backward(ferc_net *net, const float *x, const float *dlogits, float *dx, int N,
                  const exec_ctx *ctx) {
    net->exec->backward(net, x, dlogits, dx, N, ctx);
}

void net_set_bf16(ferc_net *net, int on) {
    if (net->exec && net->exec->set_bf16) net->exec->set_bf16(net, on);
}

static double layer_flops(const layer *l) {
    double f = 0;
    if (l->kind == LAYER_CONV || l->kind == LAYER_DENSE)
        f += 2.0 * (double)(l->nparam - (size_t)l->oc) * l->oh * l->ow;
    for (int j = 0; j < l->nsub; j++) f += layer_flops(&l->sub[j]);
    return f;
}

double net_flops(const ferc_net *net) {
    double f = 0;
    for (int i = 0; i < net->nlayers; i++) f += layer_flops(&net->layers[i]);
    return f;
}
