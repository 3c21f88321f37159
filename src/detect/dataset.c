/* dataset.c — image folders of whole photos as datasets
 * (ferc_dataset_load_faces). A folder ROOT/<label>/ of .jpg of holiday photos
 * resized whole to 48x48 is not a face: a model scores it at chance and
 * nobody is told. Here each image that is larger than a face crop (or every
 * image, when asked) becomes the largest face the Haar detector finds in
 * it, cropped with the margin `ferc predict` uses, and images without a face
 * are counted and left out. It lives in detect/ because data/ sits below the
 * detector: data.c lists and decodes the folder and calls back here. */
#include "detect/detect.h"
#include "data/data.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    ferc_face_load_opts fo;
    int above;                 /* AUTO: detect in images with a side over this */
    ferc_find_opts find;       /* the detector options and margin of ferc_find_faces */
    pthread_mutex_t mu;        /* the cascade is loaded once, by the first image that needs it */
    int tried;
    ferc_cascade *cascade;
    ferc_error cascade_err;
} face_ctx;

/* The cascade, loaded on first use so that a folder of face crops never
 * needs opencv-data; NULL with err filled when it cannot be loaded. */
static const ferc_cascade *get_cascade(face_ctx *x, ferc_error *err) {
    pthread_mutex_lock(&x->mu);
    if (!x->tried) {
        x->tried = 1;
        ferc_cascade_load(x->fo.cascade, &x->cascade, &x->cascade_err);
    }
    const ferc_cascade *c = x->cascade;
    if (!c && err) *err = x->cascade_err;
    pthread_mutex_unlock(&x->mu);
    return c;
}

/* The largest box the detector finds in g (by area; the first on ties):
 * 1 found, 0 none, -1 error. */
static int largest_face(const ferc_cascade *c, const ferc_image *g, const ferc_detect_opts *dop, ferc_box *best,
                        ferc_error *err) {
    ferc_box few[64], *boxes = few;
    int cap = 64, n = 0;
    ferc_status st = ferc_detect_faces(c, g->data, g->w, g->h, g->w, dop, boxes, cap, &n, err);
    if (st == FERC_OK && n > cap) { /* more faces than room: detect again with room for all */
        cap = n;
        boxes = malloc(sizeof *boxes * (size_t)cap);
        st = boxes ? ferc_detect_faces(c, g->data, g->w, g->h, g->w, dop, boxes, cap, &n, err)
                   : ferc_fail(err, FERC_ERR_NOMEM, "out of memory for %d faces", cap);
        if (!boxes) boxes = few;
    }
    int k = -1;
    for (int i = 0; st == FERC_OK && i < n && i < cap; i++)
        if (k < 0 || (long)boxes[i].w * boxes[i].h > (long)boxes[k].w * boxes[k].h) k = i;
    if (k >= 0) *best = boxes[k];
    if (boxes != few) free(boxes);
    return st != FERC_OK ? -1 : k >= 0;
}

/* The data_face_fn: a DATA_FACE_* code for one decoded gray image. */
static int face_of(void *user, const ferc_image *g, int size, uint8_t *out, ferc_error *err) {
    face_ctx *x = user;
    if (x->fo.mode == FERC_DETECT_NEVER) return DATA_FACE_WHOLE;
    if (x->fo.mode == FERC_DETECT_AUTO && g->w <= x->above && g->h <= x->above) return DATA_FACE_WHOLE;
    const ferc_cascade *c = get_cascade(x, err);
    if (!c) return DATA_FACE_ERROR;
    ferc_box b;
    int found = largest_face(c, g, &x->find.detect, &b, err);
    if (found <= 0) return found < 0 ? DATA_FACE_ERROR : DATA_FACE_NONE;
    float m = x->find.margin;
    size_t cw = (size_t)(b.w * (1 + 2 * (double)m) + 3), ch = (size_t)(b.h * (1 + 2 * (double)m) + 3);
    float *tmp = malloc(sizeof(float) * cw * ch), *face = malloc(sizeof(float) * (size_t)size * size);
    if (!tmp || !face) {
        free(tmp); free(face);
        ferc_fail(err, FERC_ERR_NOMEM, "out of memory for a %dx%d face", b.w, b.h);
        return DATA_FACE_ERROR;
    }
    ferc_crop_face(g->data, g->w, g->h, g->w, b, m, size, face, tmp);
    for (size_t i = 0; i < (size_t)size * size; i++) {
        float v = floorf(face[i] * 255.0f + 0.5f);
        out[i] = (uint8_t)(v < 0.f ? 0.f : v > 255.f ? 255.f : v);
    }
    free(tmp);
    free(face);
    return DATA_FACE_CROPPED;
}

ferc_status ferc_dataset_load_faces(const char *path, const ferc_load_opts *opts, const ferc_face_load_opts *faces,
                                    ferc_dataset *out, ferc_load_info *info, ferc_error *err) {
    face_ctx x = {.fo = {.mode = FERC_DETECT_AUTO, .above = 0, .cascade = NULL}};
    if (faces) x.fo = *faces;
    if (x.fo.mode != FERC_DETECT_AUTO && x.fo.mode != FERC_DETECT_ALWAYS && x.fo.mode != FERC_DETECT_NEVER)
        return ferc_fail(err, FERC_ERR_ARG, "ferc_dataset_load_faces: unknown detect mode %d", (int)x.fo.mode);
    int size = opts && opts->size > 0 ? opts->size : 48;
    x.above = x.fo.above > 0 ? x.fo.above : 2 * size;
    ferc_find_opts_default(&x.find);
    x.find.detect.threads = 1; /* the images are already spread over the threads */
    if (pthread_mutex_init(&x.mu, NULL) != 0) return ferc_fail(err, FERC_ERR_INTERNAL, "cannot create a mutex");
    ferc_status st = data_load(path, opts, face_of, &x, out, info, err);
    pthread_mutex_destroy(&x.mu);
    ferc_cascade_free(x.cascade);
    return st;
}
