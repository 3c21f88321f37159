/* report_page.c — index.html of the report: one function per section of
 * the page (headline, summary cards, findings in words, training curves,
 * classification report, confused pairs, calibration, share, quantiles,
 * faces, the inside of the network, list of files), run in order from a
 * table into a growing buffer that is written to the temporary folder in
 * one go. Everything shown comes from the report context. */
#include "report/report.h"


#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define K FERC_NUM_CLASSES

/* ------------------------------------------------------------------------ */
/* Text buffer                                                              */
/* ------------------------------------------------------------------------ */

typedef struct { char *p; size_t n, cap; int oom; } sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = b->cap - b->n;
        int k = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? room : 0, fmt, ap);
        va_end(ap);
        if (k < 0) { b->oom = 1; return; }
        if (b->p && (size_t)k < room) { b->n += (size_t)k; return; }
        size_t nc = (b->cap ? b->cap * 2 : 16384) + (size_t)k;
        char *np = realloc(b->p, nc);
        if (!np) { b->oom = 1; return; }
        b->p = np;
        b->cap = nc;
    }
}

/* HTML-escaped text. */
static void sb_esc(sbuf *b, const char *s) {
    for (; s && *s; s++) {
        switch (*s) {
        case '&': sb_printf(b, "&amp;"); break;
        case '<': sb_printf(b, "&lt;"); break;
        case '>': sb_printf(b, "&gt;"); break;
        case '"': sb_printf(b, "&quot;"); break;
        default: sb_printf(b, "%c", *s);
        }
    }
}

/* The figure file as an image, when it was drawn. */
static void sb_fig(sbuf *b, const report_ctx *c, const char *file) {
    for (int i = 0; i < c->nfig; i++) {
        const report_figure *f = &c->fig[i];
        if (strcmp(f->file, file) != 0 || !f->present) continue;
        sb_printf(b, "<figure><img src=\"%s\" width=\"%d\" height=\"%d\" alt=\"", f->file, f->w, f->h);
        sb_esc(b, f->alt);
        sb_printf(b, "\"></figure>\n");
    }
}

/* ------------------------------------------------------------------------ */
/* Sections                                                                 */
/* ------------------------------------------------------------------------ */

static const char CSS[] =
    "body{font-family:'DejaVu Sans',Arial,sans-serif;margin:0 auto;max-width:1260px;padding:16px 24px;color:#222;background:#fff}"
    "h1{font-size:26px;margin:8px 0}h2{font-size:20px;margin-top:34px;border-bottom:1px solid #ddd;padding-bottom:4px}"
    "h3{font-size:16px}p.note{color:#555;font-size:14px;max-width:980px}"
    "figure{margin:10px 0}img{max-width:100%;height:auto;border:1px solid #eee}"
    "table{border-collapse:collapse;margin:8px 0;font-size:14px}"
    "th,td{border:1px solid #ddd;padding:4px 10px;text-align:right}th{background:#f4f6f8}"
    "td.l,th.l{text-align:left}tr.sum td{background:#fafafa;font-weight:bold}"
    ".cards{display:flex;flex-wrap:wrap;gap:10px}.card{border:1px solid #ddd;border-radius:6px;padding:8px 14px;min-width:120px}"
    ".card b{display:block;font-size:22px}.card span{color:#666;font-size:13px}"
    "ul.find li{margin:4px 0}pre{background:#f7f7f7;padding:10px;font-size:13px;overflow-x:auto}"
    "nav a{margin-right:12px}";

/* Document head, the title with model and data, and the navigation. */
static void sec_head(sbuf *b, const report_ctx *c) {
    const report_input *in = c->in;
    const ferc_report_opts *o = &c->o;
    sb_printf(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                 "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>ferc report: ");
    sb_esc(b, in->arch ? in->arch : "model");
    sb_printf(b, " on ");
    sb_esc(b, o->data_label ? o->data_label : "data");
    sb_printf(b, "</title>\n<style>%s</style>\n</head>\n<body>\n", CSS);
    sb_printf(b, "<h1 id=\"top\">ferc report</h1>\n<p class=\"note\">Model <b>");
    sb_esc(b, o->model_label ? o->model_label : (in->arch ? in->arch : "?"));
    sb_printf(b, "</b> (architecture <b>");
    sb_esc(b, in->arch ? in->arch : "?");
    sb_printf(b, "</b>) on <b>");
    sb_esc(b, o->data_label ? o->data_label : "data");
    sb_printf(b, "</b>. Made by ferc %s.</p>\n", FERC_VERSION_STRING);
    sb_printf(b, "<nav><a href=\"#summary\">summary</a><a href=\"#training\">training</a><a href=\"#report\">classification report</a>"
                 "<a href=\"#errors\">error analysis</a><a href=\"#faces\">faces</a><a href=\"#inside\">inside the network</a></nav>\n");
}

