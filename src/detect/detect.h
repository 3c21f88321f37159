/* detect/detect.h — internal header of the face detector (not public): the
 * in-memory cascade that cascade.c reads from OpenCV's XML, the per-scale
 * planes of pyramid.c, the window evaluator of haar.c and the box list the
 * scan fills, shared by the files of src/detect/. Kept in one place so that
 * the loader, the evaluator and the scale loop agree on one layout. */
#ifndef FERC_DETECT_H
#define FERC_DETECT_H

#include "core/core.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* ------------------------------------------------------------------------ */
/* The cascade (cascade.c)                                                   */
/* ------------------------------------------------------------------------ */

#define MAX_RECTS 3
#define MAX_TREE_NODES 1024
#define MAX_WINDOW 4096

typedef struct { int x, y, w, h; float weight; } hrect;
typedef struct { int nrects, tilted; hrect r[MAX_RECTS]; } hfeature;
/* left/right: > 0 another node of the tree (index within it), <= 0 leaf -v */
typedef struct { int left, right, feature; float threshold; } hnode;
typedef struct { int first_node, nnodes, first_leaf; } htree;
typedef struct { int first_tree, ntrees; float threshold; } hstage;

struct ferc_cascade {
    int win_w, win_h;
    int old_format, has_tilted, max_nodes;
    int nstages, ntrees, nnodes, nleaves, nfeatures;
    int cap_stages, cap_trees, cap_nodes, cap_leaves, cap_features;
    hstage *stages;
    htree *trees;
    hnode *nodes;
    float *leaves;
    hfeature *features;
};

/* ------------------------------------------------------------------------ */
/* Rounding as OpenCV's cvRound (nearest, ties to even)                     */
/* ------------------------------------------------------------------------ */

static inline int round_d(double v) { return (int)lrint(v); }
static inline int round_f(float v) { return (int)lrintf(v); }

/* ------------------------------------------------------------------------ */
/* Per-scale planes (pyramid.c)                                              */
/* ------------------------------------------------------------------------ */

/* Integral planes hold (h+1) rows of `stride` uint32 (modulo 2^32, as
 * OpenCV's CV_32S planes wrap; window differences are exact). Column X of a
 * row is stored at X when half == 0, or "de-interleaved" at
 * (X & 1) * half + (X >> 1) when half > 0: the scales scanned with step 2
 * then find the corners of consecutive windows at consecutive addresses. */
static inline int lay(int X, int half) { return half ? (X & 1) * half + (X >> 1) : X; }

/* Bytes of scratch ferc_detect_resize_exact needs for a dw x dh output. */
size_t ferc_detect_resize_tmp_size(int dw, int dh);

/* Resize an 8-bit gray image (sw x sh, stride ss) to dw x dh (stride ds) as
 * OpenCV 4.6 cv::resize(..., INTER_LINEAR_EXACT) does, bit for bit. tmp
 * (int-aligned) holds ferc_detect_resize_tmp_size(dw, dh) bytes. */
void ferc_detect_resize_exact(const uint8_t *src, int sw, int sh, int ss, uint8_t *dst, int dw, int dh, int ds,
                              void *tmp);

/* sum and sqsum integral planes of img (w x h, rows `is` bytes apart). */
void ferc_detect_integral(const uint8_t *img, int w, int h, int is, uint32_t *sum, uint32_t *sq, int stride,
                          int half);

/* Tilted (45 degree) integral plane; ext needs 3 * (w + 2h + 8) uint32. */
void ferc_detect_tilted(const uint8_t *img, int w, int h, int is, uint32_t *tilt, int stride, int half,
                        uint32_t *ext);

/* ------------------------------------------------------------------------ */
/* Candidate boxes                                                           */
/* ------------------------------------------------------------------------ */

typedef struct {
    ferc_box *b;
    int n, cap;
} boxlist;

