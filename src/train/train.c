/* train.c — the training loop: stratified validation split, shuffled (or
 * class-balanced) batches with optional on-the-fly augmentation, forward,
 * softmax cross-entropy, backward, optimiser step; per-epoch validation,
 * best-weight keeping, history, and atomic per-epoch checkpoints that a
 * later run resumes bit for bit. Every buffer is allocated before the first
 * step; a step never allocates. */
#include "train/train.h"
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
}

static void shuffle(int *a, int n, ferc_rng *r) {
    for (int i = n - 1; i > 0; i--) {
        int j = (int)ferc_rng_below(r, (uint32_t)i + 1);
        int t = a[i]; a[i] = a[j]; a[j] = t;
    }
}

/* Stratified split: per class, a seeded shuffle, round(frac * n_c) to val. */
static void split_stratified(const ferc_dataset *d, float frac, uint64_t seed, int *train,
                             int *ntrain, int *val, int *nval) {
    ferc_rng r;
    ferc_rng_seed(&r, seed ^ 0x5EED5EEDull);
    *ntrain = *nval = 0;
    int *members = malloc(sizeof(int) * (size_t)(d->n ? d->n : 1));
    for (int c = 0; c < FERC_NUM_CLASSES; c++) {
        int k = 0;
        for (int i = 0; i < d->n; i++) if (d->label[i] == c) members[k++] = i;
        shuffle(members, k, &r);
        int nv = (int)lround(frac * k);
        for (int i = 0; i < k; i++) {
            if (i < nv) val[(*nval)++] = members[i];
            else train[(*ntrain)++] = members[i];
        }
    }
    free(members);
}

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

typedef struct {
    ferc_net *net;
    const ferc_dataset *d;
    const ferc_train_opts *o;
    int S, B, threads;
    float *x;          /* (B, S, S) */
    int *y;            /* (B) */
    float *onehot;     /* (B, 7) */
    float *dlogits;    /* (B, 7) */
    float *cw;         /* class weights (7) or NULL */
    int *bidx;         /* (B) dataset rows of the batch */
    float *vlogits;    /* (nval, 7) validation logits of the last validate() */
    int *vtrue, *vpred; /* (nval) validation labels; predictions (scratch) */
} loop_bufs;

/* Images of rows idx[0..n) into x at the network's size; augmented when
 * training with augmentation, else the evaluation view. */
static void fill_batch(loop_bufs *b, const int *idx, int n, int train, ferc_rng *rng) {
    const ferc_dataset *d = b->d;
    if (b->o->augment) {
        ferc_augment_batch(b->o->augment, rng, d, idx, n, train, b->x, b->S, b->S);
    } else {
#pragma omp parallel for num_threads(b->threads) schedule(static)
        for (int i = 0; i < n; i++)
            ferc_prepare_images(d, idx[i], 1, b->S, b->x + (size_t)i * b->S * b->S);
    }
    for (int i = 0; i < n; i++) b->y[i] = d->label[idx[i]];
    if (b->onehot) {
        /* target = (1 - e) onehot + e / k (label smoothing, training batches only) */
        float e = train ? b->o->label_smoothing : 0.0f, off = e / FERC_NUM_CLASSES;
        for (size_t i = 0; i < (size_t)n * FERC_NUM_CLASSES; i++) b->onehot[i] = off;
        for (int i = 0; i < n; i++) b->onehot[(size_t)i * FERC_NUM_CLASSES + b->y[i]] = 1.0f - e + off;
    }
}

/* Plateau schedule replayed from the epoch history: the lr of the epoch after
 * hist[0..nh-1], as Keras' ReduceLROnPlateau (mode min on val loss, cooldown
 * 0): each epoch without a new best val loss raises a counter; at patience the
 * lr is multiplied by factor (not below lr_min) and the counter resets. */
float ferc_lr_plateau(const ferc_train_opts *o, const ferc_epoch_stats *hist, int nh) {
    float lr = o->lr, best = INFINITY;
    int wait = 0;
    for (int e = 0; e < nh; e++) {
        float vl = hist[e].val_loss;
        if (isnan(vl)) vl = hist[e].train_loss;   /* no validation rows */
        if (vl < best) { best = vl; wait = 0; continue; }
        if (++wait >= o->lr_patience) {
            float nl = lr * o->lr_factor;
            lr = nl < o->lr_min ? o->lr_min : nl;
            wait = 0;
        }
    }
    return lr;
}

