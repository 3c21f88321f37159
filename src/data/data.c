/* data.c — loading datasets: the FER2013 CSV (plain or gzip, streamed through
 * zlib on a reader thread while this thread parses) and image folders
 * ROOT/<label>/ of .png/.jpg files; per-class counts; and converting stored uint8
 * faces into the float inputs of a model (ferc_prepare_images). */
#include "data/data.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <zlib.h>

#define FER_SIDE 48
#define FER_PIXELS (FER_SIDE * FER_SIDE)

/* ------------------------------------------------------------------------ */
/* Reader thread: gzread into a small ring of buffers                        */
/* ------------------------------------------------------------------------ */

#define SLOT_SIZE (1u << 20)
#define NSLOT 4
#define MAX_LINE (1u << 20) /* a FER2013 row is about 9 KB */

typedef struct {
    gzFile gz;
    const char *path;
    int threaded;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned char *slot[NSLOT];
    size_t len[NSLOT];
    int head, count; /* filled slots: head .. head+count-1 */
    int done;        /* the reader hit the end of the stream or an error */
    int stop;        /* the parser asks the reader to stop */
    int zerr;        /* zlib error (0 = none) */
    char zmsg[256];
} feeder;

/* One gzread; 0 at the end, -1 on an error (zerr/zmsg filled). A truncated
 * gzip is reported by zlib as Z_BUF_ERROR "unexpected end of file" while
 * gzread still returns the bytes it got, so check after every call. */
static long feeder_read(feeder *f, unsigned char *dst, unsigned cap) {
    int n = gzread(f->gz, dst, cap);
    int e = Z_OK;
    const char *m = gzerror(f->gz, &e);
    if (n < 0 || (e != Z_OK && e != Z_STREAM_END)) {
        f->zerr = e ? e : Z_ERRNO;
        if (!m || !*m) m = "read error";
        size_t lp = strlen(f->path); /* zlib prefixes its message with "PATH: " */
        if (strncmp(m, f->path, lp) == 0 && m[lp] == ':' && m[lp + 1] == ' ') m += lp + 2;
        snprintf(f->zmsg, sizeof f->zmsg, "%s", m);
        return -1;
    }
    return n;
}

static void *feeder_main(void *arg) {
    feeder *f = arg;
    int tail = 0;
    for (;;) {
        pthread_mutex_lock(&f->mu);
        while (f->count == NSLOT && !f->stop) pthread_cond_wait(&f->cv, &f->mu);
        int stop = f->stop;
        pthread_mutex_unlock(&f->mu);
        if (stop) break;
        long n = feeder_read(f, f->slot[tail], SLOT_SIZE);
        pthread_mutex_lock(&f->mu);
        if (n > 0) {
            f->len[tail] = (size_t)n;
            f->count++;
            tail = (tail + 1) % NSLOT;
        } else {
            f->done = 1;
        }
        pthread_cond_broadcast(&f->cv);
        pthread_mutex_unlock(&f->mu);
        if (n <= 0) break;
    }
    return NULL;
}

/* Next chunk copied to dst (capacity >= SLOT_SIZE): bytes, 0 at the end,
 * -1 on a stream error. */
static long feeder_get(feeder *f, unsigned char *dst) {
    if (!f->threaded) return f->zerr ? -1 : feeder_read(f, dst, SLOT_SIZE);
    pthread_mutex_lock(&f->mu);
    while (f->count == 0 && !f->done) pthread_cond_wait(&f->cv, &f->mu);
    if (f->count == 0) {
        long r = f->zerr ? -1 : 0;
        pthread_mutex_unlock(&f->mu);
        return r;
    }
    int h = f->head;
    pthread_mutex_unlock(&f->mu);
    size_t n = f->len[h];
    memcpy(dst, f->slot[h], n);
    pthread_mutex_lock(&f->mu);
    f->head = (h + 1) % NSLOT;
    f->count--;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    return (long)n;
}

static int feeder_start(feeder *f) {
    for (int i = 0; i < NSLOT; i++)
        if (!(f->slot[i] = malloc(SLOT_SIZE))) return -1;
    if (pthread_mutex_init(&f->mu, NULL) != 0) return -1;
    if (pthread_cond_init(&f->cv, NULL) != 0) { pthread_mutex_destroy(&f->mu); return -1; }
    if (pthread_create(&f->th, NULL, feeder_main, f) != 0) {
        pthread_cond_destroy(&f->cv);
        pthread_mutex_destroy(&f->mu);
        return 0; /* fall back to reading on this thread */
    }
    f->threaded = 1;
    return 0;
}

static void feeder_stop(feeder *f) {
    if (f->threaded) {
        pthread_mutex_lock(&f->mu);
        f->stop = 1;
        pthread_cond_broadcast(&f->cv);
        pthread_mutex_unlock(&f->mu);
        pthread_join(f->th, NULL);
        pthread_cond_destroy(&f->cv);
        pthread_mutex_destroy(&f->mu);
        f->threaded = 0;
    }
    for (int i = 0; i < NSLOT; i++) { free(f->slot[i]); f->slot[i] = NULL; }
}

/* ------------------------------------------------------------------------ */
/* Line reader over the feeder                                                */
/* ------------------------------------------------------------------------ */

typedef struct {
    feeder *fd;
    unsigned char *buf;
    size_t cap, pos, end;
    int eof;       /* no more input */
    int error;     /* stream error */
    int discard;   /* skipping the rest of an overlong line */
    long line;     /* number of the last line returned (1-based) */
} reader;

