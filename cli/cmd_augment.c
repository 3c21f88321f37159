/* cmd_augment.c — `ferc augment`: a PNG grid of faces beside their augmented
 * versions (what the network is fed), and `--bench`, the cost of the
 * augmentation per image on one thread. */
#include "cli.h"

#include <cairo.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

static void help_pipeline(void);

static void help(void) {
    printf(
        "usage: ferc augment --data FILE|DIR [--n 32] [--seed S] [--out grid.png] [augment options]\n"
        "       ferc augment --bench [--data FILE|DIR] [augment options]\n\n"
        "Draws random faces from a dataset and writes a PNG grid: each face as stored\n"
        "(48x48) followed by several random augmentations at the network's input size,\n"
        "enlarged with nearest-neighbour pixels so that you can see exactly what the\n"
        "network is fed. The same seed gives the same grid. Also prints the options in\n"
        "the one-line form the training log uses.\n\n"
        "grid:\n"
        "  --data FILE|DIR    FER2013 CSV (plain or .gz) or an image folder ROOT/<label>/*\n"
        "  --usage NAME       Training|PublicTest|PrivateTest|all (Training)\n"
        "  --class NAME       only faces of this label (e.g. disgust); default every label\n"
        "  --n N              number of faces (32)\n"
        "  --versions K       augmented versions per face (4)\n"
        "  --cols C           faces per grid row (4)\n"
        "  --scale X          enlargement factor, nearest neighbour (3)\n"
        "  --size S           output side, the network input (40; 48 for the seed model)\n"
        "  --seed S           picks the faces and the augmentations (1)\n"
        "  --out FILE         PNG to write (augment_grid.png)\n"
        "  --skip-bad-rows    skip malformed CSV rows instead of stopping\n\n"
        "augmentation (as Keras ImageDataGenerator; all off unless given; with no\n"
        "augmentation option at all the seed-2 recipe is shown: zoom 0.3, fill nearest):\n"
        "  --zoom Z|LO,HI     random zoom: factor uniform in [1-Z, 1+Z] (or [LO, HI]) for\n"
        "                     each axis independently, about the centre; a factor > 1\n"
        "                     zooms out (more of the face), < 1 zooms in (Keras zoom_range)\n"
        "  --zoom-same        one zoom factor for both axes (keeps the aspect ratio)\n"
        "  --shift F|FX,FY    random shift, uniform in +-F of the width and the height\n"
        "  --shift-x F, --shift-y F   the same for one axis (Keras width/height_shift_range)\n"
        "  --rotation DEG     random rotation, uniform in [-DEG, DEG] degrees\n"
        "  --flip             horizontal flip with probability 0.5\n"
        "  --crop             random SxS crop of the 48x48 face (a centre crop when\n"
        "                     evaluating) instead of resizing 48 -> S\n"
        "  --brightness B|LO,HI   pixels multiplied by a factor in [1-B, 1+B]\n"
        "  --contrast C|LO,HI     (x - mean) * c + mean, c in [1-C, 1+C]\n"
        "  --fill MODE        points from outside the face (nearest):\n"
        "                       nearest  aaaa|abcd|dddd   edge pixels repeated\n"
        "                       constant kkkk|abcd|kkkk   the value --cval\n"
        "                       reflect  dcba|abcd|dcba   mirrored, edge repeated\n"
        "                       wrap     abcd|abcd|abcd   periodic\n"
        "  --cval V           fill value for constant, 0..1 (0)\n"
        "  --interp MODE      bilinear (Keras order=1) | nearest (bilinear)\n"
        "  --preset NAME      none | seed2 (zoom 0.3, nearest) | fer (zoom 0.2, shift 0.1,\n"
        "                     rotation 10, flip)\n"
        "  --erase P          random erasing (Zhong et al. 2017, as torchvision RandomErasing):\n"
        "                     with probability P a rectangle of the SxS output is filled (0: off)\n"
        "  --erase-scale LO,HI   its area as a fraction of the image (0.02,0.33)\n"
        "  --erase-ratio LO,HI   its aspect height/width, log-uniform (0.3,3.3)\n"
        "  --erase-value V    random (uniform values in [0,1), as the paper) | 0 (random)\n"
        "  --set KEY=VALUE    any config key (repeatable; --augment KEY=VALUE is the same)\n"
        "  --config FILE      read 'key = value' lines (keys: enabled preset zoom zoom_same\n"
        "                     shift shift_x shift_y rotation flip crop brightness contrast\n"
        "                     fill cval interp erase erase_scale erase_ratio erase_value;\n"
        "                     '#' comments); later options override it\n\n");
    help_pipeline();
}

