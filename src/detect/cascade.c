/* cascade.c — reading OpenCV's Haar cascade XML files with libxml2 into the
 * flat arrays of detect.h (stages, trees, nodes, leaves, features). Both
 * formats OpenCV ships are read: the current "opencv-cascade-classifier"
 * (<stageType>, <featureType>, <stages> of weak classifiers, a shared
 * <features> list) and the old "opencv-haar-classifier" (<size> and
 * <stages> of trees whose nodes carry their own features), the latter
 * converted the way OpenCV 4 converts it. Files are untrusted input: every
 * number is checked, a DTD is refused, and validate() makes sure that no
 * index or rectangle can reach outside the arrays or the window, so that
 * evaluation (haar.c) needs no checks of its own. */
#include "detect/detect.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* Parsing context: file name for messages, a "C" locale for numbers, and
 * where errors go (never NULL: ferc_cascade_load points it at a local when
 * the caller passes none, so a failed step's status can be read back). */
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
        if (k < 0) return x->err->status;
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


/* The optional <tilted> flag of a feature element n. */
static ferc_status read_tilted(xctx *x, const xmlNode *n, int *tilted) {
    *tilted = 0;
    if (child(n, "tilted")) {
        double d;
        if (!one_number(x, n, "tilted", &d)) return x->err->status;
        *tilted = d != 0;
    }
    return FERC_OK;
}

/* A new stage of c with threshold d (nstages is counted once it is read);
 * NULL when out of memory. */
static hstage *new_stage(ferc_cascade *c, double d) {
    if (!grow((void **)&c->stages, &c->cap_stages, c->nstages + 1, sizeof(hstage))) return NULL;
    hstage *sg = &c->stages[c->nstages];
    /* as OpenCV: THRESHOLD_EPS */
    *sg = (hstage){.first_tree = c->ntrees, .ntrees = 0, .threshold = (float)d - 1e-5f};
    return sg;
}

/* Room for one more tree of nn nodes and nl leaves. */
static int grow_tree(ferc_cascade *c, int nn, int nl) {
    return grow((void **)&c->trees, &c->cap_trees, c->ntrees + 1, sizeof(htree)) &&
           grow((void **)&c->nodes, &c->cap_nodes, c->nnodes + nn, sizeof(hnode)) &&
           grow((void **)&c->leaves, &c->cap_leaves, c->nleaves + nl, sizeof(float));
}

/* Whether child index idx of node i is a later node of a tree of nn nodes
 * (idx > 0) or one of its nl leaves (idx <= 0, leaf -idx). Children after
 * their parent also make every walk down a tree end. */
static int child_in_tree(int idx, int i, int nn, int nl) {
    return idx > 0 ? idx > i && idx < nn : -idx < nl;
}

/* ------------------------------------------------------------------------ */
/* Current format                                                            */
/* ------------------------------------------------------------------------ */

/* <stageType>, <featureType>, the window and <featureParams>: only boosted
 * Haar cascades are supported. */
static ferc_status load_new_header(xctx *x, ferc_cascade *c, const xmlNode *root) {
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
    if (!one_number(x, root, "width", &d)) return x->err->status;
    if (!as_int(d, &c->win_w)) return xfail(x, child(root, "width"), FERC_ERR_PARSE, "<width> must be an integer");
    if (!one_number(x, root, "height", &d)) return x->err->status;
    if (!as_int(d, &c->win_h)) return xfail(x, child(root, "height"), FERC_ERR_PARSE, "<height> must be an integer");
    const xmlNode *fp = child(root, "featureParams");
    if (fp && child(fp, "maxCatCount")) {
        if (!one_number(x, fp, "maxCatCount", &d)) return x->err->status;
        if (d != 0) return xfail(x, fp, FERC_ERR_PARSE, "maxCatCount is not 0: categorical (LBP) features are not supported");
    }
    return FERC_OK;
}

/* Internal node i of a tree from its four numbers v: left right feature
 * threshold (in, the element, for messages). */
static ferc_status new_node(xctx *x, const xmlNode *in, hnode *nd, const double *v, int i, int nn, int nl) {
    if (!as_int(v[0], &nd->left) || !as_int(v[1], &nd->right) || !as_int(v[2], &nd->feature))
        return xfail(x, in, FERC_ERR_PARSE, "<internalNodes>: left, right and feature must be integers");
    nd->threshold = (float)v[3];
    if (!child_in_tree(nd->left, i, nn, nl) || !child_in_tree(nd->right, i, nn, nl))
        return xfail(x, in, FERC_ERR_PARSE, "<internalNodes>: a child index points outside the tree");
    return FERC_OK;
}

/* One weak classifier w (<internalNodes>, <leafValues>) appended as a tree;
 * nv and lv are scratch for 4 * MAX_TREE_NODES and MAX_TREE_NODES + 1
 * numbers. */
static ferc_status load_new_tree(xctx *x, ferc_cascade *c, const xmlNode *w, double *nv, double *lv) {
    const xmlNode *in = child(w, "internalNodes"), *lf = child(w, "leafValues");
    if (!in || !lf) return xfail(x, w, FERC_ERR_PARSE, "a weak classifier needs <internalNodes> and <leafValues>");
    int k = numbers(x, in, nv, 4 * MAX_TREE_NODES, "internalNodes");
    if (k < 0) return x->err->status;
    if (k == 0 || k % 4)
        return xfail(x, in, FERC_ERR_PARSE, "<internalNodes> must hold groups of 4 numbers: left right feature threshold");
    int nn = k / 4;
    int nl = numbers(x, lf, lv, MAX_TREE_NODES + 1, "leafValues");
    if (nl < 0) return x->err->status;
    if (nl != nn + 1) return xfail(x, lf, FERC_ERR_PARSE, "a tree with n internal nodes needs n+1 <leafValues>");
    if (!grow_tree(c, nn, nl)) return xfail(x, w, FERC_ERR_NOMEM, "out of memory");
    c->trees[c->ntrees++] = (htree){.first_node = c->nnodes, .nnodes = nn, .first_leaf = c->nleaves};
    for (int i = 0; i < nn; i++) {
        ferc_status st = new_node(x, in, &c->nodes[c->nnodes + i], nv + 4 * i, i, nn, nl);
        if (st) return st;
    }
    for (int i = 0; i < nl; i++) c->leaves[c->nleaves + i] = (float)lv[i];
    c->nnodes += nn;
    c->nleaves += nl;
    if (nn > c->max_nodes) c->max_nodes = nn;
    return FERC_OK;
}

/* One <stages> entry: <stageThreshold> and its <weakClassifiers>. */
static ferc_status load_new_stage(xctx *x, ferc_cascade *c, const xmlNode *s, double *nv, double *lv) {
    double d;
    if (!one_number(x, s, "stageThreshold", &d)) return x->err->status;
    const xmlNode *weak = child(s, "weakClassifiers");
    if (!weak) return xfail(x, s, FERC_ERR_PARSE, "missing <weakClassifiers>");
    hstage *sg = new_stage(c, d);
    if (!sg) return xfail(x, s, FERC_ERR_NOMEM, "out of memory");
    for (const xmlNode *w = first_elem(weak); w; w = next_elem(w)) {
        ferc_status st = load_new_tree(x, c, w, nv, lv);
        if (st) return st;
        sg->ntrees++;
    }
    if (sg->ntrees == 0) return xfail(x, weak, FERC_ERR_PARSE, "a stage without weak classifiers");
    c->nstages++;
    return FERC_OK;
}

/* The shared <features> list, in order (nodes refer to them by index). */
static ferc_status load_new_features(xctx *x, ferc_cascade *c, const xmlNode *features) {
    for (const xmlNode *f = first_elem(features); f; f = next_elem(f)) {
        const xmlNode *rects = child(f, "rects");
        if (!rects) return xfail(x, f, FERC_ERR_PARSE, "a feature without <rects>");
        int tilted;
        ferc_status st = read_tilted(x, f, &tilted);
        if (!st) st = read_feature(x, c, rects, tilted);
        if (st) return st;
    }
    return FERC_OK;
}

/* Current format: <cascade type_id="opencv-cascade-classifier">. */
static ferc_status load_new(xctx *x, ferc_cascade *c, const xmlNode *root) {
    ferc_status st = load_new_header(x, c, root);
    if (st) return st;
    const xmlNode *stages = child(root, "stages");
    const xmlNode *features = child(root, "features");
    if (!stages) return xfail(x, root, FERC_ERR_PARSE, "missing <stages>");
    if (!features) return xfail(x, root, FERC_ERR_PARSE, "missing <features>");
    double *nv = malloc(sizeof(double) * 4 * MAX_TREE_NODES), *lv = malloc(sizeof(double) * (MAX_TREE_NODES + 1));
    if (!nv || !lv) { free(nv); free(lv); return xfail(x, root, FERC_ERR_NOMEM, "out of memory"); }
    for (const xmlNode *s = first_elem(stages); s && st == FERC_OK; s = next_elem(s))
        st = load_new_stage(x, c, s, nv, lv);
    free(nv); free(lv);
    if (st) return st;
    return load_new_features(x, c, features);
}

/* ------------------------------------------------------------------------ */
/* Old format                                                                */
/* ------------------------------------------------------------------------ */

/* The left (side 0) or right (side 1) child of node i of an old-format tree:
 * a <left_val> leaf value (leaves numbered in order of appearance, *nl so
 * far) or a <left_node> index. */
static ferc_status load_old_child(xctx *x, ferc_cascade *c, const xmlNode *n, int side, hnode *nd, int i, int nn,
                                  int *nl) {
    const char *valn = side ? "right_val" : "left_val", *noden = side ? "right_node" : "left_node";
    int *dst = side ? &nd->right : &nd->left;
    double d;
    if (child(n, valn)) {
        if (!one_number(x, n, valn, &d)) return x->err->status;
        if (*nl > nn) return xfail(x, n, FERC_ERR_PARSE, "a tree has more leaves than nodes + 1");
        c->leaves[c->nleaves + *nl] = (float)d;
        *dst = -*nl;
        (*nl)++;
        return FERC_OK;
    }
    if (child(n, noden)) {
        if (!one_number(x, n, noden, &d) || !as_int(d, dst)) return xfail(x, n, FERC_ERR_PARSE, "bad node index");
        if (*dst <= i || *dst >= nn) return xfail(x, n, FERC_ERR_PARSE, "a child node index points outside the tree");
        return FERC_OK;
    }
    char msg[100];
    snprintf(msg, sizeof msg, "a tree node needs <%s> or <%s>", valn, noden);
    return xfail(x, n, FERC_ERR_PARSE, msg);
}

/* Node i of an old-format tree: its own <feature> (appended to the feature
 * list), <threshold> and two children. */
static ferc_status load_old_node(xctx *x, ferc_cascade *c, const xmlNode *n, int i, int nn, int *nl) {
    const xmlNode *feat = child(n, "feature");
    if (!feat || !child(feat, "rects")) return xfail(x, n, FERC_ERR_PARSE, "a tree node without <feature><rects>");
    int tilted;
    ferc_status st = read_tilted(x, feat, &tilted);
    if (st) return st;
    hnode *nd = &c->nodes[c->nnodes + i];
    nd->feature = c->nfeatures;
    if ((st = read_feature(x, c, child(feat, "rects"), tilted))) return st;
    double d;
    if (!one_number(x, n, "threshold", &d)) return x->err->status;
    nd->threshold = (float)d;
    for (int side = 0; side < 2; side++)
        if ((st = load_old_child(x, c, n, side, nd, i, nn, nl))) return st;
    return FERC_OK;
}

/* One old-format tree t: a list of nodes, appended to c. */
static ferc_status load_old_tree(xctx *x, ferc_cascade *c, const xmlNode *t) {
    int nn = count_elems(t);
    if (nn == 0 || nn > MAX_TREE_NODES) return xfail(x, t, FERC_ERR_PARSE, "a tree must have 1 to 1024 nodes");
    if (!grow_tree(c, nn, nn + 1)) return xfail(x, t, FERC_ERR_NOMEM, "out of memory");
    c->trees[c->ntrees] = (htree){.first_node = c->nnodes, .nnodes = nn, .first_leaf = c->nleaves};
    int i = 0, nl = 0;
    for (const xmlNode *n = first_elem(t); n; n = next_elem(n), i++) {
        ferc_status st = load_old_node(x, c, n, i, nn, &nl);
        if (st) return st;
    }
    if (nl != nn + 1) return xfail(x, t, FERC_ERR_PARSE, "a tree with n nodes needs n+1 leaf values");
    c->nnodes += nn;
    c->nleaves += nl;
    if (nn > c->max_nodes) c->max_nodes = nn;
    c->ntrees++;
    return FERC_OK;
}

/* One old-format stage: <stage_threshold> and <trees>. */
static ferc_status load_old_stage(xctx *x, ferc_cascade *c, const xmlNode *s) {
    double d;
    if (!one_number(x, s, "stage_threshold", &d)) return x->err->status;
    const xmlNode *trees = child(s, "trees");
    if (!trees) return xfail(x, s, FERC_ERR_PARSE, "missing <trees>");
    hstage *sg = new_stage(c, d);
    if (!sg) return xfail(x, s, FERC_ERR_NOMEM, "out of memory");
    for (const xmlNode *t = first_elem(trees); t; t = next_elem(t)) {
        ferc_status st = load_old_tree(x, c, t);
        if (st) return st;
        sg->ntrees++;
    }
    if (sg->ntrees == 0) return xfail(x, trees, FERC_ERR_PARSE, "a stage without trees");
    c->nstages++;
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
    for (const xmlNode *s = first_elem(stages); s; s = next_elem(s)) {
        ferc_status st = load_old_stage(x, c, s);
        if (st) return st;
    }
    return FERC_OK;
}

/* ------------------------------------------------------------------------ */
/* Checks and the entry point                                                */
/* ------------------------------------------------------------------------ */

/* Whether rectangle h of a feature lies inside a ww x wh window; in 64 bits,
 * as the file's coordinates may be anything up to 2^31. */
static int rect_inside(hrect h, int tilted, int ww, int wh) {
    long long x = h.x, y = h.y, w = h.w, hh = h.h;
    if (!tilted) return x >= 0 && y >= 0 && w >= 0 && hh >= 0 && x + w <= ww && y + hh <= wh;
    /* corners (x,y) (x+w,y+w) (x-h,y+h) (x+w-h,y+w+h) */
    return w >= 0 && hh >= 0 && x - hh >= 0 && y >= 0 && x + w <= ww && y + w + hh <= wh;
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
            if (!rect_inside(h, f->tilted, c->win_w, c->win_h))
                return ferc_fail(x->err, FERC_ERR_PARSE, "%s: feature %d: rectangle %d %d %d %d%s lies outside the %dx%d window",
                                 x->path, i, h.x, h.y, h.w, h.h, f->tilted ? " (tilted)" : "", c->win_w, c->win_h);
        }
    }
    return FERC_OK;
}

