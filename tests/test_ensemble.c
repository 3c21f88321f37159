/* test_ensemble.c — ensembles (issue 12 item 4) and `ferc info` (issue 20
 * item 13): an ensemble's probabilities are the weighted mean of its
 * members' computed one by one, members of different input sizes and
 * preprocessing included; its saliency is the adjoint of the members'
 * preprocessing applied to theirs; the file round-trips and is refused
 * whole when truncated or damaged (outside or inside a member); the weight
 * fit uses ferc_train's validation split; and, as real processes, `ferc
 * ensemble`, `ferc eval`, `ferc predict` and `ferc info` on an ensemble of
 * two models trained here, and `ferc info`'s file size, kept epoch and
 * recipe. */
#include "test.h"
#include "cli_util.h"
#include "ferc.h"
#include "data/data.h"
#include "model/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */
/* ------------------------------------------------------------------------ */

/* The CRC of the whole file again, after a deliberate change inside it. */
static void fix_crc(unsigned char *d, size_t n) {
    uint32_t crc = (uint32_t)crc32(0L, d, (uInt)(n - 4));
    memcpy(d + n - 4, &crc, 4);
}

/* Offset of the k-th (0-based) occurrence of needle in d, or -1. */
static long find_nth(const unsigned char *d, size_t n, const char *needle, int k) {
    size_t l = strlen(needle);
    for (size_t i = 0; i + l <= n; i++)
        if (memcmp(d + i, needle, l) == 0 && k-- == 0) return (long)i;
    return -1;
}

/* Three small random networks of three input kinds: 48x48, 40x40, and a
 * 44x44 centre crop of a 48x48 face. */
static void three_members(ferc_model **m) {
    ferc_error err;
    CHECK_EQ_INT(ferc_model_create("spec:48:conv8 bn relu pool flatten dense7", 11, &m[0], &err), FERC_OK);
    CHECK_EQ_INT(ferc_model_create("spec:40:conv4 relu pool conv8 relu pool flatten dense7", 12, &m[1], &err), FERC_OK);
    CHECK_EQ_INT(ferc_model_create("spec:44:conv8 relu pool flatten dense7", 13, &m[2], &err), FERC_OK);
    m[2]->prep_crop = 1;
    m[2]->prep_size = 48;
}

static void random_faces(float *x, size_t n, uint64_t seed) {
    ferc_rng r;
    ferc_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) x[i] = ferc_rng_uniform(&r);
}

/* Probabilities of member k for faces x (n, 48, 48), computed on its own:
 * its preprocessing, then ferc_model_predict. */
static void member_alone(ferc_model *k, const float *x, int n, float *p) {
    int S = ferc_model_input_size(k);
    float *xk = malloc(sizeof(float) * (size_t)n * S * S);
    for (int i = 0; i < n; i++) ferc_model_prepare(k, x + (size_t)i * 48 * 48, 48, 48, xk + (size_t)i * S * S);
    ferc_error err;
    CHECK_EQ_INT(ferc_model_predict(k, xk, n, p, 1, &err), FERC_OK);
    free(xk);
}

/* ------------------------------------------------------------------------ */
/* Library                                                                   */
/* ------------------------------------------------------------------------ */

