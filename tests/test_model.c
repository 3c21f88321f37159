/* test_model.c — model files (round trip, refusal of truncated, corrupted and
 * wrong-version files), determinism of training (same seed and threads, same
 * bits), checkpoint/resume equivalence, and an end-to-end run on the shared
 * FER2013 data that must beat chance by a wide margin. */
#include "data/data.h"
#include "train/train.h"
#include "test.h"
#include "cli_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

TEST(model_round_trip) {
    ferc_model *m, *m2;
    ferc_error err;
    CHECK_EQ_INT(ferc_model_create("seed", 5, &m, &err), FERC_OK);
    ferc_epoch_stats h[2] = {{1, 1.5f, 0.4f, 1.4f, 0.45f, 1e-3f, 12.5f, 0.31f}, {2, 1.2f, 0.5f, 1.3f, 0.5f, 1e-3f, 11.0f, 0.42f}};
    CHECK_EQ_INT(model_set_history(m, h, 2, &err), FERC_OK);
    for (size_t i = 0; i < m->net.nstate; i++) m->net.state[i] = (float)i * 0.5f;
    char path[1024];
    snprintf(path, sizeof path, "%s/m.ferc", test_tmpdir());
    CHECK_EQ_INT(ferc_model_save(m, path, &err), FERC_OK);
    CHECK_EQ_INT(ferc_model_load(path, &m2, &err), FERC_OK);
    if (test_failed_now()) { ferc_model_free(m); return; }
    CHECK(strcmp(ferc_model_arch(m2), "seed") == 0);
    CHECK(strcmp(ferc_model_spec(m2), ferc_model_spec(m)) == 0);
    CHECK_EQ_INT(ferc_model_input_size(m2), 48);
    CHECK_EQ_INT(ferc_model_num_params(m2), 683975);  /* Keras/PyTorch count for this net */
    CHECK(memcmp(m->net.params, m2->net.params, 4 * m->net.nparams) == 0);
    CHECK(memcmp(m->net.state, m2->net.state, 4 * m->net.nstate) == 0);
    const ferc_epoch_stats *h2;
    CHECK_EQ_INT(ferc_model_history(m2, &h2), 2);
    CHECK(memcmp(h, h2, sizeof h) == 0);
    /* predictions agree */
    float x[2 * 48 * 48], p1[14], p2[14];
    for (int i = 0; i < 2 * 48 * 48; i++) x[i] = (float)((i * 37) % 255) / 255.0f;
    CHECK_EQ_INT(ferc_model_predict(m, x, 2, p1, 1, &err), FERC_OK);
    CHECK_EQ_INT(ferc_model_predict(m2, x, 2, p2, 1, &err), FERC_OK);
    CHECK(memcmp(p1, p2, sizeof p1) == 0);
    double s = 0;
    for (int k = 0; k < 7; k++) s += p1[k];
    CHECK_NEAR(s, 1.0, 1e-5);
    ferc_model_free(m);
    ferc_model_free(m2);
}

