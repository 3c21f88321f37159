/* test_install.c — `make install` as a user meets it: into a staged copy
 * (DESTDIR=tmp, the default PREFIX, so nothing is rebuilt), every file in
 * its place with the soname links, `pkg-config --cflags --libs ferc` that
 * builds each examples/ program against the installed header and libferc.so (not the
 * repository's), the examples run, the installed `ferc` run from another
 * folder with no --model (it must find share/ferc/models itself), and a man
 * page with a section for every command `ferc --help` lists. Skipped in the
 * sanitizer build, which makes no shared library. */
#include "cli_util.h"

#include <dirent.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PHOTO "/usr/lib/python3/dist-packages/skimage/data/astronaut.png"

/* The staged prefix: dir/stage/usr/local (static buffer). */
static const char *staged(const char *dir) {
    static char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s/stage/usr/local", dir);
    return buf;
}

/* make install BUILD=<the folder of the ferc under test> DESTDIR=dir/stage. */
static int stage_install(const char *dir, const char **why) {
    const char *ferc = cli_ferc();
    *why = getenv("FERC_ASAN") ? "the sanitizer build makes no libferc.so (the plain run tests the install)"
         : !ferc ? "the ferc binary is not built (make, or set FERC_BIN)"
         : system("command -v pkg-config >/dev/null 2>&1") != 0 ? "pkg-config absent (apt-get install pkgconf)" : NULL;
    if (*why) return 0;
    char build[PATH_MAX];
    snprintf(build, sizeof build, "%.*s", (int)(strrchr(ferc, '/') - ferc), ferc);
    if (!test_exists(test_path(build, "libferc.so"))) { *why = "no libferc.so beside the ferc binary (make)"; return 0; }
    /* -o: install what was built, never rebuild it in the middle of a test run */
    int st = cli_run(dir, "make -s install BUILD='%s' DESTDIR='%s/stage' -o '%s/ferc' -o '%s/libferc.a' "
                          "-o '%s/libferc.so' -o '%s/libferc.so." FERC_VERSION_STRING "'",
                     build, dir, build, build, build, build);
    char *err = cli_err(dir);
    CHECK_MSG(st == 0, "make install failed (exit %d): %s", st, err);
    free(err);
    return st == 0;
}

