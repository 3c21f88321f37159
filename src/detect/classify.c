/* classify.c — what happens to a face once found: cropping it out of the
 * gray image with a margin (edges repeated where the margin leaves the
 * image) and resizing it to the model's face size, then the model's own
 * preprocessing and one batched prediction for all the faces of an image.
 * Shared by `ferc predict` and `ferc video` and exported for embedders, so
 * that every caller classifies faces exactly the same way. */
#include "detect/detect.h"
#include "data/data.h"
#include "model/model.h"

#include <math.h>
#include <stdlib.h>

void ferc_crop_face(const uint8_t *gray, int w, int h, int stride, ferc_box b, float margin, int size, float *out,
                    float *tmp) {
    int mx = (int)lrintf((float)b.w * margin), my = (int)lrintf((float)b.h * margin);
    int x0 = b.x - mx, y0 = b.y - my, cw = b.w + 2 * mx, ch = b.h + 2 * my;
    if (cw < 1) cw = 1;
    if (ch < 1) ch = 1;
    for (int y = 0; y < ch; y++) {
        int sy = y0 + y;
        sy = sy < 0 ? 0 : sy >= h ? h - 1 : sy; /* outside the image: repeat the edge */
        const uint8_t *row = gray + (size_t)sy * stride;
        for (int x = 0; x < cw; x++) {
            int sx = x0 + x;
            sx = sx < 0 ? 0 : sx >= w ? w - 1 : sx;
            tmp[(size_t)y * cw + x] = (float)row[sx] * (1.0f / 255.0f);
        }
    }
    ferc_resize_bilinear(tmp, ch, cw, out, size, size);
}

ferc_status ferc_classify_faces(ferc_model *model, const uint8_t *gray, int w, int h, int stride,
                                const ferc_box *boxes, int n, float margin, float *probs, ferc_error *err) {
    if (n == 0) return FERC_OK;
    if (!model || !gray || !boxes || !probs || n < 0)
        return ferc_fail(err, FERC_ERR_ARG, "ferc_classify_faces: NULL argument");
    if (w <= 0 || h <= 0 || stride < w)
        return ferc_fail(err, FERC_ERR_ARG, "ferc_classify_faces: bad image geometry %dx%d, stride %d", w, h, stride);
    if (!(margin >= 0.0f && margin <= 2.0f))
        return ferc_fail(err, FERC_ERR_ARG, "ferc_classify_faces: margin %g outside 0..2", (double)margin);
    int S = ferc_model_input_size(model);
    if (S <= 0) return ferc_fail(err, FERC_ERR_ARG, "ferc_classify_faces: the model has no input size");
    size_t maxcrop = 1;
    for (int i = 0; i < n; i++) {
        if (boxes[i].w <= 0 || boxes[i].h <= 0 || boxes[i].w > 4 * w + 16 || boxes[i].h > 4 * h + 16)
            return ferc_fail(err, FERC_ERR_ARG, "ferc_classify_faces: box %d (%d %d %d %d) is empty or too large", i,
                             boxes[i].x, boxes[i].y, boxes[i].w, boxes[i].h);
        size_t cw = (size_t)(boxes[i].w * (1 + 2 * (double)margin) + 3), ch = (size_t)(boxes[i].h * (1 + 2 * (double)margin) + 3);
        if (cw * ch > maxcrop) maxcrop = cw * ch;
    }
    /* crop to the model's face size F, then its own preprocessing (a resize,
     * or a centre crop for models trained on random crops) */
    int F = ferc_model_face_size(model);
    float *x = malloc(sizeof(float) * (size_t)n * S * S), *tmp = malloc(sizeof(float) * maxcrop),
          *face = malloc(sizeof(float) * (size_t)F * F);
    if (!x || !tmp || !face) { free(x); free(tmp); free(face); return ferc_fail(err, FERC_ERR_NOMEM, "ferc_classify_faces: out of memory"); }
    for (int i = 0; i < n; i++) {
        ferc_crop_face(gray, w, h, stride, boxes[i], margin, F, face, tmp);
        ferc_model_prepare(model, face, F, F, x + (size_t)i * S * S);
    }
    free(tmp);
    free(face);
    ferc_status st = ferc_model_predict(model, x, n, probs, 0, err);
    free(x);
    return st;
}