TEST(ensemble_probs_are_weighted_mean_of_members) {
    ferc_model *m[3];
    three_members(m);
    if (test_failed_now()) return;
    const int n = 300;   /* more than one 256-face chunk */
    float *x = malloc(sizeof(float) * n * 48 * 48), *pk = malloc(sizeof(float) * 3 * n * 7);
    float *pe = malloc(sizeof(float) * n * 7), *pr = malloc(sizeof(float) * n * 7);
    random_faces(x, (size_t)n * 48 * 48, 5);
    for (int k = 0; k < 3; k++) member_alone(m[k], x, n, pk + (size_t)k * n * 7);
    size_t params = ferc_model_num_params(m[0]) + ferc_model_num_params(m[1]) + ferc_model_num_params(m[2]);
    const float w[3] = {1, 2, 1};
    const char *names[3] = {"a.ferc", "b.ferc", "c.ferc"};
    ferc_model *e;
    ferc_error err;
    CHECK_EQ_INT(ferc_ensemble_create(m, names, w, 3, &e, &err), FERC_OK);
    if (test_failed_now()) { free(x); free(pk); free(pe); free(pr); return; }
    CHECK(strcmp(ferc_model_arch(e), "ensemble") == 0);
    CHECK_EQ_INT(ferc_model_input_size(e), 48);   /* the largest face the members start from */
    CHECK_EQ_INT(ferc_model_num_members(e), 3);
    CHECK_EQ_INT(ferc_model_num_params(e), params);
    CHECK_EQ_INT(ferc_model_predict(e, x, n, pe, 1, &err), FERC_OK);
    double maxdiff = 0, spread = 0;
    for (int i = 0; i < n * 7; i++) {
        double ref = 0.25 * pk[i] + 0.5 * pk[(size_t)n * 7 + i] + 0.25 * pk[(size_t)2 * n * 7 + i];
        maxdiff = fmax(maxdiff, fabs(pe[i] - ref));
        spread = fmax(spread, fabs(pk[i] - pk[(size_t)n * 7 + i]));
    }
    CHECK_MSG(maxdiff <= 1e-6, "ensemble vs weighted mean of members: max diff %g", maxdiff);
    CHECK_MSG(spread > 1e-3, "the members should disagree (max %g) for the test to mean anything", spread);
    /* saved and loaded: the same probabilities, to the bit */
    const char *path = test_path(test_tmpdir(), "e.ferc");
    CHECK_EQ_INT(ferc_model_set_recipe(e, "ferc ensemble --out e.ferc a.ferc b.ferc c.ferc", &err), FERC_OK);
    CHECK_EQ_INT(ferc_model_save(e, path, &err), FERC_OK);
    ferc_model *e2 = NULL;
    CHECK_EQ_INT(ferc_model_load(path, &e2, &err), FERC_OK);
    if (e2) {
        CHECK_EQ_INT(ferc_model_predict(e2, x, n, pr, 1, &err), FERC_OK);
        CHECK(memcmp(pe, pr, sizeof(float) * n * 7) == 0);
        for (int k = 0; k < 3; k++) {
            const char *nm;
            float wk;
            CHECK(ferc_model_member(e2, k, &nm, &wk) != NULL);
            CHECK(strcmp(nm, names[k]) == 0);
            CHECK(wk == e->weights[k]);
        }
        CHECK_NEAR(e2->weights[1], 0.5, 1e-7);
        CHECK(e2->members[2]->prep_crop == 1 && ferc_model_face_size(e2->members[2]) == 48);
        CHECK(ferc_model_recipe(e2) && strstr(ferc_model_recipe(e2), "ferc ensemble") != NULL);
        CHECK(ferc_model_member(e2, 3, NULL, NULL) == NULL);
    }
    ferc_model_free(e2);
    ferc_model_free(e);
    free(x); free(pk); free(pe); free(pr);
}

/* <saliency of the ensemble, v> = sum_k w_k <saliency of member k on its
 * view, P_k v>: the back-projection is the adjoint of each member's
 * preprocessing. Activations and filters are the first member's. */
TEST(ensemble_saliency_and_looking_inside) {
    ferc_model *m[3];
    three_members(m);
    if (test_failed_now()) return;
    ferc_model *e;
    ferc_error err;
    const float w[3] = {3, 1, 2};
    CHECK_EQ_INT(ferc_ensemble_create(m, NULL, w, 3, &e, &err), FERC_OK);
    if (test_failed_now()) return;
    float x[48 * 48], v[48 * 48], g[48 * 48], xk[48 * 48], gk[48 * 48], vk[48 * 48];
    random_faces(x, 48 * 48, 7);
    random_faces(v, 48 * 48, 8);
    const int cls = 4;
    CHECK_EQ_INT(ferc_model_saliency(e, x, cls, g, &err), FERC_OK);
    double lhs = 0, rhs = 0, norm = 0;
    for (int j = 0; j < 48 * 48; j++) { lhs += (double)g[j] * v[j]; norm += fabs((double)g[j]); }
    for (int k = 0; k < 3; k++) {
        ferc_model *mk = e->members[k];
        int S = mk->input_size;
        ferc_model_prepare(mk, x, 48, 48, xk);
        ferc_model_prepare(mk, v, 48, 48, vk);
        CHECK_EQ_INT(ferc_model_saliency(mk, xk, cls, gk, &err), FERC_OK);
        for (int j = 0; j < S * S; j++) rhs += (double)e->weights[k] * gk[j] * vk[j];
    }
    CHECK_MSG(norm > 0, "saliency is all zero");
    CHECK_NEAR(lhs, rhs, 1e-4 * fmax(1.0, fabs(rhs)));
    /* activations and filters: the first member's */
    CHECK_EQ_INT(ferc_model_num_blocks(e), ferc_model_num_blocks(e->members[0]));
    static float a1[8 * 48 * 48], a2[8 * 48 * 48];
    int c1, h1, w1, c2, h2, w2;
    CHECK_EQ_INT(ferc_model_activations(e, x, 0, a1, sizeof a1 / 4, &c1, &h1, &w1, &err), FERC_OK);
    CHECK_EQ_INT(ferc_model_activations(e->members[0], x, 0, a2, sizeof a2 / 4, &c2, &h2, &w2, &err), FERC_OK);
    CHECK(c1 == c2 && h1 == h2 && w1 == w2 && memcmp(a1, a2, sizeof(float) * (size_t)c1 * h1 * w1) == 0);
    int k, kh, kw;
    CHECK_EQ_INT(ferc_model_first_filters(e, a1, sizeof a1 / 4, &k, &kh, &kw, &err), FERC_OK);
    CHECK_EQ_INT(k, 8);
    ferc_model_free(e);
}

