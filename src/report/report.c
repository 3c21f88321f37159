/* report.c — the HTML report of a trained model on a dataset: evaluates the
 * model, computes the error analysis (confused pairs, calibration, accuracy
 * by brightness / contrast, predicted vs true share), draws every figure
 * with plot.c into a temporary folder and moves the page into place. */
#include "report/report.h"
#include "model/model.h"
#include "data/data.h"


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

/* ------------------------------------------------------------------------ */
/* Output folder: temp folder, file list, final move                        */
/* ------------------------------------------------------------------------ */

typedef struct {
    char dir[4096];     /* final folder (no trailing slash) */
    char tmp[4200];     /* where files are written */
    int sibling;        /* tmp is dir's sibling (dir did not exist): rename whole folder */
    char names[24][32]; /* files written into tmp, index.html last */
    int nnames;
} outdir;

static ferc_status out_open(outdir *od, const char *dir, ferc_error *err) {
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
    if (!mkdtemp(od->tmp)) {
        int e = errno;
        od->tmp[0] = 0;
        if (od->sibling)
            return ferc_fail(err, FERC_ERR_IO, "output folder %s: cannot be created: %s", od->dir, strerror(e));
        return ferc_fail(err, FERC_ERR_IO, "output folder %s: cannot be written: %s", od->dir, strerror(e));
    }
    return FERC_OK;
}

/* Path of a file in the temp folder; remembers the name for the move. */
static const char *out_path(outdir *od, const char *name, char *buf, size_t cap) {
    int known = 0;
    for (int i = 0; i < od->nnames; i++)
        if (strcmp(od->names[i], name) == 0) known = 1;
    if (!known && od->nnames < (int)(sizeof od->names / sizeof od->names[0]))
        snprintf(od->names[od->nnames++], sizeof od->names[0], "%s", name);
    snprintf(buf, cap, "%s/%s", od->tmp, name);
    return buf;
}

static void out_abort(outdir *od) {
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

static ferc_status out_commit(outdir *od, ferc_error *err) {
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

typedef struct { char *p; size_t n, cap; int oom; } sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = b->cap - b->n;
        int k = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? room : 0, fmt, ap);
        va_end(ap);
        if (k < 0) { b->oom = 1; return; }
        if (b->p && (size_t)k < room) { b->n += (size_t)k; return; }
        size_t nc = (b->cap ? b->cap * 2 : 16384) + (size_t)k;
        char *np = realloc(b->p, nc);
        if (!np) { b->oom = 1; return; }
        b->p = np;
        b->cap = nc;
    }
}

/* HTML-escaped text. */
static void sb_esc(sbuf *b, const char *s) {
    for (; s && *s; s++) {
        switch (*s) {
        case '&': sb_printf(b, "&amp;"); break;
        case '<': sb_printf(b, "&lt;"); break;
        case '>': sb_printf(b, "&gt;"); break;
        case '"': sb_printf(b, "&quot;"); break;
        default: sb_printf(b, "%c", *s);
        }
    }
}

/* Indices sorted by a key (descending), ties by index. */
typedef struct { double key; int i; } keyed;
static int cmp_keyed_desc(const void *a, const void *b) {
    const keyed *x = a, *y = b;
    if (x->key > y->key) return -1;
    if (x->key < y->key) return 1;
    return (x->i > y->i) - (x->i < y->i);
}

/* Face i of the dataset as floats in [0,1] at its own size. */
static void face_floats(const ferc_dataset *d, int i, float *dst) {
    size_t n = (size_t)d->h * d->w;
    const uint8_t *p = d->pix + (size_t)i * n;
    for (size_t k = 0; k < n; k++) dst[k] = p[k] / 255.0f;
}

