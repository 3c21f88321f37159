/* cmd_tune.c — `ferc tune`: hyperparameter search over `ferc train`
 * options with successive halving over epochs (Hyperband's bracket when the
 * number of trials is given, ASHA under a time budget), trials run as
 * `ferc train` processes (tune_run.c), leaderboard and best model at the
 * end (tune_report.c).
 *
 * Everything a restarted search needs is on disk: the trials' values are a
 * function of (space, sampler, seed, trial number), their progress is their
 * model files' history, and DIR/tune.state holds only the count of trials,
 * the failed ones and the time spent. Validation split only: the trials
 * never see test rows. */
#include "tune.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void help(void) {
    printf(
        "usage: ferc tune --space FILE (--trials N | --budget T) --out DIR [options] [ferc train options]\n\n"
        "Searches ferc train options for the best validation figure. Each trial is a\n"
        "configuration sampled from the space file and trained by `ferc train` (its log,\n"
        "model and checkpoint in DIR/trial-NNN/); successive halving trains every trial\n"
        "for --min-epochs, goes on with the best 1/--eta of them to min x eta epochs, and so\n"
        "on up to --epochs. Only the validation split carved from the training rows is used.\n\n"
        "space file, one key per line ('#' comments; key = a ferc train option without --):\n"
        "  lr = loguniform(1e-4, 1e-2)\n"
        "  optimizer = choice(adam, sgd)\n"
        "  label-smoothing = uniform(0, 0.2)\n"
        "  tune-class-bias = choice(true, false)      (a flag: given or left out)\n"
        "  augment.zoom = uniform(0, 0.3)             (--augment zoom=VALUE)\n"
        "  augment.flip = choice(true, false)         (--augment flip, or nothing)\n\n"
        "search:\n"
        "  --space FILE         the search space (required)\n"
        "  --trials N           N trials, successive halving by whole rungs (Hyperband bracket)\n"
        "  --budget T           time budget, e.g. 2h, 45m, 90s: ASHA (a trial is promoted as\n"
        "                       soon as it is in the top 1/eta of its rung; new trials start\n"
        "                       while time is left); with --trials too, at most N trials\n"
        "  --out DIR            trials, leaderboard.json, index.html, curves.png, best.ferc\n"
        "  --epochs R           epochs of a full trial (9); --min-epochs r (1); --eta E (3)\n"
        "  --metric M           accuracy or macro-f1 on the validation split (accuracy)\n"
        "  --sampler S          halton (even coverage, seeded shift) or random (halton)\n"
        "  --search-seed N      seed of the sampler (1); the trials' own --seed is a train option\n"
        "  --jobs J             trials trained at once (1), each with threads/J threads\n"
        "  --threads N          threads in all, 0 = every core (0)\n"
        "  --resume             continue the search in DIR (after Ctrl-C, kill or a reboot)\n\n"
        "Every other option goes to each trial's ferc train (--data, --arch, --limit, --augment\n"
        "...); tune sets --epochs, --stop-after, --out, --select and --threads itself.\n\n"
        "output: one line per rung on stderr; at the end the leaderboard on stdout, DIR/best.ferc\n"
        "(the best trial's model) and the ferc train command that trains its configuration.\n"
        "DIR/leaderboard.json: {\"trials\": [{\"trial\", \"rank\", \"status\", \"epochs\", \"score\",\n"
        "\"config\": {key: value}, \"history\": [validation figure per epoch]}], \"best\": {...}}.\n"
        "Ctrl-C stops the trials (each keeps its last epoch) and prints the command to resume.\n\n"
        "examples:\n"
        "  ferc tune --space examples/space.txt --trials 9 --epochs 9 --out runs/tune --arch seed\n"
        "  ferc tune --space examples/space.txt --budget 2h --epochs 27 --min-epochs 3 --jobs 2 \\\n"
        "            --out runs/tune2 --arch seed2 --augment flip\n"
        "  ferc tune --space examples/space.txt --trials 9 --epochs 9 --out runs/tune --arch seed --resume\n");
}

static const char *const tune_options[] = {"--space", "--trials", "--budget", "--out", "--epochs", "--min-epochs",
                                           "--eta", "--metric", "--sampler", "--search-seed", "--jobs",
                                           "--threads", "--resume", "--help", NULL};
/* train options tune sets itself */
static const char *const owned[] = {"--epochs", "--stop-after", "--out", "--checkpoint", "--select", "--threads",
                                    "--resume", "--force", "--plot", "--quiet", "--help", NULL};

