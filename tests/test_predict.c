/* test_predict.c — tests of the `ferc predict` and `ferc video` commands,
 * run as the built binary ($FERC_BIN, else the `ferc` next to this test
 * runner: build/ferc, or build-asan/ferc under the sanitizers): outputs
 * checked against the library's own detector and classifier on the same
 * pixels, bad files in a folder reported and skipped, bad named files and a
 * missing cascade as errors, annotation, and a short video assembled with
 * ffmpeg from stills. */
#include "test.h"
#include "cli_util.h"
#include "ferc.h"
#include "data/data.h"
#include "detect/detect.h"
#include "model/model.h"
#include "report/report.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define SKIMAGE_DIR "/usr/lib/python3/dist-packages/skimage/data/"

/* The 7 numbers after "\"scores\": {" in s: returns 1 if all found. */
static int json_scores(const char *s, float *p) {
    const char *q = strstr(s, "\"scores\": {");
    if (!q) return 0;
    for (int k = 0; k < FERC_NUM_CLASSES; k++) {
        char key[32];
        snprintf(key, sizeof key, "\"%s\": ", ferc_label_name(k));
        const char *v = strstr(q, key);
        if (!v) return 0;
        p[k] = strtof(v + strlen(key), NULL);
    }
    return 1;
}

static double iou(ferc_box a, ferc_box b) {
    int x0 = a.x > b.x ? a.x : b.x, y0 = a.y > b.y ? a.y : b.y;
    int x1 = a.x + a.w < b.x + b.w ? a.x + a.w : b.x + b.w, y1 = a.y + a.h < b.y + b.h ? a.y + a.h : b.y + b.h;
    double in = (x1 > x0 && y1 > y0) ? (double)(x1 - x0) * (y1 - y0) : 0;
    return in / ((double)a.w * a.h + (double)b.w * b.h - in);
}

/* A random-weight model saved in dir (the shipped ones may not exist yet),
 * and in *keep the same weights as the file. */
static const char *make_model(const char *dir, ferc_model **keep) {
    const char *p = cli_make_model(dir, 11, NULL, 0);
    ferc_error err;
    return p && ferc_model_load(p, keep, &err) == FERC_OK ? p : NULL;
}

TEST(predict_no_detect_prints_the_probabilities) {
    NEED_FERC();
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", test_tmpdir());
    ferc_model *m;
    const char *model = make_model(dir, &m);
    CHECK(model != NULL);
    if (!model) return;
    uint8_t px[48 * 48];
    for (int i = 0; i < 48 * 48; i++) px[i] = (uint8_t)((i * 37 + (i / 48) * 11) & 255);
    ferc_image im = {48, 48, 1, px};
    ferc_error err;
    const char *face = test_path(dir, "face.png");
    CHECK_EQ_INT(ferc_image_save_png(face, &im, &err), FERC_OK);
    float ref[7];
    ferc_box whole = {0, 0, 48, 48};
    CHECK_EQ_INT(ferc_classify_faces(m, px, 48, 48, 48, &whole, 1, 0, ref, &err), FERC_OK);
    int top = 0;
    for (int k = 1; k < 7; k++) if (ref[k] > ref[top]) top = k;

    CHECK_EQ_INT(cli_run(dir, "'%s' predict --model '%s' --no-detect '%s'", ferc, model, face), 0);
    char *out = cli_out(dir);
    CHECK(out && strstr(out, "face.png: ") && cli_count_lines(out) == 1);
    if (out) {
        char want[64];
        snprintf(want, sizeof want, ": %s %.3f", ferc_label_name(top), ref[top]);
        CHECK_MSG(strstr(out, want) != NULL, "text output '%s' lacks '%s'", out, want);
        for (int k = 0; k < 7; k++) CHECK(strstr(out, ferc_label_name(k)) != NULL);
    }
    free(out);
    CHECK_EQ_INT(cli_run(dir, "'%s' predict --model '%s' --no-detect --json '%s'", ferc, model, face), 0);
    out = cli_out(dir);
    float p[7];
    CHECK(out && cli_count_lines(out) == 1 && out[0] == '{' && json_scores(out, p));
    if (out) {
        char want[64];
        snprintf(want, sizeof want, "\"emotion\": \"%s\"", ferc_label_name(top));
        CHECK(strstr(out, want) != NULL);
        for (int k = 0; k < 7; k++) CHECK_NEAR(p[k], ref[k], 2e-6);
    }
    free(out);
    ferc_model_free(m);
}

