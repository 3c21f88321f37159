/* train.c — the training loop: stratified validation split, shuffled (or
 * class-balanced) batches with optional on-the-fly augmentation, forward,
 * softmax cross-entropy, backward, optimiser step; per-epoch validation,
 * best-weight keeping, history, and atomic per-epoch checkpoints that a
 * later run resumes bit for bit.
 *
 * ferc_train reads as its steps over one train_state: train_begin (options,
 * model, every buffer, the split, resumed state), then per epoch train_epoch
 * (the batches) and train_epoch_end (validation, history, kept weights,
 * checkpoint, early stopping), then train_finish (best weights back, class
 * offsets) or, when the caller asked to stop, train_interrupted (best weights
 * back, the checkpoint of the last whole epoch left as the resume point), and
 * train_free on every path. Every buffer a step uses is allocated in
 * train_begin, so a step never allocates (only an epoch's end does: the
 * history copy and the checkpoint file). The lr schedules are in schedule.c,
 * the class-offset tuning in select.c, mixup / CutMix and the weights' moving
 * average in recipe.c, the stratified split in data (the ensemble fit uses
 * the same one). */
#include "train/train.h"
#include "train/dist.h"
#include "data/data.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void ferc_train_opts_default(ferc_train_opts *o) {
    memset(o, 0, sizeof *o);
    o->arch = "seed";
    o->epochs = 30;
    o->batch = 64;
    o->lr = 1e-3f;
    o->lr_schedule = FERC_LR_CONSTANT;
    o->lr_factor = 0.5f; o->lr_patience = 3;
    o->optimizer = FERC_OPT_ADAM;
    o->beta1 = 0.9f; o->beta2 = 0.999f; o->eps = 1e-7f;
    o->momentum = 0.9f; o->nesterov = 1;
    o->labels = FERC_LABELS_SPARSE;
    o->seed = 1;
    o->val_fraction = 0.1f;
    o->mix_prob = 1.0f;
    o->distill_temperature = 4.0f; o->distill_weight = 0.7f;
}

/* Everything one training run holds; zeroed, it is a state train_free can
 * release. */
typedef struct {
    const ferc_dataset *d;
    const ferc_train_opts *o;
    ferc_model *m;             /* NULL once handed to the caller */
    ferc_net *net;
    int S, B, threads;         /* input side, batch, threads */
    /* the split (row indices, sorted) and this epoch's order of train rows */
    int *train, *val, *order;
    int ntrain, nval, nbatches;
    /* one batch */
    float *x;                  /* (B, S, S) */
    int *y;                    /* (B) */
    float *onehot;             /* (B, 7) targets, or NULL for sparse labels */
    float *dlogits;            /* (B, 7) */
    recipe_mix_buffers mixbuf; /* mixup / CutMix scratch (NULLs when off) */
    float class_w[FERC_NUM_CLASSES];
    const float *cw;           /* class_w when weighting classes, else NULL */
    /* validation */
    float *vlogits;            /* (nval, 7) logits of the last validate() */
    int *vtrue, *vpred;        /* (nval) labels; predictions (scratch) */
    optim_state opt;
    ferc_balanced_sampler bal;
    int *tlabels;              /* (ntrain) labels of train[], for the sampler */
    ferc_rng rng;              /* shuffles, augmentation, dropout seeds */
    /* the epoch running */
    double t0, loss_sum;
    long correct, seen;
    /* history and the kept (best) weights */
    ferc_epoch_stats *hist;    /* (epochs) */
    float *best_p, *best_s;
    float best_score;          /* validation figure of the kept weights */
    float *ema_p, *live_p;     /* --ema: the average; the live weights while it is validated */
    int best_epoch, start_epoch;
    ckpt_extra ex;             /* buffers of a loaded checkpoint */
    /* the epochs this call ran, timed for the ETA of the whole run */
    double run_secs, val_secs;
    int run_epochs;
    int stopped_early;         /* early stopping ended the run (now or in the checkpoint's) */
    distill_state ds;          /* --teacher (distill.c); ds.on = 0 without one */
    /* data parallelism (dist.c): this rank, the number of ranks, and the
     * faces this rank has seen this epoch (seen counts the whole batch) */
    int rank, ranks;
    long lseen;
} train_state;


/* ------------------------------------------------------------------------ */
/* Batches                                                                   */
/* ------------------------------------------------------------------------ */

static void shuffle(int *a, int n, ferc_rng *r) {
    for (int i = n - 1; i > 0; i--) {
        int j = (int)ferc_rng_below(r, (uint32_t)i + 1);
        int t = a[i]; a[i] = a[j]; a[j] = t;
    }
}

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* Images of rows idx[0..n) into x at the network's size; augmented when
 * training with augmentation, else the evaluation view. */
static void fill_batch(train_state *t, const int *idx, int n, int train, ferc_rng *rng) {
    const ferc_dataset *d = t->d;
    if (train && t->ds.on) {   /* distilled: faces at their own size; distill_batch makes both views */
        const int F = t->ds.F;
        if (t->o->augment) {
            ferc_augment_batch(t->o->augment, rng, d, idx, n, 1, t->ds.x, F, F);
        } else {
#pragma omp parallel for num_threads(t->threads) schedule(static)
            for (int i = 0; i < n; i++) ferc_prepare_images(d, idx[i], 1, F, t->ds.x + (size_t)i * F * F);
        }
    } else if (t->o->augment) {
        ferc_augment_batch(t->o->augment, rng, d, idx, n, train, t->x, t->S, t->S);
    } else {
#pragma omp parallel for num_threads(t->threads) schedule(static)
        for (int i = 0; i < n; i++)
            ferc_prepare_images(d, idx[i], 1, t->S, t->x + (size_t)i * t->S * t->S);
    }
    for (int i = 0; i < n; i++) t->y[i] = d->label[idx[i]];
    if (t->onehot) recipe_targets(t->y, n, train ? t->o->label_smoothing : 0.0f, t->onehot);   /* smoothing: training only */
}

