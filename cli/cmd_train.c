/* cmd_train.c — `ferc train`: load FER2013 (CSV or folders), train a network
 * with a live progress bar and Keras-like epoch lines, checkpoint each epoch,
 * and save the best-on-validation model. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_DATA "../shared/data/fer2013/fer2013.csv.gz"

static void help(void) {
    printf(
        "usage: ferc train [--data FILE|DIR] [options]\n\n"
        "Trains a CNN on FER2013 and saves the weights that score best on a validation\n"
        "split carved (stratified by class) from the training rows.\n\n"
        "data:\n"
        "  --data FILE|DIR      FER2013 CSV (emotion,pixels,Usage; plain or .gz) or a folder\n"
        "                       ROOT/<label>/*.png|jpg (default %s)\n"
        "  --usage NAME         rows to train on: Training|PublicTest|PrivateTest|all (Training)\n"
        "  --skip-bad-rows      skip malformed rows instead of stopping (prints the count)\n"
        "  --limit N            use only the first N selected rows (quick experiments)\n"
        "  --val-fraction F     validation share of the training rows (0.1)\n\n"
        "network and optimiser:\n"
        "  --arch NAME          seed (48x48, 3 conv blocks) | seed2 (40x40) | vgg (48x48)\n"
        "                       | spec:SIZE:LAYERS, e.g. spec:48:conv16 relu pool flatten dense7 (seed)\n"
        "  --epochs N           (30)      --batch N  (64)      --lr X  (1e-3)\n"
        "  --lr-schedule S      constant | cosine (per step, to --lr-min over the run) |\n"
        "                       plateau (x --lr-factor after --lr-patience epochs without\n"
        "                       a better validation loss, as Keras ReduceLROnPlateau) (constant)\n"
        "  --lr-min X (0)   --lr-warmup EPOCHS (0, cosine)   --lr-factor X (0.5)   --lr-patience N (3)\n"
        "  --label-smoothing E  train on targets (1-E) onehot + E/7 (0)\n"
        "  --optimizer adam|sgd (adam: beta1 0.9, beta2 0.999, eps 1e-7 as Keras)\n"
        "  --momentum X         SGD momentum (0.9); --no-nesterov turns Nesterov off\n"
        "  --weight-decay X     L2 added to the gradient of conv/dense weights (0)\n"
        "  --labels sparse|onehot  cross-entropy on integer or one-hot labels (sparse)\n"
        "  --seed N             weights, split, shuffles and dropout (1); same seed and\n"
        "                       thread count give the same model bit for bit\n"
        "  --threads N          (all cores)\n"
        "  --bf16               convolutions after the first in bfloat16 (AVX512_BF16/AMX\n"
        "                       via oneDNN) with float32 master weights; float32 otherwise\n\n"
        "augmentation and class imbalance:\n"
        "  --augment KEY=VALUE  repeatable, e.g. --augment zoom=0.3 --augment fill=nearest\n"
        "                       --augment flip (see 'ferc augment --help' for every key)\n"
        "  --augment-config FILE  key = value lines\n"
        "  --class-weight balanced  loss weights n/(k*n_c) as scikit-learn\n"
        "  --balance oversample     draw each class equally often\n"
        "  --select accuracy|macro-f1  validation figure that picks the kept epoch (accuracy)\n"
        "  --tune-class-bias    after training, add per-class offsets to the logits that\n"
        "                       maximise validation macro F1 (folded into the last bias)\n\n"
        "output:\n"
        "  --out FILE           model file (model.ferc)\n"
        "  --checkpoint FILE    written atomically after every epoch (OUT.ckpt)\n"
        "  --resume             continue from the checkpoint if it exists\n"
        "  --plot DIR           refresh DIR/curves.png after every epoch\n"
        "  --quiet              no progress bar or epoch lines\n\n"
        "examples:\n"
        "  ferc train --data %s --arch seed --epochs 30 \\\n"
        "             --batch 64 --lr 1e-3 --seed 1 --out models/seed.ferc\n"
        "  ferc train --arch seed2 --epochs 30 --batch 32 --lr 1e-3 --lr-schedule cosine --lr-min 1e-5 \\\n"
        "             --seed 1 --labels onehot --augment zoom=0.3 --augment fill=nearest --augment flip \\\n"
        "             --augment rotation=10 --augment shift=0.1 --balance oversample --tune-class-bias \\\n"
        "             --threads 2 --out models/seed2.ferc   (models/seed2.ferc: 44 min)\n",
        DEFAULT_DATA, DEFAULT_DATA);
}

typedef struct { int quiet; const char *plot_dir; } train_ui;

#pragma weak ferc_plot_curves

static void on_progress(const ferc_progress *p, void *user) {
    train_ui *ui = user;
    if (ui->quiet && !(p->done && ui->plot_dir)) return;
    if (ui->quiet) goto plot;
    char label[32], extra[160];
    if (!p->done) {
        snprintf(label, sizeof label, "Epoch %d/%d", p->epoch, p->epochs);
        snprintf(extra, sizeof extra, "loss %.4f acc %.4f  %.0f img/s  ETA %.0fs", p->loss, p->acc,
                 p->images_per_s, p->eta_s);
        cli_progress(label, p->batch, p->batches, extra);
        return;
    }
    cli_progress_end();
    const ferc_epoch_stats *h = p->done;
    fprintf(stderr, "Epoch %d/%d - %.1fs - %.0f img/s - loss: %.4f - accuracy: %.4f - val_loss: %.4f - val_accuracy: %.4f"
            " - val_macro_f1: %.4f - lr: %.2e%s\n",
            h->epoch, p->epochs, h->seconds, p->images_per_s, h->train_loss, h->train_acc, h->val_loss, h->val_acc,
            h->val_macro_f1, h->lr, p->improved ? "  (best)" : "");
plot:
    if (ui->plot_dir) {
        char path[4096];
        ferc_error err;
        snprintf(path, sizeof path, "%s/curves.png", ui->plot_dir);
        if (ferc_plot_curves(p->history, p->nhistory, path, &err) != FERC_OK)
            fprintf(stderr, "ferc train: --plot: %s\n", err.msg);
    }
}

typedef struct {
    ferc_train_opts o;
    ferc_augment_opts aug;
    const char *data, *out, *ckpt, *usage;
    int usage_code, limit, skip_bad, use_aug;
    train_ui ui;
    cli_log_to log;
    char ckbuf[4096];   /* the default checkpoint name */
} train_args;