TEST(predict_detects_and_classifies_like_the_library) {
    NEED_FERC();
    if (access(SKIMAGE_DIR "astronaut.png", R_OK) != 0) SKIP("no " SKIMAGE_DIR " (apt-get install python3-skimage)");
    ferc_cascade *cas;
    ferc_error err;
    if (ferc_cascade_load(NULL, &cas, &err) != FERC_OK) SKIP("no Haar cascade (apt-get install opencv-data)");
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", test_tmpdir());
    ferc_model *m;
    const char *model = make_model(dir, &m);
    CHECK(model != NULL);
    if (!model) { ferc_cascade_free(cas); return; }
    /* The library on the same pixels: the oracle for boxes and scores. */
    ferc_image g;
    CHECK_EQ_INT(ferc_image_load(SKIMAGE_DIR "astronaut.png", 1, &g, &err), FERC_OK);
    ferc_box b[16];
    int n = 0;
    CHECK_EQ_INT(ferc_detect_faces(cas, g.data, g.w, g.h, g.w, NULL, b, 16, &n, &err), FERC_OK);
    CHECK_EQ_INT(n, 1);
    float ref[7 * 16];
    CHECK_EQ_INT(ferc_classify_faces(m, g.data, g.w, g.h, g.w, b, n, 0.1f, ref, &err), FERC_OK);

    CHECK_EQ_INT(cli_run(dir, "'%s' predict --model '%s' --json '%s'", ferc, model, SKIMAGE_DIR "astronaut.png"), 0);
    char *out = cli_out(dir);
    CHECK(out && cli_count_lines(out) == 1);
    if (out && n == 1) {
        char want[256];
        snprintf(want, sizeof want,
                 "{\"image\": \"%s\", \"whole_image\": false, \"faces\": [{\"box\": [%d, %d, %d, %d], "
                 "\"face_confidence\": 0.",
                 SKIMAGE_DIR "astronaut.png", b[0].x, b[0].y, b[0].w, b[0].h);
        CHECK_MSG(strncmp(out, want, strlen(want)) == 0, "got %s", out);
        float p[7];
        CHECK(json_scores(out, p));
        for (int k = 0; k < 7; k++) CHECK_NEAR(p[k], ref[k], 2e-6);
    }
    free(out);
    /* Text output and the detector flags: a huge --min-size finds nothing. */
    CHECK_EQ_INT(cli_run(dir, "'%s' predict --model '%s' '%s'", ferc, model, SKIMAGE_DIR "astronaut.png"), 0);
    out = cli_out(dir);
    char want[128];
    snprintf(want, sizeof want, "face 1 at %d,%d %dx%d (confidence 0.", b[0].x, b[0].y, b[0].w, b[0].h);
    CHECK(out && strstr(out, ": 1 face\n") && strstr(out, want));
    free(out);
    CHECK_EQ_INT(cli_run(dir, "'%s' predict --model '%s' --json --min-size 400 --scale-factor 1.2 --min-neighbors 3 '%s'",
                     ferc, model, SKIMAGE_DIR "astronaut.png"), 0);
    out = cli_out(dir);
    CHECK(out && strstr(out, "\"faces\": []}") != NULL);
    free(out);
    ferc_image_free(&g);
    ferc_model_free(m);
    ferc_cascade_free(cas);
}

/* A folder with good images and bad files: the bad ones are reported on
 * stderr and skipped, the rest processed, exit 0. Named directly, a bad
 * file is exit 1 with its name in the message. */
