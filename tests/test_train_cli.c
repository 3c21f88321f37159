/* test_train_cli.c — `ferc train` for a new user's first hour (issue 20,
 * items 2, 3, 4 and 12): finished work is refused unless --resume or
 * --force says what to do with it; Ctrl-C and SIGTERM (real signals sent to
 * a real process) save the best model and leave a checkpoint from which the
 * printed command resumes bit for bit; the outputs are tried before the data
 * is read; an empty validation split is refused and --val-fraction 0 trains
 * without one, never printing nan; a checkpoint of another architecture is
 * named. Beside them, in the library: the stop callback, early stopping with
 * the best weights restored, and the ETA of the whole run. The data is a
 * small synthetic FER2013 CSV (cli_write_band_csv: class c brightens band
 * c), so nothing needs ../shared/data and every run takes a second or two. */
#include "test.h"
#include "cli_util.h"
#include "ferc.h"
#include "model/model.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* A small network that learns the synthetic task in a few epochs. */
#define LAYERS "conv8 bn relu pool conv8 bn relu pool flatten dense16 relu dense7"
#define ARCH "spec:48:" LAYERS

/* char NAME[] holding dir/file. */
#define PATH(name, dir, file) char name[2100]; snprintf(name, sizeof name, "%.1000s/%.1000s", dir, file)

/* The start of a `ferc train` command on csv with the small network. */
static const char *train_cmd(const char *ferc, const char *csv, const char *out, const char *extra) {
    static char buf[8192];
    snprintf(buf, sizeof buf, "OMP_WAIT_POLICY=PASSIVE %s train --data '%s' --arch '%s' --batch 16 --threads 1 "
             "--seed 3 --out '%s' %s", ferc, csv, ARCH, out, extra);
    return buf;
}

static ferc_model *load(const char *path) {
    ferc_model *m = NULL;
    ferc_error err;
    if (ferc_model_load(path, &m, &err) != FERC_OK) test_fail(__FILE__, __LINE__, "load %s: %s", path, err.msg);
    return m;
}

static int same_weights(const ferc_model *a, const ferc_model *b) {
    return a && b && a->net.nparams == b->net.nparams && a->net.nstate == b->net.nstate &&
           memcmp(a->net.params, b->net.params, sizeof(float) * a->net.nparams) == 0 &&
           memcmp(a->net.state, b->net.state, sizeof(float) * a->net.nstate) == 0;
}

/* ------------------------------------------------------------------------ */
/* Finished work, outputs, the validation split, another architecture       */
/* ------------------------------------------------------------------------ */

TEST(train_cli_refuses_finished_work) {
    NEED_FERC();
    const char *dir = test_tmpdir(), *csv = cli_write_band_csv(dir, 140, 0);
    PATH(out, dir, "m.ferc");
    PATH(ck, dir, "m.ferc.ckpt");
    PATH(saved_ck, dir, "saved.ckpt");
    PATH(saved_m, dir, "saved.ferc");
    CHECK_EQ_INT(cli_run(dir, "%s", train_cmd(ferc, csv, out, "--epochs 1 --quiet")), 0);
    size_t n1, n2;
    char *m0 = test_read(out, &n1), *c0 = test_read(ck, &n2);
    CHECK(m0 && c0);
    /* the same command again (or a new one) over the finished run: refused, one line, nothing touched */
    CHECK_EQ_INT(cli_run(dir, "%s", train_cmd(ferc, csv, out, "--epochs 1 --seed 5 --quiet")), 1);
    char *e = cli_err(dir);
    CHECK_MSG(cli_count_lines(e) == 1 && strstr(e, "already exist") && strstr(e, "--resume") && strstr(e, "--force"),
              "stderr: %s", e);
    size_t k1, k2;
    char *m1 = test_read(out, &k1), *c1 = test_read(ck, &k2);
    CHECK(m1 && c1 && k1 == n1 && k2 == n2 && !memcmp(m0, m1, n1) && !memcmp(c0, c1, n2));
    free(e); free(m1); free(c1);
    /* the model without its checkpoint: refused, and --resume has nothing to resume */
    rename(ck, saved_ck);
    CHECK_EQ_INT(cli_run(dir, "%s", train_cmd(ferc, csv, out, "--epochs 1 --quiet")), 1);
    e = cli_err(dir);
    CHECK_MSG(strstr(e, "already exists") && strstr(e, "--force"), "stderr: %s", e);
    free(e);
    CHECK_EQ_INT(cli_run(dir, "%s", train_cmd(ferc, csv, out, "--epochs 1 --quiet --resume")), 1);
    e = cli_err(dir);
    CHECK_MSG(cli_count_lines(e) == 1 && strstr(e, "no checkpoint") && strstr(e, "--force"), "stderr: %s", e);
    free(e);
    /* the checkpoint alone (an unfinished run) is refused as well */
    rename(saved_ck, ck);
    rename(out, saved_m);
    CHECK_EQ_INT(cli_run(dir, "%s", train_cmd(ferc, csv, out, "--epochs 1 --quiet")), 1);
    CHECK(!test_exists(out));
    /* --force starts over: a new run with another seed replaces both */
    CHECK_EQ_INT(cli_run(dir, "%s", train_cmd(ferc, csv, out, "--epochs 1 --seed 5 --quiet --force")), 0);
    m1 = test_read(out, &k1);
    c1 = test_read(ck, &k2);
    CHECK(m1 && c1 && (k2 != n2 || memcmp(c0, c1, n2) != 0));
    free(m0); free(c0); free(m1); free(c1);
    /* --resume and --force together contradict each other */
    CHECK_EQ_INT(cli_run(dir, "%s", train_cmd(ferc, csv, out, "--epochs 1 --quiet --force --resume")), 2);
}

