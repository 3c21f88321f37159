/* plot_charts.c — the report's charts: training curves (two line panels),
 * the confusion heat map, grouped bar charts and the reliability diagram.
 * Each is drawn on a canvas of the drawing kit (plot.c) in named steps
 * (axes, marks, labels, legend) so that a chart reads top to bottom. */
#include "report/plot.h"


#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint32_t series_colors[6] = {PLOT_BLUE, PLOT_ORANGE, PLOT_GREEN, PLOT_RED, 0x9467bdu,
                                          0x8c564bu};

/* ------------------------------------------------------------------------ */
/* Line charts: training curves                                             */
/* ------------------------------------------------------------------------ */

/* One line panel: two series over epochs 1..n. */
typedef struct {
    const char *title, *ylabel;
    int n;
    const double *ya, *yb;     /* (n) values, NaN = no point */
    const char *na, *nb;       /* legend names of ya and yb */
    int percent;               /* y values are fractions shown as percentages */
    int best_epoch;            /* 1-based, marked by a dashed line; 0 = none */
} line_spec;

/* Plot area inside r and the data range: y over both series' finite
 * values, epochs with a little padding so that markers at the ends show
 * whole. Returns the y tick step. */
static double line_axes(plot_axes *a, plot_rect r, const line_spec *l) {
    int n = l->n;
    a->r = (plot_rect){.x = r.x + 70, .y = r.y + 34, .w = r.w - 70 - 16, .h = r.h - 34 - 48};
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < n; i++) {
        if (isfinite(l->ya[i])) { lo = fmin(lo, l->ya[i]); hi = fmax(hi, l->ya[i]); }
        if (isfinite(l->yb[i])) { lo = fmin(lo, l->yb[i]); hi = fmax(hi, l->yb[i]); }
    }
    if (!isfinite(lo)) { lo = 0; hi = 1; }
    if (l->percent) { lo = fmax(0, lo); hi = fmin(1, hi); if (!(hi > lo)) { lo = fmax(0, lo - 0.05); hi = fmin(1, hi + 0.05); } }
    double ystep = plot_nice_range(&lo, &hi, 6);
    a->y0 = lo; a->y1 = hi;
    double pad = n > 1 ? (n - 1) * 0.03 : 0.5;
    a->x0 = 1 - pad; a->x1 = n + pad;
    return ystep;
}

/* x ticks at whole epochs and the axis label. */
static void draw_epoch_ticks(cairo_t *cr, const plot_axes *a, int n) {
    double f, s;
    plot_nice_ticks(1, n > 1 ? n : 2, 8, &f, &s);
    if (s < 1) s = 1;
    f = ceil(1 / s) * s;
    if (f > 1 && s > 1) f = s;
    plot_font(cr, 11, 0);
    char buf[32];
    for (double e = (s > 1 ? f : 1); e <= n + 1e-9; e += s) {
        double x = round(plot_ax_x(a, e)) + 0.5;
        plot_rgb(cr, 0x444444);
        cairo_move_to(cr, x, a->r.y + a->r.h);
        cairo_line_to(cr, x, a->r.y + a->r.h + 5);
        cairo_stroke(cr);
        snprintf(buf, sizeof buf, "%d", (int)lround(e));
        plot_rgb(cr, 0x333333);
        plot_text(cr, x, a->r.y + a->r.h + 8, 0.5, 0, buf);
    }
    plot_font(cr, 12, 0);
    plot_rgb(cr, 0x222222);
    plot_text(cr, a->r.x + a->r.w / 2, a->r.y + a->r.h + 28, 0.5, 0, "epoch");
}

/* Both series as lines with markers (up to 60 epochs), clipped to the plot
 * area. Their pixel positions go to pts (when not NULL) for the legend
 * placement; returns how many. */
