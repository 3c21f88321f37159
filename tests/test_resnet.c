/* test_resnet.c — the residual blocks (`res<K>[s<S>]`), global average
 * pooling (`gap`) and strided convs (`conv<K>s<S>`) of issue 12: the spec
 * language (shapes, parameter counts, tensor names, errors), a whole small
 * residual net against PyTorch (tests/fixtures/gen_resnet.py: logits, loss,
 * every gradient, running statistics, and the logits after one SGD step),
 * the strided conv against the naive reference, and a save / load round
 * trip. Finite differences are in test_layers.c (fd_gap, fd_res_*), the
 * fused executor against the layer-by-layer one in test_fused.c
 * (fused_resnet_*). */
#include "fixture.h"
#include "model/model.h"
#include "train/train.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

static double rel_err(const float *a, const float *b, size_t n) {
    double mx = 0, mb = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= mx)) mx = d;
        if (fabs(b[i]) > mb) mb = fabs(b[i]);
    }
    return mx / (mb > 1e-3 ? mb : 1e-3);
}

TEST(resnet_spec_shapes) {
    ferc_net n;
    ferc_error err;
    CHECK_EQ_INT(net_build(&n, "conv16s2 bn relu res16 res32s2 res32 gap dense7", 1, 44, 44, &err), FERC_OK);
    if (test_failed_now()) return;
    CHECK_EQ_INT(n.layers[0].oh, 22);                        /* (44 + 2 - 3) / 2 + 1 */
    CHECK_EQ_INT(n.layers[3].nsub, 4);                       /* identity shortcut */
    CHECK_EQ_INT(n.layers[4].nsub, 6);                       /* projection: stride 2 and 16 -> 32 */
    CHECK_EQ_INT(n.layers[4].oh, 11);
    CHECK_EQ_INT(n.layers[5].nsub, 4);
    CHECK_EQ_INT(n.layers[6].oc, 32); CHECK_EQ_INT(n.layers[6].oh, 1);
    /* parameters: each conv has K*C*k*k + K, each bn 2C */
    size_t want = (16 * 9 + 16) + 32 + 2 * (16 * 16 * 9 + 16 + 32) +
                  (32 * 16 * 9 + 32 + 64) + (32 * 32 * 9 + 32 + 64) + (32 * 16 + 32 + 64) +
                  2 * (32 * 32 * 9 + 32 + 64) + (7 * 32 + 7);
    CHECK_EQ_INT(n.nparams, want);
    CHECK_EQ_INT(n.nstate, 32 + 2 * 32 + 3 * 64 + 2 * 64);   /* mean and var per BN channel */
    CHECK_EQ_INT(n.ntensors, 4 + 8 + 12 + 8 + 2);
    int found = 0;
    for (int t = 0; t < n.ntensors; t++) {
        if (strcmp(n.tensors[t].name, "4.res.sc_conv.weight") == 0) { found++; CHECK_EQ_INT(n.tensors[t].size, 32 * 16); }
        if (strcmp(n.tensors[t].name, "5.res.bn2.gamma") == 0) { found++; CHECK(!n.tensors[t].decay); }
    }
    CHECK_EQ_INT(found, 2);
    net_free(&n);
}

TEST(resnet_spec_errors) {
    const char *bad[] = {"res0 gap dense7", "res16s0 gap dense7", "res16x gap dense7", "conv16s9 gap dense7",
                         "flatten gap dense7", "res16 dense7", "gap res16 dense7", "conv8 gap", "res16s"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ferc_net n;
        ferc_error err = {0};
        CHECK_MSG(net_build(&n, bad[i], 1, 12, 12, &err) != FERC_OK, "'%s' was accepted", bad[i]);
        CHECK_MSG(err.msg[0] && !strchr(err.msg, '\n'), "'%s': no one-line message", bad[i]);
    }
}

