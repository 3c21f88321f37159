#!/bin/sh
# seedaug: the seed-1 architecture with augmentation (issue 12 item 6). Binary built from commit a153769.
exec env OMP_WAIT_POLICY=PASSIVE nice -n 10 ../bin/ferc-a153769 train --data ../../../shared/data/fer2013/fer2013.csv.gz --arch seed --augment flip --augment rotation=10 --augment zoom=0.2 --augment shift=0.1 --lr 1e-3 --lr-schedule cosine --lr-min 1e-5 --epochs 60 --batch 64 --seed 1 --threads 2 --out seedaug.ferc --resume "$@"
