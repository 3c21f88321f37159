/* test_video_track_cli.c — `ferc video` with tracks (issue 16), run as a
 * real process on clips made here with ffmpeg from the astronaut photo of
 * Debian's python3-skimage (a real face, panned across the frame; never a
 * dataset image): one ID for the moving face, carried rows with
 * --detect-every, a clip without faces, a truncated file, the stream on
 * stdin, --boxes (video and predict), --summary and --timeline, and Ctrl-C
 * on live input. A random-weight model keeps it fast: the IDs and files
 * are checked here, not the emotions. */
#include "cli_util.h"
#include "test.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ASTRONAUT "/usr/lib/python3/dist-packages/skimage/data/astronaut.png"

#define SETUP(dir, model)                                                                                  \
    NEED_FERC();                                                                                           \
    if (system("ffmpeg -version >/dev/null 2>&1") != 0) SKIP("ffmpeg is not installed (apt-get install ffmpeg)"); \
    if (access(ASTRONAUT, R_OK) != 0) SKIP("no astronaut.png (apt-get install python3-skimage)");          \
    ferc_cascade *cas_;                                                                                    \
    ferc_error err_;                                                                                       \
    if (ferc_cascade_load(NULL, &cas_, &err_) != FERC_OK) SKIP("no Haar cascade (apt-get install opencv-data)"); \
    ferc_cascade_free(cas_);                                                                               \
    char dir[1024];                                                                                        \
    snprintf(dir, sizeof dir, "%s", test_tmpdir());                                                        \
    const char *model = cli_make_model(dir, 7, NULL, 0);                                                   \
    CHECK(model != NULL);                                                                                  \
    if (!model) return

/* dir/NAME: 20 frames at 10 fps of 320x240, the astronaut's face panning
 * 4 px per frame to the left (flat = 1: a flat gray clip). 1 ok. */
static int make_clip(const char *dir, const char *name, int flat) {
    if (flat)
        return cli_run(dir, "cd '%s' && ffmpeg -v error -y -f lavfi -i color=c=gray:s=320x240:r=10 -frames:v 12 "
                            "-c:v libx264 -preset ultrafast -pix_fmt yuv420p %s", dir, name) == 0;
    return cli_run(dir, "cd '%s' && ffmpeg -v error -y -loop 1 -framerate 10 -i '%s' -frames:v 20 -vf "
                        "\"scale=400:400,crop=320:240:x='10+4*n':y=20,format=yuv420p\" -c:v libx264 -preset ultrafast "
                        "-g 5 %s", dir, ASTRONAUT, name) == 0;
}

typedef struct {
    long frame;
    int id;        /* 0: the empty row of a frame without faces */
    int x, y, w, h;
    int has_conf;
} row;

/* The rows of a CSV (header skipped) into r (up to cap); their count, -1
 * when a line is not a whole row of 16 fields. */
static int read_rows(const char *path, row *r, int cap) {
    char *s = test_read(path, NULL);
    if (!s) return -1;
    int n = 0;
    char *save = NULL;
    strtok_r(s, "\n", &save);
    for (char *l = strtok_r(NULL, "\n", &save); l && n < cap; l = strtok_r(NULL, "\n", &save)) {
        int commas = 0;
        for (char *c = l; *c; c++) commas += *c == ',';
        if (commas != 15) { free(s); return -1; }
        row x = {0};
        char conf[32] = "";
        if (sscanf(l, "%ld,%*[^,],%d,%d,%d,%d,%d,%31[^,]", &x.frame, &x.id, &x.x, &x.y, &x.w, &x.h, conf) >= 6)
            x.has_conf = conf[0] >= '0' && conf[0] <= '9';
        else if (sscanf(l, "%ld,", &x.frame) == 1) x.id = 0;
        r[n++] = x;
    }
    free(s);
    return n;
}

/* The row of track `id` at frame f, NULL if none (the cascade also finds
 * a false face in a few frames of this clip: it gets another ID). */
static const row *track_row(const row *r, int n, long f, int id) {
    for (int i = 0; i < n; i++)
        if (r[i].frame == f && r[i].id == id) return &r[i];
    return NULL;
}

