#!/bin/sh
# structure_speed.sh — did a code change move training speed? Runs `ferc bench`
# of two binaries alternately (OLD, NEW), REPS times each, on the same
# configurations, and prints the median images/s of each and their ratio.
# Used for the structure step (issue 11): OLD = the binary of the commit
# before it, NEW = build/ferc. Pause other work on the machine first.
#
# usage: OLD=path/to/old/ferc [NEW=build/ferc] [REPS=5] bench/structure_speed.sh
set -eu
cd "$(dirname "$0")/.."
OLD=${OLD:?set OLD to the binary to compare with}
NEW=${NEW:-./build/ferc}
REPS=${REPS:-5}
CONFIGS=${CONFIGS:-"seed:train:64:4096 seed2:train:32:1024 vgg:train:32:512 seed:infer:256:8192"}
echo "# $(date -u +%F' '%T) $(lscpu | sed -n 's/^Model name: *//p'); OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}; 2 threads; REPS=$REPS"
run() { # bin arch mode batch images -> images/s
    OMP_WAIT_POLICY=PASSIVE "$1" bench --arch "$2" --mode "$3" --batch "$4" --threads 2 --images "$5" --json |
        sed -n 's/.*"images_per_s": *\([0-9.]*\).*/\1/p'
}
median() { sort -n | awk '{a[NR]=$1} END{print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
for cfg in $CONFIGS; do
    IFS=: read -r arch mode batch images <<EOC
$cfg
EOC
    o=""; n=""
    for r in $(seq "$REPS"); do
        o="$o $(run "$OLD" "$arch" "$mode" "$batch" "$images")"
        n="$n $(run "$NEW" "$arch" "$mode" "$batch" "$images")"
    done
    mo=$(echo $o | tr ' ' '\n' | median); mn=$(echo $n | tr ' ' '\n' | median)
    printf '%-6s %-5s batch %-3s  old %8.1f  new %8.1f images/s  new/old %.3f   (old:%s | new:%s)\n' \
        "$arch" "$mode" "$batch" "$mo" "$mn" "$(echo "$mn $mo" | awk '{print $1/$2}')" "$o" "$n"
done