static int count_correct(const float *logits, const int *y, int n) {
    int c = 0;
    for (int i = 0; i < n; i++) {
        const float *z = logits + (size_t)i * FERC_NUM_CLASSES;
        int best = 0;
        for (int k = 1; k < FERC_NUM_CLASSES; k++) if (z[k] > z[best]) best = k;
        c += best == y[i];
    }
    return c;
}

/* Validation loss (unweighted), accuracy and macro F1 in eval mode; the
 * logits are kept in t->vlogits (nval, 7). */
static void validate(train_state *t, double *loss, double *acc, double *f1) {
    exec_ctx ctx = {.threads = t->threads, .training = 0, .step_seed = 0};
    const int nval = t->nval;
    double ls = 0;
    int correct = 0;
    for (int i = 0; i < nval; i += t->B) {
        int n = nval - i < t->B ? nval - i : t->B;
        fill_batch(t, t->val + i, n, 0, NULL);
        const float *logits = net_forward(t->net, t->x, n, &ctx);
        ls += softmax_xent(logits, t->y, NULL, NULL, n, FERC_NUM_CLASSES, NULL, NULL) * n;
        correct += count_correct(logits, t->y, n);
        memcpy(t->vlogits + (size_t)i * FERC_NUM_CLASSES, logits, sizeof(float) * (size_t)n * FERC_NUM_CLASSES);
    }
    *loss = nval ? ls / nval : NAN;
    *acc = nval ? (double)correct / nval : NAN;
    static const float zero[FERC_NUM_CLASSES];
    *f1 = nval ? ferc_macro_f1_offsets(t->vlogits, t->vtrue, nval, zero, t->vpred) : NAN;
}

/* ------------------------------------------------------------------------ */
/* train_begin: options, model, buffers, split, resumed state                */
/* ------------------------------------------------------------------------ */

static ferc_status check_options(const ferc_dataset *d, const ferc_train_opts *o, ferc_error *err) {
    if (!d || d->n < 2) return ferc_fail(err, FERC_ERR_ARG, "training needs at least 2 images (got %d)", d ? d->n : 0);
    if (o->epochs <= 0 || o->batch <= 0) return ferc_fail(err, FERC_ERR_ARG, "epochs and batch must be positive");
    if (!(o->val_fraction >= 0 && o->val_fraction < 1)) return ferc_fail(err, FERC_ERR_ARG, "val fraction must be in [0,1)");
    if (!(o->lr > 0)) return ferc_fail(err, FERC_ERR_ARG, "learning rate must be positive");
    if (!(o->lr_min >= 0 && o->lr_min <= o->lr)) return ferc_fail(err, FERC_ERR_ARG, "lr_min must be in [0, lr]");
    if (o->lr_schedule == FERC_LR_PLATEAU && !(o->lr_factor > 0 && o->lr_factor < 1))
        return ferc_fail(err, FERC_ERR_ARG, "plateau factor must be in (0, 1)");
    if (o->lr_patience < 1 || o->lr_warmup < 0 || o->lr_warmup >= o->epochs)
        return ferc_fail(err, FERC_ERR_ARG, "patience must be >= 1 and warm-up shorter than the run");
    if (!(o->label_smoothing >= 0 && o->label_smoothing < 1))
        return ferc_fail(err, FERC_ERR_ARG, "label smoothing must be in [0, 1)");
    if (o->early_stop < 0) return ferc_fail(err, FERC_ERR_ARG, "early-stopping patience must be >= 0 (0 = off)");
    if (!(o->mixup >= 0 && o->mixup <= 100 && o->cutmix >= 0 && o->cutmix <= 100))
        return ferc_fail(err, FERC_ERR_ARG, "mixup and CutMix alphas must be in [0, 100] (0 = off)");
    if (!(o->mix_prob >= 0 && o->mix_prob <= 1)) return ferc_fail(err, FERC_ERR_ARG, "mix probability must be in [0, 1]");
    if (!(o->ema >= 0 && o->ema < 1)) return ferc_fail(err, FERC_ERR_ARG, "EMA decay must be in [0, 1) (0 = off)");
    for (int i = 0; i < d->n; i++)
        if (d->label[i] < 0 || d->label[i] >= FERC_NUM_CLASSES)
            return ferc_fail(err, FERC_ERR_ARG, "row %d has label %d outside 0..6", i, d->label[i]);
    return FERC_OK;
}

/* How the user names a network: "seed2", or "spec:48:conv8 ..." for one
 * without a name. */
static const char *arch_label(const ferc_model *m, char *buf, size_t cap) {
    if (strcmp(m->arch, "custom") != 0) return m->arch;
    snprintf(buf, cap, "spec:%d:%s", m->input_size, m->spec);
    return buf;
}

/* A resumed checkpoint must hold training state for the network o->arch
 * names (a named one or a spec:), which then names the model. */
