/* test_metrics.c — checks src/metrics.c against scikit-learn: the fixtures
 * tests/fixtures/metrics_<case>.txt (made by gen_metrics.py with Debian's
 * python3-sklearn) hold predictions, every metric, the confusion matrix and
 * the exact classification_report text; plus hand-computed cases, the JSON
 * and confusion-table renderings and snprintf-style truncation. */
#include "ferc.h"
#include "train/train.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

#define K FERC_NUM_CLASSES

typedef struct {
    int n;
    int *y_true, *y_pred;
    double accuracy, precision[K], recall[K], f1[K];
    int support[K];
    double macro_p, macro_r, macro_f1, weighted_p, weighted_r, weighted_f1;
    int confusion[K][K];
    char *report2, *report4;
    int seen;  /* bit mask of the keys found */
} mcase;

static void mcase_free(mcase *c) {
    free(c->y_true);
    free(c->y_pred);
    free(c->report2);
    free(c->report4);
    memset(c, 0, sizeof *c);
}

/* Parse `count` numbers from s into doubles; returns how many were read. */
static int parse_doubles(const char *s, double *out, int count) {
    int k = 0;
    char *end;
    while (k < count) {
        double v = strtod(s, &end);
        if (end == s) break;
        out[k++] = v;
        s = end;
    }
    return k;
}

static int parse_ints(const char *s, int *out, int count) {
    int k = 0;
    char *end;
    while (k < count) {
        long v = strtol(s, &end, 10);
        if (end == s) break;
        out[k++] = (int)v;
        s = end;
    }
    return k;
}

/* Load one fixture; returns 0 on success, else a message in why. */
static int mcase_load(const char *name, mcase *c, char *why, size_t whycap) {
    memset(c, 0, sizeof *c);
    char file[128];
    snprintf(file, sizeof file, "metrics_%s.txt", name);
    const char *path = test_fixture(file);
    unsigned char *data = NULL;
    size_t len = 0;
    ferc_error err;
    if (ferc_read_file(path, &data, &len, &err) != FERC_OK) {
        snprintf(why, whycap, "%s", err.msg);
        return -1;
    }
    char *p = (char *)data, *end = p + len;
    int bad = 0;
    while (p < end && !bad) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) nl = end;
        *nl = 0;
        char *sp = strchr(p, ' ');
        const char *val = sp ? sp + 1 : "";
        if (sp) *sp = 0;
        const char *key = p;
        p = nl + 1;
        if (!strcmp(key, "case")) {
        } else if (!strcmp(key, "n")) {
            c->n = atoi(val);
            if (c->n <= 0 || c->n > 1000000) bad = 1;
            c->y_true = calloc((size_t)c->n + 1, sizeof(int));
            c->y_pred = calloc((size_t)c->n + 1, sizeof(int));
            c->seen |= 1;
        } else if (!strcmp(key, "y_true") && c->y_true) {
            bad |= parse_ints(val, c->y_true, c->n) != c->n;
            c->seen |= 2;
        } else if (!strcmp(key, "y_pred") && c->y_pred) {
            bad |= parse_ints(val, c->y_pred, c->n) != c->n;
            c->seen |= 4;
        } else if (!strcmp(key, "accuracy")) {
            bad |= parse_doubles(val, &c->accuracy, 1) != 1;
            c->seen |= 8;
        } else if (!strcmp(key, "precision")) {
            bad |= parse_doubles(val, c->precision, K) != K;
            c->seen |= 16;
        } else if (!strcmp(key, "recall")) {
            bad |= parse_doubles(val, c->recall, K) != K;
            c->seen |= 32;
        } else if (!strcmp(key, "f1")) {
            bad |= parse_doubles(val, c->f1, K) != K;
            c->seen |= 64;
        } else if (!strcmp(key, "support")) {
            bad |= parse_ints(val, c->support, K) != K;
            c->seen |= 128;
        } else if (!strcmp(key, "macro_precision")) {
            bad |= parse_doubles(val, &c->macro_p, 1) != 1;
            c->seen |= 256;
        } else if (!strcmp(key, "macro_recall")) {
            bad |= parse_doubles(val, &c->macro_r, 1) != 1;
            c->seen |= 512;
        } else if (!strcmp(key, "macro_f1")) {
            bad |= parse_doubles(val, &c->macro_f1, 1) != 1;
            c->seen |= 1024;
        } else if (!strcmp(key, "weighted_precision")) {
            bad |= parse_doubles(val, &c->weighted_p, 1) != 1;
            c->seen |= 2048;
        } else if (!strcmp(key, "weighted_recall")) {
            bad |= parse_doubles(val, &c->weighted_r, 1) != 1;
            c->seen |= 4096;
        } else if (!strcmp(key, "weighted_f1")) {
            bad |= parse_doubles(val, &c->weighted_f1, 1) != 1;
            c->seen |= 8192;
        } else if (!strcmp(key, "confusion")) {
            bad |= parse_ints(val, &c->confusion[0][0], K * K) != K * K;
            c->seen |= 16384;
        } else if (!strcmp(key, "report2") || !strcmp(key, "report4")) {
            long l = strtol(val, NULL, 10);
            if (l < 0 || l > end - p) { bad = 1; break; }
            char *text = malloc((size_t)l + 1);
            memcpy(text, p, (size_t)l);
            text[l] = 0;
            if (key[6] == '2') { free(c->report2); c->report2 = text; c->seen |= 32768; }
            else { free(c->report4); c->report4 = text; c->seen |= 65536; }
            p += l;
            if (p < end && *p == '\n') p++;
        } else {
            bad = 1;
        }
    }
    free(data);
    if (bad || c->seen != 131071) {
        snprintf(why, whycap, "%s: malformed fixture (keys seen 0x%x)", path, c->seen);
        mcase_free(c);
        return -1;
    }
    return 0;
}

