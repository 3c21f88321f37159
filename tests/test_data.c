/* test_data.c — tests of dataset loading: FER2013 CSVs (plain, gzip, CRLF,
 * usage selection, every malformed-input error, skip_bad_rows, truncated
 * gzip), image folders, ferc_prepare_images and the full FER2013 file. */
#include "test.h"
#include "ferc.h"
#include "data/data.h"
#include "detect/detect.h"
#include "model/model.h"
#include "report/report.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jpeglib.h>
#include <zlib.h>

/* ---- helpers ---- */

/* Pixel k of synthetic row r. */
static int pv(int r, int k) { return (r * 31 + k * 7) % 256; }

/* Growable text buffer. */
typedef struct { char *s; size_t n, cap; } sbuf;

static void sb_add(sbuf *b, const char *t) {
    size_t l = strlen(t);
    if (b->n + l + 1 > b->cap) {
        b->cap = (b->n + l + 1) * 2;
        b->s = realloc(b->s, b->cap);
    }
    memcpy(b->s + b->n, t, l + 1);
    b->n += l;
}

/* Append one row: "label,pixels,usage" (usage NULL: no third field). The
 * pixel list has count values; bad_at >= 0 replaces that value by bad. */
static void add_row(sbuf *b, const char *label, int r, int count, int bad_at, const char *bad,
                    const char *usage, const char *eol) {
    char t[32];
    sb_add(b, label);
    sb_add(b, ",");
    for (int k = 0; k < count; k++) {
        if (k) sb_add(b, " ");
        if (k == bad_at) sb_add(b, bad);
        else { snprintf(t, sizeof t, "%d", pv(r, k)); sb_add(b, t); }
    }
    if (usage) { sb_add(b, ","); sb_add(b, usage); }
    sb_add(b, eol);
}

static void write_gz(const char *path, const void *data, size_t n) {
    gzFile g = gzopen(path, "wb");
    if (!g) return;
    gzwrite(g, data, (unsigned)n);
    gzclose(g);
}

static const char *usages5[5] = {"Training", "PublicTest", "PrivateTest", "Training", "PublicTest"};

/* Five good rows, labels 0..4 and the usages above. */
static sbuf good_csv(const char *eol) {
    sbuf b = {0};
    sb_add(&b, "emotion,pixels,Usage");
    sb_add(&b, eol);
    for (int r = 0; r < 5; r++) {
        char lab[16];
        snprintf(lab, sizeof lab, "%d", r);
        add_row(&b, lab, r, 2304, -1, NULL, usages5[r], eol);
    }
    return b;
}

static int check_rows(const ferc_dataset *d, const int *rows, int n) {
    int bad = 0;
    if (d->n != n || d->h != 48 || d->w != 48) return 1;
    for (int i = 0; i < n; i++) {
        int r = rows[i];
        if (d->label[i] != r) bad++;
        if (d->usage[i] != ferc_usage_from_name(usages5[r])) bad++;
        for (int k = 0; k < 2304; k += 1) if (d->pix[(size_t)i * 2304 + k] != pv(r, k)) { bad++; break; }
    }
    return bad;
}

/* ---- CSV ---- */

TEST(data_csv_good_plain_gzip_crlf) {
    const char *dir = test_tmpdir();
    const char *eols[2] = {"\n", "\r\n"};
    int all[5] = {0, 1, 2, 3, 4};
    for (int e = 0; e < 2; e++) {
        sbuf b = good_csv(eols[e]);
        const char *pp = test_path(dir, "a.csv"), *pg = test_path(dir, "a.csv.gz");
        test_write(pp, b.s, b.n);
        write_gz(pg, b.s, b.n);
        const char *paths[2] = {pp, pg};
        for (int k = 0; k < 2; k++) {
            ferc_dataset d;
            ferc_error err;
            ferc_status st = ferc_dataset_load(paths[k], NULL, &d, &err);
            CHECK_MSG(st == FERC_OK, "%s (%s): %s", paths[k], e ? "CRLF" : "LF", err.msg);
            if (st != FERC_OK) continue;
            CHECK_EQ_INT(check_rows(&d, all, 5), 0);
            CHECK_EQ_INT(d.skipped, 0);
            ferc_dataset_free(&d);
            CHECK(d.pix == NULL && d.n == 0);
        }
        free(b.s);
    }
    /* No newline after the last row; blank lines in between are ignored. */
    sbuf b = {0};
    sb_add(&b, "emotion,pixels,Usage\n\n");
    add_row(&b, "0", 0, 2304, -1, NULL, "Training", "\n\n");
    add_row(&b, "1", 1, 2304, -1, NULL, "PublicTest", "");
    test_write(test_path(dir, "b.csv"), b.s, b.n);
    ferc_dataset d;
    ferc_error err;
    CHECK_EQ_INT(ferc_dataset_load(test_path(dir, "b.csv"), NULL, &d, &err), FERC_OK);
    int two[2] = {0, 1};
    CHECK_EQ_INT(check_rows(&d, two, 2), 0);
    ferc_dataset_free(&d);
    free(b.s);
}

