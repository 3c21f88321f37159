/* cmd_predict.c — `ferc predict`: finds the faces in photos (or folders of
 * photos) with the Haar detector, crops each with a margin, converts it to
 * gray, resizes it to the model's input and classifies it; prints a box, the
 * 7 scores and the top emotion per face, as text, JSON lines or CSV, and can
 * draw the results. With --no-detect every image is one already-cropped face. */
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void help(void) {
    printf(
        "usage: ferc predict [--model FILE] [options] IMAGE|DIR...\n\n"
        "Finds the faces in each image (PNG or JPEG, EXIF orientation respected) with\n"
        "OpenCV's Haar cascade (the same boxes as OpenCV's detectMultiScale), crops each\n"
        "face with a margin, converts it to gray (BT.601 luma), resizes it to the model's\n"
        "input and classifies it. Prints, per face, its box x,y,w,h, the probabilities of\n"
        "the 7 emotions (angry disgust fear happy sad surprise neutral) and the top one.\n"
        "A folder is processed as a batch (its files, sorted, subfolders included) with a\n"
        "progress bar and a faces/s report on stderr; files that are not readable images\n"
        "are reported on stderr and skipped. An image without faces prints an empty list.\n\n"
        "  --model FILE         a .ferc model. Default: $FERC_MODEL, else the best shipped\n"
        "                       model: models/seed2.ferc, then models/seed.ferc (in the\n"
        "                       current folder, then next to the ferc executable: ../models)\n"
        "  --json               one JSON object per image per line:\n"
        "                       {\"image\": PATH, \"faces\": [{\"box\": [x, y, w, h],\n"
        "                        \"emotion\": LABEL, \"scores\": {LABEL: P, ...}}]}\n"
        "                       (with --no-detect: {\"image\": PATH, \"emotion\": LABEL,\n"
        "                        \"scores\": {...}})\n"
        "  --csv FILE           also write the results as CSV, one row per face:\n"
        "                       image,face,x,y,w,h,emotion,angry,...,neutral (an image\n"
        "                       without faces has one row with the face fields empty)\n"
        "  --annotate DIR       write each image with its boxes and labels drawn to\n"
        "                       DIR/<name>.png (DIR is created if missing)\n"
        "  --no-detect          no detection: each image is a face already cropped\n"
        "                       (prints the 7 probabilities and the top label)\n"
        "  --margin F           grow each box by F times its size on every side before\n"
        "                       cropping (0.1)\n"
        "  --scale-factor F     detector: each scale is F times the last (1.1)\n"
        "  --min-neighbors N    detector: a face needs more than N raw detections (5)\n"
        "  --min-size N         detector: smallest face side in pixels (30)\n"
        "  --max-size N         detector: largest face side in pixels, 0 = none (0)\n"
        "  --cascade FILE       detector: an OpenCV Haar cascade XML (default\n"
        "                       /usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml,\n"
        "                       from the Debian package opencv-data)\n"
        "  --threads N          (all cores)\n"
        "  -q, --quiet          no text on stdout (with --csv or --annotate)\n\n"
        "exit status: 0 when every named image was processed, 1 when one could not be\n"
        "read (or the model or cascade is missing), 2 for usage errors.\n\n"
        "examples:\n"
        "  ferc predict photo.jpg\n"
        "  ferc predict --json --annotate out/ photos/\n"
        "  ferc predict --model models/seed.ferc --no-detect face48.png\n");
}


/* ---- the list of files ---- */

typedef struct {
    char **v;
    int n, cap;
} strlist;

static int strlist_add(strlist *l, const char *s) {
    if (l->n == l->cap) {
        int nc = l->cap ? l->cap * 2 : 64;
        char **q = realloc(l->v, sizeof(char *) * (size_t)nc);
        if (!q) return 0;
        l->v = q;
        l->cap = nc;
    }
    if (!(l->v[l->n] = strdup(s))) return 0;
    l->n++;
    return 1;
}