/* Options of the network, the optimiser and its schedule: 1 when argv[*i]
 * was one (its value taken), 0 when it is not, -1 after a usage error. */
static int net_option(int argc, char **argv, int *i, ferc_train_opts *o) {
    const char *a = argv[*i], *v;
#define VAL() do { if (!(v = cli_value(argc, argv, i, a))) return -1; } while (0)
#define INT(lo, hi, p) do { VAL(); return cli_int("train", a, v, lo, hi, p) ? 1 : -1; } while (0)
#define FLT(lo, hi, p) do { VAL(); return cli_float("train", a, v, lo, hi, p) ? 1 : -1; } while (0)
#define ONE_OF(opt, what) do { cli_usage_error("train", opt ": '%s' is not " what, v); return -1; } while (0)
    if (cli_is(a, "--arch")) { VAL(); o->arch = v; return 1; }
    if (cli_is(a, "--epochs")) INT(1, 100000, &o->epochs);
    if (cli_is(a, "--batch")) INT(1, 65536, &o->batch);
    if (cli_is(a, "--lr")) FLT(1e-9, 10, &o->lr);
    if (cli_is(a, "--lr-schedule")) {
        VAL();
        if (!strcmp(v, "constant")) o->lr_schedule = FERC_LR_CONSTANT;
        else if (!strcmp(v, "cosine")) o->lr_schedule = FERC_LR_COSINE;
        else if (!strcmp(v, "plateau")) o->lr_schedule = FERC_LR_PLATEAU;
        else ONE_OF("--lr-schedule", "constant, cosine or plateau");
        return 1;
    }
    if (cli_is(a, "--lr-min")) FLT(0, 10, &o->lr_min);
    if (cli_is(a, "--lr-warmup")) INT(0, 100000, &o->lr_warmup);
    if (cli_is(a, "--lr-factor")) FLT(1e-6, 0.999999, &o->lr_factor);
    if (cli_is(a, "--lr-patience")) INT(1, 100000, &o->lr_patience);
    if (cli_is(a, "--label-smoothing")) FLT(0, 0.999, &o->label_smoothing);
    if (cli_is(a, "--optimizer")) {
        VAL();
        if (!strcmp(v, "adam")) o->optimizer = FERC_OPT_ADAM;
        else if (!strcmp(v, "sgd")) o->optimizer = FERC_OPT_SGD;
        else ONE_OF("--optimizer", "adam or sgd");
        return 1;
    }
    if (cli_is(a, "--momentum")) FLT(0, 0.9999, &o->momentum);
    if (!strcmp(a, "--no-nesterov")) { o->nesterov = 0; return 1; }
    if (cli_is(a, "--weight-decay")) FLT(0, 1, &o->weight_decay);
    if (cli_is(a, "--labels")) {
        VAL();
        if (!strcmp(v, "sparse")) o->labels = FERC_LABELS_SPARSE;
        else if (!strcmp(v, "onehot")) o->labels = FERC_LABELS_ONEHOT;
        else ONE_OF("--labels", "sparse or onehot");
        return 1;
    }
    if (cli_is(a, "--seed")) { int s; VAL(); if (!cli_int("train", a, v, 0, 2147483647, &s)) return -1; o->seed = (uint64_t)s; return 1; }
    if (cli_is(a, "--val-fraction")) FLT(0, 0.9, &o->val_fraction);
    if (cli_is(a, "--threads")) INT(1, 1024, &o->threads);
    if (!strcmp(a, "--bf16")) { o->bf16 = 1; return 1; }
    if (!strcmp(a, "--tune-class-bias")) { o->tune_class_bias = 1; return 1; }
    if (cli_is(a, "--select")) {
        VAL();
        if (!strcmp(v, "accuracy")) o->select = FERC_SELECT_ACCURACY;
        else if (!strcmp(v, "macro-f1")) o->select = FERC_SELECT_MACRO_F1;
        else ONE_OF("--select", "accuracy or macro-f1");
        return 1;
    }
    return 0;
#undef VAL
#undef INT
#undef FLT
#undef ONE_OF
}

