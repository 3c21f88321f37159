/* test_image.c — tests of image decoding (PNG variants, JPEG, EXIF
 * orientation, truncated files, non-images, decompression bombs), gray
 * conversion and the bilinear resize against a PyTorch fixture. */
#include "test.h"
#include "ferc.h"
#include "data/data.h"
#include "detect/detect.h"
#include "model/model.h"
#include "report/report.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <png.h>
#include <zlib.h>

/* ---- helpers shared by the tests in this file ---- */

/* Write an 8-bit JPEG with libjpeg directly (c = 1 or 3), optionally with an
 * APP1 segment holding app1 (e.g. "Exif\0\0" + TIFF data). */
static void write_jpeg(const char *path, int w, int h, int c, const uint8_t *px, int quality,
                       const uint8_t *app1, unsigned app1_len) {
    FILE *f = fopen(path, "wb");
    if (!f) return;
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr jerr;
    ci.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&ci);
    jpeg_stdio_dest(&ci, f);
    ci.image_width = (JDIMENSION)w;
    ci.image_height = (JDIMENSION)h;
    ci.input_components = c;
    ci.in_color_space = c == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, quality, TRUE);
    jpeg_start_compress(&ci, TRUE);
    if (app1) jpeg_write_marker(&ci, JPEG_APP0 + 1, app1, app1_len);
    while (ci.next_scanline < ci.image_height) {
        JSAMPROW row = (JSAMPROW)(px + (size_t)ci.next_scanline * w * c);
        jpeg_write_scanlines(&ci, &row, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    fclose(f);
}

/* Write a PNG with libpng directly (any colour type / depth); rows are
 * packed as libpng expects them. */
static void write_png_raw(const char *path, int w, int h, int depth, int ctype, const uint8_t *rows,
                          size_t rowbytes, const png_color *pal, int npal, const uint8_t *trns, int ntrns,
                          int interlace) {
    FILE *f = fopen(path, "wb");
    if (!f) return;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) { png_destroy_write_struct(&png, &info); fclose(f); return; }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, ctype,
                 interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (pal) png_set_PLTE(png, info, pal, npal);
    if (trns) png_set_tRNS(png, info, trns, ntrns, NULL);
    png_write_info(png, info);
    png_bytep *rp = malloc(sizeof *rp * (size_t)h);
    for (int i = 0; i < h; i++) rp[i] = (png_bytep)(rows + (size_t)i * rowbytes);
    png_write_image(png, rp);
    png_write_end(png, NULL);
    free(rp);
    png_destroy_write_struct(&png, &info);
    fclose(f);
}

/* BT.601 luma, rounded to nearest, computed in double (the oracle). */
static int luma_ref(int r, int g, int b) { return (int)floor(0.299 * r + 0.587 * g + 0.114 * b + 0.5); }

/* A noisy image (so the compressed data is long enough to cut). */
static uint8_t *noise(int w, int h, int c, uint32_t seed) {
    uint8_t *p = malloc((size_t)w * h * c);
    uint32_t s = seed;
    for (size_t i = 0; i < (size_t)w * h * c; i++) { s = s * 1664525u + 1013904223u; p[i] = (uint8_t)(s >> 24); }
    return p;
}

/* ---- PNG ---- */

