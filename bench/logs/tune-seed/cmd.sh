#!/bin/sh
# docs/tune.md's search: 9 trials of the seed network, rungs 3, 9, 27 epochs.
exec env OMP_WAIT_POLICY=PASSIVE nice -n 15 ../bin/ferc-tune tune --space ../../examples/space.txt --trials 9 --min-epochs 3 --epochs 27 --eta 3 --out search --threads 1 --data ../../../shared/data/fer2013/fer2013.csv.gz --arch seed --lr-schedule cosine --lr-min 1e-5 --batch 64 --seed 1 "$@"
