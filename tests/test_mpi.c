/* test_mpi.c — data-parallel training over MPI (issue 17): `ferc info
 * --build` tells whether MPI is in; two ranks under mpirun train the same
 * weights as one process with the same global batch (a net without batch
 * norm and dropout, whose only difference is the order of float sums); a
 * run paused on two ranks and resumed on one ends where the one-process run
 * does; options a split batch cannot do are refused in one line. The MPI
 * runs skip with a message in a build without MPI or without mpirun. */
#include "cli_util.h"
#include "model/model.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NET "'spec:48:conv4 relu pool flatten dense7'"
/* the same small run everywhere: 3 epochs of batch 32 over 210 faces (7 steps
 * an epoch, the last of 18 faces), one thread, every epoch kept */
#define RUN "train --data faces.csv --arch " NET " --batch 32 --threads 1 --val-fraction 0 --seed 3"

/* mpirun as CI runs it: as root, more ranks than cores allowed, no core
 * binding (the test shares its cores), and the shared-memory transport
 * without the single-copy mechanism that containers often forbid. In the
 * sanitizer build the MPI library's own allocations at exit are not ours:
 * leak checking is off in the ranks (one-process runs keep it). */
static const char *mpirun_cmd(void) {
    static char cmd[512];
    snprintf(cmd, sizeof cmd, "%smpirun --oversubscribe --allow-run-as-root --bind-to none "
             "--mca btl_vader_single_copy_mechanism none -np 2",
             getenv("FERC_ASAN") ? "ASAN_OPTIONS=detect_leaks=0 " : "");
    return cmd;
}

/* Why the MPI runs cannot happen here, or NULL when they can. */
static const char *mpi_missing(void) {
    if (!ferc_dist_built()) return "this build has no MPI (make MPI=1 with Debian's libopenmpi-dev)";
    if (system("command -v mpirun >/dev/null 2>&1") != 0) return "mpirun is not installed (Debian openmpi-bin)";
    return NULL;
}

/* Largest |a - b| over the parameters of two model files (INFINITY when
 * either does not load or they differ in size); *moved gets the largest
 * |a - init| for a third file init, to show training changed the weights. */
static double max_diff(const char *a, const char *b, const char *init, double *moved) {
    ferc_model *ma = NULL, *mb = NULL, *mi = NULL;
    ferc_error err;
    double d = INFINITY;
    *moved = 0;
    if (ferc_model_load(a, &ma, &err) == FERC_OK && ferc_model_load(b, &mb, &err) == FERC_OK &&
        ferc_model_load(init, &mi, &err) == FERC_OK && ma->net.nparams == mb->net.nparams &&
        ma->net.nparams == mi->net.nparams) {
        d = 0;
        for (size_t i = 0; i < ma->net.nparams; i++) {
            d = fmax(d, fabs((double)ma->net.params[i] - mb->net.params[i]));
            *moved = fmax(*moved, fabs((double)ma->net.params[i] - mi->net.params[i]));
        }
    }
    ferc_model_free(ma); ferc_model_free(mb); ferc_model_free(mi);
    return d;
}

/* A fresh folder with faces.csv (210 Training faces) and init.ferc, the
 * untrained net ferc train starts from (same spec, same seed). */
static const char *setup(void) {
    const char *dir = test_tmpdir();
    if (!cli_write_band_csv(dir, 210, 0)) return NULL;
    ferc_model *m;
    ferc_error err;
    if (ferc_model_create("spec:48:conv4 relu pool flatten dense7", 3, &m, &err) != FERC_OK) return NULL;
    ferc_status st = ferc_model_save(m, test_path(dir, "init.ferc"), &err);
    ferc_model_free(m);
    return st == FERC_OK ? dir : NULL;
}

/* Occurrences of needle in the file dir/name. */
static int count_in(const char *dir, const char *name, const char *needle) {
    char *s = test_read(test_path(dir, name), NULL);
    int n = 0;
    for (const char *p = s; p && (p = strstr(p, needle)); p += strlen(needle)) n++;
    free(s);
    return n;
}

