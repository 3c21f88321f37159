/* test_report.c — tests of the report: the plotting layer on synthetic data
 * (each PNG decodes with libpng, has the expected size, is not blank, and
 * shows what it should where it should), the analysis helpers against
 * hand-computed cases (ticks, ECE, quantile accuracy), the whole page with
 * and without a model, refusal of bad input without a partial page, and the
 * page in headless Chromium (tests/browser_check.sh). */
#include "test.h"
#include "cli_util.h"
#include "ferc.h"
#include "model/model.h"
#include "report/report.h"

#include <dirent.h>
#include <math.h>
#include <png.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* fontconfig (under cairo's text API) keeps process-lifetime caches that only
 * FcFini frees; LeakSanitizer reads this hook (same list as tests/lsan.supp). */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:libfontconfig.so\n"; }

/* ---- helpers ---------------------------------------------------------------- */

typedef struct { int w, h; uint8_t *rgb; } img_rgb;

/* Decode a PNG with libpng's simplified API (independent of our image.c). */
static int load_png(const char *path, img_rgb *o) {
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    o->rgb = NULL;
    if (!png_image_begin_read_from_file(&im, path)) return 0;
    im.format = PNG_FORMAT_RGB;
    o->rgb = malloc(PNG_IMAGE_SIZE(im));
    if (!o->rgb || !png_image_finish_read(&im, NULL, o->rgb, 0, NULL)) {
        free(o->rgb);
        o->rgb = NULL;
        png_image_free(&im);
        return 0;
    }
    o->w = (int)im.width;
    o->h = (int)im.height;
    return 1;
}

static uint32_t px(const img_rgb *m, int x, int y) {
    const uint8_t *p = m->rgb + ((size_t)y * m->w + x) * 3;
    return ((uint32_t)p[0] << 16) | ((uint32_t)p[1] << 8) | p[2];
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Variance of the luma and number of distinct colours. */
static void img_stats(const img_rgb *m, double *var, int *ncol) {
    size_t n = (size_t)m->w * m->h;
    double s = 0, s2 = 0;
    uint32_t *c = malloc(sizeof(uint32_t) * n);
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = m->rgb + i * 3;
        double l = 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
        s += l; s2 += l * l;
        c[i] = ((uint32_t)p[0] << 16) | ((uint32_t)p[1] << 8) | p[2];
    }
    qsort(c, n, sizeof *c, cmp_u32);
    int k = n > 0;
    for (size_t i = 1; i < n; i++) k += c[i] != c[i - 1];
    free(c);
    *var = s2 / n - (s / n) * (s / n);
    *ncol = k;
}

/* Pixels within tol (per channel) of colour c. */
static long count_near(const img_rgb *m, uint32_t c, int tol) {
    long k = 0;
    int r = (c >> 16) & 255, g = (c >> 8) & 255, b = c & 255;
    for (size_t i = 0; i < (size_t)m->w * m->h; i++) {
        const uint8_t *p = m->rgb + i * 3;
        if (abs(p[0] - r) <= tol && abs(p[1] - g) <= tol && abs(p[2] - b) <= tol) k++;
    }
    return k;
}

/* The PNG decodes, is w x h (when w > 0) and is not blank. */
static void check_png(const char *path, int w, int h) {
    img_rgb m;
    if (!load_png(path, &m)) { CHECK_MSG(0, "%s does not decode as PNG", path); return; }
    if (w > 0) { CHECK_EQ_INT(m.w, w); CHECK_EQ_INT(m.h, h); }
    double var;
    int ncol;
    img_stats(&m, &var, &ncol);
    CHECK_MSG(var > 20, "%s looks blank: luma variance %g", path, var);
    CHECK_MSG(ncol >= 8, "%s has only %d colours", path, ncol);
    free(m.rgb);
}

/* Names in a folder other than . and .. (count), and whether one starts with prefix. */
static int dir_count(const char *dir, const char *prefix, int *with_prefix) {
    DIR *d = opendir(dir);
    int n = 0;
    if (with_prefix) *with_prefix = 0;
    if (!d) return -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        n++;
        if (with_prefix && prefix && strncmp(e->d_name, prefix, strlen(prefix)) == 0) (*with_prefix)++;
    }
    closedir(d);
    return n;
}

static void history(ferc_epoch_stats *h, int n) {
    for (int i = 0; i < n; i++) {
        double t = (double)i / (n > 1 ? n - 1 : 1);
        h[i] = (ferc_epoch_stats){i + 1, (float)(1.8 - 0.9 * t), (float)(0.25 + 0.45 * t),
                                  (float)(1.7 - 0.5 * t + 0.2 * t * t), (float)(0.27 + 0.3 * t - 0.05 * t * t),
                                  1e-3f, 10.0f, (float)(0.2 + 0.3 * t)};
    }
}

/* A synthetic 48x48 dataset of n faces: a bright disc whose radius and
 * position depend on the class, on a background of varying brightness. */
typedef struct { ferc_dataset d; int *pred; float *probs; } synth;

