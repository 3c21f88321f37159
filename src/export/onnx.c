/* onnx.c — ferc_model_export_onnx: a model (or an ensemble) as one ONNX
 * graph that does everything ferc does between a FER2013 face and its
 * probabilities, so that a program using onnxruntime or OpenCV gets the
 * same answer as `ferc eval` without re-implementing the preprocessing:
 *
 *   pixels (N,1,48,48) float 0..255 -> /255 -> the model's view of the face
 *   (bilinear resize and/or centre crop, as ferc_model_prepare) -> optional
 *   (x - mean) / std -> the network, one emitter per layer kind -> softmax;
 *   an ensemble: each member's subgraph from the ensemble's own view, its
 *   probabilities times its weight, summed.
 *
 * The resize is not ONNX Resize: ferc's resize and crop are linear and
 * separable, so the exporter reads their per-axis matrix A off
 * ferc_model_prepare itself and emits A X A^T as two MatMuls. That is
 * ferc's arithmetic to the rounding (the same weights, the same order:
 * rows first), and it keeps the batch dimension free in every consumer
 * (OpenCV 4.6 reads Resize only with constant sizes, which fixes N). */
#include "export/export.h"
#include "model/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The face the graph takes: FER2013's 48x48 gray pixels. */
#define FACE 48

typedef struct {
    onnx_graph *g;
    char where[48];            /* stem of the current layer's names: "m1_l3", "l5_conv1" */
    int spatial;               /* the current tensor is (N,C,H,W); 0 once flattened */
    ferc_status st;            /* a refusal (unknown layer kind), set once */
    ferc_error *err;
} emit_ctx;

/* "<where>_<what>", owned by the graph. */
static const char *stem(emit_ctx *c, const char *what) {
    char buf[96];
    snprintf(buf, sizeof buf, "%s_%s", c->where, what);
    return og_strdup(c->g, buf);
}

/* ------------------------------------------------------------------------ */
/* One emitter per layer kind: the ONNX nodes that compute what the layer's  */
/* forward computes at inference. Each returns its output's name (NULL on    */
/* failure: the graph remembers an allocation failure, c->st a refusal).     */
/* ------------------------------------------------------------------------ */

typedef const char *(*emit_fn)(emit_ctx *c, const layer *l, const char *in);

static const char *emit_conv(emit_ctx *c, const layer *l, const char *in) {
    const size_t nw = (size_t)l->oc * l->c * l->k * l->k;
    const int64_t s = l->stride > 1 ? l->stride : 1;
    const int64_t wd[4] = {l->oc, l->c, l->k, l->k}, bd[1] = {l->oc};
    const int64_t ks[2] = {l->k, l->k}, pads[4] = {l->pad, l->pad, l->pad, l->pad}, st[2] = {s, s};
    const char *ins[3] = {in, og_weight(c->g, stem(c, "w"), wd, 4, l->param, 0),
                          og_weight(c->g, stem(c, "b"), bd, 1, l->param + nw, 0)};
    Onnx__AttributeProto *a[3] = {og_attr_ints(c->g, "kernel_shape", ks, 2), og_attr_ints(c->g, "pads", pads, 4),
                                  og_attr_ints(c->g, "strides", st, 2)};
    return og_node(c->g, "Conv", ins, 3, stem(c, "conv"), NULL, a, 3);
}

/* Inference batch norm with the running statistics, as bn_forward does
 * outside training; per feature after a flatten ((N,C) input). */
static const char *emit_bn(emit_ctx *c, const layer *l, const char *in) {
    const int64_t d[1] = {l->c};
    const char *ins[5] = {in, og_weight(c->g, stem(c, "gamma"), d, 1, l->param, 0),
                          og_weight(c->g, stem(c, "beta"), d, 1, l->param + l->c, 0),
                          og_weight(c->g, stem(c, "mean"), d, 1, l->state, 0),
                          og_weight(c->g, stem(c, "var"), d, 1, l->state + l->c, 0)};
    Onnx__AttributeProto *a[1] = {og_attr_float(c->g, "epsilon", l->eps)};
    return og_node(c->g, "BatchNormalization", ins, 5, stem(c, "bn"), NULL, a, 1);
}

