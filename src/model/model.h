/* model/model.h — the model object behind the public opaque handle, the
 * named architectures, and the model/checkpoint file format (internal). */
#ifndef FERC_MODEL_H
#define FERC_MODEL_H

#include "nn/nn.h"

/* The model object behind the public opaque handle. */
struct ferc_model {
    char arch[32];
    char *spec;
    int input_size;
    char labels[FERC_NUM_CLASSES][16];
    float norm_scale, norm_mean, norm_std;   /* x = (pix * scale - mean) / std */
    int prep_size;             /* faces are first resized to prep_size x prep_size, */
    int prep_crop;             /* then centre-cropped to input_size when prep_crop */
    ferc_net net;
    int nhist;
    ferc_epoch_stats *hist;
};

/* Spec and input size of a named architecture, NULL if unknown. */
const char *arch_spec(const char *arch, int *input_size);
ferc_status model_new(const char *arch, const char *spec, int input_size, ferc_model **out,
                      ferc_error *err);
ferc_status model_set_history(ferc_model *m, const ferc_epoch_stats *h, int n, ferc_error *err);

/* Training-state extras stored in checkpoint files. */
typedef struct {
    int epochs_done;
    ferc_rng rng;
    float best_val_acc;
    int best_epoch;
    long opt_t;
    const float *opt_m, *opt_v;   /* save: moments (nparams each); NULL = none */
    float *load_m, *load_v;       /* load: allocated and filled when present; caller frees */
    const float *best_params, *best_state; /* save */
    float *load_best_params, *load_best_state; /* load: allocated; caller frees */
    int has_train_state;
} ckpt_extra;

ferc_status model_save_ex(const ferc_model *m, const char *path, const ckpt_extra *ex,
                          ferc_error *err);
ferc_status model_load_ex(const char *path, ferc_model **out, ckpt_extra *ex, ferc_error *err);

#endif
