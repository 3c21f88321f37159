/* test_readme.c — the README's quick start is what a new user copies first,
 * so this test copies it too: it takes the command between the
 * `quickstart-command` and `quickstart-output` markers of README.md, runs it
 * (with the binary under test in place of ./build/ferc) and requires its
 * standard output to be the README's output block, byte for byte. A changed
 * default model or output format then fails here until the README says so. */
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The text of the first ``` block after `marker` (without the fences). */
static int fenced_after(const char *doc, const char *marker, char *out, size_t cap) {
    const char *m = strstr(doc, marker);
    if (!m) return -1;
    const char *open = strstr(m, "```\n");
    if (!open) return -1;
    open += 4;
    const char *close = strstr(open, "```");
    if (!close || (size_t)(close - open) >= cap) return -1;
    memcpy(out, open, (size_t)(close - open));
    out[close - open] = 0;
    return (int)(close - open);
}

static char *read_all(FILE *f, size_t *len) {
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    size_t r;
    while (buf && (r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (n + 1 == cap) { char *b = realloc(buf, cap *= 2); if (!b) { free(buf); return NULL; } buf = b; }
    }
    if (buf) buf[n] = 0;
    *len = n;
    return buf;
}

TEST(readme_quick_start_output_matches) {
    FILE *f = fopen("README.md", "rb");
    CHECK(f != NULL);
    if (!f) return;
    size_t len;
    char *doc = read_all(f, &len);
    fclose(f);
    char cmd[1024], want[4096];
    CHECK(fenced_after(doc, "<!-- quickstart-command -->", cmd, sizeof cmd) > 0);
    CHECK(fenced_after(doc, "<!-- quickstart-output -->", want, sizeof want) > 0);
    free(doc);
    if (test_failed_now()) return;
    /* the photo the command names must exist (python3-skimage ships it) */
    char photo[512] = "";
    sscanf(cmd, "./build/ferc predict %511s", photo);
    if (access(photo, R_OK) != 0) SKIP("the quick start photo is absent (apt-get install python3-skimage)");
    const char *bin = getenv("FERC_BIN") ? getenv("FERC_BIN") : "build/ferc";
    char run[2048];
    cmd[strcspn(cmd, "\n")] = 0;
    snprintf(run, sizeof run, "%s%s 2>/dev/null", bin, cmd + strlen("./build/ferc"));
    FILE *p = popen(run, "r");
    CHECK(p != NULL);
    if (!p) return;
    size_t glen;
    char *got = read_all(p, &glen);
    CHECK_EQ_INT(pclose(p), 0);
    CHECK_MSG(got && strcmp(got, want) == 0, "README quick start output differs:\n--- README\n%s--- %s\n%s", want, run,
              got ? got : "(nothing)");
    free(got);
}
