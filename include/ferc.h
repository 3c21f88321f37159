/* ferc.h — the one public header of libferc: facial emotion recognition in C.
 *
 * Conventions: every function that can fail returns a ferc_status and, when
 * `err` is not NULL, fills it with the status and a human-readable message
 * naming the file, the line and the problem. The library never prints and
 * never exits; only the CLI does. All randomness goes through an explicit
 * ferc_rng: the same seed (and thread count) gives the same result.
 */
#ifndef FERC_H
#define FERC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FERC_VERSION_STRING "0.1.0"
#define FERC_NUM_CLASSES 7

/* ------------------------------------------------------------------------ */
/* Status, errors, logging                                                   */
/* ------------------------------------------------------------------------ */

typedef enum {
    FERC_OK = 0,
    FERC_ERR_IO,       /* missing, unreadable or unwritable file */
    FERC_ERR_PARSE,    /* malformed data (CSV row, config, XML) */
    FERC_ERR_FORMAT,   /* model file: bad magic, version, checksum, truncation */
    FERC_ERR_DECODE,   /* an image that does not decode */
    FERC_ERR_ARG,      /* invalid argument */
    FERC_ERR_NOMEM,    /* allocation failed */
    FERC_ERR_LIMIT,    /* input over a safety limit (e.g. decompression bomb) */
    FERC_ERR_INTERNAL,
    FERC_ERR_INTERRUPTED /* stopped on request (ferc_train_opts.stop); results so far kept */
} ferc_status;

typedef struct {
    ferc_status status;
    char msg[1024];
} ferc_error;

/* Short name of a status ("io error", "parse error", ...). */
const char *ferc_status_name(ferc_status s);

typedef enum { FERC_LOG_DEBUG = 0, FERC_LOG_INFO, FERC_LOG_WARN } ferc_log_level;
typedef void (*ferc_log_fn)(ferc_log_level level, const char *msg, void *user);

/* ------------------------------------------------------------------------ */
/* Labels and RNG                                                            */
/* ------------------------------------------------------------------------ */

/* Lowercase FER2013 label names: angry disgust fear happy sad surprise neutral. */
const char *ferc_label_name(int label);
/* Label index of a name (case-insensitive, also accepts "0".."6"); -1 if unknown. */
int ferc_label_from_name(const char *name);

/* xoshiro256** state; seed it with ferc_rng_seed (splitmix64 expansion). */
typedef struct { uint64_t s[4]; } ferc_rng;
void ferc_rng_seed(ferc_rng *r, uint64_t seed);
uint32_t ferc_rng_below(ferc_rng *r, uint32_t n); /* [0,n), unbiased */

/* ------------------------------------------------------------------------ */
/* Images                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct {
    int w, h, c;     /* c = 1 (gray) or 3 (RGB) */
    uint8_t *data;   /* (h, w, c) row-major, interleaved */
} ferc_image;

/* Largest image the decoders accept (width * height); larger is FERC_ERR_LIMIT. */
#define FERC_MAX_IMAGE_PIXELS (64u * 1024u * 1024u)

/* Decode a PNG or JPEG file (by content, not extension). JPEG EXIF
 * orientation is applied. want_c: 0 keeps the file's colour, 1 converts to
 * gray with ITU-R BT.601 luma weights, 3 converts to RGB. */
ferc_status ferc_image_load(const char *path, int want_c, ferc_image *out, ferc_error *err);
ferc_status ferc_image_save_png(const char *path, const ferc_image *img, ferc_error *err);
void ferc_image_free(ferc_image *img);
/* RGB (n interleaved pixels) to gray with ITU-R BT.601 luma, rounded as
 * OpenCV 4's cvtColor(RGB2GRAY), so that a video frame and the same picture
 * loaded from a file find the same faces. gray may be rgb (in place). */
void ferc_rgb_to_gray(const uint8_t *rgb, size_t n, uint8_t *gray);


/* ------------------------------------------------------------------------ */
/* Datasets                                                                  */
/* ------------------------------------------------------------------------ */

/* FERC_USAGE_TEST (a load option, never a row's usage): the rows an
 * evaluation uses when none are named, see ferc_dataset_test_usage. */
enum { FERC_USAGE_TRAINING = 0, FERC_USAGE_PUBLICTEST = 1, FERC_USAGE_PRIVATETEST = 2,
       FERC_USAGE_ALL = -1, FERC_USAGE_TEST = -3 };
/* "Training" | "PublicTest" | "PrivateTest" | "all" -> FERC_USAGE_*; -2 if unknown. */
int ferc_usage_from_name(const char *name);
/* The name of FERC_USAGE_TRAINING, _PUBLICTEST, _PRIVATETEST, _ALL ("?" otherwise). */
const char *ferc_usage_name(int usage);

typedef struct {
    int n;            /* number of images */
    int h, w;         /* every image is h x w, one channel */
    uint8_t *pix;     /* (n, h, w) raw gray pixels 0..255 */
    int *label;       /* (n) 0..6 */
    uint8_t *usage;   /* (n) FERC_USAGE_* (folders: FERC_USAGE_TRAINING) */
    int skipped;      /* rows skipped because of skip_bad_rows */
    int *row;         /* (n) where each face came from: its index among the CSV's data
                       * rows (0-based, every non-blank line after the header, bad ones
                       * too), or among the folder's image files in load order; NULL
                       * when the dataset was made otherwise */
} ferc_dataset;

typedef struct {
    int usage;          /* FERC_USAGE_* to keep, FERC_USAGE_ALL for every row,
                         * FERC_USAGE_TEST for the test rows (ferc_dataset_test_usage) */
    int skip_bad_rows;  /* skip malformed rows (count them) instead of failing */
    int size;           /* folder images are resized to size x size (0 = 48) */
} ferc_load_opts;

/* Load a FER2013 CSV (plain or gzip, detected by content) or an image
 * folder ROOT/<label>/ holding .png and .jpg files. opts may be NULL (all rows, strict). */
ferc_status ferc_dataset_load(const char *path, const ferc_load_opts *opts,
                              ferc_dataset *out, ferc_error *err);
void ferc_dataset_free(ferc_dataset *d);
/* Per-class counts of a dataset into counts[7]. */
void ferc_dataset_class_counts(const ferc_dataset *d, int counts[FERC_NUM_CLASSES]);

