/* cmd_predict.c — `ferc predict`: finds the faces in photos (or folders of
 * photos) with the Haar detector, crops each with a margin, converts it to
 * gray, resizes it to the model's input and classifies it; prints a box, a
 * detection confidence, the 7 scores and the top emotion per face, as text,
 * JSON lines or CSV, and can draw the results. An image no larger than twice
 * the model's input is taken as an already-cropped face (as with
 * --no-detect), since the detector cannot find a face that fills the frame.
 * Every output is checked before the work starts and appears whole or not
 * at all (cli_out). */
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void help_output(void);

static void help(void) {
    printf(
        "usage: ferc predict [--model FILE] [options] IMAGE|DIR...\n\n"
        "Finds the faces in each image (PNG or JPEG, EXIF orientation respected) with\n"
        "OpenCV's Haar cascade (the same boxes as OpenCV's detectMultiScale), crops each\n"
        "face with a margin, converts it to gray (BT.601 luma), resizes it to the model's\n"
        "input and classifies it. Prints, per face, its box x,y,w,h, its detection\n"
        "confidence, the probabilities of the 7 emotions (angry disgust fear happy sad\n"
        "surprise neutral) and the top one; faces come most confident first.\n"
        "An image no larger than twice the model's input (80x80 for a 40x40 model) is\n"
        "taken as one already-cropped face and classified whole (\"whole image\"), as\n"
        "with --no-detect. A folder is processed as a batch (its files, sorted,\n"
        "subfolders included) with a progress bar and a faces/s report on stderr; files\n"
        "that are not readable images are reported on stderr and skipped. The model used\n"
        "is named on stderr (model: PATH (ARCH, SxS)).\n\n"
        "face_confidence: how strongly the detector voted for the face, in (0,1):\n"
        "N / (N + 10) for the N raw detections merged into it (what --min-neighbors\n"
        "filters on): 0.5 at 10, 0.8 at 40. Comparable between faces found with the\n"
        "same --scale-factor; empty (CSV) or null (JSON) for a whole image.\n\n"
        "  --model FILE         a .ferc model. Default: $FERC_MODEL, else the best shipped\n"
        "                       model: models/seed2.ferc, then models/seed.ferc (in the\n"
        "                       current folder, then next to the ferc executable: ../models)\n"
        "  --json               JSON instead of text on stdout, one object per image per line:\n"
        "                       {\"image\": PATH, \"whole_image\": false, \"faces\": [{\"box\":\n"
        "                        [x, y, w, h], \"face_confidence\": C, \"emotion\": LABEL,\n"
        "                        \"scores\": {LABEL: P, ...}}], \"annotated\": OUT}\n"
        "                       (\"annotated\" with --annotate only)\n"
        "  --json=FILE          the same lines to FILE (the text stays on stdout); - = stdout\n"
        "  --csv FILE           the results as CSV, one row per face (- = stdout, instead\n"
        "                       of the text): image,face,x,y,w,h,face_confidence,emotion,\n"
        "                       angry,...,neutral,whole_image,annotated (an image without\n"
        "                       faces has one row with the face fields empty)\n"
        "  --annotate DIR       write each image with its boxes and labels drawn to\n"
        "                       DIR/<name>.png, <name> the image's full file name\n"
        "                       (photo.jpg -> DIR/photo.jpg.png; a second photo.jpg from\n"
        "                       another folder -> DIR/photo.jpg_2.png); DIR is created if\n"
        "                       missing. The path is recorded in the CSV and JSON.\n"
        "  --no-detect          no detection: every image is a face already cropped\n"
        "  --max-faces N        keep the N most confident faces of each image (all)\n"
        "  --largest            keep only the largest face of each image\n"
        "  --margin F           grow each box by F times its size on every side before\n"
        "                       cropping (0.1)\n"
        "  --scale-factor F     detector: each scale is F times the last (1.1)\n"
        "  --min-neighbors N    detector: a face needs more than N raw detections (5)\n"
        "  --min-size N         detector: smallest face side in pixels (30)\n"
        "  --max-size N         detector: largest face side in pixels, 0 = none (0)\n"
        "  --cascade FILE       detector: an OpenCV Haar cascade XML (default\n"
        "                       /usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml,\n"
        "                       from the Debian package opencv-data)\n"
        "  --threads N          detector threads, 0 = every core (0)\n"
        "  --boxes FILE.csv     faces found by another detector, lines image,x,y,w,h (the\n"
        "                       image's path as given or its file name): classified\n"
        "                       instead of running the cascade\n"
        "  -q, --quiet          no text on stdout (needs --csv FILE, --json or --annotate)\n\n");
    help_output();
}

