/* test_reliability.c — issue 18's regression tests: each hostile file that
 * once crashed ferc or made it allocate what a file's size cannot back is
 * rebuilt here and must be refused with a clear message; outputs must be
 * whole or absent (a failing write, a killed run) and never lost silently
 * (stdout on a full device); JSON stays valid for any file name. The fuzz
 * harnesses that look for more such files live in tests/fuzz/. */
#include "cli_util.h"
#include "model/model.h"
#include "nn/nn.h"
#include "test.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

/* A tiny network every test here can afford: 8x8 input, 251 parameters. */
#define TINY_ARCH "spec:8:conv2 relu pool flatten dense7"

static ferc_model *tiny_model(int nhist) {
    ferc_model *m = NULL;
    ferc_error err;
    if (ferc_model_create(TINY_ARCH, 1, &m, &err) != FERC_OK) { test_fail(__FILE__, __LINE__, "%s", err.msg); return NULL; }
    ferc_epoch_stats h[4] = {{0}};
    for (int i = 0; i < nhist && i < 4; i++) { h[i].epoch = i + 1; h[i].val_acc = 0.25f; h[i].val_macro_f1 = 0.2f; }
    if (nhist && model_set_history(m, h, nhist, &err) != FERC_OK) test_fail(__FILE__, __LINE__, "%s", err.msg);
    return m;
}

/* A checkpoint of the tiny model whose training state says what ex says. */
static int save_ckpt(const char *path, int nhist, ckpt_extra ex) {
    ferc_model *m = tiny_model(nhist);
    if (!m) return 0;
    ex.opt_m = ex.opt_v = ex.best_params = m->net.params;
    ex.best_state = m->net.state;
    ex.has_train_state = 1;
    ferc_error err;
    int ok = model_save_ex(m, path, &ex, &err) == FERC_OK;
    ferc_model_free(m);
    return ok;
}

/* Load path as a checkpoint: the status, the message in msg. */
static ferc_status load_ckpt(const char *path, char *msg, size_t cap) {
    ferc_model *m = NULL;
    ckpt_extra ex;
    ferc_error err = {0};
    ferc_status st = model_load_ex(path, &m, &ex, &err);
    snprintf(msg, cap, "%s", st == FERC_OK ? "" : err.msg);
    if (st == FERC_OK) {
        free(ex.load_m); free(ex.load_v); free(ex.load_best_params); free(ex.load_best_state); free(ex.load_ema_params);
        ferc_model_free(m);
    }
    return st;
}

/* Was: a negative epoch count (CRC valid) was accepted and `train --resume`
 * wrote before its history array (heap buffer overflow). */
