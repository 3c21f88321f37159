/* report/plot_tune.c — the picture of a hyperparameter search: every
 * trial's validation curve on one chart, the best trial bold, so a reader
 * sees at a glance which trials successive halving stopped and when. */
#include "report/plot.h"

#include "core/core.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static const uint32_t TRIAL_COLORS[] = {0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd,
                                        0x8c564b, 0xe377c2, 0x7f7f7f, 0xbcbd22, 0x17becf};
enum { NCOLORS = sizeof TRIAL_COLORS / sizeof TRIAL_COLORS[0], LEGEND_MAX = 12 };

static double trials_axes(plot_axes *a, int W, int H, const float *const *y, const int *n, int count) {
    a->r = (plot_rect){.x = 70, .y = 40, .w = W - 70 - 230, .h = H - 40 - 50};
    double lo = INFINITY, hi = -INFINITY;
    int maxn = 1;
    for (int t = 0; t < count; t++) {
        if (n[t] > maxn) maxn = n[t];
        for (int i = 0; i < n[t]; i++)
            if (isfinite(y[t][i])) { lo = fmin(lo, y[t][i]); hi = fmax(hi, y[t][i]); }
    }
    if (!isfinite(lo)) { lo = 0; hi = 1; }
    if (!(hi > lo)) { lo -= 0.05; hi += 0.05; }
    double step = plot_nice_range(&lo, &hi, 6);
    a->y0 = lo; a->y1 = hi;
    a->x0 = 0.7; a->x1 = maxn + 0.3;
    return step;
}

static void x_ticks(cairo_t *cr, const plot_axes *a) {
    double first, step;
    plot_nice_ticks(1, a->x1 > 2 ? a->x1 : 2, 8, &first, &step);
    if (step < 1) step = 1;
    plot_font(cr, 11, 0);
    char buf[32];
    for (double e = ceil(1 / step) * step; e <= a->x1; e += step) {
        if (e < 1) continue;
        plot_rgb(cr, 0x333333);
        snprintf(buf, sizeof buf, "%d", (int)lround(e));
        plot_text(cr, plot_ax_x(a, e), a->r.y + a->r.h + 8, 0.5, 0, buf);
    }
    plot_font(cr, 12, 0);
    plot_text(cr, a->r.x + a->r.w / 2, a->r.y + a->r.h + 28, 0.5, 0, "epoch");
}

static void trial_line(cairo_t *cr, const plot_axes *a, const float *y, int n, uint32_t color, int bold) {
    plot_rgb(cr, color);
    cairo_set_line_width(cr, bold ? 3.5 : 1.5);
    int pen = 0;
    for (int i = 0; i < n; i++) {
        if (!isfinite(y[i])) { pen = 0; continue; }
        double x = plot_ax_x(a, i + 1), yy = plot_ax_y(a, y[i]);
        if (pen) cairo_line_to(cr, x, yy);
        else cairo_move_to(cr, x, yy);
        pen = 1;
    }
    cairo_stroke(cr);
    if (n > 0 && isfinite(y[n - 1])) {   /* where the trial stopped */
        cairo_arc(cr, plot_ax_x(a, n), plot_ax_y(a, y[n - 1]), bold ? 5 : 3, 0, 2 * M_PI);
        cairo_fill(cr);
    }
}

ferc_status ferc_plot_trials(const float *const *y, const int *n, const char *const *labels, int count,
                             int highlight, const char *ylabel, const char *path, ferc_error *err) {
    if (!path || !y || !n || count < 1) return ferc_fail(err, FERC_ERR_ARG, "plot trials: nothing to plot");
    const int W = 1000, H = 480;
    cairo_t *cr;
    cairo_surface_t *s = plot_canvas(W, H, &cr);
    if (!s) return ferc_fail(err, FERC_ERR_NOMEM, "%s: out of memory", path);
    plot_axes a;
    double step = trials_axes(&a, W, H, y, n, count);
    plot_draw_title(cr, a.r.x + a.r.w / 2, 10, "Validation curves of the trials");
    plot_draw_y_axis(cr, &a, step, 1, ylabel ? ylabel : "validation");
    x_ticks(cr, &a);
    cairo_save(cr);
    cairo_rectangle(cr, a.r.x, a.r.y, a.r.w, a.r.h);
    cairo_clip(cr);
    for (int t = 0; t < count; t++)
        if (t != highlight) trial_line(cr, &a, y[t], n[t], TRIAL_COLORS[t % NCOLORS], 0);
    if (highlight >= 0 && highlight < count)
        trial_line(cr, &a, y[highlight], n[highlight], TRIAL_COLORS[highlight % NCOLORS], 1);
    cairo_restore(cr);
    plot_draw_frame(cr, &a);
    plot_legend_item it[LEGEND_MAX];
    int k = 0;
    for (int t = 0; t < count && k < LEGEND_MAX; t++)
        it[k++] = (plot_legend_item){.name = labels ? labels[t] : "trial", .color = TRIAL_COLORS[t % NCOLORS],
                                     .kind = PLOT_LEGEND_LINE};
    plot_draw_legend(cr, a.r.x + a.r.w + 12, a.r.y, it, k);
    return plot_finish(s, cr, path, err);
}
