/* plot.c — the drawing kit of the report's figures, shared by the charts
 * (plot_charts.c) and the image grids (plot_grids.c): colour scales, text
 * with cairo's toy API over fontconfig, axes and legends, and the white
 * RGB24 canvas that every figure is drawn on and written atomically as PNG
 * (temporary file + rename) with cairo_surface_write_to_png. Also the
 * quantile-accuracy helper the report shares with the tests. */
#include "report/plot.h"


#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FONT "DejaVu Sans"

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
    static const stop s[] = {
        {.t = 0.0, .r = 68, .g = 1, .b = 84},
        {.t = 0.125, .r = 71, .g = 44, .b = 122},
        {.t = 0.25, .r = 59, .g = 81, .b = 139},
        {.t = 0.375, .r = 44, .g = 113, .b = 142},
        {.t = 0.5, .r = 33, .g = 144, .b = 141},
        {.t = 0.625, .r = 39, .g = 173, .b = 129},
        {.t = 0.75, .r = 92, .g = 200, .b = 99},
        {.t = 0.875, .r = 170, .g = 220, .b = 50},
        {.t = 1.0, .r = 253, .g = 231, .b = 37},
    };
    return ramp(s, (int)(sizeof s / sizeof s[0]), t);
}

uint32_t plot_hot(double t) {
    static const stop s[] = {
        {.t = 0.0, .r = 90, .g = 0, .b = 120},
        {.t = 0.35, .r = 200, .g = 30, .b = 30},
        {.t = 0.7, .r = 255, .g = 150, .b = 0},
        {.t = 1.0, .r = 255, .g = 255, .b = 90},
    };
    return ramp(s, (int)(sizeof s / sizeof s[0]), t);
}

uint32_t plot_diverging(double t) {
    static const stop s[] = {
        {.t = 0.0, .r = 33, .g = 102, .b = 172},
        {.t = 0.25, .r = 146, .g = 197, .b = 222},
        {.t = 0.5, .r = 247, .g = 247, .b = 247},
        {.t = 0.75, .r = 244, .g = 165, .b = 130},
        {.t = 1.0, .r = 178, .g = 24, .b = 43},
    };
    return ramp(s, (int)(sizeof s / sizeof s[0]), t);
}

uint32_t plot_blues(double t) {
    static const stop s[] = {
        {.t = 0.0, .r = 247, .g = 251, .b = 255},
        {.t = 0.25, .r = 198, .g = 219, .b = 239},
        {.t = 0.5, .r = 107, .g = 174, .b = 214},
        {.t = 0.75, .r = 33, .g = 113, .b = 181},
        {.t = 1.0, .r = 8, .g = 48, .b = 107},
    };
    return ramp(s, (int)(sizeof s / sizeof s[0]), t);
}

void plot_rgb(cairo_t *cr, uint32_t c) {
    cairo_set_source_rgb(cr, ((c >> 16) & 255) / 255.0, ((c >> 8) & 255) / 255.0, (c & 255) / 255.0);
}

void plot_rgba(cairo_t *cr, uint32_t c, double a) {
    cairo_set_source_rgba(cr, ((c >> 16) & 255) / 255.0, ((c >> 8) & 255) / 255.0,
                          (c & 255) / 255.0, a);
}

/* ------------------------------------------------------------------------ */
/* Text                                                                     */
/* ------------------------------------------------------------------------ */

void plot_font(cairo_t *cr, double size, int bold) {
    cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
}

double plot_text_w(cairo_t *cr, const char *s) {
    cairo_text_extents_t e;
    cairo_text_extents(cr, s, &e);
    return e.x_advance;
}

/* One line of text anchored at (x, y). */
void plot_text(cairo_t *cr, double x, double y, double ax, double ay, const char *s) {
    cairo_font_extents_t fe;
    cairo_font_extents(cr, &fe);
    double w = plot_text_w(cr, s);
    double h = fe.ascent + fe.descent;
    cairo_move_to(cr, x - ax * w, y - ay * h + fe.ascent);
    cairo_show_text(cr, s);
}

/* Text with a white outline so that it stays readable over lines and bars. */
void plot_text_halo(cairo_t *cr, double x, double y, double ax, double ay, const char *str) {
    cairo_font_extents_t fe;
    cairo_font_extents(cr, &fe);
    double w = plot_text_w(cr, str), h = fe.ascent + fe.descent;
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

/* Several lines separated by '\n', the block anchored like plot_text(). */
void plot_text_lines(cairo_t *cr, double x, double y, double ax, double ay, const char *s) {
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
        plot_text(cr, x, top + i * lh, ax, 0, line);
        p = e ? e + 1 : p + len;
    }
}

/* Widest line of a '\n'-separated string. */
double plot_lines_w(cairo_t *cr, const char *s) {
    double best = 0;
    char line[256];
    const char *p = s;
    while (1) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len >= sizeof line) len = sizeof line - 1;
        memcpy(line, p, len);
        line[len] = 0;
        double w = plot_text_w(cr, line);
        if (w > best) best = w;
        if (!e) break;
        p = e + 1;
    }
    return best;
}

/* Text rotated by -90 degrees (reading upwards), centred at (x, y). */
void plot_text_up(cairo_t *cr, double x, double y, const char *s) {
    cairo_save(cr);
    cairo_translate(cr, x, y);
    cairo_rotate(cr, -M_PI / 2);
    plot_text(cr, 0, 0, 0.5, 0.5, s);
    cairo_restore(cr);
}

/* ------------------------------------------------------------------------ */
/* Canvas and output                                                        */
/* ------------------------------------------------------------------------ */