TEST(predict_folder_skips_bad_files) {
    NEED_FERC();
    ferc_cascade *cas;
    ferc_error err;
    if (ferc_cascade_load(NULL, &cas, &err) != FERC_OK) SKIP("no Haar cascade (apt-get install opencv-data)");
    ferc_cascade_free(cas);
    char dir[1024], in[1100];
    snprintf(dir, sizeof dir, "%s", test_tmpdir());
    snprintf(in, sizeof in, "%.1024s/in", dir);
    mkdir(in, 0700);
    ferc_model *m;
    const char *model = make_model(dir, &m);
    CHECK(model != NULL);
    if (!model) return;
    /* good: a flat image (no face) and a noisy one */
    static uint8_t flat[200 * 150], noisy[64 * 64];
    memset(flat, 120, sizeof flat);
    ferc_rng r;
    ferc_rng_seed(&r, 9);
    for (size_t i = 0; i < sizeof noisy; i++) noisy[i] = (uint8_t)ferc_rng_below(&r, 256);
    ferc_image a = {200, 150, 1, flat}, b = {64, 64, 1, noisy};
    CHECK_EQ_INT(ferc_image_save_png(test_path(in, "a_flat.png"), &a, &err), FERC_OK);
    CHECK_EQ_INT(ferc_image_save_png(test_path(in, "b_noisy.png"), &b, &err), FERC_OK);
    /* bad: not an image, a truncated PNG, a decompression bomb, a truncated JPEG */
    test_write(test_path(in, "c_notes.txt"), "these are not pixels\n", 21);
    size_t len;
    char *png = test_read(test_path(in, "b_noisy.png"), &len);
    CHECK(png && len > 100);
    if (!png) return;
    test_write(test_path(in, "d_truncated.png"), png, len / 2);
    /* IHDR width/height at bytes 16..23, CRC over type + data at 29..32 */
    unsigned char *bomb = (unsigned char *)png;
    uint32_t big = 100000;
    unsigned char be[4] = {(unsigned char)(big >> 24), (unsigned char)(big >> 16), (unsigned char)(big >> 8), (unsigned char)big};
    memcpy(bomb + 16, be, 4);
    memcpy(bomb + 20, be, 4);
    uint32_t crc = (uint32_t)crc32(0L, bomb + 12, 17);
    unsigned char bc[4] = {(unsigned char)(crc >> 24), (unsigned char)(crc >> 16), (unsigned char)(crc >> 8), (unsigned char)crc};
    memcpy(bomb + 29, bc, 4);
    test_write(test_path(in, "e_bomb.png"), bomb, len);
    free(png);
    int have_jpeg = access(SKIMAGE_DIR "rocket.jpg", R_OK) == 0;
    if (have_jpeg) {
        char *jpg = test_read(SKIMAGE_DIR "rocket.jpg", &len);
        test_write(test_path(in, "f_truncated.jpg"), jpg, len / 3);
        free(jpg);
    }
    const char *csv = test_path(dir, "faces.csv");
    CHECK_EQ_INT(cli_run(dir, "'%s' predict --model '%s' --json --csv '%s' '%s'", ferc, model, csv, in), 0);
    char *out = cli_out(dir), *errs = cli_err(dir);
    CHECK(out && errs);
    if (out && errs) {
        CHECK_EQ_INT(cli_count_lines(out), 2); /* only the two good images */
        CHECK(strstr(out, "a_flat.png\", \"whole_image\": false, \"faces\": []}") != NULL);
        CHECK(strstr(out, "b_noisy.png\"") != NULL);
        CHECK(strstr(errs, "c_notes.txt") && strstr(errs, "d_truncated.png") && strstr(errs, "e_bomb.png"));
        if (have_jpeg) CHECK(strstr(errs, "f_truncated.jpg") != NULL);
        CHECK(strstr(errs, "100000x100000") != NULL);   /* the bomb says why */
        CHECK(strstr(errs, "faces/s") != NULL);         /* batch report */
        CHECK(strstr(errs, have_jpeg ? "4 bad files skipped" : "3 bad files skipped") != NULL);
    }
    free(out); free(errs);
    char *c = test_read(csv, NULL);
    const char *hdr = "image,face,x,y,w,h,face_confidence,emotion,angry,disgust,fear,happy,sad,surprise,neutral,"
                      "whole_image,annotated\n";
    CHECK(c && strncmp(c, hdr, strlen(hdr)) == 0 && cli_count_lines(c) == 3);
    /* no face: the image, then as many (empty) fields as the header, not whole */
    CHECK(c && strstr(c, "a_flat.png,,,,,,,,,,,,,,,0,\n") != NULL);
    /* b_noisy.png (64x64) is no larger than twice the 48x48 input: one whole-image face */
    CHECK(c && strstr(c, "b_noisy.png,1,0,0,64,64,,") && strstr(c, ",1,\n"));
    free(c);
    /* named directly: errors */
    CHECK_EQ_INT(cli_run(dir, "'%s' predict --model '%s' '%s'", ferc, model, test_path(in, "e_bomb.png")), 1);
    errs = cli_err(dir);
    CHECK(errs && strstr(errs, "e_bomb.png") && strstr(errs, "100000x100000"));
    free(errs);
    CHECK_EQ_INT(cli_run(dir, "'%s' predict --model '%s' '%s' '%s'", ferc, model, test_path(in, "c_notes.txt"),
                     test_path(in, "a_flat.png")), 1);
    out = cli_out(dir);
    CHECK(out && strstr(out, "a_flat.png: no face found") != NULL); /* the good one is still done */
    free(out);
    CHECK_EQ_INT(cli_run(dir, "'%s' predict --model '%s' '%s'", ferc, model, test_path(in, "missing.png")), 1);
    ferc_model_free(m);
}

