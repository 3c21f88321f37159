#!/bin/sh
# imbalance.sh — the seed2 recipe's comparisons (issue 4): class imbalance
# handling (none, balanced class weights, oversampling) and the way to reach
# 40x40 (random 40x40 crops of the 48x48 face vs a resize of the whole face),
# each trained for EPOCHS epochs with the same seed, then evaluated on
# PublicTest (per-class precision/recall/F1). Models are selected on the
# validation split only. Usage: bench/imbalance.sh [EPOCHS] [OUTDIR]
set -e
cd "$(dirname "$0")/.."
EPOCHS="${1:-10}"
OUT="${2:-build/imbalance}"
DATA="${DATA:-../shared/data/fer2013/fer2013.csv.gz}"
mkdir -p "$OUT"
make -s build/ferc
run() {  # name, then extra train options
  name=$1; shift
  if [ ! -f "$OUT/$name.ferc" ]; then
    ./build/ferc train --data "$DATA" --arch seed2 --epochs "$EPOCHS" --batch 32 --lr 1e-3 --seed 1 \
        --labels onehot --augment preset=seed2 --augment flip "$@" --out "$OUT/$name.ferc" --quiet
  fi
  ./build/ferc eval --model "$OUT/$name.ferc" --data "$DATA" --usage PublicTest > "$OUT/$name.txt"
  ./build/ferc eval --model "$OUT/$name.ferc" --data "$DATA" --usage PublicTest --json > "$OUT/$name.json"
  ./build/ferc eval --model "$OUT/$name.ferc" --data "$DATA" --usage PublicTest --tta > "$OUT/$name-tta.txt"
  echo "== $name ($*)"
  sed -n '3,16p' "$OUT/$name.txt"
  echo "   with test-time augmentation (ten crops, or face + mirror): $(sed -n 3p "$OUT/$name-tta.txt")"
}
run crop-none        --augment crop
run crop-classweight --augment crop --class-weight balanced
run crop-oversample  --augment crop --balance oversample
run resize-oversample --balance oversample