/* Pull one more chunk into the buffer (compacting it first). */
static void reader_fill(reader *r) {
    if (r->pos > 0) {
        memmove(r->buf, r->buf + r->pos, r->end - r->pos);
        r->end -= r->pos;
        r->pos = 0;
    }
    long n = feeder_get(r->fd, r->buf + r->end);
    if (n < 0) { r->error = 1; r->eof = 1; }
    else if (n == 0) r->eof = 1;
    else r->end += (size_t)n;
}

enum { LINE_END = 0, LINE_OK = 1, LINE_LONG = 2 };

/* Next line without its "\n" / "\r\n" (NUL-terminated in place). */
static int reader_next(reader *r, char **s, size_t *n) {
    for (;;) {
        if (r->error) return LINE_END; /* never hand out a line cut by a bad stream */
        unsigned char *nl = r->end > r->pos ? memchr(r->buf + r->pos, '\n', r->end - r->pos) : NULL;
        if (r->discard) {
            if (nl) { r->pos = (size_t)(nl - r->buf) + 1; r->discard = 0; continue; }
            r->pos = r->end;
            if (r->eof) return LINE_END;
            reader_fill(r);
            continue;
        }
        if (nl || (r->eof && r->end > r->pos)) {
            size_t b = r->pos, e = nl ? (size_t)(nl - r->buf) : r->end;
            r->pos = nl ? e + 1 : r->end;
            /* the buffer holds a little more than MAX_LINE: a whole line
             * that fits is still over the limit, the same as one that does not */
            if (e - b > MAX_LINE) { r->line++; return LINE_LONG; }
            if (e > b && r->buf[e - 1] == '\r') e--;
            r->buf[e] = 0; /* the buffer has a spare byte past end */
            r->line++;
            *s = (char *)r->buf + b;
            *n = e - b;
            return LINE_OK;
        }
        if (r->eof) return LINE_END;
        if (r->end - r->pos > MAX_LINE) {
            r->line++;
            r->discard = 1;
            return LINE_LONG;
        }
        reader_fill(r);
    }
}

/* ------------------------------------------------------------------------ */
/* CSV rows                                                                   */
/* ------------------------------------------------------------------------ */

#define MAX_FIELDS 16

typedef struct { const char *s; size_t n; } field;

/* Split at commas; returns the number of fields (may exceed max, then only
 * the first max are filled). Fields are trimmed of blanks and quotes. */
static int split_fields(const char *s, size_t n, field *f, int max) {
    int k = 0;
    const char *p = s, *end = s + n;
    for (;;) {
        const char *c = memchr(p, ',', (size_t)(end - p));
        const char *e = c ? c : end;
        if (k < max) {
            const char *a = p, *b = e;
            while (a < b && (*a == ' ' || *a == '\t')) a++;
            while (b > a && (b[-1] == ' ' || b[-1] == '\t')) b--;
            if (b - a >= 2 && *a == '"' && b[-1] == '"') { a++; b--; }
            f[k].s = a;
            f[k].n = (size_t)(b - a);
        }
        k++;
        if (!c) break;
        p = c + 1;
    }
    return k;
}

static int field_is(const field *f, const char *name) {
    size_t n = strlen(name);
    return f->n == n && strncasecmp(f->s, name, n) == 0;
}

/* Quote at most 40 characters of a value into buf. */
static const char *quote(char *buf, size_t cap, const char *s, size_t n) {
    if (n > 40) snprintf(buf, cap, "'%.40s...'", s);
    else snprintf(buf, cap, "'%.*s'", (int)n, s);
    return buf;
}

/* Parse the pixels field into out (exactly need values 0..255). Returns 0,
 * or -1 with a problem written to prob. Hand-written: this is the hot loop
 * of loading FER2013 (~70 million numbers). */
static int parse_pixels(const char *s, size_t n, uint8_t *out, int need, char *prob, size_t pcap) {
    const char *p = s, *e = s + n;
    int k = 0;
    for (;;) {
        while (p < e && (*p == ' ' || *p == '\t')) p++;
        if (p >= e) break;
        const char *t = p;
        unsigned v = 0;
        while (p < e && (unsigned)(*p - '0') < 10u) {
            v = v * 10u + (unsigned)(*p - '0');
            if (v > 100000u) v = 100000u; /* saturate: only "> 255" matters */
            p++;
        }
        if (p == t || (p < e && *p != ' ' && *p != '\t')) {
            while (p < e && *p != ' ' && *p != '\t') p++;
            char q[64];
            snprintf(prob, pcap, "pixel %d is not a number: %s", k + 1, quote(q, sizeof q, t, (size_t)(p - t)));
            return -1;
        }
        if (v > 255u) {
            char q[64];
            snprintf(prob, pcap, "pixel %d value %s is outside 0..255", k + 1,
                     quote(q, sizeof q, t, (size_t)(p - t)));
            return -1;
        }
        if (k < need) out[k] = (uint8_t)v;
        k++;
    }
    if (k != need) {
        snprintf(prob, pcap, "expected %d pixels, found %d", need, k);
        return -1;
    }
    return 0;
}

/* Growable dataset arrays. */
typedef struct {
    ferc_dataset *d;
    int cap;
} builder;