/* The second half of --help: how an image is transformed, --bench, examples. */
static void help_pipeline(void) {
    printf(
        "The pipeline per image: zoom, shift, rotation and flip are composed into one\n"
        "affine map about the image centre and sampled once (bilinear), the result is\n"
        "cropped or resized to SxS on the way, then brightness and contrast, clamped to\n"
        "[0,1], then random erasing. It runs on the fly in training (no augmented copies\n"
        "are stored); 'ferc train --augment erase=0.25' uses the same keys.\n\n"
        "benchmark:\n"
        "  --bench            time the augmentation on one thread, 48x48 -> SxS, and print\n"
        "                     images/s (default options: zoom 0.3, shift 0.1, rotation 10,\n"
        "                     flip); faces from --data when given, else random pixels\n"
        "  --bench-n N        images to time (20000)\n\n"
        "examples:\n"
        "  ferc augment --data ../shared/data/fer2013/fer2013.csv.gz --n 32 --seed 2 --out grid.png\n"
        "  ferc augment --data ../shared/data/fer2013/fer2013.csv.gz --class disgust \\\n"
        "      --zoom 0.3 --shift 0.1 --rotation 15 --flip --crop --out disgust.png\n"
        "  ferc augment --data ../shared/data/fer2013/fer2013.csv.gz --preset fer --erase 0.5 --out erase.png\n"
        "  ferc augment --bench --zoom 0.3 --flip --shift 0.1 --rotation 10\n");
}

/* Nearest-neighbour blit of a float image (h, w) in [0,1], enlarged by scale,
 * into an RGB24 cairo surface at (x0, y0). */
static void blit(unsigned char *px, int stride, const float *img, int h, int w, int scale, int x0, int y0) {
    for (int y = 0; y < h * scale; y++) {
        uint32_t *row = (uint32_t *)(px + (size_t)(y0 + y) * stride) + x0;
        const float *src = img + (size_t)(y / scale) * w;
        for (int x = 0; x < w * scale; x++) {
            float v = src[x / scale];
            int g = (int)(v * 255.0f + 0.5f);
            g = g < 0 ? 0 : (g > 255 ? 255 : g);
            row[x] = 0xff000000u | (uint32_t)g << 16 | (uint32_t)g << 8 | (uint32_t)g;
        }
    }
}

/* ---- --bench ---- */

/* 512 faces of random pixels, for --bench without --data: 0 when out of memory. */
static int random_faces(ferc_dataset *fake) {
    enum { SRC = 48, POOL = 512 };
    fake->n = POOL;
    fake->h = fake->w = SRC;
    fake->pix = malloc((size_t)POOL * SRC * SRC);
    fake->label = calloc(POOL, sizeof(int));
    if (!fake->pix || !fake->label) return 0;
    ferc_rng g;
    ferc_rng_seed(&g, 1);
    for (size_t i = 0; i < (size_t)POOL * SRC * SRC; i++) fake->pix[i] = (uint8_t)ferc_rng_below(&g, 256);
    return 1;
}

enum { BENCH_POOL = 512, BENCH_BATCH = 32 };

/* Thread CPU seconds of ferc_augment_batch over n faces in batches as
 * training draws them: augmented with rng, the evaluation view without. */
