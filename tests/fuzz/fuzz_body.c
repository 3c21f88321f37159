/* fuzz_body.c — the request body of `ferc serve` (POST /v1/emotions): what
 * the server does with bytes from the network before any face is looked
 * for: read the size from the header (ferc_image_probe), refuse too many
 * pixels, decode from memory (ferc_image_decode) in gray and colour. The
 * HTTP parsing itself is libmicrohttpd's. The first byte picks the pixel
 * limit, so that both the refusal and the decoding paths are reached. */
#include "fuzz_util.h"

#include "ferc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > (1u << 20)) return 0;
    static const uint64_t limit[] = {0, 64 * 64, 640 * 480, 1};
    const uint8_t *body = data + 1;
    const size_t n = size - 1;
    int fmt = 0;
    uint32_t w = 0, h = 0;
    ferc_error err;
    const int probed = ferc_image_probe(body, n, &fmt, &w, &h, &err) == FERC_OK;
    ferc_image im;
    if (ferc_image_decode(body, n, (data[0] & 4) ? 3 : 1, limit[data[0] & 3], &im, &err) == FERC_OK) {
        if (!probed || (uint32_t)im.w * (uint32_t)im.h == 0) abort();   /* decoded what the probe refused */
        ferc_image_free(&im);
    }
    return 0;
}
