/* test_tune.c — `ferc tune`: the search-space parser and its errors, the
 * samplers (deterministic, in range, every choice reached), the rungs and
 * promotions of successive halving and ASHA on made-up trials, and the
 * command itself: a tiny search on a synthetic CSV that is killed (kill -9,
 * trials and all) and resumed, ending where an uninterrupted search ends. */
#include "cli_util.h"
#include "test.h"

#include "ferc.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static ferc_space *parse(const char *text, ferc_error *err) {
    ferc_space *s = NULL;
    *err = (ferc_error){0};
    if (ferc_space_parse(text, "space.txt", &s, err) != FERC_OK) return NULL;
    return s;
}

TEST(tune_space_parses_the_three_kinds) {
    ferc_error err;
    ferc_space *s = parse("# a comment\nlr = loguniform(1e-4, 1e-2)\n\n--optimizer = choice(adam, sgd)  # trailing\n"
                          "augment.zoom=uniform(0,0.3)\n", &err);
    CHECK_MSG(s, "%s", err.msg);
    if (!s) return;
    CHECK_EQ_INT(ferc_space_keys(s), 3);
    CHECK(!strcmp(ferc_space_key(s, 0), "lr"));
    CHECK(!strcmp(ferc_space_key(s, 1), "optimizer"));
    CHECK(!strcmp(ferc_space_key(s, 2), "augment.zoom"));
    CHECK(ferc_space_key(s, 3) == NULL);
    ferc_space_free(s);
}

