"""ONNX export of ConvNeXt-style models (depthwise `Conv2D(groups=C)`, exact GELU).

tf2onnx 1.17 could not convert keras.applications ConvNeXt: Keras' TensorFlow
backend runs a grouped Conv2D through an XLA-compiled `tf.function`, left in the
graph as a nested StatefulPartitionedCall ("No Op registered for
StatefulPartitionedCall with domain_version of 17"), exact GELU is written with
`Erfc`, which tf2onnx has no handler for, and the attempt peaked at 8.4 GB for
ConvNeXtTiny. The export now traces those convolutions as `DepthwiseConv2D`, gives
tf2onnx an `Erfc` handler and collects the graph copies tf2onnx's optimizer leaves
behind (`zoo.deploy.onnx_graph`). Each test packs a model with the real `zoo pack`,
exports it with `zoo export --format onnx` and checks it against Keras in
onnxruntime at several batch sizes.
"""

from pathlib import Path

import numpy as np
import pytest
from conformance import tier
from conftest import ok
from packages import scaled_classifier
from parity import assert_export_parity

pytestmark = pytest.mark.slow  # builds, packs and exports Keras models

CLASSES = 10


def _convnext_like(path: Path) -> Path:
    """A few layers in ConvNeXt's pattern: a patchify stem, a 7x7 depthwise conv
    written as `Conv2D(groups=C)`, LayerNormalization, an inverted-bottleneck MLP
    with exact GELU, and a residual connection."""
    import keras

    channels = 16
    pixels = keras.Input((16, 16, 3), name="pixels")
    x = keras.layers.Conv2D(channels, 4, strides=4, name="stem")(pixels)
    y = keras.layers.Conv2D(channels, 7, padding="same", groups=channels,
                            name="depthwise")(x)
    y = keras.layers.LayerNormalization(epsilon=1e-6, name="norm")(y)
    y = keras.layers.Dense(4 * channels, name="expand")(y)
    y = keras.layers.Activation("gelu", name="gelu")(y)  # exact: approximate=False
    y = keras.layers.Dense(channels, name="project")(y)
    x = keras.layers.Add(name="residual")([x, y])
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    model = keras.Model(pixels, keras.layers.Dense(CLASSES, name="head")(x),
                        name="convnext_like")
    model.save(path)
    return path


def _pixels(path: Path, size: int) -> Path:
    rng = np.random.default_rng(0)
    np.savez(path, x=rng.uniform(0, 255, size=(32, size, size, 3)).astype(np.float32),
             y=rng.integers(0, CLASSES, size=32))
    return path


def _convnext_tiny(path: Path, rows: np.ndarray) -> Path:
    """keras.applications ConvNeXtTiny (random weights) with a linear head scaled to
    its pooled features' spread, so the outputs move with the input."""
    import keras

    size = rows.shape[1]
    backbone = keras.applications.ConvNeXtTiny(
        include_top=False, weights=None, input_shape=(size, size, 3), pooling="avg")
    pixels = keras.Input((size, size, 3), name="pixels")
    features = backbone(pixels)
    scaled_classifier(pixels, features, rows, CLASSES, "convnext_tiny_classifier").save(path)
    return path


def test_depthwise_rewrite_is_exact_and_leaves_other_convs():
    import keras
    from zoo.deploy.onnx_graph import depthwise_for_export

    inputs = keras.Input((9, 9, 8))
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", groups=8, use_bias=True,
                            activation="relu", name="dw")(inputs)
    x = keras.layers.Conv2D(8, 3, groups=2, name="grouped")(x)  # 4 channels a group
    model = keras.Model(inputs, keras.layers.Conv2D(4, 1, name="pointwise")(x))
    for layer in model.layers[1:]:
        layer.set_weights([np.random.default_rng(2).normal(size=w.shape).astype(np.float32)
                           for w in layer.get_weights()])
    rewritten = depthwise_for_export(model)
    kinds = {layer.name: type(layer).__name__ for layer in rewritten.layers[1:]}
    assert kinds == {"dw": "DepthwiseConv2D", "grouped": "Conv2D", "pointwise": "Conv2D"}
    x = np.random.default_rng(3).normal(size=(4, 9, 9, 8)).astype(np.float32)
    np.testing.assert_allclose(rewritten(x), model(x), atol=1e-5, rtol=1e-5)

    plain = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    assert depthwise_for_export(plain) is plain  # nothing to rewrite: the model itself