/* The headline numbers as cards. */
static void sec_summary(sbuf *b, const report_ctx *c) {
    const report_input *in = c->in;
    const ferc_epoch_stats *best = &in->hist[c->best_epoch - 1];
    sb_printf(b, "<h2 id=\"summary\">Summary</h2>\n<div class=\"cards\">\n");
    sb_printf(b, "<div class=\"card\"><b id=\"accuracy\">%.2f%%</b><span>accuracy</span></div>\n", 100 * c->met.accuracy);
    sb_printf(b, "<div class=\"card\"><b>%.3f</b><span>macro F1</span></div>\n", c->met.macro_f1);
    sb_printf(b, "<div class=\"card\"><b>%.3f</b><span>weighted F1</span></div>\n", c->met.weighted_f1);
    sb_printf(b, "<div class=\"card\"><b>%d</b><span>faces (n)</span></div>\n", c->n);
    sb_printf(b, "<div class=\"card\"><b>%.1f%%</b><span>expected calibration error</span></div>\n", 100 * c->cal.ece);
    sb_printf(b, "<div class=\"card\"><b>");
    sb_esc(b, in->arch ? in->arch : "?");
    sb_printf(b, "</b><span>architecture</span></div>\n");
    sb_printf(b, "<div class=\"card\"><b>%zu</b><span>parameters</span></div>\n", in->params);
    if (in->flops > 0) sb_printf(b, "<div class=\"card\"><b>%.1f M</b><span>FLOPs per face</span></div>\n", in->flops / 1e6);
    sb_printf(b, "<div class=\"card\"><b>%d</b><span>epochs trained</span></div>\n", in->nhist);
    sb_printf(b, "<div class=\"card\"><b>%.2f%%</b><span>best validation accuracy (epoch %d)</span></div>\n",
              100 * best->val_acc, best->epoch > 0 ? best->epoch : c->best_epoch);
    sb_printf(b, "</div>\n");
}

/* What the findings in words are about. */
typedef struct {
    int most_pred, least_recall, best_recall;
    double over;        /* largest excess of predicted over true share */
    int over_c;         /* its class */
    double mconf;       /* mean top-1 confidence */
} glance;

static glance glance_compute(const report_ctx *c) {
    const ferc_metrics *met = &c->met;
    const int *pred_count = c->pred_count, *true_count = c->true_count;
    int n = c->n;
    glance g = {.over = 0};
    for (int k = 0; k < K; k++) {
        if (pred_count[k] > pred_count[g.most_pred]) g.most_pred = k;
        if (met->support[k] > 0 && (met->support[g.least_recall] == 0 || met->recall[k] < met->recall[g.least_recall])) g.least_recall = k;
        if (met->support[k] > 0 && met->recall[k] > met->recall[g.best_recall]) g.best_recall = k;
        double ex = (double)pred_count[k] / n - (double)true_count[k] / n;
        if (ex > g.over) { g.over = ex; g.over_c = k; }
    }
    g.mconf = 0;
    for (int bb = 0; bb < c->cal.nb; bb++) g.mconf += c->cal.conf[bb] * c->cal.count[bb];
    g.mconf /= n;
    return g;
}

/* Accuracy range over the brightness and contrast groups. */
static void findings_quantiles(sbuf *b, const report_ctx *c) {
    if (!c->have_q) return;
    for (int k = 0; k < 2; k++) {
        int lo = 0, hi = 0;
        for (int g = 0; g < c->o.quantiles; g++) {
            if (c->qacc[k][g] < c->qacc[k][lo]) lo = g;
            if (c->qacc[k][g] > c->qacc[k][hi]) hi = g;
        }
        sb_printf(b, "<li>By %s: accuracy ranges from %.1f%% (Q%d) to %.1f%% (Q%d).</li>\n",
                  k == 0 ? "brightness" : "contrast", 100 * c->qacc[k][lo], lo + 1, 100 * c->qacc[k][hi], hi + 1);
    }
}

