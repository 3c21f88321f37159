/* test_predict_cli.c — what a new user meets in `ferc predict` and `ferc
 * video` (issue 20), run as real processes: outputs checked before any work
 * and never left half-written, small crops classified whole, a detection
 * confidence per face (most confident first, --max-faces, --largest) in the
 * library and in every output, "-" as stdout, one-line video errors without
 * ffmpeg's noise, annotated names that keep the source's, "did you mean",
 * and the small refusals (-q with nothing to do, an empty folder). */
#include "test.h"
#include "cli_util.h"
#include "ferc.h"
#include "detect/detect.h"
#include "model/model.h"

#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SKIMAGE_DIR "/usr/lib/python3/dist-packages/skimage/data/"
#define ASTRONAUT SKIMAGE_DIR "astronaut.png"
#define COINS SKIMAGE_DIR "coins.png"

/* Lines of s that start with prefix. */
static int lines_starting(const char *s, const char *prefix) {
    int n = 0;
    for (const char *l = s; l && *l;) {
        n += strncmp(l, prefix, strlen(prefix)) == 0;
        const char *nl = strchr(l, '\n');
        l = nl ? nl + 1 : NULL;
    }
    return n;
}

static int starts(const char *s, const char *prefix) { return s && strncmp(s, prefix, strlen(prefix)) == 0; }

/* Entries of dir (hidden ones too, "." and ".." not), our temporaries among them. */
static int entries(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    if (d) closedir(d);
    return n;
}

static int save_gray(const char *path, const uint8_t *px, int w, int h) {
    ferc_image im = {.w = w, .h = h, .c = 1, .data = (uint8_t *)px};
    ferc_error err;
    return ferc_image_save_png(path, &im, &err) == FERC_OK;
}

static int have_cascade(void) {
    ferc_cascade *c;
    ferc_error err;
    if (ferc_cascade_load(NULL, &c, &err) != FERC_OK) return 0;
    ferc_cascade_free(c);
    return 1;
}

static int have_ffmpeg(void) {
    return system("ffmpeg -version >/dev/null 2>&1") == 0 && system("ffprobe -version >/dev/null 2>&1") == 0;
}

/* ferc, a fresh folder and a random-weight seed model (48x48 input) in it. */
#define SETUP(dir, model)                                                                   \
    NEED_FERC();                                                                            \
    char dir[1024];                                                                         \
    snprintf(dir, sizeof dir, "%s", test_tmpdir());                                         \
    const char *model = cli_make_model(dir, 7, NULL, 0);                                    \
    CHECK(model != NULL);                                                                   \
    if (!model) return

#define NEED_DETECTOR()                                                                     \
    do {                                                                                    \
        if (access(COINS, R_OK) || access(ASTRONAUT, R_OK))                                 \
            SKIP("no " SKIMAGE_DIR " (apt-get install python3-skimage)");                  \
        if (!have_cascade()) SKIP("no Haar cascade (apt-get install opencv-data)");         \
    } while (0)

/* ---- the library: a confidence per face, most confident first ---- */

static int box_eq(ferc_box a, ferc_box b) { return a.x == b.x && a.y == b.y && a.w == b.w && a.h == b.h; }

/* The default cascade, a random seed model and the gray photo; 0 (a failed
 * check recorded) when any of them does not load. */
static int detector_and_photo(const char *photo, ferc_cascade **cas, ferc_model **m, ferc_image *g) {
    ferc_error err;
    CHECK_EQ_INT(ferc_cascade_load(NULL, cas, &err), FERC_OK);
    CHECK_EQ_INT(ferc_model_create("seed", 3, m, &err), FERC_OK);
    CHECK_EQ_INT(ferc_image_load(photo, 1, g, &err), FERC_OK);
    return !test_failed_now();
}

/* On coins.png the cascade finds 6 "faces" (coins) with 6 to 12 votes, not
 * in vote order: ferc_find_faces returns the same boxes ordered by votes
 * (ties in the detector's order), confidence = votes / (votes + 10), the
 * probabilities of exactly those boxes, and keeps the best N / the largest
 * on request. */
