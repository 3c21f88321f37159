/* video_boxes.c — `--boxes FILE.csv` of `ferc video` and `ferc predict`:
 * face boxes found by another detector, one per line as KEY,x,y,w,h (KEY a
 * frame number for video, an image path or file name for predict), so that
 * ferc classifies (and tracks) those faces instead of running its cascade.
 * A header line is allowed; any other malformed line stops the command
 * with FILE:LINE and what was expected, before any work is done. */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* One parsed line: 1 ok, 0 malformed. The key is the text before the
 * first comma of the last four (a path may hold commas). */
static int parse_line(char *line, char **key, ferc_box *b) {
    long v[4];
    char *end = line + strlen(line);
    for (int k = 3; k >= 0; k--) {
        char *comma = end;
        while (comma > line && comma[-1] != ',') comma--;
        if (comma == line) return 0;
        char *e;
        errno = 0;
        v[k] = strtol(comma, &e, 10);
        while (*e == ' ' || *e == '\t') e++;
        if (e == comma || e != end || errno || v[k] < -1000000 || v[k] > 1000000) return 0;
        end = comma - 1;
        *end = 0;
    }
    if (v[2] <= 0 || v[3] <= 0 || end == line) return 0;
    *key = line;
    *b = (ferc_box){.x = (int)v[0], .y = (int)v[1], .w = (int)v[2], .h = (int)v[3]};
    return 1;
}

/* Append (key, b): 0 when out of memory. */
static int push(char ***keys, ferc_box **boxes, int *n, int *cap, const char *key, ferc_box b) {
    if (*n == *cap) {
        int nc = *cap ? 2 * *cap : 64;
        char **k = realloc(*keys, sizeof *k * (size_t)nc);
        if (!k) return 0;
        *keys = k;
        ferc_box *q = realloc(*boxes, sizeof *q * (size_t)nc);
        if (!q) return 0;
        *boxes = q;
        *cap = nc;
    }
    if (!((*keys)[*n] = strdup(key))) return 0;
    (*boxes)[(*n)++] = b;
    return 1;
}

int cli_read_boxes(const char *cmd, const char *path, char ***keys, ferc_box **boxes, int *n) {
    *keys = NULL;
    *boxes = NULL;
    *n = 0;
    FILE *f = fopen(path, "r");
    if (!f) return fprintf(stderr, "ferc %s: --boxes %s: %s\n", cmd, path, strerror(errno)), 1;
    char line[8192];
    int cap = 0, lineno = 0, bad = 0;
    while (!bad && fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = 0;
        if (!line[strspn(line, " \t")]) continue;
        char *key;
        ferc_box b;
        char copy[sizeof line];
        snprintf(copy, sizeof copy, "%s", line);
        if (parse_line(copy, &key, &b)) bad = !push(keys, boxes, n, &cap, key, b) ? 2 : 0;
        else if (lineno > 1 || !strchr(line, ',') || strpbrk(line + strcspn(line, ","), "0123456789")) bad = 1;
    }
    if (!bad && ferror(f)) bad = 3;
    fclose(f);
    if (bad == 1)
        fprintf(stderr, "ferc %s: --boxes %s:%d: expected KEY,x,y,w,h (whole numbers, w and h > 0)\n", cmd, path,
                lineno);
    else if (bad == 2) fprintf(stderr, "ferc %s: out of memory\n", cmd);
    else if (bad == 3) fprintf(stderr, "ferc %s: --boxes %s: read error\n", cmd, path);
    if (!bad) return 0;
    for (int i = 0; i < *n; i++) free((*keys)[i]);
    free(*keys);
    free(*boxes);
    *keys = NULL;
    *boxes = NULL;
    *n = 0;
    return 1;
}
