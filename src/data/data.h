/* data/data.h — internal helpers of the data folder (CSV and folder loading,
 * images, augmentation) used by other folders of the library. */
#ifndef FERC_DATA_H
#define FERC_DATA_H

#include "core/core.h"

#include <stddef.h>
#include <stdint.h>

/* Bilinear resize of a uint8 plane into floats scaled to [0,1], identical to
 * ferc_resize_bilinear on pix/255.0f, without allocating (image.c). */
void ferc_resize_bilinear_u8(const uint8_t *src, int sh, int sw, float *dst, int dh, int dw);

/* ---- library-internal parts of the API (not in include/ferc.h) ---- */

/* Bilinear resize of one float plane, align_corners=false (pixel centres),
 * like OpenCV INTER_LINEAR and PyTorch interpolate(bilinear). */
void ferc_resize_bilinear(const float *src, int sh, int sw, float *dst, int dh, int dw);

/* Loading with a say on what each folder image becomes (data.c; the
 * detector's ferc_dataset_load_faces, src/detect/dataset.c, is the caller:
 * data cannot call detect). fn, called from several threads at once with
 * the decoded gray image, writes the size x size face into out and returns
 * DATA_FACE_CROPPED, or returns DATA_FACE_WHOLE (the image is resized whole),
 * DATA_FACE_NONE (no face: the image is left out and counted) or
 * DATA_FACE_ERROR with err filled (the load stops, even with skip_bad_rows).
 * fn NULL: every image whole (ferc_dataset_load). info may be NULL. */
enum { DATA_FACE_ERROR = -1, DATA_FACE_NONE = 0, DATA_FACE_WHOLE = 1, DATA_FACE_CROPPED = 2 };
typedef int (*data_face_fn)(void *user, const ferc_image *gray, int size, uint8_t *out, ferc_error *err);
ferc_status data_load(const char *path, const ferc_load_opts *opts, data_face_fn fn, void *user,
                      ferc_dataset *out, ferc_load_info *info, ferc_error *err);

/* The transform of one image, drawn or given by hand. Forward meaning: the
 * content is rotated by `angle` degrees counter-clockwise about the centre,
 * shifted by (dx, dy) source pixels (right, down), zoomed about the centre
 * (zx, zy source px per output px), mirrored left-right when flip, then
 * cropped at (crop_x, crop_y) when crop, else resized to the output size. */
typedef struct {
    float zx, zy;
    float dx, dy;
    float angle;
    int flip;
    int crop, crop_x, crop_y;
    float brightness, contrast;
    /* random erasing, on the output image: rows erase_y..+erase_h, columns
     * erase_x..+erase_w (erase_h or erase_w 0: none), filled with zeros, or
     * with the uniform values of a generator seeded erase_seed when
     * erase_random (so that applying given parameters needs no rng) */
    int erase_x, erase_y, erase_w, erase_h;
    int erase_random;
    uint64_t erase_seed;
} ferc_augment_params;

/* Identity (crop = 0, factors 1, nothing erased). */
void ferc_augment_params_identity(ferc_augment_params *p);
/* Draw the parameters for one image (only enabled transforms use the rng;
 * crop offsets are uniform in [0, sh-dh] x [0, sw-dw]). */
ferc_status ferc_augment_draw(const ferc_augment_opts *o, ferc_rng *rng, int sh, int sw,
                              int dh, int dw, ferc_augment_params *p);

/* Apply given parameters with o's fill, cval and interpolation (o may be NULL:
 * nearest fill, bilinear): src (sh, sw) -> dst (dh, dw). FERC_ERR_ARG on bad
 * sizes (crop window outside the source). */
ferc_status ferc_augment_apply(const ferc_augment_opts *o, const ferc_augment_params *p,
                               const float *src, int sh, int sw, float *dst, int dh, int dw);

/* Evaluation view: a centre crop when o->crop (offset floor((sh-dh)/2)),
 * otherwise a bilinear resize (pixel centres, as ferc_resize_bilinear). */
ferc_status ferc_augment_center(const ferc_augment_opts *o, const float *src, int sh, int sw,
                                float *dst, int dh, int dw);

/* Ten crops for test-time averaging (torchvision TenCrop order): top-left,
 * top-right, bottom-left, bottom-right, centre, then the same five mirrored.
 * dst holds 10 * dh * dw floats. */
ferc_status ferc_augment_ten_crop(const float *src, int sh, int sw, float *dst, int dh, int dw);

/* Class imbalance. Balanced class weights as scikit-learn's
 * compute_class_weight('balanced'): w[c] = n / (k * counts[c]), n the total
 * and k the number of classes present; absent classes get 0. Returns k. */
int ferc_class_weights_balanced(const int counts[FERC_NUM_CLASSES], float w[FERC_NUM_CLASSES]);

/* Oversampler: each draw picks a class uniformly among the classes present,
 * then a member of that class uniformly, so every class is seen equally
 * often. The per-class index lists are built once by init. */
typedef struct {
    int n;                          /* rows indexed */
    int nclass;                     /* classes present */
    int cls[FERC_NUM_CLASSES];      /* their labels */
    int count[FERC_NUM_CLASSES];    /* members of each label (0 if absent) */
    int start[FERC_NUM_CLASSES];    /* offset of each label's members in idx */
    int *idx;                       /* (n) row indices grouped by label */
} ferc_balanced_sampler;

/* labels (n) in 0..6; FERC_ERR_ARG names the first bad label. */
ferc_status ferc_balanced_sampler_init(ferc_balanced_sampler *s, const int *labels, int n,
                                       ferc_error *err);
/* m row indices into out_idx (with replacement). No allocation. */
void ferc_balanced_sampler_draw(const ferc_balanced_sampler *s, ferc_rng *rng, int *out_idx, int m);
void ferc_balanced_sampler_free(ferc_balanced_sampler *s);

/* The stratified validation split of ferc_train (and of the ensemble weight
 * fit, which must pick the same rows): per class in label order, the rows
 * of that class shuffled (Fisher-Yates, one generator seeded
 * seed ^ 0x5EED5EED for all classes), the first round(frac * n_c) to val,
 * the rest to train, both class by class (not sorted). scratch, val and
 * train (NULL: not wanted) hold d->n ints; ntrain may be NULL. Returns the
 * number of validation rows. */
/* A dataset of the rows idx[0..n) of d (pixels and labels copied; usage
 * zero, no row indices). */
ferc_status data_subset(const ferc_dataset *d, const int *idx, int n, ferc_dataset *out, ferc_error *err);

int data_split_stratified(const ferc_dataset *d, float frac, uint64_t seed, int *scratch, int *train,
                          int *ntrain, int *val);

#endif
