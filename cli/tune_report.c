/* tune_report.c — what `ferc tune` shows: the leaderboard on stdout,
 * DIR/leaderboard.json (the machine-readable one: each trial's config,
 * score, status and validation figure per epoch), DIR/curves.png and
 * DIR/index.html (every trial's curve, the table), rewritten after every
 * rung so that a long search can be watched; and at the end DIR/best.ferc
 * with the `ferc train` command that trains that configuration in full. */
#include "tune.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static float score(const tune_trial *x) { return x->epochs > 0 ? x->best[x->epochs - 1] : -1; }

/* Better first: more epochs survived (a later rung), then a higher score;
 * failed trials last. */
static int better(const tune_search *s, int a, int b) {
    const tune_trial *x = &s->t[a], *y = &s->t[b];
    if (x->failed != y->failed) return !x->failed;
    if (x->epochs != y->epochs) return x->epochs > y->epochs;
    if (score(x) != score(y)) return score(x) > score(y);
    return a < b;
}

int tune_rank(const tune_search *s, int *order) {
    for (int i = 0; i < s->n; i++) order[i] = i;
    for (int a = 1; a < s->n; a++)
        for (int b = a; b > 0 && better(s, order[b], order[b - 1]); b--) {
            int t = order[b]; order[b] = order[b - 1]; order[b - 1] = t;
        }
    return s->n;
}

const char *tune_status(const tune_search *s, int i, int over) {
    const tune_trial *x = &s->t[i];
    if (x->failed) return "failed";
    if (x->pid) return "running";
    if (x->epochs >= s->max_epochs) return "done";
    if (!over) return x->epochs ? "waiting" : "not started";
    for (int k = 0; k < s->nrungs; k++)
        if (x->epochs == s->rungs[k]) return "pruned";
    return x->epochs ? "stopped" : "not run";
}

static int is_number(const char *v) {
    const char *p = v + (*v == '-');
    if (!isdigit((unsigned char)*p)) return 0;
    char *end;
    strtod(v, &end);
    return *end == 0;
}

static void json_config(const tune_search *s, FILE *f, int i) {
    fputc('{', f);
    for (int k = 0; k < ferc_space_keys(s->space); k++) {
        const char *v = s->t[i].values[k];
        if (k) fputs(", ", f);
        cli_json_str(f, ferc_space_key(s->space, k));
        fputs(": ", f);
        if (is_number(v)) fputs(v, f);
        else cli_json_str(f, v);
    }
    fputc('}', f);
}

static void json_trial(const tune_search *s, FILE *f, int i, int rank, int over) {
    const tune_trial *x = &s->t[i];
    fprintf(f, "    {\"trial\": %d, \"rank\": %d, \"status\": \"%s\", \"epochs\": %d, \"score\": ", i, rank,
            tune_status(s, i, over), x->epochs);
    if (x->epochs) fprintf(f, "%.6f", score(x));
    else fputs("null", f);
    fputs(", \"config\": ", f);
    json_config(s, f, i);
    fputs(", \"history\": [", f);
    for (int e = 0; e < x->epochs; e++) fprintf(f, "%s%.6f", e ? ", " : "", x->hist[e]);
    fputs("]", f);
    if (x->failed) { fputs(", \"error\": ", f); cli_json_str(f, x->why); }
    fputs("}", f);
}

/* The `ferc train` command of trial i, trained in full to path. */
static void train_command(const tune_search *s, int i, FILE *f, const char *path) {
    char *argv[256], buf[TUNE_MAX_KEYS][TUNE_VAL + 16];
    fputs("ferc train", f);
    for (int k = 0; k < s->npass; k++) { fputc(' ', f); cli_put_quoted(f, s->pass[k]); }
    int n = tune_config_args(s, i, argv, 256, buf);
    for (int k = 0; k < n; k++) { fputc(' ', f); cli_put_quoted(f, argv[k]); }
    fprintf(f, " --epochs %d --select %s --out ", s->max_epochs, s->by_f1 ? "macro-f1" : "accuracy");
    cli_put_quoted(f, path);
}