static void strlist_free(strlist *l) {
    for (int i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Regular files under dir, sorted, subfolders after the files of a folder;
 * hidden entries skipped. */
static void collect(const char *dir, strlist *out, int depth) {
    DIR *d = opendir(dir);
    if (!d) { fprintf(stderr, "ferc predict: %s: cannot open folder: %s\n", dir, strerror(errno)); return; }
    strlist files = {0}, dirs = {0};
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char p[PATH_MAX];
        snprintf(p, sizeof p, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", e->d_name);
        struct stat st;
        if (stat(p, &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) strlist_add(&dirs, p);
        else if (S_ISREG(st.st_mode)) strlist_add(&files, p);
    }
    closedir(d);
    if (files.n > 1) qsort(files.v, (size_t)files.n, sizeof(char *), cmp_str);
    if (dirs.n > 1) qsort(dirs.v, (size_t)dirs.n, sizeof(char *), cmp_str);
    for (int i = 0; i < files.n; i++) strlist_add(out, files.v[i]);
    for (int i = 0; i < dirs.n && depth < 32; i++) collect(dirs.v[i], out, depth + 1);
    strlist_free(&files);
    strlist_free(&dirs);
}

/* ---- output helpers ---- */

static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p == '\n') fputs("\\n", f);
        else if (*p == '\t') fputs("\\t", f);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

static void csv_str(FILE *f, const char *s) {
    if (!strpbrk(s, ",\"\n\r")) { fputs(s, f); return; }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static int top_label(const float *p) {
    int t = 0;
    for (int k = 1; k < FERC_NUM_CLASSES; k++)
        if (p[k] > p[t]) t = k;
    return t;
}

static void json_scores(FILE *f, const float *p) {
    fputc('{', f);
    for (int k = 0; k < FERC_NUM_CLASSES; k++) fprintf(f, "%s\"%s\": %.6f", k ? ", " : "", ferc_label_name(k), p[k]);
    fputc('}', f);
}

static void text_scores(FILE *f, const float *p) {
    fputc('(', f);
    for (int k = 0; k < FERC_NUM_CLASSES; k++) fprintf(f, "%s%s %.3f", k ? " " : "", ferc_label_name(k), p[k]);
    fputc(')', f);
}

/* ---- annotation ---- */

/* OUTDIR/<basename without extension>.png, made unique within this run. */
static void annotate_path(const char *outdir, const char *in, strlist *used, char *buf, size_t cap) {
    const char *base = strrchr(in, '/');
    base = base ? base + 1 : in;
    char stem[NAME_MAX + 1];
    snprintf(stem, sizeof stem, "%s", base);
    char *dot = strrchr(stem, '.');
    if (dot && dot != stem) *dot = 0;
    for (int k = 1;; k++) {
        if (k == 1) snprintf(buf, cap, "%s/%s.png", outdir, stem);
        else snprintf(buf, cap, "%s/%s_%d.png", outdir, stem, k);
        int taken = 0;
        for (int i = 0; i < used->n && !taken; i++) taken = strcmp(used->v[i], buf) == 0;
        if (!taken) break;
    }
    strlist_add(used, buf);
}

/* ---- one image ---- */

typedef struct {
    const char *model_path, *cascade_path, *csv_path;
    ferc_model *model;
    ferc_cascade *cascade;
    ferc_find_opts find;
    int json, no_detect, quiet;
    FILE *csv;
    const char *annotate;
    strlist used_names;
    ferc_faces found;   /* reused from image to image */
    long faces, images;
} ctx;

/* With --no-detect the image is one face: no box is printed. */
static void print_whole(const ctx *c, const char *path, const float *p) {
    if (c->json) {
        fputs("{\"image\": ", stdout);
        json_str(stdout, path);
        printf(", \"emotion\": \"%s\", \"scores\": ", ferc_label_name(top_label(p)));
        json_scores(stdout, p);
        fputs("}\n", stdout);
    } else {
        printf("%s: %s %.3f ", path, ferc_label_name(top_label(p)), p[top_label(p)]);
        text_scores(stdout, p);
        fputc('\n', stdout);
    }
}

static void print_json(const char *path, const ferc_faces *f) {
    fputs("{\"image\": ", stdout);
    json_str(stdout, path);
    fputs(", \"faces\": [", stdout);
    for (int i = 0; i < f->n; i++) {
        const float *p = f->probs + (size_t)i * FERC_NUM_CLASSES;
        const ferc_box *b = &f->boxes[i];
        printf("%s{\"box\": [%d, %d, %d, %d], \"emotion\": \"%s\", \"scores\": ", i ? ", " : "", b->x, b->y, b->w,
               b->h, ferc_label_name(top_label(p)));
        json_scores(stdout, p);
        fputc('}', stdout);
    }
    fputs("]}\n", stdout);
}

static void print_text(const char *path, const ferc_faces *f) {
    if (f->n == 0) printf("%s: no face found\n", path);
    else printf("%s: %d face%s\n", path, f->n, f->n == 1 ? "" : "s");
    for (int i = 0; i < f->n; i++) {
        const float *p = f->probs + (size_t)i * FERC_NUM_CLASSES;
        const ferc_box *b = &f->boxes[i];
        int t = top_label(p);
        printf("  face %d at %d,%d %dx%d: %s %.3f ", i + 1, b->x, b->y, b->w, b->h, ferc_label_name(t), p[t]);
        text_scores(stdout, p);
        fputc('\n', stdout);
    }
}

static void print_faces(const ctx *c, const char *path, const ferc_faces *f) {
    cli_progress_end();
    if (c->no_detect) print_whole(c, path, f->probs);
    else if (c->json) print_json(path, f);
    else print_text(path, f);
    fflush(stdout);
}

static void csv_header(FILE *csv) {
    fputs("image,face,x,y,w,h,emotion", csv);
    for (int k = 0; k < FERC_NUM_CLASSES; k++) fprintf(csv, ",%s", ferc_label_name(k));
    fputc('\n', csv);
}

static void csv_rows(FILE *csv, const char *path, const ferc_faces *f) {
    if (f->n == 0) {
        csv_str(csv, path);
        fputs(",,,,,,,,,,,,,\n", csv);
    }
    for (int i = 0; i < f->n; i++) {
        const float *p = f->probs + (size_t)i * FERC_NUM_CLASSES;
        const ferc_box *b = &f->boxes[i];
        csv_str(csv, path);
        fprintf(csv, ",%d,%d,%d,%d,%d,%s", i + 1, b->x, b->y, b->w, b->h, ferc_label_name(top_label(p)));
        for (int k = 0; k < FERC_NUM_CLASSES; k++) fprintf(csv, ",%.6f", p[k]);
        fputc('\n', csv);
    }
}

/* The image in colour with the faces drawn, to the --annotate folder. */
static int annotate(ctx *c, const char *path, const ferc_faces *f) {
    ferc_error err = {0};
    ferc_image rgb = {0};
    char out[PATH_MAX];
    annotate_path(c->annotate, path, &c->used_names, out, sizeof out);
    int rc = 0;
    if (ferc_image_load(path, 3, &rgb, &err) != FERC_OK || ferc_draw_faces(&rgb, f->boxes, f->n, f->probs, &err) != FERC_OK ||
        ferc_image_save_png(out, &rgb, &err) != FERC_OK) {
        cli_progress_end();
        fprintf(stderr, "ferc predict: annotating %s: %s\n", path, err.msg);
        rc = 1;
    }
    ferc_image_free(&rgb);
    return rc;
}

/* 0 ok, 1 the image could not be read or processed (already reported). */
static int process(ctx *c, const char *path) {
    ferc_error err = {0};
    ferc_image g;
    if (ferc_image_load(path, 1, &g, &err) != FERC_OK) {
        cli_progress_end();
        fprintf(stderr, "ferc predict: %s\n", err.msg);
        return 1;
    }
    ferc_box whole = {.x = 0, .y = 0, .w = g.w, .h = g.h};
    float p[FERC_NUM_CLASSES];
    ferc_faces one = {.n = 1, .boxes = &whole, .probs = p, .cap = 1}, *f = c->no_detect ? &one : &c->found;
    ferc_status st = c->no_detect
                         ? ferc_classify_faces(c->model, g.data, g.w, g.h, g.w, &whole, 1, 0, p, &err)
                         : ferc_find_faces(c->cascade, c->model, g.data, g.w, g.h, g.w, &c->find, f, &err);
    ferc_image_free(&g);
    if (st != FERC_OK) {
        cli_progress_end();
        fprintf(stderr, "ferc predict: %s: %s\n", path, err.msg);
        return 1;
    }
    c->faces += f->n;
    c->images++;
    if (!c->quiet) print_faces(c, path, f);
    if (c->csv) csv_rows(c->csv, path, f);
    return c->annotate ? annotate(c, path, f) : 0;
}

/* ---- the command ---- */

/* -1 to go on, else the exit code (after --help or a usage error). */
static int parse_args(int argc, char **argv, ctx *c, strlist *inputs) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        int face = cli_face_option(argc, argv, &i, &c->find, &c->cascade_path);
#define VAL() do { if (!(v = cli_value(argc, argv, &i, a))) return 2; } while (0)
        if (face) { if (face < 0) return 2; }
        else if (!strcmp(a, "--help") || !strcmp(a, "-h")) { help(); return 0; }
        else if (cli_is(a, "--model")) { VAL(); c->model_path = v; }
        else if (cli_is(a, "--csv")) { VAL(); c->csv_path = v; }
        else if (cli_is(a, "--annotate")) { VAL(); c->annotate = v; }
        else if (!strcmp(a, "--json")) c->json = 1;
        else if (!strcmp(a, "--no-detect")) c->no_detect = 1;
        else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) c->quiet = 1;
        else if (a[0] == '-' && a[1]) return cli_usage_error("predict", "unknown option '%s'", a);
        else strlist_add(inputs, a);
#undef VAL
    }
    return inputs->n == 0 ? cli_usage_error("predict", "give at least one IMAGE or DIR") : -1;
}

