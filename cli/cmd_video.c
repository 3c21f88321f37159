/* cmd_video.c — `ferc video`: the faces of a video, frame by frame, to CSV.
 * Frames are decoded by an `ffmpeg` child process (size and frame rate probed
 * with `ffprobe`) into raw RGB on a pipe; each analysed frame goes through the
 * Haar detector and the model; the annotated video is encoded by a second
 * `ffmpeg` fed through another pipe. Children are started with fork/exec, so
 * file names never pass through a shell. */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void help(void) {
    printf(
        "usage: ferc video INPUT --csv OUT.csv [--annotate OUT.mp4] [--every N] [options]\n\n"
        "Decodes a video with ffmpeg (Debian package ffmpeg), finds the faces of every\n"
        "N-th frame with OpenCV's Haar cascade, classifies each one and writes a CSV with\n"
        "one row per face: frame,time,face,x,y,w,h,emotion,angry,disgust,fear,happy,sad,\n"
        "surprise,neutral (time in seconds = frame / frame rate; a frame without faces\n"
        "has one row with the face fields empty). With --annotate it also writes the video\n"
        "with boxes and labels drawn (H.264; the audio is kept), frames between two analysed\n"
        "ones showing the last results. A progress bar and the speed (frames/s) go to stderr.\n\n"
        "  --csv FILE           the CSV to write (required)\n"
        "  --annotate FILE      the annotated video to write (e.g. out.mp4)\n"
        "  --every N            analyse one frame in N (1)\n"
        "  --model FILE         a .ferc model (default: $FERC_MODEL, models/seed2.ferc,\n"
        "                       models/seed.ferc, or ../models next to the executable)\n"
        "  --margin F           grow each box by F times its size before cropping (0.1)\n"
        "  --scale-factor F     detector scale step (1.1)\n"
        "  --min-neighbors N    detector: raw detections a face needs, more than N (5)\n"
        "  --min-size N         detector: smallest face side in pixels (30)\n"
        "  --max-size N         detector: largest face side, 0 = none (0)\n"
        "  --cascade FILE       an OpenCV Haar cascade XML (default: opencv-data's\n"
        "                       haarcascade_frontalface_default.xml)\n"
        "  --threads N          (all cores)\n\n"
        "example:\n"
        "  ferc video talk.mp4 --csv talk.csv --annotate talk_faces.mp4 --every 2\n");
}

/* ---- child processes ---- */

typedef struct {
    FILE *f;
    pid_t pid;
} child;

/* Start argv[0] with a pipe to its stdout (to_child = 0) or from its stdin
 * (to_child = 1); the other standard stream is /dev/null (stdin) or ours. */
static int spawn(child *c, char *const argv[], int to_child) {
    int fd[2];
    if (pipe(fd) != 0) return 0;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) { close(fd[0]); close(fd[1]); return 0; }
    if (pid == 0) {
        if (to_child) dup2(fd[0], 0);
        else {
            dup2(fd[1], 1);
            FILE *nul = fopen("/dev/null", "r");
            if (nul) dup2(fileno(nul), 0);
        }
        close(fd[0]);
        close(fd[1]);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(to_child ? fd[0] : fd[1]);
    c->f = fdopen(to_child ? fd[1] : fd[0], to_child ? "w" : "r");
    c->pid = pid;
    if (!c->f) { close(to_child ? fd[1] : fd[0]); waitpid(pid, NULL, 0); return 0; }
    return 1;
}