TEST(model_refuses_bad_files) {
    ferc_model *m, *bad = NULL;
    ferc_error err;
    CHECK_EQ_INT(ferc_model_create("seed", 1, &m, &err), FERC_OK);
    const char *dir = test_tmpdir();
    char path[1024], p2[1024];
    snprintf(path, sizeof path, "%s/good.ferc", dir);
    snprintf(p2, sizeof p2, "%s/bad.ferc", dir);
    CHECK_EQ_INT(ferc_model_save(m, path, &err), FERC_OK);
    ferc_model_free(m);
    size_t n;
    unsigned char *d = test_read(path, &n);
    CHECK(d && n > 1000);
    if (!d) return;
    /* missing */
    CHECK_EQ_INT(ferc_model_load("/nonexistent/x.ferc", &bad, &err), FERC_ERR_IO);
    CHECK(strstr(err.msg, "/nonexistent/x.ferc") != NULL);
    /* empty */
    test_write(p2, d, 0);
    CHECK_EQ_INT(ferc_model_load(p2, &bad, &err), FERC_ERR_FORMAT);
    CHECK(strstr(err.msg, "empty") != NULL);
    /* truncated at several points */
    size_t cuts[] = {4, 15, 100, n / 2, n - 1};
    for (int i = 0; i < 5; i++) {
        test_write(p2, d, cuts[i]);
        CHECK_EQ_INT(ferc_model_load(p2, &bad, &err), FERC_ERR_FORMAT);
        CHECK(bad == NULL);
    }
    /* one flipped bit in the weights */
    d[n / 2] ^= 0x10;
    test_write(p2, d, n);
    CHECK_EQ_INT(ferc_model_load(p2, &bad, &err), FERC_ERR_FORMAT);
    CHECK(strstr(err.msg, "checksum") != NULL);
    d[n / 2] ^= 0x10;
    /* wrong magic */
    d[0] = 'X';
    test_write(p2, d, n);
    CHECK_EQ_INT(ferc_model_load(p2, &bad, &err), FERC_ERR_FORMAT);
    CHECK(strstr(err.msg, "magic") != NULL);
    d[0] = 'F';
    /* wrong version */
    d[8] = 99;
    test_write(p2, d, n);
    CHECK_EQ_INT(ferc_model_load(p2, &bad, &err), FERC_ERR_FORMAT);
    CHECK(strstr(err.msg, "version 99") != NULL);
    d[8] = 1;
    test_write(p2, d, n);
    CHECK_EQ_INT(ferc_model_load(p2, &bad, &err), FERC_OK);
    ferc_model_free(bad);
    free(d);
}

/* A small synthetic dataset: the class is which quadrant is bright. */
static void synth(ferc_dataset *d, int n, uint64_t seed) {
    ferc_rng r;
    ferc_rng_seed(&r, seed);
    cli_dataset_alloc(d, n);
    for (int i = 0; i < n; i++) {
        int c = i % 7;
        d->label[i] = c;
        for (int y = 0; y < 48; y++)
            for (int x = 0; x < 48; x++) {
                int v = (int)(ferc_rng_uniform(&r) * 80);
                int band = (y / 7) % 7;   /* class c brightens horizontal band c */
                if (band == c) v += 120;
                d->pix[(size_t)i * 2304 + y * 48 + x] = (uint8_t)v;
            }
    }
}

static ferc_model *train_small(const ferc_dataset *d, int epochs, int threads, const char *ckpt, int resume) {
    ferc_train_opts o;
    ferc_train_opts_default(&o);
    o.arch = "spec:48:conv8 bn relu pool drop0.25 conv8 bn relu pool flatten dense16 relu drop0.5 dense7";
    o.epochs = epochs; o.batch = 16; o.threads = threads; o.seed = 3;
    o.checkpoint = ckpt; o.resume = resume;
    ferc_model *m = NULL;
    ferc_error err;
    ferc_status st = ferc_train(d, &o, &m, &err);
    CHECK_MSG(st == FERC_OK, "train: %s", err.msg);
    return m;
}

TEST(train_is_deterministic) {
    ferc_dataset d;
    synth(&d, 140, 1);
    ferc_model *a = train_small(&d, 2, 2, NULL, 0), *b = train_small(&d, 2, 2, NULL, 0);
    if (a && b) {
        CHECK(memcmp(a->net.params, b->net.params, 4 * a->net.nparams) == 0);
        CHECK(memcmp(a->net.state, b->net.state, 4 * a->net.nstate) == 0);
    }
    ferc_model_free(a); ferc_model_free(b);
    ferc_dataset_free(&d);
}