static int draw_series(cairo_t *cr, const plot_axes *a, const line_spec *l, double *pts) {
    int n = l->n, npts = 0;
    const double *ys[2] = {l->ya, l->yb};
    const uint32_t cols[2] = {PLOT_BLUE, PLOT_ORANGE};
    cairo_save(cr);
    cairo_rectangle(cr, a->r.x, a->r.y, a->r.w, a->r.h);
    cairo_clip(cr);
    for (int k = 0; k < 2; k++) {
        plot_rgb(cr, cols[k]);
        cairo_set_line_width(cr, 2);
        int pen = 0;
        for (int i = 0; i < n; i++) {
            if (!isfinite(ys[k][i])) { pen = 0; continue; }
            double x = plot_ax_x(a, i + 1), y = plot_ax_y(a, ys[k][i]);
            if (pen) cairo_line_to(cr, x, y);
            else cairo_move_to(cr, x, y);
            pen = 1;
            if (pts) { pts[2 * npts] = x; pts[2 * npts + 1] = y; npts++; }
        }
        cairo_stroke(cr);
        if (n <= 60)
            for (int i = 0; i < n; i++) {
                if (!isfinite(ys[k][i])) continue;
                cairo_arc(cr, plot_ax_x(a, i + 1), plot_ax_y(a, ys[k][i]), 3, 0, 2 * M_PI);
                cairo_fill(cr);
            }
    }
    cairo_restore(cr);
    return npts;
}

static void line_legend(cairo_t *cr, const plot_axes *a, const line_spec *l, const double *pts,
                        int npts) {
    plot_legend_item it[3] = {
        {.name = l->na, .color = PLOT_BLUE, .kind = PLOT_LEGEND_LINE},
        {.name = l->nb, .color = PLOT_ORANGE, .kind = PLOT_LEGEND_LINE},
        {.name = NULL, .color = PLOT_GRAY, .kind = PLOT_LEGEND_DASHED},
    };
    char best[64];
    int nit = 2;
    if (l->best_epoch >= 1 && l->best_epoch <= l->n) {
        snprintf(best, sizeof best, "best validation (epoch %d)", l->best_epoch);
        it[2].name = best;
        nit = 3;
    }
    plot_legend_best_corner(cr, a, it, nit, pts, pts ? npts : 0);
}

static void line_panel(cairo_t *cr, plot_rect r, const line_spec *l) {
    plot_axes a;
    double ystep = line_axes(&a, r, l);
    plot_draw_title(cr, r.x + r.w / 2, r.y + 8, l->title);
    plot_draw_y_axis(cr, &a, ystep, l->percent, l->ylabel);
    draw_epoch_ticks(cr, &a, l->n);
    if (l->best_epoch >= 1 && l->best_epoch <= l->n) {
        plot_rgb(cr, PLOT_GRAY);
        double x = plot_ax_x(&a, l->best_epoch);
        plot_dashed_line(cr, x, a.r.y, x, a.r.y + a.r.h, 4, 4, 1.2);
    }
    double *pts = malloc(sizeof(double) * 4 * (size_t)l->n);
    int npts = draw_series(cr, &a, l, pts);
    plot_draw_frame(cr, &a);
    line_legend(cr, &a, l, pts, npts);
    free(pts);
}