TEST(image_png_roundtrip_and_gray) {
    const char *dir = test_tmpdir();
    /* RGB pixels with hand-computed BT.601 luma:
     * (255,0,0) 76.245->76, (0,255,0) 149.685->150, (0,0,255) 29.07->29,
     * (100,150,200) 140.75->141, (10,20,30) 18.15->18, (255,255,255) 255. */
    uint8_t rgb[] = {255, 0, 0, 0, 255, 0, 0, 0, 255, 100, 150, 200, 10, 20, 30, 255, 255, 255};
    int expect_gray[] = {76, 150, 29, 141, 18, 255};
    ferc_image im = {3, 2, 3, rgb};
    ferc_error err;
    CHECK_EQ_INT(ferc_image_save_png(test_path(dir, "rgb.png"), &im, &err), FERC_OK);

    ferc_image a;
    CHECK_EQ_INT(ferc_image_load(test_path(dir, "rgb.png"), 0, &a, &err), FERC_OK);
    CHECK_EQ_INT(a.w, 3); CHECK_EQ_INT(a.h, 2); CHECK_EQ_INT(a.c, 3);
    if (a.data) CHECK(memcmp(a.data, rgb, sizeof rgb) == 0);
    ferc_image_free(&a);
    CHECK(a.data == NULL);

    ferc_image g;
    CHECK_EQ_INT(ferc_image_load(test_path(dir, "rgb.png"), 1, &g, &err), FERC_OK);
    CHECK_EQ_INT(g.c, 1);
    for (int i = 0; i < 6 && g.data; i++) {
        CHECK_EQ_INT(g.data[i], expect_gray[i]);
        CHECK_EQ_INT(g.data[i], luma_ref(rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]));
    }
    ferc_image_free(&g);

    /* Gray file -> RGB replicates the value. */
    uint8_t gpx[] = {0, 50, 200, 255};
    ferc_image gi = {2, 2, 1, gpx};
    CHECK_EQ_INT(ferc_image_save_png(test_path(dir, "g.png"), &gi, &err), FERC_OK);
    ferc_image c3;
    CHECK_EQ_INT(ferc_image_load(test_path(dir, "g.png"), 3, &c3, &err), FERC_OK);
    CHECK_EQ_INT(c3.c, 3);
    for (int i = 0; i < 4 && c3.data; i++)
        for (int k = 0; k < 3; k++) CHECK_EQ_INT(c3.data[3 * i + k], gpx[i]);
    ferc_image_free(&c3);

    /* Bad want_c. */
    CHECK_EQ_INT(ferc_image_load(test_path(dir, "g.png"), 2, &c3, &err), FERC_ERR_ARG);
}

/* The luma matches the double-precision formula for a sweep of colours
 * (ties aside, which the 14-bit fixed point may round either way). */
TEST(image_gray_conversion_sweep) {
    const char *dir = test_tmpdir();
    int w = 64, h = 64;
    uint8_t *px = noise(w, h, 3, 7);
    ferc_image im = {w, h, 3, px};
    ferc_error err;
    CHECK_EQ_INT(ferc_image_save_png(test_path(dir, "n.png"), &im, &err), FERC_OK);
    ferc_image g;
    CHECK_EQ_INT(ferc_image_load(test_path(dir, "n.png"), 1, &g, &err), FERC_OK);
    int off = 0, exact = 0;
    for (int i = 0; i < w * h && g.data; i++) {
        double y = 0.299 * px[3 * i] + 0.587 * px[3 * i + 1] + 0.114 * px[3 * i + 2];
        int d = abs((int)g.data[i] - luma_ref(px[3 * i], px[3 * i + 1], px[3 * i + 2]));
        if (d == 0) exact++;
        else if (!(d == 1 && fabs(y - floor(y) - 0.5) < 0.01)) off++;
    }
    CHECK_EQ_INT(off, 0);
    CHECK(exact > w * h * 99 / 100);
    ferc_image_free(&g);
    free(px);
}

