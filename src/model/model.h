/* model/model.h — the model object behind the public opaque handle, the
 * named architectures (model.c), ensembles of models (ensemble.c), and the
 * model/checkpoint file format (file.c); internal. */
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
    char *recipe;              /* the command that made the model, or NULL */
    float temperature;         /* calibration: probabilities ~ p^(1/T) (1 = none); calibrate.c */
    /* An ensemble (arch "ensemble", ensemble.c) has members instead of a
     * network: net stays empty, input_size is the face every member
     * preprocesses from, and the weights sum to 1. */
    int nmembers;
    ferc_model **members;
    float *weights;
    char **member_names;       /* the files they came from */
    ferc_ensemble_fit fit;     /* how the weights were chosen */
};

/* The most members an ensemble holds. */
#define ENSEMBLE_MAX_MEMBERS 64

/* Spec and input size of a named architecture, NULL if unknown. */
const char *arch_spec(const char *arch, int *input_size);
ferc_status model_new(const char *arch, const char *spec, int input_size, ferc_model **out,
                      ferc_error *err);
ferc_status model_set_history(ferc_model *m, const ferc_epoch_stats *h, int n, ferc_error *err);

/* calibrate.c: the temperature T in [0.05, 20] minimising the mean
 * negative log-likelihood of probs (n, 7) tempered by 1/T. */
double calibrate_fit_temperature(const float *probs, const int *labels, int n);

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
    const float *ema_params;      /* save: the weights' moving average (nparams); NULL = none */
    float *load_ema_params;       /* load: allocated when present (chunk EMAP); caller frees */
    int has_train_state;
} ckpt_extra;

/* file.c: a model file, or a checkpoint when ex is not NULL; loading fills
 * ex (when not NULL) from a checkpoint's chunks. */
ferc_status model_save_ex(const ferc_model *m, const char *path, const ckpt_extra *ex,
                          ferc_error *err);
ferc_status model_load_ex(const char *path, ferc_model **out, ckpt_extra *ex, ferc_error *err);

/* ensemble.c: an ensemble of n members (taken over in every case: freed on
 * failure), named names (may be NULL), weights (NULL = equal; normalised). */
ferc_status ensemble_new(ferc_model **members, const char *const *names, const float *weights, int n,
                         ferc_model **out, ferc_error *err);
/* What model.c hands to ensemble.c when m is an ensemble. */
ferc_status ensemble_predict(ferc_model *m, const float *x, int n, float *probs, int threads,
                             ferc_error *err);
ferc_status ensemble_saliency(ferc_model *m, const float *x, int cls, float *grad, ferc_error *err);

/* ---- library-internal parts of the API (not in include/ferc.h) ---- */

/* A new model with freshly initialised weights (Glorot-uniform, as Keras). */
ferc_status ferc_model_create(const char *arch, uint64_t seed, ferc_model **out, ferc_error *err);

/* Looking inside (for reports): a "block" ends at each max-pool layer. */
int ferc_model_num_blocks(const ferc_model *m);
/* Feature maps at the end of conv block b (after ReLU, before pooling) for
 * one face x (S,S): writes (c,h,w) floats to maps, which holds cap floats. */
ferc_status ferc_model_activations(ferc_model *m, const float *x, int block, float *maps,
                                   size_t cap, int *c, int *h, int *w, ferc_error *err);
/* Saliency: d logit[cls] / d x for one face x (S,S), eval mode; grad (S,S). */
ferc_status ferc_model_saliency(ferc_model *m, const float *x, int cls, float *grad,
                                ferc_error *err);
/* The first conv layer's kernels (k, kh, kw), single input channel. */
ferc_status ferc_model_first_filters(const ferc_model *m, float *w, size_t cap, int *k,
                                     int *kh, int *kw, ferc_error *err);

/* Bring one gray face src (sh, sw), floats in [0,1], to the model's input
 * dst (S, S): a bilinear resize, or, for a model trained on random crops, a
 * resize to its training size followed by a centre crop. */
void ferc_model_prepare(const ferc_model *m, const float *src, int sh, int sw, float *dst);
/* The same for dataset rows [first, first+n): x (n, S, S). */
ferc_status ferc_model_prepare_rows(const ferc_model *m, const ferc_dataset *d, int first, int n,
                                    float *x, ferc_error *err);

#endif