/* "At a glance": the findings in words. */
static void sec_findings(sbuf *b, const report_ctx *c) {
    const ferc_metrics *met = &c->met;
    const char *const *names = c->names;
    const report_pair *top = &c->pairs[0];
    const ferc_epoch_stats *last = &c->in->hist[c->in->nhist - 1];
    int n = c->n, nmis = c->nmis;
    glance g = glance_compute(c);
    sb_printf(b, "<h3>At a glance</h3>\n<ul class=\"find\" id=\"findings\">\n");
    sb_printf(b, "<li>Best recognised: <b>%s</b> (recall %.0f%%); worst: <b>%s</b> (recall %.0f%%, %d faces).</li>\n",
              names[g.best_recall], 100 * met->recall[g.best_recall], names[g.least_recall], 100 * met->recall[g.least_recall],
              met->support[g.least_recall]);
    if (c->npairs > 0)
        sb_printf(b, "<li>Most frequent confusion: <b>%s</b> taken for <b>%s</b>, %d times (%.1f%% of %s faces, %.1f%% of all %d mistakes).</li>\n",
                  names[top->t], names[top->p], top->count,
                  100.0 * top->count / (met->support[top->t] ? met->support[top->t] : 1), names[top->t],
                  100.0 * top->count / (nmis ? nmis : 1), nmis);
    sb_printf(b, "<li>The model predicts <b>%s</b> most often: %.1f%% of predictions for a true share of %.1f%%.",
              names[g.most_pred], 100.0 * c->pred_count[g.most_pred] / n, 100.0 * c->true_count[g.most_pred] / n);
    if (g.over > 0.005)
        sb_printf(b, " The most over-predicted class is <b>%s</b> (+%.1f points).", names[g.over_c], 100 * g.over);
    sb_printf(b, "</li>\n");
    sb_printf(b, "<li>Mean confidence %.1f%% against an accuracy of %.1f%%: the model is <b>%s</b> (ECE %.1f%%).</li>\n",
              100 * g.mconf, 100 * met->accuracy,
              g.mconf > met->accuracy + 0.02 ? "over-confident" : g.mconf < met->accuracy - 0.02 ? "under-confident" : "about calibrated",
              100 * c->cal.ece);
    findings_quantiles(b, c);
    sb_printf(b, "<li>Training: %d epochs; last epoch train accuracy %.1f%%, validation %.1f%%%s.</li>\n", c->in->nhist,
              100 * last->train_acc, 100 * last->val_acc,
              last->train_acc - last->val_acc > 0.1 ? " (a gap over 10 points: over-fitting)" : "");
    sb_printf(b, "</ul>\n");
}

static void sec_training(sbuf *b, const report_ctx *c) {
    sb_printf(b, "<h2 id=\"training\">Training curves</h2>\n<p class=\"note\">Loss and accuracy on the training and validation "
                 "split per epoch, from the history stored in the model file. The dashed line marks the epoch with the best "
                 "validation accuracy (the weights kept).</p>\n");
    sb_fig(b, c, "curves.png");
}

/* The classification report as a table and as scikit-learn's text. */
static void sec_classification(sbuf *b, const report_ctx *c) {
    const ferc_metrics *met = &c->met;
    int n = c->n;
    sb_printf(b, "<h2 id=\"report\">Classification report</h2>\n<table id=\"classification-report\">\n"
                 "<tr><th class=\"l\">class</th><th>precision</th><th>recall</th><th>F1</th><th>support</th><th>predicted</th></tr>\n");
    for (int k = 0; k < K; k++)
        sb_printf(b, "<tr><td class=\"l\">%s</td><td>%.3f</td><td>%.3f</td><td>%.3f</td><td>%d</td><td>%d</td></tr>\n", c->names[k],
                  met->precision[k], met->recall[k], met->f1[k], met->support[k], c->pred_count[k]);
    sb_printf(b, "<tr class=\"sum\"><td class=\"l\">accuracy</td><td></td><td></td><td>%.3f</td><td>%d</td><td></td></tr>\n", met->accuracy, n);
    sb_printf(b, "<tr class=\"sum\"><td class=\"l\">macro avg</td><td>%.3f</td><td>%.3f</td><td>%.3f</td><td>%d</td><td></td></tr>\n",
              met->macro_precision, met->macro_recall, met->macro_f1, n);
    sb_printf(b, "<tr class=\"sum\"><td class=\"l\">weighted avg</td><td>%.3f</td><td>%.3f</td><td>%.3f</td><td>%d</td><td></td></tr>\n",
              met->weighted_precision, met->weighted_recall, met->weighted_f1, n);
    sb_printf(b, "</table>\n");
    char rep[4096];
    ferc_metrics_report(met, 4, rep, sizeof rep);
    sb_printf(b, "<details><summary>as text (scikit-learn layout)</summary><pre>");
    sb_esc(b, rep);
    sb_printf(b, "</pre></details>\n");
}