/* What a load found beside the rows. */
typedef struct {
    int usage;       /* FERC_USAGE_* of the rows kept: opts->usage, or what FERC_USAGE_TEST chose */
    int folder;      /* an image folder (else a CSV) */
    int has_usage;   /* a CSV with a Usage column */
    int rows[3];     /* well-formed rows of the whole file per usage TRAINING, PUBLICTEST,
                      * PRIVATETEST (a folder: its readable images, as Training) */
    int detected;    /* folder images whose row is the largest face the detector found */
    int no_face;     /* folder images left out: the detector found no face in them */
} ferc_load_info;

/* The rows an evaluation uses when none are named, one rule for every
 * command: PublicTest; PrivateTest when the file holds no PublicTest row;
 * every row (FERC_USAGE_ALL) for a CSV without a Usage column and for an image
 * folder; -2 when a Usage column names only Training rows (no test rows). */
int ferc_dataset_test_usage(const ferc_load_info *info);

/* Folders of whole photos: find the face first. AUTO detects in the images
 * with a side over `above` and uses smaller ones whole (face crops). */
typedef enum { FERC_DETECT_AUTO = 0, FERC_DETECT_ALWAYS = 1, FERC_DETECT_NEVER = 2 } ferc_detect_mode;
typedef struct {
    ferc_detect_mode mode;  /* AUTO */
    int above;              /* AUTO's threshold; 0 = twice the face size (opts->size, 48) */
    const char *cascade;    /* Haar cascade XML; NULL = the default (Debian opencv-data) */
} ferc_face_load_opts;

/* ferc_dataset_load (CSVs as it loads them), where each image of a folder
 * that needs detection (faces->mode) becomes the largest face the Haar
 * detector finds in it (default detector options), cropped with the margin
 * `ferc predict` uses (0.1 of the box on every side) and resized to
 * opts->size; images without a face are left out and counted in
 * info->no_face. No usable face at all is FERC_ERR_PARSE naming how many
 * images had none; a missing cascade (only loaded when an image needs it) is
 * FERC_ERR_IO. faces NULL = AUTO; info may be NULL. */
ferc_status ferc_dataset_load_faces(const char *path, const ferc_load_opts *opts,
                                    const ferc_face_load_opts *faces, ferc_dataset *out,
                                    ferc_load_info *info, ferc_error *err);
/* One line naming the rows of d for the user, e.g. "PublicTest: 3589 faces",
 * "PrivateTest: 3589 faces (the file has no PublicTest rows)", "all: 12 faces
 * (found by detection in 12 images; 3 images without a face left out)".
 * snprintf semantics. */
int ferc_dataset_describe(const ferc_dataset *d, const ferc_load_info *info, char *buf, size_t cap);

/* ------------------------------------------------------------------------ */
/* Models                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct ferc_model ferc_model;

typedef struct {
    int epoch;            /* 1-based */
    float train_loss, train_acc;
    float val_loss, val_acc;
    float lr;
    float seconds;        /* wall time of the epoch */
    float val_macro_f1;   /* NAN where unknown (files written before it existed) */
} ferc_epoch_stats;

/* Architectures known by name: "seed" (48x48), "seed2" (40x40), "vgg" (48x48).
 * ferc_arch_list returns them space-separated. */
const char *ferc_arch_list(void);

void ferc_model_free(ferc_model *m);
ferc_status ferc_model_save(const ferc_model *m, const char *path, ferc_error *err);
ferc_status ferc_model_load(const char *path, ferc_model **out, ferc_error *err);

const char *ferc_model_arch(const ferc_model *m);
const char *ferc_model_spec(const ferc_model *m);      /* layer list, one word per layer */
int ferc_model_input_size(const ferc_model *m);        /* side of the square input */
/* Side of the square face the model's preprocessing starts from: the input
 * size, or the size it was cropped from (48 for random-crop training). */
int ferc_model_face_size(const ferc_model *m);
size_t ferc_model_num_params(const ferc_model *m);
/* Training history; returns the number of epochs and points *hist at them
 * (an ensemble's: its first member's). */
int ferc_model_history(const ferc_model *m, const ferc_epoch_stats **hist);
/* Forward FLOPs per image (2 x multiply-adds of conv and dense layers). */
double ferc_model_flops(const ferc_model *m);

/* Classify n faces already at the model's input size: x (n, S, S) floats in
 * [0,1]; probs (n, 7) softmax outputs. threads <= 0 uses every core. */
ferc_status ferc_model_predict(ferc_model *m, const float *x, int n, float *probs,
                               int threads, ferc_error *err);

/* The command (or recipe) that made the model, stored in its file (chunk
 * RCPE, which older readers skip); NULL when the file has none. set_recipe
 * copies recipe (NULL removes it). */
ferc_status ferc_model_set_recipe(ferc_model *m, const char *recipe, ferc_error *err);
const char *ferc_model_recipe(const ferc_model *m);

/* Ensembles. An ensemble is a ferc_model (arch "ensemble") whose
 * probabilities are the weighted mean of its members' softmax
 * probabilities, the weights summing to 1. Its input is a face at
 * ferc_model_input_size (the largest face size its members start from: 48
 * for seed, 40 for seed2, 48 for a model trained on 48x48 crops), from which
 * each member applies its own preprocessing (a resize, or a resize and a
 * centre crop), so every function that takes a model takes an ensemble.
 * Parameters and FLOPs are the members' sums; the history, first-layer
 * filters and activations are the first member's; the saliency is the
 * weighted sum of the members' saliencies, mapped back to the ensemble's
 * input. Saved as one file that bundles the member files (format version 2;
 * plain models keep version 1). */
typedef struct {
    int nval;             /* validation faces the weights were fitted on (0: not fitted) */
    float acc_equal;      /* validation accuracy with equal weights */
    float acc_fitted;     /* ... with the fitted weights */
} ferc_ensemble_fit;

/* An ensemble of n >= 1 models that are not ensembles themselves, with the
 * same labels; names (the files they came from, may be NULL) are shown by
 * `ferc info`; weights >= 0 (NULL = equal) are normalised to sum 1. The
 * ensemble takes the members over in every case (they are freed on failure). */
ferc_status ferc_ensemble_create(ferc_model **members, const char *const *names, const float *weights,
                                 int n, ferc_model **out, ferc_error *err);
/* Members of an ensemble; 0 for a plain model. */
int ferc_model_num_members(const ferc_model *m);
/* Member i of an ensemble (NULL when out of range), with its name and weight. */
const ferc_model *ferc_model_member(const ferc_model *m, int i, const char **name, float *weight);
/* Fit the weights on the validation split that ferc_train carves from the
 * same rows d with the same val_fraction and seed (the members' training
 * split, so no member has seen those faces): coordinate ascent over a 0.05
 * grid of each weight, maximising validation accuracy, from equal weights
 * (kept on ties). fit (may be NULL) receives the figures, also stored in the
 * model. */
