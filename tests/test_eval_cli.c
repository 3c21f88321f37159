/* test_eval_cli.c — `ferc eval` and `ferc report` as real processes, for a
 * new user's first hour (issue 20, issue 13 item 6): without --usage both
 * score the test rows by one rule (PublicTest, else PrivateTest, else every
 * row of a file without a Usage column) and say so on their first line;
 * eval prints the loss and keeps --json one JSON object; a folder of whole
 * photos is evaluated on the faces the detector finds, and a folder without
 * any face is an error rather than a figure; the report folder honours the
 * umask. */
#include "test.h"
#include "cli_util.h"
#include "ferc.h"
#include "detect/detect.h"
#include "model/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SKIMAGE_DIR "/usr/lib/python3/dist-packages/skimage/data/"

/* The first line of dir/name (static buffer; "" when empty or missing). */
static const char *first_line(const char *dir, const char *name) {
    static char line[1024];
    line[0] = 0;
    char *t = test_read(test_path(dir, name), NULL);
    if (t) {
        size_t n = strcspn(t, "\n");
        snprintf(line, sizeof line, "%.*s", (int)(n < sizeof line ? n : sizeof line - 1), t);
    }
    free(t);
    return line;
}

/* A random-weight seed model with a short training history (a report needs
 * the curves), saved as dir/model.ferc. */
static const char *make_model(const char *dir) {
    ferc_epoch_stats h[3];
    for (int e = 0; e < 3; e++)
        h[e] = (ferc_epoch_stats){.epoch = e + 1, .train_loss = 1.8f - 0.2f * e, .train_acc = 0.3f + 0.05f * e,
                                  .val_loss = 1.85f - 0.15f * e, .val_acc = 0.28f + 0.04f * e, .lr = 1e-3f,
                                  .seconds = 10, .val_macro_f1 = 0.2f + 0.03f * e};
    return cli_make_model(dir, 7, h, 3);
}

/* Without --usage, eval scores the test rows and names them first: the old
 * default scored every row, Training included, and said "(all)". */
TEST(eval_cli_default_rows_are_the_test_rows) {
    NEED_FERC();
    const char *dir = test_tmpdir();
    const char *model = make_model(dir);
    CHECK(model != NULL);
    if (!model) return;
    static const struct { const char *csv; int n[3], no_usage; const char *args, *first; int rc; } cases[] = {
        {"three.csv", {10, 4, 5}, 0, "", "PublicTest: 4 faces", 0},
        {"private.csv", {10, 0, 5}, 0, "", "PrivateTest: 5 faces (the file has no PublicTest rows)", 0},
        {"nousage.csv", {6, 0, 0}, 1, "", "all: 6 faces (the file has no Usage column)", 0},
        {"three.csv", {10, 4, 5}, 0, "--usage all", "all: 19 faces", 0},
        {"three.csv", {10, 4, 5}, 0, "--usage Training", "Training: 10 faces", 0},
        {"three.csv", {10, 4, 5}, 0, "--usage PrivateTest", "PrivateTest: 5 faces", 0},
        {"private1.csv", {3, 0, 1}, 0, "", "PrivateTest: 1 face (the file has no PublicTest rows)", 0},
        {"training.csv", {8, 0, 0}, 0, "", "", 1},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const char *csv = test_path(dir, cases[c].csv);
        cli_write_csv(csv, cases[c].n, cases[c].no_usage);
        int rc = cli_run(dir, "'%s' eval --threads 1 --model '%s' --data '%s' %s", ferc, model, csv, cases[c].args);
        CHECK_MSG(rc == cases[c].rc, "%s %s: exit %d", cases[c].csv, cases[c].args, rc);
        const char *got = first_line(dir, "out.txt");
        CHECK_MSG(strcmp(got, cases[c].first) == 0, "%s %s: first line '%s', want '%s'", cases[c].csv,
                  cases[c].args, got, cases[c].first);
        char *out = cli_out(dir), *err = cli_err(dir);
        if (cases[c].rc == 0) CHECK_MSG(out && strstr(out, "accuracy: ") && strstr(out, "   loss: "), "no loss in: %.300s", out ? out : "");
        else CHECK_MSG(err && strstr(err, "no test rows") && strstr(err, "8 Training rows"), "stderr: %.300s", err ? err : "");
        free(out);
        free(err);
    }
}

