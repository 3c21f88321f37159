/* fuzz_model.c — model, ensemble and checkpoint files: every chunk, the
 * CRC, the spec inside the file and the range checks between fields. The
 * CRC would stop almost every mutation at the door, so the harness fixes it
 * up when the first byte is odd (the fuzzer then explores what lies behind
 * it); even inputs test the envelope as they are. */
#include "fuzz_util.h"

#include "model/model.h"

#include <string.h>
#include <zlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > (4u << 20)) return 0;
    uint8_t *buf = malloc(size - 1 + 1);
    if (!buf) return 0;
    size_t n = size - 1;
    memcpy(buf, data + 1, n);
    if ((data[0] & 1) && n >= 20) {
        uint32_t crc = (uint32_t)crc32(0L, buf, (uInt)(n - 4));
        memcpy(buf + n - 4, &crc, 4);
    }
    const char *path = fuzz_path("model");
    fuzz_write(path, buf, n);
    free(buf);
    ferc_model *m = NULL;
    ferc_error err;
    ckpt_extra ex;
    if (data[0] & 2) {   /* as `ferc train --resume` reads it */
        if (model_load_ex(path, &m, &ex, &err) == FERC_OK) {
            free(ex.load_m); free(ex.load_v); free(ex.load_best_params); free(ex.load_best_state);
            free(ex.load_ema_params);
        }
    } else {
        (void)ferc_model_load(path, &m, &err);
    }
    if (m) {   /* what `ferc info` reads back */
        const ferc_epoch_stats *h;
        (void)ferc_model_history(m, &h);
        (void)ferc_model_num_params(m);
        (void)ferc_model_flops(m);
        ferc_model_free(m);
    }
    unlink(path);
    return 0;
}