static int in_list(const char *const *l, const char *s) {
    for (int i = 0; l[i]; i++) if (!strcmp(l[i], s)) return 1;
    return 0;
}

/* "2h", "45m", "90s", "1h30m" or seconds; -1 when malformed. */
static double parse_budget(const char *v) {
    double total = 0;
    const char *p = v;
    while (*p) {
        char *end;
        double x = strtod(p, &end);
        if (end == p || !(x >= 0)) return -1;
        double unit = *end == 'h' ? 3600 : *end == 'm' ? 60 : 1;
        if (*end == 'h' || *end == 'm' || *end == 's') end++;
        else if (*end) return -1;
        total += x * unit;
        p = end;
    }
    return total > 0 ? total : -1;
}

/* A ferc train option tune passes on: its name (before '='), checked. */
static int pass_option(tune_search *s, char **argv, int i) {
    char name[128];
    snprintf(name, sizeof name, "%s", argv[i]);
    name[strcspn(name, "=")] = 0;
    if (in_list(owned, name))
        return cli_usage_error("tune", "%s is set by ferc tune for each trial; leave it out", name);
    if (!cmd_train_has_option(name)) {   /* a typo of a train option, else of a tune one */
        const char *near = cli_suggest(name, cmd_train_options());
        if (near) return cli_usage_error("tune", "unknown option '%s'; did you mean '%s'?", name, near);
        return cli_unknown_option("tune", argv[i], tune_options);
    }
    s->pass[s->npass++] = argv[i];
    return -1;
}

#define VAL() do { if (!(v = cli_value(argc, argv, &i, a))) return 2; } while (0)
#define INT(lo, hi, p) do { VAL(); if (!cli_int("tune", a, v, lo, hi, p)) return 2; } while (0)
static int tune_option(tune_search *s, int argc, char **argv, int *ip) {
    int i = *ip, rc = -1;
    const char *a = argv[i], *v;
    if (cli_is(a, "--space")) { VAL(); s->space_path = v; }
    else if (cli_is(a, "--out")) { VAL(); s->dir = v; }
    else if (cli_is(a, "--trials")) INT(1, TUNE_MAX_TRIALS, &s->trials);
    else if (cli_is(a, "--epochs")) INT(1, 100000, &s->max_epochs);
    else if (cli_is(a, "--min-epochs")) INT(1, 100000, &s->min_epochs);
    else if (cli_is(a, "--eta")) INT(2, 100, &s->eta);
    else if (cli_is(a, "--jobs")) INT(1, 64, &s->jobs);
    else if (cli_is(a, "--threads")) { VAL(); if (!cli_threads("tune", a, v, &s->threads)) return 2; }
    else if (cli_is(a, "--budget")) {
        VAL();
        if ((s->budget_s = parse_budget(v)) < 0) return cli_usage_error("tune", "--budget: '%s' is not a time like 2h, 45m, 90s", v);
    } else if (cli_is(a, "--metric")) {
        VAL();
        if (strcmp(v, "accuracy") && strcmp(v, "macro-f1")) return cli_usage_error("tune", "--metric: '%s' is not accuracy or macro-f1", v);
        s->by_f1 = !strcmp(v, "macro-f1");
    } else if (cli_is(a, "--sampler")) {
        VAL();
        if (strcmp(v, "halton") && strcmp(v, "random")) return cli_usage_error("tune", "--sampler: '%s' is not halton or random", v);
        s->sampler = strcmp(v, "halton") ? FERC_SAMPLER_RANDOM : FERC_SAMPLER_HALTON;
    } else if (cli_is(a, "--search-seed")) {
        VAL();
        char *end;
        errno = 0;
        s->search_seed = strtoull(v, &end, 10);
        if (*end || end == v || errno) return cli_usage_error("tune", "--search-seed: '%s' is not a whole number", v);
    } else if (!strcmp(a, "--resume")) s->resume = 1;
    else rc = 0;
    *ip = i;
    return rc;
}
#undef INT
#undef VAL

static int parse_args(tune_search *s, int argc, char **argv) {
    s->pass = calloc((size_t)argc + 1, sizeof *s->pass);
    if (!s->pass) { fprintf(stderr, "ferc tune: out of memory\n"); return 1; }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { help(); return 0; }
        int rc = tune_option(s, argc, argv, &i);   /* -1 taken, 0 not a tune option, else an error */
        if (rc == -1) continue;
        if (rc > 0) return rc;
        if (a[0] == '-' && a[1] == '-') { if ((rc = pass_option(s, argv, i)) >= 0) return rc; }
        else if (i > 1 && argv[i - 1][0] == '-' && s->npass && s->pass[s->npass - 1] == argv[i - 1])
            s->pass[s->npass++] = argv[i];   /* the value of the train option before it */
        else return cli_usage_error("tune", "unexpected argument '%s'", a);
    }
    return -1;
}

