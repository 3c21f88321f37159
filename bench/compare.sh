#!/bin/sh
# compare.sh — ferc against PyTorch on this machine, same work, same run.
#
# For each configuration (seed train b64, vgg train b32, seed infer b1,
# seed infer b256; on 2 threads and on 1 thread) it runs `ferc bench` and
# ../shared/bench/torch_peer.py alternately, REPS times each, and prints the
# median images/s of each side with min-max, and the median of the per-pair
# ratios ferc/PyTorch (for batch 1 that is the latency ratio PyTorch/ferc).
# It also reports the peak RSS (/usr/bin/time -v) of both for seed train b64.
#
# Both sides get the same, best environment: threads pinned (taskset to the
# first T cores, OMP_PROC_BIND=true, OMP_PLACES=cores), OMP_NUM_THREADS=T,
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset; PyTorch also gets
# OPENBLAS_NUM_THREADS=1 (see ../shared/bench/README.md: OpenBLAS's own
# threads otherwise fight torch's OpenMP threads).
#
# usage: bench/compare.sh            (from the repository root; builds build/ferc if needed)
# environment:
#   REPS=5            runs per side and configuration
#   THREADS="2 1"     thread counts
#   CONFIGS="seed:train:64 vgg:train:32 seed:infer:1 seed:infer:256"
#   IMAGES=4096       images per timed pass (seed); VGG_IMAGES=1024 for vgg
#   PYTHON=/usr/bin/python3   an interpreter with torch (the pyenv python3 has none)
#   PEER=../shared/bench/torch_peer.py
#   OUT=/tmp/ferc_compare.jsonl   every run as one JSON line
#   BF16=1            also run `ferc bench --bf16` (bf16 convolutions) as a third side
set -eu
cd "$(dirname "$0")/.."
REPS=${REPS:-5}
THREADS=${THREADS:-"2 1"}
CONFIGS=${CONFIGS:-"seed:train:64 vgg:train:32 seed:infer:1 seed:infer:256"}
IMAGES=${IMAGES:-4096}
VGG_IMAGES=${VGG_IMAGES:-1024}
PYTHON=${PYTHON:-/usr/bin/python3}
PEER=${PEER:-../shared/bench/torch_peer.py}
OUT=${OUT:-/tmp/ferc_compare.jsonl}
BF16=${BF16:-0}
FERC=./build/ferc

[ -x "$FERC" ] || make build/ferc >/dev/null
[ -f "$PEER" ] || { echo "compare.sh: $PEER not found" >&2; exit 1; }
"$PYTHON" -c "import torch" 2>/dev/null || { echo "compare.sh: $PYTHON has no torch (apt-get install python3-torch)" >&2; exit 1; }
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE GOMP_SPINCOUNT OMP_WAIT_POLICY KMP_AFFINITY || true
: > "$OUT"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

cores() { # first $1 cores, e.g. 0,1
    seq -s, 0 $(($1 - 1))
}

# run SIDE ARCH MODE BATCH T N -> appends one JSON line (with "side" and "rss_mb") to $OUT
run() {
    side=$1 arch=$2 mode=$3 batch=$4 t=$5 n=$6
    if [ "$side" = ferc ] || [ "$side" = ferc_bf16 ]; then
        extra=
        [ "$side" = ferc_bf16 ] && extra=--bf16
        env OMP_NUM_THREADS=$t OMP_PROC_BIND=true OMP_PLACES=cores \
            /usr/bin/time -v -o "$TMP/time" taskset -c "$(cores "$t")" \
            "$FERC" bench --arch "$arch" --mode "$mode" --batch "$batch" --threads "$t" \
            --images "$n" --peak "$PEAK" --json $extra > "$TMP/json"
    else
        env OMP_NUM_THREADS=$t OMP_PROC_BIND=true OMP_PLACES=cores OPENBLAS_NUM_THREADS=1 \
            /usr/bin/time -v -o "$TMP/time" taskset -c "$(cores "$t")" \
            "$PYTHON" "$PEER" --arch "$arch" --mode "$mode" --batch "$batch" --threads "$t" \
            --train-images "$n" > "$TMP/json"
    fi
    rss=$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2 / 1024}' "$TMP/time")
    "$PYTHON" - "$side" "$rss" "$TMP/json" >> "$OUT" <<'EOF'
import json, sys
side, rss, path = sys.argv[1], float(sys.argv[2]), sys.argv[3]
d = json.loads(open(path).read().strip().splitlines()[0])
d["side"] = side
d["rss_mb"] = round(rss, 1)
print(json.dumps(d))
EOF
}

