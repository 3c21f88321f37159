/* file.c — the versioned binary model/checkpoint file format, apart from the
 * model object (model.c): a file is a header, a list of tagged chunks and a
 * CRC-32 (zlib) over every byte before it, written to a temporary file and
 * renamed so that a reader never sees half a file.
 *
 * File layout (little endian):
 *   "FERCMODL" u32 version u32 flags
 *   chunks: u32 tag, u64 length, payload   (ARCH SPEC INPT LABL PREP NORM PARM
 *                                           STAT HIST HSTF RCPE and, in
 *                                           checkpoints, TRST OPTM OPTV BSTP BSTS
 *                                           and, training with --ema, EMAP)
 *   u32 crc32 of every byte before it
 *
 * A plain model is version 1. An ensemble (ensemble.c) is version 2, so
 * that a ferc that predates ensembles refuses it by its version instead of
 * misreading it: chunks ARCH ("ensemble"), RCPE (optional) and ENSM:
 *   u32 count, u32 validation faces of the fit, f32 accuracy with equal
 *   weights, f32 fitted accuracy; then per member u32 name length, name,
 *   f32 weight, u64 length and a complete version-1 model file (own CRC).
 *
 * The chunk table below lists the chunks in file order with their writers
 * and the checks made while scanning; a reader per chunk then decodes it
 * once the network is built. Unknown chunks are skipped, so newer writers
 * may add optional data. */
#include "model/model.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define MODEL_MAGIC "FERCMODL"
#define MODEL_VERSION 1u
#define ENSEMBLE_VERSION 2u
/* The most epochs a history may hold: far above any run, and low enough
 * that counts stay ints everywhere (a count comes from the file). */
#define MAX_HISTORY 1000000u

static int host_is_le(void) { uint16_t x = 1; unsigned char c; memcpy(&c, &x, 1); return c == 1; }

/* ------------------------------------------------------------------------ */
/* Writing                                                                   */
/* ------------------------------------------------------------------------ */

/* A growing output buffer; oom is sticky, checked once at the end. */
typedef struct { unsigned char *p; size_t n, cap; int oom; } wbuf;