static double time_batches(const ferc_augment_opts *o, ferc_rng *rng, const ferc_dataset *d, int pool, int n,
                           float *x, int size) {
    int idx[BENCH_BATCH];
    double t0 = cli_thread_cpu_now();
    for (int done = 0; done < n; done += BENCH_BATCH) {
        int m = n - done < BENCH_BATCH ? n - done : BENCH_BATCH;
        for (int i = 0; i < m; i++) idx[i] = (done + i) % pool;
        ferc_augment_batch(o, rng, d, idx, m, rng != NULL, x, size, size);
    }
    return cli_thread_cpu_now() - t0;
}

/* The three timings and the report; src and x are the buffers they need. */
static void time_all(const ferc_augment_opts *o, const ferc_dataset *d, int random, int size, int n, float *src,
                     float *x) {
    int pool = d->n < BENCH_POOL ? d->n : BENCH_POOL;
    ferc_rng rng;
    ferc_rng_seed(&rng, 1);
    char desc[512];
    ferc_augment_describe(o, desc, sizeof desc);
    printf("augmentation: %s\n", desc);
    printf("%dx%d -> %dx%d, %d images, 1 thread (thread CPU time)%s\n\n", d->h, d->w, size, size, n,
           random ? ", random pixels" : ", dataset faces");

    /* 1. ferc_augment_batch: what training calls (8-bit rows, batches of 32). */
    double t_batch = time_batches(o, &rng, d, pool, n, x, size);
    /* 2. ferc_augment_image on float input. */
    double t0 = cli_thread_cpu_now();
    for (int i = 0; i < n; i++) {
        ferc_prepare_images(d, i % pool, 1, d->w, src);
        ferc_augment_image(o, &rng, src, d->h, d->w, x + (size_t)(i % BENCH_BATCH) * size * size, size, size);
    }
    double t_image = cli_thread_cpu_now() - t0;
    /* 3. No augmentation: the evaluation view (plain resize / centre crop). */
    double t_eval = time_batches(o, NULL, d, pool, n, x, size);
    double ips = n / t_batch;
    printf("  %-44s %9.0f images/s  %6.2f us/image\n", "ferc_augment_batch (train, 8-bit rows)", ips, 1e6 * t_batch / n);
    printf("  %-44s %9.0f images/s  %6.2f us/image\n", "ferc_prepare_images + ferc_augment_image", n / t_image,
           1e6 * t_image / n);
    printf("  %-44s %9.0f images/s  %6.2f us/image\n", "no augmentation (evaluation view)", n / t_eval,
           1e6 * t_eval / n);
    printf("\nshare of a training step at 500 / 1000 / 1500 images/s: %.2f%% / %.2f%% / %.2f%%\n",
           100.0 * 500 / ips, 100.0 * 1000 / ips, 100.0 * 1500 / ips);
}

/* --bench: faces from d, or random pixels when d is NULL. */
static int bench(const ferc_augment_opts *o, const ferc_dataset *d, int size, int n) {
    ferc_dataset fake = {0};
    int rc = 0;
    float *src = NULL, *x = NULL;
    ferc_error err = {0};
    if (!d && !random_faces(&fake)) { fprintf(stderr, "ferc: out of memory\n"); rc = 1; }
    else if (!d) d = &fake;
    if (!rc && ferc_augment_check(o, d->h, d->w, size, size, &err) != FERC_OK) rc = cli_error(&err);
    if (!rc) {
        src = malloc(sizeof(float) * (size_t)d->h * d->w);
        x = malloc(sizeof(float) * (size_t)BENCH_BATCH * size * size);
        if (!src || !x) { fprintf(stderr, "ferc: out of memory\n"); rc = 1; }
    }
    if (!rc) time_all(o, d, d == &fake, size, n, src, x);
    free(src); free(x); free(fake.pix); free(fake.label);
    return rc;
}