TEST(reliability_checkpoint_epoch_count_checked) {
    const char *dir = test_tmpdir(), *p = test_path(dir, "c.ckpt");
    char msg[1100];
    CHECK(save_ckpt(p, 2, (ckpt_extra){.epochs_done = 2, .best_epoch = 1, .opt_t = 20}));
    CHECK_EQ_INT(load_ckpt(p, msg, sizeof msg), FERC_OK);   /* the control: a consistent checkpoint loads */
    static const struct { int done, best; long t; const char *says; } bad[] = {
        {-5, 0, 20, "epochs done"}, {-2147483647 - 1, 0, 0, "epochs done"}, {1000000, 1, 20, "epochs done"},
        {3, 1, 20, "epochs done"}, {2, 3, 20, "best epoch"}, {2, -1, 20, "best epoch"}, {2, 1, -7, "step count"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK(save_ckpt(p, 2, (ckpt_extra){.epochs_done = bad[i].done, .best_epoch = bad[i].best, .opt_t = bad[i].t}));
        CHECK_EQ_INT(load_ckpt(p, msg, sizeof msg), FERC_ERR_FORMAT);
        CHECK_MSG(strstr(msg, bad[i].says) != NULL, "case %zu: '%s'", i, msg);
    }
}

/* Was: a spec whose channels x height x width overflows int at flatten
 * (UBSan: signed overflow in the net builder). Now refused as too large. */
TEST(reliability_spec_overflow_refused) {
    size_t np, ns;
    ferc_error err = {0};
    static const char *const specs[] = {
        "conv65536 conv65536 flatten dense7",     /* 65536 x 1024 x 1024 activations: over int */
        "conv40000 flatten dense7",               /* the flatten itself: 40000 x 1024 x 1024 */
        "flatten dense1048576 dense1048576 dense7", /* 2^40 weights */
    };
    for (size_t i = 0; i < sizeof specs / sizeof *specs; i++) {
        ferc_status st = net_count(specs[i], 1, 1024, 1024, &np, &ns, &err);
        CHECK_MSG(st == FERC_ERR_LIMIT && (strstr(err.msg, "too large") || strstr(err.msg, "over ")),
                  "%s: status %d '%s'", specs[i], st, err.msg);
    }
    /* the control: a large but honest net counts exactly */
    CHECK_EQ_INT(net_count("conv32 bn relu pool flatten dense7", 1, 48, 48, &np, &ns, &err), FERC_OK);
    CHECK_EQ_INT(np, 32 * 9 + 32 + 64 + 7 * (32 * 24 * 24) + 7);
    CHECK_EQ_INT(ns, 64);
}

/* A version-1 model file holding spec with a PARM block of nparam floats
 * (CRC valid): the smallest file that claims an architecture. */
static size_t hostile_model(unsigned char *buf, const char *spec, uint32_t insize, uint64_t nparam) {
    size_t n = 0;
#define PUT(p, k) (memcpy(buf + n, (p), (k)), n += (k))
#define CHUNK(tag, len) do { uint64_t l_ = (len); PUT(tag, 4); PUT(&l_, 8); } while (0)
    uint32_t v = 1, flags = 0, inpt[3] = {1, insize, insize};
    PUT("FERCMODL", 8); PUT(&v, 4); PUT(&flags, 4);
    CHUNK("ARCH", 6); PUT("custom", 6);
    CHUNK("SPEC", strlen(spec)); PUT(spec, strlen(spec));
    CHUNK("INPT", 12); PUT(inpt, 12);
    CHUNK("PARM", 8 + 4 * nparam); PUT(&nparam, 8);
    for (uint64_t i = 0; i < nparam; i++) { float z = 0; PUT(&z, 4); }
    uint32_t crc = (uint32_t)crc32(0L, buf, (uInt)n);
    PUT(&crc, 4);
#undef CHUNK
#undef PUT
    return n;
}

/* Was: a 123-byte file whose spec claims 4e8 parameters made the loader
 * allocate 2 x 1.6 GB before comparing. The refusal must come from the
 * comparison with the file (its message), which runs before the net is
 * built; and a file with the overflowing spec is refused the same way. */
TEST(reliability_model_spec_vs_file_size) {
    const char *dir = test_tmpdir(), *p = test_path(dir, "hostile.ferc");
    unsigned char buf[4096];
    ferc_model *m = NULL;
    ferc_error err = {0};
    size_t n = hostile_model(buf, "flatten dense160000 dense7", 48, 1);   /* 3.7e8 parameters claimed */
    CHECK_MSG(n < 200, "the hostile file is %zu bytes", n);
    CHECK(test_write(p, buf, n));
    CHECK_EQ_INT(ferc_model_load(p, &m, &err), FERC_ERR_FORMAT);
    CHECK_MSG(strstr(err.msg, "369") && strstr(err.msg, "parameters but the file holds"), "'%s'", err.msg);
    CHECK(test_write(p, buf, hostile_model(buf, "conv65536 conv65536 flatten dense7", 1024, 1)));
    CHECK_EQ_INT(ferc_model_load(p, &m, &err), FERC_ERR_FORMAT);
    CHECK_MSG(strstr(err.msg, "too large"), "'%s'", err.msg);
    /* the control: the same construction with the right count loads */
    CHECK(test_write(p, buf, hostile_model(buf, "conv2 relu pool flatten dense7", 8, 251)));
    CHECK_EQ_INT(ferc_model_load(p, &m, &err), FERC_OK);
    CHECK_MSG(m && ferc_model_num_params(m) == 251, "%s", err.msg);
    ferc_model_free(m);
}

/* Already fixed before issue 18 (x + w overflowed in the rectangle check
 * and detection read far outside the integral image): kept refused. */
TEST(reliability_cascade_rect_overflow) {
    const char *p = test_path(test_tmpdir(), "c.xml");
    const char *xml =
        "<?xml version=\"1.0\"?>\n<opencv_storage>\n<cascade type_id=\"opencv-cascade-classifier\">\n"
        "  <stageType>BOOST</stageType><featureType>HAAR</featureType><height>4</height><width>4</width>\n"
        "  <stageParams><maxWeakCount>1</maxWeakCount></stageParams>\n"
        "  <featureParams><maxCatCount>0</maxCatCount></featureParams>\n"
        "  <stageNum>1</stageNum>\n  <stages>\n    <_><maxWeakCount>1</maxWeakCount><stageThreshold>0.5</stageThreshold>\n"
        "      <weakClassifiers><_><internalNodes>0 -1 0 -1.0e+09</internalNodes><leafValues>0. 1.</leafValues></_></weakClassifiers></_>\n"
        "  </stages>\n  <features>\n    <_><rects><_>0 0 4 4 -1.</_><_>1 0 %s 1 2.</_></rects></_>\n  </features>\n"
        "</cascade>\n</opencv_storage>\n";
    char text[2048];
    ferc_cascade *c = NULL;
    ferc_error err = {0};
    snprintf(text, sizeof text, xml, "2147483647");
    CHECK(test_write(p, text, strlen(text)));
    CHECK(ferc_cascade_load(p, &c, &err) != FERC_OK && err.msg[0]);
    snprintf(text, sizeof text, xml, "2");   /* the control */
    CHECK(test_write(p, text, strlen(text)));
    CHECK_EQ_INT(ferc_cascade_load(p, &c, &err), FERC_OK);
    ferc_cascade_free(c);
}

/* Was: "out of memory (9223372036854775807 bytes)" for a folder. */
TEST(reliability_directory_is_not_a_file) {
    const char *dir = test_tmpdir();
    ferc_model *m = NULL;
    ferc_error err = {0};
    CHECK(ferc_model_load(dir, &m, &err) != FERC_OK && strstr(err.msg, "is a directory"));
    ferc_augment_opts o;
    ferc_augment_opts_default(&o);
    CHECK(ferc_augment_load_config(dir, &o, &err) != FERC_OK && strstr(err.msg, "is a directory"));
}

/* A pid that is certainly not running: a child that has exited and been
 * reaped (pids are not reused that quickly). */
static pid_t dead_pid(void) {
    pid_t p = fork();
    if (p == 0) _exit(0);
    waitpid(p, NULL, 0);
    return p;
}

/* Stale "<name>.tmp<pid>" files of a killed writer go on the next save;
 * a live writer's, and files that only look alike, stay. */
TEST(reliability_stale_tmp_removed) {
    const char *dir = test_tmpdir(), *p = test_path(dir, "m.ferc");
    char stale[512], live[512], other[512], other2[512];
    snprintf(stale, sizeof stale, "%s.tmp%d", p, (int)dead_pid());
    snprintf(live, sizeof live, "%s.tmp%d", p, (int)getppid());
    snprintf(other, sizeof other, "%s.tmpx%d", p, (int)dead_pid());
    snprintf(other2, sizeof other2, "%s/n.ferc.tmp%d", dir, (int)dead_pid());
    const char *files[] = {stale, live, other, other2};
    for (int i = 0; i < 4; i++) CHECK(test_write(files[i], "x", 1));
    ferc_model *m = tiny_model(0);
    ferc_error err;
    CHECK(m && ferc_model_save(m, p, &err) == FERC_OK);
    ferc_model_free(m);
    CHECK_MSG(!test_exists(stale), "the dead writer's %s is still there", stale);
    CHECK(test_exists(live) && test_exists(other) && test_exists(other2) && test_exists(p));
}

/* A write that fails half-way (a full disk, simulated by RLIMIT_FSIZE: the
 * kernel refuses bytes past the limit with EFBIG) gives a clear error, and
 * the file that was there before stays whole; no temporary is left. */
TEST(reliability_failed_write_keeps_previous_file) {
    const char *dir = test_tmpdir(), *p = test_path(dir, "m.ferc"), *png = test_path(dir, "g.png");
    ferc_model *small = tiny_model(0), *big = NULL;
    ferc_error err = {0};
    CHECK(small && ferc_model_save(small, p, &err) == FERC_OK);
    CHECK_EQ_INT(ferc_model_create("seed", 1, &big, &err), FERC_OK);
    ferc_image img = {.w = 300, .h = 300, .c = 3, .data = malloc(300 * 300 * 3)};
    ferc_image tiny = {.w = 4, .h = 4, .c = 1, .data = calloc(16, 1)};
    uint32_t x = 2463534242u;   /* xorshift noise: a PNG that cannot compress below the limit */
    for (int i = 0; img.data && i < 300 * 300 * 3; i++) { x ^= x << 13; x ^= x >> 17; x ^= x << 5; img.data[i] = (uint8_t)x; }
    CHECK(ferc_image_save_png(png, &tiny, &err) == FERC_OK);
    size_t n0 = 0, g0 = 0;
    unsigned char *before = test_read(p, &n0), *gbefore = test_read(png, &g0);
    struct rlimit was;
    getrlimit(RLIMIT_FSIZE, &was);
    struct rlimit lim = {.rlim_cur = 64 * 1024, .rlim_max = was.rlim_max};
    void (*old)(int) = signal(SIGXFSZ, SIG_IGN);
    setrlimit(RLIMIT_FSIZE, &lim);
    ferc_status st = big ? ferc_model_save(big, p, &err) : FERC_ERR_INTERNAL;
    char msg[1100];
    snprintf(msg, sizeof msg, "%s", err.msg);
    ferc_status st2 = img.data ? ferc_image_save_png(png, &img, &err) : FERC_ERR_INTERNAL;
    setrlimit(RLIMIT_FSIZE, &was);
    signal(SIGXFSZ, old);
    CHECK_EQ_INT(st, FERC_ERR_IO);
    CHECK_MSG(strstr(msg, "write failed") && strstr(msg, "too large"), "'%s'", msg);
    CHECK_EQ_INT(st2, FERC_ERR_IO);
    size_t n1 = 0, g1 = 0;
    unsigned char *after = test_read(p, &n1), *gafter = test_read(png, &g1);
    CHECK(before && after && n0 == n1 && memcmp(before, after, n0) == 0);
    CHECK(gbefore && gafter && g0 == g1 && memcmp(gbefore, gafter, g0) == 0);
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) CHECK_MSG(!strstr(e->d_name, ".tmp"), "left behind: %s", e->d_name);
    if (d) closedir(d);
    free(before); free(after); free(gbefore); free(gafter); free(img.data); free(tiny.data);
    ferc_model_free(small); ferc_model_free(big);
}