static ferc_status check_resumed_arch(train_state *t, ferc_error *err) {
    const ferc_train_opts *o = t->o;
    if (!t->ex.has_train_state)
        return ferc_fail(err, FERC_ERR_ARG, "%s: not a checkpoint (no training state)", o->checkpoint);
    ferc_model *want = NULL;
    ferc_status st = ferc_model_create(o->arch, o->seed, &want, err);
    if (st != FERC_OK) return st;
    if (strcmp(want->spec, t->m->spec) != 0 || want->input_size != t->m->input_size) {
        char a[400], b[400];
        st = ferc_fail(err, FERC_ERR_ARG, "%s: checkpoint is for another architecture: it trains %s, not %s",
                       o->checkpoint, arch_label(t->m, a, sizeof a), arch_label(want, b, sizeof b));
    } else {
        snprintf(t->m->arch, sizeof t->m->arch, "%s", want->arch);   /* the same net, by its name */
    }
    ferc_model_free(want);
    return st;
}

/* The model to train: the checkpoint's when resuming from one that exists
 * (it must hold training state for the same architecture), else a new one. */
static ferc_status open_model(train_state *t, ferc_error *err) {
    const ferc_train_opts *o = t->o;
    ferc_status st;
    if (o->resume && o->checkpoint && access(o->checkpoint, F_OK) == 0) {
        if ((st = model_load_ex(o->checkpoint, &t->m, &t->ex, err)) != FERC_OK) return st;
        if ((st = check_resumed_arch(t, err)) != FERC_OK) return st;
    } else if ((st = ferc_model_create(o->arch, o->seed, &t->m, err)) != FERC_OK) {
        return st;
    }
    if (o->augment && o->augment->crop) { t->m->prep_crop = 1; t->m->prep_size = t->d->h; }
    t->net = &t->m->net;
    t->S = t->m->input_size; t->B = o->batch; t->threads = ferc_threads(o->threads);
    net_set_bf16(t->net, o->bf16);
    return FERC_OK;
}

static int mixing(const ferc_train_opts *o) {
    return o->mixup > 0 || o->cutmix > 0;
}

/* The buffers of mixup / CutMix and of the weights' average, when on. */
static ferc_status alloc_recipe(train_state *t, ferc_error *err) {
    const ferc_train_opts *o = t->o;
    const size_t B = (size_t)t->B, np = t->net->nparams;
    /* distilled runs mix the faces at their own size (distill.c) */
    const size_t S = o->teacher && t->d->h > t->S ? (size_t)t->d->h : (size_t)t->S;
    recipe_mix_buffers *mb = &t->mixbuf;
    if (mixing(o)) {
        mb->perm = malloc(sizeof(int) * B); mb->y = malloc(sizeof(int) * B);
        mb->x = malloc(sizeof(float) * B * S * S); mb->t = malloc(sizeof(float) * B * FERC_NUM_CLASSES);
        if (!mb->perm || !mb->y || !mb->x || !mb->t) return ferc_fail(err, FERC_ERR_NOMEM, "out of memory");
    }
    if (o->ema > 0) {
        t->ema_p = malloc(sizeof(float) * np); t->live_p = malloc(sizeof(float) * np);
        if (!t->ema_p || !t->live_p) return ferc_fail(err, FERC_ERR_NOMEM, "out of memory");
    }
    return FERC_OK;
}

/* The buffers of a step whose size does not depend on the split, the
 * optimiser state and the network's workspace. */
static ferc_status alloc_buffers(train_state *t, ferc_error *err) {
    const ferc_train_opts *o = t->o;
    const size_t n = (size_t)t->d->n, B = (size_t)t->B, S = (size_t)t->S;
    const ferc_net *net = t->net;
    const int need_onehot = o->labels == FERC_LABELS_ONEHOT || o->label_smoothing > 0 || mixing(o);
    t->train = malloc(sizeof(int) * n); t->val = malloc(sizeof(int) * n);
    t->order = malloc(sizeof(int) * n);
    t->x = malloc(sizeof(float) * B * S * S);
    t->y = malloc(sizeof(int) * B);
    t->dlogits = malloc(sizeof(float) * B * FERC_NUM_CLASSES);
    t->onehot = need_onehot ? malloc(sizeof(float) * B * FERC_NUM_CLASSES) : NULL;
    t->best_p = malloc(sizeof(float) * net->nparams);
    t->best_s = malloc(sizeof(float) * (net->nstate ? net->nstate : 1));
    t->hist = calloc((size_t)o->epochs, sizeof *t->hist);
    if (!t->train || !t->val || !t->order || !t->x || !t->y || !t->dlogits || (need_onehot && !t->onehot) ||
        !t->best_p || !t->best_s || !t->hist) return ferc_fail(err, FERC_ERR_NOMEM, "out of memory");
    ferc_status st;
    if ((st = optim_init(&t->opt, o, net->nparams, err)) != FERC_OK) return st;
    if ((st = net_reserve(t->net, t->B, 1, t->threads, err)) != FERC_OK) return st;
    if (o->augment && (st = ferc_augment_check(o->augment, t->d->h, t->d->w, t->S, t->S, err)) != FERC_OK) return st;
    return alloc_recipe(t, err);
}

/* The stratified split (order serves as scratch) and what depends on it:
 * validation buffers, class weights, the balanced sampler. */
