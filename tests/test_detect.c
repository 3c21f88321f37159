/* test_detect.c — tests of the Haar face detector (src/detect.c) against
 * OpenCV 4.6: fixtures written by tests/fixtures/gen_detect.py (boxes of
 * detectMultiScale on Debian's skimage photos with Debian's opencv-data
 * cascades, groupRectangles, resize INTER_LINEAR_EXACT, tilted integrals),
 * live runs of python3-opencv on composites built from the shared FER2013
 * faces, hand-computed scanning grids, the cascade loader's errors, the
 * cropping and classification of faces, and ferc_find_faces (both at once). */
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
#include <unistd.h>

/* Internal functions of src/detect.c (not in the public header). */
void ferc_detect_resize_exact(const uint8_t *src, int sw, int sh, int ss, uint8_t *dst, int dw, int dh, int ds,
                              void *tmp);
size_t ferc_detect_resize_tmp_size(int dw, int dh);
void ferc_detect_integral(const uint8_t *img, int w, int h, int is, uint32_t *sum, uint32_t *sq, int stride,
                          int half);
void ferc_detect_tilted(const uint8_t *img, int w, int h, int is, uint32_t *tilt, int stride, int half,
                        uint32_t *ext);
ferc_status ferc_detect_faces_impl(const ferc_cascade *c, const uint8_t *gray, int w, int h, int stride,
                                   const ferc_detect_opts *opts, ferc_box *boxes, int max_boxes, int *nfound,
                                   int allow_simd, ferc_error *err);

#define SKIMAGE_DIR "/usr/lib/python3/dist-packages/skimage/data/"
#define CASCADE_DIR "/usr/share/opencv4/haarcascades/"
#define PYTHON "/usr/bin/python3"

static int write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) return 0;
    fputs(text, f);
    return fclose(f) == 0;
}

static int hexval(int c) { return c >= 'a' ? c - 'a' + 10 : c >= 'A' ? c - 'A' + 10 : c - '0'; }

/* "src 0a1b..." -> bytes; returns how many. */
static size_t parse_hex(const char *s, uint8_t *out, size_t cap) {
    size_t n = 0;
    while (s[0] && s[1] && s[0] != '\n' && n < cap) {
        out[n++] = (uint8_t)(hexval(s[0]) * 16 + hexval(s[1]));
        s += 2;
    }
    return n;
}

static double iou(ferc_box a, ferc_box b) {
    int x0 = a.x > b.x ? a.x : b.x, y0 = a.y > b.y ? a.y : b.y;
    int x1 = a.x + a.w < b.x + b.w ? a.x + a.w : b.x + b.w, y1 = a.y + a.h < b.y + b.h ? a.y + a.h : b.y + b.h;
    double in = (x1 > x0 && y1 > y0) ? (double)(x1 - x0) * (y1 - y0) : 0;
    return in / ((double)a.w * a.h + (double)b.w * b.h - in);
}

static int cmp_box(const void *pa, const void *pb) {
    const ferc_box *a = pa, *b = pb;
    if (a->x != b->x) return a->x - b->x;
    if (a->y != b->y) return a->y - b->y;
    if (a->w != b->w) return a->w - b->w;
    return a->h - b->h;
}

/* Greedy one-to-one matching by IoU: returns the smallest IoU of the
 * matched pairs (1 if both are empty, 0 if counts differ). */
static double match_min_iou(const ferc_box *a, int na, const ferc_box *b, int nb) {
    if (na != nb) return 0;
    double worst = 1;
    int used[4096] = {0};
    for (int i = 0; i < na && i < 4096; i++) {
        int best = -1;
        double bi = -1;
        for (int j = 0; j < nb; j++)
            if (!used[j] && iou(a[i], b[j]) > bi) { bi = iou(a[i], b[j]); best = j; }
        if (best < 0) return 0;
        used[best] = 1;
        if (bi < worst) worst = bi;
    }
    return worst;
}

static uint32_t fnv1a(const uint8_t *p, size_t n) {
    uint32_t h = 0x811C9DC5u;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x01000193u;
    return h;
}

/* The gray image OpenCV 4.6 makes of a photo: cvtColor(BGR2GRAY) is
 * (R*9798 + G*19235 + B*3735 + 16384) >> 15 on 8-bit data. */
static int load_gray_opencv(const char *path, ferc_image *g) {
    ferc_error err;
    if (ferc_image_load(path, 0, g, &err) != FERC_OK) return 0;
    if (g->c == 3) {
        size_t n = (size_t)g->w * g->h;
        for (size_t i = 0; i < n; i++) {
            const uint8_t *q = g->data + 3 * i;
            g->data[i] = (uint8_t)((q[0] * 9798u + q[1] * 19235u + q[2] * 3735u + 16384u) >> 15);
        }
        g->c = 1;
    }
    return g->c == 1;
}

/* ------------------------------------------------------------------------ */
/* Building blocks against OpenCV                                            */
/* ------------------------------------------------------------------------ */

TEST(detect_resize_matches_opencv_linear_exact) {
    FILE *f = fopen(test_fixture("detect_resize.txt"), "r");
    CHECK(f != NULL);
    if (!f) return;
    char *line = NULL, *l2 = NULL, *l3 = NULL;
    size_t cap = 0, cap2 = 0, cap3 = 0;
    int cases = 0;
    while (getline(&line, &cap, f) > 0) {
        int sw, sh, dw, dh;
        if (sscanf(line, "resize %d %d %d %d", &sw, &sh, &dw, &dh) != 4) continue;
        CHECK(getline(&l2, &cap2, f) > 0 && getline(&l3, &cap3, f) > 0);
        uint8_t *src = malloc((size_t)sw * sh), *ref = malloc((size_t)dw * dh), *out = malloc((size_t)dw * dh);
        size_t ns = parse_hex(l2 + 4, src, (size_t)sw * sh), nd = parse_hex(l3 + 4, ref, (size_t)dw * dh);
        CHECK_EQ_INT(ns, (size_t)sw * sh);
        CHECK_EQ_INT(nd, (size_t)dw * dh);
        void *tmp = malloc(ferc_detect_resize_tmp_size(dw, dh));
        ferc_detect_resize_exact(src, sw, sh, sw, out, dw, dh, dw, tmp);
        int bad = 0;
        for (int i = 0; i < dw * dh; i++) bad += out[i] != ref[i];
        CHECK_MSG(bad == 0, "resize %dx%d -> %dx%d: %d of %d pixels differ from OpenCV", sw, sh, dw, dh, bad, dw * dh);
        free(src); free(ref); free(out); free(tmp);
        cases++;
    }
    free(line); free(l2); free(l3);
    fclose(f);
    CHECK_EQ_INT(cases, 10);
}