/* The loss beside the accuracy, in text and in --json, equals the mean
 * cross-entropy of the library's probabilities; --json stays one JSON
 * object (the rows line goes to stderr and into the object). */
TEST(eval_cli_loss_and_json) {
    NEED_FERC();
    const char *dir = test_tmpdir();
    const char *model = make_model(dir);
    CHECK(model != NULL);
    if (!model) return;
    const char *csv = test_path(dir, "three.csv");
    cli_write_csv(csv, (const int[3]){10, 9, 5}, 0);
    ferc_model *m;
    ferc_error err;
    ferc_dataset d;
    ferc_load_opts lo = {.usage = FERC_USAGE_PUBLICTEST};
    CHECK_EQ_INT(ferc_model_load(model, &m, &err), FERC_OK);
    CHECK_EQ_INT(ferc_dataset_load(csv, &lo, &d, &err), FERC_OK);
    if (test_failed_now()) return;
    float probs[9 * FERC_NUM_CLASSES];
    ferc_metrics met;
    CHECK_EQ_INT(ferc_evaluate(m, &d, 1, NULL, probs, &met, &err), FERC_OK);
    double want = 0;
    for (int i = 0; i < d.n; i++) want -= log(fmax(probs[i * FERC_NUM_CLASSES + d.label[i]], 1e-7)) / d.n;
    ferc_dataset_free(&d);
    ferc_model_free(m);

    CHECK_EQ_INT(cli_run(dir, "'%s' eval --threads 1 --model '%s' --data '%s'", ferc, model, csv), 0);
    char *out = cli_out(dir);
    const char *l = out ? strstr(out, "   loss: ") : NULL;
    CHECK_MSG(l != NULL, "no loss in: %s", out ? out : "");
    if (l) CHECK_NEAR(strtod(l + 9, NULL), want, 6e-5);
    free(out);

    CHECK_EQ_INT(cli_run(dir, "'%s' eval --threads 1 --json --model '%s' --data '%s'", ferc, model, csv), 0);
    CHECK_MSG(strcmp(first_line(dir, "err.txt"), "PublicTest: 9 faces") == 0, "stderr: %s",
              first_line(dir, "err.txt"));
    out = cli_out(dir);
    CHECK(out && out[0] == '{' && strstr(out, "{\"rows\": \"PublicTest\", \"loss\": ") == out);
    l = out ? strstr(out, "\"loss\": ") : NULL;
    if (l) CHECK_NEAR(strtod(l + 8, NULL), want, 2e-6);
    CHECK(out && strstr(out, "\"n\": 9,") && strchr(out, '\n') == strrchr(out, '\n'));
    free(out);
    if (system("command -v python3 >/dev/null 2>&1") == 0) {
        char json[2100]; /* out of the way of cli_run()'s out.txt */
        snprintf(json, sizeof json, "%s", test_path(dir, "eval.json"));
        CHECK_EQ_INT(rename(test_path(dir, "out.txt"), json), 0);
        int rc = cli_run(dir, "python3 -c 'import json,sys; o=json.load(open(sys.argv[1])); "
                          "assert o[\"rows\"]==\"PublicTest\" and o[\"n\"]==9 and abs(o[\"loss\"]-%.9f)<1e-5, o' '%s'",
                     want, json);
        CHECK_MSG(rc == 0, "--json output is not the JSON expected: %s", first_line(dir, "err.txt"));
    }
}

