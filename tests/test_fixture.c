/* test_fixture.c — tests of the .fxt fixture reader (tests/fixture.c) and
 * sanity checks of the PyTorch fixtures it reads: a file written byte by byte
 * here, rejection of damaged files, and values of relu/dense/softmax/seed_net
 * fixtures recomputed independently in C (including a C mirror of the
 * seed-net parameter formula documented in gen_torch.py). */
#include "fixture.h"
#include "test.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void put_u32(FILE *fp, uint32_t v) {
    unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    fwrite(b, 1, 4, fp);
}

static void put_f32(FILE *fp, float f) {
    uint32_t v;
    memcpy(&v, &f, 4);
    put_u32(fp, v);
}

/* Write a small file by hand: "a" (2,3) = 0..5 / 4, "s" scalar 7. */
static void write_small(const char *path, int truncate_by, const char *magic) {
    FILE *fp = fopen(path, "wb");
    if (!fp) return;
    fwrite(magic, 1, 4, fp);
    put_u32(fp, 2);
    put_u32(fp, 1);
    fwrite("a", 1, 1, fp);
    put_u32(fp, 2);
    put_u32(fp, 2);
    put_u32(fp, 3);
    for (int i = 0; i < 6; i++) put_f32(fp, (float)i / 4.0f);
    put_u32(fp, 1);
    fwrite("s", 1, 1, fp);
    put_u32(fp, 0);
    if (truncate_by == 0) put_f32(fp, 7.0f);
    fclose(fp);
}

TEST(fixture_reader_hand_written_file) {
    char path[1200];
    snprintf(path, sizeof path, "%s/small.fxt", test_tmpdir());
    write_small(path, 0, "FXT1");
    fx_file *f = fx_open(path);
    CHECK(f != NULL);
    if (!f) return;
    CHECK_EQ_INT(fx_count(f), 2);
    CHECK(fx_name(f, 0) && strcmp(fx_name(f, 0), "a") == 0);
    CHECK(fx_name(f, 2) == NULL);
    size_t n = 0, dims[FX_MAX_DIMS];
    const float *a = fx_get(f, "a", &n);
    CHECK(a != NULL);
    CHECK_EQ_INT(n, 6);
    CHECK_EQ_INT(fx_dims(f, "a", dims), 2);
    CHECK_EQ_INT(dims[0], 2);
    CHECK_EQ_INT(dims[1], 3);
    if (a)
        for (int i = 0; i < 6; i++) CHECK(a[i] == (float)i / 4.0f);
    const float *s = fx_get(f, "s", &n);
    CHECK(s != NULL && n == 1 && s[0] == 7.0f);
    CHECK_EQ_INT(fx_dims(f, "s", dims), 0);
    CHECK(fx_get(f, "missing", &n) == NULL);
    CHECK_EQ_INT(fx_dims(f, "missing", dims), -1);
    fx_close(f);
}

TEST(fixture_reader_rejects_bad_files) {
    char path[1200];
    const char *dir = test_tmpdir();
    snprintf(path, sizeof path, "%s/nothere.fxt", dir);
    CHECK(fx_open(path) == NULL);
    snprintf(path, sizeof path, "%s/trunc.fxt", dir);
    write_small(path, 4, "FXT1");
    CHECK(fx_open(path) == NULL);
    snprintf(path, sizeof path, "%s/magic.fxt", dir);
    write_small(path, 0, "FXT2");
    CHECK(fx_open(path) == NULL);
    /* trailing garbage */
    snprintf(path, sizeof path, "%s/extra.fxt", dir);
    write_small(path, 0, "FXT1");
    FILE *fp = fopen(path, "ab");
    if (fp) { fputc(0, fp); fclose(fp); }
    CHECK(fx_open(path) == NULL);
    /* a huge dimension that the file cannot hold */
    snprintf(path, sizeof path, "%s/huge.fxt", dir);
    fp = fopen(path, "wb");
    if (fp) {
        fwrite("FXT1", 1, 4, fp);
        put_u32(fp, 1);
        put_u32(fp, 1);
        fwrite("h", 1, 1, fp);
        put_u32(fp, 3);
        put_u32(fp, 0xffffffffu);
        put_u32(fp, 0xffffffffu);
        put_u32(fp, 0xffffffffu);
        put_f32(fp, 1.0f);
        fclose(fp);
    }
    CHECK(fx_open(path) == NULL);
    CHECK(fx_open(test_fixture("metrics_basic.txt")) == NULL);
}

