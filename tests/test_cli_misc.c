/* test_cli_misc.c — what every command of the CLI should do alike (issue 20,
 * item 13 and its follow-ups), run as real processes: an unknown option of
 * any command names the one it most likely mistypes; --threads means the
 * same everywhere (0 = every core, a negative count refused in one line);
 * `ferc train` stores its command line in the model as its recipe, also
 * when Ctrl-C/SIGTERM stops it, and `ferc info` prints it; and a model
 * trained without a validation split (or whose loss diverged) never shows
 * "nan" in train, eval or info output. The data is a small synthetic
 * FER2013 CSV written here, so nothing needs ../shared/data. */
#include "test.h"
#include "cli_util.h"
#include "ferc.h"
#include "model/model.h"

#include <ctype.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* A small network (its spec holds spaces: the recipe must quote it). */
#define LAYERS "conv8 bn relu pool conv8 bn relu pool flatten dense16 relu dense7"
#define ARCH "spec:48:" LAYERS

static int word_char(char c) { return isalnum((unsigned char)c) || c == '_'; }

/* Does s hold "nan" (any case) as a word, as printf prints a NAN? */
static int has_nan(const char *s) {
    for (const char *p = s; *p; p++)
        if (strncasecmp(p, "nan", 3) == 0 && (p == s || !word_char(p[-1])) && !word_char(p[3])) return 1;
    return 0;
}

/* `ferc train` of the small network on csv into out, with more options. */
static int train(const char *dir, const char *ferc, const char *csv, const char *out, const char *extra) {
    return cli_run(dir, "OMP_WAIT_POLICY=PASSIVE '%s' train --data '%s' --arch '%s' --batch 16 --seed 3 --out '%s' %s",
               ferc, csv, ARCH, out, extra);
}

/* ------------------------------------------------------------------------ */
/* Did you mean                                                              */
/* ------------------------------------------------------------------------ */

/* Every command names the option a near miss mistypes, in one line (and
 * the pointer to its --help), exit 2, before any work. */
