/* distill.c — knowledge distillation (issue 12, `ferc train --teacher`):
 * a student trained on a fixed teacher's softened probabilities as well as
 * the labels (Hinton et al. 2015):
 *   L = A T^2 KL(softmax(t / T) || softmax(z / T)) + (1 - A) CE(z, labels),
 * t the teacher's logits, z the student's. The teacher is any model file,
 * an ensemble too; its "logits" are log of its probabilities (for one net
 * that is its logits up to a constant, which softmax ignores; for an
 * ensemble, the log of its averaged probabilities).
 *
 * What the teacher sees. Teacher and student may have different input
 * sizes (and an ensemble's members each their own). The training pipeline
 * augments each face in one affine warp straight to the student's size;
 * to show both nets the same augmented face, a distilled run augments at
 * the dataset's face size instead (48x48 for FER2013, so nothing is lost to
 * a resize before the warp) and then hands that face to each net's own
 * preprocessing (ferc_model_prepare: the bilinear resize that `ferc eval`
 * and `predict` apply). Mixup / CutMix mix those faces, before either net
 * sees them. The student's inputs are thus a warp followed by a resize
 * rather than one warp: a small change that only distilled runs see. A
 * student trained on random crops (--augment crop) is refused: its crop is
 * the augmentation, and the teacher cannot be shown "the same" crop at
 * another size without a second crop convention.
 *
 * Everything a step needs is allocated and the teacher's workspace and
 * primitives made in distill_begin (a warm-up pass), so a step does not
 * allocate; the teacher always runs on a full batch (the last, smaller
 * batch of an epoch padded) for the same reason. Resume: the checkpoint's
 * recipe records the teacher (a 64-bit FNV-1a hash of its file, T, A and
 * its path); a resumed run with another teacher or other T, A is refused. */
#include "train/train.h"
#include "data/data.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double distill_kd(const float *z, const float *pt, int n, int K, float T, float A, float *dz) {
    double total = 0;
    for (int i = 0; i < n; i++) {
        const float *zi = z + (size_t)i * K, *pi = pt + (size_t)i * K;
        double ls[64], lt[64], ms = -INFINITY, mt = -INFINITY, ss = 0, st = 0;
        for (int k = 0; k < K; k++) {
            ls[k] = zi[k] / T;
            lt[k] = log(pi[k] > 1e-30f ? pi[k] : 1e-30) / T;
            if (ls[k] > ms) ms = ls[k];
            if (lt[k] > mt) mt = lt[k];
        }
        for (int k = 0; k < K; k++) { ss += exp(ls[k] - ms); st += exp(lt[k] - mt); }
        const double lzs = ms + log(ss), lzt = mt + log(st);
        double kl = 0;
        for (int k = 0; k < K; k++) {
            double ps = exp(ls[k] - lzs), q = exp(lt[k] - lzt);
            kl += q * ((lt[k] - lzt) - (ls[k] - lzs));
            /* d (A T^2 KL / n) / d z_k = A T (ps - q) / n */
            if (dz) dz[(size_t)i * K + k] += (float)(A * T * (ps - q) / n);
        }
        total += kl;
    }
    return A * (double)T * T * total / n;
}

/* 64-bit FNV-1a of a file's bytes: names the teacher in the recipe. */
static ferc_status file_hash(const char *path, uint64_t *h, ferc_error *err) {
    unsigned char *buf = NULL;
    size_t len = 0;
    ferc_status st = ferc_read_file(path, &buf, &len, err);
    if (st != FERC_OK) return st;
    uint64_t v = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) { v ^= buf[i]; v *= 0x100000001b3ull; }
    free(buf);
    *h = v;
    return FERC_OK;
}

/* The nets that run for the teacher: itself, or its members (one level). */
static int leaves(ferc_model *m, ferc_model **out, float *w) {
    if (!m->nmembers) { out[0] = m; w[0] = 1; return 1; }
    int n = 0;
    for (int k = 0; k < m->nmembers; k++)
        if (m->weights[k] != 0) { out[n] = m->members[k]; w[n] = m->weights[k]; n++; }
    return n;
}