TEST(image_png_variants) {
    const char *dir = test_tmpdir();
    ferc_error err;
    ferc_image im;

    /* 16-bit RGB: values 257*k scale to exactly k. */
    uint16_t v16[] = {257 * 10, 257 * 20, 257 * 30, 257 * 200, 257 * 100, 65535};
    uint8_t be16[12];
    for (int i = 0; i < 6; i++) { be16[2 * i] = (uint8_t)(v16[i] >> 8); be16[2 * i + 1] = (uint8_t)v16[i]; }
    write_png_raw(test_path(dir, "rgb16.png"), 2, 1, 16, PNG_COLOR_TYPE_RGB, be16, 12, NULL, 0, NULL, 0, 0);
    CHECK_EQ_INT(ferc_image_load(test_path(dir, "rgb16.png"), 0, &im, &err), FERC_OK);
    CHECK_EQ_INT(im.c, 3); CHECK_EQ_INT(im.w, 2);
    uint8_t e16[] = {10, 20, 30, 200, 100, 255};
    for (int i = 0; i < 6 && im.data; i++) CHECK_EQ_INT(im.data[i], e16[i]);
    ferc_image_free(&im);

    /* Palette, 2 bits per pixel, with a tRNS entry (alpha is dropped). */
    png_color pal[3] = {{255, 0, 0}, {0, 0, 255}, {10, 20, 30}};
    uint8_t trns[1] = {0};
    uint8_t prow[1] = {(0 << 6) | (1 << 4) | (2 << 2) | 1}; /* indices 0 1 2 1 */
    write_png_raw(test_path(dir, "pal.png"), 4, 1, 2, PNG_COLOR_TYPE_PALETTE, prow, 1, pal, 3, trns, 1, 0);
    CHECK_EQ_INT(ferc_image_load(test_path(dir, "pal.png"), 0, &im, &err), FERC_OK);
    CHECK_EQ_INT(im.c, 3); CHECK_EQ_INT(im.w, 4); CHECK_EQ_INT(im.h, 1);
    uint8_t epal[] = {255, 0, 0, 0, 0, 255, 10, 20, 30, 0, 0, 255};
    if (im.data) CHECK(memcmp(im.data, epal, 12) == 0);
    ferc_image_free(&im);
    CHECK_EQ_INT(ferc_image_load(test_path(dir, "pal.png"), 1, &im, &err), FERC_OK);
    if (im.data) { CHECK_EQ_INT(im.data[0], 76); CHECK_EQ_INT(im.data[1], 29); CHECK_EQ_INT(im.data[2], 18); }
    ferc_image_free(&im);

    /* Gray + alpha: alpha dropped, not composited. */
    uint8_t ga[] = {10, 0, 200, 128, 255, 255};
    write_png_raw(test_path(dir, "ga.png"), 3, 1, 8, PNG_COLOR_TYPE_GRAY_ALPHA, ga, 6, NULL, 0, NULL, 0, 0);
    CHECK_EQ_INT(ferc_image_load(test_path(dir, "ga.png"), 0, &im, &err), FERC_OK);
    CHECK_EQ_INT(im.c, 1);
    if (im.data) { CHECK_EQ_INT(im.data[0], 10); CHECK_EQ_INT(im.data[1], 200); CHECK_EQ_INT(im.data[2], 255); }
    ferc_image_free(&im);

    /* RGBA. */
    uint8_t rgba[] = {1, 2, 3, 0, 250, 251, 252, 99};
    write_png_raw(test_path(dir, "rgba.png"), 2, 1, 8, PNG_COLOR_TYPE_RGBA, rgba, 8, NULL, 0, NULL, 0, 0);
    CHECK_EQ_INT(ferc_image_load(test_path(dir, "rgba.png"), 0, &im, &err), FERC_OK);
    CHECK_EQ_INT(im.c, 3);
    uint8_t ergb[] = {1, 2, 3, 250, 251, 252};
    if (im.data) CHECK(memcmp(im.data, ergb, 6) == 0);
    ferc_image_free(&im);

    /* 1-bit gray: 0 -> 0, 1 -> 255. */
    uint8_t bits[1] = {0xA0}; /* 1 0 1 0 */
    write_png_raw(test_path(dir, "g1.png"), 4, 1, 1, PNG_COLOR_TYPE_GRAY, bits, 1, NULL, 0, NULL, 0, 0);
    CHECK_EQ_INT(ferc_image_load(test_path(dir, "g1.png"), 0, &im, &err), FERC_OK);
    uint8_t eg1[] = {255, 0, 255, 0};
    if (im.data) CHECK(memcmp(im.data, eg1, 4) == 0);
    ferc_image_free(&im);

    /* Interlaced (Adam7) gray 16-bit: 9x7 ramp. */
    uint8_t il[7 * 9 * 2];
    for (int i = 0; i < 63; i++) { il[2 * i] = (uint8_t)(i * 4); il[2 * i + 1] = (uint8_t)(i * 4); }
    write_png_raw(test_path(dir, "il.png"), 9, 7, 16, PNG_COLOR_TYPE_GRAY, il, 18, NULL, 0, NULL, 0, 1);
    CHECK_EQ_INT(ferc_image_load(test_path(dir, "il.png"), 0, &im, &err), FERC_OK);
    CHECK_EQ_INT(im.w, 9); CHECK_EQ_INT(im.h, 7); CHECK_EQ_INT(im.c, 1);
    for (int i = 0; i < 63 && im.data; i++) CHECK_EQ_INT(im.data[i], i * 4);
    ferc_image_free(&im);
}

