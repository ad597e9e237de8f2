"""ConvNeXt through the zoo's ONNX export: conversion time, peak memory, parity.

Builds keras.applications ConvNeXt{Tiny,Small,Base} (random weights, no top, average
pooling, a Dense(10) head) at 32x32, converts with `zoo.deploy.export.to_onnx` (the
path `zoo export --format onnx` takes) and runs the result in onnxruntime against
Keras. One architecture per process, so peak RSS is that conversion's own:

    python bench/convnext_onnx.py ConvNeXtTiny      # ~40 s, ~3.4 GB here
"""

import os
import resource
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import onnxruntime  # noqa: E402

from zoo.deploy.export import INPUT_NAME, to_onnx  # noqa: E402


def main(arch: str, size: int = 32) -> None:
    backbone = getattr(keras.applications, arch)(include_top=False, weights=None,
                                                 input_shape=(size, size, 3), pooling="avg")
    pixels = keras.Input((size, size, 3))
    model = keras.Model(pixels, keras.layers.Dense(10)(backbone(pixels)))
    x = np.random.default_rng(0).uniform(0, 255, (8, size, size, 3)).astype(np.float32)
    expected = np.asarray(model(x, training=False))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{arch}.onnx"
        start = time.perf_counter()
        to_onnx(model, path, (size, size, 3), {})
        seconds = time.perf_counter() - start
        peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # KiB on Linux
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        diff = max(float(np.max(np.abs(session.run(None, {INPUT_NAME: x[:b]})[0]
                                       - expected[:b]))) for b in (1, 7, 8))
        megabytes = path.stat().st_size / 1e6
    print(f"{arch} {size}x{size}: convert {seconds:.1f} s, peak RSS {peak_gb:.1f} GB, "
          f"{megabytes:.0f} MB, max abs diff vs Keras {diff:.1e}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "ConvNeXtTiny")
