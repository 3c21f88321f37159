#!/bin/sh
# serve.sh — load benchmark of `ferc serve` with wrk (Debian package wrk):
# requests/s and p50/p99 latency of POST /v1/emotions for a 640x480 JPEG
# with one face (the astronaut photo of python3-skimage, cropped to 4:3 and
# scaled by ffmpeg) at 1, 8 and 64 connections, then resident memory after
# 30 s and after 60 s of load at 8 connections. Fails (exit 1) when any
# valid request failed (a non-2xx answer, a socket error or a timeout) or
# when the two RSS readings differ by more than 10 %.
#
# usage: bench/serve.sh            (from the repository root)
# env:   FERC=build/ferc  MODEL=models/seed2.ferc  THREADS=0 (server workers,
#        0 = one per core)  DUR=20 (seconds per wrk run)  REPS=3 (runs per
#        connection count; the table gives medians)
#        RSS_DUR=60 (the memory run)  OUT=FILE (the report, also on stdout)
set -eu
FERC=${FERC:-build/ferc}
MODEL=${MODEL:-models/seed2.ferc}
THREADS=${THREADS:-0}
DUR=${DUR:-20}
REPS=${REPS:-3}
RSS_DUR=${RSS_DUR:-60}
PHOTO_SRC=/usr/lib/python3/dist-packages/skimage/data/astronaut.png
for t in wrk ffmpeg; do
    command -v $t >/dev/null 2>&1 || { echo "serve.sh: $t is not installed (apt-get install -y $t)" >&2; exit 2; }
done
[ -x "$FERC" ] || { echo "serve.sh: no $FERC (make, or FERC=path)" >&2; exit 2; }
[ -r "$PHOTO_SRC" ] || { echo "serve.sh: no $PHOTO_SRC (apt-get install -y python3-skimage)" >&2; exit 2; }

WORK=$(mktemp -d)
[ -z "${KEEP:-}" ] || echo "serve.sh: keeping $WORK" >&2
PID=""
cleanup() { [ -z "$PID" ] || kill -TERM "$PID" 2>/dev/null || true; [ -n "${KEEP:-}" ] || rm -rf "$WORK"; }
trap cleanup EXIT INT TERM

PHOTO=$WORK/face640x480.jpg
ffmpeg -v error -y -i "$PHOTO_SRC" -vf "crop=512:384:0:0,scale=640:480" -q:v 3 "$PHOTO"
cat > "$WORK/post.lua" <<EOF
wrk.method = "POST"
wrk.headers["Content-Type"] = "image/jpeg"
local f = assert(io.open("$PHOTO", "rb"))
wrk.body = f:read("*a")
f:close()
EOF

"$FERC" serve --port 0 --model "$MODEL" --threads "$THREADS" > "$WORK/serve.out" 2> "$WORK/serve.err" &
PID=$!
PORT=""
for _ in $(seq 1 100); do
    PORT=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\)\/.*/\1/p' "$WORK/serve.out")
    [ -n "$PORT" ] && break
    sleep 0.1
done
[ -n "$PORT" ] || { echo "serve.sh: the server did not start:" >&2; cat "$WORK/serve.err" >&2; exit 1; }
URL=http://127.0.0.1:$PORT/v1/emotions

