/* pyramid.c — the images every scale of the detector is scanned on: the
 * gray image resized bit-exactly as OpenCV's cv::resize(INTER_LINEAR_EXACT)
 * (detectMultiScale resizes the IMAGE, not the features, so boxes only agree
 * with OpenCV's if the resized pixels do), then its integral planes (sum,
 * sum of squares and, for cascades with 45-degree features, the tilted
 * sums) in the column layout haar.c reads. Integer arithmetic throughout,
 * modulo 2^32 like OpenCV's CV_32S planes. */
#include "detect/detect.h"

#include <math.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Resize, bit-exact with cv::resize(INTER_LINEAR_EXACT) on 8-bit gray      */
/* ------------------------------------------------------------------------ */

/* Coefficients of one axis: for dst index d, source index ofs[d] and the
 * 8.8 fixed-point weights c0[d], c1[d]; [0, lo) repeat source 0, [hi, n)
 * repeat the last source index. */
static void exact_coeffs(int ssize, int dsize, int *ofs, uint16_t *c0, uint16_t *c1, int *lo, int *hi) {
    double inv = (double)dsize / (double)ssize;
    double scale = 1.0 / inv;
    int minofs = 0, maxofs = dsize;
    for (int d = 0; d < dsize; d++) {
        double f = scale * ((double)d + 0.5) - 0.5;
        int i = (int)floor(f);
        ofs[d] = 0; c0[d] = 256; c1[d] = 0;
        if (i >= 0 && ssize > 1) {
            if (i < ssize - 1) {
                ofs[d] = i;
                double fr = f - (double)i;
                int w1 = (int)lrint(fr * 256.0);
                c1[d] = (uint16_t)w1;
                c0[d] = (uint16_t)(256 - w1);
            } else {
                ofs[d] = ssize - 1;
                if (d < maxofs) maxofs = d;
            }
        } else if (d + 1 > minofs) {
            minofs = d + 1;
        }
    }
    *lo = minofs;
    *hi = maxofs;
}

/* Horizontal pass of one source row into 8.8 fixed point. */
static void exact_hline(const uint8_t *s, int sw, int dw, const int *ofs, const uint16_t *c0, const uint16_t *c1,
                        int lo, int hi, uint16_t *out) {
    int d = 0;
    uint16_t first = (uint16_t)(s[0] << 8);
    for (; d < lo && d < dw; d++) out[d] = first;
    for (; d < hi; d++) {
        const uint8_t *p = s + ofs[d];
        out[d] = (uint16_t)(c0[d] * p[0] + c1[d] * p[1]);
    }
    if (d < dw) {
        int last = ofs[dw - 1];
        if (last < 0 || last >= sw) last = sw - 1;
        uint16_t v = (uint16_t)(s[last] << 8);
        for (; d < dw; d++) out[d] = v;
    }
}

/* Resize an 8-bit gray image (sw x sh, stride ss) to dw x dh (stride ds) as
 * OpenCV 4.6 cv::resize(..., INTER_LINEAR_EXACT) does, bit for bit: copy
 * when the size is unchanged, 2x2 averaging when halving exactly, else
 * separable 8.8 fixed-point linear interpolation with round-half-up. tmp
 * (int-aligned) holds ferc_detect_resize_tmp_size(dw, dh) bytes. */
size_t ferc_detect_resize_tmp_size(int dw, int dh) {
    return (size_t)2 * (size_t)dw * sizeof(uint16_t) + (size_t)(dw + dh) * (sizeof(int) + 2 * sizeof(uint16_t)) + 64;
}

