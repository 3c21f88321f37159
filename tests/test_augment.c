/* test_augment.c — tests of the augmentation and class-imbalance module:
 * each transform on hand-computed 5x5 cases, 48 cases against scipy.ndimage
 * (tests/fixtures/augment_cases.txt from gen_augment.py), determinism under
 * a seed, the draws' ranges, options and config parsing, balanced class
 * weights against scikit-learn and the oversampler's class frequencies. */
#include "test.h"
#include "ferc.h"
#include "data/data.h"
#include "detect/detect.h"
#include "model/model.h"
#include "report/report.h"

#include <stdlib.h>
#include <string.h>

/* 5x5 ramp: v(r, c) = (5 r + c) / 24, from 0 to 1. */
static void ramp5(float *a) {
    for (int r = 0; r < 5; r++)
        for (int c = 0; c < 5; c++) a[r * 5 + c] = (float)(5 * r + c) / 24.0f;
}
#define V(r, c) ((float)(5 * (r) + (c)) / 24.0f)

static void opts_fill(ferc_augment_opts *o, ferc_fill_mode f, float cval) {
    ferc_augment_opts_default(o);
    o->fill = f;
    o->cval = cval;
}

/* Apply params p on the ramp with a fill mode, 5x5 -> dh x dw. */
static void run5(const ferc_augment_params *p, ferc_fill_mode f, float cval, float *dst, int dh, int dw) {
    float src[25];
    ramp5(src);
    ferc_augment_opts o;
    opts_fill(&o, f, cval);
    CHECK_EQ_INT(ferc_augment_apply(&o, p, src, 5, 5, dst, dh, dw), FERC_OK);
}

TEST(augment_identity_is_exact_copy) {
    float src[25], dst[25];
    ramp5(src);
    ferc_augment_params p;
    ferc_augment_params_identity(&p);
    for (int f = 0; f < 4; f++) {
        ferc_augment_opts o;
        opts_fill(&o, (ferc_fill_mode)f, 0.5f);
        CHECK_EQ_INT(ferc_augment_apply(&o, &p, src, 5, 5, dst, 5, 5), FERC_OK);
        CHECK(memcmp(src, dst, sizeof src) == 0);
    }
}

TEST(augment_hflip_5x5) {
    float dst[25];
    ferc_augment_params p;
    ferc_augment_params_identity(&p);
    p.flip = 1;
    run5(&p, FERC_FILL_CONSTANT, 0.5f, dst, 5, 5);
    for (int r = 0; r < 5; r++)
        for (int c = 0; c < 5; c++) CHECK_NEAR(dst[r * 5 + c], V(r, 4 - c), 1e-6);
}

/* Shift the content one and two pixels to the right under each fill mode:
 * column c shows source column c - s; columns left of 0 come from the fill. */
TEST(augment_shift_right_each_fill_mode) {
    const ferc_fill_mode modes[4] = {FERC_FILL_NEAREST, FERC_FILL_CONSTANT, FERC_FILL_REFLECT, FERC_FILL_WRAP};
    /* Expected source column for destination columns 0 and 1 (-1 = cval):
     * shift 1: nearest 0 | constant k | reflect 0 (a|a b c) | wrap 4.
     * shift 2: nearest 0 0 | constant k k | reflect 1 0 (b a|a b) | wrap 3 4. */
    const int want1[4] = {0, -1, 0, 4};
    const int want2[4][2] = {{0, 0}, {-1, -1}, {1, 0}, {3, 4}};
    for (int m = 0; m < 4; m++) {
        float dst[25];
        ferc_augment_params p;
        ferc_augment_params_identity(&p);
        p.dx = 1;
        run5(&p, modes[m], 0.5f, dst, 5, 5);
        for (int r = 0; r < 5; r++) {
            CHECK_NEAR(dst[r * 5], want1[m] < 0 ? 0.5f : V(r, want1[m]), 1e-5);
            for (int c = 1; c < 5; c++) CHECK_NEAR(dst[r * 5 + c], V(r, c - 1), 1e-5);
        }
        p.dx = 2;
        run5(&p, modes[m], 0.5f, dst, 5, 5);
        for (int r = 0; r < 5; r++) {
            for (int c = 0; c < 2; c++)
                CHECK_NEAR(dst[r * 5 + c], want2[m][c] < 0 ? 0.5f : V(r, want2[m][c]), 1e-5);
            for (int c = 2; c < 5; c++) CHECK_NEAR(dst[r * 5 + c], V(r, c - 2), 1e-5);
        }
    }
}