TEST(predict_errors_and_usage) {
    NEED_FERC();
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", test_tmpdir());
    ferc_model *m;
    const char *model = make_model(dir, &m);
    CHECK(model != NULL);
    if (!model) return;
    ferc_model_free(m);
    uint8_t px[32 * 32] = {0};
    ferc_image im = {32, 32, 1, px};
    ferc_error err;
    const char *img = test_path(dir, "x.png");
    CHECK_EQ_INT(ferc_image_save_png(img, &im, &err), FERC_OK);
    /* a missing cascade names the Debian package */
    CHECK_EQ_INT(cli_run(dir, "'%s' predict --model '%s' --cascade '%s' '%s'", ferc, model, test_path(dir, "no.xml"), img), 1);
    char *e = cli_err(dir);
    CHECK(e && strstr(e, "opencv-data") && strstr(e, "no.xml"));
    free(e);
    /* a missing model */
    CHECK_EQ_INT(cli_run(dir, "'%s' predict --model '%s' '%s'", ferc, test_path(dir, "none.ferc"), img), 1);
    e = cli_err(dir);
    CHECK(e && strstr(e, "none.ferc"));
    free(e);
    CHECK_EQ_INT(cli_run(dir, "'%s' predict --model '%s'", ferc, model), 2);
    CHECK_EQ_INT(cli_run(dir, "'%s' predict --model '%s' --bogus '%s'", ferc, model, img), 2);
    CHECK_EQ_INT(cli_run(dir, "'%s' predict --model '%s' --scale-factor 0.5 '%s'", ferc, model, img), 2);
    CHECK_EQ_INT(cli_run(dir, "'%s' predict --help", ferc), 0);
    char *h = cli_out(dir);
    CHECK(h && strstr(h, "--scale-factor") && strstr(h, "--no-detect") && strstr(h, "example"));
    free(h);
}