static ferc_status make_split(train_state *t, ferc_error *err) {
    const ferc_dataset *d = t->d;
    const ferc_train_opts *o = t->o;
    t->nval = data_split_stratified(d, o->val_fraction, o->seed, t->order, t->train, &t->ntrain, t->val);
    qsort(t->train, (size_t)t->ntrain, sizeof(int), cmp_int);
    qsort(t->val, (size_t)t->nval, sizeof(int), cmp_int);
    const int ntrain = t->ntrain, nval = t->nval;
    if (ntrain == 0) return ferc_fail(err, FERC_ERR_ARG, "no training rows left after the validation split");
    if (nval == 0 && o->val_fraction > 0)
        return ferc_fail(err, FERC_ERR_ARG, "a validation fraction of %g gives no validation face from these %d "
                         "(each class gives round(%g x its faces), so a class needs %.0f faces for one): use more "
                         "faces, a larger validation fraction, or 0 to train without validation",
                         o->val_fraction, d->n, o->val_fraction, ceil(0.5 / o->val_fraction - 1e-6));
    if (o->early_stop > 0 && nval == 0) return ferc_fail(err, FERC_ERR_ARG, "early stopping needs a validation split");
    if (o->select == FERC_SELECT_MACRO_F1 && nval == 0) return ferc_fail(err, FERC_ERR_ARG, "selecting on macro F1 needs a validation split");
    if (o->tune_class_bias && nval == 0) return ferc_fail(err, FERC_ERR_ARG, "tuning class offsets needs a validation split");
    t->nbatches = (ntrain + t->B - 1) / t->B;
    t->vlogits = malloc(sizeof(float) * (size_t)(nval ? nval : 1) * FERC_NUM_CLASSES);
    t->vtrue = malloc(sizeof(int) * (size_t)(nval ? nval : 1));
    t->vpred = malloc(sizeof(int) * (size_t)(nval ? nval : 1));
    if (!t->vlogits || !t->vtrue || !t->vpred) return ferc_fail(err, FERC_ERR_NOMEM, "out of memory");
    for (int i = 0; i < nval; i++) t->vtrue[i] = d->label[t->val[i]];
    if (o->class_weight_balanced) {
        int counts[FERC_NUM_CLASSES] = {0};
        for (int i = 0; i < ntrain; i++) counts[d->label[t->train[i]]]++;
        ferc_class_weights_balanced(counts, t->class_w);   /* w_c = n / (k n_c), as scikit-learn */
        t->cw = t->class_w;
    }
    if (o->balance_oversample) {
        t->tlabels = malloc(sizeof(int) * (size_t)ntrain);
        if (!t->tlabels) return ferc_fail(err, FERC_ERR_NOMEM, "out of memory");
        for (int i = 0; i < ntrain; i++) t->tlabels[i] = d->label[t->train[i]];
        return ferc_balanced_sampler_init(&t->bal, t->tlabels, ntrain, err);
    }
    return FERC_OK;
}

static const char *select_name(const ferc_train_opts *o) {
    return o->select == FERC_SELECT_MACRO_F1 ? "macro F1" : "accuracy";
}

/* Early stopping after epochs_done epochs (as Keras EarlyStopping: the
 * epochs since the best one reach the patience); sets t->stopped_early.
 * It depends only on what the checkpoint holds, so a resumed run stops where
 * the uninterrupted one does, and resuming a stopped run trains no more. */
static int stop_early(train_state *t, int epochs_done) {
    const int p = t->o->early_stop;
    t->stopped_early = p > 0 && t->nval && epochs_done > 0 && epochs_done - t->best_epoch >= p;
    return t->stopped_early;
}

/* Where the epochs start: the checkpoint's generator, optimiser, kept
 * weights and history, or a fresh generator with the initial weights kept. */
static void restore_or_seed(train_state *t) {
    const ferc_train_opts *o = t->o;
    const ferc_net *net = t->net;
    const ckpt_extra *ex = &t->ex;
    t->best_score = -1;
    if (!ex->has_train_state) {
        ferc_rng_seed(&t->rng, o->seed);
        memcpy(t->best_p, net->params, sizeof(float) * net->nparams);
        memcpy(t->best_s, net->state, sizeof(float) * net->nstate);
        if (t->ema_p) memcpy(t->ema_p, net->params, sizeof(float) * net->nparams);
        return;
    }
    if (t->ema_p) memcpy(t->ema_p, ex->load_ema_params, sizeof(float) * net->nparams);   /* check_resumed_ema */
    t->rng = ex->rng;
    t->start_epoch = ex->epochs_done;
    t->best_score = ex->best_val_acc; t->best_epoch = ex->best_epoch;
    t->opt.t = ex->opt_t;
    if (ex->load_m) memcpy(t->opt.m, ex->load_m, sizeof(float) * net->nparams);
    if (ex->load_v) memcpy(t->opt.v, ex->load_v, sizeof(float) * net->nparams);
    if (ex->load_best_params) memcpy(t->best_p, ex->load_best_params, sizeof(float) * net->nparams);
    if (ex->load_best_state) memcpy(t->best_s, ex->load_best_state, sizeof(float) * net->nstate);
    int nh = t->m->nhist < o->epochs ? t->m->nhist : o->epochs;
    if (nh) memcpy(t->hist, t->m->hist, sizeof *t->hist * (size_t)nh);
    if (t->nval)
        ferc_logf(o->log, o->log_user, FERC_LOG_INFO, "resuming from %s after epoch %d (best validation %s %.4f at epoch %d)",
                  o->checkpoint, t->start_epoch, select_name(o), t->best_score, t->best_epoch);
    else
        ferc_logf(o->log, o->log_user, FERC_LOG_INFO, "resuming from %s after epoch %d (no validation split)",
                  o->checkpoint, t->start_epoch);
    if (t->start_epoch >= o->epochs) ferc_logf(o->log, o->log_user, FERC_LOG_INFO, "the checkpoint already has %d epochs", t->start_epoch);
    else if (stop_early(t, t->start_epoch))
        ferc_logf(o->log, o->log_user, FERC_LOG_INFO, "its run stopped early: no better validation %s in the %d "
                  "epoch%s after epoch %d", select_name(o), t->start_epoch - t->best_epoch,
                  t->start_epoch - t->best_epoch > 1 ? "s" : "", t->best_epoch);
}