/* The key of the space as a train option: "--lr", or "--augment" for augment.X. */
static int check_space(const tune_search *s) {
    for (int k = 0; k < ferc_space_keys(s->space); k++) {
        const char *key = ferc_space_key(s->space, k);
        char opt[80];
        snprintf(opt, sizeof opt, "--%s", key);
        if (!strncmp(key, "augment.", 8)) continue;
        if (in_list(owned, opt))
            return cli_usage_error("tune", "%s: '%s' is set by ferc tune (use --epochs/--min-epochs)", s->space_path, key);
        if (!cmd_train_has_option(opt)) {
            fprintf(stderr, "ferc tune: %s: '%s' is not a ferc train option (see ferc train --help)\n", s->space_path, key);
            return 2;
        }
        for (int j = 0; j < s->npass; j++)
            if (!strncmp(s->pass[j], opt, strlen(opt)) && (s->pass[j][strlen(opt)] == 0 || s->pass[j][strlen(opt)] == '='))
                return cli_usage_error("tune", "%s is both in the space and on the command line", opt);
    }
    return -1;
}

static int check_args(tune_search *s) {
    if (!s->space_path) return cli_usage_error("tune", "--space FILE is required (see ferc tune --help)");
    if (!s->dir) return cli_usage_error("tune", "--out DIR is required");
    if (!s->trials && !s->budget_s) return cli_usage_error("tune", "give --trials N or --budget T (or both)");
    if (s->min_epochs > s->max_epochs)
        return cli_usage_error("tune", "--min-epochs %d is more than --epochs %d", s->min_epochs, s->max_epochs);
    ferc_error err = {0};
    if (ferc_space_load(s->space_path, &s->space, &err) != FERC_OK) return cli_error(&err);
    int rc = check_space(s);
    if (rc >= 0) return rc;
    s->nrungs = ferc_tune_rungs(s->min_epochs, s->max_epochs, s->eta, s->rungs, TUNE_MAX_RUNGS);
    s->sync = s->budget_s == 0;
    int per = ferc_threads(s->threads) / s->jobs;
    s->threads = per > 0 ? per : 1;
    return -1;
}

/* ------------------------------------------------------------------------ */
/* DIR/tune.state                                                            */
/* ------------------------------------------------------------------------ */

/* What must not change when a search is resumed: the space file's text,
 * sampler, seed, rungs and the options given to every trial (FNV-1a). */
