/* group.c — merging the raw detections of all scales into faces, as
 * OpenCV's cv::groupRectangles(eps, min_neighbors) does: boxes are joined
 * into classes by the "similar" relation (cv::partition), each class with
 * more than min_neighbors members becomes its average box, and averages
 * that lie inside a stronger one are dropped. Kept separate from the scan
 * because it is exported (ferc_group_boxes) and tested against OpenCV's own
 * groupRectangles on its own. */
#include "detect/detect.h"

#include <stdlib.h>
#include <string.h>

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
    for (int i = 0; i < n; i++) k[i] = (xkey){.x = r[i].x, .i = i};
    qsort(k, (size_t)n, sizeof *k, cmp_xkey);
    for (int i = 0; i < n; i++) order[i] = k[i].i;
    free(k);
    return 1;
}

static int uf_find(int *parent, int i) {
    while (parent[i] != i) { parent[i] = parent[parent[i]]; i = parent[i]; }
    return i;
}

/* Connected components of the "similar" relation into the union-find forest
 * parent (what cv::partition finds; they do not depend on the visiting
 * order). Visiting by x, pairs further apart in x than the largest possible
 * delta are never similar. order is scratch for n ints; 0 when out of
 * memory. */
static int partition(const ferc_box *r, int n, double eps, int *parent, int *order) {
    for (int i = 0; i < n; i++) parent[i] = order[i] = i;
    int maxw = 0, maxh = 0;
    for (int i = 0; i < n; i++) {
        if (r[i].w > maxw) maxw = r[i].w;
        if (r[i].h > maxh) maxh = r[i].h;
    }
    double maxdelta = eps * (maxw + maxh) * 0.5;
    if (!sort_by_x(order, n, r)) return 0;
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
    return 1;
}

/* Classes numbered by first appearance, as cv::partition: their sizes into
 * cnt and average boxes into avg (float arithmetic as OpenCV's). Returns the
 * number of classes, or -1 when out of memory. */
static int class_averages(const ferc_box *r, int n, int *parent, int *cnt, ferc_box *avg) {
    int ncls = 0;
    int *cls_of_root = malloc(sizeof(int) * (size_t)n);
    long long *acc = calloc((size_t)n * 4, sizeof(long long));
    if (!cls_of_root || !acc) { free(cls_of_root); free(acc); return -1; }
    for (int i = 0; i < n; i++) cls_of_root[i] = -1;
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
    free(cls_of_root);
    free(acc);
    return ncls;
}

/* The classes with more than min_neighbors members whose average is not
 * inside that of a stronger class, into r[0..m) (and their sizes into
 * neighbors); returns m. */
static int keep_strong(ferc_box *r, const ferc_box *avg, const int *cnt, int ncls, int min_neighbors, double eps,
                       int *neighbors) {
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
    return m;
}

int ferc_group_boxes(ferc_box *r, int n, int min_neighbors, double eps, int *neighbors) {
    if (n <= 0) return 0;
    if (min_neighbors <= 0) {
        if (neighbors) for (int i = 0; i < n; i++) neighbors[i] = 1;
        return n;
    }
    int *parent = malloc(sizeof(int) * (size_t)n * 2);
    int *cnt = calloc((size_t)n, sizeof(int));
    ferc_box *avg = malloc(sizeof(ferc_box) * (size_t)n);
    int m = -1;
    if (parent && cnt && avg && partition(r, n, eps, parent, parent + n)) {
        int ncls = class_averages(r, n, parent, cnt, avg);
        if (ncls >= 0) m = keep_strong(r, avg, cnt, ncls, min_neighbors, eps, neighbors);
    }
    free(parent); free(cnt); free(avg);
    return m;
}