TEST(train_resume_matches_uninterrupted) {
    ferc_dataset d;
    synth(&d, 140, 2);
    char ck[1024];
    snprintf(ck, sizeof ck, "%s/run.ckpt", test_tmpdir());
    ferc_model *full = train_small(&d, 3, 2, NULL, 0);
    ferc_model *part = train_small(&d, 2, 2, ck, 0);   /* "killed" after epoch 2 */
    ferc_model *rest = train_small(&d, 3, 2, ck, 1);   /* resumed for epoch 3 */
    if (full && rest) {
        CHECK(memcmp(full->net.params, rest->net.params, 4 * full->net.nparams) == 0);
        const ferc_epoch_stats *h1, *h2;
        CHECK_EQ_INT(ferc_model_history(full, &h1), 3);
        CHECK_EQ_INT(ferc_model_history(rest, &h2), 3);
        for (int i = 0; i < 3; i++) CHECK(h1[i].val_acc == h2[i].val_acc && h1[i].train_loss == h2[i].train_loss);
    }
    ferc_model_free(full); ferc_model_free(part); ferc_model_free(rest);
    ferc_dataset_free(&d);
}

TEST(lr_cosine_schedule) {
    ferc_train_opts o;
    ferc_train_opts_default(&o);
    o.lr = 1e-3f; o.lr_min = 1e-5f; o.lr_schedule = FERC_LR_COSINE;
    /* lr_min + (lr - lr_min)(1 + cos(pi t/T))/2 at t = 0, T/2, T/4, T */
    CHECK_NEAR(ferc_lr_at(&o, 0, 0, 100, 0), 1e-3, 1e-9);
    CHECK_NEAR(ferc_lr_at(&o, 0, 50, 100, 0), (1e-3 + 1e-5) / 2, 1e-9);
    CHECK_NEAR(ferc_lr_at(&o, 0, 25, 100, 0), 1e-5 + (1e-3 - 1e-5) * (1 + 0.70710678) / 2, 1e-9);
    CHECK_NEAR(ferc_lr_at(&o, 0, 100, 100, 0), 1e-5, 1e-9);
    /* warm-up of 10 steps: lr (s+1)/10, then the cosine over the other 90 */
    CHECK_NEAR(ferc_lr_at(&o, 0, 0, 100, 10), 1e-4, 1e-9);
    CHECK_NEAR(ferc_lr_at(&o, 0, 9, 100, 10), 1e-3, 1e-9);
    CHECK_NEAR(ferc_lr_at(&o, 0, 55, 100, 10), (1e-3 + 1e-5) / 2, 1e-9);
    o.lr_schedule = FERC_LR_CONSTANT;
    CHECK_NEAR(ferc_lr_at(&o, 0, 77, 100, 0), 1e-3, 1e-9);
}

TEST(lr_plateau_schedule) {
    ferc_train_opts o;
    ferc_train_opts_default(&o);
    o.lr = 1e-3f; o.lr_schedule = FERC_LR_PLATEAU; o.lr_factor = 0.5f; o.lr_patience = 2; o.lr_min = 2e-4f;
    /* val loss: best at epochs 1,2; no gain at 3,4 -> halve; 5 better; 6,7 no gain -> halve;
     * 8,9 no gain -> would be 1.25e-4, floored at 2e-4 */
    ferc_epoch_stats h[9];
    const float vl[9] = {1.0f, 0.9f, 0.95f, 0.91f, 0.8f, 0.8f, 0.85f, 0.81f, 0.82f};
    memset(h, 0, sizeof h);
    for (int i = 0; i < 9; i++) h[i].val_loss = vl[i];
    const double want[10] = {1e-3, 1e-3, 1e-3, 1e-3, 5e-4, 5e-4, 5e-4, 2.5e-4, 2.5e-4, 2e-4};
    for (int e = 0; e <= 9; e++)
        CHECK_MSG(fabs(ferc_lr_plateau(&o, h, e) - want[e]) < 1e-9, "after %d epochs: %g, want %g",
                  e, ferc_lr_plateau(&o, h, e), want[e]);
    CHECK_NEAR(ferc_lr_at(&o, 3e-4f, 5, 10, 0), 3e-4, 1e-9);
}