TEST(detect_tilted_integral_matches_opencv) {
    FILE *f = fopen(test_fixture("detect_resize.txt"), "r");
    CHECK(f != NULL);
    if (!f) return;
    char *line = NULL, *l2 = NULL, *l3 = NULL;
    size_t cap = 0, cap2 = 0, cap3 = 0;
    int cases = 0;
    while (getline(&line, &cap, f) > 0) {
        int w, h;
        if (sscanf(line, "tilted %d %d", &w, &h) != 2) continue;
        CHECK(getline(&l2, &cap2, f) > 0 && getline(&l3, &cap3, f) > 0);
        uint8_t *src = malloc((size_t)w * h);
        CHECK_EQ_INT(parse_hex(l2 + 4, src, (size_t)w * h), (size_t)w * h);
        size_t n = (size_t)(w + 1) * (h + 1);
        long *ref = malloc(sizeof(long) * n);
        char *s = l3 + 2;
        for (size_t i = 0; i < n; i++) ref[i] = strtol(s, &s, 10);
        /* plain layout, and the de-interleaved one (column X at
         * (X & 1) * half + X / 2) used for the scales scanned with step 2 */
        for (int mode = 0; mode < 2; mode++) {
            int stride = w + 3, half = mode ? (stride + 1) / 2 : 0;
            uint32_t *t = calloc((size_t)stride * (h + 1), sizeof *t), *ext = malloc(sizeof(uint32_t) * 3 * (w + 2 * h + 16));
            ferc_detect_tilted(src, w, h, w, t, stride, half, ext);
            int bad = 0;
            for (int Y = 0; Y <= h; Y++)
                for (int X = 0; X <= w; X++) {
                    int col = half ? (X & 1) * half + X / 2 : X;
                    bad += (long)t[(size_t)Y * stride + col] != ref[(size_t)Y * (w + 1) + X];
                }
            CHECK_MSG(bad == 0, "tilted %dx%d (layout %d): %d values differ from cv2.integral3", w, h, mode, bad);
            free(t); free(ext);
        }
        free(src); free(ref);
        cases++;
    }
    free(line); free(l2); free(l3);
    fclose(f);
    CHECK_EQ_INT(cases, 3);
}

/* Integral images against brute-force sums (hand oracle), both layouts. */
TEST(detect_integral_bruteforce) {
    const int w = 19, h = 7;
    uint8_t img[19 * 7];
    ferc_rng r;
    ferc_rng_seed(&r, 5);
    for (int i = 0; i < w * h; i++) img[i] = (uint8_t)ferc_rng_below(&r, 256);
    for (int mode = 0; mode < 2; mode++) {
        int stride = w + 2, half = mode ? (stride + 1) / 2 : 0;
        uint32_t sum[21 * 8], sq[21 * 8];
        ferc_detect_integral(img, w, h, w, sum, sq, stride, half);
        int bad = 0;
        for (int Y = 0; Y <= h; Y++)
            for (int X = 0; X <= w; X++) {
                uint32_t s = 0, q = 0;
                for (int y = 0; y < Y; y++)
                    for (int x = 0; x < X; x++) { s += img[y * w + x]; q += (uint32_t)img[y * w + x] * img[y * w + x]; }
                int col = half ? (X & 1) * half + X / 2 : X;
                bad += sum[Y * stride + col] != s || sq[Y * stride + col] != q;
            }
        CHECK_EQ_INT(bad, 0);
    }
}

TEST(detect_group_matches_opencv_group_rectangles) {
    FILE *f = fopen(test_fixture("detect_group.txt"), "r");
    CHECK(f != NULL);
    if (!f) return;
    char line[256];
    int cases = 0;
    while (fgets(line, sizeof line, f)) {
        int thr, n;
        double eps;
        if (sscanf(line, "group %d %lf %d", &thr, &eps, &n) != 3) continue;
        ferc_box *b = malloc(sizeof(ferc_box) * (size_t)n);
        int *nb = malloc(sizeof(int) * (size_t)n);
        for (int i = 0; i < n; i++) {
            CHECK(fgets(line, sizeof line, f) != NULL);
            CHECK(sscanf(line, "%d %d %d %d", &b[i].x, &b[i].y, &b[i].w, &b[i].h) == 4);
        }
        int m;
        CHECK(fgets(line, sizeof line, f) && sscanf(line, "out %d", &m) == 1);
        int got = ferc_group_boxes(b, n, thr, eps, nb);
        CHECK_EQ_INT(got, m);
        for (int i = 0; i < m; i++) {
            ferc_box e;
            int ew;
            CHECK(fgets(line, sizeof line, f) != NULL);
            CHECK(sscanf(line, "%d %d %d %d %d", &e.x, &e.y, &e.w, &e.h, &ew) == 5);
            if (i < got) {
                CHECK_MSG(b[i].x == e.x && b[i].y == e.y && b[i].w == e.w && b[i].h == e.h && nb[i] == ew,
                          "case %d box %d: got %d %d %d %d (%d), OpenCV %d %d %d %d (%d)", cases, i, b[i].x, b[i].y,
                          b[i].w, b[i].h, nb[i], e.x, e.y, e.w, e.h, ew);
            }
        }
        free(b); free(nb);
        cases++;
    }
    fclose(f);
    CHECK_EQ_INT(cases, 12);
}

/* ------------------------------------------------------------------------ */
/* Whole detection against OpenCV                                            */
/* ------------------------------------------------------------------------ */

typedef struct {
    char image[128], cascade[128];
    double sf;
    int mn, mins, maxs, w, h, n;
    long sum;
    unsigned long fnv;
    ferc_box *boxes;
} ocv_case;

