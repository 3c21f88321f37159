/* video_run.c — one run of `ferc video`: check and open every output, load
 * the model, start ffmpeg, then per frame: track the faces (library:
 * ferc_track_faces), write their rows (flushed, so that a reader of a live
 * CSV or of a truncated file's CSV sees whole lines), draw them for
 * --annotate; at the end the summary and the timeline. From a file the
 * outputs appear whole or not at all; a truncated or damaged file keeps
 * the rows of the frames decoded and ends with an error; live input (a
 * camera, stdin) writes under the final names and stops cleanly on Ctrl-C. */
#include "video_cli.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static volatile sig_atomic_t stop_requested;
static void on_stop(int sig) { stop_requested = sig; }

typedef struct {
    const video_args *a;
    vinfo vi;
    ferc_model *model;
    ferc_cascade *cascade;
    ferc_tracker *tracker;
    cli_out csv, json, summary;
    char ann_tmp[PATH_MAX];   /* the annotated video until it is finished */
    child dec, enc;           /* ffmpeg decoding the input, and encoding the annotated copy */
    int enc_broken;           /* the encoder stopped reading */
    uint8_t *rgb, *gray, *yuv;
    ferc_box *draw_boxes;     /* the last analysed frame's tracks, for --annotate */
    float *draw_probs;
    int draw_n, draw_cap;
    char **bkeys;             /* --boxes, sorted by frame */
    ferc_box *bboxes;
    long *bframe;
    int bn, bnext;
    long frame, analysed, nfaces;
    double t0, t_work;
    int damaged;              /* the decoder complained after some frames */
} video;

/* The input exists (before anything else: one line, no ffprobe). */
static int input_exists(const char *input) {
    struct stat st;
    if (!strcmp(input, "-")) return 0;
    if (stat(input, &st) != 0) {
        fprintf(stderr, "ferc: %s: %s\n", input, errno == ENOENT ? "no such file" : strerror(errno));
        return 1;
    }
    if (S_ISDIR(st.st_mode)) { fprintf(stderr, "ferc: %s: is a folder, not a video\n", input); return 1; }
    return 0;
}

/* A file's frame size and rate: 0, or 1 after saying why it cannot be used. */
static int check_input(const char *input, vinfo *vi) {
    char why[512];
    int pr = video_probe(input, vi, why, sizeof why);
    if (pr < 0) {
        fprintf(stderr, "ferc video: ffprobe not found: install the Debian package ffmpeg (apt-get install ffmpeg)\n");
        return 1;
    }
    if (pr == 0) {
        size_t n = strlen(input);
        const char *w = strncmp(why, input, n) == 0 && !strncmp(why + n, ": ", 2) ? why + n + 2 : why;
        fprintf(stderr, "ferc video: %s: not a readable video (ffprobe: %s)\n", input, *w ? w : "no video stream");
        return 1;
    }
    return 0;
}

static int too_large(const video *v) {
    if ((size_t)v->vi.w * (size_t)v->vi.h <= FERC_MAX_IMAGE_PIXELS) return 0;
    fprintf(stderr, "ferc video: %s: frames of %dx%d are larger than the %u-pixel limit\n", v->a->input, v->vi.w,
            v->vi.h, FERC_MAX_IMAGE_PIXELS);
    return 1;
}

