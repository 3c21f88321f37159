/* test_track.c — the tracker and the smoothing of src/video/ (issue 16):
 * synthetic detections of faces that move, cross and disappear for a few
 * frames must keep their IDs; carried boxes follow the motion; the EMA and
 * window maths; summaries and the timeline picture. No video files: the
 * boxes are made here, frame by frame. */
#include "test.h"
#include "video/video.h"

#include <stdlib.h>
#include <string.h>

static ferc_tracker *new_tracker(int max_age, int min_hits) {
    ferc_tracker_opts o;
    ferc_tracker_opts_default(&o);
    o.max_age = max_age;
    o.min_hits = min_hits;
    ferc_tracker *t = NULL;
    ferc_error err;
    CHECK_EQ_INT(ferc_tracker_new(&o, &t, &err), FERC_OK);
    return t;
}

/* The ID reported for the track whose box overlaps b most, 0 when none. */
static int id_at(const ferc_tracker *t, ferc_box b) {
    int n, id = 0;
    double best = 0.3;
    const ferc_track *tr = ferc_tracker_tracks(t, &n);
    for (int i = 0; i < n; i++)
        if (track_iou(tr[i].box, b) > best) { best = track_iou(tr[i].box, b); id = tr[i].id; }
    return id;
}

/* Two faces walk towards each other and cross (A left to right above, B
 * right to left below, overlapping at mid-way); A vanishes for 4 frames.
 * Every frame of each face reports the ID it had on its first frame. */
TEST(track_moving_crossing_and_missed_faces_keep_ids) {
    ferc_tracker *t = new_tracker(10, 2);
    if (!t) return;
    ferc_error err;
    int idA = 0, idB = 0;
    for (int f = 0; f < 60; f++) {
        ferc_box a = {.x = 20 + 8 * f, .y = 100, .w = 80, .h = 80}, b = {.x = 500 - 8 * f, .y = 150, .w = 80, .h = 80};
        int hideA = f >= 20 && f < 24;
        ferc_box det[2];
        int n = 0;
        if (!hideA) det[n++] = a;
        det[n++] = b;
        CHECK_EQ_INT(ferc_tracker_update(t, f, det, NULL, n, 640, 480, &err), FERC_OK);
        int ia = hideA ? -1 : id_at(t, a), ib = id_at(t, b);
        if (f == 0) { idA = ia; idB = ib; CHECK(idA > 0 && idB > 0 && idA != idB); }
        if (!hideA) CHECK_MSG(ia == idA, "frame %d: face A has ID %d, not %d", f, ia, idA);
        CHECK_MSG(ib == idB, "frame %d: face B has ID %d, not %d", f, ib, idB);
        int nr;
        ferc_tracker_tracks(t, &nr);
        CHECK_MSG(nr == n, "frame %d: %d tracks reported for %d faces", f, nr, n);
    }
    CHECK_EQ_INT(ferc_tracker_summary_count(t), 2);
    ferc_tracker_free(t);
}

/* A face gone longer than max_age comes back with a new ID; a one-frame
 * false detection after the start never gets an ID (min_hits 2). */
TEST(track_max_age_and_min_hits) {
    ferc_tracker *t = new_tracker(3, 2);
    if (!t) return;
    ferc_error err;
    ferc_box a = {.x = 100, .y = 100, .w = 60, .h = 60}, ghost = {.x = 400, .y = 300, .w = 50, .h = 50};
    int first = 0;
    for (int f = 0; f < 20; f++) {
        int gone = f >= 5 && f < 10; /* 5 frames > max_age 3 */
        ferc_box det[2] = {a, ghost};
        int n = gone ? 0 : (f == 12 ? 2 : 1);
        CHECK_EQ_INT(ferc_tracker_update(t, f, det, NULL, n, 640, 480, &err), FERC_OK);
        if (f == 0) first = id_at(t, a);
        if (f == 12) CHECK_EQ_INT(id_at(t, ghost), 0);
        if (!gone && f < 5) CHECK_EQ_INT(id_at(t, a), first);
        if (f == 10) CHECK_EQ_INT(id_at(t, a), 0);        /* new, tentative: not reported yet */
        if (f >= 11) CHECK(id_at(t, a) > first);
    }
    CHECK_EQ_INT(ferc_tracker_summary_count(t), 2); /* the face twice, the ghost never */
    ferc_tracker_free(t);
}