ferc_status ferc_ensemble_fit_weights(ferc_model *ens, const ferc_dataset *d, float val_fraction,
                                      uint64_t seed, int threads, ferc_ensemble_fit *fit, ferc_error *err);
/* How the weights of an ensemble were chosen (nval 0: given or equal). */
void ferc_ensemble_fit_info(const ferc_model *m, ferc_ensemble_fit *fit);


/* Convert dataset images [first, first+n) to the model's input (scale to
 * [0,1], bilinear resize when sizes differ): x (n, S, S). */
void ferc_prepare_images(const ferc_dataset *d, int first, int n, int size, float *x);

/* ------------------------------------------------------------------------ */
/* Training                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct {
    int epoch, epochs;         /* 1-based current epoch */
    int batch, batches;        /* batches done in this epoch / per epoch */
    double loss, acc;          /* running means over this epoch */
    double images_per_s;
    double eta_s;              /* for the rest of this epoch */
    double eta_run_s;          /* for the rest of the run: this epoch with its validation
                                * and the epochs after it (an upper bound with early
                                * stopping); 0 at the end of the last epoch */
    const ferc_epoch_stats *done;  /* non-NULL at the end of an epoch */
    int improved;              /* with done: the selection figure improved (always 1
                                * without a validation split: the last epoch is kept) */
    const ferc_epoch_stats *history; /* with done: every epoch so far */
    int nhistory;
} ferc_progress;

typedef void (*ferc_progress_fn)(const ferc_progress *p, void *user);

typedef enum { FERC_OPT_ADAM = 0, FERC_OPT_SGD = 1 } ferc_optimizer;
typedef enum { FERC_LABELS_SPARSE = 0, FERC_LABELS_ONEHOT = 1 } ferc_label_mode;
/* Which validation figure picks the kept weights. */
typedef enum { FERC_SELECT_ACCURACY = 0, FERC_SELECT_MACRO_F1 = 1 } ferc_select_metric;
/* Learning-rate schedule. CONSTANT: lr throughout. COSINE: per step,
 * lr_t = lr_min + (lr - lr_min) (1 + cos(pi t / T)) / 2 over the T steps of
 * all epochs (after lr_warmup epochs of linear warm-up). PLATEAU: as Keras'
 * ReduceLROnPlateau on validation loss: multiply by lr_factor when it has not
 * improved for lr_patience epochs, never below lr_min. Both depend only on the
 * step and the epoch history, so a resumed run follows the same schedule. */
typedef enum { FERC_LR_CONSTANT = 0, FERC_LR_COSINE = 1, FERC_LR_PLATEAU = 2 } ferc_lr_schedule;

typedef struct {
    const char *arch;          /* "seed" */
    int epochs;                /* 30 */
    int batch;                 /* 64 */
    float lr;                  /* 1e-3 */
    ferc_lr_schedule lr_schedule; /* constant */
    float lr_min;              /* floor of cosine / plateau (0) */
    int lr_warmup;             /* cosine: epochs of linear warm-up (0) */
    float lr_factor;           /* plateau: multiplier (0.5) */
    int lr_patience;           /* plateau: epochs without improvement (3) */
    float label_smoothing;     /* targets (1-e) y + e/7 (0) */
    ferc_optimizer optimizer;  /* Adam */
    float beta1, beta2, eps;   /* Adam: 0.9, 0.999, 1e-7 (Keras) */
    float momentum;            /* SGD: 0.9 */
    int nesterov;              /* SGD: 1 */
    float weight_decay;        /* L2 added to the gradient (0) */
    ferc_label_mode labels;    /* sparse or one-hot cross-entropy */
    uint64_t seed;             /* 1 */
    float val_fraction;        /* 0.1, stratified by class: each class gives round(val_fraction
                                * x its faces) to validation; 0 = no validation split (the
                                * last epoch is kept); > 0 with no validation face is an error */
    int threads;               /* 0 = all cores */
    const char *checkpoint;    /* written each epoch (atomically); NULL = none */
    /* augmentation applied on the fly to training batches (NULL = none;
     * the evaluation path then resizes or centre-crops) */
    const struct ferc_augment_opts *augment;
    int class_weight_balanced; /* loss weights n / (k n_c) */
    int balance_oversample;    /* draw each class equally often */
    int resume;                /* continue from checkpoint if it exists */
    ferc_select_metric select; /* keep the epoch with the best val accuracy (default) or macro F1 */
    int tune_class_bias;       /* after training, add per-class offsets to the logits
                                * (the last dense bias) that maximise validation macro F1 */
    int bf16;                  /* convolutions after the first in bfloat16 (fp32
                                * master weights, batch norm and optimiser) */
    int early_stop;            /* patience: stop when the selection figure has not improved
                                * for this many epochs (the best weights are kept, as Keras
                                * EarlyStopping(restore_best_weights=True)); 0 = off */
    /* Mixup (Zhang et al. 2018) and CutMix (Yun et al. 2019), per training
     * batch: lambda ~ Beta(alpha, alpha), each image paired with the image
     * a random permutation of the batch gives it; mixup blends the two
     * images, CutMix pastes a box of the partner (lambda becomes the share
     * of the image's own pixels); the targets (label-smoothed first) are
     * lambda own + (1 - lambda) partner's. With both on, each mixed batch
     * picks one of them with probability 0.5. The training accuracy counts
     * a mixed image against its dominant label. */
    float mixup;               /* mixup alpha (0 = off) */
    float cutmix;              /* CutMix alpha (0 = off) */
    float mix_prob;            /* share of batches mixed when mixup or CutMix is on (1) */
    /* Exponential moving average of the weights, updated after every
     * optimiser step t with decay min(ema, (1 + t) / (10 + t)) (as
     * tf.train.ExponentialMovingAverage with num_updates, so that short runs
     * are not dominated by the initial weights); validation, the kept
     * weights and so the returned model use the averaged weights with the
     * live batch-norm statistics. The checkpoint carries the average (a
     * resumed run is bit for bit the uninterrupted one; resuming needs the
     * same choice of ema on or off). 0 = off, else in (0, 1), e.g. 0.999. */
    float ema;
    /* Distillation (issue 12): with a teacher model file (any model, an
     * ensemble too), the loss is A T^2 KL(softmax(teacher / T) ||
     * softmax(student / T)) + (1 - A) CE(labels), A = distill_weight,
     * T = distill_temperature; the teacher sees the same augmented face as
     * the student, through its own preprocessing. NULL = off. */
    const char *teacher;
    float distill_temperature; /* T (4) */
    float distill_weight;      /* A (0.7) */
    ferc_progress_fn progress; void *progress_user;
    ferc_log_fn log; void *log_user;
    /* Polled between training steps (NULL = never): non-zero abandons the
     * epoch running and makes ferc_train return FERC_ERR_INTERRUPTED with
     * *out holding the best weights of the epochs done and their history
     * (NULL when none was done); the checkpoint of the last epoch done is
     * on disk. The library installs no signal handler: a program sets a
     * flag in its own handler and returns it here. */
    int (*stop)(void *user); void *stop_user;
} ferc_train_opts;

