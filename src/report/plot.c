/* plot.c — the report's charts and image grids, drawn with cairo (lines,
 * rectangles, the toy text API over fontconfig) and saved as PNG with
 * cairo_surface_write_to_png. Every figure is drawn on a white RGB24
 * canvas and written atomically (temporary file + rename). */
#include "report/plot.h"


#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FONT "DejaVu Sans"

typedef struct { double x, y, w, h; } rect;

/* ------------------------------------------------------------------------ */
/* Colours                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct { double t; unsigned char r, g, b; } stop;

static uint32_t ramp(const stop *s, int n, double t) {
    if (!(t >= 0)) t = 0;  /* also NaN */
    if (t > 1) t = 1;
    int i = 0;
    while (i < n - 2 && t > s[i + 1].t) i++;
    double f = (t - s[i].t) / (s[i + 1].t - s[i].t);
    if (f < 0) f = 0;
    if (f > 1) f = 1;
    unsigned r = (unsigned)lround(s[i].r + f * (s[i + 1].r - s[i].r));
    unsigned g = (unsigned)lround(s[i].g + f * (s[i + 1].g - s[i].g));
    unsigned b = (unsigned)lround(s[i].b + f * (s[i + 1].b - s[i].b));
    return (r << 16) | (g << 8) | b;
}

uint32_t plot_viridis(double t) {
    static const stop s[] = {{0.0, 68, 1, 84},     {0.125, 71, 44, 122}, {0.25, 59, 81, 139},
                             {0.375, 44, 113, 142}, {0.5, 33, 144, 141},  {0.625, 39, 173, 129},
                             {0.75, 92, 200, 99},   {0.875, 170, 220, 50}, {1.0, 253, 231, 37}};
    return ramp(s, (int)(sizeof s / sizeof s[0]), t);
}

uint32_t plot_hot(double t) {
    static const stop s[] = {{0.0, 90, 0, 120}, {0.35, 200, 30, 30}, {0.7, 255, 150, 0},
                             {1.0, 255, 255, 90}};
    return ramp(s, (int)(sizeof s / sizeof s[0]), t);
}

uint32_t plot_diverging(double t) {
    static const stop s[] = {{0.0, 33, 102, 172},   {0.25, 146, 197, 222}, {0.5, 247, 247, 247},
                             {0.75, 244, 165, 130}, {1.0, 178, 24, 43}};
    return ramp(s, (int)(sizeof s / sizeof s[0]), t);
}

static uint32_t blues(double t) {
    static const stop s[] = {{0.0, 247, 251, 255}, {0.25, 198, 219, 239}, {0.5, 107, 174, 214},
                             {0.75, 33, 113, 181}, {1.0, 8, 48, 107}};
    return ramp(s, (int)(sizeof s / sizeof s[0]), t);
}

static void rgb(cairo_t *cr, uint32_t c) {
    cairo_set_source_rgb(cr, ((c >> 16) & 255) / 255.0, ((c >> 8) & 255) / 255.0, (c & 255) / 255.0);
}

static void rgba(cairo_t *cr, uint32_t c, double a) {
    cairo_set_source_rgba(cr, ((c >> 16) & 255) / 255.0, ((c >> 8) & 255) / 255.0,
                          (c & 255) / 255.0, a);
}

static const uint32_t series_colors[6] = {PLOT_BLUE, PLOT_ORANGE, PLOT_GREEN, PLOT_RED, 0x9467bdu,
                                          0x8c564bu};

/* ------------------------------------------------------------------------ */
/* Text                                                                     */
/* ------------------------------------------------------------------------ */

static void font(cairo_t *cr, double size, int bold) {
    cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
}

static double text_w(cairo_t *cr, const char *s) {
    cairo_text_extents_t e;
    cairo_text_extents(cr, s, &e);
    return e.x_advance;
}

/* One line of text anchored at (x, y): ax 0 left, 0.5 centre, 1 right;
 * ay 0 top, 0.5 middle, 1 bottom of the font box. */
static void text(cairo_t *cr, double x, double y, double ax, double ay, const char *s) {
    cairo_font_extents_t fe;
    cairo_font_extents(cr, &fe);
    double w = text_w(cr, s);
    double h = fe.ascent + fe.descent;
    cairo_move_to(cr, x - ax * w, y - ay * h + fe.ascent);
    cairo_show_text(cr, s);
}

/* Text with a white outline so that it stays readable over lines and bars. */
static void text_halo(cairo_t *cr, double x, double y, double ax, double ay, const char *str) {
    cairo_font_extents_t fe;
    cairo_font_extents(cr, &fe);
    double w = text_w(cr, str), h = fe.ascent + fe.descent;
    cairo_pattern_t *src = cairo_get_source(cr);
    cairo_pattern_reference(src);
    cairo_move_to(cr, x - ax * w, y - ay * h + fe.ascent);
    cairo_text_path(cr, str);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_set_line_width(cr, 3);
    cairo_stroke_preserve(cr);
    cairo_set_source(cr, src);
    cairo_fill(cr);
    cairo_pattern_destroy(src);
}

/* Several lines separated by '\n', the block anchored like text(). */
static void text_lines(cairo_t *cr, double x, double y, double ax, double ay, const char *s) {
    cairo_font_extents_t fe;
    cairo_font_extents(cr, &fe);
    int nl = 1;
    for (const char *p = s; *p; p++) nl += *p == '\n';
    double lh = fe.ascent + fe.descent;
    double top = y - ay * lh * nl;
    char line[256];
    const char *p = s;
    for (int i = 0; i < nl; i++) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len >= sizeof line) len = sizeof line - 1;
        memcpy(line, p, len);
        line[len] = 0;
        text(cr, x, top + i * lh, ax, 0, line);
        p = e ? e + 1 : p + len;
    }
}

/* Widest line of a '\n'-separated string. */
static double lines_w(cairo_t *cr, const char *s) {
    double best = 0;
    char line[256];
    const char *p = s;
    while (1) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len >= sizeof line) len = sizeof line - 1;
        memcpy(line, p, len);
        line[len] = 0;
        double w = text_w(cr, line);
        if (w > best) best = w;
        if (!e) break;
        p = e + 1;
    }
    return best;
}

/* Text rotated by -90 degrees (reading upwards), centred at (x, y). */
static void text_up(cairo_t *cr, double x, double y, const char *s) {
    cairo_save(cr);
    cairo_translate(cr, x, y);
    cairo_rotate(cr, -M_PI / 2);
    text(cr, 0, 0, 0.5, 0.5, s);
    cairo_restore(cr);
}

/* ------------------------------------------------------------------------ */
/* Canvas and output                                                        */
/* ------------------------------------------------------------------------ */

