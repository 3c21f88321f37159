/* train/train.h — internals of training, evaluation and benchmarking shared
 * with the CLI-free parts of the library and the tests. */
#ifndef FERC_TRAIN_H
#define FERC_TRAIN_H

#include "model/model.h"

/* Learning-rate schedules (schedule.c): the plateau lr after the epochs of hist,
 * and the lr of step `step` of `total` (warm-up steps `warm`) in an epoch
 * whose plateau lr is epoch_lr. */
float ferc_lr_plateau(const ferc_train_opts *o, const ferc_epoch_stats *hist, int nh);
float ferc_lr_at(const ferc_train_opts *o, float epoch_lr, long step, long total, long warm);

/* Macro F1 (ferc_metrics_compute) of argmax(logits + off) against y_true,
 * with pred (n) as scratch; and the per-class offsets that maximise it, by
 * coordinate ascent on a 0.05 grid in [-3, 3] (select.c). */
double ferc_macro_f1_offsets(const float *logits, const int *y_true, int n, const float *off, int *pred);
double ferc_tune_class_offsets(const float *logits, const int *y_true, int n, float *off, int *pred);

/* Recipe pieces (recipe.c). A Beta(a, b) variate: X / (X + Y) of Gamma
 * variates drawn by Marsaglia-Tsang (a, b > 0). */
double recipe_beta(ferc_rng *r, double a, double b);

/* One-hot targets t (n, 7) of labels y, smoothed to (1 - e) onehot + e / 7
 * (e = 0: plain one-hot). */
void recipe_targets(const int *y, int n, float e, float *t);

/* Mixup / CutMix of one batch. Scratch for a batch of up to B images of
 * S x S: perm (B), x (B S S), t (B 7), y (B). */
typedef struct {
    int *perm, *y;
    float *x, *t;
} recipe_mix_buffers;

/* What a batch got: mixed or not, which method, lambda (the weight of each
 * image's own target; 1 when not mixed), CutMix's box [y0,y1) x [x0,x1). */
typedef struct {
    int mixed, cutmix;
    float lam;
    int y0, y1, x0, x1;
} recipe_mix;

/* Mixes images x (n, S, S) and targets t (n, 7) in place as o->mixup,
 * o->cutmix and o->mix_prob say (ferc_train_opts), and replaces each label
 * y[i] by the dominant one (its own when lambda >= 0.5, else its
 * partner's). Draws from r only when mixup or CutMix is on; no allocation. */
void recipe_mix_batch(const ferc_train_opts *o, ferc_rng *r, float *x, float *t, int *y, int n, int S,
                      recipe_mix_buffers *buf, recipe_mix *m);

/* The weights' moving average: the decay after step `step` (1-based count
 * of optimiser steps), min(decay, (1 + step) / (10 + step)), and the update
 * avg += (1 - d) (p - avg), element by element (any thread count gives the
 * same bits). */
float recipe_ema_decay(float decay, long step);
void recipe_ema_update(float *avg, const float *p, size_t n, float decay, int threads);

/* Distillation (distill.c, `ferc train --teacher`). The state of a run
 * with a teacher: the loaded teacher, the nets that run for it (itself or
 * its members, weighted), and the buffers of a step, all made in
 * distill_begin. on = 0 without a teacher. */
#define DISTILL_MAX_LEAVES 64
typedef struct {
    int on;
    ferc_model *teacher;
    ferc_model *leaf[DISTILL_MAX_LEAVES];
    float lw[DISTILL_MAX_LEAVES];
    int nleaf;
    int B, F;                  /* batch; side of the faces both nets start from */
    float T, A;                /* temperature, weight of the distillation term */
    uint64_t hash;             /* FNV-1a of the teacher's file */
    float *x;                  /* (B, F, F) augmented faces: fill these, then distill_batch */
    float *tx;                 /* (B, largest teacher input) a teacher net's view */
    float *pt, *pm;            /* (B, 7) teacher probabilities; one net's */
} distill_state;

/* With o->teacher: check the options (T in (0, 100], A in [0, 1], no random
 * crops, square faces), load the teacher, check a resumed checkpoint's
 * recipe names the same teacher / T / A, allocate, warm the teacher up, and
 * set the student's recipe to the line that names the teacher. Without a
 * teacher: refuse to resume a distilled checkpoint. */
ferc_status distill_begin(distill_state *ds, const ferc_train_opts *o, const ferc_dataset *d, ferc_model *student,
                          int resumed, int B, int threads, ferc_error *err);
/* The student's inputs xs (n, S, S) from ds->x (n faces), and the teacher's
 * probabilities of them in ds->pt. No allocation. */
void distill_batch(distill_state *ds, const ferc_model *student, int n, float *xs, int threads);
/* The distillation term A T^2 mean_i KL(q_i || p_i), q = softmax(log pt / T),
 * p = softmax(z / T), for logits z (n, K), K <= 64; adds its gradient
 * A T (p - q) / n to dz (when not NULL). */
double distill_kd(const float *z, const float *pt, int n, int K, float T, float A, float *dz);
void distill_free(distill_state *ds);

#endif