/* The README's figure from the command a new user types first. */
TEST(eval_cli_fer2013_default_is_publictest) {
    NEED_FERC();
    const char *csv = test_fer_csv();
    if (!csv) SKIP("../shared/data/fer2013/fer2013.csv.gz is absent (set FERC_DATA to run it)");
    if (getenv("FERC_ASAN")) SKIP("the full FER2013 evaluation runs in the plain build only");
    if (access("models/seed.ferc", R_OK) != 0) SKIP("models/seed.ferc is absent");
    const char *dir = test_tmpdir();
    CHECK_EQ_INT(cli_run(dir, "'%s' eval --model models/seed.ferc --data '%s'", ferc, csv), 0);
    CHECK_MSG(strcmp(first_line(dir, "out.txt"), "PublicTest: 3589 faces") == 0, "first line: %s",
              first_line(dir, "out.txt"));
    char *out = cli_out(dir);
    CHECK_MSG(out && strstr(out, "accuracy: 0.5389   loss: "), "%s", out ? out : "");
    free(out);
}

/* Without --data, eval and report read FER2013 where the README puts it,
 * as train does; where it is not, they say which path they looked at. */
TEST(eval_cli_default_data) {
    NEED_FERC();
    const char *dir = test_tmpdir();
    const char *model = make_model(dir);
    if (!model) { CHECK(0); return; }
    CHECK_EQ_INT(cli_run(dir, "cd '%s' && '%s' eval --model '%s'", dir, ferc, model), 2);
    char *e = cli_err(dir);
    CHECK_MSG(e && strstr(e, "../shared/data/fer2013/fer2013.csv.gz is not here"), "%s", e ? e : "");
    free(e);
    CHECK_EQ_INT(cli_run(dir, "cd '%s' && '%s' report --model '%s' --out r", dir, ferc, model), 2);
    e = cli_err(dir);
    CHECK_MSG(e && strstr(e, "is not here") && !test_exists(test_path(dir, "r")), "%s", e ? e : "");
    free(e);
    if (access("../shared/data/fer2013/fer2013.csv.gz", R_OK) != 0) return;   /* the rest needs the data */
    if (getenv("FERC_ASAN")) return;                                           /* a full evaluation: plain only */
    CHECK_EQ_INT(cli_run(dir, "'%s' eval --model '%s'", ferc, model), 0);
    CHECK_MSG(strcmp(first_line(dir, "out.txt"), "PublicTest: 3589 faces") == 0, "first line: %s",
              first_line(dir, "out.txt"));
}

/* report follows the same rule and prints the same line: on a CSV without
 * PublicTest rows it used to stop with "no rows with Usage 'PublicTest'". */
TEST(report_cli_default_rows_like_eval) {
    NEED_FERC();
    const char *dir = test_tmpdir();
    const char *model = make_model(dir);
    CHECK(model != NULL);
    if (!model) return;
    const char *csv = test_path(dir, "private.csv");
    cli_write_csv(csv, (const int[3]){10, 0, 21}, 0);
    CHECK_EQ_INT(cli_run(dir, "'%s' eval --threads 1 --model '%s' --data '%s'", ferc, model, csv), 0);
    char eval_line[1024];
    snprintf(eval_line, sizeof eval_line, "%s", first_line(dir, "out.txt"));
    CHECK_MSG(strcmp(eval_line, "PrivateTest: 21 faces (the file has no PublicTest rows)") == 0, "eval: %s", eval_line);
    const char *out = test_path(dir, "rep");
    CHECK_EQ_INT(cli_run(dir, "'%s' report --threads 1 --model '%s' --data '%s' --out '%s'", ferc, model, csv, out), 0);
    CHECK_MSG(strcmp(first_line(dir, "err.txt"), eval_line) == 0, "report's first line '%s' is not eval's '%s'",
              first_line(dir, "err.txt"), eval_line);
    char *html = test_read(test_path(out, "index.html"), NULL);
    CHECK(html && strstr(html, "private.csv (PrivateTest)"));
    free(html);
    /* a file with only Training rows: the same error as eval, nothing written */
    const char *train = test_path(dir, "training.csv");
    cli_write_csv(train, (const int[3]){8, 0, 0}, 0);
    const char *out2 = test_path(dir, "rep2");
    CHECK_EQ_INT(cli_run(dir, "'%s' report --model '%s' --data '%s' --out '%s'", ferc, model, train, out2), 1);
    char *err = cli_err(dir);
    CHECK_MSG(err && strstr(err, "no test rows"), "%s", err ? err : "");
    free(err);
    struct stat st;
    CHECK(stat(out2, &st) != 0);
}

