/* fixture.h — reader for the named-tensor fixture files (*.fxt) that
 * tests/fixtures/gen_torch.py writes with PyTorch as the oracle.
 *
 * File format (little endian):
 *   "FXT1"                      4-byte magic
 *   u32 count                   number of tensors
 *   count times:
 *     u32 name_len, name bytes  (no NUL; names are unique)
 *     u32 ndim, u32 dims[ndim]  (ndim 0..8; ndim 0 is a scalar of 1 element)
 *     float32 data[prod(dims)]
 * Integers (labels, indices) are stored as float32 (exact below 2^24). */
#ifndef FERC_TEST_FIXTURE_H
#define FERC_TEST_FIXTURE_H

#include <stddef.h>

#define FX_MAX_DIMS 8

typedef struct fx_file fx_file;

/* Open and validate a whole file; NULL if it is missing, truncated or bad. */
fx_file *fx_open(const char *path);
/* The data of tensor `name` (float32, row-major) and, when n is not NULL, its
 * number of elements; NULL when there is no such tensor. The pointer stays
 * valid until fx_close. */
const float *fx_get(fx_file *f, const char *name, size_t *n);
/* Number of dimensions of `name` (dims[] filled, up to FX_MAX_DIMS), or -1. */
int fx_dims(fx_file *f, const char *name, size_t dims[FX_MAX_DIMS]);
/* Number of tensors, and the name of tensor i (0-based), NULL if out of range. */
int fx_count(const fx_file *f);
const char *fx_name(const fx_file *f, int i);
void fx_close(fx_file *f);

#endif
