/* cmd_ensemble.c — `ferc ensemble`: bundles several model files into one
 * model file that averages their probabilities (equal, given, or weights
 * fitted on the validation split of Training), so that eval, predict, video,
 * report and info take an ensemble wherever they take a model. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#define DEFAULT_DATA CLI_DEFAULT_DATA
#define MAX_MEMBERS 64

static void help(void) {
    printf(
        "usage: ferc ensemble --out FILE [options] MODEL MODEL...\n\n"
        "Writes ONE model file that holds the member models and averages their softmax\n"
        "probabilities with weights summing to 1. Members may differ in input size and\n"
        "preprocessing (seed 48x48, seed2 40x40, nets trained on random crops): the\n"
        "ensemble takes the face at the largest size its members start from and each\n"
        "member brings it to its own input. Every command that takes --model (eval,\n"
        "predict, video, report) takes the file; 'ferc info' lists its members. (report:\n"
        "the curves, filters and activations are the first member's; the saliency maps\n"
        "are the weighted sum of the members'. eval --tta averages face and mirror.)\n\n"
        "  --out FILE           the ensemble file to write (required; written atomically)\n"
        "  --weights W1,W2,...  one weight >= 0 per member, normalised to sum 1 (equal)\n"
        "  --fit-weights        fit the weights on the validation split that 'ferc train'\n"
        "                       carves from the Training rows (stratified, same --seed and\n"
        "                       --val-fraction; never PublicTest): coordinate ascent over a\n"
        "                       0.05 grid of each weight maximising validation accuracy,\n"
        "                       from equal weights (kept on ties)\n"
        "  --data FILE|DIR      with --fit-weights: the data the members were trained on\n"
        "                       (default %s)\n"
        "  --val-fraction F     with --fit-weights: as 'ferc train' (0.1)\n"
        "  --seed N             with --fit-weights: the members' training seed (1)\n"
        "  --limit N            with --fit-weights: the first N Training rows, as 'ferc train --limit'\n"
        "  --skip-bad-rows      with --fit-weights: skip malformed rows instead of stopping\n"
        "  --threads N          with --fit-weights: threads, 0 = every core (0)\n"
        "  --quiet              print only the saved file\n\n"
        "examples:\n"
        "  ferc ensemble --out models/ensemble.ferc models/seed.ferc models/seed2.ferc\n"
        "  ferc ensemble --out models/ensemble.ferc --fit-weights --data %s \\\n"
        "                models/seed.ferc models/seed2.ferc\n"
        "  ferc ensemble --out e.ferc --weights 1,3 a.ferc b.ferc\n",
        DEFAULT_DATA, DEFAULT_DATA);
}

typedef struct {
    const char *out, *data, *weights_arg;
    const char *members[MAX_MEMBERS];
    int n, fit, limit, skip_bad, threads, quiet, seed, fit_only_set;
    float val_fraction;
    float weights[MAX_MEMBERS];
} ens_args;

/* "1,3,0.5" into a->weights: one per member, each >= 0. */
static int parse_weights(ens_args *a) {
    const char *s = a->weights_arg;
    int k = 0;
    while (*s) {
        char *end;
        double w = strtod(s, &end);
        if (end == s || !(w >= 0 && w <= 1e6) || (*end && *end != ','))
            return cli_usage_error("ensemble", "--weights: '%s' is not a list of numbers >= 0 like 1,2", a->weights_arg);
        if (k == MAX_MEMBERS) return cli_usage_error("ensemble", "--weights: more than %d weights", MAX_MEMBERS);
        a->weights[k++] = (float)w;
        s = *end ? end + 1 : end;
    }
    if (k != a->n) return cli_usage_error("ensemble", "--weights: %d weights for %d models", k, a->n);
    return -1;
}

/* One option at argv[*i]: 1 taken, 0 not an option of ours, or the exit code + 10 on a usage error. */
static int parse_option(int argc, char **argv, int *i, ens_args *a) {
    const char *o = argv[*i], *v;
#define VAL() do { if (!(v = cli_value(argc, argv, i, o))) return 12; } while (0)
    if (cli_is(o, "--out")) { VAL(); a->out = v; }
    else if (cli_is(o, "--weights")) { VAL(); a->weights_arg = v; }
    else if (!strcmp(o, "--fit-weights")) a->fit = 1;
    else if (cli_is(o, "--data")) { VAL(); a->data = v; a->fit_only_set = 1; }
    else if (cli_is(o, "--val-fraction")) { VAL(); a->fit_only_set = 1; if (!cli_float("ensemble", o, v, 0.001, 0.9, &a->val_fraction)) return 12; }
    else if (cli_is(o, "--seed")) { VAL(); a->fit_only_set = 1; if (!cli_int("ensemble", o, v, 0, 2147483647, &a->seed)) return 12; }
    else if (cli_is(o, "--limit")) { VAL(); a->fit_only_set = 1; if (!cli_int("ensemble", o, v, 2, 1 << 30, &a->limit)) return 12; }
    else if (!strcmp(o, "--skip-bad-rows")) { a->skip_bad = 1; a->fit_only_set = 1; }
    else if (cli_is(o, "--threads")) { VAL(); if (!cli_threads("ensemble", o, v, &a->threads)) return 12; }
    else if (!strcmp(o, "--quiet")) a->quiet = 1;
    else return 0;
#undef VAL
    return 1;
}

