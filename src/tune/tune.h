/* tune/tune.h — internals of the hyperparameter search (`ferc tune`): the
 * parsed search space. The public side (ferc_space_*, ferc_tune_*) is in
 * include/ferc.h; running trials as processes is the CLI's (cli/cmd_tune.c). */
#ifndef FERC_TUNE_H
#define FERC_TUNE_H

#include "ferc.h"

enum { TUNE_MAX_PARAMS = 32, TUNE_MAX_CHOICES = 16, TUNE_TEXT = 64 };

typedef enum { TUNE_CHOICE = 0, TUNE_UNIFORM, TUNE_LOGUNIFORM } tune_kind;

typedef struct {
    char key[TUNE_TEXT];                       /* a ferc train option without "--" */
    tune_kind kind;
    int n;                                     /* choices (or 2 for a range) */
    char choice[TUNE_MAX_CHOICES][TUNE_TEXT];  /* the values as written */
    double lo, hi;                             /* ranges */
} tune_param;

struct ferc_space {
    int n;
    tune_param p[TUNE_MAX_PARAMS];
};

/* Radical inverse of i in base b (the Halton coordinate), in [0, 1). */
double tune_radical_inverse(unsigned long i, unsigned b);

#endif
