#!/usr/bin/env bash
# Workflow 3: EfficientNetB0, frozen base + new head (phase 1), then phase 2 unfreezes
# the top block (block7a on) at a low learning rate; the base's BatchNorm stays frozen.
# Offline the weights are random (--weights none): mechanics, not accuracy.
source "$(dirname "$0")/common.sh"
WEIGHTS=${WEIGHTS:-none}
SIZE=${SIZE:-64}
EPOCHS=${EPOCHS:-5}
PER_CLASS=${PER_CLASS:-40}
BASE=${BASE:-}  # a base already on the hub (e.g. BASE=effnetb0): skip the producer step

if [ -z "$BASE" ]; then
  step "producer: package Keras' EfficientNetB0 at ${SIZE}x${SIZE}"
  zoo pack keras:EfficientNetB0 --weights "$WEIGHTS" --input-size "${SIZE}x${SIZE}" \
    --out effnet-pkg --force
  zoo publish effnet-pkg effnetb0
  BASE=effnetb0
fi

step "consumer: frozen base, new head"
zoo pull "$BASE" --cut-at top_activation --freeze-until top_activation \
  --input-size 28x28x1 --head gap,dropout:0.2,dense:5:softmax --out effnet-head --force

step "two-phase fine-tuning on MNIST digits 5-9"
zoo data mnist5k --classes 5-9 --per-class "$PER_CLASS" --split train --out five-train.npz
zoo finetune effnet-head --data five-train.npz --epochs "$EPOCHS" --lr 1e-3 --patience 3 \
  --phase2-unfreeze-from block7a_expand_conv --phase2-lr 1e-5 --phase2-epochs "$EPOCHS" \
  --out effnet-tuned --force
zoo inspect effnet-tuned | grep -E "finetuned|parameters"