static int read_cases(ocv_case **out) {
    FILE *f = fopen(test_fixture("detect_opencv.txt"), "r");
    if (!f) return -1;
    char line[512];
    int n = 0, cap = 0;
    ocv_case *v = NULL;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "case ", 5)) continue;
        if (n == cap) { cap = cap ? cap * 2 : 32; v = realloc(v, sizeof *v * (size_t)cap); }
        ocv_case *c = &v[n];
        if (sscanf(line, "case %127s %127s %lf %d %d %d %d %d %ld %lu %d", c->image, c->cascade, &c->sf, &c->mn,
                   &c->mins, &c->maxs, &c->w, &c->h, &c->sum, &c->fnv, &c->n) != 11)
            break;
        c->boxes = malloc(sizeof(ferc_box) * (size_t)(c->n + 1));
        for (int i = 0; i < c->n; i++)
            if (!fgets(line, sizeof line, f) ||
                sscanf(line, "%d %d %d %d", &c->boxes[i].x, &c->boxes[i].y, &c->boxes[i].w, &c->boxes[i].h) != 4)
                c->n = i;
        n++;
    }
    fclose(f);
    *out = v;
    return n;
}

static void free_cases(ocv_case *v, int n) {
    for (int i = 0; i < n; i++) free(v[i].boxes);
    free(v);
}

/* Same gray input as OpenCV -> the same boxes, bit for bit: raw candidates
 * (min_neighbors 0) and grouped ones, for stump, tree, tilted and
 * old-format cascades. */
TEST(detect_matches_opencv_exactly_on_photos) {
    if (access(SKIMAGE_DIR "astronaut.png", R_OK) != 0) SKIP("no " SKIMAGE_DIR " (apt-get install python3-skimage)");
    if (access(CASCADE_DIR "haarcascade_frontalface_default.xml", R_OK) != 0)
        SKIP("no " CASCADE_DIR " (apt-get install opencv-data)");
    ocv_case *cs;
    int n = read_cases(&cs);
    CHECK(n >= 20);
    int exact = 0;
    for (int k = 0; k < n; k++) {
        ocv_case *c = &cs[k];
        ferc_image g;
        char path[512];
        snprintf(path, sizeof path, "%s%s", SKIMAGE_DIR, c->image);
        if (!load_gray_opencv(path, &g)) { CHECK_MSG(0, "cannot load %s", path); continue; }
        long s = 0;
        for (int i = 0; i < g.w * g.h; i++) s += g.data[i];
        CHECK_MSG(g.w == c->w && g.h == c->h && s == c->sum && fnv1a(g.data, (size_t)g.w * g.h) == c->fnv,
                  "%s: not the gray image the fixture was made from", c->image);
        ferc_cascade *cas;
        ferc_error err;
        snprintf(path, sizeof path, "%s%s", CASCADE_DIR, c->cascade);
        if (ferc_cascade_load(path, &cas, &err) != FERC_OK) { CHECK_MSG(0, "%s", err.msg); ferc_image_free(&g); continue; }
        ferc_detect_opts o;
        ferc_detect_opts_default(&o);
        o.scale_factor = c->sf; o.min_neighbors = c->mn; o.min_size = c->mins; o.max_size = c->maxs;
        ferc_box got[4096];
        int nf = 0;
        CHECK_EQ_INT(ferc_detect_faces(cas, g.data, g.w, g.h, g.w, &o, got, 4096, &nf, &err), FERC_OK);
        int same = nf == c->n;
        if (same) {
            qsort(got, (size_t)nf, sizeof *got, cmp_box);
            qsort(c->boxes, (size_t)c->n, sizeof *got, cmp_box);
            same = memcmp(got, c->boxes, sizeof *got * (size_t)nf) == 0;
        }
        CHECK_MSG(same, "%s %s sf %g mn %d min %d max %d: %d boxes, OpenCV %d (or different boxes)", c->image,
                  c->cascade, c->sf, c->mn, c->mins, c->maxs, nf, c->n);
        exact += same;
        ferc_cascade_free(cas);
        ferc_image_free(&g);
    }
    printf("    %d of %d OpenCV cases identical\n", exact, n);
    free_cases(cs, n);
}

/* The user's path: ferc_image_load's gray (standard luma, which may differ
 * from OpenCV's by one level in a few pixels) -> the same number of faces,
 * each with IoU >= 0.9, on the grouped cases. */
TEST(detect_same_faces_as_opencv_iou) {
    if (access(SKIMAGE_DIR "astronaut.png", R_OK) != 0) SKIP("no " SKIMAGE_DIR " (apt-get install python3-skimage)");
    if (access(CASCADE_DIR "haarcascade_frontalface_default.xml", R_OK) != 0)
        SKIP("no " CASCADE_DIR " (apt-get install opencv-data)");
    ocv_case *cs;
    int n = read_cases(&cs);
    int used = 0, faces = 0;
    double worst = 1;
    for (int k = 0; k < n; k++) {
        ocv_case *c = &cs[k];
        if (c->mn == 0) continue;
        ferc_image g;
        ferc_error err;
        char path[512];
        snprintf(path, sizeof path, "%s%s", SKIMAGE_DIR, c->image);
        CHECK_EQ_INT(ferc_image_load(path, 1, &g, &err), FERC_OK);
        ferc_cascade *cas;
        snprintf(path, sizeof path, "%s%s", CASCADE_DIR, c->cascade);
        CHECK_EQ_INT(ferc_cascade_load(path, &cas, &err), FERC_OK);
        ferc_detect_opts o;
        ferc_detect_opts_default(&o);
        o.scale_factor = c->sf; o.min_neighbors = c->mn; o.min_size = c->mins; o.max_size = c->maxs;
        ferc_box got[256];
        int nf = 0;
        CHECK_EQ_INT(ferc_detect_faces(cas, g.data, g.w, g.h, g.w, &o, got, 256, &nf, &err), FERC_OK);
        double m = match_min_iou(got, nf, c->boxes, c->n);
        CHECK_MSG(nf == c->n && m >= 0.9, "%s %s: %d faces (OpenCV %d), smallest IoU %.3f", c->image, c->cascade, nf,
                  c->n, m);
        if (m < worst) worst = m;
        used++;
        faces += c->n;
        ferc_cascade_free(cas);
        ferc_image_free(&g);
    }
    CHECK(used >= 8);
    printf("    %d cases, %d boxes, smallest IoU %.3f\n", used, faces, worst);
    free_cases(cs, n);
}