static cairo_surface_t *canvas(int w, int h, cairo_t **cr) {
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
    *cr = cairo_create(s);
    cairo_set_source_rgb(*cr, 1, 1, 1);
    cairo_paint(*cr);
    cairo_set_line_join(*cr, CAIRO_LINE_JOIN_ROUND);
    return s;
}

ferc_status plot_write_surface(cairo_surface_t *s, const char *path, ferc_error *err) {
    cairo_status_t cs = cairo_surface_status(s);
    if (cs != CAIRO_STATUS_SUCCESS)
        return ferc_fail(err, cs == CAIRO_STATUS_NO_MEMORY ? FERC_ERR_NOMEM : FERC_ERR_INTERNAL,
                         "%s: cannot draw: %s", path, cairo_status_to_string(cs));
    cairo_surface_flush(s);
    size_t n = strlen(path) + 32;
    char *tmp = malloc(n);
    if (!tmp) return ferc_fail(err, FERC_ERR_NOMEM, "%s: out of memory", path);
    snprintf(tmp, n, "%s.tmp-%ld", path, (long)getpid());
    errno = 0;
    cs = cairo_surface_write_to_png(s, tmp);
    if (cs != CAIRO_STATUS_SUCCESS) {
        int e = errno;
        unlink(tmp);
        free(tmp);
        return ferc_fail(err, FERC_ERR_IO, "%s: cannot write PNG: %s%s%s", path,
                         cairo_status_to_string(cs), e ? ": " : "", e ? strerror(e) : "");
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        free(tmp);
        return ferc_fail(err, FERC_ERR_IO, "%s: cannot rename the written PNG into place: %s", path,
                         strerror(e));
    }
    free(tmp);
    return FERC_OK;
}

static ferc_status finish(cairo_surface_t *s, cairo_t *cr, const char *path, ferc_error *err) {
    cairo_status_t cs = cairo_status(cr);
    ferc_status st;
    if (cs != CAIRO_STATUS_SUCCESS)
        st = ferc_fail(err, cs == CAIRO_STATUS_NO_MEMORY ? FERC_ERR_NOMEM : FERC_ERR_INTERNAL,
                       "%s: cannot draw: %s", path, cairo_status_to_string(cs));
    else
        st = plot_write_surface(s, path, err);
    cairo_destroy(cr);
    cairo_surface_destroy(s);
    return st;
}

static ferc_status check_size(int w, int h, const char *path, ferc_error *err) {
    if (w < 64 || h < 64 || w > 16384 || h > 16384)
        return ferc_fail(err, FERC_ERR_ARG, "%s: image size %dx%d outside 64..16384", path, w, h);
    return FERC_OK;
}

/* ------------------------------------------------------------------------ */
/* Axes                                                                     */
/* ------------------------------------------------------------------------ */

int plot_nice_ticks(double lo, double hi, int max_ticks, double *first, double *step) {
    if (max_ticks < 2) max_ticks = 2;
    if (!(hi > lo)) {
        double d = fabs(lo) > 0 ? fabs(lo) * 0.1 : 1.0;
        lo -= d; hi += d;
    }
    double rough = (hi - lo) / (max_ticks - 1);
    double mag = pow(10.0, floor(log10(rough)));
    double norm = rough / mag, s;
    if (norm <= 1.0 + 1e-9) s = 1;
    else if (norm <= 2.0 + 1e-9) s = 2;
    else if (norm <= 5.0 + 1e-9) s = 5;
    else s = 10;
    s *= mag;
    double f = ceil(lo / s - 1e-9) * s;
    int count = (int)floor((hi - f) / s + 1e-9) + 1;
    if (count < 1) count = 1;
    *first = f;
    *step = s;
    return count;
}

typedef struct {
    rect r;                 /* plot area in pixels */
    double x0, x1, y0, y1;  /* data range */
} axes;

static double ax_x(const axes *a, double x) { return a->r.x + (x - a->x0) / (a->x1 - a->x0) * a->r.w; }
static double ax_y(const axes *a, double y) { return a->r.y + a->r.h - (y - a->y0) / (a->y1 - a->y0) * a->r.h; }

/* Range [lo, hi] widened to whole ticks; returns the tick step. */
static double nice_range(double *lo, double *hi, int max_ticks) {
    double f, s;
    plot_nice_ticks(*lo, *hi, max_ticks, &f, &s);
    double a = floor(*lo / s + 1e-9) * s, b = ceil(*hi / s - 1e-9) * s;
    if (!(b > a)) b = a + s;
    *lo = a; *hi = b;
    return s;
}

static void fmt_tick(char *buf, size_t cap, double v, double step, int percent) {
    if (percent) v *= 100, step *= 100;
    int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    if (dec > 4) dec = 4;
    if (fabs(v) < 1e-12) v = 0;
    snprintf(buf, cap, "%.*f%s", dec, v, percent ? "%" : "");
}

/* Frame, horizontal grid lines and y ticks (step ystep from y0). */
static void draw_y_axis(cairo_t *cr, const axes *a, double ystep, int percent, const char *ylabel) {
    char buf[32];
    font(cr, 11, 0);
    for (double v = a->y0; v <= a->y1 + ystep * 1e-6; v += ystep) {
        double y = round(ax_y(a, v)) + 0.5;
        rgb(cr, 0xe6e6e6);
        cairo_set_line_width(cr, 1);
        cairo_move_to(cr, a->r.x, y);
        cairo_line_to(cr, a->r.x + a->r.w, y);
        cairo_stroke(cr);
        rgb(cr, 0x333333);
        fmt_tick(buf, sizeof buf, v, ystep, percent);
        text(cr, a->r.x - 6, y, 1, 0.5, buf);
    }
    if (ylabel) {
        font(cr, 12, 0);
        rgb(cr, 0x222222);
        text_up(cr, a->r.x - 50, a->r.y + a->r.h / 2, ylabel);
    }
}

static void draw_frame(cairo_t *cr, const axes *a) {
    rgb(cr, 0x444444);
    cairo_set_line_width(cr, 1);
    cairo_rectangle(cr, round(a->r.x) + 0.5, round(a->r.y) + 0.5, round(a->r.w), round(a->r.h));
    cairo_stroke(cr);
}

static void draw_title(cairo_t *cr, double x, double y, const char *title) {
    if (!title) return;
    font(cr, 15, 1);
    rgb(cr, 0x111111);
    text(cr, x, y, 0.5, 0, title);
}

typedef struct { const char *name; uint32_t color; int kind; } legend_item; /* kind 0 line, 1 box, 2 dashed */