static void put(wbuf *b, const void *d, size_t n) {
    if (b->oom) return;
    if (b->n + n > b->cap) {
        size_t nc = b->cap ? b->cap : 1 << 16;
        while (nc < b->n + n) nc *= 2;
        unsigned char *np = realloc(b->p, nc);
        if (!np) { b->oom = 1; return; }
        b->p = np; b->cap = nc;
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void put_u32(wbuf *b, uint32_t v) { put(b, &v, 4); }
static void put_u64(wbuf *b, uint64_t v) { put(b, &v, 8); }
static void chunk(wbuf *b, const char *tag, uint64_t len) { put(b, tag, 4); put_u64(b, len); }
static void put_floats(wbuf *b, const char *tag, const float *f, size_t n) {
    chunk(b, tag, 8 + 4 * n); put_u64(b, n); put(b, f, 4 * n);
}
static void put_string(wbuf *b, const char *tag, const char *s) {
    size_t n = strlen(s);
    chunk(b, tag, n); put(b, s, n);
}

/* One writer per chunk; ex is NULL for a plain model file, and the
 * checkpoint chunks then write nothing. */
typedef void (*chunk_writer)(wbuf *b, const char *tag, const ferc_model *m, const ckpt_extra *ex);

static void write_arch(wbuf *b, const char *tag, const ferc_model *m, const ckpt_extra *ex) {
    (void)ex; put_string(b, tag, m->arch);
}
static void write_spec(wbuf *b, const char *tag, const ferc_model *m, const ckpt_extra *ex) {
    (void)ex; put_string(b, tag, m->spec);
}
static void write_inpt(wbuf *b, const char *tag, const ferc_model *m, const ckpt_extra *ex) {
    (void)ex;
    chunk(b, tag, 12); put_u32(b, 1); put_u32(b, (uint32_t)m->input_size); put_u32(b, (uint32_t)m->input_size);
}
static void write_labl(wbuf *b, const char *tag, const ferc_model *m, const ckpt_extra *ex) {
    (void)ex;
    size_t ll = 0;
    for (int i = 0; i < FERC_NUM_CLASSES; i++) ll += 1 + strlen(m->labels[i]);
    chunk(b, tag, 4 + ll); put_u32(b, FERC_NUM_CLASSES);
    for (int i = 0; i < FERC_NUM_CLASSES; i++) {
        unsigned char n = (unsigned char)strlen(m->labels[i]);
        put(b, &n, 1); put(b, m->labels[i], n);
    }
}
static void write_prep(wbuf *b, const char *tag, const ferc_model *m, const ckpt_extra *ex) {
    (void)ex;
    chunk(b, tag, 8); put_u32(b, (uint32_t)m->prep_size); put_u32(b, (uint32_t)m->prep_crop);
}
static void write_norm(wbuf *b, const char *tag, const ferc_model *m, const ckpt_extra *ex) {
    (void)ex;
    chunk(b, tag, 12); put(b, &m->norm_scale, 4); put(b, &m->norm_mean, 4); put(b, &m->norm_std, 4);
}
static void write_parm(wbuf *b, const char *tag, const ferc_model *m, const ckpt_extra *ex) {
    (void)ex; put_floats(b, tag, m->net.params, m->net.nparams);
}
static void write_stat(wbuf *b, const char *tag, const ferc_model *m, const ckpt_extra *ex) {
    (void)ex; put_floats(b, tag, m->net.state, m->net.nstate);
}
static void write_hist(wbuf *b, const char *tag, const ferc_model *m, const ckpt_extra *ex) {
    (void)ex;
    chunk(b, tag, 4 + (uint64_t)m->nhist * 28); put_u32(b, (uint32_t)m->nhist);
    for (int i = 0; i < m->nhist; i++) {
        const ferc_epoch_stats *h = &m->hist[i];
        int32_t e = h->epoch;
        put(b, &e, 4); put(b, &h->train_loss, 4); put(b, &h->train_acc, 4); put(b, &h->val_loss, 4);
        put(b, &h->val_acc, 4); put(b, &h->lr, 4); put(b, &h->seconds, 4);
    }
}
/* per-epoch validation macro F1: an optional chunk (older readers skip it) */
static void write_hstf(wbuf *b, const char *tag, const ferc_model *m, const ckpt_extra *ex) {
    (void)ex;
    chunk(b, tag, 4 + (uint64_t)m->nhist * 4); put_u32(b, (uint32_t)m->nhist);
    for (int i = 0; i < m->nhist; i++) put(b, &m->hist[i].val_macro_f1, 4);
}
static void write_trst(wbuf *b, const char *tag, const ferc_model *m, const ckpt_extra *ex) {
    (void)m;
    if (!ex) return;
    chunk(b, tag, 4 + 32 + 4 + 4 + 8);
    int32_t e = ex->epochs_done, be = ex->best_epoch;
    int64_t t = ex->opt_t;
    put(b, &e, 4); put(b, ex->rng.s, 32); put(b, &ex->best_val_acc, 4); put(b, &be, 4); put(b, &t, 8);
}
/* The optimiser moments go together (both or neither), as do the kept
 * weights and their state. */
static void write_optm(wbuf *b, const char *tag, const ferc_model *m, const ckpt_extra *ex) {
    if (ex && ex->opt_m && ex->opt_v) put_floats(b, tag, ex->opt_m, m->net.nparams);
}
static void write_optv(wbuf *b, const char *tag, const ferc_model *m, const ckpt_extra *ex) {
    if (ex && ex->opt_m && ex->opt_v) put_floats(b, tag, ex->opt_v, m->net.nparams);
}
static void write_bstp(wbuf *b, const char *tag, const ferc_model *m, const ckpt_extra *ex) {
    if (ex && ex->best_params) put_floats(b, tag, ex->best_params, m->net.nparams);
}
static void write_bsts(wbuf *b, const char *tag, const ferc_model *m, const ckpt_extra *ex) {
    if (ex && ex->best_params) put_floats(b, tag, ex->best_state, m->net.nstate);
}

/* the moving average of the weights (training with an EMA): optional, so
 * checkpoints without it keep their bytes and older readers skip it */
static void write_emap(wbuf *b, const char *tag, const ferc_model *m, const ckpt_extra *ex) {
    if (ex && ex->ema_params) put_floats(b, tag, ex->ema_params, m->net.nparams);
}

/* the command that made the model: optional (older readers skip it) */
static void write_rcpe(wbuf *b, const char *tag, const ferc_model *m, const ckpt_extra *ex) {
    (void)ex;
    if (m->recipe) put_string(b, tag, m->recipe);
}

/* the calibration temperature: only when calibrated (older readers skip
 * it, and files of uncalibrated models stay as they were) */
static void write_temp(wbuf *b, const char *tag, const ferc_model *m, const ckpt_extra *ex) {
    (void)ex;
    if (m->temperature != 1.0f) { chunk(b, tag, 4); put(b, &m->temperature, 4); }
}

static void serialise(const ferc_model *m, const ckpt_extra *ex, wbuf *b);

/* The members as whole model files, written in place; the chunk's length
 * is filled in once known. */
static void write_ensm(wbuf *b, const char *tag, const ferc_model *m, const ckpt_extra *ex) {
    (void)ex;
    if (!m->nmembers) return;
    const size_t at = b->n;
    chunk(b, tag, 0);
    put_u32(b, (uint32_t)m->nmembers); put_u32(b, (uint32_t)m->fit.nval);
    put(b, &m->fit.acc_equal, 4); put(b, &m->fit.acc_fitted, 4);
    for (int i = 0; i < m->nmembers; i++) {
        const char *name = m->member_names[i];
        put_u32(b, (uint32_t)strlen(name)); put(b, name, strlen(name));
        put(b, &m->weights[i], 4);
        const size_t len_at = b->n;
        put_u64(b, 0);
        serialise(m->members[i], NULL, b);
        uint64_t len = b->n - len_at - 8;
        if (!b->oom) memcpy(b->p + len_at, &len, 8);
    }
    uint64_t len = b->n - at - 12;
    if (!b->oom) memcpy(b->p + at + 4, &len, 8);
}

/* ------------------------------------------------------------------------ */
/* The chunk table                                                           */
/* ------------------------------------------------------------------------ */

typedef enum {
    C_ARCH, C_SPEC, C_INPT, C_LABL, C_PREP, C_NORM, C_PARM, C_STAT, C_HIST, C_HSTF,
    C_RCPE, C_TRST, C_OPTM, C_OPTV, C_BSTP, C_BSTS, C_EMAP, C_ENSM, C_TEMP, C_COUNT
} chunk_id;

/* A chunk's payload in the file read; p is NULL when the chunk is absent. */
typedef struct { const unsigned char *p; uint64_t len; } span;

/* A file being read: its bytes and the last payload of each known chunk. */
typedef struct {
    const char *path;
    ferc_error *err;
    const unsigned char *data;
    size_t n;
    uint32_t version;
    span c[C_COUNT];
} file_reader;

#define BAD(r, ...) ferc_fail((r)->err, FERC_ERR_FORMAT, __VA_ARGS__)

static ferc_status check_arch(const file_reader *r, span s) {
    return s.len >= sizeof ((ferc_model *)0)->arch ? BAD(r, "%s: bad ARCH", r->path) : FERC_OK;
}
static ferc_status check_inpt(const file_reader *r, span s) {
    uint32_t v[3];
    memcpy(v, s.p, 12);
    if (v[0] != 1 || v[1] != v[2] || v[1] < 8 || v[1] > 1024)
        return BAD(r, "%s: unsupported input shape %ux%ux%u", r->path, v[0], v[1], v[2]);
    return FERC_OK;
}

/* In file order. size: the payload's exact size, 0 when it varies; check:
 * what else is refused while scanning, before the network is built;
 * ensemble: written for an ensemble too (the others only for a network). */
static const struct chunk_kind {
    char tag[5];
    uint64_t size;
    ferc_status (*check)(const file_reader *r, span s);
    chunk_writer write;
    int ensemble;
} chunk_kinds[C_COUNT] = {
    [C_ARCH] = {.tag = "ARCH", .check = check_arch, .write = write_arch, .ensemble = 1},
    [C_SPEC] = {.tag = "SPEC", .write = write_spec},
    [C_INPT] = {.tag = "INPT", .size = 12, .check = check_inpt, .write = write_inpt},
    [C_LABL] = {.tag = "LABL", .write = write_labl},
    [C_PREP] = {.tag = "PREP", .size = 8, .write = write_prep},
    [C_NORM] = {.tag = "NORM", .size = 12, .write = write_norm},
    [C_PARM] = {.tag = "PARM", .write = write_parm},
    [C_STAT] = {.tag = "STAT", .write = write_stat},
    [C_HIST] = {.tag = "HIST", .write = write_hist},
    [C_HSTF] = {.tag = "HSTF", .write = write_hstf},
    [C_RCPE] = {.tag = "RCPE", .write = write_rcpe, .ensemble = 1},
    [C_TRST] = {.tag = "TRST", .size = 52, .write = write_trst},
    [C_OPTM] = {.tag = "OPTM", .write = write_optm},
    [C_OPTV] = {.tag = "OPTV", .write = write_optv},
    [C_BSTP] = {.tag = "BSTP", .write = write_bstp},
    [C_BSTS] = {.tag = "BSTS", .write = write_bsts},
    [C_EMAP] = {.tag = "EMAP", .write = write_emap},
    [C_ENSM] = {.tag = "ENSM", .write = write_ensm, .ensemble = 1},
    [C_TEMP] = {.tag = "TEMP", .size = 4, .write = write_temp, .ensemble = 1},
};

/* The folder of path (into dir, cap bytes) and where its last component
 * starts in path. */
static const char *split_dir(const char *path, char *dir, size_t cap) {
    const char *slash = strrchr(path, '/');
    if (!slash) { snprintf(dir, cap, "."); return path; }
    snprintf(dir, cap, "%.*s", slash == path ? 1 : (int)(slash - path), path);
    return slash + 1;
}

/* Temporary files "<name>.tmp<pid>" left beside path by a run that was
 * killed before its rename: removed when that process is gone (a live one
 * may be writing it right now). Best effort: a failure only leaves them. */
static void remove_stale_tmp(const char *path) {
    char dir[4096];
    const char *base = split_dir(path, dir, sizeof dir);
    const size_t bl = strlen(base);
    DIR *d = opendir(dir);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d));) {
        const char *n = e->d_name, *q = n + bl + 4;
        if (strncmp(n, base, bl) != 0 || strncmp(n + bl, ".tmp", 4) != 0 || !*q || strspn(q, "0123456789") != strlen(q))
            continue;
        long pid = strtol(q, NULL, 10);
        if (pid <= 0 || pid > INT_MAX || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
        char full[8192];
        if (snprintf(full, sizeof full, "%s/%s", dir, n) < (int)sizeof full) unlink(full);
    }
    closedir(d);
}