/* The second half of --help: how outputs are written, exit status, examples. */
static void help_output(void) {
    printf(
        "Every output (--csv, --json=FILE, --annotate) is checked before the first image:\n"
        "a folder that cannot be written stops the run at once. CSV and JSON files are\n"
        "written under a temporary name and renamed when the run ends; they are removed\n"
        "when no image could be processed, on a write error or an interrupt.\n\n"
        "exit status: 0 when every named image was processed, 1 when one could not be\n"
        "read, a named folder holds no files (or the model or cascade is missing), 2 for\n"
        "usage errors.\n\n"
        "examples:\n"
        "  ferc predict photo.jpg\n"
        "  ferc predict --json --annotate out/ photos/\n"
        "  ferc predict --csv - --largest photos/ > faces.csv\n"
        "  ferc predict --model models/seed.ferc face48.png      (a 48x48 crop: whole image)\n");
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
 * hidden entries skipped (our own temporary files among them). 0 when dir
 * cannot be opened (said). */
static int collect(const char *dir, strlist *out, int depth) {
    DIR *d = opendir(dir);
    if (!d) { fprintf(stderr, "ferc predict: %s: cannot open folder: %s\n", dir, strerror(errno)); return 0; }
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
    return 1;
}


/* ---- annotation ---- */

/* OUTDIR/<file name>.png, the source's full name kept (photo.jpg and
 * photo.png must not both become photo.png), made unique within this run. */
static void annotate_path(const char *outdir, const char *in, strlist *used, char *buf, size_t cap) {
    const char *base = strrchr(in, '/');
    base = base ? base + 1 : in;
    const char *sep = outdir[strlen(outdir) - 1] == '/' ? "" : "/";
    for (int k = 1;; k++) {
        if (k == 1) snprintf(buf, cap, "%s%s%s.png", outdir, sep, base);
        else snprintf(buf, cap, "%s%s%s_%d.png", outdir, sep, base, k);
        int taken = 0;
        for (int i = 0; i < used->n && !taken; i++) taken = strcmp(used->v[i], buf) == 0;
        if (!taken) break;
    }
    strlist_add(used, buf);
}

/* ---- one image ---- */

typedef struct {
    const char *model_path, *cascade_path, *csv_path, *json_path, *annotate;
    ferc_model *model;
    ferc_cascade *cascade;
    ferc_find_opts find;
    int no_detect, quiet, text;  /* text: the human-readable lines on stdout */
    cli_out csv, json;
    int made_dir, annotated;     /* --annotate: we created the folder; images written */
    strlist used_names;
    ferc_faces found;            /* reused from image to image */
    const char *boxes_path;      /* --boxes: image,x,y,w,h of another detector (video_boxes.c) */
    char **bkeys;
    ferc_box *bboxes;
    int bn;
    const char *path_now;        /* the image being classified */
    long faces, images, wholes;
} ctx;

/* What one image gave: its faces (or the whole image as one face). */
typedef struct {
    const char *path;
    const ferc_faces *f;
    int whole;
    const char *annotated;       /* "" when not written */
} result;

static float conf_of(const result *r, int i) { return r->whole ? -1.f : r->f->confidence[i]; }

static void print_text(const ctx *c, const result *r) {
    const ferc_faces *f = r->f;
    if (r->whole) {
        printf("%s: whole image: ", r->path);
        cli_text_face(stdout, f->probs);
        fputc('\n', stdout);
        return;
    }
    if (f->n == 0)
        printf("%s: no face found (a cropped face? --no-detect; faces under %d px? lower --min-size)\n", r->path,
               c->find.detect.min_size);
    else printf("%s: %d face%s\n", r->path, f->n, f->n == 1 ? "" : "s");
    for (int i = 0; i < f->n; i++) {
        const ferc_box *b = &f->boxes[i];
        printf("  face %d at %d,%d %dx%d ", i + 1, b->x, b->y, b->w, b->h);
        if (f->confidence[i] >= 0) printf("(confidence %.2f): ", f->confidence[i]);
        else printf("(from --boxes): "); /* no detector vote */
        cli_text_face(stdout, f->probs + (size_t)i * FERC_NUM_CLASSES);
        fputc('\n', stdout);
    }
}

/* The one JSON writer of an image's result: `ferc predict --json` lines and
 * the answers of `ferc serve` (which adds the image size and the time). */
void cli_predict_json(FILE *out, const cli_predict_result *r) {
    fputs("{\"image\": ", out);
    cli_json_str(out, r->image);
    fprintf(out, ", \"whole_image\": %s, \"faces\": [", r->whole ? "true" : "false");
    for (int i = 0; i < r->faces->n; i++) {
        if (i) fputs(", ", out);
        cli_json_face(out, &r->faces->boxes[i], r->whole ? -1.f : r->faces->confidence[i],
                      r->faces->probs + (size_t)i * FERC_NUM_CLASSES);
    }
    fputc(']', out);
    if (r->annotated) {
        fputs(", \"annotated\": ", out);
        if (*r->annotated) cli_json_str(out, r->annotated);
        else fputs("null", out);
    }
    if (r->width > 0) fprintf(out, ", \"width\": %d, \"height\": %d", r->width, r->height);
    if (r->ms >= 0) fprintf(out, ", \"milliseconds\": %.1f", r->ms);
    fputs("}\n", out);
}

static void json_line(const ctx *c, FILE *out, const result *r) {
    cli_predict_json(out, &(cli_predict_result){.image = r->path, .faces = r->f, .whole = r->whole,
                                                .annotated = c->annotate ? r->annotated : NULL, .ms = -1});
}

static void csv_header(FILE *csv) {
    fputs("image,face,", csv);
    cli_csv_face_header(csv);
    fputs(",whole_image,annotated\n", csv);
}

static void csv_tail(FILE *csv, const result *r) {
    fprintf(csv, ",%d,", r->whole);
    cli_csv_str(csv, r->annotated);
    fputc('\n', csv);
}

static void csv_rows(FILE *csv, const result *r) {
    if (r->f->n == 0) { /* the image, an empty face number, empty face fields */
        cli_csv_str(csv, r->path);
        fputs(",,", csv);
        cli_csv_face(csv, NULL, -1, NULL);
        csv_tail(csv, r);
    }
    for (int i = 0; i < r->f->n; i++) {
        cli_csv_str(csv, r->path);
        fprintf(csv, ",%d,", i + 1);
        cli_csv_face(csv, &r->f->boxes[i], conf_of(r, i), r->f->probs + (size_t)i * FERC_NUM_CLASSES);
        csv_tail(csv, r);
    }
}

static void emit(ctx *c, const result *r) {
    cli_progress_end();
    if (c->text) print_text(c, r);
    if (c->json.f) json_line(c, c->json.f, r);
    if (c->csv.f) csv_rows(c->csv.f, r);
    fflush(stdout);
}

/* The image in colour with the faces drawn, to the --annotate folder (via a
 * temporary name): its path into out, or "" and 1 after saying why. */
static int annotate(ctx *c, const char *path, const ferc_faces *f, char *out, size_t cap) {
    ferc_error err = {0};
    ferc_image rgb = {0};
    char dst[PATH_MAX], tmp[PATH_MAX];
    annotate_path(c->annotate, path, &c->used_names, dst, sizeof dst);
    *out = 0;
    int fd = cli_tmp_reserve("predict", "--annotate", dst, tmp, sizeof tmp);
    if (fd < 0) return 1;
    close(fd);
    int ok = ferc_image_load(path, 3, &rgb, &err) == FERC_OK &&
             ferc_draw_faces(&rgb, f->boxes, f->n, f->probs, &err) == FERC_OK &&
             ferc_image_save_png(tmp, &rgb, &err) == FERC_OK;
    ferc_image_free(&rgb);
    if (!ok) {
        cli_progress_end();
        fprintf(stderr, "ferc predict: annotating %s: %s\n", path, err.msg);
    }
    if (cli_tmp_commit("predict", "--annotate", dst, tmp, ok) || !ok) return 1;
    snprintf(out, cap, "%s", dst);
    c->annotated++;
    return 0;
}

/* --boxes: the lines of this image (its path as given, or its file name),
 * clipped to it, classified into c->found; no detector confidence. */
static ferc_status given_boxes(ctx *c, const ferc_image *g, const ferc_faces **f, int *whole, ferc_error *err) {
    const char *base = strrchr(c->path_now, '/');
    base = base ? base + 1 : c->path_now;
    ferc_faces *o = &c->found;
    o->n = 0;
    for (int i = 0; i < c->bn; i++) {
        if (strcmp(c->bkeys[i], c->path_now) && strcmp(c->bkeys[i], base)) continue;
        ferc_box b = c->bboxes[i];
        int x1 = b.x + b.w < g->w ? b.x + b.w : g->w, y1 = b.y + b.h < g->h ? b.y + b.h : g->h;
        b.x = b.x < 0 ? 0 : b.x;
        b.y = b.y < 0 ? 0 : b.y;
        b = (ferc_box){.x = b.x, .y = b.y, .w = x1 - b.x, .h = y1 - b.y};
        if (b.w < 2 || b.h < 2) continue;
        if (o->n == o->cap) {
            int nc = o->cap ? 2 * o->cap : 16;
            ferc_box *nb = realloc(o->boxes, sizeof *nb * (size_t)nc);
            if (nb) o->boxes = nb;
            float *np = nb ? realloc(o->probs, sizeof(float) * FERC_NUM_CLASSES * (size_t)nc) : NULL;
            if (np) o->probs = np;
            float *ncf = np ? realloc(o->confidence, sizeof(float) * (size_t)nc) : NULL;
            if (ncf) o->confidence = ncf;
            int *nn = ncf ? realloc(o->neighbors, sizeof(int) * (size_t)nc) : NULL;
            if (!nn) {
                if (err) *err = (ferc_error){.status = FERC_ERR_NOMEM, .msg = "out of memory"};
                return FERC_ERR_NOMEM;
            }
            o->neighbors = nn;
            o->cap = nc;
        }
        o->confidence[o->n] = -1;
        o->neighbors[o->n] = 0;
        o->boxes[o->n++] = b;
    }
    *f = o;
    *whole = 0;
    return o->n ? ferc_classify_faces(c->model, g->data, g->w, g->h, g->w, o->boxes, o->n, c->find.margin, o->probs, err)
                : FERC_OK;
}

/* Detect and classify, or classify the whole image when asked (--no-detect)
 * or when it is small enough to be a crop: the detector's smallest window
 * could not find a face that fills the frame. */
static ferc_status classify(ctx *c, const ferc_image *g, ferc_faces *one, const ferc_faces **f, int *whole,
                            ferc_error *err) {
    if (c->boxes_path) return given_boxes(c, g, f, whole, err);
    int s2 = 2 * ferc_model_input_size(c->model);
    *whole = c->no_detect || (g->w <= s2 && g->h <= s2);
    *f = *whole ? one : &c->found;
    if (!*whole) return ferc_find_faces(c->cascade, c->model, g->data, g->w, g->h, g->w, &c->find, &c->found, err);
    return ferc_classify_faces(c->model, g->data, g->w, g->h, g->w, one->boxes, 1, 0, one->probs, err);
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
    ferc_box box = {.x = 0, .y = 0, .w = g.w, .h = g.h};
    float p[FERC_NUM_CLASSES];
    ferc_faces one = {.n = 1, .boxes = &box, .probs = p, .cap = 1};
    const ferc_faces *f;
    int whole;
    c->path_now = path;
    ferc_status st = classify(c, &g, &one, &f, &whole, &err);
    ferc_image_free(&g);
    if (st != FERC_OK) {
        cli_progress_end();
        fprintf(stderr, "ferc predict: %s: %s\n", path, err.msg);
        return 1;
    }
    char ann[PATH_MAX] = "";
    int rc = c->annotate ? annotate(c, path, f, ann, sizeof ann) : 0;
    c->faces += f->n;
    c->images++;
    c->wholes += whole;
    emit(c, &(result){.path = path, .f = f, .whole = whole, .annotated = ann});
    return rc;
}

/* ---- the command ---- */

static const char *const options[] = {
    "--help", "--model", "--json", "--csv", "--annotate", "--no-detect", "--quiet", "--margin", "--scale-factor",
    "--min-neighbors", "--min-size", "--max-size", "--threads", "--cascade", "--max-faces", "--largest", "--boxes", NULL};

/* Where the results go: at most one output on stdout; -q must leave one.
 * -1 to go on, else the exit code. */
static int check_outputs(ctx *c) {
    int on_stdout = cli_is_stdout(c->csv_path) + cli_is_stdout(c->json_path);
    if (on_stdout > 1) return cli_usage_error("predict", "--csv - and --json both want stdout: give one a FILE");
    if (cli_is_stdout(c->annotate)) return cli_usage_error("predict", "--annotate needs a folder, not stdout");
    if (c->quiet && !c->annotate && !c->csv_path && !c->json_path)
        return cli_usage_error("predict", "-q leaves nothing to do: add --csv FILE, --json[=FILE] or --annotate DIR");
    c->text = !c->quiet && on_stdout == 0;
    return -1;
}

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
        else if (!strcmp(a, "--json")) c->json_path = "-";
        else if (!strncmp(a, "--json=", 7)) c->json_path = a + 7;
        else if (!strcmp(a, "--no-detect")) c->no_detect = 1;
        else if (cli_is(a, "--boxes")) { VAL(); c->boxes_path = v; }
        else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) c->quiet = 1;
        else if (a[0] == '-' && a[1]) return cli_unknown_option("predict", a, options);
        else if (!strlist_add(inputs, a)) return fprintf(stderr, "ferc predict: out of memory\n"), 1;