static void make_synth(synth *s, int n, uint64_t seed) {
    ferc_rng r;
    ferc_rng_seed(&r, seed);
    const int S = 48;
    memset(s, 0, sizeof *s);
    cli_dataset_alloc(&s->d, n);   /* S x S */
    s->pred = malloc(sizeof(int) * (size_t)n);
    s->probs = malloc(sizeof(float) * (size_t)n * FERC_NUM_CLASSES);
    for (int i = 0; i < n; i++) {
        int t = i % FERC_NUM_CLASSES;
        s->d.label[i] = t;
        double bg = 30 + 150 * ferc_rng_uniform(&r), rad = 6 + 2.5 * t;
        double cx = 18 + t * 2, cy = 22 + (i % 3) * 2;
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++) {
                double v = bg + 20 * sin(x * 0.3 + i);
                if ((x - cx) * (x - cx) + (y - cy) * (y - cy) < rad * rad) v = 235 - 3 * t;
                s->d.pix[((size_t)i * S + y) * S + x] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
        int ok = ferc_rng_uniform(&r) < 0.6f;
        int p = ok ? t : (t + 1 + (int)ferc_rng_below(&r, 6)) % FERC_NUM_CLASSES;
        s->pred[i] = p;
        float conf = 0.3f + 0.69f * ferc_rng_uniform(&r);
        for (int c = 0; c < FERC_NUM_CLASSES; c++)
            s->probs[(size_t)i * FERC_NUM_CLASSES + c] = c == p ? conf : (1 - conf) / 6;
    }
}

static void free_synth(synth *s) {
    free(s->d.pix); free(s->d.label); free(s->d.usage); free(s->pred); free(s->probs);
}

static const char *const report_pngs[] = {"curves.png", "confusion.png", "per_class.png", "share.png",
                                          "calibration.png", "quantiles.png", "misclassified.png",
                                          "correct.png", "confused_pairs.png"};
static const char *const model_pngs[] = {"activations.png", "filters.png", "saliency.png"};
#define NREPORT (int)(sizeof report_pngs / sizeof report_pngs[0])
#define NMODEL (int)(sizeof model_pngs / sizeof model_pngs[0])

/* ---- analysis helpers ------------------------------------------------------- */

TEST(report_nice_ticks) {
    double f, s;
    int n = plot_nice_ticks(0, 1, 6, &f, &s);
    CHECK_EQ_INT(n, 6); CHECK_NEAR(f, 0, 1e-12); CHECK_NEAR(s, 0.2, 1e-12);
    n = plot_nice_ticks(0.37, 2.81, 6, &f, &s);  /* rough step 0.488 -> 0.5: 0.5 .. 2.5 */
    CHECK_EQ_INT(n, 5); CHECK_NEAR(f, 0.5, 1e-12); CHECK_NEAR(s, 0.5, 1e-12);
    n = plot_nice_ticks(1, 30, 8, &f, &s);        /* rough 4.14 -> 5: 5 .. 30 */
    CHECK_EQ_INT(n, 6); CHECK_NEAR(f, 5, 1e-12); CHECK_NEAR(s, 5, 1e-12);
    n = plot_nice_ticks(-3, 7, 11, &f, &s);       /* rough 1 -> 1: -3 .. 7 */
    CHECK_EQ_INT(n, 11); CHECK_NEAR(f, -3, 1e-12); CHECK_NEAR(s, 1, 1e-12);
    n = plot_nice_ticks(5, 5, 6, &f, &s);         /* empty range is widened */
    CHECK(n >= 2 && s > 0);
}

TEST(report_colour_scales) {
    CHECK_EQ_INT(plot_viridis(0), 0x440154);
    CHECK_EQ_INT(plot_viridis(1), 0xfde725);
    CHECK_EQ_INT(plot_viridis(-3), 0x440154);   /* clamped */
    CHECK_EQ_INT(plot_viridis(NAN), 0x440154);
    CHECK_EQ_INT(plot_diverging(0.5), 0xf7f7f7);
    CHECK_EQ_INT(plot_diverging(0), 0x2166ac);
    CHECK_EQ_INT(plot_diverging(7), 0xb2182b);
    /* halfway between two stops: (59+44)/2=51.5->52, (81+113)/2=97, (139+142)/2=140.5->141 */
    CHECK_EQ_INT(plot_viridis(0.3125), (52 << 16) | (97 << 8) | 141);
    /* the hot scale gets brighter */
    uint32_t a = plot_hot(0.1), b = plot_hot(0.9);
    int la = ((a >> 16) & 255) + ((a >> 8) & 255) + (a & 255), lb = ((b >> 16) & 255) + ((b >> 8) & 255) + (b & 255);
    CHECK(lb > la);
}

/* Five predictions, five bins of width 0.2, worked by hand:
 *   bin 4: conf 0.9 (right), 0.95 (right): mean conf 0.925, acc 1, gap 0.075, weight 2/5
 *   bin 3: conf 0.7 (wrong): gap 0.7, weight 1/5
 *   bin 2: conf 0.5 (right): gap 0.5, weight 1/5
 *   bin 1: conf 0.3 (wrong): gap 0.3, weight 1/5
 *   ECE = 0.03 + 0.14 + 0.10 + 0.06 = 0.33; MCE = 0.7 */
