/* cmd_eval.c — `ferc eval`: accuracy, loss, scikit-learn-style
 * classification report and confusion matrix of a model on a dataset, as
 * text or JSON. Without --usage it scores the test rows (the rule of
 * ferc_dataset_test_usage, shared with `ferc report`), and the first line
 * says which rows those were, so that a figure is never read as something
 * it is not. */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void help_outputs(void);

/* What eval does and the options that choose the rows. */
static void help(void) {
    printf(
        "usage: ferc eval --model FILE [--data FILE|DIR] [--usage NAME] [--json] [--threads N]\n\n"
        "Evaluates a model on the test rows of a dataset (or the rows of the --usage named)\n"
        "and prints which rows those are (first line, e.g. 'PublicTest: 3589 faces'), the\n"
        "accuracy and the loss (mean cross-entropy), a classification report (per-class\n"
        "precision, recall, F1 and support, macro and weighted averages, laid out as\n"
        "scikit-learn's classification_report) and the 7x7 confusion matrix (rows true,\n"
        "columns predicted).\n\n"
        "  --model FILE     a .ferc model (e.g. models/seed.ferc)\n"
        "  --data FILE|DIR  FER2013 CSV (plain or .gz) or an image folder ROOT/<label>/*\n"
        "                   (default " CLI_DEFAULT_DATA ")\n"
        "  --usage NAME     Training|PublicTest|PrivateTest|all. Default: the test rows,\n"
        "                   the same rule as 'ferc report': PublicTest; PrivateTest when\n"
        "                   the file has no PublicTest rows; every row when it has no\n"
        "                   Usage column, and every image of a folder. A file whose\n"
        "                   Usage column names only Training rows is an error.\n"
        "  --detect         folders: find the largest face in every image (Haar detector,\n"
        "                   the crop margin of 'ferc predict') instead of using the image\n"
        "                   whole. Default: only in images with a side over twice the\n"
        "                   model's input (80 pixels for seed2, 96 for seed), i.e. photos,\n"
        "                   not face crops. Images without a face are left out and counted\n"
        "                   on the first line; no face at all is an error\n"
        "  --no-detect      folders: every image is a face crop, never detect\n"
        "  --cascade FILE   the Haar cascade XML for --detect (default: Debian opencv-data's\n"
        "                   haarcascade_frontalface_default.xml)\n"
        "  --json           print exactly one JSON object on stdout: rows (the usage\n"
        "                   evaluated), loss, n, accuracy, macro_f1, weighted_f1,\n"
        "                   per_class [{label, precision, recall, f1, support}], confusion\n"
        "                   (and images_without_face with detection); the rows line goes\n"
        "                   to stderr\n"
        );
    help_outputs();
}

/* The options that shape what eval writes, and the examples. */
static void help_outputs(void) {
    printf(
        "  --predictions FILE  one CSV row per evaluated face: row,true,pred,<class>...\n"
        "                   (row = the face's index among the CSV's data rows, 0-based, or\n"
        "                   among the folder's images; true and pred are class names; then\n"
        "                   every class probability), for your own error analysis, e.g.\n"
        "                   pandas.read_csv(FILE); '-' = stdout, the report then going to\n"
        "                   stderr (with --json: refused)\n"
        "  --tta            test-time augmentation: average the face and its mirror\n"
        "                   (ten crops for models trained on random crops)\n"
        "  --digits N       decimals in the report (2, as scikit-learn)\n"
        "  --skip-bad-rows  skip malformed rows instead of stopping\n"
        "  --threads N      threads, 0 = every core (0)\n\n"
        "examples:\n"
        "  ferc eval --model models/seed.ferc --data ../shared/data/fer2013/fer2013.csv.gz\n"
        "  ferc eval --model models/seed2.ferc --data photos/ --detect   # photos/<label>/*.jpg\n"
        "  ferc eval --model models/seed2.ferc --predictions pred.csv    # then: what was missed\n");
}

typedef struct {
    const char *model, *data, *usage, *predictions;
    int usage_code, json, threads, digits, skip_bad, tta;
    ferc_face_load_opts faces;
} eval_args;

static const char *const options[] = {"--model", "--data", "--usage", "--cascade", "--detect", "--no-detect", "--json",
                                      "--predictions", "--tta", "--skip-bad-rows", "--digits", "--threads", "--help", NULL};

