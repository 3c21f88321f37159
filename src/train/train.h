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




#endif