/* After a rename the new name lives in the folder's own data: without an
 * fsync of the folder a power cut may bring back the old file. A file
 * system that cannot sync folders (EINVAL) has nothing to do. */
static int sync_dir(const char *path) {
    char dir[4096];
    split_dir(path, dir, sizeof dir);
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return -1;
    int rc = fsync(fd) == 0 || errno == EINVAL ? 0 : -1;
    close(fd);
    return rc;
}

/* Write to a temporary file, fsync, rename, fsync the folder: readers
 * never see half a file, and a failed write (a full disk) leaves the
 * previous file as it was. */
static ferc_status write_atomic(const char *path, const unsigned char *p, size_t n, ferc_error *err) {
    size_t pl = strlen(path);
    char *tmp = malloc(pl + 16);
    if (!tmp) return ferc_fail(err, FERC_ERR_NOMEM, "out of memory");
    remove_stale_tmp(path);
    snprintf(tmp, pl + 16, "%s.tmp%d", path, (int)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        ferc_status st = ferc_fail(err, FERC_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
        free(tmp); return st;
    }
    size_t wr = fwrite(p, 1, n, f);
    int bad = wr != n || fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        ferc_status st = ferc_fail(err, FERC_ERR_IO, "%s: write failed: %s", path, strerror(errno));
        unlink(tmp); free(tmp); return st;
    }
    free(tmp);
    if (sync_dir(path) != 0)
        return ferc_fail(err, FERC_ERR_IO, "%s: written, but syncing its folder failed: %s", path, strerror(errno));
    return FERC_OK;
}

