/* test_layers.c — every layer's backward against central finite differences,
 * the fast conv against its naive reference, and every layer, the loss, the
 * optimisers and the whole seed net against PyTorch fixtures (gen_torch.py). */
#include "fixture.h"
#include "train/train.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

static void fill_uniform(float *a, size_t n, ferc_rng *r, float lo, float hi) {
    for (size_t i = 0; i < n; i++) a[i] = lo + (hi - lo) * ferc_rng_uniform(r);
}

/* max |a - b| / max(1, max |b|) */
static double rel_err(const float *a, const float *b, size_t n) {
    double mx = 0, mb = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (d > mx) mx = d;
        if (fabs(b[i]) > mb) mb = fabs(b[i]);
    }
    return mx / (mb > 1 ? mb : 1);
}

/* ------------------------------------------------------------------------ */
/* Finite differences                                                        */
/* ------------------------------------------------------------------------ */

static double dot(const float *a, const float *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* A residual block has ReLUs inside, whose kinks the central difference
 * may straddle: then one of the one-sided differences (lp - l0) / h,
 * (l0 - lm) / h lies on one side of it. The point's error is the smaller of
 * theirs, and *kinks counts the points that needed it (the caller bounds
 * them). The perturbed value is in place; l0 is computed here. */
static double one_sided(layer *l, const float *x, int N, const exec_ctx *ctx, const float *st, ferc_net *net,
                        const float *R, size_t nout, double lp, double lm, float h, float grad, int *kinks) {
    memcpy(net->state, st, 4 * net->nstate);
    l->ops->forward(l, x, N, ctx);
    double l0 = dot(l->out, R, nout), fp = (lp - l0) / h, fm = (l0 - lm) / h;
    double ep = fabs(fp - grad) / (1 + fabs(fp)), em = fabs(fm - grad) / (1 + fabs(fm));
    (*kinks)++;
    return ep < em ? ep : em;
}

/* Loss L = sum(out * R) of the first layer of `spec`; checks d L / d input
 * and d L / d params against central differences in float with step h,
 * skipping points within `kink` of a non-differentiable decision. */
static void fd_check(const char *spec, int C, int H, int W, int N, int training, float lo,
                     float hi, double tol) {
    ferc_net net;
    ferc_error err;
    CHECK_EQ_INT(net_build(&net, spec, C, H, W, &err), FERC_OK);
    if (test_failed_now()) return;
    ferc_rng r;
    ferc_rng_seed(&r, 42);
    net_init(&net, &r);
    layer *l = &net.layers[0];
    /* perturb params away from init (gamma != 1, nonzero biases) */
    fill_uniform(net.params, net.nparams, &r, -0.5f, 0.5f);
    if (l->kind == LAYER_BN)
        for (int c = 0; c < C; c++) { net.params[c] = 0.5f + ferc_rng_uniform(&r); l->state[C + c] = 0.5f + ferc_rng_uniform(&r); }
    CHECK_EQ_INT(net_reserve(&net, N, 1, 2, &err), FERC_OK);
    size_t nin = (size_t)N * C * H * W, nout = (size_t)N * l->oc * l->oh * l->ow;
    float *x = malloc(4 * nin), *R = malloc(4 * nout), *dx = malloc(4 * nin), *g = malloc(4 * (net.nparams + 1));
    fill_uniform(x, nin, &r, lo, hi);
    fill_uniform(R, nout, &r, -1, 1);
    exec_ctx ctx = {2, training, 1234};
    float *st = malloc(4 * (net.nstate + 1));
    memcpy(st, net.state, 4 * net.nstate);
#define LOSS(out) dot(out, R, nout)
    l->ops->forward(l, x, N, &ctx);
    memset(net.grads, 0, 4 * net.nparams);
    l->ops->backward(l, x, R, dx, N, &ctx);
    memcpy(g, net.grads, 4 * net.nparams);
    /* a residual block's inner ReLUs: a smaller step straddles fewer kinks */
    const float h = l->kind == LAYER_RES ? 2e-3f : 1e-2f;
    int checked = 0, bad = 0, kinks = 0;
    double worst = 0;
    /* input gradient, on a subset of points */
    for (size_t i = 0; i < nin; i += 1 + nin / 97) {
        float keep = x[i];
        x[i] = keep + h; memcpy(net.state, st, 4 * net.nstate); l->ops->forward(l, x, N, &ctx);
        double lp = LOSS(l->out);
        x[i] = keep - h; memcpy(net.state, st, 4 * net.nstate); l->ops->forward(l, x, N, &ctx);
        double lm = LOSS(l->out);
        /* skip kinks: relu at 0, and pooling windows with near ties */
        x[i] = keep;
        if (l->kind == LAYER_RELU && fabsf(keep) < 2 * h) continue;
        double fd = (lp - lm) / (2 * h);
        double e = fabs(fd - dx[i]) / (1 + fabs(fd));
        if (e > tol && l->kind == LAYER_RES) e = one_sided(l, x, N, &ctx, st, &net, R, nout, lp, lm, h, dx[i], &kinks);
        if (e > worst) worst = e;
        if (e > tol) bad++;
        checked++;
    }
    for (size_t i = 0; i < net.nparams; i += 1 + net.nparams / 61) {
        float keep = net.params[i];
        net.params[i] = keep + h; memcpy(net.state, st, 4 * net.nstate); l->ops->forward(l, x, N, &ctx);
        double lp = LOSS(l->out);
        net.params[i] = keep - h; memcpy(net.state, st, 4 * net.nstate); l->ops->forward(l, x, N, &ctx);
        double lm = LOSS(l->out);
        net.params[i] = keep;
        double fd = (lp - lm) / (2 * h);
        double e = fabs(fd - g[i]) / (1 + fabs(fd));
        if (e > tol && l->kind == LAYER_RES) e = one_sided(l, x, N, &ctx, st, &net, R, nout, lp, lm, h, g[i], &kinks);
        if (e > worst) worst = e;
        if (e > tol) bad++;
        checked++;
    }
#undef LOSS
    CHECK_MSG(bad == 0, "%s: %d of %d finite-difference checks off (worst rel err %.3g)", spec, bad, checked, worst);
    CHECK(checked > 20);
    CHECK_MSG(kinks * 10 <= checked, "%s: %d of %d points needed a one-sided difference", spec, kinks, checked);
    free(x); free(R); free(dx); free(g); free(st);
    net_free(&net);
}

TEST(fd_conv) { fd_check("conv5 flatten dense7", 3, 7, 6, 2, 1, -1, 1, 2e-3); }
TEST(fd_conv_5x5) { fd_check("conv4k5 flatten dense7", 2, 8, 9, 2, 1, -1, 1, 2e-3); }
TEST(fd_bn_train) { fd_check("bn flatten dense7", 3, 5, 4, 4, 1, -1, 1, 5e-3); }
TEST(fd_bn_eval) { fd_check("bn flatten dense7", 3, 5, 4, 4, 0, -1, 1, 2e-3); }
/* batch norm after flatten: per feature over the batch, (N, C, 1, 1) */
TEST(fd_bn_dense_train) { fd_check("flatten dense6 bn relu dense7", 2, 3, 3, 5, 1, -1, 1, 5e-3); }
TEST(fd_bn_dense_eval) { fd_check("flatten dense6 bn relu dense7", 2, 3, 3, 5, 0, -1, 1, 2e-3); }
TEST(fd_relu) { fd_check("relu flatten dense7", 2, 5, 5, 2, 1, -1, 1, 2e-3); }
TEST(fd_dropout) { fd_check("drop0.3 flatten dense7", 2, 5, 5, 2, 1, -1, 1, 2e-3); }
TEST(fd_dense) { fd_check("flatten dense6", 3, 4, 2, 3, 1, -1, 1, 2e-3); }
/* issue 12: global average pooling, strided conv, residual blocks (identity
 * and projection shortcuts, stride 2), in training and eval mode */
TEST(fd_gap) { fd_check("gap dense7", 3, 5, 4, 2, 1, -1, 1, 2e-3); }
TEST(fd_conv_stride2) { fd_check("conv5s2 flatten dense7", 3, 7, 8, 2, 1, -1, 1, 2e-3); }
TEST(fd_res_identity_train) { fd_check("res4 gap dense7", 4, 6, 5, 4, 1, -1, 1, 1e-2); }
TEST(fd_res_identity_eval) { fd_check("res4 gap dense7", 4, 6, 5, 3, 0, -1, 1, 5e-3); }
TEST(fd_res_projection_train) { fd_check("res6 gap dense7", 3, 5, 5, 4, 1, -1, 1, 1e-2); }
TEST(fd_res_stride2_train) { fd_check("res4s2 gap dense7", 4, 7, 6, 4, 1, -1, 1, 1e-2); }
TEST(fd_res_stride2_eval) { fd_check("res5s2 gap dense7", 3, 7, 6, 3, 0, -1, 1, 5e-3); }

/* maxpool: inputs spaced so that no window has a near tie */
TEST(fd_maxpool) {
    ferc_net net;
    ferc_error err;
    CHECK_EQ_INT(net_build(&net, "pool flatten dense7", 2, 6, 7, &err), FERC_OK);
    CHECK_EQ_INT(net_reserve(&net, 2, 1, 1, &err), FERC_OK);
    layer *l = &net.layers[0];
    size_t nin = 2 * 2 * 6 * 7, nout = 2 * 2 * 3 * 3;
    float x[168], dx[168], R[36];
    ferc_rng r;
    ferc_rng_seed(&r, 7);
    for (size_t i = 0; i < nin; i++) x[i] = (float)i * 0.1f;
    for (size_t i = nin - 1; i > 0; i--) { size_t j = ferc_rng_below(&r, (uint32_t)i + 1); float t = x[i]; x[i] = x[j]; x[j] = t; }
    fill_uniform(R, nout, &r, -1, 1);
    exec_ctx ctx = {1, 1, 0};
    l->ops->forward(l, x, 2, &ctx);
    l->ops->backward(l, x, R, dx, 2, &ctx);
    const float h = 1e-2f;
    int bad = 0;
    for (size_t i = 0; i < nin; i++) {
        double lp = 0, lm = 0;
        float keep = x[i];
        x[i] = keep + h; l->ops->forward(l, x, 2, &ctx); for (size_t q = 0; q < nout; q++) lp += l->out[q] * R[q];
        x[i] = keep - h; l->ops->forward(l, x, 2, &ctx); for (size_t q = 0; q < nout; q++) lm += l->out[q] * R[q];
        x[i] = keep;
        if (fabs((lp - lm) / (2 * h) - dx[i]) > 1e-3) bad++;
    }
    l->ops->forward(l, x, 2, &ctx);
    CHECK_EQ_INT(bad, 0);
    net_free(&net);
}

TEST(fd_softmax_xent) {
    float z[3 * 7], d[3 * 7], onehot[3 * 7] = {0}, w[7] = {1, 3, 0.5f, 1, 2, 1, 0.7f};
    int y[3] = {1, 4, 6};
    ferc_rng r;
    ferc_rng_seed(&r, 3);
    fill_uniform(z, 21, &r, -3, 3);
    for (int i = 0; i < 3; i++) onehot[i * 7 + y[i]] = 1;
    for (int mode = 0; mode < 3; mode++) {
        const float *oh = mode == 1 ? onehot : NULL;
        const float *cw = mode == 2 ? w : NULL;
        softmax_xent(z, y, oh, cw, 3, 7, d, NULL);
        for (int i = 0; i < 21; i++) {
            float keep = z[i];
            const float h = 1e-2f;
            z[i] = keep + h; double lp = softmax_xent(z, y, oh, cw, 3, 7, NULL, NULL);
            z[i] = keep - h; double lm = softmax_xent(z, y, oh, cw, 3, 7, NULL, NULL);
            z[i] = keep;
            CHECK_NEAR((lp - lm) / (2 * h), d[i], 1e-4);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Fast kernels against the naive reference                                  */
/* ------------------------------------------------------------------------ */

TEST(conv_fast_vs_reference) {
    const int shapes[][5] = {{3, 1, 48, 48, 32}, {2, 32, 24, 24, 64}, {2, 5, 7, 9, 3}};
    for (int s = 0; s < 3; s++) {
        int N = shapes[s][0], C = shapes[s][1], H = shapes[s][2], W = shapes[s][3], K = shapes[s][4];
        char spec[64];
        snprintf(spec, sizeof spec, "conv%d flatten dense7", K);
        ferc_net net;
        ferc_error err;
        CHECK_EQ_INT(net_build(&net, spec, C, H, W, &err), FERC_OK);
        CHECK_EQ_INT(net_reserve(&net, N, 1, 2, &err), FERC_OK);
        ferc_rng r;
        ferc_rng_seed(&r, 9 + s);
        layer *l = &net.layers[0];
        fill_uniform(net.params, net.nparams, &r, -0.3f, 0.3f);
        size_t nin = (size_t)N * C * H * W, nout = (size_t)N * K * H * W, nw = (size_t)K * C * 9;
        float *x = malloc(4 * nin), *dy = malloc(4 * nout), *y = malloc(4 * nout), *dx = malloc(4 * nin),
              *dxr = malloc(4 * nin), *dw = malloc(4 * nw), *db = malloc(4 * K);
        fill_uniform(x, nin, &r, -1, 1);
        fill_uniform(dy, nout, &r, -1, 1);
        exec_ctx ctx = {2, 1, 0};
        l->ops->forward(l, x, N, &ctx);
        ref_conv_forward(x, l->param, l->param + nw, y, N, C, H, W, K, 3, 1);
        CHECK_MSG(rel_err(l->out, y, nout) < 1e-5, "forward %d: %g", s, rel_err(l->out, y, nout));
        memset(net.grads, 0, 4 * net.nparams);
        l->ops->backward(l, x, dy, dx, N, &ctx);
        ref_conv_backward(x, l->param, dy, dxr, dw, db, N, C, H, W, K, 3, 1);
        CHECK_MSG(rel_err(dx, dxr, nin) < 1e-5, "dx %d: %g", s, rel_err(dx, dxr, nin));
        CHECK_MSG(rel_err(l->grad, dw, nw) < 1e-4, "dw %d: %g", s, rel_err(l->grad, dw, nw));
        CHECK_MSG(rel_err(l->grad + nw, db, K) < 1e-4, "db %d", s);
        free(x); free(dy); free(y); free(dx); free(dxr); free(dw); free(db);
        net_free(&net);
    }
}

/* ------------------------------------------------------------------------ */
/* PyTorch fixtures                                                          */
/* ------------------------------------------------------------------------ */

static fx_file *open_fx(const char *name) {
    fx_file *f = fx_open(test_fixture(name));
    CHECK_MSG(f != NULL, "cannot open fixture %s", name);
    return f;
}

static const float *need(fx_file *f, const char *name, size_t n) {
    size_t got = 0;
    const float *p = fx_get(f, name, &got);
    CHECK_MSG(p && got == n, "fixture tensor %s: %zu elements, expected %zu", name, got, n);
    return p && got == n ? p : NULL;
}

/* Runs layer 0 of spec on fixture tensors x / dy and compares y, dx and the
 * parameter gradients (in the layer's own parameter order). */
static void torch_layer(const char *file, const char *spec, int N, int C, int H, int W, int training,
                        const char *xn, const char *yn, const char *dyn, const char *dxn,
                        const char *const *pnames, const char *const *gnames, int np) {
    fx_file *f = open_fx(file);
    if (!f) return;
    ferc_net net;
    ferc_error err;
    CHECK_EQ_INT(net_build(&net, spec, C, H, W, &err), FERC_OK);
    CHECK_EQ_INT(net_reserve(&net, N, 1, 2, &err), FERC_OK);
    layer *l = &net.layers[net.layers[0].kind == LAYER_FLATTEN ? 1 : 0];  /* dense follows flatten */
    size_t nin = (size_t)N * C * H * W, nout = (size_t)N * l->oc * l->oh * l->ow;
    size_t off = 0;
    for (int i = 0; i < np; i++) {
        size_t n;
        const float *p = fx_get(f, pnames[i], &n);
        CHECK_MSG(p != NULL, "no %s", pnames[i]);
        if (!p || off + n > l->nparam) { CHECK(0); goto out; }
        memcpy(l->param + off, p, 4 * n);
        off += n;
    }
    CHECK_EQ_INT(off, l->nparam);
    const float *x = need(f, xn, nin), *y = need(f, yn, nout), *dy = need(f, dyn, nout), *dx = need(f, dxn, nin);
    if (!x || !y || !dy || !dx) goto out;
    exec_ctx ctx = {2, training, 0};
    float *din = malloc(4 * nin);
    l->ops->forward(l, x, N, &ctx);
    CHECK_MSG(rel_err(l->out, y, nout) < 2e-5, "%s y: %g", file, rel_err(l->out, y, nout));
    memset(net.grads, 0, 4 * net.nparams);
    l->ops->backward(l, x, dy, din, N, &ctx);
    CHECK_MSG(rel_err(din, dx, nin) < 2e-5, "%s dx: %g", file, rel_err(din, dx, nin));
    off = 0;
    for (int i = 0; i < np; i++) {
        size_t n;
        const float *g = fx_get(f, gnames[i], &n);
        CHECK_MSG(g != NULL, "no %s", gnames[i]);
        if (g) CHECK_MSG(rel_err(l->grad + off, g, n) < 5e-5, "%s %s: %g", file, gnames[i], rel_err(l->grad + off, g, n));
        off += n;
    }
    free(din);
out:
    net_free(&net);
    fx_close(f);
}

TEST(torch_conv) {
    const char *p[] = {"w", "b"}, *g[] = {"dw", "db"};
    torch_layer("conv.fxt", "conv4 flatten dense7", 2, 3, 7, 6, 1, "x", "y", "dy", "dx", p, g, 2);
}

TEST(torch_dense) {
    const char *p[] = {"w", "b"}, *g[] = {"dw", "db"};
    torch_layer("dense.fxt", "flatten dense5", 3, 10, 1, 1, 1, "x", "y", "dy", "dx", p, g, 2);
}

TEST(torch_relu) { torch_layer("relu.fxt", "relu flatten dense7", 2, 3, 4, 5, 1, "x", "y", "dy", "dx", NULL, NULL, 0); }

TEST(torch_maxpool) {
    torch_layer("maxpool.fxt", "pool flatten dense7", 2, 3, 6, 6, 1, "x", "y", "dy", "dx", NULL, NULL, 0);
    torch_layer("maxpool.fxt", "pool flatten dense7", 2, 2, 7, 5, 1, "x_odd", "y_odd", "dy_odd", "dx_odd", NULL, NULL, 0);
}

TEST(torch_bn_train) {
    fx_file *f = open_fx("bn_train.fxt");
    if (!f) return;
    ferc_net net;
    ferc_error err;
    CHECK_EQ_INT(net_build(&net, "bn flatten dense7", 3, 5, 5, &err), FERC_OK);
    CHECK_EQ_INT(net_reserve(&net, 4, 1, 2, &err), FERC_OK);
    layer *l = &net.layers[0];
    const float *x = need(f, "x", 300), *y = need(f, "y", 300), *dy = need(f, "dy", 300), *dx = need(f, "dx", 300);
    const float *ga = need(f, "gamma", 3), *be = need(f, "beta", 3), *rm0 = need(f, "running_mean_before", 3),
                *rv0 = need(f, "running_var_before", 3), *rm1 = need(f, "running_mean_after", 3),
                *rv1 = need(f, "running_var_after", 3), *dg = need(f, "dgamma", 3), *db = need(f, "dbeta", 3);
    if (x && y && dy && dx && ga && be && rm0 && rv0 && rm1 && rv1 && dg && db) {
        memcpy(l->param, ga, 12); memcpy(l->param + 3, be, 12);
        memcpy(l->state, rm0, 12); memcpy(l->state + 3, rv0, 12);
        exec_ctx ctx = {2, 1, 0};
        float din[300];
        l->ops->forward(l, x, 4, &ctx);
        CHECK_MSG(rel_err(l->out, y, 300) < 2e-5, "y %g", rel_err(l->out, y, 300));
        CHECK_MSG(rel_err(l->state, rm1, 3) < 1e-6, "running mean");
        CHECK_MSG(rel_err(l->state + 3, rv1, 3) < 1e-6, "running var");
        memset(net.grads, 0, 4 * net.nparams);
        l->ops->backward(l, x, dy, din, 4, &ctx);
        CHECK_MSG(rel_err(din, dx, 300) < 2e-5, "dx %g", rel_err(din, dx, 300));
        CHECK_MSG(rel_err(l->grad, dg, 3) < 2e-5, "dgamma");
        CHECK_MSG(rel_err(l->grad + 3, db, 3) < 2e-5, "dbeta");
    }
    net_free(&net);
    fx_close(f);
}

TEST(torch_bn_eval) {
    fx_file *f = open_fx("bn_eval.fxt");
    if (!f) return;
    ferc_net net;
    ferc_error err;
    CHECK_EQ_INT(net_build(&net, "bn flatten dense7", 3, 5, 5, &err), FERC_OK);
    CHECK_EQ_INT(net_reserve(&net, 4, 1, 2, &err), FERC_OK);
    layer *l = &net.layers[0];
    const float *x = need(f, "x", 300), *y = need(f, "y", 300), *dy = need(f, "dy", 300), *dx = need(f, "dx", 300);
    const float *ga = need(f, "gamma", 3), *be = need(f, "beta", 3), *rm = need(f, "running_mean", 3),
                *rv = need(f, "running_var", 3), *dg = need(f, "dgamma", 3), *db = need(f, "dbeta", 3);
    if (x && y && dy && dx && ga && be && rm && rv && dg && db) {
        memcpy(l->param, ga, 12); memcpy(l->param + 3, be, 12);
        memcpy(l->state, rm, 12); memcpy(l->state + 3, rv, 12);
        exec_ctx ctx = {2, 0, 0};
        float din[300];
        l->ops->forward(l, x, 4, &ctx);
        CHECK_MSG(rel_err(l->out, y, 300) < 2e-5, "y %g", rel_err(l->out, y, 300));
        CHECK(rel_err(l->state, rm, 3) == 0);   /* eval leaves running stats alone */
        memset(net.grads, 0, 4 * net.nparams);
        l->ops->backward(l, x, dy, din, 4, &ctx);
        CHECK_MSG(rel_err(din, dx, 300) < 2e-5, "dx %g", rel_err(din, dx, 300));
        CHECK_MSG(rel_err(l->grad, dg, 3) < 2e-5, "dgamma");
        CHECK_MSG(rel_err(l->grad + 3, db, 3) < 2e-5, "dbeta");
    }
    net_free(&net);
    fx_close(f);
}

TEST(torch_softmax_ce) {
    fx_file *f = open_fx("softmax_ce.fxt");
    if (!f) return;
    const float *z = need(f, "logits", 42), *lab = need(f, "labels", 6), *pr = need(f, "probs", 42),
                *loss = need(f, "loss", 1), *dz = need(f, "dlogits", 42), *oh = need(f, "onehot", 42),
                *loh = need(f, "loss_onehot", 1), *dzoh = need(f, "dlogits_onehot", 42),
                *cw = need(f, "class_weight", 7), *lw = need(f, "loss_weighted", 1), *dzw = need(f, "dlogits_weighted", 42);
    if (z && lab && pr && loss && dz && oh && loh && dzoh && cw && lw && dzw) {
        int y[6];
        for (int i = 0; i < 6; i++) y[i] = (int)lab[i];
        float d[42], p[42];
        CHECK_NEAR(softmax_xent(z, y, NULL, NULL, 6, 7, d, p), loss[0], 1e-5);
        CHECK(rel_err(d, dz, 42) < 1e-6);
        CHECK(rel_err(p, pr, 42) < 1e-6);
        CHECK_NEAR(softmax_xent(z, y, oh, NULL, 6, 7, d, NULL), loh[0], 1e-5);
        CHECK(rel_err(d, dzoh, 42) < 1e-6);
        CHECK_NEAR(softmax_xent(z, y, NULL, cw, 6, 7, d, NULL), lw[0], 1e-5);
        CHECK(rel_err(d, dzw, 42) < 1e-6);
        CHECK_NEAR(softmax_xent(z, y, oh, cw, 6, 7, d, NULL), lw[0], 1e-5);
        CHECK(rel_err(d, dzw, 42) < 1e-6);
        softmax_rows(z, 6, 7, p);
        CHECK(rel_err(p, pr, 42) < 1e-6);
    }
    fx_close(f);
}

TEST(torch_adam) {
    fx_file *f = open_fx("adam.fxt");
    if (!f) return;
    const char *gs[3] = {"g1", "g2", "g3"}, *ps[3] = {"p1", "p2", "p3"}, *pw[3] = {"p1_wd", "p2_wd", "p3_wd"};
    for (int wd = 0; wd < 2; wd++) {
        const float *p0 = need(f, "p0", 50);
        if (!p0) break;
        float p[50], m[50] = {0}, v[50] = {0};
        memcpy(p, p0, sizeof p);
        for (int t = 0; t < 3; t++) {
            const float *g = need(f, gs[t], 50), *want = need(f, wd ? pw[t] : ps[t], 50);
            if (!g || !want) break;
            adam_update(p, g, m, v, 50, 1e-3f, 0.9f, 0.999f, 1e-7f, wd ? 1e-2f : 0.0f, t + 1);
            CHECK_MSG(rel_err(p, want, 50) < 1e-6, "adam wd=%d step %d: %g", wd, t + 1, rel_err(p, want, 50));
        }
    }
    fx_close(f);
}

TEST(torch_sgd) {
    fx_file *f = open_fx("sgd.fxt");
    if (!f) return;
    const char *gs[3] = {"g1", "g2", "g3"}, *ps[3] = {"p1", "p2", "p3"}, *pp[3] = {"p1_plain", "p2_plain", "p3_plain"};
    for (int plain = 0; plain < 2; plain++) {
        const float *p0 = need(f, "p0", 50);
        if (!p0) break;
        float p[50], buf[50] = {0};
        memcpy(p, p0, sizeof p);
        for (int t = 0; t < 3; t++) {
            const float *g = need(f, gs[t], 50), *want = need(f, plain ? pp[t] : ps[t], 50);
            if (!g || !want) break;
            if (plain) sgd_update(p, g, buf, 50, 1e-2f, 0, 0, 0, t + 1);
            else sgd_update(p, g, buf, 50, 1e-2f, 0.9f, 1, 1e-3f, t + 1);
            CHECK_MSG(rel_err(p, want, 50) < 1e-6, "sgd plain=%d step %d: %g", plain, t + 1, rel_err(p, want, 50));
        }
    }
    fx_close(f);
}

/* The seed net's parameters from the fixture's integer formula. */
static float formula(size_t i, int t) {
    uint32_t u = (uint32_t)((uint32_t)i * 2654435761u + (uint32_t)t * 40503u + 12345u) >> 8;
    return (float)u * 0x1.0p-24f - 0.5f;
}

TEST(torch_seed_net) {
    fx_file *f = open_fx("seed_net.fxt");
    if (!f) return;
    ferc_model *m;
    ferc_error err;
    CHECK_EQ_INT(ferc_model_create("seed", 1, &m, &err), FERC_OK);
    ferc_net *net = &m->net;
    const char *names[16] = {"conv1.weight", "conv1.bias", "bn1.weight", "bn1.bias", "conv2.weight", "conv2.bias",
                             "bn2.weight", "bn2.bias", "conv3.weight", "conv3.bias", "bn3.weight", "bn3.bias",
                             "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"};
    const float *scales = need(f, "scales", 16);
    CHECK_EQ_INT(net->ntensors, 16);
    if (!scales || net->ntensors != 16) { ferc_model_free(m); fx_close(f); return; }
    for (int t = 0; t < 16; t++) {
        param_tensor *pt = &net->tensors[t];
        float *p = net->params + pt->offset;
        int is_gamma = (t % 4 == 2) && t < 12;
        for (size_t i = 0; i < pt->size; i++) p[i] = is_gamma ? 1.0f + formula(i, t) * scales[t] : formula(i, t) * scales[t];
        char nm[64];
        snprintf(nm, sizeof nm, "%s.value", names[t]);
        const float *vals = need(f, nm, 256);
        snprintf(nm, sizeof nm, "%s.idx", names[t]);
        const float *idx = need(f, nm, 256);
        if (vals && idx) for (int k = 0; k < 256; k++) CHECK(p[(size_t)idx[k]] == vals[k]);
    }
    float *x = malloc(4 * 3 * 48 * 48), *dx = malloc(4 * 3 * 48 * 48);
    for (size_t i = 0; i < 3 * 48 * 48; i++) x[i] = formula(i, 1000);
    const float *fx = need(f, "x", 3 * 48 * 48);
    if (fx) CHECK(rel_err(x, fx, 3 * 48 * 48) == 0);
    const float *lab = need(f, "labels", 3), *logits = need(f, "logits", 21), *loss = need(f, "loss", 1),
                *fdx = need(f, "dx", 3 * 48 * 48);
    if (lab && logits && loss && fdx) {
        int y[3] = {(int)lab[0], (int)lab[1], (int)lab[2]};
        CHECK_EQ_INT(net_reserve(net, 3, 1, 2, &err), FERC_OK);
        exec_ctx ctx = {2, 1, 0};
        /* the fixture has no dropout: set p = 0 */
        for (int i = 0; i < net->nlayers; i++) if (net->layers[i].kind == LAYER_DROPOUT) net->layers[i].p = 0;
        const float *z = net_forward(net, x, 3, &ctx);
        CHECK_MSG(rel_err(z, logits, 21) < 1e-4, "logits %g", rel_err(z, logits, 21));
        float dz[21];
        double l = softmax_xent(z, y, NULL, NULL, 3, 7, dz, NULL);
        CHECK_NEAR(l, loss[0], 1e-4);
        net_backward(net, x, dz, dx, 3, &ctx);
        CHECK_MSG(rel_err(dx, fdx, 3 * 48 * 48) < 1e-4, "dx %g", rel_err(dx, fdx, 3 * 48 * 48));
        for (int t = 0; t < 16; t++) {
            param_tensor *pt = &net->tensors[t];
            const float *g = net->grads + pt->offset;
            char nm[64];
            snprintf(nm, sizeof nm, "%s.grad", names[t]);
            const float *fg = need(f, nm, 256);
            snprintf(nm, sizeof nm, "%s.idx", names[t]);
            const float *idx = need(f, nm, 256);
            snprintf(nm, sizeof nm, "%s.grad_sumsq", names[t]);
            const float *ss = need(f, nm, 1);
            if (!fg || !idx || !ss) continue;
            double gmax = 0, mysq = 0;
            for (int k = 0; k < 256; k++) if (fabs(fg[k]) > gmax) gmax = fabs(fg[k]);
            for (size_t i = 0; i < pt->size; i++) mysq += (double)g[i] * g[i];
            int bad = 0;
            for (int k = 0; k < 256; k++)
                if (fabs(g[(size_t)idx[k]] - fg[k]) > 1e-4 * gmax + 1e-6) bad++;  /* conv biases before BN: exactly 0, float noise */
            CHECK_MSG(bad == 0, "%s: %d of 256 sampled gradients off", names[t], bad);
            CHECK_MSG(fabs(mysq - ss[0]) <= 1e-3 * ss[0] + 1e-12, "%s sumsq %g vs %g", names[t], mysq, ss[0]);
        }
    }
    free(x); free(dx);
    ferc_model_free(m);
    fx_close(f);
}
