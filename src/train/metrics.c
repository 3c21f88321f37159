/* metrics.c — classification metrics computed exactly as scikit-learn does
 * (labels 0..6 always reported, zero_division=0): per-class precision,
 * recall, F1 and support, macro and weighted averages, accuracy, the
 * confusion matrix, and three renderings of them: scikit-learn's
 * classification_report text, a JSON object and a readable confusion table.
 *
 * The arithmetic mirrors scikit-learn 1.2 / NumPy bit for bit where it can:
 * ratios of integer counts, F1 = 2*p*r / (p + r), averages summed left to
 * right over the 7 classes (NumPy sums fewer than 8 numbers sequentially). */
#include "core/core.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define K FERC_NUM_CLASSES

/* zero_division=0 */
static double ratio(long long num, long long den) {
    return den == 0 ? 0.0 : (double)num / (double)den;
}

static double f1_of(double p, double r) {
    double den = p + r;
    if (den == 0.0) return 0.0;
    return 2.0 * p * r / den;
}

void ferc_metrics_compute(const int *y_true, const int *y_pred, int n, ferc_metrics *m) {
    memset(m, 0, sizeof *m);
    if (n < 0) n = 0;
    m->n = n;
    long long correct = 0;
    long long pred_count[K] = {0};
    for (int i = 0; i < n; i++) {
        int t = y_true[i], p = y_pred[i];
        if (t == p) correct++;
        if (p >= 0 && p < K) pred_count[p]++;
        if (t >= 0 && t < K) {
            m->support[t]++;
            if (p >= 0 && p < K) m->confusion[t][p]++;
        }
    }
    m->accuracy = ratio(correct, n);

    double sum_p = 0, sum_r = 0, sum_f = 0;
    double wsum_p = 0, wsum_r = 0, wsum_f = 0;
    long long total_support = 0;
    for (int k = 0; k < K; k++) {
        long long tp = m->confusion[k][k];
        m->precision[k] = ratio(tp, pred_count[k]);
        m->recall[k] = ratio(tp, m->support[k]);
        m->f1[k] = f1_of(m->precision[k], m->recall[k]);
        sum_p += m->precision[k];
        sum_r += m->recall[k];
        sum_f += m->f1[k];
        wsum_p += m->precision[k] * (double)m->support[k];
        wsum_r += m->recall[k] * (double)m->support[k];
        wsum_f += m->f1[k] * (double)m->support[k];
        total_support += m->support[k];
    }
    m->macro_precision = sum_p / K;
    m->macro_recall = sum_r / K;
    m->macro_f1 = sum_f / K;
    if (total_support > 0) {
        double w = (double)total_support;
        m->weighted_precision = wsum_p / w;
        m->weighted_recall = wsum_r / w;
        m->weighted_f1 = wsum_f / w;
    }
}

/* An appending writer with snprintf semantics: counts every byte it would
 * write, stores what fits and keeps the buffer NUL-terminated. */
typedef struct {
    char *buf;
    size_t cap, len;
} sink;

__attribute__((format(printf, 2, 3)))
static void put(sink *s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    size_t room = s->len < s->cap ? s->cap - s->len : 0;
    int r = vsnprintf(room ? s->buf + s->len : NULL, room, fmt, ap);
    va_end(ap);
    if (r > 0) s->len += (size_t)r;
}

static int finish(sink *s) {
    if (s->cap > 0 && s->len >= s->cap) s->buf[s->cap - 1] = 0;
    return (int)s->len;
}

/* Python's "{:>{width}s} " + " {:>9.{digits}f}" * 3 + " {:>9}\n" */
static void report_row(sink *s, int width, int digits, const char *name, double p, double r,
                       double f, long long support) {
    put(s, "%*s  %9.*f %9.*f %9.*f %9lld\n", width, name, digits, p, digits, r, digits, f,
        support);
}

