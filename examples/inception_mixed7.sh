#!/usr/bin/env bash
# Workflow 4: cut InceptionV3 at mixed7 and add a DNN head.
# Offline the weights are random (--weights none): mechanics, not accuracy.
source "$(dirname "$0")/common.sh"
WEIGHTS=${WEIGHTS:-none}
SIZE=${SIZE:-150}
EPOCHS=${EPOCHS:-3}
PER_CLASS=${PER_CLASS:-40}
BASE=${BASE:-}  # a base already on the hub (e.g. BASE=inceptionv3): skip the producer step

if [ -z "$BASE" ]; then
  step "producer: package Keras' InceptionV3 at ${SIZE}x${SIZE}"
  zoo pack keras:InceptionV3 --weights "$WEIGHTS" --input-size "${SIZE}x${SIZE}" \
    --out inception-pkg --force
  zoo publish inception-pkg inceptionv3
  BASE=inceptionv3
fi

step "consumer: cut at mixed7 (a merge of four branches), frozen, DNN head"
zoo pull "$BASE" --cut-at mixed7 --freeze-until mixed7 --input-size 28x28x1 \
  --head gap,dense:64:relu,dropout:0.2,dense:5:softmax --out inception-head --force
zoo inspect inception-head | tail -2

step "fine-tune the head on MNIST digits 5-9"
zoo data mnist5k --classes 5-9 --per-class "$PER_CLASS" --split train --out five-train.npz
zoo finetune inception-head --data five-train.npz --epochs "$EPOCHS" --lr 1e-3 \
  --out inception-tuned --force
