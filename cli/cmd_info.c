/* cmd_info.c — `ferc info`: what a model file holds — its size, network,
 * input, the epoch whose weights were kept and the command that made it,
 * its history; for an ensemble, its members and their weights. */
#include "cli.h"

#include <math.h>
#include <string.h>
#include <sys/stat.h>

static void help(void) {
    printf("usage: ferc info MODEL\n       ferc info --build\n\n"
           "Prints what a model file holds: its size on disk, architecture, layers, input\n"
           "size and preprocessing, parameter count, forward FLOPs per face, the kept epoch\n"
           "(the epoch whose weights the file holds) with its validation figures (the last\n"
           "epoch, and \"no validation split\" in the history, for a model trained with\n"
           "--val-fraction 0), the command that trained it (when the file stores one:\n"
           "'ferc train' and 'ferc ensemble' store theirs) and the training history.\n"
           "For an ensemble ('ferc ensemble'): each member's file name, architecture,\n"
           "input, parameters, kept epoch and weight, and how the weights were chosen.\n\n"
           "ferc info --build prints how this ferc was built: whether it has MPI (data-\n"
           "parallel training under mpirun).\n\n"
           "example:\n"
           "  ferc info models/seed2.ferc\n");
}

/* The epoch ferc train kept: the first best validation accuracy (macro F1
 * when the recipe says --select macro-f1); 0 when there are no validation
 * figures. */
static int kept_epoch(const ferc_model *m, int *by_f1) {
    const ferc_epoch_stats *h;
    int n = ferc_model_history(m, &h), kept = 0;
    const char *r = ferc_model_recipe(m);
    *by_f1 = r && (strstr(r, "--select macro-f1") || strstr(r, "--select=macro-f1"));
    float best = -INFINITY;
    for (int i = 0; i < n; i++) {
        float v = *by_f1 ? h[i].val_macro_f1 : h[i].val_acc;
        if (v > best) { best = v; kept = i + 1; }
    }
    return kept;
}

static void print_kept(const ferc_model *m) {
    const ferc_epoch_stats *h;
    int n = ferc_model_history(m, &h), by_f1, k = kept_epoch(m, &by_f1);
    if (!n) { printf("kept epoch: none (no training history)\n"); return; }
    /* without validation figures ferc train keeps every epoch's weights in turn: the last */
    if (!k) { printf("kept epoch: %d of %d, the last (no validation split)\n", h[n - 1].epoch, n); return; }
    const ferc_epoch_stats *e = &h[k - 1];
    char f1[32] = "not recorded";   /* files written before macro F1 was */
    if (!isnan(e->val_macro_f1)) snprintf(f1, sizeof f1, "%.4f", e->val_macro_f1);
    printf("kept epoch: %d of %d, best validation %s: val_accuracy %.4f, val_macro_f1 %s, val_loss %.4f\n",
           e->epoch, n, by_f1 ? "macro F1" : "accuracy", e->val_acc, f1, e->val_loss);
}

/* "%.4f" of v, or what stands for it when it is not a number: the history
 * stores NAN for figures it does not have, and nan never reaches the user. */
static const char *fig(float v, const char *instead, char *buf, size_t cap) {
    if (isfinite(v)) snprintf(buf, cap, "%.4f", (double)v);
    else snprintf(buf, cap, "%s", instead);
    return buf;
}

static void print_history(const ferc_model *m) {
    const ferc_epoch_stats *h;
    int n = ferc_model_history(m, &h);
    printf("history:    %d epochs\n", n);
    if (n) printf("  epoch   loss    acc     val_loss val_acc  val_f1   lr        seconds\n");
    for (int i = 0; i < n; i++) {
        const ferc_epoch_stats *e = &h[i];
        char loss[16], vl[16], vf[16], val[64];
        if (isnan(e->val_acc)) snprintf(val, sizeof val, "%-26s", "no validation split");   /* --val-fraction 0 */
        else snprintf(val, sizeof val, "%-6s   %.4f  %-6s   ", fig(e->val_loss, "-", vl, sizeof vl),
                      (double)e->val_acc, fig(e->val_macro_f1, "-", vf, sizeof vf));   /* f1: older files have none */
        printf("  %5d  %-6s  %.4f  %s%.2e  %7.1f\n", e->epoch, fig(e->train_loss, "diverged", loss, sizeof loss),
               (double)e->train_acc, val, (double)e->lr, (double)e->seconds);
    }
}

/* "48x48", or "44x44 (centre crop of 48x48)". */
static const char *input_text(const ferc_model *m, char *buf, size_t cap) {
    int S = ferc_model_input_size(m), F = ferc_model_face_size(m);
    if (F != S) snprintf(buf, cap, "%dx%d (centre crop of %dx%d)", S, S, F, F);
    else snprintf(buf, cap, "%dx%d", S, S);
    return buf;
}