TEST(data_csv_usage_selection) {
    const char *dir = test_tmpdir();
    sbuf b = good_csv("\n");
    write_gz(test_path(dir, "u.csv.gz"), b.s, b.n);
    free(b.s);
    struct { int usage; int rows[5]; int n; } cases[] = {
        {FERC_USAGE_TRAINING, {0, 3}, 2},
        {FERC_USAGE_PUBLICTEST, {1, 4}, 2},
        {FERC_USAGE_PRIVATETEST, {2}, 1},
        {FERC_USAGE_ALL, {0, 1, 2, 3, 4}, 5},
    };
    for (int c = 0; c < 4; c++) {
        ferc_load_opts o = {cases[c].usage, 0, 0};
        ferc_dataset d;
        ferc_error err;
        CHECK_EQ_INT(ferc_dataset_load(test_path(dir, "u.csv.gz"), &o, &d, &err), FERC_OK);
        CHECK_MSG(check_rows(&d, cases[c].rows, cases[c].n) == 0, "usage %s", ferc_usage_name(cases[c].usage));
        int counts[7];
        ferc_dataset_class_counts(&d, counts);
        int sum = 0;
        for (int k = 0; k < 7; k++) sum += counts[k];
        CHECK_EQ_INT(sum, cases[c].n);
        CHECK_EQ_INT(counts[cases[c].rows[0]], 1);
        ferc_dataset_free(&d);
    }
}

TEST(data_csv_no_usage_column) {
    const char *dir = test_tmpdir();
    sbuf b = {0};
    sb_add(&b, "emotion,pixels\n");
    add_row(&b, "3", 0, 2304, -1, NULL, NULL, "\n");
    add_row(&b, "6", 1, 2304, -1, NULL, NULL, "\n");
    test_write(test_path(dir, "n.csv"), b.s, b.n);
    free(b.s);
    ferc_dataset d;
    ferc_error err;
    ferc_load_opts o = {FERC_USAGE_TRAINING, 0, 0};
    CHECK_EQ_INT(ferc_dataset_load(test_path(dir, "n.csv"), &o, &d, &err), FERC_OK);
    CHECK_EQ_INT(d.n, 2);
    if (d.n == 2) {
        CHECK_EQ_INT(d.label[0], 3); CHECK_EQ_INT(d.label[1], 6);
        CHECK_EQ_INT(d.usage[0], FERC_USAGE_TRAINING); CHECK_EQ_INT(d.usage[1], FERC_USAGE_TRAINING);
        CHECK_EQ_INT(d.pix[2304 + 5], pv(1, 5));
    }
    ferc_dataset_free(&d);
    o.usage = FERC_USAGE_PUBLICTEST;
    CHECK_EQ_INT(ferc_dataset_load(test_path(dir, "n.csv"), &o, &d, &err), FERC_ERR_PARSE);
    CHECK(strstr(err.msg, "PublicTest") != NULL);
    CHECK(strstr(err.msg, "n.csv") != NULL);
}

