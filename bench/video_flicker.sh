#!/bin/sh
# video_flicker.sh — how much label flicker does `ferc video --smooth`
# remove? Flicker = changes of a track's emotion label per second. The clip
# is made here from skimage's astronaut photo (Debian python3-skimage; no
# dataset image): 640x480, 30 fps, 6 s, panned and zoomed, with a dark bar
# sweeping up and down across her mouth, sensor noise and strong
# compression — the partial occlusions and noise of a hand-held webcam, on
# which a frame-by-frame classifier hesitates between two emotions.
# For each --smooth setting it prints the raw and the smoothed flicker of
# every track longer than 1 s (the raw labels are the same in every run).
#
# usage: bench/video_flicker.sh [TIMELINE.png]     env: MODEL (models/seed2.ferc)
#   TIMELINE.png: also write the timeline of the default (ema:0.2) run there
#   (docs/timeline.png is made so).
set -e
cd "$(dirname "$0")/.."
MODEL=${MODEL:-models/seed2.ferc}
FERC=${FERC_BIN:-build/ferc}
PHOTO=/usr/lib/python3/dist-packages/skimage/data/astronaut.png
[ -x "$FERC" ] || { echo "video_flicker.sh: no $FERC (make)" >&2; exit 1; }
[ -r "$PHOTO" ] || { echo "video_flicker.sh: no $PHOTO (apt-get install python3-skimage)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ffmpeg -v error -y -loop 1 -framerate 30 -i "$PHOTO" -t 6 -vf \
  "crop=512:384:0:0,scale=1024:768,zoompan=z='1.0+0.2*sin(on/45)':x='iw/2-iw/zoom/2+80*sin(on/50)':y='ih/3-ih/zoom/2+30*sin(on/35)':d=1:s=640x480:fps=30,drawbox=x=0:y='200+30*sin(t*2)':w=640:h=40:color=black@0.85:t=fill,noise=alls=20:allf=t,format=yuv420p" \
  -c:v libx264 -preset veryfast -crf 28 "$tmp/clip.mp4"
echo "clip: 640x480, 30 fps, 6 s (astronaut, occluding bar, noise); model $MODEL"
printf '%-12s %8s %12s %14s %s\n' smooth track seconds raw/s smoothed/s
for s in none ema:0.5 ema:0.3 ema:0.2 ema:0.1 window:5 window:15; do
  tl=""
  [ "$s" = ema:0.2 ] && [ -n "${1:-}" ] && tl="--timeline $1"
  "$FERC" video "$tmp/clip.mp4" --model "$MODEL" --smooth "$s" --raw --csv "$tmp/o.csv" $tl 2>/dev/null
  # columns: 1 frame, 2 time, 3 track, 9 emotion (smoothed), 17 raw_emotion
  awk -F, -v s="$s" 'NR > 1 && $3 != "" {
      id = $3
      if (id in last) { if ($9 != last[id]) sm[id]++; if ($17 != lastr[id]) rw[id]++ }
      else { t0[id] = $2; sm[id] += 0; rw[id] += 0 }
      last[id] = $9; lastr[id] = $17; t1[id] = $2
    }
    END { for (id in last) { d = t1[id] - t0[id]; if (d >= 1)
            printf "%-12s %8s %12.2f %8d = %4.2f %8d = %4.2f\n", s, id, d, rw[id], rw[id] / d, sm[id], sm[id] / d } }' \
    "$tmp/o.csv"
done