/* Detection every 4th frame: in between the boxes are carried by the
 * velocity learnt from the detections (8 px per frame to the right). */
TEST(track_carries_boxes_between_detections) {
    ferc_tracker *t = new_tracker(30, 1);
    if (!t) return;
    ferc_error err;
    for (int f = 0; f < 24; f++) {
        ferc_box a = {.x = 50 + 8 * f, .y = 200, .w = 64, .h = 64};
        int detect = f % 4 == 0;
        CHECK_EQ_INT(ferc_tracker_update(t, f, detect ? &a : NULL, NULL, detect, 640, 480, &err), FERC_OK);
        int n;
        const ferc_track *tr = ferc_tracker_tracks(t, &n);
        CHECK_EQ_INT(n, 1);
        if (n != 1) continue;
        CHECK_EQ_INT(tr[0].id, 1);
        CHECK_EQ_INT(tr[0].det, detect ? 0 : -1);
        if (f >= 5) CHECK_MSG(abs(tr[0].box.x - a.x) <= 1, "frame %d: carried x %d, face at %d", f, tr[0].box.x, a.x);
    }
    ferc_box out = {.x = 0, .y = 0, .w = 10, .h = 10};
    CHECK(ferc_tracker_update(t, 23, &out, NULL, 1, 640, 480, &err) == FERC_ERR_ARG); /* frames must increase */
    ferc_tracker_free(t);
}

/* Nothing detected, ever: no track, no summary, no timeline. */
TEST(track_no_faces) {
    ferc_tracker *t = new_tracker(30, 2);
    if (!t) return;
    ferc_error err;
    for (int f = 0; f < 10; f++) CHECK_EQ_INT(ferc_tracker_update(t, f, NULL, NULL, 0, 64, 64, &err), FERC_OK);
    ferc_box none;
    CHECK_EQ_INT(ferc_tracker_update(t, 10, &none, NULL, 0, 64, 64, &err), FERC_OK);
    CHECK_EQ_INT(ferc_tracker_summary_count(t), 0);
    CHECK(ferc_plot_timeline(t, 30, test_path(test_tmpdir(), "t.png"), &err) == FERC_ERR_ARG);
    ferc_tracker_free(t);
}

/* Greedy matching takes the largest overlap first and leaves pairs under
 * the minimum unmatched. */
TEST(track_greedy_matching) {
    const double iou[3 * 3] = {0.5, 0.6, 0.0,   /* track 0 prefers det 1 ... */
                               0.0, 0.9, 0.0,   /* ... but track 1 overlaps it more */
                               0.0, 0.0, 0.2};  /* under 0.3: unmatched */
    int m[3];
    track_match_greedy(iou, 3, 3, 0.3, m);
    CHECK_EQ_INT(m[0], 0);
    CHECK_EQ_INT(m[1], 1);
    CHECK_EQ_INT(m[2], -1);
    ferc_box a = {0, 0, 10, 10}, b = {5, 0, 10, 10};
    CHECK_NEAR(track_iou(a, b), 50.0 / 150.0, 1e-12);
}