static void check_files(const char *p) {
    static const char *const files[] = {"bin/ferc", "include/ferc.h", "lib/libferc.a", "lib/libferc.so",
                                        "lib/pkgconfig/ferc.pc", "share/ferc/models/seed2.ferc",
                                        "share/ferc/models/seed.ferc", "share/man/man1/ferc.1"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        CHECK_MSG(test_exists(test_path(p, files[i])), "not installed: %s", files[i]);
    char link[PATH_MAX], want[64];
    ssize_t n = readlink(test_path(p, "lib/libferc.so"), link, sizeof link - 1);
    CHECK_MSG(n > 0 && (link[n] = 0, strcmp(link, "libferc.so.0") == 0), "lib/libferc.so should link to libferc.so.0");
    n = readlink(test_path(p, "lib/libferc.so.0"), link, sizeof link - 1);
    snprintf(want, sizeof want, "libferc.so.%s", FERC_VERSION_STRING);
    CHECK_MSG(n > 0 && (link[n] = 0, strcmp(link, want) == 0), "lib/libferc.so.0 should link to %s", want);
    CHECK_MSG(test_exists(test_path(test_path(p, "lib"), want)), "not installed: lib/%s", want);
}

/* The pkg-config line for the staged copy (sysroot = the DESTDIR) into buf. */
static int pkg_flags(const char *dir, char *buf, size_t cap) {
    const char *p = staged(dir);
    int st = cli_run(dir, "(PKG_CONFIG_PATH='%s/lib/pkgconfig' PKG_CONFIG_SYSROOT_DIR='%s/stage' "
                          "pkg-config --cflags --libs ferc && PKG_CONFIG_PATH='%s/lib/pkgconfig' pkg-config --modversion ferc)",
                     p, dir, p);
    char *out = cli_out(dir);
    CHECK_MSG(st == 0, "pkg-config ferc failed: %s", out);
    char *nl = strchr(out, '\n');
    if (nl) *nl = 0;
    snprintf(buf, cap, "%s", out);
    CHECK_MSG(nl && strncmp(nl + 1, FERC_VERSION_STRING "\n", strlen(FERC_VERSION_STRING) + 1) == 0,
              "pkg-config --modversion ferc is not %s: %s", FERC_VERSION_STRING, nl ? nl + 1 : "");
    CHECK_MSG(strstr(buf, p) && strstr(buf, "-lferc"), "pkg-config does not point at the staged copy: %s", buf);
    free(out);
    return st == 0;
}

/* Build examples/NAME.c against the staged copy; 1 when it linked to libferc.so.0. */
static int build_example(const char *dir, const char *name, const char *flags) {
    int st = cli_run(dir, "(cc -std=c11 -Wall -Wextra -Werror -O1 'examples/%s.c' %s -o '%s/%s' && "
                          "readelf -d '%s/%s' | grep -q 'NEEDED.*libferc\\.so\\.0')",
                     name, flags, dir, name, dir, name);
    char *err = cli_err(dir);
    CHECK_MSG(st == 0, "examples/%s.c does not build against the installed ferc (or links no libferc.so.0): %s", name, err);
    free(err);
    return st == 0;
}

/* Run dir/NAME MODEL IMAGE with the staged library; its stdout (caller frees) or NULL. */
static char *run_example(const char *dir, const char *name, const char *image) {
    const char *p = staged(dir);
    int st = cli_run(dir, "LD_LIBRARY_PATH='%s/lib' '%s/%s' '%s/share/ferc/models/seed2.ferc' '%s'", p, dir, name, p, image);
    char *out = cli_out(dir), *err = cli_err(dir);
    CHECK_MSG(st == 0, "%s exited %d: %s%s", name, st, out, err);
    free(err);
    /* the staged library, not one found elsewhere, is the one loaded */
    st = cli_run(dir, "(LD_LIBRARY_PATH='%s/lib' ldd '%s/%s' | grep -q 'libferc.so.0 => %s/lib/')", p, dir, name, p);
    CHECK_MSG(st == 0, "%s does not load the staged libferc.so.0", name);
    return out;
}

/* The image the examples and the CLI read: the astronaut photo (one face)
 * when python3-skimage is installed, else a gray 64x64 PNG written here
 * (a "face crop" without a face: the runs still have to succeed). */
static const char *test_image(const char *dir, int *photo) {
    *photo = access(PHOTO, R_OK) == 0;
    if (*photo) return PHOTO;
    static char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/gray.png", dir);
    uint8_t px[64 * 64];
    for (int i = 0; i < 64 * 64; i++) px[i] = (uint8_t)(i * 7 % 251);
    ferc_image img = {.w = 64, .h = 64, .c = 1, .data = px};
    ferc_error err;
    CHECK_MSG(ferc_image_save_png(path, &img, &err) == FERC_OK, "%s", err.msg);
    return path;
}

/* The box of the first face in the installed CLI's JSON ("box": [x, y, w, h]). */
static int json_box(const char *json, int box[4]) {
    const char *b = json ? strstr(json, "\"box\": [") : NULL;
    return b && sscanf(b, "\"box\": [%d, %d, %d, %d]", &box[0], &box[1], &box[2], &box[3]) == 4;
}

TEST(install_builds_and_runs_the_examples_with_pkg_config) {
    const char *dir = test_tmpdir(), *why;
    if (!stage_install(dir, &why)) { if (why) SKIP(why); return; }
    check_files(staged(dir));
    char flags[2048];
    if (!pkg_flags(dir, flags, sizeof flags)) return;
    int photo, built = 0, cli_box[4] = {-1, -1, -1, -1};
    const char *image = test_image(dir, &photo);
    if (photo) {
        CHECK_EQ_INT(cli_run(dir, "'%s' predict --json --model models/seed2.ferc '%s'", cli_ferc(), image), 0);
        char *json = cli_out(dir);
        CHECK_MSG(json_box(json, cli_box), "no face in: %s", json);
        free(json);
    }
    DIR *d = opendir("examples");
    CHECK(d != NULL);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 3 || strcmp(e->d_name + n - 2, ".c") != 0) continue;
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)(n - 2), e->d_name);
        if (!build_example(dir, name, flags)) continue;
        built++;
        char *out = run_example(dir, name, image);
        CHECK_MSG(out && *out, "%s printed nothing", name);
        if (photo && strcmp(name, "detect_example") == 0) { /* the photo's face, where `ferc predict` finds it */
            char want[128];
            snprintf(want, sizeof want, "1 face\nface 1: x=%d y=%d w=%d h=%d", cli_box[0], cli_box[1], cli_box[2],
                     cli_box[3]);
            CHECK_MSG(out && strstr(out, want), "detect_example on the photo, want '%s':\n%s", want, out);
        }
        free(out);
    }
    if (d) closedir(d);
    CHECK_MSG(built >= 2, "only %d examples built", built);
}

