/* report/plot.h — internal drawing layer of the HTML report: line charts, heat
 * maps, bar charts, reliability diagrams and image grids drawn with cairo
 * and written as PNG with cairo_surface_write_to_png (libpng underneath).
 * Also the small analysis helpers (quantile accuracy) the report shares
 * with the tests. Not part of the public API. The one header of plot.c
 * (the drawing kit), plot_charts.c and plot_grids.c. */
#ifndef FERC_PLOT_H
#define FERC_PLOT_H

#include "core/core.h"

#include <cairo.h>
#include <stdint.h>

/* 0xRRGGBB colours used across the report. */
#define PLOT_BLUE   0x1f77b4u
#define PLOT_ORANGE 0xff7f0eu
#define PLOT_GREEN  0x2ca02cu
#define PLOT_RED    0xd62728u
#define PLOT_GRAY   0x7f7f7fu
#define PLOT_OK_TEXT  0x1b7a1bu   /* caption colour of a correct prediction */
#define PLOT_BAD_TEXT 0xc41e1eu   /* caption colour of a mistake */

/* ---- charts --------------------------------------------------------------- */

/* Two panels side by side: loss (train, val) and accuracy (train, val) per
 * epoch, with axes, ticks, legends and a dashed line at the best validation
 * accuracy. n >= 1. NaN values are skipped. Image is width x height. */
ferc_status plot_curves(const ferc_epoch_stats *h, int n, int width, int height,
                        const char *path, ferc_error *err);

/* Heat map of a k x k count matrix counts[r*k+c] (rows = true label,
 * columns = predicted). Each cell shows the count and the row-normalised
 * percentage; the colour encodes the row share, explained by a colour bar. */
ferc_status plot_confusion(const int *counts, int k, const char *const *names, int width,
                           int height, const char *title, const char *path, ferc_error *err);

typedef struct {
    const char *title, *ylabel;
    int ngroups, nseries;                 /* nseries <= 6 */
    const char *const *group_names;       /* ngroups labels under the x axis */
    const char *const *series_names;      /* legend (NULL when nseries == 1: no legend) */
    const double *values;                 /* values[g * nseries + s]; NaN = no bar */
    double ymin, ymax;                    /* y range (ymax <= ymin: automatic from 0) */
    const char *value_fmt;                /* printf format of the label above each bar, NULL = none */
    double ref_line;                      /* horizontal dashed reference; NaN = none */
    const char *ref_label;                /* its legend text */
} plot_bars_spec;

/* Grouped bar chart (precision/recall/F1 per class, predicted vs true share). */
ferc_status plot_bars(const plot_bars_spec *s, int width, int height, const char *path,
                      ferc_error *err);
/* Several bar charts side by side in one image, each panel width/n wide. */
ferc_status plot_bars_panels(const plot_bars_spec *s, int n, int width, int height,
                             const char *path, ferc_error *err);

/* Reliability diagram: bins[b] covers confidence [b/nb, (b+1)/nb); per bin
 * the mean confidence, the accuracy and the count. Left panel: accuracy bars
 * with the gap to the mean confidence, the diagonal and the counts above the
 * bars; right panel: the histogram of confidences. `ece` goes in the title. */
ferc_status plot_reliability(const double *bin_conf, const double *bin_acc, const int *bin_count,
                             int nb, double ece, int width, int height, const char *path,
                             ferc_error *err);

/* ---- image grids ----------------------------------------------------------- */

typedef enum {
    PLOT_TILE_GRAY01 = 0,   /* values in [0,1] drawn as gray (faces) */
    PLOT_TILE_AUTO,         /* min..max of the tile mapped to the viridis scale */
    PLOT_TILE_DIVERGING,    /* -scale..+scale mapped blue-white-red (kernels) */
    PLOT_TILE_OVERLAY       /* gray face data with `overlay` (>= 0, scaled by its 99th percentile)
                               drawn on top in the hot colour scale with alpha */
} plot_tile_mode;

typedef struct {
    const float *data;      /* (h, w); NULL = empty cell */
    int h, w;
    plot_tile_mode mode;
    float scale;            /* DIVERGING: value of full colour (<= 0: tile max |v|) */
    const float *overlay;   /* OVERLAY: (h, w) non-negative heat */
    int nearest;            /* 1: nearest-neighbour enlargement, 0: bilinear */
    const char *caption;    /* up to two lines separated by '\n'; NULL = none */
    uint32_t caption_rgb;
} plot_tile;

typedef struct {
    const char *title;            /* NULL = no title band */
    int cols, rows;               /* tiles t[r*cols + c] */
    int tile_px;                  /* side of each drawn tile in pixels */
    int caption_lines;            /* 0, 1 or 2 lines of caption under each tile */
    const char *const *row_titles;/* rows strings on the left (NULL = none) */
    int row_title_px;             /* width of the row-title column (when row_titles) */
} plot_grid_spec;

/* Size in pixels of the image plot_tiles draws for spec g. */
void plot_tiles_size(const plot_grid_spec *g, int *width, int *height);
/* A grid of tiles (faces, feature maps, kernels, saliency overlays). */
ferc_status plot_tiles(const plot_grid_spec *g, const plot_tile *t, const char *path,
                       ferc_error *err);

