/* test_onnx.c — ONNX export (src/export/, `ferc export --onnx`): the file's
 * structure read back with protobuf-c, refusals that leave nothing behind,
 * and the numbers: tests/onnx_check.py runs each exported file in
 * python3-onnx's checker, OpenCV dnn and onnxruntime-node and compares its
 * probabilities with ferc_evaluate's (what `ferc eval` computes) on the same
 * faces — random-weight models of every layer kind and preprocessing on
 * synthetic faces always, the shipped models on PublicTest faces when the
 * FER2013 file is there. */
#include "cli_util.h"
#include "export/export.h"
#include "model/model.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#define PYTHON "/usr/bin/python3"
#define CHECKER "tests/onnx_check.py"

/* n synthetic 48x48 faces: smooth shapes plus noise, from a fixed seed. */
static void synthetic_faces(ferc_dataset *d, int n) {
    cli_dataset_alloc(d, n);
    ferc_rng r;
    ferc_rng_seed(&r, 7);
    for (int i = 0; i < n; i++) {
        float cx = 12 + 24 * ferc_rng_uniform(&r), cy = 12 + 24 * ferc_rng_uniform(&r), s = 6 + 14 * ferc_rng_uniform(&r);
        for (int y = 0; y < 48; y++)
            for (int x = 0; x < 48; x++) {
                float v = 255.0f * expf(-((x - cx) * (x - cx) + (y - cy) * (y - cy)) / (2 * s * s)) + 40 * ferc_rng_uniform(&r);
                d->pix[((size_t)i * 48 + y) * 48 + x] = (uint8_t)(v > 255 ? 255 : v);
            }
        d->label[i] = i % FERC_NUM_CLASSES;
    }
}

/* Every batch norm of m, its residual blocks' too, with momentum mom;
 * returns the old momentum. */
static float set_bn_momentum(layer *ls, int n, float mom) {
    float old = 0.01f;
    for (int i = 0; i < n; i++) {
        if (ls[i].kind == LAYER_BN) { old = ls[i].momentum; ls[i].momentum = mom; }
        if (ls[i].nsub) set_bn_momentum(ls[i].sub, ls[i].nsub, mom);
    }
    return old;
}

/* A random-weight model whose batch norms are fitted to the faces of d
 * (one training-mode pass with momentum 1 sets the running statistics to
 * the batch's), with random gammas and betas: so that the activations
 * neither die nor explode, every term of the inference batch norm counts,
 * and the probabilities are neither uniform nor saturated (either would
 * hide differences). p: a centre crop and a normalisation, as a model
 * trained with them has. NULL when arch does not build here. */
typedef struct { int crop_from; float mean, sd; } prep_opts;   /* crop_from 0: resize */

static ferc_model *random_model(const char *arch, uint64_t seed, const ferc_dataset *d, prep_opts p) {
    ferc_model *m = NULL;
    ferc_error err;
    if (ferc_model_create(arch, seed, &m, &err) != FERC_OK) return NULL;
    if (p.crop_from) { m->prep_size = p.crop_from; m->prep_crop = 1; }   /* as if trained on random crops */
    m->norm_mean = p.mean; m->norm_std = p.sd;
    ferc_rng r;
    ferc_rng_seed(&r, seed + 99);
    for (size_t t = 0; t < (size_t)m->net.ntensors; t++) {
        const param_tensor *pt = &m->net.tensors[t];
        int gamma = strstr(pt->name, "gamma") != NULL, beta = strstr(pt->name, "beta") != NULL;
        for (size_t i = 0; (gamma || beta) && i < pt->size; i++)
            m->net.params[pt->offset + i] = gamma ? 0.7f + 0.6f * ferc_rng_uniform(&r) : 0.2f * (ferc_rng_uniform(&r) - 0.5f);
    }
    const size_t S = (size_t)m->input_size, n = (size_t)d->n;
    float *x = malloc(sizeof(float) * n * S * S);
    ferc_status st = x ? ferc_model_prepare_rows(m, d, 0, d->n, x, &err) : FERC_ERR_NOMEM;
    for (size_t i = 0; st == FERC_OK && i < n * S * S; i++) x[i] = (x[i] - p.mean) / p.sd;
    if (st == FERC_OK) st = net_reserve(&m->net, d->n, 1, 1, &err);
    if (st == FERC_OK) {
        float old = set_bn_momentum(m->net.layers, m->net.nlayers, 1.0f);
        exec_ctx ctx = {.threads = 1, .training = 1, .step_seed = seed};
        net_forward(&m->net, x, d->n, &ctx);
        set_bn_momentum(m->net.layers, m->net.nlayers, old);
    }
    free(x);
    if (st != FERC_OK) { ferc_model_free(m); return NULL; }
    return m;
}