static void legend_size(cairo_t *cr, const legend_item *it, int n, double *w, double *h) {
    font(cr, 11, 0);
    double mw = 0;
    for (int i = 0; i < n; i++) {
        double tw = text_w(cr, it[i].name);
        if (tw > mw) mw = tw;
    }
    *w = mw + 40;
    *h = n * 17 + 8;
}

static void draw_legend(cairo_t *cr, double x, double y, const legend_item *it, int n) {
    double w, h;
    legend_size(cr, it, n, &w, &h);
    cairo_set_source_rgba(cr, 1, 1, 1, 0.85);
    cairo_rectangle(cr, x, y, w, h);
    cairo_fill_preserve(cr);
    rgb(cr, 0xbbbbbb);
    cairo_set_line_width(cr, 1);
    cairo_stroke(cr);
    font(cr, 11, 0);
    for (int i = 0; i < n; i++) {
        double yy = y + 4 + i * 17 + 8.5;
        rgb(cr, it[i].color);
        if (it[i].kind == 1) {
            cairo_rectangle(cr, x + 8, yy - 5, 18, 10);
            cairo_fill(cr);
        } else {
            double dash[] = {5, 3};
            cairo_set_line_width(cr, 2);
            if (it[i].kind == 2) cairo_set_dash(cr, dash, 2, 0);
            cairo_move_to(cr, x + 6, yy);
            cairo_line_to(cr, x + 28, yy);
            cairo_stroke(cr);
            cairo_set_dash(cr, NULL, 0, 0);
        }
        rgb(cr, 0x222222);
        text(cr, x + 34, yy, 0, 0.5, it[i].name);
    }
}

/* Legend placed in the corner of the plot area that covers the fewest
 * data points (pts: pixel coordinates, 2 per point). */
static void legend_best_corner(cairo_t *cr, const axes *a, const legend_item *it, int n,
                               const double *pts, int npts) {
    double w, h;
    legend_size(cr, it, n, &w, &h);
    double cx[4] = {a->r.x + a->r.w - w - 6, a->r.x + 6, a->r.x + a->r.w - w - 6, a->r.x + 6};
    double cy[4] = {a->r.y + 6, a->r.y + 6, a->r.y + a->r.h - h - 6, a->r.y + a->r.h - h - 6};
    int best = 0, bestc = -1;
    for (int c = 0; c < 4; c++) {
        int cnt = 0;
        for (int i = 0; i < npts; i++) {
            double px = pts[2 * i], py = pts[2 * i + 1];
            if (px >= cx[c] - 4 && px <= cx[c] + w + 4 && py >= cy[c] - 4 && py <= cy[c] + h + 4) cnt++;
        }
        if (bestc < 0 || cnt < bestc) { bestc = cnt; best = c; }
    }
    draw_legend(cr, cx[best], cy[best], it, n);
}

/* ------------------------------------------------------------------------ */
/* Line charts: training curves                                             */
/* ------------------------------------------------------------------------ */

/* One panel with two series ya, yb over epochs x = 1..n (pixel rect r). */
static void line_panel(cairo_t *cr, rect r, const char *title, const char *ylabel, int n,
                       const double *ya, const double *yb, const char *na, const char *nb,
                       int percent, int best_epoch) {
    axes a;
    a.r = (rect){r.x + 70, r.y + 34, r.w - 70 - 16, r.h - 34 - 48};
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < n; i++) {
        if (isfinite(ya[i])) { lo = fmin(lo, ya[i]); hi = fmax(hi, ya[i]); }
        if (isfinite(yb[i])) { lo = fmin(lo, yb[i]); hi = fmax(hi, yb[i]); }
    }
    if (!isfinite(lo)) { lo = 0; hi = 1; }
    if (percent) { lo = fmax(0, lo); hi = fmin(1, hi); if (!(hi > lo)) { lo = fmax(0, lo - 0.05); hi = fmin(1, hi + 0.05); } }
    double ystep = nice_range(&lo, &hi, 6);
    a.y0 = lo; a.y1 = hi;
    /* epochs: a little padding so that markers at the ends show whole */
    double pad = n > 1 ? (n - 1) * 0.03 : 0.5;
    a.x0 = 1 - pad; a.x1 = n + pad;

    draw_title(cr, r.x + r.w / 2, r.y + 8, title);
    draw_y_axis(cr, &a, ystep, percent, ylabel);

    /* x ticks: whole epochs */
    double f, s;
    plot_nice_ticks(1, n > 1 ? n : 2, 8, &f, &s);
    if (s < 1) s = 1;
    f = ceil(1 / s) * s;
    if (f > 1 && s > 1) f = s;
    font(cr, 11, 0);
    char buf[32];
    for (double e = (s > 1 ? f : 1); e <= n + 1e-9; e += s) {
        double x = round(ax_x(&a, e)) + 0.5;
        rgb(cr, 0x444444);
        cairo_move_to(cr, x, a.r.y + a.r.h);
        cairo_line_to(cr, x, a.r.y + a.r.h + 5);
        cairo_stroke(cr);
        snprintf(buf, sizeof buf, "%d", (int)lround(e));
        rgb(cr, 0x333333);
        text(cr, x, a.r.y + a.r.h + 8, 0.5, 0, buf);
    }
    font(cr, 12, 0);
    rgb(cr, 0x222222);
    text(cr, a.r.x + a.r.w / 2, a.r.y + a.r.h + 28, 0.5, 0, "epoch");

    /* best epoch */
    if (best_epoch >= 1 && best_epoch <= n) {
        double dash[] = {4, 4};
        cairo_set_dash(cr, dash, 2, 0);
        rgb(cr, PLOT_GRAY);
        cairo_set_line_width(cr, 1.2);
        double x = ax_x(&a, best_epoch);
        cairo_move_to(cr, x, a.r.y);
        cairo_line_to(cr, x, a.r.y + a.r.h);
        cairo_stroke(cr);
        cairo_set_dash(cr, NULL, 0, 0);
    }

    /* series */
    double *pts = malloc(sizeof(double) * 4 * (size_t)n);
    int npts = 0;
    const double *ys[2] = {ya, yb};
    const uint32_t cols[2] = {PLOT_BLUE, PLOT_ORANGE};
    cairo_save(cr);
    cairo_rectangle(cr, a.r.x, a.r.y, a.r.w, a.r.h);
    cairo_clip(cr);
    for (int k = 0; k < 2; k++) {
        rgb(cr, cols[k]);
        cairo_set_line_width(cr, 2);
        int pen = 0;
        for (int i = 0; i < n; i++) {
            if (!isfinite(ys[k][i])) { pen = 0; continue; }
            double x = ax_x(&a, i + 1), y = ax_y(&a, ys[k][i]);
            if (pen) cairo_line_to(cr, x, y);
            else cairo_move_to(cr, x, y);
            pen = 1;
            if (pts) { pts[2 * npts] = x; pts[2 * npts + 1] = y; npts++; }
        }
        cairo_stroke(cr);
        if (n <= 60)
            for (int i = 0; i < n; i++) {
                if (!isfinite(ys[k][i])) continue;
                cairo_arc(cr, ax_x(&a, i + 1), ax_y(&a, ys[k][i]), 3, 0, 2 * M_PI);
                cairo_fill(cr);
            }
    }
    cairo_restore(cr);
    draw_frame(cr, &a);
    legend_item it[3] = {{na, PLOT_BLUE, 0}, {nb, PLOT_ORANGE, 0}, {NULL, PLOT_GRAY, 2}};
    char best[64];
    int nit = 2;
    if (best_epoch >= 1 && best_epoch <= n) {
        snprintf(best, sizeof best, "best validation (epoch %d)", best_epoch);
        it[2].name = best;
        nit = 3;
    }
    legend_best_corner(cr, &a, it, nit, pts, pts ? npts : 0);
    free(pts);
}

