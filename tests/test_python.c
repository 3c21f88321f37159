/* test_python.c — the Python package (python/) inside `make check`: its
 * pytest suite against the libferc.so built beside the ferc under test, and
 * the offline install the README gives (pip install --no-build-isolation
 * --no-index ./python) into a fresh venv, whose `import ferc` must then use
 * the library bundled in the package. Debian's /usr/bin/python3 with
 * python3-numpy, python3-pytest and python3-pip; skipped with a message
 * where they are missing, and in the sanitizer build (which makes no .so:
 * python3 cannot load an ASan library without LD_PRELOAD). The calls the
 * binding added to the library are tested in C here as well, so that the
 * sanitizer run covers them. */
#include "cli_util.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PYTHON "/usr/bin/python3"

/* The shared library beside the ferc binary under test, absolute, into buf;
 * 0 (and the reason in why) when the test cannot run. */
static int python_setup(char *buf, size_t cap, const char **why) {
    const char *ferc = cli_ferc();
    *why = NULL;
    if (getenv("FERC_ASAN")) *why = "the sanitizer build makes no libferc.so (the plain run tests Python)";
    else if (!ferc) *why = "the ferc binary is not built (make, or set FERC_BIN)";
    else if (access(PYTHON, X_OK) != 0) *why = "no " PYTHON " (apt-get install python3)";
    else if (system(PYTHON " -c 'import numpy, pytest' >/dev/null 2>&1") != 0)
        *why = "python3-numpy or python3-pytest missing (apt-get install python3-numpy python3-pytest)";
    if (*why) return 0;
    const char *slash = strrchr(ferc, '/');
    snprintf(buf, cap, "%.*s/libferc.so", (int)(slash - ferc), ferc);
    if (access(buf, R_OK) != 0) *why = "no libferc.so beside the ferc binary (make shared)";
    return *why == NULL;
}

TEST(python_pytest_suite) {
    char lib[PATH_MAX];
    const char *why;
    if (!python_setup(lib, sizeof lib, &why)) SKIP(why);
    const char *dir = test_tmpdir();
    int st = cli_run(dir,
                     "FERC_LIBRARY='%s' FERC_BIN='%s' PYTHONPATH=python PYTHONDONTWRITEBYTECODE=1 OMP_NUM_THREADS=2 "
                     PYTHON " -m pytest -q -p no:cacheprovider python/tests",
                     lib, cli_ferc());
    char *out = cli_out(dir), *err = cli_err(dir);
    CHECK_MSG(st == 0, "pytest python/tests failed (exit %d):\n%s%s", st, out, err);
    /* the summary names passed tests: a run that collected nothing fails */
    CHECK_MSG(strstr(out, " passed") != NULL, "pytest ran no test:\n%s", out);
    free(out);
    free(err);
}

TEST(python_pip_install_offline_in_a_venv) {
    char lib[PATH_MAX];
    const char *why;
    if (!python_setup(lib, sizeof lib, &why)) SKIP(why);
    if (system(PYTHON " -c 'import setuptools, wheel, pip' >/dev/null 2>&1") != 0)
        SKIP("python3-pip, python3-setuptools or python3-wheel missing");
    const char *dir = test_tmpdir();
    /* --without-pip: the venv uses Debian's pip through the system site packages */
    int st = cli_run(dir,
                     "(" PYTHON " -m venv --without-pip --system-site-packages '%s/venv' && "
                     "FERC_LIBRARY='%s' '%s/venv/bin/python' -m pip install -q --no-build-isolation --no-index "
                     "--no-warn-script-location ./python)",
                     dir, lib, dir);
    char *err = cli_err(dir);
    CHECK_MSG(st == 0, "pip install ./python into a venv failed (exit %d): %s", st, err);
    free(err);
    if (st != 0) return;
    /* From another folder, without FERC_LIBRARY or FERC_MODEL: the bundled
     * library and models; a blank image has no face, a 48x48 one is a crop. */
    st = cli_run(dir,
                 "(cd '%s' && env -u FERC_LIBRARY -u FERC_MODEL '%s/venv/bin/python' -c '"
                 "import ferc, numpy as np\n"
                 "fer = ferc.FER()\n"
                 "print(ferc.library_path)\n"
                 "print(fer.model.path)\n"
                 "print(fer.detect_emotions(np.zeros((200, 300, 3), np.uint8)))\n"
                 "print(len(fer.detect_emotions(np.full((48, 48), 128, np.uint8))))')",
                 dir, dir);
    char *out = cli_out(dir);
    err = cli_err(dir);
    CHECK_MSG(st == 0, "the installed package failed (exit %d): %s%s", st, out, err);
    char want[PATH_MAX + 64];
    snprintf(want, sizeof want, "%s/venv/lib/", dir);
    CHECK_MSG(strstr(out, want) && strstr(out, "site-packages/ferc/libferc.so\n"),
              "import ferc did not use the bundled library:\n%s", out);
    CHECK_MSG(strstr(out, "site-packages/ferc/models/seed2.ferc\n"), "the default model is not the bundled one:\n%s", out);
    CHECK_MSG(strstr(out, "\n[]\n1\n") != NULL, "unexpected results:\n%s", out);
    free(out);
    free(err);
}