/* The file to read: *path, or the first default cascade installed. */
static ferc_status cascade_path(const char **path, ferc_error *err) {
    if (!*path || !**path) {
        *path = ferc_cascade_default_path();
        if (!*path)
            return ferc_fail(err, FERC_ERR_IO,
                             "no face detector cascade found (looked for %s and %s): install the Debian package "
                             "opencv-data (apt-get install opencv-data) or give a cascade file",
                             default_paths[0], default_paths[1]);
    }
    if (access(*path, R_OK) != 0)
        return ferc_fail(err, FERC_ERR_IO,
                         "%s: cascade file not found or unreadable; OpenCV's Haar cascades come with the Debian "
                         "package opencv-data (apt-get install opencv-data), in /usr/share/opencv4/haarcascades/",
                         *path);
    return FERC_OK;
}

/* Parse path into *doc, with its parser context *pc (freed on failure). No
 * network, no libxml2 messages on stderr. */
static ferc_status parse_xml(const char *path, xmlParserCtxtPtr *pc, xmlDocPtr *doc, ferc_error *err) {
    *pc = xmlNewParserCtxt();
    if (!*pc) return ferc_fail(err, FERC_ERR_NOMEM, "%s: out of memory (XML parser)", path);
    *doc = xmlCtxtReadFile(*pc, path, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                                                XML_PARSE_HUGE);
    if (*doc) return FERC_OK;
    const xmlError *e = xmlCtxtGetLastError(*pc);
    ferc_status st = ferc_fail(err, FERC_ERR_PARSE, "%s:%d: not a valid XML file: %s", path, e ? e->line : 0,
                               e && e->message ? e->message : "parse error");
    if (err) { /* libxml2 messages end with a newline */
        size_t L = strlen(err->msg);
        while (L && (err->msg[L - 1] == '\n' || err->msg[L - 1] == ' ')) err->msg[--L] = 0;
    }
    xmlFreeParserCtxt(*pc);
    return st;
}

