/* detect.c — face detection with OpenCV's Haar cascades, in C, and the
 * classification of the faces found.
 *
 * Loads OpenCV cascade XML files (the current "opencv-cascade-classifier"
 * format and the old "opencv-haar-classifier" one) with libxml2 and runs the
 * Viola-Jones cascade with the semantics of OpenCV 4's
 * CascadeClassifier::detectMultiScale, so that boxes agree with OpenCV's:
 *   - the scales are scale_factor^k, kept when the window fits the image and
 *     lies between min_size and max_size (if none does, the one closest to
 *     min_size, as OpenCV);
 *   - the IMAGE is resized for every scale (bit-exact with cv::resize
 *     INTER_LINEAR_EXACT, 8.8 fixed point), not the features;
 *   - integral images of the pixels, of their squares and, for cascades with
 *     45-degree features, the tilted sums, computed once per scale;
 *   - windows on a grid of step 2 (step 1 once the scale reaches 2), a window
 *     rejected by the first stage skips the next position; each window is
 *     variance-normalised over its inner (w-2)x(h-2) rectangle and windows
 *     too flat to normalise are rejected;
 *   - feature and stage arithmetic in the same float / double order;
 *   - candidates grouped like cv::groupRectangles(eps 0.2, min_neighbors),
 *     then clipped to the image.
 * Scales run in parallel (OpenMP, one scale per task, largest first); the
 * result does not depend on the number of threads: candidates are gathered
 * in (scale, y, x) order. */
#include "core/core.h"
#include "data/data.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <locale.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* The cascade                                                               */
/* ------------------------------------------------------------------------ */

#define MAX_RECTS 3
#define MAX_TREE_NODES 1024
#define MAX_WINDOW 4096

typedef struct { int x, y, w, h; float weight; } hrect;
typedef struct { int nrects, tilted; hrect r[MAX_RECTS]; } hfeature;
/* left/right: > 0 another node of the tree (index within it), <= 0 leaf -v */
typedef struct { int left, right, feature; float threshold; } hnode;
typedef struct { int first_node, nnodes, first_leaf; } htree;
typedef struct { int first_tree, ntrees; float threshold; } hstage;

struct ferc_cascade {
    int win_w, win_h;
    int old_format, has_tilted, max_nodes;
    int nstages, ntrees, nnodes, nleaves, nfeatures;
    int cap_stages, cap_trees, cap_nodes, cap_leaves, cap_features;
    hstage *stages;
    htree *trees;
    hnode *nodes;
    float *leaves;
    hfeature *features;
};

static const char *const default_paths[] = {
    "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml",
    "/usr/share/opencv/haarcascades/haarcascade_frontalface_default.xml",
    "/usr/local/share/opencv4/haarcascades/haarcascade_frontalface_default.xml",
    "/usr/local/share/opencv/haarcascades/haarcascade_frontalface_default.xml",
};

const char *ferc_cascade_default_path(void) {
    for (size_t i = 0; i < sizeof default_paths / sizeof default_paths[0]; i++)
        if (access(default_paths[i], R_OK) == 0) return default_paths[i];
    return NULL;
}

void ferc_cascade_free(ferc_cascade *c) {
    if (!c) return;
    free(c->stages); free(c->trees); free(c->nodes); free(c->leaves); free(c->features);
    free(c);
}

int ferc_cascade_window(const ferc_cascade *c, int *w, int *h) {
    if (!c) return 0;
    if (w) *w = c->win_w;
    if (h) *h = c->win_h;
    return c->nstages;
}

/* Grow *p (elements of size sz) so that it holds at least need elements. */
static int grow(void **p, int *cap, int need, size_t sz) {
    if (need <= *cap) return 1;
    int nc = *cap ? *cap : 64;
    while (nc < need) {
        if (nc > (1 << 28)) return 0;
        nc *= 2;
    }
    void *q = realloc(*p, (size_t)nc * sz);
    if (!q) return 0;
    *p = q;
    *cap = nc;
    return 1;
}

/* Parsing context: file name for messages, a "C" locale for numbers. */
typedef struct {
    const char *path;
    locale_t cloc;
    ferc_error *err;
} xctx;

static ferc_status xfail(xctx *x, const xmlNode *n, ferc_status st, const char *what) {
    long line = n ? xmlGetLineNo((xmlNode *)n) : -1;
    if (line > 0) return ferc_fail(x->err, st, "%s:%ld: %s", x->path, line, what);
    return ferc_fail(x->err, st, "%s: %s", x->path, what);
}

static int is_elem(const xmlNode *n, const char *name) {
    return n && n->type == XML_ELEMENT_NODE &&
           (!name || xmlStrcmp(n->name, (const xmlChar *)name) == 0);
}
static xmlNode *first_elem(const xmlNode *n) {
    for (xmlNode *c = n ? n->children : NULL; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE) return c;
    return NULL;
}
static xmlNode *next_elem(const xmlNode *n) {
    for (xmlNode *c = n->next; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE) return c;
    return NULL;
}
static xmlNode *child(const xmlNode *n, const char *name) {
    for (xmlNode *c = first_elem(n); c; c = next_elem(c))
        if (is_elem(c, name)) return c;
    return NULL;
}
static int count_elems(const xmlNode *n) {
    int k = 0;
    for (xmlNode *c = first_elem(n); c; c = next_elem(c)) k++;
    return k;
}

/* The numbers in the text of element n (whitespace separated) into v[0..max).
 * Returns how many, or -1 (with the error filled) if the text holds
 * something else or more than max numbers. */
static int numbers(xctx *x, const xmlNode *n, double *v, int max, const char *what) {
    xmlChar *txt = xmlNodeGetContent((xmlNode *)n);
    if (!txt) { xfail(x, n, FERC_ERR_NOMEM, "out of memory reading XML text"); return -1; }
    const char *s = (const char *)txt;
    int k = 0;
    for (;;) {
        while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') s++;
        if (!*s) break;
        char *end;
        double d = strtod_l(s, &end, x->cloc);
        if (end == s || !isfinite(d)) {
            char msg[200];
            snprintf(msg, sizeof msg, "<%s>: '%.20s' is not a number", what, s);
            xfail(x, n, FERC_ERR_PARSE, msg);
            xmlFree(txt);
            return -1;
        }
        if (k >= max) {
            char msg[200];
            snprintf(msg, sizeof msg, "<%s>: more than %d numbers", what, max);
            xfail(x, n, FERC_ERR_PARSE, msg);
            xmlFree(txt);
            return -1;
        }
        v[k++] = d;
        s = end;
    }
    xmlFree(txt);
    return k;
}

/* Exactly one number in child `name` of n. */
static int one_number(xctx *x, const xmlNode *n, const char *name, double *v) {
    const xmlNode *c = child(n, name);
    if (!c) {
        char msg[160];
        snprintf(msg, sizeof msg, "missing <%s> in <%s>", name, (const char *)n->name);
        xfail(x, n, FERC_ERR_PARSE, msg);
        return 0;
    }
    int k = numbers(x, c, v, 1, name);
    if (k < 0) return 0;
    if (k != 1) {
        char msg[160];
        snprintf(msg, sizeof msg, "<%s> must hold one number", name);
        xfail(x, c, FERC_ERR_PARSE, msg);
        return 0;
    }
    return 1;
}

static int as_int(double d, int *out) {
    if (!(d >= -2147483647.0 && d <= 2147483647.0) || d != floor(d)) return 0;
    *out = (int)d;
    return 1;
}