/* ---- the options ---- */

typedef struct {
    const char *data, *usage, *out, *cls;
    int n, versions, cols, scale, size, seed, skip_bad, do_bench, bench_n, any_aug;
    int usage_code, want_label;   /* from usage and cls */
    ferc_augment_opts o;
} aug_args;

/* argv[*i] when it names one augmentation key (--zoom V is zoom=V, --flip is
 * flip=1): 1 taken, 0 not one of them, -1 after a usage error. */
static int key_option(int argc, char **argv, int *i, ferc_augment_opts *o) {
#define KEY(o, k) {.opt = o, .key = k}
#define FLAG(o, k) {.opt = o, .key = k, .is_flag = 1}
    static const struct { const char *opt, *key; int is_flag; } amap[] = {
        KEY("--zoom", "zoom"), FLAG("--zoom-same", "zoom_same"), KEY("--shift", "shift"),
        KEY("--shift-x", "shift_x"), KEY("--shift-y", "shift_y"), KEY("--rotation", "rotation"),
        FLAG("--flip", "flip"), FLAG("--crop", "crop"), KEY("--brightness", "brightness"),
        KEY("--contrast", "contrast"), KEY("--fill", "fill"), KEY("--cval", "cval"),
        KEY("--interp", "interp"), KEY("--preset", "preset"), KEY("--erase", "erase"),
        KEY("--erase-scale", "erase_scale"), KEY("--erase-ratio", "erase_ratio"), KEY("--erase-value", "erase_value")};
#undef KEY
#undef FLAG
    const char *a = argv[*i];
    for (size_t k = 0; k < sizeof amap / sizeof amap[0]; k++) {
        if (amap[k].is_flag ? strcmp(a, amap[k].opt) != 0 : !cli_is(a, amap[k].opt)) continue;
        char set[320];
        if (amap[k].is_flag) snprintf(set, sizeof set, "%s=1", amap[k].key);
        else {
            const char *v = cli_value(argc, argv, i, a);
            if (!v) return -1;
            snprintf(set, sizeof set, "%s=%s", amap[k].key, v);
        }
        ferc_error err = {0};
        if (ferc_augment_opts_parse(o, set, &err) == FERC_OK) return 1;
        cli_usage_error("augment", "%s: %s", a, err.msg);
        return -1;
    }
    return 0;
}

static const char *const options[] = {
    "--data", "--usage", "--class", "--n", "--versions", "--cols", "--scale", "--size", "--seed", "--out",
    "--skip-bad-rows", "--zoom", "--zoom-same", "--shift", "--shift-x", "--shift-y", "--rotation", "--flip", "--crop",
    "--brightness", "--contrast", "--fill", "--cval", "--interp", "--preset", "--erase", "--erase-scale",
    "--erase-ratio", "--erase-value", "--set", "--augment", "--config",
    "--augment-config", "--bench", "--bench-n", "--help", NULL};