TEST(train_cli_checks_outputs_before_loading) {
    NEED_FERC();
    const char *dir = test_tmpdir(), *csv = cli_write_band_csv(dir, 140, 0);
    PATH(plain, dir, "plain-file");
    PATH(a, dir, "a.ferc");
    PATH(b, dir, "b.ferc");
    PATH(under_file, plain, "x.ferc");
    FILE *f = fopen(plain, "w");
    if (f) fclose(f);
    struct { const char *extra, *out, *want; } cases[] = {
        {.extra = "--epochs 1", .out = "/nonexistent-ferc-dir/x.ferc", .want = "cannot write --out /nonexistent-ferc-dir/x.ferc"},
        {.extra = "--epochs 1 --checkpoint /nonexistent-ferc-dir/x.ckpt", .out = a,
         .want = "cannot write the checkpoint /nonexistent-ferc-dir/x.ckpt"},
        {.extra = "--epochs 1", .out = under_file, .want = "is not a folder"},
        {.extra = "--epochs 1", .out = dir, .want = "it is a folder"},
    };
    char plot[4300];
    snprintf(plot, sizeof plot, "--epochs 1 --plot '%s/sub'", plain);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0] + 1; i++) {
        const int is_plot = i == sizeof cases / sizeof cases[0];
        const char *extra = is_plot ? plot : cases[i].extra, *out = is_plot ? b : cases[i].out;
        const char *want = is_plot ? "cannot create the --plot folder" : cases[i].want;
        double t0 = ferc_now();
        CHECK_EQ_INT(cli_run(dir, "%s", train_cmd(ferc, csv, out, extra)), 1);
        char *e = cli_err(dir);
        /* one line, and before the data: no "loading faces.csv" line, no epoch */
        CHECK_MSG(cli_count_lines(e) == 1 && strstr(e, want) && !strstr(e, "faces.csv") && !strstr(e, "Epoch"),
                  "case %zu: stderr: %s", i, e);
        CHECK_MSG(ferc_now() - t0 < 30, "case %zu took %.1f s", i, ferc_now() - t0);
        free(e);
    }
    CHECK(!test_exists(a) && !test_exists(b));
    /* a --plot folder that can be made is made, and gets its curves */
    CHECK_EQ_INT(cli_run(dir, "%s --plot '%s'", train_cmd(ferc, csv, test_path(dir, "c.ferc"), "--epochs 1 --quiet"),
                     test_path(dir, "plots")), 0);
    CHECK(test_exists(test_path(dir, "plots/curves.png")));
}