TEST(train_plateau_resume_matches_uninterrupted) {
    ferc_dataset d;
    synth(&d, 140, 5);
    char ck[1024];
    snprintf(ck, sizeof ck, "%s/plateau.ckpt", test_tmpdir());
    ferc_model *run[3] = {NULL, NULL, NULL};
    const int epochs[3] = {4, 3, 4}, resume[3] = {0, 0, 1};
    for (int k = 0; k < 3; k++) {
        ferc_train_opts o;
        ferc_train_opts_default(&o);
        o.arch = "spec:48:conv8 bn relu pool conv8 bn relu pool flatten dense16 relu dense7";
        o.epochs = epochs[k]; o.batch = 16; o.threads = 2; o.seed = 4; o.lr = 0.05f;
        o.lr_schedule = FERC_LR_PLATEAU; o.lr_patience = 1; o.lr_factor = 0.5f;
        o.label_smoothing = 0.1f;
        o.checkpoint = k ? ck : NULL; o.resume = resume[k];
        ferc_error err;
        CHECK_MSG(ferc_train(&d, &o, &run[k], &err) == FERC_OK, "train: %s", err.msg);
    }
    if (run[0] && run[2]) {
        CHECK(memcmp(run[0]->net.params, run[2]->net.params, 4 * run[0]->net.nparams) == 0);
        const ferc_epoch_stats *h;
        CHECK_EQ_INT(ferc_model_history(run[2], &h), 4);
        ferc_train_opts o;   /* each epoch ran at the lr its predecessors' history gives */
        ferc_train_opts_default(&o);
        o.lr = 0.05f; o.lr_schedule = FERC_LR_PLATEAU; o.lr_patience = 1; o.lr_factor = 0.5f;
        for (int i = 0; i < 4; i++)
            CHECK_MSG(h[i].lr == ferc_lr_plateau(&o, h, i), "epoch %d: lr %g, history gives %g", i + 1,
                      h[i].lr, ferc_lr_plateau(&o, h, i));
    }
    for (int k = 0; k < 3; k++) ferc_model_free(run[k]);
    ferc_dataset_free(&d);
}

TEST(macro_f1_offsets_match_metrics) {
    enum { N = 300 };
    static float z[N * 7];
    int y[N], pred[N], scratch[N];
    ferc_rng r;
    ferc_rng_seed(&r, 11);
    for (int i = 0; i < N; i++) {
        y[i] = (int)ferc_rng_below(&r, 7);
        if (i % 50 == 0) y[i] = 1;   /* a rare class */
        for (int k = 0; k < 7; k++) z[i * 7 + k] = (float)ferc_rng_uniform(&r) + (k == y[i] ? 0.4f : 0.0f);
    }
    const float offs[2][7] = {{0, 0, 0, 0, 0, 0, 0}, {0.1f, -0.3f, 0.25f, 0, -0.05f, 0.4f, -0.2f}};
    for (int t = 0; t < 2; t++) {
        for (int i = 0; i < N; i++) {
            int b = 0;
            for (int k = 1; k < 7; k++) if (z[i * 7 + k] + offs[t][k] > z[i * 7 + b] + offs[t][b]) b = k;
            pred[i] = b;
        }
        ferc_metrics m;
        ferc_metrics_compute(y, pred, N, &m);   /* scikit-learn-exact (tests/test_metrics.c) */
        CHECK_NEAR(ferc_macro_f1_offsets(z, y, N, offs[t], scratch), m.macro_f1, 1e-12);
        CHECK(memcmp(pred, scratch, sizeof pred) == 0);   /* the argmax with offsets */
    }
    /* class 1 is never the argmax without help: tuning must find an offset
     * for it and must not lower the score */
    for (int i = 0; i < N; i++) z[i * 7 + 1] -= 0.5f;
    float off[7];
    double f0 = ferc_macro_f1_offsets(z, y, N, offs[0], scratch);
    double f1 = ferc_tune_class_offsets(z, y, N, off, scratch);
    CHECK_NEAR(f1, ferc_macro_f1_offsets(z, y, N, off, scratch), 1e-12);
    CHECK_MSG(f1 > f0 + 0.02, "tuned %.4f vs %.4f", f1, f0);
    CHECK_MSG(off[1] > 0.2f, "offset of the suppressed class %.2f", off[1]);
}