TEST(augment_shift_up_reflect) {
    /* dy = -1: row r shows source row r + 1; the last row reflects to row 4. */
    float dst[25];
    ferc_augment_params p;
    ferc_augment_params_identity(&p);
    p.dy = -1;
    run5(&p, FERC_FILL_REFLECT, 0.0f, dst, 5, 5);
    for (int c = 0; c < 5; c++) {
        for (int r = 0; r < 4; r++) CHECK_NEAR(dst[r * 5 + c], V(r + 1, c), 1e-5);
        CHECK_NEAR(dst[4 * 5 + c], V(4, c), 1e-5);
    }
}

TEST(augment_rotate_90_both_ways) {
    float dst[25];
    ferc_augment_params p;
    ferc_augment_params_identity(&p);
    /* Counter-clockwise, as numpy.rot90: out[i][j] = in[j][4 - i]. */
    p.angle = 90;
    run5(&p, FERC_FILL_CONSTANT, 0.5f, dst, 5, 5);
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++) CHECK_NEAR(dst[i * 5 + j], V(j, 4 - i), 1e-5);
    /* Clockwise: out[i][j] = in[4 - j][i]. */
    p.angle = -90;
    run5(&p, FERC_FILL_CONSTANT, 0.5f, dst, 5, 5);
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++) CHECK_NEAR(dst[i * 5 + j], V(4 - j, i), 1e-5);
    /* 180 degrees: out[i][j] = in[4 - i][4 - j]. */
    p.angle = 180;
    run5(&p, FERC_FILL_NEAREST, 0.0f, dst, 5, 5);
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++) CHECK_NEAR(dst[i * 5 + j], V(4 - i, 4 - j), 1e-5);
}

TEST(augment_zoom_in_2x_about_centre) {
    /* zoom factor 0.5: output (r, c) samples the source at (2 + (r-2)/2,
     * 2 + (c-2)/2); bilinear interpolation of the linear ramp is exact. */
    float dst[25];
    ferc_augment_params p;
    ferc_augment_params_identity(&p);
    p.zx = p.zy = 0.5f;
    run5(&p, FERC_FILL_CONSTANT, 0.5f, dst, 5, 5);
    for (int r = 0; r < 5; r++)
        for (int c = 0; c < 5; c++) {
            double y = 2 + (r - 2) / 2.0, x = 2 + (c - 2) / 2.0;
            CHECK_NEAR(dst[r * 5 + c], (5 * y + x) / 24.0, 1e-5);
        }
}

TEST(augment_zoom_out_2x_constant_fill) {
    /* zoom factor 2: output index q samples source 2 + 2 (q - 2), i.e. -2, 0,
     * 2, 4, 6: the outer ring is outside the image (cval), the rest picks the
     * even pixels. */
    float dst[25];
    ferc_augment_params p;
    ferc_augment_params_identity(&p);
    p.zx = p.zy = 2.0f;
    run5(&p, FERC_FILL_CONSTANT, 0.25f, dst, 5, 5);
    for (int r = 0; r < 5; r++)
        for (int c = 0; c < 5; c++) {
            int out = r == 0 || r == 4 || c == 0 || c == 4;
            CHECK_NEAR(dst[r * 5 + c], out ? 0.25f : V(2 * r - 2, 2 * c - 2), 1e-5);
        }
    /* With nearest fill the ring repeats the edge pixels (clamped index). */
    run5(&p, FERC_FILL_NEAREST, 0.25f, dst, 5, 5);
    for (int r = 0; r < 5; r++)
        for (int c = 0; c < 5; c++) {
            int y = 2 * r - 2, x = 2 * c - 2;
            y = y < 0 ? 0 : (y > 4 ? 4 : y);
            x = x < 0 ? 0 : (x > 4 ? 4 : x);
            CHECK_NEAR(dst[r * 5 + c], V(y, x), 1e-5);
        }
}

TEST(augment_nearest_interpolation) {
    /* zoom 0.6, nearest: source coordinate 2 + 0.6 (q - 2) = 0.8 1.4 2 2.6
     * 3.2 rounds to 1 1 2 3 3. */
    const int idx[5] = {1, 1, 2, 3, 3};
    float src[25], dst[25];
    ramp5(src);
    ferc_augment_opts o;
    ferc_augment_opts_default(&o);
    o.interp = FERC_INTERP_NEAREST;
    ferc_augment_params p;
    ferc_augment_params_identity(&p);
    p.zx = p.zy = 0.6f;
    CHECK_EQ_INT(ferc_augment_apply(&o, &p, src, 5, 5, dst, 5, 5), FERC_OK);
    for (int r = 0; r < 5; r++)
        for (int c = 0; c < 5; c++) CHECK(dst[r * 5 + c] == V(idx[r], idx[c]));
}