ferc_status plot_curves(const ferc_epoch_stats *h, int n, int width, int height,
                        const char *path, ferc_error *err) {
    if (!h || n < 1) return ferc_fail(err, FERC_ERR_ARG, "%s: no epochs to plot", path);
    ferc_status st = check_size(width, height, path, err);
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
    cairo_surface_t *s = canvas(width, height, &cr);
    double half = width / 2.0;
    line_panel(cr, (rect){0, 0, half, height}, "Loss", "cross-entropy", n, v, v + n, "train",
               "validation", 0, best);
    line_panel(cr, (rect){half, 0, width - half, height}, "Accuracy", "accuracy", n, v + 2 * n,
               v + 3 * n, "train", "validation", 1, best);
    free(v);
    return finish(s, cr, path, err);
}

/* ------------------------------------------------------------------------ */
/* Confusion heat map                                                       */
/* ------------------------------------------------------------------------ */

ferc_status plot_confusion(const int *counts, int k, const char *const *names, int width,
                           int height, const char *title, const char *path, ferc_error *err) {
    if (!counts || k < 1 || k > 50) return ferc_fail(err, FERC_ERR_ARG, "%s: bad matrix size %d", path, k);
    ferc_status st = check_size(width, height, path, err);
    if (st) return st;
    cairo_t *cr;
    cairo_surface_t *s = canvas(width, height, &cr);

    /* row labels "name (support)" */
    char (*rl)[64] = calloc((size_t)k, sizeof *rl);
    if (!rl) { cairo_destroy(cr); cairo_surface_destroy(s); return ferc_fail(err, FERC_ERR_NOMEM, "%s: out of memory", path); }
    long total = 0;
    font(cr, 12, 0);
    double rlw = 0;
    for (int r = 0; r < k; r++) {
        long rs = 0;
        for (int c = 0; c < k; c++) rs += counts[r * k + c];
        total += rs;
        snprintf(rl[r], sizeof rl[r], "%s (%ld)", names ? names[r] : "?", rs);
        double w = text_w(cr, rl[r]);
        if (w > rlw) rlw = w;
    }
    double left = rlw + 44, top = title ? 44 : 14, right = 96, bottom = 62;
    double gw = width - left - right, gh = height - top - bottom;
    double cw = gw / k, ch = gh / k;

    if (title) draw_title(cr, width / 2.0, 12, title);
    for (int r = 0; r < k; r++) {
        long rs = 0;
        for (int c = 0; c < k; c++) rs += counts[r * k + c];
        for (int c = 0; c < k; c++) {
            int v = counts[r * k + c];
            double share = rs > 0 ? (double)v / rs : 0;
            double x = left + c * cw, y = top + r * ch;
            rgb(cr, blues(share));
            cairo_rectangle(cr, x, y, cw, ch);
            cairo_fill(cr);
            uint32_t tc = share > 0.5 ? 0xffffff : v == 0 ? 0x9a9a9a : 0x111111;
            char a[32], b[32];
            snprintf(a, sizeof a, "%d", v);
            snprintf(b, sizeof b, "%.1f%%", 100 * share);
            double fs = fmin(13, fmin(cw / 4.5, ch / 3.2));
            if (fs < 6) fs = 6;
            rgb(cr, tc);
            font(cr, fs, r == c);
            text(cr, x + cw / 2, y + ch / 2 - 1, 0.5, 1, a);
            font(cr, fs * 0.85, 0);
            text(cr, x + cw / 2, y + ch / 2 + 1, 0.5, 0, b);
        }
    }
    /* grid lines and frame */
    rgb(cr, 0xffffff);
    cairo_set_line_width(cr, 1);
    for (int i = 1; i < k; i++) {
        cairo_move_to(cr, left + i * cw, top);
        cairo_line_to(cr, left + i * cw, top + gh);
        cairo_move_to(cr, left, top + i * ch);
        cairo_line_to(cr, left + gw, top + i * ch);
    }
    cairo_stroke(cr);
    rgb(cr, 0x444444);
    cairo_rectangle(cr, left + 0.5, top + 0.5, gw, gh);
    cairo_stroke(cr);

    /* labels */
    font(cr, 12, 0);
    rgb(cr, 0x222222);
    for (int r = 0; r < k; r++) text(cr, left - 6, top + (r + 0.5) * ch, 1, 0.5, rl[r]);
    for (int c = 0; c < k; c++) {
        const char *nm = names ? names[c] : "?";
        if (text_w(cr, nm) > cw - 4) {
            cairo_save(cr);
            cairo_translate(cr, left + (c + 0.5) * cw, top + gh + 6);
            cairo_rotate(cr, -M_PI / 6);
            text(cr, 0, 0, 1, 0, nm);
            cairo_restore(cr);
        } else {
            text(cr, left + (c + 0.5) * cw, top + gh + 6, 0.5, 0, nm);
        }
    }
    font(cr, 13, 1);
    text(cr, left + gw / 2, height - 22, 0.5, 0, "predicted label");
    text_up(cr, 14, top + gh / 2, "true label (row total)");

    /* colour bar: row share 0..100% */
    double bx = left + gw + 22, bw = 18, by = top, bh = gh;
    for (int i = 0; i < (int)bh; i++) {
        rgb(cr, blues(1.0 - (i + 0.5) / bh));
        cairo_rectangle(cr, bx, by + i, bw, 1.0);
        cairo_fill(cr);
    }
    rgb(cr, 0x444444);
    cairo_rectangle(cr, bx + 0.5, by + 0.5, bw, bh);
    cairo_stroke(cr);
    font(cr, 10, 0);
    for (int i = 0; i <= 4; i++) {
        double y = by + bh - i * bh / 4;
        char b[16];
        snprintf(b, sizeof b, "%d%%", i * 25);
        cairo_move_to(cr, bx + bw, y);
        cairo_line_to(cr, bx + bw + 4, y);
        cairo_stroke(cr);
        text(cr, bx + bw + 6, y, 0, 0.5, b);
    }
    font(cr, 11, 0);
    text_up(cr, bx + bw + 46, by + bh / 2, "share of the true class (row)");
    (void)total;
    free(rl);
    return finish(s, cr, path, err);
}