void ferc_train_opts_default(ferc_train_opts *o);

/* Train on the dataset rows (all of them: select Training before calling).
 * A stratified validation split is carved out; the returned model holds the
 * weights with the best validation figure (o->select) and the history of the
 * epochs run. FERC_ERR_INTERRUPTED: see ferc_train_opts.stop (free *out). */
ferc_status ferc_train(const ferc_dataset *data, const ferc_train_opts *o,
                       ferc_model **out, ferc_error *err);

/* Number of threads a `threads` option means: n > 0 as given, otherwise
 * every core. */
int ferc_threads(int n);
/* Monotonic wall clock in seconds: the clock of every timing ferc reports. */
double ferc_now(void);

/* ------------------------------------------------------------------------ */
/* Benchmarks                                                                */
/* ------------------------------------------------------------------------ */

/* Timed training steps (forward, loss, backward, Adam) or inference
 * (ferc_model_predict) on random FER-shaped data, as ../shared/bench/
 * torch_peer.py does: `warmup` untimed batches, then one timed pass over
 * max(1, images / batch) batches. */
#define FERC_BENCH_MAX_STAGES 64
typedef struct {
    int images;                /* timed */
    double seconds;            /* wall time of the timed pass */
    double fwd_flops;          /* per image (2 x multiply-adds of conv and dense) */
    size_t params;
    int fused;                 /* the fused blocks ran */
    char note[160];            /* why not, when they did not */
    /* with profile: seconds in the timed pass per stage (fused schedule) */
    int nstages;
    char stage_name[FERC_BENCH_MAX_STAGES][64];
    double stage_fwd[FERC_BENCH_MAX_STAGES], stage_bwd[FERC_BENCH_MAX_STAGES];
    double conv_fwd[FERC_BENCH_MAX_STAGES], conv_bwd[FERC_BENCH_MAX_STAGES];   /* oneDNN convs in them */
    double conv_flops_fwd[FERC_BENCH_MAX_STAGES], conv_flops_bwd[FERC_BENCH_MAX_STAGES];  /* per image */
    double loss_s, optim_s;    /* softmax cross-entropy, optimiser step */
} ferc_bench_result;

typedef struct {
    const char *arch;          /* a name of ferc_arch_list() */
    int train;                 /* 1: training steps, 0: inference */
    int batch, threads;        /* threads <= 0: every core */
    int images, warmup;        /* timed images, untimed warm-up batches */
    uint64_t seed;
    int bf16, profile;         /* bfloat16 convolutions; per-stage timings */
} ferc_bench_opts;

ferc_status ferc_bench(const ferc_bench_opts *o, ferc_bench_result *res, ferc_error *err);

/* ------------------------------------------------------------------------ */
/* Metrics                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct {
    int n;
    double accuracy;
    double precision[FERC_NUM_CLASSES], recall[FERC_NUM_CLASSES], f1[FERC_NUM_CLASSES];
    int support[FERC_NUM_CLASSES];
    double macro_precision, macro_recall, macro_f1;
    double weighted_precision, weighted_recall, weighted_f1;
    int confusion[FERC_NUM_CLASSES][FERC_NUM_CLASSES];  /* [true][pred] */
} ferc_metrics;

/* Metrics as scikit-learn computes them (zero_division=0). */
void ferc_metrics_compute(const int *y_true, const int *y_pred, int n, ferc_metrics *m);
/* scikit-learn classification_report layout (digits=2 by default); returns
 * the length written (snprintf semantics). */
int ferc_metrics_report(const ferc_metrics *m, int digits, char *buf, size_t cap);
/* One JSON object: n, accuracy, macro_f1, weighted_f1, per_class, confusion. */
int ferc_metrics_json(const ferc_metrics *m, char *buf, size_t cap);
/* The confusion matrix as text, rows true and columns predicted. */
int ferc_metrics_confusion_text(const ferc_metrics *m, char *buf, size_t cap);

/* Evaluate a model on every row of a dataset: predictions into pred (n) and,
 * when probs != NULL, probabilities (n, 7). */
ferc_status ferc_evaluate(ferc_model *m, const ferc_dataset *d, int threads,
                          int *pred, float *probs, ferc_metrics *out, ferc_error *err);
/* Test-time augmentation: the probabilities averaged over several views of
 * each face — for a model trained on random crops the ten crops (corners,
 * centre, and their mirrors), otherwise the face and its mirror image. */
ferc_status ferc_evaluate_tta(ferc_model *m, const ferc_dataset *d, int threads,
                              int *pred, float *probs, ferc_metrics *out, ferc_error *err);

/* ------------------------------------------------------------------------ */
/* Augmentation                                                              */
/* ------------------------------------------------------------------------ */
/* On-the-fly augmentation of one-channel float images in [0,1], after Keras'
 * ImageDataGenerator: zoom, shift and rotation about the image centre and a
 * horizontal flip are composed into ONE affine map from output to source
 * pixels (inverse mapping), sampled once (bilinear, like scipy order=1, or
 * nearest) with a fill mode for points outside; the result is cropped or
 * resized to the output size on the way; then brightness and contrast, a
 * clamp to [0,1], and random erasing. No allocation: safe in the training
 * step. The random draws come only from the ferc_rng passed in (same seed,
 * same images); a transform that is off draws nothing. */

/* Fill for points outside the source (Keras fill_mode, scipy.ndimage modes):
 *   nearest   aaaa|abcd|dddd   (Keras default)
 *   constant  kkkk|abcd|kkkk   (k = cval; scipy 'constant': no interpolation past the edge)
 *   reflect   dcba|abcd|dcba   (edge pixel repeated: scipy 'reflect')
 *   wrap      abcd|abcd|abcd   (periodic: scipy 'grid-wrap') */
