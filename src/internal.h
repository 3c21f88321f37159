/* internal.h — helpers shared by the library's source files (not public). */
#ifndef FERC_INTERNAL_H
#define FERC_INTERNAL_H

#include "ferc.h"

#include <stdarg.h>
#include <stddef.h>

/* Fill err (if not NULL) and return status. printf-style message. */
ferc_status ferc_fail(ferc_error *err, ferc_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Number of threads to use: n > 0 as given, else every core. */
int ferc_threads(int n);

/* Monotonic wall clock in seconds. */
double ferc_now(void);

/* Read a whole file into memory (NUL-terminated). */
ferc_status ferc_read_file(const char *path, unsigned char **data, size_t *len, ferc_error *err);

/* Bilinear resize of a uint8 plane into floats scaled to [0,1], identical to
 * ferc_resize_bilinear on pix/255.0f, without allocating (image.c). */
void ferc_resize_bilinear_u8(const uint8_t *src, int sh, int sw, float *dst, int dh, int dw);

/* Learning-rate schedules (train.c): the plateau lr after the epochs of hist,
 * and the lr of step `step` of `total` (warm-up steps `warm`) in an epoch
 * whose plateau lr is epoch_lr. */
float ferc_lr_plateau(const ferc_train_opts *o, const ferc_epoch_stats *hist, int nh);
float ferc_lr_at(const ferc_train_opts *o, float epoch_lr, long step, long total, long warm);

/* Macro F1 (ferc_metrics_compute) of argmax(logits + off) against y_true,
 * with pred (n) as scratch; and the per-class offsets that maximise it, by
 * coordinate ascent on a 0.05 grid in [-3, 3] (train.c). */
double ferc_macro_f1_offsets(const float *logits, const int *y_true, int n, const float *off, int *pred);
double ferc_tune_class_offsets(const float *logits, const int *y_true, int n, float *off, int *pred);

#endif