TEST(train_select_macro_f1_and_tune_bias) {
    ferc_dataset d;
    synth(&d, 140, 6);
    ferc_train_opts o;
    ferc_train_opts_default(&o);
    o.arch = "spec:48:conv8 bn relu pool conv8 bn relu pool flatten dense16 bn relu dense7";
    o.epochs = 2; o.batch = 16; o.threads = 2; o.seed = 4;
    o.select = FERC_SELECT_MACRO_F1; o.tune_class_bias = 1;
    o.lr_schedule = FERC_LR_COSINE;
    ferc_model *m = NULL;
    ferc_error err;
    CHECK_MSG(ferc_train(&d, &o, &m, &err) == FERC_OK, "train: %s", err.msg);
    if (m) {
        const ferc_epoch_stats *h;
        CHECK_EQ_INT(ferc_model_history(m, &h), 2);
        for (int i = 0; i < 2; i++) CHECK(h[i].val_macro_f1 >= 0 && h[i].val_macro_f1 <= 1);
        CHECK(h[1].lr < h[0].lr);   /* cosine: lower at the end of epoch 2 */
    }
    ferc_model_free(m);
    o.val_fraction = 0;
    CHECK(ferc_train(&d, &o, &m, &err) == FERC_ERR_ARG);   /* F1 selection needs validation rows */
    ferc_dataset_free(&d);
}

TEST(train_learns_synthetic) {
    ferc_dataset d;
    synth(&d, 280, 3);
    ferc_model *m = train_small(&d, 4, 2, NULL, 0);
    if (m) {
        ferc_dataset t;
        synth(&t, 140, 99);
        ferc_metrics met;
        ferc_error err;
        CHECK_EQ_INT(ferc_evaluate(m, &t, 2, NULL, NULL, &met, &err), FERC_OK);
        CHECK_MSG(met.accuracy > 0.9, "accuracy %.3f on an easy synthetic task", met.accuracy);
        ferc_dataset_free(&t);
    }
    ferc_model_free(m);
    ferc_dataset_free(&d);
}

TEST(train_rejects_bad_options) {
    ferc_dataset d;
    synth(&d, 20, 1);
    ferc_train_opts o;
    ferc_train_opts_default(&o);
    ferc_model *m = NULL;
    ferc_error err;
    o.arch = "nosuch";
    CHECK_EQ_INT(ferc_train(&d, &o, &m, &err), FERC_ERR_ARG);
    CHECK(strstr(err.msg, "nosuch") != NULL);
    o.arch = "spec:48:conv8 dense7 flatten";
    CHECK_EQ_INT(ferc_train(&d, &o, &m, &err), FERC_ERR_ARG);
    o.arch = "seed"; o.epochs = 0;
    CHECK_EQ_INT(ferc_train(&d, &o, &m, &err), FERC_ERR_ARG);
    CHECK(m == NULL);
    ferc_dataset_free(&d);
}

/* End to end on real faces: a short run on a subset must beat chance
 * (24.9% for always-happy on PublicTest, 14% uniform) by a wide margin. */
