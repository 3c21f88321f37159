/* cmd_train.c — `ferc train`: load FER2013 (CSV or folders), train a network
 * with a live progress bar and Keras-like epoch lines, checkpoint each epoch,
 * and save the best-on-validation model.
 *
 * Finished work is never lost silently: an existing --out or checkpoint is
 * refused unless --resume or --force says what to do with it, every output
 * folder is tried before the data is even loaded, and Ctrl-C (SIGINT) or
 * SIGTERM stops at the next step, saves the best model so far and prints
 * the command that resumes the run (the library polls a flag this file's
 * signal handler sets; it installs no handler itself). The command line is
 * stored in the model as its recipe, so that a file says how it was made. */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_DATA "../shared/data/fer2013/fer2013.csv.gz"

static void help_output(void);
static void help_recipe(void);

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
        "  --val-fraction F     validation share of the training rows (0.1): each class gives\n"
        "                       round(F x its faces), so with F 0.1 a class needs 5 faces for\n"
        "                       one; no validation face at all is refused. 0 = no validation:\n"
        "                       the last epoch is kept and the epoch lines show no val_ figures\n\n"
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
        "  --threads N          threads, 0 = every core (0)\n"
        "  --bf16               convolutions after the first in bfloat16 (AVX512_BF16/AMX\n"
        "                       via oneDNN) with float32 master weights; float32 otherwise\n\n"
        "augmentation and class imbalance:\n"
        "  --augment KEY=VALUE  repeatable, e.g. --augment zoom=0.3 --augment fill=nearest\n"
        "                       --augment flip (see 'ferc augment --help' for every key);\n"
        "                       random erasing: --augment erase=0.25 [erase_scale=0.02,0.33\n"
        "                       erase_ratio=0.3,3.3 erase_value=random|0]\n"
        "  --augment-config FILE  key = value lines\n"
        "  --class-weight balanced  loss weights n/(k*n_c) as scikit-learn\n"
        "  --balance oversample     draw each class equally often\n"
        "  --select accuracy|macro-f1  validation figure that picks the kept epoch (accuracy)\n"
        "  --early-stop N       stop when that figure has not improved for N epochs and keep\n"
        "                       the best epoch's weights (Keras EarlyStopping with\n"
        "                       restore_best_weights); the history holds the epochs run (off)\n"
        "  --tune-class-bias    after training, add per-class offsets to the logits that\n"
        "                       maximise validation macro F1 (folded into the last bias)\n\n",
        DEFAULT_DATA);
    help_recipe();
    help_output();
}

/* Mixing batches and averaging weights: all off unless asked for. */
static void help_recipe(void) {
    printf(
        "mixing and weight averaging (off unless given):\n"
        "  --mixup ALPHA        mixup (Zhang et al.): per batch lambda ~ Beta(ALPHA, ALPHA), each\n"
        "                       face blended with a partner from the batch, targets (smoothed\n"
        "                       first) mixed alike; 0.2-0.4 is usual (0 = off)\n"
        "  --cutmix ALPHA       CutMix (Yun et al.): a box of the partner pasted in, lambda = the\n"
        "                       face's own share; 1.0 is usual; with --mixup too, each mixed\n"
        "                       batch picks one at random (0 = off)\n"
        "  --mix-prob P         share of batches mixed (1); the training accuracy of a mixed\n"
        "                       face counts its dominant label\n"
        "  --ema DECAY          validate, select and save an exponential moving average of the\n"
        "                       weights (decay min(DECAY, (1+t)/(10+t)) at step t), e.g. 0.999;\n"
        "                       the checkpoint keeps it, so --resume needs the same --ema (off)\n\n"
        "distillation (off unless --teacher is given):\n"
        "  --teacher MODEL      train on a fixed teacher's softened probabilities as well as the\n"
        "                       labels: loss = A T^2 KL(softmax(teacher/T) || softmax(student/T))\n"
        "                       + (1 - A) CE(labels). MODEL is any model file, an ensemble too,\n"
        "                       of any input size: each face is augmented once at its own size\n"
        "                       (48x48) and each net gets it through its own resize. Not with\n"
        "                       --augment crop. The checkpoint records the teacher's hash, so\n"
        "                       --resume needs the same teacher, T and A\n"
        "  --distill-temperature T  softening temperature, in (0, 100] (4)\n"
        "  --distill-weight A   weight of the teacher's term, in [0, 1] (0.7)\n\n");
}