static void sec_confusion(sbuf *b, const report_ctx *c) { sb_fig(b, c, "confusion.png"); }

static void sec_per_class(sbuf *b, const report_ctx *c) { sb_fig(b, c, "per_class.png"); }

/* Error analysis: the ten most confused pairs and their faces. */
static void sec_pairs(sbuf *b, const report_ctx *c) {
    const ferc_metrics *met = &c->met;
    int nmis = c->nmis;
    sb_printf(b, "<h2 id=\"errors\">Error analysis</h2>\n<h3>Most confused pairs</h3>\n<table id=\"confused-pairs\">\n"
                 "<tr><th>#</th><th class=\"l\">true</th><th class=\"l\">predicted as</th><th>count</th><th>%% of the true class</th><th>%% of all mistakes</th></tr>\n");
    int show_pairs = c->npairs < 10 ? c->npairs : 10;
    for (int r = 0; r < show_pairs; r++) {
        const report_pair *p = &c->pairs[r];
        sb_printf(b, "<tr><td>%d</td><td class=\"l\">%s</td><td class=\"l\">%s</td><td>%d</td><td>%.1f%%</td><td>%.1f%%</td></tr>\n", r + 1,
                  c->names[p->t], c->names[p->p], p->count,
                  100.0 * p->count / (met->support[p->t] ? met->support[p->t] : 1),
                  100.0 * p->count / (nmis ? nmis : 1));
    }
    if (c->npairs == 0) sb_printf(b, "<tr><td colspan=\"6\">no mistakes</td></tr>\n");
    sb_printf(b, "</table>\n");
    sb_fig(b, c, "confused_pairs.png");
}

static void sec_calibration(sbuf *b, const report_ctx *c) {
    sb_printf(b, "<h3>Calibration</h3>\n<p class=\"note\">Predictions are grouped by their top-1 probability into %d bins; "
                 "a calibrated model is right in a bin as often as it is confident. Expected calibration error "
                 "<b id=\"ece\">ECE = %.2f%%</b> (count-weighted mean gap), largest gap MCE = %.2f%%.</p>\n",
              c->cal.nb, 100 * c->cal.ece, 100 * c->cal.mce);
    sb_fig(b, c, "calibration.png");
    if (c->temperature == 1.0f) return;
    sb_printf(b, "<p class=\"note\">The model is calibrated by temperature scaling (<b id=\"temperature\">T = %.3f</b>, "
                 "ferc calibrate). Before it: <b id=\"ece_uncalibrated\">ECE = %.2f%%</b>, MCE = %.2f%%.</p>\n",
              c->temperature, 100 * c->cal_raw.ece, 100 * c->cal_raw.mce);
    sb_fig(b, c, "calibration_uncalibrated.png");
}

static void sec_share(sbuf *b, const report_ctx *c) {
    sb_printf(b, "<h3>Predicted share vs true share</h3>\n<p class=\"note\">A class predicted much more often than it occurs "
                 "is where the model's doubts go (\"it always says neutral\").</p>\n");
    sb_fig(b, c, "share.png");
}

static void sec_quantiles(sbuf *b, const report_ctx *c) {
    sb_printf(b, "<h3>Accuracy by brightness and contrast</h3>\n");
    if (!c->have_q) {
        sb_printf(b, "<p class=\"note\">Too few faces (%d) for %d groups.</p>\n", c->n, c->o.quantiles);
        return;
    }
    sb_printf(b, "<p class=\"note\">Faces sorted by mean pixel value (brightness) and by pixel standard deviation "
                 "(contrast), both on a 0..1 scale, and split into %d groups of equal size.</p>\n", c->o.quantiles);
    sb_printf(b, "<table id=\"quantiles\"><tr><th>group</th><th>brightness</th><th>accuracy</th><th>contrast</th><th>accuracy</th><th>faces</th></tr>\n");
    for (int g = 0; g < c->o.quantiles; g++)
        sb_printf(b, "<tr><td>Q%d</td><td>%.2f&ndash;%.2f</td><td>%.1f%%</td><td>%.2f&ndash;%.2f</td><td>%.1f%%</td><td>%d</td></tr>\n",
                  g + 1, c->qlo[0][g], c->qhi[0][g], 100 * c->qacc[0][g], c->qlo[1][g], c->qhi[1][g], 100 * c->qacc[1][g], c->qcnt[0][g]);
    sb_printf(b, "</table>\n");
    sb_fig(b, c, "quantiles.png");
}