/* Live: python3-opencv on composites of FER2013 faces (48x48, upscaled to
 * 96..144 px) pasted on a 640x480 canvas, built here in test_tmpdir(). */
TEST(detect_live_opencv_on_fer_composites) {
    const char *csv = test_fer_csv();
    if (!csv) SKIP("no ../shared/data/fer2013/fer2013.csv.gz: FER2013 composites not built");
    if (access(CASCADE_DIR "haarcascade_frontalface_default.xml", R_OK) != 0)
        SKIP("no " CASCADE_DIR " (apt-get install opencv-data)");
    if (system(PYTHON " -c 'import cv2' >/dev/null 2>&1") != 0) SKIP("python3-opencv is not importable: live check skipped");
    ferc_dataset d;
    ferc_error err;
    ferc_load_opts lo = {FERC_USAGE_PUBLICTEST, 0, 0};
    CHECK_EQ_INT(ferc_dataset_load(csv, &lo, &d, &err), FERC_OK);
    if (test_failed_now()) return;
    ferc_cascade *cas;
    CHECK_EQ_INT(ferc_cascade_load(NULL, &cas, &err), FERC_OK);
    if (test_failed_now()) { ferc_dataset_free(&d); return; }
    const char *dir = test_tmpdir();
    ferc_rng r;
    ferc_rng_seed(&r, 2024);
    int W = 640, H = 480, total_ocv = 0, total = 0, exact = 0, images = 4;
    uint8_t *canvas = malloc((size_t)W * H), *face = malloc(144 * 144);
    void *tmp = malloc(ferc_detect_resize_tmp_size(144, 144));
    double worst = 1;
    for (int t = 0; t < images; t++) {
        for (int i = 0; i < W * H; i++) canvas[i] = (uint8_t)(110 + ferc_rng_below(&r, 40)); /* textured background */
        for (int k = 0; k < 6; k++) {
            int idx = (int)ferc_rng_below(&r, (uint32_t)d.n), s = 96 + (int)ferc_rng_below(&r, 49);
            ferc_detect_resize_exact(d.pix + (size_t)idx * 48 * 48, 48, 48, 48, face, s, s, s, tmp);
            int x0 = (k % 3) * 210 + 5 + (int)ferc_rng_below(&r, 40), y0 = (k / 3) * 240 + 5 + (int)ferc_rng_below(&r, 60);
            for (int y = 0; y < s; y++) memcpy(canvas + (size_t)(y0 + y) * W + x0, face + (size_t)y * s, (size_t)s);
        }
        char name[64];
        snprintf(name, sizeof name, "composite%d.png", t);
        const char *png = test_path(dir, name);
        ferc_image im = {W, H, 1, canvas};
        CHECK_EQ_INT(ferc_image_save_png(png, &im, &err), FERC_OK);
        char cmd[2048];
        snprintf(cmd, sizeof cmd, PYTHON " %s --detect '%s' '%s' 1.1 5 30 0 2>/dev/null", test_fixture("gen_detect.py"),
                 png, ferc_cascade_default_path());
        FILE *p = popen(cmd, "r");
        CHECK(p != NULL);
        if (!p) break;
        ferc_box ref[64];
        int nr = 0;
        char line[128];
        while (nr < 64 && fgets(line, sizeof line, p))
            if (sscanf(line, "%d %d %d %d", &ref[nr].x, &ref[nr].y, &ref[nr].w, &ref[nr].h) == 4) nr++;
        CHECK_EQ_INT(pclose(p), 0);
        ferc_box got[64];
        int nf = 0;
        CHECK_EQ_INT(ferc_detect_faces(cas, canvas, W, H, W, NULL, got, 64, &nf, &err), FERC_OK);
        double m = match_min_iou(got, nf, ref, nr);
        CHECK_MSG(nf == nr && m >= 0.9, "composite %d: %d faces, OpenCV %d, smallest IoU %.3f", t, nf, nr, m);
        if (nf == nr) {
            qsort(got, (size_t)nf, sizeof *got, cmp_box);
            qsort(ref, (size_t)nr, sizeof *ref, cmp_box);
            exact += memcmp(got, ref, sizeof *got * (size_t)nf) == 0;
        }
        if (m < worst) worst = m;
        total_ocv += nr;
        total += nf;
    }
    CHECK(total_ocv >= 8); /* the composites do hold detectable faces */
    printf("    %d composites: OpenCV %d faces, ferc %d, smallest IoU %.3f, %d identical\n", images, total_ocv, total,
           worst, exact);
    free(canvas); free(face); free(tmp);
    ferc_cascade_free(cas);
    ferc_dataset_free(&d);
}

/* ------------------------------------------------------------------------ */
/* Hand-computed scanning grid                                               */
/* ------------------------------------------------------------------------ */

/* A 4x4-window cascade whose single stump always takes the right leaf
 * (1.0 >= stage threshold 0.5): every window that can be normalised is a
 * detection, so the raw candidates are exactly the scanning grid. */
static const char *ALLPASS_NEW =
    "<?xml version=\"1.0\"?>\n<opencv_storage>\n<cascade type_id=\"opencv-cascade-classifier\">\n"
    "  <stageType>BOOST</stageType><featureType>HAAR</featureType><height>4</height><width>4</width>\n"
    "  <stageParams><maxWeakCount>1</maxWeakCount></stageParams>\n"
    "  <featureParams><maxCatCount>0</maxCatCount></featureParams>\n"
    "  <stageNum>1</stageNum>\n  <stages>\n    <_><maxWeakCount>1</maxWeakCount><stageThreshold>0.5</stageThreshold>\n"
    "      <weakClassifiers><_><internalNodes>0 -1 0 -1.0e+09</internalNodes><leafValues>0. 1.</leafValues></_></weakClassifiers></_>\n"
    "  </stages>\n  <features>\n    <_><rects><_>0 0 4 4 -1.</_><_>0 0 2 4 2.</_></rects></_>\n  </features>\n"
    "</cascade>\n</opencv_storage>\n";

