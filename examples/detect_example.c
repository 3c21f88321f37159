/* detect_example.c — the smallest program that embeds ferc: finds the faces
 * in a photo with ferc_detect_faces() and classifies each one with
 * ferc_classify_faces(), then prints a box and the top emotion per face.
 *
 * Build against an installed ferc (make install; the shared library):
 *   cc -O2 examples/detect_example.c $(pkg-config --cflags --libs ferc) -o detect_example
 * or from the repository root, after `make`, with the static library (the
 * libraries it needs are the Makefile's LDLIBS):
 *   cc -O2 -std=c11 -Iinclude examples/detect_example.c build/libferc.a \
 *      -ldnnl -lcairo -lxml2 -lpng -ljpeg -lz -lm -fopenmp -o detect_example
 * Run:
 *   ./detect_example models/seed.ferc photo.jpg
 */
#include "ferc.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s MODEL.ferc IMAGE\n", argv[0]);
        return 2;
    }
    ferc_error err;
    ferc_image img;     /* 8-bit gray: ferc_image_load converts (BT.601 luma) */
    ferc_cascade *cascade;
    ferc_model *model;
    if (ferc_image_load(argv[2], 1, &img, &err) != FERC_OK ||
        ferc_cascade_load(NULL, &cascade, &err) != FERC_OK) { /* NULL: opencv-data's frontal face cascade */
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    if (ferc_model_load(argv[1], &model, &err) != FERC_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }

    ferc_detect_opts opts;
    ferc_detect_opts_default(&opts); /* scale 1.1, min neighbours 5, min size 30: OpenCV's usual */
    ferc_box boxes[64];
    int n = 0;
    if (ferc_detect_faces(cascade, img.data, img.w, img.h, img.w, &opts, boxes, 64, &n, &err) != FERC_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    if (n > 64) n = 64; /* n counts every face; 64 were stored */

    float probs[64 * FERC_NUM_CLASSES];
    if (ferc_classify_faces(model, img.data, img.w, img.h, img.w, boxes, n, 0.1f, probs, &err) != FERC_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    printf("%d face%s\n", n, n == 1 ? "" : "s");
    for (int i = 0; i < n; i++) {
        const float *p = probs + i * FERC_NUM_CLASSES;
        int top = 0;
        for (int k = 1; k < FERC_NUM_CLASSES; k++)
            if (p[k] > p[top]) top = k;
        printf("face %d: x=%d y=%d w=%d h=%d  %s (%.0f%%)\n", i + 1, boxes[i].x, boxes[i].y, boxes[i].w, boxes[i].h,
               ferc_label_name(top), 100.0 * p[top]);
    }
    ferc_model_free(model);
    ferc_cascade_free(cascade);
    ferc_image_free(&img);
    return 0;
}
