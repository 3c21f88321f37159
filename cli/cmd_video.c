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

/* ---- output ---- */


int cmd_video(int argc, char **argv) {
    const char *input = NULL, *csv = NULL, *annotate = NULL, *model = NULL, *cascade = NULL;
    int every = 1;
    float margin = 0.1f;
    ferc_detect_opts det;
    ferc_detect_opts_default(&det);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
#define VAL() do { if (!(v = cli_value(argc, argv, &i, a))) return 2; } while (0)
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { help(); return 0; }
        else if (cli_is(a, "--csv")) { VAL(); csv = v; }
        else if (cli_is(a, "--annotate")) { VAL(); annotate = v; }
        else if (cli_is(a, "--model")) { VAL(); model = v; }
        else if (cli_is(a, "--cascade")) { VAL(); cascade = v; }
        else if (cli_is(a, "--every")) { VAL(); if (!cli_int("video", a, v, 1, 1000000, &every)) return 2; }
        else if (cli_is(a, "--margin")) { VAL(); if (!cli_float("video", a, v, 0, 2, &margin)) return 2; }
        else if (cli_is(a, "--scale-factor")) {
            float f;
            VAL();
            if (!cli_float("video", a, v, 1.0001, 10, &f)) return 2;
            det.scale_factor = f;
        }
        else if (cli_is(a, "--min-neighbors")) { VAL(); if (!cli_int("video", a, v, 0, 1000, &det.min_neighbors)) return 2; }
        else if (cli_is(a, "--min-size")) { VAL(); if (!cli_int("video", a, v, 0, 100000, &det.min_size)) return 2; }
        else if (cli_is(a, "--max-size")) { VAL(); if (!cli_int("video", a, v, 0, 100000, &det.max_size)) return 2; }
        else if (cli_is(a, "--threads")) { VAL(); if (!cli_int("video", a, v, 1, 1024, &det.threads)) return 2; }
        else if (a[0] == '-' && a[1]) return cli_usage_error("video", "unknown option '%s'", a);
        else if (!input) input = a;
        else return cli_usage_error("video", "one INPUT only ('%s' and '%s')", input, a);
#undef VAL
    }
    if (!input) return cli_usage_error("video", "give the INPUT video");
    if (!csv) return cli_usage_error("video", "--csv FILE is required");

    vinfo vi;
    int pr = probe(input, &vi);
    if (pr < 0) {
        fprintf(stderr, "ferc video: ffprobe not found: install the Debian package ffmpeg (apt-get install ffmpeg)\n");
        return 1;
    }
    if (pr == 0) {
        fprintf(stderr, "ferc video: %s: not a readable video (ffprobe found no video stream)\n", input);
        return 1;
    }
    if ((size_t)vi.w * (size_t)vi.h > FERC_MAX_IMAGE_PIXELS) {
        fprintf(stderr, "ferc video: %s: frames of %dx%d are larger than the %u-pixel limit\n", input, vi.w, vi.h,
                FERC_MAX_IMAGE_PIXELS);
        return 1;
    }

    ferc_error err = {0};
    char mbuf[PATH_MAX];
    if (!model) model = cli_default_model(mbuf, sizeof mbuf);
    if (!model) {
        fprintf(stderr, "ferc video: no model: give --model FILE (looked for $FERC_MODEL, models/seed2.ferc, "
                        "models/seed.ferc and ../models next to the ferc executable)\n");
        return 1;
    }
    ferc_model *m = NULL;
    ferc_cascade *cas = NULL;
    if (ferc_model_load(model, &m, &err) != FERC_OK) return cli_error(&err);
    if (ferc_cascade_load(cascade, &cas, &err) != FERC_OK) { ferc_model_free(m); return cli_error(&err); }
    FILE *out = fopen(csv, "w");
    if (!out) {
        fprintf(stderr, "ferc video: --csv %s: %s\n", csv, strerror(errno));
        ferc_cascade_free(cas); ferc_model_free(m);
        return 1;
    }
    fputs("frame,time,face,x,y,w,h,emotion", out);
    for (int k = 0; k < FERC_NUM_CLASSES; k++) fprintf(out, ",%s", ferc_label_name(k));
    fputc('\n', out);

    /* A broken encoder pipe must become an error, not kill us. */
    signal(SIGPIPE, SIG_IGN);
    char size[64];
    snprintf(size, sizeof size, "%dx%d", vi.w, vi.h);
    char *dec_argv[] = {"ffmpeg", "-v", "error", "-nostdin", "-i", (char *)input, "-map", "0:v:0", "-an", "-sn",
                        "-r", vi.rate, "-f", "rawvideo", "-pix_fmt", "rgb24", "-", NULL};
    char *enc_argv[] = {"ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", size, "-r", vi.rate,
                        "-i", "-", "-i", (char *)input, "-map", "0:v:0", "-map", "1:a?", "-vf",
                        "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-c:v", "libx264", "-preset", "veryfast", "-crf", "20",
                        "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", (char *)annotate, NULL};
    child dec = {0}, enc = {0};
    int rc = 0;
    if (!spawn(&dec, dec_argv, 0)) {
        fprintf(stderr, "ferc video: cannot start ffmpeg: %s\n", strerror(errno));
        rc = 1;
    }
    if (!rc && annotate && !spawn(&enc, enc_argv, 1)) {
        fprintf(stderr, "ferc video: cannot start ffmpeg for %s: %s\n", annotate, strerror(errno));
        rc = 1;
    }
    size_t npx = (size_t)vi.w * vi.h;
    uint8_t *rgb = malloc(npx * 3), *gray = malloc(npx);
    int cap = 64, n = 0;
    ferc_box *boxes = malloc(sizeof(ferc_box) * (size_t)cap);
    float *probs = malloc(sizeof(float) * FERC_NUM_CLASSES * (size_t)cap);
    if (!rgb || !gray || !boxes || !probs) { fprintf(stderr, "ferc video: out of memory\n"); rc = 1; }
    long frame = 0, analysed = 0, faces = 0;
    double t0 = cli_now(), t_work = 0;
    while (!rc && fread(rgb, 1, npx * 3, dec.f) == npx * 3) {
        if (frame % every == 0) {
            double ta = cli_now();
            /* BT.601 luma, rounded as OpenCV 4's cvtColor (15-bit fixed point) */
            for (size_t i = 0; i < npx; i++)
                gray[i] = (uint8_t)((rgb[3 * i] * 9798u + rgb[3 * i + 1] * 19235u + rgb[3 * i + 2] * 3735u + 16384u) >> 15);
            int nf = 0;
            ferc_status st = ferc_detect_faces(cas, gray, vi.w, vi.h, vi.w, &det, boxes, cap, &nf, &err);
            if (st == FERC_OK && nf > cap) {
                ferc_box *nb = realloc(boxes, sizeof(ferc_box) * (size_t)nf);
                float *np = realloc(probs, sizeof(float) * FERC_NUM_CLASSES * (size_t)nf);
                if (nb) boxes = nb;
                if (np) probs = np;
                if (!nb || !np) { fprintf(stderr, "ferc video: out of memory\n"); rc = 1; break; }
                cap = nf;
                st = ferc_detect_faces(cas, gray, vi.w, vi.h, vi.w, &det, boxes, cap, &nf, &err);
            }
            if (st == FERC_OK && nf > 0) st = ferc_classify_faces(m, gray, vi.w, vi.h, vi.w, boxes, nf, margin, probs, &err);
            if (st != FERC_OK) { cli_progress_end(); rc = cli_error(&err); break; }
            n = nf;
            double t = (double)frame / vi.fps;
            if (n == 0) fprintf(out, "%ld,%.3f,,,,,,,,,,,,,\n", frame, t);
            for (int i = 0; i < n; i++) {
                const float *p = probs + (size_t)i * FERC_NUM_CLASSES;
                int top = 0;
                for (int k = 1; k < FERC_NUM_CLASSES; k++)
                    if (p[k] > p[top]) top = k;
                fprintf(out, "%ld,%.3f,%d,%d,%d,%d,%d,%s", frame, t, i + 1, boxes[i].x, boxes[i].y, boxes[i].w,
                        boxes[i].h, ferc_label_name(top));
                for (int k = 0; k < FERC_NUM_CLASSES; k++) fprintf(out, ",%.6f", p[k]);
                fputc('\n', out);
            }
            faces += n;
            analysed++;
            t_work += cli_now() - ta;
        }
        if (enc.f) {
            ferc_image im = {vi.w, vi.h, 3, rgb};
            if (ferc_draw_faces(&im, boxes, n, probs, &err) != FERC_OK) { cli_progress_end(); rc = cli_error(&err); break; }
            if (fwrite(rgb, 1, npx * 3, enc.f) != npx * 3) {
                cli_progress_end();
                fprintf(stderr, "ferc video: the encoder for %s stopped (see ffmpeg's message above)\n", annotate);
                rc = 1;
                break;
            }
        }
        frame++;
        double dt = cli_now() - t0;
        char extra[96];
        snprintf(extra, sizeof extra, "%.1f fps, %ld faces", dt > 0 ? frame / dt : 0.0, faces);
        cli_progress("video", frame, vi.frames > frame ? vi.frames : frame, extra);
    }
    cli_progress_end();
    if (dec.pid > 0) {
        if (rc) kill(dec.pid, SIGTERM);
        int st = finish(&dec);
        if (!rc && st == 127) { fprintf(stderr, "ferc video: ffmpeg not found: apt-get install ffmpeg\n"); rc = 1; }
        else if (!rc && st != 0) { fprintf(stderr, "ferc video: decoding %s failed (ffmpeg exit %d)\n", input, st); rc = 1; }
    }
    if (enc.pid > 0) {
        int st = finish(&enc);
        if (!rc && st != 0) { fprintf(stderr, "ferc video: encoding %s failed (ffmpeg exit %d)\n", annotate, st); rc = 1; }
    }
    if (fclose(out) != 0 && !rc) { fprintf(stderr, "ferc video: --csv %s: write error\n", csv); rc = 1; }
    if (!rc && frame == 0) { fprintf(stderr, "ferc video: %s: no frame decoded\n", input); rc = 1; }
    double dt = cli_now() - t0;
    if (!rc)
        fprintf(stderr,
                "video: %ld frames (%ld analysed, %ld faces) in %.2f s: %.1f frames/s overall, %.1f analysed "
                "frames/s for detection + classification\n",
                frame, analysed, faces, dt, dt > 0 ? frame / dt : 0.0, t_work > 0 ? analysed / t_work : 0.0);
    free(rgb); free(gray); free(boxes); free(probs);
    ferc_cascade_free(cas);
    ferc_model_free(m);
    return rc;
}
