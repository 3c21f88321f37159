/* model.c — the model object: named architectures, creation, inference,
 * looking inside (activations, saliency, filters), and the versioned binary
 * model/checkpoint file format with a CRC-32 (zlib) over the whole file.
 *
 * File layout (little endian):
 *   "FERCMODL" u32 version u32 flags
 *   chunks: u32 tag, u64 length, payload   (ARCH SPEC INPT LABL NORM PARM STAT HIST
 *                                           and, in checkpoints, TRST OPTM BEST)
 *   u32 crc32 of every byte before it
 */
#include "model/model.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define MODEL_MAGIC "FERCMODL"
#define MODEL_VERSION 1u

static const struct { const char *name, *spec; int size; } archs[] = {
    {"seed",
     "conv32 bn relu pool drop0.25 conv64 bn relu pool drop0.25 conv128 bn relu pool drop0.25 "
     "flatten dense128 relu dense7", 48},
    /* seed2 (second session): filters doubled from 32/64/128, and batch norm on
     * the dense layer, without which its ReLUs die under Adam (README) */
    {"seed2",
     "conv64 bn relu conv64 bn relu pool drop0.25 conv128 bn relu conv128 bn relu pool drop0.25 "
     "conv256 bn relu conv256 bn relu pool drop0.25 flatten dense256 bn relu drop0.5 dense7", 40},
    {"vgg",
     "conv64 bn relu conv64 bn relu pool conv128 bn relu conv128 bn relu pool "
     "conv256 bn relu conv256 bn relu pool conv512 bn relu conv512 bn relu pool "
     "flatten dense1024 relu drop0.5 dense1024 relu drop0.5 dense7", 48},
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
    free(m);
}

const char *ferc_model_arch(const ferc_model *m) { return m->arch; }
const char *ferc_model_spec(const ferc_model *m) { return m->spec; }
int ferc_model_input_size(const ferc_model *m) { return m->input_size; }
size_t ferc_model_num_params(const ferc_model *m) { return m->net.nparams; }
double ferc_model_flops(const ferc_model *m) { return net_flops(&m->net); }

int ferc_model_history(const ferc_model *m, const ferc_epoch_stats **hist) {
    if (hist) *hist = m->hist;
    return m->nhist;
}

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