TEST(augment_crop_and_center_crop) {
    float dst[9];
    ferc_augment_params p;
    ferc_augment_params_identity(&p);
    p.crop = 1; p.crop_x = 2; p.crop_y = 1;
    run5(&p, FERC_FILL_NEAREST, 0.0f, dst, 3, 3);
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++) CHECK_NEAR(dst[r * 3 + c], V(r + 1, c + 2), 1e-6);
    /* Centre crop 5 -> 3 starts at (1, 1). */
    float src[25];
    ramp5(src);
    ferc_augment_opts o;
    ferc_augment_opts_default(&o);
    o.crop = 1;
    CHECK_EQ_INT(ferc_augment_center(&o, src, 5, 5, dst, 3, 3), FERC_OK);
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++) CHECK_NEAR(dst[r * 3 + c], V(r + 1, c + 1), 1e-6);
    /* A crop window outside the source, or an output larger than the input
     * in crop mode, is refused. */
    p.crop_x = 3;
    CHECK_EQ_INT(ferc_augment_apply(NULL, &p, src, 5, 5, dst, 3, 3), FERC_ERR_ARG);
    float big[36];
    CHECK_EQ_INT(ferc_augment_center(&o, src, 5, 5, big, 6, 6), FERC_ERR_ARG);
    ferc_error err = {0};
    CHECK_EQ_INT(ferc_augment_check(&o, 5, 5, 6, 6, &err), FERC_ERR_ARG);
    CHECK(strstr(err.msg, "crop") != NULL);
}

TEST(augment_resize_is_pixel_centre_bilinear) {
    /* 4x4 -> 2x2 with pixel centres: output (r, c) samples (2r + 0.5,
     * 2c + 0.5), the mean of a 2x2 block. */
    float src[16], dst[4];
    for (int i = 0; i < 16; i++) src[i] = (float)((i * 7) % 16) / 15.0f;
    ferc_augment_opts o;
    ferc_augment_opts_default(&o);
    CHECK_EQ_INT(ferc_augment_center(&o, src, 4, 4, dst, 2, 2), FERC_OK);
    for (int r = 0; r < 2; r++)
        for (int c = 0; c < 2; c++) {
            int i = 2 * r * 4 + 2 * c;
            double want = (src[i] + src[i + 1] + src[i + 4] + src[i + 5]) / 4.0;
            CHECK_NEAR(dst[r * 2 + c], want, 1e-6);
        }
}

TEST(augment_ten_crop_order) {
    float src[25], dst[10 * 9];
    ramp5(src);
    CHECK_EQ_INT(ferc_augment_ten_crop(src, 5, 5, dst, 3, 3), FERC_OK);
    /* top-left, top-right, bottom-left, bottom-right, centre offsets (y, x). */
    const int oy[5] = {0, 0, 2, 2, 1}, ox[5] = {0, 2, 0, 2, 1};
    for (int k = 0; k < 5; k++)
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < 3; c++) {
                CHECK_NEAR(dst[k * 9 + r * 3 + c], V(r + oy[k], c + ox[k]), 1e-6);
                /* The crops of the mirrored image: column j of the mirror is
                 * column 4 - j of the original (torchvision's TenCrop). */
                CHECK_NEAR(dst[(5 + k) * 9 + r * 3 + c], V(r + oy[k], 4 - (c + ox[k])), 1e-6);
            }
}

TEST(augment_brightness_contrast_clamp) {
    float src[25], dst[25];
    ramp5(src);
    ferc_augment_params p;
    ferc_augment_params_identity(&p);
    p.brightness = 0.5f;
    CHECK_EQ_INT(ferc_augment_apply(NULL, &p, src, 5, 5, dst, 5, 5), FERC_OK);
    for (int i = 0; i < 25; i++) CHECK_NEAR(dst[i], 0.5 * src[i], 1e-6);
    /* Contrast 2 about the mean (0.5 for the ramp): 2 v - 0.5, clamped. */
    ferc_augment_params_identity(&p);
    p.contrast = 2.0f;
    CHECK_EQ_INT(ferc_augment_apply(NULL, &p, src, 5, 5, dst, 5, 5), FERC_OK);
    for (int i = 0; i < 25; i++) {
        double w = 2.0 * src[i] - 0.5;
        w = w < 0 ? 0 : (w > 1 ? 1 : w);
        CHECK_NEAR(dst[i], w, 1e-5);
    }
    /* Brightness 1.5, then contrast 0.5 about the new mean 0.75. */
    p.brightness = 1.5f;
    p.contrast = 0.5f;
    CHECK_EQ_INT(ferc_augment_apply(NULL, &p, src, 5, 5, dst, 5, 5), FERC_OK);
    for (int i = 0; i < 25; i++) {
        double w = (1.5 * src[i] - 0.75) * 0.5 + 0.75;
        CHECK_NEAR(dst[i], w > 1 ? 1 : w, 1e-5);
    }
}