/* Track 1 is the face: a row in each of the 20 frames, panning 4 px left
 * per frame (within a few pixels: the detector's boxes jitter). */
static void check_face_track(const row *r, int n, const char *what) {
    const row *r0 = track_row(r, n, 0, 1);
    CHECK_MSG(r0 != NULL, "%s: no track 1 at frame 0", what);
    for (int f = 0; f < 20 && r0; f++) {
        const row *x = track_row(r, n, f, 1);
        CHECK_MSG(x && abs(x->x - (r0->x - 4 * f)) <= 8, "%s: frame %d: track 1 %s at x %d, the face near %d", what, f,
                  x ? "is" : "is not", x ? x->x : -1, r0->x - 4 * f);
    }
}

/* The panning face keeps ID 1 in every row; the summary and the timeline
 * describe that track; --detect-every 3 carries the box in between
 * (empty confidence) and the ID stays. */
TEST(video_track_moving_face_one_id_summary_timeline) {
    SETUP(dir, model);
    CHECK(make_clip(dir, "pan.mkv", 0));
    CHECK_EQ_INT(cli_run(dir, "cd '%s' && '%s' video pan.mkv --model '%s' --csv t.csv --summary s.json --timeline t.png",
                         dir, ferc, model), 0);
    row r[64];
    int n = read_rows(test_path(dir, "t.csv"), r, 64);
    CHECK(n >= 20);
    check_face_track(r, n, "t.csv");
    for (int f = 0; f < 20; f++) {
        const row *x = track_row(r, n, f, 1);
        CHECK(x && x->has_conf);
    }
    char *js = test_read(test_path(dir, "s.json"), NULL);
    CHECK_MSG(js && strstr(js, "\"id\": 1, \"first_frame\": 0, \"last_frame\": 19, \"first_time\": 0.000, "
                               "\"last_time\": 1.900") && strstr(js, "\"duration\": 2.000, \"frames\": 20") &&
              strstr(js, "\"dominant_emotion\": \"") && strstr(js, "\"share\": {"),
              "summary: %s", js ? js : "(none)");
    free(js);
    struct stat st;
    CHECK(stat(test_path(dir, "t.png"), &st) == 0 && st.st_size > 2000);
    CHECK_EQ_INT(cli_run(dir, "cd '%s' && '%s' video pan.mkv --model '%s' --csv d.csv --detect-every 3 --smooth window:4",
                         dir, ferc, model), 0);
    n = read_rows(test_path(dir, "d.csv"), r, 64);
    check_face_track(r, n, "d.csv");
    for (int f = 0; f < 20; f++) {
        const row *x = track_row(r, n, f, 1);
        CHECK_MSG(x && x->has_conf == (f % 3 == 0), "frame %d: confidence %d", f, x ? x->has_conf : -1);
    }
    CHECK_EQ_INT(cli_run(dir, "cd '%s' && '%s' video pan.mkv --model '%s' --smooth ema:2", dir, ferc, model), 2);
}

/* No face anywhere: one empty row per frame, a summary without tracks, a
 * note instead of a timeline, exit 0. */
TEST(video_track_clip_without_faces) {
    SETUP(dir, model);
    CHECK(make_clip(dir, "flat.mkv", 1));
    CHECK_EQ_INT(cli_run(dir, "cd '%s' && '%s' video flat.mkv --model '%s' --csv f.csv --summary s.json --timeline t.png",
                         dir, ferc, model), 0);
    row r[32];
    int n = read_rows(test_path(dir, "f.csv"), r, 32);
    CHECK_EQ_INT(n, 12);
    for (int i = 0; i < n; i++) CHECK(r[i].id == 0 && r[i].frame == i);
    char *js = test_read(test_path(dir, "s.json"), NULL);
    CHECK_MSG(js && strstr(js, "\"tracks\": [\n]}"), "%s", js ? js : "(none)");
    free(js);
    CHECK(!test_exists(test_path(dir, "t.png")));
    char *e = cli_err(dir);
    CHECK(e && strstr(e, "no face was tracked"));
    free(e);
}

/* A file cut in half: a one-line error, exit 1, and the CSV holds whole
 * rows of the frames decoded (each frame once, in order). */
