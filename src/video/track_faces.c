/* track_faces.c — ferc_track_faces, one video frame in one call: find the
 * faces (the cascade, or boxes from another detector), track them, and give
 * every reported track its probabilities. A face is classified once per
 * frame: a matched detection brings the probabilities ferc_find_faces
 * computed for it, and only the boxes carried by the motion model between
 * detection frames are classified here, in one batch. */
#include "video/video.h"

#include <stdlib.h>

/* Room for n boxes and their probabilities in the scratch buffers. */
static int reserve(ferc_tracker *t, int n) {
    if (n <= t->cap_scratch) return 1;
    ferc_box *b = realloc(t->boxes, sizeof *b * (size_t)n);
    if (!b) return 0;
    t->boxes = b;
    float *p = realloc(t->probs, sizeof(float) * FERC_NUM_CLASSES * (size_t)n);
    if (!p) return 0;
    t->probs = p;
    t->cap_scratch = n;
    return 1;
}

/* The given boxes clipped to the picture (those left with less than 2x2
 * pixels dropped) into t->boxes, classified into t->probs; *k their count. */
static ferc_status given_boxes(ferc_tracker *t, ferc_model *model, const uint8_t *gray, int w, int h, int stride,
                               const ferc_box *boxes, int n, float margin, int *kept, ferc_error *err) {
    if (!reserve(t, n + 1)) return ferc_fail(err, FERC_ERR_NOMEM, "tracker: out of memory");
    int k = 0;
    for (int i = 0; i < n; i++) {
        ferc_box b = boxes[i];
        long x0 = b.x < 0 ? 0 : b.x, y0 = b.y < 0 ? 0 : b.y;
        long x1 = (long)b.x + b.w < w ? (long)b.x + b.w : w, y1 = (long)b.y + b.h < h ? (long)b.y + b.h : h;
        if (x1 - x0 >= 2 && y1 - y0 >= 2)
            t->boxes[k++] = (ferc_box){.x = (int)x0, .y = (int)y0, .w = (int)(x1 - x0), .h = (int)(y1 - y0)};
    }
    *kept = k;
    return k > 0 ? ferc_classify_faces(model, gray, w, h, stride, t->boxes, k, margin, t->probs, err) : FERC_OK;
}

/* Classify the carried (det < 0) tracks' boxes and observe every track;
 * det_probs: the detections' probabilities, NULL when they are in t->probs
 * (given boxes: at a detection frame no track is carried, so nothing is
 * classified here and t->probs stays theirs). */
static ferc_status observe_all(ferc_tracker *t, ferc_model *model, const uint8_t *gray, int w, int h, int stride,
                               const float *det_probs, float margin, ferc_error *err) {
    int n, nc = 0;
    const ferc_track *tr = ferc_tracker_tracks(t, &n);
    if (!reserve(t, n + 1)) return ferc_fail(err, FERC_ERR_NOMEM, "tracker: out of memory");
    for (int i = 0; i < n; i++)
        if (tr[i].det < 0) t->boxes[nc++] = tr[i].box;
    ferc_status st = FERC_OK;
    if (nc > 0 && (st = ferc_classify_faces(model, gray, w, h, stride, t->boxes, nc, margin, t->probs, err)) != FERC_OK)
        return st;
    if (!det_probs) det_probs = t->probs; /* read after reserve(), which may move it */
    for (int i = 0, c = 0; i < n && st == FERC_OK; i++) {
        const float *p = tr[i].det >= 0 ? det_probs + (size_t)tr[i].det * FERC_NUM_CLASSES
                                        : t->probs + (size_t)(c++) * FERC_NUM_CLASSES;
        st = ferc_tracker_observe(t, i, p, err);
    }
    return st;
}

ferc_status ferc_track_faces(ferc_tracker *t, const ferc_cascade *c, ferc_model *model, const uint8_t *gray, int w,
                             int h, int stride, long frame, int detect, const ferc_box *boxes, int n,
                             const ferc_find_opts *o, ferc_error *err) {
    if (!t || !model || !gray || (detect && !boxes && !c) || n < 0 || (n > 0 && !boxes))
        return ferc_fail(err, FERC_ERR_ARG, "ferc_track_faces: NULL argument");
    ferc_find_opts d;
    ferc_find_opts_default(&d);
    if (!o) o = &d;
    const ferc_box *db = NULL;
    const float *conf = NULL, *det_probs = NULL;
    int nd = 0;
    ferc_status st;
    if (detect && !boxes) {
        if ((st = ferc_find_faces(c, model, gray, w, h, stride, o, &t->faces, err)) != FERC_OK) return st;
        db = t->faces.boxes;
        nd = t->faces.n;
        conf = t->faces.confidence;
        det_probs = t->faces.probs;
    } else if (detect) {
        if ((st = given_boxes(t, model, gray, w, h, stride, boxes, n, o->margin, &nd, err)) != FERC_OK) return st;
        db = t->boxes; /* their probabilities: t->probs (det_probs NULL) */
    }
    static const ferc_box none;
    if ((st = ferc_tracker_update(t, frame, detect ? (db ? db : &none) : NULL, conf, nd, w, h, err)) != FERC_OK)
        return st;
    return observe_all(t, model, gray, w, h, stride, det_probs, o->margin, err);
}