static const char *emit_relu(emit_ctx *c, const layer *l, const char *in) {
    (void)l;
    return og_node(c->g, "Relu", &in, 1, stem(c, "relu"), NULL, NULL, 0);
}

/* 2x2, stride 2, odd edges dropped (ONNX's default floor). */
static const char *emit_pool(emit_ctx *c, const layer *l, const char *in) {
    (void)l;
    const int64_t two[2] = {2, 2};
    Onnx__AttributeProto *a[2] = {og_attr_ints(c->g, "kernel_shape", two, 2), og_attr_ints(c->g, "strides", two, 2)};
    return og_node(c->g, "MaxPool", &in, 1, stem(c, "pool"), NULL, a, 2);
}

/* Dropout does nothing at inference: no node. */
static const char *emit_dropout(emit_ctx *c, const layer *l, const char *in) {
    (void)c; (void)l;
    return in;
}

/* (N,C,H,W) -> (N, C*H*W) in NCHW order, as flat_forward's memcpy. */
static const char *emit_flatten(emit_ctx *c, const layer *l, const char *in) {
    (void)l;
    c->spatial = 0;
    Onnx__AttributeProto *a[1] = {og_attr_int(c->g, "axis", 1)};
    return og_node(c->g, "Flatten", &in, 1, stem(c, "flat"), NULL, a, 1);
}

/* y = x W^T + b with W (out, in): Gemm with transB. After a global
 * average pool the input is still (N,C,1,1): flattened first. */
static const char *emit_dense(emit_ctx *c, const layer *l, const char *in) {
    if (c->spatial) in = emit_flatten(c, l, in);
    const int64_t I = (int64_t)l->c * l->h * l->w, wd[2] = {l->oc, I}, bd[1] = {l->oc};
    const char *ins[3] = {in, og_weight(c->g, stem(c, "w"), wd, 2, l->param, 0),
                          og_weight(c->g, stem(c, "b"), bd, 1, l->param + (size_t)l->oc * (size_t)I, 0)};
    Onnx__AttributeProto *a[1] = {og_attr_int(c->g, "transB", 1)};
    return og_node(c->g, "Gemm", ins, 3, stem(c, "dense"), NULL, a, 1);
}

static const char *emit_gap(emit_ctx *c, const layer *l, const char *in) {
    (void)l;
    return og_node(c->g, "GlobalAveragePool", &in, 1, stem(c, "gap"), NULL, NULL, 0);
}

/* The residual basic block: relu(bn2(conv2(relu(bn1(conv1(x))))) + sc(x)),
 * sc the identity or bn(conv1x1(x)); its sub-layers are ordinary conv and
 * bn layers, emitted by the emitters above under "<block>_<part>" names. */
static const char *emit_res(emit_ctx *c, const layer *l, const char *in) {
    static const char *const part[] = {"conv1", "bn1", "conv2", "bn2", "sc_conv", "sc_bn"};
    char block[sizeof c->where];
    snprintf(block, sizeof block, "%s", c->where);
    const char *y = in, *sc = in;
    for (int i = 0; i < l->nsub && i < 6; i++) {
        snprintf(c->where, sizeof c->where, "%.30s_%s", block, part[i]);
        const layer *s = &l->sub[i];
        const char *from = i == RES_SCCONV ? in : i == RES_SCBN ? sc : y;
        const char *out = s->kind == LAYER_CONV ? emit_conv(c, s, from) : emit_bn(c, s, from);
        if (i >= RES_SCCONV) sc = out;
        else y = out;
        if (i == RES_BN1) y = emit_relu(c, s, y);
    }
    snprintf(c->where, sizeof c->where, "%s", block);
    const char *sum[2] = {y, sc};
    const char *z = og_node(c->g, "Add", sum, 2, stem(c, "add"), NULL, NULL, 0);
    return emit_relu(c, l, z);
}