static fx_file *open_fixture(const char *name) {
    fx_file *f = fx_open(test_fixture(name));
    CHECK_MSG(f != NULL, "cannot read %s (run tests/fixtures/gen_torch.py)", test_fixture(name));
    return f;
}

/* Fetch a tensor that must exist with n elements. */
static const float *need(fx_file *f, const char *name, size_t n) {
    size_t got = 0;
    const float *p = fx_get(f, name, &got);
    CHECK_MSG(p != NULL, "tensor %s missing", name);
    CHECK_MSG(!p || got == n, "tensor %s has %zu elements, want %zu", name, got, n);
    return p && got == n ? p : NULL;
}

TEST(fixture_relu_matches_definition) {
    fx_file *f = open_fixture("relu.fxt");
    if (!f) return;
    size_t dims[FX_MAX_DIMS];
    CHECK_EQ_INT(fx_dims(f, "x", dims), 4);
    CHECK(dims[0] == 2 && dims[1] == 3 && dims[2] == 4 && dims[3] == 5);
    const float *x = need(f, "x", 120), *y = need(f, "y", 120), *dy = need(f, "dy", 120),
                *dx = need(f, "dx", 120);
    if (x && y && dy && dx) {
        int pos = 0;
        for (int i = 0; i < 120; i++) {
            CHECK(y[i] == (x[i] > 0 ? x[i] : 0.0f));
            CHECK(dx[i] == (x[i] > 0 ? dy[i] : 0.0f));
            pos += x[i] > 0;
        }
        CHECK(pos > 20 && pos < 100);  /* both sides are exercised */
    }
    fx_close(f);
}

TEST(fixture_dense_matches_definition) {
    fx_file *f = open_fixture("dense.fxt");
    if (!f) return;
    const float *x = need(f, "x", 30), *w = need(f, "w", 50), *b = need(f, "b", 5),
                *y = need(f, "y", 15), *dy = need(f, "dy", 15), *dx = need(f, "dx", 30),
                *dw = need(f, "dw", 50), *db = need(f, "db", 5);
    if (x && w && b && y && dy && dx && dw && db) {
        for (int n = 0; n < 3; n++)
            for (int o = 0; o < 5; o++) {
                double s = b[o];
                for (int i = 0; i < 10; i++) s += (double)x[n * 10 + i] * w[o * 10 + i];
                CHECK_NEAR(y[n * 5 + o], s, 1e-5);
            }
        for (int n = 0; n < 3; n++)
            for (int i = 0; i < 10; i++) {
                double s = 0;
                for (int o = 0; o < 5; o++) s += (double)dy[n * 5 + o] * w[o * 10 + i];
                CHECK_NEAR(dx[n * 10 + i], s, 1e-5);
            }
        for (int o = 0; o < 5; o++) {
            double sb = 0;
            for (int n = 0; n < 3; n++) sb += dy[n * 5 + o];
            CHECK_NEAR(db[o], sb, 1e-5);
            for (int i = 0; i < 10; i++) {
                double s = 0;
                for (int n = 0; n < 3; n++) s += (double)dy[n * 5 + o] * x[n * 10 + i];
                CHECK_NEAR(dw[o * 10 + i], s, 1e-5);
            }
        }
    }
    fx_close(f);
}