/* One whole file (header, chunks, CRC) appended to b. */
static void serialise(const ferc_model *m, const ckpt_extra *ex, wbuf *b) {
    const size_t start = b->n;
    put(b, MODEL_MAGIC, 8); put_u32(b, m->nmembers ? ENSEMBLE_VERSION : MODEL_VERSION); put_u32(b, ex ? 1 : 0);
    for (int k = 0; k < C_COUNT; k++)
        if (!m->nmembers || chunk_kinds[k].ensemble) chunk_kinds[k].write(b, chunk_kinds[k].tag, m, ex);
    uint32_t crc = b->oom ? 0 : (uint32_t)crc32(0L, b->p + start, (uInt)(b->n - start));
    put_u32(b, crc);
}

ferc_status model_save_ex(const ferc_model *m, const char *path, const ckpt_extra *ex,
                          ferc_error *err) {
    if (!host_is_le()) return ferc_fail(err, FERC_ERR_INTERNAL, "model files are little endian; this host is not");
    if (m->nmembers && ex) return ferc_fail(err, FERC_ERR_ARG, "%s: an ensemble has no checkpoint", path);
    wbuf b = {.p = NULL};
    serialise(m, ex, &b);
    if (b.oom) { free(b.p); return ferc_fail(err, FERC_ERR_NOMEM, "%s: out of memory while writing", path); }
    ferc_status st = write_atomic(path, b.p, b.n, err);
    free(b.p);
    return st;
}

ferc_status ferc_model_save(const ferc_model *m, const char *path, ferc_error *err) {
    return model_save_ex(m, path, NULL, err);
}

/* ------------------------------------------------------------------------ */
/* Reading                                                                   */
/* ------------------------------------------------------------------------ */

/* Magic, version (noted) and checksum. */
static ferc_status check_envelope(file_reader *r) {
    const unsigned char *d = r->data;
    const size_t n = r->n;
    if (n == 0) return BAD(r, "%s: empty file, not a ferc model", r->path);
    if (n < 20 || memcmp(d, MODEL_MAGIC, 8) != 0) return BAD(r, "%s: not a ferc model file (bad magic)", r->path);
    uint32_t version, crc_stored;
    memcpy(&version, d + 8, 4);
    if (version != MODEL_VERSION && version != ENSEMBLE_VERSION)
        return BAD(r, "%s: model file version %u, this ferc reads version %u (models) and %u (ensembles)", r->path,
                   version, MODEL_VERSION, ENSEMBLE_VERSION);
    r->version = version;
    memcpy(&crc_stored, d + n - 4, 4);
    if ((uint32_t)crc32(0L, d, (uInt)(n - 4)) != crc_stored)
        return BAD(r, "%s: checksum mismatch: the file is truncated or corrupted", r->path);
    return FERC_OK;
}

/* Every chunk header in file order: known chunks are checked and their
 * payloads noted (a later copy replaces an earlier one), others skipped. */