/* One bad row at line 3 between good rows (lines 2 and 4). */
TEST(data_csv_bad_rows) {
    const char *dir = test_tmpdir();
    struct { const char *label; int count, bad_at; const char *bad, *usage, *want; } cases[] = {
        {"0", 2303, -1, NULL, "Training", "expected 2304 pixels, found 2303"},
        {"0", 2305, -1, NULL, "Training", "expected 2304 pixels, found 2305"},
        {"0", 2304, 17, "12a", "Training", "'12a'"},
        {"0", 2304, 0, "x", "Training", "'x'"},
        {"0", 2304, 5, "-1", "Training", "'-1'"},
        {"0", 2304, 100, "256", "Training", "256"},
        {"0", 2304, 100, "99999999999", "Training", "99999999999"},
        {"7", 2304, -1, NULL, "Training", "emotion 7 is outside 0..6"},
        {"-1", 2304, -1, NULL, "Training", "'-1'"},
        {"happy", 2304, -1, NULL, "Training", "'happy'"},
        {"", 2304, -1, NULL, "Training", "emotion"},
        {"2", 2304, -1, NULL, "Validation", "'Validation'"},
        {"2", 2304, -1, NULL, NULL, "expected 3 comma-separated fields, found 2"},
    };
    int ncase = (int)(sizeof cases / sizeof cases[0]);
    for (int c = 0; c < ncase; c++) {
        sbuf b = {0};
        sb_add(&b, "emotion,pixels,Usage\n");
        add_row(&b, "1", 1, 2304, -1, NULL, "PublicTest", "\n");
        add_row(&b, cases[c].label, 2, cases[c].count, cases[c].bad_at, cases[c].bad, cases[c].usage, "\n");
        add_row(&b, "3", 3, 2304, -1, NULL, "Training", "\n");
        const char *p = test_path(dir, c % 2 ? "bad.csv.gz" : "bad.csv");
        if (c % 2) write_gz(p, b.s, b.n);
        else test_write(p, b.s, b.n);
        free(b.s);
        ferc_dataset d;
        ferc_error err;
        ferc_status st = ferc_dataset_load(p, NULL, &d, &err);
        CHECK_MSG(st == FERC_ERR_PARSE, "case %d: status %d", c, st);
        CHECK_MSG(strstr(err.msg, ":3: ") != NULL, "case %d: no line number in '%s'", c, err.msg);
        CHECK_MSG(strstr(err.msg, cases[c].want) != NULL, "case %d: '%s' lacks '%s'", c, err.msg, cases[c].want);
        CHECK_MSG(strstr(err.msg, c % 2 ? "bad.csv.gz" : "bad.csv") == err.msg + strlen(dir) + 1,
                  "case %d: path not first in '%s'", c, err.msg);
        CHECK(d.n == 0 && d.pix == NULL);
        if (st == FERC_OK) ferc_dataset_free(&d);

        ferc_load_opts o = {FERC_USAGE_ALL, 1, 0};
        st = ferc_dataset_load(p, &o, &d, &err);
        CHECK_MSG(st == FERC_OK, "case %d with skip_bad_rows: %s", c, err.msg);
        if (st != FERC_OK) continue;
        CHECK_EQ_INT(d.n, 2);
        CHECK_EQ_INT(d.skipped, 1);
        if (d.n == 2) {
            CHECK_EQ_INT(d.label[0], 1); CHECK_EQ_INT(d.label[1], 3);
            CHECK_EQ_INT(d.pix[2304 + 2303], pv(3, 2303));
        }
        ferc_dataset_free(&d);
    }
}

