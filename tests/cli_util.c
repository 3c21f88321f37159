/* cli_util.c — the helpers of cli_util.h: one copy of what every test that
 * runs ferc or feeds it synthetic inputs needs, instead of one per file. */
#include "cli_util.h"
#include "model/model.h"

#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

const char *cli_ferc(void) {
    static char buf[PATH_MAX];
    const char *env = getenv("FERC_BIN");
    if (env && *env) return access(env, X_OK) == 0 && realpath(env, buf) ? buf : NULL;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 8);
    if (n <= 0) return NULL;
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (!slash) return NULL;
    strcpy(slash, "/ferc");   /* room kept by the readlink limit */
    return access(exe, X_OK) == 0 && realpath(exe, buf) ? buf : NULL;
}

int cli_run(const char *dir, const char *fmt, ...) {
    va_list ap, again;
    va_start(ap, fmt);
    va_copy(again, ap);
    int k = vsnprintf(NULL, 0, fmt, ap);   /* sized, so that no command is cut short */
    va_end(ap);
    size_t cap = (size_t)(k > 0 ? k : 0) + 2 * strlen(dir) + 64;
    char *cmd = k >= 0 ? malloc(cap) : NULL;
    if (!cmd) { va_end(again); return -1; }
    vsnprintf(cmd, cap, fmt, again);
    va_end(again);
    snprintf(cmd + k, cap - (size_t)k, " >'%s/out.txt' 2>'%s/err.txt'", dir, dir);
    int st = system(cmd);
    free(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

static char *text_of(const char *dir, const char *name) {
    char *s = test_read(test_path(dir, name), NULL);
    return s ? s : calloc(1, 1);
}

char *cli_out(const char *dir) { return text_of(dir, "out.txt"); }

char *cli_err(const char *dir) {
    char *e = text_of(dir, "err.txt");
    char *lsan = e ? strstr(e, "-----------------------------------------------------\nSuppressions used") : NULL;
    if (lsan) *lsan = 0;
    return e;
}

int cli_count_lines(const char *s) {
    int n = 0;
    for (; s && *s; s++) n += *s == '\n';
    return n;
}

void cli_write_csv(const char *path, const int n[3], int no_usage) {
    static const char *names[3] = {"Training", "PublicTest", "PrivateTest"};
    FILE *f = fopen(path, "w");
    if (!f) return;
    fprintf(f, no_usage ? "emotion,pixels\n" : "emotion,pixels,Usage\n");
    int i = 0;
    for (int u = 0; u < 3; u++)
        for (int r = 0; r < n[u]; r++, i++) {
            fprintf(f, "%d,", i % FERC_NUM_CLASSES);
            for (int k = 0; k < 48 * 48; k++) fprintf(f, "%s%d", k ? " " : "", (i * 37 + k * (i % 5 + 1)) % 256);
            if (!no_usage) fprintf(f, ",%s", names[u]);
            fprintf(f, "\n");
        }
    fclose(f);
}

const char *cli_write_band_csv(const char *dir, int n, int ntest) {
    static char path[4200];
    snprintf(path, sizeof path, "%s", test_path(dir, "faces.csv"));
    FILE *f = fopen(path, "w");
    if (!f) return NULL;
    ferc_rng r;
    ferc_rng_seed(&r, 7);
    fprintf(f, "emotion,pixels,Usage\n");
    for (int i = 0; i < n; i++) {
        const int c = i % 7;
        fprintf(f, "%d,", c);
        for (int k = 0; k < 48 * 48; k++)
            fprintf(f, k ? " %d" : "%d", (int)ferc_rng_below(&r, 80) + ((k / 48 / 7) % 7 == c ? 120 : 0));
        fprintf(f, ",%s\n", i >= n - ntest ? "PublicTest" : "Training");
    }
    fclose(f);
    return path;
}

const char *cli_make_model(const char *dir, int seed, const ferc_epoch_stats *h, int nh) {
    static char p[4200];   /* not a test_path() buffer: those are reused */
    snprintf(p, sizeof p, "%.2000s/model.ferc", dir);
    ferc_model *m;
    ferc_error err;
    if (ferc_model_create("seed", (uint64_t)seed, &m, &err) != FERC_OK) return NULL;
    ferc_status st = nh > 0 ? model_set_history(m, h, nh, &err) : FERC_OK;
    if (st == FERC_OK) st = ferc_model_save(m, p, &err);
    ferc_model_free(m);
    return st == FERC_OK ? p : NULL;
}

void cli_dataset_alloc(ferc_dataset *d, int n) {
    *d = (ferc_dataset){.n = n, .h = 48, .w = 48};
    d->pix = malloc((size_t)n * 48 * 48);
    d->label = malloc(sizeof(int) * (size_t)n);
    d->usage = calloc((size_t)n, 1);   /* 0 = FERC_USAGE_TRAINING */
}