TEST(report_calibration_hand) {
    float p[5][FERC_NUM_CLASSES];
    int top[5] = {0, 1, 2, 3, 4}, lab[5] = {0, 2, 2, 3, 5};
    float conf[5] = {0.9f, 0.7f, 0.5f, 0.95f, 0.3f};
    for (int i = 0; i < 5; i++)
        for (int c = 0; c < FERC_NUM_CLASSES; c++) p[i][c] = c == top[i] ? conf[i] : (1 - conf[i]) / 6;
    ferc_calibration cal;
    ferc_error err = {0};
    CHECK_EQ_INT(ferc_calibration_compute(&p[0][0], lab, 5, 5, &cal, &err), FERC_OK);
    CHECK_EQ_INT(cal.n, 5);
    CHECK_EQ_INT(cal.count[0], 0); CHECK_EQ_INT(cal.count[1], 1); CHECK_EQ_INT(cal.count[2], 1);
    CHECK_EQ_INT(cal.count[3], 1); CHECK_EQ_INT(cal.count[4], 2);
    CHECK_NEAR(cal.conf[4], 0.925, 1e-6); CHECK_NEAR(cal.acc[4], 1.0, 1e-12);
    CHECK_NEAR(cal.acc[3], 0.0, 1e-12); CHECK_NEAR(cal.acc[2], 1.0, 1e-12);
    CHECK_NEAR(cal.ece, 0.33, 1e-6);
    CHECK_NEAR(cal.mce, 0.7, 1e-6);

    /* confidence 1.0 falls in the last bin; one bin = |accuracy - mean confidence| */
    float q[2][FERC_NUM_CLASSES] = {{1, 0, 0, 0, 0, 0, 0}, {0, 0.6f, 0.4f, 0, 0, 0, 0}};
    int l2[2] = {0, 2};
    CHECK_EQ_INT(ferc_calibration_compute(&q[0][0], l2, 2, 10, &cal, &err), FERC_OK);
    CHECK_EQ_INT(cal.count[9], 1); CHECK_EQ_INT(cal.count[6], 1);
    CHECK_NEAR(cal.ece, 0.5 * 0.0 + 0.5 * 0.6, 1e-6);
    CHECK_EQ_INT(ferc_calibration_compute(&q[0][0], l2, 2, 1, &cal, &err), FERC_OK);
    CHECK_NEAR(cal.ece, fabs(0.5 - 0.8), 1e-6);

    /* bad input */
    CHECK_EQ_INT(ferc_calibration_compute(&q[0][0], l2, 0, 10, &cal, &err), FERC_ERR_ARG);
    CHECK_EQ_INT(ferc_calibration_compute(&q[0][0], l2, 2, 0, &cal, &err), FERC_ERR_ARG);
    CHECK_EQ_INT(ferc_calibration_compute(&q[0][0], l2, 2, FERC_MAX_CALIB_BINS + 1, &cal, &err), FERC_ERR_ARG);
    int bad[2] = {0, 9};
    CHECK_EQ_INT(ferc_calibration_compute(&q[0][0], bad, 2, 10, &cal, &err), FERC_ERR_ARG);
    CHECK(strstr(err.msg, "row 1") != NULL);
}

TEST(report_quantile_accuracy_hand) {
    /* sorted values 1 2 | 3 4 | 5 6 with correct 0 0 | 0 1 | 1 1 */
    double v[6] = {5, 1, 4, 2, 3, 6};
    int ok[6] = {1, 0, 1, 0, 0, 1};
    double acc[3], lo[3], hi[3];
    int cnt[3];
    ferc_error err = {0};
    CHECK_EQ_INT(plot_quantile_accuracy(v, ok, 6, 3, acc, lo, hi, cnt, &err), FERC_OK);
    CHECK_NEAR(acc[0], 0, 1e-12); CHECK_NEAR(acc[1], 0.5, 1e-12); CHECK_NEAR(acc[2], 1, 1e-12);
    CHECK_NEAR(lo[0], 1, 0); CHECK_NEAR(hi[0], 2, 0); CHECK_NEAR(lo[2], 5, 0); CHECK_NEAR(hi[2], 6, 0);
    CHECK_EQ_INT(cnt[0] + cnt[1] + cnt[2], 6);
    /* 7 into 2 groups: 3 + 4 */
    double w[7] = {7, 6, 5, 4, 3, 2, 1};
    int o7[7] = {1, 1, 1, 1, 0, 0, 0};  /* right for the 4 largest values */
    double a2[2], l2[2], h2[2];
    int c2[2];
    CHECK_EQ_INT(plot_quantile_accuracy(w, o7, 7, 2, a2, l2, h2, c2, &err), FERC_OK);
    CHECK_EQ_INT(c2[0], 3); CHECK_EQ_INT(c2[1], 4);
    CHECK_NEAR(a2[0], 0, 1e-12); CHECK_NEAR(a2[1], 1, 1e-12);
    CHECK_EQ_INT(plot_quantile_accuracy(w, o7, 1, 2, a2, l2, h2, c2, &err), FERC_ERR_ARG);
}

/* ---- figures ---------------------------------------------------------------- */

