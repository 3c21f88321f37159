/* cmd_video.c — `ferc video`: the faces of a video, frame by frame, to CSV
 * (or JSON lines). Frames are decoded by an `ffmpeg` child process (size and
 * frame rate probed with `ffprobe`) into raw RGB on a pipe; each analysed
 * frame goes through the Haar detector and the model; the annotated video is
 * encoded by a second `ffmpeg` fed through another pipe. Children are
 * started with fork/exec, so file names never pass through a shell, and
 * their stderr goes to a scratch file: the user sees one line of ours, with
 * the child's last message when it failed, never ffmpeg's raw output. Every
 * output is checked before the work and appears whole or not at all. */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void help(void) {
    printf(
        "usage: ferc video INPUT [--csv FILE|-] [--json[=FILE]] [--annotate OUT.mp4] [--every N] [options]\n\n"
        "Decodes a video with ffmpeg (Debian package ffmpeg), finds the faces of every\n"
        "N-th frame with OpenCV's Haar cascade, classifies each one and writes a CSV with\n"
        "one row per face, most confident face first: frame,time,face,x,y,w,h,\n"
        "face_confidence,emotion,angry,disgust,fear,happy,sad,surprise,neutral (time in\n"
        "seconds = frame / frame rate; a frame without faces has one row with the face\n"
        "fields empty). face_confidence is the detector's vote for the face, N / (N + 10)\n"
        "for the N raw detections merged into it (see ferc predict --help). With\n"
        "--annotate it also writes the video with boxes and labels drawn (H.264; the\n"
        "audio is kept), frames between two analysed ones showing the last results.\n"
        "A progress bar, the model used and the speed (frames/s) go to stderr; ffmpeg's\n"
        "own messages do not (a failure is summed up in one line).\n\n"
        "  --csv FILE           the CSV to write; - = stdout (the default when neither\n"
        "                       --csv nor --json is given)\n"
        "  --json[=FILE]        JSON lines instead, one per analysed frame, to stdout or FILE:\n"
        "                       {\"frame\": F, \"time\": T, \"faces\": [{\"box\": [x, y, w, h],\n"
        "                        \"face_confidence\": C, \"emotion\": L, \"scores\": {...}}]}\n"
        "  --annotate FILE      the annotated video to write; its extension (.mp4, .mkv,\n"
        "                       ...) chooses the container\n"
        "  --every N            analyse one frame in N (1)\n"
        "  --model FILE         a .ferc model (default: $FERC_MODEL, models/seed2.ferc,\n"
        "                       models/seed.ferc, or ../models next to the executable)\n"
        "  --max-faces N        keep the N most confident faces of each frame (all)\n"
        "  --largest            keep only the largest face of each frame\n"
        "  --margin F           grow each box by F times its size before cropping (0.1)\n"
        "  --scale-factor F     detector scale step (1.1)\n"
        "  --min-neighbors N    detector: raw detections a face needs, more than N (5)\n"
        "  --min-size N         detector: smallest face side in pixels (30)\n"
        "  --max-size N         detector: largest face side, 0 = none (0)\n"
        "  --cascade FILE       an OpenCV Haar cascade XML (default: opencv-data's\n"
        "                       haarcascade_frontalface_default.xml)\n"
        "  --threads N          detector threads, 0 = every core (0)\n\n"
        "Every output is checked before the first frame (a missing folder stops the run\n"
        "at once) and written under a temporary name, renamed when the video is done and\n"
        "removed if anything fails or the run is interrupted.\n\n"
        "examples:\n"
        "  ferc video talk.mp4 > talk.csv\n"
        "  ferc video talk.mp4 --csv talk.csv --annotate talk_faces.mp4 --every 2 --largest\n");
}

/* ---- child processes ---- */

typedef struct {
    FILE *f;
    pid_t pid;
    FILE *err;         /* what the child wrote to stderr */
} child;

/* Start argv[0] with a pipe to its stdout (to_child = 0) or from its stdin
 * (to_child = 1); its stdin is /dev/null (to_child = 0), its stderr a
 * scratch file and its stdout ours (to_child = 1, unused by ffmpeg). */