/* The report folder is readable by others under umask 022 (mkdtemp made it
 * 0700), and follows a stricter umask too. */
TEST(report_cli_folder_honours_umask) {
    NEED_FERC();
    const char *dir = test_tmpdir();
    const char *model = make_model(dir);
    CHECK(model != NULL);
    if (!model) return;
    const char *csv = test_path(dir, "mini.csv");
    cli_write_csv(csv, (const int[3]){4, 8, 0}, 0);
    static const struct { const char *umask; unsigned mode; } cases[] = {{"022", 0755}, {"027", 0750}};
    for (int c = 0; c < 2; c++) {
        char name[32];
        snprintf(name, sizeof name, "rep%s", cases[c].umask);
        const char *out = test_path(dir, name);
        CHECK_EQ_INT(cli_run(dir, "umask %s; '%s' report --quiet --threads 1 --model '%s' --data '%s' --out '%s'",
                         cases[c].umask, ferc, model, csv, out), 0);
        struct stat st;
        CHECK_EQ_INT(stat(out, &st), 0);
        CHECK_MSG((st.st_mode & 07777) == cases[c].mode, "umask %s: folder mode %o, want %o", cases[c].umask,
                  (unsigned)(st.st_mode & 07777), cases[c].mode);
        CHECK_EQ_INT(stat(test_path(out, "index.html"), &st), 0);
        CHECK_EQ_INT(st.st_mode & 0777, cases[c].mode & 0666);
    }
}

/* Copy a file (the test photos into label folders). */
static int copy_file(const char *from, const char *to) {
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", from, to);
    return system(cmd) == 0;
}

/* Parse the "loss" of an eval --json output; NAN when absent. */
static double json_loss(const char *dir) {
    char *out = cli_out(dir);
    const char *l = out ? strstr(out, "\"loss\": ") : NULL;
    double v = l ? strtod(l + 8, NULL) : NAN;
    free(out);
    return v;
}

/* The library's side: the folder's one row is the largest detected box of
 * the photo, cropped with margin 0.1 as predict crops it. */
static void check_row_is_the_crop(const ferc_cascade *cas, const char *photos, const char *photo) {
    ferc_error err;
    ferc_dataset d;
    ferc_load_info info;
    ferc_load_opts lo = {.usage = FERC_USAGE_TEST};
    CHECK_EQ_INT(ferc_dataset_load_faces(photos, &lo, NULL, &d, &info, &err), FERC_OK);
    ferc_image g;
    CHECK_EQ_INT(ferc_image_load(photo, 1, &g, &err), FERC_OK);
    if (test_failed_now()) { ferc_dataset_free(&d); return; }
    ferc_box b[8];
    int n = 0;
    CHECK_EQ_INT(ferc_detect_faces(cas, g.data, g.w, g.h, g.w, NULL, b, 8, &n, &err), FERC_OK);
    CHECK_EQ_INT(n, 1);
    CHECK(d.n == 1 && info.detected == 1 && info.no_face == 1 && info.usage == FERC_USAGE_ALL && d.label[0] == 3);
    if (n == 1 && d.n == 1) {
        float face[48 * 48], tmp[160 * 160];
        ferc_crop_face(g.data, g.w, g.h, g.w, b[0], 0.1f, 48, face, tmp);
        int worst = 0;
        for (int i = 0; i < 48 * 48; i++) {
            int e = abs((int)d.pix[i] - (int)lrintf(face[i] * 255.0f));
            if (e > worst) worst = e;
        }
        CHECK_MSG(worst <= 1, "dataset row differs from the crop by %d", worst);
    }
    ferc_image_free(&g);
    ferc_dataset_free(&d);
}