static void help_output(void) {
    printf(
        "output:\n"
        "  --out FILE           model file (model.ferc); it stores this command line as its\n"
        "                       recipe, which 'ferc info' prints\n"
        "  --checkpoint FILE    written atomically after every epoch (OUT.ckpt)\n"
        "  --resume             continue the run in the checkpoint (same --arch); without a\n"
        "                       checkpoint, start (refused when --out exists)\n"
        "  --force              start over even when --out or the checkpoint exists (they are\n"
        "                       replaced when the first epoch ends); without --resume or\n"
        "                       --force an existing one is refused, so finished work is kept\n"
        "  --plot DIR           refresh DIR/curves.png after every epoch\n"
        "  --quiet              no progress bar or epoch lines\n"
        "  --calibrate          after training, fit a temperature on the validation split so\n"
        "                       that the scores are calibrated probabilities (see ferc calibrate)\n"
        "  --stop-after N       pause once epoch N has ended: the best model so far to --out,\n"
        "                       the checkpoint kept, exit 0; --resume goes on (ferc tune uses\n"
        "                       it to train trials rung by rung)\n"
        "The folders of --out, --checkpoint and --plot are tried before the data is loaded.\n"
        "The progress bar shows the ETA of the epoch and of the run (\"run 12m30s\"), the\n"
        "epoch line the run's. Ctrl-C (or SIGTERM) stops at the next step: the epoch running\n"
        "is abandoned, the best model so far is saved to --out, the checkpoint of the last\n"
        "whole epoch is kept, the command that resumes the run is printed (bit for bit the\n"
        "run that was not stopped), and the exit status is 130 (143 for SIGTERM). A second\n"
        "Ctrl-C quits at once (files are written atomically).\n"
        "Under mpirun (a build with MPI: ferc info --build) the run is data-parallel: each\n"
        "rank takes its share of every batch of --batch faces, the gradients are summed\n"
        "before each step, only rank 0 prints and writes; see docs/distributed.md.\n\n"
        "examples:\n"
        "  ferc train --data %s --arch seed --epochs 30 \\\n"
        "             --batch 64 --lr 1e-3 --seed 1 --out models/seed.ferc\n"
        "  ferc train --arch seed2 --epochs 30 --batch 32 --lr 1e-3 --lr-schedule cosine --lr-min 1e-5 \\\n"
        "             --seed 1 --labels onehot --augment zoom=0.3 --augment fill=nearest --augment flip \\\n"
        "             --augment rotation=10 --augment shift=0.1 --balance oversample --tune-class-bias \\\n"
        "             --threads 2 --out models/seed2.ferc   (models/seed2.ferc: 44 min)\n"
        "  ferc train --arch seed --epochs 100 --early-stop 5 --out seed-es.ferc\n"
        "  mpirun -np 2 ferc train --arch seed --threads 1 --out seed.ferc   (2 processes)\n"
        "  ferc train --arch seed --epochs 30 --mixup 0.2 --cutmix 1.0 --mix-prob 0.5 --ema 0.999 \\\n"
        "             --label-smoothing 0.1 --augment flip --augment erase=0.25 --out seed-recipe.ferc\n"
        "  ferc train --arch seed --epochs 30 --out seed.ferc --resume   (after Ctrl-C)\n"
        "  ferc train --limit 500 --epochs 2 --val-fraction 0 --out smoke.ferc --force\n",
        DEFAULT_DATA);
}

typedef struct {
    int quiet;
    const char *plot_dir;
    int stop_after;         /* --stop-after: pause once this epoch has ended (0 = off) */
    volatile int paused;    /* that epoch has ended: ferc_train stops at its next step */
} train_ui;

#pragma weak ferc_plot_curves

/* "45s", "12m30s", "2h05m". */
static const char *duration(double s, char *buf, size_t cap) {
    long t = lround(s > 0 ? s : 0);
    if (t < 60) snprintf(buf, cap, "%lds", t);
    else if (t < 3600) snprintf(buf, cap, "%ldm%02lds", t / 60, t % 60);
    else snprintf(buf, cap, "%ldh%02ldm", t / 3600, t / 60 % 60);
    return buf;
}