/* -1 to go on, else the exit code (after --help or an error). */
static int parse_args(int argc, char **argv, aug_args *g) {
    ferc_error err = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
#define VAL() do { if (!(v = cli_value(argc, argv, &i, a))) return 2; } while (0)
#define INT(lo, hi, p) do { VAL(); if (!cli_int("augment", a, v, lo, hi, p)) return 2; } while (0)
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { help(); return 0; }
        int key = key_option(argc, argv, &i, &g->o);
        if (key < 0) return 2;
        if (key) { g->any_aug = 1; continue; }
        if (cli_is(a, "--data")) { VAL(); g->data = v; }
        else if (cli_is(a, "--usage")) { VAL(); g->usage = v; }
        else if (cli_is(a, "--class")) { VAL(); g->cls = v; }
        else if (cli_is(a, "--out")) { VAL(); g->out = v; }
        else if (cli_is(a, "--n")) INT(1, 10000, &g->n);
        else if (cli_is(a, "--versions")) INT(1, 64, &g->versions);
        else if (cli_is(a, "--cols")) INT(1, 64, &g->cols);
        else if (cli_is(a, "--scale")) INT(1, 16, &g->scale);
        else if (cli_is(a, "--size")) INT(4, 1024, &g->size);
        else if (cli_is(a, "--seed")) INT(0, 2147483647L, &g->seed);
        else if (cli_is(a, "--bench-n")) INT(1, 100000000L, &g->bench_n);
        else if (!strcmp(a, "--bench")) g->do_bench = 1;
        else if (!strcmp(a, "--skip-bad-rows")) g->skip_bad = 1;
        else if (cli_is(a, "--set") || cli_is(a, "--augment")) {
            VAL();
            if (ferc_augment_opts_parse(&g->o, v, &err) != FERC_OK) return cli_usage_error("augment", "%s: %s", a, err.msg);
            g->any_aug = 1;
        } else if (cli_is(a, "--config") || cli_is(a, "--augment-config")) {
            VAL();
            if (ferc_augment_load_config(v, &g->o, &err) != FERC_OK) return cli_error(&err);
            g->any_aug = 1;
        } else return cli_unknown_option("augment", a, options);
#undef VAL
#undef INT
    }
    return -1;
}

/* Defaults that depend on the other options, and the checks of the names:
 * -1 to go on, else the exit code. */
static int check_args(aug_args *g) {
    if (!g->any_aug) {
        const char *dflt[] = {"zoom=0.3", "shift=0.1", "rotation=10", "flip"};
        if (g->do_bench) {
            for (int k = 0; k < 4; k++) ferc_augment_opts_parse(&g->o, dflt[k], NULL);
        } else ferc_augment_opts_parse(&g->o, "preset=seed2", NULL);
    }
    g->usage_code = ferc_usage_from_name(g->usage);
    if (g->usage_code == -2)
        return cli_usage_error("augment", "--usage: '%s' is not Training, PublicTest, PrivateTest or all", g->usage);
    g->want_label = -1;
    if (g->cls && (g->want_label = ferc_label_from_name(g->cls)) < 0)
        return cli_usage_error("augment", "--class: unknown label '%s' (angry disgust fear happy sad surprise neutral)", g->cls);
    if (!g->data && !g->do_bench) return cli_usage_error("augment", "--data FILE is required (or --bench)");
    return -1;
}

/* ---- the grid ---- */

/* n distinct rows of d (of one label if asked), drawn with the seed; g->n
 * is lowered to the number there are. NULL after reporting the problem. */
static int *pick_faces(aug_args *g, const ferc_dataset *d) {
    int *cand = malloc(sizeof(int) * (size_t)d->n), nc = 0;
    if (!cand) { fprintf(stderr, "ferc: out of memory\n"); return NULL; }
    for (int i = 0; i < d->n; i++)
        if (g->want_label < 0 || d->label[i] == g->want_label) cand[nc++] = i;
    if (nc == 0) {
        free(cand);
        fprintf(stderr, "ferc: no %s faces in %s (%s)\n", g->cls, g->data, g->usage);
        return NULL;
    }
    if (g->n > nc) g->n = nc;
    ferc_rng pick;
    ferc_rng_seed(&pick, (uint64_t)g->seed);
    for (int i = 0; i < g->n; i++) {
        int j = i + (int)ferc_rng_below(&pick, (uint32_t)(nc - i)), t = cand[i];
        cand[i] = cand[j]; cand[j] = t;
    }
    return cand;
}

/* Per face a group of cells: the original, then `versions` augmented ones. */
typedef struct {
    int cell, gap, ggap, label_h, title_h, group_w, W, H;
} grid_layout;

