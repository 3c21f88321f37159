/* fuzz_util.h — what the libFuzzer harnesses share: ferc's loaders take
 * paths, so each input is written to a per-process file in /dev/shm (RAM,
 * no disk wear) and handed over by name. Harnesses are built by `make fuzz`
 * with clang -fsanitize=fuzzer,address,undefined; see docs/reliability.md. */
#ifndef FERC_FUZZ_UTIL_H
#define FERC_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* dir/ferc-fuzz-<pid>-<tag> (static buffer per tag slot). */
static inline const char *fuzz_path(const char *tag) {
    static char buf[4][256];
    static int k;
    char *p = buf[k++ & 3];
    const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(p, 256, "%s/ferc-fuzz-%d-%s", dir, (int)getpid(), tag);
    return p;
}

/* Write n bytes to path; aborts on failure (a broken harness, not a finding
 * in ferc, but it must not pass silently). */
static inline void fuzz_write(const char *path, const uint8_t *d, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(d, 1, n, f) != n) || fclose(f) != 0) { perror(path); abort(); }
}

#endif
