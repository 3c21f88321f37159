/* image.c — decoding PNG (libpng) and JPEG (libjpeg-turbo) files into 8-bit
 * gray or RGB images, with JPEG EXIF orientation, gray conversion, a
 * decompression-bomb limit and strict handling of truncated files; writing
 * PNG; and the bilinear resize used everywhere (PyTorch align_corners=False). */
#include "data/data.h"

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

/* ------------------------------------------------------------------------ */
/* Colour conversion and orientation                                         */
/* ------------------------------------------------------------------------ */

/* RGB -> gray with ITU-R BT.601 weights 0.299, 0.587, 0.114, rounded. Uses
 * the same 15-bit fixed point as OpenCV 4's cvtColor(RGB2GRAY) for 8-bit data
 * (9798 + 19235 + 3735 = 32768), so that photos and video frames turn into
 * the gray OpenCV's detector would see. The one conversion of the project:
 * gray may be rgb (in place), as pixel i is written after pixels 3i..3i+2
 * are read. */
void ferc_rgb_to_gray(const uint8_t *rgb, size_t n, uint8_t *gray) {
    for (size_t i = 0; i < n; i++)
        gray[i] = (uint8_t)((rgb[3 * i] * 9798u + rgb[3 * i + 1] * 19235u + rgb[3 * i + 2] * 3735u + 16384u) >> 15);
}

/* Convert img in place (reallocating) to want_c channels (0 = keep). */
static ferc_status convert_channels(ferc_image *img, int want_c, const char *path, ferc_error *err) {
    if (want_c == 0 || want_c == img->c) return FERC_OK;
    size_t np = (size_t)img->w * (size_t)img->h;
    if (want_c == 1 && img->c == 3) {
        uint8_t *p = img->data;
        ferc_rgb_to_gray(p, np, p);
        uint8_t *q = realloc(p, np ? np : 1);
        if (q) img->data = q;
        img->c = 1;
        return FERC_OK;
    }
    if (want_c == 3 && img->c == 1) {
        uint8_t *q = malloc(np ? np * 3 : 3);
        if (!q) return ferc_fail(err, FERC_ERR_NOMEM, "%s: out of memory", path);
        for (size_t i = 0; i < np; i++) q[3 * i] = q[3 * i + 1] = q[3 * i + 2] = img->data[i];
        free(img->data);
        img->data = q;
        img->c = 3;
        return FERC_OK;
    }
    return ferc_fail(err, FERC_ERR_INTERNAL, "%s: cannot convert %d to %d channels", path, img->c, want_c);
}

/* Apply EXIF orientation o (1..8) so that the image displays upright. For
 * output pixel (r, c) the source pixel is:
 *   1 (r, c)          2 (r, W-1-c)        3 (H-1-r, W-1-c)   4 (H-1-r, c)
 *   5 (c, r)          6 (H-1-c, r)        7 (H-1-c, W-1-r)   8 (c, W-1-r)
 * where 5..8 swap width and height. */
static ferc_status apply_orientation(ferc_image *img, int o, const char *path, ferc_error *err) {
    if (o < 2 || o > 8) return FERC_OK;
    int W = img->w, H = img->h, C = img->c;
    int swap = o >= 5;
    int ow = swap ? H : W, oh = swap ? W : H;
    uint8_t *dst = malloc((size_t)W * (size_t)H * (size_t)C);
    if (!dst) return ferc_fail(err, FERC_ERR_NOMEM, "%s: out of memory", path);
    for (int r = 0; r < oh; r++) {
        for (int c = 0; c < ow; c++) {
            int sr, sc;
            switch (o) {
            case 2: sr = r; sc = W - 1 - c; break;
            case 3: sr = H - 1 - r; sc = W - 1 - c; break;
            case 4: sr = H - 1 - r; sc = c; break;
            case 5: sr = c; sc = r; break;
            case 6: sr = H - 1 - c; sc = r; break;
            case 7: sr = H - 1 - c; sc = W - 1 - r; break;
            default: sr = c; sc = W - 1 - r; break; /* 8 */
            }
            memcpy(dst + ((size_t)r * ow + c) * C, img->data + ((size_t)sr * W + sc) * C, (size_t)C);
        }
    }
    free(img->data);
    img->data = dst;
    img->w = ow;
    img->h = oh;
    return FERC_OK;
}