ferc_status plot_curves(const ferc_epoch_stats *h, int n, int width, int height,
                        const char *path, ferc_error *err) {
    if (!h || n < 1) return ferc_fail(err, FERC_ERR_ARG, "%s: no epochs to plot", path);
    ferc_status st = plot_check_size(width, height, path, err);
    if (st) return st;
    double *v = malloc(sizeof(double) * 4 * (size_t)n);
    if (!v) return ferc_fail(err, FERC_ERR_NOMEM, "%s: out of memory", path);
    int best = 0;
    for (int i = 0; i < n; i++) {
        v[i] = h[i].train_loss; v[n + i] = h[i].val_loss;
        v[2 * n + i] = h[i].train_acc; v[3 * n + i] = h[i].val_acc;
        if (isfinite(h[i].val_acc) && (best == 0 || h[i].val_acc > h[best - 1].val_acc)) best = i + 1;
    }
    cairo_t *cr;
    cairo_surface_t *s = plot_canvas(width, height, &cr);
    double half = width / 2.0;
    line_spec loss = {.title = "Loss", .ylabel = "cross-entropy", .n = n, .ya = v, .yb = v + n,
                      .na = "train", .nb = "validation", .percent = 0, .best_epoch = best};
    line_spec acc = {.title = "Accuracy", .ylabel = "accuracy", .n = n, .ya = v + 2 * n,
                     .yb = v + 3 * n, .na = "train", .nb = "validation", .percent = 1,
                     .best_epoch = best};
    line_panel(cr, (plot_rect){.x = 0, .y = 0, .w = half, .h = height}, &loss);
    line_panel(cr, (plot_rect){.x = half, .y = 0, .w = width - half, .h = height}, &acc);
    free(v);
    return plot_finish(s, cr, path, err);
}

/* ------------------------------------------------------------------------ */
/* Confusion heat map                                                       */
/* ------------------------------------------------------------------------ */

/* Where the k x k cells go. */
typedef struct {
    int k;
    double left, top;   /* top-left corner of the matrix */
    double gw, gh;      /* matrix size */
    double cw, ch;      /* cell size */
} cm_layout;

/* Row labels "name (row total)" into rl; returns the widest in pixels. */
static double confusion_row_labels(cairo_t *cr, const int *counts, int k, const char *const *names,
                                   char (*rl)[64]) {
    plot_font(cr, 12, 0);
    double rlw = 0;
    for (int r = 0; r < k; r++) {
        long rs = 0;
        for (int c = 0; c < k; c++) rs += counts[r * k + c];
        snprintf(rl[r], sizeof rl[r], "%s (%ld)", names ? names[r] : "?", rs);
        double w = plot_text_w(cr, rl[r]);
        if (w > rlw) rlw = w;
    }
    return rlw;
}

/* One cell: its colour is the row share; the count above the share. */
static void confusion_cell(cairo_t *cr, const cm_layout *l, int r, int c, int v, long rs) {
    double share = rs > 0 ? (double)v / rs : 0;
    double x = l->left + c * l->cw, y = l->top + r * l->ch;
    plot_rgb(cr, plot_blues(share));
    cairo_rectangle(cr, x, y, l->cw, l->ch);
    cairo_fill(cr);
    uint32_t tc = share > 0.5 ? 0xffffff : v == 0 ? 0x9a9a9a : 0x111111;
    char a[32], b[32];
    snprintf(a, sizeof a, "%d", v);
    snprintf(b, sizeof b, "%.1f%%", 100 * share);
    double fs = fmin(13, fmin(l->cw / 4.5, l->ch / 3.2));
    if (fs < 6) fs = 6;
    plot_rgb(cr, tc);
    plot_font(cr, fs, r == c);
    plot_text(cr, x + l->cw / 2, y + l->ch / 2 - 1, 0.5, 1, a);
    plot_font(cr, fs * 0.85, 0);
    plot_text(cr, x + l->cw / 2, y + l->ch / 2 + 1, 0.5, 0, b);
}

/* Cells, then white lines between them and the frame. */
static void confusion_cells(cairo_t *cr, const int *counts, const cm_layout *l) {
    int k = l->k;
    for (int r = 0; r < k; r++) {
        long rs = 0;
        for (int c = 0; c < k; c++) rs += counts[r * k + c];
        for (int c = 0; c < k; c++) confusion_cell(cr, l, r, c, counts[r * k + c], rs);
    }
    plot_rgb(cr, 0xffffff);
    cairo_set_line_width(cr, 1);
    for (int i = 1; i < k; i++) {
        cairo_move_to(cr, l->left + i * l->cw, l->top);
        cairo_line_to(cr, l->left + i * l->cw, l->top + l->gh);
        cairo_move_to(cr, l->left, l->top + i * l->ch);
        cairo_line_to(cr, l->left + l->gw, l->top + i * l->ch);
    }
    cairo_stroke(cr);
    plot_rgb(cr, 0x444444);
    cairo_rectangle(cr, l->left + 0.5, l->top + 0.5, l->gw, l->gh);
    cairo_stroke(cr);
}

