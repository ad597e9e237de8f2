"""The frozen prefix in onnxruntime: what converting it costs with and without tf2onnx's
own optimizers, and what running it costs next to Keras `predict`.

The prefix is what `zoo finetune` converts for MobileNetV2 at 64x64 behind a 28x28x1
input (resize, grey to RGB, scaling): random weights, 2,000 random images.

    python bench/prefix_onnx.py        # ~1 minute here
"""

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import report

SAMPLES = 2000


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import keras

    from zoo.deploy.export import to_onnx
    from zoo.deploy.runtime import onnx_runner, predict_batched

    keras.utils.set_random_seed(0)
    inputs = keras.Input((28, 28, 1))
    z = keras.layers.Resizing(64, 64)(inputs)
    z = keras.layers.Concatenate()([z, z, z])
    z = keras.layers.Rescaling(1 / 127.5, -1)(z)
    base = keras.applications.MobileNetV2(include_top=False, weights=None,
                                          input_shape=(64, 64, 3))
    prefix = keras.Model(inputs, base(z))
    x = np.random.default_rng(0).uniform(0, 255, (SAMPLES, 28, 28, 1)).astype(np.float32)
    started = time.perf_counter()
    expected = np.asarray(prefix.predict(x, verbose=0, batch_size=128))
    rows = [["Keras predict", "", f"{time.perf_counter() - started:.2f}", ""]]
    with tempfile.TemporaryDirectory() as tmp:
        for optimize in (True, False):
            path = Path(tmp) / f"prefix-{optimize}.onnx"
            started = time.perf_counter()
            to_onnx(prefix, path, (28, 28, 1), {}, optimize=optimize)
            converted = time.perf_counter() - started
            run = onnx_runner(path)
            run(x[:128])  # warm-up
            started = time.perf_counter()
            got = predict_batched(run, x, 256)
            rows.append([f"onnxruntime, tf2onnx optimizers {'on' if optimize else 'off'}",
                         f"{converted:.2f}", f"{time.perf_counter() - started:.2f}",
                         f"{np.max(np.abs(got - expected)):.1e}"])
    report("prefix_onnx", ["way", "convert s", f"run {SAMPLES} images s", "max abs diff"],
           rows, {"model": "MobileNetV2 64x64 prefix behind 28x28x1, random weights"})


if __name__ == "__main__":
    main()
