/* report.c — the HTML report of a trained model on a dataset: evaluates the
 * model, computes the error analysis (confused pairs, calibration, accuracy
 * by brightness / contrast, predicted vs true share) once into a context,
 * has report_figures.c draw every figure and report_page.c write the page
 * into a temporary folder, and moves the page into place. */
#include "report/report.h"


#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define K FERC_NUM_CLASSES

void ferc_report_opts_default(ferc_report_opts *o) {
    memset(o, 0, sizeof *o);
    o->max_faces = 24;
    o->pairs = 6;
    o->activation_faces = 3;
    o->maps_per_block = 10;
    o->saliency_faces = 8;
    o->calib_bins = 10;
    o->quantiles = 5;
}

/* ------------------------------------------------------------------------ */
/* Calibration                                                              */
/* ------------------------------------------------------------------------ */

ferc_status ferc_calibration_compute(const float *probs, const int *labels, int n, int nb,
                                     ferc_calibration *out, ferc_error *err) {
    if (n < 1) return ferc_fail(err, FERC_ERR_ARG, "calibration: no predictions");
    if (nb < 1 || nb > FERC_MAX_CALIB_BINS)
        return ferc_fail(err, FERC_ERR_ARG, "calibration: %d bins (1..%d)", nb, FERC_MAX_CALIB_BINS);
    memset(out, 0, sizeof *out);
    out->nb = nb;
    out->n = n;
    double sc[FERC_MAX_CALIB_BINS] = {0}, sa[FERC_MAX_CALIB_BINS] = {0};
    for (int i = 0; i < n; i++) {
        const float *p = probs + (size_t)i * K;
        int best = 0;
        for (int c = 1; c < K; c++)
            if (p[c] > p[best]) best = c;
        double conf = p[best];
        if (!(conf >= 0 && conf <= 1.0 + 1e-6))
            return ferc_fail(err, FERC_ERR_ARG, "calibration: row %d: top probability %g is not in [0,1]", i, conf);
        if (labels[i] < 0 || labels[i] >= K)
            return ferc_fail(err, FERC_ERR_ARG, "calibration: row %d: label %d out of range", i, labels[i]);
        int b = (int)(conf * nb);
        if (b >= nb) b = nb - 1;
        out->count[b]++;
        sc[b] += conf;
        sa[b] += best == labels[i];
    }
    for (int b = 0; b < nb; b++) {
        if (out->count[b] == 0) continue;
        out->conf[b] = sc[b] / out->count[b];
        out->acc[b] = sa[b] / out->count[b];
        double gap = fabs(out->acc[b] - out->conf[b]);
        out->ece += (double)out->count[b] / n * gap;
        if (gap > out->mce) out->mce = gap;
    }
    return FERC_OK;
}

/* A calibrated model: the reliability of its scores before calibration
 * too (its temperature undone), so the page shows what calibration did. */
