/* test_calibrate.c — temperature scaling (issue 13 item 4): tempering is
 * softmax(z / T) exactly; the fit recovers a known temperature; a
 * calibrated model predicts its old probabilities tempered, with the same
 * argmax, keeps T through save and load, and an uncalibrated file is byte
 * for byte what it was; `ferc calibrate`, `train --calibrate`, `info` and
 * `eval --json` (ece, ece_uncalibrated, reliability bins) end to end. */
#include "test.h"
#include "cli_util.h"
#include "ferc.h"
#include "model/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static void softmax(const double *z, double scale, float *p) {
    double mx = -INFINITY, s = 0, e[7];
    for (int c = 0; c < 7; c++) if (z[c] * scale > mx) mx = z[c] * scale;
    for (int c = 0; c < 7; c++) { e[c] = exp(z[c] * scale - mx); s += e[c]; }
    for (int c = 0; c < 7; c++) p[c] = (float)(e[c] / s);
}

TEST(calibrate_temper_is_softmax_of_scaled_logits) {
    ferc_rng r;
    ferc_rng_seed(&r, 5);
    for (int t = 0; t < 50; t++) {
        double z[7];
        for (int c = 0; c < 7; c++) z[c] = ((double)ferc_rng_below(&r, 2000) - 1000) / 150.0;
        const double T = 0.3 + (double)ferc_rng_below(&r, 400) / 100.0;
        float p[7], want[7];
        softmax(z, 1.0, p);
        softmax(z, 1.0 / T, want);
        ferc_probs_temper(p, 1, (float)(1.0 / T));
        for (int c = 0; c < 7; c++) CHECK_NEAR(p[c], want[c], 2e-6);
        ferc_probs_temper(p, 1, (float)T);   /* and back */
        softmax(z, 1.0, want);
        for (int c = 0; c < 7; c++) CHECK_NEAR(p[c], want[c], 2e-6);
    }
}

/* Labels drawn from softmax(z): the logits z are calibrated, so a model
 * that outputs softmax(2.5 z) is over-confident by T = 2.5 exactly. */
TEST(calibrate_fit_recovers_a_known_temperature) {
    enum { N = 20000 };
    float *p = malloc(sizeof(float) * 7 * N);
    int *y = malloc(sizeof(int) * N);
    if (!p || !y) { free(p); free(y); CHECK(0); return; }
    ferc_rng r;
    ferc_rng_seed(&r, 11);
    for (int i = 0; i < N; i++) {
        double z[7];
        float q[7];
        for (int c = 0; c < 7; c++) z[c] = ((double)ferc_rng_below(&r, 2000) - 1000) / 400.0;
        softmax(z, 1.0, q);
        double u = ferc_rng_below(&r, 1u << 30) / (double)(1u << 30), acc = 0;
        y[i] = 6;
        for (int c = 0; c < 7; c++) { acc += q[c]; if (u < acc) { y[i] = c; break; } }
        softmax(z, 2.5, p + 7 * (size_t)i);
    }
    const double T = calibrate_fit_temperature(p, y, N);
    CHECK_MSG(fabs(T - 2.5) < 0.15, "fitted T %.4f, want 2.5", T);
    free(p); free(y);
}

