/* video_cli.h — what the files of `ferc video` share (cmd_video.c, the
 * command; video_proc.c, ffmpeg children and live input; video_out.c, the
 * CSV, JSON lines and the summary). Not used by the other commands. */
#ifndef FERC_VIDEO_CLI_H
#define FERC_VIDEO_CLI_H

#include "cli.h"

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* A child process and its pipe. */
typedef struct {
    FILE *f;
    pid_t pid;
    FILE *err;         /* what the child wrote to stderr */
} child;

/* Start argv[0] with a pipe to its stdout (to_child = 0) or from its stdin
 * (to_child = 1); keep_stdin: the child reads our stdin. 1 ok, 0 failed. */
int video_spawn(child *c, char *const argv[], int to_child, int keep_stdin);
/* Close our end and wait: the child's exit status (127: not found) and,
 * when why is given, the last line it wrote to stderr ("" when none). */
int video_finish(child *c, char *why, size_t cap);

typedef struct {
    int w, h;
    double fps;
    long frames;       /* 0 when unknown */
    char rate[48];     /* the rate as ffmpeg writes it, e.g. 30000/1001 */
} vinfo;

double video_ratio(const char *s, char *keep, size_t cap);
/* 1 ok, 0 not a video (why: ffprobe's last line), -1 ffprobe missing. */
int video_probe(const char *input, vinfo *vi, char *why, size_t cap);

/* Live input: the YUV4MPEG2 header (4:4:4 only, as we ask ffmpeg for): 1
 * ok; the next frame as RGB (yuv: room for 3 w h bytes): 1, 0 at the end. */
int video_y4m_header(FILE *f, vinfo *vi);
int video_y4m_frame(FILE *f, const vinfo *vi, uint8_t *yuv, uint8_t *rgb);

/* ---- the command (cmd_video.c parses, video_run.c runs) ---- */

typedef struct {
    const char *input, *csv, *json, *annotate, *model, *cascade, *summary, *timeline, *boxes;
    int every, detect_every, raw;
    int live;                    /* a camera (/dev/video*) or a stream on stdin ("-") */
    ferc_find_opts find;
    ferc_tracker_opts track;
} video_args;

/* The whole run once the arguments are checked: the exit code. */
int video_run(const video_args *a);

/* ---- outputs (video_out.c) ---- */

/* The CSV header: frame,time,face,x,y,w,h,face_confidence,emotion,<7 scores>
 * and with raw, raw_emotion,raw_<7 scores>. */
void video_csv_header(FILE *f, int raw);
/* The rows of one frame (one row with empty face fields when no track is
 * reported) and the JSON line. */
void video_csv_rows(FILE *f, long frame, double t, const ferc_track *tr, int n, int raw);
void video_json_line(FILE *f, long frame, double t, const ferc_track *tr, int n, int raw);
/* The per-track summary as one JSON document: 0, or 1 when writing failed. */
int video_summary_json(FILE *f, const ferc_tracker *t, double fps, const char *input);

#endif
