/* model.c — the model object: named architectures, creation, inference,
 * looking inside (activations, saliency, filters). Its file format is in
 * file.c; ensembles (models made of models) in ensemble.c, which the calls
 * here hand an ensemble to, so that callers need not tell them apart. */
#include "model/model.h"
#include "data/data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct { const char *name, *spec; int size; } archs[] = {
    {.name = "seed",
     .spec = "conv32 bn relu pool drop0.25 conv64 bn relu pool drop0.25 conv128 bn relu pool drop0.25 "
     "flatten dense128 relu dense7", .size = 48},
    /* seed2 (second session): filters doubled from 32/64/128, and batch norm on
     * the dense layer, without which its ReLUs die under Adam (README) */
    {.name = "seed2",
     .spec = "conv64 bn relu conv64 bn relu pool drop0.25 conv128 bn relu conv128 bn relu pool drop0.25 "
     "conv256 bn relu conv256 bn relu pool drop0.25 flatten dense256 bn relu drop0.5 dense7", .size = 40},
    {.name = "vgg",
     .spec = "conv64 bn relu conv64 bn relu pool conv128 bn relu conv128 bn relu pool "
     "conv256 bn relu conv256 bn relu pool conv512 bn relu conv512 bn relu pool "
     "flatten dense1024 relu drop0.5 dense1024 relu drop0.5 dense7", .size = 48},
};

const char *ferc_arch_list(void) { return "seed seed2 vgg"; }

const char *arch_spec(const char *arch, int *input_size) {
    for (size_t i = 0; i < sizeof archs / sizeof archs[0]; i++)
        if (strcmp(arch, archs[i].name) == 0) {
            if (input_size) *input_size = archs[i].size;
            return archs[i].spec;
        }
    return NULL;
}

ferc_status model_new(const char *arch, const char *spec, int input_size, ferc_model **out,
                      ferc_error *err) {
    *out = NULL;
    if (input_size < 8 || input_size > 1024)
        return ferc_fail(err, FERC_ERR_ARG, "input size %d is out of range 8..1024", input_size);
    ferc_model *m = calloc(1, sizeof *m);
    if (!m) return ferc_fail(err, FERC_ERR_NOMEM, "out of memory");
    snprintf(m->arch, sizeof m->arch, "%s", arch);
    m->spec = strdup(spec);
    m->input_size = input_size;
    for (int i = 0; i < FERC_NUM_CLASSES; i++) snprintf(m->labels[i], sizeof m->labels[i], "%s", ferc_label_name(i));
    m->norm_scale = 1.0f / 255.0f; m->norm_mean = 0; m->norm_std = 1;
    m->temperature = 1.0f;
    m->prep_size = input_size; m->prep_crop = 0;
    ferc_status st = m->spec ? net_build(&m->net, spec, 1, input_size, input_size, err)
                             : ferc_fail(err, FERC_ERR_NOMEM, "out of memory");
    if (st == FERC_OK && m->net.nclasses != FERC_NUM_CLASSES)
        st = ferc_fail(err, FERC_ERR_ARG, "architecture must end with dense%d, not dense%d",
                       FERC_NUM_CLASSES, m->net.nclasses);
    if (st != FERC_OK) { ferc_model_free(m); return st; }
    *out = m;
    return FERC_OK;
}

ferc_status ferc_model_create(const char *arch, uint64_t seed, ferc_model **out, ferc_error *err) {
    int size = 48;
    const char *spec = arch ? arch_spec(arch, &size) : NULL;
    char name[32] = "custom";
    if (!spec && arch && strncmp(arch, "spec:", 5) == 0) {
        /* "spec:[SIZE:]layers..." builds a custom network */
        spec = arch + 5;
        char *end;
        long s = strtol(spec, &end, 10);
        if (end != spec && *end == ':') { size = (int)s; spec = end + 1; }
        for (size_t i = 0; i < sizeof archs / sizeof archs[0]; i++)   /* a named net, spelt out */
            if (archs[i].size == size && strcmp(archs[i].spec, spec) == 0) snprintf(name, sizeof name, "%s", archs[i].name);
    } else if (!spec) {
        *out = NULL;
        return ferc_fail(err, FERC_ERR_ARG, "unknown architecture '%s' (known: %s, or spec:SIZE:LAYERS)",
                         arch ? arch : "(null)", ferc_arch_list());
    } else {
        snprintf(name, sizeof name, "%s", arch);
    }
    ferc_status st = model_new(name, spec, size, out, err);
    if (st != FERC_OK) return st;
    ferc_rng rng;
    ferc_rng_seed(&rng, seed);
    net_init(&(*out)->net, &rng);
    return FERC_OK;
}