#undef VAL
    }
    if (inputs->n == 0) return cli_usage_error("predict", "give at least one IMAGE or DIR");
    return check_outputs(c);
}

/* Every named input exists: 0, or 1 after naming the first that does not. */
static int check_inputs(const strlist *inputs) {
    for (int i = 0; i < inputs->n; i++) {
        struct stat st;
        if (stat(inputs->v[i], &st) != 0) {
            fprintf(stderr, "ferc predict: %s: %s\n", inputs->v[i], errno == ENOENT ? "no such file" : strerror(errno));
            return 1;
        }
    }
    return 0;
}

/* The --annotate folder: an existing writable folder, or made now (its
 * parent must exist). 0, or 1 after saying why. */
static int annotate_dir(ctx *c) {
    struct stat st;
    const char *d = c->annotate;
    if (stat(d, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) return fprintf(stderr, "ferc predict: --annotate %s: not a folder\n", d), 1;
        if (access(d, W_OK | X_OK) != 0)
            return fprintf(stderr, "ferc predict: --annotate %s: cannot write in it: %s\n", d, strerror(errno)), 1;
        return 0;
    }
    if (mkdir(d, 0777) != 0)
        return fprintf(stderr, "ferc predict: --annotate %s: cannot create the folder: %s\n", d, strerror(errno)), 1;
    c->made_dir = 1;
    return 0;
}