/* ------------------------------------------------------------------------ */
/* Bars                                                                     */
/* ------------------------------------------------------------------------ */

static void bars_panel(cairo_t *cr, rect r, const plot_bars_spec *s) {
    int ng = s->ngroups, ns = s->nseries;
    /* legend as a row under the title */
    double top = 34;
    if (s->series_names || isfinite(s->ref_line)) top += 22;
    /* group labels may have two lines */
    int glines = 1;
    for (int g = 0; g < ng; g++)
        if (s->group_names && strchr(s->group_names[g], '\n')) glines = 2;
    axes a;
    a.r = (rect){r.x + 70, r.y + top, r.w - 70 - 14, r.h - top - 18 - 17.0 * glines - 22};
    double lo = s->ymin, hi = s->ymax;
    if (!(hi > lo)) {
        lo = 0; hi = 0;
        for (int i = 0; i < ng * ns; i++)
            if (isfinite(s->values[i]) && s->values[i] > hi) hi = s->values[i];
        if (isfinite(s->ref_line) && s->ref_line > hi) hi = s->ref_line;
        if (!(hi > 0)) hi = 1;
        hi *= 1.12;  /* room for value labels */
        nice_range(&lo, &hi, 6);
    }
    double f, step;
    plot_nice_ticks(lo, hi, 7, &f, &step);
    a.y0 = lo; a.y1 = hi;
    a.x0 = 0; a.x1 = ng;
    draw_title(cr, r.x + r.w / 2, r.y + 8, s->title);
    /* y axis: ticks from the first nice tick */
    {
        char buf[32];
        font(cr, 11, 0);
        for (double v = f; v <= hi + step * 1e-6; v += step) {
            double y = round(ax_y(&a, v)) + 0.5;
            rgb(cr, 0xe6e6e6);
            cairo_set_line_width(cr, 1);
            cairo_move_to(cr, a.r.x, y);
            cairo_line_to(cr, a.r.x + a.r.w, y);
            cairo_stroke(cr);
            rgb(cr, 0x333333);
            fmt_tick(buf, sizeof buf, v, step, 0);
            text(cr, a.r.x - 6, y, 1, 0.5, buf);
        }
        if (s->ylabel) {
            font(cr, 12, 0);
            rgb(cr, 0x222222);
            text_up(cr, a.r.x - 50, a.r.y + a.r.h / 2, s->ylabel);
        }
    }
    double gw = a.r.w / ng, bw = gw * 0.8 / ns;
    for (int g = 0; g < ng; g++) {
        for (int k = 0; k < ns; k++) {
            double v = s->values[g * ns + k];
            if (!isfinite(v)) continue;
            double x = a.r.x + g * gw + gw * 0.1 + k * bw;
            double y0 = ax_y(&a, fmax(lo, 0)), y1 = ax_y(&a, fmin(fmax(v, lo), hi));
            rgb(cr, series_colors[k % 6]);
            cairo_rectangle(cr, x + 1, fmin(y0, y1), bw - 2, fabs(y0 - y1));
            cairo_fill(cr);
            if (s->value_fmt) {
                char buf[32];
                snprintf(buf, sizeof buf, s->value_fmt, v);
                double fs = 10;
                font(cr, fs, 0);
                while (fs > 6 && text_w(cr, buf) > bw + 6) { fs -= 0.5; font(cr, fs, 0); }
                rgb(cr, 0x222222);
                text_halo(cr, x + bw / 2, fmin(y0, y1) - 2, 0.5, 1, buf);
            }
        }
        if (s->group_names) {
            font(cr, 12, 0);
            rgb(cr, 0x222222);
            double fs = 12;
            while (fs > 7 && lines_w(cr, s->group_names[g]) > gw - 2) { fs -= 0.5; font(cr, fs, 0); }
            text_lines(cr, a.r.x + (g + 0.5) * gw, a.r.y + a.r.h + 6, 0.5, 0, s->group_names[g]);
        }
    }
    if (isfinite(s->ref_line) && s->ref_line >= lo && s->ref_line <= hi) {
        double dash[] = {6, 4};
        cairo_set_dash(cr, dash, 2, 0);
        rgb(cr, 0x333333);
        cairo_set_line_width(cr, 1.5);
        double y = ax_y(&a, s->ref_line);
        cairo_move_to(cr, a.r.x, y);
        cairo_line_to(cr, a.r.x + a.r.w, y);
        cairo_stroke(cr);
        cairo_set_dash(cr, NULL, 0, 0);
    }
    draw_frame(cr, &a);
    /* legend row */
    if (s->series_names || isfinite(s->ref_line)) {
        font(cr, 11, 0);
        double x = a.r.x, y = r.y + 34 + 8;
        for (int k = 0; s->series_names && k < ns; k++) {
            rgb(cr, series_colors[k % 6]);
            cairo_rectangle(cr, x, y - 5, 16, 10);
            cairo_fill(cr);
            rgb(cr, 0x222222);
            text(cr, x + 20, y, 0, 0.5, s->series_names[k]);
            x += 20 + text_w(cr, s->series_names[k]) + 18;
        }
        if (isfinite(s->ref_line) && s->ref_label) {
            double dash[] = {6, 4};
            cairo_set_dash(cr, dash, 2, 0);
            rgb(cr, 0x333333);
            cairo_set_line_width(cr, 1.5);
            cairo_move_to(cr, x, y);
            cairo_line_to(cr, x + 22, y);
            cairo_stroke(cr);
            cairo_set_dash(cr, NULL, 0, 0);
            rgb(cr, 0x222222);
            text(cr, x + 26, y, 0, 0.5, s->ref_label);
        }
    }
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
    ferc_status st = check_size(width, height, path, err);
    if (st) return st;
    cairo_t *cr;
    cairo_surface_t *surf = canvas(width, height, &cr);
    double pw = (double)width / n;
    for (int i = 0; i < n; i++) bars_panel(cr, (rect){i * pw, 0, pw, height}, &s[i]);
    return finish(surf, cr, path, err);
}