/* --annotate writes the image with the box drawn on it. */
TEST(predict_annotate_draws_boxes) {
    NEED_FERC();
    if (access(SKIMAGE_DIR "astronaut.png", R_OK) != 0) SKIP("no " SKIMAGE_DIR " (apt-get install python3-skimage)");
    ferc_cascade *cas;
    ferc_error err;
    if (ferc_cascade_load(NULL, &cas, &err) != FERC_OK) SKIP("no Haar cascade (apt-get install opencv-data)");
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", test_tmpdir());
    ferc_model *m;
    const char *model = make_model(dir, &m);
    CHECK(model != NULL);
    if (!model) { ferc_cascade_free(cas); return; }
    ferc_image g, rgb, ann;
    CHECK_EQ_INT(ferc_image_load(SKIMAGE_DIR "astronaut.png", 1, &g, &err), FERC_OK);
    CHECK_EQ_INT(ferc_image_load(SKIMAGE_DIR "astronaut.png", 3, &rgb, &err), FERC_OK);
    ferc_box b[4];
    int n = 0;
    CHECK_EQ_INT(ferc_detect_faces(cas, g.data, g.w, g.h, g.w, NULL, b, 4, &n, &err), FERC_OK);
    CHECK_EQ_INT(cli_run(dir, "'%s' predict -q --model '%s' --annotate '%s' '%s'", ferc, model, test_path(dir, "ann"),
                     SKIMAGE_DIR "astronaut.png"), 0);
    char *out = cli_out(dir);
    CHECK(out && out[0] == 0); /* --quiet */
    free(out);
    CHECK_EQ_INT(ferc_image_load(test_path(dir, "ann/astronaut.png.png"), 3, &ann, &err), FERC_OK);
    if (!test_failed_now() && n == 1) {
        CHECK(ann.w == rgb.w && ann.h == rgb.h);
        /* the left edge of the box is painted; far from it nothing changed */
        int changed = 0, far = 0;
        for (int y = b[0].y + b[0].h / 4; y < b[0].y + 3 * b[0].h / 4; y++)
            changed += memcmp(ann.data + ((size_t)y * ann.w + b[0].x) * 3, rgb.data + ((size_t)y * rgb.w + b[0].x) * 3, 3) != 0;
        for (int y = rgb.h - 20; y < rgb.h; y++)
            far += memcmp(ann.data + ((size_t)y * ann.w + 5) * 3, rgb.data + ((size_t)y * rgb.w + 5) * 3, 3) != 0;
        CHECK(changed >= b[0].h / 2 - 2);
        CHECK_EQ_INT(far, 0);
        ferc_image_free(&ann);
    }
    /* the library call: an RGB image only */
    CHECK_EQ_INT(ferc_draw_faces(&g, b, n, NULL, &err), n ? FERC_ERR_ARG : FERC_OK);
    ferc_image_free(&g);
    ferc_image_free(&rgb);
    ferc_model_free(m);
    ferc_cascade_free(cas);
}

/* A 10-frame video at 5 fps assembled with ffmpeg from stills (the
 * astronaut, then a flat gray frame, alternating): the CSV has a timestamp
 * per frame and the astronaut's face on the even frames; the annotated video
 * has the same frames. */