/* EMA: s1 = p1, s_k = a p_k + (1 - a) s_{k-1}; window N: mean of the last N. */
TEST(track_smoothing_maths) {
    float p[3][FERC_NUM_CLASSES] = {{1, 0, 0, 0, 0, 0, 0}, {0, 1, 0, 0, 0, 0, 0}, {0, 0, 1, 0, 0, 0, 0}}, out[7];
    smooth_state s;
    CHECK(smooth_init(&s, FERC_SMOOTH_EMA, 0));
    smooth_push(&s, FERC_SMOOTH_EMA, 0.25f, p[0], out);
    CHECK_NEAR(out[0], 1, 1e-7);
    smooth_push(&s, FERC_SMOOTH_EMA, 0.25f, p[1], out);
    CHECK_NEAR(out[0], 0.75, 1e-7);
    CHECK_NEAR(out[1], 0.25, 1e-7);
    smooth_push(&s, FERC_SMOOTH_EMA, 0.25f, p[2], out);
    CHECK_NEAR(out[0], 0.5625, 1e-6);
    CHECK_NEAR(out[1], 0.1875, 1e-6);
    CHECK_NEAR(out[2], 0.25, 1e-6);
    smooth_free(&s);
    CHECK(smooth_init(&s, FERC_SMOOTH_WINDOW, 2));
    smooth_push(&s, FERC_SMOOTH_WINDOW, 0, p[0], out);
    CHECK_NEAR(out[0], 1, 1e-7);
    smooth_push(&s, FERC_SMOOTH_WINDOW, 0, p[1], out);
    CHECK_NEAR(out[0], 0.5, 1e-7);
    smooth_push(&s, FERC_SMOOTH_WINDOW, 0, p[2], out);
    CHECK_NEAR(out[0], 0, 1e-7);
    CHECK_NEAR(out[1], 0.5, 1e-7);
    CHECK_NEAR(out[2], 0.5, 1e-7);
    smooth_free(&s);
    ferc_tracker_opts o;
    ferc_tracker_opts_default(&o);
    o.alpha = 0;
    ferc_tracker *t = NULL;
    ferc_error err;
    CHECK(ferc_tracker_new(&o, &t, &err) == FERC_ERR_ARG && t == NULL);
}

/* A face mostly happy (0.7) whose raw label flips to sad (happy 0.4) every
 * third frame: the raw labels change 12 times in 20 frames, the EMA (alpha
 * 0.2) never leaves happy; the summary's shares and mean; a timeline PNG. */
TEST(track_summary_flicker_and_timeline) {
    ferc_tracker *t = new_tracker(30, 1);
    if (!t) return;
    ferc_error err;
    ferc_box a = {.x = 10, .y = 10, .w = 40, .h = 40};
    for (int f = 0; f < 20; f++) {
        CHECK_EQ_INT(ferc_tracker_update(t, f, &a, NULL, 1, 100, 100, &err), FERC_OK);
        float p[FERC_NUM_CLASSES] = {0};
        p[3] = f % 3 == 2 ? 0.4f : 0.7f;
        p[4] = 1 - p[3];
        CHECK_EQ_INT(ferc_tracker_observe(t, 0, p, &err), FERC_OK);
    }
    ferc_track_summary s;
    CHECK_EQ_INT(ferc_tracker_summary(t, 0, &s, &err), FERC_OK);
    CHECK_EQ_INT(s.id, 1);
    CHECK_EQ_INT(s.first_frame, 0);
    CHECK_EQ_INT(s.last_frame, 19);
    CHECK_EQ_INT(s.frames, 20);
    CHECK_EQ_INT(s.dominant, 3);
    CHECK_NEAR(s.share[3], 1.0, 1e-12);
    CHECK_NEAR(s.mean[3] + s.mean[4], 1.0, 1e-6);
    CHECK(s.mean[3] > 0.55 && s.mean[3] < 0.7);
    CHECK_EQ_INT(ferc_tracker_label_changes(t, 0, 0), 12);
    CHECK_EQ_INT(ferc_tracker_label_changes(t, 0, 1), 0);
    const char *png = test_path(test_tmpdir(), "timeline.png");
    CHECK_EQ_INT(ferc_plot_timeline(t, 30, png, &err), FERC_OK);
    size_t len = 0;
    unsigned char *b = test_read(png, &len);
    CHECK(b && len > 1000 && memcmp(b, "\x89PNG", 4) == 0);
    free(b);
    ferc_tracker_free(t);
}