TEST(report_curves_png) {
    const char *dir = test_tmpdir();
    ferc_epoch_stats h[12];
    history(h, 12);
    ferc_error err = {0};
    const char *p = test_path(dir, "curves.png");
    CHECK_EQ_INT(ferc_plot_curves(h, 12, p, &err), FERC_OK);
    check_png(p, 1100, 420);
    img_rgb m;
    if (load_png(p, &m)) {
        /* train in blue, validation in orange, both in each half */
        long bl = 0, bl2 = 0, or = 0, or2 = 0;
        for (int y = 0; y < m.h; y++)
            for (int x = 0; x < m.w; x++) {
                uint32_t c = px(&m, x, y);
                int r = (c >> 16) & 255, g = (c >> 8) & 255, b = c & 255;
                int isb = abs(r - 0x1f) < 12 && abs(g - 0x77) < 12 && abs(b - 0xb4) < 12;
                int iso = abs(r - 0xff) < 12 && abs(g - 0x7f) < 12 && abs(b - 0x0e) < 12;
                if (x < m.w / 2) { bl += isb; or += iso; } else { bl2 += isb; or2 += iso; }
            }
        CHECK_MSG(bl > 200 && bl2 > 200, "blue pixels %ld / %ld", bl, bl2);
        CHECK_MSG(or > 200 && or2 > 200, "orange pixels %ld / %ld", or, or2);
        free(m.rgb);
    }
    /* one epoch still draws; redrawing replaces the file */
    CHECK_EQ_INT(ferc_plot_curves(h, 1, p, &err), FERC_OK);
    check_png(p, 1100, 420);
    /* no epochs: refused, nothing written */
    const char *q = test_path(dir, "none.png");
    CHECK_EQ_INT(ferc_plot_curves(h, 0, q, &err), FERC_ERR_ARG);
    CHECK(!test_exists(q));
    /* unwritable place: io error naming the path, no temp file left */
    const char *bad = test_path(dir, "curves.png/x.png");  /* parent is a file */
    err.msg[0] = 0;
    CHECK_EQ_INT(ferc_plot_curves(h, 12, bad, &err), FERC_ERR_IO);
    CHECK(strstr(err.msg, bad) != NULL);
    int tmp;
    CHECK_EQ_INT(dir_count(dir, "curves.png.tmp", &tmp), 1);
    CHECK_EQ_INT(tmp, 0);
}

TEST(report_confusion_png) {
    const char *dir = test_tmpdir();
    int k = FERC_NUM_CLASSES, cm[FERC_NUM_CLASSES * FERC_NUM_CLASSES];
    for (int r = 0; r < k; r++)
        for (int c = 0; c < k; c++) cm[r * k + c] = r == c ? 50 + 10 * r : (r + c) % 3;
    cm[0] = 100; for (int c = 1; c < k; c++) cm[c] = 0;  /* row 0: 100% on the diagonal */
    const char *names[FERC_NUM_CLASSES];
    for (int c = 0; c < k; c++) names[c] = ferc_label_name(c);
    ferc_error err = {0};
    const char *p = test_path(dir, "confusion.png");
    CHECK_EQ_INT(plot_confusion(cm, k, names, 780, 640, "Confusion", p, &err), FERC_OK);
    check_png(p, 780, 640);
    img_rgb m;
    if (load_png(p, &m)) {
        /* the 100% cell is the darkest blue of the scale; 0% cells the lightest */
        CHECK(count_near(&m, 0x08306b, 3) > 500);
        CHECK(count_near(&m, 0xf7fbff, 3) > 2000);
        free(m.rgb);
    }
    CHECK_EQ_INT(plot_confusion(cm, 0, names, 780, 640, NULL, test_path(dir, "x.png"), &err), FERC_ERR_ARG);
    CHECK_EQ_INT(plot_confusion(cm, k, names, 10, 640, NULL, test_path(dir, "x.png"), &err), FERC_ERR_ARG);
    CHECK(!test_exists(test_path(dir, "x.png")));
}

TEST(report_bars_and_reliability_png) {
    const char *dir = test_tmpdir();
    ferc_error err = {0};
    double v[FERC_NUM_CLASSES * 3];
    for (int i = 0; i < FERC_NUM_CLASSES * 3; i++) v[i] = 0.2 + 0.1 * (i % 7);
    const char *names[FERC_NUM_CLASSES];
    for (int c = 0; c < FERC_NUM_CLASSES; c++) names[c] = ferc_label_name(c);
    const char *sn[3] = {"precision", "recall", "F1"};
    plot_bars_spec s = {"Per class", "score", FERC_NUM_CLASSES, 3, names, sn, v, 0, 0, "%.2f", 0.5, "macro F1"};
    const char *p = test_path(dir, "bars.png");
    CHECK_EQ_INT(plot_bars(&s, 1100, 420, p, &err), FERC_OK);
    check_png(p, 1100, 420);
    img_rgb m;
    if (load_png(p, &m)) {
        /* three series colours fill bars */
        CHECK(count_near(&m, PLOT_BLUE, 2) > 1000);
        CHECK(count_near(&m, PLOT_ORANGE, 2) > 1000);
        CHECK(count_near(&m, PLOT_GREEN, 2) > 1000);
        free(m.rgb);
    }
    plot_bars_spec two[2] = {s, s};
    two[1].nseries = 1; two[1].series_names = NULL; two[1].ngroups = 5; two[1].ref_line = NAN;
    CHECK_EQ_INT(plot_bars_panels(two, 2, 1200, 420, test_path(dir, "two.png"), &err), FERC_OK);
    check_png(test_path(dir, "two.png"), 1200, 420);
    plot_bars_spec bad = s;
    bad.nseries = 7;
    CHECK_EQ_INT(plot_bars(&bad, 1100, 420, test_path(dir, "bad.png"), &err), FERC_ERR_ARG);

    double bc[10], ba[10];
    int cnt[10];
    for (int b = 0; b < 10; b++) { bc[b] = (b + 0.5) / 10; ba[b] = bc[b] * 0.8; cnt[b] = b < 2 ? 0 : 10 * b; }
    p = test_path(dir, "rel.png");
    CHECK_EQ_INT(plot_reliability(bc, ba, cnt, 10, 0.07, 1100, 440, p, &err), FERC_OK);
    check_png(p, 1100, 440);
    CHECK_EQ_INT(plot_reliability(bc, ba, cnt, 0, 0.07, 1100, 440, test_path(dir, "r0.png"), &err), FERC_ERR_ARG);
}

