/* fixture.c — reads the named-tensor fixture files (*.fxt, see fixture.h)
 * into memory: every tensor's data is copied into its own aligned float
 * array, decoded from little endian whatever the host's byte order. */
#include "fixture.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *name;
    int ndim;
    size_t dims[FX_MAX_DIMS];
    size_t n;
    float *data;
} fx_tensor;

struct fx_file {
    int count;
    fx_tensor *t;
};

typedef struct {
    const unsigned char *p;
    size_t len, pos;
} reader;

static int rd_u32(reader *r, uint32_t *v) {
    if (r->len - r->pos < 4) return -1;
    const unsigned char *b = r->p + r->pos;
    *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    r->pos += 4;
    return 0;
}

static unsigned char *slurp(const char *path, size_t *len) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    unsigned char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 1 << 16;
            unsigned char *nb = realloc(buf, cap);
            if (!nb) { free(buf); fclose(fp); return NULL; }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n, fp);
        n += got;
        if (got == 0) break;
    }
    int bad = ferror(fp);
    fclose(fp);
    if (bad) { free(buf); return NULL; }
    *len = n;
    return buf;
}

void fx_close(fx_file *f) {
    if (!f) return;
    for (int i = 0; i < f->count; i++) {
        free(f->t[i].name);
        free(f->t[i].data);
    }
    free(f->t);
    free(f);
}

fx_file *fx_open(const char *path) {
    size_t len = 0;
    unsigned char *buf = slurp(path, &len);
    if (!buf) return NULL;
    reader r = {buf, len, 0};
    fx_file *f = calloc(1, sizeof *f);
    uint32_t count;
    if (!f || len < 8 || memcmp(buf, "FXT1", 4) != 0) goto bad;
    r.pos = 4;
    if (rd_u32(&r, &count) || count > 100000 || count > len / 12) goto bad;
    f->t = calloc(count ? count : 1, sizeof *f->t);
    if (!f->t) goto bad;
    f->count = (int)count;
    for (uint32_t i = 0; i < count; i++) {
        fx_tensor *t = &f->t[i];
        uint32_t nl, nd;
        if (rd_u32(&r, &nl) || nl == 0 || nl > 4096 || r.len - r.pos < nl) goto bad;
        t->name = malloc(nl + 1);
        if (!t->name) goto bad;
        memcpy(t->name, r.p + r.pos, nl);
        t->name[nl] = 0;
        r.pos += nl;
        if (strlen(t->name) != nl) goto bad;
        if (rd_u32(&r, &nd) || nd > FX_MAX_DIMS) goto bad;
        t->ndim = (int)nd;
        size_t n = 1;
        for (uint32_t d = 0; d < nd; d++) {
            uint32_t v;
            if (rd_u32(&r, &v)) goto bad;
            t->dims[d] = v;
            if (v && n > SIZE_MAX / 4 / v) goto bad;
            n *= v;
        }
        t->n = n;
        if ((r.len - r.pos) / 4 < n) goto bad;
        t->data = malloc(n ? n * sizeof(float) : 1);
        if (!t->data) goto bad;
        for (size_t k = 0; k < n; k++) {
            uint32_t bits = 0;
            rd_u32(&r, &bits);
            memcpy(&t->data[k], &bits, 4);
        }
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(f->t[j].name, t->name) == 0) goto bad;
    }
    if (r.pos != r.len) goto bad;
    free(buf);
    return f;
bad:
    free(buf);
    fx_close(f);
    return NULL;
}

static const fx_tensor *find(const fx_file *f, const char *name) {
    if (!f || !name) return NULL;
    for (int i = 0; i < f->count; i++)
        if (strcmp(f->t[i].name, name) == 0) return &f->t[i];
    return NULL;
}

const float *fx_get(fx_file *f, const char *name, size_t *n) {
    const fx_tensor *t = find(f, name);
    if (!t) return NULL;
    if (n) *n = t->n;
    return t->data;
}

int fx_dims(fx_file *f, const char *name, size_t dims[FX_MAX_DIMS]) {
    const fx_tensor *t = find(f, name);
    if (!t) return -1;
    if (dims)
        for (int d = 0; d < t->ndim; d++) dims[d] = t->dims[d];
    return t->ndim;
}

int fx_count(const fx_file *f) { return f ? f->count : 0; }

const char *fx_name(const fx_file *f, int i) {
    return (f && i >= 0 && i < f->count) ? f->t[i].name : NULL;
}
