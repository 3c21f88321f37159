/* faces.c — ferc_find_faces: the whole "faces of a photo or a video frame"
 * step in one call (detect, then classify every box found), so that the
 * commands that need it (`ferc predict`, `ferc video`) share one sequence
 * and one set of options instead of each growing its own box buffers. */
#include "core/core.h"

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
    *f = (ferc_faces){0};
}

/* Room for at least n faces in f; 0 when out of memory (f still valid, its
 * room as before). The first size is 64: a photo rarely holds more faces. */
static int reserve(ferc_faces *f, int n) {
    if (n <= f->cap) return 1;
    if (n < 64) n = 64;
    ferc_box *b = realloc(f->boxes, sizeof(ferc_box) * (size_t)n);
    if (!b) return 0;
    f->boxes = b;
    float *p = realloc(f->probs, sizeof(float) * FERC_NUM_CLASSES * (size_t)n);
    if (!p) return 0;
    f->probs = p;
    f->cap = n;
    return 1;
}

ferc_status ferc_find_faces(const ferc_cascade *c, ferc_model *model, const uint8_t *gray, int w, int h, int stride,
                            const ferc_find_opts *opts, ferc_faces *out, ferc_error *err) {
    if (!out) return ferc_fail(err, FERC_ERR_ARG, "ferc_find_faces: NULL argument");
    out->n = 0;
    if (!c || !model || !gray) return ferc_fail(err, FERC_ERR_ARG, "ferc_find_faces: NULL argument");
    ferc_find_opts o;
    if (opts) o = *opts;
    else ferc_find_opts_default(&o);
    if (!reserve(out, 1)) return ferc_fail(err, FERC_ERR_NOMEM, "out of memory");
    /* The detector reports how many faces there are even when they do not
     * fit: then grow and detect again (the boxes do not depend on the room). */
    int n = 0;
    ferc_status st = ferc_detect_faces(c, gray, w, h, stride, &o.detect, out->boxes, out->cap, &n, err);
    while (st == FERC_OK && n > out->cap) {
        if (!reserve(out, n)) return ferc_fail(err, FERC_ERR_NOMEM, "out of memory");
        st = ferc_detect_faces(c, gray, w, h, stride, &o.detect, out->boxes, out->cap, &n, err);
    }
    if (st == FERC_OK && n > 0)
        st = ferc_classify_faces(model, gray, w, h, stride, out->boxes, n, o.margin, out->probs, err);
    if (st == FERC_OK) out->n = n;
    return st;
}