/* Export m to dir/name.onnx and ferc_evaluate's probabilities of d to
 * dir/name.f32; appends " name.onnx name.f32" to args. 0 on failure. */
static int export_with_probs(ferc_model *m, const ferc_dataset *d, const char *dir, const char *name, char *args, size_t cap) {
    char onnx[600], probs[600];
    snprintf(onnx, sizeof onnx, "%s/%s.onnx", dir, name);
    snprintf(probs, sizeof probs, "%s/%s.f32", dir, name);
    ferc_error err;
    float *p = malloc(sizeof(float) * FERC_NUM_CLASSES * (size_t)d->n);
    int ok = p && ferc_evaluate(m, d, 2, NULL, p, NULL, &err) == FERC_OK;
    CHECK_MSG(ok, "%s: evaluate failed: %s", name, err.msg);
    double top = 0;
    for (int i = 0; ok && i < d->n; i++) {
        float mx = 0;
        for (int k = 0; k < FERC_NUM_CLASSES; k++) mx = fmaxf(mx, p[(size_t)i * FERC_NUM_CLASSES + k]);
        top += mx / d->n;
    }
    /* uniform or saturated probabilities would hide a wrong graph */
    CHECK_MSG(!ok || (top > 0.2 && top < 0.97), "%s: mean top probability %.3f: not a useful test", name, top);
    ok = ok && test_write(probs, p, sizeof(float) * FERC_NUM_CLASSES * (size_t)d->n);
    free(p);
    ferc_status st = ok ? ferc_model_export_onnx(m, onnx, &err) : FERC_ERR_IO;
    CHECK_MSG(st == FERC_OK, "%s: export failed: %s", name, err.msg);
    size_t len = strlen(args);
    snprintf(args + len, cap - len, " '%s' '%s'", onnx, probs);
    return ok && st == FERC_OK;
}

/* Run the checker on the faces of d and the (onnx, probs) pairs in args;
 * the test is marked skipped (the exports themselves were checked) when
 * python3-onnx or python3-opencv is missing (exit 77). */
static void run_checker(const char *dir, const ferc_dataset *d, const char *args) {
    CHECK(test_write(test_path(dir, "faces.u8"), d->pix, (size_t)d->n * 48 * 48));
    int rc = cli_run(dir, PYTHON " " CHECKER " '%s'%s", test_path(dir, "faces.u8"), args);
    char *o = cli_out(dir), *e = cli_err(dir);
    if (rc == 77) test_skip(o[0] ? o : "onnx_check.py: python3-onnx or python3-opencv missing");
    else if (rc != 0) CHECK_MSG(0, "onnx_check.py exit %d:\n%s%s", rc, o, e);
    else printf("%s", o);   /* the figures, in the test log */
    free(o); free(e);
}

/* Every layer kind and preprocessing the exporter knows, on random
 * weights: no resize (48x48, like seed), a resize to 40x40 with a 5x5
 * kernel (like seed2), a centre crop of 44x44 with a normalisation, the
 * residual/GAP kinds, and an ensemble of three members of different views,
 * one with weight 0 (left out, as ensemble_predict leaves it out). */
TEST(onnx_synthetic_models_match_ferc) {
    const char *dir = test_tmpdir();
    ferc_dataset d;
    synthetic_faces(&d, 96);
    char args[8192] = "";
    const prep_opts plain = {.crop_from = 0, .mean = 0, .sd = 1}, cropped = {.crop_from = 48, .mean = 0.45f, .sd = 0.22f};
    /* small nets: the numbers of the shipped ones are checked on real faces below */
    ferc_model *seed = random_model("spec:48:conv8 bn relu pool drop0.25 conv16 bn relu pool flatten dense32 relu dense7", 1, &d, plain);
    ferc_model *seed2 = random_model("spec:40:conv8k5 bn relu conv8 bn relu pool conv16 bn relu pool flatten dense32 bn relu drop0.5 dense7",
                                     2, &d, plain);
    ferc_model *crop = random_model("spec:44:conv8 bn relu pool conv16 relu pool drop0.3 flatten dense16 bn relu dense7", 3, &d, cropped);
    ferc_model *res = random_model("spec:48:conv8 bn relu res8 res16s2 gap dense7", 4, &d, plain);
    CHECK(seed && seed2 && crop);
    if (!seed || !seed2 || !crop) { ferc_model_free(seed); ferc_model_free(seed2); ferc_model_free(crop); ferc_model_free(res); ferc_dataset_free(&d); return; }
    export_with_probs(seed, &d, dir, "seed", args, sizeof args);
    export_with_probs(seed2, &d, dir, "seed2", args, sizeof args);
    export_with_probs(crop, &d, dir, "crop", args, sizeof args);
    if (res) export_with_probs(res, &d, dir, "res", args, sizeof args);
    else printf("  (no res/gap layers in this build: residual export not exercised)\n");
    ferc_model *mem[3] = {seed, seed2, crop}, *ens = NULL;
    const float w[3] = {0.6f, 0.4f, 0.0f};
    ferc_error err;
    CHECK_EQ_INT(ferc_ensemble_create(mem, NULL, w, 3, &ens, &err), FERC_OK);
    if (ens) export_with_probs(ens, &d, dir, "ensemble", args, sizeof args);
    if (!test_failed_now()) run_checker(dir, &d, args);
    ferc_model_free(ens);
    ferc_model_free(res);
    ferc_dataset_free(&d);
}

