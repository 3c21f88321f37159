#!/bin/sh
# run.sh — the main job on a fresh Debian 12 machine: install the build
# dependencies, build ferc, train the seed CNN on FER2013's Training rows
# and evaluate it on PublicTest. Usage: make run [DATA=CSV] (default
# ../shared/data/fer2013/fer2013.csv.gz); EPOCHS=N, ARCH=NAME, OUT=FILE override.
set -e
cd "$(dirname "$0")/.."
DATA="${1:-../shared/data/fer2013/fer2013.csv.gz}"
EPOCHS="${EPOCHS:-30}"
ARCH="${ARCH:-seed}"
OUT="${OUT:-runs/$ARCH.ferc}"   # runs/ is git-ignored and survives make clean
if [ ! -r "$DATA" ]; then
  echo "run.sh: FER2013 not found at $DATA" >&2
  echo "Pass the path of fer2013.csv (or .csv.gz, columns emotion,pixels,Usage): make run DATA=PATH" >&2
  exit 2
fi
sh scripts/install-deps.sh build
make -j2 build/ferc
mkdir -p "$(dirname "$OUT")"
./build/ferc train --data "$DATA" --arch "$ARCH" --epochs "$EPOCHS" --batch 64 --lr 1e-3 --seed 1 --out "$OUT" --resume
./build/ferc eval --model "$OUT" --data "$DATA" --usage PublicTest