/* A loss as "%.4f", or "diverged" when it is not a number (a learning rate
 * too high): never "nan" in front of the user. */
static const char *loss_text(float v, char *buf, size_t cap) {
    if (isfinite(v)) snprintf(buf, cap, "%.4f", (double)v);
    else snprintf(buf, cap, "diverged");
    return buf;
}

/* The Keras-like line of a finished epoch; without a validation split (its
 * figures NAN) the val_ figures are left out, never printed as nan. */
static void epoch_line(const ferc_progress *p) {
    const ferc_epoch_stats *h = p->done;
    const int has_val = !isnan(h->val_acc);
    char eta[32], l1[16], l2[16];
    fprintf(stderr, "Epoch %d/%d - %.1fs - %.0f img/s - loss: %s - accuracy: %.4f", h->epoch, p->epochs,
            h->seconds, p->images_per_s, loss_text(h->train_loss, l1, sizeof l1), h->train_acc);
    if (has_val)
        fprintf(stderr, " - val_loss: %s - val_accuracy: %.4f - val_macro_f1: %.4f",
                loss_text(h->val_loss, l2, sizeof l2), h->val_acc, isnan(h->val_macro_f1) ? 0.0 : h->val_macro_f1);
    fprintf(stderr, " - lr: %.2e", h->lr);
    if (p->epoch < p->epochs) fprintf(stderr, " - ETA %s", duration(p->eta_run_s, eta, sizeof eta));
    fprintf(stderr, "%s\n", has_val && p->improved ? "  (best)" : "");
}

static void on_progress(const ferc_progress *p, void *user) {
    train_ui *ui = user;
    if (p->done && ui->stop_after && p->done->epoch >= ui->stop_after && p->done->epoch < p->epochs) ui->paused = 1;
    if (ui->quiet && !(p->done && ui->plot_dir)) return;
    if (ui->quiet) goto plot;
    char label[32], extra[160], e1[32], e2[32], l[16];
    if (!p->done) {
        snprintf(label, sizeof label, "Epoch %d/%d", p->epoch, p->epochs);
        snprintf(extra, sizeof extra, "loss %s acc %.4f  %.0f img/s  ETA %s, run %s", loss_text(p->loss, l, sizeof l),
                 p->acc, p->images_per_s, duration(p->eta_s, e1, sizeof e1), duration(p->eta_run_s, e2, sizeof e2));
        cli_progress(label, p->batch, p->batches, extra);
        return;
    }
    cli_progress_end();
    epoch_line(p);
plot:
    if (ui->plot_dir) {
        char path[4096];
        ferc_error err;
        snprintf(path, sizeof path, "%s/curves.png", ui->plot_dir);
        if (ferc_plot_curves(p->history, p->nhistory, path, &err) != FERC_OK)
            fprintf(stderr, "ferc train: --plot: %s\n", err.msg);
    }
}

/* Ctrl-C and SIGTERM: the flag ferc_train polls between steps. The handler
 * resets itself (SA_RESETHAND), so a second Ctrl-C quits at once. */
static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig) {
    static const char msg[] = "\nferc train: stopping after this step, then saving (Ctrl-C again quits at once)\n";
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
    stop_signal = sig;
}

static int stop_requested(void *user) {
    const train_ui *ui = user;
    return stop_signal != 0 || ui->paused;
}