static ferc_status scan_chunks(file_reader *r) {
    size_t off = 16, end = r->n - 4;
    while (off < end) {
        if (end - off < 12) return BAD(r, "%s: truncated chunk header at byte %zu", r->path, off);
        char tag[5] = {0};
        uint64_t len;
        memcpy(tag, r->data + off, 4); memcpy(&len, r->data + off + 4, 8);
        off += 12;
        if (len > end - off) return BAD(r, "%s: chunk %s runs past the end of the file", r->path, tag);
        const span s = {.p = r->data + off, .len = len};
        for (int k = 0; k < C_COUNT; k++) {
            const struct chunk_kind *ck = &chunk_kinds[k];
            if (strcmp(tag, ck->tag) != 0) continue;
            if (ck->size && len != ck->size) return BAD(r, "%s: bad %s", r->path, tag);
            ferc_status st = ck->check ? ck->check(r, s) : FERC_OK;
            if (st != FERC_OK) return st;
            r->c[k] = s;
            break;
        }
        off += len;
    }
    return FERC_OK;
}

/* The float count a block's payload holds (u64 count, then the floats), or
 * UINT64_MAX when the count and the payload's size disagree: bounded by the
 * file's size, so it may be trusted where the spec may not. */
static uint64_t block_count(span s) {
    uint64_t n;
    if (s.len < 8) return UINT64_MAX;
    memcpy(&n, s.p, 8);
    return (s.len - 8) % 4 == 0 && n == (s.len - 8) / 4 ? n : UINT64_MAX;
}

/* The spec's implied parameter and state counts against the PARM and STAT
 * blocks the file really holds, before anything of the spec's size is
 * allocated: a 100-byte file cannot make the loader reserve gigabytes. */
static ferc_status check_counts(const file_reader *r, const char *spec, int insize) {
    size_t np, ns;
    ferc_error e2;
    if (net_count(spec, 1, insize, insize, &np, &ns, &e2) != FERC_OK) return BAD(r, "%s: %s", r->path, e2.msg);
    const uint64_t have = block_count(r->c[C_PARM]);
    if (have != np)
        return BAD(r, "%s: the architecture has %zu parameters but the file holds %s", r->path, np,
                   have == UINT64_MAX ? "a malformed parameter block" : "a different number");
    if (r->c[C_STAT].p && block_count(r->c[C_STAT]) != ns)
        return BAD(r, "%s: state count does not match the architecture", r->path);
    return FERC_OK;
}

/* The network the file describes (ARCH, SPEC, INPT), not yet filled. */
static ferc_status build_model(const file_reader *r, ferc_model **m) {
    const span *a = &r->c[C_ARCH], *sp = &r->c[C_SPEC], *in = &r->c[C_INPT];
    const int has_arch = a->p && a->len && a->p[0];   /* a name, not "" */
    if (!has_arch || !sp->p || !in->p || !r->c[C_PARM].p)
        return BAD(r, "%s: incomplete model file (missing %s)", r->path,
                   !has_arch ? "ARCH" : !sp->p ? "SPEC" : !in->p ? "INPT" : "PARM");
    char arch[sizeof ((ferc_model *)0)->arch];
    memcpy(arch, a->p, a->len); arch[a->len] = 0;
    char *spec = malloc(sp->len + 1);
    if (!spec) return BAD(r, "%s: out of memory", r->path);
    memcpy(spec, sp->p, sp->len); spec[sp->len] = 0;
    uint32_t insize;
    memcpy(&insize, in->p + 4, 4);
    ferc_error e2;
    ferc_status st = check_counts(r, spec, (int)insize);
    if (st == FERC_OK && (st = model_new(arch, spec, (int)insize, m, &e2)) != FERC_OK)
        st = BAD(r, "%s: %s", r->path, e2.msg);
    free(spec);
    return st;
}

/* A float block: u64 count, then count floats; 0 when the count is not want. */
static int get_floats(span s, size_t want, float *dst) {
    uint64_t n;
    if (s.len < 8) return 0;
    memcpy(&n, s.p, 8);
    if (n != want || s.len != 8 + 4 * n) return 0;
    if (dst) memcpy(dst, s.p + 8, 4 * n);
    return 1;
}

static ferc_status read_parm(const file_reader *r, ferc_model *m) {
    if (!get_floats(r->c[C_PARM], m->net.nparams, m->net.params))
        return BAD(r, "%s: parameter count does not match the architecture", r->path);
    return FERC_OK;
}

static ferc_status read_stat(const file_reader *r, ferc_model *m) {
    const span s = r->c[C_STAT];
    if (s.p && !get_floats(s, m->net.nstate, m->net.state))
        return BAD(r, "%s: state count does not match the architecture", r->path);
    return FERC_OK;
}

static ferc_status read_prep(const file_reader *r, ferc_model *m) {
    const span s = r->c[C_PREP];
    if (!s.p) return FERC_OK;
    uint32_t v[2];
    memcpy(v, s.p, 8);
    if (v[0] < (uint32_t)m->input_size || v[0] > 1024 || v[1] > 1 || (!v[1] && v[0] != (uint32_t)m->input_size))
        return BAD(r, "%s: bad preprocessing (size %u, crop %u)", r->path, v[0], v[1]);
    m->prep_size = (int)v[0]; m->prep_crop = (int)v[1];
    return FERC_OK;
}

