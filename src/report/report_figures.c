/* report_figures.c — the PNG figures of the report: a table of figures
 * (file, alt text, size, drawing function) drawn in order into the
 * temporary folder from the analysis in the report context, then the
 * summary image (the charts without faces, for a README). The page
 * (report_page.c) shows the figures that were drawn. */
#include "report/report.h"


#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define K FERC_NUM_CLASSES
#define PAIR_FACES 6          /* example faces per confused pair */
#define MAX_CHANNELS 1024     /* channels ranked per conv block */

/* ------------------------------------------------------------------------ */
/* Grid memory                                                              */
/* ------------------------------------------------------------------------ */

/* What a grid of tiles points into: pixel data, tiles, captions and row
 * titles, allocated together and freed together. */
typedef struct {
    float *pix;
    plot_tile *tiles;
    char (*caps)[96];
    char (*rowt)[128];
    const char **rt;       /* row titles: pointers into rowt */
} grid_mem;

/* Room for nfloat pixel values, ntiles tiles with captions and nrows row
 * titles (none when nrows == 0). Returns 0 when out of memory. */
static int grid_alloc(grid_mem *g, size_t nfloat, size_t ntiles, size_t nrows) {
    memset(g, 0, sizeof *g);
    g->pix = malloc(sizeof(float) * nfloat);
    g->tiles = calloc(ntiles, sizeof *g->tiles);
    g->caps = calloc(ntiles, sizeof *g->caps);
    if (nrows > 0) {
        g->rowt = calloc(nrows, sizeof *g->rowt);
        g->rt = calloc(nrows, sizeof *g->rt);
    }
    return g->pix && g->tiles && g->caps && (nrows == 0 || (g->rowt && g->rt));
}

static void grid_free(grid_mem *g) {
    free(g->pix);
    free(g->tiles);
    free(g->caps);
    free(g->rowt);
    free(g->rt);
}

/* Face i of the dataset as floats in [0,1] at its own size. */
static void face_floats(const ferc_dataset *d, int i, float *dst) {
    size_t n = (size_t)d->h * d->w;
    const uint8_t *p = d->pix + (size_t)i * n;
    for (size_t k = 0; k < n; k++) dst[k] = p[k] / 255.0f;
}

/* ------------------------------------------------------------------------ */
/* Charts                                                                   */
/* ------------------------------------------------------------------------ */

static ferc_status draw_curves(report_ctx *c, report_figure *f, const char *path, ferc_error *err) {
    return plot_curves(c->in->hist, c->in->nhist, f->w, f->h, path, err);
}

static ferc_status draw_confusion(report_ctx *c, report_figure *f, const char *path, ferc_error *err) {
    int cm[K * K];
    for (int r = 0; r < K; r++)
        for (int k = 0; k < K; k++) cm[r * K + k] = c->met.confusion[r][k];
    return plot_confusion(cm, K, c->names, f->w, f->h, "Confusion matrix (rows: true, columns: predicted)",
                          path, err);
}

static ferc_status draw_per_class(report_ctx *c, report_figure *f, const char *path, ferc_error *err) {
    const ferc_metrics *met = &c->met;
    double v[K * 3];
    char gl[K][48];
    const char *gn[K];
    for (int k = 0; k < K; k++) {
        v[k * 3] = met->precision[k]; v[k * 3 + 1] = met->recall[k]; v[k * 3 + 2] = met->f1[k];
        snprintf(gl[k], sizeof gl[k], "%s\nn=%d", c->names[k], met->support[k]);
        gn[k] = gl[k];
    }
    const char *sn[3] = {"precision", "recall", "F1"};
    plot_bars_spec s = {.title = "Precision, recall and F1 per class", .ylabel = "score",
                        .ngroups = K, .nseries = 3, .group_names = gn, .series_names = sn,
                        .values = v, .ymin = 0, .ymax = 1.12, .value_fmt = "%.2f",
                        .ref_line = met->macro_f1, .ref_label = "macro F1"};
    return plot_bars(&s, f->w, f->h, path, err);
}