cairo_surface_t *plot_canvas(int w, int h, cairo_t **cr) {
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

ferc_status plot_finish(cairo_surface_t *s, cairo_t *cr, const char *path, ferc_error *err) {
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

ferc_status plot_check_size(int w, int h, const char *path, ferc_error *err) {
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

double plot_ax_x(const plot_axes *a, double x) { return a->r.x + (x - a->x0) / (a->x1 - a->x0) * a->r.w; }
double plot_ax_y(const plot_axes *a, double y) { return a->r.y + a->r.h - (y - a->y0) / (a->y1 - a->y0) * a->r.h; }

double plot_nice_range(double *lo, double *hi, int max_ticks) {
    double f, s;
    plot_nice_ticks(*lo, *hi, max_ticks, &f, &s);
    double a = floor(*lo / s + 1e-9) * s, b = ceil(*hi / s - 1e-9) * s;
    if (!(b > a)) b = a + s;
    *lo = a; *hi = b;
    return s;
}

void plot_fmt_tick(char *buf, size_t cap, double v, double step, int percent) {
    if (percent) v *= 100, step *= 100;
    int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    if (dec > 4) dec = 4;
    if (fabs(v) < 1e-12) v = 0;
    snprintf(buf, cap, "%.*f%s", dec, v, percent ? "%" : "");
}

void plot_draw_y_axis(cairo_t *cr, const plot_axes *a, double ystep, int percent, const char *ylabel) {
    char buf[32];
    plot_font(cr, 11, 0);
    /* From the first tick at or above y0: y0 itself (to the bit) when the
     * range came from plot_nice_range, the next whole tick when a chart's
     * spec sets the range (bars), as plot_nice_ticks places it. */
    double first = ceil(a->y0 / ystep - 1e-9) * ystep;
    for (double v = first; v <= a->y1 + ystep * 1e-6; v += ystep) {
        double y = round(plot_ax_y(a, v)) + 0.5;
        plot_rgb(cr, 0xe6e6e6);
        cairo_set_line_width(cr, 1);
        cairo_move_to(cr, a->r.x, y);
        cairo_line_to(cr, a->r.x + a->r.w, y);
        cairo_stroke(cr);
        plot_rgb(cr, 0x333333);
        plot_fmt_tick(buf, sizeof buf, v, ystep, percent);
        plot_text(cr, a->r.x - 6, y, 1, 0.5, buf);
    }
    if (ylabel) {
        plot_font(cr, 12, 0);
        plot_rgb(cr, 0x222222);
        plot_text_up(cr, a->r.x - 50, a->r.y + a->r.h / 2, ylabel);
    }
}

void plot_draw_frame(cairo_t *cr, const plot_axes *a) {
    plot_rgb(cr, 0x444444);
    cairo_set_line_width(cr, 1);
    cairo_rectangle(cr, round(a->r.x) + 0.5, round(a->r.y) + 0.5, round(a->r.w), round(a->r.h));
    cairo_stroke(cr);
}

void plot_draw_title(cairo_t *cr, double x, double y, const char *title) {
    if (!title) return;
    plot_font(cr, 15, 1);
    plot_rgb(cr, 0x111111);
    plot_text(cr, x, y, 0.5, 0, title);
}

void plot_dashed_line(cairo_t *cr, double x0, double y0, double x1, double y1, double on,
                      double off, double width) {
    double dash[] = {on, off};
    cairo_set_dash(cr, dash, 2, 0);
    cairo_set_line_width(cr, width);
    cairo_move_to(cr, x0, y0);
    cairo_line_to(cr, x1, y1);
    cairo_stroke(cr);
    cairo_set_dash(cr, NULL, 0, 0);
}

/* ------------------------------------------------------------------------ */
/* Legends                                                                  */
/* ------------------------------------------------------------------------ */

static void legend_size(cairo_t *cr, const plot_legend_item *it, int n, double *w, double *h) {
    plot_font(cr, 11, 0);
    double mw = 0;
    for (int i = 0; i < n; i++) {
        double tw = plot_text_w(cr, it[i].name);
        if (tw > mw) mw = tw;
    }
    *w = mw + 40;
    *h = n * 17 + 8;
}

/* The sample of one legend item: a box, or a (dashed) line. */
static void legend_sample(cairo_t *cr, double x, double yy, plot_legend_kind kind) {
    if (kind == PLOT_LEGEND_BOX) {
        cairo_rectangle(cr, x + 8, yy - 5, 18, 10);
        cairo_fill(cr);
        return;
    }
    double dash[] = {5, 3};
    cairo_set_line_width(cr, 2);
    if (kind == PLOT_LEGEND_DASHED) cairo_set_dash(cr, dash, 2, 0);
    cairo_move_to(cr, x + 6, yy);
    cairo_line_to(cr, x + 28, yy);
    cairo_stroke(cr);
    cairo_set_dash(cr, NULL, 0, 0);
}

void plot_draw_legend(cairo_t *cr, double x, double y, const plot_legend_item *it, int n) {
    double w, h;
    legend_size(cr, it, n, &w, &h);
    cairo_set_source_rgba(cr, 1, 1, 1, 0.85);
    cairo_rectangle(cr, x, y, w, h);
    cairo_fill_preserve(cr);
    plot_rgb(cr, 0xbbbbbb);
    cairo_set_line_width(cr, 1);
    cairo_stroke(cr);
    plot_font(cr, 11, 0);
    for (int i = 0; i < n; i++) {
        double yy = y + 4 + i * 17 + 8.5;
        plot_rgb(cr, it[i].color);
        legend_sample(cr, x, yy, it[i].kind);
        plot_rgb(cr, 0x222222);
        plot_text(cr, x + 34, yy, 0, 0.5, it[i].name);
    }
}

void plot_legend_best_corner(cairo_t *cr, const plot_axes *a, const plot_legend_item *it, int n,
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
    plot_draw_legend(cr, cx[best], cy[best], it, n);
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