static ferc_status read_norm(const file_reader *r, ferc_model *m) {
    const span s = r->c[C_NORM];
    if (!s.p) return FERC_OK;
    memcpy(&m->norm_scale, s.p, 4); memcpy(&m->norm_mean, s.p + 4, 4); memcpy(&m->norm_std, s.p + 8, 4);
    if (!(m->norm_std > 0)) return BAD(r, "%s: bad normalisation", r->path);
    return FERC_OK;
}

/* u32 count (7), then per label a length byte and its characters. */
static ferc_status read_labl(const file_reader *r, ferc_model *m) {
    const span s = r->c[C_LABL];
    if (!s.p) return FERC_OK;
    uint32_t k;
    size_t o = 4;
    if (s.len < 4) return BAD(r, "%s: bad LABL", r->path);
    memcpy(&k, s.p, 4);
    if (k != FERC_NUM_CLASSES) return BAD(r, "%s: %u labels, expected %d", r->path, k, FERC_NUM_CLASSES);
    for (uint32_t i = 0; i < k; i++) {
        if (o >= s.len) return BAD(r, "%s: bad LABL", r->path);
        unsigned ln = s.p[o++];
        if (ln >= sizeof m->labels[0] || o + ln > s.len) return BAD(r, "%s: bad LABL", r->path);
        memcpy(m->labels[i], s.p + o, ln); m->labels[i][ln] = 0; o += ln;
    }
    return FERC_OK;
}

/* u32 count, then 28-byte records; the macro F1 of each epoch from HSTF when
 * it has as many, else NAN (files written before it existed). */
static ferc_status read_hist(const file_reader *r, ferc_model *m) {
    const span s = r->c[C_HIST], f = r->c[C_HSTF];
    if (!s.p) return FERC_OK;
    uint32_t k;
    if (s.len < 4) return BAD(r, "%s: bad HIST", r->path);
    memcpy(&k, s.p, 4);
    if (k > MAX_HISTORY || s.len != 4 + (uint64_t)k * 28) return BAD(r, "%s: bad HIST", r->path);
    if (!k) return FERC_OK;
    m->hist = calloc(k, sizeof *m->hist);
    if (!m->hist) return BAD(r, "%s: out of memory", r->path);
    for (uint32_t i = 0; i < k; i++) {
        const unsigned char *p = s.p + 4 + 28 * (size_t)i;
        int32_t ep; memcpy(&ep, p, 4);
        ferc_epoch_stats *h = &m->hist[i];
        h->epoch = ep;
        memcpy(&h->train_loss, p + 4, 4); memcpy(&h->train_acc, p + 8, 4); memcpy(&h->val_loss, p + 12, 4);
        memcpy(&h->val_acc, p + 16, 4); memcpy(&h->lr, p + 20, 4); memcpy(&h->seconds, p + 24, 4);
        h->val_macro_f1 = NAN;
        if (f.p && f.len == 4 + 4 * (uint64_t)k) memcpy(&h->val_macro_f1, f.p + 4 + 4 * (size_t)i, 4);
    }
    m->nhist = (int)k;
    return FERC_OK;
}

/* The training state, each field checked against the rest of the file:
 * training resumes at epochs_done and writes the history from there, so
 * a count the history does not back would write outside it. */
static ferc_status read_trst(const file_reader *r, const ferc_model *m, ckpt_extra *ex) {
    const unsigned char *p = r->c[C_TRST].p;
    ex->has_train_state = p != NULL;
    if (!p) return FERC_OK;
    int32_t e, be; int64_t t;
    memcpy(&e, p, 4); memcpy(ex->rng.s, p + 4, 32); memcpy(&ex->best_val_acc, p + 36, 4);
    memcpy(&be, p + 40, 4); memcpy(&t, p + 44, 8);
    if (e < 0 || e != m->nhist)
        return BAD(r, "%s: checkpoint says %d epochs done but holds a history of %d", r->path, (int)e, m->nhist);
    if (be < 0 || be > e) return BAD(r, "%s: checkpoint's best epoch %d is not one of its %d epochs", r->path, (int)be, (int)e);
    if (t < 0 || t > (int64_t)1 << 52) return BAD(r, "%s: checkpoint's optimiser step count %lld is out of range", r->path, (long long)t);
    if (isnan(ex->best_val_acc)) return BAD(r, "%s: checkpoint's best validation figure is not a number", r->path);
    ex->epochs_done = e; ex->best_epoch = be; ex->opt_t = (long)t;
    return FERC_OK;
}

/* EMAP, the moving average of the weights, when the checkpoint has one. */
static ferc_status read_emap(const file_reader *r, const ferc_model *m, ckpt_extra *ex) {
    const span s = r->c[C_EMAP];
    if (!s.p) return FERC_OK;
    if (!(ex->load_ema_params = malloc(4 * m->net.nparams))) return BAD(r, "%s: out of memory", r->path);
    if (!get_floats(s, m->net.nparams, ex->load_ema_params)) return BAD(r, "%s: bad EMAP (averaged weights)", r->path);
    return FERC_OK;
}

/* The checkpoint's float blocks (TRST needs OPTM, OPTV and BSTP); the loader
 * allocates them and the caller frees them. */