TEST(report_tiles_png) {
    const char *dir = test_tmpdir();
    ferc_error err = {0};
    /* a 2x2 checker enlarged to 64 px with nearest: four flat quadrants */
    float checker[4] = {0, 1, 1, 0};
    float gray[16 * 16], heat[16 * 16];
    for (int y = 0; y < 16; y++)
        for (int x = 0; x < 16; x++) { gray[y * 16 + x] = 0.5f; heat[y * 16 + x] = x >= 8 ? 1.0f : 0.0f; }
    float kern[9] = {-1, -0.5f, 0, 0, 0.5f, 1, 0.25f, -0.25f, 0};
    plot_tile t[4] = {
        {checker, 2, 2, PLOT_TILE_GRAY01, 0, NULL, 1, "checker", PLOT_OK_TEXT},
        {gray, 16, 16, PLOT_TILE_OVERLAY, 0, heat, 1, "overlay", PLOT_BAD_TEXT},
        {kern, 3, 3, PLOT_TILE_DIVERGING, 1, NULL, 1, "kernel", 0x222222},
        {NULL, 0, 0, 0, 0, NULL, 0, NULL, 0}};
    plot_grid_spec g = {NULL, 4, 1, 64, 1, NULL, 0};
    int W, H;
    plot_tiles_size(&g, &W, &H);
    CHECK(W >= 4 * 64 && H >= 64);
    const char *p = test_path(dir, "tiles.png");
    CHECK_EQ_INT(plot_tiles(&g, t, p, &err), FERC_OK);
    check_png(p, W, H);
    img_rgb m;
    if (load_png(p, &m)) {
        /* first tile at the margin (10, 10): checker quadrants */
        CHECK_EQ_INT(px(&m, 10 + 16, 10 + 16), 0x000000);
        CHECK_EQ_INT(px(&m, 10 + 48, 10 + 16), 0xffffff);
        CHECK_EQ_INT(px(&m, 10 + 16, 10 + 48), 0xffffff);
        CHECK_EQ_INT(px(&m, 10 + 48, 10 + 48), 0x000000);
        /* second tile: left half plain gray, right half coloured by the heat */
        int x0 = 10 + 64 + 8;
        uint32_t l = px(&m, x0 + 16, 10 + 32), r = px(&m, x0 + 48, 10 + 32);
        CHECK_EQ_INT(l, 0x808080);
        CHECK_MSG(((r >> 16) & 255) > (r & 255) + 40, "overlay pixel %06x is not warm", r);
        /* third tile: kernel -1 at the top-left is full blue, +1 full red */
        int x2 = 10 + 2 * (64 + 8);
        CHECK_EQ_INT(px(&m, x2 + 10, 10 + 10), plot_diverging(0));
        CHECK_EQ_INT(px(&m, x2 + 54, 10 + 32), plot_diverging(1));
        /* captions: some pixels in the caption colours */
        CHECK(count_near(&m, PLOT_OK_TEXT, 40) > 5);
        CHECK(count_near(&m, PLOT_BAD_TEXT, 40) > 5);
        free(m.rgb);
    }
    /* with a title and row titles the image grows by the documented amounts */
    const char *rt[2] = {"row one", "row two"};
    plot_tile t2[8];
    memcpy(t2, t, sizeof t);
    memcpy(t2 + 4, t, sizeof t);
    plot_grid_spec g2 = {"Title", 4, 2, 64, 2, rt, 100};
    int W2, H2;
    plot_tiles_size(&g2, &W2, &H2);
    CHECK_EQ_INT(W2, W + 100);
    CHECK(H2 > 2 * H);
    CHECK_EQ_INT(plot_tiles(&g2, t2, test_path(dir, "tiles2.png"), &err), FERC_OK);
    check_png(test_path(dir, "tiles2.png"), W2, H2);
    /* bad layouts */
    plot_grid_spec g3 = {NULL, 0, 1, 64, 1, NULL, 0};
    CHECK_EQ_INT(plot_tiles(&g3, t, test_path(dir, "bad.png"), &err), FERC_ERR_ARG);
    plot_tile t3[1] = {{gray, 16, 16, PLOT_TILE_OVERLAY, 0, NULL, 0, NULL, 0}};
    plot_grid_spec g4 = {NULL, 1, 1, 64, 0, NULL, 0};
    CHECK_EQ_INT(plot_tiles(&g4, t3, test_path(dir, "bad.png"), &err), FERC_ERR_ARG);
    CHECK(!test_exists(test_path(dir, "bad.png")));
}