static ferc_status draw_share(report_ctx *c, report_figure *f, const char *path, ferc_error *err) {
    double v[K * 2];
    const char *sn[2] = {"true share", "predicted share"};
    for (int k = 0; k < K; k++) {
        v[k * 2] = 100.0 * c->true_count[k] / c->n;
        v[k * 2 + 1] = 100.0 * c->pred_count[k] / c->n;
    }
    plot_bars_spec s = {.title = "Share of each class: true labels vs predictions", .ylabel = "% of faces",
                        .ngroups = K, .nseries = 2, .group_names = c->names, .series_names = sn,
                        .values = v, .ymin = 0, .ymax = 0, .value_fmt = "%.1f", .ref_line = NAN,
                        .ref_label = NULL};
    return plot_bars(&s, f->w, f->h, path, err);
}

static ferc_status draw_calibration(report_ctx *c, report_figure *f, const char *path, ferc_error *err) {
    const ferc_calibration *cal = &c->cal;
    return plot_reliability(cal->conf, cal->acc, cal->count, cal->nb, cal->ece, f->w, f->h, path, err);
}

static ferc_status draw_calibration_raw(report_ctx *c, report_figure *f, const char *path, ferc_error *err) {
    const ferc_calibration *cal = &c->cal_raw;
    return plot_reliability(cal->conf, cal->acc, cal->count, cal->nb, cal->ece, f->w, f->h, path, err);
}

/* Brightness and contrast panels side by side. */
static ferc_status draw_quantiles(report_ctx *c, report_figure *f, const char *path, ferc_error *err) {
    int q = c->o.quantiles;
    double v[2][REPORT_MAX_QUANTILES];
    char gl[2][REPORT_MAX_QUANTILES][64];
    const char *gn[2][REPORT_MAX_QUANTILES];
    for (int k = 0; k < 2; k++)
        for (int g = 0; g < q; g++) {
            v[k][g] = 100 * c->qacc[k][g];
            snprintf(gl[k][g], sizeof gl[k][g], "Q%d\n%.2f\xe2\x80\x93%.2f", g + 1, c->qlo[k][g], c->qhi[k][g]);
            gn[k][g] = gl[k][g];
        }
    const char *titles[2] = {"Accuracy by brightness (mean pixel) quantile",
                             "Accuracy by contrast (pixel std) quantile"};
    plot_bars_spec s[2];
    for (int k = 0; k < 2; k++)
        s[k] = (plot_bars_spec){.title = titles[k], .ylabel = "accuracy %", .ngroups = q, .nseries = 1,
                                .group_names = gn[k], .series_names = NULL, .values = v[k], .ymin = 0,
                                .ymax = 0, .value_fmt = "%.1f", .ref_line = 100 * c->met.accuracy,
                                .ref_label = "overall accuracy"};
    return plot_bars_panels(s, 2, f->w, f->h, path, err);
}

/* ------------------------------------------------------------------------ */
/* Faces                                                                    */
/* ------------------------------------------------------------------------ */

/* Grid of dataset faces idx[0..n) with "true → pred (conf%)" captions;
 * its size goes to f. */
static ferc_status face_grid(const report_ctx *c, const int *idx, int n, const char *title,
                             report_figure *f, const char *path, ferc_error *err) {
    const ferc_dataset *d = c->d;
    const report_input *in = c->in;
    int cols = n < 8 ? (n > 0 ? n : 1) : 8;
    int rows = n > 0 ? (n + cols - 1) / cols : 1;
    size_t per = (size_t)d->h * d->w;
    grid_mem m;
    if (!grid_alloc(&m, per * (size_t)(n > 0 ? n : 1), (size_t)rows * cols, 0)) {
        grid_free(&m);
        return ferc_fail(err, FERC_ERR_NOMEM, "%s: out of memory", path);
    }
    for (int k = 0; k < n; k++) {
        int i = idx[k];
        face_floats(d, i, m.pix + per * k);
        int p = in->pred[i];
        double conf = in->probs[(size_t)i * K + p];
        snprintf(m.caps[k], sizeof m.caps[k], "%s \xe2\x86\x92 %s (%.0f%%)", ferc_label_name(d->label[i]),
                 ferc_label_name(p), 100 * conf);
        m.tiles[k] = (plot_tile){.data = m.pix + per * k, .h = d->h, .w = d->w, .mode = PLOT_TILE_GRAY01,
                                 .caption = m.caps[k],
                                 .caption_rgb = p == d->label[i] ? PLOT_OK_TEXT : PLOT_BAD_TEXT};
    }
    plot_grid_spec g = {.title = title, .cols = cols, .rows = rows, .tile_px = 144, .caption_lines = 1};
    plot_tiles_size(&g, &f->w, &f->h);
    ferc_status st = plot_tiles(&g, m.tiles, path, err);
    grid_free(&m);
    return st;
}