/* -1 to go on, else the exit code (after --help or a usage error). */
static int parse_args(int argc, char **argv, eval_args *a) {
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v;
#define VAL() do { if (!(v = cli_value(argc, argv, &i, o))) return 2; } while (0)
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) { help(); return 0; }
        else if (cli_is(o, "--model")) { VAL(); a->model = v; }
        else if (cli_is(o, "--data")) { VAL(); a->data = v; }
        else if (cli_is(o, "--usage")) { VAL(); a->usage = v; }
        else if (cli_is(o, "--cascade")) { VAL(); a->faces.cascade = v; }
        else if (!strcmp(o, "--detect")) a->faces.mode = FERC_DETECT_ALWAYS;
        else if (!strcmp(o, "--no-detect")) a->faces.mode = FERC_DETECT_NEVER;
        else if (!strcmp(o, "--json")) a->json = 1;
        else if (!strcmp(o, "--tta")) a->tta = 1;
        else if (cli_is(o, "--predictions")) { VAL(); a->predictions = v; }
        else if (!strcmp(o, "--skip-bad-rows")) a->skip_bad = 1;
        else if (cli_is(o, "--digits")) { VAL(); if (!cli_int("eval", o, v, 1, 10, &a->digits)) return 2; }
        else if (cli_is(o, "--threads")) { VAL(); if (!cli_threads("eval", o, v, &a->threads)) return 2; }
        else return cli_unknown_option("eval", o, options);
#undef VAL
    }
    if (!a->model) return cli_usage_error("eval", "--model FILE is required");
    if (!a->data && access(CLI_DEFAULT_DATA, R_OK) != 0)
        return cli_usage_error("eval", "--data FILE|DIR is required (%s is not here)", CLI_DEFAULT_DATA);
    if (!a->data) a->data = CLI_DEFAULT_DATA;
    if (a->predictions && a->json && cli_is_stdout(a->predictions))
        return cli_usage_error("eval", "--predictions - and --json would both write to stdout: name a file");
    a->usage_code = a->usage ? ferc_usage_from_name(a->usage) : FERC_USAGE_TEST;
    if (a->usage_code == -2)
        return cli_usage_error("eval", "--usage: '%s' is not Training, PublicTest, PrivateTest or all", a->usage);
    return -1;
}

/* Mean cross-entropy -ln p(true label), p floored at 1e-7 as Keras clips. */
static double mean_loss(const float *probs, const int *label, int n) {
    double s = 0;
    for (int i = 0; i < n; i++) {
        float p = probs[(size_t)i * FERC_NUM_CLASSES + label[i]];
        s -= log(p > 1e-7f ? p : 1e-7f);
    }
    return n > 0 ? s / n : NAN;
}

/* The per-face CSV: row,true,pred,<class>... */
static void write_predictions(FILE *f, const ferc_dataset *d, const float *probs) {
    fputs("row,true,pred", f);
    for (int c = 0; c < FERC_NUM_CLASSES; c++) fprintf(f, ",%s", ferc_label_name(c));
    fputc('\n', f);
    for (int i = 0; i < d->n; i++) {
        const float *p = probs + (size_t)i * FERC_NUM_CLASSES;
        int best = 0;
        for (int c = 1; c < FERC_NUM_CLASSES; c++) if (p[c] > p[best]) best = c;
        fprintf(f, "%d,%s,%s", d->row ? d->row[i] : i, ferc_label_name(d->label[i]), ferc_label_name(best));
        for (int c = 0; c < FERC_NUM_CLASSES; c++) fprintf(f, ",%.6f", p[c]);
        fputc('\n', f);
    }
}

/* Calibration of the scores as given (the model's temperature applied) and,
 * for a calibrated model, as they were before (the temperature undone). */
typedef struct {
    float temperature;
    ferc_calibration cal, raw;
} eval_calibration;

static int calibration(const ferc_model *m, float *probs, const ferc_dataset *d, eval_calibration *c) {
    ferc_error err = {0};
    c->temperature = ferc_model_temperature(m);
    if (ferc_calibration_compute(probs, d->label, d->n, 15, &c->cal, &err) != FERC_OK) return cli_error(&err);
    c->raw = c->cal;
    if (c->temperature == 1.0f) return 0;
    ferc_probs_temper(probs, d->n, c->temperature);   /* probs are not used after this */
    if (ferc_calibration_compute(probs, d->label, d->n, 15, &c->raw, &err) != FERC_OK) return cli_error(&err);
    return 0;
}

static void json_calibration(FILE *f, const eval_calibration *c) {
    fprintf(f, ", \"temperature\": %.6g, \"ece\": %.6f, \"ece_uncalibrated\": %.6f, \"reliability\": {\"conf\": [",
            c->temperature, c->cal.ece, c->raw.ece);
    for (int b = 0; b < c->cal.nb; b++) fprintf(f, "%s%.6f", b ? ", " : "", c->cal.count[b] ? c->cal.conf[b] : 0.0);
    fputs("], \"acc\": [", f);
    for (int b = 0; b < c->cal.nb; b++) fprintf(f, "%s%.6f", b ? ", " : "", c->cal.count[b] ? c->cal.acc[b] : 0.0);
    fputs("], \"count\": [", f);
    for (int b = 0; b < c->cal.nb; b++) fprintf(f, "%s%d", b ? ", " : "", c->cal.count[b]);
    fputs("]}", f);
}

