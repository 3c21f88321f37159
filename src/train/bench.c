/* bench.c — the measuring loop behind `ferc bench`: training steps
 * (forward, softmax cross-entropy, backward, Adam) or inference through
 * ferc_model_predict, on random data of FER shape, timed the way
 * ../shared/bench/torch_peer.py times PyTorch. Nothing is allocated inside
 * the timed loop. */
#include "train/train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ferc_status bench_run(const char *arch, int train, int batch, int threads, int images, int warmup,
                      uint64_t seed, int bf16, int profile, bench_result *res, ferc_error *err) {
    memset(res, 0, sizeof *res);
    if (batch <= 0 || images <= 0 || warmup < 0)
        return ferc_fail(err, FERC_ERR_ARG, "bench: batch, images must be positive and warmup >= 0");
    ferc_model *m;
    ferc_status st = ferc_model_create(arch, seed, &m, err);
    if (st != FERC_OK) return st;
    ferc_net *net = &m->net;
    net_set_bf16(net, bf16);
    threads = ferc_threads(threads);
    const int S = m->input_size, K = net->nclasses;
    const size_t per = (size_t)S * S;
    const int nb = images / batch > 0 ? images / batch : 1;
    float *x = malloc(sizeof(float) * per * (size_t)nb * batch);
    int *y = malloc(sizeof(int) * (size_t)nb * batch);
    float *dz = malloc(sizeof(float) * (size_t)batch * K);
    float *probs = malloc(sizeof(float) * (size_t)batch * K);
    double *prof = profile ? calloc(4 * (size_t)(net->nstages + 1), sizeof(double)) : NULL;
    optim_state opt;
    memset(&opt, 0, sizeof opt);
    if (!x || !y || !dz || !probs || (profile && !prof)) { st = ferc_fail(err, FERC_ERR_NOMEM, "bench: out of memory"); goto done; }
    ferc_rng rng;
    ferc_rng_seed(&rng, seed);
    /* inputs ~ N(0,1) as torch.randn; labels uniform over the classes */
    for (size_t i = 0; i < per * (size_t)nb * batch; i++) x[i] = ferc_rng_normal(&rng);
    for (int i = 0; i < nb * batch; i++) y[i] = (int)(ferc_rng_next(&rng) % (uint64_t)K);

    if (train) {
        ferc_train_opts o;
        ferc_train_opts_default(&o);
        if ((st = optim_init(&opt, &o, net->nparams, err)) != FERC_OK) goto done;
        if ((st = net_reserve(net, batch, 1, threads, err)) != FERC_OK) goto done;
        double t0 = 0;
        for (int i = -warmup; i < nb; i++) {
            if (i == 0) { t0 = ferc_now(); net->prof = prof; }
            int b = (i % nb + nb) % nb;
            const float *xb = x + per * (size_t)b * batch;
            exec_ctx ctx = {threads, 1, ferc_rng_next(&rng)};
            const float *z = net_forward(net, xb, batch, &ctx);
            double t1 = prof ? ferc_now() : 0;
            softmax_xent(z, y + (size_t)b * batch, NULL, NULL, batch, K, dz, NULL);
            double t2 = prof ? ferc_now() : 0;
            net_backward(net, xb, dz, NULL, batch, &ctx);
            double t3 = prof ? ferc_now() : 0;
            optim_step(&opt, net, threads);
            if (prof && i >= 0) { res->loss_s += t2 - t1; res->optim_s += ferc_now() - t3; }
        }
        res->seconds = ferc_now() - t0;
    } else {
        if ((st = net_reserve(net, batch, 0, threads, err)) != FERC_OK) goto done;
        double t0 = 0;
        for (int i = -warmup; i < nb; i++) {
            if (i == 0) { t0 = ferc_now(); net->prof = prof; }
            int b = (i % nb + nb) % nb;
            if ((st = ferc_model_predict(m, x + per * (size_t)b * batch, batch, probs, threads, err)) != FERC_OK)
                goto done;
        }
        res->seconds = ferc_now() - t0;
    }
    net->prof = NULL;
    res->images = nb * batch;
    if (prof) {
        res->nstages = net->nstages < BENCH_MAX_STAGES ? net->nstages : BENCH_MAX_STAGES;
        for (int s = 0; s < res->nstages; s++) {
            const net_stage *sg = &net->stages[s];
            char *nm = res->stage_name[s];
            nm[0] = 0;
            for (int l = sg->first; l <= sg->last; l++) {
                const layer *ly = &net->layers[l];
                char w[24];
                if (ly->kind == LAYER_CONV || ly->kind == LAYER_DENSE) snprintf(w, sizeof w, "%s%d", ly->ops->name, ly->oc);
                else snprintf(w, sizeof w, "%s", ly->ops->name);
                size_t len = strlen(nm);
                if (len + strlen(w) + 2 < sizeof res->stage_name[s]) snprintf(nm + len, sizeof res->stage_name[s] - len, "%s%s", len ? "+" : "", w);
            }
            res->stage_fwd[s] = prof[4 * s];
            res->stage_bwd[s] = prof[4 * s + 1];
            res->conv_fwd[s] = prof[4 * s + 2];
            res->conv_bwd[s] = prof[4 * s + 3];
            if (sg->block >= 0 && !net->blocks[sg->block].direct) {
                const layer *lc = &net->layers[net->blocks[sg->block].conv];
                double f = 2.0 * (double)(lc->nparam - (size_t)lc->oc) * lc->oh * lc->ow;
                res->conv_flops_fwd[s] = f;
                res->conv_flops_bwd[s] = sg->first > 0 ? 2 * f : f;   /* data gradient unless first */
            }
        }
    }
    res->fwd_flops = net_flops(net);
    res->params = net->nparams;
    res->fused = net->last_fused;
    snprintf(res->note, sizeof res->note, "%s", net->fuse_msg);
    st = FERC_OK;
done:
    optim_free(&opt);
    if (m) m->net.prof = NULL;
    free(x); free(y); free(dz); free(probs); free(prof);
    ferc_model_free(m);
    return st;
}