/* A stride-2 conv (layer path) against the naive reference, forward and backward. */
TEST(conv_stride2_vs_reference) {
    const int N = 2, C = 3, H = 9, W = 8, K = 5;
    ferc_net n;
    ferc_error err;
    CHECK_EQ_INT(net_build(&n, "conv5s2 flatten dense7", C, H, W, &err), FERC_OK);
    if (test_failed_now()) return;
    n.fuse = 0;
    layer *l = &n.layers[0];
    CHECK_EQ_INT(l->oh, 5); CHECK_EQ_INT(l->ow, 4);
    ferc_rng r;
    ferc_rng_seed(&r, 3);
    for (size_t i = 0; i < n.nparams; i++) n.params[i] = ferc_rng_uniform(&r) - 0.5f;
    CHECK_EQ_INT(net_reserve(&n, N, 1, 2, &err), FERC_OK);
    size_t nin = (size_t)N * C * H * W, nout = (size_t)N * K * l->oh * l->ow, nw = (size_t)K * C * 9;
    float *x = malloc(4 * nin), *dy = malloc(4 * nout), *y = malloc(4 * nout), *dx = malloc(4 * nin),
          *rdx = malloc(4 * nin), *rdw = malloc(4 * nw), *rdb = malloc(4 * K);
    for (size_t i = 0; i < nin; i++) x[i] = ferc_rng_uniform(&r) - 0.5f;
    for (size_t i = 0; i < nout; i++) dy[i] = ferc_rng_uniform(&r) - 0.5f;
    exec_ctx ctx = {2, 1, 0};
    l->ops->forward(l, x, N, &ctx);
    ref_conv_forward_s(x, l->param, l->param + nw, y, N, C, H, W, K, 3, 1, 2);
    CHECK_MSG(rel_err(l->out, y, nout) < 1e-5, "forward %g", rel_err(l->out, y, nout));
    memset(n.grads, 0, 4 * n.nparams);
    l->ops->backward(l, x, dy, dx, N, &ctx);
    ref_conv_backward_s(x, l->param, dy, rdx, rdw, rdb, N, C, H, W, K, 3, 1, 2);
    CHECK_MSG(rel_err(dx, rdx, nin) < 1e-5, "dx %g", rel_err(dx, rdx, nin));
    CHECK_MSG(rel_err(l->grad, rdw, nw) < 1e-5, "dw %g", rel_err(l->grad, rdw, nw));
    CHECK_MSG(rel_err(l->grad + nw, rdb, K) < 1e-5, "db %g", rel_err(l->grad + nw, rdb, K));
    free(x); free(dy); free(y); free(dx); free(rdx); free(rdw); free(rdb);
    net_free(&n);
}

static const float *need(fx_file *f, const char *name, size_t n) {
    size_t got = 0;
    const float *p = fx_get(f, name, &got);
    CHECK_MSG(p && got == n, "fixture tensor %s: %zu elements, expected %zu", name, got, n);
    return p && got == n ? p : NULL;
}

/* Compares one training step of the net (fused or not) with PyTorch's. A
 * workspace larger than the batch runs the blocks' convs on the im2col path
 * (dnn_conv.c runs training passes of the workspace's batch only). */