void ferc_model_free(ferc_model *m) {
    if (!m) return;
    net_free(&m->net);
    free(m->spec);
    free(m->hist);
    free(m->recipe);
    for (int i = 0; i < m->nmembers; i++) {
        ferc_model_free(m->members[i]);
        if (m->member_names) free(m->member_names[i]);
    }
    free(m->members);
    free(m->member_names);
    free(m->weights);
    free(m);
}

const char *ferc_model_arch(const ferc_model *m) { return m->arch; }
const char *ferc_model_spec(const ferc_model *m) { return m->spec; }
int ferc_model_input_size(const ferc_model *m) { return m->input_size; }

size_t ferc_model_num_params(const ferc_model *m) {
    size_t n = m->net.nparams;
    for (int i = 0; i < m->nmembers; i++) n += ferc_model_num_params(m->members[i]);
    return n;
}

double ferc_model_flops(const ferc_model *m) {
    double f = net_flops(&m->net);
    for (int i = 0; i < m->nmembers; i++) f += ferc_model_flops(m->members[i]);
    return f;
}

/* An ensemble answers with its first member's curves, so that a report,
 * which needs curves, can be made of it. */
int ferc_model_history(const ferc_model *m, const ferc_epoch_stats **hist) {
    if (m->nmembers) return ferc_model_history(m->members[0], hist);
    if (hist) *hist = m->hist;
    return m->nhist;
}

ferc_status ferc_model_set_recipe(ferc_model *m, const char *recipe, ferc_error *err) {
    char *c = NULL;
    if (recipe && !(c = strdup(recipe))) return ferc_fail(err, FERC_ERR_NOMEM, "out of memory");
    free(m->recipe);
    m->recipe = c;
    return FERC_OK;
}

const char *ferc_model_recipe(const ferc_model *m) { return m->recipe; }

ferc_status model_set_history(ferc_model *m, const ferc_epoch_stats *h, int n, ferc_error *err) {
    ferc_epoch_stats *c = NULL;
    if (n > 0) {
        c = malloc(sizeof *c * (size_t)n);
        if (!c) return ferc_fail(err, FERC_ERR_NOMEM, "out of memory");
        memcpy(c, h, sizeof *c * (size_t)n);
    }
    free(m->hist);
    m->hist = c;
    m->nhist = n;
    return FERC_OK;
}

/* ------------------------------------------------------------------------ */
/* Inference and looking inside                                              */
/* ------------------------------------------------------------------------ */

static void normalise(const ferc_model *m, const float *x, float *dst, size_t n) {
    if (m->norm_mean == 0 && m->norm_std == 1) { if (dst != x) memcpy(dst, x, sizeof(float) * n); return; }
    for (size_t i = 0; i < n; i++) dst[i] = (x[i] - m->norm_mean) / m->norm_std;
}

static ferc_status net_predict(ferc_model *m, const float *x, int n, float *probs, int threads, ferc_error *err) {
    const int S = m->input_size;
    const size_t per = (size_t)S * S;
    int chunk = n < 256 ? n : 256;
    threads = ferc_threads(threads);
    ferc_status st = net_reserve(&m->net, chunk, 0, threads, err);
    if (st != FERC_OK) return st;
    int normed = !(m->norm_mean == 0 && m->norm_std == 1);
    float *tmp = normed ? malloc(sizeof(float) * per * (size_t)chunk) : NULL;
    if (normed && !tmp) return ferc_fail(err, FERC_ERR_NOMEM, "out of memory");
    exec_ctx ctx = {.threads = threads, .training = 0, .step_seed = 0};
    for (int i = 0; i < n; i += chunk) {
        int b = n - i < chunk ? n - i : chunk;
        const float *xb = x + (size_t)i * per;
        if (normed) { normalise(m, xb, tmp, per * (size_t)b); xb = tmp; }
        const float *logits = net_forward(&m->net, xb, b, &ctx);
        softmax_rows(logits, b, FERC_NUM_CLASSES, probs + (size_t)i * FERC_NUM_CLASSES);
    }
    free(tmp);
    return FERC_OK;
}

