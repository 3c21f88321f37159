#!/bin/sh
# video.sh — is `ferc video` real time? Frames per second of the whole
# pipeline (ffmpeg decoding, detection, tracking, classification, smoothing,
# CSV) on a 640x480 30 fps clip with a face in every frame, beside OpenCV's
# CascadeClassifier.detectMultiScale alone (Debian python3-opencv, same
# cascade and parameters, same decoded frames, decoding not timed) in the
# same run, alternating so that other load on the machine falls on both.
#
# usage: bench/video.sh            env: REPS (3), SECONDS_ (10) clip length,
#                                       MODEL (models/seed2.ferc), THREADS (2)
# The clip is made here from skimage's astronaut photo (Debian
# python3-skimage; no dataset image), panned and zoomed with ffmpeg.
# Prints one line per run and the medians; --detect-every 1 (every frame
# detected) and 3 (the tracker carries the boxes on the others).
set -e
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
REPS=${REPS:-3}
LEN=${SECONDS_:-10}
MODEL=${MODEL:-models/seed2.ferc}
THREADS=${THREADS:-2}
CASCADE=/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml
FERC=${FERC_BIN:-build/ferc}
PHOTO=/usr/lib/python3/dist-packages/skimage/data/astronaut.png
[ -x "$FERC" ] || { echo "video.sh: no $FERC (make)" >&2; exit 1; }
[ -r "$PHOTO" ] || { echo "video.sh: no $PHOTO (apt-get install python3-skimage)" >&2; exit 1; }
$PY -c 'import cv2' 2>/dev/null || { echo "video.sh: python3-opencv is missing" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# 640x480, 30 fps: the photo at 1024x1024 seen through a window that pans
# and zooms (the face moves and changes size, as in a hand-held clip).
ffmpeg -v error -y -loop 1 -framerate 30 -i "$PHOTO" -t "$LEN" -vf \
  "crop=512:384:0:0,scale=1024:768,zoompan=z='1.35+0.25*sin(on/45)':x='iw/2-iw/zoom/2+80*sin(on/50)':y='ih/3-ih/zoom/2+30*sin(on/35)':d=1:s=640x480:fps=30,format=yuv420p" \
  -c:v libx264 -preset veryfast -crf 18 "$tmp/clip.mp4"
frames=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 "$tmp/clip.mp4")

cat > "$tmp/ocv.py" <<'EOF'
import sys, time, cv2
clip, cascade, threads = sys.argv[1:4]
cv2.setNumThreads(int(threads))
cap = cv2.VideoCapture(clip)
frames = []
while True:
    ok, im = cap.read()
    if not ok: break
    frames.append(cv2.cvtColor(im, cv2.COLOR_BGR2GRAY))
c = cv2.CascadeClassifier(cascade)
t0 = time.perf_counter()
found = sum(len(c.detectMultiScale(g, 1.1, 5, minSize=(30, 30))) for g in frames)
dt = time.perf_counter() - t0
print("%.2f %d %d" % (len(frames) / dt, len(frames), found))
EOF

med() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "clip: 640x480, 30 fps, $frames frames; model $MODEL; $THREADS threads"
: > "$tmp/d1"; : > "$tmp/d3"; : > "$tmp/ocv"
for r in $(seq "$REPS"); do
  for de in 1 3; do
    "$FERC" video "$tmp/clip.mp4" --model "$MODEL" --threads "$THREADS" --detect-every $de --csv "$tmp/o.csv" \
      2> "$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
    fps=$(sed -n 's/.* s: \([0-9.]*\) frames\/s overall.*/\1/p' "$tmp/err")
    rows=$(awk -F, 'NR > 1 && $3 != ""' "$tmp/o.csv" | wc -l)
    echo "run $r: ferc video --detect-every $de: $fps frames/s ($rows face rows)"
    echo "$fps" >> "$tmp/d$de"
  done
  set -- $($PY "$tmp/ocv.py" "$tmp/clip.mp4" "$CASCADE" "$THREADS")
  echo "run $r: OpenCV detectMultiScale alone: $1 frames/s ($3 faces in $2 frames)"
  echo "$1" >> "$tmp/ocv"
done
m1=$(med < "$tmp/d1"); m3=$(med < "$tmp/d3"); mo=$(med < "$tmp/ocv")
echo "median frames/s: ferc whole pipeline $m1 (detect every frame), $m3 (--detect-every 3); OpenCV detection alone $mo"
awk -v a="$m1" -v b="$m3" -v o="$mo" 'BEGIN {printf "ratio to OpenCV detection alone: %.2fx (every frame), %.2fx (--detect-every 3); real time (30 fps): %s, %s\n", a/o, b/o, (a >= 30 ? "yes" : "no"), (b >= 30 ? "yes" : "no")}'
