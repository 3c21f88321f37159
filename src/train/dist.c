/* dist.c — the MPI side of data-parallel training (issue 17). Compiled with
 * -DFERC_MPI (the Makefile's MPI block, when mpicc is there or MPI=1) it
 * wraps Open MPI; without it every function is the one-rank case, so the
 * default build needs no MPI. MPI is started only when the process runs
 * under mpirun (its environment says so): a plain `ferc train` never
 * touches it, even in an MPI build. */
#include "train/dist.h"
#include "core/core.h"

#include <stdlib.h>
#include <string.h>

#ifdef FERC_MPI
#include <limits.h>
#include <mpi.h>
#endif

static int g_rank = 0, g_size = 1;

int dist_rank(void) { return g_rank; }
int dist_size(void) { return g_size; }

/* The job size the launcher announced (Open MPI, MPICH / Hydra, PMIx), or 0
 * when the process was not started by mpirun. */
static int launcher_size(void) {
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", NULL};
    for (int i = 0; vars[i]; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v) return atoi(v);
    }
    return 0;
}

int ferc_dist_built(void) {
#ifdef FERC_MPI
    return 1;
#else
    return 0;
#endif
}

#ifdef FERC_MPI

ferc_status ferc_dist_init(int *rank, int *size, ferc_error *err) {
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited && launcher_size() > 0) {
        int provided;   /* only the main thread calls MPI; OpenMP threads never do */
        if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
            return ferc_fail(err, FERC_ERR_IO, "MPI_Init failed");
        inited = 1;
    }
    if (inited) {
        MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
        MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    }
    if (rank) *rank = g_rank;
    if (size) *size = g_size;
    return FERC_OK;
}

void ferc_dist_finalize(void) {
    int inited = 0, done = 0;
    MPI_Initialized(&inited);
    MPI_Finalized(&done);
    if (inited && !done) MPI_Finalize();
    g_rank = 0; g_size = 1;
}

/* MPI counts are int: sums of more than INT_MAX floats go in pieces. */
void dist_sum_floats(float *buf, size_t n) {
    if (g_size < 2) return;
    for (size_t off = 0; off < n; off += INT_MAX) {
        size_t k = n - off < (size_t)INT_MAX ? n - off : (size_t)INT_MAX;
        MPI_Allreduce(MPI_IN_PLACE, buf + off, (int)k, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    }
}

void dist_bcast_floats(float *buf, size_t n) {
    if (g_size < 2) return;
    for (size_t off = 0; off < n; off += INT_MAX) {
        size_t k = n - off < (size_t)INT_MAX ? n - off : (size_t)INT_MAX;
        MPI_Bcast(buf + off, (int)k, MPI_FLOAT, 0, MPI_COMM_WORLD);
    }
}

void dist_sum_doubles(double *v, int n) {
    if (g_size > 1) MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
}

int dist_any(int flag) {
    if (g_size < 2) return flag != 0;
    int f = flag != 0;
    MPI_Allreduce(MPI_IN_PLACE, &f, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    return f;
}

#else   /* one rank: nothing to agree on */

ferc_status ferc_dist_init(int *rank, int *size, ferc_error *err) {
    /* several copies started by mpirun would each train the whole run and
     * overwrite each other's files: refused rather than done silently */
    if (launcher_size() > 1)
        return ferc_fail(err, FERC_ERR_ARG, "started by mpirun with %d ranks, but this ferc was built without "
                         "MPI: rebuild with `make MPI=1` (Debian: libopenmpi-dev), or run one process", launcher_size());
    if (rank) *rank = 0;
    if (size) *size = 1;
    return FERC_OK;
}

void ferc_dist_finalize(void) {}
void dist_sum_floats(float *buf, size_t n) { (void)buf; (void)n; }
void dist_bcast_floats(float *buf, size_t n) { (void)buf; (void)n; }
void dist_sum_doubles(double *v, int n) { (void)v; (void)n; }
int dist_any(int flag) { return flag != 0; }

#endif

void dist_mean_floats(float *buf, size_t n) {
    if (g_size < 2) return;
    dist_sum_floats(buf, n);
    const float inv = 1.0f / (float)g_size;
    for (size_t i = 0; i < n; i++) buf[i] *= inv;
}