TEST(image_png_truncated) {
    const char *dir = test_tmpdir();
    uint8_t *px = noise(64, 64, 3, 3);
    ferc_image im = {64, 64, 3, px};
    ferc_error err;
    const char *p = test_path(dir, "cut.png");
    CHECK_EQ_INT(ferc_image_save_png(p, &im, &err), FERC_OK);
    size_t n;
    unsigned char *b = test_read(p, &n);
    CHECK(b && n > 10000);
    if (!b) { free(px); return; }
    test_write(p, b, n / 2);
    ferc_image out;
    CHECK_EQ_INT(ferc_image_load(p, 0, &out, &err), FERC_ERR_DECODE);
    CHECK(strstr(err.msg, "cut.png") != NULL);
    CHECK(out.data == NULL);
    /* Cut just before IEND too: the image data is complete but the file is not. */
    test_write(p, b, n - 12);
    ferc_status st = ferc_image_load(p, 0, &out, &err);
    CHECK_EQ_INT(st, FERC_ERR_DECODE);
    if (st == FERC_OK) ferc_image_free(&out);
    free(b);
    free(px);
}

TEST(image_not_an_image) {
    const char *dir = test_tmpdir();
    ferc_error err;
    ferc_image im;
    const char *p = test_path(dir, "notes.png");
    test_write(p, "hello, this is text\n", 20);
    CHECK_EQ_INT(ferc_image_load(p, 0, &im, &err), FERC_ERR_DECODE);
    CHECK(strstr(err.msg, "notes.png: not a PNG or JPEG image") != NULL);
    const char *e = test_path(dir, "empty.jpg");
    test_write(e, "", 0);
    CHECK_EQ_INT(ferc_image_load(e, 0, &im, &err), FERC_ERR_DECODE);
    CHECK(strstr(err.msg, "empty.jpg") != NULL);
    CHECK_EQ_INT(ferc_image_load(test_path(dir, "missing.png"), 0, &im, &err), FERC_ERR_IO);
    CHECK(strstr(err.msg, "missing.png") != NULL);
    /* A PNG named .jpg is decoded by content. */
    uint8_t g[] = {9, 99};
    ferc_image gi = {2, 1, 1, g};
    const char *pj = test_path(dir, "really_png.jpg");
    CHECK_EQ_INT(ferc_image_save_png(pj, &gi, &err), FERC_OK);
    CHECK_EQ_INT(ferc_image_load(pj, 0, &im, &err), FERC_OK);
    if (im.data) CHECK_EQ_INT(im.data[1], 99);
    ferc_image_free(&im);
}

static void put_be32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24); p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8); p[3] = (unsigned char)v;
}

