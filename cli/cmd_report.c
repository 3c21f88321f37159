/* cmd_report.c — `ferc report`: an HTML page with the training curves, the
 * confusion matrix, per-class scores, misclassified and correct faces,
 * error analysis (confused pairs, calibration, brightness / contrast,
 * class shares) and the network's activations, kernels and saliency. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void help(void) {
    printf(
        "usage: ferc report --model FILE [--data FILE|DIR] [--usage NAME] --out DIR [options]\n\n"
        "Evaluates a trained model on a dataset and writes DIR/index.html with PNG figures:\n"
        "  summary        accuracy, macro / weighted F1, n, architecture, parameters, epochs,\n"
        "                 and a few findings in words\n"
        "  curves.png     train / validation loss and accuracy per epoch (from the model file)\n"
        "  confusion.png  confusion matrix: counts and row percentages, colour scale\n"
        "  per_class.png  precision, recall and F1 per class; the classification report table\n"
        "  confused_pairs.png, calibration.png (reliability diagram + ECE),\n"
        "  share.png (predicted vs true share per class),\n"
        "  quantiles.png (accuracy by brightness and by contrast quantile)\n"
        "  misclassified.png  most confident mistakes first; correct.png  right answers\n"
        "  activations.png, filters.png, saliency.png  inside the network\n"
        "  summary.png    curves, confusion and per-class bars in one image, without faces\n"
        "                 (for a README; not shown on the page)\n"
        "Open DIR/index.html in a browser; the page only refers to files in DIR.\n"
        "Everything is written to a temporary folder and moved into place at the end:\n"
        "a failure leaves no new index.html behind.\n\n"
        "  --model FILE     a trained .ferc model with its history (e.g. models/seed.ferc)\n"
        "  --data FILE|DIR  FER2013 CSV (plain or .gz) or an image folder ROOT/<label>/*\n"
        "                   (default " CLI_DEFAULT_DATA ")\n"
        "  --usage NAME     Training|PublicTest|PrivateTest|all. Default: the test rows,\n"
        "                   the same rule as 'ferc eval': PublicTest; PrivateTest when\n"
        "                   the file has no PublicTest rows; every row when it has no\n"
        "                   Usage column, and every image of a folder. The first line\n"
        "                   on stderr names them (e.g. 'PublicTest: 3589 faces')\n"
        "  --detect         folders: find the largest face in every image (default: only\n"
        "                   in images with a side over twice the model's input); images\n"
        "                   without a face are left out and counted\n"
        "  --no-detect      folders: every image is a face crop, never detect\n"
        "  --cascade FILE   the Haar cascade XML for --detect (default: opencv-data's)\n"
        "  --out DIR        output folder, created if missing (its parent must exist)\n"
        "  --faces N        faces in misclassified.png and correct.png (24)\n"
        "  --pairs N        confused pairs shown with example faces (6)\n"
        "  --bins N         reliability-diagram bins (10)\n"
        "  --quantiles N    brightness / contrast groups (5)\n"
        "  --skip-bad-rows  skip malformed CSV rows instead of stopping\n"
        "  --threads N      threads for the evaluation, 0 = every core (0)\n"
        "  --quiet          no progress messages on stderr (the rows line stays)\n\n"
        "Prints the path of index.html. Exit code 0 ok, 1 error (model without history,\n"
        "no rows for the usage, unwritable folder, ...), 2 usage error. The folder is\n"
        "created with the permissions the umask allows (0755 under umask 022).\n\n"
        "example:\n"
        "  ferc report --model models/seed.ferc --data ../shared/data/fer2013/fer2013.csv.gz \\\n"
        "              --out report                  # PublicTest\n"
        "  chromium report/index.html\n");
}

static void progress(int done, int total, void *user) {
    if (*(int *)user) return;
    cli_progress("evaluating", done, total, "faces");
    if (done >= total) cli_progress_end();
}

typedef struct {
    const char *model, *data, *usage, *out;
    int threads, skip_bad, quiet, usage_code;
    ferc_face_load_opts faces;
    ferc_report_opts ro;
} report_args;

static const char *const options[] = {"--model", "--data", "--usage", "--out", "--cascade", "--detect", "--no-detect",
                                      "--faces", "--pairs", "--bins", "--quantiles", "--threads", "--skip-bad-rows",
                                      "--quiet", "--help", NULL};

/* -1 to go on, else the exit code (after --help or a usage error). */
static int parse_args(int argc, char **argv, report_args *r) {
    ferc_report_opts *ro = &r->ro;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
#define VAL() do { if (!(v = cli_value(argc, argv, &i, a))) return 2; } while (0)
#define INT(lo, hi, p) do { VAL(); if (!cli_int("report", a, v, lo, hi, p)) return 2; } while (0)
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { help(); return 0; }
        else if (cli_is(a, "--model")) { VAL(); r->model = v; }
        else if (cli_is(a, "--data")) { VAL(); r->data = v; }
        else if (cli_is(a, "--usage")) { VAL(); r->usage = v; }
        else if (cli_is(a, "--out")) { VAL(); r->out = v; }
        else if (cli_is(a, "--cascade")) { VAL(); r->faces.cascade = v; }
        else if (!strcmp(a, "--detect")) r->faces.mode = FERC_DETECT_ALWAYS;
        else if (!strcmp(a, "--no-detect")) r->faces.mode = FERC_DETECT_NEVER;
        else if (cli_is(a, "--faces")) INT(1, 200, &ro->max_faces);
        else if (cli_is(a, "--pairs")) INT(1, 21, &ro->pairs);
        else if (cli_is(a, "--bins")) INT(1, FERC_MAX_CALIB_BINS, &ro->calib_bins);
        else if (cli_is(a, "--quantiles")) INT(1, 20, &ro->quantiles);
        else if (cli_is(a, "--threads")) { VAL(); if (!cli_threads("report", a, v, &r->threads)) return 2; }
        else if (!strcmp(a, "--skip-bad-rows")) r->skip_bad = 1;
        else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) r->quiet = 1;
        else return cli_unknown_option("report", a, options);