/* ---- scipy.ndimage oracle -------------------------------------------- */

static int fill_from_name(const char *s) {
    const char *names[4] = {"nearest", "constant", "reflect", "wrap"};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0) return i;
    return -1;
}

TEST(augment_matches_scipy_fixture) {
    FILE *f = fopen(test_fixture("augment_cases.txt"), "r");
    CHECK_MSG(f != NULL, "missing fixture %s", test_fixture("augment_cases.txt"));
    if (!f) return;
    char line[512];
    int h = 0, w = 0, ncases = 0;
    float *src = NULL;
    while (fscanf(f, "%511s", line) == 1) {
        if (line[0] == '#') { if (!fgets(line, sizeof line, f)) break; continue; }
        if (strcmp(line, "input") == 0) {
            CHECK(fscanf(f, "%d %d", &h, &w) == 2);
            src = malloc(sizeof(float) * (size_t)h * w);
            for (int i = 0; i < h * w; i++) CHECK(fscanf(f, "%f", &src[i]) == 1);
            continue;
        }
        CHECK(strcmp(line, "case") == 0);
        char name[128], fill[32], interp[32];
        ferc_augment_params p;
        ferc_augment_params_identity(&p);
        int dh, dw;
        float cval;
        int got = fscanf(f, "%127s %f %f %f %f %f %d %d %d %d %d %d %31s %31s %f %f %f", name, &p.zx, &p.zy,
                         &p.dx, &p.dy, &p.angle, &p.flip, &p.crop, &p.crop_x, &p.crop_y, &dh, &dw, fill, interp,
                         &cval, &p.brightness, &p.contrast);
        CHECK_EQ_INT(got, 17);
        if (got != 17 || !src) break;
        ferc_augment_opts o;
        ferc_augment_opts_default(&o);
        o.fill = (ferc_fill_mode)fill_from_name(fill);
        o.interp = strcmp(interp, "nearest") == 0 ? FERC_INTERP_NEAREST : FERC_INTERP_BILINEAR;
        o.cval = cval;
        float *want = malloc(sizeof(float) * (size_t)dh * dw), *out = malloc(sizeof(float) * (size_t)dh * dw);
        for (int i = 0; i < dh * dw; i++) CHECK(fscanf(f, "%f", &want[i]) == 1);
        CHECK_EQ_INT(ferc_augment_apply(&o, &p, src, h, w, out, dh, dw), FERC_OK);
        int bad = 0;
        for (int i = 0; i < dh * dw; i++)
            if (!(fabs(out[i] - want[i]) <= 2e-5)) {
                if (bad++ < 3)
                    CHECK_MSG(0, "case %s: pixel (%d,%d) = %.6f, scipy %.6f", name, i / dw, i % dw,
                              (double)out[i], (double)want[i]);
            }
        free(want);
        free(out);
        ncases++;
    }
    fclose(f);
    free(src);
    CHECK_EQ_INT(ncases, 48);
}

/* ---- randomness --------------------------------------------------------- */

static void full_opts(ferc_augment_opts *o) {
    ferc_augment_opts_default(o);
    CHECK_EQ_INT(ferc_augment_opts_parse(o, "zoom=0.3", NULL), FERC_OK);
    CHECK_EQ_INT(ferc_augment_opts_parse(o, "shift=0.1", NULL), FERC_OK);
    CHECK_EQ_INT(ferc_augment_opts_parse(o, "rotation=15", NULL), FERC_OK);
    CHECK_EQ_INT(ferc_augment_opts_parse(o, "flip", NULL), FERC_OK);
    CHECK_EQ_INT(ferc_augment_opts_parse(o, "crop=1", NULL), FERC_OK);
    CHECK_EQ_INT(ferc_augment_opts_parse(o, "brightness=0.2", NULL), FERC_OK);
    CHECK_EQ_INT(ferc_augment_opts_parse(o, "contrast=0.2", NULL), FERC_OK);
}

static void augment_batch_f(const ferc_augment_opts *o, uint64_t seed, const float *src, int n, float *dst) {
    ferc_rng rng;
    ferc_rng_seed(&rng, seed);
    for (int i = 0; i < n; i++)
        CHECK_EQ_INT(ferc_augment_image(o, &rng, src + (size_t)i * 48 * 48, 48, 48, dst + (size_t)i * 40 * 40, 40,
                                        40), FERC_OK);
}

