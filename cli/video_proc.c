/* video_proc.c — the ffmpeg side of `ferc video`: child processes started
 * with fork/exec (file names never pass through a shell; their stderr goes
 * to a scratch file so that the user sees one line of ours), probing a file
 * with ffprobe, and reading live input (a camera or a stream on stdin),
 * which cannot be probed beforehand: ffmpeg writes it as YUV4MPEG2, whose
 * header carries the frame size and rate, and each frame is turned into RGB
 * here. */
#include "video_cli.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- child processes ---- */

/* Start argv[0] with a pipe to its stdout (to_child = 0) or from its stdin
 * (to_child = 1); its stdin is /dev/null (to_child = 0), its stderr a
 * scratch file and its stdout ours (to_child = 1, unused by ffmpeg). */
int video_spawn(child *c, char *const argv[], int to_child, int keep_stdin) {
    int fd[2];
    *c = (child){.pid = 0};
    if (!(c->err = tmpfile())) return 0;
    pid_t pid = -1;
    if (pipe(fd) == 0) {
        fflush(NULL);
        if ((pid = fork()) < 0) { close(fd[0]); close(fd[1]); }
    }
    if (pid < 0) { fclose(c->err); c->err = NULL; return 0; }
    if (pid == 0) {
        signal(SIGPIPE, SIG_DFL); /* we ignore it; a decoder we stop reading should just end */
        if (to_child) {
            dup2(fd[0], 0);
            setpgid(0, 0); /* a terminal's Ctrl-C is for us: the encoder finishes when its input ends */
        }
        else {
            dup2(fd[1], 1);
            FILE *nul = keep_stdin ? NULL : fopen("/dev/null", "r"); /* `ferc video -`: ffmpeg reads ours */
            if (nul) dup2(fileno(nul), 0);
        }
        dup2(fileno(c->err), 2);
        close(fd[0]);
        close(fd[1]);
        execvp(argv[0], argv);
        _exit(127);
    }
    cli_tmp_writer(pid, 1);
    close(to_child ? fd[0] : fd[1]);
    c->f = fdopen(to_child ? fd[1] : fd[0], to_child ? "w" : "r");
    c->pid = pid;
    if (!c->f) {
        close(to_child ? fd[1] : fd[0]);
        waitpid(pid, NULL, 0);
        cli_tmp_writer(pid, 0);
        fclose(c->err);
        *c = (child){.pid = 0};
        return 0;
    }
    return 1;
}

/* The last non-empty line the child wrote to stderr, into why. */
static void last_words(FILE *e, char *why, size_t cap) {
    char line[512];
    *why = 0;
    if (!e || cap == 0) return;
    rewind(e);
    while (fgets(line, sizeof line, e)) {
        line[strcspn(line, "\r\n")] = 0;
        if (line[strspn(line, " \t")]) snprintf(why, cap, "%s", line);
    }
}

/* Close our end and wait: the child's exit status (127: not found) and,
 * when why is given, its last message. */