/* Row labels, column names (slanted when too wide) and the axis titles. */
static void confusion_labels(cairo_t *cr, const cm_layout *l, const char *const *names,
                             char (*rl)[64], int height) {
    plot_font(cr, 12, 0);
    plot_rgb(cr, 0x222222);
    for (int r = 0; r < l->k; r++) plot_text(cr, l->left - 6, l->top + (r + 0.5) * l->ch, 1, 0.5, rl[r]);
    for (int c = 0; c < l->k; c++) {
        const char *nm = names ? names[c] : "?";
        if (plot_text_w(cr, nm) > l->cw - 4) {
            cairo_save(cr);
            cairo_translate(cr, l->left + (c + 0.5) * l->cw, l->top + l->gh + 6);
            cairo_rotate(cr, -M_PI / 6);
            plot_text(cr, 0, 0, 1, 0, nm);
            cairo_restore(cr);
        } else {
            plot_text(cr, l->left + (c + 0.5) * l->cw, l->top + l->gh + 6, 0.5, 0, nm);
        }
    }
    plot_font(cr, 13, 1);
    plot_text(cr, l->left + l->gw / 2, height - 22, 0.5, 0, "predicted label");
    plot_text_up(cr, 14, l->top + l->gh / 2, "true label (row total)");
}

/* Colour bar right of the matrix: row share 0..100%. */
static void confusion_colour_bar(cairo_t *cr, const cm_layout *l) {
    double bx = l->left + l->gw + 22, bw = 18, by = l->top, bh = l->gh;
    for (int i = 0; i < (int)bh; i++) {
        plot_rgb(cr, plot_blues(1.0 - (i + 0.5) / bh));
        cairo_rectangle(cr, bx, by + i, bw, 1.0);
        cairo_fill(cr);
    }
    plot_rgb(cr, 0x444444);
    cairo_rectangle(cr, bx + 0.5, by + 0.5, bw, bh);
    cairo_stroke(cr);
    plot_font(cr, 10, 0);
    for (int i = 0; i <= 4; i++) {
        double y = by + bh - i * bh / 4;
        char b[16];
        snprintf(b, sizeof b, "%d%%", i * 25);
        cairo_move_to(cr, bx + bw, y);
        cairo_line_to(cr, bx + bw + 4, y);
        cairo_stroke(cr);
        plot_text(cr, bx + bw + 6, y, 0, 0.5, b);
    }
    plot_font(cr, 11, 0);
    plot_text_up(cr, bx + bw + 46, by + bh / 2, "share of the true class (row)");
}

ferc_status plot_confusion(const int *counts, int k, const char *const *names, int width,
                           int height, const char *title, const char *path, ferc_error *err) {
    if (!counts || k < 1 || k > 50) return ferc_fail(err, FERC_ERR_ARG, "%s: bad matrix size %d", path, k);
    ferc_status st = plot_check_size(width, height, path, err);
    if (st) return st;
    cairo_t *cr;
    cairo_surface_t *s = plot_canvas(width, height, &cr);
    char (*rl)[64] = calloc((size_t)k, sizeof *rl);
    if (!rl) { cairo_destroy(cr); cairo_surface_destroy(s); return ferc_fail(err, FERC_ERR_NOMEM, "%s: out of memory", path); }
    double rlw = confusion_row_labels(cr, counts, k, names, rl);
    double left = rlw + 44, top = title ? 44 : 14, right = 96, bottom = 62;
    double gw = width - left - right, gh = height - top - bottom;
    cm_layout l = {.k = k, .left = left, .top = top, .gw = gw, .gh = gh, .cw = gw / k, .ch = gh / k};
    if (title) plot_draw_title(cr, width / 2.0, 12, title);
    confusion_cells(cr, counts, &l);
    confusion_labels(cr, &l, names, rl, height);
    confusion_colour_bar(cr, &l);
    free(rl);
    return plot_finish(s, cr, path, err);
}