TEST(cli_misc_unknown_option_did_you_mean) {
    NEED_FERC();
    const char *dir = test_tmpdir();
    static const struct { const char *args, *want; } cases[] = {
        {"train --epoch 3", "ferc train: unknown option '--epoch'; did you mean '--epochs'?"},
        {"train --val-fractoin 0", "did you mean '--val-fraction'?"},
        {"eval --thread 2 --model m.ferc --data d.csv", "ferc eval: unknown option '--thread'; did you mean '--threads'?"},
        {"eval --jsno", "did you mean '--json'?"},
        {"report --quantile 3", "ferc report: unknown option '--quantile'; did you mean '--quantiles'?"},
        {"info --hepl", "ferc info: unknown option '--hepl'; did you mean '--help'?"},
        {"info m.ferc --hlep", "did you mean '--help'?"},
        {"bench --warmpu 2", "ferc bench: unknown option '--warmpu'; did you mean '--warmup'?"},
        {"augment --rotatoin 10", "ferc augment: unknown option '--rotatoin'; did you mean '--rotation'?"},
        {"augment --bench-m 5", "did you mean '--bench-n'?"},
        {"ensemble --fit-weight a.ferc b.ferc", "ferc ensemble: unknown option '--fit-weight'; did you mean '--fit-weights'?"},
        {"ensemble --wieghts=1,2 a.ferc b.ferc", "did you mean '--weights'?"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        CHECK_EQ_INT(cli_run(dir, "cd '%s' && '%s' %s", dir, ferc, cases[k].args), 2);
        char *e = cli_err(dir);
        CHECK_MSG(strstr(e, cases[k].want) && cli_count_lines(e) <= 2 && strstr(e, "--help"), "ferc %s: %s",
                  cases[k].args, e);
        free(e);
    }
    /* nothing like any option: no guess */
    CHECK_EQ_INT(cli_run(dir, "'%s' train --zzzzzz", ferc), 2);
    char *e = cli_err(dir);
    CHECK_MSG(strstr(e, "unknown option '--zzzzzz'") && !strstr(e, "did you mean"), "%s", e);
    free(e);
}

/* ------------------------------------------------------------------------ */
/* --threads                                                                 */
/* ------------------------------------------------------------------------ */

/* A negative thread count is refused by every command in one line naming
 * what is allowed; every --help says what 0 means. */
TEST(cli_misc_threads_negative_refused_zero_documented) {
    NEED_FERC();
    const char *dir = test_tmpdir();
    static const char *const cmds[] = {"train", "eval", "report", "ensemble", "bench", "predict", "video"};
    for (size_t k = 0; k < sizeof cmds / sizeof cmds[0]; k++) {
        CHECK_EQ_INT(cli_run(dir, "cd '%s' && '%s' %s --threads -1", dir, ferc, cmds[k]), 2);
        char *e = cli_err(dir);
        char want[128];
        snprintf(want, sizeof want, "ferc %s: --threads: '-1' is not a thread count: 0 (every core)", cmds[k]);
        CHECK_MSG(strncmp(e, want, strlen(want)) == 0 && cli_count_lines(e) <= 2, "%s: %s", cmds[k], e);
        free(e);
        CHECK_EQ_INT(cli_run(dir, "'%s' %s --help", ferc, cmds[k]), 0);
        char *o = cli_out(dir);
        CHECK_MSG(strstr(o, "0 = every core"), "ferc %s --help does not say what --threads 0 means", cmds[k]);
        free(o);
    }
}

/* --threads 0 is every core in train, eval, report and ensemble (it was
 * refused: 1..1024). */
TEST(cli_misc_threads_zero_is_every_core) {
    NEED_FERC();
    const char *dir = test_tmpdir(), *csv = cli_write_band_csv(dir, 210, 70);
    const char *a = test_path(dir, "a.ferc"), *b = test_path(dir, "b.ferc");
    CHECK_EQ_INT(train(dir, ferc, csv, a, "--epochs 1 --threads 0 --quiet"), 0);
    char *e = cli_err(dir);
    CHECK_MSG(test_exists(a), "train --threads 0: %s", e);
    free(e);
    CHECK_EQ_INT(train(dir, ferc, csv, b, "--epochs 1 --threads 1 --seed 4 --quiet"), 0);
    CHECK_EQ_INT(cli_run(dir, "'%s' eval --threads 0 --model '%s' --data '%s'", ferc, a, csv), 0);
    char *o = cli_out(dir);
    CHECK_MSG(strstr(o, "PublicTest: 70 faces") && strstr(o, "accuracy: "), "eval --threads 0: %s", o);
    free(o);
    CHECK_EQ_INT(cli_run(dir, "'%s' report --quiet --threads 0 --model '%s' --data '%s' --out '%s'", ferc, a, csv,
                     test_path(dir, "rep")), 0);
    CHECK(test_exists(test_path(dir, "rep/index.html")));
    CHECK_EQ_INT(cli_run(dir, "'%s' ensemble --quiet --threads 0 --fit-weights --data '%s' --out '%s' '%s' '%s'", ferc,
                     csv, test_path(dir, "e.ferc"), a, b), 0);
    e = cli_err(dir);
    CHECK_MSG(test_exists(test_path(dir, "e.ferc")), "ensemble --threads 0: %s", e);
    free(e);
}

/* ------------------------------------------------------------------------ */
/* The recipe                                                                */
/* ------------------------------------------------------------------------ */

static char *recipe_of(const char *path) {
    ferc_model *m = NULL;
    ferc_error err;
    if (ferc_model_load(path, &m, &err) != FERC_OK) {
        test_fail(__FILE__, __LINE__, "load %s: %s", path, err.msg);
        return NULL;
    }
    char *r = ferc_model_recipe(m) ? strdup(ferc_model_recipe(m)) : NULL;
    ferc_model_free(m);
    return r;
}

/* `ferc train` stores its command line (a spec with spaces quoted for the
 * shell) in the model; `ferc info` prints it. */
TEST(cli_misc_train_stores_recipe) {
    NEED_FERC();
    const char *dir = test_tmpdir(), *csv = cli_write_band_csv(dir, 140, 0);
    CHECK_EQ_INT(cli_run(dir, "cd '%s' && OMP_WAIT_POLICY=PASSIVE '%s' train --data faces.csv --arch '%s' --limit 100 "
                     "--epochs 1 --threads 1 --batch=16 --out m.ferc --quiet", dir, ferc, ARCH), 0);
    (void)csv;
    const char *want = "ferc train --data faces.csv --arch '" ARCH "' --limit 100 --epochs 1 --threads 1 "
                       "--batch=16 --out m.ferc --quiet";
    char *r = recipe_of(test_path(dir, "m.ferc"));
    CHECK_MSG(r && strcmp(r, want) == 0, "recipe: %s", r ? r : "(none)");
    free(r);
    CHECK_EQ_INT(cli_run(dir, "'%s' info '%s'", ferc, test_path(dir, "m.ferc")), 0);
    char *o = cli_out(dir), line[1024];
    snprintf(line, sizeof line, "recipe:     %s\n", want);
    CHECK_MSG(strstr(o, line), "info: %s", o);
    free(o);
}

/* The model saved when SIGTERM stops the run carries the recipe too. */
TEST(cli_misc_interrupted_train_stores_recipe) {
    NEED_FERC();
    const char *dir = test_tmpdir(), *csv = cli_write_band_csv(dir, 140, 0);
    const char *out = test_path(dir, "m.ferc"), *ck = test_path(dir, "m.ferc.ckpt");
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "exec env OMP_WAIT_POLICY=PASSIVE '%s' train --data '%s' --arch '%s' --batch 16 "
             "--threads 1 --epochs 1000 --out '%s' --quiet >'%s' 2>'%s'", ferc, csv, ARCH, out,
             test_path(dir, "out.txt"), test_path(dir, "err.txt"));
    pid_t pid = fork();
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    CHECK(pid > 0);
    if (pid <= 0) return;
    int started = 0;
    for (double t0 = ferc_now(); ferc_now() - t0 < 300 && !started;) {   /* an epoch has ended */
        if (test_exists(ck)) started = 1;
        else if (waitpid(pid, NULL, WNOHANG) == pid) break;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 5000000};
        nanosleep(&ts, NULL);
    }
    CHECK_MSG(started, "no checkpoint appeared");
    kill(pid, started ? SIGTERM : SIGKILL);
    int st;
    waitpid(pid, &st, 0);
    if (!started) return;
    CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 143, "exit status %d", st);
    char *r = recipe_of(out), want[4096];
    snprintf(want, sizeof want, "ferc train --data %s --arch '%s' --batch 16 --threads 1 --epochs 1000 --out %s --quiet",
             csv, ARCH, out);
    CHECK_MSG(r && strcmp(r, want) == 0, "recipe: %s\nwanted: %s", r ? r : "(none)", want);
    free(r);
}