TEST(image_png_decompression_bomb) {
    const char *dir = test_tmpdir();
    uint8_t g[16] = {0};
    ferc_image gi = {4, 4, 1, g};
    ferc_error err;
    const char *p = test_path(dir, "bomb.png");
    CHECK_EQ_INT(ferc_image_save_png(p, &gi, &err), FERC_OK);
    size_t n;
    unsigned char *b = test_read(p, &n);
    CHECK(b && n > 33 && memcmp(b + 12, "IHDR", 4) == 0);
    if (!b) return;
    /* IHDR data is at 16..28 (width, height, ...), its CRC at 29..32 over
     * the type and data. Claim 100000 x 100000 pixels. */
    put_be32(b + 16, 100000);
    put_be32(b + 20, 100000);
    put_be32(b + 29, (uint32_t)crc32(0L, b + 12, 17));
    test_write(p, b, n);
    ferc_image im;
    CHECK_EQ_INT(ferc_image_load(p, 0, &im, &err), FERC_ERR_LIMIT);
    CHECK(strstr(err.msg, "bomb.png") != NULL);
    CHECK(strstr(err.msg, "100000x100000") != NULL);
    /* Same with a bad CRC: still an error (decode), never a success. */
    b[29] ^= 0xFF;
    test_write(p, b, n);
    CHECK(ferc_image_load(p, 0, &im, &err) != FERC_OK);
    free(b);
}

/* ---- JPEG ---- */

TEST(image_jpeg_decode) {
    const char *dir = test_tmpdir();
    /* 16x16 RGB in four flat 8x8 blocks; quality 100 keeps flat blocks within
     * a couple of levels. */
    uint8_t cols[4][3] = {{200, 30, 40}, {20, 180, 60}, {40, 50, 220}, {128, 128, 128}};
    uint8_t px[16 * 16 * 3];
    for (int y = 0; y < 16; y++)
        for (int x = 0; x < 16; x++)
            memcpy(px + (y * 16 + x) * 3, cols[(y / 8) * 2 + x / 8], 3);
    const char *p = test_path(dir, "c.jpg");
    write_jpeg(p, 16, 16, 3, px, 100, NULL, 0);
    ferc_image im, g;
    ferc_error err;
    CHECK_EQ_INT(ferc_image_load(p, 0, &im, &err), FERC_OK);
    CHECK_EQ_INT(im.w, 16); CHECK_EQ_INT(im.h, 16); CHECK_EQ_INT(im.c, 3);
    for (int b = 0; b < 4 && im.data; b++) {
        int y = (b / 2) * 8 + 4, x = (b % 2) * 8 + 4;
        for (int k = 0; k < 3; k++) CHECK_NEAR(im.data[(y * 16 + x) * 3 + k], cols[b][k], 4);
    }
    /* Gray of a colour JPEG = BT.601 luma of its decoded RGB. */
    CHECK_EQ_INT(ferc_image_load(p, 1, &g, &err), FERC_OK);
    CHECK_EQ_INT(g.c, 1);
    for (int i = 0; i < 256 && g.data && im.data; i++)
        CHECK_NEAR(g.data[i], luma_ref(im.data[3 * i], im.data[3 * i + 1], im.data[3 * i + 2]), 1);
    ferc_image_free(&im);
    ferc_image_free(&g);

    /* Gray JPEG. */
    uint8_t gp[8 * 8];
    memset(gp, 77, sizeof gp);
    write_jpeg(test_path(dir, "g.jpg"), 8, 8, 1, gp, 95, NULL, 0);
    CHECK_EQ_INT(ferc_image_load(test_path(dir, "g.jpg"), 0, &im, &err), FERC_OK);
    CHECK_EQ_INT(im.c, 1);
    if (im.data) CHECK_NEAR(im.data[27], 77, 1);
    ferc_image_free(&im);
}