static int builder_reserve(builder *b, int n, size_t per) {
    if (n < b->cap) return 0;
    int nc = b->cap ? b->cap * 2 : 1024;
    if (nc <= n) nc = n + 1;
    uint8_t *pix = realloc(b->d->pix, (size_t)nc * per);
    if (!pix) return -1;
    b->d->pix = pix;
    int *lab = realloc(b->d->label, (size_t)nc * sizeof *lab);
    if (!lab) return -1;
    b->d->label = lab;
    uint8_t *us = realloc(b->d->usage, (size_t)nc);
    if (!us) return -1;
    b->d->usage = us;
    int *row = realloc(b->d->row, (size_t)nc * sizeof *row);
    if (!row) return -1;
    b->d->row = row;
    b->cap = nc;
    return 0;
}

typedef struct {
    int emotion, pixels, usage, nfields; /* column indices, usage -1 if absent */
} columns;

/* Check one data row; on success fills label, usage and the pixels into
 * pix. Returns 0, or -1 with the problem in prob. */
static int parse_row(const char *line, size_t len, const columns *col, uint8_t *pix,
                     int *label, int *usage, char *prob, size_t pcap) {
    field f[MAX_FIELDS];
    char q[64];
    int nf = split_fields(line, len, f, MAX_FIELDS);
    if (nf != col->nfields) {
        snprintf(prob, pcap, "expected %d comma-separated fields, found %d", col->nfields, nf);
        return -1;
    }
    const field *fe = &f[col->emotion];
    int lab = 0;
    if (fe->n == 0 || fe->n > 9) lab = -1;
    for (size_t i = 0; i < fe->n && lab >= 0; i++) {
        if ((unsigned)(fe->s[i] - '0') >= 10u) lab = -1;
        else lab = lab * 10 + (fe->s[i] - '0');
    }
    if (lab < 0) {
        snprintf(prob, pcap, "emotion %s is not a number", quote(q, sizeof q, fe->s, fe->n));
        return -1;
    }
    if (lab >= FERC_NUM_CLASSES) {
        snprintf(prob, pcap, "emotion %d is outside 0..6", lab);
        return -1;
    }
    int us = FERC_USAGE_TRAINING;
    if (col->usage >= 0) {
        const field *fu = &f[col->usage];
        if (field_is(fu, "Training")) us = FERC_USAGE_TRAINING;
        else if (field_is(fu, "PublicTest")) us = FERC_USAGE_PUBLICTEST;
        else if (field_is(fu, "PrivateTest")) us = FERC_USAGE_PRIVATETEST;
        else {
            snprintf(prob, pcap, "unknown Usage %s (expected Training, PublicTest or PrivateTest)",
                     quote(q, sizeof q, fu->s, fu->n));
            return -1;
        }
    }
    const field *fp = &f[col->pixels];
    if (parse_pixels(fp->s, fp->n, pix, FER_PIXELS, prob, pcap) != 0) return -1;
    *label = lab;
    *usage = us;
    return 0;
}

/* The header line: where the emotion, pixels and (optional) Usage columns
 * are. */
static ferc_status read_header(const char *path, reader *r, columns *col, ferc_error *err) {
    *col = (columns){.emotion = -1, .pixels = -1, .usage = -1, .nfields = 0};
    char *line;
    size_t len;
    int k = reader_next(r, &line, &len);
    if (r->error) return FERC_ERR_IO;
    if (k == LINE_END) return ferc_fail(err, FERC_ERR_PARSE, "%s: empty file", path);
    if (k == LINE_LONG)
        return ferc_fail(err, FERC_ERR_PARSE, "%s:1: not a FER2013 CSV: the first line is over %u bytes",
                         path, MAX_LINE);
    if (len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) { line += 3; len -= 3; } /* UTF-8 BOM */

    field f[MAX_FIELDS];
    col->nfields = split_fields(line, len, f, MAX_FIELDS);
    for (int i = 0; i < col->nfields && i < MAX_FIELDS; i++) {
        if (field_is(&f[i], "emotion") && col->emotion < 0) col->emotion = i;
        else if (field_is(&f[i], "pixels") && col->pixels < 0) col->pixels = i;
        else if (field_is(&f[i], "Usage") && col->usage < 0) col->usage = i;
    }
    if (col->emotion < 0 || col->pixels < 0 || col->nfields > MAX_FIELDS) {
        char q[64];
        return ferc_fail(err, FERC_ERR_PARSE,
                         "%s:1: not a FER2013 CSV: expected a header naming the columns "
                         "emotion,pixels[,Usage], found %s",
                         path, quote(q, sizeof q, line, len));
    }
    return FERC_OK;
}

/* Is a row of usage us kept when the caller asks for want? FERC_USAGE_TEST
 * keeps both test usages (or every row of a file without a Usage column):
 * which one is chosen once the whole file is read. */
static int keep_row(int want, int us, int has_usage) {
    if (want == FERC_USAGE_ALL) return 1;
    if (want == FERC_USAGE_TEST) return !has_usage || us != FERC_USAGE_TRAINING;
    return us == want;
}

/* The data rows into d (those of the selected usage); *rows counts every
 * well-formed row, info->rows those of each usage. Blank lines are ignored,
 * bad rows fail or are skipped. */