/* Trimmed text of child `name` of n into buf (empty when absent). */
static void child_text(const xmlNode *n, const char *name, char *buf, size_t cap) {
    buf[0] = 0;
    const xmlNode *c = child(n, name);
    if (!c) return;
    xmlChar *t = xmlNodeGetContent((xmlNode *)c);
    if (!t) return;
    const char *s = (const char *)t;
    while (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r') s++;
    snprintf(buf, cap, "%s", s);
    size_t L = strlen(buf);
    while (L && (buf[L - 1] == ' ' || buf[L - 1] == '\n' || buf[L - 1] == '\t' || buf[L - 1] == '\r'))
        buf[--L] = 0;
    xmlFree(t);
}

/* A feature from a <rects> element (and the tilted flag). */
static ferc_status read_feature(xctx *x, ferc_cascade *c, const xmlNode *rects, int tilted) {
    if (!grow((void **)&c->features, &c->cap_features, c->nfeatures + 1, sizeof(hfeature)))
        return xfail(x, rects, FERC_ERR_NOMEM, "out of memory");
    hfeature *f = &c->features[c->nfeatures];
    memset(f, 0, sizeof *f);
    f->tilted = tilted;
    for (const xmlNode *r = first_elem(rects); r; r = next_elem(r)) {
        if (f->nrects >= MAX_RECTS) return xfail(x, r, FERC_ERR_PARSE, "a Haar feature has more than 3 rectangles");
        double v[5];
        int k = numbers(x, r, v, 5, "rects");
        if (k < 0) return x->err ? x->err->status : FERC_ERR_PARSE;
        if (k != 5) return xfail(x, r, FERC_ERR_PARSE, "a feature rectangle needs 5 numbers: x y w h weight");
        hrect *h = &f->r[f->nrects];
        if (!as_int(v[0], &h->x) || !as_int(v[1], &h->y) || !as_int(v[2], &h->w) || !as_int(v[3], &h->h))
            return xfail(x, r, FERC_ERR_PARSE, "feature rectangle coordinates must be integers");
        h->weight = (float)v[4];
        f->nrects++;
    }
    if (f->nrects == 0) return xfail(x, rects, FERC_ERR_PARSE, "a Haar feature without rectangles");
    c->nfeatures++;
    return FERC_OK;
}

/* Current format: <cascade type_id="opencv-cascade-classifier">. */
static ferc_status load_new(xctx *x, ferc_cascade *c, const xmlNode *root) {
    char buf[64];
    child_text(root, "stageType", buf, sizeof buf);
    if (strcmp(buf, "BOOST") != 0)
        return xfail(x, root, FERC_ERR_PARSE, "stageType is not BOOST: not a boosted cascade");
    child_text(root, "featureType", buf, sizeof buf);
    if (strcmp(buf, "HAAR") != 0) {
        char msg[200];
        snprintf(msg, sizeof msg,
                 "featureType %s is not supported: only Haar cascades (haarcascade_*.xml) are, not LBP or HOG ones",
                 buf[0] ? buf : "(missing)");
        return xfail(x, child(root, "featureType") ? child(root, "featureType") : root, FERC_ERR_PARSE, msg);
    }
    double d;
    if (!one_number(x, root, "width", &d) || !as_int(d, &c->win_w)) return x->err ? x->err->status : FERC_ERR_PARSE;
    if (!one_number(x, root, "height", &d) || !as_int(d, &c->win_h)) return x->err ? x->err->status : FERC_ERR_PARSE;
    const xmlNode *fp = child(root, "featureParams");
    if (fp && child(fp, "maxCatCount")) {
        if (!one_number(x, fp, "maxCatCount", &d)) return x->err->status;
        if (d != 0) return xfail(x, fp, FERC_ERR_PARSE, "maxCatCount is not 0: categorical (LBP) features are not supported");
    }
    const xmlNode *stages = child(root, "stages");
    const xmlNode *features = child(root, "features");
    if (!stages) return xfail(x, root, FERC_ERR_PARSE, "missing <stages>");
    if (!features) return xfail(x, root, FERC_ERR_PARSE, "missing <features>");

    double *nv = malloc(sizeof(double) * 4 * MAX_TREE_NODES), *lv = malloc(sizeof(double) * (MAX_TREE_NODES + 1));
    if (!nv || !lv) { free(nv); free(lv); return xfail(x, root, FERC_ERR_NOMEM, "out of memory"); }
    ferc_status st = FERC_OK;
    for (const xmlNode *s = first_elem(stages); s && st == FERC_OK; s = next_elem(s)) {
        if (!one_number(x, s, "stageThreshold", &d)) { st = x->err->status; break; }
        const xmlNode *weak = child(s, "weakClassifiers");
        if (!weak) { st = xfail(x, s, FERC_ERR_PARSE, "missing <weakClassifiers>"); break; }
        if (!grow((void **)&c->stages, &c->cap_stages, c->nstages + 1, sizeof(hstage))) {
            st = xfail(x, s, FERC_ERR_NOMEM, "out of memory"); break;
        }
        hstage *sg = &c->stages[c->nstages];
        sg->threshold = (float)d - 1e-5f;   /* as OpenCV: THRESHOLD_EPS */
        sg->first_tree = c->ntrees;
        sg->ntrees = 0;
        for (const xmlNode *w = first_elem(weak); w; w = next_elem(w)) {
            const xmlNode *in = child(w, "internalNodes"), *lf = child(w, "leafValues");
            if (!in || !lf) { st = xfail(x, w, FERC_ERR_PARSE, "a weak classifier needs <internalNodes> and <leafValues>"); break; }
            int k = numbers(x, in, nv, 4 * MAX_TREE_NODES, "internalNodes");
            if (k < 0) { st = x->err->status; break; }
            if (k == 0 || k % 4) { st = xfail(x, in, FERC_ERR_PARSE, "<internalNodes> must hold groups of 4 numbers: left right feature threshold"); break; }
            int nn = k / 4;
            int nl = numbers(x, lf, lv, MAX_TREE_NODES + 1, "leafValues");
            if (nl < 0) { st = x->err->status; break; }
            if (nl != nn + 1) { st = xfail(x, lf, FERC_ERR_PARSE, "a tree with n internal nodes needs n+1 <leafValues>"); break; }
            if (!grow((void **)&c->trees, &c->cap_trees, c->ntrees + 1, sizeof(htree)) ||
                !grow((void **)&c->nodes, &c->cap_nodes, c->nnodes + nn, sizeof(hnode)) ||
                !grow((void **)&c->leaves, &c->cap_leaves, c->nleaves + nl, sizeof(float))) {
                st = xfail(x, w, FERC_ERR_NOMEM, "out of memory"); break;
            }
            htree *t = &c->trees[c->ntrees++];
            t->first_node = c->nnodes; t->nnodes = nn; t->first_leaf = c->nleaves;
            for (int i = 0; i < nn; i++) {
                hnode *nd = &c->nodes[c->nnodes + i];
                if (!as_int(nv[4 * i], &nd->left) || !as_int(nv[4 * i + 1], &nd->right) ||
                    !as_int(nv[4 * i + 2], &nd->feature)) {
                    st = xfail(x, in, FERC_ERR_PARSE, "<internalNodes>: left, right and feature must be integers"); break;
                }
                nd->threshold = (float)nv[4 * i + 3];
                /* Children come after their parent (this also makes every
                 * walk down a tree end); leaves are -index. */
                if ((nd->left > 0 && (nd->left <= i || nd->left >= nn)) || (nd->left <= 0 && -nd->left >= nl) ||
                    (nd->right > 0 && (nd->right <= i || nd->right >= nn)) || (nd->right <= 0 && -nd->right >= nl)) {
                    st = xfail(x, in, FERC_ERR_PARSE, "<internalNodes>: a child index points outside the tree"); break;
                }
            }
            if (st) break;
            for (int i = 0; i < nl; i++) c->leaves[c->nleaves + i] = (float)lv[i];
            c->nnodes += nn;
            c->nleaves += nl;
            if (nn > c->max_nodes) c->max_nodes = nn;
            sg->ntrees++;
        }
        if (st) break;
        if (sg->ntrees == 0) { st = xfail(x, weak, FERC_ERR_PARSE, "a stage without weak classifiers"); break; }
        c->nstages++;
    }
    free(nv); free(lv);
    if (st) return st;

    for (const xmlNode *f = first_elem(features); f; f = next_elem(f)) {
        const xmlNode *rects = child(f, "rects");
        if (!rects) return xfail(x, f, FERC_ERR_PARSE, "a feature without <rects>");
        int tilted = 0;
        if (child(f, "tilted")) {
            if (!one_number(x, f, "tilted", &d)) return x->err->status;
            tilted = d != 0;
        }
        if ((st = read_feature(x, c, rects, tilted))) return st;
    }
    return FERC_OK;
}

/* Old format: <name type_id="opencv-haar-classifier"> with <size>, and
 * stages / trees / nodes with feature, threshold, left_val | left_node,
 * right_val | right_node, stage_threshold. Converted to the same structures
 * the way OpenCV 4 converts it (leaves numbered in order of appearance). */
static ferc_status load_old(xctx *x, ferc_cascade *c, const xmlNode *root) {
    const xmlNode *size = child(root, "size");
    double v[2];
    int k = size ? numbers(x, size, v, 2, "size") : -2;
    if (k == -1) return x->err->status;
    if (k != 2 || !as_int(v[0], &c->win_w) || !as_int(v[1], &c->win_h))
        return xfail(x, size ? size : root, FERC_ERR_PARSE, "<size> must hold the window width and height");
    c->old_format = 1;
    const xmlNode *stages = child(root, "stages");
    if (!stages) return xfail(x, root, FERC_ERR_PARSE, "missing <stages>");
    ferc_status st = FERC_OK;
    for (const xmlNode *s = first_elem(stages); s; s = next_elem(s)) {
        double d;
        if (!one_number(x, s, "stage_threshold", &d)) return x->err->status;
        const xmlNode *trees = child(s, "trees");
        if (!trees) return xfail(x, s, FERC_ERR_PARSE, "missing <trees>");
        if (!grow((void **)&c->stages, &c->cap_stages, c->nstages + 1, sizeof(hstage)))
            return xfail(x, s, FERC_ERR_NOMEM, "out of memory");
        hstage *sg = &c->stages[c->nstages];
        sg->threshold = (float)d - 1e-5f;
        sg->first_tree = c->ntrees;
        sg->ntrees = 0;
        for (const xmlNode *t = first_elem(trees); t; t = next_elem(t)) {
            int nn = count_elems(t);
            if (nn == 0 || nn > MAX_TREE_NODES) return xfail(x, t, FERC_ERR_PARSE, "a tree must have 1 to 1024 nodes");
            if (!grow((void **)&c->trees, &c->cap_trees, c->ntrees + 1, sizeof(htree)) ||
                !grow((void **)&c->nodes, &c->cap_nodes, c->nnodes + nn, sizeof(hnode)) ||
                !grow((void **)&c->leaves, &c->cap_leaves, c->nleaves + nn + 1, sizeof(float)))
                return xfail(x, t, FERC_ERR_NOMEM, "out of memory");
            htree *tr = &c->trees[c->ntrees];
            tr->first_node = c->nnodes; tr->nnodes = nn; tr->first_leaf = c->nleaves;
            int i = 0, nl = 0;
            for (const xmlNode *n = first_elem(t); n; n = next_elem(n), i++) {
                const xmlNode *feat = child(n, "feature");
                if (!feat || !child(feat, "rects")) return xfail(x, n, FERC_ERR_PARSE, "a tree node without <feature><rects>");
                int tilted = 0;
                if (child(feat, "tilted")) {
                    if (!one_number(x, feat, "tilted", &d)) return x->err->status;
                    tilted = d != 0;
                }
                hnode *nd = &c->nodes[c->nnodes + i];
                nd->feature = c->nfeatures;
                if ((st = read_feature(x, c, child(feat, "rects"), tilted))) return st;
                if (!one_number(x, n, "threshold", &d)) return x->err->status;
                nd->threshold = (float)d;
                for (int side = 0; side < 2; side++) {
                    const char *valn = side ? "right_val" : "left_val", *noden = side ? "right_node" : "left_node";
                    int *dst = side ? &nd->right : &nd->left;
                    if (child(n, valn)) {
                        if (!one_number(x, n, valn, &d)) return x->err->status;
                        if (nl > nn) return xfail(x, n, FERC_ERR_PARSE, "a tree has more leaves than nodes + 1");
                        c->leaves[c->nleaves + nl] = (float)d;
                        *dst = -nl;
                        nl++;
                    } else if (child(n, noden)) {
                        if (!one_number(x, n, noden, &d) || !as_int(d, dst)) return xfail(x, n, FERC_ERR_PARSE, "bad node index");
                        if (*dst <= i || *dst >= nn) return xfail(x, n, FERC_ERR_PARSE, "a child node index points outside the tree");
                    } else {
                        char msg[100];
                        snprintf(msg, sizeof msg, "a tree node needs <%s> or <%s>", valn, noden);
                        return xfail(x, n, FERC_ERR_PARSE, msg);
                    }
                }
            }
            if (nl != nn + 1) return xfail(x, t, FERC_ERR_PARSE, "a tree with n nodes needs n+1 leaf values");
            c->nnodes += nn;
            c->nleaves += nl;
            if (nn > c->max_nodes) c->max_nodes = nn;
            c->ntrees++;
            sg->ntrees++;
        }
        if (sg->ntrees == 0) return xfail(x, trees, FERC_ERR_PARSE, "a stage without trees");
        c->nstages++;
    }
    return FERC_OK;
}

/* Checks that make evaluation memory-safe: feature indices and rectangles
 * (straight and tilted) inside the window. */
static ferc_status validate(xctx *x, ferc_cascade *c) {
    if (c->win_w < 3 || c->win_h < 3 || c->win_w > MAX_WINDOW || c->win_h > MAX_WINDOW)
        return ferc_fail(x->err, FERC_ERR_PARSE, "%s: window size %dx%d out of range 3..%d", x->path, c->win_w,
                         c->win_h, MAX_WINDOW);
    if (c->nstages == 0) return ferc_fail(x->err, FERC_ERR_PARSE, "%s: the cascade has no stages", x->path);
    for (int i = 0; i < c->nnodes; i++)
        if (c->nodes[i].feature < 0 || c->nodes[i].feature >= c->nfeatures)
            return ferc_fail(x->err, FERC_ERR_PARSE, "%s: node %d uses feature %d but there are %d features", x->path,
                             i, c->nodes[i].feature, c->nfeatures);
    for (int i = 0; i < c->nfeatures; i++) {
        hfeature *f = &c->features[i];
        if (f->tilted) c->has_tilted = 1;
        for (int r = 0; r < f->nrects; r++) {
            hrect h = f->r[r];
            int ok;
            if (!f->tilted)
                ok = h.x >= 0 && h.y >= 0 && h.w >= 0 && h.h >= 0 && h.x + h.w <= c->win_w && h.y + h.h <= c->win_h;
            else /* corners (x,y) (x+w,y+w) (x-h,y+h) (x+w-h,y+w+h) */
                ok = h.w >= 0 && h.h >= 0 && h.x - h.h >= 0 && h.y >= 0 && h.x + h.w <= c->win_w &&
                     h.y + h.w + h.h <= c->win_h;
            if (!ok)
                return ferc_fail(x->err, FERC_ERR_PARSE, "%s: feature %d: rectangle %d %d %d %d%s lies outside the %dx%d window",
                                 x->path, i, h.x, h.y, h.w, h.h, f->tilted ? " (tilted)" : "", c->win_w, c->win_h);
        }
    }
    return FERC_OK;
}

ferc_status ferc_cascade_load(const char *path, ferc_cascade **out, ferc_error *err) {
    if (!out) return ferc_fail(err, FERC_ERR_ARG, "ferc_cascade_load: out is NULL");
    *out = NULL;
    if (!path || !*path) {
        path = ferc_cascade_default_path();
        if (!path)
            return ferc_fail(err, FERC_ERR_IO,
                             "no face detector cascade found (looked for %s and %s): install the Debian package "
                             "opencv-data (apt-get install opencv-data) or give a cascade file",
                             default_paths[0], default_paths[1]);
    }
    if (access(path, R_OK) != 0)
        return ferc_fail(err, FERC_ERR_IO,
                         "%s: cascade file not found or unreadable; OpenCV's Haar cascades come with the Debian "
                         "package opencv-data (apt-get install opencv-data), in /usr/share/opencv4/haarcascades/",
                         path);
    xmlParserCtxtPtr pc = xmlNewParserCtxt();
    if (!pc) return ferc_fail(err, FERC_ERR_NOMEM, "%s: out of memory (XML parser)", path);
    xmlDocPtr doc = xmlCtxtReadFile(pc, path, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                                                        XML_PARSE_HUGE);
    if (!doc) {
        const xmlError *e = xmlCtxtGetLastError(pc);
        ferc_status st = ferc_fail(err, FERC_ERR_PARSE, "%s:%d: not a valid XML file: %s", path, e ? e->line : 0,
                                   e && e->message ? e->message : "parse error");
        if (err) { /* libxml2 messages end with a newline */
            size_t L = strlen(err->msg);
            while (L && (err->msg[L - 1] == '\n' || err->msg[L - 1] == ' ')) err->msg[--L] = 0;
        }
        xmlFreeParserCtxt(pc);
        return st;
    }
    ferc_cascade *c = calloc(1, sizeof *c);
    xctx x = {path, newlocale(LC_NUMERIC_MASK, "C", (locale_t)0), err};
    ferc_status st = FERC_OK;
    if (!c || !x.cloc) st = ferc_fail(err, FERC_ERR_NOMEM, "%s: out of memory", path);
    const xmlNode *top = xmlDocGetRootElement(doc);
    /* Cascades have no DTD; refusing them rules out entity expansion tricks. */
    if (!st && (doc->intSubset || doc->extSubset))
        st = ferc_fail(err, FERC_ERR_PARSE, "%s: XML with a DTD (<!DOCTYPE ...>) is not an OpenCV cascade", path);
    const xmlNode *root = st ? NULL : first_elem(top);
    if (!st && (!is_elem(top, "opencv_storage") || !root))
        st = xfail(&x, top, FERC_ERR_PARSE, "not an OpenCV cascade file (no <opencv_storage> with a cascade inside)");
    if (!st) {
        if (child(root, "stageType") || child(root, "featureType")) st = load_new(&x, c, root);
        else if (child(root, "size") && child(root, "stages")) st = load_old(&x, c, root);
        else st = xfail(&x, root, FERC_ERR_PARSE, "not an OpenCV cascade (neither <stageType> nor <size>/<stages>)");
    }
    if (!st) st = validate(&x, c);
    if (x.cloc) freelocale(x.cloc);
    xmlFreeDoc(doc);
    xmlFreeParserCtxt(pc);
    if (st) { ferc_cascade_free(c); return st; }
    *out = c;
    return FERC_OK;
}

/* ------------------------------------------------------------------------ */
/* Rounding as OpenCV's cvRound (nearest, ties to even)                     */
/* ------------------------------------------------------------------------ */

static inline int round_d(double v) { return (int)lrint(v); }
static inline int round_f(float v) { return (int)lrintf(v); }

/* ------------------------------------------------------------------------ */
/* Resize, bit-exact with cv::resize(INTER_LINEAR_EXACT) on 8-bit gray      */
/* ------------------------------------------------------------------------ */

/* Coefficients of one axis: for dst index d, source index ofs[d] and the
 * 8.8 fixed-point weights c0[d], c1[d]; [0, lo) repeat source 0, [hi, n)
 * repeat the last source index. */
static void exact_coeffs(int ssize, int dsize, int *ofs, uint16_t *c0, uint16_t *c1, int *lo, int *hi) {
    double inv = (double)dsize / (double)ssize;
    double scale = 1.0 / inv;
    int minofs = 0, maxofs = dsize;
    for (int d = 0; d < dsize; d++) {
        double f = scale * ((double)d + 0.5) - 0.5;
        int i = (int)floor(f);
        ofs[d] = 0; c0[d] = 256; c1[d] = 0;
        if (i >= 0 && ssize > 1) {
            if (i < ssize - 1) {
                ofs[d] = i;
                double fr = f - (double)i;
                int w1 = (int)lrint(fr * 256.0);
                c1[d] = (uint16_t)w1;
                c0[d] = (uint16_t)(256 - w1);
            } else {
                ofs[d] = ssize - 1;
                if (d < maxofs) maxofs = d;
            }
        } else if (d + 1 > minofs) {
            minofs = d + 1;
        }
    }
    *lo = minofs;
    *hi = maxofs;
}

/* Horizontal pass of one source row into 8.8 fixed point. */
static void exact_hline(const uint8_t *s, int sw, int dw, const int *ofs, const uint16_t *c0, const uint16_t *c1,
                        int lo, int hi, uint16_t *out) {
    int d = 0;
    uint16_t first = (uint16_t)(s[0] << 8);
    for (; d < lo && d < dw; d++) out[d] = first;
    for (; d < hi; d++) {
        const uint8_t *p = s + ofs[d];
        out[d] = (uint16_t)(c0[d] * p[0] + c1[d] * p[1]);
    }
    if (d < dw) {
        int last = ofs[dw - 1];
        if (last < 0 || last >= sw) last = sw - 1;
        uint16_t v = (uint16_t)(s[last] << 8);
        for (; d < dw; d++) out[d] = v;
    }
}

/* Resize an 8-bit gray image (sw x sh, stride ss) to dw x dh (stride ds) as
 * OpenCV 4.6 cv::resize(..., INTER_LINEAR_EXACT) does, bit for bit: copy
 * when the size is unchanged, 2x2 averaging when halving exactly, else
 * separable 8.8 fixed-point linear interpolation with round-half-up. tmp
 * (int-aligned) holds ferc_detect_resize_tmp_size(dw, dh) bytes. */
size_t ferc_detect_resize_tmp_size(int dw, int dh);
size_t ferc_detect_resize_tmp_size(int dw, int dh) {
    return (size_t)2 * (size_t)dw * sizeof(uint16_t) + (size_t)(dw + dh) * (sizeof(int) + 2 * sizeof(uint16_t)) + 64;
}

void ferc_detect_resize_exact(const uint8_t *src, int sw, int sh, int ss, uint8_t *dst, int dw, int dh, int ds,
                              void *tmp);
void ferc_detect_resize_exact(const uint8_t *src, int sw, int sh, int ss, uint8_t *dst, int dw, int dh, int ds,
                              void *tmp) {
    if (sw == dw && sh == dh) {
        for (int y = 0; y < dh; y++) memcpy(dst + (size_t)y * ds, src + (size_t)y * ss, (size_t)dw);
        return;
    }
    if (sw == 2 * dw && sh == 2 * dh) { /* OpenCV switches to INTER_AREA: exact 2x2 means */
        for (int y = 0; y < dh; y++) {
            const uint8_t *a = src + (size_t)(2 * y) * ss, *b = a + ss;
            uint8_t *o = dst + (size_t)y * ds;
            for (int x = 0; x < dw; x++) o[x] = (uint8_t)((a[2 * x] + a[2 * x + 1] + b[2 * x] + b[2 * x + 1] + 2) >> 2);
        }
        return;
    }
    int *xo = (int *)tmp, *yo = xo + dw;
    uint16_t *h0 = (uint16_t *)(void *)(yo + dh), *h1 = h0 + dw;
    uint16_t *xc0 = h1 + dw, *xc1 = xc0 + dw, *yc0 = xc1 + dw, *yc1 = yc0 + dh;
    int xlo, xhi, ylo, yhi;
    exact_coeffs(sw, dw, xo, xc0, xc1, &xlo, &xhi);
    exact_coeffs(sh, dh, yo, yc0, yc1, &ylo, &yhi);
    int have0 = -1, have1 = -1; /* source rows held by h0 / h1 */
    for (int y = 0; y < dh; y++) {
        uint8_t *o = dst + (size_t)y * ds;
        if (y < ylo || y >= yhi) { /* a border row: one source row, rounded */
            int sy = y < ylo ? 0 : sh - 1;
            if (have0 != sy) { exact_hline(src + (size_t)sy * ss, sw, dw, xo, xc0, xc1, xlo, xhi, h0); have0 = sy; }
            for (int x = 0; x < dw; x++) o[x] = (uint8_t)((h0[x] + 128u) >> 8);
            continue;
        }
        int sy = yo[y];
        if (have0 != sy) {
            if (have1 == sy) { uint16_t *t = h0; h0 = h1; h1 = t; have0 = sy; have1 = -1; }
            else { exact_hline(src + (size_t)sy * ss, sw, dw, xo, xc0, xc1, xlo, xhi, h0); have0 = sy; }
        }
        if (have1 != sy + 1) { exact_hline(src + (size_t)(sy + 1) * ss, sw, dw, xo, xc0, xc1, xlo, xhi, h1); have1 = sy + 1; }
        uint32_t a = yc0[y], b = yc1[y];
        for (int x = 0; x < dw; x++) {
            uint32_t v = ((uint32_t)h0[x] * a + (uint32_t)h1[x] * b + 32768u) >> 16;
            o[x] = (uint8_t)(v > 255 ? 255 : v);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Integral images                                                           */
/* ------------------------------------------------------------------------ */

/* Integral planes hold (h+1) rows of `stride` uint32 (modulo 2^32, as
 * OpenCV's CV_32S planes wrap; window differences are exact). Column X of a
 * row is stored at X when half == 0, or "de-interleaved" at
 * (X & 1) * half + (X >> 1) when half > 0: the scales scanned with step 2
 * then find the corners of consecutive windows at consecutive addresses. */
static inline int lay(int X, int half) { return half ? (X & 1) * half + (X >> 1) : X; }

/* sum and sqsum of img (w x h, rows `is` bytes apart). */
void ferc_detect_integral(const uint8_t *img, int w, int h, int is, uint32_t *sum, uint32_t *sq, int stride,
                          int half);
void ferc_detect_integral(const uint8_t *img, int w, int h, int is, uint32_t *sum, uint32_t *sq, int stride,
                          int half) {
    for (int X = 0; X <= w; X++) sum[lay(X, half)] = sq[lay(X, half)] = 0;
    for (int y = 0; y < h; y++) {
        const uint8_t *p = img + (size_t)y * is;
        const uint32_t *s0 = sum + (size_t)y * stride, *q0 = sq + (size_t)y * stride;
        uint32_t *s1 = sum + (size_t)(y + 1) * stride, *q1 = sq + (size_t)(y + 1) * stride;
        uint32_t rs = 0, rq = 0;
        s1[0] = 0; q1[0] = 0;
        if (!half) {
            for (int x = 0; x < w; x++) {
                uint32_t v = p[x];
                rs += v;
                rq += v * v;
                s1[x + 1] = s0[x + 1] + rs;
                q1[x + 1] = q0[x + 1] + rq;
            }
        } else { /* X = x + 1: odd X go to [half + X/2], even X to [X/2] */
            int x = 0;
            for (; x + 1 < w; x += 2) {
                uint32_t v = p[x], u = p[x + 1];
                int o = half + (x >> 1), e = (x >> 1) + 1;
                rs += v; rq += v * v;
                s1[o] = s0[o] + rs; q1[o] = q0[o] + rq;
                rs += u; rq += u * u;
                s1[e] = s0[e] + rs; q1[e] = q0[e] + rq;
            }
            if (x < w) {
                uint32_t v = p[x];
                int o = half + (x >> 1);
                rs += v; rq += v * v;
                s1[o] = s0[o] + rs; q1[o] = q0[o] + rq;
            }
        }
    }
}

/* Tilted (45 degree) integral, OpenCV's definition: T(X, Y) is the sum of
 * img(x, y) over y < Y and |x - X + 1| <= Y - 1 - y, for X in 0..w and Y in
 * 0..h. Recurrence on an extended range of X where the triangles leave the
 * image:
 *   T(X,Y) = T(X-1,Y-1) + T(X+1,Y-1) - T(X,Y-2) + img(X-1,Y-1) + img(X-1,Y-2).
 * ext needs 3 * (w + 2h + 8) uint32. */
void ferc_detect_tilted(const uint8_t *img, int w, int h, int is, uint32_t *tilt, int stride, int half,
                        uint32_t *ext);
void ferc_detect_tilted(const uint8_t *img, int w, int h, int is, uint32_t *tilt, int stride, int half,
                        uint32_t *ext) {
    const int pad = h + 3;             /* X runs over [-pad, w + pad] */
    const int n = w + 2 * pad + 1;
    uint32_t *r[3] = {ext, ext + n, ext + 2 * n}; /* rows Y-2, Y-1, Y */
    memset(ext, 0, (size_t)3 * n * sizeof *ext);
    for (int X = 0; X <= w; X++) tilt[lay(X, half)] = 0;
    for (int Y = 1; Y <= h; Y++) {
        uint32_t *cur = r[2], *p1 = r[1], *p2 = r[0];
        const uint8_t *row1 = img + (size_t)(Y - 1) * is;
        const uint8_t *row2 = Y >= 2 ? img + (size_t)(Y - 2) * is : NULL;
        cur[0] = 0; cur[n - 1] = 0;
        for (int i = 1; i < n - 1; i++) {
            int X = i - pad;
            uint32_t v = p1[i - 1] + p1[i + 1] - p2[i];
            if (X >= 1 && X <= w) {
                v += row1[X - 1];
                if (row2) v += row2[X - 1];
            }
            cur[i] = v;
        }
        uint32_t *out = tilt + (size_t)Y * stride;
        if (!half) memcpy(out, cur + pad, (size_t)(w + 1) * sizeof *tilt);
        else for (int X = 0; X <= w; X++) out[lay(X, half)] = cur[pad + X];
        r[0] = p1; r[1] = cur; r[2] = p2; /* rotate: the old Y-2 row is reused */
    }
}

/* ------------------------------------------------------------------------ */
/* Grouping, as cv::groupRectangles                                          */
/* ------------------------------------------------------------------------ */

static int similar(const ferc_box *a, const ferc_box *b, double eps) {
    double delta = eps * ((a->w < b->w ? a->w : b->w) + (a->h < b->h ? a->h : b->h)) * 0.5;
    return abs(a->x - b->x) <= delta && abs(a->y - b->y) <= delta &&
           abs(a->x + a->w - b->x - b->w) <= delta && abs(a->y + a->h - b->y - b->h) <= delta;
}

/* Indices 0..n-1 sorted by the x of their box (ties by index); 0 when out
 * of memory. */
typedef struct { int x, i; } xkey;
static int cmp_xkey(const void *a, const void *b) {
    const xkey *p = a, *q = b;
    return p->x != q->x ? (p->x < q->x ? -1 : 1) : (p->i < q->i ? -1 : p->i > q->i);
}
static int sort_by_x(int *order, int n, const ferc_box *r) {
    xkey *k = malloc(sizeof(xkey) * (size_t)n);
    if (!k) return 0;
    for (int i = 0; i < n; i++) { k[i].x = r[i].x; k[i].i = i; }
    qsort(k, (size_t)n, sizeof *k, cmp_xkey);
    for (int i = 0; i < n; i++) order[i] = k[i].i;
    free(k);
    return 1;
}

static int uf_find(int *parent, int i) {
    while (parent[i] != i) { parent[i] = parent[parent[i]]; i = parent[i]; }
    return i;
}

int ferc_group_boxes(ferc_box *r, int n, int min_neighbors, double eps, int *neighbors) {
    if (n <= 0) return 0;
    if (min_neighbors <= 0) {
        if (neighbors) for (int i = 0; i < n; i++) neighbors[i] = 1;
        return n;
    }
    int *parent = malloc(sizeof(int) * (size_t)n * 2);
    long long *acc = malloc(sizeof(long long) * (size_t)n * 4);
    ferc_box *avg = malloc(sizeof(ferc_box) * (size_t)n);
    if (!parent || !acc || !avg) { free(parent); free(acc); free(avg); return -1; }
    int *order = parent + n;
    for (int i = 0; i < n; i++) parent[i] = order[i] = i;
    /* Connected components of the "similar" relation (what cv::partition
     * finds; they do not depend on the visiting order). Visiting by x, pairs
     * further apart in x than the largest possible delta are never similar. */
    int maxw = 0, maxh = 0;
    for (int i = 0; i < n; i++) {
        if (r[i].w > maxw) maxw = r[i].w;
        if (r[i].h > maxh) maxh = r[i].h;
    }
    double maxdelta = eps * (maxw + maxh) * 0.5;
    if (!sort_by_x(order, n, r)) { free(parent); free(acc); free(avg); return -1; }
    for (int a = 0; a < n; a++) {
        int i = order[a];
        for (int b = a + 1; b < n && r[order[b]].x - r[i].x <= maxdelta; b++) {
            int j = order[b];
            if (similar(&r[i], &r[j], eps)) {
                int ri = uf_find(parent, i), rj = uf_find(parent, j);
                if (ri != rj) parent[ri < rj ? rj : ri] = ri < rj ? ri : rj;
            }
        }
    }
    /* Classes numbered by first appearance, as cv::partition. */
    int ncls = 0;
    int *cls_of_root = malloc(sizeof(int) * (size_t)n);
    int *cnt = calloc((size_t)n, sizeof(int));
    if (!cls_of_root || !cnt) { free(parent); free(acc); free(avg); free(cls_of_root); free(cnt); return -1; }
    for (int i = 0; i < n; i++) cls_of_root[i] = -1;
    memset(acc, 0, sizeof(long long) * (size_t)n * 4);
    for (int i = 0; i < n; i++) {
        int root = uf_find(parent, i);
        if (cls_of_root[root] < 0) cls_of_root[root] = ncls++;
        int c = cls_of_root[root];
        acc[4 * c] += r[i].x; acc[4 * c + 1] += r[i].y; acc[4 * c + 2] += r[i].w; acc[4 * c + 3] += r[i].h;
        cnt[c]++;
    }
    for (int c = 0; c < ncls; c++) {
        float s = 1.f / (float)cnt[c];
        avg[c].x = round_f((float)(int)acc[4 * c] * s);
        avg[c].y = round_f((float)(int)acc[4 * c + 1] * s);
        avg[c].w = round_f((float)(int)acc[4 * c + 2] * s);
        avg[c].h = round_f((float)(int)acc[4 * c + 3] * s);
    }
    int m = 0;
    for (int i = 0; i < ncls; i++) {
        int n1 = cnt[i];
        if (n1 <= min_neighbors) continue;
        ferc_box r1 = avg[i];
        int j;
        for (j = 0; j < ncls; j++) {
            int n2 = cnt[j];
            if (j == i || n2 <= min_neighbors) continue;
            ferc_box r2 = avg[j];
            int dx = round_d(r2.w * eps), dy = round_d(r2.h * eps);
            if (r1.x >= r2.x - dx && r1.y >= r2.y - dy && r1.x + r1.w <= r2.x + r2.w + dx &&
                r1.y + r1.h <= r2.y + r2.h + dy && (n2 > (n1 > 3 ? n1 : 3) || n1 < 3))
                break;
        }
        if (j == ncls) {
            r[m] = r1;
            if (neighbors) neighbors[m] = n1;
            m++;
        }
    }
    free(parent); free(acc); free(avg); free(cls_of_root); free(cnt);
    return m;
}

/* ------------------------------------------------------------------------ */
/* Evaluation                                                                */
/* ------------------------------------------------------------------------ */

typedef struct {
    ferc_box *b;
    int n, cap;
} boxlist;

static int boxlist_push(boxlist *l, ferc_box b) {
    if (l->n == l->cap) {
        int nc = l->cap ? l->cap * 2 : 64;
        ferc_box *q = realloc(l->b, sizeof(ferc_box) * (size_t)nc);
        if (!q) return 0;
        l->b = q;
        l->cap = nc;
    }
    l->b[l->n++] = b;
    return 1;
}

/* A feature with its corner offsets precomputed for one integral layout. */
typedef struct {
    int o[MAX_RECTS][4];
    float w[MAX_RECTS];
} optfeat;

/* A stump (one-node tree) with its feature inlined. */
typedef struct {
    optfeat f;
    float thr, left, right;
} optstump;

/* The cascade's offsets for one integral layout. */
typedef struct {
    int nofs[4];              /* the normalisation rectangle (1, 1, w-2, h-2) */
    optfeat *feat;            /* per feature (tree cascades) */
    optstump *stump;          /* per tree, in stage order (stump cascades) */
} layout;

typedef struct {
    const ferc_cascade *c;
    int stride, plane, half;  /* integral row stride, plane size, de-interleave split */
    double area;              /* of the normalisation rectangle */
    int simd;                 /* windows may be evaluated 8 at a time */
    layout lay[2];            /* [0] plain columns (step 1), [1] de-interleaved (step 2) */
} evaluator;

static void set_offsets(optfeat *of, const hfeature *f, int S, int half, int tofs) {
    memset(of, 0, sizeof *of);
    for (int r = 0; r < MAX_RECTS; r++) {
        hrect h = r < f->nrects ? f->r[r] : (hrect){0, 0, 0, 0, 0.f};
        of->w[r] = h.weight;
        if (f->tilted && r < f->nrects) { /* corners (x,y) (x-h,y+h) (x+w,y+w) (x+w-h,y+w+h) */
            of->o[r][0] = tofs + lay(h.x, half) + S * h.y;
            of->o[r][1] = tofs + lay(h.x - h.h, half) + S * (h.y + h.h);
            of->o[r][2] = tofs + lay(h.x + h.w, half) + S * (h.y + h.w);
            of->o[r][3] = tofs + lay(h.x + h.w - h.h, half) + S * (h.y + h.w + h.h);
        } else {
            of->o[r][0] = lay(h.x, half) + S * h.y;
            of->o[r][1] = lay(h.x + h.w, half) + S * h.y;
            of->o[r][2] = lay(h.x, half) + S * (h.y + h.h);
            of->o[r][3] = lay(h.x + h.w, half) + S * (h.y + h.h);
        }
    }
}

static ferc_status layout_init(layout *L, const ferc_cascade *c, int S, int half, int tofs) {
    int nw = c->win_w - 2, nh = c->win_h - 2;
    L->nofs[0] = lay(1, half) + S * 1;
    L->nofs[1] = lay(1 + nw, half) + S * 1;
    L->nofs[2] = lay(1, half) + S * (1 + nh);
    L->nofs[3] = lay(1 + nw, half) + S * (1 + nh);
    if (c->max_nodes == 1) {
        L->stump = malloc(sizeof(optstump) * (size_t)c->ntrees);
        if (!L->stump) return FERC_ERR_NOMEM;
        for (int t = 0; t < c->ntrees; t++) {
            const hnode *nd = &c->nodes[c->trees[t].first_node];
            const float *lv = &c->leaves[c->trees[t].first_leaf];
            optstump *s = &L->stump[t];
            set_offsets(&s->f, &c->features[nd->feature], S, half, tofs);
            s->thr = nd->threshold;
            s->left = lv[-nd->left];
            s->right = lv[-nd->right];
        }
    } else {
        L->feat = malloc(sizeof(optfeat) * (size_t)c->nfeatures);
        if (!L->feat) return FERC_ERR_NOMEM;
        for (int i = 0; i < c->nfeatures; i++) set_offsets(&L->feat[i], &c->features[i], S, half, tofs);
    }
    return FERC_OK;
}

static void evaluator_free(evaluator *ev) {
    for (int i = 0; i < 2; i++) { free(ev->lay[i].feat); free(ev->lay[i].stump); }
}

static ferc_status evaluator_init(evaluator *ev, const ferc_cascade *c, int stride, int plane) {
    memset(ev, 0, sizeof *ev);
    ev->c = c;
    ev->stride = stride;
    ev->plane = plane;
    ev->half = (stride + 1) / 2;
    ev->area = (double)(c->win_w - 2) * (double)(c->win_h - 2);
#if defined(__AVX2__)
    /* The vector path converts window sums of squares as signed 32-bit. */
    ev->simd = c->max_nodes == 1 && ev->area * 65025.0 < 2147483647.0;
#endif
    if (layout_init(&ev->lay[0], c, stride, 0, 2 * plane) ||
        layout_init(&ev->lay[1], c, stride, ev->half, 2 * plane)) {
        evaluator_free(ev);
        return FERC_ERR_NOMEM;
    }
    return FERC_OK;
}

static inline int32_t rsum(const uint32_t *p, const int *o) {
    return (int32_t)(p[o[0]] - p[o[1]] - p[o[2]] + p[o[3]]);
}

/* float arithmetic in OpenCV's order: w0*s0 + w1*s1 (+ w2*s2). */
static inline float feat_value(const optfeat *f, const uint32_t *p) {
    float v = f->w[0] * (float)rsum(p, f->o[0]) + f->w[1] * (float)rsum(p, f->o[1]);
    if (f->w[2] != 0.0f) v += f->w[2] * (float)rsum(p, f->o[2]);
    return v;
}

/* Variance normalisation of the window at p (top-left corner in the sum
 * plane): 0 when the window is too flat (OpenCV's setWindow failing). */
static inline int window_norm(const evaluator *ev, const layout *L, const uint32_t *p, float *vnf) {
    const uint32_t *q = p + ev->plane;
    int32_t vs = rsum(p, L->nofs);
    uint32_t vq = q[L->nofs[0]] - q[L->nofs[1]] - q[L->nofs[2]] + q[L->nofs[3]];
    double nf = ev->area * (double)vq - (double)vs * (double)vs;
    if (!(nf > 0.)) return 0;
    *vnf = (float)(1. / sqrt(nf));
    return ev->area * (double)*vnf < 1e-1;
}

/* Stages s0.. of the window at p: 1 = object, -s = rejected by stage s. */
static int stages_from(const evaluator *ev, const layout *L, const uint32_t *p, float vnf, int s0) {
    const ferc_cascade *c = ev->c;
    if (L->stump) {
        for (int si = s0; si < c->nstages; si++) {
            const hstage *sg = &c->stages[si];
            const optstump *s = L->stump + sg->first_tree;
            double t = 0;
            for (int k = 0; k < sg->ntrees; k++, s++) {
                float v = feat_value(&s->f, p) * vnf;
                t += v < s->thr ? s->left : s->right;
            }
            if (t < sg->threshold) return -si;
        }
        return 1;
    }
    for (int si = s0; si < c->nstages; si++) {
        const hstage *sg = &c->stages[si];
        double t = 0;
        for (int k = 0; k < sg->ntrees; k++) {
            const htree *tr = &c->trees[sg->first_tree + k];
            const hnode *nodes = &c->nodes[tr->first_node];
            int idx = 0;
            do {
                const hnode *nd = &nodes[idx];
                float v = feat_value(&L->feat[nd->feature], p) * vnf;
                idx = v < nd->threshold ? nd->left : nd->right;
            } while (idx > 0);
            t += c->leaves[tr->first_leaf - idx];
        }
        if (t < sg->threshold) return -si;
    }
    return 1;
}

/* One window: 1 = object, 0 = rejected by the first stage, -s = rejected by
 * stage s, -1 also for windows too flat to normalise. */
static int run_at(const evaluator *ev, const layout *L, const uint32_t *p) {
    float vnf;
    if (!window_norm(ev, L, p, &vnf)) return -1;
    return stages_from(ev, L, p, vnf, 0);
}

#if defined(__AVX2__)
#include <immintrin.h>

/* The same computations for the 8 consecutive windows p[0..7], lane by lane
 * bit-identical to the scalar code (no FMA: products and sums are rounded
 * separately, as in OpenCV). */
static inline __m256i vrsum_i(const uint32_t *p, const int *o) {
    __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)(p + o[0]));
    __m256i b = _mm256_loadu_si256((const __m256i *)(const void *)(p + o[1]));
    __m256i c = _mm256_loadu_si256((const __m256i *)(const void *)(p + o[2]));
    __m256i d = _mm256_loadu_si256((const __m256i *)(const void *)(p + o[3]));
    return _mm256_add_epi32(_mm256_sub_epi32(_mm256_sub_epi32(a, b), c), d);
}

/* Bit i set when window i can be normalised; its factor in lane i of vnf. */
static inline unsigned window_norm8(const evaluator *ev, const layout *L, const uint32_t *p, __m256 *vnf) {
    __m256i vs = vrsum_i(p, L->nofs), vq = vrsum_i(p + ev->plane, L->nofs);
    __m256d area = _mm256_set1_pd(ev->area), tenth = _mm256_set1_pd(1e-1), one = _mm256_set1_pd(1.0);
    __m256d s0 = _mm256_cvtepi32_pd(_mm256_castsi256_si128(vs));
    __m256d s1 = _mm256_cvtepi32_pd(_mm256_extracti128_si256(vs, 1));
    __m256d q0 = _mm256_cvtepi32_pd(_mm256_castsi256_si128(vq));
    __m256d q1 = _mm256_cvtepi32_pd(_mm256_extracti128_si256(vq, 1));
    __m256d n0 = _mm256_sub_pd(_mm256_mul_pd(area, q0), _mm256_mul_pd(s0, s0));
    __m256d n1 = _mm256_sub_pd(_mm256_mul_pd(area, q1), _mm256_mul_pd(s1, s1));
    unsigned pos = (unsigned)_mm256_movemask_pd(_mm256_cmp_pd(n0, _mm256_setzero_pd(), _CMP_GT_OQ)) |
                   ((unsigned)_mm256_movemask_pd(_mm256_cmp_pd(n1, _mm256_setzero_pd(), _CMP_GT_OQ)) << 4);
    __m128 f0 = _mm256_cvtpd_ps(_mm256_div_pd(one, _mm256_sqrt_pd(n0)));
    __m128 f1 = _mm256_cvtpd_ps(_mm256_div_pd(one, _mm256_sqrt_pd(n1)));
    __m256d a0 = _mm256_mul_pd(area, _mm256_cvtps_pd(f0)), a1 = _mm256_mul_pd(area, _mm256_cvtps_pd(f1));
    unsigned small = (unsigned)_mm256_movemask_pd(_mm256_cmp_pd(a0, tenth, _CMP_LT_OQ)) |
                     ((unsigned)_mm256_movemask_pd(_mm256_cmp_pd(a1, tenth, _CMP_LT_OQ)) << 4);
    *vnf = _mm256_set_m128(f1, f0);
    return pos & small;
}

/* Stage si for the 8 windows: bit i set when window i passes. */
static inline unsigned stage8(const ferc_cascade *c, const layout *L, int si, const uint32_t *p, __m256 vnf) {
    const hstage *sg = &c->stages[si];
    const optstump *s = L->stump + sg->first_tree;
    __m256d t0 = _mm256_setzero_pd(), t1 = _mm256_setzero_pd();
    for (int k = 0; k < sg->ntrees; k++, s++) {
        __m256 v = _mm256_add_ps(_mm256_mul_ps(_mm256_set1_ps(s->f.w[0]), _mm256_cvtepi32_ps(vrsum_i(p, s->f.o[0]))),
                                 _mm256_mul_ps(_mm256_set1_ps(s->f.w[1]), _mm256_cvtepi32_ps(vrsum_i(p, s->f.o[1]))));
        if (s->f.w[2] != 0.0f)
            v = _mm256_add_ps(v, _mm256_mul_ps(_mm256_set1_ps(s->f.w[2]), _mm256_cvtepi32_ps(vrsum_i(p, s->f.o[2]))));
        v = _mm256_mul_ps(v, vnf);
        __m256 leaf = _mm256_blendv_ps(_mm256_set1_ps(s->right), _mm256_set1_ps(s->left),
                                       _mm256_cmp_ps(v, _mm256_set1_ps(s->thr), _CMP_LT_OQ));
        t0 = _mm256_add_pd(t0, _mm256_cvtps_pd(_mm256_castps256_ps128(leaf)));
        t1 = _mm256_add_pd(t1, _mm256_cvtps_pd(_mm256_extractf128_ps(leaf, 1)));
    }
    __m256d th = _mm256_set1_pd((double)sg->threshold);
    return (unsigned)_mm256_movemask_pd(_mm256_cmp_pd(t0, th, _CMP_NLT_UQ)) |
           ((unsigned)_mm256_movemask_pd(_mm256_cmp_pd(t1, th, _CMP_NLT_UQ)) << 4);
}

/* Below this many live windows out of 8, finish them one by one (measured:
 * running the vectors to the end is fastest). */
#define VEC_MIN_LIVE 1

/* Scan one row of nj windows (window j at row + j, image column j * step),
 * 8 at a time; detections are pushed in order of j. Windows past nj are
 * computed (their loads stay inside the planes' slack) and ignored. */
static int scan_row8(const evaluator *ev, const layout *L, const uint32_t *row, int nj, int y, int step, float sc,
                     int bw, int bh, boxlist *out) {
    const ferc_cascade *c = ev->c;
    int skip = 0;
    for (int j0 = 0; j0 < nj; j0 += 8) {
        const uint32_t *p = row + j0;
        int lanes = nj - j0 < 8 ? nj - j0 : 8;
        __m256 vnf;
        unsigned ok = window_norm8(ev, L, p, &vnf);
        unsigned pass = ok ? stage8(c, L, 0, p, vnf) : 0;
        unsigned live = 0;
        for (int i = 0; i < lanes; i++) {
            if (skip) { skip = 0; continue; }        /* OpenCV skips the position after a stage-0 reject */
            if (!(ok >> i & 1)) continue;            /* too flat: -1, no skip */
            if (!(pass >> i & 1)) { skip = 1; continue; }
            live |= 1u << i;
        }
        int si = 1;
        while (live && si < c->nstages && __builtin_popcount(live) >= VEC_MIN_LIVE)
            live &= stage8(c, L, si++, p, vnf);
        if (!live) continue;
        if (si < c->nstages) {
            float f[8];
            _mm256_storeu_ps(f, vnf);
            for (int i = 0; i < lanes; i++)
                if ((live >> i & 1) && stages_from(ev, L, p + i, f[i], si) <= 0) live &= ~(1u << i);
        }
        for (int i = 0; i < lanes; i++)
            if (live >> i & 1) {
                ferc_box b = {round_f((float)((j0 + i) * step) * sc), round_f((float)y * sc), bw, bh};
                if (!boxlist_push(out, b)) return 0;
            }
    }
    return 1;
}
#endif

/* ------------------------------------------------------------------------ */
/* Multi-scale detection                                                     */
/* ------------------------------------------------------------------------ */

void ferc_detect_opts_default(ferc_detect_opts *o) {
    if (!o) return;
    o->scale_factor = 1.1;
    o->min_neighbors = 5;
    o->min_size = 30;
    o->max_size = 0;
    o->threads = 0;
}

#define MAX_SCALES 1024

/* The scales detectMultiScale uses (OpenCV 4.x) into out[MAX_SCALES]:
 * returns how many, or -1 when more than MAX_SCALES would fit the image. */
static int compute_scales(int w, int h, int ww, int wh, double sf, int minw, int minh, int maxw, int maxh,
                          float *out) {
    if (w < ww || h < wh) return 0;
    if (maxw == 0 || maxh == 0) { maxw = w; maxh = h; }
    float all[MAX_SCALES];
    int nall = 0;
    for (double f = 1;; f *= sf) {
        int sw = round_d(ww * f), sh = round_d(wh * f);
        if (sw > w || sh > h) break;
        if (nall == MAX_SCALES) return -1;
        all[nall++] = (float)f;
    }
    int n = 0;
    for (int i = 0; i < nall; i++) {
        int sw = round_d(ww * (double)all[i]), sh = round_d(wh * (double)all[i]);
        if (sw > maxw || sh > maxh) break;
        if (sw < minw || sh < minh) continue;
        out[n++] = all[i];
    }
    if (n == 0 && nall > 0) { /* OpenCV: the scale closest to min_size */
        int best = 0;
        double bd = 0;
        for (int i = 0; i < nall; i++) {
            int sw = round_d(ww * (double)all[i]), sh = round_d(wh * (double)all[i]);
            double d = (double)(minw - sw) * (minw - sw) + (double)(minh - sh) * (minh - sh);
            if (i == 0 || bd > d) { bd = d; best = i; }
        }
        out[n++] = all[best];
    }
    return n;
}

/* Per-thread work buffers. */
typedef struct {
    uint8_t *img;       /* resized image */
    uint32_t *planes;   /* sum, sqsum[, tilted], each `plane` uint32, then slack */
    uint32_t *ext;      /* tilted scratch */
    void *tmp;          /* resize scratch */
} workbuf;

/* Resize, integrate and scan one scale; candidates into out in (y, x) order. */
static int detect_scale(const evaluator *ev, const uint8_t *gray, int w, int h, int stride, float sc,
                        workbuf *wb, boxlist *out) {
    const ferc_cascade *c = ev->c;
    int sw = round_f((float)w / sc), sh = round_f((float)h / sc);
    if (sw < 1 || sh < 1) return 1;
    int step = sc >= 2 ? 1 : 2;
    int half = step == 2 ? ev->half : 0;
    const layout *L = &ev->lay[step == 2];
    ferc_detect_resize_exact(gray, w, h, stride, wb->img, sw, sh, sw, wb->tmp);
    uint32_t *sum = wb->planes, *sq = sum + ev->plane;
    ferc_detect_integral(wb->img, sw, sh, sw, sum, sq, ev->stride, half);
    if (c->has_tilted) ferc_detect_tilted(wb->img, sw, sh, sw, sum + 2 * ev->plane, ev->stride, half, wb->ext);
    int szw = sw + 1 - c->win_w, szh = sh + 1 - c->win_h;
    if (szw <= 0 || szh <= 0) return 1;
    int nj = (szw + step - 1) / step; /* windows per row, at x = j * step */
    int bw = round_f((float)c->win_w * sc), bh = round_f((float)c->win_h * sc);
    for (int y = 0; y < szh; y += step) {
        const uint32_t *row = sum + (size_t)y * ev->stride; /* window j at row + j in both layouts */
#if defined(__AVX2__)
        if (ev->simd) {
            if (!scan_row8(ev, L, row, nj, y, step, sc, bw, bh, out)) return 0;
            continue;
        }
#endif
        int skip = 0;
        for (int j = 0; j < nj; j++) {
            if (skip) { skip = 0; continue; }
            int r = run_at(ev, L, row + j);
            if (r > 0) {
                ferc_box b = {round_f((float)(j * step) * sc), round_f((float)y * sc), bw, bh};
                if (!boxlist_push(out, b)) return 0;
            } else if (r == 0) {
                skip = 1; /* OpenCV skips the next position after a first-stage reject */
            }
        }
    }
    return 1;
}

/* ferc_detect_faces with the vector path allowed or not (tests compare). */
ferc_status ferc_detect_faces_impl(const ferc_cascade *c, const uint8_t *gray, int w, int h, int stride,
                                   const ferc_detect_opts *opts, ferc_box *boxes, int max_boxes, int *nfound,
                                   int allow_simd, ferc_error *err);
ferc_status ferc_detect_faces_impl(const ferc_cascade *c, const uint8_t *gray, int w, int h, int stride,
                                   const ferc_detect_opts *opts, ferc_box *boxes, int max_boxes, int *nfound,
                                   int allow_simd, ferc_error *err) {
    if (nfound) *nfound = 0;
    if (!c || !gray || !nfound) return ferc_fail(err, FERC_ERR_ARG, "ferc_detect_faces: NULL argument");
    if (w <= 0 || h <= 0 || stride < w)
        return ferc_fail(err, FERC_ERR_ARG, "ferc_detect_faces: bad image geometry %dx%d, stride %d", w, h, stride);
    if ((size_t)w * (size_t)h > FERC_MAX_IMAGE_PIXELS)
        return ferc_fail(err, FERC_ERR_LIMIT, "ferc_detect_faces: image %dx%d is larger than %u pixels", w, h,
                         FERC_MAX_IMAGE_PIXELS);
    if (max_boxes < 0 || (max_boxes > 0 && !boxes))
        return ferc_fail(err, FERC_ERR_ARG, "ferc_detect_faces: no room for boxes");
    ferc_detect_opts o;
    if (opts) o = *opts;
    else ferc_detect_opts_default(&o);
    if (!(o.scale_factor > 1.0) || !(o.scale_factor < 100.0))
        return ferc_fail(err, FERC_ERR_ARG, "scale factor %g must be greater than 1 (and below 100)", o.scale_factor);
    if (o.min_neighbors < 0 || o.min_size < 0 || o.max_size < 0)
        return ferc_fail(err, FERC_ERR_ARG, "min_neighbors, min_size and max_size must not be negative");

    float scales[MAX_SCALES];
    int ns = compute_scales(w, h, c->win_w, c->win_h, o.scale_factor, o.min_size, o.min_size, o.max_size,
                            o.max_size, scales);
    if (ns < 0)
        return ferc_fail(err, FERC_ERR_ARG, "scale factor %g is too close to 1: more than %d scales for a %dx%d image",
                         o.scale_factor, MAX_SCALES, w, h);
    if (ns == 0) return FERC_OK;

    /* One stride for every scale, that of the first (largest) resized image,
     * so that offsets are computed once; slack after the planes for the
     * 8-wide loads of windows past the end of a row. */
    int w0 = round_f((float)w / scales[0]), h0 = round_f((float)h / scales[0]);
    if (w0 > w) w0 = w;
    if (h0 > h) h0 = h;
    int S = w0 + 2, P = (h0 + 1) * S;
    evaluator ev;
    if (evaluator_init(&ev, c, S, P)) return ferc_fail(err, FERC_ERR_NOMEM, "ferc_detect_faces: out of memory");
    if (!allow_simd) ev.simd = 0;
    boxlist *lists = calloc((size_t)ns, sizeof(boxlist));
    int nth = ferc_threads(o.threads);
    if (nth > ns) nth = ns;
    int failed = 0;
    if (!lists) failed = 1;
    if (!failed) {
#pragma omp parallel num_threads(nth)
        {
            workbuf wb;
            size_t nplanes = c->has_tilted ? 3 : 2;
            wb.img = malloc((size_t)w0 * (size_t)h0);
            wb.planes = calloc((size_t)P * nplanes + 64, sizeof(uint32_t));
            wb.ext = c->has_tilted ? malloc(sizeof(uint32_t) * 3 * (size_t)(w0 + 2 * h0 + 16)) : NULL;
            wb.tmp = malloc(ferc_detect_resize_tmp_size(w0, h0));
            int ok = wb.img && wb.planes && wb.tmp && (!c->has_tilted || wb.ext);
            if (!ok) {
#pragma omp atomic write
                failed = 1;
            }
            /* Scales in order, largest (slowest) first: dynamic scheduling
             * balances the threads; each scale has its own list. */
#pragma omp for schedule(dynamic, 1)
            for (int i = 0; i < ns; i++) {
                if (ok && !detect_scale(&ev, gray, w, h, stride, scales[i], &wb, &lists[i])) {
#pragma omp atomic write
                    failed = 1;
                }
            }
            free(wb.img); free(wb.planes); free(wb.ext); free(wb.tmp);
        }
    }
    evaluator_free(&ev);
    boxlist all = {0};
    for (int i = 0; lists && i < ns && !failed; i++)
        for (int k = 0; k < lists[i].n; k++)
            if (!boxlist_push(&all, lists[i].b[k])) failed = 1;
    for (int i = 0; lists && i < ns; i++) free(lists[i].b);
    free(lists);
    if (failed) { free(all.b); return ferc_fail(err, FERC_ERR_NOMEM, "ferc_detect_faces: out of memory"); }
    int n = ferc_group_boxes(all.b, all.n, o.min_neighbors, 0.2, NULL);
    if (n < 0) { free(all.b); return ferc_fail(err, FERC_ERR_NOMEM, "ferc_detect_faces: out of memory"); }
    /* Clip to the image and drop empty boxes, as cv::CascadeClassifier. */
    int m = 0;
    for (int i = 0; i < n; i++) {
        ferc_box b = all.b[i];
        int x0 = b.x > 0 ? b.x : 0, y0 = b.y > 0 ? b.y : 0;
        int x1 = b.x + b.w < w ? b.x + b.w : w, y1 = b.y + b.h < h ? b.y + b.h : h;
        if (x1 <= x0 || y1 <= y0) continue;
        ferc_box cb = {x0, y0, x1 - x0, y1 - y0};
        if (m < max_boxes) boxes[m] = cb;
        m++;
    }
    free(all.b);
    *nfound = m;
    return FERC_OK;
}

ferc_status ferc_detect_faces(const ferc_cascade *c, const uint8_t *gray, int w, int h, int stride,
                              const ferc_detect_opts *opts, ferc_box *boxes, int max_boxes, int *nfound,
                              ferc_error *err) {
    return ferc_detect_faces_impl(c, gray, w, h, stride, opts, boxes, max_boxes, nfound, 1, err);
}

/* ------------------------------------------------------------------------ */
/* Classifying the faces                                                     */
/* ------------------------------------------------------------------------ */

void ferc_crop_face(const uint8_t *gray, int w, int h, int stride, ferc_box b, float margin, int size, float *out,
                    float *tmp) {
    int mx = (int)lrintf((float)b.w * margin), my = (int)lrintf((float)b.h * margin);
    int x0 = b.x - mx, y0 = b.y - my, cw = b.w + 2 * mx, ch = b.h + 2 * my;
    if (cw < 1) cw = 1;
    if (ch < 1) ch = 1;
    for (int y = 0; y < ch; y++) {
        int sy = y0 + y;
        sy = sy < 0 ? 0 : sy >= h ? h - 1 : sy; /* outside the image: repeat the edge */
        const uint8_t *row = gray + (size_t)sy * stride;
        for (int x = 0; x < cw; x++) {
            int sx = x0 + x;
            sx = sx < 0 ? 0 : sx >= w ? w - 1 : sx;
            tmp[(size_t)y * cw + x] = (float)row[sx] * (1.0f / 255.0f);
        }
    }
    ferc_resize_bilinear(tmp, ch, cw, out, size, size);
}

ferc_status ferc_classify_faces(ferc_model *model, const uint8_t *gray, int w, int h, int stride,
                                const ferc_box *boxes, int n, float margin, float *probs, ferc_error *err) {
    if (n == 0) return FERC_OK;
    if (!model || !gray || !boxes || !probs || n < 0)
        return ferc_fail(err, FERC_ERR_ARG, "ferc_classify_faces: NULL argument");
    if (w <= 0 || h <= 0 || stride < w)
        return ferc_fail(err, FERC_ERR_ARG, "ferc_classify_faces: bad image geometry %dx%d, stride %d", w, h, stride);
    if (!(margin >= 0.0f && margin <= 2.0f))
        return ferc_fail(err, FERC_ERR_ARG, "ferc_classify_faces: margin %g outside 0..2", (double)margin);
    int S = ferc_model_input_size(model);
    if (S <= 0) return ferc_fail(err, FERC_ERR_ARG, "ferc_classify_faces: the model has no input size");
    size_t maxcrop = 1;
    for (int i = 0; i < n; i++) {
        if (boxes[i].w <= 0 || boxes[i].h <= 0 || boxes[i].w > 4 * w + 16 || boxes[i].h > 4 * h + 16)
            return ferc_fail(err, FERC_ERR_ARG, "ferc_classify_faces: box %d (%d %d %d %d) is empty or too large", i,
                             boxes[i].x, boxes[i].y, boxes[i].w, boxes[i].h);
        size_t cw = (size_t)(boxes[i].w * (1 + 2 * (double)margin) + 3), ch = (size_t)(boxes[i].h * (1 + 2 * (double)margin) + 3);
        if (cw * ch > maxcrop) maxcrop = cw * ch;
    }
    /* crop to the model's face size F, then its own preprocessing (a resize,
     * or a centre crop for models trained on random crops) */
    int F = ferc_model_face_size(model);
    float *x = malloc(sizeof(float) * (size_t)n * S * S), *tmp = malloc(sizeof(float) * maxcrop),
          *face = malloc(sizeof(float) * (size_t)F * F);
    if (!x || !tmp || !face) { free(x); free(tmp); free(face); return ferc_fail(err, FERC_ERR_NOMEM, "ferc_classify_faces: out of memory"); }
    for (int i = 0; i < n; i++) {
        ferc_crop_face(gray, w, h, stride, boxes[i], margin, F, face, tmp);
        ferc_model_prepare(model, face, F, F, x + (size_t)i * S * S);
    }
    free(tmp);
    free(face);
    ferc_status st = ferc_model_predict(model, x, n, probs, 0, err);
    free(x);
    return st;
}