/* ------------------------------------------------------------------------ */
/* Bars                                                                     */
/* ------------------------------------------------------------------------ */

/* Plot area of a bar panel inside r — below the title and the legend row,
 * above one or two lines of group labels — and the y range: the spec's, or
 * from 0 to the largest value with room for the value labels. */
static void bars_axes(plot_axes *a, plot_rect r, const plot_bars_spec *s) {
    double top = 34;
    if (s->series_names || isfinite(s->ref_line)) top += 22;
    int glines = 1;
    for (int g = 0; g < s->ngroups; g++)
        if (s->group_names && strchr(s->group_names[g], '\n')) glines = 2;
    a->r = (plot_rect){.x = r.x + 70, .y = r.y + top, .w = r.w - 70 - 14,
                       .h = r.h - top - 18 - 17.0 * glines - 22};
    double lo = s->ymin, hi = s->ymax;
    if (!(hi > lo)) {
        lo = 0; hi = 0;
        for (int i = 0; i < s->ngroups * s->nseries; i++)
            if (isfinite(s->values[i]) && s->values[i] > hi) hi = s->values[i];
        if (isfinite(s->ref_line) && s->ref_line > hi) hi = s->ref_line;
        if (!(hi > 0)) hi = 1;
        hi *= 1.12;  /* room for value labels */
        plot_nice_range(&lo, &hi, 6);
    }
    a->y0 = lo; a->y1 = hi;
    a->x0 = 0; a->x1 = s->ngroups;
}

/* y axis with ticks from the first nice tick in the range (which may not
 * start on a tick when the spec sets it). */
static void bars_y_axis(cairo_t *cr, const plot_axes *a, const char *ylabel) {
    double f, step;
    plot_nice_ticks(a->y0, a->y1, 7, &f, &step);
    plot_draw_y_axis(cr, a, step, 0, ylabel);   /* which starts at f */
}

/* One bar of width bw at x (clamped to the range) with its value above,
 * the font shrunk until the label fits. */
static void draw_bar(cairo_t *cr, const plot_axes *a, double x, double bw, double v, uint32_t color,
                     const char *value_fmt) {
    double lo = a->y0, hi = a->y1;
    double y0 = plot_ax_y(a, fmax(lo, 0)), y1 = plot_ax_y(a, fmin(fmax(v, lo), hi));
    plot_rgb(cr, color);
    cairo_rectangle(cr, x + 1, fmin(y0, y1), bw - 2, fabs(y0 - y1));
    cairo_fill(cr);
    if (!value_fmt) return;
    char buf[32];
    snprintf(buf, sizeof buf, value_fmt, v);
    double fs = 10;
    plot_font(cr, fs, 0);
    while (fs > 6 && plot_text_w(cr, buf) > bw + 6) { fs -= 0.5; plot_font(cr, fs, 0); }
    plot_rgb(cr, 0x222222);
    plot_text_halo(cr, x + bw / 2, fmin(y0, y1) - 2, 0.5, 1, buf);
}

/* Every group: its bars side by side and its label under the axis. */
static void bars_groups(cairo_t *cr, const plot_axes *a, const plot_bars_spec *s) {
    int ng = s->ngroups, ns = s->nseries;
    double gw = a->r.w / ng, bw = gw * 0.8 / ns;
    for (int g = 0; g < ng; g++) {
        for (int k = 0; k < ns; k++) {
            double v = s->values[g * ns + k];
            if (!isfinite(v)) continue;
            double x = a->r.x + g * gw + gw * 0.1 + k * bw;
            draw_bar(cr, a, x, bw, v, series_colors[k % 6], s->value_fmt);
        }
        if (s->group_names) {
            plot_font(cr, 12, 0);
            plot_rgb(cr, 0x222222);
            double fs = 12;
            while (fs > 7 && plot_lines_w(cr, s->group_names[g]) > gw - 2) { fs -= 0.5; plot_font(cr, fs, 0); }
            plot_text_lines(cr, a->r.x + (g + 0.5) * gw, a->r.y + a->r.h + 6, 0.5, 0, s->group_names[g]);
        }
    }
}