TEST(detect_find_faces_orders_by_confidence) {
    NEED_DETECTOR();
    ferc_cascade *cas;
    ferc_model *m;
    ferc_error err;
    ferc_image g;
    if (!detector_and_photo(COINS, &cas, &m, &g)) return;
    ferc_box ref[64];
    int nb[64], nref = 0;
    CHECK_EQ_INT(ferc_detect_faces_counted(cas, g.data, g.w, g.h, g.w, NULL, ref, nb, 64, &nref, 1, &err), FERC_OK);
    CHECK_MSG(nref >= 3 && nref <= 64, "coins.png: %d faces", nref);
    int plain = 0;
    ferc_box pb[64];
    CHECK_EQ_INT(ferc_detect_faces(cas, g.data, g.w, g.h, g.w, NULL, pb, 64, &plain, &err), FERC_OK);
    CHECK(plain == nref && memcmp(pb, ref, sizeof(ferc_box) * (size_t)nref) == 0); /* detector unchanged */
    int sorted_already = 1;
    for (int i = 1; i < nref; i++) sorted_already &= nb[i - 1] >= nb[i];
    CHECK_MSG(!sorted_already, "coins.png no longer shows the reordering");

    ferc_faces f = {0};
    CHECK_EQ_INT(ferc_find_faces(cas, m, g.data, g.w, g.h, g.w, NULL, &f, &err), FERC_OK);
    CHECK_EQ_INT(f.n, nref);
    int used[64] = {0};
    for (int i = 0; i < f.n && f.n == nref; i++) {
        int j = 0; /* the first unused detector box with this position: ties stay in order */
        while (j < nref && (used[j] || !box_eq(ref[j], f.boxes[i]))) j++;
        CHECK_MSG(j < nref, "face %d is not a detector box", i);
        if (j == nref) break;
        used[j] = 1;
        CHECK_EQ_INT(f.neighbors[i], nb[j]);
        CHECK_NEAR(f.confidence[i], nb[j] / (nb[j] + 10.0), 1e-6);
        CHECK(f.confidence[i] > 0 && f.confidence[i] < 1);
        if (i) {
            CHECK(f.confidence[i - 1] >= f.confidence[i]);
            if (f.neighbors[i - 1] == f.neighbors[i]) { /* a tie: the detector's order */
                int k = 0;
                while (k < nref && !box_eq(ref[k], f.boxes[i - 1])) k++;
                CHECK(k < j);
            }
        }
    }
    float *p = malloc(sizeof(float) * 7 * (size_t)(nref + 1));
    CHECK_EQ_INT(ferc_classify_faces(m, g.data, g.w, g.h, g.w, f.boxes, f.n, 0.1f, p, &err), FERC_OK);
    CHECK(memcmp(p, f.probs, sizeof(float) * 7 * (size_t)f.n) == 0);
    ferc_box first[2] = {f.boxes[0], f.boxes[1]};
    int largest = 0;
    for (int i = 1; i < nref; i++)
        if ((long)ref[i].w * ref[i].h > (long)ref[largest].w * ref[largest].h) largest = i;

    ferc_find_opts o;
    ferc_find_opts_default(&o);
    CHECK(o.max_faces == 0 && o.largest == 0);
    o.max_faces = 2;
    CHECK_EQ_INT(ferc_find_faces(cas, m, g.data, g.w, g.h, g.w, &o, &f, &err), FERC_OK);
    CHECK(f.n == 2 && box_eq(f.boxes[0], first[0]) && box_eq(f.boxes[1], first[1]));
    CHECK(memcmp(p, f.probs, sizeof(float) * 7 * 2) == 0);
    o.max_faces = 0;
    o.largest = 1;
    CHECK_EQ_INT(ferc_find_faces(cas, m, g.data, g.w, g.h, g.w, &o, &f, &err), FERC_OK);
    CHECK(f.n == 1 && box_eq(f.boxes[0], ref[largest]));
    CHECK_NEAR(f.confidence[0], nb[largest] / (nb[largest] + 10.0), 1e-6);
    o.largest = 0;
    o.max_faces = -1;
    CHECK_EQ_INT(ferc_find_faces(cas, m, g.data, g.w, g.h, g.w, &o, &f, &err), FERC_ERR_ARG);
    CHECK_EQ_INT(f.n, 0);
    ferc_faces_free(&f);
    CHECK(!f.confidence && !f.neighbors && f.cap == 0);
    free(p);
    ferc_image_free(&g);
    ferc_model_free(m);
    ferc_cascade_free(cas);
}

/* The astronaut at twice her size: the detector lists a false face on her
 * suit before her real face; ordered by confidence the real one comes first. */
