/* cmd_augment.c — `ferc augment`: a PNG grid of faces beside their augmented
 * versions (what the network is fed), and `--bench`, the cost of the
 * augmentation per image on one thread. */
#include "cli.h"

#include <cairo.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
        "  --set KEY=VALUE    any config key (repeatable; --augment KEY=VALUE is the same)\n"
        "  --config FILE      read 'key = value' lines (keys: enabled preset zoom zoom_same\n"
        "                     shift shift_x shift_y rotation flip crop brightness contrast\n"
        "                     fill cval interp; '#' comments); later options override it\n\n"
        "The pipeline per image: zoom, shift, rotation and flip are composed into one\n"
        "affine map about the image centre and sampled once (bilinear), the result is\n"
        "cropped or resized to SxS on the way, then brightness and contrast, clamped to\n"
        "[0,1]. It runs on the fly in training (no augmented copies are stored).\n\n"
        "benchmark:\n"
        "  --bench            time the augmentation on one thread, 48x48 -> SxS, and print\n"
        "                     images/s (default options: zoom 0.3, shift 0.1, rotation 10,\n"
        "                     flip); faces from --data when given, else random pixels\n"
        "  --bench-n N        images to time (20000)\n\n"
        "examples:\n"
        "  ferc augment --data ../shared/data/fer2013/fer2013.csv.gz --n 32 --seed 2 --out grid.png\n"
        "  ferc augment --data ../shared/data/fer2013/fer2013.csv.gz --class disgust \\\n"
        "      --zoom 0.3 --shift 0.1 --rotation 15 --flip --crop --out disgust.png\n"
        "  ferc augment --bench --zoom 0.3 --flip --shift 0.1 --rotation 10\n");
}

/* CPU time of this thread: the cost of the work itself, not inflated when
 * other processes share the cores. */
static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
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

static int bench(const ferc_augment_opts *o, const ferc_dataset *d, int size, int n) {
    enum { SRC = 48, POOL = 512, B = 32 };
    ferc_dataset fake = {0};
    if (!d) {
        fake.n = POOL; fake.h = fake.w = SRC;
        fake.pix = malloc((size_t)POOL * SRC * SRC);
        fake.label = calloc(POOL, sizeof(int));
        if (!fake.pix || !fake.label) { free(fake.pix); free(fake.label); fprintf(stderr, "ferc: out of memory\n"); return 1; }
        ferc_rng g;
        ferc_rng_seed(&g, 1);
        for (size_t i = 0; i < (size_t)POOL * SRC * SRC; i++) fake.pix[i] = (uint8_t)ferc_rng_below(&g, 256);
        d = &fake;
    }
    ferc_error err = {0};
    if (ferc_augment_check(o, d->h, d->w, size, size, &err) != FERC_OK) { free(fake.pix); free(fake.label); return cli_error(&err); }
    float *src = malloc(sizeof(float) * (size_t)d->h * d->w);
    float *x = malloc(sizeof(float) * (size_t)B * size * size);
    if (!src || !x) { free(src); free(x); free(fake.pix); free(fake.label); fprintf(stderr, "ferc: out of memory\n"); return 1; }
    int pool = d->n < POOL ? d->n : POOL, idx[B];
    ferc_rng rng;
    ferc_rng_seed(&rng, 1);
    char desc[512];
    ferc_augment_describe(o, desc, sizeof desc);
    printf("augmentation: %s\n", desc);
    printf("%dx%d -> %dx%d, %d images, 1 thread (thread CPU time)%s\n\n", d->h, d->w, size, size, n,
           d == &fake ? ", random pixels" : ", dataset faces");

    /* 1. ferc_augment_batch: what training calls (8-bit rows, batches of 32). */
    double t0 = now_s();
    for (int done = 0; done < n; done += B) {
        int m = n - done < B ? n - done : B;
        for (int i = 0; i < m; i++) idx[i] = (done + i) % pool;
        ferc_augment_batch(o, &rng, d, idx, m, 1, x, size, size);
    }
    double t_batch = now_s() - t0;
    /* 2. ferc_augment_image on float input. */
    t0 = now_s();
    for (int i = 0; i < n; i++) {
        ferc_prepare_images(d, i % pool, 1, d->w, src);
        ferc_augment_image(o, &rng, src, d->h, d->w, x + (size_t)(i % B) * size * size, size, size);
    }
    double t_image = now_s() - t0;
    /* 3. No augmentation: the evaluation view (plain resize / centre crop). */
    t0 = now_s();
    for (int done = 0; done < n; done += B) {
        int m = n - done < B ? n - done : B;
        for (int i = 0; i < m; i++) idx[i] = (done + i) % pool;
        ferc_augment_batch(o, NULL, d, idx, m, 0, x, size, size);
    }
    double t_eval = now_s() - t0;
    double ips = n / t_batch;
    printf("  %-44s %9.0f images/s  %6.2f us/image\n", "ferc_augment_batch (train, 8-bit rows)", ips, 1e6 * t_batch / n);
    printf("  %-44s %9.0f images/s  %6.2f us/image\n", "ferc_prepare_images + ferc_augment_image", n / t_image,
           1e6 * t_image / n);
    printf("  %-44s %9.0f images/s  %6.2f us/image\n", "no augmentation (evaluation view)", n / t_eval,
           1e6 * t_eval / n);
    printf("\nshare of a training step at 500 / 1000 / 1500 images/s: %.2f%% / %.2f%% / %.2f%%\n",
           100.0 * 500 / ips, 100.0 * 1000 / ips, 100.0 * 1500 / ips);
    free(src); free(x); free(fake.pix); free(fake.label);
    return 0;
}

