#!/bin/sh
# detect_bench.sh — speed of ferc's face detector (ferc_detect_faces) against
# OpenCV's CascadeClassifier.detectMultiScale (Debian python3-opencv) on one
# 640x480 frame, same cascade, same parameters, same number of threads.
# Prints the median time per frame of each and their ratio, and checks that
# both found the same boxes.
#
# usage: bench/detect_bench.sh [IMAGE]
#   IMAGE   a photo, resized and cropped to 640x480 (default: skimage's
#           astronaut on its coffee photo, built here)
#   env: ROUNDS (5) rounds, RUNS (5) timed runs per round and tool, THREADS (2),
#        SCALE (1.1), NEIGHBORS (5), MINSIZE (30), CASCADE (opencv-data's
#        haarcascade_frontalface_default.xml)
# The two tools alternate round by round, so that other load on the machine
# falls on both alike; the medians are over ROUNDS*RUNS runs each.
set -e
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
ROUNDS=${ROUNDS:-5}
RUNS=${RUNS:-5}
THREADS=${THREADS:-2}
SCALE=${SCALE:-1.1}
NEIGHBORS=${NEIGHBORS:-5}
MINSIZE=${MINSIZE:-30}
CASCADE=${CASCADE:-/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml}
[ -r "$CASCADE" ] || { echo "detect_bench: no $CASCADE (apt-get install opencv-data)" >&2; exit 1; }
$PY -c 'import cv2' 2>/dev/null || { echo "detect_bench: python3-opencv is missing (apt-get install python3-opencv)" >&2; exit 1; }

make -s build/libferc.a >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The frame, as an 8-bit gray PNG (both tools read the same pixels).
$PY - "$tmp/frame.png" "${1:-}" <<'EOF'
import sys, cv2, numpy as np
out, src = sys.argv[1], sys.argv[2]
if src:
    im = cv2.imread(src)
    if im is None: sys.exit("detect_bench: cannot read " + src)
    h, w = im.shape[:2]
    s = max(640 / w, 480 / h)
    im = cv2.resize(im, (max(640, round(w * s)), max(480, round(h * s))), interpolation=cv2.INTER_AREA)
    y, x = (im.shape[0] - 480) // 2, (im.shape[1] - 640) // 2
    frame = im[y:y + 480, x:x + 640]
else:
    d = "/usr/lib/python3/dist-packages/skimage/data/"
    frame = cv2.resize(cv2.imread(d + "coffee.png"), (640, 480), interpolation=cv2.INTER_AREA)
    frame[:, 80:560] = cv2.resize(cv2.imread(d + "astronaut.png"), (480, 480), interpolation=cv2.INTER_AREA)
cv2.imwrite(out, cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
EOF

cat > "$tmp/ocv.py" <<'EOF'
import sys, time, cv2
img, cascade, sf, mn, mins, threads, runs = sys.argv[1:8]
cv2.setNumThreads(int(threads))
g = cv2.imread(img, cv2.IMREAD_GRAYSCALE)
c = cv2.CascadeClassifier(cascade)
det = lambda: c.detectMultiScale(g, float(sf), int(mn), minSize=(int(mins), int(mins)))
det()  # warm-up
for _ in range(int(runs)):
    t = time.perf_counter(); b = det(); print("ms %.3f" % ((time.perf_counter() - t) * 1e3))
for r in sorted(tuple(int(v) for v in x) for x in b): print("box %d %d %d %d" % r)
EOF

cat > "$tmp/ferc_bench.c" <<'EOF'
#define _GNU_SOURCE
#include "ferc.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static int cmp(const void *a, const void *b) {
    const ferc_box *p = a, *q = b;
    return p->x != q->x ? p->x - q->x : p->y != q->y ? p->y - q->y : p->w != q->w ? p->w - q->w : p->h - q->h;
}
int main(int argc, char **argv) {
    ferc_error err; ferc_image im; ferc_cascade *c;
    if (ferc_image_load(argv[1], 1, &im, &err) || ferc_cascade_load(argv[2], &c, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
    ferc_detect_opts o; ferc_detect_opts_default(&o);
    o.scale_factor = atof(argv[3]); o.min_neighbors = atoi(argv[4]); o.min_size = atoi(argv[5]); o.threads = atoi(argv[6]);
    ferc_box b[256]; int n = 0;
    ferc_detect_faces(c, im.data, im.w, im.h, im.w, &o, b, 256, &n, &err);  /* warm-up */
    for (int r = 0; r < atoi(argv[7]); r++) {
        double t = now();
        if (ferc_detect_faces(c, im.data, im.w, im.h, im.w, &o, b, 256, &n, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
        printf("ms %.3f\n", (now() - t) * 1e3);
    }
    if (n > 256) n = 256;
    qsort(b, (size_t)n, sizeof *b, cmp);
    for (int i = 0; i < n; i++) printf("box %d %d %d %d\n", b[i].x, b[i].y, b[i].w, b[i].h);
    return 0;
}
EOF
${CC:-cc} -O2 -march=native -std=c11 -Iinclude "$tmp/ferc_bench.c" build/libferc.a \
    -ldnnl -lcairo -lxml2 -lpng -ljpeg -lz -lm -fopenmp -o "$tmp/ferc_bench"

ARGS="$tmp/frame.png $CASCADE $SCALE $NEIGHBORS $MINSIZE $THREADS $RUNS"
r=0
while [ $r -lt "$ROUNDS" ]; do
    "$tmp/ferc_bench" $ARGS >> "$tmp/ferc.txt"
    $PY "$tmp/ocv.py" $ARGS >> "$tmp/ocv.txt"
    r=$((r + 1))
done

$PY - "$tmp/ferc.txt" "$tmp/ocv.txt" "$CASCADE" "$SCALE" "$NEIGHBORS" "$MINSIZE" "$THREADS" "${1:-astronaut on coffee (skimage)}" <<'EOF'
import sys, statistics, cv2
fe, oc = ([l.split() for l in open(p)] for p in sys.argv[1:3])
tf = [float(l[1]) for l in fe if l[0] == "ms"]; to = [float(l[1]) for l in oc if l[0] == "ms"]
bf = sorted(set(tuple(l[1:]) for l in fe if l[0] == "box")); bo = sorted(set(tuple(l[1:]) for l in oc if l[0] == "box"))
cas, sf, mn, mins, th, img = sys.argv[3:9]
mf, mo = statistics.median(tf), statistics.median(to)
print("frame: 640x480 gray, %s" % img)
print("cascade %s, scale factor %s, min neighbors %s, min size %s, %s threads" % (cas.split("/")[-1], sf, mn, mins, th))
print("OpenCV %s detectMultiScale: median %7.2f ms per frame (%d runs, min %.2f)" % (cv2.__version__, mo, len(to), min(to)))
print("ferc ferc_detect_faces:        median %7.2f ms per frame (%d runs, min %.2f)" % (mf, len(tf), min(tf)))
print("ratio ferc/OpenCV: %.2f  (ferc is %.2fx %s)" % (mf / mo, mo / mf if mf < mo else mf / mo, "faster" if mf < mo else "slower"))
print("boxes: ferc %d, OpenCV %d, %s" % (len(bf), len(bo), "identical" if bf == bo else "DIFFERENT"))
EOF
