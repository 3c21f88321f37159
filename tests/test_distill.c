/* test_distill.c — distillation (`ferc train --teacher`, src/train/distill.c):
 * the loss term and its gradient against finite differences; a tiny run in
 * which a student distilled from a teacher that answers a permuted task
 * agrees with that teacher far more than a student trained on the labels
 * alone (the teacher has another input size, so both views are exercised);
 * a distilled run resumed from its checkpoint ends bit for bit where the
 * uninterrupted one does, and a checkpoint refuses another teacher or none;
 * option errors in the library and on the command line. */
#include "cli_util.h"
#include "train/train.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

TEST(distill_kd_finite_differences) {
    enum { N = 3, K = 7 };
    ferc_rng r;
    ferc_rng_seed(&r, 11);
    float z[N * K], p[N * K], dz[N * K];
    for (int i = 0; i < N; i++) {
        double s = 0;
        for (int k = 0; k < K; k++) { z[i * K + k] = 4 * ferc_rng_uniform(&r) - 2; p[i * K + k] = 0.05f + ferc_rng_uniform(&r); s += p[i * K + k]; }
        for (int k = 0; k < K; k++) p[i * K + k] = (float)(p[i * K + k] / s);
    }
    const float Ts[3] = {1, 2.5f, 4}, As[3] = {1, 0.7f, 0.3f};
    for (int c = 0; c < 3; c++) {
        memset(dz, 0, sizeof dz);
        double l0 = distill_kd(z, p, N, K, Ts[c], As[c], dz);
        CHECK(l0 > 0);
        int bad = 0;
        for (int j = 0; j < N * K; j++) {
            const float h = 1e-2f, keep = z[j];
            z[j] = keep + h; double lp = distill_kd(z, p, N, K, Ts[c], As[c], NULL);
            z[j] = keep - h; double lm = distill_kd(z, p, N, K, Ts[c], As[c], NULL);
            z[j] = keep;
            double fd = (lp - lm) / (2 * h);
            if (fabs(fd - dz[j]) > 1e-4 * (1 + fabs(fd))) bad++;
        }
        CHECK_MSG(bad == 0, "T %g A %g: %d of %d gradients off", (double)Ts[c], (double)As[c], bad, N * K);
    }
}

/* KL is zero when the student's softened distribution is the teacher's. */
TEST(distill_kd_zero_at_teacher) {
    float p[7] = {0.05f, 0.1f, 0.3f, 0.2f, 0.15f, 0.1f, 0.1f}, z[7], dz[7] = {0};
    for (int k = 0; k < 7; k++) z[k] = logf(p[k]) + 3.0f;   /* logits up to a constant */
    CHECK_NEAR(distill_kd(z, p, 1, 7, 1.0f, 1.0f, dz), 0.0, 1e-6);
    for (int k = 0; k < 7; k++) CHECK_NEAR(dz[k], 0.0, 1e-6);
    z[2] += 1.0f;
    CHECK(distill_kd(z, p, 1, 7, 2.0f, 0.5f, NULL) > 1e-4);
}

/* The class is which horizontal band is bright (as test_model.c's task). */
static void bands(ferc_dataset *d, int n, uint64_t seed) {
    ferc_rng r;
    ferc_rng_seed(&r, seed);
    cli_dataset_alloc(d, n);
    for (int i = 0; i < n; i++) {
        int c = i % 7;
        d->label[i] = c;
        for (int y = 0; y < 48; y++)
            for (int x = 0; x < 48; x++)
                d->pix[(size_t)i * 2304 + y * 48 + x] = (uint8_t)(ferc_rng_uniform(&r) * 80 + ((y / 7) % 7 == c ? 120 : 0));
    }
}

static ferc_model *train(const ferc_dataset *d, const char *arch, int epochs, const char *teacher, float A,
                         const char *ckpt, int resume, ferc_error *err) {
    ferc_train_opts o;
    ferc_train_opts_default(&o);
    o.arch = arch; o.epochs = epochs; o.batch = 16; o.threads = 2; o.seed = 5;
    o.teacher = teacher; o.distill_weight = A; o.distill_temperature = 2;
    o.checkpoint = ckpt; o.resume = resume;
    /* no validation split: the last epoch is kept (validation accuracy on the
     * labels would keep the epoch that followed the permuted teacher least) */
    o.val_fraction = 0;
    ferc_model *m = NULL;
    if (ferc_train(d, &o, &m, err) != FERC_OK) return NULL;
    return m;
}

