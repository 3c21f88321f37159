/* plot_grids.c — the report's image grids (faces, feature maps, kernels,
 * saliency overlays: one tile per image, scaled into equal squares with
 * row titles and captions) and the stacking of finished PNGs into one
 * (the summary image). Drawn with the kit of plot.c. */
#include "report/plot.h"


#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* A t->w x t->h surface ready for writing its pixels at *base, *stride
 * bytes a row; *base is NULL when cairo failed (the surface says why). */
static cairo_surface_t *writable_surface(cairo_format_t fmt, const plot_tile *t, unsigned char **base, int *stride) {
    cairo_surface_t *s = cairo_image_surface_create(fmt, t->w, t->h);
    *base = NULL;
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) return s;
    cairo_surface_flush(s);
    *base = cairo_image_surface_get_data(s);
    *stride = cairo_image_surface_get_stride(s);
    return s;
}

/* RGB24 surface of one tile's data in its colour mode. */
static cairo_surface_t *tile_surface(const plot_tile *t) {
    unsigned char *base;
    int stride;
    cairo_surface_t *s = writable_surface(CAIRO_FORMAT_RGB24, t, &base, &stride);
    if (!base) return s;
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
    unsigned char *base;
    int stride;
    cairo_surface_t *s = writable_surface(CAIRO_FORMAT_ARGB32, t, &base, &stride);
    if (!base) return s;
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

/* Row title right-aligned in the row-title column, shrunk to fit. */
static void draw_row_title(cairo_t *cr, const plot_grid_spec *g, double y, const char *title) {
    int rt = g->row_title_px;
    plot_font(cr, 12, 0);
    double fs = 12;
    while (fs > 7 && plot_lines_w(cr, title) > rt - 8) { fs -= 0.5; plot_font(cr, fs, 0); }
    plot_rgb(cr, 0x222222);
    plot_text_lines(cr, GRID_MARGIN + rt - 8, y + g->tile_px / 2.0, 1, 0.5, title);
}

/* One tile at (x, y): the image (and its overlay), a thin border and the
 * caption under it, shrunk to the tile's width. */
static void draw_tile(cairo_t *cr, const plot_grid_spec *g, const plot_tile *tl, double x, double y) {
    cairo_surface_t *ts = tile_surface(tl);
    paint_scaled(cr, ts, tl->w, tl->h, x, y, g->tile_px, tl->nearest);
    cairo_surface_destroy(ts);
    if (tl->mode == PLOT_TILE_OVERLAY) {
        cairo_surface_t *os = overlay_surface(tl);
        paint_scaled(cr, os, tl->w, tl->h, x, y, g->tile_px, tl->nearest);
        cairo_surface_destroy(os);
    }
    plot_rgb(cr, 0xcccccc);
    cairo_set_line_width(cr, 1);
    cairo_rectangle(cr, x - 0.5, y - 0.5, g->tile_px + 1, g->tile_px + 1);
    cairo_stroke(cr);
    if (tl->caption && g->caption_lines > 0) {
        double fs = 11;
        plot_font(cr, fs, 0);
        double room = g->tile_px + GRID_GAP - 2;
        while (fs > 6.5 && plot_lines_w(cr, tl->caption) > room) { fs -= 0.5; plot_font(cr, fs, 0); }
        plot_rgb(cr, tl->caption_rgb);
        plot_text_lines(cr, x + g->tile_px / 2.0, y + g->tile_px + 2, 0.5, 0, tl->caption);
    }
}

static ferc_status check_grid(const plot_grid_spec *g, const plot_tile *t, const char *path,
                              ferc_error *err) {
    if (!g || g->cols < 1 || g->rows < 1 || g->tile_px < 8 || g->caption_lines < 0 ||
        g->caption_lines > 2 || (g->row_titles && g->row_title_px < 0))
        return ferc_fail(err, FERC_ERR_ARG, "%s: bad grid layout", path);
    int W, H;
    plot_tiles_size(g, &W, &H);
    ferc_status st = plot_check_size(W, H, path, err);
    if (st) return st;
    for (int i = 0; i < g->rows * g->cols; i++)
        if (t[i].data && (t[i].w < 1 || t[i].h < 1 || (t[i].mode == PLOT_TILE_OVERLAY && !t[i].overlay)))
            return ferc_fail(err, FERC_ERR_ARG, "%s: tile %d has no size or no overlay", path, i);
    return FERC_OK;
}

ferc_status plot_tiles(const plot_grid_spec *g, const plot_tile *t, const char *path,
                       ferc_error *err) {
    ferc_status st = check_grid(g, t, path, err);
    if (st) return st;
    int W, H;
    plot_tiles_size(g, &W, &H);
    cairo_t *cr;
    cairo_surface_t *s = plot_canvas(W, H, &cr);
    int top = GRID_MARGIN;
    if (g->title) {
        plot_draw_title(cr, W / 2.0, GRID_MARGIN + 4, g->title);
        top += GRID_TITLE_H;
    }
    int rt = g->row_titles ? g->row_title_px : 0;
    int cap = g->caption_lines > 0 ? g->caption_lines * GRID_LINE_H + 4 : 0;
    for (int r = 0; r < g->rows; r++) {
        double y = top + r * (g->tile_px + cap + GRID_GAP);
        if (g->row_titles && g->row_titles[r]) draw_row_title(cr, g, y, g->row_titles[r]);
        for (int c = 0; c < g->cols; c++) {
            const plot_tile *tl = &t[r * g->cols + c];
            if (tl->data) draw_tile(cr, g, tl, GRID_MARGIN + rt + c * (g->tile_px + GRID_GAP), y);
        }
    }
    return plot_finish(s, cr, path, err);
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
    ferc_status st = plot_check_size(W, H, out, err);
    if (st == FERC_OK) {
        cairo_t *cr;
        cairo_surface_t *s = plot_canvas(W, H, &cr);
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
        st = plot_finish(s, cr, out, err);
    }
    for (int i = 0; i < n; i++) cairo_surface_destroy(in[i]);
    if (st == FERC_OK) { *w = W; *h = H; }
    return st;
}