TEST(tune_space_errors_name_the_line) {
    static const struct { const char *text, *want; } cases[] = {
        {"lr loguniform(1e-4, 1e-2)\n", ":1: expected key ="},
        {"\nlr = normal(0, 1)\n", ":2: unknown distribution"},
        {"lr = loguniform(0, 1)\n", "bounds above 0"},
        {"lr = uniform(1, 1)\n", "low end must be below"},
        {"lr = uniform(a, 1)\n", "two numbers"},
        {"lr = uniform(0, 1, 2)\n", "two numbers"},
        {"lr = choice()\n", "empty"},
        {"lr = choice(1, 2\n", "expected choice"},
        {"1lr = choice(1)\n", "without its dashes"},
        {"lr = choice(1)\nlr = choice(2)\n", ":2: key given twice"},
        {"# nothing\n\n", "nothing to search"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ferc_error err;
        ferc_space *s = parse(cases[i].text, &err);
        CHECK_MSG(!s && err.status == FERC_ERR_PARSE && strstr(err.msg, cases[i].want), "case %zu: '%s'", i, err.msg);
        ferc_space_free(s);
    }
}

TEST(tune_samples_are_deterministic_and_in_range) {
    ferc_error err;
    ferc_space *s = parse("lr = loguniform(1e-4, 1e-2)\nbatch = choice(16, 32, 64)\nwd = uniform(0, 0.5)\n", &err);
    if (!s) { CHECK_MSG(0, "%s", err.msg); return; }
    for (int sm = 0; sm < 2; sm++) {
        int seen[3] = {0};
        double lo_seen = 1, hi_seen = 0;
        for (int t = 0; t < 60; t++) {
            char a[3][64], b[3][64];
            CHECK(ferc_space_sample(s, (ferc_sampler)sm, 7, t, a, &err) == FERC_OK);
            CHECK(ferc_space_sample(s, (ferc_sampler)sm, 7, t, b, &err) == FERC_OK);
            for (int k = 0; k < 3; k++) CHECK(!strcmp(a[k], b[k]));
            double lr = atof(a[0]), wd = atof(a[2]);
            CHECK_MSG(lr >= 1e-4 * 0.999 && lr <= 1e-2 * 1.001, "lr %s", a[0]);
            CHECK_MSG(wd >= 0 && wd <= 0.5, "wd %s", a[2]);
            lo_seen = fmin(lo_seen, lr); hi_seen = fmax(hi_seen, lr);
            int c = !strcmp(a[1], "16") ? 0 : !strcmp(a[1], "32") ? 1 : !strcmp(a[1], "64") ? 2 : -1;
            CHECK_MSG(c >= 0, "batch %s", a[1]);
            if (c >= 0) seen[c]++;
        }
        CHECK(seen[0] && seen[1] && seen[2]);
        CHECK_MSG(lo_seen < 3e-4 && hi_seen > 3e-3, "loguniform covers its range: %g..%g", lo_seen, hi_seen);
    }
    char x[3][64], y[3][64];
    ferc_space_sample(s, FERC_SAMPLER_HALTON, 1, 0, x, &err);
    ferc_space_sample(s, FERC_SAMPLER_HALTON, 2, 0, y, &err);
    CHECK_MSG(strcmp(x[0], y[0]) || strcmp(x[2], y[2]), "another search seed gives other points");
    ferc_space_free(s);
}

/* Halton points fill [0,1) more evenly than random ones: over 16 trials,
 * every quarter of a uniform key gets 3 to 5 of them. */
TEST(tune_halton_is_even) {
    ferc_error err;
    ferc_space *s = parse("x = uniform(0, 1)\n", &err);
    if (!s) return;
    int q[4] = {0};
    for (int t = 0; t < 16; t++) {
        char v[1][64];
        ferc_space_sample(s, FERC_SAMPLER_HALTON, 3, t, v, &err);
        int k = (int)(atof(v[0]) * 4);
        if (k >= 0 && k < 4) q[k]++;
    }
    for (int k = 0; k < 4; k++) CHECK_MSG(q[k] >= 3 && q[k] <= 5, "quarter %d: %d of 16", k, q[k]);
    ferc_space_free(s);
}

TEST(tune_rungs) {
    int r[16];
    CHECK_EQ_INT(ferc_tune_rungs(1, 9, 3, r, 16), 3);
    CHECK(r[0] == 1 && r[1] == 3 && r[2] == 9);
    CHECK_EQ_INT(ferc_tune_rungs(3, 20, 3, r, 16), 3);
    CHECK(r[0] == 3 && r[1] == 9 && r[2] == 20);
    CHECK_EQ_INT(ferc_tune_rungs(5, 5, 3, r, 16), 1);
    CHECK_EQ_INT(ferc_tune_rungs(0, 5, 3, r, 16), 0);
    CHECK_EQ_INT(ferc_tune_rungs(2, 1, 3, r, 16), 0);
}

/* Trials with a constant figure per epoch (score s from epoch 1 on). */
static void trials(ferc_tune_trial *t, float best[][9], const int *epochs, const float *score, int n) {
    for (int i = 0; i < n; i++) {
        for (int e = 0; e < 9; e++) best[i][e] = score[i];
        t[i] = (ferc_tune_trial){.epochs_done = epochs[i], .best = best[i]};
    }
}

TEST(tune_successive_halving_by_rungs) {
    const int rungs[] = {1, 3, 9};
    ferc_tune_trial t[6];
    float best[6][9];
    int to = 0;
    /* all short of rung 0: the first idle one goes to 1 epoch */
    trials(t, best, (int[]){0, 0, 0, 0, 0, 0}, (float[]){.1f, .2f, .3f, .4f, .5f, .6f}, 6);
    t[0].target = 1;   /* already running */
    CHECK_EQ_INT(ferc_tune_next(t, 6, rungs, 3, 3, 1, &to), 1);
    CHECK_EQ_INT(to, 1);
    /* rung 0 done by all but one running trial: nothing may be promoted yet */
    trials(t, best, (int[]){1, 1, 1, 1, 1, 0}, (float[]){.1f, .2f, .3f, .4f, .5f, .6f}, 6);
    t[5].target = 1;
    CHECK_EQ_INT(ferc_tune_next(t, 6, rungs, 3, 3, 1, &to), -1);
    /* rung 0 closed: the best 6/3 = 2 go on to 3 epochs, best first */
    t[5].target = 0; t[5].epochs_done = 1;
    CHECK_EQ_INT(ferc_tune_next(t, 6, rungs, 3, 3, 1, &to), 5);
    CHECK_EQ_INT(to, 3);
    t[5].epochs_done = 3;
    CHECK_EQ_INT(ferc_tune_next(t, 6, rungs, 3, 3, 1, &to), 4);
    t[4].epochs_done = 3;
    /* rung 1 closed with 2 trials: max(1, 2/3) = 1 goes to 9, then the search is over */
    CHECK_EQ_INT(ferc_tune_next(t, 6, rungs, 3, 3, 1, &to), 5);
    CHECK_EQ_INT(to, 9);
    t[5].epochs_done = 9;
    CHECK_EQ_INT(ferc_tune_next(t, 6, rungs, 3, 3, 1, &to), -1);
    /* a failed trial is left out of the ranking */
    trials(t, best, (int[]){1, 1, 1}, (float[]){.9f, .2f, .1f}, 3);
    t[0].failed = 1;
    CHECK_EQ_INT(ferc_tune_next(t, 3, rungs, 3, 3, 1, &to), 1);
}

TEST(tune_asha_promotes_early) {
    const int rungs[] = {1, 3, 9};
    ferc_tune_trial t[4];
    float best[4][9];
    int to = 0;
    /* two trials at rung 0: 2/3 = 0 promotable, and nothing is short: new trials (-1) */
    trials(t, best, (int[]){1, 1}, (float[]){.5f, .4f}, 2);
    CHECK_EQ_INT(ferc_tune_next(t, 2, rungs, 3, 3, 0, &to), -1);
    /* a third completes rung 0: its top third (the best, trial 2) is promoted at once */
    trials(t, best, (int[]){1, 1, 1}, (float[]){.5f, .4f, .7f}, 3);
    CHECK_EQ_INT(ferc_tune_next(t, 3, rungs, 3, 3, 0, &to), 2);
    CHECK_EQ_INT(to, 3);
    /* a trial killed inside rung 0 is resumed before new trials */
    trials(t, best, (int[]){1, 1, 0}, (float[]){.5f, .4f, 0}, 3);
    CHECK_EQ_INT(ferc_tune_next(t, 3, rungs, 3, 3, 0, &to), 2);
    CHECK_EQ_INT(to, 1);
}

/* ------------------------------------------------------------------------ */
/* The command                                                               */
/* ------------------------------------------------------------------------ */

#define TUNE_ARCH "spec:48:conv4 relu pool flatten dense7"

static const char *tune_cmd(const char *ferc, const char *csv, const char *space, const char *out, const char *extra) {
    static char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s tune --space %s --trials 4 --min-epochs 1 --epochs 3 --out %s --threads 1 "
             "--data %s --arch '" TUNE_ARCH "' --seed 3 %s", ferc, space, out, csv, extra);
    return cmd;
}

