/* test.h — the tiny test harness: TEST() registers a test at load time,
 * CHECK*() record failures without stopping, SKIP() marks a test skipped. */
#ifndef FERC_TEST_H
#define FERC_TEST_H

#include <math.h>
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
