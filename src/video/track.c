/* track.c — the tracker behind ferc_tracker (SORT-like): a constant-velocity
 * motion model per face box and IoU matching, so that a face keeps one ID
 * while it moves and through a few frames the detector misses.
 *
 * Why an alpha-beta filter and not SORT's full Kalman filter: a Kalman
 * filter with a constant-velocity model and fixed noises converges within a
 * few frames to fixed gains, i.e. to an alpha-beta filter; the detector's
 * boxes are what we report and classify anyway, so the box snaps to each
 * matched detection (alpha = 1) and only the velocity is filtered (beta =
 * 0.5, an average of the recent displacements). Why greedy matching and not
 * the Hungarian algorithm: with the handful of faces of a video frame and
 * a minimum IoU of 0.3, two tracks competing for one detection with
 * conflicting best matches is rare, and then the larger overlap winning is
 * the sensible answer; greedy is also what the IOU tracker (Bochinski et al.
 * 2017) uses, and it is a dozen lines that can be read at a glance. */
#include "video/video.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BETA 0.5 /* weight of the newest displacement in the velocity */

void ferc_tracker_opts_default(ferc_tracker_opts *o) {
    if (!o) return;
    *o = (ferc_tracker_opts){.max_age = 30, .min_hits = 2, .min_iou = 0.3f, .smooth = FERC_SMOOTH_EMA,
                             .alpha = 0.2f, .window = 15};
}

ferc_status ferc_tracker_new(const ferc_tracker_opts *o, ferc_tracker **out, ferc_error *err) {
    if (!out) return ferc_fail(err, FERC_ERR_ARG, "ferc_tracker_new: NULL argument");
    *out = NULL;
    ferc_tracker_opts d;
    ferc_tracker_opts_default(&d);
    if (!o) o = &d;
    if (o->max_age < 0 || o->min_hits < 1 || !(o->min_iou > 0 && o->min_iou <= 1))
        return ferc_fail(err, FERC_ERR_ARG, "tracker: max_age >= 0, min_hits >= 1 and 0 < min_iou <= 1");
    if (o->smooth == FERC_SMOOTH_EMA && !(o->alpha > 0 && o->alpha <= 1))
        return ferc_fail(err, FERC_ERR_ARG, "tracker: the EMA alpha must be in (0, 1], not %g", (double)o->alpha);
    if (o->smooth == FERC_SMOOTH_WINDOW && (o->window < 1 || o->window > 10000))
        return ferc_fail(err, FERC_ERR_ARG, "tracker: the window must be 1..10000 frames, not %d", o->window);
    if (o->smooth < FERC_SMOOTH_NONE || o->smooth > FERC_SMOOTH_WINDOW)
        return ferc_fail(err, FERC_ERR_ARG, "tracker: unknown smoothing %d", (int)o->smooth);
    ferc_tracker *t = calloc(1, sizeof *t);
    if (!t) return ferc_fail(err, FERC_ERR_NOMEM, "tracker: out of memory");
    t->o = *o;
    *out = t;
    return FERC_OK;
}

void ferc_tracker_free(ferc_tracker *t) {
    if (!t) return;
    for (int i = 0; i < t->n; i++) smooth_free(&t->tr[i].sm);
    for (int i = 0; i < t->nhist; i++) history_free(&t->hist[i]);
    free(t->tr);
    free(t->out);
    free(t->out_track);
    free(t->hist);
    free(t->probs);
    free(t->boxes);
    ferc_faces_free(&t->faces);
    free(t);
}

double track_iou(ferc_box a, ferc_box b) {
    if (a.w <= 0 || a.h <= 0 || b.w <= 0 || b.h <= 0) return 0;
    long x0 = a.x > b.x ? a.x : b.x, y0 = a.y > b.y ? a.y : b.y;
    long x1 = a.x + a.w < b.x + b.w ? a.x + a.w : b.x + b.w, y1 = a.y + a.h < b.y + b.h ? a.y + a.h : b.y + b.h;
    if (x1 <= x0 || y1 <= y0) return 0;
    double inter = (double)(x1 - x0) * (double)(y1 - y0);
    return inter / ((double)a.w * a.h + (double)b.w * b.h - inter);
}

ferc_box track_predict(const track_state *s, long f) {
    double dt = (double)(f - s->state_frame);
    double w = s->w + s->vw * dt, h = s->h + s->vh * dt;
    if (w < 1) w = 1;
    if (h < 1) h = 1;
    double cx = s->cx + s->vx * dt, cy = s->cy + s->vy * dt;
    return (ferc_box){.x = (int)lround(cx - w / 2), .y = (int)lround(cy - h / 2), .w = (int)lround(w),
                      .h = (int)lround(h)};
}