typedef enum { FERC_FILL_NEAREST = 0, FERC_FILL_CONSTANT, FERC_FILL_REFLECT, FERC_FILL_WRAP } ferc_fill_mode;
typedef enum { FERC_INTERP_BILINEAR = 0, FERC_INTERP_NEAREST } ferc_interp;

typedef struct ferc_augment_opts {
    int enabled;                        /* 0: ferc_augment_image = ferc_augment_center */
    float zoom_lo, zoom_hi;             /* zoom factor range, source px per output px:
                                         * > 1 zooms out (shows more), < 1 zooms in.
                                         * Keras zoom_range=z means [1-z, 1+z]. 1,1 = off */
    int zoom_same;                      /* 1: one factor for both axes; 0: independent (Keras) */
    float shift_x, shift_y;             /* max shift, fraction of width / height (0 = off) */
    float rotation;                     /* max rotation in degrees, uniform in [-r, r] (0 = off) */
    int flip;                           /* horizontal flip with probability 0.5 */
    int crop;                           /* 1: random crop of the output size (centre crop at
                                         * evaluation); 0: resize to the output size */
    float brightness_lo, brightness_hi; /* factor range, pixels multiplied (1,1 = off) */
    float contrast_lo, contrast_hi;     /* factor range, (x - mean) * c + mean (1,1 = off) */
    ferc_fill_mode fill;                /* nearest */
    float cval;                         /* value for FERC_FILL_CONSTANT, in [0,1] (0) */
    ferc_interp interp;                 /* bilinear */
    /* Random erasing (Zhong et al. 2017, as torchvision RandomErasing), after
     * everything above, on the output image: with probability `erase` a
     * rectangle of area fraction uniform in [erase_scale_lo, _hi] and aspect
     * h/w log-uniform in [erase_ratio_lo, _hi] (10 tries to fit, else
     * nothing) is filled with uniform random values in [0,1) or zeros. */
    float erase;                        /* probability (0 = off: no random draw) */
    float erase_scale_lo, erase_scale_hi; /* 0.02, 0.33 */
    float erase_ratio_lo, erase_ratio_hi; /* 0.3, 3.3 */
    int erase_random;                   /* 1: random values (1); 0: zeros */
} ferc_augment_opts;

/* Everything off (enabled = 0, factors 1, fill nearest, bilinear). */
void ferc_augment_opts_default(ferc_augment_opts *o);
/* Apply one "key=value" setting (a bare "flip" means flip=1). Keys (Keras
 * names accepted too): enabled, preset (none | seed2 = zoom 0.3 + nearest |
 * fer = zoom 0.2, shift 0.1, rotation 10, flip), zoom (z or lo,hi), zoom_same,
 * shift (f or fx,fy), shift_x, shift_y, rotation, flip, crop, brightness (b or
 * lo,hi), contrast (c or lo,hi), fill (nearest|constant|reflect|wrap), cval,
 * interp (bilinear|nearest), erase (probability), erase_scale (lo,hi),
 * erase_ratio (lo,hi), erase_value (random|0). Setting a transform turns
 * `enabled` on.
 * FERC_ERR_ARG with a message on an unknown key or a bad value. */
ferc_status ferc_augment_opts_parse(ferc_augment_opts *o, const char *setting, ferc_error *err);
/* Read a config file of "key = value" lines (the keys above; '#' starts a
 * comment; blank lines ignored) on top of *o. Errors name the file and line. */
ferc_status ferc_augment_load_config(const char *path, ferc_augment_opts *o, ferc_error *err);
/* One readable line describing the options, e.g. "zoom 0.70..1.30 per axis,
 * h-flip p=0.5, fill nearest, bilinear"; snprintf semantics. */
int ferc_augment_describe(const ferc_augment_opts *o, char *buf, size_t cap);
/* Check the options against the sizes (crop needs dh <= sh, dw <= sw). */
ferc_status ferc_augment_check(const ferc_augment_opts *o, int sh, int sw, int dh, int dw,
                               ferc_error *err);

/* Random augmentation of one image: draw + apply (when o->enabled), else
 * ferc_augment_center. */
ferc_status ferc_augment_image(const ferc_augment_opts *o, ferc_rng *rng, const float *src,
                               int sh, int sw, float *dst, int dh, int dw);
/* A batch straight from a dataset: rows idx[0..n) (raw 0..255 pixels, scaled
 * by 1/255 while sampling) -> dst (n, dh, dw). train = 1 augments (drawing
 * image after image from rng, so the result does not depend on threads);
 * train = 0 gives the evaluation view (rng unused, may be NULL). */
ferc_status ferc_augment_batch(const ferc_augment_opts *o, ferc_rng *rng, const ferc_dataset *d,
                               const int *idx, int n, int train, float *dst, int dh, int dw);


/* ------------------------------------------------------------------------ */
/* Face detection                                                            */
/* ------------------------------------------------------------------------ */
/* A Viola-Jones detector that reads OpenCV's Haar cascade XML files (current
 * and old formats; Debian package opencv-data) and finds the same boxes as
 * OpenCV 4's CascadeClassifier::detectMultiScale with the same parameters.
 * A cascade is read-only once loaded: one can serve several threads. */
typedef struct ferc_cascade ferc_cascade;

typedef struct { int x, y, w, h; } ferc_box;

typedef struct {
    double scale_factor;  /* 1.1: each scale is this much larger than the last (> 1) */
    int min_neighbors;    /* 5: a face needs more than this many raw detections (0 = raw) */
    int min_size;         /* 30: smallest face side in pixels */
    int max_size;         /* 0: largest face side in pixels, 0 = no limit */
    int threads;          /* 0: every core */
} ferc_detect_opts;

void ferc_detect_opts_default(ferc_detect_opts *o);

/* Load a cascade; path NULL or "" uses ferc_cascade_default_path(). A missing
 * file is FERC_ERR_IO with a message naming the package to install
 * (apt-get install opencv-data); LBP/HOG cascades are refused (FERC_ERR_PARSE). */
ferc_status ferc_cascade_load(const char *path, ferc_cascade **out, ferc_error *err);
void ferc_cascade_free(ferc_cascade *c);

/* Detect faces in an 8-bit gray image (w x h, rows `stride` bytes apart).
 * opts NULL = defaults. Writes up to max_boxes boxes (clipped to the image)
 * and sets *nfound to the number of faces found, which may exceed max_boxes.
 * Zero faces is FERC_OK with *nfound = 0. The result does not depend on the
 * thread count. */
ferc_status ferc_detect_faces(const ferc_cascade *c, const uint8_t *gray, int w, int h, int stride,
                              const ferc_detect_opts *opts, ferc_box *boxes, int max_boxes, int *nfound,
                              ferc_error *err);



