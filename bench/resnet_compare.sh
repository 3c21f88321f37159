#!/bin/sh
# bench/resnet_compare.sh — training speed of the ResNet-18-like net of issue
# 12 in ferc (ferc bench, fused executor, residual convs on oneDNN) and in
# PyTorch (bench/torch_resnet_peer.py), alternating RUNS times, batch 64,
# 2 threads; prints each run's images/s and the medians. Usage (repo root):
#   sh bench/resnet_compare.sh [RUNS (3)] [IMAGES (512)]
set -e
RUNS=${1:-3}; IMAGES=${2:-512}
FERC=${FERC:-./build/ferc}
SPEC="spec:44:conv64 bn relu res64 res64 res128s2 res128 res256s2 res256 res512s2 res512 gap dense7"
echo "cpu: $(lscpu | sed -n 's/^Model name: *//p')"
f=""; t=""
for i in $(seq "$RUNS"); do
    a=$(OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=2 "$FERC" bench --arch "$SPEC" --batch 64 --threads 2 \
        --images "$IMAGES" --warmup 2 --json | sed -n 's/.*"images_per_s": *\([0-9.]*\).*/\1/p')
    b=$(OMP_NUM_THREADS=2 /usr/bin/python3 bench/torch_resnet_peer.py --batch 64 --threads 2 \
        --images "$IMAGES" --warmup 2 | sed -n 's/.*"images_per_s": *\([0-9.]*\).*/\1/p')
    echo "run $i: ferc $a images/s, torch $b images/s"
    f="$f $a"; t="$t $b"
done
med() { echo "$@" | tr ' ' '\n' | sed '/^$/d' | sort -g | awk '{v[NR]=$1} END{print (NR%2)?v[(NR+1)/2]:(v[NR/2]+v[NR/2+1])/2}'; }
mf=$(med $f); mt=$(med $t)
echo "median: ferc $mf images/s, torch $mt images/s, ratio $(echo "$mf $mt" | awk '{printf "%.2f", $1/$2}')"