/* ------------------------------------------------------------------------ */
/* EXIF orientation parser                                                    */
/* ------------------------------------------------------------------------ */

static unsigned rd16(const uint8_t *p, int le) { return le ? (unsigned)p[0] | (unsigned)p[1] << 8 : (unsigned)p[0] << 8 | p[1]; }
static uint32_t rd32(const uint8_t *p, int le) {
    return le ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24
              : (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Orientation (1..8) from the payload of an APP1 segment, or 0 when the
 * segment is not Exif or has no valid orientation tag. Every read is bounds
 * checked against len. */
static int exif_orientation(const uint8_t *d, size_t len) {
    if (len < 6 + 8 || memcmp(d, "Exif\0\0", 6) != 0) return 0;
    const uint8_t *t = d + 6; /* TIFF header */
    size_t n = len - 6;
    int le;
    if (t[0] == 'I' && t[1] == 'I') le = 1;
    else if (t[0] == 'M' && t[1] == 'M') le = 0;
    else return 0;
    if (rd16(t + 2, le) != 42) return 0;
    uint32_t ifd = rd32(t + 4, le);
    if (ifd < 8 || (size_t)ifd > n - 2) return 0;
    unsigned count = rd16(t + ifd, le);
    for (unsigned i = 0; i < count; i++) {
        size_t e = (size_t)ifd + 2 + (size_t)i * 12;
        if (e + 12 > n) return 0;
        if (rd16(t + e, le) != 0x0112) continue;
        unsigned type = rd16(t + e + 2, le);
        uint32_t cnt = rd32(t + e + 4, le);
        unsigned v;
        if (type == 3 && cnt >= 1) v = rd16(t + e + 8, le);      /* SHORT */
        else if (type == 4 && cnt >= 1) v = rd32(t + e + 8, le); /* LONG (non-standard) */
        else return 0;
        return (v >= 1 && v <= 8) ? (int)v : 0;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* JPEG                                                                       */
/* ------------------------------------------------------------------------ */

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
} jpeg_err;

static void jpeg_err_exit(j_common_ptr c) {
    jpeg_err *e = (jpeg_err *)c->err;
    c->err->format_message(c, e->msg);
    longjmp(e->jb, 1);
}

/* libjpeg only warns about corrupt or truncated data (it pads the image with
 * gray); those warnings are errors here. Other messages are ignored, never
 * printed. */
static void jpeg_err_emit(j_common_ptr c, int level) {
    if (level >= 0) return;
    int code = c->err->msg_code;
    if (code == JWRN_JPEG_EOF || code == JWRN_HIT_MARKER || code == JWRN_HUFF_BAD_CODE ||
        code == JWRN_ARITH_BAD_CODE || code == JWRN_MUST_RESYNC)
        jpeg_err_exit(c);
}

static void jpeg_err_output(j_common_ptr c) { (void)c; }

typedef struct {
    struct jpeg_decompress_struct cinfo;
    jpeg_err jerr;
    int created;
    uint8_t *data;
    ferc_status st;
} jpeg_ctx;

/* Orientation (1..8) from the first Exif APP1 marker, 0 when none. */
static int jpeg_orientation(struct jpeg_decompress_struct *ci) {
    int orient = 0;
    for (jpeg_saved_marker_ptr m = ci->marker_list; m && !orient; m = m->next)
        if (m->marker == JPEG_APP0 + 1) orient = exif_orientation(m->data, m->data_length);
    return orient;
}

/* Decode gray as gray, CMYK / YCCK as CMYK (converted by cmyk_to_rgb) and
 * everything else as RGB; 1 for CMYK. */
static int jpeg_set_out_space(struct jpeg_decompress_struct *ci) {
    switch (ci->jpeg_color_space) {
    case JCS_GRAYSCALE: ci->out_color_space = JCS_GRAYSCALE; return 0;
    case JCS_CMYK: case JCS_YCCK: ci->out_color_space = JCS_CMYK; return 1;
    default: ci->out_color_space = JCS_RGB; return 0;
    }
}

/* n CMYK pixels to RGB in place. Adobe writes inverted CMYK (inv); without
 * the Adobe marker assume plain. */
static void cmyk_to_rgb(uint8_t *d, size_t n, int inv) {
    for (size_t i = 0; i < n; i++) {
        unsigned C = d[4 * i], M = d[4 * i + 1], Y = d[4 * i + 2], K = d[4 * i + 3];
        if (!inv) { C = 255 - C; M = 255 - M; Y = 255 - Y; K = 255 - K; }
        d[3 * i] = (uint8_t)((C * K + 127) / 255);
        d[3 * i + 1] = (uint8_t)((M * K + 127) / 255);
        d[3 * i + 2] = (uint8_t)((Y * K + 127) / 255);
    }
}

/* The part that may longjmp: every resource lives in *x (not in locals), so
 * the caller can release it whatever happens. */
static void jpeg_decode(jpeg_ctx *x, FILE *f, const char *path, ferc_image *out, ferc_error *err) {
    struct jpeg_decompress_struct *ci = &x->cinfo;
    ci->err = jpeg_std_error(&x->jerr.pub);
    x->jerr.pub.error_exit = jpeg_err_exit;
    x->jerr.pub.emit_message = jpeg_err_emit;
    x->jerr.pub.output_message = jpeg_err_output;
    if (setjmp(x->jerr.jb)) {
        x->st = ferc_fail(err, FERC_ERR_DECODE, "%s: bad JPEG: %s", path, x->jerr.msg);
        return;
    }
    jpeg_create_decompress(ci);
    x->created = 1;
    jpeg_stdio_src(ci, f);
    jpeg_save_markers(ci, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(ci, TRUE);
    uint64_t np = (uint64_t)ci->image_width * ci->image_height;
    if (np > FERC_MAX_IMAGE_PIXELS) {
        x->st = ferc_fail(err, FERC_ERR_LIMIT,
                          "%s: JPEG of %ux%u pixels is over the limit of %u pixels", path,
                          (unsigned)ci->image_width, (unsigned)ci->image_height,
                          FERC_MAX_IMAGE_PIXELS);
        return;
    }
    int orient = jpeg_orientation(ci);
    int cmyk = jpeg_set_out_space(ci);
    jpeg_start_decompress(ci);
    int w = (int)ci->output_width, h = (int)ci->output_height, oc = ci->output_components;
    int c = cmyk ? 3 : oc;
    size_t row = (size_t)w * (size_t)oc;
    x->data = malloc((size_t)w * (size_t)h * (size_t)(oc > c ? oc : c));
    if (!x->data) { x->st = ferc_fail(err, FERC_ERR_NOMEM, "%s: out of memory", path); return; }
    while (ci->output_scanline < ci->output_height) {
        JSAMPROW r = x->data + (size_t)ci->output_scanline * row;
        jpeg_read_scanlines(ci, &r, 1);
    }
    jpeg_finish_decompress(ci);
    if (cmyk) cmyk_to_rgb(x->data, (size_t)w * (size_t)h, ci->saw_Adobe_marker);
    *out = (ferc_image){.w = w, .h = h, .c = c, .data = x->data};
    x->data = NULL;
    x->st = FERC_OK;
    if (orient > 1) x->st = apply_orientation(out, orient, path, err);
}

static ferc_status load_jpeg(FILE *f, const char *path, ferc_image *out, ferc_error *err) {
    jpeg_ctx *x = calloc(1, sizeof *x);
    if (!x) return ferc_fail(err, FERC_ERR_NOMEM, "%s: out of memory", path);
    x->st = FERC_ERR_INTERNAL;
    jpeg_decode(x, f, path, out, err);
    if (x->created) jpeg_destroy_decompress(&x->cinfo);
    free(x->data);
    ferc_status st = x->st;
    free(x);
    return st;
}

/* ------------------------------------------------------------------------ */
/* PNG                                                                        */
/* ------------------------------------------------------------------------ */

typedef struct {
    png_structp png;
    png_infop info;
    uint8_t *data;
    png_bytep *rows;
    FILE *f;
    char msg[256];
    ferc_status st;
} png_ctx;

static void png_err_fn(png_structp png, png_const_charp msg) {
    png_ctx *x = png_get_error_ptr(png);
    snprintf(x->msg, sizeof x->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void png_warn_fn(png_structp png, png_const_charp msg) { (void)png; (void)msg; }

static void png_decode(png_ctx *x, const char *path, ferc_image *out, ferc_error *err) {
    if (setjmp(png_jmpbuf(x->png))) {
        x->st = ferc_fail(err, FERC_ERR_DECODE, "%s: bad PNG: %s", path, x->msg);
        return;
    }
    png_init_io(x->png, x->f);
    /* Our own limit below decides (with a clearer message). */
    png_set_user_limits(x->png, 0x7fffffffu, 0x7fffffffu);
    png_read_info(x->png, x->info);
    png_uint_32 w, h;
    int depth, ctype, interlace;
    png_get_IHDR(x->png, x->info, &w, &h, &depth, &ctype, &interlace, NULL, NULL);
    uint64_t np = (uint64_t)w * h;
    if (np > FERC_MAX_IMAGE_PIXELS) {
        x->st = ferc_fail(err, FERC_ERR_LIMIT, "%s: PNG of %ux%u pixels is over the limit of %u pixels",
                          path, (unsigned)w, (unsigned)h, FERC_MAX_IMAGE_PIXELS);
        return;
    }
    /* Normalise to 8-bit gray or RGB without alpha. */
    png_set_expand(x->png);     /* palette -> RGB, gray < 8 bits -> 8, tRNS -> alpha */
    png_set_scale_16(x->png);   /* 16 -> 8 bits, rounded */
    png_set_strip_alpha(x->png);
    png_set_interlace_handling(x->png);
    png_read_update_info(x->png, x->info);
    int c = png_get_channels(x->png, x->info);
    size_t rb = png_get_rowbytes(x->png, x->info);
    if ((c != 1 && c != 3) || rb != (size_t)w * (size_t)c) {
        x->st = ferc_fail(err, FERC_ERR_DECODE, "%s: unsupported PNG layout (%d channels)", path, c);
        return;
    }
    x->data = malloc(rb * h);
    x->rows = malloc(sizeof *x->rows * h);
    if (!x->data || !x->rows) { x->st = ferc_fail(err, FERC_ERR_NOMEM, "%s: out of memory", path); return; }
    for (png_uint_32 i = 0; i < h; i++) x->rows[i] = x->data + (size_t)i * rb;
    png_read_image(x->png, x->rows);
    png_read_end(x->png, NULL);
    *out = (ferc_image){.w = (int)w, .h = (int)h, .c = c, .data = x->data};
    x->data = NULL;
    x->st = FERC_OK;
}

static ferc_status load_png(FILE *f, const char *path, ferc_image *out, ferc_error *err) {
    png_ctx *x = calloc(1, sizeof *x);
    if (!x) return ferc_fail(err, FERC_ERR_NOMEM, "%s: out of memory", path);
    x->f = f;
    x->st = FERC_ERR_INTERNAL;
    x->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, x, png_err_fn, png_warn_fn);
    if (x->png) x->info = png_create_info_struct(x->png);
    if (!x->png || !x->info) x->st = ferc_fail(err, FERC_ERR_NOMEM, "%s: out of memory", path);
    else png_decode(x, path, out, err);
    if (x->png) png_destroy_read_struct(&x->png, x->info ? &x->info : NULL, NULL);
    free(x->data);
    free(x->rows);
    ferc_status st = x->st;
    free(x);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Public API                                                                 */
/* ------------------------------------------------------------------------ */

ferc_status ferc_image_load(const char *path, int want_c, ferc_image *out, ferc_error *err) {
    if (!out || !path) return ferc_fail(err, FERC_ERR_ARG, "ferc_image_load: NULL argument");
    memset(out, 0, sizeof *out);
    if (want_c != 0 && want_c != 1 && want_c != 3)
        return ferc_fail(err, FERC_ERR_ARG, "%s: want_c must be 0, 1 or 3 (got %d)", path, want_c);
    FILE *f = fopen(path, "rb");
    if (!f) return ferc_fail(err, FERC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    uint8_t sig[8] = {0};
    size_t got = fread(sig, 1, sizeof sig, f);
    ferc_status st;
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (got == 8 && memcmp(sig, png_sig, 8) == 0) {
        rewind(f);
        st = load_png(f, path, out, err);
    } else if (got >= 3 && sig[0] == 0xFF && sig[1] == 0xD8 && sig[2] == 0xFF) {
        rewind(f);
        st = load_jpeg(f, path, out, err);
    } else if (ferror(f)) {
        st = ferc_fail(err, FERC_ERR_IO, "%s: read error", path);
    } else {
        st = ferc_fail(err, FERC_ERR_DECODE, "%s: not a PNG or JPEG image", path);
    }
    fclose(f);
    if (st == FERC_OK) st = convert_channels(out, want_c, path, err);
    if (st != FERC_OK) ferc_image_free(out);
    return st;
}

static void png_write(png_ctx *x, const char *path, const ferc_image *img, ferc_error *err) {
    if (setjmp(png_jmpbuf(x->png))) {
        x->st = ferc_fail(err, FERC_ERR_IO, "%s: cannot write PNG: %s", path, x->msg);
        return;
    }
    png_init_io(x->png, x->f);
    png_set_IHDR(x->png, x->info, (png_uint_32)img->w, (png_uint_32)img->h, 8,
                 img->c == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(x->png, x->info);
    for (int r = 0; r < img->h; r++)
        png_write_row(x->png, img->data + (size_t)r * img->w * img->c);
    png_write_end(x->png, NULL);
    x->st = FERC_OK;
}

ferc_status ferc_image_save_png(const char *path, const ferc_image *img, ferc_error *err) {
    if (!path || !img || !img->data || img->w <= 0 || img->h <= 0 || (img->c != 1 && img->c != 3))
        return ferc_fail(err, FERC_ERR_ARG, "%s: cannot save an empty image or one with %d channels",
                         path ? path : "(null)", img ? img->c : 0);
    /* written beside path and renamed when whole: a failed write (a full
     * disk) leaves no half PNG and keeps the file that was there */
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp%d", path, (int)getpid()) >= (int)sizeof tmp)
        return ferc_fail(err, FERC_ERR_ARG, "%.200s...: file name too long", path);
    png_ctx *x = calloc(1, sizeof *x);
    if (!x) return ferc_fail(err, FERC_ERR_NOMEM, "%s: out of memory", path);
    x->st = FERC_ERR_INTERNAL;
    x->f = fopen(tmp, "wb");
    if (!x->f) {
        ferc_status st = ferc_fail(err, FERC_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
        free(x);
        return st;
    }
    x->png = png_create_write_struct(PNG_LIBPNG_VER_STRING, x, png_err_fn, png_warn_fn);
    if (x->png) x->info = png_create_info_struct(x->png);
    if (!x->png || !x->info) x->st = ferc_fail(err, FERC_ERR_NOMEM, "%s: out of memory", path);
    else png_write(x, path, img, err);
    if (x->png) png_destroy_write_struct(&x->png, x->info ? &x->info : NULL);
    if (fclose(x->f) != 0 && x->st == FERC_OK)
        x->st = ferc_fail(err, FERC_ERR_IO, "%s: write error: %s", path, strerror(errno));
    if (x->st == FERC_OK && rename(tmp, path) != 0)
        x->st = ferc_fail(err, FERC_ERR_IO, "%s: cannot rename the finished file into place: %s", path, strerror(errno));
    if (x->st != FERC_OK) remove(tmp);
    ferc_status st = x->st;
    free(x);
    return st;
}

void ferc_image_free(ferc_image *img) {
    if (!img) return;
    free(img->data);
    img->data = NULL;
    img->w = img->h = img->c = 0;
}

/* ------------------------------------------------------------------------ */
/* Bilinear resize                                                            */
/* ------------------------------------------------------------------------ */

/* Source coordinate of output index i for PyTorch's align_corners=False:
 * (i + 0.5) * in/out - 0.5, clamped at 0; i0 = floor, i1 = i0 + 1 clamped to
 * the last index, and the weight of i1. As PyTorch's CPU kernel does for
 * float tensors: the ratio in/out is a float, the source index and the
 * weight are computed in double, then the weight is rounded to float. */
static inline void bil_coord(int i, float scale, int in, int *i0, int *i1, float *l1) {
    double s = (double)scale * ((double)i + 0.5) - 0.5;
    if (s < 0.0) s = 0.0;
    int a = (int)s;
    if (a > in - 1) a = in - 1;
    *i0 = a;
    *i1 = a + (a < in - 1 ? 1 : 0);
    double l = s - (double)a;
    *l1 = (float)(l < 0.0 ? 0.0 : l > 1.0 ? 1.0 : l);
}

/* One implementation for float planes and for uint8 planes (scaled by
 * 1/255 as they are read), so the two agree exactly. */
static inline float bil_px(const float *f, const uint8_t *u, size_t i) {
    return f ? f[i] : (float)u[i] / 255.0f;
}

static inline void bil_resize(const float *fs, const uint8_t *us, int sh, int sw, float *dst, int dh, int dw) {
    float sy = (float)sh / (float)dh, sx = (float)sw / (float)dw;
    for (int y = 0; y < dh; y++) {
        int y0, y1;
        float ly1;
        bil_coord(y, sy, sh, &y0, &y1, &ly1);
        float ly0 = 1.f - ly1;
        size_t r0 = (size_t)y0 * sw, r1 = (size_t)y1 * sw;
        for (int x = 0; x < dw; x++) {
            int x0, x1;
            float lx1;
            bil_coord(x, sx, sw, &x0, &x1, &lx1);
            float lx0 = 1.f - lx1;
            dst[(size_t)y * dw + x] =
                ly0 * (lx0 * bil_px(fs, us, r0 + x0) + lx1 * bil_px(fs, us, r0 + x1)) +
                ly1 * (lx0 * bil_px(fs, us, r1 + x0) + lx1 * bil_px(fs, us, r1 + x1));
        }
    }
}

void ferc_resize_bilinear(const float *src, int sh, int sw, float *dst, int dh, int dw) {
    if (sh <= 0 || sw <= 0 || dh <= 0 || dw <= 0) return;
    bil_resize(src, NULL, sh, sw, dst, dh, dw);
}

/* Internal (data.h): resize a uint8 plane to floats in [0,1] without
 * allocating. */
void ferc_resize_bilinear_u8(const uint8_t *src, int sh, int sw, float *dst, int dh, int dw) {
    if (sh <= 0 || sw <= 0 || dh <= 0 || dw <= 0) return;
    bil_resize(NULL, src, sh, sw, dst, dh, dw);
}