/* The shipped models and their ensemble on the first 300 PublicTest faces:
 * same argmax on every face, probabilities within 1e-4 of ferc eval's. */
TEST(onnx_shipped_models_match_eval) {
    const char *csv = test_fer_csv();
    if (!csv) SKIP("FER2013 not found at ../shared/data (set FERC_DATA)");
    ferc_dataset d;
    ferc_error err;
    ferc_load_opts lo = {.usage = FERC_USAGE_PUBLICTEST};
    CHECK_EQ_INT(ferc_dataset_load(csv, &lo, &d, &err), FERC_OK);
    if (test_failed_now()) return;
    const int n = getenv("FERC_ASAN") ? 100 : 300;   /* the sanitizer run checks memory, not figures */
    if (d.n > n) d.n = n;
    const char *dir = test_tmpdir();
    char args[8192] = "";
    ferc_model *m[2] = {NULL, NULL}, *ens = NULL;
    const char *files[2] = {"models/seed.ferc", "models/seed2.ferc"}, *names[2] = {"seed", "seed2"};
    for (int k = 0; k < 2; k++) {
        CHECK_MSG(ferc_model_load(files[k], &m[k], &err) == FERC_OK, "%s", err.msg);
        if (m[k]) export_with_probs(m[k], &d, dir, names[k], args, sizeof args);
    }
    if (m[0] && m[1] && ferc_ensemble_create(m, files, NULL, 2, &ens, &err) == FERC_OK)
        export_with_probs(ens, &d, dir, "ensemble", args, sizeof args);
    else { ferc_model_free(m[0]); ferc_model_free(m[1]); }
    if (!test_failed_now()) run_checker(dir, &d, args);
    ferc_model_free(ens);
    ferc_dataset_free(&d);
}

/* The file read back with protobuf-c: interface, opset, metadata, and the
 * first conv's weights byte for byte. */
TEST(onnx_file_structure) {
    ferc_dataset d;
    synthetic_faces(&d, 16);
    ferc_model *m = random_model("seed", 5, &d, (prep_opts){.crop_from = 0, .mean = 0, .sd = 1});
    ferc_dataset_free(&d);
    CHECK(m != NULL);
    if (!m) return;
    const char *path = test_path(test_tmpdir(), "seed.onnx");
    ferc_error err;
    CHECK_EQ_INT(ferc_model_export_onnx(m, path, &err), FERC_OK);
    size_t len = 0;
    uint8_t *buf = test_read(path, &len);
    Onnx__ModelProto *p = buf ? onnx__model_proto__unpack(NULL, len, buf) : NULL;
    CHECK(p && p->graph);
    if (p && p->graph) {
        const Onnx__GraphProto *g = p->graph;
        CHECK_EQ_INT(p->ir_version, ONNX_IR_VERSION);
        CHECK(p->n_opset_import == 1 && p->opset_import[0]->version == ONNX_OPSET);
        CHECK(g->n_input == 1 && !strcmp(g->input[0]->name, "pixels"));
        CHECK(g->n_output == 1 && !strcmp(g->output[0]->name, "probs"));
        const Onnx__TensorShapeProto *s = g->input[0]->type->tensor_type->shape;
        CHECK(s->n_dim == 4 && !strcmp(s->dim[0]->dim_param, "N") && s->dim[2]->dim_value == 48 && s->dim[3]->dim_value == 48);
        const char *labels = NULL;
        for (size_t i = 0; i < p->n_metadata_props; i++)
            if (!strcmp(p->metadata_props[i]->key, "labels")) labels = p->metadata_props[i]->value;
        CHECK_MSG(labels && !strcmp(labels, "angry,disgust,fear,happy,sad,surprise,neutral"), "labels %s", labels ? labels : "(none)");
        const layer *conv = &m->net.layers[0];
        int found = 0;
        for (size_t i = 0; i < g->n_initializer; i++) {
            const Onnx__TensorProto *t = g->initializer[i];
            if (t->n_dims == 4 && t->dims[0] == conv->oc && t->dims[1] == 1 && t->dims[2] == 3 && t->dims[3] == 3)
                found = t->raw_data.len == sizeof(float) * (size_t)conv->oc * 9 && !memcmp(t->raw_data.data, conv->param, t->raw_data.len);
        }
        CHECK_MSG(found, "the first conv's weights are not in the file as they are in the model");
        CHECK(!strcmp(g->node[g->n_node - 1]->op_type, "Softmax"));
    }
    if (p) onnx__model_proto__free_unpacked(p, NULL);
    free(buf);
    ferc_model_free(m);
}