TEST(data_csv_file_errors) {
    const char *dir = test_tmpdir();
    ferc_dataset d;
    ferc_error err;

    CHECK_EQ_INT(ferc_dataset_load(test_path(dir, "missing.csv"), NULL, &d, &err), FERC_ERR_IO);
    CHECK(strstr(err.msg, "missing.csv") && strstr(err.msg, "No such file"));

    test_write(test_path(dir, "empty.csv"), "", 0);
    CHECK_EQ_INT(ferc_dataset_load(test_path(dir, "empty.csv"), NULL, &d, &err), FERC_ERR_PARSE);
    CHECK(strstr(err.msg, "empty.csv") && strstr(err.msg, "empty"));

    write_gz(test_path(dir, "empty.csv.gz"), "", 0);
    CHECK_EQ_INT(ferc_dataset_load(test_path(dir, "empty.csv.gz"), NULL, &d, &err), FERC_ERR_PARSE);
    CHECK(strstr(err.msg, "empty") != NULL);

    test_write(test_path(dir, "hdr.csv"), "emotion,pixels,Usage\r\n", 22);
    CHECK_EQ_INT(ferc_dataset_load(test_path(dir, "hdr.csv"), NULL, &d, &err), FERC_ERR_PARSE);
    CHECK(strstr(err.msg, "hdr.csv") && strstr(err.msg, "no rows"));

    /* No header: the first line is a data row. */
    sbuf b = {0};
    add_row(&b, "0", 0, 2304, -1, NULL, "Training", "\n");
    test_write(test_path(dir, "nohdr.csv"), b.s, b.n);
    free(b.s);
    CHECK_EQ_INT(ferc_dataset_load(test_path(dir, "nohdr.csv"), NULL, &d, &err), FERC_ERR_PARSE);
    CHECK(strstr(err.msg, "nohdr.csv:1:") && strstr(err.msg, "header"));

    /* No rows of the chosen usage. */
    b = (sbuf){0};
    sb_add(&b, "emotion,pixels,Usage\n");
    add_row(&b, "0", 0, 2304, -1, NULL, "Training", "\n");
    test_write(test_path(dir, "train.csv"), b.s, b.n);
    free(b.s);
    ferc_load_opts o = {FERC_USAGE_PRIVATETEST, 0, 0};
    CHECK_EQ_INT(ferc_dataset_load(test_path(dir, "train.csv"), &o, &d, &err), FERC_ERR_PARSE);
    CHECK(strstr(err.msg, "train.csv") && strstr(err.msg, "PrivateTest"));

    /* Every row malformed, skipped: still an error (nothing to load). */
    b = (sbuf){0};
    sb_add(&b, "emotion,pixels,Usage\n");
    add_row(&b, "9", 0, 2304, -1, NULL, "Training", "\n");
    test_write(test_path(dir, "allbad.csv"), b.s, b.n);
    free(b.s);
    o = (ferc_load_opts){FERC_USAGE_ALL, 1, 0};
    CHECK_EQ_INT(ferc_dataset_load(test_path(dir, "allbad.csv"), &o, &d, &err), FERC_ERR_PARSE);
    CHECK(strstr(err.msg, "allbad.csv") != NULL);

    /* A line over the 1 MiB limit: an error, or skipped. */
    b = (sbuf){0};
    sb_add(&b, "emotion,pixels,Usage\n0,");
    char *big = malloc(1200001);
    memset(big, '1', 1200000);
    big[1200000] = 0;
    sb_add(&b, big);
    free(big);
    sb_add(&b, ",Training\n");
    add_row(&b, "4", 4, 2304, -1, NULL, "Training", "\n");
    test_write(test_path(dir, "long.csv"), b.s, b.n);
    free(b.s);
    CHECK_EQ_INT(ferc_dataset_load(test_path(dir, "long.csv"), NULL, &d, &err), FERC_ERR_PARSE);
    CHECK(strstr(err.msg, "long.csv:2:") != NULL);
    CHECK_EQ_INT(ferc_dataset_load(test_path(dir, "long.csv"), &o, &d, &err), FERC_OK);
    CHECK_EQ_INT(d.n, 1);
    CHECK_EQ_INT(d.skipped, 1);
    if (d.n == 1) { CHECK_EQ_INT(d.label[0], 4); CHECK_EQ_INT(d.pix[7], pv(4, 7)); }
    ferc_dataset_free(&d);
}