/* CMYK JPEG as Adobe writes it (inverted: 255 = no ink), 8x8 flat. */
TEST(image_jpeg_cmyk) {
    const char *dir = test_tmpdir();
    const char *p = test_path(dir, "cmyk.jpg");
    FILE *f = fopen(p, "wb");
    if (!f) { CHECK(0); return; }
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr jerr;
    ci.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&ci);
    jpeg_stdio_dest(&ci, f);
    ci.image_width = 8;
    ci.image_height = 8;
    ci.input_components = 4;
    ci.in_color_space = JCS_CMYK;
    jpeg_set_defaults(&ci); /* CMYK is stored as CMYK with an Adobe marker */
    jpeg_set_quality(&ci, 100, TRUE);
    jpeg_start_compress(&ci, TRUE);
    /* No cyan, full magenta, no yellow, no black: inverted 255 0 255 255. */
    uint8_t row[8 * 4];
    for (int i = 0; i < 8; i++) { row[4 * i] = 255; row[4 * i + 1] = 0; row[4 * i + 2] = 255; row[4 * i + 3] = 255; }
    while (ci.next_scanline < 8) { JSAMPROW r = row; jpeg_write_scanlines(&ci, &r, 1); }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    fclose(f);
    ferc_image im;
    ferc_error err;
    CHECK_EQ_INT(ferc_image_load(p, 0, &im, &err), FERC_OK);
    CHECK_EQ_INT(im.c, 3);
    if (im.data) { /* magenta */
        CHECK_NEAR(im.data[27 * 3], 255, 3); CHECK_NEAR(im.data[27 * 3 + 1], 0, 3); CHECK_NEAR(im.data[27 * 3 + 2], 255, 3);
    }
    ferc_image_free(&im);
}

TEST(image_jpeg_truncated) {
    const char *dir = test_tmpdir();
    uint8_t *px = noise(64, 64, 3, 11);
    const char *p = test_path(dir, "cut.jpg");
    write_jpeg(p, 64, 64, 3, px, 90, NULL, 0);
    size_t n;
    unsigned char *b = test_read(p, &n);
    CHECK(b && n > 2000);
    if (!b) { free(px); return; }
    ferc_image im;
    ferc_error err;
    CHECK_EQ_INT(ferc_image_load(p, 0, &im, &err), FERC_OK);
    ferc_image_free(&im);
    test_write(p, b, n * 6 / 10);
    CHECK_EQ_INT(ferc_image_load(p, 0, &im, &err), FERC_ERR_DECODE);
    CHECK(strstr(err.msg, "cut.jpg") != NULL);
    CHECK(im.data == NULL);
    /* Only the header: also an error. */
    test_write(p, b, 200);
    CHECK_EQ_INT(ferc_image_load(p, 0, &im, &err), FERC_ERR_DECODE);
    free(b);
    free(px);
}

TEST(image_jpeg_decompression_bomb) {
    const char *dir = test_tmpdir();
    uint8_t gp[16 * 16] = {0};
    const char *p = test_path(dir, "bomb.jpg");
    write_jpeg(p, 16, 16, 1, gp, 90, NULL, 0);
    size_t n;
    unsigned char *b = test_read(p, &n);
    if (!b) { CHECK(0); return; }
    /* SOF0: FF C0, length(2), precision(1), height(2), width(2). */
    size_t i = 2;
    int found = 0;
    while (i + 9 < n) {
        if (b[i] == 0xFF && b[i + 1] == 0xC0) { found = 1; break; }
        i++;
    }
    CHECK(found);
    if (found) {
        b[i + 5] = 60000 >> 8; b[i + 6] = 60000 & 0xFF;  /* height */
        b[i + 7] = 60000 >> 8; b[i + 8] = 60000 & 0xFF;  /* width */
        test_write(p, b, n);
        ferc_image im;
        ferc_error err;
        CHECK_EQ_INT(ferc_image_load(p, 0, &im, &err), FERC_ERR_LIMIT);
        CHECK(strstr(err.msg, "bomb.jpg") != NULL);
    }
    free(b);
}