TEST(install_cli_finds_its_models_from_another_folder) {
    const char *dir = test_tmpdir(), *why;
    if (!stage_install(dir, &why)) { if (why) SKIP(why); return; }
    const char *p = staged(dir);
    int photo;
    const char *image = test_image(dir, &photo);
    int st = cli_run(dir, "(mkdir -p '%s/elsewhere' && cd '%s/elsewhere' && env -u FERC_MODEL '%s/bin/ferc' predict --json '%s')",
                     dir, dir, p, image);
    char *out = cli_out(dir), *err = cli_err(dir);
    CHECK_MSG(st == 0, "the installed ferc predict exited %d: %s", st, err);
    char want[PATH_MAX + 64];
    snprintf(want, sizeof want, "model: %s/bin/../share/ferc/models/seed2.ferc", p);
    CHECK_MSG(strstr(err, want) != NULL, "the installed ferc did not use its installed model (%s):\n%s", want, err);
    /* the same answer, byte for byte, as the repository's ferc with the repository's model */
    CHECK_EQ_INT(cli_run(dir, "'%s' predict --json --model models/seed2.ferc '%s'", cli_ferc(), image), 0);
    char *repo = cli_out(dir);
    CHECK_MSG(repo && strcmp(repo, out) == 0 && strstr(out, "\"faces\": ["), "installed:\n%s\nrepository:\n%s", out, repo);
    if (photo) CHECK_MSG(strstr(out, "\"faces\": [{"), "no face found in the photo: %s", out);
    free(repo);
    free(out);
    free(err);
    st = cli_run(dir, "'%s/bin/ferc' --version", p);
    out = cli_out(dir);
    CHECK_MSG(st == 0 && strcmp(out, "ferc " FERC_VERSION_STRING "\n") == 0, "ferc --version: %s", out);
    free(out);
}

TEST(install_man_page_covers_every_command) {
    NEED_FERC();
    char *man = test_read("docs/ferc.1", NULL);
    CHECK_MSG(man != NULL, "docs/ferc.1 missing");
    if (!man) return;
    const char *dir = test_tmpdir();
    CHECK_EQ_INT(cli_run(dir, "'%s' --help", ferc), 0);
    char *help = cli_out(dir), *line = strstr(help, "commands:\n");
    int commands = 0;
    for (line = line ? strchr(line, '\n') + 1 : NULL; line && line[0] == ' ' && line[1] == ' '; line = strchr(line, '\n') + 1) {
        char name[64], want[80];
        if (sscanf(line, "%63s", name) != 1) break;
        commands++;
        snprintf(want, sizeof want, "\n.SS %s\n", name);
        CHECK_MSG(strstr(man, want) != NULL, "docs/ferc.1 has no section for 'ferc %s'", name);
        if (!strchr(line, '\n')) break;
    }
    CHECK_MSG(commands >= 9, "read %d commands from ferc --help", commands);
    CHECK_MSG(strstr(man, ".SH EXIT STATUS") != NULL, "docs/ferc.1 has no EXIT STATUS");
    if (system("command -v man >/dev/null 2>&1") == 0) {  /* renders without a warning */
        int st = cli_run(dir, "MANWIDTH=80 man --warnings -E UTF-8 -l docs/ferc.1");
        char *err = cli_err(dir), *out = cli_out(dir);
        CHECK_MSG(st == 0 && !*err && strstr(out, "EXIT STATUS"), "man -l docs/ferc.1 (exit %d): %s", st, err);
        free(err);
        free(out);
    }
    free(help);
    free(man);
}
