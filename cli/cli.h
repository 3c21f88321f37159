/* cli.h — shared pieces of the ferc command-line tool: the subcommands and
 * small helpers for option parsing, progress bars and error printing. */
#ifndef FERC_CLI_H
#define FERC_CLI_H

#include "ferc.h"

#include <stdio.h>

/* Each subcommand gets argv with argv[0] = its name; returns the exit code. */
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_video(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_augment(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_info(int argc, char **argv);

/* Print "ferc: <msg>" to stderr and return 1 (or 2 for usage errors). */
int cli_error(const ferc_error *err);
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Option parsing: returns the value following argv[*i] (advancing *i), or
 * NULL after printing a usage error when it is missing. Accepts --opt=value. */
const char *cli_value(int argc, char **argv, int *i, const char *opt);
/* Does argv[i] name option opt (exactly, or as opt=value)? */
int cli_is(const char *arg, const char *opt);
/* Parse numbers strictly; on failure print a usage error and return 0. */
int cli_int(const char *cmd, const char *opt, const char *s, long lo, long hi, int *out);
int cli_float(const char *cmd, const char *opt, const char *s, double lo, double hi, float *out);

/* A one-line progress bar on stderr (only when stderr is a terminal, or
 * FERC_PROGRESS=1): "label [#####.....] 45% done/total extra". */
void cli_progress(const char *label, long done, long total, const char *extra);
void cli_progress_end(void);
int cli_isatty_err(void);
/* The default model: $FERC_MODEL, else models/seed2.ferc, else models/seed.ferc
 * (in the current folder, then ../models beside the executable); NULL if none. */
const char *cli_default_model(char *buf, size_t cap);
/* given, else the default model; NULL after telling the user of `ferc cmd`
 * where it looked. */
const char *cli_model_path(const char *cmd, const char *given, char *buf, size_t cap);

/* The options of the face finder that `ferc predict` and `ferc video` share:
 * --margin, --scale-factor, --min-neighbors, --min-size, --max-size,
 * --threads (the detector's) and --cascade FILE. argv[0] is the command.
 * Returns 1 when argv[*i] was one of them (its value taken), 0 when it is
 * not, -1 after printing a usage error. */
int cli_face_option(int argc, char **argv, int *i, ferc_find_opts *o, const char **cascade);

/* A ferc_log_fn printing each message to stderr after prefix; with quiet,
 * only the warnings. user: a cli_log_to. */
typedef struct {
    int quiet;
    const char *prefix;
} cli_log_to;
void cli_log(ferc_log_level level, const char *msg, void *user);

/* CPU time of the calling thread in seconds (the cost of work, not inflated
 * when other processes share the cores); wall time is ferc_now(). */
double cli_thread_cpu_now(void);

#endif
