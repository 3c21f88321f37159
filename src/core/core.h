/* core/core.h — what every folder of the library shares (not public): the
 * error helper, thread count, clock and whole-file reads. */
#ifndef FERC_CORE_H
#define FERC_CORE_H

#include "ferc.h"

#include <stdarg.h>
#include <stddef.h>

/* Fill err (if not NULL) and return status. printf-style message. */
ferc_status ferc_fail(ferc_error *err, ferc_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Number of threads to use: n > 0 as given, else every core. */
int ferc_threads(int n);

/* Monotonic wall clock in seconds. */
double ferc_now(void);

/* Read a whole file into memory (NUL-terminated). */
ferc_status ferc_read_file(const char *path, unsigned char **data, size_t *len, ferc_error *err);

#endif
