/* fuzz_augment.c — augmentation settings: `--augment KEY=VALUE` values and
 * `--augment-config` files (the first byte picks which), then the options
 * are checked and applied to a small image, as a training batch would. */
#include "fuzz_util.h"

#include "ferc.h"

#include <string.h>

static void apply(const ferc_augment_opts *o) {
    ferc_error err;
    char desc[512];
    ferc_augment_describe(o, desc, sizeof desc);
    if (ferc_augment_check(o, 48, 48, 40, 40, &err) != FERC_OK) return;
    static float src[48 * 48], dst[40 * 40];
    for (int i = 0; i < 48 * 48; i++) src[i] = (float)(i % 48) / 48.0f;
    ferc_rng rng;
    ferc_rng_seed(&rng, 1);
    for (int k = 0; k < 2; k++) (void)ferc_augment_image(o, &rng, src, 48, 48, dst, 40, 40);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > 8192) return 0;
    ferc_augment_opts o;
    ferc_augment_opts_default(&o);
    ferc_error err;
    if (data[0] & 1) {
        const char *path = fuzz_path("augment.cfg");
        fuzz_write(path, data + 1, size - 1);
        if (ferc_augment_load_config(path, &o, &err) == FERC_OK) apply(&o);
        unlink(path);
        return 0;
    }
    /* settings separated by newlines, as repeated --augment options */
    char *s = malloc(size);
    if (!s) return 0;
    memcpy(s, data + 1, size - 1);
    s[size - 1] = 0;
    int ok = 1;
    for (char *save = NULL, *t = strtok_r(s, "\n", &save); t && ok; t = strtok_r(NULL, "\n", &save))
        ok = ferc_augment_opts_parse(&o, t, &err) == FERC_OK;
    if (ok) apply(&o);
    free(s);
    return 0;
}