TEST(video_from_stills_to_csv_and_annotated_video) {
    NEED_FERC();
    if (system("ffmpeg -version >/dev/null 2>&1") != 0 || system("ffprobe -version >/dev/null 2>&1") != 0)
        SKIP("ffmpeg is not installed (apt-get install ffmpeg): video test skipped");
    if (access(SKIMAGE_DIR "astronaut.png", R_OK) != 0) SKIP("no " SKIMAGE_DIR " (apt-get install python3-skimage)");
    ferc_cascade *cas;
    ferc_error err;
    if (ferc_cascade_load(NULL, &cas, &err) != FERC_OK) SKIP("no Haar cascade (apt-get install opencv-data)");
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", test_tmpdir());
    ferc_model *m;
    const char *model = make_model(dir, &m);
    CHECK(model != NULL);
    if (!model) { ferc_cascade_free(cas); return; }
    ferc_model_free(m);
    ferc_image a, g;
    CHECK_EQ_INT(ferc_image_load(SKIMAGE_DIR "astronaut.png", 3, &a, &err), FERC_OK);
    CHECK_EQ_INT(ferc_image_load(SKIMAGE_DIR "astronaut.png", 1, &g, &err), FERC_OK);
    if (test_failed_now()) { ferc_cascade_free(cas); return; }
    ferc_box ref[4];
    int nref = 0;
    CHECK_EQ_INT(ferc_detect_faces(cas, g.data, g.w, g.h, g.w, NULL, ref, 4, &nref, &err), FERC_OK);
    CHECK_EQ_INT(nref, 1);
    uint8_t *flat = malloc((size_t)a.w * a.h * 3);
    memset(flat, 100, (size_t)a.w * a.h * 3);
    ferc_image f = {a.w, a.h, 3, flat};
    const int N = 10;
    for (int i = 0; i < N; i++) {
        char name[32];
        snprintf(name, sizeof name, "f%03d.png", i);
        CHECK_EQ_INT(ferc_image_save_png(test_path(dir, name), i % 2 ? &f : &a, &err), FERC_OK);
    }
    char mp4[1100]; /* not a test_path() buffer: those are reused */
    snprintf(mp4, sizeof mp4, "%s/in.mp4", dir);
    CHECK_EQ_INT(cli_run(dir, "ffmpeg -v error -y -framerate 5 -i '%s/f%%03d.png' -c:v libx264 -qp 0 -pix_fmt yuv420p '%s'",
                     dir, mp4), 0);
    const char *csv = test_path(dir, "out.csv"), *ann = test_path(dir, "ann.mp4");
    CHECK_EQ_INT(cli_run(dir, "'%s' video '%s' --csv '%s' --annotate '%s' --model '%s'", ferc, mp4, csv, ann, model), 0);
    char *errs = cli_err(dir);
    CHECK(errs && strstr(errs, "10 frames") && strstr(errs, "frames/s"));
    free(errs);
    FILE *fc = fopen(csv, "r");
    CHECK(fc != NULL);
    char line[512];
    int rows = 0, seen[10] = {0};
    if (fc && fgets(line, sizeof line, fc))
        CHECK(strcmp(line, "frame,time,face,x,y,w,h,face_confidence,emotion,angry,disgust,fear,happy,sad,surprise,"
                           "neutral\n") == 0);
    while (fc && fgets(line, sizeof line, fc)) {
        int fr, face;
        double t;
        ferc_box b;
        rows++;
        CHECK(sscanf(line, "%d,%lf,", &fr, &t) == 2 && fr >= 0 && fr < N);
        if (fr < 0 || fr >= N) continue;
        seen[fr]++;
        CHECK_NEAR(t, fr / 5.0, 1e-9);
        if (fr % 2) {
            CHECK_MSG(strstr(line, ",,,,,,,,,,,,,") != NULL, "flat frame %d has a face: %s", fr, line);
        } else {
            CHECK(sscanf(line, "%d,%lf,%d,%d,%d,%d,%d,", &fr, &t, &face, &b.x, &b.y, &b.w, &b.h) == 7);
            if (nref == 1) CHECK_MSG(face == 1 && iou(b, ref[0]) >= 0.8, "frame %d: box %d %d %d %d vs %d %d %d %d", fr,
                                     b.x, b.y, b.w, b.h, ref[0].x, ref[0].y, ref[0].w, ref[0].h);
        }
    }
    if (fc) fclose(fc);
    CHECK_EQ_INT(rows, N);
    for (int i = 0; i < N; i++) CHECK_EQ_INT(seen[i], 1);
    CHECK_EQ_INT(cli_run(dir, "ffprobe -v error -select_streams v:0 -count_frames -show_entries "
                          "stream=width,height,nb_read_frames -of default=nw=1 '%s'", ann), 0);
    char *pr = cli_out(dir), want[128];
    snprintf(want, sizeof want, "width=%d\nheight=%d\nnb_read_frames=%d\n", a.w, a.h, N);
    CHECK_MSG(pr && strcmp(pr, want) == 0, "ffprobe of the annotated video: %s", pr ? pr : "(none)");
    free(pr);
    /* --every 3: frames 0, 3, 6, 9 only */
    CHECK_EQ_INT(cli_run(dir, "'%s' video '%s' --csv '%s' --every 3 --model '%s'", ferc, mp4, csv, model), 0);
    char *c = test_read(csv, NULL);
    CHECK(c && cli_count_lines(c) == 5 && strstr(c, "\n0,0.000,") && strstr(c, "\n3,0.600,") && strstr(c, "\n9,1.800,") &&
          !strstr(c, "\n1,0.200,"));
    free(c);
    /* not a video; without --csv the CSV goes to stdout */
    CHECK_EQ_INT(cli_run(dir, "'%s' video '%s' --csv '%s' --model '%s'", ferc, test_path(dir, "model.ferc"), csv, model), 1);
    errs = cli_err(dir);
    CHECK(errs && strstr(errs, "model.ferc") && strstr(errs, "not a readable video"));
    free(errs);
    CHECK_EQ_INT(cli_run(dir, "'%s' video '%s' --every 3 --model '%s'", ferc, mp4, model), 0);
    c = cli_out(dir);
    CHECK(c && strncmp(c, "frame,time,face,", 16) == 0 && cli_count_lines(c) == 5);
    free(c);
    free(flat);
    ferc_image_free(&a);
    ferc_image_free(&g);
    ferc_cascade_free(cas);
}