/* no batch norm in the nets of these short runs: its running statistics
 * (momentum 0.01) would still be far from the batches' after a few dozen
 * steps, and the comparisons are made in eval mode */
#define STUDENT "spec:48:conv8 relu pool conv8 relu pool flatten dense16 relu dense7"

static int top(const float *p) {
    int t = 0;
    for (int k = 1; k < 7; k++) if (p[k] > p[t]) t = k;
    return t;
}

/* Share of faces on which two models pick the same class. */
static double agreement(ferc_model *a, ferc_model *b, const ferc_dataset *d) {
    float *xa = malloc(sizeof(float) * 48 * 48 * (size_t)d->n), *xb = malloc(sizeof(float) * 48 * 48 * (size_t)d->n);
    float *pa = malloc(sizeof(float) * 7 * (size_t)d->n), *pb = malloc(sizeof(float) * 7 * (size_t)d->n);
    ferc_error err;
    int same = 0;
    if (ferc_model_prepare_rows(a, d, 0, d->n, xa, &err) == FERC_OK && ferc_model_prepare_rows(b, d, 0, d->n, xb, &err) == FERC_OK &&
        ferc_model_predict(a, xa, d->n, pa, 2, &err) == FERC_OK && ferc_model_predict(b, xb, d->n, pb, 2, &err) == FERC_OK)
        for (int i = 0; i < d->n; i++) same += top(pa + 7 * i) == top(pb + 7 * i);
    free(xa); free(xb); free(pa); free(pb);
    return (double)same / d->n;
}

/* Accuracy of a model on d's labels. */
static double label_accuracy(ferc_model *m, const ferc_dataset *d) {
    float *x = malloc(sizeof(float) * 48 * 48 * (size_t)d->n), *p = malloc(sizeof(float) * 7 * (size_t)d->n);
    ferc_error err;
    int right = 0;
    if (ferc_model_prepare_rows(m, d, 0, d->n, x, &err) == FERC_OK && ferc_model_predict(m, x, d->n, p, 2, &err) == FERC_OK)
        for (int i = 0; i < d->n; i++) right += top(p + 7 * i) == d->label[i];
    free(x); free(p);
    return (double)right / d->n;
}

TEST(distill_student_follows_teacher) {
    ferc_dataset d, perm;
    bands(&d, 280, 3);
    bands(&perm, 280, 3);
    for (int i = 0; i < perm.n; i++) perm.label[i] = (perm.label[i] + 3) % 7;   /* the teacher's own task */
    ferc_error err = {0};
    /* the teacher: another input size (40 px), trained on the permuted labels */
    ferc_model *teacher = train(&perm, "spec:40:conv8 relu pool conv8 relu pool flatten dense16 relu dense7", 6, NULL, 0, NULL, 0, &err);
    CHECK_MSG(teacher != NULL, "teacher: %s", err.msg);
    const char *tpath = test_path(test_tmpdir(), "teacher.ferc");
    if (teacher) CHECK_EQ_INT(ferc_model_save(teacher, tpath, &err), FERC_OK);
    ferc_model *plain = teacher ? train(&d, STUDENT, 5, NULL, 0, NULL, 0, &err) : NULL;
    ferc_model *dist = teacher ? train(&d, STUDENT, 5, tpath, 0.9f, NULL, 0, &err) : NULL;
    CHECK_MSG(!teacher || (plain && dist), "student: %s", err.msg);
    if (teacher && plain && dist) {
        double tacc = 0, ap = agreement(plain, teacher, &d), ad = agreement(dist, teacher, &d);
        tacc = label_accuracy(teacher, &perm);
        CHECK_MSG(tacc > 0.6, "the teacher learnt its task: %.3f", tacc);
        if (getenv("DISTILL_DEBUG")) printf("teacher %.3f distilled %.3f plain %.3f; on labels: distilled %.3f plain %.3f\n", tacc, ad, ap, label_accuracy(dist, &d), label_accuracy(plain, &d));
        CHECK_MSG(ad > ap + 0.3, "agreement with the teacher: distilled %.3f, plain %.3f", ad, ap);
        const char *r = ferc_model_recipe(dist);
        CHECK_MSG(r && strstr(r, "distill teacher-fnv64=") && strstr(r, "teacher.ferc"), "recipe: %s", r ? r : "(none)");
    }
    ferc_model_free(teacher); ferc_model_free(plain); ferc_model_free(dist);
    ferc_dataset_free(&d); ferc_dataset_free(&perm);
}