ferc_status ferc_model_predict(ferc_model *m, const float *x, int n, float *probs, int threads,
                               ferc_error *err) {
    if (n <= 0) return FERC_OK;
    const int S = m->input_size;
    const size_t per = (size_t)S * S;
    int chunk = n < 256 ? n : 256;
    threads = ferc_threads(threads);
    ferc_status st = net_reserve(&m->net, chunk, 0, threads, err);
    if (st != FERC_OK) return st;
    int normed = !(m->norm_mean == 0 && m->norm_std == 1);
    float *tmp = normed ? malloc(sizeof(float) * per * (size_t)chunk) : NULL;
    if (normed && !tmp) return ferc_fail(err, FERC_ERR_NOMEM, "out of memory");
    exec_ctx ctx = {threads, 0, 0};
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

int ferc_model_num_blocks(const ferc_model *m) {
    int b = 0;
    for (int i = 0; i < m->net.nlayers; i++) b += m->net.layers[i].kind == LAYER_MAXPOOL;
    return b;
}

ferc_status ferc_model_activations(ferc_model *m, const float *x, int block, float *maps,
                                   size_t cap, int *c, int *h, int *w, ferc_error *err) {
    int b = -1, li = -1;
    for (int i = 0; i < m->net.nlayers; i++)
        if (m->net.layers[i].kind == LAYER_MAXPOOL && ++b == block) { li = i - 1; break; }
    if (li < 0) return ferc_fail(err, FERC_ERR_ARG, "block %d: the model has %d conv blocks", block, ferc_model_num_blocks(m));
    const layer *l = &m->net.layers[li];
    size_t need = (size_t)l->oc * l->oh * l->ow;
    if (cap < need) return ferc_fail(err, FERC_ERR_ARG, "activations of block %d need %zu floats, buffer holds %zu", block, need, cap);
    ferc_status st = net_reserve(&m->net, 1, 0, 1, err);
    if (st != FERC_OK) return st;
    size_t per = (size_t)m->input_size * m->input_size;
    float *xn = malloc(sizeof(float) * per);
    if (!xn) return ferc_fail(err, FERC_ERR_NOMEM, "out of memory");
    normalise(m, x, xn, per);
    exec_ctx ctx = {1, 0, 0};
    net_forward(&m->net, xn, 1, &ctx);
    free(xn);
    memcpy(maps, l->out, sizeof(float) * need);
    *c = l->oc; *h = l->oh; *w = l->ow;
    return FERC_OK;
}

ferc_status ferc_model_saliency(ferc_model *m, const float *x, int cls, float *grad,
                                ferc_error *err) {
    if (cls < 0 || cls >= m->net.nclasses) return ferc_fail(err, FERC_ERR_ARG, "class %d out of range", cls);
    ferc_status st = net_reserve(&m->net, 1, 1, 1, err);
    if (st != FERC_OK) return st;
    size_t per = (size_t)m->input_size * m->input_size;
    float *xn = malloc(sizeof(float) * per);
    if (!xn) return ferc_fail(err, FERC_ERR_NOMEM, "out of memory");
    normalise(m, x, xn, per);
    exec_ctx ctx = {1, 0, 0};
    net_forward(&m->net, xn, 1, &ctx);
    float d[FERC_NUM_CLASSES] = {0};
    d[cls] = 1.0f;
    net_backward(&m->net, xn, d, grad, 1, &ctx);
    memset(m->net.grads, 0, sizeof(float) * m->net.nparams);
    free(xn);
    /* d/dx of the raw input: chain through the normalisation */
    if (m->norm_std != 1) for (size_t i = 0; i < per; i++) grad[i] /= m->norm_std;
    return FERC_OK;
}

ferc_status ferc_model_first_filters(const ferc_model *m, float *w, size_t cap, int *k, int *kh,
                                     int *kw, ferc_error *err) {
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

/* ------------------------------------------------------------------------ */
/* File format                                                               */
/* ------------------------------------------------------------------------ */

typedef struct { unsigned char *p; size_t n, cap; int oom; } wbuf;

static void put(wbuf *b, const void *d, size_t n) {
    if (b->oom) return;
    if (b->n + n > b->cap) {
        size_t nc = b->cap ? b->cap : 1 << 16;
        while (nc < b->n + n) nc *= 2;
        unsigned char *np = realloc(b->p, nc);
        if (!np) { b->oom = 1; return; }
        b->p = np; b->cap = nc;
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void put_u32(wbuf *b, uint32_t v) { put(b, &v, 4); }
static void put_u64(wbuf *b, uint64_t v) { put(b, &v, 8); }
static void chunk(wbuf *b, const char tag[4], uint64_t len) { put(b, tag, 4); put_u64(b, len); }
static void put_floats(wbuf *b, const char tag[4], const float *f, size_t n) {
    chunk(b, tag, 8 + 4 * n); put_u64(b, n); put(b, f, 4 * n);
}

static int host_is_le(void) { uint16_t x = 1; unsigned char c; memcpy(&c, &x, 1); return c == 1; }

ferc_status model_save_ex(const ferc_model *m, const char *path, const ckpt_extra *ex,
                          ferc_error *err) {
    if (!host_is_le()) return ferc_fail(err, FERC_ERR_INTERNAL, "model files are little endian; this host is not");
    wbuf b = {0};
    put(&b, MODEL_MAGIC, 8); put_u32(&b, MODEL_VERSION); put_u32(&b, ex ? 1 : 0);
    size_t al = strlen(m->arch), sl = strlen(m->spec);
    chunk(&b, "ARCH", al); put(&b, m->arch, al);
    chunk(&b, "SPEC", sl); put(&b, m->spec, sl);
    chunk(&b, "INPT", 12); put_u32(&b, 1); put_u32(&b, (uint32_t)m->input_size); put_u32(&b, (uint32_t)m->input_size);
    size_t ll = 0;
    for (int i = 0; i < FERC_NUM_CLASSES; i++) ll += 1 + strlen(m->labels[i]);
    chunk(&b, "LABL", 4 + ll); put_u32(&b, FERC_NUM_CLASSES);
    for (int i = 0; i < FERC_NUM_CLASSES; i++) {
        unsigned char n = (unsigned char)strlen(m->labels[i]);
        put(&b, &n, 1); put(&b, m->labels[i], n);
    }
    chunk(&b, "PREP", 8); put_u32(&b, (uint32_t)m->prep_size); put_u32(&b, (uint32_t)m->prep_crop);
    chunk(&b, "NORM", 12); put(&b, &m->norm_scale, 4); put(&b, &m->norm_mean, 4); put(&b, &m->norm_std, 4);
    put_floats(&b, "PARM", m->net.params, m->net.nparams);
    put_floats(&b, "STAT", m->net.state, m->net.nstate);
    chunk(&b, "HIST", 4 + (uint64_t)m->nhist * 28); put_u32(&b, (uint32_t)m->nhist);
    for (int i = 0; i < m->nhist; i++) {
        const ferc_epoch_stats *h = &m->hist[i];
        int32_t e = h->epoch;
        put(&b, &e, 4); put(&b, &h->train_loss, 4); put(&b, &h->train_acc, 4); put(&b, &h->val_loss, 4);
        put(&b, &h->val_acc, 4); put(&b, &h->lr, 4); put(&b, &h->seconds, 4);
    }
    /* per-epoch validation macro F1: an optional chunk (older readers skip it) */
    chunk(&b, "HSTF", 4 + (uint64_t)m->nhist * 4); put_u32(&b, (uint32_t)m->nhist);
    for (int i = 0; i < m->nhist; i++) put(&b, &m->hist[i].val_macro_f1, 4);
    if (ex) {
        chunk(&b, "TRST", 4 + 32 + 4 + 4 + 8);
        int32_t e = ex->epochs_done, be = ex->best_epoch;
        int64_t t = ex->opt_t;
        put(&b, &e, 4); put(&b, ex->rng.s, 32); put(&b, &ex->best_val_acc, 4); put(&b, &be, 4); put(&b, &t, 8);
        if (ex->opt_m && ex->opt_v) { put_floats(&b, "OPTM", ex->opt_m, m->net.nparams); put_floats(&b, "OPTV", ex->opt_v, m->net.nparams); }
        if (ex->best_params) { put_floats(&b, "BSTP", ex->best_params, m->net.nparams); put_floats(&b, "BSTS", ex->best_state, m->net.nstate); }
    }
    uint32_t crc = (uint32_t)crc32(0L, b.p, (uInt)b.n);
    put_u32(&b, crc);
    if (b.oom) { free(b.p); return ferc_fail(err, FERC_ERR_NOMEM, "%s: out of memory while writing", path); }
    /* write to a temporary file, then rename: readers never see half a file */
    size_t pl = strlen(path);
    char *tmp = malloc(pl + 16);
    if (!tmp) { free(b.p); return ferc_fail(err, FERC_ERR_NOMEM, "out of memory"); }
    snprintf(tmp, pl + 16, "%s.tmp%d", path, (int)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        ferc_status st = ferc_fail(err, FERC_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
        free(tmp); free(b.p); return st;
    }
    size_t wr = fwrite(b.p, 1, b.n, f);
    int bad = wr != b.n || fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    free(b.p);
    if (bad || rename(tmp, path) != 0) {
        ferc_status st = ferc_fail(err, FERC_ERR_IO, "%s: write failed: %s", path, strerror(errno));
        unlink(tmp); free(tmp); return st;
    }
    free(tmp);
    return FERC_OK;
}

ferc_status ferc_model_save(const ferc_model *m, const char *path, ferc_error *err) {
    return model_save_ex(m, path, NULL, err);
}

typedef struct { const unsigned char *p; size_t n; } rbuf;

static int get_floats(const unsigned char *d, uint64_t len, size_t want, float *dst) {
    uint64_t n;
    if (len < 8) return 0;
    memcpy(&n, d, 8);
    if (n != want || len != 8 + 4 * n) return 0;
    if (dst) memcpy(dst, d + 8, 4 * n);
    return 1;
}

ferc_status model_load_ex(const char *path, ferc_model **out, ckpt_extra *ex, ferc_error *err) {
    *out = NULL;
    if (ex) memset(ex, 0, sizeof *ex);
    if (!host_is_le()) return ferc_fail(err, FERC_ERR_INTERNAL, "model files are little endian; this host is not");
    unsigned char *d;
    size_t n;
    ferc_status st = ferc_read_file(path, &d, &n, err);
    if (st != FERC_OK) return st;
#define BAD(...) do { st = ferc_fail(err, FERC_ERR_FORMAT, __VA_ARGS__); goto fail; } while (0)
    ferc_model *m = NULL;
    char *spec = NULL;
    if (n == 0) BAD("%s: empty file, not a ferc model", path);
    if (n < 20 || memcmp(d, MODEL_MAGIC, 8) != 0) BAD("%s: not a ferc model file (bad magic)", path);
    uint32_t version, crc_stored;
    memcpy(&version, d + 8, 4);
    if (version != MODEL_VERSION) BAD("%s: model file version %u, this ferc reads version %u", path, version, MODEL_VERSION);
    memcpy(&crc_stored, d + n - 4, 4);
    if ((uint32_t)crc32(0L, d, (uInt)(n - 4)) != crc_stored)
        BAD("%s: checksum mismatch: the file is truncated or corrupted", path);
    char arch[32] = "";
    int insize = 0, have_parm = 0;
    size_t off = 16, end = n - 4;
    /* first pass: architecture, to build the net */
    const unsigned char *parm = NULL, *stat = NULL, *hist = NULL, *labl = NULL, *norm = NULL, *prep = NULL;
    uint64_t parm_len = 0, stat_len = 0, hist_len = 0, labl_len = 0, hstf_len = 0;
    const unsigned char *hstf = NULL;
    const unsigned char *trst = NULL, *optm = NULL, *optv = NULL, *bstp = NULL, *bsts = NULL;
    uint64_t optm_len = 0, optv_len = 0, bstp_len = 0, bsts_len = 0;
    while (off < end) {
        if (end - off < 12) BAD("%s: truncated chunk header at byte %zu", path, off);
        char tag[5] = {0};
        uint64_t len;
        memcpy(tag, d + off, 4); memcpy(&len, d + off + 4, 8);
        off += 12;
        if (len > end - off) BAD("%s: chunk %s runs past the end of the file", path, tag);
        const unsigned char *p = d + off;
        if (!strcmp(tag, "ARCH")) { if (len >= sizeof arch) BAD("%s: bad ARCH", path); memcpy(arch, p, len); arch[len] = 0; }
        else if (!strcmp(tag, "SPEC")) { free(spec); spec = malloc(len + 1); if (!spec) BAD("%s: out of memory", path); memcpy(spec, p, len); spec[len] = 0; }
        else if (!strcmp(tag, "INPT")) {
            uint32_t v[3];
            if (len != 12) BAD("%s: bad INPT", path);
            memcpy(v, p, 12);
            if (v[0] != 1 || v[1] != v[2] || v[1] < 8 || v[1] > 1024)
                BAD("%s: unsupported input shape %ux%ux%u", path, v[0], v[1], v[2]);
            insize = (int)v[1];
        }
        else if (!strcmp(tag, "LABL")) { labl = p; labl_len = len; }
        else if (!strcmp(tag, "PREP")) { if (len != 8) BAD("%s: bad PREP", path); prep = p; }
        else if (!strcmp(tag, "NORM")) { if (len != 12) BAD("%s: bad NORM", path); norm = p; }
        else if (!strcmp(tag, "PARM")) { parm = p; parm_len = len; have_parm = 1; }
        else if (!strcmp(tag, "STAT")) { stat = p; stat_len = len; }
        else if (!strcmp(tag, "HIST")) { hist = p; hist_len = len; }
        else if (!strcmp(tag, "HSTF")) { hstf = p; hstf_len = len; }
        else if (!strcmp(tag, "TRST")) { if (len != 52) BAD("%s: bad TRST", path); trst = p; }
        else if (!strcmp(tag, "OPTM")) { optm = p; optm_len = len; }
        else if (!strcmp(tag, "OPTV")) { optv = p; optv_len = len; }
        else if (!strcmp(tag, "BSTP")) { bstp = p; bstp_len = len; }
        else if (!strcmp(tag, "BSTS")) { bsts = p; bsts_len = len; }
        /* unknown chunks are skipped: newer writers may add optional data */
        off += len;
    }
    if (!arch[0] || !spec || !insize || !have_parm) BAD("%s: incomplete model file (missing %s)", path,
        !arch[0] ? "ARCH" : !spec ? "SPEC" : !insize ? "INPT" : "PARM");
    ferc_error e2;
    if (model_new(arch, spec, insize, &m, &e2) != FERC_OK) BAD("%s: %s", path, e2.msg);
    if (!get_floats(parm, parm_len, m->net.nparams, m->net.params))
        BAD("%s: parameter count does not match the architecture", path);
    if (stat && !get_floats(stat, stat_len, m->net.nstate, m->net.state))
        BAD("%s: state count does not match the architecture", path);
    if (prep) {
        uint32_t v[2];
        memcpy(v, prep, 8);
        if (v[0] < (uint32_t)m->input_size || v[0] > 1024 || v[1] > 1 || (!v[1] && v[0] != (uint32_t)m->input_size))
            BAD("%s: bad preprocessing (size %u, crop %u)", path, v[0], v[1]);
        m->prep_size = (int)v[0]; m->prep_crop = (int)v[1];
    }
    if (norm) { memcpy(&m->norm_scale, norm, 4); memcpy(&m->norm_mean, norm + 4, 4); memcpy(&m->norm_std, norm + 8, 4);
                if (!(m->norm_std > 0)) BAD("%s: bad normalisation", path); }
    if (labl) {
        uint32_t k; size_t o = 4;
        if (labl_len < 4) BAD("%s: bad LABL", path);
        memcpy(&k, labl, 4);
        if (k != FERC_NUM_CLASSES) BAD("%s: %u labels, expected %d", path, k, FERC_NUM_CLASSES);
        for (uint32_t i = 0; i < k; i++) {
            if (o >= labl_len) BAD("%s: bad LABL", path);
            unsigned ln = labl[o++];
            if (ln >= sizeof m->labels[0] || o + ln > labl_len) BAD("%s: bad LABL", path);
            memcpy(m->labels[i], labl + o, ln); m->labels[i][ln] = 0; o += ln;
        }
    }
    if (hist) {
        uint32_t k;
        if (hist_len < 4) BAD("%s: bad HIST", path);
        memcpy(&k, hist, 4);
        if (hist_len != 4 + (uint64_t)k * 28) BAD("%s: bad HIST", path);
        if (k) {
            m->hist = calloc(k, sizeof *m->hist);
            if (!m->hist) BAD("%s: out of memory", path);
            for (uint32_t i = 0; i < k; i++) {
                const unsigned char *r = hist + 4 + 28 * (size_t)i;
                int32_t ep; memcpy(&ep, r, 4);
                ferc_epoch_stats *h = &m->hist[i];
                h->epoch = ep;
                memcpy(&h->train_loss, r + 4, 4); memcpy(&h->train_acc, r + 8, 4); memcpy(&h->val_loss, r + 12, 4);
                memcpy(&h->val_acc, r + 16, 4); memcpy(&h->lr, r + 20, 4); memcpy(&h->seconds, r + 24, 4);
                h->val_macro_f1 = NAN;
                if (hstf && hstf_len == 4 + 4 * (uint64_t)k) memcpy(&h->val_macro_f1, hstf + 4 + 4 * (size_t)i, 4);
            }
            m->nhist = (int)k;
        }
    }
    if (ex) {
        ex->has_train_state = trst != NULL;
        if (trst) {
            int32_t e, be; int64_t t;
            memcpy(&e, trst, 4); memcpy(ex->rng.s, trst + 4, 32); memcpy(&ex->best_val_acc, trst + 36, 4);
            memcpy(&be, trst + 40, 4); memcpy(&t, trst + 44, 8);
            ex->epochs_done = e; ex->best_epoch = be; ex->opt_t = t;
        }
        /* the loader allocates these; the caller frees them */
        size_t np = m->net.nparams, ns = m->net.nstate ? m->net.nstate : 1;
        ex->load_m = optm ? malloc(4 * np) : NULL;
        ex->load_v = optv ? malloc(4 * np) : NULL;
        ex->load_best_params = bstp ? malloc(4 * np) : NULL;
        ex->load_best_state = bsts ? malloc(4 * ns) : NULL;
        if ((optm && !ex->load_m) || (optv && !ex->load_v) || (bstp && !ex->load_best_params) || (bsts && !ex->load_best_state))
            BAD("%s: out of memory", path);
        if (optm && !get_floats(optm, optm_len, np, ex->load_m)) BAD("%s: bad optimiser state", path);
        if (optv && !get_floats(optv, optv_len, np, ex->load_v)) BAD("%s: bad optimiser state", path);
        if (bstp && !get_floats(bstp, bstp_len, np, ex->load_best_params)) BAD("%s: bad best weights", path);
        if (bsts && !get_floats(bsts, bsts_len, m->net.nstate, ex->load_best_state)) BAD("%s: bad best weights", path);
        if (trst && (!optm || !optv || !bstp)) BAD("%s: checkpoint lacks optimiser or best-weight data", path);
    }
    free(spec);
    free(d);
    *out = m;
    return FERC_OK;
fail:
    if (ex) {
        free(ex->load_m); free(ex->load_v); free(ex->load_best_params); free(ex->load_best_state);
        ex->load_m = ex->load_v = ex->load_best_params = ex->load_best_state = NULL;
    }
    free(spec);
    ferc_model_free(m);
    free(d);
    return st;
#undef BAD
}

ferc_status ferc_model_load(const char *path, ferc_model **out, ferc_error *err) {
    return model_load_ex(path, out, NULL, err);
}