/* Classify n faces of a gray image: each box is cropped with a margin (0.1 =
 * 10% of its size on each side), resized to ferc_model_input_size(model),
 * scaled to [0,1] and run through ferc_model_predict: probs (n, 7). */
ferc_status ferc_classify_faces(ferc_model *model, const uint8_t *gray, int w, int h, int stride,
                                const ferc_box *boxes, int n, float margin, float *probs, ferc_error *err);

/* Draw the boxes on an RGB image (c = 3) in place, coloured by top emotion
 * and labelled "emotion 87%" when probs (n, 7) is given (cairo). */
ferc_status ferc_draw_faces(ferc_image *img, const ferc_box *boxes, int n, const float *probs, ferc_error *err);

/* Finding and classifying the faces of a photo or video frame in one call
 * (faces.c): what `ferc predict` and `ferc video` do per image. */
typedef struct {
    ferc_detect_opts detect;  /* the detector's options (ferc_detect_opts_default) */
    float margin;             /* 0.1: each box grown by margin * its size on every side before classifying */
    int max_faces;            /* 0: every face; N: only the N most confident (the others are not classified) */
    int largest;              /* 0; 1: only the largest face (by area; ties: the more confident) */
} ferc_find_opts;

void ferc_find_opts_default(ferc_find_opts *o);

/* The faces found: boxes, detection confidences and probabilities, most
 * confident face first. Start from {0}; a ferc_faces can be passed to
 * ferc_find_faces again (one per video, say): its buffers are reused and
 * grown as needed. Free with ferc_faces_free.
 *
 * The confidence of a face is how strongly the cascade voted for it: its
 * group holds `neighbors` raw detections (windows at nearby positions and
 * scales that passed every stage; min_neighbors filters on the same count)
 * and confidence = neighbors / (neighbors + 10), so 10 raw detections give
 * 0.5 and 40 give 0.8. It only ranks faces found with the same scale factor
 * (a finer factor tries more scales and so collects more detections). */
typedef struct {
    int n;              /* faces found in the last image */
    ferc_box *boxes;    /* (n) boxes, clipped to the image */
    float *probs;       /* (n, FERC_NUM_CLASSES) probabilities */
    int cap;            /* room in boxes, probs, confidence and neighbors */
    float *confidence;  /* (n) detection confidence in (0, 1), descending */
    int *neighbors;     /* (n) raw detections merged into each face */
} ferc_faces;

/* ferc_detect_faces with opts->detect, faces ordered by confidence (ties in
 * the detector's order), then kept as opts->max_faces and opts->largest say,
 * then ferc_classify_faces of each with opts->margin (opts NULL = defaults).
 * Without max_faces or largest every face found is returned: the boxes and
 * probabilities of ferc_detect_faces + ferc_classify_faces, in confidence
 * order. On an error out->n is 0. */
ferc_status ferc_find_faces(const ferc_cascade *c, ferc_model *model, const uint8_t *gray, int w, int h, int stride,
                            const ferc_find_opts *opts, ferc_faces *out, ferc_error *err);
void ferc_faces_free(ferc_faces *f);

/* ------------------------------------------------------------------------ */
/* Reports and plots                                                         */
/* ------------------------------------------------------------------------ */
#define FERC_MAX_CALIB_BINS 50

typedef struct {
    int threads;              /* 0 = every core */
    int max_faces;            /* faces in misclassified.png and correct.png (24) */
    int pairs;                /* confused pairs shown (6), each with up to 6 faces */
    int activation_faces;     /* faces in activations.png (3) */
    int maps_per_block;       /* feature maps per conv block and face (10) */
    int saliency_faces;       /* faces in saliency.png (8) */
    int calib_bins;           /* reliability-diagram bins (10, at most FERC_MAX_CALIB_BINS) */
    int quantiles;            /* brightness / contrast groups (5) */
    const char *data_label;   /* shown on the page, e.g. "fer2013.csv.gz (PublicTest)" */
    const char *model_label;  /* shown on the page, e.g. the model file name */
    ferc_log_fn log; void *log_user;  /* stage messages ("evaluating 3589 faces") */
    /* called during the evaluation (the slow part) with faces done / total */
    void (*progress)(int done, int total, void *user); void *progress_user;
} ferc_report_opts;

void ferc_report_opts_default(ferc_report_opts *o);

/* Write an HTML report into folder dir (created if missing; its parent must
 * exist): dir/index.html with the headline numbers, the classification
 * report, error-analysis tables, and the PNGs curves, confusion, per_class,
 * misclassified, correct, confused_pairs, activations, filters, saliency,
 * calibration, quantiles and share. Everything is written to a temporary
 * folder first and renamed into place at the end (index.html last), so a
 * failure leaves no new index.html. Refused before anything is written:
 * a model without training history (FERC_ERR_ARG), a dataset without rows
 * (FERC_ERR_ARG), a folder that cannot be written (FERC_ERR_IO). o may be NULL. */
ferc_status ferc_report(ferc_model *m, const ferc_dataset *d, const char *dir,
                        const ferc_report_opts *o, ferc_error *err);

/* (Re)draw only the training curves (loss and accuracy, train and
 * validation, per epoch) as a 1100x420 PNG at path, atomically (temp file +
 * rename), for `ferc train --plot DIR`. n >= 1. */
ferc_status ferc_plot_curves(const ferc_epoch_stats *h, int n, const char *path, ferc_error *err);

/* ------------------------------------------------------------------------ */
/* Bindings (issue 14: libferc.so, the Python package)                       */
/* ------------------------------------------------------------------------ */
/* What another language needs to use a model without knowing its insides.
 * Class names are the model's own (stored in its file), so a binding reads
 * them here instead of hard-coding the FER2013 list. */

/* Number of classes the model outputs (probabilities per face); 0 for NULL. */
int ferc_model_num_classes(const ferc_model *m);
/* Name of class i ("angry", ...), owned by the model; NULL when out of range. */
const char *ferc_model_class_name(const ferc_model *m, int i);
/* Classify n gray faces of h x w raw pixels (pix: (n, h, w) uint8, 0..255,
 * any size): scaled to [0,1], brought to the model's input with its own
 * preprocessing (bilinear resize, or resize and centre crop) as `ferc eval`
 * does, then ferc_model_predict: probs (n, ferc_model_num_classes). Not
 * reentrant on one model (its buffers are reused): one thread per model. */
ferc_status ferc_model_predict_faces(ferc_model *m, const uint8_t *pix, int n, int h, int w, float *probs,
                                     int threads, ferc_error *err);

