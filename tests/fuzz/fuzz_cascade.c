/* fuzz_cascade.c — OpenCV Haar cascade XML (old and new formats) through
 * libxml2 and ferc's validation; an accepted cascade is run over a small
 * synthetic image so that stage, feature and rectangle indices checked at
 * load time are also the ones used at detection time. */
#include "fuzz_util.h"

#include "ferc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > (1u << 20)) return 0;
    const char *path = fuzz_path("cascade.xml");
    fuzz_write(path, data, size);
    ferc_cascade *c = NULL;
    ferc_error err;
    if (ferc_cascade_load(path, &c, &err) == FERC_OK) {
        enum { W = 64, H = 48 };
        static uint8_t img[W * H];
        for (int i = 0; i < W * H; i++) img[i] = (uint8_t)(i * 37 + (i / W) * 11);
        ferc_detect_opts o;
        ferc_detect_opts_default(&o);
        o.threads = 1;
        ferc_box boxes[8];
        int n;
        (void)ferc_detect_faces(c, img, W, H, W, &o, boxes, 8, &n, &err);
        ferc_cascade_free(c);
    }
    unlink(path);
    return 0;
}