static const char *const CASES[] = {"basic", "never_predicted", "absent_true", "absent_both",
                                    "perfect", "out_of_range", "ties", "fer_like"};
#define NCASES ((int)(sizeof CASES / sizeof CASES[0]))

TEST(metrics_match_sklearn_numbers) {
    int loaded = 0;
    for (int ci = 0; ci < NCASES; ci++) {
        mcase c;
        char why[1200];
        if (mcase_load(CASES[ci], &c, why, sizeof why)) {
            CHECK_MSG(0, "%s", why);
            continue;
        }
        loaded++;
        ferc_metrics m;
        ferc_metrics_compute(c.y_true, c.y_pred, c.n, &m);
        const double tol = 1e-12;
        CHECK_EQ_INT(m.n, c.n);
        CHECK_NEAR(m.accuracy, c.accuracy, tol);
        for (int k = 0; k < K; k++) {
            CHECK_MSG(fabs(m.precision[k] - c.precision[k]) <= tol, "%s precision[%d] %.17g vs %.17g",
                      CASES[ci], k, m.precision[k], c.precision[k]);
            CHECK_MSG(fabs(m.recall[k] - c.recall[k]) <= tol, "%s recall[%d] %.17g vs %.17g",
                      CASES[ci], k, m.recall[k], c.recall[k]);
            CHECK_MSG(fabs(m.f1[k] - c.f1[k]) <= tol, "%s f1[%d] %.17g vs %.17g", CASES[ci], k,
                      m.f1[k], c.f1[k]);
            CHECK_MSG(m.support[k] == c.support[k], "%s support[%d] %d vs %d", CASES[ci], k,
                      m.support[k], c.support[k]);
            for (int j = 0; j < K; j++)
                CHECK_MSG(m.confusion[k][j] == c.confusion[k][j], "%s confusion[%d][%d] %d vs %d",
                          CASES[ci], k, j, m.confusion[k][j], c.confusion[k][j]);
        }
        CHECK_NEAR(m.macro_precision, c.macro_p, tol);
        CHECK_NEAR(m.macro_recall, c.macro_r, tol);
        CHECK_NEAR(m.macro_f1, c.macro_f1, tol);
        CHECK_NEAR(m.weighted_precision, c.weighted_p, tol);
        CHECK_NEAR(m.weighted_recall, c.weighted_r, tol);
        CHECK_NEAR(m.weighted_f1, c.weighted_f1, tol);
        mcase_free(&c);
    }
    CHECK_EQ_INT(loaded, NCASES);
}

TEST(metrics_report_matches_sklearn_text) {
    for (int ci = 0; ci < NCASES; ci++) {
        mcase c;
        char why[1200];
        if (mcase_load(CASES[ci], &c, why, sizeof why)) {
            CHECK_MSG(0, "%s", why);
            continue;
        }
        ferc_metrics m;
        ferc_metrics_compute(c.y_true, c.y_pred, c.n, &m);
        char buf[4096];
        for (int d = 2; d <= 4; d += 2) {
            const char *want = d == 2 ? c.report2 : c.report4;
            int len = ferc_metrics_report(&m, d, buf, sizeof buf);
            CHECK_EQ_INT(len, (int)strlen(want));
            CHECK_MSG(strcmp(buf, want) == 0, "%s digits=%d report differs:\n--- ours\n%s--- sklearn\n%s",
                      CASES[ci], d, buf, want);
        }
        mcase_free(&c);
    }
}

/* A case small enough to do by hand: 3 angry, 2 happy, 1 sad (true);
 * predictions angry, angry, happy | happy, -1 | sad. */