static ferc_status raw_calibration(report_ctx *c, int nb, ferc_error *err) {
    c->temperature = c->in->model ? ferc_model_temperature(c->in->model) : 1.0f;
    if (c->temperature == 1.0f) return FERC_OK;
    float *p = malloc(sizeof(float) * FERC_NUM_CLASSES * (size_t)c->n);
    if (!p) return ferc_fail(err, FERC_ERR_NOMEM, "report: out of memory");
    memcpy(p, c->in->probs, sizeof(float) * FERC_NUM_CLASSES * (size_t)c->n);
    ferc_probs_temper(p, c->n, c->temperature);
    ferc_status st = ferc_calibration_compute(p, c->d->label, c->n, nb, &c->cal_raw, err);
    free(p);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Output folder: temp folder, file list, final move                        */
/* ------------------------------------------------------------------------ */

/* mkdtemp, but with mode 0777 less the umask, as mkdir gives (mkdtemp's
 * 0700 would become the report folder itself when it is renamed into
 * place: a page nobody else can read under umask 022). The last six X of
 * tmpl are replaced by a name that does not exist yet; NULL with errno set
 * on failure. */
static char *make_temp_dir(char *tmpl) {
    static const char digits[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    size_t len = strlen(tmpl);
    if (len < 6 || strcmp(tmpl + len - 6, "XXXXXX") != 0) { errno = EINVAL; return NULL; }
    uint64_t x = (uint64_t)getpid() * 0x9E3779B97F4A7C15ull ^ (uint64_t)(ferc_now() * 1e9) ^ (uint64_t)(uintptr_t)tmpl;
    for (int attempt = 0; attempt < 1000; attempt++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        uint64_t r = x >> 16;
        for (int k = 0; k < 6; k++, r /= 62) tmpl[len - 6 + k] = digits[r % 62];
        if (mkdir(tmpl, 0777) == 0) return tmpl;
        if (errno != EEXIST) return NULL;
    }
    errno = EEXIST;
    return NULL;
}

static ferc_status out_open(report_outdir *od, const char *dir, ferc_error *err) {
    memset(od, 0, sizeof *od);
    size_t len = strlen(dir);
    if (len == 0) return ferc_fail(err, FERC_ERR_ARG, "output folder name is empty");
    if (len >= sizeof od->dir - 32) return ferc_fail(err, FERC_ERR_ARG, "output folder name too long: %s", dir);
    memcpy(od->dir, dir, len + 1);
    while (len > 1 && od->dir[len - 1] == '/') od->dir[--len] = 0;
    struct stat st;
    if (stat(od->dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode))
            return ferc_fail(err, FERC_ERR_IO, "output folder %s: exists and is not a folder", od->dir);
        snprintf(od->tmp, sizeof od->tmp, "%s/.ferc-report-XXXXXX", od->dir);
        od->sibling = 0;
    } else {
        snprintf(od->tmp, sizeof od->tmp, "%s.tmp-XXXXXX", od->dir);
        od->sibling = 1;
    }
    if (!make_temp_dir(od->tmp)) {
        int e = errno;
        od->tmp[0] = 0;
        if (od->sibling)
            return ferc_fail(err, FERC_ERR_IO, "output folder %s: cannot be created: %s", od->dir, strerror(e));
        return ferc_fail(err, FERC_ERR_IO, "output folder %s: cannot be written: %s", od->dir, strerror(e));
    }
    return FERC_OK;
}

void report_out_file(const report_outdir *od, const char *name, char *buf, size_t cap) {
    snprintf(buf, cap, "%s/%s", od->tmp, name);
}

void report_out_keep(report_outdir *od, const char *name) {
    for (int i = 0; i < od->nnames; i++)
        if (strcmp(od->names[i], name) == 0) return;
    if (od->nnames < (int)(sizeof od->names / sizeof od->names[0]))
        snprintf(od->names[od->nnames++], sizeof od->names[0], "%s", name);
}

/* Remove the temporary folder and everything in it (nothing once moved). */
static void out_abort(report_outdir *od) {
    if (!od->tmp[0]) return;
    DIR *dp = opendir(od->tmp);
    if (dp) {
        struct dirent *e;
        char p[4500];
        while ((e = readdir(dp)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            snprintf(p, sizeof p, "%s/%s", od->tmp, e->d_name);
            unlink(p);
        }
        closedir(dp);
    }
    rmdir(od->tmp);
    od->tmp[0] = 0;
}

static ferc_status out_commit(report_outdir *od, ferc_error *err) {
    if (od->sibling) {
        if (rename(od->tmp, od->dir) == 0) { od->tmp[0] = 0; return FERC_OK; }
        /* the folder appeared meanwhile: fall back to moving the files */
    }
    char a[4500], b[4500];
    /* index.html is moved last so that a page only appears when complete */
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < od->nnames; i++) {
            int is_index = strcmp(od->names[i], "index.html") == 0;
            if (is_index != pass) continue;
            snprintf(a, sizeof a, "%s/%s", od->tmp, od->names[i]);
            snprintf(b, sizeof b, "%s/%s", od->dir, od->names[i]);
            if (rename(a, b) != 0) {
                int e = errno;
                out_abort(od);
                return ferc_fail(err, FERC_ERR_IO, "%s: cannot move into place: %s", b, strerror(e));
            }
        }
    rmdir(od->tmp);
    od->tmp[0] = 0;
    return FERC_OK;
}

/* ------------------------------------------------------------------------ */
/* Small helpers                                                            */
/* ------------------------------------------------------------------------ */

static int cmp_keyed_desc(const void *a, const void *b) {
    const report_keyed *x = a, *y = b;
    if (x->key > y->key) return -1;
    if (x->key < y->key) return 1;
    return (x->i > y->i) - (x->i < y->i);
}

void report_sort_keyed(report_keyed *k, int n) {
    qsort(k, (size_t)n, sizeof *k, cmp_keyed_desc);
}


/* ------------------------------------------------------------------------ */
/* Input: options and checks                                                */
/* ------------------------------------------------------------------------ */

/* Options with out-of-range values replaced by the default or the limit. */
static void clamp_opts(ferc_report_opts *o, const ferc_report_opts *opts) {
    if (opts) *o = *opts;
    else ferc_report_opts_default(o);
    if (o->max_faces < 1) o->max_faces = 24;
    if (o->max_faces > REPORT_MAX_FACES) o->max_faces = REPORT_MAX_FACES;
    if (o->pairs < 1) o->pairs = 6;
    if (o->pairs > 21) o->pairs = 21;
    if (o->activation_faces < 1) o->activation_faces = 3;
    if (o->activation_faces > 8) o->activation_faces = 8;
    if (o->maps_per_block < 1) o->maps_per_block = 10;
    if (o->maps_per_block > 32) o->maps_per_block = 32;
    if (o->saliency_faces < 1) o->saliency_faces = 8;
    if (o->saliency_faces > 16) o->saliency_faces = 16;
    if (o->calib_bins < 1) o->calib_bins = 10;
    if (o->calib_bins > FERC_MAX_CALIB_BINS) o->calib_bins = FERC_MAX_CALIB_BINS;
    if (o->quantiles < 1) o->quantiles = 5;
    if (o->quantiles > REPORT_MAX_QUANTILES) o->quantiles = REPORT_MAX_QUANTILES;
}

static ferc_status check_input(const report_input *in, const ferc_report_opts *o, ferc_error *err) {
    if (!in || !in->hist || in->nhist < 1)
        return ferc_fail(err, FERC_ERR_ARG, "model has no training history (train it with 'ferc train'; a report needs the curves)");
    const ferc_dataset *d = in->d;
    if (!d || d->n < 1)
        return ferc_fail(err, FERC_ERR_ARG, "data has no rows%s%s: nothing to report on",
                         o->data_label ? " in " : "", o->data_label ? o->data_label : "");
    if (d->h < 1 || d->w < 1 || !d->pix || !d->label || !in->pred || !in->probs)
        return ferc_fail(err, FERC_ERR_ARG, "report: incomplete data (no pixels, labels or predictions)");
    for (int i = 0; i < d->n; i++)
        if (d->label[i] < 0 || d->label[i] >= K || in->pred[i] < 0 || in->pred[i] >= K)
            return ferc_fail(err, FERC_ERR_ARG, "report: row %d: label %d or prediction %d out of range", i, d->label[i], in->pred[i]);
    return FERC_OK;
}

/* ------------------------------------------------------------------------ */
/* Analysis shared by figures and page                                      */
/* ------------------------------------------------------------------------ */

/* Class names, true and predicted counts, the best epoch. */
static void count_classes(report_ctx *c) {
    const report_input *in = c->in;
    for (int k = 0; k < K; k++) c->names[k] = ferc_label_name(k);
    for (int i = 0; i < c->n; i++) { c->true_count[c->d->label[i]]++; c->pred_count[in->pred[i]]++; }
    c->best_epoch = 1;
    for (int e = 0; e < in->nhist; e++)
        if (in->hist[e].val_acc > in->hist[c->best_epoch - 1].val_acc) c->best_epoch = e + 1;
}

/* Brightness (mean pixel) and contrast (pixel std) of every face, and
 * whether it was classified correctly. */
static void pixel_stats(report_ctx *c) {
    const ferc_dataset *d = c->d;
    int n = c->n;
    size_t per = (size_t)d->h * d->w;
    for (int i = 0; i < n; i++) {
        const uint8_t *p = d->pix + per * i;
        double s = 0, s2 = 0;
        for (size_t k = 0; k < per; k++) { s += p[k]; s2 += (double)p[k] * p[k]; }
        double mean = s / per, var = s2 / per - mean * mean;
        c->val[i] = mean / 255.0;
        c->val[n + i] = sqrt(var > 0 ? var : 0) / 255.0;
        c->correct[i] = c->in->pred[i] == d->label[i];
    }
}

/* Accuracy by brightness and by contrast quantile (when there are enough faces). */
static ferc_status quantiles(report_ctx *c, ferc_error *err) {
    c->have_q = c->n >= c->o.quantiles;
    if (!c->have_q) return FERC_OK;
    for (int k = 0; k < 2; k++) {
        ferc_status st = plot_quantile_accuracy(c->val + (size_t)k * c->n, c->correct, c->n, c->o.quantiles,
                                                c->qacc[k], c->qlo[k], c->qhi[k], c->qcnt[k], err);
        if (st) return st;
    }
    return FERC_OK;
}

static int cmp_pair(const void *a, const void *b) {
    const report_pair *x = a, *y = b;
    if (x->count != y->count) return y->count - x->count;
    if (x->t != y->t) return x->t - y->t;
    return x->p - y->p;
}

/* Off-diagonal cells of the confusion matrix, most frequent first. */
static void confused_pairs(report_ctx *c) {
    for (int t = 0; t < K; t++)
        for (int p = 0; p < K; p++)
            if (t != p && c->met.confusion[t][p] > 0)
                c->pairs[c->npairs++] = (report_pair){.t = t, .p = p, .count = c->met.confusion[t][p]};
    qsort(c->pairs, (size_t)c->npairs, sizeof *c->pairs, cmp_pair);
}

/* Faces with correct[i] == want into kk, most confident first; returns how many. */
static int sort_by_confidence(report_ctx *c, int want) {
    int m = 0;
    for (int i = 0; i < c->n; i++)
        if (c->correct[i] == want)
            c->kk[m++] = (report_keyed){.key = c->in->probs[(size_t)i * K + c->in->pred[i]], .i = i};
    report_sort_keyed(c->kk, m);
    return m;
}

/* The most confident mistakes, up to max_faces. */
static void pick_mistakes(report_ctx *c) {
    c->nmis = sort_by_confidence(c, 0);
    c->nshow = c->nmis < c->o.max_faces ? c->nmis : c->o.max_faces;
    for (int k = 0; k < c->nshow; k++) c->mis[k] = c->kk[k].i;
}

/* Position in kk[0..m) of the rank-th (0-based) face of class cls, -1 if none. */
static int nth_of_class(const report_keyed *kk, int m, const int *label, int cls, int rank) {
    int seen = 0;
    for (int k = 0; k < m; k++) {
        if (label[kk[k].i] != cls) continue;
        if (seen++ == rank) return k;
    }
    return -1;
}

/* Correct faces, most confident first, taking the classes in turn (so
 * that one frequent class does not fill the grid), up to max_faces. */
static void pick_correct(report_ctx *c) {
    int m = sort_by_confidence(c, 1);
    int taken = 0, rank[K] = {0};
    while (taken < c->o.max_faces) {
        int progress = 0;
        for (int cls = 0; cls < K && taken < c->o.max_faces; cls++) {
            int k = nth_of_class(c->kk, m, c->d->label, cls, rank[cls]);
            if (k < 0) continue;
            c->cor[taken++] = c->kk[k].i;
            rank[cls]++;
            progress = 1;
        }
        if (!progress) break;
    }
    c->ncor = taken;
    c->ncorrect = m;
}

/* ------------------------------------------------------------------------ */
/* The context and the page                                                 */
/* ------------------------------------------------------------------------ */

/* Make the context: metrics, calibration, the temporary output folder, the
 * per-face buffers and the analysis. *out is set even on failure, for
 * report_ctx_end. */
static ferc_status report_ctx_begin(report_ctx **out, const report_input *in,
                                    const ferc_report_opts *o, const char *dir, ferc_error *err) {
    report_ctx *c = calloc(1, sizeof *c);
    *out = c;
    if (!c) return ferc_fail(err, FERC_ERR_NOMEM, "report: out of memory");
    c->in = in;
    c->d = in->d;
    c->n = in->d->n;
    c->o = *o;
    ferc_metrics_compute(c->d->label, in->pred, c->n, &c->met);
    ferc_status st = ferc_calibration_compute(in->probs, c->d->label, c->n, o->calib_bins, &c->cal, err);
    if (st) return st;
    if ((st = raw_calibration(c, o->calib_bins, err))) return st;
    st = out_open(&c->od, dir, err);
    if (st) return st;
    c->val = malloc(sizeof(double) * 2 * (size_t)c->n);
    c->correct = malloc(sizeof(int) * (size_t)c->n);
    c->kk = malloc(sizeof(report_keyed) * (size_t)c->n);
    if (!c->val || !c->correct || !c->kk) return ferc_fail(err, FERC_ERR_NOMEM, "report: out of memory");
    count_classes(c);
    pixel_stats(c);
    st = quantiles(c, err);
    if (st) return st;
    confused_pairs(c);
    pick_mistakes(c);
    pick_correct(c);
    c->nblocks = in->model ? ferc_model_num_blocks(in->model) : 0;
    return FERC_OK;
}

/* Free the context; removes the temporary folder unless it was moved into place. */
static void report_ctx_end(report_ctx *c) {
    if (!c) return;
    out_abort(&c->od);
    free(c->val);
    free(c->correct);
    free(c->kk);
    free(c);
}

ferc_status report_render(const report_input *in, const char *dir, const ferc_report_opts *opts,
                          ferc_error *err) {
    ferc_report_opts o;
    clamp_opts(&o, opts);
    ferc_status st = check_input(in, &o, err);
    if (st) return st;
    report_ctx *c = NULL;
    st = report_ctx_begin(&c, in, &o, dir, err);
    if (st == FERC_OK) st = report_draw_figures(c, err);
    if (st == FERC_OK) st = report_write_page(c, err);
    if (st == FERC_OK) st = out_commit(&c->od, err);
    report_ctx_end(c);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Public entry points                                                      */
/* ------------------------------------------------------------------------ */

ferc_status ferc_plot_curves(const ferc_epoch_stats *h, int n, const char *path, ferc_error *err) {
    if (!path) return ferc_fail(err, FERC_ERR_ARG, "plot curves: no output path");
    if (!h || n < 1) return ferc_fail(err, FERC_ERR_ARG, "%s: no training history to plot", path);
    return plot_curves(h, n, 1100, 420, path, err);
}

/* Can dir be written (or created)? Checked before the slow evaluation. */
static ferc_status check_dir(const char *dir, ferc_error *err) {
    if (!dir || !*dir) return ferc_fail(err, FERC_ERR_ARG, "no output folder given");
    struct stat st;
    if (stat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) return ferc_fail(err, FERC_ERR_IO, "output folder %s: exists and is not a folder", dir);
        if (access(dir, W_OK | X_OK) != 0)
            return ferc_fail(err, FERC_ERR_IO, "output folder %s: cannot be written: %s", dir, strerror(errno));
        return FERC_OK;
    }
    /* the parent must exist and be writable */
    char parent[4096];
    snprintf(parent, sizeof parent, "%s", dir);
    size_t len = strlen(parent);
    while (len > 1 && parent[len - 1] == '/') parent[--len] = 0;
    char *slash = strrchr(parent, '/');
    if (!slash) snprintf(parent, sizeof parent, ".");
    else if (slash == parent) parent[1] = 0;
    else *slash = 0;
    if (access(parent, W_OK | X_OK) != 0)
        return ferc_fail(err, FERC_ERR_IO, "output folder %s: cannot be created in %s: %s", dir, parent, strerror(errno));
    return FERC_OK;
}

/* Predictions and probabilities of every face, in chunks (views into d,
 * no copy) so that progress can be reported. */
static ferc_status evaluate_all(ferc_model *m, const ferc_dataset *d, const ferc_report_opts *o,
                                int *pred, float *probs, ferc_error *err) {
    ferc_status st = FERC_OK;
    const int chunk = 512;
    for (int i = 0; i < d->n && st == FERC_OK; i += chunk) {
        ferc_dataset part = *d;
        part.n = d->n - i < chunk ? d->n - i : chunk;
        part.pix = d->pix + (size_t)i * d->h * d->w;
        part.label = d->label + i;
        part.usage = d->usage ? d->usage + i : NULL;
        st = ferc_evaluate(m, &part, o->threads, pred + i, probs + (size_t)i * K, NULL, err);
        if (o->progress) o->progress(i + part.n, d->n, o->progress_user);
    }
    return st;
}

ferc_status ferc_report(ferc_model *m, const ferc_dataset *d, const char *dir,
                        const ferc_report_opts *opts, ferc_error *err) {
    ferc_report_opts o;
    if (opts) o = *opts;
    else ferc_report_opts_default(&o);
    if (!m) return ferc_fail(err, FERC_ERR_ARG, "report: no model");
    const ferc_epoch_stats *hist = NULL;
    int nh = ferc_model_history(m, &hist);
    if (nh < 1 || !hist)
        return ferc_fail(err, FERC_ERR_ARG, "model has no training history (train it with 'ferc train'; a report needs the curves)");
    if (!d || d->n < 1)
        return ferc_fail(err, FERC_ERR_ARG, "data has no rows%s%s: nothing to report on",
                         o.data_label ? " in " : "", o.data_label ? o.data_label : "");
    ferc_status st = check_dir(dir, err);
    if (st) return st;

    int *pred = malloc(sizeof(int) * (size_t)d->n);
    float *probs = malloc(sizeof(float) * (size_t)d->n * K);
    if (!pred || !probs) { free(pred); free(probs); return ferc_fail(err, FERC_ERR_NOMEM, "report: out of memory"); }
    ferc_logf(o.log, o.log_user, FERC_LOG_INFO, "evaluating %d faces with %d threads", d->n, ferc_threads(o.threads));
    double t0 = ferc_now();
    st = evaluate_all(m, d, &o, pred, probs, err);
    if (st == FERC_OK) {
        ferc_logf(o.log, o.log_user, FERC_LOG_INFO, "evaluated %d faces in %.1f s", d->n, ferc_now() - t0);
        report_input in = {.d = d, .pred = pred, .probs = probs, .hist = hist, .nhist = nh,
                           .arch = ferc_model_arch(m), .params = ferc_model_num_params(m),
                           .flops = ferc_model_flops(m), .model = m};
        st = report_render(&in, dir, &o, err);
    }
    free(pred);
    free(probs);
    return st;
}