/* An ensemble teacher whose members have other input sizes: the teacher's
 * probabilities of a batch are the ensemble's own (ferc_model_predict on
 * the same faces). */
TEST(distill_ensemble_teacher) {
    ferc_dataset d;
    bands(&d, 20, 6);
    ferc_error err = {0};
    ferc_model *mem[2] = {NULL, NULL}, *ens = NULL, *student = NULL;
    CHECK_EQ_INT(ferc_model_create("spec:40:conv8 bn relu pool flatten dense7", 1, &mem[0], &err), FERC_OK);
    CHECK_EQ_INT(ferc_model_create("spec:48:conv8 relu pool flatten dense7", 2, &mem[1], &err), FERC_OK);
    const float w[2] = {0.3f, 0.7f};
    CHECK_EQ_INT(ferc_ensemble_create(mem, NULL, w, 2, &ens, &err), FERC_OK);
    CHECK_EQ_INT(ferc_model_create("spec:44:conv8 relu pool flatten dense7", 3, &student, &err), FERC_OK);
    const char *tp = test_path(test_tmpdir(), "ens.ferc");
    if (!ens || !student || ferc_model_save(ens, tp, &err) != FERC_OK) { CHECK_MSG(0, "%s", err.msg); return; }
    ferc_train_opts o;
    ferc_train_opts_default(&o);
    o.teacher = tp;
    distill_state ds;
    CHECK_EQ_INT(distill_begin(&ds, &o, &d, student, 0, 16, 2, &err), FERC_OK);
    CHECK_EQ_INT(ds.nleaf, 2);
    float x[16 * 48 * 48], p[16 * 7], xs[16 * 44 * 44];
    CHECK_EQ_INT(ferc_model_prepare_rows(ens, &d, 0, 16, x, &err), FERC_OK);
    memcpy(ds.x, x, sizeof x);
    distill_batch(&ds, student, 13, xs, 2);   /* a short batch: the teacher still runs on 16 */
    CHECK_EQ_INT(ferc_model_predict(ens, x, 13, p, 2, &err), FERC_OK);
    double e = 0;
    for (int i = 0; i < 13 * 7; i++) e = fmax(e, fabs(p[i] - ds.pt[i]));
    CHECK_MSG(e < 1e-6, "teacher probabilities differ from the ensemble's by %g", e);
    float ref[44 * 44];
    ferc_model_prepare(student, x + 5 * 48 * 48, 48, 48, ref);
    CHECK(memcmp(ref, xs + 5 * 44 * 44, sizeof ref) == 0);   /* the student's own view */
    distill_free(&ds);
    ferc_model_free(ens); ferc_model_free(student);
    ferc_dataset_free(&d);
}

TEST(distill_resume_bit_exact) {
    ferc_dataset d;
    bands(&d, 140, 4);
    ferc_error err = {0};
    ferc_model *t1 = NULL, *t2 = NULL;
    CHECK_EQ_INT(ferc_model_create("spec:40:conv8 bn relu pool flatten dense7", 1, &t1, &err), FERC_OK);
    CHECK_EQ_INT(ferc_model_create("spec:40:conv8 bn relu pool flatten dense7", 2, &t2, &err), FERC_OK);
    const char *dir = test_tmpdir(), *p1 = test_path(dir, "t1.ferc"), *p2 = test_path(dir, "t2.ferc");
    char ck[1024];
    snprintf(ck, sizeof ck, "%s", test_path(dir, "run.ckpt"));
    CHECK(t1 && t2 && ferc_model_save(t1, p1, &err) == FERC_OK && ferc_model_save(t2, p2, &err) == FERC_OK);
    ferc_model *full = train(&d, STUDENT, 3, p1, 0.7f, NULL, 0, &err);
    ferc_model *part = train(&d, STUDENT, 2, p1, 0.7f, ck, 0, &err);   /* "killed" after epoch 2 */
    ferc_model *other = train(&d, STUDENT, 3, p2, 0.7f, ck, 1, &err);  /* another teacher: refused */
    CHECK(other == NULL && strstr(err.msg, "another teacher"));
    ferc_model *none = train(&d, STUDENT, 3, NULL, 0.7f, ck, 1, &err);  /* no teacher: refused */
    CHECK(none == NULL && strstr(err.msg, "--teacher"));
    ferc_model *rest = train(&d, STUDENT, 3, p1, 0.7f, ck, 1, &err);
    CHECK_MSG(full && part && rest, "%s", err.msg);
    if (full && rest) {
        CHECK(memcmp(full->net.params, rest->net.params, 4 * full->net.nparams) == 0);
        CHECK(memcmp(full->net.state, rest->net.state, 4 * full->net.nstate) == 0);
    }
    ferc_model_free(t1); ferc_model_free(t2); ferc_model_free(full); ferc_model_free(part);
    ferc_model_free(other); ferc_model_free(none); ferc_model_free(rest);
    ferc_dataset_free(&d);
}