/* -1 to go on, else the exit code (after --help or an error). */
static int parse_args(int argc, char **argv, train_args *t) {
    ferc_error err = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        int net = net_option(argc, argv, &i, &t->o);
#define VAL() do { if (!(v = cli_value(argc, argv, &i, a))) return 2; } while (0)
        if (net) { if (net < 0) return 2; }
        else if (!strcmp(a, "--help") || !strcmp(a, "-h")) { help(); return 0; }
        else if (cli_is(a, "--data")) { VAL(); t->data = v; }
        else if (cli_is(a, "--usage")) { VAL(); t->usage = v; }
        else if (cli_is(a, "--out")) { VAL(); t->out = v; }
        else if (cli_is(a, "--checkpoint")) { VAL(); t->ckpt = v; }
        else if (!strcmp(a, "--resume")) t->o.resume = 1;
        else if (!strcmp(a, "--skip-bad-rows")) t->skip_bad = 1;
        else if (cli_is(a, "--limit")) { VAL(); if (!cli_int("train", a, v, 2, 1 << 30, &t->limit)) return 2; }
        else if (cli_is(a, "--augment")) {
            VAL();
            if (ferc_augment_opts_parse(&t->aug, v, &err) != FERC_OK) return cli_usage_error("train", "--augment: %s", err.msg);
            t->use_aug = 1;
        }
        else if (cli_is(a, "--augment-config")) {
            VAL();
            if (ferc_augment_load_config(v, &t->aug, &err) != FERC_OK) return cli_error(&err);
            t->use_aug = 1;
        }
        else if (cli_is(a, "--class-weight")) {
            VAL();
            if (strcmp(v, "balanced") && strcmp(v, "none")) return cli_usage_error("train", "--class-weight: '%s' is not balanced or none", v);
            t->o.class_weight_balanced = !strcmp(v, "balanced");
        }
        else if (cli_is(a, "--balance")) {
            VAL();
            if (strcmp(v, "oversample") && strcmp(v, "none")) return cli_usage_error("train", "--balance: '%s' is not oversample or none", v);
            t->o.balance_oversample = !strcmp(v, "oversample");
        }
        else if (cli_is(a, "--plot")) { VAL(); t->ui.plot_dir = v; }
        else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) t->ui.quiet = 1;
        else return cli_usage_error("train", "unknown option '%s'", a);
#undef VAL
    }
    return -1;
}

/* The defaults that depend on other options, and the training options that
 * point into t: -1 to go on, else the exit code. */
