/* classes.c — what a program that binds ferc from another language needs
 * from a model beyond ferc_model_predict: the class names the model was
 * saved with (so that bindings never hard-code the FER2013 list), and
 * classification of raw 8-bit gray faces of any size, with the model's own
 * preprocessing (resize, or resize and centre crop), so that a caller does
 * not re-implement it and drift from what `ferc eval` does. */
#include "model/model.h"
#include "core/core.h"

#include <stdlib.h>

int ferc_model_num_classes(const ferc_model *m) { return m ? FERC_NUM_CLASSES : 0; }

const char *ferc_model_class_name(const ferc_model *m, int i) {
    if (!m || i < 0 || i >= FERC_NUM_CLASSES) return NULL;
    return m->labels[i];
}

/* Faces per forward call: bounds the float buffer (256 x 48 x 48 x 4 bytes
 * = 2.4 MB) whatever n is. */
enum { PREDICT_CHUNK = 256 };

/* Faces [first, first + b) of pix into x (b, S, S): 0..255 -> [0,1], then
 * the model's preprocessing. src holds h * w floats. */
static void prepare_chunk(const ferc_model *m, const uint8_t *pix, int first, int b, int h, int w,
                          float *src, float *x) {
    const size_t per = (size_t)h * (size_t)w, S = (size_t)ferc_model_input_size(m);
    for (int i = 0; i < b; i++) {
        const uint8_t *p = pix + (size_t)(first + i) * per;
        for (size_t k = 0; k < per; k++) src[k] = p[k] / 255.0f;
        ferc_model_prepare(m, src, h, w, x + (size_t)i * S * S);
    }
}

ferc_status ferc_model_predict_faces(ferc_model *m, const uint8_t *pix, int n, int h, int w, float *probs,
                                     int threads, ferc_error *err) {
    if (!m) return ferc_fail(err, FERC_ERR_ARG, "no model");
    if (n < 0 || (n > 0 && (!pix || !probs)))
        return ferc_fail(err, FERC_ERR_ARG, "%d faces with pixels %p and probabilities %p", n, (const void *)pix,
                         (void *)probs);
    if (h <= 0 || w <= 0) return ferc_fail(err, FERC_ERR_ARG, "face size %dx%d: both sides must be positive", w, h);
    if ((uint64_t)h * (uint64_t)w > FERC_MAX_IMAGE_PIXELS)
        return ferc_fail(err, FERC_ERR_LIMIT, "face size %dx%d is over the %u-pixel limit", w, h,
                         FERC_MAX_IMAGE_PIXELS);
    if (n == 0) return FERC_OK;
    const size_t S = (size_t)ferc_model_input_size(m);
    int chunk = n < PREDICT_CHUNK ? n : PREDICT_CHUNK;
    float *src = malloc(sizeof(float) * (size_t)h * (size_t)w);
    float *x = malloc(sizeof(float) * S * S * (size_t)chunk);
    ferc_status st = src && x ? FERC_OK : ferc_fail(err, FERC_ERR_NOMEM, "out of memory");
    for (int i = 0; st == FERC_OK && i < n; i += chunk) {
        int b = n - i < chunk ? n - i : chunk;
        prepare_chunk(m, pix, i, b, h, w, src, x);
        st = ferc_model_predict(m, x, b, probs + (size_t)i * FERC_NUM_CLASSES, threads, err);
    }
    free(src);
    free(x);
    return st;
}