/* Close our end and wait: the child's exit status (127: not found). */
static int finish(child *c) {
    if (c->f) fclose(c->f);
    c->f = NULL;
    int st = 0;
    if (c->pid > 0 && waitpid(c->pid, &st, 0) < 0) return -1;
    c->pid = 0;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/* ---- probing ---- */

typedef struct {
    int w, h;
    double fps;
    long frames;       /* 0 when unknown */
    char rate[48];     /* the rate as ffmpeg writes it, e.g. 30000/1001 */
} vinfo;

static double ratio(const char *s, char *keep, size_t cap) {
    long a = 0, b = 1;
    if (sscanf(s, "%ld/%ld", &a, &b) < 1 || a <= 0 || b <= 0) return 0;
    if (keep && snprintf(keep, cap, "%ld/%ld", a, b) >= (int)cap) return 0;
    return (double)a / (double)b;
}

static int probe(const char *input, vinfo *vi) {
    char *argv[] = {"ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                    "stream=width,height,avg_frame_rate,r_frame_rate,nb_frames:stream_tags=rotate:"
                    "stream_side_data=rotation:format=duration",
                    "-of", "default=noprint_wrappers=1", (char *)input, NULL};
    child c;
    if (!spawn(&c, argv, 0)) return -1;
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
    int st = finish(&c);
    if (st == 127) return -1;
    if (st != 0 || vi->w <= 0 || vi->h <= 0) return 0;
    if (abs(rot) % 180 == 90) { int t = vi->w; vi->w = vi->h; vi->h = t; } /* ffmpeg rotates on decoding */
    vi->fps = ratio(avg, vi->rate, sizeof vi->rate);
    if (vi->fps <= 0 || vi->fps > 1000) vi->fps = ratio(rr, vi->rate, sizeof vi->rate);
    if (vi->fps <= 0 || vi->fps > 1000) { vi->fps = 25; snprintf(vi->rate, sizeof vi->rate, "25"); }
    if (vi->frames <= 0 && duration > 0) vi->frames = (long)llround(duration * vi->fps);
    return 1;
}

/* ---- the command ---- */

typedef struct {
    const char *input, *csv, *annotate, *model, *cascade;
    int every;
    ferc_find_opts find;
} video_args;

/* -1 to go on, else the exit code (after --help or a usage error). */
static int parse_args(int argc, char **argv, video_args *a) {
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i], *v;
        int face = cli_face_option(argc, argv, &i, &a->find, &a->cascade);
#define VAL() do { if (!(v = cli_value(argc, argv, &i, s))) return 2; } while (0)
        if (face) { if (face < 0) return 2; }
        else if (!strcmp(s, "--help") || !strcmp(s, "-h")) { help(); return 0; }
        else if (cli_is(s, "--csv")) { VAL(); a->csv = v; }
        else if (cli_is(s, "--annotate")) { VAL(); a->annotate = v; }
        else if (cli_is(s, "--model")) { VAL(); a->model = v; }
        else if (cli_is(s, "--every")) { VAL(); if (!cli_int("video", s, v, 1, 1000000, &a->every)) return 2; }
        else if (s[0] == '-' && s[1]) return cli_usage_error("video", "unknown option '%s'", s);
        else if (!a->input) a->input = s;
        else return cli_usage_error("video", "one INPUT only ('%s' and '%s')", a->input, s);
#undef VAL
    }
    if (!a->input) return cli_usage_error("video", "give the INPUT video");
    if (!a->csv) return cli_usage_error("video", "--csv FILE is required");
    return -1;
}

/* The input's frame size and rate: 0, or 1 after saying why it cannot be used. */
static int check_input(const char *input, vinfo *vi) {
    int pr = probe(input, vi);
    if (pr < 0) {
        fprintf(stderr, "ferc video: ffprobe not found: install the Debian package ffmpeg (apt-get install ffmpeg)\n");
        return 1;
    }
    if (pr == 0) {
        fprintf(stderr, "ferc video: %s: not a readable video (ffprobe found no video stream)\n", input);
        return 1;
    }
    if ((size_t)vi->w * (size_t)vi->h > FERC_MAX_IMAGE_PIXELS) {
        fprintf(stderr, "ferc video: %s: frames of %dx%d are larger than the %u-pixel limit\n", input, vi->w, vi->h,
                FERC_MAX_IMAGE_PIXELS);
        return 1;
    }
    return 0;
}

typedef struct {
    const video_args *a;
    vinfo vi;
    ferc_model *model;
    ferc_cascade *cascade;
    FILE *out;              /* the CSV */
    child dec, enc;         /* ffmpeg decoding the input, and encoding the annotated copy */
    uint8_t *rgb, *gray;    /* the current frame */
    ferc_faces faces;       /* of the last analysed frame */
    long frame, analysed, nfaces;
    double t0, t_work;
} video;