static int check_args(train_args *t) {
    t->usage_code = ferc_usage_from_name(t->usage);
    if (t->usage_code == -2)
        return cli_usage_error("train", "--usage: '%s' is not Training, PublicTest, PrivateTest or all", t->usage);
    if (!t->data) {
        if (access(DEFAULT_DATA, R_OK) != 0) {
            fprintf(stderr, "ferc train: no --data given and %s is not there.\n"
                            "Get FER2013 (fer2013.csv, from the Kaggle challenge) and pass --data PATH.\n", DEFAULT_DATA);
            return 2;
        }
        t->data = DEFAULT_DATA;
    }
    if (t->ui.plot_dir && !ferc_plot_curves) return cli_usage_error("train", "--plot is not available in this build");
    if (!t->ckpt) { snprintf(t->ckbuf, sizeof t->ckbuf, "%s.ckpt", t->out); t->ckpt = t->ckbuf; }
    t->o.checkpoint = t->ckpt;
    if (t->use_aug) t->o.augment = &t->aug;
    t->log = (cli_log_to){.quiet = t->ui.quiet, .prefix = ""};
    t->o.progress = on_progress;
    t->o.progress_user = &t->ui;
    t->o.log = cli_log;
    t->o.log_user = &t->log;
    return -1;
}

/* The training rows, with their class counts unless quiet: 0, or the exit code. */
static int load_data(const train_args *t, ferc_dataset *d) {
    ferc_error err = {0};
    ferc_load_opts lo = {.usage = t->usage_code, .skip_bad_rows = t->skip_bad, .size = 0};
    int quiet = t->ui.quiet;
    if (!quiet) fprintf(stderr, "loading %s ...\n", t->data);
    double t0 = ferc_now();
    if (ferc_dataset_load(t->data, &lo, d, &err) != FERC_OK) return cli_error(&err);
    if (t->limit && t->limit < d->n) d->n = t->limit;
    if (!quiet) {
        int counts[FERC_NUM_CLASSES];
        ferc_dataset_class_counts(d, counts);
        fprintf(stderr, "loaded %d faces (%s) in %.2fs", d->n, t->usage, ferc_now() - t0);
        if (d->skipped) fprintf(stderr, ", skipped %d bad rows", d->skipped);
        fprintf(stderr, "; per class:");
        for (int c = 0; c < FERC_NUM_CLASSES; c++) fprintf(stderr, " %s %d", ferc_label_name(c), counts[c]);
        fprintf(stderr, "\n");
        if (t->use_aug) {
            char buf[512];
            ferc_augment_describe(&t->aug, buf, sizeof buf);
            fprintf(stderr, "augmentation: %s\n", buf);
        }
    } else if (d->skipped) {
        fprintf(stderr, "skipped %d bad rows\n", d->skipped);
    }
    return 0;
}

/* Train on d (freed as soon as training ends), save the model, draw the
 * final curves and say which epoch was kept: the exit code. */
static int train_and_save(const train_args *t, ferc_dataset *d) {
    ferc_error err = {0};
    if (t->ui.plot_dir) mkdir(t->ui.plot_dir, 0755);
    ferc_model *m = NULL;
    double tt = ferc_now();
    ferc_status st = ferc_train(d, &t->o, &m, &err);
    ferc_dataset_free(d);
    if (st != FERC_OK) { cli_progress_end(); return cli_error(&err); }
    if (ferc_model_save(m, t->out, &err) != FERC_OK) { ferc_model_free(m); return cli_error(&err); }
    const ferc_epoch_stats *h;
    int nh = ferc_model_history(m, &h);
    if (t->ui.plot_dir) {
        char path[4096];
        snprintf(path, sizeof path, "%s/curves.png", t->ui.plot_dir);
        if (ferc_plot_curves(h, nh, path, &err) != FERC_OK) fprintf(stderr, "ferc train: --plot: %s\n", err.msg);
    }
    float best = -1;
    int be = 0;
    const int by_f1 = t->o.select == FERC_SELECT_MACRO_F1;
    for (int i = 0; i < nh; i++) {
        float v = by_f1 ? h[i].val_macro_f1 : h[i].val_acc;
        if (v > best) { best = v; be = h[i].epoch; }
    }
    if (!t->ui.quiet)
        fprintf(stderr, "saved %s (best val_%s %.4f at epoch %d; %.1f s of training)\n", t->out,
                by_f1 ? "macro_f1" : "accuracy", best, be, ferc_now() - tt);
    ferc_model_free(m);
    return 0;
}

int cmd_train(int argc, char **argv) {
    train_args t = {.out = "model.ferc", .usage = "Training"};
    ferc_train_opts_default(&t.o);
    ferc_augment_opts_default(&t.aug);
    int rc = parse_args(argc, argv, &t);
    if (rc < 0) rc = check_args(&t);
    if (rc >= 0) return rc;
    ferc_dataset d;
    if ((rc = load_data(&t, &d))) return rc;
    return train_and_save(&t, &d);
}