/* The learning rate of step `step` (0-based) of `total`, in an epoch whose
 * plateau lr is `epoch_lr`. */
float ferc_lr_at(const ferc_train_opts *o, float epoch_lr, long step, long total, long warm) {
    if (o->lr_schedule == FERC_LR_PLATEAU) return epoch_lr;
    if (o->lr_schedule != FERC_LR_COSINE) return o->lr;
    if (step < warm) return o->lr * (float)(step + 1) / (float)warm;   /* linear warm-up */
    double t = total > warm ? (double)(step - warm) / (double)(total - warm) : 1.0;
    return (float)(o->lr_min + (o->lr - o->lr_min) * 0.5 * (1.0 + cos(M_PI * t)));
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
 * logits are kept in b->vlogits (nval, 7). */
static void validate(loop_bufs *b, const int *val, int nval, double *loss, double *acc, double *f1) {
    exec_ctx ctx = {b->threads, 0, 0};
    double ls = 0;
    int correct = 0;
    for (int i = 0; i < nval; i += b->B) {
        int n = nval - i < b->B ? nval - i : b->B;
        fill_batch(b, val + i, n, 0, NULL);
        const float *logits = net_forward(b->net, b->x, n, &ctx);
        ls += softmax_xent(logits, b->y, NULL, NULL, n, FERC_NUM_CLASSES, NULL, NULL) * n;
        correct += count_correct(logits, b->y, n);
        memcpy(b->vlogits + (size_t)i * FERC_NUM_CLASSES, logits, sizeof(float) * (size_t)n * FERC_NUM_CLASSES);
    }
    *loss = nval ? ls / nval : NAN;
    *acc = nval ? (double)correct / nval : NAN;
    static const float zero[FERC_NUM_CLASSES];
    *f1 = nval ? ferc_macro_f1_offsets(b->vlogits, b->vtrue, nval, zero, b->vpred) : NAN;
}

/* Macro F1 (ferc_metrics_compute) of pred = argmax(logits + off) against
 * y_true; pred (n) is the caller's scratch, so nothing is allocated. */
double ferc_macro_f1_offsets(const float *logits, const int *y_true, int n, const float *off, int *pred) {
    for (int i = 0; i < n; i++) {
        const float *z = logits + (size_t)i * FERC_NUM_CLASSES;
        int best = 0;
        for (int k = 1; k < FERC_NUM_CLASSES; k++) if (z[k] + off[k] > z[best] + off[best]) best = k;
        pred[i] = best;
    }
    ferc_metrics m;
    ferc_metrics_compute(y_true, pred, n, &m);
    return m.macro_f1;
}

/* Per-class logit offsets that maximise macro F1 on the given logits:
 * coordinate ascent over a grid of -3..3 in steps of 0.05, three sweeps,
 * keeping a change only when it raises the score (ties keep the smaller
 * offset). Returns the final score; off (7) starts at 0. */
double ferc_tune_class_offsets(const float *logits, const int *y_true, int n, float *off, int *pred) {
    for (int k = 0; k < FERC_NUM_CLASSES; k++) off[k] = 0;
    double best = ferc_macro_f1_offsets(logits, y_true, n, off, pred);
    for (int sweep = 0; sweep < 3; sweep++) {
        int changed = 0;
        for (int c = 0; c < FERC_NUM_CLASSES; c++) {
            float keep = off[c], bestv = keep;
            for (int g = -60; g <= 60; g++) {
                off[c] = 0.05f * (float)g;
                double f = ferc_macro_f1_offsets(logits, y_true, n, off, pred);
                if (f > best + 1e-12 || (fabs(f - best) <= 1e-12 && fabsf(off[c]) < fabsf(bestv))) {
                    if (f > best + 1e-12) changed = 1;
                    best = f > best ? f : best; bestv = off[c];
                }
            }
            off[c] = bestv;
        }
        if (!changed) break;
    }
    return best;
}

static void log_msg(const ferc_train_opts *o, ferc_log_level lv, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void log_msg(const ferc_train_opts *o, ferc_log_level lv, const char *fmt, ...) {
    if (!o->log) return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    o->log(lv, buf, o->log_user);
}

ferc_status ferc_train(const ferc_dataset *d, const ferc_train_opts *o, ferc_model **out,
                       ferc_error *err) {
    *out = NULL;
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
    for (int i = 0; i < d->n; i++)
        if (d->label[i] < 0 || d->label[i] >= FERC_NUM_CLASSES)
            return ferc_fail(err, FERC_ERR_ARG, "row %d has label %d outside 0..6", i, d->label[i]);

    ferc_status st;
    ferc_model *m = NULL;
    ckpt_extra ex;
    memset(&ex, 0, sizeof ex);
    int resumed = 0;
    if (o->resume && o->checkpoint && access(o->checkpoint, F_OK) == 0) {
        st = model_load_ex(o->checkpoint, &m, &ex, err);
        if (st != FERC_OK) return st;
        int size = 0;
        const char *spec = arch_spec(o->arch, &size);
        if (!ex.has_train_state || (spec && (strcmp(spec, m->spec) != 0 || size != m->input_size))) {
            ferc_model_free(m);
            free(ex.load_m); free(ex.load_v); free(ex.load_best_params); free(ex.load_best_state);
            return ferc_fail(err, FERC_ERR_ARG, "%s: %s", o->checkpoint,
                             ex.has_train_state ? "checkpoint is for another architecture" : "not a checkpoint (no training state)");
        }
        if (spec) snprintf(m->arch, sizeof m->arch, "%s", o->arch);   /* the same net, by its name */
        resumed = 1;
    } else {
        st = ferc_model_create(o->arch, o->seed, &m, err);
        if (st != FERC_OK) return st;
    }
    if (o->augment && o->augment->crop) { m->prep_crop = 1; m->prep_size = d->h; }
    const int S = m->input_size, B = o->batch, threads = ferc_threads(o->threads);
    ferc_net *net = &m->net;
    net_set_bf16(net, o->bf16);

    int *train = malloc(sizeof(int) * (size_t)d->n), *val = malloc(sizeof(int) * (size_t)d->n);
    int *order = malloc(sizeof(int) * (size_t)d->n);
    loop_bufs b = {net, d, o, S, B, threads, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    const int need_onehot = o->labels == FERC_LABELS_ONEHOT || o->label_smoothing > 0;
    b.x = malloc(sizeof(float) * (size_t)B * S * S);
    b.y = malloc(sizeof(int) * (size_t)B);
    b.dlogits = malloc(sizeof(float) * (size_t)B * FERC_NUM_CLASSES);
    b.onehot = need_onehot ? malloc(sizeof(float) * (size_t)B * FERC_NUM_CLASSES) : NULL;
    float cw[FERC_NUM_CLASSES];
    float *best_p = malloc(sizeof(float) * net->nparams), *best_s = malloc(sizeof(float) * (net->nstate ? net->nstate : 1));
    ferc_epoch_stats *hist = calloc((size_t)o->epochs, sizeof *hist);
    optim_state opt;
    memset(&opt, 0, sizeof opt);
    ferc_balanced_sampler bal;
    memset(&bal, 0, sizeof bal);
    int *tlabels = NULL;
    if (!train || !val || !order || !b.x || !b.y || !b.dlogits || (need_onehot && !b.onehot) ||
        !best_p || !best_s || !hist) { st = ferc_fail(err, FERC_ERR_NOMEM, "out of memory"); goto done; }
    if ((st = optim_init(&opt, o, net->nparams, err)) != FERC_OK) goto done;
    if ((st = net_reserve(net, B, 1, threads, err)) != FERC_OK) goto done;
    if (o->augment && (st = ferc_augment_check(o->augment, d->h, d->w, S, S, err)) != FERC_OK) goto done;

    int ntrain, nval;
    split_stratified(d, o->val_fraction, o->seed, train, &ntrain, val, &nval);
    qsort(train, (size_t)ntrain, sizeof(int), cmp_int);
    qsort(val, (size_t)nval, sizeof(int), cmp_int);
    if (ntrain == 0) { st = ferc_fail(err, FERC_ERR_ARG, "no training rows left after the validation split"); goto done; }
    if (o->select == FERC_SELECT_MACRO_F1 && nval == 0) { st = ferc_fail(err, FERC_ERR_ARG, "selecting on macro F1 needs a validation split"); goto done; }
    if (o->tune_class_bias && nval == 0) { st = ferc_fail(err, FERC_ERR_ARG, "tuning class offsets needs a validation split"); goto done; }
    b.vlogits = malloc(sizeof(float) * (size_t)(nval ? nval : 1) * FERC_NUM_CLASSES);
    b.vtrue = malloc(sizeof(int) * (size_t)(nval ? nval : 1));
    b.vpred = malloc(sizeof(int) * (size_t)(nval ? nval : 1));
    if (!b.vlogits || !b.vtrue || !b.vpred) { st = ferc_fail(err, FERC_ERR_NOMEM, "out of memory"); goto done; }
    for (int i = 0; i < nval; i++) b.vtrue[i] = d->label[val[i]];
    if (o->class_weight_balanced) {
        int counts[FERC_NUM_CLASSES] = {0};
        for (int i = 0; i < ntrain; i++) counts[d->label[train[i]]]++;
        ferc_class_weights_balanced(counts, cw);   /* w_c = n / (k n_c), as scikit-learn */
        b.cw = cw;
    }
    if (o->balance_oversample) {
        tlabels = malloc(sizeof(int) * (size_t)ntrain);
        if (!tlabels) { st = ferc_fail(err, FERC_ERR_NOMEM, "out of memory"); goto done; }
        for (int i = 0; i < ntrain; i++) tlabels[i] = d->label[train[i]];
        if ((st = ferc_balanced_sampler_init(&bal, tlabels, ntrain, err)) != FERC_OK) goto done;
    }

    ferc_rng rng;
    int start_epoch = 0, best_epoch = 0;
    float best_acc = -1;
    if (resumed) {
        rng = ex.rng;
        start_epoch = ex.epochs_done;
        best_acc = ex.best_val_acc; best_epoch = ex.best_epoch;
        opt.t = ex.opt_t;
        if (ex.load_m) memcpy(opt.m, ex.load_m, sizeof(float) * net->nparams);
        if (ex.load_v) memcpy(opt.v, ex.load_v, sizeof(float) * net->nparams);
        if (ex.load_best_params) memcpy(best_p, ex.load_best_params, sizeof(float) * net->nparams);
        if (ex.load_best_state) memcpy(best_s, ex.load_best_state, sizeof(float) * net->nstate);
        int nh = m->nhist < o->epochs ? m->nhist : o->epochs;
        if (nh) memcpy(hist, m->hist, sizeof *hist * (size_t)nh);
        log_msg(o, FERC_LOG_INFO, "resuming from %s after epoch %d (best val acc %.4f at epoch %d)",
                o->checkpoint, start_epoch, best_acc, best_epoch);
        if (start_epoch >= o->epochs) log_msg(o, FERC_LOG_INFO, "the checkpoint already has %d epochs", start_epoch);
    } else {
        ferc_rng_seed(&rng, o->seed);
        memcpy(best_p, net->params, sizeof(float) * net->nparams);
        memcpy(best_s, net->state, sizeof(float) * net->nstate);
    }
    log_msg(o, FERC_LOG_INFO, "%s: %zu parameters, input %dx%d; %d training and %d validation faces; batch %d; %d threads",
            m->arch, net->nparams, S, S, ntrain, nval, B, threads);

    const int nbatches = (ntrain + B - 1) / B;
    for (int epoch = start_epoch; epoch < o->epochs; epoch++) {
        double t0 = ferc_now(), last = 0;
        if (o->balance_oversample) {   /* sampler indices are positions in train[] */
            ferc_balanced_sampler_draw(&bal, &rng, order, ntrain);
            for (int i = 0; i < ntrain; i++) order[i] = train[order[i]];
        }
        else { memcpy(order, train, sizeof(int) * (size_t)ntrain); shuffle(order, ntrain, &rng); }
        double loss_sum = 0;
        long correct = 0, seen = 0;
        const float epoch_lr = ferc_lr_plateau(o, hist, epoch);
        const long total_steps = (long)nbatches * o->epochs, warm = (long)nbatches * o->lr_warmup;
        for (int bi = 0; bi < nbatches; bi++) {
            opt.lr = ferc_lr_at(o, epoch_lr, (long)epoch * nbatches + bi, total_steps, warm);
            int n = ntrain - bi * B < B ? ntrain - bi * B : B;
            const int *idx = order + (size_t)bi * B;
            fill_batch(&b, idx, n, 1, &rng);
            exec_ctx ctx = {threads, 1, ferc_rng_next(&rng)};
            const float *logits = net_forward(net, b.x, n, &ctx);
            double loss = softmax_xent(logits, b.y, b.onehot, b.cw, n, FERC_NUM_CLASSES, b.dlogits, NULL);
            correct += count_correct(logits, b.y, n);
            net_backward(net, b.x, b.dlogits, NULL, n, &ctx);
            optim_step(&opt, net, threads);
            loss_sum += loss * n;
            seen += n;
            double now = ferc_now();
            if (o->progress && (now - last > 0.2 || bi == nbatches - 1)) {
                last = now;
                double ips = seen / (now - t0);
                ferc_progress p = {epoch + 1, o->epochs, bi + 1, nbatches, loss_sum / seen,
                                   (double)correct / seen, ips, (ntrain - seen) / (ips > 0 ? ips : 1), NULL, 0, NULL, 0};
                o->progress(&p, o->progress_user);
            }
        }
        double vloss = NAN, vacc = NAN, vf1 = NAN;
        if (nval) validate(&b, val, nval, &vloss, &vacc, &vf1);
        ferc_epoch_stats *h = &hist[epoch];
        h->epoch = epoch + 1;
        h->train_loss = (float)(loss_sum / seen); h->train_acc = (float)((double)correct / seen);
        h->val_loss = (float)vloss; h->val_acc = (float)vacc; h->val_macro_f1 = (float)vf1;
        h->lr = opt.lr;   /* the last step's */
        h->seconds = (float)(ferc_now() - t0);
        float score = !nval ? -h->train_loss : o->select == FERC_SELECT_MACRO_F1 ? h->val_macro_f1 : h->val_acc;
        int improved = score > best_acc;
        if (improved) {
            best_acc = score; best_epoch = epoch + 1;
            memcpy(best_p, net->params, sizeof(float) * net->nparams);
            memcpy(best_s, net->state, sizeof(float) * net->nstate);
        }
        if ((st = model_set_history(m, hist, epoch + 1, err)) != FERC_OK) goto done;
        if (o->checkpoint) {
            ckpt_extra ce = {epoch + 1, rng, best_acc, best_epoch, opt.t, opt.m, opt.v, NULL, NULL,
                             best_p, best_s, NULL, NULL, 1};
            if ((st = model_save_ex(m, o->checkpoint, &ce, err)) != FERC_OK) goto done;
        }
        if (o->progress) {
            ferc_progress p = {epoch + 1, o->epochs, nbatches, nbatches, h->train_loss, h->train_acc,
                               seen / h->seconds, 0, h, improved, hist, epoch + 1};
            o->progress(&p, o->progress_user);
        }
    }
    /* the returned model holds the best weights */
    memcpy(net->params, best_p, sizeof(float) * net->nparams);
    memcpy(net->state, best_s, sizeof(float) * net->nstate);
    log_msg(o, FERC_LOG_INFO, "best validation %s %.4f at epoch %d",
            o->select == FERC_SELECT_MACRO_F1 ? "macro F1" : "accuracy", best_acc, best_epoch);
    if (o->tune_class_bias) {
        /* offsets chosen on the validation split only, folded into the last dense bias */
        double vloss, vacc, f0;
        validate(&b, val, nval, &vloss, &vacc, &f0);
        float off[FERC_NUM_CLASSES];
        double f1 = ferc_tune_class_offsets(b.vlogits, b.vtrue, nval, off, b.vpred);
        const param_tensor *last = NULL;
        for (int k = 0; k < net->ntensors; k++)
            if (strstr(net->tensors[k].name, "dense.bias") && net->tensors[k].size == FERC_NUM_CLASSES) last = &net->tensors[k];
        if (!last) { st = ferc_fail(err, FERC_ERR_ARG, "tuning class offsets needs a final dense layer of 7 units"); goto done; }
        for (int k = 0; k < FERC_NUM_CLASSES; k++) net->params[last->offset + k] += off[k];
        log_msg(o, FERC_LOG_INFO, "class offsets tuned on validation: macro F1 %.4f -> %.4f; offsets "
                "%+.2f %+.2f %+.2f %+.2f %+.2f %+.2f %+.2f", f0, f1,
                off[0], off[1], off[2], off[3], off[4], off[5], off[6]);
    }
    st = FERC_OK;
done:
    free(b.vlogits); free(b.vtrue); free(b.vpred);
    free(train); free(val); free(order); free(b.x); free(b.y); free(b.dlogits); free(b.onehot);
    free(best_p); free(best_s); free(hist);
    free(ex.load_m); free(ex.load_v); free(ex.load_best_params); free(ex.load_best_state);
    optim_free(&opt);
    ferc_balanced_sampler_free(&bal);
    free(tlabels);
    if (st != FERC_OK) { ferc_model_free(m); return st; }
    *out = m;
    return FERC_OK;
}
