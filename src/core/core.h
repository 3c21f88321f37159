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



/* Format a message and pass it to a log callback (nothing when fn is NULL):
 * the library's one way of saying what it does. */
void ferc_logf(ferc_log_fn fn, void *user, ferc_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Read a whole file into memory (NUL-terminated). */
ferc_status ferc_read_file(const char *path, unsigned char **data, size_t *len, ferc_error *err);

/* ---- library-internal parts of the API (not in include/ferc.h) ---- */

/* The rest of the explicit RNG (common.c); ferc_rng and its seed and
 * ferc_rng_below are public. */
uint64_t ferc_rng_next(ferc_rng *r);
float ferc_rng_uniform(ferc_rng *r);             /* [0,1) */
float ferc_rng_normal(ferc_rng *r);               /* N(0,1), Box-Muller */

#endif