TEST(augment_same_seed_same_batch) {
    enum { N = 16 };
    float *src = malloc(sizeof(float) * N * 48 * 48);
    float *a = malloc(sizeof(float) * N * 40 * 40), *b = malloc(sizeof(float) * N * 40 * 40);
    ferc_rng g;
    ferc_rng_seed(&g, 7);
    for (int i = 0; i < N * 48 * 48; i++) src[i] = ferc_rng_uniform(&g);
    ferc_augment_opts o;
    full_opts(&o);
    augment_batch_f(&o, 42, src, N, a);
    augment_batch_f(&o, 42, src, N, b);
    CHECK(memcmp(a, b, sizeof(float) * N * 40 * 40) == 0);
    augment_batch_f(&o, 43, src, N, b);
    int differ = 0;
    for (int i = 0; i < N; i++) differ += memcmp(a + i * 1600, b + i * 1600, sizeof(float) * 1600) != 0;
    CHECK_MSG(differ >= N - 1, "seed 43 changed only %d of %d images", differ, N);
    for (int i = 0; i < N * 1600; i++) CHECK(a[i] >= 0.0f && a[i] <= 1.0f);
    free(src); free(a); free(b);
}

TEST(augment_batch_from_dataset_u8) {
    /* ferc_augment_batch samples 8-bit rows directly; it must equal the float
     * path on the same pixels / 255, both for training and evaluation. Sides
     * 48 and 80 cover both internal routes (small rows are converted first). */
    enum { N = 6 };
    const int sides[2] = {48, 80};
    for (int si = 0; si < 2; si++) {
        const int S = sides[si], P = S * S, D = S - 8;
        ferc_dataset d = {0};
        d.n = N; d.h = S; d.w = S;
        d.pix = malloc((size_t)N * P);
        ferc_rng g;
        ferc_rng_seed(&g, 3);
        for (int i = 0; i < N * P; i++) d.pix[i] = (uint8_t)ferc_rng_below(&g, 256);
        float *f = malloc(sizeof(float) * N * P);
        for (int i = 0; i < N * P; i++) f[i] = d.pix[i] / 255.0f;
        int idx[N] = {5, 0, 3, 3, 1, 4};
        float *a = malloc(sizeof(float) * N * D * D), *b = malloc(sizeof(float) * N * D * D);
        ferc_augment_opts o;
        full_opts(&o);
        for (int train = 0; train < 2; train++) {
            ferc_rng r1, r2;
            ferc_rng_seed(&r1, 11);
            ferc_rng_seed(&r2, 11);
            CHECK_EQ_INT(ferc_augment_batch(&o, &r1, &d, idx, N, train, a, D, D), FERC_OK);
            for (int i = 0; i < N; i++) {
                const float *s = f + (size_t)idx[i] * P;
                if (train) CHECK_EQ_INT(ferc_augment_image(&o, &r2, s, S, S, b + i * D * D, D, D), FERC_OK);
                else CHECK_EQ_INT(ferc_augment_center(&o, s, S, S, b + i * D * D, D, D), FERC_OK);
            }
            double md = 0;
            for (int i = 0; i < N * D * D; i++) md = fmax(md, fabs(a[i] - b[i]));
            CHECK_NEAR(md, 0.0, 1e-6);
        }
        int bad[1] = {N};
        CHECK_EQ_INT(ferc_augment_batch(&o, &g, &d, bad, 1, 1, a, D, D), FERC_ERR_ARG);
        free(d.pix); free(f); free(a); free(b);
    }
}