/* A folder of whole photos: the astronaut (one face) under happy/ and a
 * coffee cup (no face) under sad/. eval used to resize both whole and print
 * figures without a word; now it scores the face the detector finds, the
 * one `ferc predict` classifies, and says one image had none. */
TEST(eval_cli_folder_of_photos_uses_the_faces) {
    NEED_FERC();
    if (access(SKIMAGE_DIR "astronaut.png", R_OK) != 0 || access(SKIMAGE_DIR "coffee.png", R_OK) != 0)
        SKIP("no " SKIMAGE_DIR " (apt-get install python3-skimage)");
    ferc_cascade *cas;
    ferc_error err;
    if (ferc_cascade_load(NULL, &cas, &err) != FERC_OK) SKIP("no Haar cascade (apt-get install opencv-data)");
    const char *dir = test_tmpdir();
    const char *model = make_model(dir);
    CHECK(model != NULL);
    char photos[1100], happy[1100], sad[1100];
    snprintf(photos, sizeof photos, "%s", test_path(dir, "photos"));
    snprintf(happy, sizeof happy, "%s", test_path(photos, "happy"));
    snprintf(sad, sizeof sad, "%s", test_path(photos, "sad"));
    mkdir(photos, 0755); mkdir(happy, 0755); mkdir(sad, 0755);
    CHECK(copy_file(SKIMAGE_DIR "astronaut.png", test_path(happy, "astronaut.png")));
    CHECK(copy_file(SKIMAGE_DIR "coffee.png", test_path(sad, "coffee.png")));
    if (!model || test_failed_now()) { ferc_cascade_free(cas); return; }

    CHECK_EQ_INT(cli_run(dir, "'%s' eval --threads 1 --model '%s' --data '%s'", ferc, model, photos), 0);
    const char *want = "all: 1 face (found by detection in 1 image; 1 image without a face left out)";
    CHECK_MSG(strcmp(first_line(dir, "out.txt"), want) == 0, "first line: %s", first_line(dir, "out.txt"));
    CHECK_EQ_INT(cli_run(dir, "'%s' eval --threads 1 --json --model '%s' --data '%s'", ferc, model, photos), 0);
    char *out = cli_out(dir);
    CHECK_MSG(out && strstr(out, "\"images_without_face\": 1, \"n\": 1,"), "%s", out ? out : "");
    free(out);
    double loss = json_loss(dir);

    /* The oracle: predict's probability of "happy" for the same face. */
    CHECK_EQ_INT(cli_run(dir, "'%s' predict --json --model '%s' '%s'", ferc, model, test_path(happy, "astronaut.png")), 0);
    out = cli_out(dir);
    const char *p = out ? strstr(out, "\"happy\": ") : NULL;
    CHECK_MSG(p != NULL, "predict: %s", out ? out : "");
    if (p) CHECK_NEAR(loss, -log(strtod(p + 9, NULL)), 0.02);
    free(out);

    check_row_is_the_crop(cas, photos, test_path(happy, "astronaut.png"));
    ferc_cascade_free(cas);

    /* --no-detect: the images whole, as before */
    CHECK_EQ_INT(cli_run(dir, "'%s' eval --threads 1 --no-detect --model '%s' --data '%s'", ferc, model, photos), 0);
    CHECK_MSG(strcmp(first_line(dir, "out.txt"), "all: 2 faces") == 0, "%s", first_line(dir, "out.txt"));
    /* detection without a cascade: a clear error */
    CHECK_EQ_INT(cli_run(dir, "'%s' eval --model '%s' --data '%s' --cascade /nonexistent.xml", ferc, model, photos), 1);
    CHECK_MSG(strstr(first_line(dir, "err.txt"), "nonexistent.xml") != NULL, "%s", first_line(dir, "err.txt"));
}

