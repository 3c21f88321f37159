/* util.c — what several subcommands share: option parsing (the face
 * finder's options included), error and log printing, the progress bar, the
 * default model and the clocks. */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int cli_error(const ferc_error *err) {
    fprintf(stderr, "ferc: %s\n", err->msg[0] ? err->msg : ferc_status_name(err->status));
    return 1;
}

int cli_usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "ferc %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(see 'ferc %s --help')\n", cmd);
    return 2;
}

int cli_is(const char *arg, const char *opt) {
    size_t n = strlen(opt);
    return strncmp(arg, opt, n) == 0 && (arg[n] == 0 || arg[n] == '=');
}

const char *cli_value(int argc, char **argv, int *i, const char *opt) {
    const char *eq = strchr(argv[*i], '=');
    if (eq && strncmp(argv[*i], "--", 2) == 0) return eq + 1;
    if (*i + 1 >= argc) {
        cli_usage_error(argv[0], "option %s needs a value", opt);
        return NULL;
    }
    return argv[++*i];
}

int cli_int(const char *cmd, const char *opt, const char *s, long lo, long hi, int *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        cli_usage_error(cmd, "%s: '%s' is not a whole number in %ld..%ld", opt, s, lo, hi);
        return 0;
    }
    *out = (int)v;
    return 1;
}

int cli_float(const char *cmd, const char *opt, const char *s, double lo, double hi, float *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi)) {
        cli_usage_error(cmd, "%s: '%s' is not a number in %g..%g", opt, s, lo, hi);
        return 0;
    }
    *out = (float)v;
    return 1;
}

int cli_isatty_err(void) {
    const char *e = getenv("FERC_PROGRESS");
    if (e) return atoi(e) != 0;
    return isatty(2);
}

static int bar_shown;

void cli_progress(const char *label, long done, long total, const char *extra) {
    if (!cli_isatty_err()) return;
    const int width = 30;
    double f = total > 0 ? (double)done / (double)total : 0.0;
    if (f > 1) f = 1;
    int fill = (int)lround(f * width);
    char bar[64];
    for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
    bar[width] = 0;
    fprintf(stderr, "\r\033[K%s [%s] %3d%% %ld/%ld %s", label, bar, (int)(f * 100), done, total,
            extra ? extra : "");
    fflush(stderr);
    bar_shown = 1;
}

void cli_progress_end(void) {
    if (bar_shown) { fprintf(stderr, "\r\033[K"); fflush(stderr); bar_shown = 0; }
}

double cli_thread_cpu_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

void cli_log(ferc_log_level level, const char *msg, void *user) {
    const cli_log_to *to = user;
    if (to->quiet && level < FERC_LOG_WARN) return;
    fprintf(stderr, "%s%s\n", to->prefix ? to->prefix : "", msg);
}

int cli_face_option(int argc, char **argv, int *i, ferc_find_opts *o, const char **cascade) {
    const char *a = argv[*i], *cmd = argv[0], *v;
    ferc_detect_opts *d = &o->detect;
#define VAL() do { if (!(v = cli_value(argc, argv, i, a))) return -1; } while (0)
#define OK(parsed) return (parsed) ? 1 : -1
    if (cli_is(a, "--cascade")) { VAL(); *cascade = v; return 1; }
    if (cli_is(a, "--margin")) { VAL(); OK(cli_float(cmd, a, v, 0, 2, &o->margin)); }
    if (cli_is(a, "--scale-factor")) {
        float f;
        VAL();
        if (!cli_float(cmd, a, v, 1.0001, 10, &f)) return -1;
        d->scale_factor = f;
        return 1;
    }
    if (cli_is(a, "--min-neighbors")) { VAL(); OK(cli_int(cmd, a, v, 0, 1000, &d->min_neighbors)); }
    if (cli_is(a, "--min-size")) { VAL(); OK(cli_int(cmd, a, v, 0, 100000, &d->min_size)); }
    if (cli_is(a, "--max-size")) { VAL(); OK(cli_int(cmd, a, v, 0, 100000, &d->max_size)); }
    if (cli_is(a, "--threads")) { VAL(); OK(cli_int(cmd, a, v, 1, 1024, &d->threads)); }
    return 0;
#undef VAL
#undef OK
}

const char *cli_default_model(char *buf, size_t cap) {
    const char *env = getenv("FERC_MODEL");
    if (env && *env) return env;
    static const char *const names[] = {"seed2.ferc", "seed.ferc"};
    for (int i = 0; i < 2; i++) {
        snprintf(buf, cap, "models/%s", names[i]);
        if (access(buf, R_OK) == 0) return buf;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) *slash = 0;
        for (int i = 0; i < 2; i++) {
            if (snprintf(buf, cap, "%.*s/../models/%s", (int)(cap > 64 ? cap - 64 : 1), exe, names[i]) >= (int)cap) continue;
            if (access(buf, R_OK) == 0) return buf;
        }
    }
    return NULL;
}

const char *cli_model_path(const char *cmd, const char *given, char *buf, size_t cap) {
    const char *model = given ? given : cli_default_model(buf, cap);
    if (!model)
        fprintf(stderr, "ferc %s: no model: give --model FILE (looked for $FERC_MODEL, models/seed2.ferc, "
                        "models/seed.ferc and ../models next to the ferc executable)\n", cmd);
    return model;
}
