/* bench.c — the measuring loop behind `ferc bench`: training steps
 * (forward, softmax cross-entropy, backward, Adam) or inference through
 * ferc_model_predict, on random data of FER shape, timed the way
 * ../shared/bench/torch_peer.py times PyTorch. Nothing is allocated inside
 * the timed loop. */
#include "train/train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One benchmark: the model, its random inputs and labels, and the buffers of
 * a pass; zeroed, a state bench_free can release. */
typedef struct {
    ferc_model *m;
    ferc_net *net;
    int batch, threads, warmup;
    int nb;                    /* timed batches */
    size_t per;                /* floats per image */
    float *x;                  /* (nb * batch, S, S) inputs */
    int *y;                    /* (nb * batch) labels */
    float *dz, *probs;         /* (batch, K) */
    double *prof;              /* with profile: 4 per stage of the fused schedule */
    optim_state opt;
    ferc_rng rng;              /* data, then dropout seeds */
} bench_state;

/* The buffers, and inputs ~ N(0,1) as torch.randn with labels uniform over
 * the classes. */
static ferc_status bench_alloc(bench_state *b, int images, int profile, uint64_t seed, ferc_error *err) {
    const ferc_net *net = b->net;
    const int S = b->m->input_size, K = net->nclasses, batch = b->batch;
    b->per = (size_t)S * S;
    b->nb = images / batch > 0 ? images / batch : 1;
    const size_t n = (size_t)b->nb * batch;
    b->x = malloc(sizeof(float) * b->per * n);
    b->y = malloc(sizeof(int) * n);
    b->dz = malloc(sizeof(float) * (size_t)batch * K);
    b->probs = malloc(sizeof(float) * (size_t)batch * K);
    b->prof = profile ? calloc(4 * (size_t)(net->nstages + 1), sizeof(double)) : NULL;
    if (!b->x || !b->y || !b->dz || !b->probs || (profile && !b->prof))
        return ferc_fail(err, FERC_ERR_NOMEM, "bench: out of memory");
    ferc_rng_seed(&b->rng, seed);
    for (size_t i = 0; i < b->per * n; i++) b->x[i] = ferc_rng_normal(&b->rng);
    for (size_t i = 0; i < n; i++) b->y[i] = (int)(ferc_rng_next(&b->rng) % (uint64_t)K);
    return FERC_OK;
}

/* Training steps: `warmup` untimed, then nb timed (with the loss and the
 * optimiser step timed apart when profiling). */
static ferc_status time_training(bench_state *b, ferc_bench_result *res, ferc_error *err) {
    ferc_net *net = b->net;
    const int batch = b->batch, nb = b->nb, K = net->nclasses;
    ferc_train_opts o;
    ferc_train_opts_default(&o);
    ferc_status st;
    if ((st = optim_init(&b->opt, &o, net->nparams, err)) != FERC_OK) return st;
    if ((st = net_reserve(net, batch, 1, b->threads, err)) != FERC_OK) return st;
    double t0 = 0;
    for (int i = -b->warmup; i < nb; i++) {
        if (i == 0) { t0 = ferc_now(); net->prof = b->prof; }
        int bi = (i % nb + nb) % nb;
        const float *xb = b->x + b->per * (size_t)bi * batch;
        exec_ctx ctx = {.threads = b->threads, .training = 1, .step_seed = ferc_rng_next(&b->rng)};
        const float *z = net_forward(net, xb, batch, &ctx);
        double t1 = b->prof ? ferc_now() : 0;
        softmax_xent(z, b->y + (size_t)bi * batch, NULL, NULL, batch, K, b->dz, NULL);
        double t2 = b->prof ? ferc_now() : 0;
        net_backward(net, xb, b->dz, NULL, batch, &ctx);
        double t3 = b->prof ? ferc_now() : 0;
        optim_step(&b->opt, net, b->threads);
        if (b->prof && i >= 0) { res->loss_s += t2 - t1; res->optim_s += ferc_now() - t3; }
    }
    res->seconds = ferc_now() - t0;
    return FERC_OK;
}

