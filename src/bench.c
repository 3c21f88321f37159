/* bench.c — the measuring loop behind `ferc bench`: training steps
 * (forward, softmax cross-entropy, backward, Adam) or inference through
 * ferc_model_predict, on random data of FER shape, timed the way
 * ../shared/bench/torch_peer.py times PyTorch. Nothing is allocated inside
 * the timed loop. */
#include "net.h"
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ferc_status bench_run(const char *arch, int train, int batch, int threads, int images, int warmup,
                      uint64_t seed, bench_result *res, ferc_error *err) {
    memset(res, 0, sizeof *res);
    if (batch <= 0 || images <= 0 || warmup < 0)
        return ferc_fail(err, FERC_ERR_ARG, "bench: batch, images must be positive and warmup >= 0");
    ferc_model *m;
    ferc_status st = ferc_model_create(arch, seed, &m, err);
    if (st != FERC_OK) return st;
    ferc_net *net = &m->net;
    threads = ferc_threads(threads);
    const int S = m->input_size, K = net->nclasses;
    const size_t per = (size_t)S * S;
    const int nb = images / batch > 0 ? images / batch : 1;
    float *x = malloc(sizeof(float) * per * (size_t)nb * batch);
    int *y = malloc(sizeof(int) * (size_t)nb * batch);
    float *dz = malloc(sizeof(float) * (size_t)batch * K);
    float *probs = malloc(sizeof(float) * (size_t)batch * K);
    optim_state opt;
    memset(&opt, 0, sizeof opt);
    if (!x || !y || !dz || !probs) { st = ferc_fail(err, FERC_ERR_NOMEM, "bench: out of memory"); goto done; }
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
            if (i == 0) t0 = ferc_now();
            int b = (i % nb + nb) % nb;
            const float *xb = x + per * (size_t)b * batch;
            exec_ctx ctx = {threads, 1, ferc_rng_next(&rng)};
            const float *z = net_forward(net, xb, batch, &ctx);
            softmax_xent(z, y + (size_t)b * batch, NULL, NULL, batch, K, dz, NULL);
            net_backward(net, xb, dz, NULL, batch, &ctx);
            optim_step(&opt, net, threads);
        }
        res->seconds = ferc_now() - t0;
    } else {
        if ((st = net_reserve(net, batch, 0, threads, err)) != FERC_OK) goto done;
        double t0 = 0;
        for (int i = -warmup; i < nb; i++) {
            if (i == 0) t0 = ferc_now();
            int b = (i % nb + nb) % nb;
            if ((st = ferc_model_predict(m, x + per * (size_t)b * batch, batch, probs, threads, err)) != FERC_OK)
                goto done;
        }
        res->seconds = ferc_now() - t0;
    }
    res->images = nb * batch;
    res->fwd_flops = net_flops(net);
    res->params = net->nparams;
    res->fused = net->last_fused;
    snprintf(res->note, sizeof res->note, "%s", net->fuse_msg);
    st = FERC_OK;
done:
    optim_free(&opt);
    free(x); free(y); free(dz); free(probs);
    ferc_model_free(m);
    return st;
}
