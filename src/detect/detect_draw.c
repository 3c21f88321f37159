/* detect_draw.c — drawing detected faces on an RGB image with cairo: a box
 * per face, coloured by its top emotion, with a label "emotion 87%" above it
 * (below when there is no room). Used by `ferc predict --annotate` and
 * `ferc video --annotate`; exported for programs that embed ferc. */
#include "core/core.h"

#include <cairo.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One colour per FER2013 label (angry disgust fear happy sad surprise neutral). */
static const double label_rgb[FERC_NUM_CLASSES][3] = {
    {0.90, 0.15, 0.15}, {0.45, 0.70, 0.10}, {0.60, 0.30, 0.85}, {1.00, 0.80, 0.05},
    {0.15, 0.45, 0.95}, {1.00, 0.50, 0.00}, {0.85, 0.85, 0.85}};

/* The RGB image into a cairo RGB24 surface (px, rows st bytes apart). */
static void image_to_surface(const ferc_image *img, unsigned char *px, int st) {
    for (int y = 0; y < img->h; y++) {
        uint32_t *row = (uint32_t *)(void *)(px + (size_t)y * st);
        const uint8_t *q = img->data + (size_t)y * img->w * 3;
        for (int x = 0; x < img->w; x++)
            row[x] = (uint32_t)q[3 * x] << 16 | (uint32_t)q[3 * x + 1] << 8 | q[3 * x + 2];
    }
}

/* And back. */
static void surface_to_image(const unsigned char *px, int st, ferc_image *img) {
    for (int y = 0; y < img->h; y++) {
        const uint32_t *row = (const uint32_t *)(const void *)(px + (size_t)y * st);
        uint8_t *q = img->data + (size_t)y * img->w * 3;
        for (int x = 0; x < img->w; x++) {
            q[3 * x] = (uint8_t)(row[x] >> 16);
            q[3 * x + 1] = (uint8_t)(row[x] >> 8);
            q[3 * x + 2] = (uint8_t)row[x];
        }
    }
}

/* The label "emotion 87%" of a face on a box of its colour, above the face
 * box b, or below it when there is no room, or inside it at the top; kept
 * within the W x H image. */
static void draw_label(cairo_t *cr, ferc_box b, int top, float p, int W, int H) {
    char label[64];
    snprintf(label, sizeof label, "%s %.0f%%", ferc_label_name(top), 100.0 * p);
    double fs = fmax(11.0, fmin(28.0, b.w / 7.0));
    cairo_set_font_size(cr, fs);
    cairo_text_extents_t te;
    cairo_text_extents(cr, label, &te);
    double pad = fs * 0.25, bh = fs * 1.3, bw = te.x_advance + 2 * pad;
    double lx = b.x, ly = b.y - bh;
    if (ly < 0) ly = b.y + b.h; /* no room above: below the box */
    if (ly + bh > H) ly = b.y;  /* nor below: inside, at the top */
    if (lx + bw > W) lx = W - bw;
    if (lx < 0) lx = 0;
    cairo_rectangle(cr, lx, ly, bw, bh);
    cairo_fill(cr);
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_move_to(cr, lx + pad, ly + bh - fs * 0.35);
    cairo_show_text(cr, label);
}

/* One face: its box in the colour of its top emotion (probs, 7 values, or
 * NULL: neutral's colour, no label). */
static void draw_face(cairo_t *cr, ferc_box b, const float *probs, int W, int H) {
    int top = -1;
    if (probs) {
        top = 0;
        for (int k = 1; k < FERC_NUM_CLASSES; k++)
            if (probs[k] > probs[top]) top = k;
    }
    const double *c = top >= 0 ? label_rgb[top] : label_rgb[6];
    double lw = fmax(2.0, fmin(b.w, b.h) / 40.0);
    cairo_set_source_rgb(cr, c[0], c[1], c[2]);
    cairo_set_line_width(cr, lw);
    cairo_rectangle(cr, b.x + lw / 2, b.y + lw / 2, b.w - lw, b.h - lw);
    cairo_stroke(cr);
    if (top >= 0) draw_label(cr, b, top, probs[top], W, H);
}

ferc_status ferc_draw_faces(ferc_image *img, const ferc_box *boxes, int n, const float *probs, ferc_error *err) {
    if (!img || !img->data || img->c != 3 || img->w <= 0 || img->h <= 0 || n < 0 || (n > 0 && !boxes))
        return ferc_fail(err, FERC_ERR_ARG, "ferc_draw_faces: needs an RGB image and n >= 0 boxes");
    if (n == 0) return FERC_OK;
    const int W = img->w, H = img->h;
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, W, H);
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(s);
        return ferc_fail(err, FERC_ERR_NOMEM, "ferc_draw_faces: cannot make a %dx%d surface", W, H);
    }
    cairo_surface_flush(s);
    unsigned char *px = cairo_image_surface_get_data(s);
    int st = cairo_image_surface_get_stride(s);
    image_to_surface(img, px, st);
    cairo_surface_mark_dirty(s);
    cairo_t *cr = cairo_create(s);
    cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
    for (int i = 0; i < n; i++) draw_face(cr, boxes[i], probs ? probs + (size_t)i * FERC_NUM_CLASSES : NULL, W, H);
    cairo_destroy(cr);
    cairo_surface_flush(s);
    surface_to_image(px, st, img);
    cairo_surface_destroy(s);
    return FERC_OK;
}