ferc_status plot_bars(const plot_bars_spec *s, int width, int height, const char *path,
                      ferc_error *err) {
    return plot_bars_panels(s, 1, width, height, path, err);
}

/* ------------------------------------------------------------------------ */
/* Reliability diagram                                                      */
/* ------------------------------------------------------------------------ */

ferc_status plot_reliability(const double *bin_conf, const double *bin_acc, const int *bin_count,
                             int nb, double ece, int width, int height, const char *path,
                             ferc_error *err) {
    if (nb < 1 || !bin_conf || !bin_acc || !bin_count)
        return ferc_fail(err, FERC_ERR_ARG, "%s: reliability diagram needs bins", path);
    ferc_status st = check_size(width, height, path, err);
    if (st) return st;
    cairo_t *cr;
    cairo_surface_t *s = canvas(width, height, &cr);
    double lw = width * 0.55;
    char title[96];
    snprintf(title, sizeof title, "Reliability (ECE = %.1f%%)", 100 * ece);

    /* left: accuracy per confidence bin */
    axes a;
    a.r = (rect){70, 56, lw - 70 - 14, height - 56 - 52};
    a.x0 = 0; a.x1 = 1; a.y0 = 0; a.y1 = 1;
    draw_title(cr, lw / 2, 8, title);
    draw_y_axis(cr, &a, 0.2, 1, "accuracy in the bin");
    long n = 0;
    double mconf = 0, macc = 0;
    int maxc = 0;
    for (int b = 0; b < nb; b++) {
        n += bin_count[b];
        if (bin_count[b] > maxc) maxc = bin_count[b];
        mconf += bin_conf[b] * bin_count[b];
        macc += bin_acc[b] * bin_count[b];
    }
    if (n > 0) { mconf /= n; macc /= n; }
    for (int b = 0; b < nb; b++) {
        if (bin_count[b] <= 0) continue;
        double x0 = ax_x(&a, (double)b / nb), x1 = ax_x(&a, (double)(b + 1) / nb);
        double ya = ax_y(&a, bin_acc[b]), yc = ax_y(&a, bin_conf[b]), yz = ax_y(&a, 0);
        rgba(cr, PLOT_BLUE, 0.85);
        cairo_rectangle(cr, x0 + 1, ya, x1 - x0 - 2, yz - ya);
        cairo_fill(cr);
        rgba(cr, PLOT_RED, 0.30);
        cairo_rectangle(cr, x0 + 1, fmin(ya, yc), x1 - x0 - 2, fabs(ya - yc));
        cairo_fill_preserve(cr);
        rgba(cr, PLOT_RED, 0.9);
        cairo_set_line_width(cr, 1);
        cairo_stroke(cr);
        char buf[24];
        snprintf(buf, sizeof buf, "%d", bin_count[b]);
        double fs = 10;
        font(cr, fs, 0);
        while (fs > 6 && text_w(cr, buf) > x1 - x0) { fs -= 0.5; font(cr, fs, 0); }
        rgb(cr, 0x222222);
        text(cr, (x0 + x1) / 2, fmin(ya, yc) - 2, 0.5, 1, buf);
    }
    double dash[] = {5, 4};
    cairo_set_dash(cr, dash, 2, 0);
    rgb(cr, 0x333333);
    cairo_set_line_width(cr, 1.5);
    cairo_move_to(cr, ax_x(&a, 0), ax_y(&a, 0));
    cairo_line_to(cr, ax_x(&a, 1), ax_y(&a, 1));
    cairo_stroke(cr);
    cairo_set_dash(cr, NULL, 0, 0);
    font(cr, 11, 0);
    for (int i = 0; i <= 5; i++) {
        char buf[16];
        snprintf(buf, sizeof buf, "%d%%", i * 20);
        rgb(cr, 0x333333);
        text(cr, ax_x(&a, i * 0.2), a.r.y + a.r.h + 6, 0.5, 0, buf);
    }
    font(cr, 12, 0);
    text(cr, a.r.x + a.r.w / 2, a.r.y + a.r.h + 26, 0.5, 0, "confidence (top-1 probability)");
    draw_frame(cr, &a);
    legend_item it[3] = {{"accuracy (bar, count above)", PLOT_BLUE, 1},
                         {"gap to mean confidence", 0xe8a0a0, 1},
                         {"perfect calibration", 0x333333, 2}};
    draw_legend(cr, a.r.x + 6, a.r.y + 6, it, 3);

    /* right: how many predictions fall in each bin */
    axes h;
    h.r = (rect){lw + 70, 56, width - lw - 70 - 16, height - 56 - 52};
    h.x0 = 0; h.x1 = 1; h.y0 = 0; h.y1 = maxc > 0 ? maxc : 1;
    double hs = nice_range(&h.y0, &h.y1, 6);
    draw_title(cr, lw + (width - lw) / 2, 8, "How confident the model is");
    draw_y_axis(cr, &h, hs, 0, "predictions");
    for (int b = 0; b < nb; b++) {
        if (bin_count[b] <= 0) continue;
        double x0 = ax_x(&h, (double)b / nb), x1 = ax_x(&h, (double)(b + 1) / nb);
        double y = ax_y(&h, bin_count[b]);
        rgba(cr, PLOT_GRAY, 0.8);
        cairo_rectangle(cr, x0 + 1, y, x1 - x0 - 2, ax_y(&h, 0) - y);
        cairo_fill(cr);
    }
    double vx[2] = {mconf, macc};
    uint32_t vc[2] = {PLOT_ORANGE, PLOT_BLUE};
    for (int i = 0; i < 2; i++) {
        cairo_set_dash(cr, dash, 2, 0);
        rgb(cr, vc[i]);
        cairo_set_line_width(cr, 2);
        cairo_move_to(cr, ax_x(&h, vx[i]), h.r.y);
        cairo_line_to(cr, ax_x(&h, vx[i]), h.r.y + h.r.h);
        cairo_stroke(cr);
        cairo_set_dash(cr, NULL, 0, 0);
    }
    font(cr, 11, 0);
    for (int i = 0; i <= 5; i++) {
        char buf[16];
        snprintf(buf, sizeof buf, "%d%%", i * 20);
        rgb(cr, 0x333333);
        text(cr, ax_x(&h, i * 0.2), h.r.y + h.r.h + 6, 0.5, 0, buf);
    }
    font(cr, 12, 0);
    text(cr, h.r.x + h.r.w / 2, h.r.y + h.r.h + 26, 0.5, 0, "confidence");
    draw_frame(cr, &h);
    char l1[64], l2[64];
    snprintf(l1, sizeof l1, "mean confidence %.1f%%", 100 * mconf);
    snprintf(l2, sizeof l2, "accuracy %.1f%%", 100 * macc);
    legend_item it2[2] = {{l1, PLOT_ORANGE, 2}, {l2, PLOT_BLUE, 2}};
    draw_legend(cr, h.r.x + 6, h.r.y + 6, it2, 2);
    return finish(s, cr, path, err);
}