/* Inference through ferc_model_predict: `warmup` untimed batches, nb timed. */
static ferc_status time_inference(bench_state *b, ferc_bench_result *res, ferc_error *err) {
    const int batch = b->batch, nb = b->nb;
    ferc_status st;
    if ((st = net_reserve(b->net, batch, 0, b->threads, err)) != FERC_OK) return st;
    double t0 = 0;
    for (int i = -b->warmup; i < nb; i++) {
        if (i == 0) { t0 = ferc_now(); b->net->prof = b->prof; }
        int bi = (i % nb + nb) % nb;
        if ((st = ferc_model_predict(b->m, b->x + b->per * (size_t)bi * batch, batch, b->probs, b->threads, err)) != FERC_OK)
            return st;
    }
    res->seconds = ferc_now() - t0;
    return FERC_OK;
}

/* "conv64+bn+relu+pool": the layers of a stage, as far as they fit in cap. */
static void stage_name(const ferc_net *net, const net_stage *sg, char *nm, size_t cap) {
    nm[0] = 0;
    for (int l = sg->first; l <= sg->last; l++) {
        const layer *ly = &net->layers[l];
        char w[24];
        if (ly->kind == LAYER_CONV || ly->kind == LAYER_DENSE || ly->kind == LAYER_RES)
            snprintf(w, sizeof w, "%s%d", ly->ops->name, ly->oc);
        else snprintf(w, sizeof w, "%s", ly->ops->name);
        size_t len = strlen(nm);
        if (len + strlen(w) + 2 < cap) snprintf(nm + len, cap - len, "%s%s", len ? "+" : "", w);
    }
}

/* Seconds per stage of the executor's schedule from the profile counters,
 * and the FLOPs per image of the oneDNN convolution a stage runs, if any. */
static void profile_stages(const ferc_net *net, const double *prof, ferc_bench_result *res) {
    res->nstages = net->nstages < FERC_BENCH_MAX_STAGES ? net->nstages : FERC_BENCH_MAX_STAGES;
    for (int s = 0; s < res->nstages; s++) {
        const net_stage *sg = &net->stages[s];
        stage_name(net, sg, res->stage_name[s], sizeof res->stage_name[s]);
        res->stage_fwd[s] = prof[4 * s];
        res->stage_bwd[s] = prof[4 * s + 1];
        res->conv_fwd[s] = prof[4 * s + 2];
        res->conv_bwd[s] = prof[4 * s + 3];
        if (sg->conv_prim >= 0) {
            const layer *lc = &net->layers[sg->conv_prim];
            double f = 2.0 * (double)(lc->nparam - (size_t)lc->oc) * lc->oh * lc->ow;
            res->conv_flops_fwd[s] = f;
            res->conv_flops_bwd[s] = sg->first > 0 ? 2 * f : f;   /* data gradient unless first */
        }
    }
}

static void bench_free(bench_state *b) {
    optim_free(&b->opt);
    if (b->m) b->m->net.prof = NULL;
    free(b->x); free(b->y); free(b->dz); free(b->probs); free(b->prof);
    ferc_model_free(b->m);
}

ferc_status ferc_bench(const ferc_bench_opts *o, ferc_bench_result *res, ferc_error *err) {
    memset(res, 0, sizeof *res);
    const char *arch = o->arch;
    int train = o->train, batch = o->batch, threads = o->threads, images = o->images, warmup = o->warmup;
    uint64_t seed = o->seed;
    int bf16 = o->bf16, profile = o->profile;
    if (batch <= 0 || images <= 0 || warmup < 0)
        return ferc_fail(err, FERC_ERR_ARG, "bench: batch, images must be positive and warmup >= 0");
    bench_state b = {.batch = batch, .threads = ferc_threads(threads), .warmup = warmup};
    ferc_status st = ferc_model_create(arch, seed, &b.m, err);
    if (st != FERC_OK) return st;
    b.net = &b.m->net;
    net_set_bf16(b.net, bf16);
    if ((st = bench_alloc(&b, images, profile, seed, err)) == FERC_OK)
        st = train ? time_training(&b, res, err) : time_inference(&b, res, err);
    if (st == FERC_OK) {
        b.net->prof = NULL;
        res->images = b.nb * batch;
        if (b.prof) profile_stages(b.net, b.prof, res);
        res->fwd_flops = net_flops(b.net);
        res->params = b.net->nparams;
        res->fused = b.net->last_fused;
        snprintf(res->note, sizeof res->note, "%s", b.net->fuse_msg);
    }
    bench_free(&b);
    return st;
}
