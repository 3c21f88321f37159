#!/bin/sh
# mpi_scaling.sh — data-parallel training on this machine (issue 17,
# docs/distributed.md): images/s of one `ferc train` epoch with 1 process x
# 2 OpenMP threads against `mpirun -np 2` x 1 thread, same global batch, on
# the first LIMIT Training faces of FER2013 (no validation split, so the
# epoch time is the batches only). REPS runs of each; the median is printed.
#   sh bench/mpi_scaling.sh [FERC] [DATA]      (needs an MPI build and mpirun)
set -eu
FERC=${1:-build/ferc}
DATA=${2:-../shared/data/fer2013/fer2013.csv.gz}
LIMIT=${LIMIT:-4000}
REPS=${REPS:-3}
ARCHS=${ARCHS:-"seed seed2"}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$FERC" info --build | grep -q 'mpi: *yes' || { echo "mpi_scaling.sh: $FERC has no MPI (make MPI=1)"; exit 1; }
MPIRUN="mpirun --oversubscribe --allow-run-as-root --bind-to none --mca btl_vader_single_copy_mechanism none"
echo "cpu: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $LIMIT faces, 1 epoch, $REPS runs each"
# images/s of the epoch line of one run (its stderr in $tmp/err)
ips() { sed -n 's/^Epoch 1\/1 .* - \([0-9]*\) img\/s .*/\1/p' "$tmp/err" | head -1; }
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for arch in $ARCHS; do
    batch=64; [ "$arch" = seed2 ] && batch=32
    common="train --data $DATA --limit $LIMIT --arch $arch --epochs 1 --batch $batch --val-fraction 0 --force"
    one="" two=""
    for r in $(seq "$REPS"); do
        "$FERC" $common --threads 2 --out "$tmp/a.ferc" 2>"$tmp/err"; one="$one $(ips)"
        $MPIRUN -np 2 "$FERC" $common --threads 1 --out "$tmp/b.ferc" 2>"$tmp/err"; two="$two $(ips)"
    done
    echo "$arch batch $batch: 1 rank x 2 threads:$one img/s (median $(echo "$one" | median)); 2 ranks x 1 thread:$two img/s (median $(echo "$two" | median))"
done
