/* common.c — status names, label names, the explicit RNG, error filling,
 * thread count and small file helpers used across the library. */
#include "core/core.h"

#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

static const char *const status_names[] = {
    "ok", "io error", "parse error", "format error", "decode error",
    "invalid argument", "out of memory", "limit exceeded", "internal error", "interrupted"};

const char *ferc_status_name(ferc_status s) {
    if ((unsigned)s < sizeof status_names / sizeof status_names[0]) return status_names[s];
    return "unknown error";
}

ferc_status ferc_fail(ferc_error *err, ferc_status status, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->status = status;
    }
    return status;
}

static const char *const labels[FERC_NUM_CLASSES] = {
    "angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"};

const char *ferc_label_name(int label) {
    return (label >= 0 && label < FERC_NUM_CLASSES) ? labels[label] : "?";
}

int ferc_label_from_name(const char *name) {
    if (!name) return -1;
    for (int i = 0; i < FERC_NUM_CLASSES; i++)
        if (strcasecmp(name, labels[i]) == 0) return i;
    if (name[0] >= '0' && name[0] <= '6' && name[1] == 0) return name[0] - '0';
    return -1;
}

int ferc_usage_from_name(const char *name) {
    if (!name) return -2;
    if (strcasecmp(name, "Training") == 0) return FERC_USAGE_TRAINING;
    if (strcasecmp(name, "PublicTest") == 0) return FERC_USAGE_PUBLICTEST;
    if (strcasecmp(name, "PrivateTest") == 0) return FERC_USAGE_PRIVATETEST;
    if (strcasecmp(name, "all") == 0) return FERC_USAGE_ALL;
    return -2;
}

const char *ferc_usage_name(int usage) {
    switch (usage) {
    case FERC_USAGE_TRAINING: return "Training";
    case FERC_USAGE_PUBLICTEST: return "PublicTest";
    case FERC_USAGE_PRIVATETEST: return "PrivateTest";
    case FERC_USAGE_ALL: return "all";
    default: return "?";
    }
}

/* splitmix64: expands one 64-bit seed into xoshiro's 256-bit state. */
static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void ferc_rng_seed(ferc_rng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t ferc_rng_next(ferc_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t; s[3] = rotl(s[3], 45);
    return result;
}

float ferc_rng_uniform(ferc_rng *r) { return (float)(ferc_rng_next(r) >> 40) * 0x1.0p-24f; }

uint32_t ferc_rng_below(ferc_rng *r, uint32_t n) {
    if (n <= 1) return 0;
    /* Lemire's multiply-shift with rejection: unbiased. */
    uint64_t m = (uint64_t)(uint32_t)(ferc_rng_next(r) >> 32) * n;
    uint32_t l = (uint32_t)m;
    if (l < n) {
        uint32_t t = (uint32_t)(-n) % n;
        while (l < t) { m = (uint64_t)(uint32_t)(ferc_rng_next(r) >> 32) * n; l = (uint32_t)m; }
    }
    return (uint32_t)(m >> 32);
}

float ferc_rng_normal(ferc_rng *r) {
    double u1 = ((ferc_rng_next(r) >> 11) + 1.0) * 0x1.0p-53;  /* (0,1] */
    double u2 = (ferc_rng_next(r) >> 11) * 0x1.0p-53;
    return (float)(sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
}

int ferc_threads(int n) { return n > 0 ? n : omp_get_num_procs(); }

void ferc_logf(ferc_log_fn fn, void *user, ferc_log_level level, const char *fmt, ...) {
    if (!fn) return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fn(level, buf, user);
}

double ferc_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

ferc_status ferc_read_file(const char *path, unsigned char **data, size_t *len, ferc_error *err) {
    *data = NULL; *len = 0;
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return ferc_fail(err, FERC_ERR_IO, "%s: is a directory", path);
    FILE *f = fopen(path, "rb");
    if (!f) return ferc_fail(err, FERC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0) { fclose(f); return ferc_fail(err, FERC_ERR_IO, "%s: cannot seek (not a regular file?)", path); }
    long sz = ftell(f);
    if (sz < 0) { fclose(f); return ferc_fail(err, FERC_ERR_IO, "%s: cannot tell size", path); }
    rewind(f);
    unsigned char *buf = malloc((size_t)sz + 1);
    if (!buf) { fclose(f); return ferc_fail(err, FERC_ERR_NOMEM, "%s: out of memory (%ld bytes)", path, sz); }
    size_t got = fread(buf, 1, (size_t)sz, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || got != (size_t)sz) { free(buf); return ferc_fail(err, FERC_ERR_IO, "%s: read error", path); }
    buf[sz] = 0;
    *data = buf; *len = (size_t)sz;
    return FERC_OK;
}