/* A calibrated model (calibrate.c) tempers the probabilities of its network
 * or of its members' average: softmax(z / T) = p^(1/T) renormalised. */
ferc_status ferc_model_predict(ferc_model *m, const float *x, int n, float *probs, int threads,
                               ferc_error *err) {
    if (n <= 0) return FERC_OK;
    ferc_status st = m->nmembers ? ensemble_predict(m, x, n, probs, threads, err)
                                 : net_predict(m, x, n, probs, threads, err);
    if (st == FERC_OK && m->temperature != 1.0f) ferc_probs_temper(probs, n, 1.0f / m->temperature);
    return st;
}

int ferc_model_face_size(const ferc_model *m) { return m->prep_size; }

void ferc_model_prepare(const ferc_model *m, const float *src, int sh, int sw, float *dst) {
    const int S = m->input_size;
    if (!m->prep_crop) { ferc_resize_bilinear(src, sh, sw, dst, S, S); return; }
    ferc_augment_opts o;
    ferc_augment_opts_default(&o);
    o.crop = 1;
    const int P = m->prep_size;
    if (sh == P && sw == P) { ferc_augment_center(&o, src, P, P, dst, S, S); return; }
    float stackbuf[64 * 64], *tmp = (size_t)P * P <= sizeof stackbuf / sizeof stackbuf[0] ? stackbuf : malloc(sizeof(float) * (size_t)P * P);
    if (!tmp) { ferc_resize_bilinear(src, sh, sw, dst, S, S); return; }
    ferc_resize_bilinear(src, sh, sw, tmp, P, P);
    ferc_augment_center(&o, tmp, P, P, dst, S, S);
    if (tmp != stackbuf) free(tmp);
}

ferc_status ferc_model_prepare_rows(const ferc_model *m, const ferc_dataset *d, int first, int n,
                                    float *x, ferc_error *err) {
    const int S = m->input_size;
    if (!m->prep_crop) {
        ferc_prepare_images(d, first, n, S, x);
        return FERC_OK;
    }
    ferc_augment_opts o;
    ferc_augment_opts_default(&o);
    o.crop = 1;
    if (d->h != m->prep_size || d->w != m->prep_size)
        return ferc_fail(err, FERC_ERR_ARG, "the model was trained on %dx%d crops of %dx%d faces; the data has %dx%d faces",
                         S, S, m->prep_size, m->prep_size, d->h, d->w);
    int *idx = malloc(sizeof(int) * (size_t)(n > 0 ? n : 1));
    if (!idx) return ferc_fail(err, FERC_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) idx[i] = first + i;
    ferc_status st = ferc_augment_batch(&o, NULL, d, idx, n, 0, x, S, S);
    free(idx);
    if (st != FERC_OK) return ferc_fail(err, st, "centre crop failed");
    return FERC_OK;
}

/* The looking-inside calls show an ensemble's first member. */
int ferc_model_num_blocks(const ferc_model *m) {
    if (m->nmembers) return ferc_model_num_blocks(m->members[0]);
    int b = 0;
    for (int i = 0; i < m->net.nlayers; i++) b += m->net.layers[i].kind == LAYER_MAXPOOL;
    return b;
}

/* One face normalised into a fresh buffer (*xn, the caller frees it) and
 * run forward on one thread by the layer-by-layer executor: the fused one
 * skips the intermediate outputs of its blocks, and the report looks at
 * exactly those; with_backward also reserves the buffers of a backward. */