TEST(ensemble_refuses_bad_members) {
    ferc_model *m[3], *e, *bad = NULL;
    ferc_error err;
    three_members(m);
    if (test_failed_now()) return;
    CHECK_EQ_INT(ferc_ensemble_create(m, NULL, NULL, 2, &e, &err), FERC_OK);
    ferc_model *nested[2] = {e, m[2]};   /* an ensemble inside an ensemble */
    CHECK_EQ_INT(ferc_ensemble_create(nested, NULL, NULL, 2, &bad, &err), FERC_ERR_ARG);
    CHECK(bad == NULL && strstr(err.msg, "itself an ensemble") != NULL);
    three_members(m);
    const float neg[3] = {1, -1, 1}, zero[3] = {0, 0, 0};
    CHECK_EQ_INT(ferc_ensemble_create(m, NULL, neg, 3, &bad, &err), FERC_ERR_ARG);
    CHECK(strstr(err.msg, ">= 0") != NULL);
    three_members(m);
    CHECK_EQ_INT(ferc_ensemble_create(m, NULL, zero, 3, &bad, &err), FERC_ERR_ARG);
    three_members(m);
    snprintf(m[1]->labels[3], sizeof m[1]->labels[3], "joy");
    CHECK_EQ_INT(ferc_ensemble_create(m, NULL, NULL, 3, &bad, &err), FERC_ERR_ARG);
    CHECK(strstr(err.msg, "joy") != NULL);
    CHECK(bad == NULL);
}

TEST(ensemble_file_refused_when_damaged) {
    ferc_model *m[3], *e, *bad = NULL;
    ferc_error err;
    three_members(m);
    if (test_failed_now()) return;
    ferc_model_free(m[2]);
    const char *names[2] = {"first.ferc", "second.ferc"};
    CHECK_EQ_INT(ferc_ensemble_create(m, names, NULL, 2, &e, &err), FERC_OK);
    const char *dir = test_tmpdir(), *path = test_path(dir, "e.ferc"), *p2 = test_path(dir, "bad.ferc");
    CHECK_EQ_INT(ferc_model_save(e, path, &err), FERC_OK);
    ferc_model_free(e);
    size_t n;
    unsigned char *d = test_read(path, &n);
    if (!d) { CHECK(d != NULL); return; }
    uint32_t version;
    memcpy(&version, d + 8, 4);
    CHECK_EQ_INT(version, 2);   /* a ferc without ensembles refuses it by its version */
    size_t cuts[] = {0, 10, 19, 40, n / 3, n / 2, n - 5, n - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        test_write(p2, d, cuts[i]);
        CHECK_EQ_INT(ferc_model_load(p2, &bad, &err), FERC_ERR_FORMAT);
        CHECK(bad == NULL && strstr(err.msg, p2) != NULL);
    }
    d[n / 2] ^= 0x04;
    test_write(p2, d, n);
    CHECK_EQ_INT(ferc_model_load(p2, &bad, &err), FERC_ERR_FORMAT);
    CHECK(strstr(err.msg, "checksum") != NULL);
    d[n / 2] ^= 0x04;
    /* a damaged second member inside a file whose own checksum is right */
    long m2 = find_nth(d, n, "FERCMODL", 2);
    CHECK(m2 > 0);
    if (m2 > 0) {
        d[m2 + 100] ^= 0x01;
        fix_crc(d, n);
        test_write(p2, d, n);
        CHECK_EQ_INT(ferc_model_load(p2, &bad, &err), FERC_ERR_FORMAT);
        CHECK_MSG(strstr(err.msg, "member 2 (second.ferc)") && strstr(err.msg, "checksum"), "%s", err.msg);
        d[m2 + 100] ^= 0x01;
    }
    /* weights that do not sum to 1 */
    long ensm = find_nth(d, n, "ENSM", 0);
    CHECK(ensm > 0);
    if (ensm > 0) {
        size_t wo = (size_t)ensm + 12 + 16 + 4 + strlen(names[0]);
        float w0, w9 = 0.9f;
        memcpy(&w0, d + wo, 4);
        CHECK_NEAR(w0, 0.5, 1e-7);
        memcpy(d + wo, &w9, 4);
        fix_crc(d, n);
        test_write(p2, d, n);
        CHECK_EQ_INT(ferc_model_load(p2, &bad, &err), FERC_ERR_FORMAT);
        CHECK_MSG(strstr(err.msg, "sum to") != NULL, "%s", err.msg);
        memcpy(d + wo, &w0, 4);
        fix_crc(d, n);
    }
    test_write(p2, d, n);
    CHECK_EQ_INT(ferc_model_load(p2, &bad, &err), FERC_OK);   /* restored: loads again */
    ferc_model_free(bad);
    ckpt_extra ex;
    CHECK_EQ_INT(model_load_ex(path, &bad, &ex, &err), FERC_ERR_FORMAT);   /* --resume from it */
    CHECK(strstr(err.msg, "not a checkpoint") != NULL);
    free(d);
}

/* A plain model still writes a version-1 file, byte for byte the old
 * layout when it has no recipe; the recipe is an optional chunk. */