/* The teacher's probabilities (B, K) of faces x (B, F, F) into ds->pt:
 * the weighted sum of its nets', each on its own view. */
static void teacher_run(distill_state *ds, const float *x, int threads) {
    const int B = ds->B, F = ds->F, K = FERC_NUM_CLASSES;
    exec_ctx ctx = {.threads = threads, .training = 0, .step_seed = 0};
    memset(ds->pt, 0, sizeof(float) * (size_t)B * K);
    for (int j = 0; j < ds->nleaf; j++) {
        ferc_model *m = ds->leaf[j];
        const int S = m->input_size;
        const size_t SS = (size_t)S * S;
#pragma omp parallel for num_threads(threads) schedule(static)
        for (int i = 0; i < B; i++) {
            float *v = ds->tx + (size_t)i * SS;
            ferc_model_prepare(m, x + (size_t)i * F * F, F, F, v);
            if (!(m->norm_mean == 0 && m->norm_std == 1))
                for (size_t q = 0; q < SS; q++) v[q] = (v[q] - m->norm_mean) / m->norm_std;
        }
        const float *z = net_forward(&m->net, ds->tx, B, &ctx);
        softmax_rows(z, B, K, ds->pm);
        for (size_t q = 0; q < (size_t)B * K; q++) ds->pt[q] += ds->lw[j] * ds->pm[q];
    }
}

/* The recipe line that names the teacher, and the check of a resumed one. */
static void recipe_line(const distill_state *ds, const ferc_train_opts *o, char *buf, size_t cap) {
    snprintf(buf, cap, "distill teacher-fnv64=%016llx T=%g A=%g teacher=%s", (unsigned long long)ds->hash,
             (double)o->distill_temperature, (double)o->distill_weight, o->teacher);
}

static ferc_status check_resume(const distill_state *ds, const ferc_train_opts *o, const ferc_model *m,
                                int resumed, ferc_error *err) {
    if (!resumed) return FERC_OK;
    const char *r = ferc_model_recipe(m);
    const int had = r && strncmp(r, "distill ", 8) == 0;
    if (!o->teacher && had)
        return ferc_fail(err, FERC_ERR_ARG, "%s: the checkpoint's run was distilled (%s): resume it with the same "
                         "--teacher", o->checkpoint, r + 8);
    if (!o->teacher) return FERC_OK;
    if (!had)
        return ferc_fail(err, FERC_ERR_ARG, "%s: the checkpoint's run had no teacher: resume it without --teacher, "
                         "or start over", o->checkpoint);
    char want[1200];
    recipe_line(ds, o, want, sizeof want);
    const char *p = strstr(want, " teacher="), *q = strstr(r, " teacher=");
    if (!q || (size_t)(q - r) != (size_t)(p - want) || strncmp(r, want, (size_t)(p - want)) != 0)
        return ferc_fail(err, FERC_ERR_ARG, "%s: the checkpoint's run was distilled from another teacher or with "
                         "other settings (%s); this run: %s", o->checkpoint, r + 8, want + 8);
    return FERC_OK;
}

static ferc_status check_opts(const ferc_train_opts *o, const ferc_dataset *d, ferc_error *err) {
    if (!(o->distill_temperature > 0 && o->distill_temperature <= 100))
        return ferc_fail(err, FERC_ERR_ARG, "distillation temperature must be in (0, 100] (got %g)",
                         (double)o->distill_temperature);
    if (!(o->distill_weight >= 0 && o->distill_weight <= 1))
        return ferc_fail(err, FERC_ERR_ARG, "distillation weight must be in [0, 1] (got %g)", (double)o->distill_weight);
    if (o->augment && o->augment->crop)
        return ferc_fail(err, FERC_ERR_ARG, "a teacher cannot be used with random-crop augmentation (crop): "
                         "train the student with resize augmentation");
    if (d->h != d->w || d->h > 256)
        return ferc_fail(err, FERC_ERR_ARG, "distillation needs square faces of at most 256 px (these are %dx%d)",
                         d->w, d->h);
    return FERC_OK;
}