static ferc_status read_rows(const char *path, const ferc_load_opts *o, reader *r, const columns *col,
                             ferc_dataset *d, long *rows, ferc_load_info *info, ferc_error *err) {
    builder b = {.d = d, .cap = 0};
    char prob[256];
    for (;;) {
        char *line;
        size_t len;
        int k = reader_next(r, &line, &len);
        if (k == LINE_END) break;
        if (k == LINE_LONG) {
            if (o->skip_bad_rows) { d->skipped++; continue; }
            return ferc_fail(err, FERC_ERR_PARSE, "%s:%ld: line longer than %u bytes", path, r->line, MAX_LINE);
        }
        size_t i = 0;
        while (i < len && (line[i] == ' ' || line[i] == '\t')) i++;
        if (i == len) continue; /* blank line */
        if (builder_reserve(&b, d->n, FER_PIXELS) != 0)
            return ferc_fail(err, FERC_ERR_NOMEM, "%s: out of memory after %d rows", path, d->n);
        int lab, us;
        const int row_index = (int)*rows + d->skipped;   /* this line among the data rows */
        if (parse_row(line, len, col, d->pix + (size_t)d->n * FER_PIXELS, &lab, &us, prob, sizeof prob) != 0) {
            if (o->skip_bad_rows) { d->skipped++; continue; }
            return ferc_fail(err, FERC_ERR_PARSE, "%s:%ld: %s", path, r->line, prob);
        }
        (*rows)++;
        info->rows[us]++;
        if (!keep_row(o->usage, us, col->usage >= 0)) continue;
        d->label[d->n] = lab;
        d->usage[d->n] = (uint8_t)us;
        d->row[d->n] = row_index;
        d->n++;
    }
    return FERC_OK;
}

/* FERC_USAGE_TEST, once the file is read: keep the rows of the usage
 * ferc_dataset_test_usage chooses (read_rows kept both test usages). */
static ferc_status select_test_rows(const char *path, ferc_dataset *d, ferc_load_info *info, ferc_error *err) {
    int u = ferc_dataset_test_usage(info);
    if (u == -2)
        return ferc_fail(err, FERC_ERR_PARSE,
                         "%s: no test rows: its Usage column names %d Training rows and no PublicTest or "
                         "PrivateTest row (name the usage Training or all to evaluate on them)",
                         path, info->rows[FERC_USAGE_TRAINING]);
    info->usage = u;
    if (u == FERC_USAGE_ALL) return FERC_OK;
    int n = 0;
    for (int i = 0; i < d->n; i++) {
        if (d->usage[i] != u) continue;
        if (n != i) memmove(d->pix + (size_t)n * FER_PIXELS, d->pix + (size_t)i * FER_PIXELS, FER_PIXELS);
        d->label[n] = d->label[i];
        d->usage[n] = d->usage[i];
        d->row[n] = d->row[i];
        n++;
    }
    d->n = n;
    return FERC_OK;
}

static ferc_status load_csv_stream(const char *path, const ferc_load_opts *o, reader *r,
                                   ferc_dataset *d, ferc_load_info *info, ferc_error *err) {
    columns col;
    ferc_status st = read_header(path, r, &col, err);
    if (st != FERC_OK) return st;
    d->h = d->w = FER_SIDE;
    info->has_usage = col.usage >= 0;
    long rows = 0;
    if ((st = read_rows(path, o, r, &col, d, &rows, info, err)) != FERC_OK) return st;
    if (r->error) return FERC_ERR_IO;
    if (rows == 0) {
        if (d->skipped)
            return ferc_fail(err, FERC_ERR_PARSE, "%s: no rows left: all %d data rows are malformed", path,
                             d->skipped);
        return ferc_fail(err, FERC_ERR_PARSE, "%s: no rows (the file has only a header)", path);
    }
    if (o->usage == FERC_USAGE_TEST && (st = select_test_rows(path, d, info, err)) != FERC_OK) return st;
    if (d->n == 0)
        return ferc_fail(err, FERC_ERR_PARSE, "%s: no rows with Usage '%s' among its %ld rows%s", path,
                         ferc_usage_name(o->usage), rows,
                         col.usage < 0 ? " (the file has no Usage column: every row counts as Training)" : "");
    /* Give back the unused capacity. */
    uint8_t *pix = realloc(d->pix, (size_t)d->n * FER_PIXELS);
    if (pix) d->pix = pix;
    return FERC_OK;
}