void ferc_detect_resize_exact(const uint8_t *src, int sw, int sh, int ss, uint8_t *dst, int dw, int dh, int ds,
                              void *tmp) {
    if (sw == dw && sh == dh) {
        for (int y = 0; y < dh; y++) memcpy(dst + (size_t)y * ds, src + (size_t)y * ss, (size_t)dw);
        return;
    }
    if (sw == 2 * dw && sh == 2 * dh) { /* OpenCV switches to INTER_AREA: exact 2x2 means */
        for (int y = 0; y < dh; y++) {
            const uint8_t *a = src + (size_t)(2 * y) * ss, *b = a + ss;
            uint8_t *o = dst + (size_t)y * ds;
            for (int x = 0; x < dw; x++) o[x] = (uint8_t)((a[2 * x] + a[2 * x + 1] + b[2 * x] + b[2 * x + 1] + 2) >> 2);
        }
        return;
    }
    int *xo = (int *)tmp, *yo = xo + dw;
    uint16_t *h0 = (uint16_t *)(void *)(yo + dh), *h1 = h0 + dw;
    uint16_t *xc0 = h1 + dw, *xc1 = xc0 + dw, *yc0 = xc1 + dw, *yc1 = yc0 + dh;
    int xlo, xhi, ylo, yhi;
    exact_coeffs(sw, dw, xo, xc0, xc1, &xlo, &xhi);
    exact_coeffs(sh, dh, yo, yc0, yc1, &ylo, &yhi);
    int have0 = -1, have1 = -1; /* source rows held by h0 / h1 */
    for (int y = 0; y < dh; y++) {
        uint8_t *o = dst + (size_t)y * ds;
        if (y < ylo || y >= yhi) { /* a border row: one source row, rounded */
            int sy = y < ylo ? 0 : sh - 1;
            if (have0 != sy) { exact_hline(src + (size_t)sy * ss, sw, dw, xo, xc0, xc1, xlo, xhi, h0); have0 = sy; }
            for (int x = 0; x < dw; x++) o[x] = (uint8_t)((h0[x] + 128u) >> 8);
            continue;
        }
        int sy = yo[y];
        if (have0 != sy) {
            if (have1 == sy) { uint16_t *t = h0; h0 = h1; h1 = t; have0 = sy; have1 = -1; }
            else { exact_hline(src + (size_t)sy * ss, sw, dw, xo, xc0, xc1, xlo, xhi, h0); have0 = sy; }
        }
        if (have1 != sy + 1) { exact_hline(src + (size_t)(sy + 1) * ss, sw, dw, xo, xc0, xc1, xlo, xhi, h1); have1 = sy + 1; }
        uint32_t a = yc0[y], b = yc1[y];
        for (int x = 0; x < dw; x++) {
            uint32_t v = ((uint32_t)h0[x] * a + (uint32_t)h1[x] * b + 32768u) >> 16;
            o[x] = (uint8_t)(v > 255 ? 255 : v);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Integral images                                                           */
/* ------------------------------------------------------------------------ */

/* Planes and their column layout (lay): see detect.h. */

/* sum and sqsum of img (w x h, rows `is` bytes apart). */
void ferc_detect_integral(const uint8_t *img, int w, int h, int is, uint32_t *sum, uint32_t *sq, int stride,
                          int half) {
    for (int X = 0; X <= w; X++) sum[lay(X, half)] = sq[lay(X, half)] = 0;
    for (int y = 0; y < h; y++) {
        const uint8_t *p = img + (size_t)y * is;
        const uint32_t *s0 = sum + (size_t)y * stride, *q0 = sq + (size_t)y * stride;
        uint32_t *s1 = sum + (size_t)(y + 1) * stride, *q1 = sq + (size_t)(y + 1) * stride;
        uint32_t rs = 0, rq = 0;
        s1[0] = 0; q1[0] = 0;
        if (!half) {
            for (int x = 0; x < w; x++) {
                uint32_t v = p[x];
                rs += v;
                rq += v * v;
                s1[x + 1] = s0[x + 1] + rs;
                q1[x + 1] = q0[x + 1] + rq;
            }
        } else { /* X = x + 1: odd X go to [half + X/2], even X to [X/2] */
            int x = 0;
            for (; x + 1 < w; x += 2) {
                uint32_t v = p[x], u = p[x + 1];
                int o = half + (x >> 1), e = (x >> 1) + 1;
                rs += v; rq += v * v;
                s1[o] = s0[o] + rs; q1[o] = q0[o] + rq;
                rs += u; rq += u * u;
                s1[e] = s0[e] + rs; q1[e] = q0[e] + rq;
            }
            if (x < w) {
                uint32_t v = p[x];
                int o = half + (x >> 1);
                rs += v; rq += v * v;
                s1[o] = s0[o] + rs; q1[o] = q0[o] + rq;
            }
        }
    }
}

/* Tilted (45 degree) integral, OpenCV's definition: T(X, Y) is the sum of
 * img(x, y) over y < Y and |x - X + 1| <= Y - 1 - y, for X in 0..w and Y in
 * 0..h. Recurrence on an extended range of X where the triangles leave the
 * image:
 *   T(X,Y) = T(X-1,Y-1) + T(X+1,Y-1) - T(X,Y-2) + img(X-1,Y-1) + img(X-1,Y-2).
 * ext needs 3 * (w + 2h + 8) uint32. */
void ferc_detect_tilted(const uint8_t *img, int w, int h, int is, uint32_t *tilt, int stride, int half,
                        uint32_t *ext) {
    const int pad = h + 3;             /* X runs over [-pad, w + pad] */
    const int n = w + 2 * pad + 1;
    uint32_t *r[3] = {ext, ext + n, ext + 2 * n}; /* rows Y-2, Y-1, Y */
    memset(ext, 0, (size_t)3 * n * sizeof *ext);
    for (int X = 0; X <= w; X++) tilt[lay(X, half)] = 0;
    for (int Y = 1; Y <= h; Y++) {
        uint32_t *cur = r[2], *p1 = r[1], *p2 = r[0];
        const uint8_t *row1 = img + (size_t)(Y - 1) * is;
        const uint8_t *row2 = Y >= 2 ? img + (size_t)(Y - 2) * is : NULL;
        cur[0] = 0; cur[n - 1] = 0;
        for (int i = 1; i < n - 1; i++) {
            int X = i - pad;
            uint32_t v = p1[i - 1] + p1[i + 1] - p2[i];
            if (X >= 1 && X <= w) {
                v += row1[X - 1];
                if (row2) v += row2[X - 1];
            }
            cur[i] = v;
        }
        uint32_t *out = tilt + (size_t)Y * stride;
        if (!half) memcpy(out, cur + pad, (size_t)(w + 1) * sizeof *tilt);
        else for (int X = 0; X <= w; X++) out[lay(X, half)] = cur[pad + X];
        r[0] = p1; r[1] = cur; r[2] = p2; /* rotate: the old Y-2 row is reused */
    }
}
