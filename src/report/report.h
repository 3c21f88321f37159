/* report/report.h — the HTML report's internal entry point (report.c), used
 * by ferc_report and by the tests that render a page without a model; and
 * the context that report.c, report_figures.c (the PNGs) and report_page.c
 * (index.html) share while a page is made. */
#ifndef FERC_REPORT_H
#define FERC_REPORT_H

#include "report/plot.h"
#include "model/model.h"

/* ---- library-internal parts of the API (not in include/ferc.h) ---- */

/* ferc_calibration and ferc_calibration_compute are public (include/ferc.h). */

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

/* ---- shared by report.c, report_figures.c and report_page.c --------------- */

#define REPORT_MAX_FACES 200      /* limit of ferc_report_opts.max_faces */
#define REPORT_MAX_QUANTILES 20   /* limit of ferc_report_opts.quantiles */
#define REPORT_MAX_FIGURES 16

/* The output folder: files are written into tmp, then moved into dir. */
typedef struct {
    char dir[4096];     /* final folder (no trailing slash) */
    char tmp[4200];     /* where files are written; "" once moved or removed */
    int sibling;        /* tmp is dir's sibling (dir did not exist): rename whole folder */
    char names[24][32]; /* files written into tmp, in order */
    int nnames;
} report_outdir;

/* Path of file name in the temporary folder. */
void report_out_file(const report_outdir *od, const char *name, char *buf, size_t cap);
/* Remember a written file so that it is moved into place. */
void report_out_keep(report_outdir *od, const char *name);

/* A face (or channel) index with its sort key. */
typedef struct { double key; int i; } report_keyed;
/* Sort by key, largest first; ties by index. */
void report_sort_keyed(report_keyed *k, int n);

/* True class t predicted as p, count times. */
typedef struct { int t, p, count; } report_pair;

/* A figure on the page; present = 0 when there was nothing to draw. */
typedef struct {
    const char *file, *alt;
    int w, h;
    int present;
} report_figure;

/* Everything made once and used by several figures and page sections.
 * Allocated by report_ctx_begin and freed by report_ctx_end (report.c). */
typedef struct {
    const report_input *in;
    const ferc_dataset *d;
    int n;                                  /* d->n */
    ferc_report_opts o;                     /* with the limits applied */
    const char *names[FERC_NUM_CLASSES];
    ferc_metrics met;
    ferc_calibration cal;
    float temperature;                      /* the model's calibration (1 = none) */
    ferc_calibration cal_raw;               /* with it undone, when calibrated */
    int true_count[FERC_NUM_CLASSES], pred_count[FERC_NUM_CLASSES];
    int best_epoch;                         /* 1-based epoch of the best validation accuracy */
    int *correct;                           /* (n) prediction == label */
    double *val;                            /* (2n) brightness, then contrast, of each face (0..1) */
    int have_q;                             /* enough faces for o.quantiles groups */
    double qacc[2][REPORT_MAX_QUANTILES], qlo[2][REPORT_MAX_QUANTILES], qhi[2][REPORT_MAX_QUANTILES];
    int qcnt[2][REPORT_MAX_QUANTILES];      /* [0] brightness, [1] contrast */
    report_pair pairs[FERC_NUM_CLASSES * FERC_NUM_CLASSES];
    int npairs;                             /* confused pairs, most frequent first */
    int mis[REPORT_MAX_FACES], nshow;       /* the nshow most confident mistakes */
    int nmis;                               /* mistakes in all */
    int cor[REPORT_MAX_FACES], ncor;        /* correct faces shown, classes in turn */
    int ncorrect;                           /* correct predictions in all */
    int nblocks;                            /* conv blocks of the model (0 without one) */
    report_keyed *kk;                       /* (n) scratch for sorting faces */
    report_outdir od;
    report_figure fig[REPORT_MAX_FIGURES];  /* figures drawn, in order */
    int nfig;
} report_ctx;

/* Draw every figure of the page into the temporary folder, then
 * summary.png (report_figures.c). */
ferc_status report_draw_figures(report_ctx *c, ferc_error *err);
/* Write index.html into the temporary folder (report_page.c). */
ferc_status report_write_page(report_ctx *c, ferc_error *err);

#endif