int ferc_metrics_report(const ferc_metrics *m, int digits, char *buf, size_t cap) {
    sink s = {.buf = buf, .cap = cap, .len = 0};
    if (cap > 0) buf[0] = 0;
    if (digits < 0) digits = 0;
    if (digits > 30) digits = 30;

    /* width = max(len of the longest target name, len("weighted avg"), digits) */
    int width = (int)strlen("weighted avg");
    for (int k = 0; k < K; k++) {
        int l = (int)strlen(ferc_label_name(k));
        if (l > width) width = l;
    }
    if (digits > width) width = digits;

    put(&s, "%*s  %9s %9s %9s %9s\n\n", width, "", "precision", "recall", "f1-score", "support");
    long long total_support = 0, tp = 0, pred_in = 0, cells = 0;
    int all_present = 1;
    for (int k = 0; k < K; k++) {
        report_row(&s, width, digits, ferc_label_name(k), m->precision[k], m->recall[k],
                   m->f1[k], m->support[k]);
        total_support += m->support[k];
        tp += m->confusion[k][k];
        long long col = 0;
        for (int t = 0; t < K; t++) col += m->confusion[t][k];
        pred_in += col;
        cells += col;
        if (m->support[k] == 0 && col == 0) all_present = 0;
    }
    put(&s, "\n");

    /* scikit-learn labels the micro average "accuracy" only when the given
     * labels are exactly the labels present in y_true and y_pred: here, when
     * every class 0..6 occurs and no label outside 0..6 does. */
    double micro_p = ratio(tp, pred_in), micro_r = ratio(tp, total_support);
    double micro_f = f1_of(micro_p, micro_r);
    if (all_present && cells == (long long)m->n)
        put(&s, "%*s  %9s %9s %9.*f %9lld\n", width, "accuracy", "", "", digits, micro_f,
            total_support);
    else
        report_row(&s, width, digits, "micro avg", micro_p, micro_r, micro_f, total_support);
    report_row(&s, width, digits, "macro avg", m->macro_precision, m->macro_recall,
               m->macro_f1, total_support);
    report_row(&s, width, digits, "weighted avg", m->weighted_precision, m->weighted_recall,
               m->weighted_f1, total_support);
    return finish(&s);
}

/* A JSON number that round-trips; JSON has no nan/inf, so those become 0. */
static void put_num(sink *s, double v) {
    if (!isfinite(v)) v = 0.0;
    put(s, "%.17g", v);
}

int ferc_metrics_json(const ferc_metrics *m, char *buf, size_t cap) {
    sink s = {.buf = buf, .cap = cap, .len = 0};
    if (cap > 0) buf[0] = 0;
    put(&s, "{\"n\": %d, \"accuracy\": ", m->n);
    put_num(&s, m->accuracy);
    put(&s, ", \"macro_f1\": ");
    put_num(&s, m->macro_f1);
    put(&s, ", \"weighted_f1\": ");
    put_num(&s, m->weighted_f1);
    put(&s, ", \"per_class\": [");
    for (int k = 0; k < K; k++) {
        put(&s, "%s{\"label\": \"%s\", \"precision\": ", k ? ", " : "", ferc_label_name(k));
        put_num(&s, m->precision[k]);
        put(&s, ", \"recall\": ");
        put_num(&s, m->recall[k]);
        put(&s, ", \"f1\": ");
        put_num(&s, m->f1[k]);
        put(&s, ", \"support\": %d}", m->support[k]);
    }
    put(&s, "], \"confusion\": [");
    for (int t = 0; t < K; t++) {
        put(&s, "%s[", t ? ", " : "");
        for (int p = 0; p < K; p++) put(&s, "%s%d", p ? ", " : "", m->confusion[t][p]);
        put(&s, "]");
    }
    put(&s, "]}");
    return finish(&s);
}

int ferc_metrics_confusion_text(const ferc_metrics *m, char *buf, size_t cap) {
    sink s = {.buf = buf, .cap = cap, .len = 0};
    if (cap > 0) buf[0] = 0;
    /* Columns wide enough for the longest name and the largest count. */
    int cw = 0, big = 0;
    for (int k = 0; k < K; k++) {
        int l = (int)strlen(ferc_label_name(k));
        if (l > cw) cw = l;
        for (int p = 0; p < K; p++)
            if (m->confusion[k][p] > big) big = m->confusion[k][p];
    }
    int digits = snprintf(NULL, 0, "%d", big);
    if (digits > cw) cw = digits;
    const char *corner = "true \\ pred";
    int rw = (int)strlen(corner);
    put(&s, "%-*s", rw, corner);
    for (int p = 0; p < K; p++) put(&s, " %*s", cw, ferc_label_name(p));
    put(&s, " %*s\n", cw, "total");
    long long coltot[K] = {0}, all = 0;
    for (int t = 0; t < K; t++) {
        long long rowtot = 0;
        put(&s, "%-*s", rw, ferc_label_name(t));
        for (int p = 0; p < K; p++) {
            put(&s, " %*d", cw, m->confusion[t][p]);
            rowtot += m->confusion[t][p];
            coltot[p] += m->confusion[t][p];
        }
        all += rowtot;
        put(&s, " %*lld\n", cw, rowtot);
    }
    put(&s, "%-*s", rw, "total");
    for (int p = 0; p < K; p++) put(&s, " %*lld", cw, coltot[p]);
    put(&s, " %*lld\n", cw, all);
    if (all != (long long)m->n)
        put(&s, "(%lld of %d samples have a label outside 0..6 and are not shown)\n",
            (long long)m->n - all, m->n);
    return finish(&s);
}