static unsigned long long settings_hash(const tune_search *s) {
    unsigned long long h = 1469598103934665603ull;
    unsigned char *text = NULL;
    size_t len = 0;
    FILE *f = fopen(s->space_path, "rb");
    if (f) {
        text = malloc(1 << 20);
        if (text) len = fread(text, 1, 1 << 20, f);
        fclose(f);
    }
    for (size_t i = 0; i < len; i++) h = (h ^ text[i]) * 1099511628211ull;
    free(text);
    char buf[256];
    snprintf(buf, sizeof buf, "|%d|%llu|%d|%d|%d|%d|", (int)s->sampler, s->search_seed, s->min_epochs, s->max_epochs,
             s->eta, s->by_f1);
    for (const char *p = buf; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
    for (int k = 0; k < s->npass; k++)
        for (const char *p = s->pass[k]; ; p++) { h = (h ^ (unsigned char)*p) * 1099511628211ull; if (!*p) break; }
    return h;
}

static void save_state(const tune_search *s) {
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/tune.state", s->dir);
    snprintf(tmp, sizeof tmp, "%s/.tune.state.tmp%ld", s->dir, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) { fprintf(stderr, "ferc tune: %s: %s\n", tmp, strerror(errno)); return; }
    fprintf(f, "ferc-tune-state 1\nsettings %016llx\ntrials %d\nspent %.1f\n", settings_hash(s), s->n,
            s->spent_before + (ferc_now() - s->started));
    for (int i = 0; i < s->n; i++)
        if (s->t[i].failed) fprintf(f, "failed %d %s\n", i, s->t[i].why);
    if (fclose(f) != 0 || rename(tmp, path) != 0) { fprintf(stderr, "ferc tune: %s: %s\n", path, strerror(errno)); unlink(tmp); }
}

static int state_line(tune_search *s, const char *line, unsigned long long *hash, int *ntrials) {
    int i, off = 0;
    if (sscanf(line, "settings %llx", hash) == 1) return 0;
    if (sscanf(line, "trials %d", ntrials) == 1) return *ntrials < 0 || *ntrials > TUNE_MAX_TRIALS;
    if (sscanf(line, "spent %lf", &s->spent_before) == 1) return !(s->spent_before >= 0);
    if (sscanf(line, "failed %d %n", &i, &off) == 1 && off > 0) {
        if (i < 0 || i >= s->n) return 1;
        s->t[i].failed = 1;
        snprintf(s->t[i].why, sizeof s->t[i].why, "%s", line + off);
        s->t[i].why[strcspn(s->t[i].why, "\n")] = 0;
    }
    return 0;
}

/* Read DIR/tune.state back (after --resume): 0, or 1/2 after saying why. */
static int load_state(tune_search *s, FILE *f, const char *path) {
    char line[512];
    unsigned long long hash = 0;
    int ntrials = -1, bad = 0;
    if (!fgets(line, sizeof line, f) || strncmp(line, "ferc-tune-state 1", 17) != 0) bad = 1;
    while (!bad && fgets(line, sizeof line, f)) {
        if (ntrials >= 0 && s->n < ntrials) {   /* trials first, so failed lines find them */
            while (s->n < ntrials) if (tune_trial_add(s)) return 1;
        }
        bad = state_line(s, line, &hash, &ntrials);
    }
    while (!bad && ntrials > 0 && s->n < ntrials) if (tune_trial_add(s)) return 1;
    if (bad || ntrials < 0) { fprintf(stderr, "ferc tune: %s: not a ferc tune state file\n", path); return 1; }
    if (hash != settings_hash(s)) {
        fprintf(stderr, "ferc tune: %s holds a search with another space, sampler, seed, epochs or train options: "
                        "give those again, or another --out\n", s->dir);
        return 2;
    }
    for (int i = 0; i < s->n; i++) tune_trial_refresh(s, i);
    return 0;
}

/* The folder, its lock (held by this search and inherited by its trials, so
 * a second search waits until the first one's trials have stopped) and the
 * earlier state. */
static int open_dir(tune_search *s) {
    char path[4096];
    if (mkdir(s->dir, 0777) != 0 && errno != EEXIST) { fprintf(stderr, "ferc tune: %s: %s\n", s->dir, strerror(errno)); return 1; }
    snprintf(path, sizeof path, "%s/tune.lock", s->dir);
    s->lock_fd = open(path, O_WRONLY | O_CREAT, 0666);
    if (s->lock_fd < 0) { fprintf(stderr, "ferc tune: %s: %s\n", path, strerror(errno)); return 1; }
    if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        fprintf(stderr, "ferc tune: waiting for another search in %s (or its trials) to stop\n", s->dir);
        if (flock(s->lock_fd, LOCK_EX) != 0) { fprintf(stderr, "ferc tune: %s: %s\n", path, strerror(errno)); return 1; }
    }
    snprintf(path, sizeof path, "%s/tune.state", s->dir);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    if (!s->resume) {
        fclose(f);
        fprintf(stderr, "ferc tune: %s holds a search: --resume continues it, or give another --out\n", s->dir);
        return 2;
    }
    int rc = load_state(s, f, path);
    fclose(f);
    if (!rc) fprintf(stderr, "resuming the search in %s: %d trials so far\n", s->dir, s->n);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* The search loop                                                           */
/* ------------------------------------------------------------------------ */

static volatile sig_atomic_t stop_signal;
static void on_signal(int sig) { stop_signal = sig; }

static void stop_trials(tune_search *s, const char *why) {
    if (s->stopping) return;
    s->stopping = 1;
    if (s->running) fprintf(stderr, "ferc tune: %s: stopping %d trial%s (each keeps its last whole epoch)\n", why,
                            s->running, s->running == 1 ? "" : "s");
    for (int i = 0; i < s->n; i++)
        if (s->t[i].pid) kill(s->t[i].pid, SIGTERM);
}

static int budget_left(const tune_search *s) {
    return !s->budget_s || s->spent_before + (ferc_now() - s->started) < s->budget_s;
}

/* The next trial to train and its target, adding a trial when ASHA has
 * nothing to promote and the budget allows one more. */
static int next_trial(tune_search *s, int *to) {
    ferc_tune_trial v[TUNE_MAX_TRIALS];
    for (int i = 0; i < s->n; i++)
        v[i] = (ferc_tune_trial){.epochs_done = s->t[i].epochs, .target = s->t[i].target, .failed = s->t[i].failed,
                                 .best = s->t[i].best};
    int i = ferc_tune_next(v, s->n, s->rungs, s->nrungs, s->eta, s->sync, to);
    if (i >= 0 || s->sync || !budget_left(s) || (s->trials && s->n >= s->trials)) return i;
    if (tune_trial_add(s)) return -2;
    save_state(s);
    *to = s->rungs[0];
    return s->n - 1;
}

static void say_launch(const tune_search *s, int i, int to) {
    fprintf(stderr, "trial %d: epochs %d -> %d ", i, s->t[i].epochs, to);
    for (int k = 0; k < ferc_space_keys(s->space); k++)
        fprintf(stderr, " %s=%s", ferc_space_key(s->space, k), s->t[i].values[k]);
    fputc('\n', stderr);
}

static void reap(tune_search *s, pid_t pid, int status) {
    int who = -1;
    for (int i = 0; i < s->n; i++) if (s->t[i].pid == pid) who = i;
    tune_trial_exited(s, pid, status);
    if (who < 0) return;
    const tune_trial *x = &s->t[who];
    if (x->failed) fprintf(stderr, "trial %d failed: %s\n", who, x->why);
    else if (x->epochs)
        fprintf(stderr, "trial %d: epoch %d/%d, best %s %.4f\n", who, x->epochs, s->max_epochs,
                s->by_f1 ? "val_macro_f1" : "val_accuracy", x->best[x->epochs - 1]);
    save_state(s);
    tune_write_views(s, 0);
}

static int search(tune_search *s) {
    for (;;) {
        if (stop_signal) stop_trials(s, "interrupted");
        if (!budget_left(s)) stop_trials(s, "the budget is spent");
        while (!s->stopping && s->running < s->jobs) {
            int to, i = next_trial(s, &to);
            if (i == -2) return 1;
            if (i < 0) break;
            say_launch(s, i, to);
            if (tune_trial_launch(s, i, to)) return 1;
        }
        if (s->running == 0) return 0;
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid > 0) { reap(s, pid, status); continue; }
        if (pid < 0 && errno != EINTR) { fprintf(stderr, "ferc tune: waitpid: %s\n", strerror(errno)); return 1; }
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 200000000};
        nanosleep(&ts, NULL);
    }
}