static ferc_status draw_misclassified(report_ctx *c, report_figure *f, const char *path, ferc_error *err) {
    char title[128];
    snprintf(title, sizeof title, "Most confident mistakes (%d of %d mistakes; caption: true \xe2\x86\x92 predicted (confidence))",
             c->nshow, c->nmis);
    return face_grid(c, c->mis, c->nshow, title, f, path, err);
}

static ferc_status draw_correct(report_ctx *c, report_figure *f, const char *path, ferc_error *err) {
    char title[160];
    snprintf(title, sizeof title, "Correct predictions, most confident first, classes in turn (%d of %d correct)",
             c->ncor, c->ncorrect);
    return face_grid(c, c->cor, c->ncor, title, f, path, err);
}

/* Row r of the confused-pairs grid: the pair in words and its most
 * confident example faces. */
static void pair_row(report_ctx *c, int r, grid_mem *m) {
    const ferc_dataset *d = c->d;
    const report_pair *pr = &c->pairs[r];
    size_t per = (size_t)d->h * d->w;
    int cnt = 0;
    for (int i = 0; i < c->n; i++)
        if (d->label[i] == pr->t && c->in->pred[i] == pr->p)
            c->kk[cnt++] = (report_keyed){.key = c->in->probs[(size_t)i * K + pr->p], .i = i};
    report_sort_keyed(c->kk, cnt);
    snprintf(m->rowt[r], sizeof m->rowt[r], "%s \xe2\x86\x92 %s\n%d faces\n(%.1f%% of %s)", c->names[pr->t],
             c->names[pr->p], pr->count,
             100.0 * pr->count / (c->met.support[pr->t] ? c->met.support[pr->t] : 1), c->names[pr->t]);
    m->rt[r] = m->rowt[r];
    for (int k = 0; k < PAIR_FACES && k < cnt; k++) {
        size_t ti = (size_t)r * PAIR_FACES + k;
        face_floats(d, c->kk[k].i, m->pix + per * ti);
        snprintf(m->caps[ti], sizeof m->caps[ti], "conf %.0f%%", 100 * c->kk[k].key);
        m->tiles[ti] = (plot_tile){.data = m->pix + per * ti, .h = d->h, .w = d->w, .mode = PLOT_TILE_GRAY01,
                                   .caption = m->caps[ti], .caption_rgb = PLOT_BAD_TEXT};
    }
}