static void log_msg(const ferc_report_opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_msg(const ferc_report_opts *o, const char *fmt, ...) {
    if (!o->log) return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    o->log(FERC_LOG_INFO, buf, o->log_user);
}

/* ------------------------------------------------------------------------ */
/* Face grids                                                               */
/* ------------------------------------------------------------------------ */

/* Grid of dataset faces idx[0..n) with "true → pred (conf%)" captions. */
static ferc_status face_grid(const report_input *in, const int *idx, int n, const char *title,
                             const char *path, int *w_out, int *h_out, ferc_error *err) {
    const ferc_dataset *d = in->d;
    int cols = n < 8 ? (n > 0 ? n : 1) : 8;
    int rows = n > 0 ? (n + cols - 1) / cols : 1;
    size_t per = (size_t)d->h * d->w;
    float *buf = malloc(sizeof(float) * per * (size_t)(n > 0 ? n : 1));
    plot_tile *t = calloc((size_t)rows * cols, sizeof *t);
    char (*cap)[96] = calloc((size_t)(n > 0 ? n : 1), sizeof *cap);
    if (!buf || !t || !cap) { free(buf); free(t); free(cap); return ferc_fail(err, FERC_ERR_NOMEM, "%s: out of memory", path); }
    for (int k = 0; k < n; k++) {
        int i = idx[k];
        face_floats(d, i, buf + per * k);
        int p = in->pred[i];
        double conf = in->probs[(size_t)i * K + p];
        snprintf(cap[k], sizeof cap[k], "%s \xe2\x86\x92 %s (%.0f%%)", ferc_label_name(d->label[i]),
                 ferc_label_name(p), 100 * conf);
        t[k] = (plot_tile){buf + per * k, d->h, d->w, PLOT_TILE_GRAY01, 0, NULL, 0, cap[k],
                           p == d->label[i] ? PLOT_OK_TEXT : PLOT_BAD_TEXT};
    }
    plot_grid_spec g = {title, cols, rows, 144, 1, NULL, 0};
    plot_tiles_size(&g, w_out, h_out);
    ferc_status st = plot_tiles(&g, t, path, err);
    free(buf); free(t); free(cap);
    return st;
}

/* ------------------------------------------------------------------------ */
/* The page                                                                 */
/* ------------------------------------------------------------------------ */

typedef struct { int t, p, count; } pair;

static int cmp_pair(const void *a, const void *b) {
    const pair *x = a, *y = b;
    if (x->count != y->count) return y->count - x->count;
    if (x->t != y->t) return x->t - y->t;
    return x->p - y->p;
}

typedef struct { const char *file, *alt; int w, h; int present; } figure;

static void sb_img(sbuf *b, const figure *f) {
    if (!f->present) return;
    sb_printf(b, "<figure><img src=\"%s\" width=\"%d\" height=\"%d\" alt=\"", f->file, f->w, f->h);
    sb_esc(b, f->alt);
    sb_printf(b, "\"></figure>\n");
}

static const char CSS[] =
    "body{font-family:'DejaVu Sans',Arial,sans-serif;margin:0 auto;max-width:1260px;padding:16px 24px;color:#222;background:#fff}"
    "h1{font-size:26px;margin:8px 0}h2{font-size:20px;margin-top:34px;border-bottom:1px solid #ddd;padding-bottom:4px}"
    "h3{font-size:16px}p.note{color:#555;font-size:14px;max-width:980px}"
    "figure{margin:10px 0}img{max-width:100%;height:auto;border:1px solid #eee}"
    "table{border-collapse:collapse;margin:8px 0;font-size:14px}"
    "th,td{border:1px solid #ddd;padding:4px 10px;text-align:right}th{background:#f4f6f8}"
    "td.l,th.l{text-align:left}tr.sum td{background:#fafafa;font-weight:bold}"
    ".cards{display:flex;flex-wrap:wrap;gap:10px}.card{border:1px solid #ddd;border-radius:6px;padding:8px 14px;min-width:120px}"
    ".card b{display:block;font-size:22px}.card span{color:#666;font-size:13px}"
    "ul.find li{margin:4px 0}pre{background:#f7f7f7;padding:10px;font-size:13px;overflow-x:auto}"
    "nav a{margin-right:12px}";

ferc_status report_render(const report_input *in, const char *dir, const ferc_report_opts *opts,
                          ferc_error *err) {
    ferc_report_opts o;
    if (opts) o = *opts;
    else ferc_report_opts_default(&o);
    if (o.max_faces < 1) o.max_faces = 24;
    if (o.max_faces > 200) o.max_faces = 200;
    if (o.pairs < 1) o.pairs = 6;
    if (o.pairs > 21) o.pairs = 21;
    if (o.activation_faces < 1) o.activation_faces = 3;
    if (o.activation_faces > 8) o.activation_faces = 8;
    if (o.maps_per_block < 1) o.maps_per_block = 10;
    if (o.maps_per_block > 32) o.maps_per_block = 32;
    if (o.saliency_faces < 1) o.saliency_faces = 8;
    if (o.saliency_faces > 16) o.saliency_faces = 16;
    if (o.calib_bins < 1) o.calib_bins = 10;
    if (o.calib_bins > FERC_MAX_CALIB_BINS) o.calib_bins = FERC_MAX_CALIB_BINS;
    if (o.quantiles < 1) o.quantiles = 5;
    if (o.quantiles > 20) o.quantiles = 20;

    if (!in || !in->hist || in->nhist < 1)
        return ferc_fail(err, FERC_ERR_ARG, "model has no training history (train it with 'ferc train'; a report needs the curves)");
    const ferc_dataset *d = in->d;
    if (!d || d->n < 1)
        return ferc_fail(err, FERC_ERR_ARG, "data has no rows%s%s: nothing to report on",
                         o.data_label ? " in " : "", o.data_label ? o.data_label : "");
    if (d->h < 1 || d->w < 1 || !d->pix || !d->label || !in->pred || !in->probs)
        return ferc_fail(err, FERC_ERR_ARG, "report: incomplete data (no pixels, labels or predictions)");
    const int n = d->n;
    for (int i = 0; i < n; i++)
        if (d->label[i] < 0 || d->label[i] >= K || in->pred[i] < 0 || in->pred[i] >= K)
            return ferc_fail(err, FERC_ERR_ARG, "report: row %d: label %d or prediction %d out of range", i, d->label[i], in->pred[i]);

    /* ---- analysis ---- */
    ferc_metrics met;
    ferc_metrics_compute(d->label, in->pred, n, &met);
    ferc_calibration cal;
    ferc_status st = ferc_calibration_compute(in->probs, d->label, n, o.calib_bins, &cal, err);
    if (st) return st;

    outdir od;
    st = out_open(&od, dir, err);
    if (st) return st;

    char path[4500];
    figure fig[16];
    int nfig = 0;
    memset(fig, 0, sizeof fig);
    const char *names[K];
    for (int c = 0; c < K; c++) names[c] = ferc_label_name(c);
    int true_count[K] = {0}, pred_count[K] = {0};
    for (int i = 0; i < n; i++) { true_count[d->label[i]]++; pred_count[in->pred[i]]++; }

    double *val = NULL;
    int *correct = NULL;
    keyed *kk = NULL;
    int *idx = NULL;
    float *work = NULL;
    plot_tile *tiles = NULL;
    char (*caps)[96] = NULL;
    char (*rowt)[128] = NULL;
    sbuf html = {0};
    pair pairs[K * K];
    int npairs = 0;
    double qacc[2][20], qlo[2][20], qhi[2][20];
    int qcnt[2][20];
    int have_q = n >= o.quantiles;
    int best_epoch = 1;
    for (int e = 0; e < in->nhist; e++)
        if (in->hist[e].val_acc > in->hist[best_epoch - 1].val_acc) best_epoch = e + 1;

    /* curves */
    log_msg(&o, "drawing training curves, confusion matrix and per-class bars");
    fig[nfig] = (figure){"curves.png", "training and validation loss and accuracy per epoch", 1100, 420, 1};
    st = plot_curves(in->hist, in->nhist, 1100, 420, out_path(&od, "curves.png", path, sizeof path), err);
    if (st) goto fail;
    nfig++;

    /* confusion */
    {
        int cm[K * K];
        for (int r = 0; r < K; r++)
            for (int c = 0; c < K; c++) cm[r * K + c] = met.confusion[r][c];
        fig[nfig] = (figure){"confusion.png", "confusion matrix: counts and row percentages", 780, 640, 1};
        st = plot_confusion(cm, K, names, 780, 640, "Confusion matrix (rows: true, columns: predicted)",
                            out_path(&od, "confusion.png", path, sizeof path), err);
        if (st) goto fail;
        nfig++;
    }

    /* per-class bars */
    {
        double v[K * 3];
        char gl[K][48];
        const char *gn[K];
        for (int c = 0; c < K; c++) {
            v[c * 3] = met.precision[c]; v[c * 3 + 1] = met.recall[c]; v[c * 3 + 2] = met.f1[c];
            snprintf(gl[c], sizeof gl[c], "%s\nn=%d", names[c], met.support[c]);
            gn[c] = gl[c];
        }
        const char *sn[3] = {"precision", "recall", "F1"};
        plot_bars_spec s = {"Precision, recall and F1 per class", "score", K, 3, gn, sn, v, 0, 1.12,
                            "%.2f", met.macro_f1, "macro F1"};
        fig[nfig] = (figure){"per_class.png", "precision, recall and F1 per class", 1100, 420, 1};
        st = plot_bars(&s, 1100, 420, out_path(&od, "per_class.png", path, sizeof path), err);
        if (st) goto fail;
        nfig++;
    }

    /* predicted vs true share */
    {
        double v[K * 2];
        const char *sn[2] = {"true share", "predicted share"};
        for (int c = 0; c < K; c++) { v[c * 2] = 100.0 * true_count[c] / n; v[c * 2 + 1] = 100.0 * pred_count[c] / n; }
        plot_bars_spec s = {"Share of each class: true labels vs predictions", "% of faces", K, 2, names,
                            sn, v, 0, 0, "%.1f", NAN, NULL};
        fig[nfig] = (figure){"share.png", "share of each class among true labels and predictions", 1100, 400, 1};
        st = plot_bars(&s, 1100, 400, out_path(&od, "share.png", path, sizeof path), err);
        if (st) goto fail;
        nfig++;
    }

    /* calibration */
    fig[nfig] = (figure){"calibration.png", "reliability diagram and confidence histogram", 1100, 440, 1};
    st = plot_reliability(cal.conf, cal.acc, cal.count, cal.nb, cal.ece, 1100, 440,
                          out_path(&od, "calibration.png", path, sizeof path), err);
    if (st) goto fail;
    nfig++;

    /* brightness / contrast quantiles */
    val = malloc(sizeof(double) * 2 * (size_t)n);
    correct = malloc(sizeof(int) * (size_t)n);
    kk = malloc(sizeof(keyed) * (size_t)n);
    idx = malloc(sizeof(int) * (size_t)n);
    if (!val || !correct || !kk || !idx) { st = ferc_fail(err, FERC_ERR_NOMEM, "report: out of memory"); goto fail; }
    {
        size_t per = (size_t)d->h * d->w;
        for (int i = 0; i < n; i++) {
            const uint8_t *p = d->pix + per * i;
            double s = 0, s2 = 0;
            for (size_t k = 0; k < per; k++) { s += p[k]; s2 += (double)p[k] * p[k]; }
            double mean = s / per, var = s2 / per - mean * mean;
            val[i] = mean / 255.0;
            val[n + i] = sqrt(var > 0 ? var : 0) / 255.0;
            correct[i] = in->pred[i] == d->label[i];
        }
    }
    if (have_q) {
        for (int k = 0; k < 2; k++) {
            st = plot_quantile_accuracy(val + (size_t)k * n, correct, n, o.quantiles, qacc[k], qlo[k], qhi[k], qcnt[k], err);
            if (st) goto fail;
        }
        double v[2][20];
        char gl[2][20][64];
        const char *gn[2][20];
        for (int k = 0; k < 2; k++)
            for (int g = 0; g < o.quantiles; g++) {
                v[k][g] = 100 * qacc[k][g];
                snprintf(gl[k][g], sizeof gl[k][g], "Q%d\n%.2f\xe2\x80\x93%.2f", g + 1, qlo[k][g], qhi[k][g]);
                gn[k][g] = gl[k][g];
            }
        plot_bars_spec s[2] = {
            {"Accuracy by brightness (mean pixel) quantile", "accuracy %", o.quantiles, 1, gn[0], NULL,
             v[0], 0, 0, "%.1f", 100 * met.accuracy, "overall accuracy"},
            {"Accuracy by contrast (pixel std) quantile", "accuracy %", o.quantiles, 1, gn[1], NULL, v[1],
             0, 0, "%.1f", 100 * met.accuracy, "overall accuracy"}};
        fig[nfig] = (figure){"quantiles.png", "accuracy by brightness and contrast quantile", 1200, 420, 1};
        st = plot_bars_panels(s, 2, 1200, 420, out_path(&od, "quantiles.png", path, sizeof path), err);
        if (st) goto fail;
        nfig++;
    }

    /* misclassified: most confident mistakes first */
    log_msg(&o, "drawing face grids");
    int nmis = 0;
    for (int i = 0; i < n; i++)
        if (!correct[i]) kk[nmis++] = (keyed){in->probs[(size_t)i * K + in->pred[i]], i};
    qsort(kk, (size_t)nmis, sizeof *kk, cmp_keyed_desc);
    int nshow = nmis < o.max_faces ? nmis : o.max_faces;
    for (int k = 0; k < nshow; k++) idx[k] = kk[k].i;
    {
        char title[128];
        snprintf(title, sizeof title, "Most confident mistakes (%d of %d mistakes; caption: true \xe2\x86\x92 predicted (confidence))", nshow, nmis);
        fig[nfig] = (figure){"misclassified.png", "misclassified faces, most confident first", 0, 0, 1};
        st = face_grid(in, idx, nshow, title, out_path(&od, "misclassified.png", path, sizeof path),
                       &fig[nfig].w, &fig[nfig].h, err);
        if (st) goto fail;
        nfig++;
    }
    int sal_mis = nshow;  /* idx[0..sal_mis) are mistakes, reused for saliency */
    int *mis_idx = malloc(sizeof(int) * (size_t)(sal_mis > 0 ? sal_mis : 1));
    if (!mis_idx) { st = ferc_fail(err, FERC_ERR_NOMEM, "report: out of memory"); goto fail; }
    memcpy(mis_idx, idx, sizeof(int) * (size_t)sal_mis);

    /* correct: most confident first, taking the classes in turn */
    int ncor = 0;
    {
        int taken = 0;
        int per_class_rank[K] = {0};
        int ncorr_total = 0;
        for (int i = 0; i < n; i++)
            if (correct[i]) kk[ncorr_total++] = (keyed){in->probs[(size_t)i * K + in->pred[i]], i};
        qsort(kk, (size_t)ncorr_total, sizeof *kk, cmp_keyed_desc);
        while (taken < o.max_faces) {
            int progress = 0;
            for (int c = 0; c < K && taken < o.max_faces; c++) {
                /* the per_class_rank[c]-th correct face of class c */
                int seen = 0;
                for (int k = 0; k < ncorr_total; k++) {
                    if (d->label[kk[k].i] != c) continue;
                    if (seen++ == per_class_rank[c]) { idx[taken++] = kk[k].i; per_class_rank[c]++; progress = 1; break; }
                }
            }
            if (!progress) break;
        }
        ncor = taken;
        char title[160];
        snprintf(title, sizeof title, "Correct predictions, most confident first, classes in turn (%d of %d correct)", ncor, ncorr_total);
        fig[nfig] = (figure){"correct.png", "correctly classified faces", 0, 0, 1};
        st = face_grid(in, idx, ncor, title, out_path(&od, "correct.png", path, sizeof path),
                       &fig[nfig].w, &fig[nfig].h, err);
        if (st) { free(mis_idx); goto fail; }
        nfig++;
    }

    /* confused pairs */
    for (int t = 0; t < K; t++)
        for (int p = 0; p < K; p++)
            if (t != p && met.confusion[t][p] > 0) pairs[npairs++] = (pair){t, p, met.confusion[t][p]};
    qsort(pairs, (size_t)npairs, sizeof *pairs, cmp_pair);
    {
        int np = npairs < o.pairs ? npairs : o.pairs;
        const int per_pair = 6;
        int rows = np > 0 ? np : 1;
        size_t per = (size_t)d->h * d->w;
        work = malloc(sizeof(float) * per * (size_t)rows * per_pair);
        tiles = calloc((size_t)rows * per_pair, sizeof *tiles);
        caps = calloc((size_t)rows * per_pair, sizeof *caps);
        rowt = calloc((size_t)rows, sizeof *rowt);
        const char **rt = calloc((size_t)rows, sizeof *rt);
        if (!work || !tiles || !caps || !rowt || !rt) { free(rt); free(mis_idx); st = ferc_fail(err, FERC_ERR_NOMEM, "report: out of memory"); goto fail; }
        for (int r = 0; r < np; r++) {
            int m = 0;
            for (int i = 0; i < n; i++)
                if (d->label[i] == pairs[r].t && in->pred[i] == pairs[r].p)
                    kk[m++] = (keyed){in->probs[(size_t)i * K + pairs[r].p], i};
            qsort(kk, (size_t)m, sizeof *kk, cmp_keyed_desc);
            snprintf(rowt[r], sizeof rowt[r], "%s \xe2\x86\x92 %s\n%d faces\n(%.1f%% of %s)", names[pairs[r].t],
                     names[pairs[r].p], pairs[r].count,
                     100.0 * pairs[r].count / (met.support[pairs[r].t] ? met.support[pairs[r].t] : 1),
                     names[pairs[r].t]);
            rt[r] = rowt[r];
            for (int k = 0; k < per_pair && k < m; k++) {
                size_t ti = (size_t)r * per_pair + k;
                face_floats(d, kk[k].i, work + per * ti);
                snprintf(caps[ti], sizeof caps[ti], "conf %.0f%%", 100 * kk[k].key);
                tiles[ti] = (plot_tile){work + per * ti, d->h, d->w, PLOT_TILE_GRAY01, 0, NULL, 0, caps[ti], PLOT_BAD_TEXT};
            }
        }
        if (np == 0) {
            rowt[0][0] = 0;
            snprintf(rowt[0], sizeof rowt[0], "no mistakes");
            rt[0] = rowt[0];
        }
        plot_grid_spec g = {"Most confused pairs (true \xe2\x86\x92 predicted), most confident examples",
                            per_pair, rows, 112, 1, rt, 170};
        fig[nfig] = (figure){"confused_pairs.png", "the most confused class pairs with example faces", 0, 0, 1};
        plot_tiles_size(&g, &fig[nfig].w, &fig[nfig].h);
        st = plot_tiles(&g, tiles, out_path(&od, "confused_pairs.png", path, sizeof path), err);
        free(rt);
        free(work); work = NULL;
        free(tiles); tiles = NULL;
        free(caps); caps = NULL;
        free(rowt); rowt = NULL;
        if (st) { free(mis_idx); goto fail; }
        nfig++;
    }

    /* model internals */
    int have_model = in->model != NULL;
    int nblocks = 0;
    if (have_model) {
        ferc_model *m = in->model;
        const int S = ferc_model_input_size(m);
        const size_t SS = (size_t)S * S;
        nblocks = ferc_model_num_blocks(m);
        log_msg(&o, "drawing activations, first-layer kernels and saliency");

        /* faces for activations: the most confident correct face of different classes */
        int af[8], naf = 0;
        {
            int used[K] = {0};
            int nc = 0;
            for (int i = 0; i < n; i++)
                if (correct[i]) kk[nc++] = (keyed){in->probs[(size_t)i * K + in->pred[i]], i};
            qsort(kk, (size_t)nc, sizeof *kk, cmp_keyed_desc);
            for (int k = 0; k < nc && naf < o.activation_faces; k++)
                if (!used[d->label[kk[k].i]]) { used[d->label[kk[k].i]] = 1; af[naf++] = kk[k].i; }
            for (int i = 0; i < n && naf < o.activation_faces; i++) {
                int dup = 0;
                for (int k = 0; k < naf; k++) dup |= af[k] == i;
                if (!dup) af[naf++] = i;
            }
        }
        if (nblocks > 0) {
            int cols = 1 + o.maps_per_block, rows = naf * nblocks;
            size_t cap = SS * 512;
            float *maps = malloc(sizeof(float) * cap);
            float *store = malloc(sizeof(float) * (SS * (size_t)naf + (size_t)rows * o.maps_per_block * SS));
            tiles = calloc((size_t)rows * cols, sizeof *tiles);
            caps = calloc((size_t)rows * cols, sizeof *caps);
            rowt = calloc((size_t)rows, sizeof *rowt);
            const char **rt = calloc((size_t)rows, sizeof *rt);
            keyed ch[1024];
            if (!maps || !store || !tiles || !caps || !rowt || !rt) {
                free(maps); free(store); free(rt); free(mis_idx);
                st = ferc_fail(err, FERC_ERR_NOMEM, "report: out of memory"); goto fail;
            }
            float *face_store = store, *map_store = store + SS * naf;
            for (int f = 0; f < naf && st == FERC_OK; f++) {
                float *x = face_store + SS * f;
                ferc_prepare_images(d, af[f], 1, S, x);
                for (int b = 0; b < nblocks && st == FERC_OK; b++) {
                    int r = f * nblocks + b, c = 0, h = 0, w = 0;
                    st = ferc_model_activations(m, x, b, maps, cap, &c, &h, &w, err);
                    if (st) break;
                    snprintf(rowt[r], sizeof rowt[r], "face %d (%s)\nblock %d: %d maps %d\xc3\x97%d", f + 1,
                             names[d->label[af[f]]], b + 1, c, h, w);
                    rt[r] = rowt[r];
                    if (b == 0) {
                        size_t ti = (size_t)r * cols;
                        snprintf(caps[ti], sizeof caps[ti], "input (%s)", names[d->label[af[f]]]);
                        tiles[ti] = (plot_tile){x, S, S, PLOT_TILE_GRAY01, 0, NULL, 0, caps[ti], 0x222222};
                    }
                    /* the most active channels */
                    int nch = c < 1024 ? c : 1024;
                    size_t hw = (size_t)h * w;
                    for (int k = 0; k < nch; k++) {
                        double s = 0;
                        for (size_t q = 0; q < hw; q++) s += maps[(size_t)k * hw + q];
                        ch[k] = (keyed){s / (double)hw, k};
                    }
                    qsort(ch, (size_t)nch, sizeof *ch, cmp_keyed_desc);
                    for (int k = 0; k < o.maps_per_block && k < nch && hw <= SS; k++) {
                        size_t ti = (size_t)r * cols + 1 + k;
                        float *dst = map_store + ((size_t)r * o.maps_per_block + k) * SS;
                        memcpy(dst, maps + (size_t)ch[k].i * hw, sizeof(float) * hw);
                        snprintf(caps[ti], sizeof caps[ti], "#%d", ch[k].i);
                        tiles[ti] = (plot_tile){dst, h, w, PLOT_TILE_AUTO, 0, NULL, 1, caps[ti], 0x444444};
                    }
                }
            }
            if (st == FERC_OK) {
                plot_grid_spec g = {"Feature maps at the end of each conv block (most active channels, each scaled to its own range)",
                                    cols, rows, 72, 1, rt, 190};
                fig[nfig] = (figure){"activations.png", "feature maps of each conv block for a few faces", 0, 0, 1};
                plot_tiles_size(&g, &fig[nfig].w, &fig[nfig].h);
                st = plot_tiles(&g, tiles, out_path(&od, "activations.png", path, sizeof path), err);
                if (st == FERC_OK) nfig++;
            }
            free(maps); free(store); free(rt);
            free(tiles); tiles = NULL;
            free(caps); caps = NULL;
            free(rowt); rowt = NULL;
            if (st) { free(mis_idx); goto fail; }
        }

        /* first-layer kernels */
        {
            size_t cap = 4096 * 49;
            float *w = malloc(sizeof(float) * cap);
            int k = 0, kh = 0, kw = 0;
            if (!w) { free(mis_idx); st = ferc_fail(err, FERC_ERR_NOMEM, "report: out of memory"); goto fail; }
            st = ferc_model_first_filters(m, w, cap, &k, &kh, &kw, err);
            if (st == FERC_OK && k > 0) {
                int show = k < 64 ? k : 64;
                int cols = show < 16 ? show : 16, rows = (show + cols - 1) / cols;
                float amax = 0;
                for (size_t q = 0; q < (size_t)k * kh * kw; q++) amax = fmaxf(amax, fabsf(w[q]));
                tiles = calloc((size_t)rows * cols, sizeof *tiles);
                if (!tiles) { free(w); free(mis_idx); st = ferc_fail(err, FERC_ERR_NOMEM, "report: out of memory"); goto fail; }
                for (int q = 0; q < show; q++)
                    tiles[q] = (plot_tile){w + (size_t)q * kh * kw, kh, kw, PLOT_TILE_DIVERGING, amax, NULL, 1, NULL, 0};
                char title[160];
                snprintf(title, sizeof title, "First conv layer: %d of %d kernels %d\xc3\x97%d (blue negative, red positive, max |w| = %.3g)",
                         show, k, kh, kw, amax);
                int tp = 56;
                plot_grid_spec g = {title, cols, rows, tp, 0, NULL, 0};
                /* narrow grids still need room for the title */
                int W, H;
                plot_tiles_size(&g, &W, &H);
                while (W < 760 && g.tile_px < 160) { g.tile_px += 8; plot_tiles_size(&g, &W, &H); }
                fig[nfig] = (figure){"filters.png", "first-layer convolution kernels", W, H, 1};
                st = plot_tiles(&g, tiles, out_path(&od, "filters.png", path, sizeof path), err);
                free(tiles); tiles = NULL;
                if (st == FERC_OK) nfig++;
            }
            free(w);
            if (st) { free(mis_idx); goto fail; }
        }

        /* saliency: half mistakes (most confident), half correct */
        {
            int ns = 0, sf[16];
            int want_mis = o.saliency_faces / 2;
            for (int k = 0; k < sal_mis && ns < want_mis; k++) sf[ns++] = mis_idx[k];
            for (int k = 0; k < ncor && ns < o.saliency_faces; k++) sf[ns++] = idx[k];
            for (int i = 0; i < n && ns < o.saliency_faces; i++) {
                int dup = 0;
                for (int k = 0; k < ns; k++) dup |= sf[k] == i;
                if (!dup) sf[ns++] = i;
            }
            int cols = ns;
            float *buf = malloc(sizeof(float) * SS * 2 * (size_t)ns);
            tiles = calloc((size_t)2 * cols, sizeof *tiles);
            caps = calloc((size_t)2 * cols, sizeof *caps);
            if (!buf || !tiles || !caps) { free(buf); free(mis_idx); st = ferc_fail(err, FERC_ERR_NOMEM, "report: out of memory"); goto fail; }
            for (int k = 0; k < ns && st == FERC_OK; k++) {
                int i = sf[k];
                float *x = buf + SS * 2 * k, *g = x + SS;
                ferc_prepare_images(d, i, 1, S, x);
                st = ferc_model_saliency(m, x, in->pred[i], g, err);
                if (st) break;
                for (size_t q = 0; q < SS; q++) g[q] = fabsf(g[q]);
                int ok = in->pred[i] == d->label[i];
                snprintf(caps[k], sizeof caps[k], "%s \xe2\x86\x92 %s (%.0f%%)", names[d->label[i]], names[in->pred[i]],
                         100 * in->probs[(size_t)i * K + in->pred[i]]);
                tiles[k] = (plot_tile){x, S, S, PLOT_TILE_GRAY01, 0, NULL, 0, caps[k], ok ? PLOT_OK_TEXT : PLOT_BAD_TEXT};
                snprintf(caps[cols + k], sizeof caps[cols + k], "|d %s / d x|", names[in->pred[i]]);
                tiles[cols + k] = (plot_tile){x, S, S, PLOT_TILE_OVERLAY, 0, g, 0, caps[cols + k], 0x444444};
            }
            if (st == FERC_OK) {
                const char *rt[2] = {"face\n(true \xe2\x86\x92 pred)", "saliency of the\npredicted class"};
                plot_grid_spec g = {"Saliency: gradient of the predicted class score with respect to the pixels",
                                    cols, 2, 128, 1, rt, 130};
                fig[nfig] = (figure){"saliency.png", "saliency maps over the faces", 0, 0, 1};
                plot_tiles_size(&g, &fig[nfig].w, &fig[nfig].h);
                st = plot_tiles(&g, tiles, out_path(&od, "saliency.png", path, sizeof path), err);
                if (st == FERC_OK) nfig++;
            }
            free(buf);
            free(tiles); tiles = NULL;
            free(caps); caps = NULL;
            if (st) { free(mis_idx); goto fail; }
        }
    }
    free(mis_idx);

    /* the charts only (no faces), for a README screenshot */
    {
        char a[4500], b2[4500], c2[4500];
        snprintf(a, sizeof a, "%s/curves.png", od.tmp);
        snprintf(b2, sizeof b2, "%s/confusion.png", od.tmp);
        snprintf(c2, sizeof c2, "%s/per_class.png", od.tmp);
        const char *const parts[3] = {a, b2, c2};
        int sw = 0, sh = 0;
        st = plot_stack_pngs(parts, 3, 0.75, out_path(&od, "summary.png", path, sizeof path), &sw, &sh, err);
        if (st) goto fail;
    }

    /* ---- index.html ---- */
    log_msg(&o, "writing index.html");
    {
        sbuf *b = &html;
        const ferc_epoch_stats *last = &in->hist[in->nhist - 1], *best = &in->hist[best_epoch - 1];
        sb_printf(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>ferc report: ");
        sb_esc(b, in->arch ? in->arch : "model");
        sb_printf(b, " on ");
        sb_esc(b, o.data_label ? o.data_label : "data");
        sb_printf(b, "</title>\n<style>%s</style>\n</head>\n<body>\n", CSS);
        sb_printf(b, "<h1 id=\"top\">ferc report</h1>\n<p class=\"note\">Model <b>");
        sb_esc(b, o.model_label ? o.model_label : (in->arch ? in->arch : "?"));
        sb_printf(b, "</b> (architecture <b>");
        sb_esc(b, in->arch ? in->arch : "?");
        sb_printf(b, "</b>) on <b>");
        sb_esc(b, o.data_label ? o.data_label : "data");
        sb_printf(b, "</b>. Made by ferc %s.</p>\n", FERC_VERSION_STRING);
        sb_printf(b, "<nav><a href=\"#summary\">summary</a><a href=\"#training\">training</a><a href=\"#report\">classification report</a>"
                     "<a href=\"#errors\">error analysis</a><a href=\"#faces\">faces</a><a href=\"#inside\">inside the network</a></nav>\n");

        sb_printf(b, "<h2 id=\"summary\">Summary</h2>\n<div class=\"cards\">\n");
        sb_printf(b, "<div class=\"card\"><b id=\"accuracy\">%.2f%%</b><span>accuracy</span></div>\n", 100 * met.accuracy);
        sb_printf(b, "<div class=\"card\"><b>%.3f</b><span>macro F1</span></div>\n", met.macro_f1);
        sb_printf(b, "<div class=\"card\"><b>%.3f</b><span>weighted F1</span></div>\n", met.weighted_f1);
        sb_printf(b, "<div class=\"card\"><b>%d</b><span>faces (n)</span></div>\n", n);
        sb_printf(b, "<div class=\"card\"><b>%.1f%%</b><span>expected calibration error</span></div>\n", 100 * cal.ece);
        sb_printf(b, "<div class=\"card\"><b>");
        sb_esc(b, in->arch ? in->arch : "?");
        sb_printf(b, "</b><span>architecture</span></div>\n");
        sb_printf(b, "<div class=\"card\"><b>%zu</b><span>parameters</span></div>\n", in->params);
        if (in->flops > 0) sb_printf(b, "<div class=\"card\"><b>%.1f M</b><span>FLOPs per face</span></div>\n", in->flops / 1e6);
        sb_printf(b, "<div class=\"card\"><b>%d</b><span>epochs trained</span></div>\n", in->nhist);
        sb_printf(b, "<div class=\"card\"><b>%.2f%%</b><span>best validation accuracy (epoch %d)</span></div>\n",
                  100 * best->val_acc, best->epoch > 0 ? best->epoch : best_epoch);
        sb_printf(b, "</div>\n");

        /* findings in words */
        int most_pred = 0, least_recall = 0, best_recall = 0;
        double over = 0;
        int over_c = 0;
        for (int c = 0; c < K; c++) {
            if (pred_count[c] > pred_count[most_pred]) most_pred = c;
            if (met.support[c] > 0 && (met.support[least_recall] == 0 || met.recall[c] < met.recall[least_recall])) least_recall = c;
            if (met.support[c] > 0 && met.recall[c] > met.recall[best_recall]) best_recall = c;
            double ex = (double)pred_count[c] / n - (double)true_count[c] / n;
            if (ex > over) { over = ex; over_c = c; }
        }
        double mconf = 0;
        for (int bb = 0; bb < cal.nb; bb++) mconf += cal.conf[bb] * cal.count[bb];
        mconf /= n;
        sb_printf(b, "<h3>At a glance</h3>\n<ul class=\"find\" id=\"findings\">\n");
        sb_printf(b, "<li>Best recognised: <b>%s</b> (recall %.0f%%); worst: <b>%s</b> (recall %.0f%%, %d faces).</li>\n",
                  names[best_recall], 100 * met.recall[best_recall], names[least_recall], 100 * met.recall[least_recall],
                  met.support[least_recall]);
        if (npairs > 0)
            sb_printf(b, "<li>Most frequent confusion: <b>%s</b> taken for <b>%s</b>, %d times (%.1f%% of %s faces, %.1f%% of all %d mistakes).</li>\n",
                      names[pairs[0].t], names[pairs[0].p], pairs[0].count,
                      100.0 * pairs[0].count / (met.support[pairs[0].t] ? met.support[pairs[0].t] : 1), names[pairs[0].t],
                      100.0 * pairs[0].count / (nmis ? nmis : 1), nmis);
        sb_printf(b, "<li>The model predicts <b>%s</b> most often: %.1f%% of predictions for a true share of %.1f%%.",
                  names[most_pred], 100.0 * pred_count[most_pred] / n, 100.0 * true_count[most_pred] / n);
        if (over > 0.005)
            sb_printf(b, " The most over-predicted class is <b>%s</b> (+%.1f points).", names[over_c], 100 * over);
        sb_printf(b, "</li>\n");
        sb_printf(b, "<li>Mean confidence %.1f%% against an accuracy of %.1f%%: the model is <b>%s</b> (ECE %.1f%%).</li>\n",
                  100 * mconf, 100 * met.accuracy,
                  mconf > met.accuracy + 0.02 ? "over-confident" : mconf < met.accuracy - 0.02 ? "under-confident" : "about calibrated",
                  100 * cal.ece);
        if (have_q) {
            for (int k = 0; k < 2; k++) {
                int lo = 0, hi = 0;
                for (int g = 0; g < o.quantiles; g++) {
                    if (qacc[k][g] < qacc[k][lo]) lo = g;
                    if (qacc[k][g] > qacc[k][hi]) hi = g;
                }
                sb_printf(b, "<li>By %s: accuracy ranges from %.1f%% (Q%d) to %.1f%% (Q%d).</li>\n",
                          k == 0 ? "brightness" : "contrast", 100 * qacc[k][lo], lo + 1, 100 * qacc[k][hi], hi + 1);
            }
        }
        sb_printf(b, "<li>Training: %d epochs; last epoch train accuracy %.1f%%, validation %.1f%%%s.</li>\n", in->nhist,
                  100 * last->train_acc, 100 * last->val_acc,
                  last->train_acc - last->val_acc > 0.1 ? " (a gap over 10 points: over-fitting)" : "");
        sb_printf(b, "</ul>\n");

        sb_printf(b, "<h2 id=\"training\">Training curves</h2>\n<p class=\"note\">Loss and accuracy on the training and validation "
                     "split per epoch, from the history stored in the model file. The dashed line marks the epoch with the best "
                     "validation accuracy (the weights kept).</p>\n");
        for (int i = 0; i < nfig; i++) if (strcmp(fig[i].file, "curves.png") == 0) sb_img(b, &fig[i]);

        sb_printf(b, "<h2 id=\"report\">Classification report</h2>\n<table id=\"classification-report\">\n"
                     "<tr><th class=\"l\">class</th><th>precision</th><th>recall</th><th>F1</th><th>support</th><th>predicted</th></tr>\n");
        for (int c = 0; c < K; c++)
            sb_printf(b, "<tr><td class=\"l\">%s</td><td>%.3f</td><td>%.3f</td><td>%.3f</td><td>%d</td><td>%d</td></tr>\n", names[c],
                      met.precision[c], met.recall[c], met.f1[c], met.support[c], pred_count[c]);
        sb_printf(b, "<tr class=\"sum\"><td class=\"l\">accuracy</td><td></td><td></td><td>%.3f</td><td>%d</td><td></td></tr>\n", met.accuracy, n);
        sb_printf(b, "<tr class=\"sum\"><td class=\"l\">macro avg</td><td>%.3f</td><td>%.3f</td><td>%.3f</td><td>%d</td><td></td></tr>\n",
                  met.macro_precision, met.macro_recall, met.macro_f1, n);
        sb_printf(b, "<tr class=\"sum\"><td class=\"l\">weighted avg</td><td>%.3f</td><td>%.3f</td><td>%.3f</td><td>%d</td><td></td></tr>\n",
                  met.weighted_precision, met.weighted_recall, met.weighted_f1, n);
        sb_printf(b, "</table>\n");
        {
            char rep[4096];
            ferc_metrics_report(&met, 4, rep, sizeof rep);
            sb_printf(b, "<details><summary>as text (scikit-learn layout)</summary><pre>");
            sb_esc(b, rep);
            sb_printf(b, "</pre></details>\n");
        }
        for (int i = 0; i < nfig; i++) if (strcmp(fig[i].file, "confusion.png") == 0) sb_img(b, &fig[i]);
        for (int i = 0; i < nfig; i++) if (strcmp(fig[i].file, "per_class.png") == 0) sb_img(b, &fig[i]);

        sb_printf(b, "<h2 id=\"errors\">Error analysis</h2>\n<h3>Most confused pairs</h3>\n<table id=\"confused-pairs\">\n"
                     "<tr><th>#</th><th class=\"l\">true</th><th class=\"l\">predicted as</th><th>count</th><th>%% of the true class</th><th>%% of all mistakes</th></tr>\n");
        int show_pairs = npairs < 10 ? npairs : 10;
        for (int r = 0; r < show_pairs; r++)
            sb_printf(b, "<tr><td>%d</td><td class=\"l\">%s</td><td class=\"l\">%s</td><td>%d</td><td>%.1f%%</td><td>%.1f%%</td></tr>\n", r + 1,
                      names[pairs[r].t], names[pairs[r].p], pairs[r].count,
                      100.0 * pairs[r].count / (met.support[pairs[r].t] ? met.support[pairs[r].t] : 1),
                      100.0 * pairs[r].count / (nmis ? nmis : 1));
        if (npairs == 0) sb_printf(b, "<tr><td colspan=\"6\">no mistakes</td></tr>\n");
        sb_printf(b, "</table>\n");
        for (int i = 0; i < nfig; i++) if (strcmp(fig[i].file, "confused_pairs.png") == 0) sb_img(b, &fig[i]);

        sb_printf(b, "<h3>Calibration</h3>\n<p class=\"note\">Predictions are grouped by their top-1 probability into %d bins; "
                     "a calibrated model is right in a bin as often as it is confident. Expected calibration error "
                     "<b id=\"ece\">ECE = %.2f%%</b> (count-weighted mean gap), largest gap MCE = %.2f%%.</p>\n",
                  cal.nb, 100 * cal.ece, 100 * cal.mce);
        for (int i = 0; i < nfig; i++) if (strcmp(fig[i].file, "calibration.png") == 0) sb_img(b, &fig[i]);

        sb_printf(b, "<h3>Predicted share vs true share</h3>\n<p class=\"note\">A class predicted much more often than it occurs "
                     "is where the model's doubts go (\"it always says neutral\").</p>\n");
        for (int i = 0; i < nfig; i++) if (strcmp(fig[i].file, "share.png") == 0) sb_img(b, &fig[i]);

        sb_printf(b, "<h3>Accuracy by brightness and contrast</h3>\n");
        if (have_q) {
            sb_printf(b, "<p class=\"note\">Faces sorted by mean pixel value (brightness) and by pixel standard deviation "
                         "(contrast), both on a 0..1 scale, and split into %d groups of equal size.</p>\n", o.quantiles);
            sb_printf(b, "<table id=\"quantiles\"><tr><th>group</th><th>brightness</th><th>accuracy</th><th>contrast</th><th>accuracy</th><th>faces</th></tr>\n");
            for (int g = 0; g < o.quantiles; g++)
                sb_printf(b, "<tr><td>Q%d</td><td>%.2f&ndash;%.2f</td><td>%.1f%%</td><td>%.2f&ndash;%.2f</td><td>%.1f%%</td><td>%d</td></tr>\n",
                          g + 1, qlo[0][g], qhi[0][g], 100 * qacc[0][g], qlo[1][g], qhi[1][g], 100 * qacc[1][g], qcnt[0][g]);
            sb_printf(b, "</table>\n");
            for (int i = 0; i < nfig; i++) if (strcmp(fig[i].file, "quantiles.png") == 0) sb_img(b, &fig[i]);
        } else {
            sb_printf(b, "<p class=\"note\">Too few faces (%d) for %d groups.</p>\n", n, o.quantiles);
        }

        sb_printf(b, "<h2 id=\"faces\">Faces</h2>\n<p class=\"note\">Captions read <i>true &rarr; predicted (confidence)</i>; "
                     "green when right, red when wrong. Faces are enlarged with bilinear scaling.</p>\n<h3>Misclassified</h3>\n");
        for (int i = 0; i < nfig; i++) if (strcmp(fig[i].file, "misclassified.png") == 0) sb_img(b, &fig[i]);
        sb_printf(b, "<h3>Correctly classified</h3>\n");
        for (int i = 0; i < nfig; i++) if (strcmp(fig[i].file, "correct.png") == 0) sb_img(b, &fig[i]);

        sb_printf(b, "<h2 id=\"inside\">Inside the network</h2>\n");
        if (have_model) {
            sb_printf(b, "<h3>Activations</h3>\n<p class=\"note\">The %d conv blocks' outputs (after ReLU, before pooling) for a few faces; "
                         "the most active channels, each scaled to its own range (nearest-neighbour enlargement).</p>\n", nblocks);
            for (int i = 0; i < nfig; i++) if (strcmp(fig[i].file, "activations.png") == 0) sb_img(b, &fig[i]);
            sb_printf(b, "<h3>First-layer kernels</h3>\n");
            for (int i = 0; i < nfig; i++) if (strcmp(fig[i].file, "filters.png") == 0) sb_img(b, &fig[i]);
            sb_printf(b, "<h3>Saliency</h3>\n<p class=\"note\">|&part; score of the predicted class / &part; pixel|: bright areas "
                         "changed the decision most. First half: the most confident mistakes; second half: correct faces.</p>\n");
            for (int i = 0; i < nfig; i++) if (strcmp(fig[i].file, "saliency.png") == 0) sb_img(b, &fig[i]);
        } else {
            sb_printf(b, "<p class=\"note\">Not available: made without the model's weights.</p>\n");
        }
        sb_printf(b, "<p class=\"note\">Files: ");
        for (int i = 0; i < nfig; i++) sb_printf(b, "<a href=\"%s\">%s</a> ", fig[i].file, fig[i].file);
        sb_printf(b, "<a href=\"summary.png\">summary.png</a> (the charts without faces, for a README)");
        sb_printf(b, "</p>\n</body>\n</html>\n");
        if (b->oom) { st = ferc_fail(err, FERC_ERR_NOMEM, "report: out of memory writing the page"); goto fail; }

        out_path(&od, "index.html", path, sizeof path);
        FILE *f = fopen(path, "wb");
        if (!f) { st = ferc_fail(err, FERC_ERR_IO, "%s: cannot write: %s", path, strerror(errno)); goto fail; }
        size_t wr = fwrite(b->p, 1, b->n, f);
        int bad = ferror(f);
        if (fclose(f) != 0 || bad || wr != b->n) { st = ferc_fail(err, FERC_ERR_IO, "%s: write failed", path); goto fail; }
    }

    st = out_commit(&od, err);
    free(val); free(correct); free(kk); free(idx); free(html.p);
    return st;

fail:
    out_abort(&od);
    free(val); free(correct); free(kk); free(idx); free(html.p);
    free(work); free(tiles); free(caps); free(rowt);
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
    log_msg(&o, "evaluating %d faces with %d threads", d->n, ferc_threads(o.threads));
    double t0 = ferc_now();
    /* in chunks (views into d, no copy) so that progress can be reported */
    const int chunk = 512;
    for (int i = 0; i < d->n && st == FERC_OK; i += chunk) {
        ferc_dataset part = *d;
        part.n = d->n - i < chunk ? d->n - i : chunk;
        part.pix = d->pix + (size_t)i * d->h * d->w;
        part.label = d->label + i;
        part.usage = d->usage ? d->usage + i : NULL;
        st = ferc_evaluate(m, &part, o.threads, pred + i, probs + (size_t)i * K, NULL, err);
        if (o.progress) o.progress(i + part.n, d->n, o.progress_user);
    }
    if (st == FERC_OK) {
        log_msg(&o, "evaluated %d faces in %.1f s", d->n, ferc_now() - t0);
        report_input in = {d, pred, probs, hist, nh, ferc_model_arch(m), ferc_model_num_params(m),
                           ferc_model_flops(m), m};
        st = report_render(&in, dir, &o, err);
    }
    free(pred);
    free(probs);
    return st;
}