/* A resumed run averages the weights when, and only when, its checkpoint
 * carries the average: one without it cannot continue bit for bit. */
static ferc_status check_resumed_ema(const train_state *t, ferc_error *err) {
    const ferc_train_opts *o = t->o;
    const int has = t->ex.load_ema_params != NULL;
    if (!t->ex.has_train_state || has == (o->ema > 0)) return FERC_OK;
    if (has)
        return ferc_fail(err, FERC_ERR_ARG, "%s: the checkpoint's run averages its weights (EMA): resume it with "
                         "the same EMA decay", o->checkpoint);
    return ferc_fail(err, FERC_ERR_ARG, "%s: the checkpoint's run does not average its weights: resume it without "
                     "an EMA, or start over", o->checkpoint);
}

/* One line on the recipe pieces that are on. */
static void log_recipe(const train_state *t) {
    const ferc_train_opts *o = t->o;
    if (mixing(o))
        ferc_logf(o->log, o->log_user, FERC_LOG_INFO, "mixing batches (p %.2f): mixup alpha %g, CutMix alpha %g%s",
                  (double)o->mix_prob, (double)o->mixup, (double)o->cutmix,
                  o->mixup > 0 && o->cutmix > 0 ? " (one of them per batch, at random)" : "");
    if (t->ds.on)
        ferc_logf(o->log, o->log_user, FERC_LOG_INFO, "distilled from %s (%d net%s, T %g, weight %g); both see the "
                  "same augmented %dx%d face", o->teacher, t->ds.nleaf, t->ds.nleaf > 1 ? "s" : "", (double)t->ds.T,
                  (double)t->ds.A, t->ds.F, t->ds.F);
    if (o->ema > 0)
        ferc_logf(o->log, o->log_user, FERC_LOG_INFO, "weights averaged (EMA decay %g): validation, selection and "
                  "the saved model use the average", (double)o->ema);
}

/* Several ranks (ferc_dist_init): mixup / CutMix pair faces across the
 * whole batch and a teacher's batch is made in one piece, which a batch
 * split over ranks cannot do yet: refused rather than silently changed. */
static ferc_status dist_begin(train_state *t, ferc_error *err) {
    t->rank = dist_rank(); t->ranks = dist_size();
    if (t->ranks < 2) return FERC_OK;
    if (mixing(t->o)) return ferc_fail(err, FERC_ERR_ARG, "mixup and CutMix are not available with several MPI ranks "
                                       "(%d): train them in one process", t->ranks);
    if (t->o->teacher) return ferc_fail(err, FERC_ERR_ARG, "distillation (--teacher) is not available with several "
                                        "MPI ranks (%d): train it in one process", t->ranks);
    return FERC_OK;
}

static ferc_status train_begin(train_state *t, ferc_error *err) {
    ferc_status st;
    if ((st = check_options(t->d, t->o, err)) != FERC_OK) return st;
    if ((st = dist_begin(t, err)) != FERC_OK) return st;
    if ((st = open_model(t, err)) != FERC_OK) return st;
    if ((st = check_resumed_ema(t, err)) != FERC_OK) return st;
    if ((st = alloc_buffers(t, err)) != FERC_OK) return st;
    if ((st = make_split(t, err)) != FERC_OK) return st;
    if ((st = distill_begin(&t->ds, t->o, t->d, t->m, t->ex.has_train_state, t->B, t->threads, err)) != FERC_OK)
        return st;
    restore_or_seed(t);
    ferc_logf(t->o->log, t->o->log_user, FERC_LOG_INFO, "%s: %zu parameters, input %dx%d; %d training and %d validation faces; batch %d; %d threads",
            t->m->arch, t->net->nparams, t->S, t->S, t->ntrain, t->nval, t->B, t->threads);
    log_recipe(t);
    if (t->ranks > 1)
        ferc_logf(t->o->log, t->o->log_user, FERC_LOG_INFO, "data parallel over %d MPI ranks: about %d faces of each "
                  "batch per rank, gradients summed before each step; batch-norm statistics per rank (averaged at "
                  "each epoch's end)", t->ranks, (t->B + t->ranks - 1) / t->ranks);
    return FERC_OK;
}

/* ------------------------------------------------------------------------ */
/* train_epoch: the batches                                                  */
/* ------------------------------------------------------------------------ */

/* This epoch's order of training rows: class-balanced draws or a shuffle. */
static void draw_order(train_state *t) {
    if (t->o->balance_oversample) {   /* sampler indices are positions in train[] */
        ferc_balanced_sampler_draw(&t->bal, &t->rng, t->order, t->ntrain);
        for (int i = 0; i < t->ntrain; i++) t->order[i] = t->train[t->order[i]];
    } else {
        memcpy(t->order, t->train, sizeof(int) * (size_t)t->ntrain);
        shuffle(t->order, t->ntrain, &t->rng);
    }
}

/* Rows idx[0..n) of a batch shared by several ranks, whose first face is
 * face `first` of the global batch: each face's augmentation comes from its
 * own generator, seeded by (seed, its place in the global batch), so that
 * ranks draw different augmentations and the result does not depend on the
 * number of ranks. */
static void fill_shard(train_state *t, const int *idx, int n, uint64_t seed, int first) {
    const ferc_dataset *d = t->d;
    const size_t SS = (size_t)t->S * t->S;
    if (!t->o->augment) { fill_batch(t, idx, n, 1, NULL); return; }
    for (int i = 0; i < n; i++) {
        ferc_rng r;
        ferc_rng_seed(&r, seed ^ ((uint64_t)(first + i + 1) * 0x9E3779B97F4A7C15ull));
        ferc_augment_batch(t->o->augment, &r, d, idx + i, 1, 1, t->x + (size_t)i * SS, t->S, t->S);
        t->y[i] = d->label[idx[i]];
    }
    if (t->onehot) recipe_targets(t->y, n, t->o->label_smoothing, t->onehot);
}

