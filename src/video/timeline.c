/* timeline.c — ferc_plot_timeline: one panel per track with its smoothed
 * emotion probabilities over time, the per-person picture people want from
 * a video instead of a CSV. Drawn with the report's cairo kit
 * (report/plot.h) so that the axes, fonts and PNG writing are the same as in
 * the report; all panels share one time axis so that people who are on
 * screen together can be compared at a glance. */
#include "video/video.h"
#include "report/plot.h"

#include <math.h>
#include <stdio.h>

#define WIDTH 1000
#define PANEL_H 170
#define TOP 54          /* title and legend band */
#define BOTTOM 40       /* the time axis under the last panel */
#define MAX_PANELS 60   /* 60 * 170 + 94 px stays under cairo's 16384 */

/* One colour per emotion in FER2013 order, as people read them. */
static const uint32_t colours[FERC_NUM_CLASSES] = {0xd62728, 0x6b8e23, 0x9467bd, 0xff9f0e,
                                                   0x1f77b4, 0x17becf, 0x7f7f7f};

void timeline_size(int ntracks, int *w, int *h) {
    int n = ntracks < MAX_PANELS ? ntracks : MAX_PANELS;
    *w = WIDTH;
    *h = TOP + n * PANEL_H + BOTTOM;
}

/* The smallest frame step of any track: 1, or N with `--every N`. */
static long min_step(const ferc_tracker *t) {
    long step = 0;
    for (int i = 0; i < t->nhist; i++)
        for (long r = 1; r < t->hist[i].n; r++) {
            long d = t->hist[i].frame[r] - t->hist[i].frame[r - 1];
            if (step == 0 || d < step) step = d;
        }
    return step ? step : 1;
}

/* The seven lines of one track; a line breaks where the track was not
 * reported for more than twice the usual step (the face was missed). */
static void draw_lines(cairo_t *cr, const plot_axes *a, const track_history *hs, double fps, long step) {
    cairo_set_line_width(cr, 1.6);
    for (int k = 0; k < FERC_NUM_CLASSES; k++) {
        plot_rgb(cr, colours[k]);
        for (long r = 0; r < hs->n; r++) {
            double x = plot_ax_x(a, hs->frame[r] / fps), y = plot_ax_y(a, hs->probs[(size_t)r * FERC_NUM_CLASSES + k]);
            if (r == 0 || hs->frame[r] - hs->frame[r - 1] > 2 * step) {
                cairo_move_to(cr, x, y);
                cairo_line_to(cr, x + 0.5, y); /* a lone point stays visible */
            } else cairo_line_to(cr, x, y);
        }
        cairo_stroke(cr);
    }
}

/* Time ticks (seconds) under panel a; labels only under the last one. */
static void draw_time_axis(cairo_t *cr, const plot_axes *a, int labels) {
    double first, step;
    int n = plot_nice_ticks(a->x0, a->x1, 10, &first, &step);
    char buf[32];
    plot_font(cr, 11, 0);
    for (int i = 0; i < n; i++) {
        double v = first + i * step, x = round(plot_ax_x(a, v)) + 0.5;
        if (v < a->x0 - 1e-9 || v > a->x1 + 1e-9) continue;
        plot_rgb(cr, 0xe6e6e6);
        cairo_set_line_width(cr, 1);
        cairo_move_to(cr, x, a->r.y);
        cairo_line_to(cr, x, a->r.y + a->r.h);
        cairo_stroke(cr);
        if (!labels) continue;
        plot_rgb(cr, 0x333333);
        plot_fmt_tick(buf, sizeof buf, v, step, 0);
        plot_text(cr, x, a->r.y + a->r.h + 5, 0.5, 0, buf);
    }
    if (labels) plot_text(cr, a->r.x + a->r.w / 2, a->r.y + a->r.h + 20, 0.5, 0, "time (s)");
}

/* Panel p: track i's lines, its axes and its caption. */
static void draw_panel(cairo_t *cr, const ferc_tracker *t, int i, int p, int last, double x0, double x1, double fps) {
    plot_axes a = {.r = {.x = 70, .y = TOP + p * PANEL_H + 24, .w = WIDTH - 90, .h = PANEL_H - 34},
                   .x0 = x0, .x1 = x1, .y0 = 0, .y1 = 1};
    ferc_track_summary s;
    ferc_tracker_summary(t, i, &s, NULL);
    char title[160];
    snprintf(title, sizeof title, "track %d: %.2f-%.2f s, %ld frames, mostly %s (%.0f%%)", s.id, s.first_frame / fps,
             s.last_frame / fps, s.frames, ferc_label_name(s.dominant), 100 * s.share[s.dominant]);
    plot_font(cr, 13, 1);
    plot_rgb(cr, 0x111111);
    plot_text(cr, a.r.x, a.r.y - 5, 0, 1, title);
    plot_draw_y_axis(cr, &a, 0.5, 0, NULL);
    draw_time_axis(cr, &a, last);
    cairo_save(cr);
    cairo_rectangle(cr, a.r.x, a.r.y, a.r.w, a.r.h);
    cairo_clip(cr);
    draw_lines(cr, &a, &t->hist[i], fps, min_step(t));
    cairo_restore(cr);
    plot_draw_frame(cr, &a);
}

ferc_status ferc_plot_timeline(const ferc_tracker *t, double fps, const char *path, ferc_error *err) {
    if (!t || !path || !(fps > 0)) return ferc_fail(err, FERC_ERR_ARG, "ferc_plot_timeline: bad arguments");
    int n = 0;
    for (int i = 0; i < t->nhist; i++) n += t->hist[i].n > 0;
    if (n == 0) return ferc_fail(err, FERC_ERR_ARG, "%s: no face was tracked: no timeline to draw", path);
    double x0 = INFINITY, x1 = -INFINITY;
    for (int i = 0; i < t->nhist; i++)
        if (t->hist[i].n > 0) {
            x0 = fmin(x0, t->hist[i].frame[0] / fps);
            x1 = fmax(x1, t->hist[i].frame[t->hist[i].n - 1] / fps);
        }
    if (!(x1 > x0)) x1 = x0 + 1 / fps;
    int w, h;
    timeline_size(n, &w, &h);
    cairo_t *cr;
    cairo_surface_t *s = plot_canvas(w, h, &cr);
    char title[96];
    snprintf(title, sizeof title, n > MAX_PANELS ? "emotions per track (the first %d of %d)" : "emotions per track",
             MAX_PANELS, n);
    plot_draw_title(cr, w / 2.0, 8, title);
    plot_legend_item leg[FERC_NUM_CLASSES];
    for (int k = 0; k < FERC_NUM_CLASSES; k++) leg[k] = (plot_legend_item){.name = ferc_label_name(k), .color = colours[k]};
    double lx = 70;
    plot_font(cr, 11, 0);
    for (int k = 0; k < FERC_NUM_CLASSES; k++) { /* the legend in one row */
        plot_rgb(cr, colours[k]);
        cairo_rectangle(cr, lx, 34, 18, 4);
        cairo_fill(cr);
        plot_rgb(cr, 0x222222);
        plot_text(cr, lx + 22, 36, 0, 0.5, leg[k].name);
        lx += 40 + plot_text_w(cr, leg[k].name);
    }
    for (int i = 0, p = 0; i < t->nhist && p < MAX_PANELS; i++)
        if (t->hist[i].n > 0) {
            draw_panel(cr, t, i, p, p == (n < MAX_PANELS ? n : MAX_PANELS) - 1, x0, x1, fps);
            p++;
        }
    return plot_finish(s, cr, path, err);
}