static void print_resume(int argc, char **argv) {
    fprintf(stderr, "to resume: ");
    cli_put_quoted(stderr, program_invocation_name);
    int has = 0;
    for (int i = 0; i < argc; i++) { fputc(' ', stderr); cli_put_quoted(stderr, argv[i]); has |= !strcmp(argv[i], "--resume"); }
    fprintf(stderr, "%s\n", has ? "" : " --resume");
}

static int run(tune_search *s, int argc, char **argv) {
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    s->started = ferc_now();
    if (s->sync) while (s->n < s->trials) if (tune_trial_add(s)) return 1;
    save_state(s);
    fprintf(stderr, "ferc tune: %s, rungs", s->sync ? "successive halving" : "ASHA");
    for (int k = 0; k < s->nrungs; k++) fprintf(stderr, " %d", s->rungs[k]);
    fprintf(stderr, " epochs, eta %d, %d job%s x %d thread%s\n", s->eta, s->jobs, s->jobs == 1 ? "" : "s", s->threads,
            s->threads == 1 ? "" : "s");
    int rc = search(s);
    save_state(s);
    if (rc) { stop_trials(s, "error"); while (wait(NULL) > 0) {} return rc; }
    if (stop_signal) {
        tune_write_views(s, 0);
        print_resume(argc, argv);
        return 128 + stop_signal;
    }
    tune_write_views(s, 1);
    tune_print_leaderboard(s, stdout);
    rc = tune_finish_best(s);
    if (fflush(stdout) != 0 || ferror(stdout)) { fprintf(stderr, "ferc tune: writing the leaderboard to stdout failed\n"); return 1; }
    return rc;
}

int cmd_tune(int argc, char **argv) {
    tune_search s = {.min_epochs = 1, .max_epochs = 9, .eta = 3, .jobs = 1, .sampler = FERC_SAMPLER_HALTON,
                     .search_seed = 1, .lock_fd = -1};
    int rc = parse_args(&s, argc, argv);
    if (rc < 0) rc = check_args(&s);
    if (rc < 0) rc = open_dir(&s);
    if (rc == 0 && s.lock_fd >= 0) rc = run(&s, argc, argv);   /* not after --help */
    tune_trials_free(&s);
    ferc_space_free(s.space);
    free(s.pass);
    if (s.lock_fd >= 0) close(s.lock_fd);
    return rc;
}