static void catch_stop_signals(void) {
    struct sigaction sa = {.sa_handler = on_stop_signal, .sa_flags = SA_RESETHAND | SA_RESTART};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

typedef struct {
    ferc_train_opts o;
    ferc_augment_opts aug;
    const char *data, *out, *ckpt, *usage;
    int usage_code, limit, skip_bad, use_aug, force, calibrate;
    int argc;                  /* the command line, for the --resume command */
    char **argv;
    train_ui ui;
    cli_log_to log;
    char ckbuf[4096];   /* the default checkpoint name */
    int rank;           /* MPI rank (join_mpi); only rank 0 writes */
} train_args;

/* --mixup, --cutmix, --mix-prob, --ema, --distill-*, as net_option answers. */
static int recipe_option(int argc, char **argv, int *i, ferc_train_opts *o) {
    const struct { const char *name; double lo, hi; float *dst; } opts[] = {
        {.name = "--mixup", .lo = 0, .hi = 100, .dst = &o->mixup},
        {.name = "--cutmix", .lo = 0, .hi = 100, .dst = &o->cutmix},
        {.name = "--mix-prob", .lo = 0, .hi = 1, .dst = &o->mix_prob},
        {.name = "--ema", .lo = 1e-6, .hi = 0.999999, .dst = &o->ema},
        {.name = "--distill-temperature", .lo = 1e-3, .hi = 100, .dst = &o->distill_temperature},
        {.name = "--distill-weight", .lo = 0, .hi = 1, .dst = &o->distill_weight}};
    const char *a = argv[*i], *v;
    for (size_t k = 0; k < sizeof opts / sizeof opts[0]; k++) {
        if (!cli_is(a, opts[k].name)) continue;
        if (!(v = cli_value(argc, argv, i, a))) return -1;
        return cli_float("train", a, v, opts[k].lo, opts[k].hi, opts[k].dst) ? 1 : -1;
    }
    return 0;
}

/* Options of the network, the optimiser and its schedule: 1 when argv[*i]
 * was one (its value taken), 0 when it is not, -1 after a usage error. */
static int net_option(int argc, char **argv, int *i, ferc_train_opts *o) {
    const char *a = argv[*i], *v;
#define VAL() do { if (!(v = cli_value(argc, argv, i, a))) return -1; } while (0)
#define INT(lo, hi, p) do { VAL(); return cli_int("train", a, v, lo, hi, p) ? 1 : -1; } while (0)
#define FLT(lo, hi, p) do { VAL(); return cli_float("train", a, v, lo, hi, p) ? 1 : -1; } while (0)
#define ONE_OF(opt, what) do { cli_usage_error("train", opt ": '%s' is not " what, v); return -1; } while (0)
    if (cli_is(a, "--arch")) { VAL(); o->arch = v; return 1; }
    if (cli_is(a, "--teacher")) { VAL(); o->teacher = v; return 1; }
    if (cli_is(a, "--epochs")) INT(1, 100000, &o->epochs);
    if (cli_is(a, "--early-stop")) INT(1, 100000, &o->early_stop);
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
    if (cli_is(a, "--threads")) { VAL(); return cli_threads("train", a, v, &o->threads) ? 1 : -1; }
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

static const char *const options[] = {
    "--data", "--usage", "--skip-bad-rows", "--limit", "--val-fraction", "--arch", "--epochs", "--batch", "--lr",
    "--lr-schedule", "--lr-min", "--lr-warmup", "--lr-factor", "--lr-patience", "--label-smoothing", "--optimizer",
    "--mixup", "--cutmix", "--mix-prob", "--ema", "--teacher", "--distill-temperature", "--distill-weight",
    "--momentum", "--no-nesterov", "--weight-decay", "--labels", "--seed", "--threads", "--bf16", "--augment",
    "--augment-config", "--class-weight", "--balance", "--select", "--early-stop", "--tune-class-bias", "--out",
    "--checkpoint", "--resume", "--force", "--plot", "--quiet", "--stop-after", "--calibrate", "--help", NULL};

int cmd_train_has_option(const char *opt) {
    for (int i = 0; options[i]; i++)
        if (!strcmp(options[i], opt)) return 1;
    return 0;
}

const char *const *cmd_train_options(void) { return options; }

/* -1 to go on, else the exit code (after --help or an error). */
static int parse_args(int argc, char **argv, train_args *t) {
    ferc_error err = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        int net = recipe_option(argc, argv, &i, &t->o);   /* the mixes and the EMA */
        if (!net) net = net_option(argc, argv, &i, &t->o);
#define VAL() do { if (!(v = cli_value(argc, argv, &i, a))) return 2; } while (0)
        if (net) { if (net < 0) return 2; }
        else if (!strcmp(a, "--help") || !strcmp(a, "-h")) { help(); return 0; }
        else if (cli_is(a, "--data")) { VAL(); t->data = v; }
        else if (cli_is(a, "--usage")) { VAL(); t->usage = v; }
        else if (cli_is(a, "--out")) { VAL(); t->out = v; }
        else if (cli_is(a, "--checkpoint")) { VAL(); t->ckpt = v; }
        else if (!strcmp(a, "--resume")) t->o.resume = 1;
        else if (!strcmp(a, "--force")) t->force = 1;
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
        else if (!strcmp(a, "--calibrate")) t->calibrate = 1;
        else if (cli_is(a, "--stop-after")) { VAL(); if (!cli_int("train", a, v, 1, 1000000, &t->ui.stop_after)) return 2; }
        else return cli_unknown_option("train", a, options);
#undef VAL
    }
    return -1;
}

/* "ferc train: <message>" as one line on stderr; returns code. */
static int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(int code, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "ferc train: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    return code;
}

/* A name ferc_arch_list gives, or a spec: (checked when it is built). */
static int known_arch(const char *a) {
    if (strncmp(a, "spec:", 5) == 0) return 1;
    const char *list = ferc_arch_list();
    const size_t n = strlen(a);
    for (const char *p = list; n && (p = strstr(p, a)); p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == 0 || p[n] == ' ')) return 1;
    return 0;
}