TEST(distill_option_errors) {
    ferc_dataset d;
    bands(&d, 70, 5);
    ferc_error err = {0};
    const char *dir = test_tmpdir(), *tp = cli_make_model(dir, 1, NULL, 0), *junk = test_path(dir, "junk.ferc");
    CHECK(tp && test_write(junk, "not a model", 11));
    ferc_train_opts o;
    ferc_train_opts_default(&o);
    o.arch = STUDENT; o.epochs = 1; o.batch = 16; o.threads = 1; o.teacher = tp;
    ferc_model *m = NULL;
    const float badT[3] = {0, -1, 1000};
    for (int i = 0; i < 3; i++) {
        o.distill_temperature = badT[i];
        CHECK(ferc_train(&d, &o, &m, &err) == FERC_ERR_ARG && strstr(err.msg, "temperature"));
    }
    o.distill_temperature = 4; o.distill_weight = 1.5f;
    CHECK(ferc_train(&d, &o, &m, &err) == FERC_ERR_ARG && strstr(err.msg, "weight"));
    o.distill_weight = 0.7f; o.teacher = junk;
    CHECK(ferc_train(&d, &o, &m, &err) != FERC_OK && strstr(err.msg, "teacher"));
    ferc_augment_opts a;
    ferc_augment_opts_default(&a);
    CHECK_EQ_INT(ferc_augment_opts_parse(&a, "crop=1", &err), FERC_OK);
    o.teacher = tp; o.augment = &a; o.arch = "spec:44:conv8 bn relu pool flatten dense7";
    CHECK(ferc_train(&d, &o, &m, &err) == FERC_ERR_ARG && strstr(err.msg, "crop"));
    CHECK(m == NULL);
    ferc_dataset_free(&d);
}

TEST(distill_cli_errors) {
    NEED_FERC();
    const char *dir = test_tmpdir(), *csv = cli_write_band_csv(dir, 70, 0), *tp = cli_make_model(dir, 1, NULL, 0);
    CHECK(csv && tp);
    if (!csv || !tp) return;
    const struct { const char *args, *want; } cases[] = {
        {"--teacher %s/missing.ferc", "--teacher: cannot read"},
        {"--teacher %s/model.ferc --distill-temperature 0", "--distill-temperature"},
        {"--teacher %s/model.ferc --distill-weight 2", "--distill-weight"},
        {"--distill-weight 0.5 --seed 1 --limit 7%.0s", "needs --teacher"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char args[1200];
        snprintf(args, sizeof args, cases[i].args, dir);
        int rc = cli_run(dir, "%s train --data %s --epochs 1 --out %s/o.ferc --force %s", ferc, csv, dir, args);
        char *e = cli_err(dir);
        CHECK_MSG(rc == 2 && strstr(e, cases[i].want) && cli_count_lines(e) <= 2, "%s: rc %d: %s", args, rc, e);
        free(e);
    }
    int rc = cli_run(dir, "%s train --help", ferc);
    char *o = cli_out(dir);
    CHECK(rc == 0 && strstr(o, "--teacher MODEL") && strstr(o, "--distill-temperature T") && strstr(o, "--distill-weight A"));
    free(o);
}