/* Check and open every output (before anything is loaded or read): 0, or
 * 1 after saying why. */
static int open_outputs(ctx *c) {
    if (c->csv_path && cli_out_open(&c->csv, "predict", "--csv", c->csv_path)) return 1;
    if (c->json_path && cli_out_open(&c->json, "predict", "--json", c->json_path)) return 1;
    if (c->annotate && annotate_dir(c)) return 1;
    if (c->csv.f) csv_header(c->csv.f);
    return 0;
}

/* The model (and the cascade), named on stderr: 0, or the exit code after
 * saying why. */
static int load(ctx *c) {
    ferc_error err = {0};
    char mbuf[PATH_MAX];
    const char *model = cli_model_path("predict", c->model_path, mbuf, sizeof mbuf);
    if (!model) return 1;
    if (ferc_model_load(model, &c->model, &err) != FERC_OK) return cli_error(&err);
    if (c->boxes_path && cli_read_boxes("predict", c->boxes_path, &c->bkeys, &c->bboxes, &c->bn)) return 1;
    if (!c->no_detect && !c->boxes_path && ferc_cascade_load(c->cascade_path, &c->cascade, &err) != FERC_OK)
        return cli_error(&err);
    cli_say_model(model, c->model);
    return 0;
}

/* Free everything; the files are kept when an image was processed (a bad
 * one among them is reported by rc), removed otherwise. 1 when an output
 * could not be written, else rc. */