static const char *ALLPASS_OLD =
    "<?xml version=\"1.0\"?>\n<opencv_storage>\n<tiny type_id=\"opencv-haar-classifier\">\n"
    "  <size>4 4</size>\n  <stages>\n    <_>\n      <trees>\n        <_>\n          <_>\n"
    "            <feature><rects><_>0 0 4 4 -1.</_><_>0 0 2 4 2.</_></rects><tilted>0</tilted></feature>\n"
    "            <threshold>-1.0e+09</threshold><left_val>0.</left_val><right_val>1.</right_val></_></_></trees>\n"
    "      <stage_threshold>0.5</stage_threshold><parent>-1</parent><next>-1</next></_>\n"
    "  </stages>\n</tiny>\n</opencv_storage>\n";

TEST(detect_scan_grid_hand_computed) {
    const char *dir = test_tmpdir();
    const char *files[2] = {test_path(dir, "allpass_new.xml"), test_path(dir, "allpass_old.xml")};
    CHECK(write_text(files[0], ALLPASS_NEW) && write_text(files[1], ALLPASS_OLD));
    /* 24x24 checkerboard of 2x2 cells: at scale 1 every window's inner 2x2
     * straddles four cells; halved (scale 2, exact 2x2 means) it becomes a
     * 1-pixel checkerboard: never flat. */
    uint8_t img[24 * 24];
    for (int y = 0; y < 24; y++)
        for (int x = 0; x < 24; x++) img[y * 24 + x] = (uint8_t)((((x >> 1) + (y >> 1)) & 1) ? 255 : 0);
    for (int fmt = 0; fmt < 2; fmt++) {
        ferc_cascade *c;
        ferc_error err;
        CHECK_EQ_INT(ferc_cascade_load(files[fmt], &c, &err), FERC_OK);
        if (test_failed_now()) return;
        int ww, wh;
        CHECK_EQ_INT(ferc_cascade_window(c, &ww, &wh), 1);
        CHECK(ww == 4 && wh == 4);
        ferc_detect_opts o;
        ferc_detect_opts_default(&o);
        o.min_neighbors = 0;
        ferc_box b[512];
        int n = 0;
        /* Scale 1 only: windows at x, y = 0, 2, ..., 20 (step 2 below scale 2). */
        o.scale_factor = 2.0; o.min_size = 4; o.max_size = 4;
        CHECK_EQ_INT(ferc_detect_faces(c, img, 24, 24, 24, &o, b, 512, &n, &err), FERC_OK);
        CHECK_EQ_INT(n, 121);
        int ok = n == 121;
        for (int i = 0; ok && i < n; i++) ok = b[i].x == 2 * (i % 11) && b[i].y == 2 * (i / 11) && b[i].w == 4 && b[i].h == 4;
        CHECK_MSG(ok, "format %d: scale-1 grid differs", fmt);
        /* Scale 2 only: the 12x12 halved image, step 1: 9 x 9 windows at
         * (2x, 2y), 8x8 boxes. */
        o.min_size = 8; o.max_size = 8;
        CHECK_EQ_INT(ferc_detect_faces(c, img, 24, 24, 24, &o, b, 512, &n, &err), FERC_OK);
        CHECK_EQ_INT(n, 81);
        ok = n == 81;
        for (int i = 0; ok && i < n; i++) ok = b[i].x == 2 * (i % 9) && b[i].y == 2 * (i / 9) && b[i].w == 8 && b[i].h == 8;
        CHECK_MSG(ok, "format %d: scale-2 grid differs", fmt);
        /* Grouped: boxes 2 px apart are not similar (eps 0.2 allows
         * 0.2 * (8 + 8) / 2 = 1.6 px), so no group has more than 5. */
        o.min_neighbors = 5;
        CHECK_EQ_INT(ferc_detect_faces(c, img, 24, 24, 24, &o, b, 512, &n, &err), FERC_OK);
        CHECK_EQ_INT(n, 0);
        ferc_cascade_free(c);
    }
}

/* Flat images: every window is rejected before the first stage. */
TEST(detect_zero_faces_is_empty_not_error) {
    ferc_cascade *c;
    ferc_error err;
    if (access(CASCADE_DIR "haarcascade_frontalface_default.xml", R_OK) != 0)
        SKIP("no " CASCADE_DIR " (apt-get install opencv-data)");
    CHECK_EQ_INT(ferc_cascade_load(CASCADE_DIR "haarcascade_frontalface_default.xml", &c, &err), FERC_OK);
    if (test_failed_now()) return;
    uint8_t *img = malloc(320 * 240);
    memset(img, 137, 320 * 240);
    ferc_box b[8];
    int n = -1;
    CHECK_EQ_INT(ferc_detect_faces(c, img, 320, 240, 320, NULL, b, 8, &n, &err), FERC_OK);
    CHECK_EQ_INT(n, 0);
    n = -1; /* smaller than the 24x24 window */
    CHECK_EQ_INT(ferc_detect_faces(c, img, 20, 10, 320, NULL, b, 8, &n, &err), FERC_OK);
    CHECK_EQ_INT(n, 0);
    n = -1; /* no room for boxes is fine too */
    CHECK_EQ_INT(ferc_detect_faces(c, img, 320, 240, 320, NULL, NULL, 0, &n, &err), FERC_OK);
    CHECK_EQ_INT(n, 0);
    ferc_detect_opts o;
    ferc_detect_opts_default(&o);
    o.scale_factor = 1.0;
    CHECK_EQ_INT(ferc_detect_faces(c, img, 320, 240, 320, &o, b, 8, &n, &err), FERC_ERR_ARG);
    CHECK(strstr(err.msg, "scale factor") != NULL);
    o.scale_factor = 1.0001; /* 24 -> 240 px in steps of 0.01%: 23000 scales */
    CHECK_EQ_INT(ferc_detect_faces(c, img, 320, 240, 320, &o, b, 8, &n, &err), FERC_ERR_ARG);
    CHECK(strstr(err.msg, "too close to 1") != NULL);
    CHECK_EQ_INT(ferc_detect_faces(c, img, 320, 240, 100, NULL, b, 8, &n, &err), FERC_ERR_ARG);
    CHECK_EQ_INT(ferc_detect_faces(c, NULL, 320, 240, 320, NULL, b, 8, &n, &err), FERC_ERR_ARG);
    free(img);
    ferc_cascade_free(c);
}

