/* test_structure.c — guards the shape of the code, not its behaviour: the
 * static library exports only `ferc_` names (a user's program may define its
 * own `gemm` or `plot_curves`), the public header compiles on its own as C11
 * and as C++, and no function in src/ or cli/ grows past 150 lines. These
 * were the findings of the structure review (issue 11); the tests keep them
 * from coming back. */
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The library next to the ferc binary under test (build/ or build-asan/). */
static void lib_path(char *buf, size_t cap) {
    const char *bin = getenv("FERC_BIN") ? getenv("FERC_BIN") : "build/ferc";
    const char *slash = strrchr(bin, '/');
    int dir = slash ? (int)(slash - bin) : 0;
    snprintf(buf, cap, "%.*s%slibferc.a", dir, bin, dir ? "/" : "");
}

TEST(structure_library_exports_only_ferc_names) {
    char lib[512], cmd[700], line[512];
    lib_path(lib, sizeof lib);
    FILE *f = fopen(lib, "rb");
    if (!f) SKIP("the static library is not built next to FERC_BIN");
    fclose(f);
    snprintf(cmd, sizeof cmd, "nm -g --defined-only '%s' 2>&1", lib);
    FILE *p = popen(cmd, "r");
    CHECK(p != NULL);
    if (!p) return;
    int symbols = 0, foreign = 0;
    while (fgets(line, sizeof line, p)) {
        char addr[64], kind[8], name[400];
        if (sscanf(line, "%63s %7s %399s", addr, kind, name) != 3) continue;
        symbols++;
        if (strncmp(name, "ferc_", 5) != 0) {
            if (foreign++ < 10) test_fail(__FILE__, __LINE__, "exported: %s", name);
        }
    }
    CHECK(pclose(p) == 0);
    CHECK_MSG(symbols > 50, "only %d exported symbols read from %s", symbols, lib);
    CHECK_EQ_INT(foreign, 0);
}

/* libferc.so exports exactly the functions include/ferc.h declares: no
 * internal helper (ferc_fail, net_build...) and no public one missing. */
TEST(structure_shared_library_exports_exactly_the_header) {
    char lib[512], cmd[1600];
    lib_path(lib, sizeof lib);
    size_t n = strlen(lib);
    snprintf(lib + n - 2, sizeof lib - n + 2, ".so");   /* libferc.a -> libferc.so */
    if (getenv("FERC_ASAN")) SKIP("the sanitizer build makes no libferc.so");
    FILE *f = fopen(lib, "rb");
    if (!f) SKIP("libferc.so is not built next to FERC_BIN (make)");
    fclose(f);
    const char *dir = test_tmpdir();
    snprintf(cmd, sizeof cmd,
             "cc -E -P -Iinclude include/ferc.h | grep -oE '\\bferc_[a-z0-9_]+ *\\(' | sed 's/ *(//' | sort -u > %s/h.txt && "
             "nm -D --defined-only '%s' | awk '{print $3}' | sort -u > %s/so.txt && "
             "diff %s/h.txt %s/so.txt > %s/diff.txt", dir, lib, dir, dir, dir, dir);
    int st = system(cmd);
    char *diff = test_read(test_path(dir, "diff.txt"), NULL), *h = test_read(test_path(dir, "h.txt"), NULL);
    CHECK_MSG(st == 0, "exports of %s differ from include/ferc.h ('<' declared, not exported; '>' exported, "
                       "not declared):\n%s", lib, diff ? diff : "");
    int lines = 0;
    for (const char *p = h; p && *p; p++) lines += *p == '\n';
    CHECK_MSG(lines > 50, "only %d functions read from include/ferc.h", lines);
    free(diff);
    free(h);
}

TEST(structure_public_header_stands_alone) {
    const char *dir = test_tmpdir();
    char cmd[1400];
    /* C11 pedantic and C++: the header needs nothing but itself. */
    snprintf(cmd, sizeof cmd,
             "printf '#include \"ferc.h\"\\nint main(void){return ferc_status_name(FERC_OK)==0;}\\n' > %s/h.c && "
             "cc -std=c11 -pedantic -Wall -Wextra -Werror -Iinclude -c %s/h.c -o %s/h.o 2>&1 && "
             "(! command -v g++ >/dev/null || g++ -x c++ -Wall -Werror -Iinclude -c %s/h.c -o %s/hpp.o 2>&1)",
             dir, dir, dir, dir, dir);
    CHECK_MSG(system(cmd) == 0, "include/ferc.h does not compile alone: %s", cmd);
}

TEST(structure_functions_fit_a_screen) {
    if (system("command -v python3 >/dev/null 2>&1") != 0) SKIP("python3 absent");
    /* funclen.py prints each function over the limit and exits 1. */
    int st = system("python3 scripts/funclen.py --max 150 src/*/*.c cli/*.c");
    CHECK_MSG(st == 0, "functions over 150 lines (listed above)");
}