/* The forward and backward pass of n faces already in t->x, t->y, whose
 * gradient is scaled by `scale` (1, or this shard's share of a batch split
 * over ranks, so that the ranks' sum is the whole batch's mean gradient);
 * the batch's loss. */
static double forward_backward(train_state *t, int n, uint64_t step_seed, float scale) {
    distill_state *ds = &t->ds;
    exec_ctx ctx = {.threads = t->threads, .training = 1, .step_seed = step_seed};
    const float *logits = net_forward(t->net, t->x, n, &ctx);
    double loss = softmax_xent(logits, t->y, t->onehot, t->cw, n, FERC_NUM_CLASSES, t->dlogits, NULL);
    if (ds->on) {   /* (1 - A) CE + A T^2 KL */
        for (size_t q = 0; q < (size_t)n * FERC_NUM_CLASSES; q++) t->dlogits[q] *= 1.0f - ds->A;
        loss = (1.0 - ds->A) * loss + distill_kd(logits, ds->pt, n, FERC_NUM_CLASSES, ds->T, ds->A, t->dlogits);
    }
    if (scale != 1.0f)
        for (size_t q = 0; q < (size_t)n * FERC_NUM_CLASSES; q++) t->dlogits[q] *= scale;
    t->correct += count_correct(logits, t->y, n);
    net_backward(t->net, t->x, t->dlogits, NULL, n, &ctx);
    return loss;
}

/* Batch bi of the epoch: draw, augment, forward, loss, backward, step. With
 * several ranks each takes its contiguous share [lo, hi) of the batch and
 * the gradients are summed (dist.c) before the step; every rank draws the
 * same numbers from t->rng, so all keep the same order, weights and state. */
static void train_step(train_state *t, int bi) {
    const int B = t->B, n = t->ntrain - bi * B < B ? t->ntrain - bi * B : B;
    const int *idx = t->order + (size_t)bi * B;
    double loss = 0;
    int nl = n;
    if (t->ranks > 1) {
        const int lo = (int)((long)n * t->rank / t->ranks), hi = (int)((long)n * (t->rank + 1) / t->ranks);
        const uint64_t aug_seed = t->o->augment ? ferc_rng_next(&t->rng) : 0;
        /* dropout masks hash (seed, layer, element): a seed per rank keeps
         * the ranks' faces from sharing masks */
        const uint64_t seed = ferc_rng_next(&t->rng) + (uint64_t)t->rank * 0xD1B54A32D192ED03ull;
        nl = hi - lo;
        if (nl > 0) {
            fill_shard(t, idx + lo, nl, aug_seed, lo);
            loss = forward_backward(t, nl, seed, (float)nl / (float)n);
        } else {
            memset(t->net->grads, 0, sizeof(float) * t->net->nparams);   /* a batch smaller than the ranks */
        }
        dist_sum_floats(t->net->grads, t->net->nparams);
    } else {
        fill_batch(t, idx, n, 1, &t->rng);
        distill_state *ds = &t->ds;
        if (mixing(t->o)) {
            recipe_mix mix;
            recipe_mix_batch(t->o, &t->rng, ds->on ? ds->x : t->x, t->onehot, t->y, n, ds->on ? ds->F : t->S,
                             &t->mixbuf, &mix);
        }
        if (ds->on) distill_batch(ds, t->m, n, t->x, t->threads);
        loss = forward_backward(t, n, ferc_rng_next(&t->rng), 1.0f);
    }
    optim_step(&t->opt, t->net, t->threads);
    if (t->ema_p)
        recipe_ema_update(t->ema_p, t->net->params, t->net->nparams, recipe_ema_decay(t->o->ema, t->opt.t), t->threads);
    t->loss_sum += loss * nl;
    t->lseen += nl;
    t->seen += n;
}

/* The rest of the run after this epoch's batches: this epoch's validation
 * and the later epochs, at the mean of the epochs this call has timed (at
 * this epoch's speed, without validation, before the first one ends). */
static double eta_after_batches(const train_state *t, int epoch, double ips) {
    const int later = t->o->epochs - epoch - 1;
    if (t->run_epochs)
        return (t->val_secs + later * t->run_secs) / t->run_epochs;
    return later * t->ntrain / ips;
}

static void report_batch(const train_state *t, int epoch, int bi, double now) {
    double ips = t->seen / (now - t->t0);
    if (!(ips > 0)) ips = 1;
    const double eta = (t->ntrain - t->seen) / ips;
    ferc_progress p = {.epoch = epoch + 1, .epochs = t->o->epochs, .batch = bi + 1, .batches = t->nbatches,
                       .loss = t->loss_sum / (double)(t->lseen ? t->lseen : 1),
                       .acc = (double)t->correct / (double)(t->lseen ? t->lseen : 1),
                       .images_per_s = ips, .eta_s = eta, .eta_run_s = eta + eta_after_batches(t, epoch, ips),
                       .done = NULL, .improved = 0, .history = NULL, .nhistory = 0};
    t->o->progress(&p, t->o->progress_user);
}

static int stop_requested(const ferc_train_opts *o) {
    return o->stop && o->stop(o->stop_user);
}

/* 0 when the caller asked to stop before a step: the epoch is abandoned
 * (the last checkpoint is the resume point). */