/* The model, the cascade and the CSV with its header: 0, or the exit code
 * after reporting the problem. */
static int open_outputs(video *v) {
    const video_args *a = v->a;
    ferc_error err = {0};
    char mbuf[PATH_MAX];
    const char *model = cli_model_path("video", a->model, mbuf, sizeof mbuf);
    if (!model) return 1;
    if (ferc_model_load(model, &v->model, &err) != FERC_OK) return cli_error(&err);
    if (ferc_cascade_load(a->cascade, &v->cascade, &err) != FERC_OK) return cli_error(&err);
    if (!(v->out = fopen(a->csv, "w"))) {
        fprintf(stderr, "ferc video: --csv %s: %s\n", a->csv, strerror(errno));
        return 1;
    }
    fputs("frame,time,face,x,y,w,h,emotion", v->out);
    for (int k = 0; k < FERC_NUM_CLASSES; k++) fprintf(v->out, ",%s", ferc_label_name(k));
    fputc('\n', v->out);
    return 0;
}

/* The ffmpeg decoder (and the encoder with --annotate) and the frame
 * buffers: 0, or 1 after reporting the problem. */
static int start(video *v) {
    const video_args *a = v->a;
    /* A broken encoder pipe must become an error, not kill us. */
    signal(SIGPIPE, SIG_IGN);
    char size[64];
    snprintf(size, sizeof size, "%dx%d", v->vi.w, v->vi.h);
    char *dec_argv[] = {"ffmpeg", "-v", "error", "-nostdin", "-i", (char *)a->input, "-map", "0:v:0", "-an", "-sn",
                        "-r", v->vi.rate, "-f", "rawvideo", "-pix_fmt", "rgb24", "-", NULL};
    char *enc_argv[] = {"ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", size, "-r", v->vi.rate,
                        "-i", "-", "-i", (char *)a->input, "-map", "0:v:0", "-map", "1:a?", "-vf",
                        "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-c:v", "libx264", "-preset", "veryfast", "-crf", "20",
                        "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", (char *)a->annotate, NULL};
    if (!spawn(&v->dec, dec_argv, 0)) {
        fprintf(stderr, "ferc video: cannot start ffmpeg: %s\n", strerror(errno));
        return 1;
    }
    if (a->annotate && !spawn(&v->enc, enc_argv, 1)) {
        fprintf(stderr, "ferc video: cannot start ffmpeg for %s: %s\n", a->annotate, strerror(errno));
        return 1;
    }
    size_t npx = (size_t)v->vi.w * v->vi.h;
    v->rgb = malloc(npx * 3);
    v->gray = malloc(npx);
    if (!v->rgb || !v->gray) { fprintf(stderr, "ferc video: out of memory\n"); return 1; }
    return 0;
}

static void csv_rows(FILE *out, long frame, double t, const ferc_faces *f) {
    if (f->n == 0) fprintf(out, "%ld,%.3f,,,,,,,,,,,,,\n", frame, t);
    for (int i = 0; i < f->n; i++) {
        const float *p = f->probs + (size_t)i * FERC_NUM_CLASSES;
        const ferc_box *b = &f->boxes[i];
        int top = 0;
        for (int k = 1; k < FERC_NUM_CLASSES; k++)
            if (p[k] > p[top]) top = k;
        fprintf(out, "%ld,%.3f,%d,%d,%d,%d,%d,%s", frame, t, i + 1, b->x, b->y, b->w, b->h, ferc_label_name(top));
        for (int k = 0; k < FERC_NUM_CLASSES; k++) fprintf(out, ",%.6f", p[k]);
        fputc('\n', out);
    }
}

/* The faces of the current frame, to the CSV: 0, or the exit code. */
static int analyse(video *v) {
    double ta = ferc_now();
    ferc_error err = {0};
    ferc_rgb_to_gray(v->rgb, (size_t)v->vi.w * v->vi.h, v->gray);
    if (ferc_find_faces(v->cascade, v->model, v->gray, v->vi.w, v->vi.h, v->vi.w, &v->a->find, &v->faces, &err) !=
        FERC_OK) {
        cli_progress_end();
        return cli_error(&err);
    }
    csv_rows(v->out, v->frame, (double)v->frame / v->vi.fps, &v->faces);
    v->nfaces += v->faces.n;
    v->analysed++;
    v->t_work += ferc_now() - ta;
    return 0;
}

