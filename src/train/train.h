/* train/train.h — internals of training, evaluation and benchmarking shared
 * with the CLI-free parts of the library and the tests. */
#ifndef FERC_TRAIN_H
#define FERC_TRAIN_H

#include "model/model.h"

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


/* bench.c: timed training steps (forward, loss, backward, Adam) or inference
 * (ferc_model_predict) on random FER-shaped data, as ../shared/bench/
 * torch_peer.py does: `warmup` untimed batches, then one timed pass over
 * max(1, images / batch) batches. */
#define BENCH_MAX_STAGES 64
typedef struct {
    int images;                /* timed */
    double seconds;            /* wall time of the timed pass */
    double fwd_flops;          /* per image (2 x multiply-adds of conv and dense) */
    size_t params;
    int fused;                 /* the fused blocks ran */
    char note[160];            /* why not, when they did not */
    /* with profile: seconds in the timed pass per stage (fused schedule) */
    int nstages;
    char stage_name[BENCH_MAX_STAGES][64];
    double stage_fwd[BENCH_MAX_STAGES], stage_bwd[BENCH_MAX_STAGES];
    double conv_fwd[BENCH_MAX_STAGES], conv_bwd[BENCH_MAX_STAGES];   /* oneDNN convs in them */
    double conv_flops_fwd[BENCH_MAX_STAGES], conv_flops_bwd[BENCH_MAX_STAGES];  /* per image */
    double loss_s, optim_s;    /* softmax cross-entropy, optimiser step */
} bench_result;

ferc_status bench_run(const char *arch, int train, int batch, int threads, int images, int warmup,
                      uint64_t seed, int bf16, int profile, bench_result *res, ferc_error *err);

#endif