/* ---- the page ---------------------------------------------------------------- */

static void check_page(const char *out, int with_model) {
    const char *idx = test_path(out, "index.html");
    CHECK_MSG(test_exists(idx), "%s missing", idx);
    char *html = test_read(idx, NULL);
    if (!html) return;
    for (int i = 0; i < NREPORT; i++) {
        check_png(test_path(out, report_pngs[i]), 0, 0);
        char ref[64];
        snprintf(ref, sizeof ref, "src=\"%s\"", report_pngs[i]);
        CHECK_MSG(strstr(html, ref) != NULL, "page does not show %s", report_pngs[i]);
    }
    for (int i = 0; i < NMODEL; i++) {
        if (with_model) check_png(test_path(out, model_pngs[i]), 0, 0);
        else CHECK_MSG(!test_exists(test_path(out, model_pngs[i])), "%s written without a model", model_pngs[i]);
    }
    /* the charts stacked at 3/4 scale: curves 1100x420, confusion 780x640, per-class 1100x420, gaps 12 */
    check_png(test_path(out, "summary.png"), 825, 315 + 12 + 480 + 12 + 315);
    CHECK(strstr(html, "id=\"classification-report\"") != NULL);
    CHECK(strstr(html, "id=\"confused-pairs\"") != NULL);
    CHECK(strstr(html, "ECE = ") != NULL);
    CHECK(strstr(html, "macro avg") != NULL && strstr(html, "weighted avg") != NULL);
    free(html);
}

TEST(report_page_without_model) {
    const char *dir = test_tmpdir();
    synth s;
    make_synth(&s, 210, 7);
    ferc_epoch_stats h[8];
    history(h, 8);
    report_input in = {&s.d, s.pred, s.probs, h, 8, "seed", 123456, 0, NULL};
    ferc_error err = {0};
    char out[1024];
    snprintf(out, sizeof out, "%s", test_path(dir, "out"));
    CHECK_EQ_INT(report_render(&in, out, NULL, &err), FERC_OK);
    check_page(out, 0);
    /* the sizes written in the page match the files */
    img_rgb m;
    if (load_png(test_path(out, "confusion.png"), &m)) { CHECK_EQ_INT(m.w, 780); CHECK_EQ_INT(m.h, 640); free(m.rgb); }
    /* the page's headline accuracy is the metrics' accuracy */
    ferc_metrics met;
    ferc_metrics_compute(s.d.label, s.pred, s.d.n, &met);
    char want[64];
    snprintf(want, sizeof want, "<b id=\"accuracy\">%.2f%%</b>", 100 * met.accuracy);
    char *html = test_read(test_path(out, "index.html"), NULL);
    CHECK(html && strstr(html, want) != NULL);
    free(html);
    /* only "out" in the parent: the temp folder was renamed into place */
    CHECK_EQ_INT(dir_count(dir, NULL, NULL), 1);
    /* again into the existing folder: files replaced, no temp folder left */
    CHECK_EQ_INT(report_render(&in, out, NULL, &err), FERC_OK);
    int tmp;
    CHECK_EQ_INT(dir_count(out, ".ferc-report", &tmp), NREPORT + 2);  /* + index.html, summary.png */
    CHECK_EQ_INT(tmp, 0);
    free_synth(&s);
}