static int spawn(child *c, char *const argv[], int to_child) {
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
        if (to_child) dup2(fd[0], 0);
        else {
            dup2(fd[1], 1);
            FILE *nul = fopen("/dev/null", "r");
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
static int finish(child *c, char *why, size_t cap) {
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

/* 1 ok, 0 not a video (why: ffprobe's last line), -1 ffprobe missing. */
static int probe(const char *input, vinfo *vi, char *why, size_t cap) {
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
    int st = finish(&c, why, cap);
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
    const char *input, *csv, *json, *annotate, *model, *cascade;
    int every;
    ferc_find_opts find;
} video_args;

static const char *const options[] = {
    "--help", "--csv", "--json", "--annotate", "--model", "--every", "--margin", "--scale-factor", "--min-neighbors",
    "--min-size", "--max-size", "--threads", "--cascade", "--max-faces", "--largest", NULL};

/* The outputs asked for make sense: one on stdout at most (the CSV when
 * none is named), a container extension for --annotate. -1 or 2. */
static int check_output_args(video_args *a) {
    if (!a->csv && !a->json) a->csv = "-";
    if (cli_is_stdout(a->csv) && cli_is_stdout(a->json))
        return cli_usage_error("video", "--csv - and --json both want stdout: give one a FILE");
    if (a->annotate) {
        const char *base = strrchr(a->annotate, '/'), *dot;
        base = base ? base + 1 : a->annotate;
        if (!(dot = strrchr(base, '.')) || dot == base || !dot[1])
            return cli_usage_error("video", "--annotate %s: give the file an extension (.mp4, .mkv, ...): it "
                                   "chooses the container", a->annotate);
        if (cli_is_stdout(a->annotate)) return cli_usage_error("video", "--annotate needs a FILE, not stdout");
    }
    return -1;
}

/* -1 to go on, else the exit code (after --help or a usage error). */
static int parse_args(int argc, char **argv, video_args *a) {
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i], *v;
        int face = cli_face_option(argc, argv, &i, &a->find, &a->cascade);
#define VAL() do { if (!(v = cli_value(argc, argv, &i, s))) return 2; } while (0)
        if (face) { if (face < 0) return 2; }
        else if (!strcmp(s, "--help") || !strcmp(s, "-h")) { help(); return 0; }
        else if (cli_is(s, "--csv")) { VAL(); a->csv = v; }
        else if (!strcmp(s, "--json")) a->json = "-";
        else if (!strncmp(s, "--json=", 7)) a->json = s + 7;
        else if (cli_is(s, "--annotate")) { VAL(); a->annotate = v; }
        else if (cli_is(s, "--model")) { VAL(); a->model = v; }
        else if (cli_is(s, "--every")) { VAL(); if (!cli_int("video", s, v, 1, 1000000, &a->every)) return 2; }
        else if (s[0] == '-' && s[1]) return cli_unknown_option("video", s, options);
        else if (!a->input) a->input = s;
        else return cli_usage_error("video", "one INPUT only ('%s' and '%s')", a->input, s);
#undef VAL
    }
    if (!a->input) return cli_usage_error("video", "give the INPUT video");
    return check_output_args(a);
}

/* The input is a file (before anything else: one line, no ffprobe). */
static int input_exists(const char *input) {
    struct stat st;
    if (stat(input, &st) != 0) {
        fprintf(stderr, "ferc: %s: %s\n", input, errno == ENOENT ? "no such file" : strerror(errno));
        return 1;
    }
    if (S_ISDIR(st.st_mode)) { fprintf(stderr, "ferc: %s: is a folder, not a video\n", input); return 1; }
    return 0;
}

/* The input's frame size and rate: 0, or 1 after saying why it cannot be used. */
static int check_input(const char *input, vinfo *vi) {
    char why[512];
    int pr = probe(input, vi, why, sizeof why);
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
    cli_out csv, json;
    char ann_tmp[PATH_MAX];   /* the annotated video until it is finished */
    child dec, enc;           /* ffmpeg decoding the input, and encoding the annotated copy */
    int enc_broken;           /* the encoder stopped reading */
    uint8_t *rgb, *gray;      /* the current frame */
    ferc_faces faces;         /* of the last analysed frame */
    long frame, analysed, nfaces;
    double t0, t_work;
} video;

/* An output must not overwrite the input. */
static int same_file(const char *a, const char *b) {
    struct stat x, y;
    return stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

/* Every output checked and opened under its temporary name: 0, or 1 after
 * saying why (nothing left behind). */
static int open_outputs(video *v) {
    const video_args *a = v->a;
    const char *outs[3] = {a->csv, a->json, a->annotate}, *names[3] = {"--csv", "--json", "--annotate"};
    for (int i = 0; i < 3; i++)
        if (outs[i] && !cli_is_stdout(outs[i]) && same_file(outs[i], a->input)) {
            fprintf(stderr, "ferc video: %s %s is the input video\n", names[i], outs[i]);
            return 1;
        }
    if (a->csv && cli_out_open(&v->csv, "video", "--csv", a->csv)) return 1;
    if (a->json && cli_out_open(&v->json, "video", "--json", a->json)) return 1;
    if (a->annotate) {
        int fd = cli_tmp_reserve("video", "--annotate", a->annotate, v->ann_tmp, sizeof v->ann_tmp);
        if (fd < 0) return 1;
        close(fd);
    }
    return 0;
}

/* Keep (ok) or remove every output; 1 when keeping one failed (said). */
static int close_outputs(video *v, int ok) {
    int bad = cli_out_close(&v->csv, ok);
    bad |= cli_out_close(&v->json, ok && !bad);
    if (v->ann_tmp[0]) bad |= cli_tmp_commit("video", "--annotate", v->a->annotate, v->ann_tmp, ok && !bad);
    v->ann_tmp[0] = 0;
    return bad;
}

/* The model and the cascade: 0, or the exit code after saying why. */
static int load(video *v) {
    ferc_error err = {0};
    char mbuf[PATH_MAX];
    const char *model = cli_model_path("video", v->a->model, mbuf, sizeof mbuf);
    if (!model) return 1;
    if (ferc_model_load(model, &v->model, &err) != FERC_OK) return cli_error(&err);
    if (ferc_cascade_load(v->a->cascade, &v->cascade, &err) != FERC_OK) return cli_error(&err);
    cli_say_model(model, v->model);
    if (v->csv.f) {
        fputs("frame,time,face,", v->csv.f);
        cli_csv_face_header(v->csv.f);
        fputc('\n', v->csv.f);
    }
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
                        "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", v->ann_tmp, NULL};
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
    if (f->n == 0) {
        fprintf(out, "%ld,%.3f,,", frame, t);
        cli_csv_face(out, NULL, -1, NULL);
        fputc('\n', out);
    }
    for (int i = 0; i < f->n; i++) {
        fprintf(out, "%ld,%.3f,%d,", frame, t, i + 1);
        cli_csv_face(out, &f->boxes[i], f->confidence[i], f->probs + (size_t)i * FERC_NUM_CLASSES);
        fputc('\n', out);
    }
}

static void json_line(FILE *out, long frame, double t, const ferc_faces *f) {
    fprintf(out, "{\"frame\": %ld, \"time\": %.3f, \"faces\": [", frame, t);
    for (int i = 0; i < f->n; i++) {
        if (i) fputs(", ", out);
        cli_json_face(out, &f->boxes[i], f->confidence[i], f->probs + (size_t)i * FERC_NUM_CLASSES);
    }
    fputs("]}\n", out);
}

/* The faces of the current frame, to the CSV / JSON: 0, or the exit code. */
static int analyse(video *v) {
    double ta = ferc_now();
    ferc_error err = {0};
    ferc_rgb_to_gray(v->rgb, (size_t)v->vi.w * v->vi.h, v->gray);
    if (ferc_find_faces(v->cascade, v->model, v->gray, v->vi.w, v->vi.h, v->vi.w, &v->a->find, &v->faces, &err) !=
        FERC_OK) {
        cli_progress_end();
        return cli_error(&err);
    }
    double t = (double)v->frame / v->vi.fps;
    if (v->csv.f) csv_rows(v->csv.f, v->frame, t, &v->faces);
    if (v->json.f) json_line(v->json.f, v->frame, t, &v->faces);
    v->nfaces += v->faces.n;
    v->analysed++;
    v->t_work += ferc_now() - ta;
    return 0;
}

/* The current frame with the last analysed faces drawn, to the encoder; a
 * stopped encoder is reported when it is waited for (finish_all). */
static int encode(video *v) {
    ferc_error err = {0};
    ferc_image im = {.w = v->vi.w, .h = v->vi.h, .c = 3, .data = v->rgb};
    if (ferc_draw_faces(&im, v->faces.boxes, v->faces.n, v->faces.probs, &err) != FERC_OK) {
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

/* Wait for the ffmpegs and sum up a failure of theirs in one line: rc, or
 * 1 when one of them failed. */
static int wait_children(video *v, int rc) {
    const video_args *a = v->a;
    char why[512];
    if (v->dec.pid > 0 || v->dec.err) {
        if (rc && v->dec.pid > 0) kill(v->dec.pid, SIGTERM);
        int st = finish(&v->dec, why, sizeof why);
        if (!rc && st == 127) { fprintf(stderr, "ferc video: ffmpeg not found: apt-get install ffmpeg\n"); rc = 1; }
        else if (!rc && st != 0) {
            fprintf(stderr, "ferc video: decoding %s failed: %s\n", a->input, *why ? why : "ffmpeg stopped");
            rc = 1;
        }
    }
    if (v->enc.pid > 0 || v->enc.err) {
        int st = finish(&v->enc, why, sizeof why);
        untemp(why, sizeof why, v->ann_tmp, a->annotate);
        if (st != 0 && (!rc || v->enc_broken)) {
            fprintf(stderr, "ferc video: encoding %s failed: %s\n", a->annotate,
                    st == 127 ? "ffmpeg not found" : *why ? why : "ffmpeg stopped");
            rc = 1;
        }
    }
    return rc;
}

/* Wait for the ffmpegs, keep or remove the outputs and print the speeds:
 * the exit code (rc, or 1 when one of those fails). */
static int finish_all(video *v, int rc) {
    cli_progress_end();
    rc = wait_children(v, rc);
    if (!rc && v->frame == 0) { fprintf(stderr, "ferc video: %s: no frame decoded\n", v->a->input); rc = 1; }
    if (close_outputs(v, !rc)) rc = 1;
    double dt = ferc_now() - v->t0;
    if (!rc)
        fprintf(stderr,
                "video: %ld frame%s (%ld analysed, %ld face%s) in %.2f s: %.1f frames/s overall, %.1f analysed "
                "frames/s for detection + classification\n",
                v->frame, v->frame == 1 ? "" : "s", v->analysed, v->nfaces, v->nfaces == 1 ? "" : "s", dt,
                dt > 0 ? v->frame / dt : 0.0, v->t_work > 0 ? v->analysed / v->t_work : 0.0);
    return rc;
}

int cmd_video(int argc, char **argv) {
    video_args a = {.every = 1};
    ferc_find_opts_default(&a.find);
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0) return rc;
    video v = {.a = &a};
    if ((rc = input_exists(a.input)) || (rc = open_outputs(&v))) {
        close_outputs(&v, 0);
        return rc;
    }
    if (!(rc = check_input(a.input, &v.vi)) && !(rc = load(&v))) {
        rc = start(&v);
        if (!rc) rc = run_frames(&v);
        rc = finish_all(&v, rc);
    } else close_outputs(&v, 0);
    free(v.rgb);
    free(v.gray);
    ferc_faces_free(&v.faces);
    ferc_cascade_free(v.cascade);
    ferc_model_free(v.model);
    return rc;
}