static void sec_mistakes(sbuf *b, const report_ctx *c) {
    sb_printf(b, "<h2 id=\"faces\">Faces</h2>\n<p class=\"note\">Captions read <i>true &rarr; predicted (confidence)</i>; "
                 "green when right, red when wrong. Faces are enlarged with bilinear scaling.</p>\n<h3>Misclassified</h3>\n");
    sb_fig(b, c, "misclassified.png");
}

static void sec_correct(sbuf *b, const report_ctx *c) {
    sb_printf(b, "<h3>Correctly classified</h3>\n");
    sb_fig(b, c, "correct.png");
}

static void sec_inside(sbuf *b, const report_ctx *c) {
    sb_printf(b, "<h2 id=\"inside\">Inside the network</h2>\n");
    if (!c->in->model) sb_printf(b, "<p class=\"note\">Not available: made without the model's weights.</p>\n");
}

static void sec_activations(sbuf *b, const report_ctx *c) {
    if (!c->in->model) return;
    sb_printf(b, "<h3>Activations</h3>\n<p class=\"note\">The %d conv blocks' outputs (after ReLU, before pooling) for a few faces; "
                 "the most active channels, each scaled to its own range (nearest-neighbour enlargement).</p>\n", c->nblocks);
    sb_fig(b, c, "activations.png");
}

static void sec_filters(sbuf *b, const report_ctx *c) {
    if (!c->in->model) return;
    sb_printf(b, "<h3>First-layer kernels</h3>\n");
    sb_fig(b, c, "filters.png");
}

static void sec_saliency(sbuf *b, const report_ctx *c) {
    if (!c->in->model) return;
    sb_printf(b, "<h3>Saliency</h3>\n<p class=\"note\">|&part; score of the predicted class / &part; pixel|: bright areas "
                 "changed the decision most. First half: the most confident mistakes; second half: correct faces.</p>\n");
    sb_fig(b, c, "saliency.png");
}

/* Links to every file, and the end of the document. */
static void sec_files(sbuf *b, const report_ctx *c) {
    sb_printf(b, "<p class=\"note\">Files: ");
    for (int i = 0; i < c->nfig; i++) sb_printf(b, "<a href=\"%s\">%s</a> ", c->fig[i].file, c->fig[i].file);
    sb_printf(b, "<a href=\"summary.png\">summary.png</a> (the charts without faces, for a README)");
    sb_printf(b, "</p>\n</body>\n</html>\n");
}

/* In page order. */
static void (*const SECTIONS[])(sbuf *b, const report_ctx *c) = {
    sec_head, sec_summary, sec_findings, sec_training,
    sec_classification, sec_confusion, sec_per_class,
    sec_pairs, sec_calibration, sec_share, sec_quantiles,
    sec_mistakes, sec_correct,
    sec_inside, sec_activations, sec_filters, sec_saliency,
    sec_files,
};

/* ------------------------------------------------------------------------ */
/* The page                                                                 */
/* ------------------------------------------------------------------------ */

static ferc_status write_file(report_ctx *c, const sbuf *b, ferc_error *err) {
    char path[4500];
    report_out_file(&c->od, "index.html", path, sizeof path);
    FILE *f = fopen(path, "wb");
    if (!f) return ferc_fail(err, FERC_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    size_t wr = fwrite(b->p, 1, b->n, f);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad || wr != b->n) return ferc_fail(err, FERC_ERR_IO, "%s: write failed", path);
    report_out_keep(&c->od, "index.html");
    return FERC_OK;
}

ferc_status report_write_page(report_ctx *c, ferc_error *err) {
    ferc_logf(c->o.log, c->o.log_user, FERC_LOG_INFO, "writing index.html");
    sbuf b = {0};
    for (size_t i = 0; i < sizeof SECTIONS / sizeof SECTIONS[0]; i++) SECTIONS[i](&b, c);
    ferc_status st;
    if (b.oom) st = ferc_fail(err, FERC_ERR_NOMEM, "report: out of memory writing the page");
    else st = write_file(c, &b, err);
    free(b.p);
    return st;
}
