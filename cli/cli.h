/* cli.h — shared pieces of the ferc command-line tool: the subcommands and
 * small helpers for option parsing, progress bars and error printing. */
#ifndef FERC_CLI_H
#define FERC_CLI_H

#include "ferc.h"

#include <limits.h>
#include <stdio.h>
#include <sys/types.h>

/* FER2013 where the README puts it: the --data of train, eval, report,
 * calibrate and ensemble when none is given. */
#define CLI_DEFAULT_DATA "../shared/data/fer2013/fer2013.csv.gz"

/* Each subcommand gets argv with argv[0] = its name; returns the exit code. */
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_video(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_augment(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_ensemble(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_tune(int argc, char **argv);
int cmd_calibrate(int argc, char **argv);
/* Is opt (e.g. "--lr") an option of ferc train? For ferc tune's search spaces. */
int cmd_train_has_option(const char *opt);
const char *const *cmd_train_options(void);   /* NULL-terminated */

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
/* --threads of every command: 0 = every core, else 1..1024; a negative or
 * other value is a one-line usage error (returns 0), as cli_int. */
int cli_threads(const char *cmd, const char *opt, const char *s, int *out);

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
 * --threads (the detector's; 0 = every core), --max-faces N, --largest and
 * --cascade FILE. argv[0] is the command.
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

/* "model: PATH (ARCH, SxS)" on stderr: which model a command runs. */
void cli_say_model(const char *path, const ferc_model *m);

/* "Did you mean": the entry of known (NULL-terminated) that word most likely
 * mistypes (a few edits away, or the one option it abbreviates; "=value"
 * ignored), else NULL. */
const char *cli_suggest(const char *word, const char *const *known);
/* The usage error of every command for an unknown option, with the
 * suggestion when there is one:
 *   ferc train: unknown option '--epoch'; did you mean '--epochs'?
 * Returns 2. Call it as
 *   static const char *const options[] = {"--data", "--epochs", ..., NULL};
 *   ... else if (a[0] == '-' && a[1]) return cli_unknown_option("train", a, options); */
int cli_unknown_option(const char *cmd, const char *arg, const char *const *known);

/* s for a POSIX shell: as is when it holds only safe characters, else in
 * single quotes ('\'' for a quote inside). */
void cli_put_quoted(FILE *f, const char *s);
/* "ferc ARGV[0] ARGV[1] ..." quoted as cli_put_quoted does: the command
 * that made a model, stored in it as its recipe. malloc'd; NULL when out
 * of memory. */
char *cli_command_line(int argc, char **argv);

/* Output files that appear whole or not at all: written under a hidden
 * temporary name beside the target (.NAME.XXXXXX.EXT) and renamed into place
 * at the end, removed on failure or when SIGINT/SIGTERM/SIGHUP ends the run.
 * "-" is stdout (nothing to rename). Messages: "ferc CMD: OPT PATH: why". */
typedef struct {
    const char *path, *cmd, *opt;
    FILE *f;              /* the temporary file, or stdout */
    char tmp[PATH_MAX];
} cli_out;
int cli_is_stdout(const char *path);
/* Can a file named path be created (its folder exists and is writable; it
 * is not a folder; if it exists it is writable)? 0, or 1 after saying why. */
int cli_path_check(const char *cmd, const char *opt, const char *path);
/* Open o for writing (path checked first): 0, or 1 after saying why. */
int cli_out_open(cli_out *o, const char *cmd, const char *opt, const char *path);
/* ok: close and rename into place; !ok: close and remove. 1 when writing or
 * renaming failed (said), else 0. Nothing to do when o was not opened. */
int cli_out_close(cli_out *o, int ok);
/* The same for a file another program or library call writes: reserve the
 * temporary name (same extension as path) into tmp; returns its open fd or
 * -1 after saying why. Then cli_tmp_commit renames (ok) or removes it:
 * 1 when the rename failed (said). */
int cli_tmp_reserve(const char *cmd, const char *opt, const char *path, char *tmp, size_t cap);
int cli_tmp_commit(const char *cmd, const char *opt, const char *path, const char *tmp, int ok);
/* A child process writing a temporary file (on = 1 when started, 0 once
 * waited for): an interrupt kills it before removing the files. */
void cli_tmp_writer(pid_t pid, int on);

/* The result formats of predict and video: one face as CSV fields
 * x,y,w,h,face_confidence,emotion,angry,...,neutral (b NULL: as many empty
 * fields; conf < 0: empty confidence, e.g. for a whole image), as a JSON
 * object {"box": [x, y, w, h], "face_confidence": C|null, "emotion": L,
 * "scores": {L: P, ...}}, or as text "happy 0.990 (angry 0.001 ...)". */
void cli_csv_face_header(FILE *f);
void cli_csv_face(FILE *f, const ferc_box *b, float conf, const float *p);
void cli_json_face(FILE *f, const ferc_box *b, float conf, const float *p);
void cli_text_face(FILE *f, const float *p);
void cli_json_str(FILE *f, const char *s);
/* Flush stdout; 1 after saying so on stderr when anything written to it
 * failed (a full disk, a closed pipe): output lost is an error. */
int cli_stdout_check(const char *cmd);
void cli_csv_str(FILE *f, const char *s);
int cli_top_label(const float *p);

/* One image's result as one JSON line (cmd_predict.c), the format of
 * `ferc predict --json` and of `ferc serve`'s answers: {"image", "whole_image",
 * "faces": [cli_json_face...]} then "annotated" when annotated is not NULL
 * ("" = null), "width"/"height" when width > 0, "milliseconds" when ms >= 0. */
typedef struct {
    const char *image;
    const ferc_faces *faces;
    int whole;
    const char *annotated;
    int width, height;
    double ms;
} cli_predict_result;
void cli_predict_json(FILE *out, const cli_predict_result *r);

/* CPU time of the calling thread in seconds (the cost of work, not inflated
 * when other processes share the cores); wall time is ferc_now(). */
double cli_thread_cpu_now(void);

/* --boxes FILE (video_boxes.c): lines KEY,x,y,w,h (a header line allowed)
 * into keys[n] (malloc'd strings) and boxes[n]; 0, or 1 after saying
 * "ferc CMD: --boxes FILE:LINE: ..." (nothing to free then). */
int cli_read_boxes(const char *cmd, const char *path, char ***keys, ferc_box **boxes, int *n);

#endif
