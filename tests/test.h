/* test.h — the tiny test harness: TEST() registers a test at load time,
 * CHECK*() record failures without stopping, SKIP() marks a test skipped;
 * and the temporary paths and whole-file reads and writes every test file
 * uses (the CLI tests' process helpers are in cli_util.h). */
#ifndef FERC_TEST_H
#define FERC_TEST_H

#include <math.h>
#include <stddef.h>
#include <stdio.h>

typedef void (*test_fn)(void);
void test_register(const char *name, const char *file, test_fn fn);
void test_fail(const char *file, int line, const char *fmt, ...);
void test_skip(const char *why);
int test_failed_now(void);
/* Path of a file under the repo's tests/fixtures folder (static buffer). */
const char *test_fixture(const char *name);
/* Path of the shared FER2013 CSV, or NULL when absent. */
const char *test_fer_csv(void);
/* A fresh temporary directory for this test (static buffer). */
const char *test_tmpdir(void);

/* Files, one helper for every test file (in test_main.c). dir/name in one
 * of 8 rotating static buffers, so that a call may take several and dir
 * may be an earlier result. */
const char *test_path(const char *dir, const char *name);
/* The whole file plus a NUL (len, when not NULL, gets the size without it);
 * NULL when it cannot be read. void * so that text and byte callers need no
 * cast; the caller frees it. */
void *test_read(const char *path, size_t *len);
/* Write n bytes (an empty file for n == 0); 1 when all were written. */
int test_write(const char *path, const void *data, size_t n);
int test_exists(const char *path);

#define TEST(name)                                                            \
    static void name(void);                                                   \
    __attribute__((constructor)) static void reg_##name(void) {               \
        test_register(#name, __FILE__, name);                                 \
    }                                                                         \
    static void name(void)

#define CHECK(cond)                                                           \
    do { if (!(cond)) test_fail(__FILE__, __LINE__, "CHECK(%s)", #cond); } while (0)
#define CHECK_MSG(cond, ...)                                                  \
    do { if (!(cond)) test_fail(__FILE__, __LINE__, __VA_ARGS__); } while (0)
#define CHECK_EQ_INT(a, b)                                                    \
    do { long long a_ = (long long)(a), b_ = (long long)(b);                  \
         if (a_ != b_) test_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", \
                                 #a, #b, a_, b_); } while (0)
#define CHECK_NEAR(a, b, tol)                                                 \
    do { double a_ = (double)(a), b_ = (double)(b);                           \
         if (!(fabs(a_ - b_) <= (tol)))                                       \
             test_fail(__FILE__, __LINE__, "%s ~ %s: %.9g vs %.9g (tol %g)",  \
                       #a, #b, a_, b_, (double)(tol)); } while (0)
#define SKIP(why) do { test_skip(why); return; } while (0)

#endif