TEST(metrics_hand_computed) {
    int yt[] = {0, 0, 0, 3, 3, 4};
    int yp[] = {0, 0, 3, 3, -1, 4};
    ferc_metrics m;
    ferc_metrics_compute(yt, yp, 6, &m);
    CHECK_EQ_INT(m.n, 6);
    CHECK_NEAR(m.accuracy, 4.0 / 6.0, 1e-15);
    CHECK_NEAR(m.precision[0], 1.0, 1e-15);
    CHECK_NEAR(m.recall[0], 2.0 / 3.0, 1e-15);
    CHECK_NEAR(m.f1[0], 0.8, 1e-15);
    CHECK_NEAR(m.precision[3], 0.5, 1e-15);  /* 2 predicted happy, 1 right */
    CHECK_NEAR(m.recall[3], 0.5, 1e-15);     /* the -1 is a miss, in no column */
    CHECK_NEAR(m.precision[4], 1.0, 1e-15);
    CHECK_NEAR(m.precision[1], 0.0, 0);      /* zero_division = 0 */
    CHECK_EQ_INT(m.support[0], 3);
    CHECK_EQ_INT(m.support[3], 2);
    CHECK_EQ_INT(m.confusion[0][3], 1);
    CHECK_EQ_INT(m.confusion[3][3], 1);
    int row3 = 0;
    for (int j = 0; j < K; j++) row3 += m.confusion[3][j];
    CHECK_EQ_INT(row3, 1);
    /* macro F1 = (0.8 + 0.5 + 1) / 7; weighted = (3*0.8 + 2*0.5 + 1*1) / 6 */
    CHECK_NEAR(m.macro_f1, 2.3 / 7.0, 1e-15);
    CHECK_NEAR(m.weighted_f1, 4.4 / 6.0, 1e-15);
    /* Classes 1, 2, 5, 6 absent and a -1 present: sklearn prints "micro avg". */
    char buf[2048];
    ferc_metrics_report(&m, 2, buf, sizeof buf);
    CHECK(strstr(buf, "   micro avg       0.80      0.67      0.73         6\n") != NULL);
    CHECK(strstr(buf, "accuracy") == NULL);
}

TEST(metrics_report_truncates_like_snprintf) {
    int yt[] = {0, 1, 2, 3, 4, 5, 6, 6};
    int yp[] = {0, 1, 2, 3, 4, 5, 6, 5};
    ferc_metrics m;
    ferc_metrics_compute(yt, yp, 8, &m);
    char full[2048], small[40];
    int len = ferc_metrics_report(&m, 2, full, sizeof full);
    CHECK(len > 100);
    CHECK_EQ_INT((int)strlen(full), len);
    CHECK(strstr(full, "    accuracy                           0.88         8\n") != NULL);
    memset(small, 'x', sizeof small);
    int len2 = ferc_metrics_report(&m, 2, small, sizeof small);
    CHECK_EQ_INT(len2, len);
    CHECK_EQ_INT((int)strlen(small), (int)sizeof small - 1);
    CHECK(strncmp(small, full, sizeof small - 1) == 0);
    CHECK_EQ_INT(ferc_metrics_report(&m, 2, NULL, 0), len);
    CHECK_EQ_INT(ferc_metrics_json(&m, NULL, 0), ferc_metrics_json(&m, full, sizeof full));
    CHECK_EQ_INT(ferc_metrics_confusion_text(&m, NULL, 0),
                 ferc_metrics_confusion_text(&m, full, sizeof full));
}

/* Find "key": in a JSON text and parse the number after it. */
static int json_number(const char *json, const char *key, double *v) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *p = strstr(json, pat);
    if (!p) return 0;
    char *end;
    *v = strtod(p + strlen(pat), &end);
    return end != p + strlen(pat);
}