/* The defaults that depend on other options, the combinations that cannot
 * work (refused before any data is read), and the training options that
 * point into t: -1 to go on, else the exit code. */
static int check_args(train_args *t) {
    t->usage_code = ferc_usage_from_name(t->usage);
    if (t->usage_code == -2)
        return cli_usage_error("train", "--usage: '%s' is not Training, PublicTest, PrivateTest or all", t->usage);
    if (!known_arch(t->o.arch))
        return cli_usage_error("train", "--arch: '%s' is not %s or spec:SIZE:LAYERS", t->o.arch, ferc_arch_list());
    if (t->o.resume && t->force)
        return cli_usage_error("train", "--resume continues the checkpoint's run and --force starts over: pass one of them");
    if (t->o.early_stop && t->o.val_fraction == 0)
        return cli_usage_error("train", "--early-stop watches the validation split: it needs --val-fraction > 0");
    if (t->calibrate && t->o.val_fraction == 0)
        return cli_usage_error("train", "--calibrate fits on the validation split: it needs --val-fraction > 0");
    if (t->o.mix_prob != 1.0f && !(t->o.mixup > 0 || t->o.cutmix > 0))
        return cli_usage_error("train", "--mix-prob is the share of batches mixed: it needs --mixup or --cutmix");
    if (t->o.teacher && access(t->o.teacher, R_OK) != 0)
        return cli_usage_error("train", "--teacher: cannot read %s: %s", t->o.teacher, strerror(errno));
    for (int i = 1; !t->o.teacher && i < t->argc; i++)
        if (cli_is(t->argv[i], "--distill-temperature") || cli_is(t->argv[i], "--distill-weight"))
            return cli_usage_error("train", "%s needs --teacher", t->argv[i]);
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
    if (!strcmp(t->ckpt, t->out)) return cli_usage_error("train", "--checkpoint and --out must be different files");
    t->o.checkpoint = t->ckpt;
    if (t->use_aug) t->o.augment = &t->aug;
    t->log = (cli_log_to){.quiet = t->ui.quiet, .prefix = ""};
    t->o.progress = on_progress;
    t->o.progress_user = &t->ui;
    t->o.log = cli_log;
    t->o.log_user = &t->log;
    t->o.stop = stop_requested;
    t->o.stop_user = &t->ui;
    return -1;
}

/* ------------------------------------------------------------------------ */
/* Before the data: can every output be written, is finished work in the way */
/* ------------------------------------------------------------------------ */

/* Can files be created in dir (where path goes)? Tried with a probe file,
 * as the atomic writes create their temporary file there: 0, or 1 after
 * saying why not. */