TEST(augment_draw_ranges) {
    ferc_augment_opts o;
    full_opts(&o);
    ferc_rng rng;
    ferc_rng_seed(&rng, 5);
    int flips = 0, seen_x[9] = {0}, seen_y[9] = {0}, aniso = 0;
    double angle_sum = 0, zmin = 9, zmax = 0;
    const int n = 4000;
    for (int i = 0; i < n; i++) {
        ferc_augment_params p;
        CHECK_EQ_INT(ferc_augment_draw(&o, &rng, 48, 48, 40, 40, &p), FERC_OK);
        CHECK(p.zx >= 0.7f && p.zx <= 1.3f && p.zy >= 0.7f && p.zy <= 1.3f);
        aniso += p.zx != p.zy;
        zmin = fmin(zmin, p.zx); zmax = fmax(zmax, p.zx);
        CHECK(fabsf(p.dx) <= 0.1f * 48 && fabsf(p.dy) <= 0.1f * 48);
        CHECK(fabsf(p.angle) <= 15.0f);
        angle_sum += p.angle;
        flips += p.flip;
        CHECK(p.crop == 1 && p.crop_x >= 0 && p.crop_x <= 8 && p.crop_y >= 0 && p.crop_y <= 8);
        if (p.crop_x >= 0 && p.crop_x <= 8) seen_x[p.crop_x]++;
        if (p.crop_y >= 0 && p.crop_y <= 8) seen_y[p.crop_y]++;
        CHECK(p.brightness >= 0.8f && p.brightness <= 1.2f && p.contrast >= 0.8f && p.contrast <= 1.2f);
    }
    CHECK(zmin < 0.72 && zmax > 1.28);
    CHECK_EQ_INT(aniso, n);  /* Keras draws the two axes independently */
    CHECK_NEAR(flips / (double)n, 0.5, 0.04);
    CHECK_NEAR(angle_sum / n, 0.0, 0.6);
    for (int k = 0; k <= 8; k++) CHECK(seen_x[k] > 300 && seen_y[k] > 300);  /* ~444 each */
    /* zoom_same: one factor; disabled options use no randomness at all. */
    CHECK_EQ_INT(ferc_augment_opts_parse(&o, "zoom_same=1", NULL), FERC_OK);
    ferc_augment_params p;
    CHECK_EQ_INT(ferc_augment_draw(&o, &rng, 48, 48, 40, 40, &p), FERC_OK);
    CHECK(p.zx == p.zy);
    ferc_augment_opts off;
    ferc_augment_opts_default(&off);
    ferc_rng before = rng;
    CHECK_EQ_INT(ferc_augment_draw(&off, &rng, 48, 48, 40, 40, &p), FERC_OK);
    CHECK(memcmp(&before, &rng, sizeof rng) == 0);
    CHECK(p.zx == 1.0f && p.dx == 0.0f && p.angle == 0.0f && !p.flip && !p.crop);
}

/* ---- options and config --------------------------------------------------- */

TEST(augment_opts_parse) {
    ferc_augment_opts o;
    ferc_augment_opts_default(&o);
    CHECK_EQ_INT(o.enabled, 0);
    CHECK_EQ_INT(ferc_augment_opts_parse(&o, "fill=reflect", NULL), FERC_OK);
    CHECK_EQ_INT(o.enabled, 0);  /* fill alone does not turn augmentation on */
    CHECK_EQ_INT(o.fill, FERC_FILL_REFLECT);
    CHECK_EQ_INT(ferc_augment_opts_parse(&o, "zoom = 0.3", NULL), FERC_OK);
    CHECK_EQ_INT(o.enabled, 1);
    CHECK_NEAR(o.zoom_lo, 0.7, 1e-6);
    CHECK_NEAR(o.zoom_hi, 1.3, 1e-6);
    CHECK_EQ_INT(ferc_augment_opts_parse(&o, "zoom_range=[0.8, 1.2]", NULL), FERC_OK);
    CHECK_NEAR(o.zoom_lo, 0.8, 1e-6);
    CHECK_NEAR(o.zoom_hi, 1.2, 1e-6);
    CHECK_EQ_INT(ferc_augment_opts_parse(&o, "shift=0.1,0.2", NULL), FERC_OK);
    CHECK_NEAR(o.shift_x, 0.1, 1e-6);
    CHECK_NEAR(o.shift_y, 0.2, 1e-6);
    CHECK_EQ_INT(ferc_augment_opts_parse(&o, "height_shift_range=0.05", NULL), FERC_OK);
    CHECK_NEAR(o.shift_y, 0.05, 1e-6);
    CHECK_EQ_INT(ferc_augment_opts_parse(&o, "rotation=10", NULL), FERC_OK);
    CHECK_NEAR(o.rotation, 10, 1e-6);
    CHECK_EQ_INT(ferc_augment_opts_parse(&o, "horizontal_flip=true", NULL), FERC_OK);
    CHECK_EQ_INT(o.flip, 1);
    CHECK_EQ_INT(ferc_augment_opts_parse(&o, "brightness=0.5:1.5", NULL), FERC_OK);
    CHECK_NEAR(o.brightness_lo, 0.5, 1e-6);
    CHECK_NEAR(o.brightness_hi, 1.5, 1e-6);
    CHECK_EQ_INT(ferc_augment_opts_parse(&o, "contrast=0.25", NULL), FERC_OK);
    CHECK_NEAR(o.contrast_lo, 0.75, 1e-6);
    CHECK_EQ_INT(ferc_augment_opts_parse(&o, "fill=constant", NULL), FERC_OK);
    CHECK_EQ_INT(ferc_augment_opts_parse(&o, "cval=0.5", NULL), FERC_OK);
    CHECK_NEAR(o.cval, 0.5, 1e-6);
    CHECK_EQ_INT(ferc_augment_opts_parse(&o, "interp=nearest", NULL), FERC_OK);
    CHECK_EQ_INT(o.interp, FERC_INTERP_NEAREST);
    CHECK_EQ_INT(ferc_augment_opts_parse(&o, "enabled=0", NULL), FERC_OK);
    CHECK_EQ_INT(o.enabled, 0);

    /* Errors leave the options unchanged and say what is wrong. */
    ferc_augment_opts before = o;
    ferc_error err = {0};
    CHECK_EQ_INT(ferc_augment_opts_parse(&o, "zoom=abc", &err), FERC_ERR_ARG);
    CHECK(strstr(err.msg, "zoom") && strstr(err.msg, "abc"));
    CHECK_EQ_INT(ferc_augment_opts_parse(&o, "zoom=1.5", &err), FERC_ERR_ARG);
    CHECK_EQ_INT(ferc_augment_opts_parse(&o, "zoom=1.2,0.8", &err), FERC_ERR_ARG);
    CHECK_EQ_INT(ferc_augment_opts_parse(&o, "shift=1.5", &err), FERC_ERR_ARG);
    CHECK_EQ_INT(ferc_augment_opts_parse(&o, "rotation=200", &err), FERC_ERR_ARG);
    CHECK_EQ_INT(ferc_augment_opts_parse(&o, "flip=maybe", &err), FERC_ERR_ARG);
    CHECK_EQ_INT(ferc_augment_opts_parse(&o, "fill=mirror", &err), FERC_ERR_ARG);
    CHECK(strstr(err.msg, "mirror") != NULL);
    CHECK_EQ_INT(ferc_augment_opts_parse(&o, "cval=2", &err), FERC_ERR_ARG);
    CHECK_EQ_INT(ferc_augment_opts_parse(&o, "zoom", &err), FERC_ERR_ARG);
    CHECK_EQ_INT(ferc_augment_opts_parse(&o, "shear=0.2", &err), FERC_ERR_ARG);
    CHECK(strstr(err.msg, "unknown") && strstr(err.msg, "shear"));
    CHECK(memcmp(&before, &o, sizeof o) == 0);

    CHECK_EQ_INT(ferc_augment_opts_parse(&o, "preset=seed2", NULL), FERC_OK);
    CHECK(o.enabled && o.zoom_lo == 0.7f && o.zoom_hi == 1.3f && o.fill == FERC_FILL_NEAREST && !o.flip);
    char buf[512];
    ferc_augment_describe(&o, buf, sizeof buf);
    CHECK_MSG(strstr(buf, "zoom 0.70..1.30") && strstr(buf, "nearest"), "describe: %s", buf);
    ferc_augment_opts_default(&o);
    ferc_augment_describe(&o, buf, sizeof buf);
    CHECK_MSG(strncmp(buf, "off", 3) == 0, "describe: %s", buf);
}

