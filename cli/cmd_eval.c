/* cmd_eval.c — `ferc eval`: accuracy, scikit-learn-style classification
 * report and confusion matrix of a model on a dataset, as text or JSON. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static void help(void) {
    printf(
        "usage: ferc eval --model FILE --data FILE|DIR [--usage NAME] [--json] [--threads N]\n\n"
        "Evaluates a model on every row of a dataset (or the rows of one Usage) and prints\n"
        "the accuracy, a classification report (per-class precision, recall, F1 and\n"
        "support, macro and weighted averages, laid out as scikit-learn's\n"
        "classification_report) and the 7x7 confusion matrix (rows true, columns predicted).\n\n"
        "  --model FILE     a .ferc model (e.g. models/seed.ferc)\n"
        "  --data FILE|DIR  FER2013 CSV (plain or .gz) or an image folder ROOT/<label>/*\n"
        "  --usage NAME     Training|PublicTest|PrivateTest|all (all)\n"
        "  --json           print exactly one JSON object: n, accuracy, macro_f1,\n"
        "                   weighted_f1, per_class [{label, precision, recall, f1, support}],\n"
        "                   confusion\n"
        "  --tta            test-time augmentation: average the face and its mirror\n"
        "                   (ten crops for models trained on random crops)\n"
        "  --digits N       decimals in the report (2, as scikit-learn)\n"
        "  --skip-bad-rows  skip malformed rows instead of stopping\n"
        "  --threads N      (all cores)\n\n"
        "example:\n"
        "  ferc eval --model models/seed.ferc --data ../shared/data/fer2013/fer2013.csv.gz --usage PublicTest\n");
}

int cmd_eval(int argc, char **argv) {
    const char *model = NULL, *data = NULL, *usage = "all";
    int json = 0, threads = 0, digits = 2, skip_bad = 0, tta = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
#define VAL() do { if (!(v = cli_value(argc, argv, &i, a))) return 2; } while (0)
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { help(); return 0; }
        else if (cli_is(a, "--model")) { VAL(); model = v; }
        else if (cli_is(a, "--data")) { VAL(); data = v; }
        else if (cli_is(a, "--usage")) { VAL(); usage = v; }
        else if (!strcmp(a, "--json")) json = 1;
        else if (!strcmp(a, "--tta")) tta = 1;
        else if (!strcmp(a, "--skip-bad-rows")) skip_bad = 1;
        else if (cli_is(a, "--digits")) { VAL(); if (!cli_int("eval", a, v, 1, 10, &digits)) return 2; }
        else if (cli_is(a, "--threads")) { VAL(); if (!cli_int("eval", a, v, 1, 1024, &threads)) return 2; }
        else return cli_usage_error("eval", "unknown option '%s'", a);
#undef VAL
    }
    if (!model) return cli_usage_error("eval", "--model FILE is required");
    if (!data) return cli_usage_error("eval", "--data FILE is required");
    int u = ferc_usage_from_name(usage);
    if (u == -2) return cli_usage_error("eval", "--usage: '%s' is not Training, PublicTest, PrivateTest or all", usage);
    ferc_error err = {0};
    ferc_model *m;
    if (ferc_model_load(model, &m, &err) != FERC_OK) return cli_error(&err);
    ferc_dataset d;
    ferc_load_opts lo = {.usage = u, .skip_bad_rows = skip_bad, .size = 0};
    if (ferc_dataset_load(data, &lo, &d, &err) != FERC_OK) { ferc_model_free(m); return cli_error(&err); }
    if (d.skipped) fprintf(stderr, "skipped %d bad rows\n", d.skipped);
    ferc_metrics met;
    double t0 = ferc_now();
    ferc_status st = tta ? ferc_evaluate_tta(m, &d, threads, NULL, NULL, &met, &err)
                         : ferc_evaluate(m, &d, threads, NULL, NULL, &met, &err);
    double dt = ferc_now() - t0;
    ferc_dataset_free(&d);
    ferc_model_free(m);
    if (st != FERC_OK) return cli_error(&err);
    static char buf[1 << 16];
    if (json) {
        ferc_metrics_json(&met, buf, sizeof buf);
        printf("%s\n", buf);
        return 0;
    }
    printf("model %s on %s (%s%s): %d faces in %.2fs (%.0f faces/s)\n\n", model, data, usage, tta ? ", test-time augmentation" : "", met.n, dt, met.n / dt);
    printf("accuracy: %.4f   macro F1: %.4f   weighted F1: %.4f\n\n", met.accuracy, met.macro_f1, met.weighted_f1);
    ferc_metrics_report(&met, digits, buf, sizeof buf);
    printf("%s\n", buf);
    ferc_metrics_confusion_text(&met, buf, sizeof buf);
    printf("confusion matrix (rows true, columns predicted):\n%s", buf);
    return 0;
}