static int check_dir(const char *what, const char *path, const char *dir) {
    struct stat st;
    if (stat(dir, &st) != 0) return fail(1, "cannot write %s %s: folder %s: %s", what, path, dir, strerror(errno));
    if (!S_ISDIR(st.st_mode)) return fail(1, "cannot write %s %s: %s is not a folder", what, path, dir);
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/.ferc-train-probe-%ld", dir, (long)getpid());
    int fd = open(probe, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) return fail(1, "cannot write %s %s: cannot create files in %s: %s", what, path, dir, strerror(errno));
    close(fd);
    unlink(probe);
    return 0;
}

static int check_file_dest(const char *what, const char *path) {
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return fail(1, "cannot write %s %s: it is a folder", what, path);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == dir) dir[1] = 0;
    else *slash = 0;
    return check_dir(what, path, dir);
}

static int check_outputs(const train_args *t) {
    int rc;
    if ((rc = check_file_dest("--out", t->out)) || (rc = check_file_dest("the checkpoint", t->ckpt))) return rc;
    const char *plot = t->ui.plot_dir;
    if (plot && mkdir(plot, 0755) != 0 && errno != EEXIST)
        return fail(1, "cannot create the --plot folder %s: %s", plot, strerror(errno));
    return plot ? check_dir("--plot", plot, plot) : 0;
}

/* --resume with another --arch than the checkpoint's, named both ways. */
static int check_resume_arch(const train_args *t) {
    ferc_model *ck = NULL;
    ferc_error err = {0};
    if (ferc_model_load(t->ckpt, &ck, &err) != FERC_OK)
        return fail(1, "--resume: %s; pass --force to start over, or another --out", err.msg);
    const char *arch = t->o.arch, *ck_spec = ferc_model_spec(ck);
    const int ck_size = ferc_model_input_size(ck);
    int same;
    if (strncmp(arch, "spec:", 5) == 0) {   /* spec:[SIZE:]LAYERS, as --help says */
        const char *spec = arch + 5;
        char *end;
        long size = strtol(spec, &end, 10);
        if (end != spec && *end == ':') spec = end + 1;
        else size = 48;
        same = size == ck_size && strcmp(spec, ck_spec) == 0;
    } else {
        same = strcmp(arch, ferc_model_arch(ck)) == 0;
    }
    char label[1024];
    if (strcmp(ferc_model_arch(ck), "custom") == 0) snprintf(label, sizeof label, "spec:%d:%s", ck_size, ck_spec);
    else snprintf(label, sizeof label, "%s", ferc_model_arch(ck));
    ferc_model_free(ck);
    if (same) return 0;
    const char *q = strchr(label, ' ') ? "'" : "";   /* a spec: as the shell wants it */
    return fail(1, "--resume: %s is the checkpoint of a %s run, not of --arch %s: resume it with --arch %s%s%s, "
                "train %s into another --out, or pass --force to start %s over in %s",
                t->ckpt, label, arch, q, label, q, arch, arch, t->out);
}

/* An existing --out or checkpoint is finished (or unfinished) work: only
 * --resume (continue it) or --force (start over) may replace it. */
static int check_existing(const train_args *t) {
    struct stat st;
    const int out = stat(t->out, &st) == 0, ck = stat(t->ckpt, &st) == 0;
    if (t->force || (!out && !ck)) return 0;
    if (t->o.resume && ck) return check_resume_arch(t);
    if (t->o.resume)
        return fail(1, "--resume: there is no checkpoint %s to continue, and %s exists: pass --force to train it "
                    "again from scratch, or another --out", t->ckpt, t->out);
    if (out && ck)
        return fail(1, "%s and its checkpoint %s already exist: pass --resume to continue that run, --force to "
                    "start over (both are replaced when the first epoch ends), or another --out", t->out, t->ckpt);
    if (out) return fail(1, "%s already exists: pass --force to replace it, or another --out", t->out);
    return fail(1, "the checkpoint %s of an earlier run already exists: pass --resume to continue it, --force to "
                "start over, or another --out", t->ckpt);
}

/* ------------------------------------------------------------------------ */
/* The data, the training, the results                                       */
/* ------------------------------------------------------------------------ */

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

/* A validation split without a face would select on nothing: refused, in
 * terms of the options (the split rule is ferc_train_opts.val_fraction's). */