TEST(calibrate_model_keeps_argmax_and_file) {
    const char *dir = test_tmpdir();
    char path[1024], path2[1024];
    const char *mp = cli_make_model(dir, 3, NULL, 0);
    if (!mp) { CHECK(0); return; }
    snprintf(path, sizeof path, "%s", mp);
    snprintf(path2, sizeof path2, "%s", test_path(dir, "again.ferc"));
    ferc_model *m = NULL;
    ferc_error err = {0};
    if (ferc_model_load(path, &m, &err) != FERC_OK) { CHECK_MSG(0, "%s", err.msg); return; }
    CHECK(ferc_model_temperature(m) == 1.0f);
    enum { N = 6 };
    const int S = ferc_model_input_size(m);
    float *x = malloc(sizeof(float) * N * S * S), p0[N * 7], p1[N * 7];
    for (int i = 0; i < N * S * S; i++) x[i] = (float)((i * 37) % 101) / 100.0f;
    CHECK(ferc_model_predict(m, x, N, p0, 1, &err) == FERC_OK);
    CHECK(ferc_model_save(m, path2, &err) == FERC_OK);   /* T = 1: no TEMP chunk, same bytes */
    size_t l1, l2;
    char *b1 = test_read(path, &l1), *b2 = test_read(path2, &l2);
    CHECK(b1 && b2 && l1 == l2 && !memcmp(b1, b2, l1));
    free(b1); free(b2);
    CHECK(ferc_model_set_temperature(m, 0.001f, &err) == FERC_ERR_ARG);
    CHECK(ferc_model_set_temperature(m, 0.5f, &err) == FERC_OK);
    CHECK(ferc_model_save(m, path2, &err) == FERC_OK);
    ferc_model_free(m);
    if (ferc_model_load(path2, &m, &err) != FERC_OK) { CHECK_MSG(0, "%s", err.msg); free(x); return; }
    CHECK(ferc_model_temperature(m) == 0.5f);
    CHECK(ferc_model_predict(m, x, N, p1, 1, &err) == FERC_OK);
    ferc_probs_temper(p0, N, 2.0f);
    for (int i = 0; i < N; i++) {
        int a0 = 0, a1 = 0;
        for (int c = 0; c < 7; c++) {
            CHECK_NEAR(p1[i * 7 + c], p0[i * 7 + c], 1e-5);
            if (p0[i * 7 + c] > p0[i * 7 + a0]) a0 = c;
            if (p1[i * 7 + c] > p1[i * 7 + a1]) a1 = c;
        }
        CHECK_EQ_INT(a0, a1);
    }
    ferc_model_free(m);
    free(x);
}

/* A file whose TEMP chunk holds a temperature out of range is refused. */
TEST(calibrate_bad_temperature_in_file_refused) {
    const char *dir = test_tmpdir();
    const char *mp = cli_make_model(dir, 3, NULL, 0);
    ferc_model *m = NULL;
    ferc_error err = {0};
    if (!mp || ferc_model_load(mp, &m, &err) != FERC_OK) { CHECK(0); return; }
    ferc_model_set_temperature(m, 0.5f, &err);
    char path[1024];
    snprintf(path, sizeof path, "%s", test_path(dir, "t.ferc"));
    CHECK(ferc_model_save(m, path, &err) == FERC_OK);
    ferc_model_free(m);
    size_t n;
    unsigned char *b = test_read(path, &n);
    unsigned char *at = b ? memmem(b, n, "TEMP", 4) : NULL;
    CHECK(at != NULL);
    if (at) {
        float bad = -3;
        memcpy(at + 12, &bad, 4);   /* tag, 8-byte length, payload */
        uint32_t crc = (uint32_t)crc32(0L, b, (uInt)(n - 4));   /* a valid file otherwise */
        memcpy(b + n - 4, &crc, 4);
        CHECK(test_write(path, b, n));
        CHECK(ferc_model_load(path, &m, &err) != FERC_OK);
        CHECK_MSG(strstr(err.msg, "bad TEMP"), "%s", err.msg);
    }
    free(b);
}