static int close_all(ctx *c, int rc) {
    int ok = c->images > 0;
    if (cli_out_close(&c->csv, ok) || cli_out_close(&c->json, ok)) rc = 1;
    if (!rc && cli_stdout_check("predict")) rc = 1;
    if (c->made_dir && c->annotated == 0) rmdir(c->annotate);
    strlist_free(&c->used_names);
    ferc_faces_free(&c->found);
    for (int i = 0; i < c->bn; i++) free(c->bkeys[i]);
    free(c->bkeys);
    free(c->bboxes);
    ferc_cascade_free(c->cascade);
    ferc_model_free(c->model);
    return rc;
}

/* Expand folders into files; returns which files were named directly (their
 * failure is an error) rather than found in a folder (reported, skipped),
 * NULL when out of memory. *batch: more than one file, or a folder; *rc 1
 * when a named folder cannot be read or holds no files (said). */
static unsigned char *expand(const strlist *inputs, strlist *files, int *batch, int *rc) {
    unsigned char *named = NULL;
    for (int i = 0; i < inputs->n; i++) {
        int before = files->n;
        struct stat st;
        int dir = stat(inputs->v[i], &st) == 0 && S_ISDIR(st.st_mode);
        if (!dir) strlist_add(files, inputs->v[i]);
        else if (!collect(inputs->v[i], files, 0)) *rc = 1;
        else if (files->n == before) {
            fprintf(stderr, "ferc predict: %s: no files in this folder\n", inputs->v[i]);
            *rc = 1;
        }
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

static void summary(const ctx *c, double dt, int skipped) {
    fprintf(stderr, "predict: %ld image%s", c->images, c->images == 1 ? "" : "s");
    if (c->wholes) fprintf(stderr, " (%ld whole)", c->wholes);
    fprintf(stderr, ", %ld face%s in %.2f s (%.1f faces/s, %.1f images/s)", c->faces, c->faces == 1 ? "" : "s", dt,
            dt > 0 ? c->faces / dt : 0.0, dt > 0 ? c->images / dt : 0.0);
    if (skipped) fprintf(stderr, "; %d bad file%s skipped", skipped, skipped == 1 ? "" : "s");
    fputc('\n', stderr);
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
    if (batch) summary(c, ferc_now() - t0, skipped);
    if (c->images == 0 && files->n > 0 && !rc) {
        fprintf(stderr, "ferc predict: none of the %d file%s is a readable image\n", files->n, files->n == 1 ? "" : "s");
        rc = 1;
    }
    return rc;
}

int cmd_predict(int argc, char **argv) {
    ctx c = {0};
    ferc_find_opts_default(&c.find);
    strlist inputs = {0}, files = {0};
    int rc = parse_args(argc, argv, &c, &inputs), batch = 0;
    if (rc >= 0) { strlist_free(&inputs); return rc; }
    unsigned char *named = NULL;
    if (!(rc = check_inputs(&inputs)) && !(rc = open_outputs(&c)) &&
        !(named = expand(&inputs, &files, &batch, &rc))) {
        fprintf(stderr, "ferc predict: out of memory\n");
        rc = 1;
    }
    if (named && files.n > 0) {
        int lrc = load(&c);
        rc = lrc ? lrc : rc | run_all(&c, &files, named, batch);
    }
    free(named);
    strlist_free(&files);
    strlist_free(&inputs);
    return close_all(&c, rc);
}