void track_match_greedy(const double *iou, int nt, int nd, double min_iou, int *match) {
    for (int i = 0; i < nt; i++) match[i] = -1;
    for (;;) { /* nt * nd is a few dozen: rescanning beats sorting */
        int bt = -1, bd = -1;
        double best = min_iou;
        for (int i = 0; i < nt; i++) {
            if (match[i] >= 0) continue;
            for (int j = 0; j < nd; j++) {
                int taken = 0;
                for (int k = 0; k < nt && !taken; k++) taken = match[k] == j;
                if (!taken && iou[(size_t)i * nd + j] >= best && (bt < 0 || iou[(size_t)i * nd + j] > best)) {
                    best = iou[(size_t)i * nd + j];
                    bt = i;
                    bd = j;
                }
            }
        }
        if (bt < 0) return;
        match[bt] = bd;
    }
}

/* The state of a track moved to detection b at frame f. */
static void correct(track_state *s, ferc_box b, long f) {
    double cx = b.x + b.w / 2.0, cy = b.y + b.h / 2.0, dt = (double)(f - s->state_frame);
    if (dt < 1) dt = 1;
    double mv[4] = {(cx - s->cx) / dt, (cy - s->cy) / dt, (b.w - s->w) / dt, (b.h - s->h) / dt};
    double *v[4] = {&s->vx, &s->vy, &s->vw, &s->vh};
    for (int k = 0; k < 4; k++) *v[k] = s->hits == 1 ? mv[k] : *v[k] + BETA * (mv[k] - *v[k]);
    s->cx = cx;
    s->cy = cy;
    s->w = b.w;
    s->h = b.h;
    s->state_frame = f;
    s->last_det = f;
    s->hits++;
}

/* Give track s its ID and a history: 0 when out of memory. */
static int confirm(ferc_tracker *t, track_state *s) {
    if (t->nhist == t->cap_hist) {
        int nc = t->cap_hist ? 2 * t->cap_hist : 16;
        track_history *h = realloc(t->hist, sizeof *h * (size_t)nc);
        if (!h) return 0;
        t->hist = h;
        t->cap_hist = nc;
    }
    s->id = ++t->next_id;
    s->hist = t->nhist;
    t->hist[t->nhist++] = (track_history){.id = s->id};
    return 1;
}

/* A new tentative track at detection b: 0 when out of memory. */
static int spawn(ferc_tracker *t, ferc_box b, long f) {
    if (t->n == t->cap) {
        int nc = t->cap ? 2 * t->cap : 16;
        track_state *p = realloc(t->tr, sizeof *p * (size_t)nc);
        if (!p) return 0;
        t->tr = p;
        t->cap = nc;
    }
    track_state *s = &t->tr[t->n];
    *s = (track_state){.first_frame = f, .state_frame = f, .hist = -1};
    if (!smooth_init(&s->sm, t->o.smooth, t->o.window)) return 0;
    correct(s, b, f); /* hits 0 -> 1, velocity 0 */
    s->vx = s->vy = s->vw = s->vh = 0;
    t->n++;
    return 1;
}

/* Drop tracks too long unmatched, and tentative ones that missed a
 * detection (a face must be found again to become a track). */
static void prune(ferc_tracker *t, long f, int detection_frame) {
    int k = 0;
    for (int i = 0; i < t->n; i++) {
        track_state *s = &t->tr[i];
        int dead = f - s->last_det > t->o.max_age || (detection_frame && s->id == 0 && s->last_det != f);
        if (dead) smooth_free(&s->sm);
        else t->tr[k++] = *s;
    }
    t->n = k;
}

/* Room for n reported tracks. */
static int reserve_out(ferc_tracker *t, int n) {
    if (n <= t->cap_out) return 1;
    ferc_track *o = realloc(t->out, sizeof *o * (size_t)n);
    if (!o) return 0;
    t->out = o;
    int *ot = realloc(t->out_track, sizeof *ot * (size_t)n);
    if (!ot) return 0;
    t->out_track = ot;
    t->cap_out = n;
    return 1;
}

/* Match the detections to the tracks, correct, confirm and spawn: match[]
 * (room for t->n) gets each track's detection. 0 when out of memory. */
static int associate(ferc_tracker *t, long f, const ferc_box *boxes, int n, int *match) {
    int nt = t->n;
    double *iou = calloc((size_t)nt * (size_t)n + 1, sizeof(double));
    char *used = calloc((size_t)n + 1, 1);
    int ok = iou && used;
    if (ok) {
        for (int i = 0; i < nt; i++)
            for (int j = 0; j < n; j++) iou[(size_t)i * n + j] = track_iou(track_predict(&t->tr[i], f), boxes[j]);
        track_match_greedy(iou, nt, n, t->o.min_iou, match);
        for (int i = 0; i < nt; i++)
            if (match[i] >= 0) {
                correct(&t->tr[i], boxes[match[i]], f);
                t->tr[i].det = match[i];
                used[match[i]] = 1;
            }
        for (int j = 0; j < n && ok; j++)
            if (!used[j] && (ok = spawn(t, boxes[j], f))) t->tr[t->n - 1].det = j;
        for (int i = 0; i < t->n && ok; i++) {
            track_state *s = &t->tr[i];
            if (s->id == 0 && s->last_det == f && (s->hits >= t->o.min_hits || t->det_frames <= t->o.min_hits))
                ok = confirm(t, s);
        }
    }
    free(iou);
    free(used);
    return ok;
}