static int check_split(const train_args *t, const ferc_dataset *d) {
    const float f = t->o.val_fraction;
    if (f <= 0) return 0;
    int counts[FERC_NUM_CLASSES], nval = 0, largest = 0;
    ferc_dataset_class_counts(d, counts);
    for (int c = 0; c < FERC_NUM_CLASSES; c++) {
        nval += (int)lround(f * counts[c]);
        if (counts[c] > largest) largest = counts[c];
    }
    if (nval > 0) return 0;
    return fail(2, "--val-fraction %g of these %d faces gives no validation face (each class gives round(%g x its "
                "faces): a class needs %.0f, the largest here has %d): use more faces, a larger --val-fraction, "
                "or --val-fraction 0 to train without validation (the last epoch is kept)",
                f, d->n, f, ceil(0.5 / f - 1e-6), largest);
}

/* "saved FILE (best val_accuracy 0.6123 at epoch 9; ...)" from the history;
 * "best so far" for an interrupted run. */
static void print_saved(const train_args *t, const ferc_model *m, int interrupted, double secs) {
    const ferc_epoch_stats *h;
    const int nh = ferc_model_history(m, &h);
    const char *what = interrupted ? "best so far:" : "best";
    if (!nh || isnan(h[nh - 1].val_acc)) {
        fprintf(stderr, "saved %s (no validation split: the last epoch, %d; %.1f s of training)\n", t->out, nh, secs);
        return;
    }
    const int by_f1 = t->o.select == FERC_SELECT_MACRO_F1;
    float best = -1;
    int be = 0;
    for (int i = 0; i < nh; i++) {
        float v = by_f1 ? h[i].val_macro_f1 : h[i].val_acc;
        if (v > best) { best = v; be = h[i].epoch; }
    }
    fprintf(stderr, "saved %s (%s val_%s %.4f at epoch %d; %.1f s of training)\n", t->out, what,
            by_f1 ? "macro_f1" : "accuracy", best, be, secs);
}

/* The command line as given (the program as it was invoked), without
 * --force, with --resume. */
static void print_resume_command(const train_args *t) {
    fprintf(stderr, "to resume: ");
    cli_put_quoted(stderr, program_invocation_name);
    for (int i = 0; i < t->argc; i++)   /* argv[0] is "train" */
        if (strcmp(t->argv[i], "--force") != 0) { fputc(' ', stderr); cli_put_quoted(stderr, t->argv[i]); }
    if (!t->o.resume) fputs(" --resume", stderr);
    fputc('\n', stderr);
}

/* The command line as the model's recipe ("ferc train --arch ..."), which
 * `ferc info` prints. Without it (out of memory) the trained weights are
 * still saved: a warning, not a failure. */
static void set_recipe(const train_args *t, ferc_model *m) {
    ferc_error err = {0};
    char *recipe = cli_command_line(t->argc, t->argv);   /* argv[0] is "train" */
    if (!recipe || ferc_model_set_recipe(m, recipe, &err) != FERC_OK)
        fprintf(stderr, "ferc train: warning: the command line is not stored in %s (out of memory)\n", t->out);
    free(recipe);
}

/* Ctrl-C or SIGTERM: the best model of the epochs done to --out (when an
 * epoch ended), the resume command; exit 128 + the signal. */
static int save_interrupted(const train_args *t, ferc_model *m, const ferc_error *err, double secs) {
    const int paused = !stop_signal && t->ui.paused;
    const int code = paused ? 0 : 128 + (stop_signal ? stop_signal : SIGINT);
    if (paused) fprintf(stderr, "ferc train: paused after epoch %d (--stop-after)\n", t->ui.stop_after);
    else fprintf(stderr, "ferc train: %s\n", err->msg);
    if (!m) {
        fprintf(stderr, "ferc train: nothing saved; the same command starts the run again\n");
        return code;
    }
    ferc_error e2 = {0};
    set_recipe(t, m);
    if (ferc_model_save(m, t->out, &e2) == FERC_OK) print_saved(t, m, 1, secs);
    else cli_error(&e2);
    ferc_model_free(m);
    if (access(t->ckpt, F_OK) == 0) print_resume_command(t);
    return code;
}