static ferc_status draw_pairs(report_ctx *c, report_figure *f, const char *path, ferc_error *err) {
    int np = c->npairs < c->o.pairs ? c->npairs : c->o.pairs;
    int rows = np > 0 ? np : 1;
    size_t per = (size_t)c->d->h * c->d->w;
    grid_mem m;
    if (!grid_alloc(&m, per * (size_t)rows * PAIR_FACES, (size_t)rows * PAIR_FACES, (size_t)rows)) {
        grid_free(&m);
        return ferc_fail(err, FERC_ERR_NOMEM, "report: out of memory");
    }
    for (int r = 0; r < np; r++) pair_row(c, r, &m);
    if (np == 0) {
        snprintf(m.rowt[0], sizeof m.rowt[0], "no mistakes");
        m.rt[0] = m.rowt[0];
    }
    plot_grid_spec g = {.title = "Most confused pairs (true \xe2\x86\x92 predicted), most confident examples",
                        .cols = PAIR_FACES, .rows = rows, .tile_px = 112, .caption_lines = 1,
                        .row_titles = m.rt, .row_title_px = 170};
    plot_tiles_size(&g, &f->w, &f->h);
    ferc_status st = plot_tiles(&g, m.tiles, path, err);
    grid_free(&m);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Inside the network                                                       */
/* ------------------------------------------------------------------------ */

/* Faces for the activations: the most confident correct face of different
 * classes, then the first faces of the data. Returns how many (into af). */
static int pick_activation_faces(report_ctx *c, int *af) {
    const ferc_dataset *d = c->d;
    int used[K] = {0}, naf = 0, nc = 0;
    for (int i = 0; i < c->n; i++)
        if (c->correct[i]) c->kk[nc++] = (report_keyed){.key = c->in->probs[(size_t)i * K + c->in->pred[i]], .i = i};
    report_sort_keyed(c->kk, nc);
    for (int k = 0; k < nc && naf < c->o.activation_faces; k++)
        if (!used[d->label[c->kk[k].i]]) { used[d->label[c->kk[k].i]] = 1; af[naf++] = c->kk[k].i; }
    for (int i = 0; i < c->n && naf < c->o.activation_faces; i++) {
        int dup = 0;
        for (int k = 0; k < naf; k++) dup |= af[k] == i;
        if (!dup) af[naf++] = i;
    }
    return naf;
}

/* The activations grid: a row per face and block, the input face first. */
typedef struct {
    int S;                  /* model input side */
    size_t SS;
    int af[8], naf;         /* the faces */
    int cols;               /* 1 + maps_per_block */
    float *maps;            /* one block's output for one face */
    size_t cap;             /* floats in maps */
    float *face_store, *map_store;   /* what the tiles show */
    grid_mem g;
} act_work;

/* Tiles of the maps_per_block most active channels (highest mean) of a
 * block output of nch maps h x w, in row r. */
static void most_active_maps(report_ctx *c, act_work *a, int r, int nch_all, int h, int w) {
    report_keyed ch[MAX_CHANNELS];
    int nch = nch_all < MAX_CHANNELS ? nch_all : MAX_CHANNELS;
    size_t hw = (size_t)h * w;
    for (int k = 0; k < nch; k++) {
        double s = 0;
        for (size_t q = 0; q < hw; q++) s += a->maps[(size_t)k * hw + q];
        ch[k] = (report_keyed){.key = s / (double)hw, .i = k};
    }
    report_sort_keyed(ch, nch);
    for (int k = 0; k < c->o.maps_per_block && k < nch && hw <= a->SS; k++) {
        size_t ti = (size_t)r * a->cols + 1 + k;
        float *dst = a->map_store + ((size_t)r * c->o.maps_per_block + k) * a->SS;
        memcpy(dst, a->maps + (size_t)ch[k].i * hw, sizeof(float) * hw);
        snprintf(a->g.caps[ti], sizeof a->g.caps[ti], "#%d", ch[k].i);
        a->g.tiles[ti] = (plot_tile){.data = dst, .h = h, .w = w, .mode = PLOT_TILE_AUTO, .nearest = 1,
                                     .caption = a->g.caps[ti], .caption_rgb = 0x444444};
    }
}

/* Row of face f (prepared input x) and block b. */
static ferc_status activation_row(report_ctx *c, act_work *a, int f, int b, float *x, ferc_error *err) {
    int r = f * c->nblocks + b, nch = 0, h = 0, w = 0;
    ferc_status st = ferc_model_activations(c->in->model, x, b, a->maps, a->cap, &nch, &h, &w, err);
    if (st) return st;
    const char *name = c->names[c->d->label[a->af[f]]];
    snprintf(a->g.rowt[r], sizeof a->g.rowt[r], "face %d (%s)\nblock %d: %d maps %d\xc3\x97%d", f + 1,
             name, b + 1, nch, h, w);
    a->g.rt[r] = a->g.rowt[r];
    if (b == 0) {
        size_t ti = (size_t)r * a->cols;
        snprintf(a->g.caps[ti], sizeof a->g.caps[ti], "input (%s)", name);
        a->g.tiles[ti] = (plot_tile){.data = x, .h = a->S, .w = a->S, .mode = PLOT_TILE_GRAY01,
                                     .caption = a->g.caps[ti], .caption_rgb = 0x222222};
    }
    most_active_maps(c, a, r, nch, h, w);
    return FERC_OK;
}

static ferc_status draw_activations(report_ctx *c, report_figure *f, const char *path, ferc_error *err) {
    if (c->nblocks <= 0) { f->present = 0; return FERC_OK; }
    act_work a = {.S = ferc_model_input_size(c->in->model)};
    a.SS = (size_t)a.S * a.S;
    a.naf = pick_activation_faces(c, a.af);
    int rows = a.naf * c->nblocks;
    a.cols = 1 + c->o.maps_per_block;
    a.cap = a.SS * 512;
    a.maps = malloc(sizeof(float) * a.cap);
    if (!a.maps || !grid_alloc(&a.g, a.SS * (size_t)a.naf + (size_t)rows * c->o.maps_per_block * a.SS,
                               (size_t)rows * a.cols, (size_t)rows)) {
        free(a.maps);
        grid_free(&a.g);
        return ferc_fail(err, FERC_ERR_NOMEM, "report: out of memory");
    }
    ferc_status st = FERC_OK;
    a.face_store = a.g.pix;
    a.map_store = a.g.pix + a.SS * a.naf;
    for (int fi = 0; fi < a.naf && st == FERC_OK; fi++) {
        float *x = a.face_store + a.SS * fi;
        ferc_prepare_images(c->d, a.af[fi], 1, a.S, x);
        for (int b = 0; b < c->nblocks && st == FERC_OK; b++) st = activation_row(c, &a, fi, b, x, err);
    }
    if (st == FERC_OK) {
        plot_grid_spec g = {.title = "Feature maps at the end of each conv block (most active channels, each scaled to its own range)",
                            .cols = a.cols, .rows = rows, .tile_px = 72, .caption_lines = 1,
                            .row_titles = a.g.rt, .row_title_px = 190};
        plot_tiles_size(&g, &f->w, &f->h);
        st = plot_tiles(&g, a.g.tiles, path, err);
    }
    free(a.maps);
    grid_free(&a.g);
    return st;
}

/* Grid of the first show of k kernels kh x kw (weights w) on one shared
 * diverging scale, at least 760 px wide so that the title fits. */
static ferc_status filter_grid(const float *w, int k, int kh, int kw, report_figure *f,
                               const char *path, ferc_error *err) {
    int show = k < 64 ? k : 64;
    int cols = show < 16 ? show : 16, rows = (show + cols - 1) / cols;
    float amax = 0;
    for (size_t q = 0; q < (size_t)k * kh * kw; q++) amax = fmaxf(amax, fabsf(w[q]));
    plot_tile *tiles = calloc((size_t)rows * cols, sizeof *tiles);
    if (!tiles) return ferc_fail(err, FERC_ERR_NOMEM, "report: out of memory");
    for (int q = 0; q < show; q++)
        tiles[q] = (plot_tile){.data = w + (size_t)q * kh * kw, .h = kh, .w = kw, .mode = PLOT_TILE_DIVERGING,
                               .scale = amax, .nearest = 1};
    char title[160];
    snprintf(title, sizeof title, "First conv layer: %d of %d kernels %d\xc3\x97%d (blue negative, red positive, max |w| = %.3g)",
             show, k, kh, kw, amax);
    plot_grid_spec g = {.title = title, .cols = cols, .rows = rows, .tile_px = 56, .caption_lines = 0};
    int W, H;
    plot_tiles_size(&g, &W, &H);
    while (W < 760 && g.tile_px < 160) { g.tile_px += 8; plot_tiles_size(&g, &W, &H); }
    f->w = W;
    f->h = H;
    ferc_status st = plot_tiles(&g, tiles, path, err);
    free(tiles);
    return st;
}

static ferc_status draw_filters(report_ctx *c, report_figure *f, const char *path, ferc_error *err) {
    size_t cap = 4096 * 49;
    float *w = malloc(sizeof(float) * cap);
    int k = 0, kh = 0, kw = 0;
    if (!w) return ferc_fail(err, FERC_ERR_NOMEM, "report: out of memory");
    ferc_status st = ferc_model_first_filters(c->in->model, w, cap, &k, &kh, &kw, err);
    if (st == FERC_OK && k > 0) st = filter_grid(w, k, kh, kw, f, path, err);
    else f->present = 0;
    free(w);
    return st;
}

/* Faces for the saliency maps: half of them the most confident mistakes,
 * then correct faces, then the first faces of the data. Returns how many. */
static int pick_saliency_faces(const report_ctx *c, int *sf) {
    int ns = 0, want_mis = c->o.saliency_faces / 2;
    for (int k = 0; k < c->nshow && ns < want_mis; k++) sf[ns++] = c->mis[k];
    for (int k = 0; k < c->ncor && ns < c->o.saliency_faces; k++) sf[ns++] = c->cor[k];
    for (int i = 0; i < c->n && ns < c->o.saliency_faces; i++) {
        int dup = 0;
        for (int k = 0; k < ns; k++) dup |= sf[k] == i;
        if (!dup) sf[ns++] = i;
    }
    return ns;
}

/* Column k of the saliency grid: face i above its saliency map (x and the
 * gradient g, S x S each). */
static ferc_status saliency_column(report_ctx *c, grid_mem *m, int cols, int k, int i, int S,
                                   ferc_error *err) {
    const ferc_dataset *d = c->d;
    const report_input *in = c->in;
    const size_t SS = (size_t)S * S;
    float *x = m->pix + SS * 2 * k, *g = x + SS;
    ferc_prepare_images(d, i, 1, S, x);
    ferc_status st = ferc_model_saliency(in->model, x, in->pred[i], g, err);
    if (st) return st;
    for (size_t q = 0; q < SS; q++) g[q] = fabsf(g[q]);
    int ok = in->pred[i] == d->label[i];
    snprintf(m->caps[k], sizeof m->caps[k], "%s \xe2\x86\x92 %s (%.0f%%)", c->names[d->label[i]], c->names[in->pred[i]],
             100 * in->probs[(size_t)i * K + in->pred[i]]);
    m->tiles[k] = (plot_tile){.data = x, .h = S, .w = S, .mode = PLOT_TILE_GRAY01, .caption = m->caps[k],
                              .caption_rgb = ok ? PLOT_OK_TEXT : PLOT_BAD_TEXT};
    snprintf(m->caps[cols + k], sizeof m->caps[cols + k], "|d %s / d x|", c->names[in->pred[i]]);
    m->tiles[cols + k] = (plot_tile){.data = x, .h = S, .w = S, .mode = PLOT_TILE_OVERLAY, .overlay = g,
                                     .caption = m->caps[cols + k], .caption_rgb = 0x444444};
    return FERC_OK;
}

static ferc_status draw_saliency(report_ctx *c, report_figure *f, const char *path, ferc_error *err) {
    const int S = ferc_model_input_size(c->in->model);
    int sf[16];
    int ns = pick_saliency_faces(c, sf), cols = ns;
    grid_mem m;
    if (!grid_alloc(&m, (size_t)S * S * 2 * (size_t)ns, (size_t)2 * cols, 0)) {
        grid_free(&m);
        return ferc_fail(err, FERC_ERR_NOMEM, "report: out of memory");
    }
    ferc_status st = FERC_OK;
    for (int k = 0; k < ns && st == FERC_OK; k++) st = saliency_column(c, &m, cols, k, sf[k], S, err);
    if (st == FERC_OK) {
        const char *rt[2] = {"face\n(true \xe2\x86\x92 pred)", "saliency of the\npredicted class"};
        plot_grid_spec g = {.title = "Saliency: gradient of the predicted class score with respect to the pixels",
                            .cols = cols, .rows = 2, .tile_px = 128, .caption_lines = 1, .row_titles = rt,
                            .row_title_px = 130};
        plot_tiles_size(&g, &f->w, &f->h);
        st = plot_tiles(&g, m.tiles, path, err);
    }
    grid_free(&m);
    return st;
}

/* ------------------------------------------------------------------------ */
/* The table of figures                                                     */
/* ------------------------------------------------------------------------ */

typedef enum { NEEDS_NOTHING = 0, NEEDS_QUANTILES, NEEDS_MODEL, NEEDS_CALIBRATED } figure_needs;

typedef struct {
    const char *file, *alt;    /* file name; alt text on the page */
    int w, h;                  /* size; 0 when the drawing function sets it (grids) */
    figure_needs needs;        /* drawn only when the data or model allow */
    const char *stage;         /* logged before the figure, NULL = none */
    ferc_status (*draw)(report_ctx *c, report_figure *f, const char *path, ferc_error *err);
} figure_spec;

/* In page order; the page's list of files follows it. */
static const figure_spec FIGURES[] = {
    {.file = "curves.png", .alt = "training and validation loss and accuracy per epoch", .w = 1100, .h = 420,
     .stage = "drawing training curves, confusion matrix and per-class bars", .draw = draw_curves},
    {.file = "confusion.png", .alt = "confusion matrix: counts and row percentages", .w = 780, .h = 640,
     .draw = draw_confusion},
    {.file = "per_class.png", .alt = "precision, recall and F1 per class", .w = 1100, .h = 420,
     .draw = draw_per_class},
    {.file = "share.png", .alt = "share of each class among true labels and predictions", .w = 1100, .h = 400,
     .draw = draw_share},
    {.file = "calibration.png", .alt = "reliability diagram and confidence histogram", .w = 1100, .h = 440,
     .draw = draw_calibration},
    {.file = "calibration_uncalibrated.png", .alt = "reliability diagram before temperature scaling", .w = 1100,
     .h = 440, .needs = NEEDS_CALIBRATED, .draw = draw_calibration_raw},
    {.file = "quantiles.png", .alt = "accuracy by brightness and contrast quantile", .w = 1200, .h = 420,
     .needs = NEEDS_QUANTILES, .draw = draw_quantiles},
    {.file = "misclassified.png", .alt = "misclassified faces, most confident first",
     .stage = "drawing face grids", .draw = draw_misclassified},
    {.file = "correct.png", .alt = "correctly classified faces", .draw = draw_correct},
    {.file = "confused_pairs.png", .alt = "the most confused class pairs with example faces",
     .draw = draw_pairs},
    {.file = "activations.png", .alt = "feature maps of each conv block for a few faces",
     .needs = NEEDS_MODEL, .stage = "drawing activations, first-layer kernels and saliency",
     .draw = draw_activations},
    {.file = "filters.png", .alt = "first-layer convolution kernels", .needs = NEEDS_MODEL,
     .draw = draw_filters},
    {.file = "saliency.png", .alt = "saliency maps over the faces", .needs = NEEDS_MODEL,
     .draw = draw_saliency},
};

static int figure_wanted(const report_ctx *c, figure_needs needs) {
    switch (needs) {
    case NEEDS_QUANTILES: return c->have_q;
    case NEEDS_MODEL: return c->in->model != NULL;
    case NEEDS_CALIBRATED: return c->temperature != 1.0f;
    default: return 1;
    }
}

/* The charts only (no faces) stacked at 3/4 scale, for a README screenshot. */
static ferc_status draw_summary(report_ctx *c, ferc_error *err) {
    char a[4500], b[4500], d[4500], path[4500];
    report_out_file(&c->od, "curves.png", a, sizeof a);
    report_out_file(&c->od, "confusion.png", b, sizeof b);
    report_out_file(&c->od, "per_class.png", d, sizeof d);
    report_out_file(&c->od, "summary.png", path, sizeof path);
    const char *const parts[3] = {a, b, d};
    int sw = 0, sh = 0;
    ferc_status st = plot_stack_pngs(parts, 3, 0.75, path, &sw, &sh, err);
    if (st == FERC_OK) report_out_keep(&c->od, "summary.png");
    return st;
}

ferc_status report_draw_figures(report_ctx *c, ferc_error *err) {
    char path[4500];
    for (size_t i = 0; i < sizeof FIGURES / sizeof FIGURES[0]; i++) {
        const figure_spec *fs = &FIGURES[i];
        if (!figure_wanted(c, fs->needs)) continue;
        if (fs->stage) ferc_logf(c->o.log, c->o.log_user, FERC_LOG_INFO, "%s", fs->stage);
        report_figure *f = &c->fig[c->nfig];
        *f = (report_figure){.file = fs->file, .alt = fs->alt, .w = fs->w, .h = fs->h, .present = 1};
        report_out_file(&c->od, fs->file, path, sizeof path);
        ferc_status st = fs->draw(c, f, path, err);
        if (st) return st;
        if (f->present) {
            report_out_keep(&c->od, fs->file);
            c->nfig++;
        }
    }
    return draw_summary(c, err);
}