/* ------------------------------------------------------------------------ */
/* Image grids                                                              */
/* ------------------------------------------------------------------------ */

#define GRID_MARGIN 10
#define GRID_GAP 8
#define GRID_TITLE_H 34
#define GRID_LINE_H 15

void plot_tiles_size(const plot_grid_spec *g, int *width, int *height) {
    int rt = g->row_titles ? g->row_title_px : 0;
    int cap = g->caption_lines > 0 ? g->caption_lines * GRID_LINE_H + 4 : 0;
    *width = 2 * GRID_MARGIN + rt + g->cols * g->tile_px + (g->cols - 1) * GRID_GAP;
    *height = GRID_MARGIN + (g->title ? GRID_TITLE_H : 0) + g->rows * (g->tile_px + cap) +
              (g->rows - 1) * GRID_GAP + GRID_MARGIN;
}

static inline uint32_t gray_px(float v) {
    if (!(v >= 0)) v = 0;
    if (v > 1) v = 1;
    uint32_t q = (uint32_t)lrintf(v * 255.0f);
    return (q << 16) | (q << 8) | q;
}

/* RGB24 surface of one tile's data in its colour mode. */
static cairo_surface_t *tile_surface(const plot_tile *t) {
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, t->w, t->h);
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) return s;
    cairo_surface_flush(s);
    unsigned char *base = cairo_image_surface_get_data(s);
    int stride = cairo_image_surface_get_stride(s);
    size_t n = (size_t)t->w * t->h;
    float lo = INFINITY, hi = -INFINITY, amax = 0;
    for (size_t i = 0; i < n; i++) {
        float v = t->data[i];
        if (!isfinite(v)) continue;
        lo = fminf(lo, v); hi = fmaxf(hi, v);
        amax = fmaxf(amax, fabsf(v));
    }
    float sc = t->scale > 0 ? t->scale : amax;
    for (int y = 0; y < t->h; y++) {
        uint32_t *row = (uint32_t *)(void *)(base + (size_t)y * stride);
        for (int x = 0; x < t->w; x++) {
            float v = t->data[(size_t)y * t->w + x];
            uint32_t c;
            switch (t->mode) {
            case PLOT_TILE_AUTO:
                c = plot_viridis(hi > lo ? (v - lo) / (hi - lo) : 0.0);
                break;
            case PLOT_TILE_DIVERGING:
                c = plot_diverging(sc > 0 ? 0.5 + 0.5 * v / sc : 0.5);
                break;
            default:
                c = gray_px(v);
            }
            row[x] = c;
        }
    }
    cairo_surface_mark_dirty(s);
    return s;
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* ARGB32 (premultiplied) heat layer of an overlay tile: alpha grows with the heat. */
static cairo_surface_t *overlay_surface(const plot_tile *t) {
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, t->w, t->h);
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) return s;
    cairo_surface_flush(s);
    unsigned char *base = cairo_image_surface_get_data(s);
    int stride = cairo_image_surface_get_stride(s);
    size_t n = (size_t)t->w * t->h;
    /* scale by the 99th percentile so that a few extreme pixels do not hide the rest */
    float mx = 0;
    float *sorted = malloc(sizeof(float) * n);
    if (sorted) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (isfinite(t->overlay[i])) sorted[m++] = t->overlay[i];
        if (m > 0) {
            qsort(sorted, m, sizeof(float), cmp_float);
            mx = sorted[(size_t)(0.99 * (double)(m - 1))];
            if (!(mx > 0)) mx = sorted[m - 1];
        }
        free(sorted);
    } else {
        for (size_t i = 0; i < n; i++)
            if (isfinite(t->overlay[i]) && t->overlay[i] > mx) mx = t->overlay[i];
    }
    for (int y = 0; y < t->h; y++) {
        uint32_t *row = (uint32_t *)(void *)(base + (size_t)y * stride);
        for (int x = 0; x < t->w; x++) {
            float v = t->overlay[(size_t)y * t->w + x];
            double h = (mx > 0 && isfinite(v)) ? fmin(1.0, fmax(0.0, v / mx)) : 0.0;
            uint32_t c = plot_hot(h);
            double al = 0.85 * h;
            uint32_t A = (uint32_t)lround(al * 255);
            uint32_t R = (uint32_t)lround(((c >> 16) & 255) * al);
            uint32_t G = (uint32_t)lround(((c >> 8) & 255) * al);
            uint32_t B = (uint32_t)lround((c & 255) * al);
            row[x] = (A << 24) | (R << 16) | (G << 8) | B;
        }
    }
    cairo_surface_mark_dirty(s);
    return s;
}

/* Paint surface src scaled to fit the square (x, y, side). */
static void paint_scaled(cairo_t *cr, cairo_surface_t *src, int w, int h, double x, double y,
                         double side, int nearest) {
    double sc = side / (w > h ? w : h);
    double ox = x + (side - w * sc) / 2, oy = y + (side - h * sc) / 2;
    cairo_save(cr);
    cairo_rectangle(cr, ox, oy, w * sc, h * sc);
    cairo_clip(cr);
    cairo_translate(cr, ox, oy);
    cairo_scale(cr, sc, sc);
    cairo_set_source_surface(cr, src, 0, 0);
    cairo_pattern_t *p = cairo_get_source(cr);
    cairo_pattern_set_filter(p, nearest ? CAIRO_FILTER_NEAREST : CAIRO_FILTER_BILINEAR);
    cairo_pattern_set_extend(p, CAIRO_EXTEND_PAD);
    cairo_paint(cr);
    cairo_restore(cr);
}

