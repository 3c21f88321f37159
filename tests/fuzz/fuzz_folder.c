/* fuzz_folder.c — image folders ROOT/<label>/<file>: the folder and file
 * names (labels by name or digit, extensions, odd bytes) and the images in
 * them, loaded as `ferc train --data DIR` does. The input is a list of
 * records: u8 folder-name length, the name, u8 file-name length, the name,
 * u16 content length (little endian), the content; '/' and NUL in names
 * become '_' and "." / ".." are left out, so that everything stays inside
 * the per-process scratch folder, which is emptied after each input. */
#define _XOPEN_SOURCE 700
#include "fuzz_util.h"

#include "ferc.h"

#include <ftw.h>
#include <string.h>
#include <sys/stat.h>

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb; (void)flag; (void)ftw;
    return remove(p);
}

/* The next name of the record at *p (length byte, bytes) into out. */
static int take_name(const uint8_t **p, const uint8_t *end, char *out) {
    if (*p >= end) return 0;
    size_t n = **p; (*p)++;
    if (n == 0 || n > (size_t)(end - *p) || n > 64) return 0;
    for (size_t i = 0; i < n; i++) out[i] = ((*p)[i] == '/' || (*p)[i] == 0) ? '_' : (char)(*p)[i];
    out[n] = 0;
    *p += n;
    return strcmp(out, ".") != 0 && strcmp(out, "..") != 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > (1u << 18)) return 0;
    const char *root = fuzz_path("folder");
    nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    if (mkdir(root, 0700) != 0) abort();
    const uint8_t *p = data, *end = data + size;
    for (int files = 0; files < 8 && p < end; files++) {
        char dir[80], name[80], path[512];
        if (!take_name(&p, end, dir) || !take_name(&p, end, name) || end - p < 2) break;
        size_t n = (size_t)p[0] | (size_t)p[1] << 8;
        p += 2;
        if (n > (size_t)(end - p)) n = (size_t)(end - p);
        snprintf(path, sizeof path, "%s/%s", root, dir);
        mkdir(path, 0700);
        snprintf(path, sizeof path, "%s/%s/%s", root, dir, name);
        FILE *f = fopen(path, "wb");
        if (f) { fwrite(p, 1, n, f); fclose(f); }
        p += n;
    }
    ferc_load_opts o = {.usage = FERC_USAGE_ALL, .skip_bad_rows = (int)(size & 1), .size = 16};
    ferc_dataset d;
    ferc_error err;
    if (ferc_dataset_load(root, &o, &d, &err) == FERC_OK) ferc_dataset_free(&d);
    nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}