TEST(augment_config_file) {
    char path[1200];
    snprintf(path, sizeof path, "%s/aug.conf", test_tmpdir());
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    fprintf(f, "# the seed-2 recipe plus flips\n\nzoom = 0.3   # Keras zoom_range\nfill = nearest\n"
               "  flip = yes\nrotation=12.5\n");
    fclose(f);
    ferc_augment_opts o;
    ferc_augment_opts_default(&o);
    ferc_error err = {0};
    CHECK_EQ_INT(ferc_augment_load_config(path, &o, &err), FERC_OK);
    CHECK(o.enabled == 1 && o.flip == 1 && o.zoom_lo == 0.7f && o.rotation == 12.5f);

    f = fopen(path, "w");
    fprintf(f, "zoom = 0.2\n# comment\n\nrotation = ten\nflip = 1\n");
    fclose(f);
    ferc_augment_opts_default(&o);
    ferc_augment_opts before = o;
    CHECK_EQ_INT(ferc_augment_load_config(path, &o, &err), FERC_ERR_PARSE);
    char want[1300];
    snprintf(want, sizeof want, "%s:4:", path);
    CHECK_MSG(strstr(err.msg, want) && strstr(err.msg, "ten"), "message: %s", err.msg);
    CHECK(memcmp(&before, &o, sizeof o) == 0);

    f = fopen(path, "w");
    fprintf(f, "zoom = 0.2\nbogus = 1\n");
    fclose(f);
    CHECK_EQ_INT(ferc_augment_load_config(path, &o, &err), FERC_ERR_PARSE);
    snprintf(want, sizeof want, "%s:2:", path);
    CHECK_MSG(strstr(err.msg, want) && strstr(err.msg, "bogus"), "message: %s", err.msg);

    snprintf(path, sizeof path, "%s/missing.conf", test_tmpdir());
    CHECK_EQ_INT(ferc_augment_load_config(path, &o, &err), FERC_ERR_IO);
    CHECK(strstr(err.msg, "missing.conf") != NULL);
}

/* ---- class imbalance ------------------------------------------------------ */

static const int FER_TRAIN[7] = {3995, 436, 4097, 7215, 4830, 3171, 4965};