TEST(data_csv_truncated_gzip) {
    const char *dir = test_tmpdir();
    sbuf b = {0};
    sb_add(&b, "emotion,pixels,Usage\n");
    for (int r = 0; r < 40; r++) add_row(&b, "2", r, 2304, -1, NULL, "Training", "\n");
    const char *full = test_path(dir, "full.csv.gz");
    write_gz(full, b.s, b.n);
    free(b.s);
    size_t n;
    unsigned char *z = test_read(full, &n);
    if (!z) { CHECK(0); return; }
    ferc_dataset d;
    ferc_error err;
    CHECK_EQ_INT(ferc_dataset_load(full, NULL, &d, &err), FERC_OK);
    CHECK_EQ_INT(d.n, 40);
    ferc_dataset_free(&d);

    /* Cut in the middle, and cut only the 8-byte trailer (CRC, length): the
     * data all inflates but the stream is incomplete. */
    size_t cuts[2] = {n / 2, n - 8};
    for (int c = 0; c < 2; c++) {
        const char *p = test_path(dir, "cut.csv.gz");
        test_write(p, z, cuts[c]);
        ferc_status st = ferc_dataset_load(p, NULL, &d, &err);
        CHECK_MSG(st == FERC_ERR_IO, "cut %d: status %d (%s)", c, st, err.msg);
        CHECK_MSG(strstr(err.msg, "cut.csv.gz") && strstr(err.msg, "truncated"), "cut %d: %s", c, err.msg);
        if (st == FERC_OK) ferc_dataset_free(&d);
        ferc_load_opts o = {FERC_USAGE_ALL, 1, 0};
        st = ferc_dataset_load(p, &o, &d, &err);
        CHECK_MSG(st == FERC_ERR_IO, "cut %d with skip_bad_rows: status %d", c, st);
        if (st == FERC_OK) ferc_dataset_free(&d);
    }
    /* Corrupt (a flipped byte inside the deflate data): an error too. */
    z[n / 2] ^= 0x55;
    test_write(test_path(dir, "bad.csv.gz"), z, n);
    ferc_status st = ferc_dataset_load(test_path(dir, "bad.csv.gz"), NULL, &d, &err);
    CHECK(st == FERC_ERR_IO || st == FERC_ERR_PARSE);
    CHECK_MSG(strstr(err.msg, "bad.csv.gz:") == strstr(err.msg, "bad.csv.gz") && strstr(err.msg, "bad.csv.gz"),
              "path missing or repeated: %s", err.msg);
    /* A gzip header followed by garbage. */
    unsigned char junk[64] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
    for (int i = 10; i < 64; i++) junk[i] = (unsigned char)(i * 73);
    test_write(test_path(dir, "junk.csv.gz"), junk, sizeof junk);
    CHECK_EQ_INT(ferc_dataset_load(test_path(dir, "junk.csv.gz"), NULL, &d, &err), FERC_ERR_IO);
    CHECK_MSG(strstr(err.msg, "junk.csv.gz:1: ") != NULL, "%s", err.msg);
    if (st == FERC_OK) ferc_dataset_free(&d);
    free(z);
}

/* ---- image folders ---- */

static void mkdirs(const char *dir, const char *sub) { mkdir(test_path(dir, sub), 0700); }

static void save_gray_png(const char *path, int w, int h, const uint8_t *px) {
    ferc_image im = {w, h, 1, (uint8_t *)px};
    ferc_error err;
    CHECK_MSG(ferc_image_save_png(path, &im, &err) == FERC_OK, "%s", err.msg);
}

static void save_jpeg(const char *path, int w, int h, int c, const uint8_t *px) {
    FILE *f = fopen(path, "wb");
    if (!f) return;
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr jerr;
    ci.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&ci);
    jpeg_stdio_dest(&ci, f);
    ci.image_width = (JDIMENSION)w;
    ci.image_height = (JDIMENSION)h;
    ci.input_components = c;
    ci.in_color_space = c == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, 100, TRUE);
    jpeg_start_compress(&ci, TRUE);
    while (ci.next_scanline < ci.image_height) {
        JSAMPROW row = (JSAMPROW)(px + (size_t)ci.next_scanline * w * c);
        jpeg_write_scanlines(&ci, &row, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    fclose(f);
}

/* The PyTorch fixture's 48x48 -> 40x40 case (input ((i*37+11)%256)/256). */
static int fixture_48_40(float *out) {
    FILE *f = fopen(test_fixture("resize_bilinear.txt"), "r");
    if (!f) return 0;
    char line[512];
    int ok = 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "case 48 48 40 40", 16) != 0) continue;
        ok = 1;
        for (int i = 0; i < 1600; i++) if (fscanf(f, "%f", &out[i]) != 1) { ok = 0; break; }
        break;
    }
    fclose(f);
    return ok;
}