static void write_json(const tune_search *s, FILE *f, const int *order, int over) {
    fprintf(f, "{\n  \"metric\": \"%s\",\n  \"sampler\": \"%s\",\n  \"search_seed\": %llu,\n  \"rungs\": [",
            s->by_f1 ? "val_macro_f1" : "val_accuracy", s->sampler == FERC_SAMPLER_HALTON ? "halton" : "random",
            s->search_seed);
    for (int k = 0; k < s->nrungs; k++) fprintf(f, "%s%d", k ? ", " : "", s->rungs[k]);
    fprintf(f, "],\n  \"over\": %s,\n  \"trials\": [\n", over ? "true" : "false");
    for (int r = 0; r < s->n; r++) {
        json_trial(s, f, order[r], r + 1, over);
        fputs(r + 1 < s->n ? ",\n" : "\n", f);
    }
    fputs("  ]", f);
    if (s->n && !s->t[order[0]].failed && s->t[order[0]].epochs) {
        fprintf(f, ",\n  \"best\": {\"trial\": %d, \"command\": ", order[0]);
        char *cmd = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&cmd, &len);
        if (m) { train_command(s, order[0], m, "best.ferc"); fclose(m); }
        cli_json_str(f, cmd ? cmd : "");
        free(cmd);
        fputs("}", f);
    }
    fputs("\n}\n", f);
}

static void html_row(const tune_search *s, FILE *f, int i, int rank, int over) {
    const tune_trial *x = &s->t[i];
    fprintf(f, "<tr><td>%d</td><td>%d</td><td>%s</td><td>%d</td><td>", rank, i, tune_status(s, i, over), x->epochs);
    if (x->epochs) fprintf(f, "%.4f", score(x));
    fputs("</td><td>", f);
    for (int k = 0; k < ferc_space_keys(s->space); k++)
        fprintf(f, "%s%s = %s", k ? ", " : "", ferc_space_key(s->space, k), x->values[k]);  /* keys and values are [A-Za-z0-9.,-_] */
    fputs("</td></tr>\n", f);
}

static void write_html(const tune_search *s, FILE *f, const int *order, int over) {
    fprintf(f, "<!doctype html>\n<meta charset=\"utf-8\">\n<title>ferc tune</title>\n"
               "<style>body{font:14px sans-serif;margin:2em}table{border-collapse:collapse}"
               "td,th{border:1px solid #ccc;padding:3px 8px}</style>\n"
               "<h1>ferc tune: %d trials%s</h1>\n<p>score = best %s on the validation split; rungs:",
            s->n, over ? "" : " (running)", s->by_f1 ? "macro F1" : "accuracy");
    for (int k = 0; k < s->nrungs; k++) fprintf(f, " %d", s->rungs[k]);
    fputs(" epochs</p>\n<img src=\"curves.png\" alt=\"validation curves\">\n<table>\n"
          "<tr><th>rank</th><th>trial</th><th>status</th><th>epochs</th><th>score</th><th>config</th></tr>\n", f);
    for (int r = 0; r < s->n; r++) html_row(s, f, order[r], r + 1, over);
    fputs("</table>\n", f);
}

/* DIR/name written through a temporary file and renamed into place. */
static void write_view(const tune_search *s, const char *name, const int *order, int over,
                       void (*fn)(const tune_search *, FILE *, const int *, int)) {
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/%s", s->dir, name);
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp%ld", s->dir, name, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) { fprintf(stderr, "ferc tune: %s: %s\n", tmp, strerror(errno)); return; }
    fn(s, f, order, over);
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        fprintf(stderr, "ferc tune: %s: %s\n", path, strerror(errno));
        unlink(tmp);
    }
}