TEST(calibrate_cli_end_to_end) {
    NEED_FERC();
    const char *dir = test_tmpdir(), *csv = cli_write_band_csv(dir, 420, 140);
    char m[1024], mc[1024];
    snprintf(m, sizeof m, "%s", test_path(dir, "m.ferc"));
    snprintf(mc, sizeof mc, "%s", test_path(dir, "mc.ferc"));
    CHECK_EQ_INT(cli_run(dir, "%s train --data %s --arch 'spec:48:conv4 relu pool flatten dense7' --epochs 3 "
                         "--threads 1 --calibrate --out %s", ferc, csv, m), 0);
    char *e = cli_err(dir);
    CHECK_MSG(strstr(e, "calibrated: temperature"), "train --calibrate: %s", e);
    free(e);
    CHECK_EQ_INT(cli_run(dir, "%s calibrate --model %s --data %s --out %s --threads 1", ferc, m, csv, mc), 0);
    char *o = cli_out(dir);
    CHECK_MSG(strstr(o, "temperature ") && strstr(o, "ECE") && strstr(o, "saved "), "calibrate: %s", o);
    free(o);
    CHECK_EQ_INT(cli_run(dir, "%s info %s", ferc, mc), 0);
    o = cli_out(dir);
    CHECK_MSG(strstr(o, "calibrated: temperature"), "info: %s", o);
    free(o);
    CHECK_EQ_INT(cli_run(dir, "%s eval --model %s --data %s --json", ferc, mc, csv), 0);
    o = cli_out(dir);
    CHECK_MSG(strstr(o, "\"temperature\": ") && strstr(o, "\"ece\": ") && strstr(o, "\"ece_uncalibrated\": ") &&
              strstr(o, "\"reliability\": {\"conf\": ["), "eval --json: %s", o);
    free(o);
    static const char *bad[] = {"--model M --out X --temperature 0", "--model M", "--out X", "--model M --out X --seed -1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char cmd[4096];
        snprintf(cmd, sizeof cmd, "%s calibrate %s", ferc, bad[i]);
        int rc = cli_run(dir, "%s", cmd);
        CHECK_MSG(rc == 2, "%s: rc %d", bad[i], rc);
    }
    CHECK_EQ_INT(cli_run(dir, "%s train --data %s --epochs 1 --val-fraction 0 --calibrate --out x.ferc", ferc, csv), 2);
}

/* The report of a calibrated model shows the reliability before calibration
 * too; an uncalibrated model's report does not. */
TEST(calibrate_report_before_and_after) {
    NEED_FERC();
    const char *dir = test_tmpdir();
    ferc_epoch_stats h[2] = {{.epoch = 1, .train_loss = 1.9f, .train_acc = .2f, .val_loss = 1.9f, .val_acc = .2f},
                             {.epoch = 2, .train_loss = 1.8f, .train_acc = .3f, .val_loss = 1.8f, .val_acc = .3f}};
    char m[1024], mc[1024], csv[1024], r1[1024], r2[1024];
    const char *mp = cli_make_model(dir, 9, h, 2);
    if (!mp) { CHECK(0); return; }
    snprintf(m, sizeof m, "%s", mp);
    snprintf(mc, sizeof mc, "%s", test_path(dir, "mc.ferc"));
    snprintf(csv, sizeof csv, "%s", test_path(dir, "d.csv"));
    snprintf(r1, sizeof r1, "%s", test_path(dir, "r1"));
    snprintf(r2, sizeof r2, "%s", test_path(dir, "r2"));
    cli_write_csv(csv, (const int[3]){7, 30, 0}, 0);
    CHECK_EQ_INT(cli_run(dir, "%s calibrate --model %s --out %s --temperature 0.25", ferc, m, mc), 0);
    CHECK_EQ_INT(cli_run(dir, "%s report --threads 1 --model %s --data %s --out %s", ferc, mc, csv, r1), 0);
    CHECK_EQ_INT(cli_run(dir, "%s report --threads 1 --model %s --data %s --out %s", ferc, m, csv, r2), 0);
    char *a = test_read(test_path(r1, "index.html"), NULL), *b = test_read(test_path(r2, "index.html"), NULL);
    CHECK_MSG(a && strstr(a, "id=\"ece_uncalibrated\"") && strstr(a, "T = 0.250"), "calibrated report");
    CHECK(test_exists(test_path(r1, "calibration_uncalibrated.png")));
    CHECK_MSG(b && !strstr(b, "ece_uncalibrated"), "uncalibrated report");
    CHECK(!test_exists(test_path(r2, "calibration_uncalibrated.png")));
    /* the calibrated page's "before" ECE is the uncalibrated page's ECE */
    static const char ka[] = "id=\"ece_uncalibrated\">ECE = ", kb[] = "id=\"ece\">ECE = ";
    const char *ea = a ? strstr(a, ka) : NULL, *eb = b ? strstr(b, kb) : NULL;
    CHECK_MSG(ea && eb && atof(ea + sizeof ka - 1) == atof(eb + sizeof kb - 1), "before %.12s vs %.12s",
              ea ? ea + sizeof ka - 1 : "-", eb ? eb + sizeof kb - 1 : "-");
    free(a); free(b);
}