TEST(metrics_json_has_every_value) {
    mcase c;
    char why[1200];
    if (mcase_load("fer_like", &c, why, sizeof why)) {
        CHECK_MSG(0, "%s", why);
        return;
    }
    ferc_metrics m;
    ferc_metrics_compute(c.y_true, c.y_pred, c.n, &m);
    char buf[8192];
    int len = ferc_metrics_json(&m, buf, sizeof buf);
    CHECK(len > 0 && len < (int)sizeof buf);
    CHECK_EQ_INT((int)strlen(buf), len);
    /* One object, balanced brackets and braces outside strings, no nan/inf. */
    int depth_b = 0, depth_s = 0, in_str = 0, closed_at_end = 0, min_depth_ok = 1;
    for (int i = 0; buf[i]; i++) {
        char ch = buf[i];
        if (in_str) { if (ch == '"') in_str = 0; continue; }
        if (ch == '"') in_str = 1;
        else if (ch == '{') depth_b++;
        else if (ch == '}') depth_b--;
        else if (ch == '[') depth_s++;
        else if (ch == ']') depth_s--;
        if (depth_b < 0 || depth_s < 0) min_depth_ok = 0;
        if (depth_b == 0 && depth_s == 0 && i > 0 && buf[i + 1] != 0) min_depth_ok = 0;
        closed_at_end = depth_b == 0 && depth_s == 0;
    }
    CHECK(buf[0] == '{');
    CHECK(min_depth_ok && closed_at_end && !in_str);
    CHECK(strstr(buf, "nan") == NULL && strstr(buf, "inf") == NULL);
    double v;
    CHECK(json_number(buf, "n", &v) && v == c.n);
    CHECK(json_number(buf, "accuracy", &v) && fabs(v - c.accuracy) <= 1e-12);
    CHECK(json_number(buf, "macro_f1", &v) && fabs(v - c.macro_f1) <= 1e-12);
    CHECK(json_number(buf, "weighted_f1", &v) && fabs(v - c.weighted_f1) <= 1e-12);
    CHECK(strstr(buf, "\"per_class\": [") != NULL);
    CHECK(strstr(buf, "\"confusion\": [[") != NULL);
    /* per_class entries in label order, with values equal to sklearn's */
    const char *p = buf;
    for (int k = 0; k < K; k++) {
        char pat[64];
        snprintf(pat, sizeof pat, "{\"label\": \"%s\"", ferc_label_name(k));
        const char *q = strstr(p, pat);
        CHECK_MSG(q != NULL, "per_class entry %s missing or out of order", ferc_label_name(k));
        if (!q) break;
        double pr, rc, f1, sup;
        CHECK(json_number(q, "precision", &pr) && fabs(pr - c.precision[k]) <= 1e-12);
        CHECK(json_number(q, "recall", &rc) && fabs(rc - c.recall[k]) <= 1e-12);
        CHECK(json_number(q, "f1", &f1) && fabs(f1 - c.f1[k]) <= 1e-12);
        CHECK(json_number(q, "support", &sup) && sup == c.support[k]);
        p = q + 1;
    }
    /* confusion: 7 rows of 7 ints, rows true */
    const char *q = strstr(buf, "\"confusion\": [");
    if (q) {
        q += strlen("\"confusion\": [");
        for (int t = 0; t < K; t++) {
            while (*q == ' ' || *q == ',') q++;
            CHECK(*q == '[');
            q++;
            for (int j = 0; j < K; j++) {
                char *end;
                while (*q == ' ' || *q == ',') q++;
                long x = strtol(q, &end, 10);
                CHECK_MSG(end != q && x == c.confusion[t][j], "confusion[%d][%d] in JSON", t, j);
                q = end;
            }
            CHECK(*q == ']');
            q++;
        }
        CHECK(strcmp(q, "]}") == 0);
    }
    mcase_free(&c);
}

TEST(metrics_confusion_text_shows_counts) {
    int yt[] = {0, 0, 1, 3, 3, 3, 6};
    int yp[] = {0, 3, 1, 3, 3, 12, 4};
    ferc_metrics m;
    ferc_metrics_compute(yt, yp, 7, &m);
    char buf[4096];
    int len = ferc_metrics_confusion_text(&m, buf, sizeof buf);
    CHECK(len > 0 && len == (int)strlen(buf));
    /* header row names every predicted class in order */
    const char *p = buf;
    for (int k = 0; k < K; k++) {
        const char *q = strstr(p, ferc_label_name(k));
        CHECK(q != NULL && q < strchr(buf, '\n'));
        if (q) p = q;
    }
    /* row "happy": 0 0 0 2 0 0 0, total 2 */
    const char *row = strstr(buf, "\nhappy");
    CHECK(row != NULL);
    if (row) {
        int v[8], k = 0;
        const char *s = row + strlen("\nhappy");
        char *end;
        for (; k < 8; k++) {
            long x = strtol(s, &end, 10);
            if (end == s) break;
            v[k] = (int)x;
            s = end;
        }
        CHECK_EQ_INT(k, 8);
        int want[8] = {0, 0, 0, 2, 0, 0, 0, 2};
        for (int j = 0; j < k; j++) CHECK_EQ_INT(v[j], want[j]);
    }
    CHECK(strstr(buf, "1 of 7 samples") != NULL);  /* the prediction 12 */
}

TEST(metrics_empty_input_is_all_zero) {
    ferc_metrics m;
    ferc_metrics_compute(NULL, NULL, 0, &m);
    CHECK_EQ_INT(m.n, 0);
    CHECK(m.accuracy == 0 && m.macro_f1 == 0 && m.weighted_f1 == 0);
    char buf[4096];
    CHECK(ferc_metrics_json(&m, buf, sizeof buf) > 0);
    CHECK(strstr(buf, "nan") == NULL);
    CHECK(ferc_metrics_report(&m, 2, buf, sizeof buf) > 0);
    CHECK(strstr(buf, "nan") == NULL);
}