TEST(detect_find_faces_real_face_first) {
    NEED_DETECTOR();
    ferc_cascade *cas;
    ferc_model *m;
    ferc_error err;
    ferc_image g;
    if (!detector_and_photo(ASTRONAUT, &cas, &m, &g)) return;
    int W = 2 * g.w, H = 2 * g.h;
    uint8_t *big = malloc((size_t)W * H);
    void *tmp = malloc(ferc_detect_resize_tmp_size(W, H));
    ferc_detect_resize_exact(g.data, g.w, g.h, g.w, big, W, H, W, tmp);
    ferc_box ref[16];
    int n = 0;
    CHECK_EQ_INT(ferc_detect_faces(cas, big, W, H, W, NULL, ref, 16, &n, &err), FERC_OK);
    /* her face in the original is at 177,66 95x95 */
    ferc_box real = {.x = 354, .y = 132, .w = 190, .h = 190};
    int at = -1;
    for (int i = 0; i < n && i < 16; i++)
        if (abs(ref[i].x - real.x) < 30 && abs(ref[i].y - real.y) < 30 && abs(ref[i].w - real.w) < 30) at = i;
    CHECK_MSG(n >= 2 && at > 0, "detector: %d faces, the real one at %d (the test wants it after a false one)", n, at);
    ferc_faces f = {0};
    CHECK_EQ_INT(ferc_find_faces(cas, m, big, W, H, W, NULL, &f, &err), FERC_OK);
    CHECK(f.n == n && at >= 0 && box_eq(f.boxes[0], ref[at]));
    CHECK(f.n >= 2 && f.confidence[0] > f.confidence[1]);
    ferc_faces_free(&f);
    free(big);
    free(tmp);
    ferc_image_free(&g);
    ferc_model_free(m);
    ferc_cascade_free(cas);
}

/* ---- predict ---- */

/* The confidence is in the text, the JSON and the CSV, faces in its order;
 * --max-faces and --largest keep what they say. */
TEST(predict_cli_face_confidence_in_every_output) {
    NEED_DETECTOR();
    SETUP(dir, model);
    ferc_cascade *cas;
    ferc_error err;
    ferc_image g;
    CHECK_EQ_INT(ferc_cascade_load(NULL, &cas, &err), FERC_OK);
    CHECK_EQ_INT(ferc_image_load(COINS, 1, &g, &err), FERC_OK);
    ferc_box ref[64];
    int nb[64], n = 0;
    CHECK_EQ_INT(ferc_detect_faces_counted(cas, g.data, g.w, g.h, g.w, NULL, ref, nb, 64, &n, 1, &err), FERC_OK);
    ferc_image_free(&g);
    ferc_cascade_free(cas);
    int best = 0, largest = 0;
    for (int i = 1; i < n && i < 64; i++) {
        if (nb[i] > nb[best]) best = i;
        if ((long)ref[i].w * ref[i].h > (long)ref[largest].w * ref[largest].h) largest = i;
    }
    char want[2400];
    CHECK_EQ_INT(cli_run(dir, "'%s' predict --model '%s' '%s'", ferc, model, COINS), 0);
    char *o = cli_out(dir);
    snprintf(want, sizeof want, "  face 1 at %d,%d %dx%d (confidence %.2f): ", ref[best].x, ref[best].y, ref[best].w,
             ref[best].h, nb[best] / (nb[best] + 10.0));
    CHECK_MSG(o && strstr(o, want), "text lacks '%s':\n%s", want, o ? o : "");
    free(o);

    CHECK_EQ_INT(cli_run(dir, "'%s' predict --model '%s' --json '%s'", ferc, model, COINS), 0);
    o = cli_out(dir);
    CHECK(o && cli_count_lines(o) == 1 && strstr(o, "\"whole_image\": false"));
    double last = 2;
    int seen = 0;
    for (const char *q = o; q && (q = strstr(q, "\"face_confidence\": ")); seen++) {
        q += strlen("\"face_confidence\": ");
        double c = strtod(q, NULL);
        CHECK(c > 0 && c < 1 && c <= last);
        last = c;
    }
    CHECK_EQ_INT(seen, n);
    snprintf(want, sizeof want, "\"faces\": [{\"box\": [%d, %d, %d, %d], \"face_confidence\": %.4f, ", ref[best].x,
             ref[best].y, ref[best].w, ref[best].h, nb[best] / (nb[best] + 10.0));
    CHECK_MSG(o && strstr(o, want), "JSON lacks '%s'", want);
    free(o);

    CHECK_EQ_INT(cli_run(dir, "cd '%s' && '%s' predict --model '%s' --csv - --max-faces 2 '%s'", dir, ferc, model, COINS), 0);
    o = cli_out(dir);
    CHECK(starts(o, "image,face,x,y,w,h,face_confidence,emotion,angry,") && cli_count_lines(o) == 3);
    snprintf(want, sizeof want, "%s,1,%d,%d,%d,%d,%.4f,", COINS, ref[best].x, ref[best].y, ref[best].w, ref[best].h,
             nb[best] / (nb[best] + 10.0));
    CHECK_MSG(o && strstr(o, want), "CSV lacks '%s':\n%s", want, o ? o : "");
    free(o);

    CHECK_EQ_INT(cli_run(dir, "'%s' predict --model '%s' --largest '%s'", ferc, model, COINS), 0);
    o = cli_out(dir);
    snprintf(want, sizeof want, ": 1 face\n  face 1 at %d,%d %dx%d ", ref[largest].x, ref[largest].y, ref[largest].w,
             ref[largest].h);
    CHECK_MSG(o && strstr(o, want) && cli_count_lines(o) == 2, "--largest: %s", o ? o : "");
    free(o);
    CHECK_EQ_INT(cli_run(dir, "'%s' predict --model '%s' --max-faces 0 '%s'", ferc, model, COINS), 2);
    CHECK(!test_exists(test_path(dir, "-")));
}