/* Builds ROOT with folders Angry (label 0), 3 (happy), neutral; stray files. */
static void make_folder(const char *root) {
    mkdir(root, 0700);
    mkdirs(root, "Angry");
    mkdirs(root, "3");
    mkdirs(root, "neutral");
    mkdirs(root, ".hidden");
    uint8_t ramp[48 * 48], flat[60 * 30];
    for (int i = 0; i < 48 * 48; i++) ramp[i] = (uint8_t)((i * 37 + 11) % 256);
    memset(flat, 90, sizeof flat);
    save_gray_png(test_path(root, "neutral/b.png"), 48, 48, ramp);
    save_gray_png(test_path(root, "neutral/a.png"), 60, 30, flat);          /* non-square */
    uint8_t rgb[16 * 16 * 3];
    for (int i = 0; i < 16 * 16; i++) { rgb[3 * i] = 100; rgb[3 * i + 1] = 150; rgb[3 * i + 2] = 200; }
    save_jpeg(test_path(root, "3/smile.JPG"), 16, 16, 3, rgb);             /* luma 141 */
    uint8_t g10[10 * 10];
    memset(g10, 33, sizeof g10);
    save_gray_png(test_path(root, "Angry/x.png"), 10, 10, g10);
    test_write(test_path(root, "Angry/readme.txt"), "not an image", 12);  /* ignored: extension */
    test_write(test_path(root, "labels.txt"), "stray", 5);                 /* ignored: top-level file */
    save_gray_png(test_path(root, ".hidden/y.png"), 10, 10, g10);          /* ignored: hidden */
}

TEST(data_folder_load) {
    char root[1024];
    snprintf(root, sizeof root, "%.1000s/faces", test_tmpdir());
    make_folder(root);
    float fx[1600];
    CHECK_MSG(fixture_48_40(fx), "fixture resize_bilinear.txt lacks the 48->40 case");

    ferc_load_opts o = {FERC_USAGE_ALL, 0, 40};
    ferc_dataset d;
    ferc_error err;
    ferc_status st = ferc_dataset_load(root, &o, &d, &err);
    CHECK_MSG(st == FERC_OK, "%s", err.msg);
    if (st != FERC_OK) return;
    CHECK_EQ_INT(d.n, 4);
    CHECK_EQ_INT(d.h, 40); CHECK_EQ_INT(d.w, 40);
    CHECK_EQ_INT(d.skipped, 0);
    /* Order: label 0 (Angry/x), 3 (3/smile), 6 (neutral/a, neutral/b). */
    int labels[4] = {0, 3, 6, 6};
    for (int i = 0; i < 4 && d.n == 4; i++) {
        CHECK_EQ_INT(d.label[i], labels[i]);
        CHECK_EQ_INT(d.usage[i], FERC_USAGE_TRAINING);
    }
    if (d.n == 4) {
        CHECK_EQ_INT(d.pix[0], 33);
        CHECK_EQ_INT(d.pix[1599], 33);
        CHECK_NEAR(d.pix[1600 + 820], 141, 2); /* (100,150,200) -> gray 141 */
        CHECK_EQ_INT(d.pix[2 * 1600 + 17], 90);
        /* The 48x48 ramp resized to 40: PyTorch's result x 256, rounded. */
        int off = 0;
        for (int i = 0; i < 1600; i++) {
            double want = fx[i] * 256.0;
            if (fabs(d.pix[3 * 1600 + i] - want) > 0.5 + 1e-3) off++;
        }
        CHECK_EQ_INT(off, 0);
    }
    int counts[7];
    ferc_dataset_class_counts(&d, counts);
    CHECK_EQ_INT(counts[0], 1); CHECK_EQ_INT(counts[3], 1); CHECK_EQ_INT(counts[6], 2);
    CHECK_EQ_INT(counts[1] + counts[2] + counts[4] + counts[5], 0);
    ferc_dataset_free(&d);

    /* size 0 = 48: the 48x48 ramp comes back unchanged. */
    o.size = 0;
    CHECK_EQ_INT(ferc_dataset_load(root, &o, &d, &err), FERC_OK);
    CHECK_EQ_INT(d.h, 48);
    if (d.n == 4) {
        int bad = 0;
        for (int i = 0; i < 2304; i++) bad += d.pix[3 * 2304 + i] != (i * 37 + 11) % 256;
        CHECK_EQ_INT(bad, 0);
    }
    ferc_dataset_free(&d);

    /* Usage: Training is fine, PublicTest is refused. */
    o.usage = FERC_USAGE_TRAINING;
    CHECK_EQ_INT(ferc_dataset_load(root, &o, &d, &err), FERC_OK);
    CHECK_EQ_INT(d.n, 4);
    ferc_dataset_free(&d);
    o.usage = FERC_USAGE_PUBLICTEST;
    CHECK_EQ_INT(ferc_dataset_load(root, &o, &d, &err), FERC_ERR_ARG);
    CHECK(strstr(err.msg, "Usage") != NULL);
}