TEST(model_recipe_chunk_is_optional) {
    ferc_model *m, *m2 = NULL;
    ferc_error err;
    CHECK_EQ_INT(ferc_model_create("spec:48:conv4 relu pool flatten dense7", 1, &m, &err), FERC_OK);
    if (!m) return;
    const char *dir = test_tmpdir(), *a = test_path(dir, "a.ferc"), *b = test_path(dir, "b.ferc");
    CHECK_EQ_INT(ferc_model_save(m, a, &err), FERC_OK);
    CHECK(ferc_model_recipe(m) == NULL);
    CHECK_EQ_INT(ferc_model_set_recipe(m, "ferc train --arch seed --epochs 30", &err), FERC_OK);
    CHECK_EQ_INT(ferc_model_save(m, b, &err), FERC_OK);
    size_t na, nb;
    unsigned char *da = test_read(a, &na), *db = test_read(b, &nb);
    if (da && db) {
        CHECK(da[8] == 1 && db[8] == 1);
        CHECK(find_nth(da, na, "RCPE", 0) < 0);
        CHECK(find_nth(db, nb, "RCPE", 0) > 0);
        CHECK_EQ_INT(nb, na + 12 + strlen("ferc train --arch seed --epochs 30"));
    }
    CHECK_EQ_INT(ferc_model_load(b, &m2, &err), FERC_OK);
    if (m2) CHECK(ferc_model_recipe(m2) && strcmp(ferc_model_recipe(m2), "ferc train --arch seed --epochs 30") == 0);
    ferc_model_free(m2);
    CHECK_EQ_INT(ferc_model_load(a, &m2, &err), FERC_OK);
    if (m2) CHECK(ferc_model_recipe(m2) == NULL);
    ferc_model_free(m2);
    CHECK_EQ_INT(ferc_model_set_recipe(m, NULL, &err), FERC_OK);
    CHECK(ferc_model_recipe(m) == NULL);
    ferc_model_free(m);
    free(da); free(db);
}

/* Bands of brightness by class, as test_model.c's synthetic data. */
static void synth(ferc_dataset *d, int n) {
    ferc_rng r;
    ferc_rng_seed(&r, 9);
    cli_dataset_alloc(d, n);
    for (int i = 0; i < n; i++) {
        int c = (i * 5 + i / 7) % 7;
        d->label[i] = c;
        for (int p = 0; p < 48 * 48; p++)
            d->pix[(size_t)i * 2304 + p] = (uint8_t)(ferc_rng_uniform(&r) * 90 + ((p / 48 / 7) % 7 == c ? 100 : 0));
    }
}

/* The weight fit must use exactly ferc_train's validation rows: the loss
 * and accuracy of a trained model on the rows it picks are the validation
 * figures ferc_train recorded. */
TEST(ensemble_fit_uses_train_validation_split) {
    ferc_dataset d;
    synth(&d, 420);
    ferc_train_opts o;
    ferc_train_opts_default(&o);
    o.arch = "spec:48:conv4 bn relu pool flatten dense7";
    o.epochs = 1; o.batch = 16; o.threads = 1; o.seed = 4; o.val_fraction = 0.15f;
    ferc_model *m = NULL, *e = NULL;
    ferc_error err;
    CHECK_EQ_INT(ferc_train(&d, &o, &m, &err), FERC_OK);
    if (!m) { ferc_dataset_free(&d); return; }
    const ferc_epoch_stats *h;
    CHECK_EQ_INT(ferc_model_history(m, &h), 1);
    int *scratch = malloc(sizeof(int) * 420), *val = malloc(sizeof(int) * 420);
    int nval = data_split_stratified(&d, 0.15f, 4, scratch, NULL, NULL, val);
    CHECK_EQ_INT(nval, 63);
    float *x = malloc(sizeof(float) * (size_t)nval * 2304), p[7 * 63];
    for (int i = 0; i < nval; i++) ferc_prepare_images(&d, val[i], 1, 48, x + (size_t)i * 2304);
    CHECK_EQ_INT(ferc_model_predict(m, x, nval, p, 1, &err), FERC_OK);
    double loss = 0;
    int right = 0;
    for (int i = 0; i < nval; i++) {
        const float *pi = p + 7 * i;
        int best = 0;
        for (int c = 1; c < 7; c++) if (pi[c] > pi[best]) best = c;
        right += best == d.label[val[i]];
        loss -= log(fmax(pi[d.label[val[i]]], 1e-30));
    }
    CHECK_NEAR(loss / nval, h[0].val_loss, 1e-4 * fabs(h[0].val_loss));
    CHECK_NEAR((double)right / nval, h[0].val_acc, 1e-6);
    /* and the fit of a one-member ensemble reports that accuracy */
    CHECK_EQ_INT(ferc_ensemble_create(&m, NULL, NULL, 1, &e, &err), FERC_OK);
    ferc_ensemble_fit f;
    if (e) CHECK_EQ_INT(ferc_ensemble_fit_weights(e, &d, 0.15f, 4, 1, &f, &err), FERC_OK);
    if (e && !test_failed_now()) {
        CHECK_EQ_INT(f.nval, nval);
        CHECK_NEAR(f.acc_equal, (double)right / nval, 1e-6);
        CHECK_NEAR(f.acc_fitted, f.acc_equal, 1e-9);
        CHECK_EQ_INT(ferc_ensemble_fit_weights(e, &d, 0.0f, 4, 1, &f, &err), FERC_ERR_ARG);
    }
    ferc_model_free(e);
    free(scratch); free(val); free(x);
    ferc_dataset_free(&d);
}