static grid_layout layout(const aug_args *g, const ferc_dataset *d) {
    grid_layout L = {.cell = (d->h > g->size ? d->h : g->size) * g->scale, .gap = 4, .ggap = 18, .label_h = 16,
                     .title_h = 40};
    L.group_w = (1 + g->versions) * L.cell + g->versions * L.gap;
    const int gcols = g->n < g->cols ? g->n : g->cols, grows = (g->n + g->cols - 1) / g->cols;
    L.W = 2 * 10 + gcols * L.group_w + (gcols - 1) * L.ggap;
    L.H = L.title_h + grows * (L.label_h + L.cell + 10) + 6;
    return L;
}

/* The pixels: each face as stored, then its augmented versions. 0 when out
 * of memory. */
static int draw_faces(cairo_surface_t *surf, const grid_layout *L, const aug_args *g, const ferc_dataset *d,
                      const int *cand) {
    unsigned char *px = cairo_image_surface_get_data(surf);
    int stride = cairo_image_surface_get_stride(surf), size = g->size, scale = g->scale;
    float *orig = malloc(sizeof(float) * (size_t)d->h * d->w), *aug = malloc(sizeof(float) * (size_t)size * size);
    if (!orig || !aug) { free(orig); free(aug); return 0; }
    ferc_rng rng;
    ferc_rng_seed(&rng, (uint64_t)g->seed * 0x9E3779B97F4A7C15ull + 1);
    for (int i = 0; i < g->n; i++) {
        int gx = 10 + (i % g->cols) * (L->group_w + L->ggap);
        int gy = L->title_h + (i / g->cols) * (L->label_h + L->cell + 10) + L->label_h;
        ferc_prepare_images(d, cand[i], 1, d->w, orig);
        blit(px, stride, orig, d->h, d->w, scale, gx + (L->cell - d->w * scale) / 2, gy + (L->cell - d->h * scale) / 2);
        for (int k = 0; k < g->versions; k++) {
            ferc_augment_image(&g->o, &rng, orig, d->h, d->w, aug, size, size);
            int cx = gx + (1 + k) * (L->cell + L->gap);
            blit(px, stride, aug, size, size, scale, cx + (L->cell - size * scale) / 2, gy + (L->cell - size * scale) / 2);
        }
    }
    cairo_surface_mark_dirty(surf);
    free(orig);
    free(aug);
    return 1;
}

/* The text: a title with the options, and each face's label and row. */
static void draw_text(cairo_t *cr, const grid_layout *L, const aug_args *g, const ferc_dataset *d, const int *cand,
                      const char *desc) {
    char line[900];
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
    cairo_set_font_size(cr, 13);
    cairo_set_source_rgb(cr, 1, 1, 1);
    snprintf(line, sizeof line, "ferc augment, seed %d: each face as stored (%dx%d), then %d augmented %dx%d inputs",
             g->seed, d->h, d->w, g->versions, g->size, g->size);
    cairo_move_to(cr, 10, 16);
    cairo_show_text(cr, line);
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, 12);
    cairo_set_source_rgb(cr, 0.8, 0.8, 0.8);
    cairo_move_to(cr, 10, 33);
    cairo_show_text(cr, desc);
    cairo_set_font_size(cr, 11);
    for (int i = 0; i < g->n; i++) {
        int gx = 10 + (i % g->cols) * (L->group_w + L->ggap), gy = L->title_h + (i / g->cols) * (L->label_h + L->cell + 10);
        snprintf(line, sizeof line, "%s  (row %d)", ferc_label_name(d->label[cand[i]]), cand[i]);
        cairo_set_source_rgb(cr, 1.0, 0.85, 0.4);
        cairo_move_to(cr, gx, gy + 12);
        cairo_show_text(cr, line);
    }
}

