/* tune/space.c — the search space of `ferc tune`: a text file of
 * `key = choice(a, b) | uniform(lo, hi) | loguniform(lo, hi)` lines over
 * `ferc train` options, and the deterministic sampling of trial i's values
 * (random, or a Halton sequence with a seeded random shift, which covers a
 * small number of trials more evenly than independent draws).
 *
 * Sampling is a pure function of (space, sampler, seed, trial): a search
 * that is killed and started again finds the same configurations without
 * storing them, and two runs with the same seed try the same points. */
#include "tune/tune.h"

#include "core/core.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *trim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = 0;
    return s;
}

static int valid_key(const char *k) {
    if (!*k || strlen(k) >= TUNE_TEXT) return 0;
    for (const char *p = k; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.') return 0;
    return isalpha((unsigned char)k[0]);
}

static int parse_number(const char *s, double *v) {
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    return end != s && *trim(end) == 0 && errno == 0 && isfinite(*v);
}

/* "a, b, c" into the key's options (choice) or two bounds (ranges). */
static int split_args(char *args, tune_param *p) {
    int n = 0;
    for (char *tok = strtok(args, ","); tok; tok = strtok(NULL, ",")) {
        char *t = trim(tok);
        if (!*t || n >= TUNE_MAX_CHOICES || strlen(t) >= TUNE_TEXT) return -1;
        snprintf(p->choice[n++], TUNE_TEXT, "%s", t);
    }
    return n;
}

static ferc_status bad(ferc_error *err, const char *name, int line, const char *what) {
    return ferc_fail(err, FERC_ERR_PARSE, "%s:%d: %s", name, line, what);
}

static ferc_status parse_range(tune_param *p, int n, const char *name, int line, ferc_error *err) {
    if (n != 2 || !parse_number(p->choice[0], &p->lo) || !parse_number(p->choice[1], &p->hi))
        return bad(err, name, line, "a range takes two numbers, e.g. uniform(0, 0.3)");
    if (!(p->lo < p->hi)) return bad(err, name, line, "the range's low end must be below its high end");
    if (p->kind == TUNE_LOGUNIFORM && !(p->lo > 0))
        return bad(err, name, line, "loguniform needs bounds above 0, e.g. loguniform(1e-4, 1e-2)");
    return FERC_OK;
}

/* One `key = kind(args)` line into p. */
static ferc_status parse_line(char *s, tune_param *p, const char *name, int line, ferc_error *err) {
    char *eq = strchr(s, '=');
    if (!eq) return bad(err, name, line, "expected key = choice(...) | uniform(lo, hi) | loguniform(lo, hi)");
    *eq = 0;
    char *key = trim(s), *val = trim(eq + 1);
    if (strncmp(key, "--", 2) == 0) key += 2;
    if (!valid_key(key)) return bad(err, name, line, "a key is a ferc train option without its dashes, e.g. lr");
    snprintf(p->key, sizeof p->key, "%s", key);
    char *open = strchr(val, '('), *close = strrchr(val, ')');
    if (!open || !close || close < open || *trim(close + 1))
        return bad(err, name, line, "expected choice(a, b), uniform(lo, hi) or loguniform(lo, hi)");
    *open = 0; *close = 0;
    const char *kind = trim(val);
    if (strcmp(kind, "choice") == 0) p->kind = TUNE_CHOICE;
    else if (strcmp(kind, "uniform") == 0) p->kind = TUNE_UNIFORM;
    else if (strcmp(kind, "loguniform") == 0) p->kind = TUNE_LOGUNIFORM;
    else return bad(err, name, line, "unknown distribution (choice, uniform, loguniform)");
    p->n = split_args(open + 1, p);
    if (p->n < 1) return bad(err, name, line, "empty or over-long argument list");
    return p->kind == TUNE_CHOICE ? FERC_OK : parse_range(p, p->n, name, line, err);
}

static ferc_status add_line(ferc_space *s, char *t, const char *name, int line, ferc_error *err) {
    if (s->n >= TUNE_MAX_PARAMS) return bad(err, name, line, "too many keys (at most 32)");
    tune_param *p = &s->p[s->n];
    ferc_status st = parse_line(t, p, name, line, err);
    if (st) return st;
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->p[i].key, p->key) == 0) return bad(err, name, line, "key given twice");
    s->n++;
    return FERC_OK;
}

ferc_status ferc_space_parse(const char *text, const char *name, ferc_space **out, ferc_error *err) {
    *out = NULL;
    ferc_space *s = calloc(1, sizeof *s);
    char *copy = strdup(text ? text : "");
    if (!s || !copy) { free(s); free(copy); return ferc_fail(err, FERC_ERR_NOMEM, "out of memory"); }
    ferc_status st = FERC_OK;
    int line = 0;
    for (char *cur = copy, *next; cur && st == FERC_OK; cur = next) {
        next = strchr(cur, '\n');
        if (next) *next++ = 0;
        line++;
        char *hash = strchr(cur, '#');
        if (hash) *hash = 0;
        char *t = trim(cur);
        if (*t) st = add_line(s, t, name, line, err);
    }
    free(copy);
    if (st == FERC_OK && s->n == 0) st = ferc_fail(err, FERC_ERR_PARSE, "%s: no key = ... line: nothing to search", name);
    if (st) { free(s); return st; }
    *out = s;
    return FERC_OK;
}

ferc_status ferc_space_load(const char *path, ferc_space **out, ferc_error *err) {
    unsigned char *data;
    size_t len;
    *out = NULL;
    ferc_status st = ferc_read_file(path, &data, &len, err);
    if (st) return st;
    if (memchr(data, 0, len)) { free(data); return ferc_fail(err, FERC_ERR_PARSE, "%s: not a text file", path); }
    st = ferc_space_parse((const char *)data, path, out, err);
    free(data);
    return st;
}

void ferc_space_free(ferc_space *s) { free(s); }

int ferc_space_keys(const ferc_space *s) { return s ? s->n : 0; }

const char *ferc_space_key(const ferc_space *s, int k) { return s && k >= 0 && k < s->n ? s->p[k].key : NULL; }