TEST(e2e_fer2013_subset) {
    const char *csv = test_fer_csv();
    if (!csv) SKIP("../shared/data/fer2013/fer2013.csv.gz is absent (set FERC_DATA to run it)");
    if (getenv("FERC_ASAN")) SKIP("end-to-end training is skipped in the sanitizer build (too slow)");
    ferc_dataset tr, te;
    ferc_load_opts lo = {FERC_USAGE_TRAINING, 0, 0};
    ferc_error err;
    CHECK_EQ_INT(ferc_dataset_load(csv, &lo, &tr, &err), FERC_OK);
    lo.usage = FERC_USAGE_PUBLICTEST;
    CHECK_EQ_INT(ferc_dataset_load(csv, &lo, &te, &err), FERC_OK);
    if (test_failed_now()) return;
    tr.n = 8000;
    ferc_train_opts o;
    ferc_train_opts_default(&o);
    o.arch = "seed"; o.epochs = 5; o.batch = 32; o.seed = 1;
    ferc_model *m = NULL;
    CHECK_EQ_INT(ferc_train(&tr, &o, &m, &err), FERC_OK);
    if (m) {
        ferc_metrics met;
        CHECK_EQ_INT(ferc_evaluate(m, &te, 0, NULL, NULL, &met, &err), FERC_OK);
        printf("    e2e: 5 epochs on 8000 faces -> PublicTest accuracy %.3f, macro F1 %.3f\n", met.accuracy, met.macro_f1);
        CHECK_MSG(met.accuracy > 0.36 && met.macro_f1 > 0.2, "accuracy %.3f does not beat chance by a wide margin", met.accuracy);
        ferc_model_free(m);
    }
    ferc_dataset_free(&tr);
    ferc_dataset_free(&te);
}

/* The other training paths: SGD + Nesterov, one-hot labels, balanced class
 * weights, the oversampler and on-the-fly augmentation with random crops
 * (evaluated on centre crops) all train the synthetic task. */
TEST(train_options_paths) {
    ferc_dataset d, t;
    synth(&d, 280, 5);
    synth(&t, 140, 77);
    ferc_augment_opts aug;
    ferc_augment_opts_default(&aug);
    ferc_error err;
    CHECK_EQ_INT(ferc_augment_opts_parse(&aug, "crop=1", &err), FERC_OK);
    CHECK_EQ_INT(ferc_augment_opts_parse(&aug, "flip=1", &err), FERC_OK);
    for (int variant = 0; variant < 2; variant++) {
        ferc_train_opts o;
        ferc_train_opts_default(&o);
        o.arch = variant ? "spec:44:conv8 bn relu pool conv8 bn relu pool flatten dense16 relu dense7"
                         : "spec:48:conv8 bn relu pool conv8 bn relu pool flatten dense16 relu dense7";
        o.epochs = 4; o.batch = 16; o.threads = 2; o.seed = 4;
        if (variant == 0) { o.optimizer = FERC_OPT_SGD; o.lr = 0.05f; o.labels = FERC_LABELS_ONEHOT; o.class_weight_balanced = 1; o.weight_decay = 1e-4f; }
        else { o.balance_oversample = 1; o.augment = &aug; }
        ferc_model *m = NULL;
        CHECK_MSG(ferc_train(&d, &o, &m, &err) == FERC_OK, "variant %d: %s", variant, err.msg);
        if (!m) continue;
        ferc_metrics met;
        CHECK_EQ_INT(ferc_evaluate(m, &t, 2, NULL, NULL, &met, &err), FERC_OK);
        CHECK_MSG(met.accuracy > 0.8, "variant %d: accuracy %.3f", variant, met.accuracy);
        /* test-time augmentation: the mean over views, computed by hand for row 0 */
        float *probs = malloc(sizeof(float) * 7 * (size_t)t.n);
        ferc_metrics mt;
        CHECK_EQ_INT(ferc_evaluate_tta(m, &t, 2, NULL, probs, &mt, &err), FERC_OK);
        CHECK_MSG(mt.accuracy > 0.6, "variant %d: TTA accuracy %.3f", variant, mt.accuracy);
        int S = ferc_model_input_size(m), V = variant ? 10 : 2;
        float face[48 * 48], *views = malloc(sizeof(float) * (size_t)V * S * S), pv[10 * 7];
        for (int k = 0; k < 48 * 48; k++) face[k] = t.pix[k] / 255.0f;
        if (variant) ferc_augment_ten_crop(face, 48, 48, views, S, S);
        else {
            ferc_model_prepare(m, face, 48, 48, views);
            for (int r = 0; r < S; r++) for (int c = 0; c < S; c++) views[S * S + r * S + c] = views[r * S + S - 1 - c];
        }
        CHECK_EQ_INT(ferc_model_predict(m, views, V, pv, 1, &err), FERC_OK);
        for (int c = 0; c < 7; c++) {
            double mean = 0;
            for (int v = 0; v < V; v++) mean += pv[v * 7 + c];
            CHECK_NEAR(probs[c], mean / V, 1e-5);
        }
        free(views); free(probs);
        /* a model trained on crops remembers it: the file round-trips that */
        if (variant == 1) {
            char path[1024];
            snprintf(path, sizeof path, "%s/crop.ferc", test_tmpdir());
            ferc_model *m2 = NULL;
            CHECK_EQ_INT(ferc_model_save(m, path, &err), FERC_OK);
            CHECK_EQ_INT(ferc_model_load(path, &m2, &err), FERC_OK);
            if (m2) {
                CHECK_EQ_INT(m2->prep_crop, 1);
                CHECK_EQ_INT(m2->prep_size, 48);
                ferc_metrics met2;
                CHECK_EQ_INT(ferc_evaluate(m2, &t, 2, NULL, NULL, &met2, &err), FERC_OK);
                CHECK(met2.accuracy == met.accuracy);
            }
            ferc_model_free(m2);
        }
        ferc_model_free(m);
    }
    ferc_dataset_free(&d);
    ferc_dataset_free(&t);
}

