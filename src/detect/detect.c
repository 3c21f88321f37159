/* detect.c — face detection with OpenCV's Haar cascades, in C: the entry
 * point ferc_detect_faces and its scale loop. The other files of this
 * folder hold the parts: cascade.c reads the XML, pyramid.c makes the
 * per-scale planes, haar.c evaluates the windows, group.c merges the
 * candidates, classify.c crops and classifies the faces found.
 *
 * The whole follows the semantics of OpenCV 4's
 * CascadeClassifier::detectMultiScale, so that boxes agree with OpenCV's:
 *   - the scales are scale_factor^k, kept when the window fits the image and
 *     lies between min_size and max_size (if none does, the one closest to
 *     min_size, as OpenCV);
 *   - the IMAGE is resized for every scale (bit-exact with cv::resize
 *     INTER_LINEAR_EXACT, 8.8 fixed point), not the features;
 *   - integral images of the pixels, of their squares and, for cascades with
 *     45-degree features, the tilted sums, computed once per scale;
 *   - windows on a grid of step 2 (step 1 once the scale reaches 2), a window
 *     rejected by the first stage skips the next position; each window is
 *     variance-normalised over its inner (w-2)x(h-2) rectangle and windows
 *     too flat to normalise are rejected;
 *   - feature and stage arithmetic in the same float / double order;
 *   - candidates grouped like cv::groupRectangles(eps 0.2, min_neighbors),
 *     then clipped to the image.
 * Scales run in parallel (OpenMP, one scale per task, largest first); the
 * result does not depend on the number of threads: candidates are gathered
 * in (scale, y, x) order. */
#include "detect/detect.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>

void ferc_detect_opts_default(ferc_detect_opts *o) {
    if (!o) return;
    *o = (ferc_detect_opts){.scale_factor = 1.1, .min_neighbors = 5, .min_size = 30, .max_size = 0, .threads = 0};
}

/* ------------------------------------------------------------------------ */
/* Scales                                                                    */
/* ------------------------------------------------------------------------ */

#define MAX_SCALES 1024

/* The scales detectMultiScale uses (OpenCV 4.x) into out[MAX_SCALES]:
 * returns how many, or -1 when more than MAX_SCALES would fit the image. */
static int compute_scales(int w, int h, int ww, int wh, double sf, int minw, int minh, int maxw, int maxh,
                          float *out) {
    if (w < ww || h < wh) return 0;
    if (maxw == 0 || maxh == 0) { maxw = w; maxh = h; }
    float all[MAX_SCALES];
    int nall = 0;
    for (double f = 1;; f *= sf) {
        int sw = round_d(ww * f), sh = round_d(wh * f);
        if (sw > w || sh > h) break;
        if (nall == MAX_SCALES) return -1;
        all[nall++] = (float)f;
    }
    int n = 0;
    for (int i = 0; i < nall; i++) {
        int sw = round_d(ww * (double)all[i]), sh = round_d(wh * (double)all[i]);
        if (sw > maxw || sh > maxh) break;
        if (sw < minw || sh < minh) continue;
        out[n++] = all[i];
    }
    if (n == 0 && nall > 0) { /* OpenCV: the scale closest to min_size */
        int best = 0;
        double bd = 0;
        for (int i = 0; i < nall; i++) {
            int sw = round_d(ww * (double)all[i]), sh = round_d(wh * (double)all[i]);
            double d = (double)(minw - sw) * (minw - sw) + (double)(minh - sh) * (minh - sh);
            if (i == 0 || bd > d) { bd = d; best = i; }
        }
        out[n++] = all[best];
    }
    return n;
}

/* ------------------------------------------------------------------------ */
/* One scale                                                                 */
/* ------------------------------------------------------------------------ */

/* Per-thread work buffers. */
typedef struct {
    uint8_t *img;       /* resized image */
    uint32_t *planes;   /* sum, sqsum[, tilted], each `plane` uint32, then slack */
    uint32_t *ext;      /* tilted scratch */
    void *tmp;          /* resize scratch */
} workbuf;

/* Buffers for images up to w0 x h0 and planes of P uint32; 0 when out of
 * memory (free them anyway). */
static int workbuf_init(workbuf *wb, const ferc_cascade *c, int w0, int h0, int P) {
    size_t nplanes = c->has_tilted ? 3 : 2;
    wb->img = malloc((size_t)w0 * (size_t)h0);
    wb->planes = calloc((size_t)P * nplanes + 64, sizeof(uint32_t));
    wb->ext = c->has_tilted ? malloc(sizeof(uint32_t) * 3 * (size_t)(w0 + 2 * h0 + 16)) : NULL;
    wb->tmp = malloc(ferc_detect_resize_tmp_size(w0, h0));
    return wb->img && wb->planes && wb->tmp && (!c->has_tilted || wb->ext);
}