#undef VAL
#undef INT
    }
    if (!r->model) return cli_usage_error("report", "--model FILE is required");
    if (!r->data && access(CLI_DEFAULT_DATA, R_OK) != 0)
        return cli_usage_error("report", "--data FILE|DIR is required (%s is not here)", CLI_DEFAULT_DATA);
    if (!r->data) r->data = CLI_DEFAULT_DATA;
    if (!r->out) return cli_usage_error("report", "--out DIR is required");
    r->usage_code = r->usage ? ferc_usage_from_name(r->usage) : FERC_USAGE_TEST;
    if (r->usage_code == -2)
        return cli_usage_error("report", "--usage: '%s' is not Training, PublicTest, PrivateTest or all", r->usage);
    return -1;
}

/* The model (it must have a training history) and the dataset: 0, or the
 * exit code after reporting the problem. */
static int load_inputs(report_args *r, ferc_model **m, ferc_dataset *d, ferc_load_info *info) {
    ferc_error err = {0};
    if (ferc_model_load(r->model, m, &err) != FERC_OK) return cli_error(&err);
    const ferc_epoch_stats *h;
    if (ferc_model_history(*m, &h) < 1) {
        fprintf(stderr, "ferc: %s: model has no training history; a report needs the curves "
                        "(train the model with 'ferc train')\n", r->model);
        return 1;
    }
    ferc_load_opts lo = {.usage = r->usage_code, .skip_bad_rows = r->skip_bad, .size = 0};
    r->faces.above = 2 * ferc_model_input_size(*m);
    if (ferc_dataset_load_faces(r->data, &lo, &r->faces, d, info, &err) != FERC_OK) return cli_error(&err);
    char rows[512];
    ferc_dataset_describe(d, info, rows, sizeof rows);
    fprintf(stderr, "%s\n", rows); /* the same line as `ferc eval`: which rows the figures are about */
    if (d->skipped && !r->quiet) fprintf(stderr, "report: skipped %d bad rows\n", d->skipped);
    return 0;
}

int cmd_report(int argc, char **argv) {
    report_args r = {0};
    ferc_report_opts_default(&r.ro);
    int rc = parse_args(argc, argv, &r);
    if (rc >= 0) return rc;
    ferc_model *m = NULL;
    ferc_dataset d;
    ferc_load_info info;
    if ((rc = load_inputs(&r, &m, &d, &info))) { ferc_model_free(m); return rc; }

    /* The page names the files by their base names. */
    char data_label[1024], model_label[1024];
    const char *base = strrchr(r.data, '/');
    base = base && base[1] ? base + 1 : r.data;
    snprintf(data_label, sizeof data_label, "%s (%s)", base, ferc_usage_name(info.usage));
    const char *mb = strrchr(r.model, '/');
    snprintf(model_label, sizeof model_label, "%s", mb ? mb + 1 : r.model);
    cli_log_to log = {.quiet = r.quiet, .prefix = "report: "};
    r.ro.threads = r.threads;
    r.ro.data_label = data_label;
    r.ro.model_label = model_label;
    r.ro.log = cli_log;
    r.ro.log_user = &log;
    r.ro.progress = progress;
    r.ro.progress_user = &r.quiet;

    ferc_error err = {0};
    ferc_status st = ferc_report(m, &d, r.out, &r.ro, &err);
    ferc_dataset_free(&d);
    ferc_model_free(m);
    if (st != FERC_OK) return cli_error(&err);
    size_t n = strlen(r.out);
    printf("%s%sindex.html\n", r.out, n > 0 && r.out[n - 1] == '/' ? "" : "/");
    return 0;
}