TEST(data_folder_errors) {
    char dir[1024], root[1100], e[1100];
    snprintf(dir, sizeof dir, "%s", test_tmpdir());
    snprintf(root, sizeof root, "%.1000s/faces", dir);
    make_folder(root);
    ferc_dataset d;
    ferc_error err;

    /* A non-image with an image extension, and a truncated JPEG. */
    test_write(test_path(root, "3/fake.png"), "plain text", 10);
    uint8_t px[64 * 64];
    for (int i = 0; i < 64 * 64; i++) px[i] = (uint8_t)((i * 7919u) >> 3);
    save_jpeg(test_path(root, "neutral/c.jpg"), 64, 64, 1, px);
    size_t n;
    unsigned char *b = test_read(test_path(root, "neutral/c.jpg"), &n);
    if (b) { test_write(test_path(root, "neutral/c.jpg"), b, n / 2); free(b); }

    ferc_status st = ferc_dataset_load(root, NULL, &d, &err);
    CHECK_EQ_INT(st, FERC_ERR_DECODE);
    CHECK_MSG(strstr(err.msg, "fake.png") != NULL, "%s", err.msg); /* the first bad one in order */
    if (st == FERC_OK) ferc_dataset_free(&d);

    ferc_load_opts o = {FERC_USAGE_ALL, 1, 0};
    st = ferc_dataset_load(root, &o, &d, &err);
    CHECK_MSG(st == FERC_OK, "%s", err.msg);
    CHECK_EQ_INT(d.n, 4);
    CHECK_EQ_INT(d.skipped, 2);
    if (d.n == 4) { CHECK_EQ_INT(d.label[3], 6); CHECK_EQ_INT(d.pix[0], 33); CHECK_EQ_INT(d.pix[3 * 2304 + 1], 48); }
    ferc_dataset_free(&d);

    /* Unknown label folder. */
    mkdirs(root, "joy");
    st = ferc_dataset_load(root, NULL, &d, &err);
    CHECK_EQ_INT(st, FERC_ERR_PARSE);
    CHECK(strstr(err.msg, "'joy'") != NULL);

    /* A folder with label folders but no images. */
    snprintf(e, sizeof e, "%.1000s/empty", dir);
    mkdir(e, 0700);
    mkdirs(e, "sad");
    CHECK_EQ_INT(ferc_dataset_load(e, NULL, &d, &err), FERC_ERR_PARSE);
    CHECK(strstr(err.msg, "empty: no PNG or JPEG images") != NULL);
}

/* ---- prepare_images ---- */