TEST(train_cli_empty_validation) {
    NEED_FERC();
    const char *dir = test_tmpdir(), *csv = cli_write_band_csv(dir, 140, 0);
    PATH(out, dir, "m.ferc");
    /* 10 faces, at most 2 per class: round(0.1 x 2) = 0 validation faces */
    CHECK_EQ_INT(cli_run(dir, "%s", train_cmd(ferc, csv, out, "--limit 10 --epochs 1")), 2);
    char *e = cli_err(dir);
    CHECK_MSG(strstr(e, "no validation face") && strstr(e, "--val-fraction 0") && strstr(e, "needs 5") &&
              !strstr(e, "nan") && !strstr(e, "Epoch"), "stderr: %s", e);
    CHECK(cli_count_lines(e) == 3);   /* loading, loaded, the one-line refusal */
    CHECK(!test_exists(out));
    free(e);
    /* --val-fraction 0: no validation asked for; the last epoch kept, no val figures, no nan */
    CHECK_EQ_INT(cli_run(dir, "%s", train_cmd(ferc, csv, out, "--limit 10 --epochs 2 --val-fraction 0")), 0);
    e = cli_err(dir);
    CHECK_MSG(strstr(e, "Epoch 2/2") && !strstr(e, "val_") && !strstr(e, "nan") && !strstr(e, "-1.0000") &&
              strstr(e, "the last epoch"), "stderr: %s", e);
    free(e);
    ferc_model *m = load(out);
    if (m) {
        const ferc_epoch_stats *h;
        CHECK_EQ_INT(ferc_model_history(m, &h), 2);
        ferc_model_free(m);
    }
    /* early stopping watches validation: refused without it */
    CHECK_EQ_INT(cli_run(dir, "%s", train_cmd(ferc, csv, test_path(dir, "n.ferc"), "--epochs 2 --val-fraction 0 --early-stop 2")), 2);
}

TEST(train_cli_resume_other_arch) {
    NEED_FERC();
    const char *dir = test_tmpdir(), *csv = cli_write_band_csv(dir, 140, 0);
    PATH(out, dir, "m.ferc");
    CHECK_EQ_INT(cli_run(dir, "%s", train_cmd(ferc, csv, out, "--epochs 1 --quiet")), 0);
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s", train_cmd(ferc, csv, out, "--epochs 2 --resume"));
    const char *others[] = {"seed", "spec:48:conv8 relu pool flatten dense7"};
    for (int i = 0; i < 2; i++) {
        CHECK_EQ_INT(cli_run(dir, "%s --arch '%s'", cmd, others[i]), 1);   /* the last --arch wins */
        char *e = cli_err(dir);
        CHECK_MSG(cli_count_lines(e) == 1 && strstr(e, ARCH) && strstr(e, others[i]) &&
                  strstr(e, "--force") && strstr(e, "--out") && !strstr(e, "faces.csv"), "stderr: %s", e);
        free(e);
    }
    /* the same architecture resumes */
    CHECK_EQ_INT(cli_run(dir, "%s --quiet", cmd), 0);
    ferc_model *m = load(out);
    if (m) {
        const ferc_epoch_stats *h;
        CHECK_EQ_INT(ferc_model_history(m, &h), 2);
        ferc_model_free(m);
    }
}

/* ------------------------------------------------------------------------ */
/* Signals                                                                   */
/* ------------------------------------------------------------------------ */

/* Start cmd (a shell command that may begin with VAR=value; `exec env`
 * keeps the pid) with stdout and stderr into dir/out.txt and dir/err.txt. */