/* ---- colour scales and helpers (exposed for the tests) --------------------- */

/* Viridis-like sequential scale, hot scale, and blue-white-red diverging
 * scale: t in [0,1] (clamped) -> 0xRRGGBB. */
uint32_t plot_viridis(double t);
uint32_t plot_hot(double t);
uint32_t plot_diverging(double t);

/* "Nice" axis ticks covering [lo, hi]: step 1, 2 or 5 x 10^k, at most
 * max_ticks; writes the first tick and the step, returns the tick count. */
int plot_nice_ticks(double lo, double hi, int max_ticks, double *first, double *step);

/* Accuracy by quantile of a per-image value (brightness, contrast): sorts
 * the n images by value and splits them into q groups of (almost) equal
 * size; group g gets acc[g] = mean(correct), lo[g]/hi[g] = value range and
 * count[g]. Returns FERC_ERR_ARG when n < q or q < 1. */
ferc_status plot_quantile_accuracy(const double *value, const int *correct, int n, int q,
                                   double *acc, double *lo, double *hi, int *count,
                                   ferc_error *err);

/* Stack the PNG files paths[0..n) vertically, each centred and scaled by
 * `scale` (bilinear), with a small gap, into one PNG at out (for the README
 * screenshot of the charts). Writes the resulting size to *w, *h. */
ferc_status plot_stack_pngs(const char *const *paths, int n, double scale, const char *out,
                            int *w, int *h, ferc_error *err);

/* Write a PNG atomically: draw into path + ".tmp-<pid>" and rename. */
ferc_status plot_write_surface(cairo_surface_t *s, const char *path, ferc_error *err);

/* ---- the drawing kit (plot.c), shared by plot_charts.c and plot_grids.c ---- */

typedef struct { double x, y, w, h; } plot_rect;

/* Blue sequential scale of the confusion matrix: t in [0,1] -> 0xRRGGBB. */
uint32_t plot_blues(double t);
/* Set the cairo source to a 0xRRGGBB colour (with alpha a). */
void plot_rgb(cairo_t *cr, uint32_t c);
void plot_rgba(cairo_t *cr, uint32_t c, double a);

/* Text. Anchors: ax 0 left, 0.5 centre, 1 right; ay 0 top, 0.5 middle,
 * 1 bottom of the font box. Multi-line strings are separated by '\n'. */
void plot_font(cairo_t *cr, double size, int bold);
double plot_text_w(cairo_t *cr, const char *s);
void plot_text(cairo_t *cr, double x, double y, double ax, double ay, const char *s);
void plot_text_halo(cairo_t *cr, double x, double y, double ax, double ay, const char *s);
void plot_text_lines(cairo_t *cr, double x, double y, double ax, double ay, const char *s);
double plot_lines_w(cairo_t *cr, const char *s);
void plot_text_up(cairo_t *cr, double x, double y, const char *s);

/* White RGB24 canvas of w x h; plot_finish writes it to path (atomically)
 * and destroys both cr and the surface, whatever happens. */
cairo_surface_t *plot_canvas(int w, int h, cairo_t **cr);
ferc_status plot_finish(cairo_surface_t *s, cairo_t *cr, const char *path, ferc_error *err);
/* FERC_ERR_ARG unless 64 <= w, h <= 16384. */
ferc_status plot_check_size(int w, int h, const char *path, ferc_error *err);

/* A plot area r in pixels showing data x0..x1, y0..y1. */
typedef struct {
    plot_rect r;
    double x0, x1, y0, y1;
} plot_axes;

double plot_ax_x(const plot_axes *a, double x);
double plot_ax_y(const plot_axes *a, double y);
/* Range [lo, hi] widened to whole ticks; returns the tick step. */
double plot_nice_range(double *lo, double *hi, int max_ticks);
void plot_fmt_tick(char *buf, size_t cap, double v, double step, int percent);
/* Horizontal grid lines and y tick labels from y0 every ystep, and the
 * y axis label (NULL = none). */
void plot_draw_y_axis(cairo_t *cr, const plot_axes *a, double ystep, int percent, const char *ylabel);
void plot_draw_frame(cairo_t *cr, const plot_axes *a);
/* Bold title centred on x with its top at y; NULL draws nothing. */
void plot_draw_title(cairo_t *cr, double x, double y, const char *title);
/* Dashed line from (x0, y0) to (x1, y1) in the current colour; the dash is
 * reset afterwards. */
void plot_dashed_line(cairo_t *cr, double x0, double y0, double x1, double y1, double on,
                      double off, double width);

typedef enum { PLOT_LEGEND_LINE = 0, PLOT_LEGEND_BOX, PLOT_LEGEND_DASHED } plot_legend_kind;
typedef struct {
    const char *name;
    uint32_t color;
    plot_legend_kind kind;
} plot_legend_item;

/* Boxed legend with its top-left corner at (x, y). */
void plot_draw_legend(cairo_t *cr, double x, double y, const plot_legend_item *it, int n);
/* Legend placed in the corner of the plot area that covers the fewest
 * data points (pts: pixel coordinates, 2 per point). */
void plot_legend_best_corner(cairo_t *cr, const plot_axes *a, const plot_legend_item *it, int n,
                             const double *pts, int npts);

#endif
