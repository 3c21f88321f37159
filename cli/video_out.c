/* video_out.c — what `ferc video` writes about the tracks: the CSV rows and
 * JSON lines of each frame (the face column is the track ID, the emotion
 * and scores the smoothed ones, the raw ones beside them with --raw) and
 * the per-track summary of --summary. Kept apart from cmd_video.c so that
 * the command reads as the sequence it is. */
#include "video_cli.h"

#include <stdlib.h>

void video_csv_header(FILE *f, int raw) {
    fputs("frame,time,face,", f);
    cli_csv_face_header(f);
    if (raw) {
        fputs(",raw_emotion", f);
        for (int k = 0; k < FERC_NUM_CLASSES; k++) fprintf(f, ",raw_%s", ferc_label_name(k));
    }
    fputc('\n', f);
}

static void raw_fields(FILE *f, const float *p) {
    fprintf(f, ",%s", p ? ferc_label_name(cli_top_label(p)) : "");
    for (int k = 0; k < FERC_NUM_CLASSES; k++)
        if (p) fprintf(f, ",%.6f", p[k]);
        else fputc(',', f);
}

void video_csv_rows(FILE *f, long frame, double t, const ferc_track *tr, int n, int raw) {
    if (n == 0) {
        fprintf(f, "%ld,%.3f,,", frame, t);
        cli_csv_face(f, NULL, -1, NULL);
        if (raw) raw_fields(f, NULL);
        fputc('\n', f);
    }
    for (int i = 0; i < n; i++) {
        fprintf(f, "%ld,%.3f,%d,", frame, t, tr[i].id);
        cli_csv_face(f, &tr[i].box, tr[i].confidence, tr[i].smooth);
        if (raw) raw_fields(f, tr[i].raw);
        fputc('\n', f);
    }
}

/* One face as predict writes it, then "id" and with raw the raw emotion
 * and scores, in the same object (so "box" stays first, as before tracks). */
static void json_track(FILE *f, const ferc_track *tr, int raw) {
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (m) {
        cli_json_face(m, &tr->box, tr->confidence, tr->smooth);
        fclose(m);
    }
    if (!buf || len < 2) { free(buf); return; }
    fwrite(buf, 1, len - 1, f); /* without the closing brace */
    free(buf);
    fprintf(f, ", \"id\": %d", tr->id);
    if (raw) {
        fprintf(f, ", \"raw_emotion\": \"%s\", \"raw_scores\": {", ferc_label_name(cli_top_label(tr->raw)));
        for (int k = 0; k < FERC_NUM_CLASSES; k++)
            fprintf(f, "%s\"%s\": %.6f", k ? ", " : "", ferc_label_name(k), tr->raw[k]);
        fputc('}', f);
    }
    fputc('}', f);
}

void video_json_line(FILE *f, long frame, double t, const ferc_track *tr, int n, int raw) {
    fprintf(f, "{\"frame\": %ld, \"time\": %.3f, \"faces\": [", frame, t);
    for (int i = 0; i < n; i++) {
        if (i) fputs(", ", f);
        json_track(f, &tr[i], raw);
    }
    fputs("]}\n", f);
}

/* One track's object of the summary. */
static void summary_track(FILE *f, const ferc_track_summary *s, double fps) {
    fprintf(f,
            "    {\"id\": %d, \"first_frame\": %ld, \"last_frame\": %ld, \"first_time\": %.3f, \"last_time\": %.3f,\n"
            "     \"duration\": %.3f, \"frames\": %ld, \"dominant_emotion\": \"%s\",\n     \"mean_scores\": {",
            s->id, s->first_frame, s->last_frame, s->first_frame / fps, s->last_frame / fps,
            (s->last_frame - s->first_frame + 1) / fps, s->frames, ferc_label_name(s->dominant));
    for (int k = 0; k < FERC_NUM_CLASSES; k++) fprintf(f, "%s\"%s\": %.6f", k ? ", " : "", ferc_label_name(k), s->mean[k]);
    fputs("},\n     \"share\": {", f);
    for (int k = 0; k < FERC_NUM_CLASSES; k++) fprintf(f, "%s\"%s\": %.4f", k ? ", " : "", ferc_label_name(k), s->share[k]);
    fputs("}}", f);
}

int video_summary_json(FILE *f, const ferc_tracker *t, double fps, const char *input) {
    fputs("{\"input\": ", f);
    cli_json_str(f, input);
    fprintf(f, ", \"fps\": %.6g, \"tracks\": [\n", fps);
    int n = ferc_tracker_summary_count(t);
    for (int i = 0; i < n; i++) {
        ferc_track_summary s;
        if (ferc_tracker_summary(t, i, &s, NULL) != FERC_OK) return 1;
        summary_track(f, &s, fps);
        fputs(i + 1 < n ? ",\n" : "\n", f);
    }
    fputs("]}\n", f);
    return ferror(f) != 0;
}