/* An output must not overwrite the input. */
static int same_file(const char *a, const char *b) {
    struct stat x, y;
    return stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

/* Live rows go straight to the final name (tmp[0] == 0 marks it): a reader
 * follows them, and an interrupted run leaves them complete. */
static int out_open(video *v, cli_out *o, const char *opt, const char *path) {
    if (!v->a->live || cli_is_stdout(path)) return cli_out_open(o, "video", opt, path);
    *o = (cli_out){.path = path, .cmd = "video", .opt = opt};
    if (cli_path_check("video", opt, path)) return 1;
    if (!(o->f = fopen(path, "w"))) return fprintf(stderr, "ferc video: %s %s: %s\n", opt, path, strerror(errno)), 1;
    return 0;
}

/* A live file stays when it holds rows (a failure later keeps them, as a
 * reader may have); one failed before the first frame is removed. */
static int out_close(cli_out *o, int ok, int has_rows) {
    if (!o->f || o->f == stdout || o->tmp[0]) return cli_out_close(o, ok);
    int bad = ferror(o->f) != 0;
    bad |= fclose(o->f) != 0;
    o->f = NULL;
    if (!ok && !has_rows) unlink(o->path);
    else if (bad) fprintf(stderr, "ferc video: %s %s: write error\n", o->opt, o->path);
    return bad && ok;
}

/* Every output checked and opened (under its temporary name, for a file):
 * 0, or 1 after saying why (nothing left behind). */
static int open_outputs(video *v) {
    const video_args *a = v->a;
    const char *outs[5] = {a->csv, a->json, a->annotate, a->summary, a->timeline};
    const char *names[5] = {"--csv", "--json", "--annotate", "--summary", "--timeline"};
    for (int i = 0; i < 5; i++)
        if (outs[i] && !cli_is_stdout(outs[i]) && same_file(outs[i], a->input)) {
            fprintf(stderr, "ferc video: %s %s is the input video\n", names[i], outs[i]);
            return 1;
        }
    if (a->csv && out_open(v, &v->csv, "--csv", a->csv)) return 1;
    if (a->json && out_open(v, &v->json, "--json", a->json)) return 1;
    if (a->summary && cli_out_open(&v->summary, "video", "--summary", a->summary)) return 1;
    if (a->timeline && cli_path_check("video", "--timeline", a->timeline)) return 1;
    if (a->annotate) {
        int fd = cli_tmp_reserve("video", "--annotate", a->annotate, v->ann_tmp, sizeof v->ann_tmp);
        if (fd < 0) return 1;
        close(fd);
    }
    return 0;
}

/* Keep (ok) or remove every output; 1 when keeping one failed (said). */
static int close_outputs(video *v, int ok) {
    int bad = out_close(&v->csv, ok, v->analysed > 0);
    bad |= out_close(&v->json, ok && !bad, v->analysed > 0);
    bad |= cli_out_close(&v->summary, ok && !bad);
    if (v->ann_tmp[0]) bad |= cli_tmp_commit("video", "--annotate", v->a->annotate, v->ann_tmp, ok && !bad);
    v->ann_tmp[0] = 0;
    return bad;
}

static const long *sort_frames;
static int cmp_frame(const void *x, const void *y) {
    int i = *(const int *)x, j = *(const int *)y;
    long a = sort_frames[i], b = sort_frames[j];
    return a < b ? -1 : a > b ? 1 : i - j;
}

/* --boxes: read, keys checked as frame numbers, sorted by frame (stable).
 * 0, or 1 after saying why. */
static int load_boxes(video *v) {
    char **keys;
    ferc_box *b;
    int n;
    if (cli_read_boxes("video", v->a->boxes, &keys, &b, &n)) return 1;
    v->bkeys = keys;
    v->bboxes = b;
    v->bn = n;
    long *fr = malloc(sizeof(long) * ((size_t)n + 1));
    int *idx = malloc(sizeof(int) * ((size_t)n + 1));
    ferc_box *sorted = malloc(sizeof(ferc_box) * ((size_t)n + 1));
    int rc = 0;
    if (!fr || !idx || !sorted) rc = fprintf(stderr, "ferc video: out of memory\n") > 0;
    for (int i = 0; i < n && !rc; i++) {
        char *end;
        errno = 0;
        fr[i] = strtol(keys[i], &end, 10);
        idx[i] = i;
        if (*end || errno || fr[i] < 0) {
            fprintf(stderr, "ferc video: --boxes %s: '%s' is not a frame number (lines are frame,x,y,w,h)\n",
                    v->a->boxes, keys[i]);
            rc = 1;
        }
    }
    if (!rc) {
        sort_frames = fr;
        qsort(idx, (size_t)n, sizeof *idx, cmp_frame);
        v->bframe = malloc(sizeof(long) * ((size_t)n + 1));
        if (!v->bframe) rc = fprintf(stderr, "ferc video: out of memory\n") > 0;
        for (int i = 0; i < n && !rc; i++) { sorted[i] = b[idx[i]]; v->bframe[i] = fr[idx[i]]; }
        if (!rc) { free(v->bboxes); v->bboxes = sorted; sorted = NULL; }
    }
    free(fr);
    free(idx);
    free(sorted);
    return rc;
}

/* The model, the cascade (unless --boxes) and the tracker: 0, or the exit
 * code after saying why. */
static int load(video *v) {
    ferc_error err = {0};
    char mbuf[PATH_MAX];
    const char *model = cli_model_path("video", v->a->model, mbuf, sizeof mbuf);
    if (!model) return 1;
    if (v->a->boxes && load_boxes(v)) return 1;
    if (ferc_model_load(model, &v->model, &err) != FERC_OK) return cli_error(&err);
    if (!v->a->boxes && ferc_cascade_load(v->a->cascade, &v->cascade, &err) != FERC_OK) return cli_error(&err);
    if (ferc_tracker_new(&v->a->track, &v->tracker, &err) != FERC_OK) return cli_error(&err);
    cli_say_model(model, v->model);
    if (v->csv.f) video_csv_header(v->csv.f, v->a->raw);
    return 0;
}

/* The decoder: a file as raw RGB (its size probed before), live input as
 * YUV4MPEG2 whose header gives the size. 0, or 1 after saying why. */
static int start_decoder(video *v) {
    const video_args *a = v->a;
    int cam = strncmp(a->input, "/dev/video", 10) == 0, in = !strcmp(a->input, "-");
    char *file_argv[] = {"ffmpeg", "-v", "error", "-nostdin", "-i", (char *)a->input, "-map", "0:v:0", "-an", "-sn",
                         "-r", v->vi.rate, "-f", "rawvideo", "-pix_fmt", "rgb24", "-", NULL};
    /* one decoding thread: frame threads hold frames back, a live CSV should not lag */
    char *live_argv[] = {"ffmpeg", "-v", "error", "-threads", "1", cam ? "-f" : "-i", cam ? "v4l2" : "pipe:0", "-i",
                         (char *)a->input, "-map", "0:v:0", "-an", "-sn", "-f", "yuv4mpegpipe", "-pix_fmt", "yuv444p",
                         "-", NULL};
    if (!cam) memmove(&live_argv[5], &live_argv[7], sizeof(char *) * 12); /* no -f v4l2 */
    if (!video_spawn(&v->dec, a->live ? live_argv : file_argv, 0, in)) {
        fprintf(stderr, "ferc video: cannot start ffmpeg: %s\n", strerror(errno));
        return 1;
    }
    if (!a->live) return 0;
    if (!video_y4m_header(v->dec.f, &v->vi)) {
        char why[512];
        kill(v->dec.pid, SIGTERM);
        int st = video_finish(&v->dec, why, sizeof why);
        if (st == 127) fprintf(stderr, "ferc video: ffmpeg not found: apt-get install ffmpeg\n");
        else
            fprintf(stderr, "ferc video: %s: no video (ffmpeg: %s)%s\n", in ? "stdin" : a->input, *why ? why : "no frame",
                    in ? "; from a pipe, stream Matroska or MPEG-TS (an MP4 needs -movflags +faststart)" : "");
        return 1;
    }
    return 0;
}

/* The encoder of --annotate and the frame buffers: 0, or 1 after saying why. */
static int start_encoder(video *v) {
    const video_args *a = v->a;
    char size[64];
    snprintf(size, sizeof size, "%dx%d", v->vi.w, v->vi.h);
    char *enc_argv[] = {"ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", size, "-r", v->vi.rate,
                        "-i", "-", "-i", (char *)a->input, "-map", "0:v:0", "-map", "1:a?", "-vf",
                        "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-c:v", "libx264", "-preset", "veryfast", "-crf", "20",
                        "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", v->ann_tmp, NULL};
    if (a->live) memmove(&enc_argv[14], &enc_argv[20], sizeof(char *) * 15); /* no audio from a stream we read */
    if (a->annotate && !video_spawn(&v->enc, enc_argv, 1, 0)) {
        fprintf(stderr, "ferc video: cannot start ffmpeg for %s: %s\n", a->annotate, strerror(errno));
        return 1;
    }
    size_t npx = (size_t)v->vi.w * v->vi.h;
    v->rgb = malloc(npx * 3);
    v->gray = malloc(npx);
    v->yuv = a->live ? malloc(npx * 3) : NULL;
    if (!v->rgb || !v->gray || (a->live && !v->yuv)) { fprintf(stderr, "ferc video: out of memory\n"); return 1; }
    return 0;
}

/* The given boxes of frame f (--boxes), in *n; never NULL. */
static const ferc_box *frame_boxes(video *v, long f, int *n) {
    static const ferc_box none;
    while (v->bnext < v->bn && v->bframe[v->bnext] < f) v->bnext++;
    int k = v->bnext;
    while (k < v->bn && v->bframe[k] == f) k++;
    *n = k - v->bnext;
    return *n ? v->bboxes + v->bnext : &none;
}

/* Keep the reported tracks for drawing: 0 when out of memory. */
static int keep_for_drawing(video *v, const ferc_track *tr, int n) {
    if (n > v->draw_cap) {
        ferc_box *b = realloc(v->draw_boxes, sizeof *b * (size_t)n);
        if (!b) return 0;
        v->draw_boxes = b;
        float *p = realloc(v->draw_probs, sizeof(float) * FERC_NUM_CLASSES * (size_t)n);
        if (!p) return 0;
        v->draw_probs = p;
        v->draw_cap = n;
    }
    for (int i = 0; i < n; i++) {
        v->draw_boxes[i] = tr[i].box;
        memcpy(v->draw_probs + (size_t)i * FERC_NUM_CLASSES, tr[i].smooth, sizeof tr[i].smooth);
    }
    v->draw_n = n;
    return 1;
}

/* Track the faces of the current frame and write them: 0, or the exit code. */
static int analyse(video *v) {
    double ta = ferc_now();
    ferc_error err = {0};
    const video_args *a = v->a;
    ferc_rgb_to_gray(v->rgb, (size_t)v->vi.w * v->vi.h, v->gray);
    int detect = v->analysed % a->detect_every == 0, ng = 0;
    const ferc_box *given = a->boxes && detect ? frame_boxes(v, v->frame, &ng) : NULL;
    if (ferc_track_faces(v->tracker, v->cascade, v->model, v->gray, v->vi.w, v->vi.h, v->vi.w, v->frame, detect, given,
                         ng, &a->find, &err) != FERC_OK) {
        cli_progress_end();
        return cli_error(&err);
    }
    int n;
    const ferc_track *tr = ferc_tracker_tracks(v->tracker, &n);
    double t = (double)v->frame / v->vi.fps;
    if (v->csv.f) { video_csv_rows(v->csv.f, v->frame, t, tr, n, a->raw); fflush(v->csv.f); }
    if (v->json.f) { video_json_line(v->json.f, v->frame, t, tr, n, a->raw); fflush(v->json.f); }
    if (a->annotate && !keep_for_drawing(v, tr, n)) { fprintf(stderr, "ferc video: out of memory\n"); return 1; }
    v->nfaces += n;
    v->analysed++;
    v->t_work += ferc_now() - ta;
    return 0;
}

/* The current frame with the last analysed faces drawn, to the encoder; a
 * stopped encoder is reported when it is waited for (finish_all). */
static int encode(video *v) {
    ferc_error err = {0};
    ferc_image im = {.w = v->vi.w, .h = v->vi.h, .c = 3, .data = v->rgb};
    if (ferc_draw_faces(&im, v->draw_boxes, v->draw_n, v->draw_probs, &err) != FERC_OK) {
        cli_progress_end();
        return cli_error(&err);
    }
    size_t bytes = (size_t)v->vi.w * v->vi.h * 3;
    if (fwrite(v->rgb, 1, bytes, v->enc.f) != bytes) {
        v->enc_broken = 1;
        return 1;
    }
    return 0;
}

static int next_frame(video *v) {
    if (v->a->live) return video_y4m_frame(v->dec.f, &v->vi, v->yuv, v->rgb);
    size_t bytes = (size_t)v->vi.w * v->vi.h * 3;
    return fread(v->rgb, 1, bytes, v->dec.f) == bytes;
}

/* Every decoded frame: analysed (one in --every), drawn and encoded. */
static int run_frames(video *v) {
    v->t0 = ferc_now();
    while (!stop_requested && next_frame(v)) {
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

/* ffmpeg names the file it writes, our temporary: name the user's instead. */
static void untemp(char *msg, size_t cap, const char *tmp, const char *path) {
    char *at = *tmp ? strstr(msg, tmp) : NULL;
    if (!at) {
        const char *base = strrchr(tmp, '/'); /* "./.o.mp4.XXXXXX.mp4" may be cited without its folder */
        at = base ? strstr(msg, base + 1) : NULL;
        if (at) tmp = base + 1;
    }
    if (!at) return;
    char rest[512];
    snprintf(rest, sizeof rest, "%s", at + strlen(tmp));
    snprintf(at, cap - (size_t)(at - msg), "%s%s", path, rest);
}

/* Wait for the decoder: rc, or 1 when it failed. A complaint after some
 * frames marks the input damaged (the rows so far are kept); a live run
 * stopped by the user ignores how its decoder ended. */
static int wait_decoder(video *v, int rc) {
    char why[512];
    if (!(v->dec.pid > 0 || v->dec.err)) return rc;
    /* its output is not wanted any more; SIGKILL: ffmpeg blocked reading a
     * quiet stream ends on SIGTERM only when data comes */
    if ((rc || stop_requested) && v->dec.pid > 0) kill(v->dec.pid, SIGKILL);
    int st = video_finish(&v->dec, why, sizeof why);
    if (rc || stop_requested) return rc;
    const char *in = strcmp(v->a->input, "-") ? v->a->input : "stdin";
    if (st == 127) { fprintf(stderr, "ferc video: ffmpeg not found: apt-get install ffmpeg\n"); return 1; }
    if (v->frame > 0 && (st != 0 || *why)) {
        cli_progress_end();
        fprintf(stderr, "ferc video: %s: damaged or truncated: decoding stopped after %ld frame%s (ffmpeg: %s); the "
                "outputs hold those frames\n", in, v->frame, v->frame == 1 ? "" : "s", *why ? why : "failed");
        v->damaged = 1;
        return 1;
    }
    if (st != 0) { fprintf(stderr, "ferc video: decoding %s failed: %s\n", in, *why ? why : "ffmpeg stopped"); return 1; }
    return rc;
}

/* Wait for the ffmpegs and sum up a failure of theirs in one line: rc, or
 * 1 when one of them failed. */
static int wait_children(video *v, int rc) {
    rc = wait_decoder(v, rc);
    if (v->enc.pid > 0 || v->enc.err) {
        char why[512];
        int st = video_finish(&v->enc, why, sizeof why);
        untemp(why, sizeof why, v->ann_tmp, v->a->annotate);
        if (st != 0 && (!rc || v->enc_broken)) {
            fprintf(stderr, "ferc video: encoding %s failed: %s\n", v->a->annotate,
                    st == 127 ? "ffmpeg not found" : *why ? why : "ffmpeg stopped");
            rc = 1;
            v->damaged = 0; /* the annotated video is incomplete: keep nothing */
        }
    }
    return rc;
}

/* The summary (into its temporary file) and the timeline: 1 when one
 * could not be written (said). */
static int write_extras(video *v) {
    const video_args *a = v->a;
    if (v->summary.f && video_summary_json(v->summary.f, v->tracker, v->vi.fps, a->input)) {
        fprintf(stderr, "ferc video: --summary %s: write error\n", a->summary);
        return 1;
    }
    if (!a->timeline) return 0;
    ferc_error err = {0};
    if (ferc_tracker_summary_count(v->tracker) == 0) {
        fprintf(stderr, "ferc video: --timeline %s: no face was tracked, no timeline drawn\n", a->timeline);
        return 0;
    }
    if (ferc_plot_timeline(v->tracker, v->vi.fps, a->timeline, &err) != FERC_OK) {
        fprintf(stderr, "ferc video: --timeline %s: %s\n", a->timeline, err.msg);
        return 1;
    }
    return 0;
}

/* Wait for the ffmpegs, write the summary and timeline, keep or remove the
 * outputs and print the speeds: the exit code. */
static int finish_all(video *v, int rc) {
    cli_progress_end();
    rc = wait_children(v, rc);
    if (!rc && v->frame == 0) { fprintf(stderr, "ferc video: %s: no frame decoded\n", v->a->input); rc = 1; }
    int keep = !rc || v->damaged;
    if (keep && write_extras(v)) rc = 1, keep = v->damaged;
    if (close_outputs(v, keep)) rc = 1;
    double dt = ferc_now() - v->t0;
    int nt = ferc_tracker_summary_count(v->tracker);
    if (!rc)
        fprintf(stderr,
                "video: %ld frame%s (%ld analysed, %ld face%s) in %.2f s: %.1f frames/s overall, %.1f analysed "
                "frames/s for detection + classification; %d track%s%s\n",
                v->frame, v->frame == 1 ? "" : "s", v->analysed, v->nfaces, v->nfaces == 1 ? "" : "s", dt,
                dt > 0 ? v->frame / dt : 0.0, v->t_work > 0 ? v->analysed / v->t_work : 0.0, nt, nt == 1 ? "" : "s",
                stop_requested ? " (stopped)" : "");
    return rc;
}

/* Live input: Ctrl-C (SIGTERM, SIGHUP) ends the frame loop, not the run. */
static void catch_stop(void) {
    struct sigaction sa = {.sa_handler = on_stop}; /* no SA_RESTART: a blocked read returns */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

static void free_all(video *v) {
    free(v->rgb);
    free(v->gray);
    free(v->yuv);
    free(v->draw_boxes);
    free(v->draw_probs);
    for (int i = 0; i < v->bn; i++) free(v->bkeys[i]);
    free(v->bkeys);
    free(v->bboxes);
    free(v->bframe);
    ferc_tracker_free(v->tracker);
    ferc_cascade_free(v->cascade);
    ferc_model_free(v->model);
}

int video_run(const video_args *a) {
    video v = {.a = a};
    int rc = input_exists(a->input);
    if (!rc && !a->live) rc = check_input(a->input, &v.vi);
    if (!rc) rc = open_outputs(&v);
    if (!rc && a->live) catch_stop();
    if (!rc) rc = load(&v);
    if (rc) {
        close_outputs(&v, 0);
        free_all(&v);
        return rc;
    }
    signal(SIGPIPE, SIG_IGN); /* a broken encoder pipe must become an error, not kill us */
    rc = start_decoder(&v);
    if (!rc) rc = too_large(&v);
    if (!rc) rc = start_encoder(&v);
    if (!rc) rc = run_frames(&v);
    rc = finish_all(&v, rc);
    free_all(&v);
    return rc;
}
