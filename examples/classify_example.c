/* classify_example.c — classifies one image that is already a face crop (a
 * 48x48 FER2013 face, or any size) with ferc_model_predict_faces(), which
 * applies the model's own preprocessing, and prints every class by the name
 * the model file stores (ferc_model_class_name): the calls a language
 * binding needs, shown in C.
 *
 * Build against an installed ferc (make install):
 *   cc -O2 examples/classify_example.c $(pkg-config --cflags --libs ferc) -o classify_example
 * Run:
 *   ./classify_example /usr/local/share/ferc/models/seed2.ferc face.png
 */
#include <ferc.h>

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s MODEL.ferc FACE_IMAGE\n", argv[0]);
        return 2;
    }
    ferc_error err;
    ferc_model *model = NULL;
    ferc_image img = {0};
    if (ferc_model_load(argv[1], &model, &err) != FERC_OK || ferc_image_load(argv[2], 1, &img, &err) != FERC_OK) {
        fprintf(stderr, "%s\n", err.msg);
        ferc_model_free(model);
        return 1;
    }
    int k = ferc_model_num_classes(model);
    float *probs = malloc(sizeof(float) * (size_t)k);
    int rc = 0;
    if (!probs) { fprintf(stderr, "out of memory\n"); rc = 1; }
    else if (ferc_model_predict_faces(model, img.data, 1, img.h, img.w, probs, 0, &err) != FERC_OK) {
        fprintf(stderr, "%s\n", err.msg);
        rc = 1;
    } else {
        int top = 0;
        for (int i = 0; i < k; i++) {
            printf("%-9s %.4f\n", ferc_model_class_name(model, i), probs[i]);
            if (probs[i] > probs[top]) top = i;
        }
        printf("top: %s\n", ferc_model_class_name(model, top));
    }
    free(probs);
    ferc_image_free(&img);
    ferc_model_free(model);
    return rc;
}