# The FMA peak of this machine, per core (../shared/bench/peak_fma.c, best
# AVX-512 kernel on one thread), unless PEAK is given: peak_fraction uses it.
best_avx512() { # the best AVX-512 GFLOP/s line of peak_fma's output
    awk '/avx512/ && /GFLOP/ { for (i = 1; i <= NF; i++) if ($i == "GFLOP/s") { v = $(i-1) + 0; if (v > m + 0) m = v } } END { print m }'
}
if [ -z "${PEAK:-}" ] && [ -f ../shared/bench/peak_fma.c ] &&
   gcc -O2 -mavx512f -mfma -fopenmp ../shared/bench/peak_fma.c -o "$TMP/peak_fma" 2>/dev/null; then
    PEAK=$(OMP_NUM_THREADS=1 taskset -c 0 "$TMP/peak_fma" | best_avx512)
    PEAK2=$(OMP_NUM_THREADS=2 "$TMP/peak_fma" | best_avx512)
    echo "FMA peak (peak_fma.c, best AVX-512 kernel): 1 thread $PEAK GFLOP/s, 2 threads $PEAK2 GFLOP/s"
fi
PEAK=${PEAK:-234}
echo "ferc vs PyTorch: $REPS runs per side and configuration, alternating; log in $OUT"
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; torch $("$PYTHON" -c 'import torch; print(torch.__version__)')"
for t in $THREADS; do
    for cfg in $CONFIGS; do
        arch=${cfg%%:*} rest=${cfg#*:}
        mode=${rest%%:*} batch=${rest#*:}
        n=$IMAGES
        [ "$arch" = vgg ] && n=$VGG_IMAGES
        # at least 4 batches in the timed pass
        [ "$n" -lt $((4 * batch)) ] && n=$((4 * batch))
        i=1
        while [ "$i" -le "$REPS" ]; do
            printf '\r  %s %s b%s, %s thread(s): run %s/%s ' "$arch" "$mode" "$batch" "$t" "$i" "$REPS" >&2
            run ferc "$arch" "$mode" "$batch" "$t" "$n"
            [ "$BF16" = 1 ] && run ferc_bf16 "$arch" "$mode" "$batch" "$t" "$n"
            run torch "$arch" "$mode" "$batch" "$t" "$n"
            i=$((i + 1))
        done
    done
done
printf '\r%60s\r' '' >&2

"$PYTHON" - "$OUT" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
targets = {("seed", "train", 64): 3.0, ("vgg", "train", 32): 1.5, ("seed", "infer", 1): 4.0,
           ("seed", "infer", 256): 4.0}
groups = {}
for r in rows:
    groups.setdefault((r["arch"], r["mode"], r["batch"], r["threads"]), {"ferc": [], "ferc_bf16": [], "torch": []})[r["side"]].append(r)
print()
print("%-22s %-24s %-24s %-14s %s" % ("configuration", "ferc img/s med [min-max]",
                                       "torch img/s med [min-max]", "ratio med", "target (2 threads)"))
for key in sorted(groups, key=lambda k: (-k[3], k[0] != "seed", k[1], k[2])):
    g = groups[key]
    f = [r["images_per_s"] for r in g["ferc"]]
    t = [r["images_per_s"] for r in g["torch"]]
    n = min(len(f), len(t))
    ratios = [f[i] / t[i] for i in range(n)]
    med = statistics.median(ratios) if ratios else float("nan")
    tgt = targets.get(key[:3])
    verdict = ""
    if tgt and key[3] == 2:
        verdict = ">= %.1fx: %s" % (tgt, "reached" if med >= tgt else "NOT reached")
    name = "%s %s b%d, %d thr" % key
    fmt = lambda v: "%.0f [%.0f-%.0f]" % (statistics.median(v), min(v), max(v)) if v else "-"
    print("%-22s %-24s %-24s %-14s %s" % (name, fmt(f), fmt(t), "%.2fx" % med, verdict))
    b = [r["images_per_s"] for r in g["ferc_bf16"]]
    if b:
        nb = min(len(b), len(t))
        rb = [b[i] / t[i] for i in range(nb)]
        print("%-22s %-24s %-24s %-14s %s" % ("  ferc --bf16", fmt(b), "", "%.2fx" % statistics.median(rb),
                                              "bf16/fp32 ferc: %.2fx" % (statistics.median(b) / statistics.median(f))))
    if key[:3] == ("seed", "train", 64):
        fr = [r["rss_mb"] for r in g["ferc"]]
        tr = [r["rss_mb"] for r in g["torch"]]
        if fr and tr:
            ratio = statistics.median(fr) / statistics.median(tr)
            print("%-22s ferc %.0f MB, torch %.0f MB (median peak RSS): ferc/torch %.2f, target <= 0.33: %s"
                  % ("", statistics.median(fr), statistics.median(tr), ratio,
                     "reached" if ratio <= 1 / 3 else "NOT reached"))
print()
print("ferc effective GFLOP/s (median) and fraction of the FMA peak:")
for key in sorted(groups, key=lambda k: (-k[3], k[0] != "seed", k[1], k[2])):
    f = groups[key]["ferc"]
    if f:
        gf = statistics.median([r["gflops"] for r in f])
        pk = f[0]["peak_gflops"]
        print("  %-22s %7.1f GFLOP/s  %4.1f%% of %.0f" % ("%s %s b%d, %d thr" % key, gf, 100 * gf / pk, pk))
EOF
