"""ONNX export of classifiers built on Keras Applications backbones nobody here wrote.

EfficientNet and EfficientNetV2 hold a Keras 3 `Normalization` layer whose mean and
variance are tensors, not variables: TensorFlow captures them into the traced
function as constants, and tf2onnx's `from_function` used to declare those as extra
ONNX inputs with no value, so onnxruntime refused to run the export (issue 11:
"Required inputs ([…/normalization_1/Sub/y:0, …/Sqrt/x:0]) are missing"). Each test
saves a user's own classifier (the backbone, average pooling, a 3-way softmax), packs
it and exports it with the real `zoo pack` and `zoo export --data`, then checks the
export against Keras in onnxruntime at several batch sizes.

The parity rows are pixels in [0, 255], what these backbones take (they rescale and
normalise inside): on the zoo's default random-normal inputs their normalised input
is a near-constant -2, and the check would only measure rounding on a flat signal.
Random weights also leave the pooled features tiny (about 1e-6 in EfficientNetB0),
so a head drawn at random would put out 1/3 everywhere and any export would "match":
the head is scaled to the features' spread on those same rows, so the probabilities
move and the figure means something.
"""

from pathlib import Path

import numpy as np
import pytest
from conftest import ok
from packages import scaled_classifier
from parity import assert_export_parity

pytestmark = pytest.mark.slow  # builds, packs and exports Keras models

SIZE = 32  # the smallest input EfficientNet takes; keeps each test well under a minute
CLASSES = 3
# ImageNet statistics, as `Normalization.adapt` on real photos would give: a layer at
# its defaults (mean 0, variance 1) is the identity and would hide lost constants
IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_VARIANCE = [0.229 ** 2, 0.224 ** 2, 0.225 ** 2]


def _pixels(path: Path) -> Path:
    """32 random images (the rows `export_package` checks on), labels for 3 classes."""
    rng = np.random.default_rng(0)
    np.savez(path, x=rng.uniform(0, 255, size=(32, SIZE, SIZE, 3)).astype(np.float32),
             y=rng.integers(0, CLASSES, size=32))
    return path


def _classifier(architecture: str, path: Path, rows: np.ndarray) -> Path:
    import keras

    backbone = getattr(keras.applications, architecture)(
        include_top=False, weights=None, input_shape=(SIZE, SIZE, 3), pooling="avg")
    norms = [layer for layer in backbone.layers if isinstance(layer, keras.layers.Normalization)]
    assert norms, f"{architecture} has no Normalization layer: this test would prove nothing"
    for norm in norms:
        if norm.input_mean is None:  # adapted statistics (EfficientNet); V2's are in its config
            norm.adapt_mean.assign(IMAGENET_MEAN)
            norm.adapt_variance.assign(IMAGENET_VARIANCE)
            norm.finalize_state()
    pixels = keras.Input((SIZE, SIZE, 3), name="pixels")
    features = backbone(pixels)
    scaled_classifier(pixels, features, rows, CLASSES, f"{architecture.lower()}_classifier",
                      activation="softmax").save(path)
    return path


@pytest.mark.parametrize("architecture", ["EfficientNetB0", "EfficientNetV2B0"])
def test_efficientnet_classifier_exports_to_onnx_within_tolerance(architecture, tmp_path):
    import onnx
    import onnxruntime

    package, data = tmp_path / "pkg", _pixels(tmp_path / "pixels.npz")
    rows = np.load(data)["x"]
    model_file = _classifier(architecture, tmp_path / "classifier.keras", rows)
    ok("pack", model_file, "--name", architecture.lower(), "--license", "MIT",
       "--out", package)
    ok("export", package, "--format", "onnx", "--data", data)

    # batches 1, 7 and 32 within 1e-4, the same top-1 class on every row
    parity = assert_export_parity(package, "onnx", data, tol=1e-4)
    assert parity.max_abs_diff <= 1e-4

    exported = package / parity.record["path"]
    proto = onnx.load(exported)
    onnx.checker.check_model(proto)
    # one input, the one the zoo names, with a dynamic batch: no captured constant
    # left for the caller to feed
    assert [i.name for i in proto.graph.input] == ["input"]
    batch = proto.graph.input[0].type.tensor_type.shape.dim[0]
    assert batch.dim_param and not batch.dim_value
    session = onnxruntime.InferenceSession(str(exported), providers=["CPUExecutionProvider"])
    assert session.get_modelmeta().custom_metadata_map["zoo.name"] == architecture.lower()
    probabilities = session.run(None, {"input": rows})[0]
    # the head's outputs move with the input, so the parity figure is not vacuous
    assert probabilities.std(axis=0).min() > 0.05, probabilities.std(axis=0)


def test_zero_padding_before_max_pooling_survives_onnxruntimes_pad_fusion(tmp_path):
    """ResNetV2's stem: a convolution with no activation, ZeroPadding2D, MaxPooling2D.
    onnxruntime's PadFusion folds a zero Pad into the MaxPool, which pads with -inf:
    ResNet50V2's export was 0.998 off in probability before the export kept the Pad."""
    import keras
    import onnx

    rng = np.random.default_rng(0)
    rows = rng.normal(size=(32, 16, 16, 3)).astype(np.float32)
    np.savez(tmp_path / "rows.npz", x=rows, y=rng.integers(0, CLASSES, size=32))
    pixels = keras.Input((16, 16, 3), name="pixels")
    z = keras.layers.Conv2D(8, 3, name="stem", bias_initializer=keras.initializers.Constant(-3))(
        pixels)  # mostly negative: a zero border wins most pooling windows it is in
    z = keras.layers.ZeroPadding2D(1, name="pool_pad")(z)
    z = keras.layers.MaxPooling2D(3, strides=2, name="pool")(z)
    features = keras.layers.Flatten(name="flat")(z)
    scaled_classifier(pixels, features, rows, CLASSES, "v2_stem", "softmax").save(
        tmp_path / "stem.keras")
    package = tmp_path / "pkg"
    ok("pack", tmp_path / "stem.keras", "--name", "v2-stem", "--license", "MIT",
       "--out", package)
    ok("export", package, "--format", "onnx", "--data", tmp_path / "rows.npz")
    # onnxruntime at its default optimization level, in the test's own session
    parity = assert_export_parity(package, "onnx", tmp_path / "rows.npz", tol=1e-5)
    assert parity.max_abs_diff <= 1e-5
    proto = onnx.load(package / parity.record["path"])
    pads = [node for node in proto.graph.node if node.op_type == "Pad"]
    assert len(pads) == 1 and pads[0].input[2].endswith("__runtime_zero")
    # and int8 still quantizes around it
    ok("export", package, "--format", "onnx", "--quantize", "int8", "--data",
       tmp_path / "rows.npz", "--min-agreement", "0")
    int8 = assert_export_parity(package, "onnx-int8", tmp_path / "rows.npz",
                                min_agreement=0.5)
    assert int8.top1_agreement >= 0.5
