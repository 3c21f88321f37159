/* tune_run.c — the trials of `ferc tune` as `ferc train` processes: each
 * trial is a folder DIR/trial-NNN with its model (model.ferc), checkpoint
 * and log; it is trained rung by rung with `--stop-after`, and `--resume`
 * continues it bit for bit, so a trial is never trained twice and a killed
 * search loses at most the epoch that was running.
 *
 * Processes, not threads: a trial that fails (a diverging learning rate,
 * an option value train refuses) cannot take the search down, and its log
 * tells why. */
#include "tune.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int tune_trial_dir(const tune_search *s, int i, const char *name, char *buf, size_t cap) {
    int n = name ? snprintf(buf, cap, "%s/trial-%03d/%s", s->dir, i, name) : snprintf(buf, cap, "%s/trial-%03d", s->dir, i);
    return n > 0 && (size_t)n < cap;
}

/* A new trial: its values sampled and its folder made. 0, or 1 after saying why. */
int tune_trial_add(tune_search *s) {
    if (s->n >= TUNE_MAX_TRIALS) return 1;
    tune_trial *t = realloc(s->t, sizeof *t * (size_t)(s->n + 1));
    if (!t) { fprintf(stderr, "ferc tune: out of memory\n"); return 1; }
    s->t = t;
    tune_trial *x = &s->t[s->n];
    *x = (tune_trial){0};
    x->values = calloc((size_t)ferc_space_keys(s->space) + 1, sizeof *x->values);
    ferc_error err = {0};
    if (!x->values || ferc_space_sample(s->space, s->sampler, s->search_seed, s->n, x->values, &err) != FERC_OK) {
        free(x->values);
        fprintf(stderr, "ferc tune: %s\n", x->values ? err.msg : "out of memory");
        return 1;
    }
    char dir[4096];
    if (!tune_trial_dir(s, s->n, NULL, dir, sizeof dir) || (mkdir(dir, 0777) != 0 && errno != EEXIST)) {
        fprintf(stderr, "ferc tune: %s: %s\n", dir, strerror(errno));
        free(x->values);
        return 1;
    }
    s->n++;
    return 0;
}

/* The trial's history from its model file (none yet: 0 epochs). */
void tune_trial_refresh(tune_search *s, int i) {
    tune_trial *x = &s->t[i];
    char path[4096];
    ferc_model *m = NULL;
    ferc_error err = {0};
    x->epochs = 0;
    if (!tune_trial_dir(s, i, "model.ferc", path, sizeof path) || access(path, F_OK) != 0) return;
    if (ferc_model_load(path, &m, &err) != FERC_OK) return;
    const ferc_epoch_stats *h;
    const int nh = ferc_model_history(m, &h);
    float *hist = realloc(x->hist, sizeof(float) * (size_t)(nh + 1));
    float *best = realloc(x->best, sizeof(float) * (size_t)(nh + 1));
    if (hist) x->hist = hist;
    if (best) x->best = best;
    if (hist && best) {
        for (int e = 0; e < nh; e++) {
            float v = s->by_f1 ? h[e].val_macro_f1 : h[e].val_acc;
            x->hist[e] = isfinite(v) ? v : -1;
            x->best[e] = e && x->best[e - 1] > x->hist[e] ? x->best[e - 1] : x->hist[e];
        }
        x->epochs = nh;
    }
    ferc_model_free(m);
}

/* "--lr 0.001" or "--augment zoom=0.2" (or a bare flag) for each key. */
int tune_config_args(const tune_search *s, int i, char **argv, int cap, char (*buf)[TUNE_VAL + 16]) {
    int n = 0;
    for (int k = 0; k < ferc_space_keys(s->space) && n + 2 <= cap; k++) {
        const char *key = ferc_space_key(s->space, k), *v = s->t[i].values[k];
        if (strncmp(key, "augment.", 8) == 0) {
            if (!strcmp(v, "false") || !strcmp(v, "off")) continue;
            argv[n++] = "--augment";
            if (!strcmp(v, "true") || !strcmp(v, "on")) snprintf(buf[k], sizeof buf[k], "%s", key + 8);
            else snprintf(buf[k], sizeof buf[k], "%s=%s", key + 8, v);
            argv[n++] = buf[k];
            continue;
        }
        snprintf(buf[k], sizeof buf[k], "--%s", key);
        if (!strcmp(v, "false") || !strcmp(v, "off")) continue;   /* a flag left out */
        argv[n++] = buf[k];
        if (strcmp(v, "true") && strcmp(v, "on")) argv[n++] = (char *)v;
    }
    return n;
}