# one request by hand: 200 and exactly one face, else the numbers mean nothing
wrk -t1 -c1 -d2s --timeout 10s -s "$WORK/post.lua" "$URL" > /dev/null   # warm-up
ANS=$("$FERC" predict --model "$MODEL" --json "$PHOTO" 2>/dev/null)
NF=$(echo "$ANS" | grep -o '"box"' | wc -l)
[ "$NF" -eq 1 ] || { echo "serve.sh: the photo should show one face, predict finds $NF" >&2; exit 1; }

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$PID/status"; }
FAILED=0
{
    echo "ferc serve load benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "CPU: $(lscpu | sed -n 's/^Model name: *//p') ($(nproc) cores); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "server: $(head -n 1 "$WORK/serve.out" | sed 's/^ferc serve: //'); model $MODEL"
    echo "request: POST /v1/emotions, 640x480 JPEG ($(wc -c < "$PHOTO") bytes), 1 face; $REPS wrk runs of $DUR s per row, medians (each run's requests/s in brackets)"
    echo
    echo "| connections | requests/s | p50 latency | p99 latency | requests | failed |"
    echo "|---|---|---|---|---|---|"
} | tee "$WORK/report"
# wrk's latency ("850.12us", "38.35ms", "1.16s") in milliseconds
to_ms() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /[0-9]s$/) n *= 1000; printf "%.1f", n }'; }
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
for C in 1 8 64; do
    T=$([ "$C" -lt 2 ] && echo 1 || echo 2)
    RPS="" P50="" P99="" N=0 BAD=0
    for R in $(seq 1 "$REPS"); do
        sleep 1   # the last run's abandoned requests are dropped by the server (499)
        wrk -t"$T" -c"$C" -d"${DUR}s" --timeout 10s --latency -s "$WORK/post.lua" "$URL" > "$WORK/wrk$C.$R.txt"
        RPS="$RPS $(awk '/^Requests\/sec/ {print $2}' "$WORK/wrk$C.$R.txt")"
        P50="$P50 $(to_ms "$(awk '$1 == "50%" {print $2}' "$WORK/wrk$C.$R.txt")")"
        P99="$P99 $(to_ms "$(awk '$1 == "99%" {print $2}' "$WORK/wrk$C.$R.txt")")"
        N=$((N + $(awk '/requests in/ {print $1}' "$WORK/wrk$C.$R.txt")))
        BAD=$((BAD + $(awk '/Non-2xx/ {n += $NF} /Socket errors/ {gsub(",", ""); n += $4 + $6 + $8 + $10} END {print n + 0}' "$WORK/wrk$C.$R.txt")))
    done
    FAILED=$((FAILED + BAD))
    echo "| $C | $(echo "$RPS" | median) ($(echo $RPS | tr ' ' '/')) | $(echo "$P50" | median) ms | $(echo "$P99" | median) ms | $N | $BAD |" |
        tee -a "$WORK/report"
done

# memory under steady load: after 30 s and after 60 s
wrk -t2 -c8 -d"${RSS_DUR}s" --timeout 10s -s "$WORK/post.lua" "$URL" > "$WORK/wrk_rss.txt" &
WRK=$!
sleep $((RSS_DUR / 2))
R30=$(rss_kb)
sleep $((RSS_DUR / 2 - 1))
R60=$(rss_kb)
wait $WRK
BAD=$(awk '/Non-2xx/ {n += $NF} /Socket errors/ {gsub(",", ""); n += $4 + $6 + $8 + $10} END {print n + 0}' "$WORK/wrk_rss.txt")
FAILED=$((FAILED + BAD))
DIFF=$(awk -v a="$R30" -v b="$R60" 'BEGIN {d = (b - a) / a * 100; printf "%+.1f", d}')
{
    echo
    echo "RSS at 8 connections: $((R30 / 1024)) MB after $((RSS_DUR / 2)) s, $((R60 / 1024)) MB after $((RSS_DUR - 1)) s ($DIFF %);" \
         "$(awk '/requests in/ {print $1}' "$WORK/wrk_rss.txt") requests, $BAD failed"
    echo "failed valid requests in all runs: $FAILED"
} | tee -a "$WORK/report"
[ -z "${OUT:-}" ] || cp "$WORK/report" "$OUT"
kill -TERM "$PID"
wait "$PID" || { echo "serve.sh: the server did not exit 0 on SIGTERM" >&2; exit 1; }
PID=""
OK=$(awk -v d="$DIFF" 'BEGIN {print (d <= 10 && d >= -10) ? 1 : 0}')
[ "$FAILED" -eq 0 ] && [ "$OK" -eq 1 ] || { echo "serve.sh: FAILED ($FAILED failed requests, RSS $DIFF %)" >&2; exit 1; }
