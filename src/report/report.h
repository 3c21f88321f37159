/* report/report.h — the HTML report's internal entry point (report.c), used
 * by ferc_report and by the tests that render a page without a model. */
#ifndef FERC_REPORT_H
#define FERC_REPORT_H

#include "report/plot.h"

/* Everything the page needs once the model has been evaluated. With
 * model == NULL the model-internal figures (activations, filters,
 * saliency) are left out and the page says so; the tests use this to
 * check the page without a trained model. */
typedef struct {
    const ferc_dataset *d;             /* rows shown (faces come from d->pix) */
    const int *pred;                   /* (d->n) predicted classes */
    const float *probs;                /* (d->n, 7) softmax outputs */
    const ferc_epoch_stats *hist;      /* training history, nhist >= 1 */
    int nhist;
    const char *arch;                  /* architecture name */
    size_t params;                     /* trained parameters */
    double flops;                      /* forward FLOPs per face (0 = unknown) */
    ferc_model *model;                 /* NULL: no activations / filters / saliency */
} report_input;

/* Validate, draw every figure into a temporary folder, write index.html and
 * move everything into dir. o may be NULL (defaults). */
ferc_status report_render(const report_input *in, const char *dir, const ferc_report_opts *o,
                          ferc_error *err);

#endif