/* The result does not depend on the thread count nor on the vector path;
 * max_boxes truncates but nfound counts every face. */
TEST(detect_threads_simd_and_truncation_agree) {
    if (access(SKIMAGE_DIR "coins.png", R_OK) != 0) SKIP("no " SKIMAGE_DIR " (apt-get install python3-skimage)");
    ferc_cascade *c;
    ferc_error err;
    if (ferc_cascade_load(NULL, &c, &err) != FERC_OK) SKIP("no default cascade (apt-get install opencv-data)");
    const char *imgs[2] = {SKIMAGE_DIR "coins.png", SKIMAGE_DIR "astronaut.png"};
    for (int k = 0; k < 2; k++) {
        ferc_image g;
        CHECK_EQ_INT(ferc_image_load(imgs[k], 1, &g, &err), FERC_OK);
        if (test_failed_now()) break;
        ferc_detect_opts o;
        ferc_detect_opts_default(&o);
        o.min_neighbors = 0;
        static ferc_box ref[4096], b[4096];
        int nref = 0, n = 0;
        o.threads = 1;
        CHECK_EQ_INT(ferc_detect_faces_impl(c, g.data, g.w, g.h, g.w, &o, ref, 4096, &nref, 0, &err), FERC_OK);
        CHECK(nref > 20);
        for (int variant = 0; variant < 3; variant++) {
            o.threads = variant == 0 ? 2 : variant == 1 ? 1 : 3;
            CHECK_EQ_INT(ferc_detect_faces_impl(c, g.data, g.w, g.h, g.w, &o, b, 4096, &n, 1, &err), FERC_OK);
            CHECK_EQ_INT(n, nref);
            CHECK_MSG(n == nref && memcmp(b, ref, sizeof *b * (size_t)n) == 0, "%s: variant %d differs from scalar 1-thread",
                      imgs[k], variant);
        }
        o.min_neighbors = 5;
        o.threads = 0;
        ferc_box all[64], few[2];
        int nall = 0, nfew = 0;
        CHECK_EQ_INT(ferc_detect_faces(c, g.data, g.w, g.h, g.w, &o, all, 64, &nall, &err), FERC_OK);
        CHECK_EQ_INT(ferc_detect_faces(c, g.data, g.w, g.h, g.w, &o, few, 1, &nfew, &err), FERC_OK);
        CHECK_EQ_INT(nfew, nall);
        if (nall >= 1) CHECK(memcmp(&few[0], &all[0], sizeof all[0]) == 0);
        ferc_image_free(&g);
    }
    ferc_cascade_free(c);
}

/* ------------------------------------------------------------------------ */
/* Loader errors                                                             */
/* ------------------------------------------------------------------------ */

TEST(detect_cascade_load_errors) {
    const char *dir = test_tmpdir();
    ferc_cascade *c = (ferc_cascade *)1;
    ferc_error err;
    /* missing: names the file and the Debian package */
    CHECK_EQ_INT(ferc_cascade_load(test_path(dir, "nope.xml"), &c, &err), FERC_ERR_IO);
    CHECK(c == NULL);
    CHECK(strstr(err.msg, "nope.xml") != NULL);
    CHECK(strstr(err.msg, "opencv-data") != NULL);
    /* not XML */
    const char *p = test_path(dir, "junk.xml");
    CHECK(write_text(p, "this is not xml\n"));
    CHECK_EQ_INT(ferc_cascade_load(p, &c, &err), FERC_ERR_PARSE);
    CHECK(strstr(err.msg, "junk.xml") != NULL);
    /* truncated XML: the file name and a line number */
    char *half = malloc(4000);
    snprintf(half, 4000, "%.*s", (int)(strlen(ALLPASS_NEW) / 2), ALLPASS_NEW);
    p = test_path(dir, "half.xml");
    CHECK(write_text(p, half));
    CHECK_EQ_INT(ferc_cascade_load(p, &c, &err), FERC_ERR_PARSE);
    CHECK(strstr(err.msg, "half.xml:") != NULL);
    free(half);
    /* a DTD (entity expansion) is refused */
    p = test_path(dir, "dtd.xml");
    CHECK(write_text(p, "<?xml version=\"1.0\"?>\n<!DOCTYPE x [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;\">]>\n"
                        "<opencv_storage><c><stageType>&b;</stageType></c></opencv_storage>\n"));
    CHECK_EQ_INT(ferc_cascade_load(p, &c, &err), FERC_ERR_PARSE);
    CHECK(strstr(err.msg, "DTD") != NULL);
    /* XML but not a cascade */
    p = test_path(dir, "other.xml");
    CHECK(write_text(p, "<?xml version=\"1.0\"?>\n<opencv_storage>\n<x><y>1</y></x>\n</opencv_storage>\n"));
    CHECK_EQ_INT(ferc_cascade_load(p, &c, &err), FERC_ERR_PARSE);
    CHECK(strstr(err.msg, "other.xml") != NULL);
    /* LBP cascades are refused with a clear message */
    char *lbp = strdup(ALLPASS_NEW);
    char *ft = strstr(lbp, "HAAR");
    memcpy(ft, "LBP ", 4);
    p = test_path(dir, "lbp.xml");
    CHECK(write_text(p, lbp));
    CHECK_EQ_INT(ferc_cascade_load(p, &c, &err), FERC_ERR_PARSE);
    CHECK(strstr(err.msg, "LBP") != NULL && strstr(err.msg, "lbp.xml") != NULL);
    free(lbp);
    if (access(SKIMAGE_DIR "lbpcascade_frontalface_opencv.xml", R_OK) == 0) {
        CHECK_EQ_INT(ferc_cascade_load(SKIMAGE_DIR "lbpcascade_frontalface_opencv.xml", &c, &err), FERC_ERR_PARSE);
        CHECK(strstr(err.msg, "LBP") != NULL);
    }
    /* a feature rectangle outside the 4x4 window: refused, not read out of bounds */
    char *bad = strdup(ALLPASS_NEW);
    char *r = strstr(bad, "0 0 2 4 2.");
    memcpy(r, "3 0 2 4 2.", 10);
    p = test_path(dir, "outside.xml");
    CHECK(write_text(p, bad));
    CHECK_EQ_INT(ferc_cascade_load(p, &c, &err), FERC_ERR_PARSE);
    CHECK(strstr(err.msg, "outside") != NULL);
    free(bad);
    /* a node pointing at a missing leaf */
    bad = strdup(ALLPASS_NEW);
    r = strstr(bad, "0 -1 0 -1.0e+09");
    memcpy(r, "0 -5 0 -1.0e+09", 15);
    p = test_path(dir, "leaf.xml");
    CHECK(write_text(p, bad));
    CHECK_EQ_INT(ferc_cascade_load(p, &c, &err), FERC_ERR_PARSE);
    CHECK(strstr(err.msg, "leaf.xml:") != NULL);
    free(bad);
    /* a number that is not one */
    bad = strdup(ALLPASS_NEW);
    r = strstr(bad, "0.5</stageThreshold>");
    memcpy(r, "x.5", 3);
    p = test_path(dir, "nan.xml");
    CHECK(write_text(p, bad));
    CHECK_EQ_INT(ferc_cascade_load(p, &c, &err), FERC_ERR_PARSE);
    CHECK(strstr(err.msg, "not a number") != NULL);
    free(bad);
}

