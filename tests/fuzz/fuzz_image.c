/* fuzz_image.c — PNG and JPEG decoding (EXIF orientation, CMYK, gray,
 * palettes, truncation, decompression bombs): ferc_image_load in each
 * channel mode the callers use, and the bilinear resize callers do next. */
#include "fuzz_util.h"

#include "data/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > (1u << 20)) return 0;
    const char *path = fuzz_path("img");
    fuzz_write(path, data + 1, size - 1);
    static const int want[] = {0, 1, 3, 1};
    ferc_image im;
    ferc_error err;
    if (ferc_image_load(path, want[data[0] & 3], &im, &err) == FERC_OK) {
        if (im.c == 1) {   /* what a face crop goes through next */
            float out[40 * 40];
            ferc_resize_bilinear_u8(im.data, im.h, im.w, out, 40, 40);
        }
        ferc_image_free(&im);
    }
    unlink(path);
    return 0;
}