static void torch_step(fx_file *f, int fuse, int reserve) {
    ferc_net n;
    ferc_error err;
    CHECK_EQ_INT(net_build(&n, "conv16 bn relu res16 res32s2 gap dense7", 1, 12, 12, &err), FERC_OK);
    if (test_failed_now()) return;
    if (!fuse) n.fuse = 0;
    for (int t = 0; t < n.ntensors; t++) {
        const float *p = need(f, n.tensors[t].name, n.tensors[t].size);
        if (p) memcpy(n.params + n.tensors[t].offset, p, 4 * n.tensors[t].size);
    }
    const float *x = need(f, "x", 4 * 144), *lab = need(f, "labels", 4), *s0 = need(f, "state0", n.nstate);
    const float *z1 = need(f, "logits", 28), *loss = need(f, "loss", 1), *fdx = need(f, "dx", 4 * 144);
    const float *s1 = need(f, "state1", n.nstate), *z2 = need(f, "logits2", 28), *s2 = need(f, "state2", n.nstate);
    if (test_failed_now()) { net_free(&n); return; }
    memcpy(n.state, s0, 4 * n.nstate);
    CHECK_EQ_INT(net_reserve(&n, reserve, 1, 2, &err), FERC_OK);
    int y[4] = {(int)lab[0], (int)lab[1], (int)lab[2], (int)lab[3]};
    exec_ctx ctx = {2, 1, 0};
    const float *z = net_forward(&n, x, 4, &ctx);
    CHECK_MSG(rel_err(z, z1, 28) < 1e-4, "fuse=%d logits %g", fuse, rel_err(z, z1, 28));
    CHECK_MSG(rel_err(n.state, s1, n.nstate) < 1e-4, "fuse=%d running stats %g", fuse, rel_err(n.state, s1, n.nstate));
    float dz[28], dx[4 * 144];
    CHECK_NEAR(softmax_xent(z, y, NULL, NULL, 4, 7, dz, NULL), loss[0], 1e-5);
    net_backward(&n, x, dz, dx, 4, &ctx);
    CHECK_MSG(rel_err(dx, fdx, 4 * 144) < 1e-4, "fuse=%d dx %g", fuse, rel_err(dx, fdx, 4 * 144));
    for (int t = 0; t < n.ntensors; t++) {
        char nm[48];
        snprintf(nm, sizeof nm, "%s.grad", n.tensors[t].name);
        const float *g = need(f, nm, n.tensors[t].size);
        /* conv biases before batch norm: gradient 0 up to rounding, compare absolutely */
        int bias_bn = strstr(nm, "bias.grad") && !strstr(nm, "dense");
        double e = g ? rel_err(n.grads + n.tensors[t].offset, g, n.tensors[t].size) : 1;
        CHECK_MSG(bias_bn ? e < 1e-2 : e < 1e-4, "fuse=%d %s %g", fuse, nm, e);
    }
    for (size_t i = 0; i < n.nparams; i++) n.params[i] -= 0.1f * n.grads[i];
    z = net_forward(&n, x, 4, &ctx);
    CHECK_MSG(rel_err(z, z2, 28) < 1e-4, "fuse=%d logits after a step %g", fuse, rel_err(z, z2, 28));
    CHECK_MSG(rel_err(n.state, s2, n.nstate) < 1e-4, "fuse=%d running stats after %g", fuse, rel_err(n.state, s2, n.nstate));
    net_free(&n);
}

TEST(torch_resnet_one_step) {
    fx_file *f = fx_open(test_fixture("resnet.fxt"));
    CHECK_MSG(f != NULL, "cannot open fixture resnet.fxt");
    if (!f) return;
    torch_step(f, 0, 4);
    torch_step(f, 1, 4);
    torch_step(f, 1, 6);
    fx_close(f);
}

/* A trained-looking residual model saved and loaded predicts the same bytes. */
TEST(resnet_save_load_round_trip) {
    ferc_model *m = NULL, *m2 = NULL;
    ferc_error err;
    CHECK_EQ_INT(ferc_model_create("spec:20:conv16 bn relu res16 res32s2 gap dense7", 5, &m, &err), FERC_OK);
    if (test_failed_now()) return;
    ferc_rng r;
    ferc_rng_seed(&r, 9);
    for (size_t i = 0; i < m->net.nstate; i++) m->net.state[i] = 0.5f + ferc_rng_uniform(&r);
    float x[6 * 400], p1[6 * 7], p2[6 * 7];
    for (size_t i = 0; i < sizeof x / sizeof *x; i++) x[i] = ferc_rng_uniform(&r);
    CHECK_EQ_INT(ferc_model_predict(m, x, 6, p1, 2, &err), FERC_OK);
    const char *path = test_path(test_tmpdir(), "res.ferc");
    CHECK_EQ_INT(ferc_model_save(m, path, &err), FERC_OK);
    CHECK_EQ_INT(ferc_model_load(path, &m2, &err), FERC_OK);
    if (m2) {
        CHECK(strcmp(ferc_model_spec(m2), ferc_model_spec(m)) == 0);
        CHECK_EQ_INT(ferc_model_num_params(m2), ferc_model_num_params(m));
        CHECK_EQ_INT(ferc_model_predict(m2, x, 6, p2, 2, &err), FERC_OK);
        CHECK(memcmp(p1, p2, sizeof p1) == 0);
    }
    double s = 0;
    for (int i = 0; i < 7; i++) s += p1[i];
    CHECK_NEAR(s, 1.0, 1e-5);
    ferc_model_free(m);
    ferc_model_free(m2);
}