static pid_t start(const char *dir, const char *cmd) {
    char full[16384];
    snprintf(full, sizeof full, "exec env %s >'%s/out.txt' 2>'%s/err.txt'", cmd, dir, dir);
    pid_t pid = fork();
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", full, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Wait until path exists (the first checkpoint: an epoch has ended) or the
 * process ends; 1 when the file came first. */
static int wait_for_file(pid_t pid, const char *path, double timeout) {
    const double t0 = ferc_now();
    while (ferc_now() - t0 < timeout) {
        if (test_exists(path)) return 1;
        if (waitpid(pid, NULL, WNOHANG) == pid) return 0;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 5000000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

/* Wait until stderr holds text, as above. */
static int wait_for_text(pid_t pid, const char *dir, const char *text, double timeout) {
    const double t0 = ferc_now();
    while (ferc_now() - t0 < timeout) {
        char *e = cli_err(dir);
        int found = strstr(e, text) != NULL;
        free(e);
        if (found) return 1;
        if (waitpid(pid, NULL, WNOHANG) == pid) return 0;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 2000000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

static int exit_code(pid_t pid) {
    int st;
    if (waitpid(pid, &st, 0) != pid) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 1000 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/* The command after "to resume: " in text (malloc'd), or NULL. */
static char *resume_command(const char *text) {
    const char *p = strstr(text, "to resume: ");
    if (!p) return NULL;
    p += strlen("to resume: ");
    const char *end = strchr(p, '\n');
    return end ? strndup(p, (size_t)(end - p)) : strdup(p);
}

TEST(train_cli_sigint_saves_and_resumes) {
    NEED_FERC();
    const char *dir = test_tmpdir(), *csv = cli_write_band_csv(dir, 280, 0);
    PATH(out, dir, "m.ferc");
    PATH(ck, dir, "m.ferc.ckpt");
    PATH(ref, dir, "ref.ferc");
    const int epochs = 8;
    char extra[64];
    snprintf(extra, sizeof extra, "--epochs %d", epochs);
    pid_t pid = start(dir, train_cmd(ferc, csv, out, extra));
    CHECK_MSG(pid > 0 && wait_for_file(pid, ck, 300), "no checkpoint appeared");
    if (test_failed_now()) { kill(pid, SIGKILL); waitpid(pid, NULL, 0); return; }
    kill(pid, SIGINT);   /* Ctrl-C in the middle of the run */
    CHECK_EQ_INT(exit_code(pid), 130);
    char *e = cli_err(dir);
    char *again = resume_command(e);
    CHECK_MSG(strstr(e, "interrupted in epoch") && strstr(e, "saved ") && again, "stderr: %s", e);
    ferc_model *m = load(out), *c = load(ck);
    int done = 0;
    if (m && c) {
        const ferc_epoch_stats *h;
        done = ferc_model_history(m, &h);
        CHECK_MSG(done >= 1 && done < epochs, "%d epochs in the saved model", done);
        CHECK_EQ_INT(ferc_model_history(c, &h), done);
    }
    ferc_model_free(m); ferc_model_free(c);
    free(e);
    if (!again) return;
    /* the printed command finishes the run, bit for bit the run that was not interrupted */
    CHECK_MSG(strstr(again, "--resume") && strstr(again, "'" ARCH "'"), "resume command: %s", again);
    CHECK_EQ_INT(cli_run(dir, "%s", again), 0);
    e = cli_err(dir);
    CHECK_MSG(strstr(e, "resuming from"), "stderr: %s", e);
    free(e);
    free(again);
    CHECK_EQ_INT(cli_run(dir, "%s --quiet", train_cmd(ferc, csv, ref, extra)), 0);
    m = load(out); c = load(ref);
    if (m && c) {
        const ferc_epoch_stats *h1, *h2;
        CHECK_EQ_INT(ferc_model_history(m, &h1), epochs);
        CHECK_EQ_INT(ferc_model_history(c, &h2), epochs);
        CHECK_MSG(same_weights(m, c), "interrupted after %d epochs and resumed: not the uninterrupted weights", done);
        for (int i = 0; i < epochs && i < ferc_model_history(m, &h1); i++)
            CHECK(h1[i].train_loss == h2[i].train_loss && h1[i].val_acc == h2[i].val_acc);
    }
    ferc_model_free(m); ferc_model_free(c);
}

TEST(train_cli_sigterm_exits_143) {
    NEED_FERC();
    const char *dir = test_tmpdir(), *csv = cli_write_band_csv(dir, 140, 0);
    PATH(out, dir, "m.ferc");
    PATH(ck, dir, "m.ferc.ckpt");
    pid_t pid = start(dir, train_cmd(ferc, csv, out, "--epochs 1000 --quiet"));
    CHECK_MSG(pid > 0 && wait_for_file(pid, ck, 300), "no checkpoint appeared");
    if (test_failed_now()) { kill(pid, SIGKILL); waitpid(pid, NULL, 0); return; }
    kill(pid, SIGTERM);
    CHECK_EQ_INT(exit_code(pid), 143);
    char *e = cli_err(dir);
    char *again = resume_command(e);
    CHECK_MSG(again && strstr(again, "--resume") && strstr(again, "--quiet"), "stderr: %s", e);
    ferc_model *m = load(out);
    if (m) {
        const ferc_epoch_stats *h;
        CHECK(ferc_model_history(m, &h) >= 1);
        ferc_model_free(m);
    }
    free(again);
    free(e);
}

/* Ctrl-C before any epoch ended: nothing to keep, no files, still 130. */
TEST(train_cli_sigint_in_first_epoch) {
    NEED_FERC();
    const char *dir = test_tmpdir(), *csv = cli_write_band_csv(dir, 700, 0);
    PATH(out, dir, "m.ferc");
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s", train_cmd(ferc, csv, out, "--epochs 3 --batch 1"));
    pid_t pid = start(dir, cmd);
    /* the line ferc_train logs once its signal handler is in place */
    CHECK_MSG(pid > 0 && wait_for_text(pid, dir, "parameters, input", 300), "training did not start");
    if (test_failed_now()) { kill(pid, SIGKILL); waitpid(pid, NULL, 0); return; }
    kill(pid, SIGINT);
    CHECK_EQ_INT(exit_code(pid), 130);
    char *e = cli_err(dir);
    if (strstr(e, "Epoch 1/3")) { free(e); SKIP("the first epoch ended before the signal arrived (a loaded machine)"); }
    CHECK_MSG(strstr(e, "nothing saved") && !strstr(e, "to resume"), "stderr: %s", e);
    CHECK(!test_exists(out));
    free(e);
}

/* ------------------------------------------------------------------------ */
/* Progress, early stopping, --help                                          */
/* ------------------------------------------------------------------------ */

TEST(train_cli_eta_and_early_stop) {
    NEED_FERC();
    const char *dir = test_tmpdir(), *csv = cli_write_band_csv(dir, 140, 0);
    PATH(out, dir, "m.ferc");
    CHECK_EQ_INT(cli_run(dir, "FERC_PROGRESS=1 %s", train_cmd(ferc, csv, out, "--epochs 40 --early-stop 2")), 0);
    char *e = cli_err(dir);
    /* the bar: the epoch's ETA and the run's; the epoch lines: the run's */
    CHECK_MSG(strstr(e, ", run ") && strstr(e, "(best)") && strstr(e, "- ETA ") && strstr(e, "early stopping after epoch"),
              "stderr: %s", e);
    free(e);
    ferc_model *m = load(out);
    if (m) {
        const ferc_epoch_stats *h;
        int nh = ferc_model_history(m, &h), best = 0;
        for (int i = 0; i < nh; i++) if (h[i].val_acc > h[best].val_acc) best = i;
        CHECK_MSG(nh < 40 && nh == best + 1 + 2, "%d epochs run, best %d", nh, best + 1);
        ferc_model_free(m);
    }
}

TEST(train_cli_help_documents_options) {
    NEED_FERC();
    const char *dir = test_tmpdir();
    CHECK_EQ_INT(cli_run(dir, "%s train --help", ferc), 0);
    char *o = cli_out(dir);
    CHECK(o && strstr(o, "--force") && strstr(o, "--early-stop N") && strstr(o, "--resume") &&
          strstr(o, "--val-fraction 0") && strstr(o, "130") && strstr(o, "143") && strstr(o, "ETA"));
    free(o);
}

/* ------------------------------------------------------------------------ */
/* The library                                                               */
/* ------------------------------------------------------------------------ */

static void synth(ferc_dataset *d, int n, uint64_t seed) {
    ferc_rng r;
    ferc_rng_seed(&r, seed);
    cli_dataset_alloc(d, n);
    for (int i = 0; i < n; i++) {
        d->label[i] = i % 7;
        for (int k = 0; k < 48 * 48; k++)
            d->pix[(size_t)i * 2304 + k] = (uint8_t)((int)ferc_rng_below(&r, 80) + ((k / 48 / 7) % 7 == i % 7 ? 120 : 0));
    }
}

static void small_opts(ferc_train_opts *o, int epochs, const char *ckpt, int resume) {
    ferc_train_opts_default(o);
    o->arch = ARCH;
    o->epochs = epochs; o->batch = 16; o->threads = 2; o->seed = 3;
    o->checkpoint = ckpt; o->resume = resume;
}

/* A stop callback that asks to stop at its n-th call. */
typedef struct { int calls, at; } stop_after;
static int stop_at(void *user) {
    stop_after *s = user;
    return ++s->calls >= s->at;
}

TEST(train_stop_callback_resumes_bit_exact) {
    ferc_dataset d;
    synth(&d, 140, 2);   /* 126 training faces: 8 steps per epoch */
    char ck[1100];
    snprintf(ck, sizeof ck, "%s/run.ckpt", test_tmpdir());
    ferc_train_opts o;
    ferc_error err;
    ferc_model *full = NULL, *part = NULL, *rest = NULL;
    small_opts(&o, 3, NULL, 0);
    CHECK_EQ_INT(ferc_train(&d, &o, &full, &err), FERC_OK);
    stop_after s = {.calls = 0, .at = 8 + 3};   /* in epoch 2, after 2 of its steps */
    small_opts(&o, 3, ck, 0);
    o.stop = stop_at; o.stop_user = &s;
    CHECK_EQ_INT(ferc_train(&d, &o, &part, &err), FERC_ERR_INTERRUPTED);
    CHECK_MSG(strstr(err.msg, "interrupted in epoch 2 of 3") && strstr(err.msg, ck), "%s", err.msg);
    CHECK(strcmp(ferc_status_name(FERC_ERR_INTERRUPTED), "interrupted") == 0);
    const ferc_epoch_stats *h;
    CHECK(part && ferc_model_history(part, &h) == 1);   /* the epoch done, its best weights */
    small_opts(&o, 3, ck, 1);
    CHECK_EQ_INT(ferc_train(&d, &o, &rest, &err), FERC_OK);
    CHECK(same_weights(full, rest));
    ferc_model_free(full); ferc_model_free(part); ferc_model_free(rest);
    /* asked before the first step: nothing to return, no checkpoint */
    snprintf(ck, sizeof ck, "%s/none.ckpt", test_tmpdir());
    s = (stop_after){.calls = 0, .at = 1};
    small_opts(&o, 3, ck, 0);
    o.stop = stop_at; o.stop_user = &s;
    ferc_model *none = (ferc_model *)&s;
    CHECK_EQ_INT(ferc_train(&d, &o, &none, &err), FERC_ERR_INTERRUPTED);
    CHECK(none == NULL && !test_exists(ck));
    ferc_dataset_free(&d);
}

TEST(train_early_stop_restores_best_and_resumes) {
    ferc_dataset d;
    synth(&d, 140, 4);
    char ck[1100];
    snprintf(ck, sizeof ck, "%s/es.ckpt", test_tmpdir());
    ferc_train_opts o;
    ferc_error err;
    ferc_model *es = NULL, *upto = NULL, *part = NULL, *rest = NULL, *again = NULL;
    small_opts(&o, 40, NULL, 0);
    o.early_stop = 2;
    CHECK_EQ_INT(ferc_train(&d, &o, &es, &err), FERC_OK);
    if (!es) { ferc_dataset_free(&d); return; }
    const ferc_epoch_stats *h;
    const int nh = ferc_model_history(es, &h);
    int best = 0;
    for (int i = 1; i < nh; i++) if (h[i].val_acc > h[best].val_acc) best = i;
    CHECK_MSG(nh < 40 && nh == best + 1 + 2, "%d epochs run, best %d", nh, best + 1);
    /* its weights are the best epoch's: those of a run that ends there */
    small_opts(&o, best + 1, NULL, 0);
    CHECK_EQ_INT(ferc_train(&d, &o, &upto, &err), FERC_OK);
    CHECK_MSG(same_weights(es, upto), "early stopping did not restore epoch %d", best + 1);
    /* interrupted in its second epoch and resumed: the same stop, the same weights */
    stop_after s = {.calls = 0, .at = 8 + 4};
    small_opts(&o, 40, ck, 0);
    o.early_stop = 2; o.stop = stop_at; o.stop_user = &s;
    CHECK_EQ_INT(ferc_train(&d, &o, &part, &err), FERC_ERR_INTERRUPTED);
    small_opts(&o, 40, ck, 1);
    o.early_stop = 2;
    CHECK_EQ_INT(ferc_train(&d, &o, &rest, &err), FERC_OK);
    CHECK(same_weights(es, rest) && rest && ferc_model_history(rest, &h) == nh);
    /* resuming a run that stopped early trains no more */
    CHECK_EQ_INT(ferc_train(&d, &o, &again, &err), FERC_OK);
    CHECK(same_weights(es, again) && again && ferc_model_history(again, &h) == nh);
    ferc_model_free(es); ferc_model_free(upto); ferc_model_free(part); ferc_model_free(rest); ferc_model_free(again);
    ferc_dataset_free(&d);
}

TEST(train_validation_split_empty_or_off) {
    ferc_dataset d;
    synth(&d, 10, 5);
    char ck[1100];
    snprintf(ck, sizeof ck, "%s/nv.ckpt", test_tmpdir());
    ferc_train_opts o;
    ferc_error err;
    ferc_model *m = NULL;
    small_opts(&o, 2, ck, 0);
    CHECK_EQ_INT(ferc_train(&d, &o, &m, &err), FERC_ERR_ARG);   /* 0.1 of 10 faces: none */
    CHECK_MSG(m == NULL && strstr(err.msg, "no validation face") && strstr(err.msg, "needs 5"), "%s", err.msg);
    o.early_stop = 1; o.val_fraction = 0;
    CHECK_EQ_INT(ferc_train(&d, &o, &m, &err), FERC_ERR_ARG);
    /* no validation: the last epoch's weights (those in the checkpoint), even where the loss rose */
    small_opts(&o, 3, ck, 0);
    o.val_fraction = 0; o.lr = 0.1f; o.batch = 2;   /* Adam, too fast: losses 40.7, 1.95, 2.34 */
    CHECK_EQ_INT(ferc_train(&d, &o, &m, &err), FERC_OK);
    ferc_model *last = NULL;
    ckpt_extra ex = {0};
    CHECK_EQ_INT(model_load_ex(ck, &last, &ex, &err), FERC_OK);
    if (m && last) {
        const ferc_epoch_stats *h;
        CHECK_EQ_INT(ferc_model_history(m, &h), 3);
        for (int i = 0; i < 3; i++) CHECK(isnan(h[i].val_acc));
        /* the setup makes the last epoch's loss not the lowest (old rule: keep the lowest) */
        CHECK_MSG(h[2].train_loss > h[0].train_loss || h[2].train_loss > h[1].train_loss,
                  "losses %g %g %g", h[0].train_loss, h[1].train_loss, h[2].train_loss);
        CHECK_EQ_INT(ex.best_epoch, 3);
        CHECK(same_weights(m, last));
    }
    free(ex.load_m); free(ex.load_v); free(ex.load_best_params); free(ex.load_best_state);
    ferc_model_free(m); ferc_model_free(last);
    ferc_dataset_free(&d);
}

TEST(train_resume_names_both_architectures) {
    ferc_dataset d;
    synth(&d, 70, 6);
    char ck[1100];
    snprintf(ck, sizeof ck, "%s/arch.ckpt", test_tmpdir());
    ferc_train_opts o;
    ferc_error err;
    ferc_model *m = NULL;
    small_opts(&o, 1, ck, 0);
    CHECK_EQ_INT(ferc_train(&d, &o, &m, &err), FERC_OK);
    ferc_model_free(m);
    m = NULL;
    const char *other[] = {"spec:48:conv8 relu pool flatten dense7", "spec:40:" LAYERS, "seed"};
    for (int i = 0; i < 3; i++) {
        small_opts(&o, 2, ck, 1);
        o.arch = other[i];
        CHECK_EQ_INT(ferc_train(&d, &o, &m, &err), FERC_ERR_ARG);
        CHECK_MSG(m == NULL && strstr(err.msg, "another architecture") && strstr(err.msg, ARCH) &&
                  strstr(err.msg, other[i]), "%s", err.msg);
    }
    ferc_dataset_free(&d);
}

typedef struct { int batches, ends; double first_run, first_epoch, end1, end_last; } eta_seen;
static void on_eta(const ferc_progress *p, void *user) {
    eta_seen *s = user;
    if (!p->done) {
        if (!s->batches++) { s->first_run = p->eta_run_s; s->first_epoch = p->eta_s; }
        return;
    }
    if (!s->ends++) s->end1 = p->eta_run_s;
    s->end_last = p->eta_run_s;
}

TEST(train_progress_run_eta) {
    ferc_dataset d;
    synth(&d, 140, 7);
    ferc_train_opts o;
    ferc_error err;
    ferc_model *m = NULL;
    eta_seen s = {0};
    small_opts(&o, 3, NULL, 0);
    o.progress = on_eta; o.progress_user = &s;
    CHECK_EQ_INT(ferc_train(&d, &o, &m, &err), FERC_OK);
    /* in epoch 1 of 3 the run has two more epochs than the epoch; after epoch 1, two remain; at the end none */
    CHECK_MSG(s.batches > 0 && s.first_run > s.first_epoch + 1e-9, "run %g, epoch %g", s.first_run, s.first_epoch);
    CHECK(s.ends == 3 && s.end1 > 0 && s.end_last == 0);
    ferc_model_free(m);
    ferc_dataset_free(&d);
}
