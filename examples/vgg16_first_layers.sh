#!/usr/bin/env bash
# Workflow 2: take VGG16 up to block3_pool (its first 10 layers), add a conv + dense
# head, and freeze the LATER layers (block3_conv2 on, head included), as the seed did:
# 1,852,514 parameters at 224x224, 555,328 trainable.
# Offline, VGG16 has random weights (--weights none): this shows the mechanics; pass
# WEIGHTS=imagenet (with network) or WEIGHTS=/path/vgg16.weights.h5 for real ones.
source "$(dirname "$0")/common.sh"
WEIGHTS=${WEIGHTS:-none}
EPOCHS=${EPOCHS:-3}
PER_CLASS=${PER_CLASS:-50}
BASE=${BASE:-}  # a base already on the hub (e.g. BASE=vgg16): skip the producer step

if [ -z "$BASE" ]; then
  step "producer: package Keras' VGG16 (no top, caffe preprocessing built in)"
  zoo pack keras:VGG16 --weights "$WEIGHTS" --input-size 224x224 --out vgg16-pkg --force
  zoo publish vgg16-pkg vgg16
  BASE=vgg16
fi

step "consumer: cut at block3_pool, conv:32:3 + dense:2 head, freeze block3_conv2 on"
zoo pull "$BASE" --cut-at block3_pool --freeze block3_conv2: \
  --head conv:32:3:relu,flatten,dense:2:softmax --out vgg16-head --force
zoo inspect vgg16-head | tail -3

step "fine-tune on a two-class task: MNIST 0 vs 1 (gray 28x28, resized to 224x224 RGB)"
zoo pull "$BASE" --cut-at block3_pool --freeze block3_conv2: --input-size 28x28x1 \
  --head conv:32:3:relu,flatten,dense:2:softmax --out vgg16-digits --force
zoo data mnist5k --classes 0,1 --per-class "$PER_CLASS" --split train --out two-train.npz
zoo data mnist5k --classes 0,1 --split test --per-class "$PER_CLASS" --out two-test.npz
zoo finetune vgg16-digits --data two-train.npz --epochs "$EPOCHS" --lr 1e-4 --batch-size 8 \
  --out vgg16-tuned --force
zoo evaluate vgg16-tuned --data two-test.npz