/* --calibrate: temperature scaling on the run's own validation split. */
static ferc_status calibrate(const train_args *t, const ferc_dataset *d, ferc_model *m, ferc_error *err) {
    ferc_calibration_fit f;
    ferc_status st = ferc_model_calibrate(m, d, t->o.val_fraction, t->o.seed, t->o.threads, &f, err);
    if (st == FERC_OK && !t->ui.quiet)
        fprintf(stderr, "calibrated: temperature %.4f on %d validation faces (NLL %.4f -> %.4f, ECE %.4f -> %.4f)\n",
                f.temperature, f.nval, f.nll_before, f.nll_after, f.ece_before, f.ece_after);
    return st;
}

/* Train on d (freed as soon as training ends), save the model, draw the
 * final curves and say which epoch was kept: the exit code. */
static int train_and_save(const train_args *t, ferc_dataset *d) {
    ferc_error err = {0};
    ferc_model *m = NULL;
    double tt = ferc_now();
    catch_stop_signals();
    ferc_status st = ferc_train(d, &t->o, &m, &err);
    if (t->rank != 0 && (st == FERC_OK || st == FERC_ERR_INTERRUPTED)) {   /* rank 0 saves the model */
        ferc_model_free(m);
        ferc_dataset_free(d);
        return st == FERC_OK || (!stop_signal && t->ui.paused) ? 0 : 128 + (stop_signal ? stop_signal : SIGINT);
    }
    if (st == FERC_OK && t->calibrate) st = calibrate(t, d, m, &err);
    ferc_dataset_free(d);
    cli_progress_end();
    if (st == FERC_ERR_INTERRUPTED) return save_interrupted(t, m, &err, ferc_now() - tt);
    if (st != FERC_OK) return cli_error(&err);
    set_recipe(t, m);
    if (ferc_model_save(m, t->out, &err) != FERC_OK) { ferc_model_free(m); return cli_error(&err); }
    if (t->ui.plot_dir) {
        const ferc_epoch_stats *h;
        int nh = ferc_model_history(m, &h);
        char path[4096];
        snprintf(path, sizeof path, "%s/curves.png", t->ui.plot_dir);
        if (nh && ferc_plot_curves(h, nh, path, &err) != FERC_OK) fprintf(stderr, "ferc train: --plot: %s\n", err.msg);
    }
    if (!t->ui.quiet) print_saved(t, m, 0, ferc_now() - tt);
    ferc_model_free(m);
    if (!stop_signal) return 0;
    /* the signal came after ferc_train's last look: the run is whole, but a
     * script that was told to stop must still see it */
    fprintf(stderr, "ferc train: signal %d came after the last epoch; %s is complete\n", (int)stop_signal, t->out);
    return 128 + stop_signal;
}

/* Under mpirun (an MPI build): join the job. Ranks other than 0 train
 * silently and write nothing (the library leaves the checkpoint to rank 0;
 * here --out and --plot); each still checks the same files, so all ranks
 * take the same decisions. */
static int join_mpi(train_args *t) {
    ferc_error err = {0};
    int rank, size;
    if (ferc_dist_init(&rank, &size, &err) != FERC_OK) return cli_error(&err);
    t->rank = rank;
    if (rank == 0) return 0;
    t->ui.quiet = 1;
    t->ui.plot_dir = NULL;
    t->log.quiet = 1;   /* progress stays on, quiet: --stop-after still pauses every rank */
    return 0;
}

int cmd_train(int argc, char **argv) {
    train_args t = {.out = "model.ferc", .usage = "Training", .argc = argc, .argv = argv};
    ferc_train_opts_default(&t.o);
    ferc_augment_opts_default(&t.aug);
    int rc = parse_args(argc, argv, &t);
    if (rc < 0) rc = check_args(&t);
    if (rc >= 0) return rc;
    if ((rc = join_mpi(&t))) return rc;
    if ((rc = check_outputs(&t)) || (rc = check_existing(&t))) return rc;
    ferc_dataset d;
    if ((rc = load_data(&t, &d))) return rc;
    if ((rc = check_split(&t, &d))) { ferc_dataset_free(&d); return rc; }
    rc = train_and_save(&t, &d);
    /* a rank that fails exits without finalising: mpirun then ends the job */
    if (rc == 0) ferc_dist_finalize();
    return rc;
}
