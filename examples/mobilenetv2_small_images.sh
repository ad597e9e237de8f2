#!/usr/bin/env bash
# Workflow 5a: MobileNetV2 on small images, upscaled to 96x96 with its own ('tf')
# preprocessing built in, frozen, with a flatten/dense head, compared with a CNN
# trained from scratch on the same data. Offline the ImageNet weights cannot be
# downloaded, so this base is random (--weights none) and the comparison shows the
# mechanics only; digits_transfer.sh shows the real gain with the zoo's own CNN.
source "$(dirname "$0")/common.sh"
WEIGHTS=${WEIGHTS:-none}
EPOCHS=${EPOCHS:-10}
PER_CLASS=${PER_CLASS:-20}
BASE=${BASE:-}  # a base already on the hub (e.g. BASE=mobilenetv2): skip the producer step

if [ -z "$BASE" ]; then
  step "producer: package Keras' MobileNetV2 at 96x96"
  zoo pack keras:MobileNetV2 --weights "$WEIGHTS" --input-size 96x96 --out mobilenet-pkg --force
  zoo publish mobilenet-pkg mobilenetv2
  BASE=mobilenetv2
fi

step "consumer: 28x28 gray digits → 96x96 RGB, frozen base, dense head"
zoo pull "$BASE" --cut-at out_relu --freeze-until out_relu --input-size 28x28x1 \
  --head flatten,dropout:0.2,dense:128:relu,dense:64:relu,dense:5:softmax \
  --out mobilenet-head --force

step "transfer vs scratch on the same few labels (MNIST 5-9)"
zoo data mnist5k --classes 5-9 --per-class "$PER_CLASS" --split train --out few-train.npz
zoo data mnist5k --classes 5-9 --split test --out few-test.npz
zoo compare mobilenet-head --data few-train.npz --test few-test.npz --epochs "$EPOCHS" --lr 1e-3