static ferc_status load_csv(const char *path, const ferc_load_opts *o, ferc_dataset *d, ferc_load_info *info,
                            ferc_error *err) {
    feeder fd;
    memset(&fd, 0, sizeof fd);
    fd.path = path;
    fd.gz = gzopen(path, "rb");
    if (!fd.gz) {
        int e = errno;
        return ferc_fail(err, e ? FERC_ERR_IO : FERC_ERR_NOMEM, "%s: cannot open: %s", path,
                         e ? strerror(e) : "out of memory");
    }
    gzbuffer(fd.gz, 256u << 10);
    reader r;
    memset(&r, 0, sizeof r);
    r.fd = &fd;
    r.cap = MAX_LINE + 2 * (size_t)SLOT_SIZE + 1;
    r.buf = malloc(r.cap);
    ferc_status st;
    if (!r.buf || feeder_start(&fd) != 0) st = ferc_fail(err, FERC_ERR_NOMEM, "%s: out of memory", path);
    else st = load_csv_stream(path, o, &r, d, info, err);
    feeder_stop(&fd);
    int zc = gzclose_r(fd.gz);
    if (st == FERC_OK && zc != Z_OK) {
        fd.zerr = zc;
        snprintf(fd.zmsg, sizeof fd.zmsg, "%s", zc == Z_BUF_ERROR ? "unexpected end of file" : "read error");
        r.error = 1;
        st = FERC_ERR_IO;
    }
    if (st == FERC_ERR_IO && r.error) {
        long line = r.line + 1; /* the line being read */
        if (fd.zerr == Z_BUF_ERROR)
            st = ferc_fail(err, FERC_ERR_IO, "%s:%ld: truncated gzip file (unexpected end of file)", path, line);
        else if (fd.zerr == Z_DATA_ERROR)
            st = ferc_fail(err, FERC_ERR_IO, "%s:%ld: corrupt gzip data: %s", path, line, fd.zmsg);
        else if (fd.zerr == Z_MEM_ERROR)
            st = ferc_fail(err, FERC_ERR_NOMEM, "%s:%ld: out of memory while decompressing", path, line);
        else
            st = ferc_fail(err, FERC_ERR_IO, "%s:%ld: read error: %s", path, line, fd.zmsg);
    }
    free(r.buf);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Image folders                                                              */
/* ------------------------------------------------------------------------ */

typedef struct { char *name; int label; } dir_entry;

static int cmp_dirs(const void *a, const void *b) {
    const dir_entry *x = a, *y = b;
    if (x->label != y->label) return x->label - y->label;
    return strcmp(x->name, y->name);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_image_name(const char *n) {
    const char *dot = strrchr(n, '.');
    return dot && (strcasecmp(dot, ".png") == 0 || strcasecmp(dot, ".jpg") == 0 ||
                   strcasecmp(dot, ".jpeg") == 0);
}

static char *join_path(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    char *p = malloc(la + lb + 2);
    if (!p) return NULL;
    memcpy(p, a, la);
    size_t k = la;
    if (k == 0 || p[k - 1] != '/') p[k++] = '/';
    memcpy(p + k, b, lb + 1);
    return p;
}

static int is_dir(const char *p) {
    struct stat s;
    return stat(p, &s) == 0 && S_ISDIR(s.st_mode);
}

/* The whole gray image resized to size x size and rounded to uint8. */
static ferc_status resize_whole(const char *path, const ferc_image *im, int size, uint8_t *out, ferc_error *err) {
    size_t ss = (size_t)size * (size_t)size;
    if (im->w == size && im->h == size) {
        memcpy(out, im->data, ss);
        return FERC_OK;
    }
    size_t np = (size_t)im->w * (size_t)im->h;
    float *src = malloc(np * sizeof *src), *dst = malloc(ss * sizeof *dst);
    if (!src || !dst) {
        free(src); free(dst);
        return ferc_fail(err, FERC_ERR_NOMEM, "%s: out of memory", path);
    }
    for (size_t i = 0; i < np; i++) src[i] = (float)im->data[i];
    ferc_resize_bilinear(src, im->h, im->w, dst, size, size);
    for (size_t i = 0; i < ss; i++) {
        float v = floorf(dst[i] + 0.5f);
        out[i] = (uint8_t)(v < 0.f ? 0.f : v > 255.f ? 255.f : v);
    }
    free(src);
    free(dst);
    return FERC_OK;
}

/* What became of one folder image (the ok[] codes of decode_folder). */
enum { IMG_BAD = 0, IMG_WHOLE = 1, IMG_CROPPED = 2, IMG_NO_FACE = 3, IMG_FATAL = 4 };

/* The per-image hook of data_load (NULL: every image whole). */
typedef struct { data_face_fn fn; void *user; } face_hook;

/* Decode one image to gray and make it a size x size face: an IMG_ code
 * (IMG_BAD and IMG_FATAL with err filled). */
static int folder_image(const char *path, int size, const face_hook *hk, uint8_t *out, ferc_error *err) {
    ferc_image im;
    if (ferc_image_load(path, 1, &im, err) != FERC_OK) return IMG_BAD;
    int kind = hk->fn ? hk->fn(hk->user, &im, size, out, err) : DATA_FACE_WHOLE;
    int code = kind == DATA_FACE_CROPPED ? IMG_CROPPED : kind == DATA_FACE_NONE ? IMG_NO_FACE : IMG_FATAL;
    if (kind == DATA_FACE_WHOLE) code = resize_whole(path, &im, size, out, err) == FERC_OK ? IMG_WHOLE : IMG_BAD;
    if (code == IMG_FATAL && err && err->status == FERC_OK) ferc_fail(err, FERC_ERR_INTERNAL, "%s: face hook failed", path);
    ferc_image_free(&im);
    return code;
}

/* What the label folders of a root hold, in load order. */
typedef struct {
    dir_entry *dirs;   /* label folders, by (label, name) */
    int ndirs, capd;
    char **files;      /* full paths of the images */
    int *flab;         /* their labels */
    int nfiles, capf;
} folder_list;

static void folder_list_free(folder_list *l) {
    for (int i = 0; i < l->nfiles; i++) free(l->files[i]);
    free(l->files);
    free(l->flab);
    for (int i = 0; i < l->ndirs; i++) free(l->dirs[i].name);
    free(l->dirs);
}

/* Append the label folder `name` (label lab); 0 when out of memory. */
static int add_dir(folder_list *l, const char *name, int lab) {
    if (l->ndirs == l->capd) {
        l->capd = l->capd ? 2 * l->capd : 8;
        dir_entry *nd = realloc(l->dirs, (size_t)l->capd * sizeof *nd);
        if (!nd) return 0;
        l->dirs = nd;
    }
    l->dirs[l->ndirs].label = lab;
    if (!(l->dirs[l->ndirs].name = strdup(name))) return 0;
    l->ndirs++;
    return 1;
}

/* The label folders of root, sorted by (label, name). Hidden entries and
 * stray files are ignored; a folder that names no label is an error. */
static ferc_status list_label_dirs(const char *root, folder_list *l, ferc_error *err) {
    ferc_status st = FERC_OK;
    DIR *dr = opendir(root);
    if (!dr) return ferc_fail(err, FERC_ERR_IO, "%s: cannot open folder: %s", root, strerror(errno));
    struct dirent *de;
    while ((de = readdir(dr)) != NULL) {
        if (de->d_name[0] == '.') continue;
        char *sub = join_path(root, de->d_name);
        if (!sub) { st = ferc_fail(err, FERC_ERR_NOMEM, "%s: out of memory", root); break; }
        int dir = is_dir(sub);
        free(sub);
        if (!dir) continue; /* stray files at the top level are ignored */
        int lab = ferc_label_from_name(de->d_name);
        if (lab < 0) {
            st = ferc_fail(err, FERC_ERR_PARSE,
                           "%s/%s: unknown label folder '%s' (expected angry, disgust, fear, happy, "
                           "sad, surprise, neutral or 0..6)", root, de->d_name, de->d_name);
            break;
        }
        if (!add_dir(l, de->d_name, lab)) { st = ferc_fail(err, FERC_ERR_NOMEM, "%s: out of memory", root); break; }
    }
    closedir(dr);
    if (st == FERC_OK && l->ndirs > 1) qsort(l->dirs, (size_t)l->ndirs, sizeof *l->dirs, cmp_dirs);
    return st;
}

/* Append the image sub/name with label lab; 0 when out of memory. */
static int add_file(folder_list *l, const char *sub, const char *name, int lab) {
    if (l->nfiles == l->capf) {
        l->capf = l->capf ? 2 * l->capf : 256;
        char **nf = realloc(l->files, (size_t)l->capf * sizeof *nf);
        int *nl = nf ? realloc(l->flab, (size_t)l->capf * sizeof *nl) : NULL;
        if (nf) l->files = nf;
        if (nl) l->flab = nl;
        if (!nf || !nl) return 0;
    }
    if (!(l->files[l->nfiles] = join_path(sub, name))) return 0;
    l->flab[l->nfiles++] = lab;
    return 1;
}

/* The .png / .jpg / .jpeg files of label folder di, sorted by name. */
static ferc_status list_dir_images(const char *root, folder_list *l, int di, ferc_error *err) {
    char *sub = join_path(root, l->dirs[di].name);
    if (!sub) return ferc_fail(err, FERC_ERR_NOMEM, "%s: out of memory", root);
    DIR *ds = opendir(sub);
    if (!ds) {
        ferc_status st = ferc_fail(err, FERC_ERR_IO, "%s: cannot open folder: %s", sub, strerror(errno));
        free(sub);
        return st;
    }
    ferc_status st = FERC_OK;
    int first = l->nfiles;
    struct dirent *de;
    while ((de = readdir(ds)) != NULL) {
        if (de->d_name[0] == '.' || !is_image_name(de->d_name)) continue;
        if (!add_file(l, sub, de->d_name, l->dirs[di].label)) {
            st = ferc_fail(err, FERC_ERR_NOMEM, "%s: out of memory", root);
            break;
        }
    }
    closedir(ds);
    free(sub);
    if (l->nfiles - first > 1) qsort(l->files + first, (size_t)(l->nfiles - first), sizeof *l->files, cmp_str);
    return st;
}

/* Every image of the root, in the order of (label, folder name, file name). */
static ferc_status list_folder(const char *root, folder_list *l, ferc_error *err) {
    ferc_status st = list_label_dirs(root, l, err);
    for (int di = 0; di < l->ndirs && st == FERC_OK; di++) st = list_dir_images(root, l, di, err);
    if (st == FERC_OK && l->nfiles == 0)
        st = ferc_fail(err, FERC_ERR_PARSE, "%s: no PNG or JPEG images in label folders "
                       "(expected ROOT/<label>/*.png|*.jpg)", root);
    return st;
}

/* Decode every image into its slot of d->pix (ss bytes each) in parallel;
 * ok[i] is what became of image i (IMG_*). A failure that stops the load
 * (an image that does not decode without skip, or IMG_FATAL) stops the
 * images after it, and the first in load order is the result. */
static ferc_status decode_folder(const folder_list *l, int size, int skip, const face_hook *hk, uint8_t *ok,
                                 ferc_dataset *d, ferc_error *err) {
    size_t ss = (size_t)size * (size_t)size;
    int nfiles = l->nfiles, bad_first = nfiles;
    ferc_error e_first;
    memset(&e_first, 0, sizeof e_first);
#pragma omp parallel for schedule(dynamic, 16)
    for (int i = 0; i < nfiles; i++) {
        int bf;
#pragma omp atomic read
        bf = bad_first;
        if (i > bf) { ok[i] = IMG_BAD; continue; }
        ferc_error e = {.status = FERC_OK};
        ok[i] = (uint8_t)folder_image(l->files[i], size, hk, d->pix + (size_t)i * ss, &e);
        if (ok[i] == IMG_FATAL || (ok[i] == IMG_BAD && !skip)) {
            /* Unnamed: a named critical section becomes an exported symbol
             * (.gomp_critical_user_NAME) of the library. */
#pragma omp critical
            {
                if (i < bad_first) {
#pragma omp atomic write
                    bad_first = i;
                    e_first = e;
                }
            }
        }
    }
    if (bad_first < nfiles) {
        if (err) *err = e_first;
        return e_first.status;
    }
    return FERC_OK;
}

/* Move the faces (ok) to the front of d, counting the images that do not
 * decode as skipped and those without a face in info. Never a dataset of
 * nothing: no face at all is an error that says why. */
static ferc_status keep_decoded(const char *root, const folder_list *l, int size, const uint8_t *ok,
                                ferc_dataset *d, ferc_load_info *info, ferc_error *err) {
    size_t ss = (size_t)size * (size_t)size;
    int n = 0;
    for (int i = 0; i < l->nfiles; i++) {
        if (ok[i] == IMG_BAD) { d->skipped++; continue; }
        info->rows[FERC_USAGE_TRAINING]++;
        if (ok[i] == IMG_NO_FACE) { info->no_face++; continue; }
        info->detected += ok[i] == IMG_CROPPED;
        if (n != i) memmove(d->pix + (size_t)n * ss, d->pix + (size_t)i * ss, ss);
        d->label[n] = l->flab[i];
        d->usage[n] = FERC_USAGE_TRAINING;
        if (d->row) d->row[n] = i;
        n++;
    }
    d->n = n;
    d->h = d->w = size;
    if (n == 0 && info->no_face > 0)
        return ferc_fail(err, FERC_ERR_PARSE, "%s: no usable faces: the face detector found no face in %d of its %d "
                         "images%s", root, info->no_face, l->nfiles, d->skipped ? " (the others do not decode)" : "");
    if (n == 0) return ferc_fail(err, FERC_ERR_DECODE, "%s: none of the %d images decodes", root, l->nfiles);
    return FERC_OK;
}

static ferc_status load_folder(const char *root, const ferc_load_opts *o, const face_hook *hk, ferc_dataset *d,
                               ferc_load_info *info, ferc_error *err) {
    info->folder = 1;
    if (o->usage != FERC_USAGE_ALL && o->usage != FERC_USAGE_TRAINING && o->usage != FERC_USAGE_TEST)
        return ferc_fail(err, FERC_ERR_ARG,
                         "%s: folders have no Usage column, every image counts as Training: "
                         "select usage 'all' or 'Training', not '%s'",
                         root, ferc_usage_name(o->usage));
    if (o->usage == FERC_USAGE_TEST) info->usage = ferc_dataset_test_usage(info);
    int size = o->size ? o->size : FER_SIDE;
    if (size < 1 || size > 4096)
        return ferc_fail(err, FERC_ERR_ARG, "%s: image size %d is outside 1..4096", root, size);
    folder_list l = {.dirs = NULL};
    ferc_status st = list_folder(root, &l, err);
    uint8_t *ok = NULL;
    if (st == FERC_OK) {
        size_t ss = (size_t)size * (size_t)size;
        d->pix = malloc((size_t)l.nfiles * ss);
        d->label = malloc((size_t)l.nfiles * sizeof *d->label);
        d->usage = malloc((size_t)l.nfiles);
        d->row = malloc((size_t)l.nfiles * sizeof *d->row);
        ok = malloc((size_t)l.nfiles);
        if (!d->pix || !d->label || !d->usage || !d->row || !ok)
            st = ferc_fail(err, FERC_ERR_NOMEM, "%s: out of memory for %d images", root, l.nfiles);
    }
    if (st == FERC_OK) st = decode_folder(&l, size, o->skip_bad_rows, hk, ok, d, err);
    if (st == FERC_OK) st = keep_decoded(root, &l, size, ok, d, info, err);
    free(ok);
    folder_list_free(&l);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Public API                                                                 */
/* ------------------------------------------------------------------------ */

/* Load a dataset.
 *
 * CSV (a regular file, plain or gzip — zlib reads both): a header naming the
 * columns emotion, pixels and optionally Usage (any order, case-insensitive);
 * each row has exactly 2304 pixel values 0..255 (48x48), an emotion 0..6 and a
 * Usage Training / PublicTest / PrivateTest (without the column every row
 * counts as Training). LF or CRLF; blank lines are ignored. Malformed rows
 * are FERC_ERR_PARSE "PATH:LINE: problem", or skipped and counted in
 * out->skipped with opts->skip_bad_rows. Unreadable, truncated or corrupt
 * gzip data is FERC_ERR_IO even with skip_bad_rows. An empty file, a file
 * with only a header, or no row of the selected usage are FERC_ERR_PARSE.
 * FERC_USAGE_TEST reads every row and keeps those ferc_dataset_test_usage
 * chooses. opts->size is ignored: CSV faces stay 48x48.
 *
 * Folder ROOT/<label>/ of .png, .jpg and .jpeg files (label folder names as
 * ferc_label_from_name; hidden entries and stray files at the top level are
 * ignored, an unknown label folder is an error): images are converted to
 * gray, resized (bilinear, no crop) to opts->size squared (0 = 48) and
 * rounded to uint8, in the order of (label, folder name, file name). Every
 * image counts as Training; opts->usage must be FERC_USAGE_ALL,
 * FERC_USAGE_TRAINING or FERC_USAGE_TEST (every image; others are
 * FERC_ERR_ARG: folders have no Usage column). An image that does not decode
 * is an error naming it, or skipped with skip_bad_rows. */
ferc_status ferc_dataset_load(const char *path, const ferc_load_opts *opts, ferc_dataset *out,
                              ferc_error *err) {
    return data_load(path, opts, NULL, NULL, out, NULL, err);
}

ferc_status data_load(const char *path, const ferc_load_opts *opts, data_face_fn fn, void *user,
                      ferc_dataset *out, ferc_load_info *info, ferc_error *err) {
    ferc_load_info own;
    if (!info) info = &own;
    *info = (ferc_load_info){.usage = FERC_USAGE_ALL};
    if (!out) return ferc_fail(err, FERC_ERR_ARG, "ferc_dataset_load: NULL output");
    memset(out, 0, sizeof *out);
    if (!path) return ferc_fail(err, FERC_ERR_ARG, "ferc_dataset_load: NULL path");
    ferc_load_opts o = {.usage = FERC_USAGE_ALL, .skip_bad_rows = 0, .size = 0};
    if (opts) o = *opts;
    if (o.usage != FERC_USAGE_ALL && o.usage != FERC_USAGE_TRAINING && o.usage != FERC_USAGE_PUBLICTEST &&
        o.usage != FERC_USAGE_PRIVATETEST && o.usage != FERC_USAGE_TEST)
        return ferc_fail(err, FERC_ERR_ARG, "%s: unknown usage %d", path, o.usage);
    info->usage = o.usage;
    struct stat s;
    if (stat(path, &s) != 0)
        return ferc_fail(err, FERC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    face_hook hk = {.fn = fn, .user = user};
    ferc_status st = S_ISDIR(s.st_mode) ? load_folder(path, &o, &hk, out, info, err)
                                        : load_csv(path, &o, out, info, err);
    if (st != FERC_OK) ferc_dataset_free(out);
    return st;
}

int ferc_dataset_test_usage(const ferc_load_info *info) {
    if (!info || info->folder || !info->has_usage) return FERC_USAGE_ALL;
    if (info->rows[FERC_USAGE_PUBLICTEST] > 0) return FERC_USAGE_PUBLICTEST;
    if (info->rows[FERC_USAGE_PRIVATETEST] > 0) return FERC_USAGE_PRIVATETEST;
    return -2;
}

int ferc_dataset_describe(const ferc_dataset *d, const ferc_load_info *info, char *buf, size_t cap) {
    int n = d ? d->n : 0, len = 0;
    int u = info ? info->usage : FERC_USAGE_ALL;
    char note[256] = "";
    if (info && !info->folder && !info->has_usage)
        snprintf(note, sizeof note, "the file has no Usage column");
    else if (info && !info->folder && u == FERC_USAGE_PRIVATETEST && info->rows[FERC_USAGE_PUBLICTEST] == 0)
        snprintf(note, sizeof note, "the file has no PublicTest rows");
    else if (info && info->folder && (info->detected > 0 || info->no_face > 0)) {
        int k = snprintf(note, sizeof note, "found by detection in %d image%s", info->detected,
                         info->detected == 1 ? "" : "s");
        if (info->no_face > 0)
            snprintf(note + k, sizeof note - (size_t)k, "; %d image%s without a face left out", info->no_face,
                     info->no_face == 1 ? "" : "s");
    }
    len = snprintf(buf, cap, "%s: %d face%s%s%s%s", ferc_usage_name(u), n, n == 1 ? "" : "s", note[0] ? " (" : "",
                   note, note[0] ? ")" : "");
    return len;
}

void ferc_dataset_free(ferc_dataset *d) {
    if (!d) return;
    free(d->pix);
    free(d->label);
    free(d->usage);
    free(d->row);
    memset(d, 0, sizeof *d);
}

void ferc_dataset_class_counts(const ferc_dataset *d, int counts[FERC_NUM_CLASSES]) {
    for (int k = 0; k < FERC_NUM_CLASSES; k++) counts[k] = 0;
    if (!d) return;
    for (int i = 0; i < d->n; i++)
        if (d->label[i] >= 0 && d->label[i] < FERC_NUM_CLASSES) counts[d->label[i]]++;
}

/* Scale to [0,1] and, when size differs from the stored size, resize
 * bilinearly straight from the uint8 pixels. Never allocates. */
void ferc_prepare_images(const ferc_dataset *d, int first, int n, int size, float *x) {
    size_t hw = (size_t)d->h * (size_t)d->w, ss = (size_t)size * (size_t)size;
    for (int i = 0; i < n; i++) {
        const uint8_t *src = d->pix + (size_t)(first + i) * hw;
        float *dst = x + (size_t)i * ss;
        if (size == d->h && size == d->w) {
            for (size_t k = 0; k < hw; k++) dst[k] = (float)src[k] / 255.0f;
        } else {
            ferc_resize_bilinear_u8(src, d->h, d->w, dst, size, size);
        }
    }
}

/* A dataset of the rows idx[0..n) of d (pixels and labels copied). */
ferc_status data_subset(const ferc_dataset *d, const int *idx, int n, ferc_dataset *out, ferc_error *err) {
    const size_t hw = (size_t)d->h * d->w;
    *out = (ferc_dataset){.n = n, .h = d->h, .w = d->w};
    out->pix = malloc(hw * (size_t)n);
    out->label = malloc(sizeof(int) * (size_t)n);
    out->usage = calloc((size_t)n, 1);
    if (!out->pix || !out->label || !out->usage) { ferc_dataset_free(out); return ferc_fail(err, FERC_ERR_NOMEM, "out of memory"); }
    for (int i = 0; i < n; i++) {
        memcpy(out->pix + hw * (size_t)i, d->pix + hw * (size_t)idx[i], hw);
        out->label[i] = d->label[idx[i]];
    }
    return FERC_OK;
}