/* Nothing to score: no figure, a message that says why, exit 1. */
TEST(eval_cli_folder_without_faces_is_an_error) {
    NEED_FERC();
    if (access(SKIMAGE_DIR "coffee.png", R_OK) != 0) SKIP("no " SKIMAGE_DIR " (apt-get install python3-skimage)");
    ferc_cascade *cas;
    ferc_error err;
    if (ferc_cascade_load(NULL, &cas, &err) != FERC_OK) SKIP("no Haar cascade (apt-get install opencv-data)");
    ferc_cascade_free(cas);
    const char *dir = test_tmpdir();
    const char *model = make_model(dir);
    CHECK(model != NULL);
    char photos[1100], sad[1100];
    snprintf(photos, sizeof photos, "%s", test_path(dir, "photos"));
    snprintf(sad, sizeof sad, "%s", test_path(photos, "sad"));
    mkdir(photos, 0755); mkdir(sad, 0755);
    CHECK(copy_file(SKIMAGE_DIR "coffee.png", test_path(sad, "coffee.png")));
    if (!model || test_failed_now()) return;
    for (int json = 0; json < 2; json++) {
        CHECK_EQ_INT(cli_run(dir, "'%s' eval %s --model '%s' --data '%s'", ferc, json ? "--json" : "", model, photos), 1);
        char *out = cli_out(dir), *e = cli_err(dir);
        CHECK_MSG(out && out[0] == 0, "stdout: %s", out ? out : "");
        CHECK_MSG(e && strstr(e, "no usable faces") && strstr(e, "no face in 1 of its 1 images"), "stderr: %s", e ? e : "");
        free(out);
        free(e);
    }
    /* report: the same */
    const char *rep = test_path(dir, "rep");
    CHECK_EQ_INT(cli_run(dir, "'%s' report --model '%s' --data '%s' --out '%s'", ferc, model, photos, rep), 1);
    CHECK_MSG(strstr(first_line(dir, "err.txt"), "no usable faces") != NULL, "%s", first_line(dir, "err.txt"));
    /* face crops (images no larger than twice the model input) are never
     * searched: no cascade needed */
    uint8_t px[48 * 48];
    for (int i = 0; i < 48 * 48; i++) px[i] = (uint8_t)(i * 7);
    ferc_image im = {48, 48, 1, px};
    char crops[1100], happy[1100];
    snprintf(crops, sizeof crops, "%s", test_path(dir, "crops"));
    snprintf(happy, sizeof happy, "%s", test_path(crops, "happy"));
    mkdir(crops, 0755); mkdir(happy, 0755);
    CHECK_EQ_INT(ferc_image_save_png(test_path(happy, "face.png"), &im, &err), FERC_OK);
    CHECK_EQ_INT(cli_run(dir, "'%s' eval --model '%s' --data '%s' --cascade /nonexistent.xml", ferc, model, crops), 0);
    CHECK_MSG(strcmp(first_line(dir, "out.txt"), "all: 1 face") == 0, "%s", first_line(dir, "out.txt"));
}

/* --help documents what was added. */
TEST(eval_cli_help_documents_defaults) {
    NEED_FERC();
    const char *dir = test_tmpdir();
    const char *cmds[2] = {"eval", "report"};
    for (int c = 0; c < 2; c++) {
        CHECK_EQ_INT(cli_run(dir, "'%s' %s --help", ferc, cmds[c]), 0);
        char *out = cli_out(dir);
        CHECK_MSG(out && strstr(out, "PrivateTest when") && strstr(out, "--detect") && strstr(out, "--no-detect") &&
                      strstr(out, "--cascade FILE") && strstr(out, "example"),
                  "%s --help: %s", cmds[c], out ? out : "");
        if (c == 0) CHECK(out && strstr(out, "loss"));
        free(out);
    }
}