static int train_epoch(train_state *t, int epoch) {
    const ferc_train_opts *o = t->o;
    double last = 0;
    t->t0 = ferc_now();
    draw_order(t);
    t->loss_sum = 0;
    t->correct = t->seen = t->lseen = 0;
    const float epoch_lr = ferc_lr_plateau(o, t->hist, epoch);
    const long total_steps = (long)t->nbatches * o->epochs, warm = (long)t->nbatches * o->lr_warmup;
    for (int bi = 0; bi < t->nbatches; bi++) {
        if (dist_any(stop_requested(o))) return 0;   /* all ranks stop at the same step */
        t->opt.lr = ferc_lr_at(o, epoch_lr, (long)epoch * t->nbatches + bi, total_steps, warm);
        train_step(t, bi);
        double now = ferc_now();
        if (o->progress && (now - last > 0.2 || bi == t->nbatches - 1)) {
            last = now;
            report_batch(t, epoch, bi, now);
        }
    }
    return 1;
}

/* ------------------------------------------------------------------------ */
/* train_epoch_end: validation, history, kept weights, checkpoint            */
/* ------------------------------------------------------------------------ */

/* The weights selection sees: the average when there is one (with the live
 * batch-norm statistics), swapped in for the validation and back out. */
static void validate_selected(train_state *t, double *loss, double *acc, double *f1) {
    ferc_net *net = t->net;
    const size_t bytes = sizeof(float) * net->nparams;
    if (!t->ema_p) { validate(t, loss, acc, f1); return; }
    memcpy(t->live_p, net->params, bytes);
    memcpy(net->params, t->ema_p, bytes);
    validate(t, loss, acc, f1);
    memcpy(net->params, t->live_p, bytes);
}

/* Several ranks: the epoch's loss and hits summed over ranks; the
 * batch-norm running statistics (each rank's, from its own shards) averaged;
 * rank 0's weights sent to all, so that float differences between ranks'
 * sums (MPI does not promise the same bits everywhere) cannot build up. */
static void dist_epoch_sync(train_state *t) {
    if (t->ranks < 2) return;
    double v[2] = {t->loss_sum, (double)t->correct};
    dist_sum_doubles(v, 2);
    t->loss_sum = v[0]; t->correct = (long)v[1];
    dist_mean_floats(t->net->state, t->net->nstate);
    dist_bcast_floats(t->net->params, t->net->nparams);
    if (t->ema_p) dist_bcast_floats(t->ema_p, t->net->nparams);
}

static ferc_epoch_stats *record_epoch(train_state *t, int epoch) {
    dist_epoch_sync(t);
    double vloss = NAN, vacc = NAN, vf1 = NAN;   /* NAN: no validation split */
    double tv = ferc_now();
    if (t->nval) validate_selected(t, &vloss, &vacc, &vf1);
    t->val_secs += ferc_now() - tv;
    ferc_epoch_stats *h = &t->hist[epoch];
    h->epoch = epoch + 1;
    h->train_loss = (float)(t->loss_sum / t->seen); h->train_acc = (float)((double)t->correct / t->seen);
    h->val_loss = (float)vloss; h->val_acc = (float)vacc; h->val_macro_f1 = (float)vf1;
    h->lr = t->opt.lr;   /* the last step's */
    h->seconds = (float)(ferc_now() - t->t0);
    return h;
}

/* Keeps the weights when the selection figure beats the kept ones', and
 * every epoch's without a validation split (the last is kept). */
static int keep_if_best(train_state *t, int epoch, const ferc_epoch_stats *h) {
    const ferc_net *net = t->net;
    if (t->nval) {
        float score = t->o->select == FERC_SELECT_MACRO_F1 ? h->val_macro_f1 : h->val_acc;
        if (!(score > t->best_score)) return 0;
        t->best_score = score;
    }
    t->best_epoch = epoch + 1;
    memcpy(t->best_p, t->ema_p ? t->ema_p : net->params, sizeof(float) * net->nparams);
    memcpy(t->best_s, net->state, sizeof(float) * net->nstate);
    return 1;
}

static ferc_status save_checkpoint(const train_state *t, int epoch, ferc_error *err) {
    ckpt_extra ce = {.epochs_done = epoch + 1, .rng = t->rng, .best_val_acc = t->best_score,
                     .best_epoch = t->best_epoch, .opt_t = t->opt.t, .opt_m = t->opt.m, .opt_v = t->opt.v,
                     .best_params = t->best_p, .best_state = t->best_s, .ema_params = t->ema_p,
                     .has_train_state = 1};
    return model_save_ex(t->m, t->o->checkpoint, &ce, err);
}

static ferc_status train_epoch_end(train_state *t, int epoch, ferc_error *err) {
    const ferc_train_opts *o = t->o;
    const ferc_epoch_stats *h = record_epoch(t, epoch);
    int improved = keep_if_best(t, epoch, h);
    t->run_secs += h->seconds;
    t->run_epochs++;
    ferc_status st;
    if ((st = model_set_history(t->m, t->hist, epoch + 1, err)) != FERC_OK) return st;
    if (o->checkpoint && t->rank == 0 && (st = save_checkpoint(t, epoch, err)) != FERC_OK) return st;   /* rank 0 writes */
    if (o->progress) {
        ferc_progress p = {.epoch = epoch + 1, .epochs = o->epochs, .batch = t->nbatches, .batches = t->nbatches,
                           .loss = h->train_loss, .acc = h->train_acc, .images_per_s = t->seen / h->seconds,
                           .eta_s = 0, .eta_run_s = (o->epochs - epoch - 1) * t->run_secs / t->run_epochs,
                           .done = h, .improved = improved, .history = t->hist, .nhistory = epoch + 1};
        o->progress(&p, o->progress_user);
    }
    return FERC_OK;
}

