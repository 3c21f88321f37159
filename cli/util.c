/* util.c — what several subcommands share: option parsing (the face
 * finder's options included) with "did you mean" for typos, error and log
 * printing, the progress bar, the default model, the clocks, output files
 * that appear whole or not at all, the command line quoted for a shell (a
 * model's recipe, train's resume command), and the result formats (CSV,
 * JSON) of predict and video. */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
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

/* One meaning everywhere: 0 = every core, as bench always had it; a
 * negative count is a mistake worth naming rather than a range to decode. */
int cli_threads(const char *cmd, const char *opt, const char *s, int *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 0 || v > 1024) {
        cli_usage_error(cmd, "%s: '%s' is not a thread count: 0 (every core) or 1..1024", opt, s);
        return 0;
    }
    *out = (int)v;
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
    if (cli_is(a, "--threads")) { VAL(); OK(cli_threads(cmd, a, v, &d->threads)); }
    if (cli_is(a, "--max-faces")) { VAL(); OK(cli_int(cmd, a, v, 1, 1000000, &o->max_faces)); }
    if (!strcmp(a, "--largest")) { o->largest = 1; return 1; }
    return 0;
#undef VAL
#undef OK
}

/* Where `make install` puts the models (the Makefile passes PREFIX/share/ferc). */
#ifndef FERC_DATADIR
#define FERC_DATADIR "/usr/local/share/ferc"
#endif

/* The first readable dir/name of names[]: buf, or NULL. */
static const char *first_model(const char *dir, char *buf, size_t cap) {
    static const char *const names[] = {"seed2.ferc", "seed.ferc"};
    for (int i = 0; i < 2; i++) {
        if (snprintf(buf, cap, "%s/%s", dir, names[i]) >= (int)cap) continue;
        if (access(buf, R_OK) == 0) return buf;
    }
    return NULL;
}

/* ./models (a checkout), then beside the executable: ../models (the build
 * folder) and ../share/ferc/models (an install, also one copied with
 * DESTDIR), then the compiled-in install prefix. */
const char *cli_default_model(char *buf, size_t cap) {
    const char *env = getenv("FERC_MODEL");
    if (env && *env) return env;
    if (first_model("models", buf, cap)) return buf;
    char exe[PATH_MAX], dir[PATH_MAX + 32];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    char *slash = n > 0 ? (exe[n] = 0, strrchr(exe, '/')) : NULL;
    if (slash) {
        *slash = 0;
        snprintf(dir, sizeof dir, "%s/../models", exe);
        if (first_model(dir, buf, cap)) return buf;
        snprintf(dir, sizeof dir, "%s/../share/ferc/models", exe);
        if (first_model(dir, buf, cap)) return buf;
    }
    return first_model(FERC_DATADIR "/models", buf, cap);
}

const char *cli_model_path(const char *cmd, const char *given, char *buf, size_t cap) {
    const char *model = given ? given : cli_default_model(buf, cap);
    if (!model)
        fprintf(stderr, "ferc %s: no model: give --model FILE (looked for $FERC_MODEL, models/seed2.ferc, "
                        "models/seed.ferc, ../models and ../share/ferc/models next to the ferc executable, "
                        FERC_DATADIR "/models)\n", cmd);
    return model;
}

void cli_say_model(const char *path, const ferc_model *m) {
    int s = ferc_model_input_size(m);
    fprintf(stderr, "model: %s (%s, %dx%d)\n", path, ferc_model_arch(m), s, s);
}

/* ---- "did you mean" ---- */

/* Optimal string alignment distance (Levenshtein plus swapping two
 * neighbours: "trian" is one edit from "train"); words up to 63 bytes. */
static int edit_distance(const char *a, const char *b) {
    int n = (int)strlen(a), m = (int)strlen(b);
    if (n > 63 || m > 63) return 99;
    int d[64][64];
    for (int i = 0; i <= n; i++) d[i][0] = i;
    for (int j = 0; j <= m; j++) d[0][j] = j;
    for (int i = 1; i <= n; i++)
        for (int j = 1; j <= m; j++) {
            int v = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < v) v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    return d[n][m];
}