/* The cascade in a parsed document, in either format, validated. */
static ferc_status load_doc(xctx *x, ferc_cascade *c, const xmlDoc *doc) {
    const xmlNode *top = xmlDocGetRootElement(doc);
    /* Cascades have no DTD; refusing them rules out entity expansion tricks. */
    if (doc->intSubset || doc->extSubset)
        return ferc_fail(x->err, FERC_ERR_PARSE, "%s: XML with a DTD (<!DOCTYPE ...>) is not an OpenCV cascade",
                         x->path);
    const xmlNode *root = first_elem(top);
    if (!is_elem(top, "opencv_storage") || !root)
        return xfail(x, top, FERC_ERR_PARSE, "not an OpenCV cascade file (no <opencv_storage> with a cascade inside)");
    ferc_status st;
    if (child(root, "stageType") || child(root, "featureType")) st = load_new(x, c, root);
    else if (child(root, "size") && child(root, "stages")) st = load_old(x, c, root);
    else st = xfail(x, root, FERC_ERR_PARSE, "not an OpenCV cascade (neither <stageType> nor <size>/<stages>)");
    if (!st) st = validate(x, c);
    return st;
}

ferc_status ferc_cascade_load(const char *path, ferc_cascade **out, ferc_error *err) {
    if (!out) return ferc_fail(err, FERC_ERR_ARG, "ferc_cascade_load: out is NULL");
    *out = NULL;
    ferc_status st = cascade_path(&path, err);
    if (st) return st;
    xmlParserCtxtPtr pc;
    xmlDocPtr doc;
    if ((st = parse_xml(path, &pc, &doc, err))) return st;
    ferc_error local = {.status = FERC_OK};
    ferc_cascade *c = calloc(1, sizeof *c);
    xctx x = {.path = path, .cloc = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0), .err = err ? err : &local};
    if (!c || !x.cloc) st = ferc_fail(err, FERC_ERR_NOMEM, "%s: out of memory", path);
    else st = load_doc(&x, c, doc);
    if (x.cloc) freelocale(x.cloc);
    xmlFreeDoc(doc);
    xmlFreeParserCtxt(pc);
    if (st) { ferc_cascade_free(c); return st; }
    *out = c;
    return FERC_OK;
}
