/* test_eval_predictions.c — `ferc eval --predictions FILE.csv` (issue 13
 * item 5): one row per evaluated face with the face's index among the data
 * rows of the CSV, its true and predicted class and every probability; the
 * same faces, predictions and accuracy as eval's own figures; refused
 * before any work when the file cannot be written. */
#include "test.h"
#include "cli_util.h"
#include "ferc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

TEST(eval_predictions_rows_match_the_evaluation) {
    NEED_FERC();
    const char *dir = test_tmpdir();
    char csv[1024], model[1024], pred[1024];
    snprintf(csv, sizeof csv, "%s", test_path(dir, "d.csv"));
    snprintf(pred, sizeof pred, "%s", test_path(dir, "pred.csv"));
    cli_write_csv(csv, (const int[3]){12, 9, 5}, 0);   /* PublicTest = data rows 12..20 */
    const char *m = cli_make_model(dir, 5, NULL, 0);
    if (!m) { CHECK_MSG(0, "no model"); return; }
    snprintf(model, sizeof model, "%s", m);
    CHECK_EQ_INT(cli_run(dir, "%s eval --model %s --data %s --json --predictions %s", ferc, model, csv, pred), 0);
    char *out = cli_out(dir), *text = test_read(pred, NULL);
    if (!text || !out) { CHECK_MSG(0, "no output"); free(out); free(text); return; }
    char *acc_at = strstr(out, "\"accuracy\": ");
    double acc_json = acc_at ? atof(acc_at + 12) : -1;
    char *line = strtok(text, "\n");
    CHECK_MSG(line && !strcmp(line, "row,true,pred,angry,disgust,fear,happy,sad,surprise,neutral"), "header %s", line);
    int n = 0, right = 0;
    while ((line = strtok(NULL, "\n"))) {
        int row;
        char t[32], p[32];
        float pr[7];
        int k = sscanf(line, "%d,%31[^,],%31[^,],%f,%f,%f,%f,%f,%f,%f", &row, t, p, &pr[0], &pr[1], &pr[2], &pr[3],
                       &pr[4], &pr[5], &pr[6]);
        CHECK_MSG(k == 10, "line %s", line);
        if (k != 10) break;
        CHECK_EQ_INT(row, 12 + n);
        CHECK_MSG(!strcmp(t, ferc_label_name(row % 7)), "row %d true %s", row, t);   /* cli_write_csv: label i % 7 */
        double sum = 0;
        int best = 0;
        for (int c = 0; c < 7; c++) { sum += pr[c]; if (pr[c] > pr[best]) best = c; }
        CHECK_NEAR(sum, 1.0, 1e-4);
        CHECK_MSG(!strcmp(p, ferc_label_name(best)), "pred %s is not the argmax %s", p, ferc_label_name(best));
        right += !strcmp(t, p);
        n++;
    }
    CHECK_EQ_INT(n, 9);
    CHECK_NEAR((double)right / (n ? n : 1), acc_json, 1e-6);
    free(out); free(text);
}

TEST(eval_predictions_refused_before_work) {
    NEED_FERC();
    const char *dir = test_tmpdir();
    char csv[1024], model[1024];
    snprintf(csv, sizeof csv, "%s", test_path(dir, "d.csv"));
    cli_write_csv(csv, (const int[3]){4, 7, 0}, 0);
    const char *m = cli_make_model(dir, 5, NULL, 0);
    if (!m) return;
    snprintf(model, sizeof model, "%s", m);
    static const struct { const char *args, *want; } cases[] = {
        {"--predictions /nonexistent-dir/p.csv", "no folder"},
        {"--predictions .", "is a folder"},
        {"--predictions - --json", "both write to stdout"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = cli_run(dir, "%s eval --model %s --data %s %s", ferc, model, csv, cases[i].args);
        char *e = cli_err(dir);
        CHECK_MSG(rc != 0 && strstr(e, cases[i].want) && cli_count_lines(e) <= 2, "%s: rc %d: %s", cases[i].args, rc, e);
        free(e);
    }
    /* '-': stdout is the CSV alone (readable as it comes), the report goes to stderr */
    CHECK_EQ_INT(cli_run(dir, "%s eval --model %s --data %s --predictions -", ferc, model, csv), 0);
    char *out = cli_out(dir), *err = cli_err(dir);
    CHECK_MSG(out && !strncmp(out, "row,true,pred,angry", 19) && cli_count_lines(out) == 8, "stdout: %s", out);
    CHECK_MSG(err && strstr(err, "PublicTest: 7 faces") && strstr(err, "accuracy:"), "stderr: %s", err);
    free(out); free(err);
}

/* The row index survives the usage filter and counts a skipped bad row, so
 * that it names the same line as the file (FERPlus pairs rows by it). */
TEST(dataset_row_index_names_the_file_row) {
    const char *dir = test_tmpdir();
    char px[48 * 48 * 4 + 8], *p = px;
    for (int i = 0; i < 48 * 48; i++) p += sprintf(p, i ? " %d" : "%d", i % 256);
    FILE *f = fopen(test_path(dir, "d.csv"), "w");
    if (!f) { CHECK(0); return; }
    fprintf(f, "emotion,pixels,Usage\n");
    fprintf(f, "0,%s,Training\n", px);     /* row 0 */
    fprintf(f, "1,%s,PublicTest\n", px);   /* row 1 */
    fprintf(f, "2,1 2 3,PublicTest\n");     /* row 2: bad, skipped */
    fprintf(f, "\n");                       /* blank: not a row */
    fprintf(f, "3,%s,Training\n", px);     /* row 3 */
    fprintf(f, "4,%s,PublicTest\n", px);   /* row 4 */
    fclose(f);
    ferc_dataset d = {0};
    ferc_error err = {0};
    ferc_load_opts o = {.usage = FERC_USAGE_PUBLICTEST, .skip_bad_rows = 1};
    CHECK_MSG(ferc_dataset_load(test_path(dir, "d.csv"), &o, &d, &err) == FERC_OK, "%s", err.msg);
    CHECK_EQ_INT(d.n, 2);
    CHECK(d.row != NULL);
    if (d.row && d.n == 2) { CHECK_EQ_INT(d.row[0], 1); CHECK_EQ_INT(d.row[1], 4); CHECK_EQ_INT(d.label[1], 4); }
    ferc_dataset_free(&d);
    o.usage = FERC_USAGE_TEST;   /* the test-rows rule compacts the rows afterwards */
    CHECK(ferc_dataset_load(test_path(dir, "d.csv"), &o, &d, &err) == FERC_OK);
    if (d.row && d.n == 2) { CHECK_EQ_INT(d.row[0], 1); CHECK_EQ_INT(d.row[1], 4); }
    ferc_dataset_free(&d);
}