static void print_results(FILE *f, const eval_args *a, const ferc_load_info *info, const ferc_metrics *met, double loss,
                          double dt, const eval_calibration *cal) {
    static char buf[1 << 16];
    if (a->json) {
        ferc_metrics_json(met, buf, sizeof buf); /* "{...}": the rows and loss go in front */
        fprintf(f, "{\"rows\": \"%s\", \"loss\": %.6f, ", ferc_usage_name(info->usage), loss);
        if (info->folder && (info->detected || info->no_face)) fprintf(f, "\"images_without_face\": %d, ", info->no_face);
        size_t len = strlen(buf);
        if (len > 1 && buf[len - 1] == '}') buf[len - 1] = 0;   /* the metrics, then the calibration */
        fprintf(f, "%s", buf + 1);
        json_calibration(f, cal);
        fputs("}\n", f);
        return;
    }
    fprintf(f, "model %s on %s%s: %d face%s in %.2fs (%.0f faces/s)\n\n", a->model, a->data,
           a->tta ? " (test-time augmentation)" : "", met->n, met->n == 1 ? "" : "s", dt, met->n / dt);
    fprintf(f, "accuracy: %.4f   loss: %.4f   macro F1: %.4f   weighted F1: %.4f\n\n", met->accuracy, loss,
           met->macro_f1, met->weighted_f1);
    if (cal->temperature != 1.0f)
        fprintf(f, "calibration: ECE %.4f (temperature %.3f; uncalibrated ECE %.4f)\n\n", cal->cal.ece,
                cal->temperature, cal->raw.ece);
    else fprintf(f, "calibration: ECE %.4f (not calibrated: see ferc calibrate)\n\n", cal->cal.ece);
    ferc_metrics_report(met, a->digits, buf, sizeof buf);
    fprintf(f, "%s\n", buf);
    ferc_metrics_confusion_text(met, buf, sizeof buf);
    fprintf(f, "confusion matrix (rows true, columns predicted):\n%s", buf);
}

int cmd_eval(int argc, char **argv) {
    eval_args a = {.digits = 2, .faces = {.mode = FERC_DETECT_AUTO}};
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0) return rc;
    cli_out pred = {0};
    if (a.predictions && cli_path_check("eval", "--predictions", a.predictions)) return 1;   /* before the slow part */
    ferc_error err = {0};
    ferc_model *m;
    if (ferc_model_load(a.model, &m, &err) != FERC_OK) return cli_error(&err);
    ferc_dataset d;
    ferc_load_info info;
    ferc_load_opts lo = {.usage = a.usage_code, .skip_bad_rows = a.skip_bad, .size = 0};
    a.faces.above = 2 * ferc_model_input_size(m);
    if (ferc_dataset_load_faces(a.data, &lo, &a.faces, &d, &info, &err) != FERC_OK) {
        ferc_model_free(m);
        return cli_error(&err);
    }
    char rows[512];
    ferc_dataset_describe(&d, &info, rows, sizeof rows);
    FILE *rep = a.predictions && cli_is_stdout(a.predictions) ? stderr : stdout;   /* stdout is the CSV's */
    fprintf(a.json ? stderr : rep, "%s\n", rows); /* first: which rows the figures are about */
    fflush(stdout);
    if (d.skipped) fprintf(stderr, "skipped %d bad rows\n", d.skipped);
    ferc_metrics met;
    float *probs = malloc(sizeof(float) * FERC_NUM_CLASSES * (size_t)d.n);
    if (!probs) {
        ferc_dataset_free(&d);
        ferc_model_free(m);
        fprintf(stderr, "ferc: out of memory\n");
        return 1;
    }
    double t0 = ferc_now();
    ferc_status st = a.tta ? ferc_evaluate_tta(m, &d, a.threads, NULL, probs, &met, &err)
                           : ferc_evaluate(m, &d, a.threads, NULL, probs, &met, &err);
    double dt = ferc_now() - t0;
    double loss = st == FERC_OK ? mean_loss(probs, d.label, d.n) : 0;
    if (st == FERC_OK && a.predictions) {
        if (cli_out_open(&pred, "eval", "--predictions", a.predictions)) rc = 1;
        else { write_predictions(pred.f, &d, probs); rc = cli_out_close(&pred, 1); }
    }
    eval_calibration cal = {.temperature = 1};
    if (st == FERC_OK && rc <= 0 && d.n > 0) rc = calibration(m, probs, &d, &cal);
    free(probs);
    ferc_dataset_free(&d);
    ferc_model_free(m);
    if (st != FERC_OK) return cli_error(&err);
    if (rc > 0) return rc;
    print_results(rep, &a, &info, &met, loss, dt, &cal);
    return cli_stdout_check("eval");   /* results that never arrived are a failure */
}