/* Legend as a row under the title: a box per series, then the reference line. */
static void bars_legend(cairo_t *cr, const plot_axes *a, plot_rect r, const plot_bars_spec *s) {
    plot_font(cr, 11, 0);
    double x = a->r.x, y = r.y + 34 + 8;
    for (int k = 0; s->series_names && k < s->nseries; k++) {
        plot_rgb(cr, series_colors[k % 6]);
        cairo_rectangle(cr, x, y - 5, 16, 10);
        cairo_fill(cr);
        plot_rgb(cr, 0x222222);
        plot_text(cr, x + 20, y, 0, 0.5, s->series_names[k]);
        x += 20 + plot_text_w(cr, s->series_names[k]) + 18;
    }
    if (isfinite(s->ref_line) && s->ref_label) {
        plot_rgb(cr, 0x333333);
        plot_dashed_line(cr, x, y, x + 22, y, 6, 4, 1.5);
        plot_rgb(cr, 0x222222);
        plot_text(cr, x + 26, y, 0, 0.5, s->ref_label);
    }
}

static void bars_panel(cairo_t *cr, plot_rect r, const plot_bars_spec *s) {
    plot_axes a;
    bars_axes(&a, r, s);
    plot_draw_title(cr, r.x + r.w / 2, r.y + 8, s->title);
    bars_y_axis(cr, &a, s->ylabel);
    bars_groups(cr, &a, s);
    if (isfinite(s->ref_line) && s->ref_line >= a.y0 && s->ref_line <= a.y1) {
        plot_rgb(cr, 0x333333);
        double y = plot_ax_y(&a, s->ref_line);
        plot_dashed_line(cr, a.r.x, y, a.r.x + a.r.w, y, 6, 4, 1.5);
    }
    plot_draw_frame(cr, &a);
    if (s->series_names || isfinite(s->ref_line)) bars_legend(cr, &a, r, s);
}

static ferc_status check_bars(const plot_bars_spec *s, const char *path, ferc_error *err) {
    if (!s || s->ngroups < 1 || s->nseries < 1 || s->nseries > 6 || !s->values)
        return ferc_fail(err, FERC_ERR_ARG, "%s: bar chart needs 1+ groups, 1..6 series and values", path);
    return FERC_OK;
}

ferc_status plot_bars_panels(const plot_bars_spec *s, int n, int width, int height,
                             const char *path, ferc_error *err) {
    if (n < 1) return ferc_fail(err, FERC_ERR_ARG, "%s: no panels", path);
    for (int i = 0; i < n; i++) {
        ferc_status st = check_bars(&s[i], path, err);
        if (st) return st;
    }
    ferc_status st = plot_check_size(width, height, path, err);
    if (st) return st;
    cairo_t *cr;
    cairo_surface_t *surf = plot_canvas(width, height, &cr);
    double pw = (double)width / n;
    for (int i = 0; i < n; i++)
        bars_panel(cr, (plot_rect){.x = i * pw, .y = 0, .w = pw, .h = height}, &s[i]);
    return plot_finish(surf, cr, path, err);
}

ferc_status plot_bars(const plot_bars_spec *s, int width, int height, const char *path,
                      ferc_error *err) {
    return plot_bars_panels(s, 1, width, height, path, err);
}

/* ------------------------------------------------------------------------ */
/* Reliability diagram                                                      */
/* ------------------------------------------------------------------------ */