TEST(report_bad_input_leaves_no_page) {
    const char *dir = test_tmpdir();
    synth s;
    make_synth(&s, 30, 3);
    ferc_epoch_stats h[3];
    history(h, 3);
    ferc_error err = {0};
    char out[1024], bad[1024];
    snprintf(out, sizeof out, "%s", test_path(dir, "out"));

    /* no history */
    report_input in = {&s.d, s.pred, s.probs, h, 0, "seed", 1, 0, NULL};
    CHECK_EQ_INT(report_render(&in, out, NULL, &err), FERC_ERR_ARG);
    CHECK(strstr(err.msg, "model has no training history") != NULL);
    CHECK(!test_exists(out));
    /* no rows */
    ferc_dataset empty = s.d;
    empty.n = 0;
    report_input in0 = {&empty, s.pred, s.probs, h, 3, "seed", 1, 0, NULL};
    ferc_report_opts o;
    ferc_report_opts_default(&o);
    o.data_label = "x.csv (PrivateTest)";
    CHECK_EQ_INT(report_render(&in0, out, &o, &err), FERC_ERR_ARG);
    CHECK(strstr(err.msg, "no rows") != NULL && strstr(err.msg, "PrivateTest") != NULL);
    CHECK(!test_exists(out));
    /* a folder that cannot be written: its parent is a file */
    FILE *f = fopen(test_path(dir, "file"), "w");
    if (f) fclose(f);
    snprintf(bad, sizeof bad, "%s", test_path(dir, "file/out"));
    report_input ok = {&s.d, s.pred, s.probs, h, 3, "seed", 1, 0, NULL};
    CHECK_EQ_INT(report_render(&ok, bad, NULL, &err), FERC_ERR_IO);
    CHECK_MSG(strstr(err.msg, bad) != NULL, "message does not name the folder: %s", err.msg);
    /* the folder is a file */
    CHECK_EQ_INT(report_render(&ok, test_path(dir, "file"), NULL, &err), FERC_ERR_IO);
    CHECK(strstr(err.msg, "not a folder") != NULL);
    /* labels out of range */
    int keep = s.d.label[4];
    s.d.label[4] = 9;
    CHECK_EQ_INT(report_render(&ok, out, NULL, &err), FERC_ERR_ARG);
    s.d.label[4] = keep;
    CHECK(!test_exists(out));
    CHECK_EQ_INT(dir_count(dir, NULL, NULL), 1);  /* only "file" */

    /* the public entry point: a fresh model has no history */
    ferc_model *m = NULL;
    if (ferc_model_create("seed", 1, &m, &err) == FERC_OK) {
        CHECK_EQ_INT(ferc_report(m, &s.d, out, NULL, &err), FERC_ERR_ARG);
        CHECK(strstr(err.msg, "model has no training history") != NULL);
        CHECK(!test_exists(out));
        CHECK_EQ_INT(model_set_history(m, h, 3, &err), FERC_OK);
        CHECK_EQ_INT(ferc_report(m, &empty, out, NULL, &err), FERC_ERR_ARG);
        CHECK_EQ_INT(ferc_report(m, &s.d, bad, NULL, &err), FERC_ERR_IO);
        CHECK(strstr(err.msg, bad) != NULL);
        CHECK(!test_exists(out));
        ferc_model_free(m);
    } else {
        CHECK_MSG(0, "ferc_model_create: %s", err.msg);
    }
    free_synth(&s);
}

/* The full report of an (untrained) seed model with a hand-made history. */
static int full_report(const char *out, synth *s) {
    ferc_error err = {0};
    ferc_model *m = NULL;
    if (ferc_model_create("seed", 1, &m, &err) != FERC_OK) { CHECK_MSG(0, "create: %s", err.msg); return 0; }
    ferc_epoch_stats h[6];
    history(h, 6);
    CHECK_EQ_INT(model_set_history(m, h, 6, &err), FERC_OK);
    ferc_report_opts o;
    ferc_report_opts_default(&o);
    o.threads = 2;
    o.data_label = "synthetic (all)";
    o.model_label = "seed (untrained)";
    ferc_status st = ferc_report(m, &s->d, out, &o, &err);
    CHECK_MSG(st == FERC_OK, "ferc_report: %s", err.msg);
    ferc_model_free(m);
    return st == FERC_OK;
}

TEST(report_full_with_model) {
    const char *dir = test_tmpdir();
    synth s;
    make_synth(&s, 120, 11);
    char out[1024];
    snprintf(out, sizeof out, "%s", test_path(dir, "report"));
    if (full_report(out, &s)) {
        check_page(out, 1);
        /* activations: 3 faces x (blocks of the seed model) rows of 1 + 10 tiles */
        ferc_model *m;
        ferc_error err;
        if (ferc_model_create("seed", 1, &m, &err) == FERC_OK) {
            const char *rt[64] = {0};
            int nb = ferc_model_num_blocks(m);
            plot_grid_spec g = {"t", 11, 3 * nb, 72, 1, rt, 190};
            int W, H;
            plot_tiles_size(&g, &W, &H);
            img_rgb im;
            if (load_png(test_path(out, "activations.png"), &im)) {
                CHECK_EQ_INT(im.w, W);
                CHECK_EQ_INT(im.h, H);
                free(im.rgb);
            }
            ferc_model_free(m);
        }
    }
    free_synth(&s);
}

TEST(report_browser_chromium) {
    if (system("command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || "
               "command -v google-chrome >/dev/null 2>&1") != 0)
        SKIP("Chromium is not installed (apt-get install -y chromium)");
    const char *dir = test_tmpdir();
    synth s;
    make_synth(&s, 120, 5);
    char out[1024];
    snprintf(out, sizeof out, "%s", test_path(dir, "report"));
    if (!full_report(out, &s)) { free_synth(&s); return; }
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "sh tests/browser_check.sh '%s' '%s/shot.png' %d > '%s/browser.log' 2>&1", out, dir,
             NREPORT + NMODEL, dir);
    int rc = system(cmd);
    int code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    if (code == 77) { free_synth(&s); SKIP("Chromium could not be started"); }
    if (code != 0) {
        char *log = test_read(test_path(dir, "browser.log"), NULL);
        CHECK_MSG(0, "browser_check failed (%d): %s", code, log ? log : "");
        free(log);
    } else {
        /* the screenshot is a real, non-blank 1280x2000 PNG */
        check_png(test_path(dir, "shot.png"), 1280, 2000);
    }
    /* the check can fail: a page with one missing image is reported */
    char out2[1024];
    snprintf(out2, sizeof out2, "%s", test_path(dir, "broken"));
    mkdir(out2, 0700);
    snprintf(cmd, sizeof cmd, "cp '%s'/*.png '%s'/index.html '%s'/ && rm '%s/confusion.png'", out, out, out2, out2);
    CHECK_EQ_INT(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "sh tests/browser_check.sh '%s' '' 1 > '%s/browser2.log' 2>&1", out2, dir);
    rc = system(cmd);
    CHECK_EQ_INT(WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, 1);
    char *log = test_read(test_path(dir, "browser2.log"), NULL);
    CHECK_MSG(log && strstr(log, "confusion.png") != NULL, "browser log: %s", log ? log : "");
    free(log);
    free_synth(&s);
}

