/* test_main.c — runs the registered tests (all, or those whose name contains
 * one of the arguments) and ends with the line "N passed, N failed, N skipped";
 * also the paths and file reads every test file shares (test.h), kept here
 * so that no test file carries its own copy. */
#include "test.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_TESTS 1024
typedef struct { const char *name, *file; test_fn fn; } test_entry;
static test_entry tests[MAX_TESTS];
static int ntests;
static int cur_failed, cur_skipped;
static char skip_why[512];
static const char *cur_name;

void test_register(const char *name, const char *file, test_fn fn) {
    if (ntests < MAX_TESTS) { tests[ntests].name = name; tests[ntests].file = file; tests[ntests].fn = fn; ntests++; }
}

void test_fail(const char *file, int line, const char *fmt, ...) {
    if (cur_failed < 10) {
        va_list ap;
        va_start(ap, fmt);
        fprintf(stdout, "    %s:%d: ", file, line);
        vfprintf(stdout, fmt, ap);
        fputc('\n', stdout);
        va_end(ap);
    }
    cur_failed++;
}

void test_skip(const char *why) {
    cur_skipped = 1;
    snprintf(skip_why, sizeof skip_why, "%s", why);
}

int test_failed_now(void) { return cur_failed; }

const char *test_fixture(const char *name) {
    static char buf[1024];
    const char *root = getenv("FERC_FIXTURES");
    snprintf(buf, sizeof buf, "%s/%s", root ? root : "tests/fixtures", name);
    return buf;
}

const char *test_fer_csv(void) {
    static char buf[1024];
    const char *p = getenv("FERC_DATA");
    if (!p) p = "../shared/data/fer2013/fer2013.csv.gz";
    snprintf(buf, sizeof buf, "%s", p);
    return access(buf, R_OK) == 0 ? buf : NULL;
}

const char *test_tmpdir(void) {
    static char buf[1024];
    static int k;
    const char *base = getenv("TMPDIR");
    snprintf(buf, sizeof buf, "%s/ferc-test-%d-%d-%s", base ? base : "/tmp", (int)getpid(), k++,
             cur_name ? cur_name : "x");
    mkdir(buf, 0700);
    return buf;
}

const char *test_path(const char *dir, const char *name) {
    static char buf[8][4200];
    static int k;
    char d[2001];
    snprintf(d, sizeof d, "%.2000s", dir);   /* dir may be one of buf */
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%.2000s", d, name);
    return buf[k];
}

void *test_read(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    long n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    char *b = n >= 0 ? malloc((size_t)n + 1) : NULL;   /* a folder opens but has no size */
    size_t got = 0;
    if (b) {
        rewind(f);
        got = fread(b, 1, (size_t)n, f);
        b[got] = 0;
    }
    fclose(f);
    if (b && len) *len = got;
    return b;
}

int test_write(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    size_t w = n ? fwrite(data, 1, n, f) : 0;
    return (fclose(f) == 0) & (w == n);
}

int test_exists(const char *path) { return access(path, F_OK) == 0; }

static int cmp_tests(const void *a, const void *b) {
    const char *fa = ((const test_entry *)a)->file, *fb = ((const test_entry *)b)->file;
    int c = strcmp(fa, fb);
    return c ? c : strcmp(((const test_entry *)a)->name, ((const test_entry *)b)->name);
}

int main(int argc, char **argv) {
    int passed = 0, failed = 0, skipped = 0;
    qsort(tests, (size_t)ntests, sizeof tests[0], cmp_tests);
    for (int i = 0; i < ntests; i++) {
        if (argc > 1) {
            int match = 0;
            for (int a = 1; a < argc; a++)
                if (strstr(tests[i].name, argv[a]) || strstr(tests[i].file, argv[a])) match = 1;
            if (!match) continue;
        }
        cur_failed = 0; cur_skipped = 0; cur_name = tests[i].name;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        fprintf(stdout, "[ RUN  ] %s\n", tests[i].name);
        fflush(stdout);
        tests[i].fn();
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
        if (cur_failed) { failed++; fprintf(stdout, "[ FAIL ] %s (%d checks failed)\n", tests[i].name, cur_failed); }
        else if (cur_skipped) { skipped++; fprintf(stdout, "[ SKIP ] %s: %s\n", tests[i].name, skip_why); }
        else { passed++; fprintf(stdout, "[  OK  ] %s (%.0f ms)\n", tests[i].name, ms); }
        fflush(stdout);
    }
    fprintf(stdout, "%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed ? 1 : 0;
}