static void child_exec(const tune_search *s, int i, char **argv) {
    char log[4096];
    prctl(PR_SET_PDEATHSIG, SIGTERM);   /* a killed search stops its trials (they save) */
    if (!tune_trial_dir(s, i, "train.log", log, sizeof log)) _exit(127);
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0666);
    if (fd < 0) _exit(127);
    dup2(fd, 1); dup2(fd, 2);
    close(fd);
    signal(SIGINT, SIG_IGN);   /* Ctrl-C reaches the search, which stops the trials itself */
    execv("/proc/self/exe", argv);
    fprintf(stderr, "ferc tune: cannot run ferc train: %s\n", strerror(errno));
    _exit(127);
}

/* Start trial i towards `to` epochs: 0, or 1 after saying why. */
int tune_trial_launch(tune_search *s, int i, int to) {
    enum { CAP = 512 };
    char *argv[CAP], num[4][32], out[4096], cfg[TUNE_MAX_KEYS][TUNE_VAL + 16];
    int n = 0;
    argv[n++] = "ferc"; argv[n++] = "train";
    for (int k = 0; k < s->npass && n < CAP - 80; k++) argv[n++] = s->pass[k];
    n += tune_config_args(s, i, argv + n, CAP - 20 - n, cfg);
    tune_trial_dir(s, i, "model.ferc", out, sizeof out);
    snprintf(num[0], sizeof num[0], "%d", s->max_epochs);
    snprintf(num[1], sizeof num[1], "%d", to);
    snprintf(num[2], sizeof num[2], "%d", s->threads);
    argv[n++] = "--epochs"; argv[n++] = num[0];
    argv[n++] = "--stop-after"; argv[n++] = num[1];
    argv[n++] = "--out"; argv[n++] = out;
    argv[n++] = "--select"; argv[n++] = s->by_f1 ? "macro-f1" : "accuracy";
    argv[n++] = "--threads"; argv[n++] = num[2];
    argv[n++] = "--resume";
    argv[n] = NULL;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) { fprintf(stderr, "ferc tune: cannot start a trial: %s\n", strerror(errno)); return 1; }
    if (pid == 0) child_exec(s, i, argv);
    s->t[i].pid = pid;
    s->t[i].target = to;
    s->running++;
    return 0;
}

/* The last non-empty line of the trial's log: why it failed. */
static void last_log_line(const tune_search *s, int i, char *why, size_t cap) {
    char path[4096], line[1024];
    snprintf(why, cap, "ferc train failed");
    if (!tune_trial_dir(s, i, "train.log", path, sizeof path)) return;
    FILE *f = fopen(path, "r");
    if (!f) return;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!*line) continue;
        size_t k = strlen(line) < cap - 1 ? strlen(line) : cap - 1;   /* the line cut to fit */
        memcpy(why, line, k);
        why[k] = 0;
    }
    fclose(f);
}

void tune_trial_exited(tune_search *s, pid_t pid, int status) {
    for (int i = 0; i < s->n; i++) {
        tune_trial *x = &s->t[i];
        if (x->pid != pid) continue;
        x->pid = 0;
        s->running--;
        tune_trial_refresh(s, i);
        const int stopped_by_us = s->stopping && WIFEXITED(status) && WEXITSTATUS(status) == 128 + SIGTERM;
        if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0) && !stopped_by_us) {
            x->failed = 1;
            last_log_line(s, i, x->why, sizeof x->why);
        } else if (!stopped_by_us && x->epochs < x->target && x->epochs < s->max_epochs) {
            x->failed = 1;   /* it ended early without saying why: do not loop on it */
            snprintf(x->why, sizeof x->why, "stopped after %d of %d epochs", x->epochs, x->target);
        }
        x->target = 0;
        return;
    }
}

void tune_trials_free(tune_search *s) {
    for (int i = 0; i < s->n; i++) { free(s->t[i].values); free(s->t[i].hist); free(s->t[i].best); }
    free(s->t);
    s->t = NULL;
    s->n = 0;
}