/* An APP1 Exif payload whose IFD0 holds one Orientation entry. */
static unsigned make_exif(uint8_t *e, int orient, int little) {
    memcpy(e, "Exif\0\0", 6);
    uint8_t *t = e + 6;
    memset(t, 0, 38);
    if (little) {
        t[0] = 'I'; t[1] = 'I'; t[2] = 42; t[3] = 0; t[4] = 8;        /* IFD0 at 8 */
        t[8] = 2;                                                     /* 2 entries */
        t[10] = 0x0F; t[11] = 0x01; t[12] = 2; t[14] = 1;             /* 0x010F Make, ASCII, 1 */
        t[22] = 0x12; t[23] = 0x01; t[24] = 3; t[26] = 1;             /* 0x0112, SHORT, 1 */
        t[30] = (uint8_t)orient;
    } else {
        t[0] = 'M'; t[1] = 'M'; t[3] = 42; t[7] = 8;
        t[9] = 2;
        t[10] = 0x01; t[11] = 0x0F; t[13] = 2; t[17] = 1;
        t[22] = 0x01; t[23] = 0x12; t[25] = 3; t[29] = 1;
        t[31] = (uint8_t)orient;
    }
    return 6 + 8 + 2 + 24 + 4;
}

TEST(image_jpeg_exif_orientation) {
    const char *dir = test_tmpdir();
    /* Stored image: 3 x 2 blocks of 8x8, values
     *     A B C        A=20  B=60  C=100
     *     D E F        D=140 E=180 F=220
     * Expected upright layouts, worked out by hand from the EXIF meaning of
     * each value (row-major, bw x bh blocks). */
    enum { A = 20, B = 60, C = 100, D = 140, E = 180, F = 220 };
    const int src[2][3] = {{A, B, C}, {D, E, F}};
    struct { int bw, bh; int v[6]; } want[9] = {
        {0, 0, {0}},
        {3, 2, {A, B, C, D, E, F}},  /* 1 normal */
        {3, 2, {C, B, A, F, E, D}},  /* 2 mirrored left-right */
        {3, 2, {F, E, D, C, B, A}},  /* 3 rotated 180 */
        {3, 2, {D, E, F, A, B, C}},  /* 4 mirrored top-bottom */
        {2, 3, {A, D, B, E, C, F}},  /* 5 transposed */
        {2, 3, {D, A, E, B, F, C}},  /* 6 rotate 90 clockwise to view */
        {2, 3, {F, C, E, B, D, A}},  /* 7 transverse */
        {2, 3, {C, F, B, E, A, D}},  /* 8 rotate 90 counter-clockwise */
    };
    uint8_t px[16 * 24];
    for (int y = 0; y < 16; y++)
        for (int x = 0; x < 24; x++) px[y * 24 + x] = (uint8_t)src[y / 8][x / 8];
    for (int o = 1; o <= 8; o++) {
        uint8_t exif[64];
        unsigned len = make_exif(exif, o, o % 2);
        char name[32];
        snprintf(name, sizeof name, "o%d.jpg", o);
        const char *p = test_path(dir, name);
        write_jpeg(p, 24, 16, 1, px, 100, exif, len);
        ferc_image im;
        ferc_error err;
        CHECK_EQ_INT(ferc_image_load(p, 0, &im, &err), FERC_OK);
        if (!im.data) continue;
        CHECK_EQ_INT(im.w, want[o].bw * 8);
        CHECK_EQ_INT(im.h, want[o].bh * 8);
        for (int by = 0; by < want[o].bh && im.w == want[o].bw * 8; by++)
            for (int bx = 0; bx < want[o].bw; bx++) {
                int v = im.data[(by * 8 + 4) * im.w + bx * 8 + 4];
                CHECK_MSG(abs(v - want[o].v[by * want[o].bw + bx]) <= 3,
                          "orientation %d block (%d,%d): %d, expected %d", o, bx, by, v,
                          want[o].v[by * want[o].bw + bx]);
            }
        ferc_image_free(&im);
    }
    /* Malformed Exif (IFD offset past the end, entry cut short, bad value,
     * header only): ignored, the image loads as stored. */
    uint8_t bad[64];
    unsigned len = make_exif(bad, 6, 1);
    bad[6 + 4] = 200;
    write_jpeg(test_path(dir, "bad1.jpg"), 24, 16, 1, px, 100, bad, len);
    make_exif(bad, 6, 0); /* cut inside the Orientation entry */
    write_jpeg(test_path(dir, "bad2.jpg"), 24, 16, 1, px, 100, bad, 6 + 28);
    len = make_exif(bad, 9, 1); /* out-of-range value */
    write_jpeg(test_path(dir, "bad3.jpg"), 24, 16, 1, px, 100, bad, len);
    write_jpeg(test_path(dir, "bad4.jpg"), 24, 16, 1, px, 100, (const uint8_t *)"Exif\0\0II", 8);
    const char *names[] = {"bad1.jpg", "bad2.jpg", "bad3.jpg", "bad4.jpg"};
    for (int i = 0; i < 4; i++) {
        ferc_image im;
        ferc_error err;
        CHECK_EQ_INT(ferc_image_load(test_path(dir, names[i]), 0, &im, &err), FERC_OK);
        CHECK_EQ_INT(im.w, 24);
        CHECK_EQ_INT(im.h, 16);
        ferc_image_free(&im);
    }
}