TEST(video_track_truncated_file) {
    SETUP(dir, model);
    CHECK(make_clip(dir, "pan.mkv", 0));
    CHECK_EQ_INT(cli_run(dir, "cd '%s' && (n=$(wc -c < pan.mkv); head -c $((n / 2)) pan.mkv > cut.mkv)", dir), 0);
    CHECK_EQ_INT(cli_run(dir, "cd '%s' && '%s' video cut.mkv --model '%s' --csv c.csv", dir, ferc, model), 1);
    char *e = cli_err(dir);
    CHECK_MSG(e && strstr(e, "cut.mkv: damaged or truncated") && cli_count_lines(e) == 2, "stderr: %s", e ? e : "");
    free(e);
    row r[64];
    int n = read_rows(test_path(dir, "c.csv"), r, 64);
    CHECK_MSG(n > 0 && r[n - 1].frame < 19, "%d rows", n);
    for (int i = 1; i < n; i++) CHECK(r[i].frame == r[i - 1].frame || r[i].frame == r[i - 1].frame + 1);
    char *c = test_read(test_path(dir, "c.csv"), NULL);
    CHECK(c && c[strlen(c) - 1] == '\n');
    free(c);
}

/* The same clip on stdin gives the same rows and IDs as from the file. */
TEST(video_track_stdin) {
    SETUP(dir, model);
    CHECK(make_clip(dir, "pan.mkv", 0));
    CHECK_EQ_INT(cli_run(dir, "cd '%s' && '%s' video pan.mkv --model '%s' --csv a.csv", dir, ferc, model), 0);
    CHECK_EQ_INT(cli_run(dir, "cd '%s' && cat pan.mkv | '%s' video - --model '%s' --csv b.csv --json=b.json", dir, ferc,
                         model), 0);
    row a[64], b[64];
    int na = read_rows(test_path(dir, "a.csv"), a, 64), nb = read_rows(test_path(dir, "b.csv"), b, 64);
    CHECK(na >= 20 && nb >= 20);
    check_face_track(a, na, "from the file");
    check_face_track(b, nb, "from stdin");
    char *j = test_read(test_path(dir, "b.json"), NULL);
    CHECK(j && cli_count_lines(j) == 20 && strstr(j, "{\"frame\": 0, \"time\": 0.000, \"faces\": [{\"box\": [") &&
          strstr(j, "\"id\": 1}"));
    free(j);
    CHECK_EQ_INT(cli_run(dir, "cd '%s' && echo not a video | '%s' video - --model '%s' --csv x.csv", dir, ferc, model), 1);
    char *e = cli_err(dir);
    CHECK_MSG(e && strstr(e, "ferc video: stdin: no video") && cli_count_lines(e) == 2, "stderr: %s", e ? e : "");
    free(e);
    CHECK(!test_exists(test_path(dir, "x.csv"))); /* a live CSV without a frame is not left behind */
}

/* --boxes: the given boxes are classified and tracked (no cascade: the
 * flat clip has none to find); frames without a line have no face; a bad
 * line is FILE:LINE. predict --boxes classifies the boxes of each image. */