/* Load the model (and cascade), make the --annotate folder and start the
 * --csv file: 0, or the exit code after reporting the problem. */
static int open_all(ctx *c) {
    ferc_error err = {0};
    char mbuf[PATH_MAX];
    const char *model = cli_model_path("predict", c->model_path, mbuf, sizeof mbuf);
    if (!model) return 1;
    if (ferc_model_load(model, &c->model, &err) != FERC_OK) return cli_error(&err);
    if (!c->no_detect && ferc_cascade_load(c->cascade_path, &c->cascade, &err) != FERC_OK) return cli_error(&err);
    if (c->annotate && mkdir(c->annotate, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "ferc predict: --annotate %s: cannot create the folder: %s\n", c->annotate, strerror(errno));
        return 1;
    }
    if (c->csv_path) {
        if (!(c->csv = fopen(c->csv_path, "w"))) {
            fprintf(stderr, "ferc predict: --csv %s: %s\n", c->csv_path, strerror(errno));
            return 1;
        }
        csv_header(c->csv);
    }
    return 0;
}

/* Free everything; 1 when the CSV could not be written, else rc. */
static int close_all(ctx *c, int rc) {
    if (c->csv && fclose(c->csv) != 0) {
        fprintf(stderr, "ferc predict: --csv %s: write error\n", c->csv_path);
        rc = 1;
    }
    strlist_free(&c->used_names);
    ferc_faces_free(&c->found);
    ferc_cascade_free(c->cascade);
    ferc_model_free(c->model);
    return rc;
}

