#!/usr/bin/env bash
# Workflow 5b: the real transfer gain, offline. The zoo's own CNN is trained on MNIST
# digits 0-4 (source task), published, pulled with its first two blocks frozen and a
# new head, and fine-tuned on digits 5-9 with only a few labels per class; a CNN of
# the same architecture trained from scratch on the same few labels is the baseline.
source "$(dirname "$0")/common.sh"
SOURCE_EPOCHS=${SOURCE_EPOCHS:-8}
EPOCHS=${EPOCHS:-100}
PER_CLASS=${PER_CLASS:-5}

step "producer: train the CNN on digits 0-4 and publish it"
zoo data mnist5k --classes 0-4 --split train --out source-train.npz
zoo data mnist5k --classes 0-4 --split test --out source-test.npz
zoo train cnn --data source-train.npz --test source-test.npz --epochs "$SOURCE_EPOCHS" \
  --out cnn-pkg --force
zoo publish cnn-pkg cnn-digits04

step "consumer: freeze blocks 1-2, new head, target digits 5-9 with $PER_CLASS labels each"
zoo pull cnn-digits04 --cut-at block3_relu --freeze-until block2_relu \
  --head gap,dense:5:softmax --out cnn-transfer --force
zoo data mnist5k --classes 5-9 --per-class "$PER_CLASS" --split train --out target-few.npz
zoo data mnist5k --classes 5-9 --split test --out target-test.npz

step "transfer vs scratch"
zoo compare cnn-transfer --data target-few.npz --test target-test.npz --epochs "$EPOCHS" \
  --lr 0.01