/* Draw the grid of the faces cand and write it to g->out: the exit code. */
static int write_grid(const aug_args *g, const ferc_dataset *d, const int *cand) {
    grid_layout L = layout(g, d);
    cairo_surface_t *surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, L.W, L.H);
    if (cairo_surface_status(surf) != CAIRO_STATUS_SUCCESS) {
        fprintf(stderr, "ferc: cannot create a %dx%d image: %s\n", L.W, L.H, cairo_status_to_string(cairo_surface_status(surf)));
        cairo_surface_destroy(surf);
        return 1;
    }
    cairo_t *cr = cairo_create(surf);
    cairo_set_source_rgb(cr, 0.13, 0.13, 0.13);
    cairo_paint(cr);
    cairo_surface_flush(surf);
    if (!draw_faces(surf, &L, g, d, cand)) {
        fprintf(stderr, "ferc: out of memory\n");
        cairo_destroy(cr);
        cairo_surface_destroy(surf);
        return 1;
    }
    char desc[512];
    ferc_augment_describe(&g->o, desc, sizeof desc);
    draw_text(cr, &L, g, d, cand, desc);
    cairo_destroy(cr);
    char tmp[PATH_MAX];   /* written beside the target and renamed: never a half PNG (a full disk) */
    int fd = cli_tmp_reserve("augment", "--out", g->out, tmp, sizeof tmp);
    cairo_status_t cs = fd < 0 ? CAIRO_STATUS_WRITE_ERROR : cairo_surface_write_to_png(surf, tmp);
    if (fd >= 0) close(fd);
    cairo_surface_destroy(surf);
    cairo_debug_reset_static_data();  /* drop cairo's font caches (no leak reports) */
    if (fd < 0) return 1;
    if (cs != CAIRO_STATUS_SUCCESS) {
        fprintf(stderr, "ferc: %s: cannot write the PNG: %s\n", g->out, cairo_status_to_string(cs));
        cli_tmp_commit("augment", "--out", g->out, tmp, 0);
        return 1;
    }
    if (cli_tmp_commit("augment", "--out", g->out, tmp, 1)) return 1;
    printf("augmentation: %s\n", desc);
    printf("wrote %s (%dx%d px): %d faces from %s (%s%s%s), each beside %d augmented %dx%d versions, seed %d\n", g->out,
           L.W, L.H, g->n, g->data, g->usage, g->cls ? ", " : "", g->cls ? g->cls : "", g->versions, g->size, g->size,
           g->seed);
    return 0;
}

/* ---- the command ---- */

/* The dataset of --data (d stays empty without it): 0, or the exit code. */
static int load_data(const aug_args *g, ferc_dataset *d) {
    if (!g->data) return 0;
    ferc_error err = {0};
    ferc_load_opts lo = {.usage = g->usage_code, .skip_bad_rows = g->skip_bad, .size = 0};
    if (ferc_dataset_load(g->data, &lo, d, &err) != FERC_OK) return cli_error(&err);
    if (d->skipped) fprintf(stderr, "skipped %d bad rows\n", d->skipped);
    if (d->n == 0) {
        ferc_dataset_free(d);
        fprintf(stderr, "ferc: %s: no faces with usage %s\n", g->data, g->usage);
        return 1;
    }
    return 0;
}

int cmd_augment(int argc, char **argv) {
    aug_args g = {.usage = "Training", .out = "augment_grid.png", .n = 32, .versions = 4, .cols = 4, .scale = 3,
                  .size = 40, .seed = 1, .bench_n = 20000};
    ferc_augment_opts_default(&g.o);
    int rc = parse_args(argc, argv, &g);
    if (rc < 0) rc = check_args(&g);
    if (rc >= 0) return rc;
    ferc_dataset d = {0};
    if ((rc = load_data(&g, &d))) return rc;
    ferc_error err = {0};
    if (g.do_bench) rc = bench(&g.o, g.data ? &d : NULL, g.size, g.bench_n);
    else if (ferc_augment_check(&g.o, d.h, d.w, g.size, g.size, &err) != FERC_OK) rc = cli_error(&err);
    else {
        int *cand = pick_faces(&g, &d);
        rc = cand ? write_grid(&g, &d, cand) : 1;
        free(cand);
    }
    ferc_dataset_free(&d);
    return rc;
}