const char *cli_suggest(const char *word, const char *const *known) {
    char w[64];
    snprintf(w, sizeof w, "%.*s", (int)strcspn(word, "="), word); /* --epoch=3: compare --epoch */
    const char *best = NULL, *prefix_of = NULL;
    int bestd = 99, nprefix = 0;
    size_t len = strlen(w), core = len - strspn(w, "-");
    for (int i = 0; known && known[i]; i++) {
        int d = edit_distance(w, known[i]);
        if (d < bestd) { bestd = d; best = known[i]; }
        if (core >= 3 && strncmp(known[i], w, len) == 0) { prefix_of = known[i]; nprefix++; }
    }
    /* A typo is a small part of the word: 1 edit in short words, 2 from 6
     * letters on, 3 from 9; else an unambiguous abbreviation. */
    int allowed = core >= 9 ? 3 : core >= 6 ? 2 : 1;
    if (best && bestd > 0 && bestd <= allowed) return best;
    return nprefix == 1 ? prefix_of : NULL;
}

int cli_unknown_option(const char *cmd, const char *arg, const char *const *known) {
    const char *s = cli_suggest(arg, known);
    if (s) return cli_usage_error(cmd, "unknown option '%s'; did you mean '%s'?", arg, s);
    return cli_usage_error(cmd, "unknown option '%s'", arg);
}

/* The characters a POSIX shell leaves alone in a word. */
static const char shell_safe[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./:=,+@%";

void cli_put_quoted(FILE *f, const char *s) {
    if (*s && strspn(s, shell_safe) == strlen(s)) { fputs(s, f); return; }
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'') fputs("'\\''", f);
        else fputc(*s, f);
    }
    fputc('\'', f);
}

char *cli_command_line(int argc, char **argv) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    fputs("ferc", f);
    for (int i = 0; i < argc; i++) { fputc(' ', f); cli_put_quoted(f, argv[i]); }
    if (fclose(f) != 0) { free(buf); return NULL; }
    return buf;
}

/* ---- output files ---- */

/* The temporary files not yet renamed into place, removed when an
 * interrupt ends the run (unlink is async-signal-safe). */
#define MAX_PENDING 8
static char pending[MAX_PENDING][PATH_MAX];
static volatile sig_atomic_t pending_used[MAX_PENDING];

/* Children writing those files (an ffmpeg encoder opens its output late:
 * it must be gone before the files are removed). */
static volatile pid_t writers[MAX_PENDING];

static void on_signal(int sig) {
    for (int i = 0; i < MAX_PENDING; i++)
        if (writers[i] > 0) {
            kill(writers[i], SIGKILL);
            waitpid(writers[i], NULL, 0);
        }
    for (int i = 0; i < MAX_PENDING; i++)
        if (pending_used[i]) unlink(pending[i]);
    signal(sig, SIG_DFL);
    raise(sig);
}

void cli_tmp_writer(pid_t pid, int on) {
    for (int i = 0; i < MAX_PENDING; i++)
        if (on ? writers[i] == 0 : writers[i] == pid) {
            writers[i] = on ? pid : 0;
            return;
        }
}

static void pending_add(const char *path) {
    static int handlers;
    if (!handlers) {
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        signal(SIGHUP, on_signal);
        handlers = 1;
    }
    for (int i = 0; i < MAX_PENDING; i++)
        if (!pending_used[i]) {
            snprintf(pending[i], sizeof pending[i], "%s", path);
            pending_used[i] = 1;
            return;
        }
}

static void pending_drop(const char *path) {
    for (int i = 0; i < MAX_PENDING; i++)
        if (pending_used[i] && strcmp(pending[i], path) == 0) pending_used[i] = 0;
}