int cmd_augment(int argc, char **argv) {
    const char *data = NULL, *usage = "Training", *out = "augment_grid.png", *cls = NULL;
    int n = 32, versions = 4, cols = 4, scale = 3, size = 40, seed = 1, skip_bad = 0, do_bench = 0, bench_n = 20000;
    int any_aug = 0;
    ferc_augment_opts o;
    ferc_augment_opts_default(&o);
    ferc_error err = {0};
    /* Options that map to one augment key: --zoom V is zoom=V, --flip is flip=1. */
    static const struct { const char *opt, *key; int is_flag; } amap[] = {
        {"--zoom", "zoom", 0}, {"--zoom-same", "zoom_same", 1}, {"--shift", "shift", 0},
        {"--shift-x", "shift_x", 0}, {"--shift-y", "shift_y", 0}, {"--rotation", "rotation", 0},
        {"--flip", "flip", 1}, {"--crop", "crop", 1}, {"--brightness", "brightness", 0},
        {"--contrast", "contrast", 0}, {"--fill", "fill", 0}, {"--cval", "cval", 0},
        {"--interp", "interp", 0}, {"--preset", "preset", 0}};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
#define VAL() do { if (!(v = cli_value(argc, argv, &i, a))) return 2; } while (0)
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { help(); return 0; }
        int mapped = 0;
        for (size_t k = 0; k < sizeof amap / sizeof amap[0]; k++) {
            if (amap[k].is_flag ? strcmp(a, amap[k].opt) != 0 : !cli_is(a, amap[k].opt)) continue;
            char set[320];
            if (amap[k].is_flag) snprintf(set, sizeof set, "%s=1", amap[k].key);
            else { VAL(); snprintf(set, sizeof set, "%s=%s", amap[k].key, v); }
            if (ferc_augment_opts_parse(&o, set, &err) != FERC_OK) return cli_usage_error("augment", "%s: %s", a, err.msg);
            any_aug = mapped = 1;
            break;
        }
        if (mapped) continue;
        if (cli_is(a, "--data")) { VAL(); data = v; }
        else if (cli_is(a, "--usage")) { VAL(); usage = v; }
        else if (cli_is(a, "--class")) { VAL(); cls = v; }
        else if (cli_is(a, "--out")) { VAL(); out = v; }
        else if (cli_is(a, "--n")) { VAL(); if (!cli_int("augment", a, v, 1, 10000, &n)) return 2; }
        else if (cli_is(a, "--versions")) { VAL(); if (!cli_int("augment", a, v, 1, 64, &versions)) return 2; }
        else if (cli_is(a, "--cols")) { VAL(); if (!cli_int("augment", a, v, 1, 64, &cols)) return 2; }
        else if (cli_is(a, "--scale")) { VAL(); if (!cli_int("augment", a, v, 1, 16, &scale)) return 2; }
        else if (cli_is(a, "--size")) { VAL(); if (!cli_int("augment", a, v, 4, 1024, &size)) return 2; }
        else if (cli_is(a, "--seed")) { VAL(); if (!cli_int("augment", a, v, 0, 2147483647L, &seed)) return 2; }
        else if (cli_is(a, "--bench-n")) { VAL(); if (!cli_int("augment", a, v, 1, 100000000L, &bench_n)) return 2; }
        else if (!strcmp(a, "--bench")) do_bench = 1;
        else if (!strcmp(a, "--skip-bad-rows")) skip_bad = 1;
        else if (cli_is(a, "--set") || cli_is(a, "--augment")) {
            VAL();
            if (ferc_augment_opts_parse(&o, v, &err) != FERC_OK) return cli_usage_error("augment", "%s: %s", a, err.msg);
            any_aug = 1;
        } else if (cli_is(a, "--config") || cli_is(a, "--augment-config")) {
            VAL();
            if (ferc_augment_load_config(v, &o, &err) != FERC_OK) return cli_error(&err);
            any_aug = 1;
        } else return cli_usage_error("augment", "unknown option '%s'", a);
#undef VAL
    }
    if (!any_aug) {
        const char *dflt[] = {"zoom=0.3", "shift=0.1", "rotation=10", "flip"};
        if (do_bench) {
            for (int k = 0; k < 4; k++) ferc_augment_opts_parse(&o, dflt[k], NULL);
        } else ferc_augment_opts_parse(&o, "preset=seed2", NULL);
    }
    int u = ferc_usage_from_name(usage);
    if (u == -2) return cli_usage_error("augment", "--usage: '%s' is not Training, PublicTest, PrivateTest or all", usage);
    int want_label = -1;
    if (cls && (want_label = ferc_label_from_name(cls)) < 0)
        return cli_usage_error("augment", "--class: unknown label '%s' (angry disgust fear happy sad surprise neutral)", cls);
    if (!data && !do_bench) return cli_usage_error("augment", "--data FILE is required (or --bench)");

    ferc_dataset d = {0};
    if (data) {
        ferc_load_opts lo = {u, skip_bad, 0};
        if (ferc_dataset_load(data, &lo, &d, &err) != FERC_OK) return cli_error(&err);
        if (d.skipped) fprintf(stderr, "skipped %d bad rows\n", d.skipped);
        if (d.n == 0) { ferc_dataset_free(&d); fprintf(stderr, "ferc: %s: no faces with usage %s\n", data, usage); return 1; }
    }
    if (do_bench) {
        int rc = bench(&o, data ? &d : NULL, size, bench_n);
        ferc_dataset_free(&d);
        return rc;
    }
    if (ferc_augment_check(&o, d.h, d.w, size, size, &err) != FERC_OK) { ferc_dataset_free(&d); return cli_error(&err); }

    /* Pick n distinct faces (of one label if asked) with the seed. */
    int *cand = malloc(sizeof(int) * (size_t)d.n), nc = 0;
    if (!cand) { ferc_dataset_free(&d); fprintf(stderr, "ferc: out of memory\n"); return 1; }
    for (int i = 0; i < d.n; i++)
        if (want_label < 0 || d.label[i] == want_label) cand[nc++] = i;
    if (nc == 0) { free(cand); ferc_dataset_free(&d); fprintf(stderr, "ferc: no %s faces in %s (%s)\n", cls, data, usage); return 1; }
    if (n > nc) n = nc;
    ferc_rng pick, rng;
    ferc_rng_seed(&pick, (uint64_t)seed);
    ferc_rng_seed(&rng, (uint64_t)seed * 0x9E3779B97F4A7C15ull + 1);
    for (int i = 0; i < n; i++) {
        int j = i + (int)ferc_rng_below(&pick, (uint32_t)(nc - i)), t = cand[i];
        cand[i] = cand[j]; cand[j] = t;
    }

    /* Layout: per face a cell with the original then `versions` cells. */
    const int cell = (d.h > size ? d.h : size) * scale, gap = 4, ggap = 18, label_h = 16, title_h = 40;
    const int group_w = (1 + versions) * cell + versions * gap;
    const int gcols = n < cols ? n : cols, grows = (n + cols - 1) / cols;
    const int W = 2 * 10 + gcols * group_w + (gcols - 1) * ggap;
    const int H = title_h + grows * (label_h + cell + 10) + 6;
    cairo_surface_t *surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, W, H);
    if (cairo_surface_status(surf) != CAIRO_STATUS_SUCCESS) {
        free(cand); ferc_dataset_free(&d);
        fprintf(stderr, "ferc: cannot create a %dx%d image: %s\n", W, H, cairo_status_to_string(cairo_surface_status(surf)));
        cairo_surface_destroy(surf);
        return 1;
    }
    cairo_t *cr = cairo_create(surf);
    cairo_set_source_rgb(cr, 0.13, 0.13, 0.13);
    cairo_paint(cr);
    cairo_surface_flush(surf);
    unsigned char *px = cairo_image_surface_get_data(surf);
    int stride = cairo_image_surface_get_stride(surf);
    float *orig = malloc(sizeof(float) * (size_t)d.h * d.w), *aug = malloc(sizeof(float) * (size_t)size * size);
    if (!orig || !aug) { fprintf(stderr, "ferc: out of memory\n"); free(orig); free(aug); free(cand); cairo_destroy(cr); cairo_surface_destroy(surf); ferc_dataset_free(&d); return 1; }
    for (int i = 0; i < n; i++) {
        int gx = 10 + (i % cols) * (group_w + ggap), gy = title_h + (i / cols) * (label_h + cell + 10) + label_h;
        ferc_prepare_images(&d, cand[i], 1, d.w, orig);
        blit(px, stride, orig, d.h, d.w, scale, gx + (cell - d.w * scale) / 2, gy + (cell - d.h * scale) / 2);
        for (int k = 0; k < versions; k++) {
            ferc_augment_image(&o, &rng, orig, d.h, d.w, aug, size, size);
            int cx = gx + (1 + k) * (cell + gap);
            blit(px, stride, aug, size, size, scale, cx + (cell - size * scale) / 2, gy + (cell - size * scale) / 2);
        }
    }
    cairo_surface_mark_dirty(surf);

    /* Text: a title with the options, and each face's label and row. */
    char desc[512], line[900];
    ferc_augment_describe(&o, desc, sizeof desc);
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
    cairo_set_font_size(cr, 13);
    cairo_set_source_rgb(cr, 1, 1, 1);
    snprintf(line, sizeof line, "ferc augment, seed %d: each face as stored (%dx%d), then %d augmented %dx%d inputs",
             seed, d.h, d.w, versions, size, size);
    cairo_move_to(cr, 10, 16);
    cairo_show_text(cr, line);
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, 12);
    cairo_set_source_rgb(cr, 0.8, 0.8, 0.8);
    cairo_move_to(cr, 10, 33);
    cairo_show_text(cr, desc);
    cairo_set_font_size(cr, 11);
    for (int i = 0; i < n; i++) {
        int gx = 10 + (i % cols) * (group_w + ggap), gy = title_h + (i / cols) * (label_h + cell + 10);
        snprintf(line, sizeof line, "%s  (row %d)", ferc_label_name(d.label[cand[i]]), cand[i]);
        cairo_set_source_rgb(cr, 1.0, 0.85, 0.4);
        cairo_move_to(cr, gx, gy + 12);
        cairo_show_text(cr, line);
    }
    cairo_destroy(cr);
    cairo_status_t cs = cairo_surface_write_to_png(surf, out);
    cairo_surface_destroy(surf);
    cairo_debug_reset_static_data();  /* drop cairo's font caches (no leak reports) */
    free(orig); free(aug); free(cand);
    ferc_dataset_free(&d);
    if (cs != CAIRO_STATUS_SUCCESS) {
        fprintf(stderr, "ferc: %s: cannot write the PNG: %s\n", out, cairo_status_to_string(cs));
        return 1;
    }
    printf("augmentation: %s\n", desc);
    printf("wrote %s (%dx%d px): %d faces from %s (%s%s%s), each beside %d augmented %dx%d versions, seed %d\n", out, W, H,
           n, data, usage, cls ? ", " : "", cls ? cls : "", versions, size, size, seed);
    return 0;
}