/* The blocks' convolutions on oneDNN (dnn_conv.c, direct primitives)
 * against the im2col path, which a training batch smaller
 * than the workspace's takes: logits, running statistics, input and
 * parameter gradients of the same step. */
static void dnn_vs_im2col(int N) {
    const char *spec = "conv16 bn relu res16 res32s2 res32 gap dense7";
    ferc_net a, b;
    ferc_error err;
    CHECK_EQ_INT(net_build(&a, spec, 1, 14, 14, &err), FERC_OK);
    CHECK_EQ_INT(net_build(&b, spec, 1, 14, 14, &err), FERC_OK);
    if (test_failed_now()) return;
    ferc_rng r;
    ferc_rng_seed(&r, 21);
    net_init(&a, &r);
    memcpy(b.params, a.params, 4 * a.nparams);
    memcpy(b.state, a.state, 4 * a.nstate);
    CHECK_EQ_INT(net_reserve(&a, N, 1, 2, &err), FERC_OK);
    CHECK_EQ_INT(net_reserve(&b, N + 1, 1, 2, &err), FERC_OK);   /* N < its batch: im2col */
    size_t nin = (size_t)N * 196;
    float *x = malloc(4 * nin), *dxa = malloc(4 * nin), *dxb = malloc(4 * nin), dz[16 * 7];
    for (size_t i = 0; i < nin; i++) x[i] = ferc_rng_uniform(&r) - 0.5f;
    for (int i = 0; i < N * 7; i++) dz[i] = ferc_rng_uniform(&r) - 0.5f;
    exec_ctx ctx = {2, 1, 5};
    const float *za = net_forward(&a, x, N, &ctx), *zb = net_forward(&b, x, N, &ctx);
    CHECK_MSG(rel_err(za, zb, (size_t)N * 7) < 1e-4, "N %d logits %g", N, rel_err(za, zb, (size_t)N * 7));
    CHECK_MSG(rel_err(a.state, b.state, a.nstate) < 1e-4, "N %d stats %g", N, rel_err(a.state, b.state, a.nstate));
    CHECK(a.layers[3].sub[RES_CONV1].dnn != NULL && b.layers[3].sub[RES_CONV1].dnn == NULL);
    net_backward(&a, x, dz, dxa, N, &ctx);
    net_backward(&b, x, dz, dxb, N, &ctx);
    CHECK_MSG(rel_err(dxa, dxb, nin) < 1e-4, "N %d dx %g", N, rel_err(dxa, dxb, nin));
    for (int t = 0; t < a.ntensors; t++) {
        const param_tensor *pt = &a.tensors[t];
        if (strstr(pt->name, "conv") && strstr(pt->name, "bias")) continue;   /* before BN: ~0 */
        double e = rel_err(a.grads + pt->offset, b.grads + pt->offset, pt->size);
        CHECK_MSG(e < 1e-3, "N %d %s %g", N, pt->name, e);
    }
    free(x); free(dxa); free(dxb);
    net_free(&a);
    net_free(&b);
}

TEST(resnet_dnn_conv_matches_im2col) {
    dnn_vs_im2col(4);
    dnn_vs_im2col(12);
}