typedef struct {
    const double *conf, *acc;   /* (nb) mean confidence and accuracy per bin */
    const int *count;           /* (nb) predictions per bin */
    int nb;
    double mconf, macc;         /* count-weighted means over the bins */
    int maxc;                   /* largest count */
} calib_bins;

static void calib_means(calib_bins *c) {
    long n = 0;
    c->mconf = 0;
    c->macc = 0;
    c->maxc = 0;
    for (int b = 0; b < c->nb; b++) {
        n += c->count[b];
        if (c->count[b] > c->maxc) c->maxc = c->count[b];
        c->mconf += c->conf[b] * c->count[b];
        c->macc += c->acc[b] * c->count[b];
    }
    if (n > 0) { c->mconf /= n; c->macc /= n; }
}

/* x ticks 0%..100% every 20% under a confidence axis, and its label. */
static void confidence_ticks(cairo_t *cr, const plot_axes *a, const char *label) {
    plot_font(cr, 11, 0);
    for (int i = 0; i <= 5; i++) {
        char buf[16];
        snprintf(buf, sizeof buf, "%d%%", i * 20);
        plot_rgb(cr, 0x333333);
        plot_text(cr, plot_ax_x(a, i * 0.2), a->r.y + a->r.h + 6, 0.5, 0, buf);
    }
    plot_font(cr, 12, 0);
    plot_text(cr, a->r.x + a->r.w / 2, a->r.y + a->r.h + 26, 0.5, 0, label);
}

/* Accuracy bars per confidence bin, the gap to the bin's mean confidence
 * in red, and the count above. */
static void accuracy_bars(cairo_t *cr, const plot_axes *a, const calib_bins *c) {
    int nb = c->nb;
    for (int b = 0; b < nb; b++) {
        if (c->count[b] <= 0) continue;
        double x0 = plot_ax_x(a, (double)b / nb), x1 = plot_ax_x(a, (double)(b + 1) / nb);
        double ya = plot_ax_y(a, c->acc[b]), yc = plot_ax_y(a, c->conf[b]), yz = plot_ax_y(a, 0);
        plot_rgba(cr, PLOT_BLUE, 0.85);
        cairo_rectangle(cr, x0 + 1, ya, x1 - x0 - 2, yz - ya);
        cairo_fill(cr);
        plot_rgba(cr, PLOT_RED, 0.30);
        cairo_rectangle(cr, x0 + 1, fmin(ya, yc), x1 - x0 - 2, fabs(ya - yc));
        cairo_fill_preserve(cr);
        plot_rgba(cr, PLOT_RED, 0.9);
        cairo_set_line_width(cr, 1);
        cairo_stroke(cr);
        char buf[24];
        snprintf(buf, sizeof buf, "%d", c->count[b]);
        double fs = 10;
        plot_font(cr, fs, 0);
        while (fs > 6 && plot_text_w(cr, buf) > x1 - x0) { fs -= 0.5; plot_font(cr, fs, 0); }
        plot_rgb(cr, 0x222222);
        plot_text(cr, (x0 + x1) / 2, fmin(ya, yc) - 2, 0.5, 1, buf);
    }
}

/* Left panel, lw wide: accuracy per confidence bin against the diagonal. */
static void accuracy_panel(cairo_t *cr, double lw, int height, const calib_bins *c, double ece) {
    char title[96];
    snprintf(title, sizeof title, "Reliability (ECE = %.1f%%)", 100 * ece);
    plot_axes a = {.r = {.x = 70, .y = 56, .w = lw - 70 - 14, .h = height - 56 - 52},
                   .x0 = 0, .x1 = 1, .y0 = 0, .y1 = 1};
    plot_draw_title(cr, lw / 2, 8, title);
    plot_draw_y_axis(cr, &a, 0.2, 1, "accuracy in the bin");
    accuracy_bars(cr, &a, c);
    plot_rgb(cr, 0x333333);
    plot_dashed_line(cr, plot_ax_x(&a, 0), plot_ax_y(&a, 0), plot_ax_x(&a, 1), plot_ax_y(&a, 1), 5, 4, 1.5);
    confidence_ticks(cr, &a, "confidence (top-1 probability)");
    plot_draw_frame(cr, &a);
    plot_legend_item it[3] = {
        {.name = "accuracy (bar, count above)", .color = PLOT_BLUE, .kind = PLOT_LEGEND_BOX},
        {.name = "gap to mean confidence", .color = 0xe8a0a0, .kind = PLOT_LEGEND_BOX},
        {.name = "perfect calibration", .color = 0x333333, .kind = PLOT_LEGEND_DASHED},
    };
    plot_draw_legend(cr, a.r.x + 6, a.r.y + 6, it, 3);
}

