/* data/data.h — internal helpers of the data folder (CSV and folder loading,
 * images, augmentation) used by other folders of the library. */
#ifndef FERC_DATA_H
#define FERC_DATA_H

#include "core/core.h"

#include <stdint.h>

/* Bilinear resize of a uint8 plane into floats scaled to [0,1], identical to
 * ferc_resize_bilinear on pix/255.0f, without allocating (image.c). */
void ferc_resize_bilinear_u8(const uint8_t *src, int sh, int sw, float *dst, int dh, int dw);

#endif
