/* train/dist.h — data-parallel training over MPI (issue 17), internal side.
 * ferc_train asks these for its rank and the number of ranks and calls them
 * at the few points where ranks must agree (the gradient sum, the epoch's
 * figures, a stop request). Built without MPI (no -DFERC_MPI) dist.c is a
 * set of one-rank stubs, so train.c has no #ifdef. Every call here is
 * collective: all ranks make it, in the same order. None allocates. */
#ifndef FERC_TRAIN_DIST_H
#define FERC_TRAIN_DIST_H

#include <stddef.h>

/* This process's rank in [0, size) and the number of ranks: 0 and 1 unless
 * ferc_dist_init joined an MPI job of several. */
int dist_rank(void);
int dist_size(void);

/* buf (n floats) := the sum of every rank's buf (MPI_Allreduce in place). */
void dist_sum_floats(float *buf, size_t n);
/* v (n doubles) := the sum over ranks. */
void dist_sum_doubles(double *v, int n);
/* buf := the mean of every rank's buf. */
void dist_mean_floats(float *buf, size_t n);
/* buf := rank 0's buf. */
void dist_bcast_floats(float *buf, size_t n);
/* 1 on every rank when flag is non-zero on any. */
int dist_any(int flag);

#endif
