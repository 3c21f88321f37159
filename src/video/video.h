/* video/video.h — internal header of the video folder (not public): the
 * tracker's innards shared by track.c (motion, matching, the frame step),
 * smooth.c (smoothing and per-track histories) and timeline.c (the
 * picture), and the small maths the tests check directly. */
#ifndef FERC_VIDEO_H
#define FERC_VIDEO_H

#include "core/core.h"

/* ---- smoothing (smooth.c) ---- */

/* The smoothing state of one track: the EMA so far, or a ring of the last
 * `window` probability vectors. */
typedef struct {
    int n;                              /* observations so far */
    float ema[FERC_NUM_CLASSES];
    float *ring;                        /* (window, 7) for FERC_SMOOTH_WINDOW */
    int window;
} smooth_state;

/* Room for the ring (window > 0 with FERC_SMOOTH_WINDOW); 0 when out of memory. */
int smooth_init(smooth_state *s, ferc_smooth_kind kind, int window);
void smooth_free(smooth_state *s);
/* Add p and write the smoothed probabilities to out: EMA out = a p + (1 - a) out
 * (the first observation as is), window = mean of the last min(n, window). */
void smooth_push(smooth_state *s, ferc_smooth_kind kind, float alpha, const float *p, float *out);

/* What a track leaves behind: its rows (frame + smoothed and raw labels +
 * smoothed probabilities) for the summary, the flicker count and the timeline. */
typedef struct {
    int id;
    long n, cap;
    long *frame;
    float *probs;                       /* (n, 7) smoothed */
    signed char *raw_label;
} track_history;

/* Append one row; 0 when out of memory. */
int history_push(track_history *h, long frame, const float *smooth, const float *raw);
void history_free(track_history *h);

/* ---- tracking (track.c) ---- */

/* One live track: the box state at state_frame and its per-frame velocity. */
typedef struct {
    int id;                             /* 0 while tentative */
    int hits;
    long first_frame, last_det;         /* frame of the first and of the last matched detection */
    long state_frame;
    double cx, cy, w, h, vx, vy, vw, vh;
    int hist;                           /* index in ferc_tracker.hist once confirmed, else -1 */
    int det;                            /* the detection matched in this update, -1 */
    smooth_state sm;
} track_state;

struct ferc_tracker {
    ferc_tracker_opts o;
    track_state *tr;
    int n, cap;
    int next_id;
    long det_frames;                    /* detection frames seen */
    long last_frame, last_det_frame;
    int started;
    ferc_track *out;                    /* reported this frame */
    int *out_track;                     /* index in tr of each reported track */
    int nout, cap_out;
    track_history *hist;
    int nhist, cap_hist;
    ferc_faces faces;                   /* detections of ferc_track_faces */
    float *probs;                       /* scratch for the carried boxes' probabilities */
    ferc_box *boxes;
    int cap_scratch;
};

/* Intersection over union of two boxes (0 when either is empty). */
double track_iou(ferc_box a, ferc_box b);
/* The box of a track predicted at frame f (rounded, not clipped). */
ferc_box track_predict(const track_state *s, long f);
/* Greedy matching by IoU: pairs (track, detection) with the largest IoU
 * first, each at least min_iou; match[t] = detection or -1. iou is (nt, nd). */
void track_match_greedy(const double *iou, int nt, int nd, double min_iou, int *match);

/* ---- the timeline (timeline.c) ---- */

/* The panel layout: width and height of the picture for ntracks panels. */
void timeline_size(int ntracks, int *w, int *h);

#endif