/* Adding a layer kind to ferc: one emitter, one line here. */
static const struct { layer_kind kind; emit_fn fn; } emitters[] = {
    {.kind = LAYER_CONV, .fn = emit_conv},       {.kind = LAYER_BN, .fn = emit_bn},
    {.kind = LAYER_RELU, .fn = emit_relu},       {.kind = LAYER_MAXPOOL, .fn = emit_pool},
    {.kind = LAYER_DROPOUT, .fn = emit_dropout}, {.kind = LAYER_FLATTEN, .fn = emit_flatten},
    {.kind = LAYER_DENSE, .fn = emit_dense},     {.kind = LAYER_GAP, .fn = emit_gap},
    {.kind = LAYER_RES, .fn = emit_res},
};

static emit_fn emitter_of(layer_kind k) {
    for (size_t i = 0; i < sizeof emitters / sizeof emitters[0]; i++)
        if (emitters[i].kind == k) return emitters[i].fn;
    return NULL;
}

/* The network's layers from input x to its logits. */
static const char *emit_net(emit_ctx *c, const ferc_net *net, const char *prefix, const char *x) {
    c->spatial = 1;
    for (int i = 0; i < net->nlayers && x; i++) {
        const layer *l = &net->layers[i];
        emit_fn fn = emitter_of(l->kind);
        if (!fn) {
            c->st = ferc_fail(c->err, FERC_ERR_ARG, "ONNX export: layer %d '%s' has no ONNX form in this version of ferc",
                              i + 1, l->ops && l->ops->name ? l->ops->name : "?");
            return NULL;
        }
        snprintf(c->where, sizeof c->where, "%sl%d", prefix, i + 1);
        x = fn(c, l, x);
    }
    return x;
}

/* ------------------------------------------------------------------------ */
/* Preprocessing                                                             */
/* ------------------------------------------------------------------------ */

/* The per-axis matrix A (S x src) of m's preprocessing of a src x src face:
 * a face whose column j is 1 and the rest 0 comes out of
 * ferc_model_prepare as column j of A in every row (bilinear weights of a
 * row sum to 1; a crop selects). Then checked on a pseudo-random face
 * against ferc_model_prepare itself, so that a preprocessing that is not
 * separable and linear is refused rather than exported wrong. */
static ferc_status view_matrix(const ferc_model *m, int src, float *A, ferc_error *err) {
    const int S = m->input_size;
    const size_t n = (size_t)src * src;
    float *face = calloc(n, sizeof *face), *out = malloc(sizeof *out * (size_t)S * S);
    if (!face || !out) { free(face); free(out); return ferc_fail(err, FERC_ERR_NOMEM, "out of memory"); }
    for (int j = 0; j < src; j++) {
        for (int y = 0; y < src; y++) face[(size_t)y * src + j] = 1.0f;
        ferc_model_prepare(m, face, src, src, out);
        for (int x = 0; x < S; x++) A[(size_t)x * src + j] = out[x];
        for (int y = 0; y < src; y++) face[(size_t)y * src + j] = 0.0f;
    }
    uint32_t r = 12345;
    for (size_t i = 0; i < n; i++) { r = r * 1664525u + 1013904223u; face[i] = (float)(r >> 8) / 16777216.0f; }
    ferc_model_prepare(m, face, src, src, out);
    double worst = 0;
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            double v = 0;
            for (int i = 0; i < src; i++)
                for (int j = 0; j < src; j++) v += (double)A[(size_t)y * src + i] * face[(size_t)i * src + j] * A[(size_t)x * src + j];
            worst = fmax(worst, fabs(v - out[(size_t)y * S + x]));
        }
    free(face); free(out);
    if (!(worst < 1e-5))
        return ferc_fail(err, FERC_ERR_INTERNAL, "ONNX export: the %s model's preprocessing is not a separable linear map "
                         "(differs by %g); it cannot be exported", m->arch, worst);
    return FERC_OK;
}

