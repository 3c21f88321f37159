/* probe.c — the size of a PNG or JPEG held in memory, read by libpng and
 * libjpeg from the header alone. `ferc serve` (and ferc_image_decode) use
 * it to refuse a decompression bomb — a few hundred bytes that claim
 * 100000x100000 pixels — before a single row is allocated or decoded. */
#include "serve/serve.h"

#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>
#include <png.h>

/* ---- PNG ---- */

typedef struct {
    const uint8_t *buf;
    size_t len, pos;
    char msg[200];
} png_mem;

static void probe_png_error(png_structp png, png_const_charp msg) {
    png_mem *m = png_get_error_ptr(png);
    snprintf(m->msg, sizeof m->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void probe_png_warning(png_structp png, png_const_charp msg) { (void)png; (void)msg; }

static void probe_png_read(png_structp png, png_bytep out, size_t n) {
    png_mem *m = png_get_io_ptr(png);
    if (n > m->len - m->pos) png_error(png, "truncated");
    memcpy(out, m->buf + m->pos, n);
    m->pos += n;
}

/* The part that may longjmp; png and info stay in the caller's hands. */
static int png_read_header(png_structp png, png_infop info) {
    if (setjmp(png_jmpbuf(png))) return 0;
    /* the caller's limit decides, after this, with a clearer message */
    png_set_user_limits(png, 0x7fffffffu, 0x7fffffffu);
    png_read_info(png, info);
    return 1;
}

ferc_status serve_probe_png(const uint8_t *buf, size_t len, uint32_t *w, uint32_t *h, ferc_error *err) {
    png_mem m = {.buf = buf, .len = len};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &m, probe_png_error, probe_png_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        if (png) png_destroy_read_struct(&png, NULL, NULL);
        return ferc_fail(err, FERC_ERR_NOMEM, "out of memory");
    }
    png_set_read_fn(png, &m, probe_png_read);
    png_read_header(png, info);
    /* IHDR read (even when what follows is missing or broken): its size */
    *w = png_get_image_width(png, info);
    *h = png_get_image_height(png, info);
    png_destroy_read_struct(&png, &info, NULL);
    if (*w == 0 || *h == 0) return ferc_fail(err, FERC_ERR_DECODE, "bad PNG: %s", m.msg[0] ? m.msg : "no header");
    return FERC_OK;
}

/* ---- JPEG ---- */

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
} probe_jerr;

static void probe_jpeg_exit(j_common_ptr c) {
    probe_jerr *e = (probe_jerr *)c->err;
    c->err->format_message(c, e->msg);
    longjmp(e->jb, 1);
}

static void probe_jpeg_silent(j_common_ptr c, int level) { (void)c; (void)level; }
static void probe_jpeg_output(j_common_ptr c) { (void)c; }

/* The part that may longjmp (creating the decompressor may fail too). */
static void jpeg_read_size(struct jpeg_decompress_struct *ci, probe_jerr *e, int *created, const uint8_t *buf,
                           size_t len) {
    if (setjmp(e->jb)) return;
    jpeg_create_decompress(ci);
    *created = 1;
    jpeg_mem_src(ci, (const unsigned char *)buf, (unsigned long)len);
    jpeg_read_header(ci, TRUE);
}

ferc_status serve_probe_jpeg(const uint8_t *buf, size_t len, uint32_t *w, uint32_t *h, ferc_error *err) {
    struct jpeg_decompress_struct ci;
    probe_jerr e = {.msg = ""};
    memset(&ci, 0, sizeof ci);
    ci.err = jpeg_std_error(&e.pub);
    e.pub.error_exit = probe_jpeg_exit;
    e.pub.emit_message = probe_jpeg_silent;
    e.pub.output_message = probe_jpeg_output;
    int created = 0;
    jpeg_read_size(&ci, &e, &created, buf, len);
    /* the frame header (SOF) read, even when the scan after it is not */
    *w = ci.image_width;
    *h = ci.image_height;
    if (created) jpeg_destroy_decompress(&ci);
    if (*w == 0 || *h == 0) return ferc_fail(err, FERC_ERR_DECODE, "bad JPEG: %s", e.msg[0] ? e.msg : "no frame header");
    return FERC_OK;
}