/* The weights of dir/a and dir/b agree to float rounding, and training moved
 * them away from init.ferc (else equal weights would prove nothing). */
static void check_same_weights(const char *dir, const char *a, const char *b, const char *what) {
    double moved, d = max_diff(test_path(dir, a), test_path(dir, b), test_path(dir, "init.ferc"), &moved);
    printf("    %s: max |weight difference| %.3g (training moved weights by up to %.3g)\n", what, d, moved);
    CHECK_MSG(d < 1e-5, "%s: weights differ by %g", what, d);
    CHECK_MSG(moved > 1e-3, "%s: training did not change the weights (%g)", what, moved);
}

TEST(mpi_info_build) {
    NEED_FERC();
    const char *dir = test_tmpdir();
    CHECK_EQ_INT(cli_run(dir, "'%s' info --build", ferc), 0);
    char *out = cli_out(dir);
    CHECK_MSG(strstr(out, ferc_dist_built() ? "mpi:        yes" : "mpi:        no"), "info --build: %s", out);
    free(out);
}

/* Two ranks with global batch 32 against one process with batch 32. */
TEST(mpi_two_ranks_equal_one_process) {
    NEED_FERC();
    const char *why = mpi_missing();
    if (why) SKIP(why);
    const char *dir = setup();
    CHECK(dir != NULL);
    if (!dir) return;
    CHECK_EQ_INT(cli_run(dir, "cd '%s' && '%s' " RUN " --quiet --epochs 3 --out one.ferc", dir, ferc), 0);
    CHECK_EQ_INT(cli_run(dir, "cd '%s' && %s '%s' " RUN " --epochs 3 --out two.ferc", dir, mpirun_cmd(), ferc), 0);
    /* only rank 0 talks, and it says the batch was shared (each rank training
     * the whole batch alone would end with equal weights too) */
    CHECK_EQ_INT(count_in(dir, "err.txt", "data parallel over 2 MPI ranks"), 1);
    CHECK_EQ_INT(count_in(dir, "err.txt", "saved two.ferc"), 1);
    check_same_weights(dir, "one.ferc", "two.ferc", "2 ranks vs 1 process");
}

/* A run paused after epoch 1 on two ranks and resumed in one process ends
 * where the one-process run does: the checkpoint does not depend on the
 * number of ranks. */
TEST(mpi_resume_other_rank_count) {
    NEED_FERC();
    const char *why = mpi_missing();
    if (why) SKIP(why);
    const char *dir = setup();
    CHECK(dir != NULL);
    if (!dir) return;
    CHECK_EQ_INT(cli_run(dir, "cd '%s' && '%s' " RUN " --quiet --epochs 2 --out one.ferc", dir, ferc), 0);
    CHECK_EQ_INT(cli_run(dir, "cd '%s' && %s '%s' " RUN " --quiet --epochs 2 --stop-after 1 --out mix.ferc", dir, mpirun_cmd(), ferc), 0);
    CHECK(test_exists(test_path(dir, "mix.ferc.ckpt")));
    CHECK_EQ_INT(cli_run(dir, "cd '%s' && '%s' " RUN " --quiet --epochs 2 --resume --out mix.ferc", dir, ferc), 0);
    check_same_weights(dir, "one.ferc", "mix.ferc", "2 ranks, then resumed in 1 process");
}

/* What a batch split over ranks cannot do is refused in one line, before
 * training, with a non-zero exit. */
TEST(mpi_refuses_mixup) {
    NEED_FERC();
    const char *why = mpi_missing();
    if (why) SKIP(why);
    const char *dir = setup();
    CHECK(dir != NULL);
    if (!dir) return;
    int rc = cli_run(dir, "cd '%s' && %s '%s' " RUN " --quiet --epochs 1 --mixup 0.2 --out m.ferc", dir, mpirun_cmd(), ferc);
    CHECK(rc != 0);
    CHECK_MSG(count_in(dir, "err.txt", "mixup and CutMix are not available with several MPI ranks") >= 1,
              "no clear refusal");
    CHECK(!test_exists(test_path(dir, "m.ferc")));
}