static int cmp_out(const void *a, const void *b) {
    return ((const ferc_track *)a)->id - ((const ferc_track *)b)->id;
}

/* The tracks to report at frame f: confirmed, matched at the last
 * detection frame; their detection (at a detection frame) or their clipped
 * prediction. conf: the detections' confidences, or NULL. */
static void report(ferc_tracker *t, long f, const float *conf, int w, int h) {
    t->nout = 0;
    for (int i = 0; i < t->n; i++) {
        const track_state *s = &t->tr[i];
        if (s->id == 0 || s->last_det != t->last_det_frame) continue;
        ferc_box b = track_predict(s, f); /* the detection itself when matched at f */
        int x1 = b.x + b.w < w ? b.x + b.w : w, y1 = b.y + b.h < h ? b.y + b.h : h;
        b.x = b.x < 0 ? 0 : b.x;
        b.y = b.y < 0 ? 0 : b.y;
        b.w = x1 - b.x;
        b.h = y1 - b.y;
        if (b.w < 2 || b.h < 2) continue; /* carried out of the picture */
        ferc_track *o = &t->out[t->nout];
        *o = (ferc_track){.id = s->id, .box = b, .det = s->det, .confidence = -1};
        if (o->det >= 0 && conf) o->confidence = conf[o->det];
        t->out_track[t->nout++] = i;
    }
    /* sort by ID, keeping out_track in step: a handful of entries */
    for (int a = 1; a < t->nout; a++)
        for (int b = a; b > 0 && cmp_out(&t->out[b - 1], &t->out[b]) > 0; b--) {
            ferc_track x = t->out[b];
            t->out[b] = t->out[b - 1];
            t->out[b - 1] = x;
            int y = t->out_track[b];
            t->out_track[b] = t->out_track[b - 1];
            t->out_track[b - 1] = y;
        }
}

ferc_status ferc_tracker_update(ferc_tracker *t, long frame, const ferc_box *boxes, const float *conf, int n, int w,
                                int h, ferc_error *err) {
    if (!t || (boxes == NULL && n > 0) || n < 0 || w <= 0 || h <= 0)
        return ferc_fail(err, FERC_ERR_ARG, "ferc_tracker_update: bad arguments");
    if (t->started && frame <= t->last_frame)
        return ferc_fail(err, FERC_ERR_ARG, "ferc_tracker_update: frame %ld after frame %ld", frame, t->last_frame);
    t->started = 1;
    t->last_frame = frame;
    t->nout = 0;
    for (int i = 0; i < t->n; i++) t->tr[i].det = -1;
    if (boxes) {
        t->det_frames++;
        int *match = malloc(sizeof(int) * ((size_t)t->n + 1));
        int ok = match && associate(t, frame, boxes, n, match);
        free(match);
        if (!ok) return ferc_fail(err, FERC_ERR_NOMEM, "tracker: out of memory");
        t->last_det_frame = frame;
    }
    prune(t, frame, boxes != NULL);
    if (!reserve_out(t, t->n + 1)) return ferc_fail(err, FERC_ERR_NOMEM, "tracker: out of memory");
    report(t, frame, boxes ? conf : NULL, w, h);
    return FERC_OK;
}

const ferc_track *ferc_tracker_tracks(const ferc_tracker *t, int *n) {
    if (n) *n = t ? t->nout : 0;
    return t ? t->out : NULL;
}

ferc_status ferc_tracker_observe(ferc_tracker *t, int i, const float *probs, ferc_error *err) {
    if (!t || !probs || i < 0 || i >= t->nout)
        return ferc_fail(err, FERC_ERR_ARG, "ferc_tracker_observe: no reported track %d", i);
    track_state *s = &t->tr[t->out_track[i]];
    ferc_track *o = &t->out[i];
    memcpy(o->raw, probs, sizeof o->raw);
    smooth_push(&s->sm, t->o.smooth, t->o.alpha, probs, o->smooth);
    if (!history_push(&t->hist[s->hist], t->last_frame, o->smooth, o->raw))
        return ferc_fail(err, FERC_ERR_NOMEM, "tracker: out of memory");
    return FERC_OK;
}