TEST(fixture_softmax_ce_matches_definition) {
    fx_file *f = open_fixture("softmax_ce.fxt");
    if (!f) return;
    const float *lg = need(f, "logits", 42), *lab = need(f, "labels", 6),
                *loss = need(f, "loss", 1), *lw = need(f, "loss_weighted", 1),
                *cw = need(f, "class_weight", 7), *dlw = need(f, "dlogits_weighted", 42);
    if (lg && lab && loss && lw && cw && dlw) {
        double sum = 0, wsum = 0;
        for (int i = 0; i < 6; i++) {
            double mx = lg[i * 7];
            for (int c = 1; c < 7; c++) mx = fmax(mx, lg[i * 7 + c]);
            double z = 0;
            for (int c = 0; c < 7; c++) z += exp(lg[i * 7 + c] - mx);
            int y = (int)lab[i];
            CHECK(y >= 0 && y < 7 && (float)y == lab[i]);
            double ce = log(z) - (lg[i * 7 + y] - mx);
            sum += ce;
            wsum += cw[y] * ce;
            for (int c = 0; c < 7; c++) {
                double p = exp(lg[i * 7 + c] - mx) / z;
                CHECK_NEAR(dlw[i * 7 + c], cw[y] * (p - (c == y)) / 6.0, 1e-6);
            }
        }
        CHECK_NEAR(loss[0], sum / 6.0, 1e-6);
        CHECK_NEAR(lw[0], wsum / 6.0, 1e-6);  /* divided by N, not by sum of weights */
    }
    fx_close(f);
}

/* The seed-net formula of gen_torch.py, mirrored in C. */
static float seed_v(uint32_t t, uint32_t i) {
    uint32_t u = (uint32_t)(i * 2654435761u + t * 40503u + 12345u) >> 8;
    return (float)u * 0x1p-24f - 0.5f;
}

TEST(fixture_seed_net_formula_mirrors_in_c) {
    fx_file *f = open_fixture("seed_net.fxt");
    if (!f) return;
    static const struct { const char *name; size_t n; int kind; int fan_in; } P[16] = {
        {"conv1.weight", 32 * 9, 0, 9},          {"conv1.bias", 32, 1, 0},
        {"bn1.weight", 32, 2, 0},                {"bn1.bias", 32, 1, 0},
        {"conv2.weight", 64 * 32 * 9, 0, 288},   {"conv2.bias", 64, 1, 0},
        {"bn2.weight", 64, 2, 0},                {"bn2.bias", 64, 1, 0},
        {"conv3.weight", 128 * 64 * 9, 0, 576},  {"conv3.bias", 128, 1, 0},
        {"bn3.weight", 128, 2, 0},               {"bn3.bias", 128, 1, 0},
        {"fc1.weight", 128 * 4608, 0, 4608},     {"fc1.bias", 128, 1, 0},
        {"fc2.weight", 7 * 128, 0, 128},         {"fc2.bias", 7, 1, 0}};
    const float *x = need(f, "x", 3 * 48 * 48), *scales = need(f, "scales", 16);
    if (x) {
        int bad = 0;
        for (uint32_t i = 0; i < 3 * 48 * 48; i++) bad += x[i] != seed_v(1000, i);
        CHECK_EQ_INT(bad, 0);
    }
    for (int t = 0; t < 16 && scales; t++) {
        float s = P[t].kind == 0 ? (float)(2.0 * sqrt(6.0 / P[t].fan_in))
                                 : P[t].kind == 1 ? 0.2f : 0.25f;
        CHECK_MSG(scales[t] == s, "scale %d: %.9g vs %.9g", t, scales[t], s);
        char key[64];
        snprintf(key, sizeof key, "%s.idx", P[t].name);
        const float *idx = need(f, key, 256);
        snprintf(key, sizeof key, "%s.value", P[t].name);
        const float *val = need(f, key, 256);
        if (!idx || !val) continue;
        int bad = 0;
        for (int k = 0; k < 256; k++) {
            uint32_t i = (uint32_t)((size_t)k * P[t].n / 256);
            if (idx[k] != (float)i) bad++;
            float v = seed_v((uint32_t)t, i);
            float want = P[t].kind == 2 ? 1.0f + v * s : v * s;
            if (val[k] != want) bad++;
        }
        CHECK_MSG(bad == 0, "%s: %d mismatches with the formula", P[t].name, bad);
    }
    const float *lab = need(f, "labels", 3), *loss = need(f, "loss", 1),
                *lg = need(f, "logits", 21);
    if (lab && loss && lg) {
        double sum = 0;
        for (int i = 0; i < 3; i++) {
            double z = 0;
            for (int c = 0; c < 7; c++) z += exp(lg[i * 7 + c]);
            sum += log(z) - lg[i * 7 + (int)lab[i]];
        }
        CHECK_NEAR(loss[0], sum / 3.0, 1e-5);
    }
    fx_close(f);
}
