"""ConvNeXt through the zoo's ONNX export: conversion time, peak memory, parity.

Builds a keras.applications ConvNeXt (random weights, no top, average pooling, a
Dense(10) head) at 32x32, converts with `zoo.deploy.export.to_onnx` (the path `zoo
export --format onnx` takes) and runs the result in onnxruntime against Keras. Models
over `FROZEN_WEIGHTS_LIMIT` (Large, XLarge) convert with their weights as graph inputs;
`frozen` or `inputs` after the name forces one way. One architecture per process, so
peak RSS is that conversion's own:

    python bench/convnext_onnx.py ConvNeXtTiny          # ~40 s, ~3.4 GB here
    python bench/convnext_onnx.py ConvNeXtTiny inputs   # weights as graph inputs
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

from zoo.deploy.export import (  # noqa: E402
    FROZEN_WEIGHTS_LIMIT,
    INPUT_NAME,
    to_onnx,
    weight_bytes,
)

WAYS = {"frozen": False, "inputs": True}


def main(arch: str, way: str | None = None, size: int = 32) -> None:
    backbone = getattr(keras.applications, arch)(include_top=False, weights=None,
                                                 input_shape=(size, size, 3), pooling="avg")
    pixels = keras.Input((size, size, 3))
    model = keras.Model(pixels, keras.layers.Dense(10)(backbone(pixels)))
    x = np.random.default_rng(0).uniform(0, 255, (8, size, size, 3)).astype(np.float32)
    expected = np.asarray(model(x, training=False))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{arch}.onnx"
        start = time.perf_counter()
        as_inputs = WAYS[way] if way else weight_bytes(model) > FROZEN_WEIGHTS_LIMIT
        to_onnx(model, path, (size, size, 3), {}, weights_as_inputs=as_inputs)
        seconds = time.perf_counter() - start
        peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # KiB on Linux
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        diff = max(float(np.max(np.abs(session.run(None, {INPUT_NAME: x[:b]})[0]
                                       - expected[:b]))) for b in (1, 7, 8))
        megabytes = path.stat().st_size / 1e6
    how = "weights as inputs" if as_inputs else "frozen"
    print(f"{arch} {size}x{size}, {how}: convert {seconds:.1f} s, peak RSS {peak_gb:.1f} GB, "
          f"{megabytes:.0f} MB, max abs diff vs Keras {diff:.1e}")


if __name__ == "__main__":
    main(*(sys.argv[1:] or ["ConvNeXtTiny"]))