/* The report's feature maps once came from buffers the fused executor never
 * writes (its blocks skip the intermediate outputs), so every face showed
 * the same stale maps. They must depend on the face, be ReLU outputs, and
 * equal a by-hand run of the layers up to that block. */
TEST(model_activations_follow_the_face) {
    ferc_model *m = NULL;
    ferc_error err;
    if (ferc_model_load("models/seed.ferc", &m, &err) != FERC_OK) SKIP("models/seed.ferc absent");
    int S = ferc_model_input_size(m);
    float *a = calloc((size_t)S * S, sizeof(float)), *b = calloc((size_t)S * S, sizeof(float));
    for (int i = 0; i < S * S; i++) { a[i] = (float)(i % S) / S; b[i] = (float)(i / S) / S; }
    /* warm the fused path first, as the report does when it evaluates */
    float probs[2 * FERC_NUM_CLASSES];
    float *ab = malloc(sizeof(float) * 2 * S * S);
    memcpy(ab, a, sizeof(float) * S * S); memcpy(ab + S * S, b, sizeof(float) * S * S);
    CHECK_EQ_INT(ferc_model_predict(m, ab, 2, probs, 1, &err), FERC_OK);
    size_t cap = 64 * 48 * 48;
    float *ma = malloc(sizeof(float) * cap), *mb = malloc(sizeof(float) * cap);
    int c, h, w, c2, h2, w2;
    CHECK_EQ_INT(ferc_model_activations(m, a, 0, ma, cap, &c, &h, &w, &err), FERC_OK);
    CHECK_EQ_INT(ferc_model_activations(m, b, 0, mb, cap, &c2, &h2, &w2, &err), FERC_OK);
    size_t n = (size_t)c * h * w, differ = 0, bad = 0;
    for (size_t i = 0; i < n; i++) {
        differ += ma[i] != mb[i];
        bad += !(ma[i] >= 0 && ma[i] < 1e6f);
    }
    CHECK_MSG(differ > n / 4, "only %zu of %zu activations differ between two faces", differ, n);
    CHECK_EQ_INT(bad, 0);
    free(a); free(b); free(ab); free(ma); free(mb);
    ferc_model_free(m);
}