int cli_path_check(const char *cmd, const char *opt, const char *path) {
    struct stat st;
    if (!*path) return fprintf(stderr, "ferc %s: %s: an empty file name\n", cmd, opt), 1;
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode)) return fprintf(stderr, "ferc %s: %s %s: is a folder\n", cmd, opt, path), 1;
        if (access(path, W_OK) != 0)
            return fprintf(stderr, "ferc %s: %s %s: not writable: %s\n", cmd, opt, path, strerror(errno)), 1;
    }
    char d[PATH_MAX];
    snprintf(d, sizeof d, "%s", path);
    const char *dir = dirname(d);
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return fprintf(stderr, "ferc %s: %s %s: no folder %s\n", cmd, opt, path, dir), 1;
    if (access(dir, W_OK | X_OK) != 0)
        return fprintf(stderr, "ferc %s: %s %s: cannot write in %s: %s\n", cmd, opt, path, dir, strerror(errno)), 1;
    return 0;
}

int cli_tmp_reserve(const char *cmd, const char *opt, const char *path, char *tmp, size_t cap) {
    if (cli_path_check(cmd, opt, path)) return -1;
    char d[PATH_MAX], b[PATH_MAX];
    snprintf(d, sizeof d, "%s", path);
    snprintf(b, sizeof b, "%s", path);
    const char *base = basename(b), *ext = strrchr(base, '.');
    if (!ext || ext == base) ext = "";
    /* Hidden, beside the target (so the rename stays on one file system),
     * ending with the target's extension (ffmpeg picks its format by it). */
    int k = snprintf(tmp, cap, "%s/.%s.XXXXXX%s", dirname(d), base, ext);
    if (k < 0 || (size_t)k >= cap) return fprintf(stderr, "ferc %s: %s %s: name too long\n", cmd, opt, path), -1;
    int fd = mkstemps(tmp, (int)strlen(ext));
    if (fd < 0) return fprintf(stderr, "ferc %s: %s %s: cannot create: %s\n", cmd, opt, path, strerror(errno)), -1;
    mode_t um = umask(0);
    umask(um);
    fchmod(fd, 0666 & ~um); /* mkstemp's 0600 is for secrets; these are results, as fopen would make them */
    pending_add(tmp);
    return fd;
}

/* The rename lives in the folder's own data: fsync it too, or a power cut
 * may bring the old name back. Best effort (some file systems refuse). */
static void sync_parent(const char *path) {
    char d[PATH_MAX];
    snprintf(d, sizeof d, "%s", path);
    int fd = open(dirname(d), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) { fsync(fd); close(fd); }
}

int cli_tmp_commit(const char *cmd, const char *opt, const char *path, const char *tmp, int ok) {
    pending_drop(tmp);
    if (!ok) { unlink(tmp); return 0; }
    if (rename(tmp, path) != 0) {
        fprintf(stderr, "ferc %s: %s %s: cannot rename the finished file into place: %s\n", cmd, opt, path,
                strerror(errno));
        unlink(tmp);
        return 1;
    }
    sync_parent(path);
    return 0;
}

int cli_out_open(cli_out *o, const char *cmd, const char *opt, const char *path) {
    *o = (cli_out){.path = path, .cmd = cmd, .opt = opt};
    if (cli_is_stdout(path)) { o->f = stdout; return 0; }
    int fd = cli_tmp_reserve(cmd, opt, path, o->tmp, sizeof o->tmp);
    if (fd < 0) return 1;
    if (!(o->f = fdopen(fd, "w"))) {
        close(fd);
        cli_tmp_commit(cmd, opt, path, o->tmp, 0);
        return fprintf(stderr, "ferc %s: %s %s: %s\n", cmd, opt, path, strerror(errno)), 1;
    }
    return 0;
}

int cli_out_close(cli_out *o, int ok) {
    if (!o->f) return 0;
    int bad = ferror(o->f) != 0;
    if (o->f == stdout) bad |= fflush(stdout) != 0;
    else bad |= (fflush(o->f) != 0 || fsync(fileno(o->f)) != 0) | (fclose(o->f) != 0);   /* on disk before the rename */
    FILE *was = o->f;
    o->f = NULL;
    if (bad && ok) fprintf(stderr, "ferc %s: %s %s: write error\n", o->cmd, o->opt, o->path);
    if (was == stdout) return bad && ok;
    return cli_tmp_commit(o->cmd, o->opt, o->path, o->tmp, ok && !bad) || (bad && ok);
}