static void write_curves(const tune_search *s, const int *order) {
    const float **y = calloc((size_t)s->n + 1, sizeof *y);
    int *n = calloc((size_t)s->n + 1, sizeof *n), count = 0;
    char (*labels)[32] = calloc((size_t)s->n + 1, sizeof *labels);
    const char **lp = calloc((size_t)s->n + 1, sizeof *lp);
    if (y && n && labels && lp)
        for (int i = 0; i < s->n; i++) {
            if (!s->t[i].epochs) continue;
            y[count] = s->t[i].hist; n[count] = s->t[i].epochs;
            snprintf(labels[count], sizeof labels[count], "trial %d", i);
            lp[count] = labels[count];
            count++;
        }
    int hi = -1;
    for (int c = 0, i = 0; c < count && s->n; i++)   /* the best trial's place among the drawn ones */
        if (s->t[i].epochs) { if (i == order[0]) hi = c; c++; }
    char path[4096];
    snprintf(path, sizeof path, "%s/curves.png", s->dir);
    ferc_error err = {0};
    if (count && ferc_plot_trials(y, n, lp, count, hi, s->by_f1 ? "validation macro F1" : "validation accuracy",
                                  path, &err) != FERC_OK)
        fprintf(stderr, "ferc tune: %s\n", err.msg);
    free(y); free(n); free(labels); free(lp);
}

void tune_write_views(const tune_search *s, int over) {
    int *order = malloc(sizeof(int) * ((size_t)s->n + 1));
    if (!order) return;
    tune_rank(s, order);
    write_view(s, "leaderboard.json", order, over, write_json);
    write_view(s, "index.html", order, over, write_html);
    write_curves(s, order);
    free(order);
}

void tune_print_leaderboard(const tune_search *s, FILE *f) {
    int *order = malloc(sizeof(int) * ((size_t)s->n + 1));
    if (!order) return;
    tune_rank(s, order);
    fprintf(f, "%-5s %-6s %-11s %-7s %-8s %s\n", "rank", "trial", "status", "epochs", s->by_f1 ? "val_f1" : "val_acc",
            "config");
    for (int r = 0; r < s->n; r++) {
        const int i = order[r];
        const tune_trial *x = &s->t[i];
        fprintf(f, "%-5d %-6d %-11s %-7d ", r + 1, i, tune_status(s, i, 1), x->epochs);
        if (x->epochs) fprintf(f, "%-8.4f ", score(x));
        else fprintf(f, "%-8s ", "-");
        for (int k = 0; k < ferc_space_keys(s->space); k++)
            fprintf(f, "%s%s=%s", k ? " " : "", ferc_space_key(s->space, k), x->values[k]);
        if (x->failed) fprintf(f, "  (%s)", x->why);
        fputc('\n', f);
    }
    free(order);
}

static int copy_file(const char *from, const char *to) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", to, (long)getpid());
    FILE *in = fopen(from, "rb"), *out = in ? fopen(tmp, "wb") : NULL;
    char buf[65536];
    size_t k;
    int ok = in && out;
    while (ok && (k = fread(buf, 1, sizeof buf, in)) > 0) ok = fwrite(buf, 1, k, out) == k;
    if (in) { ok = ok && !ferror(in); fclose(in); }
    if (out) ok = (fclose(out) == 0) && ok;
    if (ok && rename(tmp, to) == 0) return 0;
    unlink(tmp);
    return 1;
}

/* DIR/best.ferc and the command that trains the winner in full. */
int tune_finish_best(const tune_search *s) {
    int *order = malloc(sizeof(int) * ((size_t)s->n + 1));
    if (!order) return 1;
    tune_rank(s, order);
    const int b = order[0];
    free(order);
    if (!s->n || s->t[b].failed || !s->t[b].epochs) {
        fprintf(stderr, "ferc tune: no trial finished an epoch: nothing to keep (see the trials' train.log)\n");
        return 1;
    }
    char from[4096], to[4096];
    tune_trial_dir(s, b, "model.ferc", from, sizeof from);
    snprintf(to, sizeof to, "%s/best.ferc", s->dir);
    if (copy_file(from, to)) { fprintf(stderr, "ferc tune: %s: %s\n", to, strerror(errno)); return 1; }
    printf("best: trial %d, %s %.4f after %d of %d epochs; saved %s\n", b, s->by_f1 ? "val_macro_f1" : "val_accuracy",
           score(&s->t[b]), s->t[b].epochs, s->max_epochs, to);
    printf("to train it in full:\n  ");
    train_command(s, b, stdout, "best.ferc");
    putchar('\n');
    return 0;
}