static int is_identity(const float *A, int S, int src) {
    if (S != src) return 0;
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) if (A[(size_t)y * S + x] != (y == x ? 1.0f : 0.0f)) return 0;
    return 1;
}

/* m's view of the src x src faces x: A x A^T as x A^T, transpose, A^T,
 * transpose (MatMul multiplies the last two axes); nothing when A = I. */
static const char *emit_view(emit_ctx *c, const ferc_model *m, int src, const char *x, const char *prefix) {
    const int S = m->input_size;
    float *A = og_alloc(c->g, sizeof(float) * (size_t)S * src), *AT = og_alloc(c->g, sizeof(float) * (size_t)S * src);
    if (!A || !AT) return NULL;
    if ((c->st = view_matrix(m, src, A, c->err)) != FERC_OK) return NULL;
    if (is_identity(A, S, src)) return x;
    for (int i = 0; i < S; i++)
        for (int j = 0; j < src; j++) AT[(size_t)j * S + i] = A[(size_t)i * src + j];
    snprintf(c->where, sizeof c->where, "%sview%dto%d", prefix, src, S);
    const int64_t d[2] = {src, S}, perm[4] = {0, 1, 3, 2};
    const char *w = og_weight(c->g, stem(c, "AT"), d, 2, AT, 0);
    for (int pass = 0; pass < 2; pass++) {
        const char *mm[2] = {x, w};
        x = og_node(c->g, "MatMul", mm, 2, stem(c, "mm"), NULL, NULL, 0);
        Onnx__AttributeProto *a[1] = {og_attr_ints(c->g, "perm", perm, 4)};
        x = og_node(c->g, "Transpose", &x, 1, stem(c, "t"), NULL, a, 1);
    }
    return x;
}

/* (x - mean) / std when the model was trained with a normalisation. */
static const char *emit_norm(emit_ctx *c, const ferc_model *m, const char *x) {
    if (m->norm_mean == 0 && m->norm_std == 1) return x;
    const int64_t one[1] = {1};
    const char *sub[2] = {x, og_weight(c->g, stem(c, "mean"), one, 1, &m->norm_mean, 0)};
    x = og_node(c->g, "Sub", sub, 2, stem(c, "centred"), NULL, NULL, 0);
    const char *div[2] = {x, og_weight(c->g, stem(c, "std"), one, 1, &m->norm_std, 0)};
    return og_node(c->g, "Div", div, 2, stem(c, "normed"), NULL, NULL, 0);
}

/* A plain model from src x src faces in [0,1] to its softmax, named out
 * (or a fresh name when out is NULL). */
static const char *emit_model(emit_ctx *c, const ferc_model *m, int src, const char *x, const char *prefix,
                              const char *out) {
    x = emit_view(c, m, src, x, prefix);
    snprintf(c->where, sizeof c->where, "%sinput", prefix);
    x = emit_norm(c, m, x);
    x = emit_net(c, &m->net, prefix, x);
    snprintf(c->where, sizeof c->where, "%sout", prefix);
    Onnx__AttributeProto *a[1] = {og_attr_int(c->g, "axis", 1)};
    return og_node(c->g, "Softmax", &x, 1, stem(c, "probs"), out, a, 1);
}

/* The weighted sum of the members' probabilities, each member seeing the
 * face through the ensemble's view (the largest face a member starts
 * from) and then its own, as ensemble_predict; members of weight 0 are
 * left out, as ensemble_predict does not run them. */