/* Fitted weights never score below equal weights on the validation split,
 * and the stored figures are what the weights give. */
TEST(ensemble_fit_weights_beats_or_keeps_equal) {
    ferc_dataset d;
    synth(&d, 280);
    ferc_model *m[3], *e;
    ferc_error err;
    three_members(m);
    if (test_failed_now()) { ferc_dataset_free(&d); return; }
    CHECK_EQ_INT(ferc_ensemble_create(m, NULL, NULL, 3, &e, &err), FERC_OK);
    ferc_ensemble_fit f, g;
    CHECK_EQ_INT(ferc_ensemble_fit_weights(e, &d, 0.25f, 1, 1, &f, &err), FERC_OK);
    ferc_ensemble_fit_info(e, &g);
    CHECK_EQ_INT(g.nval, f.nval);
    CHECK(f.nval == 70 && f.acc_fitted >= f.acc_equal);
    float sum = 0;
    for (int k = 0; k < 3; k++) sum += e->weights[k];
    CHECK_NEAR(sum, 1.0, 1e-6);
    /* the fitted accuracy is the ensemble's own on those rows */
    int *scratch = malloc(sizeof(int) * 280), *val = malloc(sizeof(int) * 280);
    int nval = data_split_stratified(&d, 0.25f, 1, scratch, NULL, NULL, val), right = 0;
    float *x = malloc(sizeof(float) * (size_t)nval * 2304), *p = malloc(sizeof(float) * (size_t)nval * 7);
    for (int i = 0; i < nval; i++) ferc_prepare_images(&d, val[i], 1, 48, x + (size_t)i * 2304);
    CHECK_EQ_INT(ferc_model_predict(e, x, nval, p, 1, &err), FERC_OK);
    for (int i = 0; i < nval; i++) {
        int best = 0;
        for (int c = 1; c < 7; c++) if (p[7 * i + c] > p[7 * i + best]) best = c;
        right += best == d.label[val[i]];
    }
    CHECK_NEAR((double)right / nval, f.acc_fitted, 1e-6);
    free(scratch); free(val); free(x); free(p);
    ferc_model_free(e);
    ferc_dataset_free(&d);
}

/* ------------------------------------------------------------------------ */
/* The CLI, as real processes                                               */
/* ------------------------------------------------------------------------ */

/* The header and the first nt Training and np PublicTest rows of the
 * shared FER2013 CSV, as a plain CSV. */
static int small_csv(const char *src, const char *dst, int nt, int np) {
    gzFile in = gzopen(src, "rb");
    FILE *out = fopen(dst, "w");
    if (!in || !out) { if (in) gzclose(in); if (out) fclose(out); return 0; }
    static char line[1 << 15];
    int t = 0, p = 0, first = 1;
    while ((t < nt || p < np) && gzgets(in, line, sizeof line)) {
        int keep = first || (strstr(line, ",Training") && t++ < nt) || (strstr(line, ",PublicTest") && p++ < np);
        if (keep) fputs(line, out);
        first = 0;
    }
    gzclose(in);
    fclose(out);
    return t >= nt && p >= np;
}

static double json_number(const char *s, const char *key) {
    char k[64];
    snprintf(k, sizeof k, "\"%s\": ", key);
    const char *at = strstr(s, k);
    return at ? strtod(at + strlen(k), NULL) : NAN;
}

/* Accuracy and confusion of the weighted mean of a and b's probabilities. */
static double mean_accuracy(const char *dir, const ferc_dataset *d, float wa, float wb, int conf[7][7]) {
    ferc_model *a = NULL, *b = NULL;
    ferc_error err;
    CHECK_EQ_INT(ferc_model_load(test_path(dir, "a.ferc"), &a, &err), FERC_OK);
    CHECK_EQ_INT(ferc_model_load(test_path(dir, "b.ferc"), &b, &err), FERC_OK);
    float *pa = malloc(sizeof(float) * (size_t)d->n * 7), *pb = malloc(sizeof(float) * (size_t)d->n * 7);
    int right = 0;
    memset(conf, 0, sizeof(int) * 49);
    if (a && b && ferc_evaluate(a, d, 1, NULL, pa, NULL, &err) == FERC_OK && ferc_evaluate(b, d, 1, NULL, pb, NULL, &err) == FERC_OK)
        for (int i = 0; i < d->n; i++) {
            float p[7];
            int best = 0;
            for (int c = 0; c < 7; c++) p[c] = wa * pa[7 * i + c] + wb * pb[7 * i + c];
            for (int c = 1; c < 7; c++) if (p[c] > p[best]) best = c;
            right += best == d->label[i];
            conf[d->label[i]][best]++;
        }
    ferc_model_free(a); ferc_model_free(b);
    free(pa); free(pb);
    return (double)right / d->n;
}