TEST(data_prepare_images) {
    uint8_t pix[3 * 2304];
    int label[3] = {0, 1, 2};
    uint8_t usage[3] = {0, 0, 0};
    for (int i = 0; i < 2304; i++) {
        pix[i] = (uint8_t)(i % 256);
        pix[2304 + i] = (uint8_t)((i * 37 + 11) % 256);
        pix[2 * 2304 + i] = 255;
    }
    ferc_dataset d = {.n = 3, .h = 48, .w = 48, .pix = pix, .label = label, .usage = usage};
    float x[3 * 2304];
    ferc_prepare_images(&d, 0, 3, 48, x);
    int bad = 0;
    for (int i = 0; i < 3 * 2304; i++) bad += x[i] != (float)pix[i] / 255.0f;
    CHECK_EQ_INT(bad, 0);
    CHECK_NEAR(x[255], 1.0, 0);
    CHECK_NEAR(x[2 * 2304], 1.0, 0);

    /* Resized to 40 from row 1: PyTorch's result on pix/256, times 256/255. */
    float fx[1600], y[2 * 1600];
    CHECK(fixture_48_40(fx));
    ferc_prepare_images(&d, 1, 2, 40, y);
    double worst = 0;
    for (int i = 0; i < 1600; i++) {
        double e = fabs(y[i] - fx[i] * 256.0 / 255.0);
        if (e > worst) worst = e;
    }
    CHECK_NEAR(worst, 0, 2e-6);
    CHECK_NEAR(y[1600 + 77], 1.0, 1e-6); /* a flat white face stays 1 */

    /* The float resize of pix/255 gives the same numbers. */
    float src[2304], z[1600];
    for (int i = 0; i < 2304; i++) src[i] = (float)pix[2304 + i] / 255.0f;
    ferc_resize_bilinear(src, 48, 48, z, 40, 40);
    bad = 0;
    for (int i = 0; i < 1600; i++) bad += fabsf(z[i] - y[i]) > 1e-7f;
    CHECK_EQ_INT(bad, 0);
}

/* ---- the real FER2013 file ---- */

TEST(data_fer2013_full_load) {
    const char *path = test_fer_csv();
    if (!path) SKIP("../shared/data/fer2013/fer2013.csv.gz not found (set FERC_DATA)");
    ferc_dataset d;
    ferc_error err;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ferc_status st = ferc_dataset_load(path, NULL, &d, &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    CHECK_MSG(st == FERC_OK, "%s", err.msg);
    if (st != FERC_OK) return;
    printf("    fer2013 full load: %d rows in %.2f s\n", d.n, secs);
    CHECK_EQ_INT(d.n, 32298);
    CHECK_EQ_INT(d.skipped, 0);
    int by_usage[3] = {0, 0, 0}, train[7] = {0};
    for (int i = 0; i < d.n; i++) {
        if (d.usage[i] < 3) by_usage[d.usage[i]]++;
        if (d.usage[i] == FERC_USAGE_TRAINING) train[d.label[i]]++;
    }
    CHECK_EQ_INT(by_usage[FERC_USAGE_TRAINING], 28709);
    CHECK_EQ_INT(by_usage[FERC_USAGE_PUBLICTEST], 3589);
    int want[7] = {3995, 436, 4097, 7215, 4830, 3171, 4965};
    for (int k = 0; k < 7; k++) CHECK_EQ_INT(train[k], want[k]);
    /* The first row starts "0,70 80 82 72 58 ..." (zcat | head). */
    CHECK_EQ_INT(d.label[0], 0);
    CHECK_EQ_INT(d.pix[0], 70); CHECK_EQ_INT(d.pix[1], 80); CHECK_EQ_INT(d.pix[2], 82);
    CHECK_EQ_INT(d.pix[3], 72); CHECK_EQ_INT(d.pix[4], 58);
    ferc_dataset_free(&d);

    ferc_load_opts o = {FERC_USAGE_PUBLICTEST, 0, 0};
    clock_gettime(CLOCK_MONOTONIC, &t0);
    st = ferc_dataset_load(path, &o, &d, &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    CHECK_MSG(st == FERC_OK, "%s", err.msg);
    if (st != FERC_OK) return;
    printf("    fer2013 PublicTest load: %d rows in %.2f s\n", d.n, secs);
    CHECK_EQ_INT(d.n, 3589);
    int bad = 0;
    for (int i = 0; i < d.n; i++) bad += d.usage[i] != FERC_USAGE_PUBLICTEST;
    CHECK_EQ_INT(bad, 0);
    ferc_dataset_free(&d);
}