/* ------------------------------------------------------------------------ */
/* train_finish and train_free                                               */
/* ------------------------------------------------------------------------ */

/* Offsets chosen on the validation split only, folded into the last dense
 * bias so that the saved model needs nothing new to apply them. */
static ferc_status tune_class_bias(train_state *t, ferc_error *err) {
    ferc_net *net = t->net;
    double vloss, vacc, f0;
    validate(t, &vloss, &vacc, &f0);
    float off[FERC_NUM_CLASSES];
    double f1 = ferc_tune_class_offsets(t->vlogits, t->vtrue, t->nval, off, t->vpred);
    const param_tensor *last = NULL;
    for (int k = 0; k < net->ntensors; k++)
        if (strstr(net->tensors[k].name, "dense.bias") && net->tensors[k].size == FERC_NUM_CLASSES) last = &net->tensors[k];
    if (!last) return ferc_fail(err, FERC_ERR_ARG, "tuning class offsets needs a final dense layer of 7 units");
    for (int k = 0; k < FERC_NUM_CLASSES; k++) net->params[last->offset + k] += off[k];
    ferc_logf(t->o->log, t->o->log_user, FERC_LOG_INFO, "class offsets tuned on validation: macro F1 %.4f -> %.4f; offsets "
            "%+.2f %+.2f %+.2f %+.2f %+.2f %+.2f %+.2f", f0, f1,
            off[0], off[1], off[2], off[3], off[4], off[5], off[6]);
    return FERC_OK;
}

static void restore_best(train_state *t) {
    ferc_net *net = t->net;
    memcpy(net->params, t->best_p, sizeof(float) * net->nparams);
    memcpy(net->state, t->best_s, sizeof(float) * net->nstate);
}

/* The returned model holds the kept (best) weights. */
static ferc_status train_finish(train_state *t, ferc_error *err) {
    const ferc_train_opts *o = t->o;
    restore_best(t);
    if (!t->nval)
        ferc_logf(o->log, o->log_user, FERC_LOG_INFO, "no validation split: kept the last epoch (%d)", t->best_epoch);
    else
        ferc_logf(o->log, o->log_user, FERC_LOG_INFO, "best validation %s %.4f at epoch %d%s", select_name(o),
                  t->best_score, t->best_epoch, t->stopped_early ? " (stopped early; its weights restored)" : "");
    return o->tune_class_bias ? tune_class_bias(t, err) : FERC_OK;
}

/* Stopped on request: the kept weights of the epochs done go back to the
 * caller (without class offsets: the resumed run tunes them); the epoch
 * running is abandoned, so the checkpoint of the last whole one resumes
 * the run bit for bit. */
static ferc_status train_interrupted(train_state *t, ferc_error *err) {
    const ferc_train_opts *o = t->o;
    const int done = t->m->nhist;
    restore_best(t);
    if (!done) return ferc_fail(err, FERC_ERR_INTERRUPTED, "interrupted in epoch 1, before any epoch ended: nothing to keep");
    char where[64] = "after the last epoch";
    if (done < o->epochs && !t->stopped_early) snprintf(where, sizeof where, "in epoch %d of %d", done + 1, o->epochs);
    if (!o->checkpoint)
        return ferc_fail(err, FERC_ERR_INTERRUPTED, "interrupted %s; kept the weights of epoch %d", where, t->best_epoch);
    return ferc_fail(err, FERC_ERR_INTERRUPTED, "interrupted %s; kept the weights of epoch %d; %s resumes after epoch %d",
                     where, t->best_epoch, o->checkpoint, done);
}

static void train_free(train_state *t) {
    free(t->vlogits); free(t->vtrue); free(t->vpred);
    free(t->train); free(t->val); free(t->order);
    free(t->x); free(t->y); free(t->dlogits); free(t->onehot);
    free(t->mixbuf.perm); free(t->mixbuf.y); free(t->mixbuf.x); free(t->mixbuf.t);
    free(t->ema_p); free(t->live_p); free(t->ex.load_ema_params);
    free(t->best_p); free(t->best_s); free(t->hist);
    free(t->ex.load_m); free(t->ex.load_v); free(t->ex.load_best_params); free(t->ex.load_best_state);
    optim_free(&t->opt);
    ferc_balanced_sampler_free(&t->bal);
    free(t->tlabels);
    distill_free(&t->ds);
    ferc_model_free(t->m);
}

ferc_status ferc_train(const ferc_dataset *d, const ferc_train_opts *o, ferc_model **out,
                       ferc_error *err) {
    *out = NULL;
    train_state t = {.d = d, .o = o};
    ferc_status st = train_begin(&t, err);
    int stopped = 0;
    for (int epoch = t.start_epoch; st == FERC_OK && epoch < o->epochs && !t.stopped_early; epoch++) {
        if (!train_epoch(&t, epoch)) { stopped = 1; break; }
        st = train_epoch_end(&t, epoch, err);
        if (st == FERC_OK && stop_early(&t, epoch + 1))
            ferc_logf(o->log, o->log_user, FERC_LOG_INFO, "early stopping after epoch %d: no better validation %s "
                      "for %d epoch%s", epoch + 1, select_name(o), o->early_stop, o->early_stop > 1 ? "s" : "");
    }
    if (st == FERC_OK && (stopped || stop_requested(o))) st = train_interrupted(&t, err);
    else if (st == FERC_OK) st = train_finish(&t, err);
    if (st == FERC_OK || (st == FERC_ERR_INTERRUPTED && t.m->nhist > 0)) { *out = t.m; t.m = NULL; }
    train_free(&t);
    return st;
}