/* ---- the command line --------------------------------------------------------- */

/* Run a shell command; returns its exit code and leaves stdout+stderr in log. */
static int run(const char *cmd, const char *log) {
    size_t n = strlen(cmd) + strlen(log) + 96;
    char *full = malloc(n);
    /* the sanitizer build of the tool: the same suppressions (see tests/lsan.supp) */
    snprintf(full, n, "%s%s > '%s' 2>&1", getenv("FERC_ASAN") ? "LSAN_OPTIONS=suppressions=tests/lsan.supp " : "", cmd, log);
    int rc = system(full);
    free(full);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

TEST(report_cli) {
    NEED_FERC();
    const char *dir = test_tmpdir();
    char log[1024], csv[1024], fresh[1024], trained[1024], out[1024], cmd[8192];
    snprintf(log, sizeof log, "%s", test_path(dir, "log.txt"));
    snprintf(csv, sizeof csv, "%s", test_path(dir, "mini.csv"));
    snprintf(fresh, sizeof fresh, "%s", test_path(dir, "fresh.ferc"));
    snprintf(trained, sizeof trained, "%s", test_path(dir, "trained.ferc"));
    snprintf(out, sizeof out, "%s", test_path(dir, "out"));
    cli_write_csv(csv, (const int[3]){10, 21, 0}, 0);

    snprintf(cmd, sizeof cmd, "%s report --help", ferc);
    CHECK_EQ_INT(run(cmd, log), 0);
    char *t = test_read(log, NULL);
    CHECK(t && strstr(t, "--out DIR") && strstr(t, "--usage NAME") && strstr(t, "example"));
    free(t);
    snprintf(cmd, sizeof cmd, "cd '%s' && %s report --model x.ferc --out '%s'", dir, ferc, out);
    CHECK_EQ_INT(run(cmd, log), 2);  /* no --data, and none where the default would be */
    snprintf(cmd, sizeof cmd, "%s report --model x.ferc --data '%s' --out '%s' --usage Bogus", ferc, csv, out);
    CHECK_EQ_INT(run(cmd, log), 2);
    snprintf(cmd, sizeof cmd, "%s report --model x.ferc --data '%s' --out '%s' --faces 0", ferc, csv, out);
    CHECK_EQ_INT(run(cmd, log), 2);

    ferc_error err = {0};
    ferc_model *m = NULL;
    if (ferc_model_create("seed", 3, &m, &err) != FERC_OK) { CHECK_MSG(0, "create: %s", err.msg); return; }
    CHECK_EQ_INT(ferc_model_save(m, fresh, &err), FERC_OK);
    ferc_epoch_stats h[4];
    history(h, 4);
    CHECK_EQ_INT(model_set_history(m, h, 4, &err), FERC_OK);
    CHECK_EQ_INT(ferc_model_save(m, trained, &err), FERC_OK);
    ferc_model_free(m);

    /* a model without history: exit 1, a clear message, nothing written */
    snprintf(cmd, sizeof cmd, "%s report --quiet --model '%s' --data '%s' --out '%s'", ferc, fresh, csv, out);
    CHECK_EQ_INT(run(cmd, log), 1);
    t = test_read(log, NULL);
    CHECK_MSG(t && strstr(t, "no training history"), "output: %s", t ? t : "");
    free(t);
    CHECK(!test_exists(out));
    /* no rows for the usage */
    snprintf(cmd, sizeof cmd, "%s report --quiet --model '%s' --data '%s' --usage PrivateTest --out '%s'", ferc, trained, csv, out);
    CHECK_EQ_INT(run(cmd, log), 1);
    t = test_read(log, NULL);
    CHECK_MSG(t && strstr(t, "no rows"), "output: %s", t ? t : "");
    free(t);
    CHECK(!test_exists(out));
    /* the page: prints the path of index.html */
    snprintf(cmd, sizeof cmd, "%s report --model '%s' --data '%s' --usage PublicTest --out '%s' --threads 1", ferc, trained, csv, out);
    CHECK_EQ_INT(run(cmd, log), 0);
    t = test_read(log, NULL);
    char want[1100];
    snprintf(want, sizeof want, "%s/index.html\n", out);
    CHECK_MSG(t && strstr(t, want) && strstr(t, "evaluating 21 faces"), "output: %s", t ? t : "");
    free(t);
    CHECK(test_exists(test_path(out, "index.html")));
    check_png(test_path(out, "saliency.png"), 0, 0);
}