static ferc_status read_ckpt_floats(const file_reader *r, const ferc_model *m, ckpt_extra *ex) {
    const span optm = r->c[C_OPTM], optv = r->c[C_OPTV], bstp = r->c[C_BSTP], bsts = r->c[C_BSTS];
    size_t np = m->net.nparams, ns = m->net.nstate ? m->net.nstate : 1;
    ex->load_m = optm.p ? malloc(4 * np) : NULL;
    ex->load_v = optv.p ? malloc(4 * np) : NULL;
    ex->load_best_params = bstp.p ? malloc(4 * np) : NULL;
    ex->load_best_state = bsts.p ? malloc(4 * ns) : NULL;
    if ((optm.p && !ex->load_m) || (optv.p && !ex->load_v) || (bstp.p && !ex->load_best_params) ||
        (bsts.p && !ex->load_best_state)) return BAD(r, "%s: out of memory", r->path);
    if (optm.p && !get_floats(optm, np, ex->load_m)) return BAD(r, "%s: bad optimiser state", r->path);
    if (optv.p && !get_floats(optv, np, ex->load_v)) return BAD(r, "%s: bad optimiser state", r->path);
    if (bstp.p && !get_floats(bstp, np, ex->load_best_params)) return BAD(r, "%s: bad best weights", r->path);
    if (bsts.p && !get_floats(bsts, m->net.nstate, ex->load_best_state)) return BAD(r, "%s: bad best weights", r->path);
    if (r->c[C_TRST].p && (!optm.p || !optv.p || !bstp.p))
        return BAD(r, "%s: checkpoint lacks optimiser or best-weight data", r->path);
    return read_emap(r, m, ex);
}

/* The chunks decoded in this order once the network is built (the first
 * refusal wins). */
static ferc_status read_chunks(const file_reader *r, ferc_model *m, ckpt_extra *ex) {
    ferc_status st;
    if ((st = read_parm(r, m)) != FERC_OK || (st = read_stat(r, m)) != FERC_OK ||
        (st = read_prep(r, m)) != FERC_OK || (st = read_norm(r, m)) != FERC_OK ||
        (st = read_labl(r, m)) != FERC_OK || (st = read_hist(r, m)) != FERC_OK)
        return st;
    if (!ex) return FERC_OK;
    if ((st = read_trst(r, m, ex)) != FERC_OK) return st;
    return read_ckpt_floats(r, m, ex);
}

/* TEMP: the calibration temperature (any file version). */
static ferc_status read_temp(const file_reader *r, ferc_model *m) {
    const span s = r->c[C_TEMP];
    if (!s.p) return FERC_OK;
    float t;
    memcpy(&t, s.p, 4);
    if (!(t >= FERC_TEMPERATURE_MIN && t <= FERC_TEMPERATURE_MAX))
        return BAD(r, "%s: bad TEMP (temperature %g)", r->path, (double)t);
    m->temperature = t;
    return FERC_OK;
}

/* RCPE: the recipe, as text (any file version). */
static ferc_status read_rcpe(const file_reader *r, ferc_model *m) {
    const span s = r->c[C_RCPE];
    if (!s.p) return FERC_OK;
    if (s.len > (1u << 20) || memchr(s.p, 0, s.len)) return BAD(r, "%s: bad RCPE", r->path);
    free(m->recipe);
    if (!(m->recipe = malloc(s.len + 1))) return BAD(r, "%s: out of memory", r->path);
    memcpy(m->recipe, s.p, s.len); m->recipe[s.len] = 0;
    return FERC_OK;
}

static ferc_status load_bytes(const char *label, const unsigned char *data, size_t n, int depth,
                              ferc_model **out, ckpt_extra *ex, ferc_error *err);

/* An ENSM payload being read: the offset of the next field. */
typedef struct { const file_reader *r; span s; size_t o; } ensm_cursor;

static int take(ensm_cursor *c, void *dst, size_t n) {
    if (n > c->s.len - c->o) return 0;
    if (dst) memcpy(dst, c->s.p + c->o, n);
    c->o += n;
    return 1;
}

/* Member i of the ENSM payload: its name (allocated), weight and model. */
static ferc_status read_member(ensm_cursor *c, int i, char **name, float *w, ferc_model **mem) {
    const file_reader *r = c->r;
    uint32_t nl;
    uint64_t len;
    if (!take(c, &nl, 4) || nl > 4096 || nl > c->s.len - c->o) return BAD(r, "%s: bad ENSM (member %d)", r->path, i + 1);
    if (!(*name = malloc(nl + 1))) return BAD(r, "%s: out of memory", r->path);
    take(c, *name, nl); (*name)[nl] = 0;
    if (!take(c, w, 4) || !take(c, &len, 8) || len > c->s.len - c->o)
        return BAD(r, "%s: bad ENSM (member %d)", r->path, i + 1);
    if (!(*w >= 0 && *w <= 1)) return BAD(r, "%s: member %d has weight %g", r->path, i + 1, (double)*w);
    char label[1200];
    snprintf(label, sizeof label, "%.500s: member %d (%.500s)", r->path, i + 1, *name);
    const unsigned char *p = c->s.p + c->o;
    c->o += len;
    return load_bytes(label, p, len, 1, mem, NULL, r->err);
}