/* An image no larger than twice the model's input is a crop: classified
 * whole (as --no-detect), and said so in the text, JSON and CSV; a larger
 * image without faces gets the hint. */
TEST(predict_cli_small_image_is_a_whole_face) {
    SETUP(dir, model);
    if (!have_cascade()) SKIP("no Haar cascade (apt-get install opencv-data)");
    uint8_t px[48 * 48], flat[120 * 120];
    for (int i = 0; i < 48 * 48; i++) px[i] = (uint8_t)((i * 31 + (i / 48) * 7) & 255);
    memset(flat, 90, sizeof flat);
    char face[1100], big[1100];
    snprintf(face, sizeof face, "%s/face48.png", dir);
    snprintf(big, sizeof big, "%s/flat120.png", dir);
    CHECK(save_gray(face, px, 48, 48) && save_gray(big, flat, 120, 120));
    float ref[7];
    ferc_model *m;
    ferc_error err;
    CHECK_EQ_INT(ferc_model_load(model, &m, &err), FERC_OK);
    ferc_box whole = {0, 0, 48, 48};
    CHECK_EQ_INT(ferc_classify_faces(m, px, 48, 48, 48, &whole, 1, 0, ref, &err), FERC_OK);
    ferc_model_free(m);
    int top = 0;
    for (int k = 1; k < 7; k++) if (ref[k] > ref[top]) top = k;

    CHECK_EQ_INT(cli_run(dir, "'%s' predict --model '%s' '%s'", ferc, model, face), 0);
    char *o = cli_out(dir), want[2400];
    snprintf(want, sizeof want, "%s: whole image: %s %.3f (", face, ferc_label_name(top), ref[top]);
    CHECK_MSG(o && strncmp(o, want, strlen(want)) == 0, "got '%s', want '%s'", o ? o : "", want);
    free(o);
    CHECK_EQ_INT(cli_run(dir, "'%s' predict --model '%s' --json '%s'", ferc, model, face), 0);
    o = cli_out(dir);
    CHECK(o && strstr(o, "\"whole_image\": true, \"faces\": [{\"box\": [0, 0, 48, 48], \"face_confidence\": null, "));
    free(o);
    CHECK_EQ_INT(cli_run(dir, "cd '%s' && '%s' predict --model '%s' --csv - '%s'", dir, ferc, model, face), 0);
    o = cli_out(dir);
    snprintf(want, sizeof want, "\n%s,1,0,0,48,48,,%s,", face, ferc_label_name(top));
    CHECK_MSG(o && strstr(o, want) && strstr(o, ",1,\n"), "CSV: %s", o ? o : "");
    free(o);
    /* the same with --no-detect */
    CHECK_EQ_INT(cli_run(dir, "'%s' predict --model '%s' --no-detect '%s'", ferc, model, face), 0);
    o = cli_out(dir);
    CHECK(o && strstr(o, ": whole image: "));
    free(o);
    /* 120x120 > 2 x 48: detected, nothing found, with the hint */
    CHECK_EQ_INT(cli_run(dir, "'%s' predict --model '%s' '%s'", ferc, model, big), 0);
    o = cli_out(dir);
    CHECK_MSG(o && strstr(o, "flat120.png: no face found") && strstr(o, "--no-detect") && strstr(o, "--min-size"),
              "got %s", o ? o : "");
    free(o);
}

/* Outputs are checked before the first image: --annotate naming a file, a
 * CSV or JSON in a missing folder or naming a folder stop at once, with
 * nothing on stdout; a run in which no image could be read leaves no CSV;
 * a finished run leaves no temporary file. */