TEST(detect_default_cascade_path) {
    const char *p = ferc_cascade_default_path();
    if (access(CASCADE_DIR "haarcascade_frontalface_default.xml", R_OK) != 0) {
        CHECK(p == NULL || access(p, R_OK) == 0);
        SKIP("opencv-data is not installed");
    }
    CHECK(p && strcmp(p, CASCADE_DIR "haarcascade_frontalface_default.xml") == 0);
    ferc_cascade *c;
    ferc_error err;
    CHECK_EQ_INT(ferc_cascade_load(NULL, &c, &err), FERC_OK);
    int w = 0, h = 0;
    CHECK_EQ_INT(ferc_cascade_window(c, &w, &h), 25); /* 25 stages, 24x24 window */
    CHECK(w == 24 && h == 24);
    ferc_cascade_free(c);
}

/* ------------------------------------------------------------------------ */
/* Cropping and classifying                                                  */
/* ------------------------------------------------------------------------ */

TEST(detect_crop_and_classify_faces) {
    ferc_model *m;
    ferc_error err;
    CHECK_EQ_INT(ferc_model_create("seed", 3, &m, &err), FERC_OK);
    if (test_failed_now()) return;
    int S = ferc_model_input_size(m);
    CHECK_EQ_INT(S, 48);
    const int W = 100, H = 80;
    uint8_t img[100 * 80];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) img[y * W + x] = (uint8_t)((x * 7 + y * 13) & 255);
    ferc_box boxes[2] = {{10, 12, 48, 48}, {0, 0, 40, 40}};
    float *x = malloc(sizeof(float) * 2 * 48 * 48), *tmp = malloc(sizeof(float) * 100 * 100);
    /* margin 0, box of the model's size: the pixels / 255 exactly */
    ferc_crop_face(img, W, H, W, boxes[0], 0.0f, 48, x, tmp);
    int bad = 0;
    for (int i = 0; i < 48; i++)
        for (int j = 0; j < 48; j++) bad += x[i * 48 + j] != (float)img[(12 + i) * W + 10 + j] * (1.0f / 255.0f);
    CHECK_EQ_INT(bad, 0);
    /* margin 0.1 on a 40-pixel box at the corner: 4 pixels each side, the
     * edge repeated outside the image; 48x48 again, so no interpolation */
    ferc_crop_face(img, W, H, W, boxes[1], 0.1f, 48, x + 48 * 48, tmp);
    bad = 0;
    for (int i = 0; i < 48; i++)
        for (int j = 0; j < 48; j++) {
            int sy = i - 4 < 0 ? 0 : i - 4, sx = j - 4 < 0 ? 0 : j - 4;
            bad += x[48 * 48 + i * 48 + j] != (float)img[sy * W + sx] * (1.0f / 255.0f);
        }
    CHECK_EQ_INT(bad, 0);
    /* classify = crop + model: same probabilities as predicting the crops */
    boxes[1] = (ferc_box){0, 0, 40, 40};
    ferc_crop_face(img, W, H, W, boxes[1], 0.1f, 48, x + 48 * 48, tmp);
    float pa[14], pb[14];
    CHECK_EQ_INT(ferc_model_predict(m, x, 2, pa, 1, &err), FERC_OK);
    float *x2 = malloc(sizeof(float) * 2 * 48 * 48);
    ferc_crop_face(img, W, H, W, boxes[0], 0.1f, 48, x2, tmp);
    ferc_crop_face(img, W, H, W, boxes[1], 0.1f, 48, x2 + 48 * 48, tmp);
    CHECK_EQ_INT(ferc_model_predict(m, x2, 2, pa, 1, &err), FERC_OK);
    CHECK_EQ_INT(ferc_classify_faces(m, img, W, H, W, boxes, 2, 0.1f, pb, &err), FERC_OK);
    for (int k = 0; k < 2; k++) {
        double s = 0;
        for (int j = 0; j < 7; j++) { s += pb[k * 7 + j]; CHECK_NEAR(pb[k * 7 + j], pa[k * 7 + j], 1e-6); }
        CHECK_NEAR(s, 1.0, 1e-5);
    }
    /* no faces: nothing to do; bad arguments are refused */
    CHECK_EQ_INT(ferc_classify_faces(m, img, W, H, W, boxes, 0, 0.1f, pb, &err), FERC_OK);
    ferc_box empty = {5, 5, 0, 10};
    CHECK_EQ_INT(ferc_classify_faces(m, img, W, H, W, &empty, 1, 0.1f, pb, &err), FERC_ERR_ARG);
    CHECK_EQ_INT(ferc_classify_faces(m, img, W, H, W, boxes, 1, -1.0f, pb, &err), FERC_ERR_ARG);
    free(x); free(x2); free(tmp);
    ferc_model_free(m);
}

