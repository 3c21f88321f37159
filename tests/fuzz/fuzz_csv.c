/* fuzz_csv.c — FER2013 CSV, plain and gzip: the first byte picks the form
 * (odd: the rest is gzip-compressed here first, so that the fuzzer reaches
 * the CSV parser behind zlib as well as zlib's own error paths when it
 * mutates a real .gz), the second the row options (usage, skip bad rows). */
#include "fuzz_util.h"

#include "ferc.h"

#include <zlib.h>

static void write_gzip(const char *path, const uint8_t *d, size_t n) {
    gzFile g = gzopen(path, "wb1");
    if (!g || (n && gzwrite(g, d, (unsigned)n) != (int)n) || gzclose(g) != Z_OK) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2 || size > (1u << 20)) return 0;
    const char *path = fuzz_path("csv");
    if (data[0] & 1) write_gzip(path, data + 2, size - 2);
    else fuzz_write(path, data + 2, size - 2);
    static const int usages[] = {FERC_USAGE_ALL, FERC_USAGE_TRAINING, FERC_USAGE_PUBLICTEST, FERC_USAGE_TEST};
    ferc_load_opts o = {.usage = usages[data[1] & 3], .skip_bad_rows = (data[1] >> 2) & 1};
    ferc_dataset d;
    ferc_error err;
    if (ferc_dataset_load(path, &o, &d, &err) == FERC_OK) {
        int counts[FERC_NUM_CLASSES];
        ferc_dataset_class_counts(&d, counts);
        ferc_dataset_free(&d);
    }
    unlink(path);
    return 0;
}