int video_finish(child *c, char *why, size_t cap) {
    if (c->f) fclose(c->f);
    c->f = NULL;
    int st = 0;
    if (c->pid > 0 && waitpid(c->pid, &st, 0) < 0) st = -1;
    if (c->pid > 0) cli_tmp_writer(c->pid, 0);
    c->pid = 0;
    if (why) last_words(c->err, why, cap);
    if (c->err) fclose(c->err);
    c->err = NULL;
    if (st < 0) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/* ---- probing ---- */

double video_ratio(const char *s, char *keep, size_t cap) {
    long a = 0, b = 1;
    if (sscanf(s, "%ld/%ld", &a, &b) < 1 || a <= 0 || b <= 0) return 0;
    if (keep && snprintf(keep, cap, "%ld/%ld", a, b) >= (int)cap) return 0;
    return (double)a / (double)b;
}

/* 1 ok, 0 not a video (why: ffprobe's last line), -1 ffprobe missing. */
int video_probe(const char *input, vinfo *vi, char *why, size_t cap) {
    char *argv[] = {"ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                    "stream=width,height,avg_frame_rate,r_frame_rate,nb_frames:stream_tags=rotate:"
                    "stream_side_data=rotation:format=duration",
                    "-of", "default=noprint_wrappers=1", (char *)input, NULL};
    child c;
    if (!video_spawn(&c, argv, 0, 0)) return -1;
    char line[256], avg[32] = "", rr[32] = "";
    double duration = 0;
    int rot = 0;
    memset(vi, 0, sizeof *vi);
    while (fgets(line, sizeof line, c.f)) {
        line[strcspn(line, "\r\n")] = 0;
        char *eq = strchr(line, '=');
        if (!eq) continue;
        *eq = 0;
        const char *k = line, *v = eq + 1;
        if (!strcmp(k, "width")) vi->w = atoi(v);
        else if (!strcmp(k, "height")) vi->h = atoi(v);
        else if (!strcmp(k, "avg_frame_rate")) snprintf(avg, sizeof avg, "%s", v);
        else if (!strcmp(k, "r_frame_rate")) snprintf(rr, sizeof rr, "%s", v);
        else if (!strcmp(k, "nb_frames")) vi->frames = atol(v);
        else if (!strcmp(k, "duration")) duration = atof(v);
        else if (!strcmp(k, "TAG:rotate") || !strcmp(k, "rotation")) rot = atoi(v);
    }
    int st = video_finish(&c, why, cap);
    if (st == 127) return -1;
    if (st != 0 || vi->w <= 0 || vi->h <= 0) return 0;
    if (abs(rot) % 180 == 90) { int t = vi->w; vi->w = vi->h; vi->h = t; } /* ffmpeg rotates on decoding */
    vi->fps = video_ratio(avg, vi->rate, sizeof vi->rate);
    if (vi->fps <= 0 || vi->fps > 1000) vi->fps = video_ratio(rr, vi->rate, sizeof vi->rate);
    if (vi->fps <= 0 || vi->fps > 1000) { vi->fps = 25; snprintf(vi->rate, sizeof vi->rate, "25"); }
    if (vi->frames <= 0 && duration > 0) vi->frames = (long)llround(duration * vi->fps);
    return 1;
}

/* ---- live input: YUV4MPEG2 from ffmpeg ---- */

int video_y4m_header(FILE *f, vinfo *vi) {
    char line[512];
    if (!fgets(line, sizeof line, f) || strncmp(line, "YUV4MPEG2 ", 10) != 0) return 0;
    *vi = (vinfo){.w = 0};
    long a = 0, b = 0;
    int c444 = 0;
    for (char *tok = strtok(line + 10, " \n"); tok; tok = strtok(NULL, " \n")) {
        if (tok[0] == 'W') vi->w = atoi(tok + 1);
        else if (tok[0] == 'H') vi->h = atoi(tok + 1);
        else if (tok[0] == 'F' && sscanf(tok + 1, "%ld:%ld", &a, &b) == 2 && a > 0 && b > 0) {
            vi->fps = (double)a / (double)b;
            snprintf(vi->rate, sizeof vi->rate, "%ld/%ld", a, b);
        } else if (tok[0] == 'C') c444 = strncmp(tok + 1, "444", 3) == 0 && (tok[4] == 0 || tok[4] == ' ');
    }
    if (!(vi->fps > 0 && vi->fps <= 1000)) { vi->fps = 25; snprintf(vi->rate, sizeof vi->rate, "25"); }
    return c444 && vi->w > 0 && vi->h > 0 && vi->w <= 16384 && vi->h <= 16384;
}

static inline uint8_t clip255(int v) { return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v); }

int video_y4m_frame(FILE *f, const vinfo *vi, uint8_t *yuv, uint8_t *rgb) {
    char line[256];
    if (!fgets(line, sizeof line, f) || strncmp(line, "FRAME", 5) != 0) return 0;
    size_t np = (size_t)vi->w * vi->h;
    if (fread(yuv, 1, 3 * np, f) != 3 * np) return 0;
    const uint8_t *Y = yuv, *U = yuv + np, *V = yuv + 2 * np;
    for (size_t i = 0; i < np; i++) { /* BT.601, limited range: what swscale assumes for rgb24 */
        int c = 298 * (Y[i] - 16), d = U[i] - 128, e = V[i] - 128;
        rgb[3 * i] = clip255((c + 409 * e + 128) >> 8);
        rgb[3 * i + 1] = clip255((c - 100 * d - 208 * e + 128) >> 8);
        rgb[3 * i + 2] = clip255((c + 516 * d + 128) >> 8);
    }
    return 1;
}
