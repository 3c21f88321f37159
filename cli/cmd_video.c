/* cmd_video.c — `ferc video`: the faces of a video, camera or stream, frame
 * by frame, tracked so that each person keeps one ID, with smoothed
 * emotions, to CSV (or JSON lines), a per-track summary and a timeline
 * picture. This file is the help and the options; video_run.c runs the
 * frames, video_proc.c talks to ffmpeg, video_out.c writes the results. */
#include "video_cli.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void help(void) {
    printf(
        "usage: ferc video INPUT|/dev/videoN|- [--csv FILE|-] [--json[=FILE]] [--summary FILE.json]\n"
        "                  [--timeline FILE.png] [--annotate OUT.mp4] [options]\n\n"
        "Decodes a video with ffmpeg (Debian package ffmpeg), a V4L2 camera (/dev/videoN)\n"
        "or a stream on stdin (-), finds the faces with OpenCV's Haar cascade (or takes\n"
        "them from --boxes), follows each face from frame to frame (a track: a motion\n"
        "model and overlap matching, as SORT), classifies it and writes one CSV row per\n"
        "face and frame: frame,time,face,x,y,w,h,face_confidence,emotion,angry,disgust,\n"
        "fear,happy,sad,surprise,neutral. face is the track ID (1, 2, ...: the same\n"
        "person keeps it while on screen and through short misses of the detector);\n"
        "emotion and the scores are smoothed over the track (--smooth), the raw ones\n"
        "follow with --raw. time = frame / frame rate. A frame without faces has one row\n"
        "with the face fields empty; a face carried by the tracker between detections\n"
        "(--detect-every) has an empty face_confidence. Live input writes the CSV\n"
        "under its final name, a line per frame as it comes, and Ctrl-C ends the run\n"
        "cleanly with every file complete.\n\n"
        "  --csv FILE           the CSV to write; - = stdout (the default when neither\n"
        "                       --csv nor --json is given)\n"
        "  --json[=FILE]        JSON lines instead, one per analysed frame, to stdout or FILE:\n"
        "                       {\"frame\": F, \"time\": T, \"faces\": [{\"box\": [x, y, w, h],\n"
        "                        \"face_confidence\": C, \"emotion\": L, \"scores\": {...}, \"id\": N}]}\n"
        "  --summary FILE.json  per track: first/last frame and time, duration, frames,\n"
        "                       dominant emotion, mean scores, share of time per emotion\n"
        "  --timeline FILE.png  one panel per track: its emotions over time\n"
        "  --annotate FILE      the video with boxes, IDs' labels drawn (.mp4, .mkv, ...)\n"
        "  --smooth SPEC        ema:ALPHA (weight of the newest frame), window:N (mean of\n"
        "                       the last N frames) or none (ema:0.2)\n"
        "  --raw                also the unsmoothed emotion and scores (raw_* columns)\n"
        "  --detect-every N     run the detector on one analysed frame in N; the tracker\n"
        "                       carries the boxes in between (1)\n"
        "  --max-age N          frames a track survives without a detection (30)\n"
        "  --min-hits N         detections before a track is reported (2; during the\n"
        "                       first N detection frames at once, as SORT)\n"
        "  --boxes FILE.csv     faces found by another detector, lines frame,x,y,w,h:\n"
        "                       classified and tracked instead of running the cascade\n"
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
        "Every output is checked before the first frame. From a file, outputs are written\n"
        "under a temporary name and renamed at the end (removed if the run fails or is\n"
        "interrupted); a truncated file keeps the rows of the frames decoded and ends\n"
        "with an error.\n\n"
        "examples:\n"
        "  ferc video talk.mp4 > talk.csv\n"
        "  ferc video talk.mp4 --csv talk.csv --summary talk.json --timeline talk.png\n"
        "  ferc video /dev/video0 --csv live.csv --detect-every 3\n"
        "  ffmpeg -i talk.mp4 -f matroska - | ferc video - --csv talk.csv\n");
}

static const char *const options[] = {
    "--help", "--csv", "--json", "--annotate", "--model", "--every", "--margin", "--scale-factor", "--min-neighbors",
    "--min-size", "--max-size", "--threads", "--cascade", "--max-faces", "--largest", "--summary", "--timeline",
    "--smooth", "--raw", "--detect-every", "--max-age", "--min-hits", "--boxes", NULL};

/* The outputs asked for make sense: one on stdout at most (the CSV when
 * none is named), a container extension for --annotate. -1 or 2. */