/* ferc_find_faces is ferc_detect_faces then ferc_classify_faces, bit for
 * bit: on the astronaut (one face), on a mosaic of 72 copies of her face
 * (more than the 64 boxes reserved at first, so the detector runs again
 * with room for all), with options that find nothing and on a flat image,
 * all with the same ferc_faces reused; NULL options are the defaults; bad
 * arguments are refused with no faces. */
TEST(detect_find_faces_is_detect_then_classify) {
    if (access(SKIMAGE_DIR "astronaut.png", R_OK) != 0) SKIP("no " SKIMAGE_DIR " (apt-get install python3-skimage)");
    ferc_cascade *cas;
    ferc_error err;
    if (ferc_cascade_load(NULL, &cas, &err) != FERC_OK) SKIP("no Haar cascade (apt-get install opencv-data)");
    ferc_model *m = NULL;
    ferc_image g = {0};
    CHECK_EQ_INT(ferc_model_create("seed", 5, &m, &err), FERC_OK);
    CHECK_EQ_INT(ferc_image_load(SKIMAGE_DIR "astronaut.png", 1, &g, &err), FERC_OK);
    if (test_failed_now()) { ferc_model_free(m); ferc_cascade_free(cas); return; }
    enum { T = 150, MW = 9 * T, MH = 8 * T, FW = 200 };
    uint8_t *mosaic = malloc((size_t)MW * MH), *flat = malloc(FW * FW);
    for (int y = 0; y < MH; y++)   /* tiles of the square at (150, 40): her face */
        for (int x = 0; x < MW; x++) mosaic[(size_t)y * MW + x] = g.data[(size_t)(40 + y % T) * g.w + 150 + x % T];
    memset(flat, 128, FW * FW);

    ferc_find_opts dflt, wide, none;
    ferc_find_opts_default(&dflt);
    CHECK(dflt.margin == 0.1f && dflt.detect.scale_factor == 1.1 && dflt.detect.min_neighbors == 5 &&
          dflt.detect.min_size == 30 && dflt.detect.max_size == 0 && dflt.detect.threads == 0);
    wide = none = dflt;
    wide.margin = 0.15f;
    none.detect.min_size = 400;
    const struct { const uint8_t *px; int w, h; const ferc_find_opts *o; int want; } cases[] = {
        {.px = g.data, .w = g.w, .h = g.h, .o = NULL, .want = 1},
        {.px = mosaic, .w = MW, .h = MH, .o = &wide, .want = 72},
        {.px = g.data, .w = g.w, .h = g.h, .o = &none, .want = 0},
        {.px = flat, .w = FW, .h = FW, .o = &wide, .want = 0},
        {.px = g.data, .w = g.w, .h = g.h, .o = &wide, .want = 1},
    };
    ferc_faces f = {0};
    enum { MAXB = 1024 };
    ferc_box *ref = malloc(sizeof(ferc_box) * MAXB);
    float *pref = malloc(sizeof(float) * 7 * MAXB);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const ferc_find_opts *o = cases[k].o ? cases[k].o : &dflt;
        int w = cases[k].w, h = cases[k].h, nref = -1;
        CHECK_EQ_INT(ferc_detect_faces(cas, cases[k].px, w, h, w, cases[k].o ? &o->detect : NULL, ref, MAXB, &nref, &err),
                     FERC_OK);
        CHECK_EQ_INT(nref, cases[k].want);
        if (nref < 0 || nref > MAXB) continue;
        /* ferc_find_faces lists the same boxes most votes first, ties in the
         * detector's order: the reference in that order (a stable sort) */
        int *votes = malloc(sizeof(int) * MAXB), nv = -1;
        CHECK_EQ_INT(ferc_detect_faces_counted(cas, cases[k].px, w, h, w, &o->detect, ref, votes, MAXB, &nv, 1, &err),
                     FERC_OK);
        CHECK_EQ_INT(nv, nref);
        for (int i = 1; i < nref; i++)
            for (int j = i; j > 0 && votes[j - 1] < votes[j]; j--) {
                int t = votes[j]; votes[j] = votes[j - 1]; votes[j - 1] = t;
                ferc_box b = ref[j]; ref[j] = ref[j - 1]; ref[j - 1] = b;
            }
        free(votes);
        CHECK_EQ_INT(ferc_classify_faces(m, cases[k].px, w, h, w, ref, nref, o->margin, pref, &err), FERC_OK);
        CHECK_EQ_INT(ferc_find_faces(cas, m, cases[k].px, w, h, w, cases[k].o, &f, &err), FERC_OK);
        CHECK_EQ_INT(f.n, nref);
        CHECK(f.cap >= f.n && f.boxes && f.probs);
        if (f.n != nref) continue;
        CHECK_MSG(memcmp(f.boxes, ref, sizeof(ferc_box) * (size_t)nref) == 0, "case %zu: boxes differ", k);
        CHECK_MSG(memcmp(f.probs, pref, sizeof(float) * 7 * (size_t)nref) == 0, "case %zu: probabilities differ", k);
    }
    /* errors: nothing found, the buffers kept for the next call */
    CHECK_EQ_INT(ferc_find_faces(NULL, m, g.data, g.w, g.h, g.w, NULL, &f, &err), FERC_ERR_ARG);
    CHECK_EQ_INT(f.n, 0);
    CHECK_EQ_INT(ferc_find_faces(cas, m, g.data, 0, g.h, g.w, NULL, &f, &err), FERC_ERR_ARG);
    CHECK_EQ_INT(f.n, 0);
    CHECK_EQ_INT(ferc_find_faces(cas, m, g.data, g.w, g.h, g.w, NULL, NULL, &err), FERC_ERR_ARG);
    ferc_faces_free(&f);
    CHECK(f.n == 0 && f.cap == 0 && !f.boxes && !f.probs);
    ferc_faces_free(NULL);
    free(ref); free(pref); free(mosaic); free(flat);
    ferc_image_free(&g);
    ferc_model_free(m);
    ferc_cascade_free(cas);
}