/* A version-2 file: the members, then the ensemble made of them with the
 * stored weights (already normalised: kept to the bit). */
static ferc_status read_ensemble(const file_reader *r, ferc_model **out) {
    ensm_cursor c = {.r = r, .s = r->c[C_ENSM], .o = 0};
    uint32_t n, nval;
    ferc_ensemble_fit fit;
    if (!c.s.p) return BAD(r, "%s: incomplete ensemble file (missing ENSM)", r->path);
    if (!take(&c, &n, 4) || !take(&c, &nval, 4) || !take(&c, &fit.acc_equal, 4) || !take(&c, &fit.acc_fitted, 4) ||
        n < 1 || n > ENSEMBLE_MAX_MEMBERS || nval > INT_MAX)
        return BAD(r, "%s: bad ENSM", r->path);
    fit.nval = (int)nval;
    ferc_model *mem[ENSEMBLE_MAX_MEMBERS] = {0};
    char *names[ENSEMBLE_MAX_MEMBERS] = {0};
    float w[ENSEMBLE_MAX_MEMBERS] = {0}, sum = 0;
    ferc_status st = FERC_OK;
    for (uint32_t i = 0; i < n && st == FERC_OK; i++) st = read_member(&c, (int)i, &names[i], &w[i], &mem[i]);
    for (uint32_t i = 0; i < n; i++) sum += w[i];
    if (st == FERC_OK && c.o != c.s.len) st = BAD(r, "%s: bad ENSM (%zu bytes left over)", r->path, (size_t)(c.s.len - c.o));
    if (st == FERC_OK && !(fabsf(sum - 1.0f) < 1e-3f)) st = BAD(r, "%s: ensemble weights sum to %g, not 1", r->path, (double)sum);
    if (st != FERC_OK) {
        for (uint32_t i = 0; i < n; i++) { ferc_model_free(mem[i]); free(names[i]); }
        return st;
    }
    ferc_error e2;
    st = ensemble_new(mem, (const char *const *)names, w, (int)n, out, &e2);   /* takes the members */
    for (uint32_t i = 0; i < n; i++) free(names[i]);
    if (st != FERC_OK) return BAD(r, "%s: %s", r->path, e2.msg);
    memcpy((*out)->weights, w, sizeof(float) * n);
    (*out)->fit = fit;
    return FERC_OK;
}

/* A whole file in memory (a member of an ensemble is one too, at depth 1). */
static ferc_status load_bytes(const char *label, const unsigned char *data, size_t n, int depth,
                              ferc_model **out, ckpt_extra *ex, ferc_error *err) {
    file_reader r = {.path = label, .err = err, .data = data, .n = n};
    ferc_model *m = NULL;
    ferc_status st;
    if ((st = check_envelope(&r)) == FERC_OK && (st = scan_chunks(&r)) == FERC_OK) {
        if (r.version == MODEL_VERSION) {
            if ((st = build_model(&r, &m)) == FERC_OK) st = read_chunks(&r, m, ex);
        } else if (depth > 0) {
            st = BAD(&r, "%s: is itself an ensemble", label);
        } else if (ex) {
            st = BAD(&r, "%s: is an ensemble, not a checkpoint", label);
        } else {
            st = read_ensemble(&r, &m);
        }
    }
    if (st == FERC_OK) st = read_rcpe(&r, m);
    if (st == FERC_OK) st = read_temp(&r, m);
    if (st != FERC_OK) {
        ferc_model_free(m);
        return st;
    }
    *out = m;
    return FERC_OK;
}

ferc_status model_load_ex(const char *path, ferc_model **out, ckpt_extra *ex, ferc_error *err) {
    *out = NULL;
    if (ex) memset(ex, 0, sizeof *ex);
    if (!host_is_le()) return ferc_fail(err, FERC_ERR_INTERNAL, "model files are little endian; this host is not");
    struct stat sb;   /* a folder reads as a huge "file" (ftell says LONG_MAX): name it */
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) return ferc_fail(err, FERC_ERR_IO, "%s: is a directory, not a model file", path);
    unsigned char *data;
    size_t n;
    ferc_status st = ferc_read_file(path, &data, &n, err);
    if (st != FERC_OK) return st;
    st = load_bytes(path, data, n, 0, out, ex, err);
    free(data);
    if (st != FERC_OK && ex) {
        free(ex->load_m); free(ex->load_v); free(ex->load_best_params); free(ex->load_best_state);
        free(ex->load_ema_params);
        ex->load_m = ex->load_v = ex->load_best_params = ex->load_best_state = ex->load_ema_params = NULL;
    }
    return st;
}

ferc_status ferc_model_load(const char *path, ferc_model **out, ferc_error *err) {
    return model_load_ex(path, out, NULL, err);
}
