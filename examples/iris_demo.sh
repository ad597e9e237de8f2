#!/usr/bin/env bash
# Heaton's iris transfer example, end to end, on the default hub ($ZOO_HOME):
# train 4-50-25-3 → publish → pull with the top dropped, 50-25 frozen and a new
# 4-class softmax → fine-tune on four classes → evaluate → export SavedModel and ONNX
# → publish the result beside its base → the hub as web pages (zoo hub site).
source "$(dirname "$0")/common.sh"
BASE=${BASE:-}  # a base already on the hub (e.g. BASE=iris): skip the producer step

if [ -z "$BASE" ]; then
  step "producer: train the 4-50-25-3 iris network and package it"
  zoo train iris --out iris-pkg --force

  step "producer: publish it to the default hub"
  zoo publish iris-pkg iris
  BASE=iris
fi
zoo list

step "consumer: pull it, drop the top, freeze hidden1..hidden2, add a 4-class softmax"
zoo pull "$BASE" --drop-top 1 --freeze-until hidden2 --head dense:4:softmax \
  --license MIT --author "demo user" --name iris4 --out iris4-model --force
zoo inspect iris4-model

step "consumer: fine-tune on four classes (iris with virginica split by petal length)"
zoo data iris4 --split train --out iris4-train.csv
zoo data iris4 --split test --out iris4-test.csv
zoo finetune iris4-model --data iris4-train.csv --epochs 200 --lr 0.02 \
  --out iris4-tuned --force
zoo evaluate iris4-tuned --data iris4-test.csv --record

step "export: SavedModel and ONNX, each checked against Keras"
zoo export iris4-tuned --format savedmodel
zoo export iris4-tuned --format onnx --data iris4-test.csv
zoo inspect iris4-tuned

step "team: publish the derived network beside its base, and see the hub as web pages"
zoo publish iris4-tuned iris4
zoo hub site --out hub-site
echo "or serve the hub, its pages beside the Hub API: zoo hub serve (then http://127.0.0.1:8090/)"