/* ------------------------------------------------------------------------ */
/* Video: face tracks, smoothing, per-track summaries (src/video/, issue 16)  */
/* ------------------------------------------------------------------------ */
/* A SORT-like tracker: each track has a constant-velocity motion model of
 * its box (an alpha-beta filter: the box snaps to each matched detection and
 * the velocity is an average of the observed displacements); at a detection
 * frame the predicted boxes are matched to the detections greedily by IoU
 * (largest overlap first, at least min_iou). A track survives max_age frames
 * without a match; it gets its ID (1, 2, ...) once it has min_hits
 * detections (or at once during the first min_hits detection frames, as
 * SORT does). Between detection frames it carries the boxes on. Each
 * reported track's probabilities are smoothed over time and summed up. */
typedef struct ferc_tracker ferc_tracker;

typedef enum { FERC_SMOOTH_NONE = 0, FERC_SMOOTH_EMA, FERC_SMOOTH_WINDOW } ferc_smooth_kind;

typedef struct {
    int max_age;              /* 30: frames a track lives on without a matched detection */
    int min_hits;             /* 2: detections before a track is reported */
    float min_iou;            /* 0.3: overlap a detection needs with a predicted box */
    ferc_smooth_kind smooth;  /* FERC_SMOOTH_EMA */
    float alpha;              /* 0.2: EMA weight of the newest frame, in (0, 1] */
    int window;               /* 15: frames averaged by FERC_SMOOTH_WINDOW */
} ferc_tracker_opts;

void ferc_tracker_opts_default(ferc_tracker_opts *o);

/* A track as reported for the current frame. */
typedef struct {
    int id;                              /* 1, 2, ... in the order tracks were confirmed */
    ferc_box box;                        /* the matched detection, or the predicted box (clipped) */
    int det;                             /* index of the matched detection, -1 when carried */
    float confidence;                    /* the detection's confidence, -1 when carried */
    float raw[FERC_NUM_CLASSES];         /* this frame's probabilities (after ferc_tracker_observe) */
    float smooth[FERC_NUM_CLASSES];      /* the smoothed ones */
} ferc_track;

/* o NULL = defaults; FERC_ERR_ARG on an option out of range. */
ferc_status ferc_tracker_new(const ferc_tracker_opts *o, ferc_tracker **out, ferc_error *err);
void ferc_tracker_free(ferc_tracker *t);

/* One frame (frame numbers increase; gaps are allowed) of a w x h video.
 * boxes: the n detections of this frame (conf NULL or their confidences), or
 * NULL for a frame without detection, where the tracks are carried by their
 * motion model. Then ferc_tracker_tracks lists the tracks to report, by ID. */
ferc_status ferc_tracker_update(ferc_tracker *t, long frame, const ferc_box *boxes, const float *conf, int n, int w,
                                int h, ferc_error *err);
const ferc_track *ferc_tracker_tracks(const ferc_tracker *t, int *n);
/* The probabilities of reported track i of this frame: smoothed into its
 * smooth[] and added to its summary. */
ferc_status ferc_tracker_observe(ferc_tracker *t, int i, const float *probs, ferc_error *err);

/* The whole step for a gray frame: detect = 1 runs the cascade (or takes
 * the given boxes[n] when boxes is not NULL), classifies, tracks; detect = 0
 * carries the tracks and classifies their predicted boxes. o NULL =
 * defaults (o->max_faces and o->largest apply to the detections). */
ferc_status ferc_track_faces(ferc_tracker *t, const ferc_cascade *c, ferc_model *model, const uint8_t *gray, int w,
                             int h, int stride, long frame, int detect, const ferc_box *boxes, int n,
                             const ferc_find_opts *o, ferc_error *err);

/* Every track reported so far (ended or not), by ID. mean: mean of the
 * smoothed probabilities; share: fraction of its frames with each smoothed
 * label; dominant: the label with the largest share. */
typedef struct {
    int id;
    long first_frame, last_frame, frames;  /* frames: rows reported */
    int dominant;
    double mean[FERC_NUM_CLASSES], share[FERC_NUM_CLASSES];
} ferc_track_summary;
int ferc_tracker_summary_count(const ferc_tracker *t);
ferc_status ferc_tracker_summary(const ferc_tracker *t, int i, ferc_track_summary *s, ferc_error *err);
/* Label changes of track i's smoothed (smoothed = 1) or raw labels. */
long ferc_tracker_label_changes(const ferc_tracker *t, int i, int smoothed);

/* A PNG with one panel per track: its smoothed probabilities over time
 * (seconds = frame / fps), one line per emotion (cairo), written atomically.
 * FERC_ERR_ARG when no track was reported. */
ferc_status ferc_plot_timeline(const ferc_tracker *t, double fps, const char *path, ferc_error *err);


/* ------------------------------------------------------------------------ */
/* Calibration                                                               */
/* ------------------------------------------------------------------------ */

/* Calibration of top-1 confidences: nb equal-width bins over [0,1]; per bin
 * the mean confidence, accuracy and count; ece = sum_b count_b/n *
 * |acc_b - conf_b| (expected calibration error), mce = the largest such gap
 * over non-empty bins. probs (n, 7), labels (n); 1 <= nb <= FERC_MAX_CALIB_BINS. */
typedef struct {
    int nb, n;
    double conf[FERC_MAX_CALIB_BINS], acc[FERC_MAX_CALIB_BINS];
    int count[FERC_MAX_CALIB_BINS];
    double ece, mce;
} ferc_calibration;
ferc_status ferc_calibration_compute(const float *probs, const int *labels, int n, int nb,
                                     ferc_calibration *out, ferc_error *err);

/* Temperature scaling (Guo et al. 2017): a calibrated model's probabilities
 * are softmax(logits / T), i.e. its uncalibrated ones raised to 1/T and
 * renormalised (for an ensemble, its averaged probabilities), so that a
 * score of 0.8 is right about 80% of the time. Argmax, accuracy and F1 are
 * unchanged. T is stored in the model file (no chunk when T = 1). */
#define FERC_TEMPERATURE_MIN 0.01f
#define FERC_TEMPERATURE_MAX 100.0f
typedef struct {
    int nval;                       /* validation faces T was fitted on */
    float temperature;
    float nll_before, nll_after;    /* mean -ln p(true) on them */
    float ece_before, ece_after;    /* 15 bins */
} ferc_calibration_fit;
/* Fit T by minimising the validation negative log-likelihood on the split
 * ferc_train carves from d with the same val_fraction and seed (faces the
 * model did not train on), starting from T = 1, and store it in m. */