/* Append b; 0 when out of memory. */
static inline int boxlist_push(boxlist *l, ferc_box b) {
    if (l->n == l->cap) {
        int nc = l->cap ? l->cap * 2 : 64;
        ferc_box *q = realloc(l->b, sizeof(ferc_box) * (size_t)nc);
        if (!q) return 0;
        l->b = q;
        l->cap = nc;
    }
    l->b[l->n++] = b;
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Window evaluation (haar.c)                                                */
/* ------------------------------------------------------------------------ */

/* A feature with its corner offsets precomputed for one integral layout. */
typedef struct {
    int o[MAX_RECTS][4];
    float w[MAX_RECTS];
} optfeat;

/* A stump (one-node tree) with its feature inlined. */
typedef struct {
    optfeat f;
    float thr, left, right;
} optstump;

/* The cascade's offsets for one integral layout. */
typedef struct {
    int nofs[4];              /* the normalisation rectangle (1, 1, w-2, h-2) */
    optfeat *feat;            /* per feature (tree cascades) */
    optstump *stump;          /* per tree, in stage order (stump cascades) */
} layout;

typedef struct {
    const ferc_cascade *c;
    int stride, plane, half;  /* integral row stride, plane size, de-interleave split */
    double area;              /* of the normalisation rectangle */
    int simd;                 /* windows may be evaluated 8 at a time */
    layout lay[2];            /* [0] plain columns (step 1), [1] de-interleaved (step 2) */
} evaluator;

/* Offsets of c for planes of `stride` uint32 per row and `plane` per plane
 * (sum, sqsum, tilted follow each other). FERC_ERR_NOMEM or FERC_OK. */
ferc_status ferc_haar_init(evaluator *ev, const ferc_cascade *c, int stride, int plane);
void ferc_haar_free(evaluator *ev);

/* Scan the windows of one scale: the planes at `sum` (integral of an image
 * that has szw x szh window positions), windows every `step` pixels, boxes
 * of bw x bh at the positions times sc pushed to out in (y, x) order. 0
 * when out of memory. */
int ferc_haar_scan(const evaluator *ev, const uint32_t *sum, int szw, int szh, int step, float sc, int bw,
                   int bh, boxlist *out);

/* ------------------------------------------------------------------------ */
/* Detection (detect.c)                                                      */
/* ------------------------------------------------------------------------ */

/* ferc_detect_faces with the vector path allowed or not (tests compare). */
ferc_status ferc_detect_faces_impl(const ferc_cascade *c, const uint8_t *gray, int w, int h, int stride,
                                   const ferc_detect_opts *opts, ferc_box *boxes, int max_boxes, int *nfound,
                                   int allow_simd, ferc_error *err);

/* The same, and each face's group size (the raw detections merged into it,
 * what min_neighbors filters on) into neighbors (room for max_boxes; NULL =
 * not wanted): ferc_find_faces turns it into a confidence. */
ferc_status ferc_detect_faces_counted(const ferc_cascade *c, const uint8_t *gray, int w, int h, int stride,
                                      const ferc_detect_opts *opts, ferc_box *boxes, int *neighbors, int max_boxes,
                                      int *nfound, int allow_simd, ferc_error *err);

/* ---- library-internal parts of the API (not in include/ferc.h) ---- */

/* The first readable of /usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml,
 * /usr/share/opencv/haarcascades/..., /usr/local/share/opencv{4,}/...; NULL if none. */
const char *ferc_cascade_default_path(void);

/* Window size of the cascade; returns its number of stages. */
int ferc_cascade_window(const ferc_cascade *c, int *w, int *h);

/* Group raw detections in place as cv::groupRectangles(boxes, min_neighbors,
 * eps): returns the new count (-1 when out of memory); neighbors (optional,
 * room for n) receives each group's size. min_neighbors <= 0 keeps all. */
int ferc_group_boxes(ferc_box *boxes, int n, int min_neighbors, double eps, int *neighbors);

/* One face as model input: the box grown by margin * its size on each side
 * (edge pixels repeated outside the image), scaled to [0,1] and resized
 * bilinearly (ferc_resize_bilinear) to size x size floats in out. tmp needs
 * (w + 2*margin*w + 1) * (h + 2*margin*h + 1) floats of the box. */
void ferc_crop_face(const uint8_t *gray, int w, int h, int stride, ferc_box box, float margin, int size,
                    float *out, float *tmp);

#endif