/* Output that never arrived is a failure: stdout on a full device. */
TEST(reliability_stdout_full_is_an_error) {
    NEED_FERC();
    if (access("/dev/full", W_OK) != 0) SKIP("no /dev/full on this system");
    const char *dir = test_tmpdir(), *model = cli_make_model(dir, 1, NULL, 0);
    const char *csv = test_path(dir, "d.csv");
    cli_write_csv(csv, (const int[3]){0, 14, 0}, 0);
    CHECK_EQ_INT(cli_run(dir, "%s info %s", ferc, model), 0);   /* the control */
    /* { ... >/dev/full; }: the inner redirection wins over cli_run's own */
    CHECK_EQ_INT(cli_run(dir, "{ %s info %s >/dev/full; }", ferc, model), 1);
    char *e = cli_err(dir);
    CHECK_MSG(strstr(e, "standard output"), "info: '%s'", e);
    free(e);
    CHECK_EQ_INT(cli_run(dir, "{ %s eval --model %s --data %s >/dev/full; }", ferc, model, csv), 1);
    CHECK_EQ_INT(cli_run(dir, "{ %s eval --model %s --data %s --json >/dev/full; }", ferc, model, csv), 1);
    const char *png = test_path(dir, "face.png");
    ferc_image face = {.w = 48, .h = 48, .c = 1, .data = calloc(48 * 48, 1)};
    ferc_error err;
    CHECK(ferc_image_save_png(png, &face, &err) == FERC_OK);
    free(face.data);
    CHECK_EQ_INT(cli_run(dir, "{ %s predict --model %s %s >/dev/full; }", ferc, model, png), 1);
    CHECK_EQ_INT(cli_run(dir, "{ %s predict --model %s --json %s >/dev/full; }", ferc, model, png), 1);
}