/* A damaged or truncated ensemble file dir/e.ferc: one clear line and exit
 * 1 from eval and info. */
static void refused_when_damaged(const char *dir, const char *ferc) {
    char *o;
    size_t n;
    unsigned char *b = test_read(test_path(dir, "e.ferc"), &n);
    if (!b) return;
    test_write(test_path(dir, "cut.ferc"), b, n - 1000);
    b[n / 2] ^= 0x20;
    test_write(test_path(dir, "flip.ferc"), b, n);
    free(b);
    const char *bad[2] = {"cut.ferc", "flip.ferc"};
    for (int k = 0; k < 2; k++) {
        CHECK_EQ_INT(cli_run(dir, "cd '%s' && '%s' eval --model %s --data small.csv", dir, ferc, bad[k]), 1);
        o = cli_err(dir);
        CHECK_MSG(strstr(o, "checksum mismatch: the file is truncated or corrupted") && cli_count_lines(o) == 1, "%s", o);
        free(o);
        CHECK_EQ_INT(cli_run(dir, "cd '%s' && '%s' info %s", dir, ferc, bad[k]), 1);
        o = cli_err(dir);
        CHECK_MSG(strstr(o, bad[k]) && strstr(o, "checksum"), "%s", o);
        free(o);
    }
}

/* Two models trained here (48x48 and 40x40 inputs), bundled with fitted
 * weights; eval, predict and info on the bundle; damaged bundles refused. */
TEST(ensemble_cli_eval_predict_info) {
    NEED_FERC();
    const char *csv = test_fer_csv();
    if (!csv) SKIP("FER2013 not found at ../shared/data (set FERC_DATA)");
    const char *dir = test_tmpdir(), *data = test_path(dir, "small.csv");
    CHECK(small_csv(csv, data, 2000, 300));
    const char *arch[2] = {"spec:48:conv8 bn relu pool flatten dense7", "spec:40:conv8 bn relu pool drop0.25 flatten dense7"};
    for (int k = 0; k < 2; k++)
        CHECK_EQ_INT(cli_run(dir, "'%s' train --data '%s' --arch '%s' --epochs 1 --limit 2000 --threads 1 --quiet --out '%s'",
                         ferc, data, arch[k], test_path(dir, k ? "b.ferc" : "a.ferc")), 0);
    if (test_failed_now()) return;
    CHECK_EQ_INT(cli_run(dir, "cd '%s' && '%s' ensemble --out e.ferc --fit-weights --data small.csv --limit 2000 --threads 1 a.ferc b.ferc",
                     dir, ferc), 0);
    char *o = cli_out(dir);
    CHECK_MSG(strstr(o, "weights fitted on 200 validation faces") && strstr(o, "saved e.ferc: ensemble of 2 models, input 48x48"), "%s", o);
    free(o);
    ferc_model *e = NULL;
    ferc_error err;
    CHECK_EQ_INT(ferc_model_load(test_path(dir, "e.ferc"), &e, &err), FERC_OK);
    if (!e) return;
    float wa = e->weights[0], wb = e->weights[1];
    /* eval: the weighted mean of the members' probabilities, evaluated one by one */
    CHECK_EQ_INT(cli_run(dir, "'%s' eval --model '%s' --data '%s' --usage PublicTest --json --threads 1", ferc, test_path(dir, "e.ferc"), data), 0);
    o = cli_out(dir);
    ferc_dataset d;
    ferc_load_opts lo = {.usage = FERC_USAGE_PUBLICTEST};
    CHECK_EQ_INT(ferc_dataset_load(data, &lo, &d, &err), FERC_OK);
    int conf[7][7];
    double acc = mean_accuracy(dir, &d, wa, wb, conf);
    CHECK_NEAR(json_number(o, "accuracy"), acc, 1e-12);
    char row[64];
    snprintf(row, sizeof row, "[%d, %d, %d, %d, %d, %d, %d]", conf[3][0], conf[3][1], conf[3][2], conf[3][3], conf[3][4], conf[3][5], conf[3][6]);
    CHECK_MSG(strstr(o, row) != NULL, "confusion row of happy %s not in %s", row, o);
    free(o);
    /* predict: one 48x48 face as a picture, the ensemble's probabilities */
    ferc_image img = {.w = 48, .h = 48, .c = 1, .data = d.pix};
    CHECK_EQ_INT(ferc_image_save_png(test_path(dir, "face.png"), &img, &err), FERC_OK);
    CHECK_EQ_INT(cli_run(dir, "'%s' predict --model '%s' --no-detect --json '%s'", ferc, test_path(dir, "e.ferc"), test_path(dir, "face.png")), 0);
    o = cli_out(dir);
    float x[2304], p[7];
    ferc_prepare_images(&d, 0, 1, 48, x);
    CHECK_EQ_INT(ferc_model_predict(e, x, 1, p, 1, &err), FERC_OK);
    for (int c = 0; c < 7; c++) CHECK_NEAR(json_number(o, ferc_label_name(c)), p[c], 1.5e-3);
    free(o);
    ferc_dataset_free(&d);
    ferc_model_free(e);
    /* info lists the members */
    CHECK_EQ_INT(cli_run(dir, "cd '%s' && '%s' info e.ferc", dir, ferc), 0);
    o = cli_out(dir);
    char wline[64];
    snprintf(wline, sizeof wline, "%.4f", (double)wa);
    CHECK_MSG(strstr(o, "ensemble of 2 models") && strstr(o, "members:") && strstr(o, "a.ferc") && strstr(o, "b.ferc") &&
              strstr(o, "40x40") && strstr(o, "fitted on 200 validation faces") && strstr(o, wline) &&
              strstr(o, "1 of 1") && strstr(o, "recipe:     ferc ensemble --out e.ferc --fit-weights"), "%s", o);
    free(o);
    refused_when_damaged(dir, ferc);
}