/* Expand folders into files; returns which files were named directly (their
 * failure is an error) rather than found in a folder (reported, skipped),
 * NULL when out of memory. *batch: more than one file, or a folder. */
static unsigned char *expand(const strlist *inputs, strlist *files, int *batch) {
    unsigned char *named = NULL;
    for (int i = 0; i < inputs->n; i++) {
        int before = files->n;
        struct stat st;
        int dir = stat(inputs->v[i], &st) == 0 && S_ISDIR(st.st_mode);
        if (dir) collect(inputs->v[i], files, 0);
        else strlist_add(files, inputs->v[i]);
        *batch |= dir;
        unsigned char *nn = realloc(named, (size_t)files->n + 1);
        if (!nn) { free(named); return NULL; }
        named = nn;
        for (int k = before; k < files->n; k++) named[k] = !dir;
    }
    if (files->n > 1) *batch = 1;
    return named;
}

static void show_progress(const ctx *c, int done, int total, double t0) {
    double dt = ferc_now() - t0;
    char extra[96];
    snprintf(extra, sizeof extra, "%.1f img/s, %ld faces", dt > 0 ? done / dt : 0.0, c->faces);
    cli_progress("predict", done, total, extra);
}

/* Every file, with a progress bar and a speed report for a batch. */
static int run_all(ctx *c, const strlist *files, const unsigned char *named, int batch) {
    double t0 = ferc_now();
    int rc = 0, skipped = 0;
    for (int i = 0; i < files->n; i++) {
        if (process(c, files->v[i])) {
            if (named[i]) rc = 1;
            else skipped++;
        }
        if (batch) show_progress(c, i + 1, files->n, t0);
    }
    cli_progress_end();
    double dt = ferc_now() - t0;
    if (batch) {
        fprintf(stderr, "predict: %ld images, %ld faces in %.2f s (%.1f faces/s, %.1f images/s)", c->images, c->faces,
                dt, dt > 0 ? c->faces / dt : 0.0, dt > 0 ? c->images / dt : 0.0);
        if (skipped) fprintf(stderr, "; %d bad files skipped", skipped);
        fputc('\n', stderr);
    }
    return rc;
}

int cmd_predict(int argc, char **argv) {
    ctx c = {0};
    ferc_find_opts_default(&c.find);
    strlist inputs = {0}, files = {0};
    int rc = parse_args(argc, argv, &c, &inputs);
    if (rc >= 0) { strlist_free(&inputs); return rc; }
    if ((rc = open_all(&c)) == 0) {
        int batch = 0;
        unsigned char *named = expand(&inputs, &files, &batch);
        if (named) rc = run_all(&c, &files, named, batch);
        else { fprintf(stderr, "ferc predict: out of memory\n"); rc = 1; }
        free(named);
    }
    strlist_free(&files);
    strlist_free(&inputs);
    return close_all(&c, rc);
}