ferc_status plot_tiles(const plot_grid_spec *g, const plot_tile *t, const char *path,
                       ferc_error *err) {
    if (!g || g->cols < 1 || g->rows < 1 || g->tile_px < 8 || g->caption_lines < 0 ||
        g->caption_lines > 2 || (g->row_titles && g->row_title_px < 0))
        return ferc_fail(err, FERC_ERR_ARG, "%s: bad grid layout", path);
    int W, H;
    plot_tiles_size(g, &W, &H);
    ferc_status st = check_size(W, H, path, err);
    if (st) return st;
    for (int i = 0; i < g->rows * g->cols; i++)
        if (t[i].data && (t[i].w < 1 || t[i].h < 1 || (t[i].mode == PLOT_TILE_OVERLAY && !t[i].overlay)))
            return ferc_fail(err, FERC_ERR_ARG, "%s: tile %d has no size or no overlay", path, i);
    cairo_t *cr;
    cairo_surface_t *s = canvas(W, H, &cr);
    int top = GRID_MARGIN;
    if (g->title) {
        draw_title(cr, W / 2.0, GRID_MARGIN + 4, g->title);
        top += GRID_TITLE_H;
    }
    int rt = g->row_titles ? g->row_title_px : 0;
    int cap = g->caption_lines > 0 ? g->caption_lines * GRID_LINE_H + 4 : 0;
    for (int r = 0; r < g->rows; r++) {
        double y = top + r * (g->tile_px + cap + GRID_GAP);
        if (g->row_titles && g->row_titles[r]) {
            font(cr, 12, 0);
            double fs = 12;
            while (fs > 7 && lines_w(cr, g->row_titles[r]) > rt - 8) { fs -= 0.5; font(cr, fs, 0); }
            rgb(cr, 0x222222);
            text_lines(cr, GRID_MARGIN + rt - 8, y + g->tile_px / 2.0, 1, 0.5, g->row_titles[r]);
        }
        for (int c = 0; c < g->cols; c++) {
            const plot_tile *tl = &t[r * g->cols + c];
            if (!tl->data) continue;
            double x = GRID_MARGIN + rt + c * (g->tile_px + GRID_GAP);
            cairo_surface_t *ts = tile_surface(tl);
            paint_scaled(cr, ts, tl->w, tl->h, x, y, g->tile_px, tl->nearest);
            cairo_surface_destroy(ts);
            if (tl->mode == PLOT_TILE_OVERLAY) {
                cairo_surface_t *os = overlay_surface(tl);
                paint_scaled(cr, os, tl->w, tl->h, x, y, g->tile_px, tl->nearest);
                cairo_surface_destroy(os);
            }
            rgb(cr, 0xcccccc);
            cairo_set_line_width(cr, 1);
            cairo_rectangle(cr, x - 0.5, y - 0.5, g->tile_px + 1, g->tile_px + 1);
            cairo_stroke(cr);
            if (tl->caption && g->caption_lines > 0) {
                double fs = 11;
                font(cr, fs, 0);
                double room = g->tile_px + GRID_GAP - 2;
                while (fs > 6.5 && lines_w(cr, tl->caption) > room) { fs -= 0.5; font(cr, fs, 0); }
                rgb(cr, tl->caption_rgb);
                text_lines(cr, x + g->tile_px / 2.0, y + g->tile_px + 2, 0.5, 0, tl->caption);
            }
        }
    }
    return finish(s, cr, path, err);
}

/* ------------------------------------------------------------------------ */
/* Stacking figures                                                         */
/* ------------------------------------------------------------------------ */

ferc_status plot_stack_pngs(const char *const *paths, int n, double scale, const char *out,
                            int *w, int *h, ferc_error *err) {
    if (n < 1 || n > 16 || !(scale > 0.05 && scale <= 4))
        return ferc_fail(err, FERC_ERR_ARG, "%s: stack of %d images at scale %g", out, n, scale);
    cairo_surface_t *in[16];
    int W = 0, H = 0;
    const int gap = 12;
    for (int i = 0; i < n; i++) {
        in[i] = cairo_image_surface_create_from_png(paths[i]);
        cairo_status_t cs = cairo_surface_status(in[i]);
        if (cs != CAIRO_STATUS_SUCCESS) {
            for (int k = 0; k <= i; k++) cairo_surface_destroy(in[k]);
            return ferc_fail(err, cs == CAIRO_STATUS_NO_MEMORY ? FERC_ERR_NOMEM : FERC_ERR_DECODE,
                             "%s: cannot read PNG: %s", paths[i], cairo_status_to_string(cs));
        }
        int iw = (int)lround(cairo_image_surface_get_width(in[i]) * scale);
        int ih = (int)lround(cairo_image_surface_get_height(in[i]) * scale);
        if (iw > W) W = iw;
        H += ih + (i ? gap : 0);
    }
    ferc_status st = check_size(W, H, out, err);
    if (st == FERC_OK) {
        cairo_t *cr;
        cairo_surface_t *s = canvas(W, H, &cr);
        double y = 0;
        for (int i = 0; i < n; i++) {
            double iw = cairo_image_surface_get_width(in[i]) * scale;
            double ih = cairo_image_surface_get_height(in[i]) * scale;
            cairo_save(cr);
            cairo_translate(cr, round((W - iw) / 2), round(y));
            cairo_scale(cr, scale, scale);
            cairo_set_source_surface(cr, in[i], 0, 0);
            cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_GOOD);
            cairo_paint(cr);
            cairo_restore(cr);
            y += round(ih) + gap;
        }
        st = finish(s, cr, out, err);
    }
    for (int i = 0; i < n; i++) cairo_surface_destroy(in[i]);
    if (st == FERC_OK) { *w = W; *h = H; }
    return st;
}

/* ------------------------------------------------------------------------ */
/* Accuracy by quantile                                                     */
/* ------------------------------------------------------------------------ */

typedef struct { double v; int i; } vi_pair;

static int cmp_vi(const void *a, const void *b) {
    const vi_pair *x = a, *y = b;
    if (x->v < y->v) return -1;
    if (x->v > y->v) return 1;
    return (x->i > y->i) - (x->i < y->i);
}

ferc_status plot_quantile_accuracy(const double *value, const int *correct, int n, int q,
                                   double *acc, double *lo, double *hi, int *count,
                                   ferc_error *err) {
    if (q < 1 || n < q)
        return ferc_fail(err, FERC_ERR_ARG, "quantile accuracy: %d images cannot make %d groups", n, q);
    vi_pair *p = malloc(sizeof *p * (size_t)n);
    if (!p) return ferc_fail(err, FERC_ERR_NOMEM, "quantile accuracy: out of memory");
    for (int i = 0; i < n; i++) { p[i].v = value[i]; p[i].i = i; }
    qsort(p, (size_t)n, sizeof *p, cmp_vi);
    for (int g = 0; g < q; g++) {
        int a = (int)((long)g * n / q), b = (int)((long)(g + 1) * n / q);
        long ok = 0;
        for (int k = a; k < b; k++) ok += correct[p[k].i] != 0;
        count[g] = b - a;
        acc[g] = (double)ok / (b - a);
        lo[g] = p[a].v;
        hi[g] = p[b - 1].v;
    }
    free(p);
    return FERC_OK;
}