int cli_is_stdout(const char *path) { return path && strcmp(path, "-") == 0; }

/* ---- result formats ---- */

int cli_stdout_check(const char *cmd) {
    errno = 0;
    int bad = fflush(stdout) != 0;   /* errno from the write that failed */
    if (!bad && !ferror(stdout)) return 0;
    fprintf(stderr, "ferc %s: writing to standard output failed%s%s\n", cmd, errno ? ": " : "", errno ? strerror(errno) : "");
    return 1;
}

/* The length of the well-formed UTF-8 sequence at p (1..4), or 0 when the
 * bytes there are not one (stray continuation, overlong form, surrogate,
 * beyond U+10FFFF, cut short): file names on Linux are bytes, JSON is text. */
static int utf8_len(const unsigned char *p) {
    const unsigned c = p[0];
    int n = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (n <= 1) return n;
    unsigned cp = c & (0x7Fu >> n);
    for (int i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;   /* also stops at the NUL */
        cp = cp << 6 | (p[i] & 0x3Fu);
    }
    static const unsigned min[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return n;
}

void cli_json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        int n = utf8_len(p);
        if (n == 0) { fputs("\\ufffd", f); p++; continue; }   /* a byte that is not text: the replacement character */
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p == '\n') fputs("\\n", f);
        else if (*p == '\t') fputs("\\t", f);
        else if (*p < 0x20 || *p == 0x7F) fprintf(f, "\\u%04x", *p);
        else fwrite(p, 1, (size_t)n, f);
        p += n;
    }
    fputc('"', f);
}

void cli_csv_str(FILE *f, const char *s) {
    if (!strpbrk(s, ",\"\n\r")) { fputs(s, f); return; }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

int cli_top_label(const float *p) {
    int t = 0;
    for (int k = 1; k < FERC_NUM_CLASSES; k++)
        if (p[k] > p[t]) t = k;
    return t;
}

void cli_csv_face_header(FILE *f) {
    fputs("x,y,w,h,face_confidence,emotion", f);
    for (int k = 0; k < FERC_NUM_CLASSES; k++) fprintf(f, ",%s", ferc_label_name(k));
}

void cli_csv_face(FILE *f, const ferc_box *b, float conf, const float *p) {
    if (!b) { fputs(",,,,,", f); for (int k = 0; k < FERC_NUM_CLASSES; k++) fputc(',', f); return; }
    fprintf(f, "%d,%d,%d,%d,", b->x, b->y, b->w, b->h);
    if (conf >= 0) fprintf(f, "%.4f", conf);
    fprintf(f, ",%s", ferc_label_name(cli_top_label(p)));
    for (int k = 0; k < FERC_NUM_CLASSES; k++) fprintf(f, ",%.6f", p[k]);
}

void cli_json_face(FILE *f, const ferc_box *b, float conf, const float *p) {
    fprintf(f, "{\"box\": [%d, %d, %d, %d], \"face_confidence\": ", b->x, b->y, b->w, b->h);
    if (conf >= 0) fprintf(f, "%.4f", conf);
    else fputs("null", f);
    fprintf(f, ", \"emotion\": \"%s\", \"scores\": {", ferc_label_name(cli_top_label(p)));
    for (int k = 0; k < FERC_NUM_CLASSES; k++) fprintf(f, "%s\"%s\": %.6f", k ? ", " : "", ferc_label_name(k), p[k]);
    fputs("}}", f);
}

void cli_text_face(FILE *f, const float *p) {
    int t = cli_top_label(p);
    fprintf(f, "%s %.3f (", ferc_label_name(t), p[t]);
    for (int k = 0; k < FERC_NUM_CLASSES; k++) fprintf(f, "%s%s %.3f", k ? " " : "", ferc_label_name(k), p[k]);
    fputc(')', f);
}