static void workbuf_free(workbuf *wb) {
    free(wb->img); free(wb->planes); free(wb->ext); free(wb->tmp);
}

/* Resize, integrate and scan one scale; candidates into out in (y, x) order. */
static int detect_scale(const evaluator *ev, const uint8_t *gray, int w, int h, int stride, float sc,
                        workbuf *wb, boxlist *out) {
    const ferc_cascade *c = ev->c;
    int sw = round_f((float)w / sc), sh = round_f((float)h / sc);
    if (sw < 1 || sh < 1) return 1;
    int step = sc >= 2 ? 1 : 2;
    int half = step == 2 ? ev->half : 0;
    ferc_detect_resize_exact(gray, w, h, stride, wb->img, sw, sh, sw, wb->tmp);
    uint32_t *sum = wb->planes, *sq = sum + ev->plane;
    ferc_detect_integral(wb->img, sw, sh, sw, sum, sq, ev->stride, half);
    if (c->has_tilted) ferc_detect_tilted(wb->img, sw, sh, sw, sum + 2 * ev->plane, ev->stride, half, wb->ext);
    int szw = sw + 1 - c->win_w, szh = sh + 1 - c->win_h;
    if (szw <= 0 || szh <= 0) return 1;
    int bw = round_f((float)c->win_w * sc), bh = round_f((float)c->win_h * sc);
    return ferc_haar_scan(ev, sum, szw, szh, step, sc, bw, bh, out);
}

/* ------------------------------------------------------------------------ */
/* All scales                                                                */
/* ------------------------------------------------------------------------ */

/* The image being searched. */
typedef struct {
    const uint8_t *gray;
    int w, h, stride;
} gray_image;

/* Scan every scale into its own list, on nth threads; images up to w0 x h0.
 * 0 when out of memory. */
static int scan_scales(const evaluator *ev, gray_image g, const float *scales, int ns, int nth, int w0, int h0,
                       boxlist *lists) {
    int failed = 0;
#pragma omp parallel num_threads(nth)
    {
        workbuf wb;
        int ok = workbuf_init(&wb, ev->c, w0, h0, ev->plane);
        if (!ok) {
#pragma omp atomic write
            failed = 1;
        }
        /* Scales in order, largest (slowest) first: dynamic scheduling
         * balances the threads; each scale has its own list. */
#pragma omp for schedule(dynamic, 1)
        for (int i = 0; i < ns; i++) {
            if (ok && !detect_scale(ev, g.gray, g.w, g.h, g.stride, scales[i], &wb, &lists[i])) {
#pragma omp atomic write
                failed = 1;
            }
        }
        workbuf_free(&wb);
    }
    return !failed;
}

/* The candidates of every scale, in scale order, into one list; 0 when out
 * of memory. */
static int scan_all(const ferc_cascade *c, gray_image g, const float *scales, int ns, int threads, int allow_simd,
                    boxlist *all) {
    /* One stride for every scale, that of the first (largest) resized image,
     * so that offsets are computed once; slack after the planes for the
     * 8-wide loads of windows past the end of a row. */
    int w0 = round_f((float)g.w / scales[0]), h0 = round_f((float)g.h / scales[0]);
    if (w0 > g.w) w0 = g.w;
    if (h0 > g.h) h0 = g.h;
    int S = w0 + 2, P = (h0 + 1) * S;
    evaluator ev;
    if (ferc_haar_init(&ev, c, S, P)) return 0;
    if (!allow_simd) ev.simd = 0;
    boxlist *lists = calloc((size_t)ns, sizeof(boxlist));
    int nth = ferc_threads(threads);
    if (nth > ns) nth = ns;
    int ok = lists && scan_scales(&ev, g, scales, ns, nth, w0, h0, lists);
    ferc_haar_free(&ev);
    for (int i = 0; lists && i < ns && ok; i++)
        for (int k = 0; k < lists[i].n; k++)
            if (!boxlist_push(all, lists[i].b[k])) ok = 0;
    for (int i = 0; lists && i < ns; i++) free(lists[i].b);
    free(lists);
    return ok;
}

/* Clip the n grouped boxes b to the w x h image and drop empty ones, as
 * cv::CascadeClassifier; the first max_boxes go to boxes (and their group
 * sizes nb to neighbors, when wanted). Returns how many there are. */
static int clip_boxes(const ferc_box *b, const int *nb, int n, int w, int h, ferc_box *boxes, int *neighbors,
                      int max_boxes) {
    int m = 0;
    for (int i = 0; i < n; i++) {
        int x0 = b[i].x > 0 ? b[i].x : 0, y0 = b[i].y > 0 ? b[i].y : 0;
        int x1 = b[i].x + b[i].w < w ? b[i].x + b[i].w : w, y1 = b[i].y + b[i].h < h ? b[i].y + b[i].h : h;
        if (x1 <= x0 || y1 <= y0) continue;
        if (m < max_boxes) {
            boxes[m] = (ferc_box){.x = x0, .y = y0, .w = x1 - x0, .h = y1 - y0};
            if (neighbors) neighbors[m] = nb[i];
        }
        m++;
    }
    return m;
}