def test_convnext_like_model_exports_to_onnx_within_tolerance(tmp_path):
    import onnx

    package = tmp_path / "pkg"
    ok("pack", _convnext_like(tmp_path / "model.keras"), "--name", "convnext-like",
       "--license", "MIT", "--out", package)
    ok("export", package, "--format", "onnx")

    parity = assert_export_parity(package, "onnx", tol=1e-4)
    assert parity.max_abs_diff <= 1e-4
    proto = onnx.load(package / parity.record["path"])
    ops = {node.op_type for node in proto.graph.node}
    assert "Erf" in ops  # exact GELU, through the Erfc handler
    assert [i.name for i in proto.graph.input] == ["input"]


@pytest.mark.skipif(tier() == "ci", reason="ConvNeXtTiny takes ~75 s (40 s converting, "
                    "3.4 GB peak RSS); run with ZOO_CONFORMANCE=fast or all")
def test_convnext_tiny_exports_to_onnx_within_tolerance(tmp_path):
    package, data = tmp_path / "pkg", _pixels(tmp_path / "pixels.npz", 32)
    rows = np.load(data)["x"]
    ok("pack", _convnext_tiny(tmp_path / "classifier.keras", rows), "--name",
       "convnext-tiny", "--license", "MIT", "--out", package)
    ok("export", package, "--format", "onnx", "--data", data)

    parity = assert_export_parity(package, "onnx", data, tol=1e-4)
    assert parity.max_abs_diff <= 1e-4


def test_weights_as_graph_inputs_give_the_frozen_graphs_numbers(tmp_path):
    """A model over `FROZEN_WEIGHTS_LIMIT` (ConvNeXtLarge, XLarge) converts with its
    weights as graph inputs, made initializers afterwards. Forced here on a small model
    with everything the frozen path needed care for: a `Normalization` layer's captured
    tensors, BatchNorm statistics, a zero pad before a max pool whose windows are mostly
    negative (PadFusion), a depthwise `Conv2D(groups=C)` and exact GELU."""
    import keras
    import onnx
    import onnxruntime
    from zoo.deploy.export import INPUT_NAME, to_onnx

    rng = np.random.default_rng(0)
    rows = rng.uniform(0, 255, size=(16, 16, 16, 3)).astype(np.float32)
    pixels = keras.Input((16, 16, 3), name="pixels")
    x = keras.layers.Normalization(mean=[120.0, 110.0, 100.0], variance=[3600.0] * 3)(pixels)
    x = keras.layers.Conv2D(16, 3, name="stem",
                            bias_initializer=keras.initializers.Constant(-1))(x)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.ZeroPadding2D(1, name="pool_pad")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, name="pool")(x)
    y = keras.layers.Conv2D(16, 3, padding="same", groups=16, name="depthwise")(x)
    x = keras.layers.Add(name="residual")([x, keras.layers.Activation("gelu")(y)])
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(pixels, keras.layers.Dense(CLASSES, activation="softmax")(x))
    bn = model.get_layer("bn")
    bn.set_weights([rng.uniform(0.5, 2, 16), rng.normal(0, 0.5, 16), rng.normal(0, 0.3, 16),
                    rng.uniform(0.5, 2, 16)])
    expected = np.asarray(model(rows, training=False))
    assert expected.std(axis=0).max() > 1e-2  # the outputs move: parity means something

    outputs = {}
    for lean in (False, True):
        path = tmp_path / f"lean-{lean}.onnx"
        to_onnx(model, path, (16, 16, 3), {}, weights_as_inputs=lean)
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        outputs[lean] = session.run(None, {INPUT_NAME: rows})[0]
        np.testing.assert_allclose(outputs[lean], expected, atol=1e-5)
    np.testing.assert_allclose(outputs[True], outputs[False], atol=1e-5)

    proto = onnx.load(tmp_path / "lean-True.onnx")
    assert [i.name for i in proto.graph.input] == [INPUT_NAME]
    weights = [t for t in proto.graph.initializer if t.name.startswith("zoo_weight_")]
    assert len(weights) == len(model.variables)  # every weight, once
    pads = [node for node in proto.graph.node if node.op_type == "Pad"]
    assert len(pads) == 1 and pads[0].input[2].endswith("__runtime_zero")