ferc_status ferc_model_calibrate(ferc_model *m, const ferc_dataset *d, float val_fraction, uint64_t seed,
                                 int threads, ferc_calibration_fit *fit, ferc_error *err);
float ferc_model_temperature(const ferc_model *m);     /* 1 when not calibrated */
ferc_status ferc_model_set_temperature(ferc_model *m, float t, ferc_error *err);
/* Each of the n rows of 7 probabilities becomes p^factor renormalised
 * (factor = 1/T tempers, factor = T undoes a temperature T). */
void ferc_probs_temper(float *probs, int n, float factor);

/* ------------------------------------------------------------------------ */
/* Hyperparameter search (ferc tune)                                         */
/* ------------------------------------------------------------------------ */

/* A search space: `key = choice(a, b, ...)`, `uniform(lo, hi)` or
 * `loguniform(lo, hi)` lines ('#' starts a comment) over ferc train options
 * (key = the option without "--"). At most 32 keys, 16 choices, values
 * under 64 bytes. */
typedef struct ferc_space ferc_space;
ferc_status ferc_space_parse(const char *text, const char *name, ferc_space **out, ferc_error *err);
ferc_status ferc_space_load(const char *path, ferc_space **out, ferc_error *err);
void ferc_space_free(ferc_space *s);
int ferc_space_keys(const ferc_space *s);
const char *ferc_space_key(const ferc_space *s, int k);

typedef enum { FERC_SAMPLER_RANDOM = 0, FERC_SAMPLER_HALTON = 1 } ferc_sampler;
/* Trial `trial`'s value of every key as text ("0.00123", "64", "sgd") into
 * values[k]: a pure function of (space, sampler, seed, trial). HALTON is a
 * randomly shifted Halton sequence (even coverage for few trials). */
ferc_status ferc_space_sample(const ferc_space *s, ferc_sampler sm, uint64_t seed, int trial,
                              char (*values)[64], ferc_error *err);

/* Successive halving over epochs: rungs min, min*eta, ..., max (returns how
 * many, at most cap; 0 for bad arguments). */
int ferc_tune_rungs(int min_epochs, int max_epochs, int eta, int *rungs, int cap);
typedef struct {
    int epochs_done;    /* epochs in the trial's history */
    int target;         /* epochs it is being trained to now; 0 = idle */
    int failed;
    const float *best;  /* best[e]: best validation figure over epochs 1..e+1 */
} ferc_tune_trial;
/* The trial to train next and *to, the epochs to train it to; -1 when none
 * can run now (all busy, or the search is over when none is running). sync =
 * successive halving by whole rungs (keep max(1, n/eta) per rung); else ASHA
 * (promote as soon as a trial is in the top 1/eta of its rung; the caller
 * adds new trials when this returns -1). Trials short of rung 0 come last. */
int ferc_tune_next(const ferc_tune_trial *t, int n, const int *rungs, int m, int eta, int sync, int *to);

/* Validation curves of several trials on one PNG (the leaderboard's view):
 * y[i] has n[i] values (epochs 1..n[i]); highlight = index drawn bold, or -1. */
ferc_status ferc_plot_trials(const float *const *y, const int *n, const char *const *labels, int count,
                             int highlight, const char *ylabel, const char *path, ferc_error *err);

/* ------------------------------------------------------------------------ */
/* Images in memory (src/serve/; what `ferc serve` decodes its uploads with) */
/* ------------------------------------------------------------------------ */
enum { FERC_FORMAT_PNG = 1, FERC_FORMAT_JPEG = 2 };

/* Format (FERC_FORMAT_*, format may be NULL) and size of a PNG or JPEG held
 * in memory, from its header only: nothing is decoded. A header whose size
 * is readable gives it even when the data after it is missing. Empty,
 * unknown or unreadable: FERC_ERR_DECODE. */
ferc_status ferc_image_probe(const void *buf, size_t len, int *format, uint32_t *w, uint32_t *h, ferc_error *err);
/* Decode a PNG or JPEG held in memory exactly as ferc_image_load decodes a
 * file (want_c as there), after refusing, from the header and before any
 * pixel is decoded, an image of more than max_pixels pixels (0 or more than
 * FERC_MAX_IMAGE_PIXELS: FERC_MAX_IMAGE_PIXELS) with FERC_ERR_LIMIT.
 * Garbage, truncated or unsupported data: FERC_ERR_DECODE. */
ferc_status ferc_image_decode(const void *buf, size_t len, int want_c, uint64_t max_pixels, ferc_image *out,
                              ferc_error *err);

/* ------------------------------------------------------------------------ */
/* ONNX export (src/export/; `ferc export --onnx`)                           */
/* ------------------------------------------------------------------------ */
/* Write m (a model or an ensemble) as an ONNX file (opset 13) whose graph
 * does everything ferc does from a FER2013 face to its probabilities: input
 * "pixels" float32 (N, 1, 48, 48), gray 0..255; output "probs" float32
 * (N, 7), the softmax (an ensemble: its members' weighted mean), the same
 * figures as ferc_evaluate to about 1e-6. Inside: /255, the model's resize
 * and/or centre crop (as exact MatMuls with ferc's own bilinear weights),
 * its normalisation, the network with inference batch norm, softmax. The
 * class names are in metadata_props "labels" (comma-separated). Written
 * atomically (temporary file + rename: nothing is left on failure). A layer
 * kind without an ONNX form is FERC_ERR_ARG naming it. */
ferc_status ferc_model_export_onnx(const ferc_model *m, const char *path, ferc_error *err);

/* ------------------------------------------------------------------------ */
/* Data-parallel training over MPI (issue 17; src/train/dist.c)              */
/* ------------------------------------------------------------------------ */
/* 1 when this build has MPI (make MPI=1, or mpicc found), else 0. */
int ferc_dist_built(void);
/* Join the MPI job when the process was started by mpirun (an MPI build):
 * from then on ferc_train runs data-parallel over the job's ranks (each
 * computes the gradients of its share of every batch; they are summed
 * before the optimiser step; only rank 0 writes the checkpoint). Outside
 * mpirun, or with one rank, rank 0 of 1 and nothing changes. A build
 * without MPI started by mpirun with several ranks: FERC_ERR_ARG. rank and
 * size may be NULL. Call ferc_dist_finalize before exiting. */
ferc_status ferc_dist_init(int *rank, int *size, ferc_error *err);
void ferc_dist_finalize(void);

#ifdef __cplusplus
}
#endif
#endif /* FERC_H */