/* ------------------------------------------------------------------------ */
/* Entry points                                                              */
/* ------------------------------------------------------------------------ */

/* The checks of ferc_detect_faces' image and output arguments. */
static ferc_status check_args(const ferc_cascade *c, gray_image g, const ferc_box *boxes, int max_boxes,
                              const int *nfound, ferc_error *err) {
    if (!c || !g.gray || !nfound) return ferc_fail(err, FERC_ERR_ARG, "ferc_detect_faces: NULL argument");
    if (g.w <= 0 || g.h <= 0 || g.stride < g.w)
        return ferc_fail(err, FERC_ERR_ARG, "ferc_detect_faces: bad image geometry %dx%d, stride %d", g.w, g.h,
                         g.stride);
    if ((size_t)g.w * (size_t)g.h > FERC_MAX_IMAGE_PIXELS)
        return ferc_fail(err, FERC_ERR_LIMIT, "ferc_detect_faces: image %dx%d is larger than %u pixels", g.w, g.h,
                         FERC_MAX_IMAGE_PIXELS);
    if (max_boxes < 0 || (max_boxes > 0 && !boxes))
        return ferc_fail(err, FERC_ERR_ARG, "ferc_detect_faces: no room for boxes");
    return FERC_OK;
}

/* The options (or the defaults when opts is NULL) into *o, checked. */
static ferc_status read_opts(const ferc_detect_opts *opts, ferc_detect_opts *o, ferc_error *err) {
    if (opts) *o = *opts;
    else ferc_detect_opts_default(o);
    if (!(o->scale_factor > 1.0) || !(o->scale_factor < 100.0))
        return ferc_fail(err, FERC_ERR_ARG, "scale factor %g must be greater than 1 (and below 100)", o->scale_factor);
    if (o->min_neighbors < 0 || o->min_size < 0 || o->max_size < 0)
        return ferc_fail(err, FERC_ERR_ARG, "min_neighbors, min_size and max_size must not be negative");
    return FERC_OK;
}

ferc_status ferc_detect_faces_counted(const ferc_cascade *c, const uint8_t *gray, int w, int h, int stride,
                                      const ferc_detect_opts *opts, ferc_box *boxes, int *neighbors, int max_boxes,
                                      int *nfound, int allow_simd, ferc_error *err) {
    if (nfound) *nfound = 0;
    gray_image g = {.gray = gray, .w = w, .h = h, .stride = stride};
    ferc_status st = check_args(c, g, boxes, max_boxes, nfound, err);
    if (st) return st;
    ferc_detect_opts o;
    if ((st = read_opts(opts, &o, err))) return st;
    float scales[MAX_SCALES];
    int ns = compute_scales(w, h, c->win_w, c->win_h, o.scale_factor, o.min_size, o.min_size, o.max_size,
                            o.max_size, scales);
    if (ns < 0)
        return ferc_fail(err, FERC_ERR_ARG, "scale factor %g is too close to 1: more than %d scales for a %dx%d image",
                         o.scale_factor, MAX_SCALES, w, h);
    if (ns == 0) return FERC_OK;
    boxlist all = {.b = NULL};
    int *nb = NULL;
    if (!scan_all(c, g, scales, ns, o.threads, allow_simd, &all) ||
        (all.n > 0 && !(nb = malloc(sizeof(int) * (size_t)all.n)))) {
        free(all.b);
        return ferc_fail(err, FERC_ERR_NOMEM, "ferc_detect_faces: out of memory");
    }
    int n = ferc_group_boxes(all.b, all.n, o.min_neighbors, 0.2, nb);
    if (n >= 0) *nfound = clip_boxes(all.b, nb, n, w, h, boxes, neighbors, max_boxes);
    free(all.b);
    free(nb);
    return n < 0 ? ferc_fail(err, FERC_ERR_NOMEM, "ferc_detect_faces: out of memory") : FERC_OK;
}

ferc_status ferc_detect_faces_impl(const ferc_cascade *c, const uint8_t *gray, int w, int h, int stride,
                                   const ferc_detect_opts *opts, ferc_box *boxes, int max_boxes, int *nfound,
                                   int allow_simd, ferc_error *err) {
    return ferc_detect_faces_counted(c, gray, w, h, stride, opts, boxes, NULL, max_boxes, nfound, allow_simd, err);
}

ferc_status ferc_detect_faces(const ferc_cascade *c, const uint8_t *gray, int w, int h, int stride,
                              const ferc_detect_opts *opts, ferc_box *boxes, int max_boxes, int *nfound,
                              ferc_error *err) {
    return ferc_detect_faces_impl(c, gray, w, h, stride, opts, boxes, max_boxes, nfound, 1, err);
}