/* Right panel, from lw to width: how many predictions fall in each bin,
 * with the mean confidence and the accuracy as dashed lines. */
static void confidence_panel(cairo_t *cr, double lw, int width, int height, const calib_bins *c) {
    plot_axes h = {.r = {.x = lw + 70, .y = 56, .w = width - lw - 70 - 16, .h = height - 56 - 52},
                   .x0 = 0, .x1 = 1, .y0 = 0, .y1 = c->maxc > 0 ? c->maxc : 1};
    double hs = plot_nice_range(&h.y0, &h.y1, 6);
    plot_draw_title(cr, lw + (width - lw) / 2, 8, "How confident the model is");
    plot_draw_y_axis(cr, &h, hs, 0, "predictions");
    for (int b = 0; b < c->nb; b++) {
        if (c->count[b] <= 0) continue;
        double x0 = plot_ax_x(&h, (double)b / c->nb), x1 = plot_ax_x(&h, (double)(b + 1) / c->nb);
        double y = plot_ax_y(&h, c->count[b]);
        plot_rgba(cr, PLOT_GRAY, 0.8);
        cairo_rectangle(cr, x0 + 1, y, x1 - x0 - 2, plot_ax_y(&h, 0) - y);
        cairo_fill(cr);
    }
    double vx[2] = {c->mconf, c->macc};
    uint32_t vc[2] = {PLOT_ORANGE, PLOT_BLUE};
    for (int i = 0; i < 2; i++) {
        plot_rgb(cr, vc[i]);
        plot_dashed_line(cr, plot_ax_x(&h, vx[i]), h.r.y, plot_ax_x(&h, vx[i]), h.r.y + h.r.h, 5, 4, 2);
    }
    confidence_ticks(cr, &h, "confidence");
    plot_draw_frame(cr, &h);
    char l1[64], l2[64];
    snprintf(l1, sizeof l1, "mean confidence %.1f%%", 100 * c->mconf);
    snprintf(l2, sizeof l2, "accuracy %.1f%%", 100 * c->macc);
    plot_legend_item it[2] = {
        {.name = l1, .color = PLOT_ORANGE, .kind = PLOT_LEGEND_DASHED},
        {.name = l2, .color = PLOT_BLUE, .kind = PLOT_LEGEND_DASHED},
    };
    plot_draw_legend(cr, h.r.x + 6, h.r.y + 6, it, 2);
}

ferc_status plot_reliability(const double *bin_conf, const double *bin_acc, const int *bin_count,
                             int nb, double ece, int width, int height, const char *path,
                             ferc_error *err) {
    if (nb < 1 || !bin_conf || !bin_acc || !bin_count)
        return ferc_fail(err, FERC_ERR_ARG, "%s: reliability diagram needs bins", path);
    ferc_status st = plot_check_size(width, height, path, err);
    if (st) return st;
    calib_bins c = {.conf = bin_conf, .acc = bin_acc, .count = bin_count, .nb = nb};
    calib_means(&c);
    cairo_t *cr;
    cairo_surface_t *s = plot_canvas(width, height, &cr);
    double lw = width * 0.55;
    accuracy_panel(cr, lw, height, &c, ece);
    confidence_panel(cr, lw, width, height, &c);
    return plot_finish(s, cr, path, err);
}