/* ---- resize ---- */

TEST(image_resize_hand_cases) {
    /* 1x2 [0, 1] -> 1x4: source x = (i + 0.5) / 2 - 0.5 = -0.25(->0), 0.25, 0.75, 1.25(->1). */
    float s[2] = {0.f, 1.f}, d[4];
    ferc_resize_bilinear(s, 1, 2, d, 1, 4);
    CHECK_NEAR(d[0], 0.0, 1e-7); CHECK_NEAR(d[1], 0.25, 1e-7);
    CHECK_NEAR(d[2], 0.75, 1e-7); CHECK_NEAR(d[3], 1.0, 1e-7);
    /* 2x2 -> 1x1: the centre, the mean of the four. */
    float q[4] = {1.f, 2.f, 3.f, 6.f}, m;
    ferc_resize_bilinear(q, 2, 2, &m, 1, 1);
    CHECK_NEAR(m, 3.0, 1e-6);
    /* 4 -> 2 along a row: x = 0.5 and 2.5 -> means of pairs (no antialias). */
    float r[4] = {0.f, 10.f, 20.f, 40.f}, o[2];
    ferc_resize_bilinear(r, 1, 4, o, 1, 2);
    CHECK_NEAR(o[0], 5.0, 1e-6); CHECK_NEAR(o[1], 30.0, 1e-6);
}

TEST(image_resize_matches_pytorch) {
    FILE *f = fopen(test_fixture("resize_bilinear.txt"), "r");
    if (!f) { CHECK_MSG(0, "missing fixture resize_bilinear.txt (run tests/fixtures/gen_resize.py)"); return; }
    char line[512];
    int cases = 0;
    while (fgets(line, sizeof line, f)) {
        int sh, sw, dh, dw;
        if (sscanf(line, "case %d %d %d %d", &sh, &sw, &dh, &dw) != 4) continue;
        float *src = malloc(sizeof *src * (size_t)sh * sw), *dst = malloc(sizeof *dst * (size_t)dh * dw);
        for (int i = 0; i < sh * sw; i++) src[i] = (float)((i * 37 + 11) % 256) / 256.0f;
        ferc_resize_bilinear(src, sh, sw, dst, dh, dw);
        double worst = 0;
        for (int i = 0; i < dh * dw; i++) {
            double v;
            if (fscanf(f, "%lf", &v) != 1) { CHECK_MSG(0, "short fixture"); break; }
            double e = fabs(v - dst[i]);
            if (e > worst) worst = e;
        }
        CHECK_MSG(worst <= 1e-6, "case %dx%d -> %dx%d: max error %g", sh, sw, dh, dw, worst);
        cases++;
        free(src);
        free(dst);
    }
    fclose(f);
    CHECK(cases >= 6);
}
