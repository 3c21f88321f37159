/* cmd_calibrate.c — `ferc calibrate`: temperature scaling of a trained
 * model (or ensemble) after the fact, fitted on the validation split its
 * training carved out, so that its scores can be read as probabilities.
 * `ferc train --calibrate` does the same at the end of a run. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static void help(void) {
    printf(
        "usage: ferc calibrate --model FILE --out FILE [--data FILE|DIR] [options]\n\n"
        "Fits one temperature T on the validation split that 'ferc train' carved from the\n"
        "Training rows (same --val-fraction and --seed: faces the model did not learn from),\n"
        "by minimising the negative log-likelihood, and writes the model with T stored:\n"
        "its probabilities become softmax(logits / T). Predictions, accuracy and F1 do not\n"
        "change; the expected calibration error (ECE, 15 bins) usually drops. Prints the\n"
        "validation NLL and ECE before and after. An ensemble is calibrated as a whole.\n\n"
        "  --model FILE       the model (or ensemble) to calibrate\n"
        "  --out FILE         where to write the calibrated model (may be --model itself)\n"
        "  --data FILE|DIR    the training data (default ../shared/data/fer2013/fer2013.csv.gz)\n"
        "  --usage NAME       rows to split (Training)\n"
        "  --val-fraction F   the validation share used in training (0.1)\n"
        "  --seed N           the training run's --seed (1): the split depends on it\n"
        "  --temperature T    set T instead of fitting it (1 removes a calibration)\n"
        "  --threads N        threads, 0 = every core (0)\n\n"
        "examples:\n"
        "  ferc calibrate --model models/seed2.ferc --out seed2-cal.ferc\n"
        "  ferc eval --model seed2-cal.ferc --json    # \"ece\" and \"ece_uncalibrated\"\n"
        "  ferc train --arch seed --calibrate --out seed.ferc   # at the end of training\n");
}

typedef struct {
    const char *model, *out, *data, *usage;
    float frac, temperature;
    int seed, threads;
} cal_args;

static const char *const options[] = {"--model", "--out", "--data", "--usage", "--val-fraction", "--seed",
                                      "--temperature", "--threads", "--help", NULL};

static int parse_args(int argc, char **argv, cal_args *a) {
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v;
#define VAL() do { if (!(v = cli_value(argc, argv, &i, o))) return 2; } while (0)
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) { help(); return 0; }
        else if (cli_is(o, "--model")) { VAL(); a->model = v; }
        else if (cli_is(o, "--out")) { VAL(); a->out = v; }
        else if (cli_is(o, "--data")) { VAL(); a->data = v; }
        else if (cli_is(o, "--usage")) { VAL(); a->usage = v; }
        else if (cli_is(o, "--val-fraction")) { VAL(); if (!cli_float("calibrate", o, v, 0.001, 0.9, &a->frac)) return 2; }
        else if (cli_is(o, "--seed")) { VAL(); if (!cli_int("calibrate", o, v, 0, 2147483647, &a->seed)) return 2; }
        else if (cli_is(o, "--temperature")) {
            VAL();
            if (!cli_float("calibrate", o, v, FERC_TEMPERATURE_MIN, FERC_TEMPERATURE_MAX, &a->temperature)) return 2;
        }
        else if (cli_is(o, "--threads")) { VAL(); if (!cli_threads("calibrate", o, v, &a->threads)) return 2; }
        else return cli_unknown_option("calibrate", o, options);
#undef VAL
    }
    if (!a->model) return cli_usage_error("calibrate", "--model FILE is required");
    if (!a->out) return cli_usage_error("calibrate", "--out FILE is required (it may be the --model file)");
    if (a->usage && ferc_usage_from_name(a->usage) < FERC_USAGE_ALL)
        return cli_usage_error("calibrate", "--usage: '%s' is not Training, PublicTest, PrivateTest or all", a->usage);
    return -1;
}

static int fit(const cal_args *a, ferc_model *m) {
    ferc_error err = {0};
    ferc_dataset d;
    ferc_load_opts lo = {.usage = a->usage ? ferc_usage_from_name(a->usage) : FERC_USAGE_TRAINING};
    if (ferc_dataset_load(a->data, &lo, &d, &err) != FERC_OK) return cli_error(&err);
    ferc_calibration_fit f;
    ferc_status st = ferc_model_calibrate(m, &d, a->frac, (uint64_t)a->seed, a->threads, &f, &err);
    ferc_dataset_free(&d);
    if (st != FERC_OK) return cli_error(&err);
    printf("temperature %.4f fitted on %d validation faces\n", f.temperature, f.nval);
    printf("validation NLL %.4f -> %.4f, ECE %.4f -> %.4f\n", f.nll_before, f.nll_after, f.ece_before, f.ece_after);
    return 0;
}

int cmd_calibrate(int argc, char **argv) {
    cal_args a = {.data = CLI_DEFAULT_DATA, .frac = 0.1f, .seed = 1};
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0) return rc;
    if (cli_path_check("calibrate", "--out", a.out)) return 1;
    ferc_error err = {0};
    ferc_model *m;
    if (ferc_model_load(a.model, &m, &err) != FERC_OK) return cli_error(&err);
    if (a.temperature > 0) rc = ferc_model_set_temperature(m, a.temperature, &err) != FERC_OK ? cli_error(&err) : 0;
    else rc = fit(&a, m);
    if (!rc && ferc_model_save(m, a.out, &err) != FERC_OK) rc = cli_error(&err);
    if (!rc) printf("saved %s (temperature %.4f)\n", a.out, ferc_model_temperature(m));
    ferc_model_free(m);
    return rc;
}
