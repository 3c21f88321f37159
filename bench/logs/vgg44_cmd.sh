#!/bin/sh
# vgg44: the models/best.ferc candidate of issue 12, run from runs/vgg44/
# (see models/checkpoints/README.md). Started from scratch on 2026-12-02 with the
# build of commit 65e31d8 (runs/bin/ferc-65e31d8); any later build resumes it.
# fp32: on the AMD EPYC of that session --bf16 was only 8% faster.
FERC=${FERC:-../bin/ferc-run}
[ -x "$FERC" ] || FERC=../bin/ferc-65e31d8
exec env OMP_WAIT_POLICY=PASSIVE "$FERC" train --data ../../../shared/data/fer2013/fer2013.csv.gz --arch "spec:44:conv64 bn relu conv64 bn relu pool conv128 bn relu conv128 bn relu pool conv256 bn relu conv256 bn relu pool conv512 bn relu conv512 bn relu pool flatten dense512 bn relu drop0.5 dense7" --augment crop --augment flip --augment rotation=10 --augment zoom=0.2 --augment shift=0.1 --optimizer sgd --lr 0.01 --momentum 0.9 --weight-decay 5e-4 --lr-schedule cosine --lr-min 1e-5 --lr-warmup 1 --epochs 100 --batch 64 --seed 1 --threads 2 --out vgg44.ferc --resume "$@"
