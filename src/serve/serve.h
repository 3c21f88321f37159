/* serve/serve.h — internal header of the serve folder: the pieces of
 * `ferc serve` that belong in the library because a program embedding ferc
 * behind its own server needs them too (images that arrive in memory, over
 * the network, sized before they are decoded). The HTTP server itself lives
 * in cli/cmd_serve.c: it is the CLI's, and libferc does not link an HTTP
 * library. */
#ifndef FERC_SERVE_H
#define FERC_SERVE_H

#include "core/core.h"

#include <stddef.h>
#include <stdint.h>

/* Width and height from the header of a PNG (libpng) or a JPEG (libjpeg)
 * held in memory; no pixel is decoded. Each returns FERC_OK and the size,
 * or FERC_ERR_DECODE with a message. A header whose size is readable but
 * whose next bytes are missing (a bomb is often just that: a header) still
 * gives its size, so that a limit can refuse it as too large rather than as
 * broken. probe.c. */
ferc_status serve_probe_png(const uint8_t *buf, size_t len, uint32_t *w, uint32_t *h, ferc_error *err);
ferc_status serve_probe_jpeg(const uint8_t *buf, size_t len, uint32_t *w, uint32_t *h, ferc_error *err);

#endif