static ferc_status alloc_state(distill_state *ds, int B, ferc_error *err) {
    size_t maxin = 1;
    for (int j = 0; j < ds->nleaf; j++) {
        size_t s = (size_t)ds->leaf[j]->input_size * ds->leaf[j]->input_size;
        if (s > maxin) maxin = s;
    }
    ds->x = calloc((size_t)B * ds->F * ds->F, sizeof(float));
    ds->tx = malloc(sizeof(float) * (size_t)B * maxin);
    ds->pt = malloc(sizeof(float) * (size_t)B * FERC_NUM_CLASSES);
    ds->pm = malloc(sizeof(float) * (size_t)B * FERC_NUM_CLASSES);
    if (!ds->x || !ds->tx || !ds->pt || !ds->pm) return ferc_fail(err, FERC_ERR_NOMEM, "out of memory");
    return FERC_OK;
}

ferc_status distill_begin(distill_state *ds, const ferc_train_opts *o, const ferc_dataset *d, ferc_model *student,
                          int resumed, int B, int threads, ferc_error *err) {
    memset(ds, 0, sizeof *ds);
    ferc_status st = check_resume(ds, o, student, resumed && !o->teacher, err);
    if (st != FERC_OK || !o->teacher) return st;
    if ((st = check_opts(o, d, err)) != FERC_OK) return st;
    if ((st = file_hash(o->teacher, &ds->hash, err)) != FERC_OK) return st;
    if ((st = check_resume(ds, o, student, resumed, err)) != FERC_OK) return st;
    if ((st = ferc_model_load(o->teacher, &ds->teacher, err)) != FERC_OK) {
        char why[sizeof err->msg];
        snprintf(why, sizeof why, "%s", err->msg);
        return ferc_fail(err, st, "teacher: %s", why);
    }
    if (ferc_model_num_classes(ds->teacher) != FERC_NUM_CLASSES)
        return ferc_fail(err, FERC_ERR_ARG, "teacher %s has %d classes, the student %d", o->teacher,
                         ferc_model_num_classes(ds->teacher), FERC_NUM_CLASSES);
    ds->nleaf = leaves(ds->teacher, ds->leaf, ds->lw);
    for (int j = 0; j < ds->nleaf; j++)
        if (ds->leaf[j]->nmembers)
            return ferc_fail(err, FERC_ERR_ARG, "teacher %s: an ensemble of ensembles is not supported", o->teacher);
    ds->B = B; ds->F = d->h; ds->T = o->distill_temperature; ds->A = o->distill_weight;
    if ((st = alloc_state(ds, B, err)) != FERC_OK) return st;
    for (int j = 0; j < ds->nleaf; j++)
        if ((st = net_reserve(&ds->leaf[j]->net, B, 0, threads, err)) != FERC_OK) return st;
    teacher_run(ds, ds->x, threads);   /* warm-up: primitives made now, not in a step */
    char line[1200];
    recipe_line(ds, o, line, sizeof line);
    if ((st = ferc_model_set_recipe(student, line, err)) != FERC_OK) return st;
    ds->on = 1;
    return FERC_OK;
}

void distill_batch(distill_state *ds, const ferc_model *student, int n, float *xs, int threads) {
    const int F = ds->F, S = student->input_size;
    if (n < ds->B) memset(ds->x + (size_t)n * F * F, 0, sizeof(float) * (size_t)(ds->B - n) * F * F);
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int i = 0; i < n; i++)
        ferc_model_prepare(student, ds->x + (size_t)i * F * F, F, F, xs + (size_t)i * S * S);
    teacher_run(ds, ds->x, threads);
}

void distill_free(distill_state *ds) {
    ferc_model_free(ds->teacher);
    free(ds->x); free(ds->tx); free(ds->pt); free(ds->pm);
    memset(ds, 0, sizeof *ds);
}