TEST(class_weights_balanced_fer) {
    float w[7];
    CHECK_EQ_INT(ferc_class_weights_balanced(FER_TRAIN, w), 7);
    /* scikit-learn 1.2.1: compute_class_weight('balanced', classes=0..6, y)
     * for FER2013's Training counts (n = 28709). */
    const double sk[7] = {1.02660468, 9.40661861, 1.00104606, 0.56843877, 0.84912748, 1.29337298, 0.82603942};
    for (int c = 0; c < 7; c++) CHECK_NEAR(w[c], sk[c], 1e-6);
    CHECK_NEAR(w[1], 28709.0 / (7 * 436), 1e-5);
    /* Absent classes get 0 and do not count in k: counts 10 0 30 5 0 20 35
     * (n = 100, k = 5) -> sklearn [2, 0.6667, 4, 1, 0.5714] for 0 2 3 5 6. */
    const int counts[7] = {10, 0, 30, 5, 0, 20, 35};
    CHECK_EQ_INT(ferc_class_weights_balanced(counts, w), 5);
    const double sk2[7] = {2.0, 0, 0.66666667, 4.0, 0, 1.0, 0.57142857};
    for (int c = 0; c < 7; c++) CHECK_NEAR(w[c], sk2[c], 1e-6);
}

TEST(balanced_sampler_frequencies) {
    int n = 0;
    for (int c = 0; c < 7; c++) n += FER_TRAIN[c];
    int *labels = malloc(sizeof(int) * n);
    /* Interleave the classes so that class members are not contiguous. */
    ferc_rng g;
    ferc_rng_seed(&g, 9);
    for (int c = 0, k = 0; c < 7; c++)
        for (int i = 0; i < FER_TRAIN[c]; i++) labels[k++] = c;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)ferc_rng_below(&g, (uint32_t)i + 1), t = labels[i];
        labels[i] = labels[j]; labels[j] = t;
    }
    ferc_balanced_sampler s;
    ferc_error err = {0};
    CHECK_EQ_INT(ferc_balanced_sampler_init(&s, labels, n, &err), FERC_OK);
    CHECK_EQ_INT(s.nclass, 7);
    enum { M = 70000 };
    int *out = malloc(sizeof(int) * M);
    ferc_rng rng;
    ferc_rng_seed(&rng, 2024);
    ferc_balanced_sampler_draw(&s, &rng, out, M);
    int freq[7] = {0};
    char *hit = calloc((size_t)n, 1);
    for (int j = 0; j < M; j++) {
        CHECK(out[j] >= 0 && out[j] < n);
        if (out[j] < 0 || out[j] >= n) break;
        freq[labels[out[j]]]++;
        hit[out[j]] = 1;
    }
    /* 10,000 expected per class, binomial sd ~93: allow 5%. */
    for (int c = 0; c < 7; c++) CHECK_MSG(abs(freq[c] - 10000) < 500, "class %d drawn %d times", c, freq[c]);
    /* Every disgust face is drawn (about 23 times each) — uniform members. */
    int disgust_missed = 0;
    for (int i = 0; i < n; i++) disgust_missed += labels[i] == 1 && !hit[i];
    CHECK_EQ_INT(disgust_missed, 0);
    /* Same seed, same draws. */
    int *again = malloc(sizeof(int) * M);
    ferc_rng_seed(&rng, 2024);
    ferc_balanced_sampler_draw(&s, &rng, again, M);
    CHECK(memcmp(out, again, sizeof(int) * M) == 0);
    ferc_balanced_sampler_free(&s);

    /* An absent class is never drawn; the 6 others share equally. */
    for (int i = 0; i < n; i++)
        if (labels[i] == 1) labels[i] = 3;
    CHECK_EQ_INT(ferc_balanced_sampler_init(&s, labels, n, &err), FERC_OK);
    CHECK_EQ_INT(s.nclass, 6);
    ferc_balanced_sampler_draw(&s, &rng, out, 60000);
    memset(freq, 0, sizeof freq);
    for (int j = 0; j < 60000; j++) freq[labels[out[j]]]++;
    CHECK_EQ_INT(freq[1], 0);
    for (int c = 0; c < 7; c++)
        if (c != 1) CHECK_MSG(abs(freq[c] - 10000) < 500, "class %d drawn %d times", c, freq[c]);
    ferc_balanced_sampler_free(&s);

    labels[17] = 9;
    CHECK_EQ_INT(ferc_balanced_sampler_init(&s, labels, n, &err), FERC_ERR_ARG);
    CHECK_MSG(strstr(err.msg, "row 17") != NULL, "message: %s", err.msg);
    ferc_balanced_sampler_free(&s);
    free(labels); free(out); free(again); free(hit);
}