/* The current frame with the last analysed faces drawn, to the encoder. */
static int encode(video *v) {
    ferc_error err = {0};
    ferc_image im = {.w = v->vi.w, .h = v->vi.h, .c = 3, .data = v->rgb};
    if (ferc_draw_faces(&im, v->faces.boxes, v->faces.n, v->faces.probs, &err) != FERC_OK) {
        cli_progress_end();
        return cli_error(&err);
    }
    size_t bytes = (size_t)v->vi.w * v->vi.h * 3;
    if (fwrite(v->rgb, 1, bytes, v->enc.f) != bytes) {
        cli_progress_end();
        fprintf(stderr, "ferc video: the encoder for %s stopped (see ffmpeg's message above)\n", v->a->annotate);
        return 1;
    }
    return 0;
}

/* Every decoded frame: analysed (one in --every), drawn and encoded. */
static int run_frames(video *v) {
    size_t bytes = (size_t)v->vi.w * v->vi.h * 3;
    v->t0 = ferc_now();
    while (fread(v->rgb, 1, bytes, v->dec.f) == bytes) {
        int rc = v->frame % v->a->every == 0 ? analyse(v) : 0;
        if (!rc && v->enc.f) rc = encode(v);
        if (rc) return rc;
        v->frame++;
        double dt = ferc_now() - v->t0;
        char extra[96];
        snprintf(extra, sizeof extra, "%.1f fps, %ld faces", dt > 0 ? v->frame / dt : 0.0, v->nfaces);
        cli_progress("video", v->frame, v->vi.frames > v->frame ? v->vi.frames : v->frame, extra);
    }
    return 0;
}

/* Wait for the ffmpegs, close the CSV and print the speeds: the exit code
 * (rc, or 1 when one of those fails). */
static int finish_all(video *v, int rc) {
    const video_args *a = v->a;
    cli_progress_end();
    if (v->dec.pid > 0) {
        if (rc) kill(v->dec.pid, SIGTERM);
        int st = finish(&v->dec);
        if (!rc && st == 127) { fprintf(stderr, "ferc video: ffmpeg not found: apt-get install ffmpeg\n"); rc = 1; }
        else if (!rc && st != 0) { fprintf(stderr, "ferc video: decoding %s failed (ffmpeg exit %d)\n", a->input, st); rc = 1; }
    }
    if (v->enc.pid > 0) {
        int st = finish(&v->enc);
        if (!rc && st != 0) { fprintf(stderr, "ferc video: encoding %s failed (ffmpeg exit %d)\n", a->annotate, st); rc = 1; }
    }
    if (fclose(v->out) != 0 && !rc) { fprintf(stderr, "ferc video: --csv %s: write error\n", a->csv); rc = 1; }
    if (!rc && v->frame == 0) { fprintf(stderr, "ferc video: %s: no frame decoded\n", a->input); rc = 1; }
    double dt = ferc_now() - v->t0;
    if (!rc)
        fprintf(stderr,
                "video: %ld frames (%ld analysed, %ld faces) in %.2f s: %.1f frames/s overall, %.1f analysed "
                "frames/s for detection + classification\n",
                v->frame, v->analysed, v->nfaces, dt, dt > 0 ? v->frame / dt : 0.0,
                v->t_work > 0 ? v->analysed / v->t_work : 0.0);
    return rc;
}

int cmd_video(int argc, char **argv) {
    video_args a = {.every = 1};
    ferc_find_opts_default(&a.find);
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0) return rc;
    video v = {.a = &a};
    if ((rc = check_input(a.input, &v.vi))) return rc;
    if (!(rc = open_outputs(&v))) {
        rc = start(&v);
        if (!rc) rc = run_frames(&v);
        rc = finish_all(&v, rc);
    }
    free(v.rgb);
    free(v.gray);
    ferc_faces_free(&v.faces);
    ferc_cascade_free(v.cascade);
    ferc_model_free(v.model);
    return rc;
}
