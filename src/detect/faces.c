/* faces.c — ferc_find_faces: the whole "faces of a photo or a video frame"
 * step in one call (detect, then classify every box found), so that the
 * commands that need it (`ferc predict`, `ferc video`) share one sequence
 * and one set of options instead of each growing its own box buffers. The
 * faces come most confident first (the cascade's votes), so that a user can
 * keep the best ones (max_faces, largest) without classifying the rest. */
#include "detect/detect.h"

#include <stdlib.h>

void ferc_find_opts_default(ferc_find_opts *o) {
    if (!o) return;
    *o = (ferc_find_opts){.margin = 0.1f};
    ferc_detect_opts_default(&o->detect);
}

void ferc_faces_free(ferc_faces *f) {
    if (!f) return;
    free(f->boxes);
    free(f->probs);
    free(f->confidence);
    free(f->neighbors);
    *f = (ferc_faces){0};
}

/* Room for at least n faces in f; 0 when out of memory (f still valid, its
 * room as before). The first size is 64: a photo rarely holds more faces. */
static int reserve(ferc_faces *f, int n) {
    if (n <= f->cap && f->confidence && f->neighbors) return 1;
    if (n < 64) n = 64;
    if (n < f->cap) n = f->cap;
    ferc_box *b = realloc(f->boxes, sizeof(ferc_box) * (size_t)n);
    if (!b) return 0;
    f->boxes = b;
    float *p = realloc(f->probs, sizeof(float) * FERC_NUM_CLASSES * (size_t)n);
    if (!p) return 0;
    f->probs = p;
    float *c = realloc(f->confidence, sizeof(float) * (size_t)n);
    if (!c) return 0;
    f->confidence = c;
    int *k = realloc(f->neighbors, sizeof(int) * (size_t)n);
    if (!k) return 0;
    f->neighbors = k;
    f->cap = n;
    return 1;
}

/* Most raw detections first, ties in the detector's order; 0 when out of
 * memory. */
typedef struct { ferc_box b; int votes, i; } ranked;
static int cmp_ranked(const void *x, const void *y) {
    const ranked *p = x, *q = y;
    if (p->votes != q->votes) return p->votes > q->votes ? -1 : 1;
    return (p->i > q->i) - (p->i < q->i);
}
static int order_by_votes(ferc_faces *f, int n) {
    if (n < 2) return 1;
    ranked *r = malloc(sizeof(ranked) * (size_t)n);
    if (!r) return 0;
    for (int i = 0; i < n; i++) r[i] = (ranked){.b = f->boxes[i], .votes = f->neighbors[i], .i = i};
    qsort(r, (size_t)n, sizeof *r, cmp_ranked);
    for (int i = 0; i < n; i++) { f->boxes[i] = r[i].b; f->neighbors[i] = r[i].votes; }
    free(r);
    return 1;
}

/* Keep what the options ask for: the largest face only, or the first
 * max_faces; returns the new count. */
static int keep(ferc_faces *f, int n, const ferc_find_opts *o) {
    if (o->largest && n > 1) {
        int best = 0;
        for (int i = 1; i < n; i++)
            if ((long)f->boxes[i].w * f->boxes[i].h > (long)f->boxes[best].w * f->boxes[best].h) best = i;
        f->boxes[0] = f->boxes[best];
        f->neighbors[0] = f->neighbors[best];
        n = 1;
    }
    if (o->max_faces > 0 && n > o->max_faces) n = o->max_faces;
    return n;
}

ferc_status ferc_find_faces(const ferc_cascade *c, ferc_model *model, const uint8_t *gray, int w, int h, int stride,
                            const ferc_find_opts *opts, ferc_faces *out, ferc_error *err) {
    if (!out) return ferc_fail(err, FERC_ERR_ARG, "ferc_find_faces: NULL argument");
    out->n = 0;
    if (!c || !model || !gray) return ferc_fail(err, FERC_ERR_ARG, "ferc_find_faces: NULL argument");
    ferc_find_opts o;
    if (opts) o = *opts;
    else ferc_find_opts_default(&o);
    if (o.max_faces < 0) return ferc_fail(err, FERC_ERR_ARG, "ferc_find_faces: max_faces %d is negative", o.max_faces);
    if (!reserve(out, 1)) return ferc_fail(err, FERC_ERR_NOMEM, "out of memory");
    /* The detector reports how many faces there are even when they do not
     * fit: then grow and detect again (the boxes do not depend on the room). */
    int n = 0;
    ferc_status st = ferc_detect_faces_counted(c, gray, w, h, stride, &o.detect, out->boxes, out->neighbors, out->cap,
                                               &n, 1, err);
    while (st == FERC_OK && n > out->cap) {
        if (!reserve(out, n)) return ferc_fail(err, FERC_ERR_NOMEM, "out of memory");
        st = ferc_detect_faces_counted(c, gray, w, h, stride, &o.detect, out->boxes, out->neighbors, out->cap, &n, 1,
                                       err);
    }
    if (st != FERC_OK) return st;
    if (!order_by_votes(out, n)) return ferc_fail(err, FERC_ERR_NOMEM, "out of memory");
    n = keep(out, n, &o);
    for (int i = 0; i < n; i++) out->confidence[i] = (float)out->neighbors[i] / ((float)out->neighbors[i] + 10.f);
    if (n > 0) st = ferc_classify_faces(model, gray, w, h, stride, out->boxes, n, o.margin, out->probs, err);
    if (st == FERC_OK) out->n = n;
    return st;
}