static const char *emit_ensemble(emit_ctx *c, const ferc_model *e, const char *x, const char *out) {
    x = emit_view(c, e, FACE, x, "");
    const char *parts[ENSEMBLE_MAX_MEMBERS];
    int n = 0, active = 0;
    for (int k = 0; k < e->nmembers; k++) active += e->weights[k] > 0;
    for (int k = 0; k < e->nmembers && x; k++) {
        if (!(e->weights[k] > 0)) continue;
        char prefix[16];
        snprintf(prefix, sizeof prefix, "m%d_", k + 1);
        const char *p = emit_model(c, e->members[k], e->input_size, x, prefix, NULL);
        const int64_t one[1] = {1};
        const char *mul[2] = {p, og_weight(c->g, stem(c, "weight"), one, 1, &e->weights[k], 0)};
        parts[n++] = og_node(c->g, "Mul", mul, 2, stem(c, "weighted"), active == 1 ? out : NULL, NULL, 0);
    }
    if (n != active) return NULL;
    return n == 1 ? parts[0] : og_node(c->g, "Sum", parts, n, "probs", out, NULL, 0);
}

/* ------------------------------------------------------------------------ */
/* The public call                                                           */
/* ------------------------------------------------------------------------ */

/* metadata_props: the class names (comma-separated, in output order) and
 * what the graph expects, for a program that has only the .onnx file. */
static void describe(const ferc_model *m, char *labels, size_t cap, const char **meta) {
    size_t len = 0;
    labels[0] = 0;
    for (int i = 0; i < FERC_NUM_CLASSES && len < cap; i++)
        len += (size_t)snprintf(labels + len, cap - len, "%s%s", i ? "," : "", m->labels[i]);
    const char *kv[] = {
        "labels", labels,
        "ferc_arch", m->arch,
        "ferc_spec", m->spec ? m->spec : "",
        "ferc_version", FERC_VERSION_STRING,
        "input", "pixels: float32 (N, 1, 48, 48), gray 0..255 as in fer2013.csv; the graph scales and resizes",
        "output", "probs: float32 (N, classes) softmax probabilities, classes in the order of 'labels'",
    };
    memcpy(meta, kv, sizeof kv);
}

ferc_status ferc_model_export_onnx(const ferc_model *m, const char *path, ferc_error *err) {
    if (!m || !path || !*path) return ferc_fail(err, FERC_ERR_ARG, "ferc_model_export_onnx: %s", m ? "no output path" : "no model");
    onnx_graph g = {0};
    emit_ctx c = {.g = &g, .st = FERC_OK, .err = err};
    snprintf(c.where, sizeof c.where, "input");
    const int64_t one[1] = {1};
    static const float k255 = 255.0f;   /* ferc divides (pix / 255.0f), it does not multiply by 1/255 */
    const char *div[2] = {"pixels", og_weight(&g, "c255", one, 1, &k255, 0)};
    const char *x = og_node(&g, "Div", div, 2, "x01", NULL, NULL, 0);
    const char *p = m->nmembers ? emit_ensemble(&c, m, x, "probs") : emit_model(&c, m, FACE, x, "", "probs");
    if (!p || g.oom || c.st != FERC_OK) {
        ferc_status st = c.st != FERC_OK ? c.st : ferc_fail(err, FERC_ERR_NOMEM, "out of memory while building the ONNX graph");
        og_free(&g);
        return st;
    }
    char labels[FERC_NUM_CLASSES * 17 + 1];
    const char *meta[12];
    describe(m, labels, sizeof labels, meta);
    char doc[256];
    if (m->nmembers) snprintf(doc, sizeof doc, "ferc ensemble of %d models: FER2013 faces to emotion probabilities", m->nmembers);
    else snprintf(doc, sizeof doc, "ferc %s network: FER2013 faces to emotion probabilities", m->arch);
    const onnx_model_info info = {.input = "pixels", .output = "probs", .in_dims = {-1, 1, FACE, FACE},
                                  .out_dims = {-1, FERC_NUM_CLASSES}, .graph_name = "ferc", .doc = doc,
                                  .meta = meta, .nmeta = 6};
    return og_finish(&g, &info, path, err);
}
