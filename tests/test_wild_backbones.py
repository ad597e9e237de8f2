"""Backbones the zoo did not make: a torchvision-style MobileNetV2 rebuilt in Keras
(input (None, None, 3), ZeroPadding2D before strided convs, BatchNorm eps 1e-5, a
1000-class top), random weights, through pack → publish → pull (cut, freeze, head,
--input-size) → two-phase finetune → ONNX and TFLite export with parity."""

from pathlib import Path

import pytest
from conftest import ok, refused
from packages import card_json
from parity import assert_export_parity

pytestmark = pytest.mark.slow


def converted_mobilenet_v2(classes: int = 1000):
    """The layout a PyTorch → Keras conversion gives: `features.N` blocks, explicit
    padding, eps 1e-5, ReLU6, inverted residuals with adds, a dynamic spatial input."""
    import keras

    def conv_bn(x, filters, kernel, stride, name, depthwise=False, act=True):
        if stride == 2:
            x = keras.layers.ZeroPadding2D(((0, 1), (0, 1)), name=f"{name}_pad")(x)
        padding = "valid" if stride == 2 else "same"
        if depthwise:
            x = keras.layers.DepthwiseConv2D(kernel, stride, padding, use_bias=False,
                                             name=f"{name}_dw")(x)
        else:
            x = keras.layers.Conv2D(filters, kernel, stride, padding, use_bias=False,
                                    name=f"{name}_conv")(x)
        x = keras.layers.BatchNormalization(epsilon=1e-5, name=f"{name}_bn")(x)
        return keras.layers.ReLU(6.0, name=f"{name}_relu6")(x) if act else x

    def inverted(x, filters, stride, expand, name):
        channels = x.shape[-1]
        y = conv_bn(x, channels * expand, 1, 1, f"{name}_expand")
        y = conv_bn(y, None, 3, stride, f"{name}_depthwise", depthwise=True)
        y = conv_bn(y, filters, 1, 1, f"{name}_project", act=False)
        if stride == 1 and channels == filters:
            y = keras.layers.Add(name=f"{name}_add")([x, y])
        return y

    inputs = keras.Input((None, None, 3), name="image")
    x = conv_bn(inputs, 16, 3, 2, "features.0")
    for i, (filters, stride) in enumerate([(16, 1), (24, 2), (24, 1), (32, 2), (32, 1),
                                           (48, 2), (48, 1)], start=1):
        x = inverted(x, filters, stride, 2, f"features.{i}")
    x = conv_bn(x, 128, 1, 1, "features.8")
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = keras.layers.Dense(classes, activation="softmax", name="classifier")(x)
    return keras.Model(inputs, outputs, name="mobilenet_v2_converted")


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("wild") / "mobilenet_v2_converted.keras"
    converted_mobilenet_v2().save(path)
    return path


