/* cli_util.h — what the tests that drive ferc share, so that each helper
 * exists once: the ferc binary and its runs as a real process with stdout
 * and stderr captured, and the small inputs such runs need (a synthetic
 * FER2013 CSV, a random-weight model file, an empty synthetic dataset). */
#ifndef FERC_TEST_CLI_UTIL_H
#define FERC_TEST_CLI_UTIL_H

#include "ferc.h"
#include "test.h"

/* $FERC_BIN, else the ferc built beside this runner, made absolute (tests
 * run commands in their own folder); NULL when neither is executable. */
const char *cli_ferc(void);

/* Declares `ferc` and skips the test when there is no binary. */
#define NEED_FERC()                                                                    \
    const char *ferc = cli_ferc();                                                     \
    if (!ferc) SKIP("the ferc binary is not built (make, or set FERC_BIN)")

/* Run a shell command with stdout into dir/out.txt and stderr into
 * dir/err.txt; returns the exit status (128 + n when killed by signal n). */
int cli_run(const char *dir, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The last run's stdout and stderr, "" when missing; stderr without
 * LeakSanitizer's closing "Suppressions used" block (ASan runs), so that
 * line counts mean the same in both builds. The caller frees them. */
char *cli_out(const char *dir);
char *cli_err(const char *dir);
/* Newlines in s (0 for NULL). */
int cli_count_lines(const char *s);

/* A FER2013-style CSV: rows i < n[0] Training, then n[1] PublicTest, then
 * n[2] PrivateTest, label i % 7, fixed pixels; no_usage drops the column. */
void cli_write_csv(const char *path, const int n[3], int no_usage);
/* dir/faces.csv (its path, static buffer; NULL when it cannot be written):
 * n rows, label i % 7, pixel rows of band (y / 7) % 7 == label bright on
 * noise (a task a small network learns in a few epochs); the last ntest
 * rows PublicTest, the others Training. */
const char *cli_write_band_csv(const char *dir, int n, int ntest);
/* A random-weight "seed" model from `seed`, with history h[nh] when nh > 0,
 * saved as dir/model.ferc; its path (static buffer) or NULL. */
const char *cli_make_model(const char *dir, int seed, const ferc_epoch_stats *h, int nh);
/* d holds n 48x48 Training faces whose pixels and labels the caller fills. */
void cli_dataset_alloc(ferc_dataset *d, int n);

#endif
