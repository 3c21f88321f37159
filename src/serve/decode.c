/* decode.c — images that arrive in memory (an HTTP body) rather than in a
 * file: sized from their header first, refused when too large, then decoded
 * by the very decoder `ferc predict` uses (ferc_image_load: EXIF orientation,
 * strict truncation, the same gray), so the service and the CLI give the
 * same answer for the same bytes. That decoder reads a named file; rather
 * than fork it, the bytes go into an anonymous in-memory file (memfd, no
 * disk) opened through /proc/self/fd, with a removed temporary file as the
 * fallback where /proc is not mounted. */
#include "serve/serve.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

ferc_status ferc_image_probe(const void *buf, size_t len, int *format, uint32_t *w, uint32_t *h, ferc_error *err) {
    const uint8_t *b = buf;
    *w = *h = 0;
    if (format) *format = 0;
    if (!b || len == 0) return ferc_fail(err, FERC_ERR_DECODE, "empty image (0 bytes)");
    if (len >= 8 && memcmp(b, png_sig, 8) == 0) {
        if (format) *format = FERC_FORMAT_PNG;
        return serve_probe_png(b, len, w, h, err);
    }
    if (len >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) {
        if (format) *format = FERC_FORMAT_JPEG;
        return serve_probe_jpeg(b, len, w, h, err);
    }
    return ferc_fail(err, FERC_ERR_DECODE, "not a PNG or JPEG image");
}

static int write_all(int fd, const uint8_t *b, size_t n) {
    while (n > 0) {
        ssize_t k = write(fd, b, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return 0;
        b += k;
        n -= (size_t)k;
    }
    return 1;
}

/* An fd holding the bytes and a path that opens them: a memfd, else a
 * temporary file (its name in path, to be removed by the caller). */
static int stage(const uint8_t *b, size_t n, char *path, size_t cap, int *is_tmp) {
    *is_tmp = 0;
    int fd = memfd_create("ferc-image", MFD_CLOEXEC);
    if (fd >= 0) snprintf(path, cap, "/proc/self/fd/%d", fd);
    if (fd >= 0 && access(path, R_OK) != 0) { close(fd); fd = -1; }
    if (fd < 0) {
        const char *dir = getenv("TMPDIR");
        snprintf(path, cap, "%s/ferc-image-XXXXXX", dir && *dir ? dir : "/tmp");
        fd = mkstemp(path);
        *is_tmp = fd >= 0;
    }
    if (fd >= 0 && !write_all(fd, b, n)) {
        close(fd);
        if (*is_tmp) unlink(path);
        fd = -1;
    }
    return fd;
}

/* The decoder names its input in messages; here that name is ours, not the
 * caller's: drop it ("/proc/self/fd/7: bad JPEG: ..." -> "bad JPEG: ..."). */
static void drop_path(ferc_error *err, const char *path) {
    size_t n = strlen(path);
    if (err && strncmp(err->msg, path, n) == 0 && err->msg[n] == ':' && err->msg[n + 1] == ' ')
        memmove(err->msg, err->msg + n + 2, strlen(err->msg + n + 2) + 1);
}

ferc_status ferc_image_decode(const void *buf, size_t len, int want_c, uint64_t max_pixels, ferc_image *out,
                              ferc_error *err) {
    if (!out) return ferc_fail(err, FERC_ERR_ARG, "ferc_image_decode: NULL argument");
    memset(out, 0, sizeof *out);
    uint32_t w, h;
    ferc_status st = ferc_image_probe(buf, len, NULL, &w, &h, err);
    if (st != FERC_OK) return st;
    uint64_t limit = max_pixels ? max_pixels : FERC_MAX_IMAGE_PIXELS;
    if (limit > FERC_MAX_IMAGE_PIXELS) limit = FERC_MAX_IMAGE_PIXELS;
    if ((uint64_t)w * h > limit)
        return ferc_fail(err, FERC_ERR_LIMIT, "image of %ux%u pixels is over the limit of %llu pixels", (unsigned)w,
                         (unsigned)h, (unsigned long long)limit);
    char path[512];
    int is_tmp;
    int fd = stage(buf, len, path, sizeof path, &is_tmp);
    if (fd < 0) return ferc_fail(err, FERC_ERR_IO, "cannot stage the image in memory: %s", strerror(errno));
    st = ferc_image_load(path, want_c, out, err);
    if (st != FERC_OK) drop_path(err, path);
    close(fd);
    if (is_tmp) unlink(path);
    return st;
}