@pytest.fixture(scope="module")
def digits(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("digits")
    train, test = folder / "train.npz", folder / "test.npz"
    ok("data", "mnist5k", "--classes", "0-2", "--per-class", "40", "--split", "train",
       "--out", train)
    ok("data", "mnist5k", "--classes", "0-2", "--per-class", "20", "--split", "test",
       "--out", test)
    return train, test


def test_a_converted_dynamic_input_model_packed_at_a_size_publishes_and_goes_the_whole_way(
        converted, digits, tmp_path):
    ok("pack", converted, "--name", "mnv2-converted", "--license", "BSD-3-Clause",
       "--preprocess", "torch", "--input-size", "64x64", "--out", tmp_path / "pkg")
    card = card_json(tmp_path / "pkg")
    assert card["preprocessing"]["input_shape"] == [64, 64, 3]
    cuts = {c["name"]: c for c in card["layer_map"]["cut_points"]}
    assert [c["reduction"] for c in card["layer_map"]["cut_points"] if
            c["kind"] == "feature_map"] == [2, 4, 8, 16]
    assert not any(name.endswith(("_pad", "preprocess")) for name in cuts)
    assert cuts["pool"]["kind"] == "vector"
    ok("publish", tmp_path / "pkg", "mnv2-converted", "--tag", "v1")

    stage = next(c["name"] for c in card["layer_map"]["cut_points"] if c["reduction"] == 8)
    ok("pull", "mnv2-converted@v1", "--cut-at", stage, "--freeze-until", stage,
       "--head", "gap,dense:3:softmax", "--input-size", "28x28x1", "--out", tmp_path / "cut")
    ok("finetune", tmp_path / "cut", "--data", digits[0], "--epochs", "2", "--batch-size",
       "32", "--phase2-unfreeze-from", "features.3_expand_conv", "--phase2-epochs", "1",
       "--phase2-lr", "1e-5", "--out", tmp_path / "tuned")
    tuned = card_json(tmp_path / "tuned")
    assert [p["phase"] for p in tuned["lineage"]["finetune"][0]["phases"]] == [1, 2]
    for fmt in ("onnx", "tflite"):
        ok("export", tmp_path / "tuned", "--format", fmt, "--data", digits[1])
        assert_export_parity(tmp_path / "tuned", fmt, data=digits[1], tol=1e-4)


def test_a_dynamic_input_base_takes_input_size_on_pull_without_a_resize(converted, tmp_path):
    ok("pack", converted, "--name", "mnv2-dynamic", "--license", "BSD-3-Clause",
       "--out", tmp_path / "pkg")
    card = card_json(tmp_path / "pkg")
    assert card["preprocessing"]["input_shape"] == [None, None, 3]
    feature_maps = [c for c in card["layer_map"]["cut_points"] if c["kind"] == "feature_map"]
    assert [c["reduction"] for c in feature_maps] == [2, 4, 8, 16]  # probed, not guessed
    ok("publish", tmp_path / "pkg", "mnv2-dynamic")
    last = feature_maps[-1]["name"]
    ok("pull", "mnv2-dynamic", "--cut-at", last, "--freeze-until", last,
       "--head", "gap,dense:2:softmax", "--input-size", "40x40", "--out", tmp_path / "cut")
    derived = card_json(tmp_path / "cut")
    assert derived["preprocessing"]["input_shape"] == [40, 40, 3]
    assert not any(layer["stage"] == "adapter" for layer in derived["layer_map"]["layers"])
    ok("publish", tmp_path / "cut", "mnv2-dynamic-cut")  # its layer map is the file's
    line = refused("pull", "mnv2-dynamic", "--cut-at", last, "--head", "gap,dense:2:softmax",
                   "--input-size", "2x2", "--out", tmp_path / "tiny")
    assert f"cannot rebuild mobilenet_v2_converted cut at {last} with --input-size 2x2: in " in line
    assert not (tmp_path / "tiny").exists()


def test_a_derived_package_can_be_pulled_and_cut_again(converted, tmp_path):
    """Replaying a graph that already holds a ConvertToTensor op adds another; the
    second gets its own name instead of Keras' 'used 2 times' traceback."""
    ok("pack", converted, "--name", "gen0", "--license", "MIT", "--input-size", "32x32",
       "--out", tmp_path / "gen0")
    ok("publish", tmp_path / "gen0", "gen0")
    ok("pull", "gen0", "--cut-at", "features.5_project_bn", "--head", "gap,dense:4:softmax",
       "--out", tmp_path / "gen1")
    ok("publish", tmp_path / "gen1", "gen1")
    ok("pull", "gen1", "--cut-at", "features.3_add", "--head", "gap,dense:2:softmax",
       "--out", tmp_path / "gen2")
    names = [layer["name"] for layer in card_json(tmp_path / "gen2")["layer_map"]["layers"]]
    assert len(names) == len(set(names))
    ok("publish", tmp_path / "gen2", "gen2")


def test_input_size_on_a_base_with_two_inputs_is_refused_in_one_line(tmp_path):
    import keras

    a, b = keras.Input((4,), name="a"), keras.Input((4,), name="b")
    out = keras.layers.Dense(2, name="out")(keras.layers.Concatenate(name="both")([a, b]))
    keras.Model([a, b], out).save(tmp_path / "two.keras")
    ok("pack", tmp_path / "two.keras", "--name", "two", "--license", "MIT",
       "--out", tmp_path / "pkg")
    ok("publish", tmp_path / "pkg", "two")
    assert "--input-size needs a base with one image input" in refused(
        "pull", "two", "--cut-at", "both", "--input-size", "8x8", "--out", tmp_path / "x")


def test_a_shared_layer_and_several_outputs_are_cut_or_refused_in_one_line(tmp_path):
    import keras

    inputs = keras.Input((6,), name="x")
    shared = keras.layers.Dense(6, activation="relu", name="shared")
    twice = shared(shared(inputs))
    first = keras.layers.Dense(3, activation="softmax", name="first")(twice)
    second = keras.layers.Dense(2, activation="softmax", name="second")(twice)
    keras.Model(inputs, [first, second], name="shared_two_heads").save(tmp_path / "m.keras")
    ok("pack", tmp_path / "m.keras", "--name", "shared", "--license", "MIT",
       "--out", tmp_path / "pkg")
    ok("publish", tmp_path / "pkg", "shared")
    assert "used more than once in the graph" in refused(
        "pull", "shared", "--cut-at", "shared", "--head", "dense:2:softmax",
        "--out", tmp_path / "a")
    assert "several outputs; choose one with --cut-at" in refused(
        "pull", "shared", "--drop-top", "0", "--head", "dense:2:softmax",
        "--out", tmp_path / "b")
    ok("pull", "shared", "--cut-at", "first", "--out", tmp_path / "c")
    assert card_json(tmp_path / "c")["layer_map"]["layers"][-1]["name"] == "first"


def test_a_bare_keras_ops_node_is_a_cut_and_freeze_point(tmp_path):
    """`x + y` on Keras tensors is an op node, not a layer (ConvNeXt's residuals are):
    it appears in the layer map, can be the cut and the end of --freeze-until."""
    import keras

    inputs = keras.Input((16, 16, 3), name="image")
    x = keras.layers.Conv2D(8, 3, padding="same", name="stem")(inputs)
    y = keras.layers.Conv2D(8, 3, padding="same", name="branch")(x)
    x = keras.layers.ReLU(name="act")(x + y)  # keras.ops.add, a bare op node
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", name="down")(x)
    out = keras.layers.Dense(2, activation="softmax", name="top")(
        keras.layers.GlobalAveragePooling2D(name="pool")(x))
    keras.Model(inputs, out, name="opnet").save(tmp_path / "m.keras")
    ok("pack", tmp_path / "m.keras", "--name", "opnet", "--license", "MIT",
       "--out", tmp_path / "pkg")
    layers = {layer["name"]: layer for layer in card_json(tmp_path / "pkg")["layer_map"]["layers"]}
    add = next(name for name, layer in layers.items() if layer["class"] == "Add")
    ok("publish", tmp_path / "pkg", "opnet")
    ok("pull", "opnet", "--cut-at", add, "--freeze-until", add, "--head", "gap,dense:2:softmax",
       "--out", tmp_path / "cut")
    derived = card_json(tmp_path / "cut")
    assert derived["lineage"]["cut_layer"] == add
    assert set(derived["lineage"]["frozen_layers"]) == {"stem", "branch"}