/* Is s valid UTF-8 (and so possibly valid JSON text)? */
static int valid_utf8(const unsigned char *s) {
    while (*s) {
        int n = *s < 0x80 ? 1 : (*s & 0xE0) == 0xC0 ? 2 : (*s & 0xF0) == 0xE0 ? 3 : (*s & 0xF8) == 0xF0 ? 4 : 0;
        if (!n || (n == 2 && *s < 0xC2)) return 0;
        for (int i = 1; i < n; i++) if ((s[i] & 0xC0) != 0x80) return 0;
        s += n;
    }
    return 1;
}

/* Was: a non-UTF-8 file name went raw into --json output (invalid JSON). */
TEST(reliability_json_escapes_non_utf8_names) {
    NEED_FERC();
    const char *dir = test_tmpdir(), *model = cli_make_model(dir, 1, NULL, 0);
    const char *png = test_path(dir, "f\xff\xc3(\xe2\x82\xac.png");   /* a stray byte, a cut sequence, a euro sign */
    ferc_image face = {.w = 48, .h = 48, .c = 1, .data = calloc(48 * 48, 1)};
    ferc_error err;
    CHECK(ferc_image_save_png(png, &face, &err) == FERC_OK);
    free(face.data);
    CHECK_EQ_INT(cli_run(dir, "%s predict --model %s --json '%s'", ferc, model, png), 0);
    char *o = cli_out(dir);
    CHECK_MSG(valid_utf8((const unsigned char *)o), "not UTF-8: %s", o);
    CHECK_MSG(strstr(o, "f\\ufffd\\ufffd(\xe2\x82\xac.png"), "'%s'", o);   /* the euro sign kept as it is */
    free(o);
    /* and the whole line parses as JSON where Python is there to say so */
    if (access("/usr/bin/python3", X_OK) == 0) {
        CHECK_EQ_INT(cli_run(dir, "%s predict --model %s --json '%s' 2>/dev/null | /usr/bin/python3 -c "
                                  "'import json,sys; [json.loads(l) for l in sys.stdin]'", ferc, model, png), 0);
    }
}