static ferc_status forward_one(ferc_model *m, const float *x, int with_backward, float **xn, ferc_error *err) {
    ferc_status st = net_reserve(&m->net, 1, with_backward, 1, err);
    if (st != FERC_OK) return st;
    size_t per = (size_t)m->input_size * m->input_size;
    *xn = malloc(sizeof(float) * per);
    if (!*xn) return ferc_fail(err, FERC_ERR_NOMEM, "out of memory");
    normalise(m, x, *xn, per);
    exec_ctx ctx = {.threads = 1, .training = 0, .step_seed = 0};
    net_forward_layers(&m->net, *xn, 1, &ctx);
    return FERC_OK;
}

ferc_status ferc_model_activations(ferc_model *m, const float *x, int block, float *maps,
                                   size_t cap, int *c, int *h, int *w, ferc_error *err) {
    if (m->nmembers) {   /* the first member, on its own view of the face */
        ferc_model *f = m->members[0];
        float *xf = malloc(sizeof(float) * (size_t)f->input_size * f->input_size);
        if (!xf) return ferc_fail(err, FERC_ERR_NOMEM, "out of memory");
        ferc_model_prepare(f, x, m->input_size, m->input_size, xf);
        ferc_status st = ferc_model_activations(f, xf, block, maps, cap, c, h, w, err);
        free(xf);
        return st;
    }
    int b = -1, li = -1;
    for (int i = 0; i < m->net.nlayers; i++)
        if (m->net.layers[i].kind == LAYER_MAXPOOL && ++b == block) { li = i - 1; break; }
    if (li < 0) return ferc_fail(err, FERC_ERR_ARG, "block %d: the model has %d conv blocks", block, ferc_model_num_blocks(m));
    const layer *l = &m->net.layers[li];
    size_t need = (size_t)l->oc * l->oh * l->ow;
    if (cap < need) return ferc_fail(err, FERC_ERR_ARG, "activations of block %d need %zu floats, buffer holds %zu", block, need, cap);
    float *xn;
    ferc_status st = forward_one(m, x, 0, &xn, err);
    if (st != FERC_OK) return st;
    free(xn);
    memcpy(maps, l->out, sizeof(float) * need);
    *c = l->oc; *h = l->oh; *w = l->ow;
    return FERC_OK;
}

ferc_status ferc_model_saliency(ferc_model *m, const float *x, int cls, float *grad,
                                ferc_error *err) {
    if (m->nmembers) return ensemble_saliency(m, x, cls, grad, err);
    if (cls < 0 || cls >= m->net.nclasses) return ferc_fail(err, FERC_ERR_ARG, "class %d out of range", cls);
    float *xn;
    ferc_status st = forward_one(m, x, 1, &xn, err);
    if (st != FERC_OK) return st;
    size_t per = (size_t)m->input_size * m->input_size;
    exec_ctx ctx = {.threads = 1, .training = 0, .step_seed = 0};
    float d[FERC_NUM_CLASSES] = {0};
    d[cls] = 1.0f;
    net_backward_layers(&m->net, xn, d, grad, 1, &ctx);
    memset(m->net.grads, 0, sizeof(float) * m->net.nparams);
    free(xn);
    /* d/dx of the raw input: chain through the normalisation */
    if (m->norm_std != 1) for (size_t i = 0; i < per; i++) grad[i] /= m->norm_std;
    return FERC_OK;
}

ferc_status ferc_model_first_filters(const ferc_model *m, float *w, size_t cap, int *k, int *kh,
                                     int *kw, ferc_error *err) {
    if (m->nmembers) return ferc_model_first_filters(m->members[0], w, cap, k, kh, kw, err);
    for (int i = 0; i < m->net.nlayers; i++) {
        const layer *l = &m->net.layers[i];
        if (l->kind != LAYER_CONV) continue;
        size_t n = (size_t)l->oc * l->c * l->k * l->k;
        if (l->c != 1) return ferc_fail(err, FERC_ERR_ARG, "first conv layer has %d input channels", l->c);
        if (cap < n) return ferc_fail(err, FERC_ERR_ARG, "filters need %zu floats, buffer holds %zu", n, cap);
        memcpy(w, l->param, sizeof(float) * n);
        *k = l->oc; *kh = l->k; *kw = l->k;
        return FERC_OK;
    }
    return ferc_fail(err, FERC_ERR_ARG, "the model has no conv layer");
}
