/* tune.h — the pieces of `ferc tune` shared by its files: the search's
 * settings, and what is known of each trial (read back from the trial's
 * model file, so that a killed search picks up where it was). */
#ifndef FERC_CLI_TUNE_H
#define FERC_CLI_TUNE_H

#include "cli.h"

#include <sys/types.h>

enum { TUNE_MAX_RUNGS = 16, TUNE_MAX_TRIALS = 1000, TUNE_VAL = 64, TUNE_MAX_KEYS = 32 };

typedef struct {
    char (*values)[TUNE_VAL];   /* the sampled value of every key */
    int epochs;                 /* epochs in its model file's history */
    float *hist;                /* validation figure per epoch (epochs of them) */
    float *best;                /* running best of hist */
    int target;                 /* epochs it is being trained to (0 = idle) */
    pid_t pid;                  /* its ferc train process while it runs */
    int failed;
    char why[200];              /* a failed trial's last log line */
} tune_trial;

typedef struct {
    /* options */
    const char *space_path, *dir;
    int trials, jobs, min_epochs, max_epochs, eta, threads, resume, by_f1;
    double budget_s;            /* 0 = none */
    ferc_sampler sampler;
    unsigned long long search_seed;
    int npass;                  /* ferc train options given to every trial */
    char **pass;
    /* state */
    ferc_space *space;
    int sync;                   /* --trials alone: successive halving by rungs */
    int rungs[TUNE_MAX_RUNGS], nrungs;
    tune_trial *t;
    int n, running;
    double started, spent_before;   /* this run's start; seconds used by earlier runs */
    int stopping;               /* a signal or the budget: stop the trials, keep their work */
    int lock_fd;
} tune_search;

/* tune_run.c: the trials' processes and files. */
int tune_trial_dir(const tune_search *s, int i, const char *name, char *buf, size_t cap);
int tune_trial_add(tune_search *s);
void tune_trial_refresh(tune_search *s, int i);
int tune_trial_launch(tune_search *s, int i, int to);
void tune_trial_exited(tune_search *s, pid_t pid, int status);
void tune_trials_free(tune_search *s);
int tune_config_args(const tune_search *s, int i, char **argv, int cap, char (*buf)[TUNE_VAL + 16]);

/* tune_report.c: the leaderboard (stdout, JSON, HTML, curves) and the best. */
int tune_rank(const tune_search *s, int *order);
const char *tune_status(const tune_search *s, int i, int over);
void tune_write_views(const tune_search *s, int over);
void tune_print_leaderboard(const tune_search *s, FILE *f);
int tune_finish_best(const tune_search *s);

#endif