/* Bounds before work, with a clear message (exit 2, usage error). */
TEST(reliability_option_bounds) {
    NEED_FERC();
    const char *dir = test_tmpdir(), *csv = cli_write_band_csv(dir, 28, 0);
    static const char *const bad[] = {"--threads 99999", "--threads -1", "--batch 0", "--batch 99999999",
                                      "--epochs -1", "--epochs 0", "--epochs 2147483648", "--lr nan"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK_EQ_INT(cli_run(dir, "%s train --data %s --arch '%s' --out %s/m.ferc %s", ferc, csv, TINY_ARCH, dir, bad[i]), 2);
        char *e = cli_err(dir);
        CHECK_MSG(cli_count_lines(e) >= 1 && strstr(e, "ferc train: "), "%s: '%s'", bad[i], e);
        free(e);
    }
    CHECK(!test_exists(test_path(dir, "m.ferc")));
}

/* kill -9 while a short training run writes its checkpoint and model, at
 * several moments, then --resume: every run ends with a valid model and
 * checkpoint, and no temporary file is left once a later run has saved. */
TEST(reliability_kill9_then_resume) {
    NEED_FERC();
    const char *dir = test_tmpdir(), *csv = cli_write_band_csv(dir, 210, 0);
    const char *out = test_path(dir, "m.ferc");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "exec %s train --data %s --arch 'spec:48:conv4 relu pool flatten dense7' --epochs 12 "
             "--batch 16 --threads 1 --quiet --out %s", ferc, csv, out);
    static const int delays_ms[] = {60, 140, 220, 300, 380, 460};
    int killed = 0;
    for (size_t i = 0; i < sizeof delays_ms / sizeof *delays_ms; i++) {
        char full[2200];
        snprintf(full, sizeof full, "%s%s >/dev/null 2>&1", cmd, i ? " --resume" : "");
        pid_t p = fork();
        if (p == 0) { execl("/bin/sh", "sh", "-c", full, (char *)NULL); _exit(127); }
        nanosleep(&(struct timespec){.tv_sec = 0, .tv_nsec = delays_ms[i] * 1000000L}, NULL);
        kill(p, SIGKILL);
        int ws;
        waitpid(p, &ws, 0);
        killed += WIFSIGNALED(ws);   /* a run that had already ended is no test of a kill */
        /* whatever is on disk now is whole: each file loads or is absent */
        char ck[600];
        snprintf(ck, sizeof ck, "%s.ckpt", out);
        const char *files[2] = {out, ck};
        for (int k = 0; k < 2; k++) {
            ferc_model *m = NULL;
            ferc_error err = {0};
            if (test_exists(files[k])) CHECK_MSG(ferc_model_load(files[k], &m, &err) == FERC_OK, "%s: %s", files[k], err.msg);
            ferc_model_free(m);
        }
    }
    CHECK_MSG(killed >= 1, "no run was still going when killed");
    CHECK_EQ_INT(cli_run(dir, "%s --resume", cmd), 0);
    ferc_model *m = NULL;
    ferc_error err = {0};
    CHECK_MSG(ferc_model_load(out, &m, &err) == FERC_OK, "%s", err.msg);
    const ferc_epoch_stats *h;
    CHECK_EQ_INT(m ? ferc_model_history(m, &h) : -1, 12);
    ferc_model_free(m);
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) CHECK_MSG(!strstr(e->d_name, ".tmp"), "left behind: %s", e->d_name);
    if (d) closedir(d);
}