/* ------------------------------------------------------------------------ */
/* No nan                                                                    */
/* ------------------------------------------------------------------------ */

/* Trained with --val-fraction 0 (the history holds NAN for the validation
 * figures): train, info and eval print no nan; info says "no validation
 * split" and that the last epoch was kept. */
TEST(cli_misc_no_validation_split_shown_as_such) {
    NEED_FERC();
    const char *dir = test_tmpdir(), *csv = cli_write_band_csv(dir, 175, 35), *m = test_path(dir, "m.ferc");
    CHECK_EQ_INT(cli_run(dir, "FERC_PROGRESS=1 OMP_WAIT_POLICY=PASSIVE '%s' train --data '%s' --arch '%s' --batch 16 "
                     "--threads 1 --epochs 2 --val-fraction 0 --out '%s'", ferc, csv, ARCH, m), 0);
    char *e = cli_err(dir);
    CHECK_MSG(strstr(e, "Epoch 2/2") && strstr(e, "no validation split") && !has_nan(e), "train: %s", e);
    free(e);
    CHECK_EQ_INT(cli_run(dir, "'%s' info '%s'", ferc, m), 0);
    char *o = cli_out(dir);
    CHECK_MSG(!has_nan(o) && strstr(o, "kept epoch: 2 of 2, the last (no validation split)"), "info: %s", o);
    int rows = 0;   /* one per epoch in the history table */
    for (const char *p = o; (p = strstr(p, "no validation split")); p++) rows++;
    CHECK_EQ_INT(rows, 3);
    free(o);
    CHECK_EQ_INT(cli_run(dir, "'%s' eval --threads 1 --model '%s' --data '%s'", ferc, m, csv), 0);
    o = cli_out(dir);
    CHECK_MSG(strstr(o, "loss: ") && !has_nan(o), "eval: %s", o);
    free(o);
    CHECK_EQ_INT(cli_run(dir, "'%s' eval --threads 1 --json --model '%s' --data '%s'", ferc, m, csv), 0);
    o = cli_out(dir);
    CHECK_MSG(strstr(o, "\"loss\": ") && !has_nan(o), "eval --json: %s", o);
    free(o);
}

/* A history with a diverged loss and without macro F1 (older files):
 * "diverged" and "-" in info's table, never nan. */
TEST(cli_misc_info_history_diverged_loss) {
    NEED_FERC();
    const char *dir = test_tmpdir(), *path = test_path(dir, "m.ferc");
    ferc_model *m;
    ferc_error err;
    CHECK_EQ_INT(ferc_model_create("spec:48:conv4 relu pool flatten dense7", 1, &m, &err), FERC_OK);
    ferc_epoch_stats h[2] = {
        {.epoch = 1, .train_loss = 1.8f, .train_acc = 0.3f, .val_loss = 1.7f, .val_acc = 0.35f, .lr = 1e-3f,
         .seconds = 5, .val_macro_f1 = NAN},
        {.epoch = 2, .train_loss = NAN, .train_acc = 0.14f, .val_loss = NAN, .val_acc = 0.14f, .lr = 1e-3f,
         .seconds = 5, .val_macro_f1 = NAN},
    };
    CHECK_EQ_INT(model_set_history(m, h, 2, &err), FERC_OK);
    CHECK_EQ_INT(ferc_model_save(m, path, &err), FERC_OK);
    ferc_model_free(m);
    CHECK_EQ_INT(cli_run(dir, "'%s' info '%s'", ferc, path), 0);
    char *o = cli_out(dir);
    CHECK_MSG(!has_nan(o) && strstr(o, "kept epoch: 1 of 2") && strstr(o, "  1.8000  0.3000  1.7000   0.3500  -  ") &&
              strstr(o, "  diverged  0.1400  -        0.1400  -  "), "info: %s", o);
    free(o);
}