TEST(video_track_boxes_video_and_predict) {
    SETUP(dir, model);
    CHECK(make_clip(dir, "flat.mkv", 1));
    FILE *f = fopen(test_path(dir, "b.csv"), "w");
    if (!f) { CHECK(f != NULL); return; }
    fprintf(f, "frame,x,y,w,h\n");
    for (int fr = 0; fr < 12; fr++)
        if (fr != 5) fprintf(f, "%d,%d,40,60,60\n%d,200,100,50,50\n", fr, 10 + 2 * fr, fr);
    fclose(f);
    CHECK_EQ_INT(cli_run(dir, "cd '%s' && '%s' video flat.mkv --model '%s' --boxes b.csv --csv o.csv --raw", dir, ferc,
                         model), 0);
    row r[64];
    int n = read_rows(test_path(dir, "o.csv"), r, 64);
    CHECK_EQ_INT(n, -1); /* --raw: 24 fields a row, not 16 */
    char *c = test_read(test_path(dir, "o.csv"), NULL);
    CHECK(c && strstr(c, ",raw_emotion,raw_angry,") && strstr(c, "\n0,0.000,1,10,40,60,60,,") &&
          strstr(c, "\n0,0.000,2,200,100,50,50,,") && strstr(c, "\n11,1.100,1,32,40,60,60,,") && strstr(c, "\n5,0.500,,"));
    free(c);
    CHECK(test_write(test_path(dir, "bad.csv"), "0,1,2,3,4\n1,1,2,x,4\n", 20));
    CHECK_EQ_INT(cli_run(dir, "cd '%s' && '%s' video flat.mkv --model '%s' --boxes bad.csv --csv o2.csv", dir, ferc,
                         model), 1);
    char *e = cli_err(dir);
    CHECK_MSG(e && strstr(e, "bad.csv:2: expected KEY,x,y,w,h") && cli_count_lines(e) == 1, "%s", e ? e : "");
    free(e);
    CHECK(!test_exists(test_path(dir, "o2.csv")));
    CHECK(test_write(test_path(dir, "pb.csv"), "astronaut.png,170,60,110,110\n", 29));
    CHECK_EQ_INT(cli_run(dir, "cd '%s' && '%s' predict '%s' --model '%s' --boxes pb.csv --csv -", dir, ferc, ASTRONAUT,
                         model), 0);
    char *o = cli_out(dir);
    CHECK_MSG(o && strstr(o, ",1,170,60,110,110,,") && cli_count_lines(o) == 2, "%s", o ? o : "");
    free(o);
}

/* Live input stopped by SIGINT: exit 0, the CSV complete under its final
 * name, the summary written. The stream on stdin never ends (sleep). */
TEST(video_track_live_interrupt_keeps_files) {
    SETUP(dir, model);
    CHECK(make_clip(dir, "pan.mkv", 0));
    CHECK_EQ_INT(cli_run(dir, "cd '%s' && (sh -c 'echo $$ > spid.txt; cat pan.mkv; exec sleep 20' | sh -c 'echo $$ > "
                         "fpid.txt; exec \"$0\" video - --model \"$1\" --csv l.csv --summary l.json 2>err2.txt' '%s' '%s'; "
                         "echo $? > rc.txt) >/dev/null 2>&1 &", dir, ferc, model), 0);
    int done = 0;
    for (int i = 0; i < 200 && !done; i++) { /* most of the clip is through */
        usleep(50000);
        char *c = test_read(test_path(dir, "l.csv"), NULL);
        done = c && strstr(c, "\n15,1.500,");
        free(c);
    }
    CHECK(done);
    char *pid = test_read(test_path(dir, "fpid.txt"), NULL);
    CHECK(pid && atoi(pid) > 1);
    if (pid && atoi(pid) > 1) kill(atoi(pid), SIGINT);
    free(pid);
    char *e = NULL;
    for (int i = 0; i < 100; i++) { /* its last line comes when it is done */
        free(e);
        e = test_read(test_path(dir, "err2.txt"), NULL);
        if (e && strstr(e, "(stopped)")) break;
        usleep(50000);
    }
    CHECK_MSG(e && strstr(e, "(stopped)"), "%s", e ? e : "");
    free(e);
    char *spid = test_read(test_path(dir, "spid.txt"), NULL); /* the producer's endless sleep, so the pipe ends */
    if (spid && atoi(spid) > 1) kill(atoi(spid), SIGTERM);
    free(spid);
    char *rc = NULL;
    for (int i = 0; i < 100 && !(rc = test_read(test_path(dir, "rc.txt"), NULL)); i++) usleep(50000);
    CHECK_MSG(rc && atoi(rc) == 0, "exit %s", rc ? rc : "(none)");
    free(rc);
    char *js = test_read(test_path(dir, "l.json"), NULL);
    CHECK(js && strstr(js, "\"id\": 1, \"first_frame\": 0, \"last_frame\": 1"));
    char *c = test_read(test_path(dir, "l.csv"), NULL);
    CHECK(c && c[strlen(c) - 1] == '\n' && strstr(c, "\n15,1.500,1,"));
    free(c);
    free(js);
}
