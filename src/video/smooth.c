/* smooth.c — what happens to a track's probabilities over time: smoothing
 * (an exponential moving average or a sliding window, per track, because a
 * frame-by-frame classifier flickers between neighbouring emotions while a
 * face's expression changes over seconds), the history of each confirmed
 * track, and what is computed from it: the summary (mean scores, share of
 * time per emotion, dominant emotion) and the label-change count that
 * measures flicker. */
#include "video/video.h"

#include <stdlib.h>
#include <string.h>

int smooth_init(smooth_state *s, ferc_smooth_kind kind, int window) {
    *s = (smooth_state){.window = window};
    if (kind != FERC_SMOOTH_WINDOW) return 1;
    s->ring = calloc((size_t)window * FERC_NUM_CLASSES, sizeof(float));
    return s->ring != NULL;
}

void smooth_free(smooth_state *s) {
    free(s->ring);
    s->ring = NULL;
}

void smooth_push(smooth_state *s, ferc_smooth_kind kind, float alpha, const float *p, float *out) {
    enum { K = FERC_NUM_CLASSES };
    if (kind == FERC_SMOOTH_EMA) {
        for (int k = 0; k < K; k++) s->ema[k] = s->n == 0 ? p[k] : alpha * p[k] + (1 - alpha) * s->ema[k];
        memcpy(out, s->ema, sizeof s->ema);
    } else if (kind == FERC_SMOOTH_WINDOW && s->ring) {
        memcpy(s->ring + (size_t)(s->n % s->window) * K, p, sizeof(float) * K);
        int m = s->n + 1 < s->window ? s->n + 1 : s->window;
        for (int k = 0; k < K; k++) { /* sum in double: the mean of m floats without drift */
            double sum = 0;
            for (int j = 0; j < m; j++) sum += s->ring[(size_t)j * K + k];
            out[k] = (float)(sum / m);
        }
    } else memcpy(out, p, sizeof(float) * K);
    s->n++;
}

static int top(const float *p) {
    int best = 0;
    for (int k = 1; k < FERC_NUM_CLASSES; k++)
        if (p[k] > p[best]) best = k;
    return best;
}

int history_push(track_history *h, long frame, const float *smooth, const float *raw) {
    if (h->n == h->cap) {
        long nc = h->cap ? 2 * h->cap : 256;
        long *f = realloc(h->frame, sizeof(long) * (size_t)nc);
        if (!f) return 0;
        h->frame = f;
        float *p = realloc(h->probs, sizeof(float) * FERC_NUM_CLASSES * (size_t)nc);
        if (!p) return 0;
        h->probs = p;
        signed char *r = realloc(h->raw_label, (size_t)nc);
        if (!r) return 0;
        h->raw_label = r;
        h->cap = nc;
    }
    h->frame[h->n] = frame;
    memcpy(h->probs + (size_t)h->n * FERC_NUM_CLASSES, smooth, sizeof(float) * FERC_NUM_CLASSES);
    h->raw_label[h->n] = (signed char)top(raw);
    h->n++;
    return 1;
}

void history_free(track_history *h) {
    free(h->frame);
    free(h->probs);
    free(h->raw_label);
    *h = (track_history){0};
}

int ferc_tracker_summary_count(const ferc_tracker *t) { return t ? t->nhist : 0; }

ferc_status ferc_tracker_summary(const ferc_tracker *t, int i, ferc_track_summary *s, ferc_error *err) {
    if (!t || !s || i < 0 || i >= t->nhist)
        return ferc_fail(err, FERC_ERR_ARG, "ferc_tracker_summary: no track %d", i);
    const track_history *h = &t->hist[i];
    *s = (ferc_track_summary){.id = h->id, .frames = h->n};
    if (h->n == 0) return FERC_OK;
    s->first_frame = h->frame[0];
    s->last_frame = h->frame[h->n - 1];
    for (long r = 0; r < h->n; r++) {
        const float *p = h->probs + (size_t)r * FERC_NUM_CLASSES;
        for (int k = 0; k < FERC_NUM_CLASSES; k++) s->mean[k] += p[k];
        s->share[top(p)] += 1;
    }
    for (int k = 0; k < FERC_NUM_CLASSES; k++) {
        s->mean[k] /= (double)h->n;
        s->share[k] /= (double)h->n;
        if (s->share[k] > s->share[s->dominant]) s->dominant = k;
    }
    return FERC_OK;
}

long ferc_tracker_label_changes(const ferc_tracker *t, int i, int smoothed) {
    if (!t || i < 0 || i >= t->nhist) return 0;
    const track_history *h = &t->hist[i];
    long changes = 0;
    for (long r = 1; r < h->n; r++) {
        int a = smoothed ? top(h->probs + (size_t)(r - 1) * FERC_NUM_CLASSES) : h->raw_label[r - 1];
        int b = smoothed ? top(h->probs + (size_t)r * FERC_NUM_CLASSES) : h->raw_label[r];
        changes += a != b;
    }
    return changes;
}