/* Names in dir other than keep (NULL-terminated): leftovers. */
static int strays(const char *dir, const char *const *keep) {
    DIR *dd = opendir(dir);
    int n = 0;
    for (struct dirent *e; dd && (e = readdir(dd));) {
        int ok = e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2]));
        for (int i = 0; keep[i] && !ok; i++) ok = !strcmp(e->d_name, keep[i]);
        if (!ok) { printf("  stray file %s/%s\n", dir, e->d_name); n++; }
    }
    if (dd) closedir(dd);
    return n;
}

/* A layer kind without an ONNX form and an unwritable path: refused with a
 * message, and no file (nor temporary file) left. */
TEST(onnx_refusals_leave_nothing) {
    ferc_dataset d;
    synthetic_faces(&d, 16);
    ferc_model *m = random_model("seed", 6, &d, (prep_opts){.crop_from = 0, .mean = 0, .sd = 1});
    ferc_dataset_free(&d);
    CHECK(m != NULL);
    if (!m) return;
    const char *dir = test_tmpdir(), *path = test_path(dir, "x.onnx");
    const char *const keep[] = {NULL};
    ferc_error err = {0};
    layer_kind saved = m->net.layers[2].kind;
    m->net.layers[2].kind = (layer_kind)99;
    CHECK_EQ_INT(ferc_model_export_onnx(m, path, &err), FERC_ERR_ARG);
    CHECK_MSG(strstr(err.msg, "layer 3") && strstr(err.msg, "no ONNX form"), "%s", err.msg);
    m->net.layers[2].kind = saved;
    CHECK_EQ_INT(ferc_model_export_onnx(m, test_path(dir, "no/such/dir/x.onnx"), &err), FERC_ERR_IO);
    CHECK_MSG(strstr(err.msg, "no/such/dir/x.onnx") != NULL, "%s", err.msg);
    CHECK_EQ_INT(ferc_model_export_onnx(m, NULL, &err), FERC_ERR_ARG);
    CHECK_EQ_INT(strays(dir, keep), 0);
    ferc_model_free(m);
}

/* `ferc export`: the file, the usage errors, a bad model, an unwritable
 * folder; nothing but the finished file ever appears. */
TEST(onnx_cli_export) {
    NEED_FERC();
    const char *dir = test_tmpdir(), *model = cli_make_model(dir, 3, NULL, 0);
    CHECK(model != NULL);
    if (!model) return;
    CHECK_EQ_INT(cli_run(dir, "cd '%s' && '%s' export --onnx m.onnx --model model.ferc", dir, ferc), 0);
    char *o = cli_out(dir);
    CHECK_MSG(strstr(o, "wrote m.onnx (") && strstr(o, "seed network"), "%s", o);
    free(o);
    CHECK(test_exists(test_path(dir, "m.onnx")));
    CHECK_EQ_INT(cli_run(dir, "'%s' export --help", ferc), 0);
    o = cli_out(dir);
    CHECK(strstr(o, "usage: ferc export --onnx") && strstr(o, "examples:"));
    free(o);
    static const struct { const char *args; int rc; const char *says; } bad[] = {
        {.args = "--model model.ferc", .rc = 2, .says = "--onnx FILE is required"},
        {.args = "--onnx b.onnx --modle model.ferc", .rc = 2, .says = "did you mean '--model'"},
        {.args = "--onnx b.onnx --model missing.ferc", .rc = 1, .says = "missing.ferc"},
        {.args = "--onnx b.onnx --model m.onnx", .rc = 1, .says = "m.onnx"},
        {.args = "--onnx nodir/b.onnx --model model.ferc", .rc = 1, .says = "nodir"},
        {.args = "--onnx - --model model.ferc", .rc = 2, .says = "not '-'"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        CHECK_EQ_INT(cli_run(dir, "cd '%s' && '%s' export %s", dir, ferc, bad[k].args), bad[k].rc);
        char *e = cli_err(dir);
        CHECK_MSG(strstr(e, bad[k].says) && cli_count_lines(e) <= 2, "export %s: %s", bad[k].args, e);
        free(e);
    }
    const char *const keep[] = {"model.ferc", "m.onnx", "out.txt", "err.txt", NULL};
    CHECK_EQ_INT(strays(dir, keep), 0);
}