static int wait_exit(pid_t pid) {
    int st = 0;
    if (waitpid(pid, &st, 0) != pid) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The "score" values of leaderboard.json in order, as text (the file is
 * the search's result: same search, same text). */
static char *scores(const char *dir) {
    char *j = test_read(test_path(dir, "leaderboard.json"), NULL);
    if (!j) return NULL;
    char *s = strstr(j, "\"trials\"");
    char *end = s ? strstr(s, "\"best\"") : NULL;
    if (end) *end = 0;
    char *r = strdup(s ? s : "");
    free(j);
    return r;
}

TEST(tune_cli_search_resumes_after_kill) {
    NEED_FERC();
    const char *dir = test_tmpdir(), *csv = cli_write_band_csv(dir, 420, 0);
    char space[1024];   /* test_path's buffers rotate */
    snprintf(space, sizeof space, "%s", test_path(dir, "space.txt"));
    const char *sp = "lr = loguniform(3e-4, 3e-2)\noptimizer = choice(adam, sgd)\naugment.flip = choice(true, false)\n";
    CHECK(test_write(space, sp, strlen(sp)));
    char ref[1024], cut[1024];
    snprintf(ref, sizeof ref, "%s", test_path(dir, "ref"));
    snprintf(cut, sizeof cut, "%s", test_path(dir, "cut"));
    CHECK_EQ_INT(cli_run(dir, "%s", tune_cmd(ferc, csv, space, ref, "")), 0);
    char *out = cli_out(dir), *err = cli_err(dir);
    CHECK_MSG(strstr(out, "rank") && strstr(out, "done") && strstr(out, "pruned") && strstr(out, "--out best.ferc"),
              "stdout: %s", out);
    free(out); free(err);
    ferc_model *m = NULL;
    ferc_error e = {0};
    CHECK_MSG(ferc_model_load(test_path(ref, "best.ferc"), &m, &e) == FERC_OK, "%s", e.msg);
    ferc_model_free(m);
    CHECK(test_exists(test_path(ref, "curves.png")) && test_exists(test_path(ref, "index.html")));
    /* the same search, killed with -9 once its first trial has a model, then resumed */
    pid_t pid = fork();
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", tune_cmd(ferc, csv, space, cut, ">/dev/null 2>&1"), (char *)NULL);
        _exit(127);
    }
    char first[1100];
    snprintf(first, sizeof first, "%s/trial-001/model.ferc", cut);
    for (int i = 0; i < 600 && !test_exists(first); i++) usleep(20000);
    kill(pid, SIGKILL);   /* sh dies; its ferc tune child too: */
    if (system("pkill -9 -f 'tune --space .*/cut ' >/dev/null 2>&1")) {}
    wait_exit(pid);
    CHECK_MSG(test_exists(first), "the first trials did not run");
    int rc = cli_run(dir, "%s", tune_cmd(ferc, csv, space, cut, ""));
    err = cli_err(dir);
    CHECK_MSG(rc == 2 && strstr(err, "--resume continues it"), "without --resume: %d %s", rc, err);
    free(err);
    CHECK_EQ_INT(cli_run(dir, "%s", tune_cmd(ferc, csv, space, cut, "--resume")), 0);
    err = cli_err(dir);
    CHECK_MSG(strstr(err, "resuming the search"), "stderr: %s", err);
    free(err);
    char *a = scores(ref), *b = scores(cut);
    CHECK_MSG(a && b && !strcmp(a, b), "killed and resumed:\n%s\nuninterrupted:\n%s", b ? b : "?", a ? a : "?");
    free(b);
    /* two trials at a time: each trial is the same process, so the same search */
    char par[1024];
    snprintf(par, sizeof par, "%s", test_path(dir, "par"));
    CHECK_EQ_INT(cli_run(dir, "%s", tune_cmd(ferc, csv, space, par, "--jobs 2")), 0);
    b = scores(par);
    CHECK_MSG(a && b && !strcmp(a, b), "--jobs 2:\n%s\n--jobs 1:\n%s", b ? b : "?", a ? a : "?");
    free(a); free(b);
}

TEST(tune_cli_refuses_bad_input) {
    NEED_FERC();
    const char *dir = test_tmpdir();
    char space[1024], bad[1024], own[1024];   /* test_path's buffers rotate */
    snprintf(space, sizeof space, "%s", test_path(dir, "space.txt"));
    snprintf(bad, sizeof bad, "%s", test_path(dir, "bad.txt"));
    snprintf(own, sizeof own, "%s", test_path(dir, "own.txt"));
    CHECK(test_write(space, "lr = choice(0.001)\n", 19));
    CHECK(test_write(bad, "lrr = choice(0.001)\n", 20));
    CHECK(test_write(own, "epochs = choice(3)\n", 19));
    static const struct { const char *args, *want; } cases[] = {
        {"--trials 2 --out o", "--space FILE is required"},
        {"--space SPACE --out o", "--trials N or --budget T"},
        {"--space SPACE --trials 2", "--out DIR is required"},
        {"--space SPACE --trials 2 --out o --budget 2x", "not a time"},
        {"--space SPACE --trials 2 --out o --min-epochs 5 --epochs 3", "more than --epochs"},
        {"--space SPACE --trials 2 --out o --stop-after 2", "set by ferc tune"},
        {"--space SPACE --trials 2 --out o --lr 0.1", "both in the space and on the command line"},
        {"--space SPACE --trials 2 --out o --arhc seed", "did you mean"},
        {"--space BAD --trials 2 --out o", "'lrr' is not a ferc train option"},
        {"--space OWN --trials 2 --out o", "'epochs' is set by ferc tune"},
        {"--space nope.txt --trials 2 --out o", "nope.txt"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char args[512], *p;
        snprintf(args, sizeof args, "%s", cases[i].args);
        const char *sub = NULL;
        if ((p = strstr(args, "SPACE"))) sub = space;
        else if ((p = strstr(args, "BAD"))) sub = bad;
        else if ((p = strstr(args, "OWN"))) sub = own;
        char cmd[2048];
        if (p) {
            size_t k = strcspn(p, " ");
            snprintf(cmd, sizeof cmd, "%s tune %.*s%s%s", ferc, (int)(p - args), args, sub, p + k);
        } else snprintf(cmd, sizeof cmd, "%s tune %s", ferc, args);
        int rc = cli_run(dir, "%s", cmd);
        char *e = cli_err(dir);
        CHECK_MSG(rc != 0 && strstr(e, cases[i].want) && cli_count_lines(e) <= 2, "case %zu (%s): rc %d: %s", i,
                  cases[i].args, rc, e);
        free(e);
    }
}