static int check_output_args(video_args *a) {
    if (!a->csv && !a->json) a->csv = "-";
    if (cli_is_stdout(a->csv) && cli_is_stdout(a->json))
        return cli_usage_error("video", "--csv - and --json both want stdout: give one a FILE");
    if (cli_is_stdout(a->summary) || cli_is_stdout(a->timeline))
        return cli_usage_error("video", "--summary and --timeline need a FILE, not stdout");
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

/* --smooth none | ema[:ALPHA] | window[:N]: 1, or 0 after a usage error. */
static int parse_smooth(const char *v, ferc_tracker_opts *t) {
    const char *colon = strchr(v, ':');
    size_t k = colon ? (size_t)(colon - v) : strlen(v);
    if (k == 4 && !strncmp(v, "none", 4) && !colon) t->smooth = FERC_SMOOTH_NONE;
    else if (k == 3 && !strncmp(v, "ema", 3)) {
        t->smooth = FERC_SMOOTH_EMA;
        if (colon && !cli_float("video", "--smooth ema:ALPHA", colon + 1, 1e-6, 1, &t->alpha)) return 0;
    } else if (k == 6 && !strncmp(v, "window", 6)) {
        t->smooth = FERC_SMOOTH_WINDOW;
        if (colon && !cli_int("video", "--smooth window:N", colon + 1, 1, 10000, &t->window)) return 0;
    } else {
        cli_usage_error("video", "--smooth '%s': give ema:ALPHA, window:N or none", v);
        return 0;
    }
    return 1;
}

/* The tracking options: 1 when argv[*i] was one (its value taken), 0 when
 * it is not, -1 after a usage error. */
static int track_option(int argc, char **argv, int *i, video_args *a) {
    const char *s = argv[*i], *v;
    int ok = 1;
    if (cli_is(s, "--smooth")) ok = (v = cli_value(argc, argv, i, s)) && parse_smooth(v, &a->track);
    else if (cli_is(s, "--max-age"))
        ok = (v = cli_value(argc, argv, i, s)) && cli_int("video", s, v, 0, 1000000, &a->track.max_age);
    else if (cli_is(s, "--min-hits"))
        ok = (v = cli_value(argc, argv, i, s)) && cli_int("video", s, v, 1, 1000, &a->track.min_hits);
    else if (cli_is(s, "--detect-every"))
        ok = (v = cli_value(argc, argv, i, s)) && cli_int("video", s, v, 1, 1000000, &a->detect_every);
    else if (cli_is(s, "--boxes")) ok = (a->boxes = cli_value(argc, argv, i, s)) != NULL;
    else if (cli_is(s, "--summary")) ok = (a->summary = cli_value(argc, argv, i, s)) != NULL;
    else if (cli_is(s, "--timeline")) ok = (a->timeline = cli_value(argc, argv, i, s)) != NULL;
    else if (!strcmp(s, "--raw")) a->raw = 1;
    else return 0;
    return ok ? 1 : -1;
}

/* -1 to go on, else the exit code (after --help or a usage error). */
static int parse_args(int argc, char **argv, video_args *a) {
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i], *v;
        int face = cli_face_option(argc, argv, &i, &a->find, &a->cascade), tr = face ? 0 : track_option(argc, argv, &i, a);
#define VAL() do { if (!(v = cli_value(argc, argv, &i, s))) return 2; } while (0)
        if (face || tr) { if (face < 0 || tr < 0) return 2; }
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
    if (!a->input) return cli_usage_error("video", "give the INPUT video (a file, /dev/videoN or - for stdin)");
    a->live = !strcmp(a->input, "-") || !strncmp(a->input, "/dev/video", 10);
    return check_output_args(a);
}

/* A video is a loop of short parallel regions (the detector's scales, a
 * few faces to classify) with ffmpeg working beside us: OpenMP threads that
 * spin between regions take the cores from ffmpeg and from each other; on
 * a shared machine that made the run several times slower (BENCHMARKS.md,
 * "Video"). libgomp reads OMP_WAIT_POLICY once,
 * when it loads, so the command runs itself again with it set (unless the
 * user chose a policy). argv is main's argv + 1, so argv - 1 is the whole
 * command line. */
static void passive_openmp(char **argv) {
    if (getenv("OMP_WAIT_POLICY") || setenv("OMP_WAIT_POLICY", "PASSIVE", 1) != 0) return;
    execv("/proc/self/exe", argv - 1); /* returns only on failure: go on spinning */
}

int cmd_video(int argc, char **argv) {
    passive_openmp(argv);
    video_args a = {.every = 1, .detect_every = 1};
    ferc_find_opts_default(&a.find);
    ferc_tracker_opts_default(&a.track);
    int rc = parse_args(argc, argv, &a);
    return rc >= 0 ? rc : video_run(&a);
}
