/* schedule.c — the learning-rate schedules of training (constant, cosine
 * with linear warm-up, plateau). Both depend only on the step number and the
 * epoch history, never on state kept between epochs, so a run resumed from a
 * checkpoint follows the same schedule as one that never stopped. */
#include "train/train.h"

#include <math.h>

/* Plateau schedule replayed from the epoch history: the lr of the epoch after
 * hist[0..nh-1], as Keras' ReduceLROnPlateau (mode min on val loss, cooldown
 * 0): each epoch without a new best val loss raises a counter; at patience the
 * lr is multiplied by factor (not below lr_min) and the counter resets. */
float ferc_lr_plateau(const ferc_train_opts *o, const ferc_epoch_stats *hist, int nh) {
    float lr = o->lr, best = INFINITY;
    int wait = 0;
    for (int e = 0; e < nh; e++) {
        float vl = hist[e].val_loss;
        if (isnan(vl)) vl = hist[e].train_loss;   /* no validation rows */
        if (vl < best) { best = vl; wait = 0; continue; }
        if (++wait >= o->lr_patience) {
            float nl = lr * o->lr_factor;
            lr = nl < o->lr_min ? o->lr_min : nl;
            wait = 0;
        }
    }
    return lr;
}

/* The learning rate of step `step` (0-based) of `total`, in an epoch whose
 * plateau lr is `epoch_lr`. */
float ferc_lr_at(const ferc_train_opts *o, float epoch_lr, long step, long total, long warm) {
    if (o->lr_schedule == FERC_LR_PLATEAU) return epoch_lr;
    if (o->lr_schedule != FERC_LR_COSINE) return o->lr;
    if (step < warm) return o->lr * (float)(step + 1) / (float)warm;   /* linear warm-up */
    double t = total > warm ? (double)(step - warm) / (double)(total - warm) : 1.0;
    return (float)(o->lr_min + (o->lr - o->lr_min) * 0.5 * (1.0 + cos(M_PI * t)));
}