TEST(ensemble_cli_usage_errors) {
    NEED_FERC();
    const char *dir = test_tmpdir();
    ferc_model *m;
    ferc_error err;
    CHECK_EQ_INT(ferc_model_create("spec:48:conv4 relu pool flatten dense7", 1, &m, &err), FERC_OK);
    CHECK_EQ_INT(ferc_model_save(m, test_path(dir, "a.ferc"), &err), FERC_OK);
    ferc_model_free(m);
    struct { const char *args; int rc; const char *msg; } cases[] = {
        {"--out e.ferc a.ferc", 2, "at least two model files"},
        {"a.ferc a.ferc", 2, "--out FILE is required"},
        {"--out e.ferc --weights 1 a.ferc a.ferc", 2, "1 weights for 2 models"},
        {"--out e.ferc --weights 1,x a.ferc a.ferc", 2, "not a list of numbers"},
        {"--out e.ferc --weights 1,1 --fit-weights a.ferc a.ferc", 2, "exclude each other"},
        {"--out e.ferc --seed 3 a.ferc a.ferc", 2, "go with --fit-weights"},
        {"--out e.ferc --bogus a.ferc a.ferc", 2, "unknown option '--bogus'"},
        {"--out e.ferc a.ferc missing.ferc", 1, "missing.ferc: cannot open"},
        {"--out e.ferc --weights 0,0 a.ferc a.ferc", 1, "weights are all zero"},
        {"--out nodir/e.ferc a.ferc a.ferc", 1, "nodir/e.ferc"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK_EQ_INT(cli_run(dir, "cd '%s' && '%s' ensemble %s", dir, ferc, cases[i].args), cases[i].rc);
        char *e = cli_err(dir);
        CHECK_MSG(strstr(e, cases[i].msg) != NULL, "'%s': %s", cases[i].args, e);
        free(e);
        CHECK(access(test_path(dir, "e.ferc"), F_OK) != 0);   /* nothing half-written */
    }
    CHECK_EQ_INT(cli_run(dir, "cd '%s' && '%s' ensemble --out e.ferc --weights 1,3 a.ferc a.ferc", dir, ferc), 0);
    CHECK(access(test_path(dir, "e.ferc"), F_OK) == 0);
    CHECK_EQ_INT(cli_run(dir, "'%s' ensemble --help", ferc), 0);
    char *h = cli_out(dir);
    CHECK(strstr(h, "--fit-weights") && strstr(h, "--weights") && strstr(h, "--out") && strstr(h, "example"));
    free(h);
    CHECK_EQ_INT(cli_run(dir, "'%s' --help", ferc), 0);
    h = cli_out(dir);
    CHECK(strstr(h, "ensemble") != NULL);
    free(h);
}

/* `ferc info` prints the file size, the epoch whose weights were kept with
 * its validation figures, and the recipe when the file stores one. */
TEST(info_prints_size_kept_epoch_recipe) {
    NEED_FERC();
    const char *dir = test_tmpdir(), *path = test_path(dir, "m.ferc");
    ferc_model *m;
    ferc_error err;
    CHECK_EQ_INT(ferc_model_create("spec:48:conv4 relu pool flatten dense7", 1, &m, &err), FERC_OK);
    ferc_epoch_stats h[3] = {
        {.epoch = 1, .train_loss = 1.8f, .train_acc = 0.3f, .val_loss = 1.7f, .val_acc = 0.35f, .lr = 1e-3f, .seconds = 5, .val_macro_f1 = 0.20f},
        {.epoch = 2, .train_loss = 1.5f, .train_acc = 0.4f, .val_loss = 1.4f, .val_acc = 0.4567f, .lr = 1e-3f, .seconds = 5, .val_macro_f1 = 0.30f},
        {.epoch = 3, .train_loss = 1.3f, .train_acc = 0.5f, .val_loss = 1.5f, .val_acc = 0.4400f, .lr = 1e-3f, .seconds = 5, .val_macro_f1 = 0.3321f},
    };
    CHECK_EQ_INT(model_set_history(m, h, 3, &err), FERC_OK);
    CHECK_EQ_INT(ferc_model_save(m, path, &err), FERC_OK);
    struct stat sb;
    CHECK(stat(path, &sb) == 0);
    char size[64];
    snprintf(size, sizeof size, "file size:  %lld bytes", (long long)sb.st_size);
    CHECK_EQ_INT(cli_run(dir, "'%s' info '%s'", ferc, path), 0);
    char *o = cli_out(dir);
    CHECK_MSG(strstr(o, size) && strstr(o, "kept epoch: 2 of 3, best validation accuracy: val_accuracy 0.4567") &&
              strstr(o, "recipe:     not stored"), "%s", o);
    free(o);
    CHECK_EQ_INT(ferc_model_set_recipe(m, "ferc train --arch seed --select macro-f1 --out m.ferc", &err), FERC_OK);
    CHECK_EQ_INT(ferc_model_save(m, path, &err), FERC_OK);
    CHECK_EQ_INT(cli_run(dir, "'%s' info '%s'", ferc, path), 0);
    o = cli_out(dir);
    CHECK_MSG(strstr(o, "kept epoch: 3 of 3, best validation macro F1") && strstr(o, "val_macro_f1 0.3321") &&
              strstr(o, "recipe:     ferc train --arch seed --select macro-f1 --out m.ferc"), "%s", o);
    free(o);
    ferc_model_free(m);
    CHECK_EQ_INT(cli_run(dir, "'%s' info --help", ferc), 0);
    o = cli_out(dir);
    CHECK(strstr(o, "size on disk") && strstr(o, "kept epoch") && strstr(o, "ensemble"));
    free(o);
}

/* report and video take an ensemble too (made here of two random nets, the
 * first with a history for the report's curves). */
TEST(ensemble_cli_report_and_video) {
    NEED_FERC();
    const char *dir = test_tmpdir();
    ferc_model *m[3], *e = NULL;
    ferc_error err;
    three_members(m);
    if (test_failed_now()) return;
    ferc_epoch_stats h[2] = {{.epoch = 1, .train_loss = 1.9f, .train_acc = 0.2f, .val_loss = 1.8f, .val_acc = 0.25f, .lr = 1e-3f, .seconds = 1, .val_macro_f1 = 0.1f},
                             {.epoch = 2, .train_loss = 1.7f, .train_acc = 0.3f, .val_loss = 1.7f, .val_acc = 0.3f, .lr = 1e-3f, .seconds = 1, .val_macro_f1 = 0.2f}};
    CHECK_EQ_INT(model_set_history(m[0], h, 2, &err), FERC_OK);
    CHECK_EQ_INT(ferc_ensemble_create(m, NULL, NULL, 3, &e, &err), FERC_OK);
    if (e) CHECK_EQ_INT(ferc_model_save(e, test_path(dir, "e.ferc"), &err), FERC_OK);
    ferc_model_free(e);
    FILE *f = fopen(test_path(dir, "s.csv"), "w");
    if (!f) { CHECK(f != NULL); return; }
    fprintf(f, "emotion,pixels,Usage\n");
    ferc_rng r;
    ferc_rng_seed(&r, 3);
    for (int i = 0; i < 40; i++) {
        fprintf(f, "%d,", i % 7);
        for (int p = 0; p < 2304; p++) fprintf(f, p ? " %u" : "%u", ferc_rng_below(&r, 256));
        fprintf(f, ",PublicTest\n");
    }
    fclose(f);
    CHECK_EQ_INT(cli_run(dir, "cd '%s' && '%s' report --model e.ferc --data s.csv --out rep --threads 1", dir, ferc), 0);
    const char *files[4] = {"rep/index.html", "rep/saliency.png", "rep/activations.png", "rep/filters.png"};
    for (int k = 0; k < 4; k++) CHECK_MSG(access(test_path(dir, files[k]), F_OK) == 0, "%s missing", files[k]);
    const char *photo = "/usr/lib/python3/dist-packages/skimage/data/astronaut.png";
    if (access(photo, R_OK) != 0 || system("command -v ffmpeg >/dev/null 2>&1") != 0) SKIP("video: no ffmpeg or skimage photo");
    CHECK_EQ_INT(cli_run(dir, "cd '%s' && ffmpeg -loglevel error -y -loop 1 -i '%s' -t 0.4 -r 5 -pix_fmt yuv420p v.mp4", dir, photo), 0);
    CHECK_EQ_INT(cli_run(dir, "cd '%s' && '%s' video v.mp4 --model e.ferc --csv v.csv", dir, ferc), 0);
    size_t n;
    char *csv = test_read(test_path(dir, "v.csv"), &n);
    CHECK_MSG(csv && strstr(csv, "\n0,0.000,1,"), "%s", csv ? csv : "(no csv)");
    free(csv);
}