static const char *const options[] = {"--out", "--weights", "--fit-weights", "--data", "--val-fraction", "--seed",
                                      "--limit", "--skip-bad-rows", "--threads", "--quiet", "--help", NULL};

/* -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, ens_args *a) {
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) { help(); return 0; }
        int r = parse_option(argc, argv, &i, a);
        if (r >= 10) return r - 10;
        if (r == 1) continue;
        if (o[0] == '-' && o[1]) return cli_unknown_option("ensemble", o, options);
        if (a->n == MAX_MEMBERS) return cli_usage_error("ensemble", "at most %d models", MAX_MEMBERS);
        a->members[a->n++] = o;
    }
    if (!a->out) return cli_usage_error("ensemble", "--out FILE is required");
    if (a->n < 2) return cli_usage_error("ensemble", "give at least two model files (got %d)", a->n);
    if (a->fit && a->weights_arg) return cli_usage_error("ensemble", "--weights and --fit-weights exclude each other");
    if (!a->fit && a->fit_only_set)
        return cli_usage_error("ensemble", "--data, --val-fraction, --seed, --limit and --skip-bad-rows go with --fit-weights");
    if (!a->data) a->data = DEFAULT_DATA;
    return a->weights_arg ? parse_weights(a) : -1;
}

/* The members loaded and handed to a new ensemble: 0, or the exit code. */
static int build(const ens_args *a, ferc_model **ens) {
    ferc_error err = {0};
    ferc_model *m[MAX_MEMBERS] = {0};
    for (int i = 0; i < a->n; i++)
        if (ferc_model_load(a->members[i], &m[i], &err) != FERC_OK) {
            for (int k = 0; k < i; k++) ferc_model_free(m[k]);
            return cli_error(&err);
        }
    if (ferc_ensemble_create(m, a->members, a->weights_arg ? a->weights : NULL, a->n, ens, &err) != FERC_OK)
        return cli_error(&err);
    return 0;
}

/* Weights fitted on the Training rows' validation split: 0, or the exit code. */
static int fit(const ens_args *a, ferc_model *ens) {
    ferc_error err = {0};
    ferc_dataset d;
    ferc_load_opts lo = {.usage = FERC_USAGE_TRAINING, .skip_bad_rows = a->skip_bad, .size = 0};
    if (!a->quiet) fprintf(stderr, "ensemble: loading %s (Training) ...\n", a->data);
    if (ferc_dataset_load(a->data, &lo, &d, &err) != FERC_OK) return cli_error(&err);
    if (d.skipped && !a->quiet) fprintf(stderr, "ensemble: skipped %d bad rows\n", d.skipped);
    if (a->limit && a->limit < d.n) d.n = a->limit;
    ferc_ensemble_fit f;
    ferc_status st = ferc_ensemble_fit_weights(ens, &d, a->val_fraction, (uint64_t)a->seed, a->threads, &f, &err);
    ferc_dataset_free(&d);
    if (st != FERC_OK) return cli_error(&err);
    if (!a->quiet)
        printf("weights fitted on %d validation faces (Training split, seed %d, fraction %g): accuracy %.4f with "
               "equal weights, %.4f fitted\n", f.nval, a->seed, (double)a->val_fraction, (double)f.acc_equal, (double)f.acc_fitted);
    return 0;
}

int cmd_ensemble(int argc, char **argv) {
    ens_args a = {.val_fraction = 0.1f, .seed = 1};
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0) return rc;
    ferc_model *ens = NULL;
    if ((rc = build(&a, &ens)) || (a.fit && (rc = fit(&a, ens)))) { ferc_model_free(ens); return rc; }
    ferc_error err = {0};
    char *recipe = cli_command_line(argc, argv);   /* stored in the file as its recipe */
    ferc_status st = ferc_model_set_recipe(ens, recipe, &err);
    free(recipe);
    if (st == FERC_OK) st = ferc_model_save(ens, a.out, &err);
    if (st != FERC_OK) { ferc_model_free(ens); return cli_error(&err); }
    for (int i = 0; i < a.n && !a.quiet; i++) {
        const char *name;
        float w;
        const ferc_model *k = ferc_model_member(ens, i, &name, &w);
        printf("member %d: %s  %s %dx%d  %zu parameters  weight %.4f\n", i + 1, name, ferc_model_arch(k),
               ferc_model_input_size(k), ferc_model_input_size(k), ferc_model_num_params(k), (double)w);
    }
    printf("saved %s: ensemble of %d models, input %dx%d\n", a.out, a.n, ferc_model_input_size(ens),
           ferc_model_input_size(ens));
    ferc_model_free(ens);
    return 0;
}