/* The calls added for bindings, in C (so that the sanitizer run covers
 * them too): class names from the model, and ferc_model_predict_faces
 * giving what the evaluation path (ferc_prepare_images + ferc_model_predict)
 * gives on 48x48 faces, for any batch, with clear errors on bad arguments. */
TEST(python_binding_calls_in_c) {
    ferc_error err = {0};
    ferc_model *m = NULL;
    if (access("models/seed2.ferc", R_OK) != 0) SKIP("models/seed2.ferc absent");
    CHECK_EQ_INT(ferc_model_load("models/seed2.ferc", &m, &err), FERC_OK);
    if (!m) return;
    int k = ferc_model_num_classes(m);
    CHECK_EQ_INT(k, FERC_NUM_CLASSES);
    for (int i = 0; i < k; i++)  /* the shipped models store FER2013's names */
        CHECK_MSG(ferc_model_class_name(m, i) && !strcmp(ferc_model_class_name(m, i), ferc_label_name(i)), "class %d", i);
    CHECK(ferc_model_class_name(m, k) == NULL && ferc_model_class_name(m, -1) == NULL);
    CHECK_EQ_INT(ferc_model_num_classes(NULL), 0);

    enum { N = 300 };  /* more than one chunk of 256 */
    ferc_dataset d = {.n = N, .h = 48, .w = 48};
    d.pix = malloc((size_t)N * 48 * 48);
    const int S = ferc_model_input_size(m);
    float *x = malloc(sizeof(float) * (size_t)N * S * S);
    float *want = malloc(sizeof(float) * N * FERC_NUM_CLASSES), *got = malloc(sizeof(float) * N * FERC_NUM_CLASSES);
    CHECK(d.pix && x && want && got);
    if (d.pix && x && want && got) {
        ferc_rng r;
        ferc_rng_seed(&r, 7);
        for (size_t i = 0; i < (size_t)N * 48 * 48; i++) d.pix[i] = (uint8_t)ferc_rng_below(&r, 256);
        ferc_prepare_images(&d, 0, N, S, x);
        CHECK_EQ_INT(ferc_model_predict(m, x, N, want, 1, &err), FERC_OK);
        CHECK_EQ_INT(ferc_model_predict_faces(m, d.pix, N, 48, 48, got, 1, &err), FERC_OK);
        double worst = 0;
        for (int i = 0; i < N * FERC_NUM_CLASSES; i++) worst = fmax(worst, fabs(got[i] - want[i]));
        CHECK_MSG(worst < 1e-6, "predict_faces differs from prepare + predict by %g", worst);
        CHECK_EQ_INT(ferc_model_predict_faces(m, d.pix, 0, 48, 48, got, 1, &err), FERC_OK);
        CHECK_EQ_INT(ferc_model_predict_faces(m, d.pix, 2, 0, 48, got, 1, &err), FERC_ERR_ARG);
        CHECK_MSG(strstr(err.msg, "positive") != NULL, "%s", err.msg);
        CHECK_EQ_INT(ferc_model_predict_faces(m, NULL, 2, 48, 48, got, 1, &err), FERC_ERR_ARG);
        CHECK_EQ_INT(ferc_model_predict_faces(m, d.pix, -1, 48, 48, got, 1, &err), FERC_ERR_ARG);
        CHECK_EQ_INT(ferc_model_predict_faces(NULL, d.pix, 1, 48, 48, got, 1, &err), FERC_ERR_ARG);
        CHECK_EQ_INT(ferc_model_predict_faces(m, d.pix, 1, 100000, 100000, got, 1, &err), FERC_ERR_LIMIT);
    }
    free(d.pix);
    free(x);
    free(want);
    free(got);
    ferc_model_free(m);
}