TEST(predict_cli_outputs_checked_before_work) {
    SETUP(dir, model);
    if (!have_cascade()) SKIP("no Haar cascade (apt-get install opencv-data)");
    uint8_t px[100 * 100];
    memset(px, 80, sizeof px);
    char img[1100], file[1100];
    snprintf(img, sizeof img, "%s/gray.png", dir);
    snprintf(file, sizeof file, "%s/file.txt", dir);
    CHECK(save_gray(img, px, 100, 100));
    FILE *f = fopen(file, "w");
    if (f) { fputs("not a folder\n", f); fclose(f); }
    struct { const char *args, *says; } bad[] = {
        {"--annotate '%s/file.txt'", "not a folder"},
        {"--csv '%s/nodir/x.csv'", "no folder"},
        {"--csv '%s'", "is a folder"},
        {"--json='%s/nodir/x.json'", "no folder"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        char args[1200], cmd[4000];
        snprintf(args, sizeof args, bad[k].args, dir);
        snprintf(cmd, sizeof cmd, "'%s' predict --model '%s' %s '%s' '%s'", ferc, model, args, img, img);
        CHECK_EQ_INT(cli_run(dir, "%s", cmd), 1);
        char *o = cli_out(dir), *e = cli_err(dir);
        CHECK_MSG(o && o[0] == 0, "%s: stdout '%s'", args, o ? o : "");
        CHECK_MSG(e && strstr(e, bad[k].says) && lines_starting(e, "ferc") == 1, "%s: stderr '%s'", args, e ? e : "");
        free(o);
        free(e);
    }
    CHECK(!test_exists(test_path(dir, "nodir")));
    /* only an unreadable image: exit 1 and no CSV, no JSON */
    char out[1100];
    snprintf(out, sizeof out, "%s/outs", dir);
    mkdir(out, 0700);
    CHECK_EQ_INT(cli_run(dir, "'%s' predict --model '%s' --csv '%s/r.csv' --json='%s/r.json' '%s'", ferc, model, out, out,
                     file), 1);
    CHECK_EQ_INT(entries(out), 0);
    /* a good run: the files and nothing else */
    CHECK_EQ_INT(cli_run(dir, "'%s' predict --model '%s' --csv '%s/r.csv' --json='%s/r.json' '%s'", ferc, model, out, out,
                     img), 0);
    CHECK(test_exists(test_path(out, "r.csv")) && test_exists(test_path(out, "r.json")));
    CHECK_EQ_INT(entries(out), 2);
    char *o = cli_out(dir);
    CHECK(o && strstr(o, "gray.png: no face found")); /* --json=FILE keeps the text on stdout */
    free(o);
    char *j = test_read(test_path(out, "r.json"), NULL);
    CHECK(j && cli_count_lines(j) == 1 && strstr(j, "\"whole_image\": false, \"faces\": []"));
    free(j);
    /* the temporary file's private 0600 is not what the user gets */
    struct stat st;
    mode_t um = umask(0);
    umask(um);
    CHECK(stat(test_path(out, "r.csv"), &st) == 0 && (st.st_mode & 0777) == (0666 & ~um));
}

/* "-" is stdout for --csv and --json: no file named "-". */
TEST(predict_cli_dash_means_stdout) {
    SETUP(dir, model);
    if (!have_cascade()) SKIP("no Haar cascade (apt-get install opencv-data)");
    uint8_t px[100 * 100];
    memset(px, 60, sizeof px);
    CHECK(save_gray(test_path(dir, "g.png"), px, 100, 100));
    CHECK_EQ_INT(cli_run(dir, "cd '%s' && '%s' predict --model '%s' --csv - g.png", dir, ferc, model), 0);
    char *o = cli_out(dir);
    CHECK(o && strncmp(o, "image,face,", 11) == 0 && strstr(o, "\ng.png,") && cli_count_lines(o) == 2);
    CHECK(o && !strstr(o, "no face found")); /* the CSV replaces the text */
    free(o);
    CHECK(!test_exists(test_path(dir, "-")));
    CHECK_EQ_INT(cli_run(dir, "cd '%s' && '%s' predict --model '%s' --json=- g.png", dir, ferc, model), 0);
    o = cli_out(dir);
    CHECK(o && o[0] == '{' && cli_count_lines(o) == 1);
    free(o);
    CHECK(!test_exists(test_path(dir, "-")));
    CHECK_EQ_INT(cli_run(dir, "cd '%s' && '%s' predict --model '%s' --csv - --json g.png", dir, ferc, model), 2);
}

/* Annotated images keep the source's full name (x.jpg -> x.jpg.png, so x.jpg
 * and x.png do not collide) and the path is in the CSV and JSON. */
TEST(predict_cli_annotate_keeps_source_name) {
    SETUP(dir, model);
    if (!have_cascade()) SKIP("no Haar cascade (apt-get install opencv-data)");
    if (access(SKIMAGE_DIR "rocket.jpg", R_OK)) SKIP("no " SKIMAGE_DIR "rocket.jpg (apt-get install python3-skimage)");
    char in[1100], ann[1100];
    snprintf(in, sizeof in, "%s/in", dir);
    snprintf(ann, sizeof ann, "%s/ann", dir);
    mkdir(in, 0700);
    char cp[3000];
    snprintf(cp, sizeof cp, "cp '%s' '%s/x.jpg'", SKIMAGE_DIR "rocket.jpg", in);
    CHECK_EQ_INT(system(cp), 0);
    uint8_t px[120 * 90];
    memset(px, 200, sizeof px);
    CHECK(save_gray(test_path(in, "x.png"), px, 120, 90));
    CHECK_EQ_INT(cli_run(dir, "'%s' predict --model '%s' --annotate '%s' --csv '%s/r.csv' --json '%s'", ferc, model, ann,
                     dir, in), 0);
    CHECK(test_exists(test_path(ann, "x.jpg.png")) && test_exists(test_path(ann, "x.png.png")));
    CHECK(!test_exists(test_path(ann, "x.png")) && !test_exists(test_path(ann, "x_2.png")));
    CHECK_EQ_INT(entries(ann), 2);
    char *o = cli_out(dir), *c = test_read(test_path(dir, "r.csv"), NULL), want[2400];
    snprintf(want, sizeof want, "\"annotated\": \"%s/x.jpg.png\"}", ann);
    CHECK_MSG(o && strstr(o, want), "JSON lacks %s", want);
    snprintf(want, sizeof want, ",0,%s/x.png.png\n", ann);
    CHECK_MSG(c && strstr(c, want) && strstr(c, ",whole_image,annotated\n"), "CSV lacks %s:\n%s", want, c ? c : "");
    free(o);
    free(c);
}

/* Typos get a suggestion: commands, predict's and video's options. */
TEST(cli_did_you_mean) {
    NEED_FERC();
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", test_tmpdir());
    struct { const char *args, *want; } cases[] = {
        {"trian", "did you mean 'train'?"},
        {"predcit x.png", "did you mean 'predict'?"},
        {"predict --min-sise 40 x.png", "did you mean '--min-size'?"},
        {"predict --jsno x.png", "did you mean '--json'?"},
        {"predict --max-face=2 x.png", "did you mean '--max-faces'?"},
        {"video in.mp4 --evry 2", "did you mean '--every'?"},
        {"video in.mp4 --anotate o.mp4", "did you mean '--annotate'?"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        CHECK_EQ_INT(cli_run(dir, "'%s' %s", ferc, cases[k].args), 2);
        char *e = cli_err(dir);
        CHECK_MSG(e && strstr(e, cases[k].want) && cli_count_lines(e) <= 2, "ferc %s: %s", cases[k].args, e ? e : "");
        free(e);
    }
    CHECK_EQ_INT(cli_run(dir, "'%s' predict --zzzzzz x.png", ferc), 2);
    char *e = cli_err(dir);
    CHECK(e && strstr(e, "unknown option '--zzzzzz'") && !strstr(e, "did you mean"));
    free(e);
    CHECK_EQ_INT(cli_run(dir, "'%s' zzzzzz", ferc), 2);
    e = cli_err(dir);
    CHECK(e && strstr(e, "unknown command 'zzzzzz'") && strstr(e, "predict") && cli_count_lines(e) == 2);
    free(e);
}

/* -q with nothing to write is refused; an empty folder is an error, not
 * "0 images"; one image is "1 image"; the model is named; --threads 0 is
 * every core. */
TEST(predict_cli_refusals_plurals_and_model_line) {
    NEED_DETECTOR();
    SETUP(dir, model);
    CHECK_EQ_INT(cli_run(dir, "'%s' predict --model '%s' -q '%s'", ferc, model, ASTRONAUT), 2);
    char *e = cli_err(dir), *o = cli_out(dir);
    CHECK(e && strstr(e, "nothing to do") && o && o[0] == 0);
    free(e);
    free(o);
    char empty[1100], one[1100];
    snprintf(empty, sizeof empty, "%s/empty", dir);
    snprintf(one, sizeof one, "%s/one", dir);
    mkdir(empty, 0700);
    mkdir(one, 0700);
    CHECK_EQ_INT(cli_run(dir, "'%s' predict --model '%s' '%s'", ferc, model, empty), 1);
    e = cli_err(dir);
    CHECK(e && strstr(e, "no files") && !strstr(e, "0 images"));
    free(e);
    char cp[3000];
    snprintf(cp, sizeof cp, "cp '%s' '%s/'", ASTRONAUT, one);
    CHECK_EQ_INT(system(cp), 0);
    CHECK_EQ_INT(cli_run(dir, "'%s' predict --model '%s' --threads 0 '%s'", ferc, model, one), 0);
    e = cli_err(dir);
    char want[2300];
    snprintf(want, sizeof want, "model: %s (seed, 48x48)\n", model);
    CHECK_MSG(e && strstr(e, want) && lines_starting(e, "model: ") == 1, "stderr: %s", e ? e : "");
    CHECK_MSG(e && strstr(e, "predict: 1 image, 1 face in "), "stderr: %s", e ? e : "");
    free(e);
    CHECK_EQ_INT(cli_run(dir, "'%s' predict --help", ferc), 0);
    o = cli_out(dir);
    CHECK(o && strstr(o, "--max-faces") && strstr(o, "--largest") && strstr(o, "0 = every core") &&
          strstr(o, "photo.jpg.png") && strstr(o, "face_confidence") && strstr(o, "whole image"));
    free(o);
}

/* ---- video ---- */

/* Is c (printed with 4 decimals) N / (N + 10) for a whole N >= min_votes? */
static int is_vote_confidence(double c, int min_votes) {
    if (!(c > 0 && c < 1)) return 0;
    double n = 10 * c / (1 - c);
    return n >= min_votes - 0.1 && fabs(n - round(n)) < 0.05;
}

/* A 3-frame clip of the astronaut in dir/clip.mp4; 0 when ffmpeg failed. */
static int make_clip(const char *dir) {
    char cmd[3000];
    snprintf(cmd, sizeof cmd,
             "ffmpeg -v error -y -loop 1 -i '%s' -frames:v 3 -r 5 -c:v libx264 -pix_fmt yuv420p '%s/clip.mp4' "
             ">/dev/null 2>&1", ASTRONAUT, dir);
    return system(cmd) == 0;
}

/* Errors are one line of ours: a missing input, not a video, an output in
 * a missing folder (checked before the work: no CSV left), an encoder that
 * cannot write its format (no ffmpeg "Broken pipe", nothing left). */
TEST(video_cli_errors_are_one_line) {
    SETUP(dir, model);
    CHECK_EQ_INT(cli_run(dir, "'%s' video '%s/clip.mp4' --model '%s'", ferc, dir, model), 1);
    char *e = cli_err(dir), want[2400];
    snprintf(want, sizeof want, "ferc: %s/clip.mp4: no such file\n", dir);
    CHECK_MSG(e && strcmp(e, want) == 0, "stderr: '%s'", e ? e : "");
    free(e);
    CHECK_EQ_INT(cli_run(dir, "'%s' video '%s' --model '%s'", ferc, dir, model), 1);
    e = cli_err(dir);
    CHECK(e && cli_count_lines(e) == 1 && strstr(e, "is a folder"));
    free(e);
    if (!have_ffmpeg()) SKIP("ffmpeg is not installed (apt-get install ffmpeg): the rest skipped");
    if (!have_cascade() || access(ASTRONAUT, R_OK)) SKIP("no cascade or skimage data");
    CHECK(make_clip(dir));
    char csv[1100];
    snprintf(csv, sizeof csv, "%s/v.csv", dir);
    CHECK_EQ_INT(cli_run(dir, "'%s' video '%s' --model '%s' --csv '%s'", ferc, model, model, csv), 1);
    e = cli_err(dir);
    CHECK_MSG(e && cli_count_lines(e) == 1 && strstr(e, "not a readable video"), "stderr: %s", e ? e : "");
    free(e);
    CHECK(!test_exists(csv));
    CHECK_EQ_INT(cli_run(dir, "'%s' video '%s/clip.mp4' --model '%s' --csv '%s' --annotate '%s/nodir/o.mp4'", ferc, dir,
                     model, csv, dir), 1);
    e = cli_err(dir);
    CHECK_MSG(e && cli_count_lines(e) == 1 && strstr(e, "nodir"), "stderr: %s", e ? e : "");
    free(e);
    CHECK(!test_exists(csv));
    int before = entries(dir);
    CHECK_EQ_INT(cli_run(dir, "'%s' video '%s/clip.mp4' --model '%s' --csv '%s' --annotate '%s/o.zzz'", ferc, dir, model,
                     csv, dir), 1);
    e = cli_err(dir);
    CHECK_MSG(e && lines_starting(e, "ferc") == 1 && strstr(e, "o.zzz") && !strstr(e, "Broken pipe") &&
              cli_count_lines(e) == lines_starting(e, "ferc") + lines_starting(e, "model: "), "stderr: %s", e ? e : "");
    free(e);
    CHECK(!test_exists(csv) && !test_exists(test_path(dir, "o.zzz")));
    CHECK_EQ_INT(entries(dir), before); /* no temporary left */
}

/* Without --csv the CSV goes to stdout, with the confidence; --json and
 * --max-faces work as in predict; an annotated video appears whole. */
TEST(video_cli_stdout_csv_json_and_confidence) {
    SETUP(dir, model);
    if (!have_ffmpeg()) SKIP("ffmpeg is not installed (apt-get install ffmpeg)");
    NEED_DETECTOR();
    CHECK(make_clip(dir));
    CHECK_EQ_INT(cli_run(dir, "cd '%s' && '%s' video clip.mp4 --model '%s'", dir, ferc, model), 0);
    char *o = cli_out(dir);
    CHECK_MSG(starts(o, "frame,time,face,x,y,w,h,face_confidence,emotion,angry,") &&
              cli_count_lines(o) == 4 && strstr(o, "\n0,0.000,1,"), "stdout: %s", o ? o : "");
    /* face_confidence of the astronaut's face: N / (N + 10) for her N votes */
    const char *row = o ? strstr(o, "\n0,0.000,1,") : NULL;
    double c = -1;
    if (row) {
        int commas = 0;
        while (*row && commas < 7) commas += *row++ == ',';
        c = strtod(row, NULL);
    }
    CHECK_MSG(is_vote_confidence(c, 20), "confidence %g", c);
    free(o);
    CHECK(!test_exists(test_path(dir, "-")));
    CHECK_EQ_INT(cli_run(dir, "cd '%s' && '%s' video clip.mp4 --model '%s' --json --max-faces 1 --annotate a.mp4 --every 2",
                     dir, ferc, model), 0);
    o = cli_out(dir);
    CHECK(o && cli_count_lines(o) == 2 && starts(o, "{\"frame\": 0, \"time\": 0.000, \"faces\": [{\"box\": [") &&
          strstr(o, "{\"frame\": 2, \"time\": 0.400, "));
    const char *q = o ? strstr(o, "\"face_confidence\": ") : NULL;
    CHECK(q && is_vote_confidence(strtod(q + strlen("\"face_confidence\": "), NULL), 20));
    free(o);
    char *e = cli_err(dir), want[2300];
    snprintf(want, sizeof want, "model: %s (seed, 48x48)\n", model);
    CHECK(e && strstr(e, want) && strstr(e, "video: 3 frames (2 analysed, 2 faces)"));
    free(e);
    struct stat st;
    CHECK(stat(test_path(dir, "a.mp4"), &st) == 0 && st.st_size > 1000);
    CHECK_EQ_INT(cli_run(dir, "cd '%s' && '%s' video clip.mp4 --model '%s' --json --csv -", dir, ferc, model), 2);
}

/* Interrupted (SIGTERM) while the CSV and the annotated video are being
 * written: neither the files nor their temporaries are left, and the
 * encoder does not create its output after we are gone. */
TEST(video_cli_interrupt_leaves_nothing) {
    SETUP(dir, model);
    if (!have_ffmpeg()) SKIP("ffmpeg is not installed (apt-get install ffmpeg)");
    NEED_DETECTOR();
    char out[1100], cmd[8000];
    snprintf(out, sizeof out, "%s/out", dir);
    mkdir(out, 0700);
    snprintf(cmd, sizeof cmd,
             "ffmpeg -v error -y -loop 1 -i '%s' -frames:v 200 -r 25 -vf scale=1024:1024 -c:v libx264 -preset "
             "ultrafast -pix_fmt yuv420p '%s/long.mp4' >/dev/null 2>&1", ASTRONAUT, dir);
    CHECK_EQ_INT(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "'%s' video '%s/long.mp4' --model '%s' --csv '%s/v.csv' --annotate '%s/a.mp4' "
             "--threads 1 >/dev/null 2>&1 & echo $! > '%s/pid'", ferc, dir, model, out, out, dir);
    CHECK_EQ_INT(system(cmd), 0);
    char *pid = NULL;
    for (int i = 0; i < 100 && !(pid = test_read(test_path(dir, "pid"), NULL)); i++) usleep(50000);
    int started = 0;
    for (int i = 0; i < 200 && !started; i++) { /* both temporaries exist: the work is under way */
        started = entries(out) == 2;
        if (!started) usleep(50000);
    }
    CHECK_MSG(started, "the temporary files did not appear");
    usleep(300000);
    snprintf(cmd, sizeof cmd, "kill -TERM %d", pid ? atoi(pid) : -1);
    CHECK_EQ_INT(system(cmd), 0);
    for (int i = 0; i < 100; i++) { /* gone when kill -0 fails */
        snprintf(cmd, sizeof cmd, "kill -0 %d 2>/dev/null", pid ? atoi(pid) : -1);
        if (system(cmd) != 0) break;
        usleep(50000);
    }
    free(pid);
    usleep(500000); /* an encoder left running would create its file now */
    CHECK_EQ_INT(entries(out), 0);
}