/* A CSV line over the limit (1 MiB; a FER2013 row is about 9 KB) is
 * refused with its line number before it is buffered whole, in the header
 * and in the rows; the rows before it were fine. */
TEST(reliability_csv_line_limit) {
    const char *dir = test_tmpdir(), *p = test_path(dir, "long.csv");
    const size_t big = (1u << 20) + 10;
    char *text = malloc(big + 64);
    if (!text) SKIP("out of memory");
    for (int header = 1; header >= 0; header--) {
        size_t n = 0;
        if (!header) n += (size_t)sprintf(text, "emotion,pixels,Usage\n");
        memset(text + n, '7', big);
        n += big;
        text[n++] = '\n';
        CHECK(test_write(p, text, n));
        ferc_dataset d;
        ferc_error err = {0};
        CHECK_EQ_INT(ferc_dataset_load(p, NULL, &d, &err), FERC_ERR_PARSE);
        CHECK_MSG(strstr(err.msg, header ? ":1: " : ":2: ") && strstr(err.msg, "1048576"), "'%s'", err.msg);
    }
    free(text);
}

/* The augment grid on a full disk (a file-size limit): the previous grid is
 * kept, nothing half-written or temporary is left; and a folder given where
 * a file is read says so (ferc_read_file, under every loader). */
TEST(reliability_augment_grid_full_disk_and_folder_as_file) {
    NEED_FERC();
    const char *dir = test_tmpdir();
    char csv[1024], png[1024];
    snprintf(csv, sizeof csv, "%s", test_path(dir, "d.csv"));
    snprintf(png, sizeof png, "%s", test_path(dir, "g.png"));
    cli_write_csv(csv, (const int[3]){40, 0, 0}, 0);
    CHECK(test_write(png, "old", 3));
    int rc = cli_run(dir, "trap '' XFSZ; ulimit -f 4; %s augment --data %s --n 16 --out %s", ferc, csv, png);
    char *e = cli_err(dir), *g = test_read(png, NULL);
    CHECK_MSG(rc != 0 && g && !strcmp(g, "old"), "rc %d, grid now %.8s, stderr %s", rc, g ? g : "-", e);
    free(e); free(g);
    DIR *d = opendir(dir);
    for (struct dirent *x; d && (x = readdir(d));) CHECK_MSG(!strstr(x->d_name, "g.png.") && !strstr(x->d_name, ".tmp"), "left behind: %s", x->d_name);
    if (d) closedir(d);
    CHECK_EQ_INT(cli_run(dir, "%s augment --data %s --n 16 --out %s", ferc, csv, png), 0);   /* the control */
    ferc_space *s = NULL;
    ferc_error err = {0};
    CHECK(ferc_space_load(dir, &s, &err) == FERC_ERR_IO);
    CHECK_MSG(strstr(err.msg, "is a directory"), "%s", err.msg);
}