static void print_members(const ferc_model *m) {
    ferc_ensemble_fit f;
    ferc_ensemble_fit_info(m, &f);
    int n = ferc_model_num_members(m), equal = 1;
    for (int i = 0; i < n; i++) {
        float w;
        ferc_model_member(m, i, NULL, &w);
        equal &= fabsf(w * (float)n - 1.0f) < 1e-5f;
    }
    if (f.nval)
        printf("weights:    fitted on %d validation faces of Training: accuracy %.4f with equal weights, %.4f fitted\n",
               f.nval, f.acc_equal, f.acc_fitted);
    else printf("weights:    %s\n", equal ? "equal" : "given");
    printf("members:\n  #  weight  arch      input                       parameters  kept epoch  val_acc  file\n");
    for (int i = 0; i < n; i++) {
        const char *name;
        float w;
        char in[64];
        const ferc_model *k = ferc_model_member(m, i, &name, &w);
        const ferc_epoch_stats *h;
        int nh = ferc_model_history(k, &h), by_f1, e = kept_epoch(k, &by_f1);
        char kept[32] = "-", acc[16] = "-";
        if (e) { snprintf(kept, sizeof kept, "%d of %d", e, nh); snprintf(acc, sizeof acc, "%.4f", h[e - 1].val_acc); }
        printf("  %-2d %.4f  %-8s  %-26s  %10zu  %-10s  %-7s  %s\n", i + 1, w, ferc_model_arch(k),
               input_text(k, in, sizeof in), ferc_model_num_params(k), kept, acc, name);
    }
    for (int i = 0; i < n; i++) {
        const char *r = ferc_model_recipe(ferc_model_member(m, i, NULL, NULL));
        if (r) printf("  member %d recipe: %s\n", i + 1, r);
    }
}

/* The model file named on the command line: -1 to go on (*path set), else
 * the exit code (after --help or a usage error). */
static int parse_args(int argc, char **argv, const char **path) {
    static const char *const options[] = {"--help", "--build", NULL};
    if (argc < 2) { help(); return 2; }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { help(); return 0; }
        if (!strcmp(a, "--build")) { *path = NULL; return 3; }   /* cmd_info prints the build */
        if (a[0] == '-' && a[1]) return cli_unknown_option("info", a, options);
        if (*path) return cli_usage_error("info", "one MODEL file at a time ('%s' and '%s' given)", *path, a);
        *path = a;
    }
    return -1;
}

/* `ferc info --build`: what this build can do that depends on how it was
 * built (only MPI so far). */
static int print_build(void) {
    printf("version:    %s\n", FERC_VERSION_STRING);
    printf("mpi:        %s\n", ferc_dist_built() ? "yes (mpirun -np N ferc train ... trains data-parallel)"
                                                   : "no (rebuild with `make MPI=1` and libopenmpi-dev for mpirun)");
    return cli_stdout_check("info");
}

int cmd_info(int argc, char **argv) {
    const char *path = NULL;
    int rc = parse_args(argc, argv, &path);
    if (rc == 3) return print_build();
    if (rc >= 0) return rc;
    ferc_error err = {0};
    ferc_model *m;
    double t0 = ferc_now();
    if (ferc_model_load(path, &m, &err) != FERC_OK) return cli_error(&err);
    double dt = ferc_now() - t0;
    struct stat sb;
    long long size = stat(path, &sb) == 0 ? (long long)sb.st_size : -1;
    char in[64];
    const int ens = ferc_model_num_members(m) > 0;
    printf("model:      %s (loaded in %.1f ms)\n", path, dt * 1e3);
    printf("file size:  %lld bytes (%.2f MB)\n", size, (double)size / 1e6);
    if (ens) printf("arch:       ensemble of %d models, the weighted mean of their probabilities\n", ferc_model_num_members(m));
    else printf("arch:       %s\nlayers:     %s\n", ferc_model_arch(m), ferc_model_spec(m));
    printf("input:      %s gray, pixels scaled to [0,1]%s\n", input_text(m, in, sizeof in),
           ens ? "; each member brings it to its own input" : "");
    printf("parameters: %zu%s\n", ferc_model_num_params(m), ens ? " (all members)" : "");
    printf("forward:    %.2f MFLOP per face%s\n", ferc_model_flops(m) / 1e6, ens ? " (all members)" : "");
    const char *r = ferc_model_recipe(m);
    printf("recipe:     %s\n", r ? r : "not stored in this file");
    if (ferc_model_temperature(m) != 1.0f)
        printf("calibrated: temperature %.4f (probabilities = softmax(logits / T); ferc calibrate)\n", ferc_model_temperature(m));
    if (ens) print_members(m);
    else { print_kept(m); print_history(m); }
    ferc_model_free(m);
    return cli_stdout_check("info");   /* `ferc info M > /dev/full` lost everything: say so */
}
