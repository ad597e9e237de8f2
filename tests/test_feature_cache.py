"""The frozen-feature cache: same result as training the whole model, reused only
for the same base, freeze and data."""

from pathlib import Path

import numpy as np
import pytest
from conftest import ok
from packages import card_json

from zoo.package import load_model
from zoo.paths import cache_root

pytestmark = pytest.mark.slow  # trains, loads Keras models or exports


@pytest.fixture(scope="module")
def transfer_setup(cnn8_revision: str, tmp_path_factory: pytest.TempPathFactory
                   ) -> dict[str, Path]:
    """cnn8 from this module's hub, cut and frozen up to block2, and digits 5-9."""
    here = tmp_path_factory.mktemp("transfer")
    ok("pull", "cnn8", "--cut-at", "block3_relu", "--freeze-until", "block2_relu",
       "--head", "gap,dropout:0.1,dense:5:softmax", "--out", here / "cache-derived")
    ok("data", "digits", "--classes", "5-9", "--per-class", "30", "--split", "train",
       "--out", here / "d59.npz")
    ok("data", "digits", "--classes", "5-9", "--per-class", "20", "--split", "test",
       "--out", here / "d59-other.npz")
    return {"derived": here / "cache-derived", "data": here / "d59.npz",
            "other": here / "d59-other.npz"}


def finetune(setup: dict, out: Path, *extra: str) -> dict:
    ok("finetune", setup["derived"], "--data", setup["data"], "--epochs", "3", "--lr", "0.01",
       "--out", out, *extra)
    return card_json(out)


def test_cached_training_gives_the_same_weights_as_the_plain_way(transfer_setup, tmp_path):
    cached = finetune(transfer_setup, tmp_path / "cached")
    plain = finetune(transfer_setup, tmp_path / "plain", "--no-feature-cache")
    phase = cached["lineage"]["finetune"][0]["phases"][0]
    record = phase["feature_cache"]
    assert record["prefix"] == "block2_pool"  # weightless layers join it
    # the prefix ran in onnxruntime, checked against Keras first
    assert record["runtime"] == "onnxruntime" and record["check_samples"] == 16
    assert record["max_abs_diff"] <= record["tolerance"] and record["max_abs_diff"] < 1e-5
    assert plain["lineage"]["finetune"][0]["phases"][0]["feature_cache"] is None
    a, b = load_model(tmp_path / "cached"), load_model(tmp_path / "plain")
    # onnxruntime's features are ~1e-7 off Keras'; three epochs carry that to ~1e-5
    for name in ("block3_conv", "head_2_dense"):
        for left, right in zip(a.get_layer(name).get_weights(), b.get_layer(name).get_weights()):
            np.testing.assert_allclose(left, right, atol=5e-5, err_msg=name)
    assert cached["metrics"]["accuracy"]["value"] == pytest.approx(
        plain["metrics"]["accuracy"]["value"], abs=1e-6)
    assert record["graph_hit"] is False
    np.testing.assert_allclose(cached["history"]["loss"], plain["history"]["loss"], rtol=1e-4)


def test_features_are_reused_and_invalidated_by_base_freeze_or_data(transfer_setup,
                                                                     small_cnn_pkg, work,
                                                                     tmp_path):
    first = finetune(transfer_setup, tmp_path / "a")["lineage"]["finetune"][0]["phases"][0]
    again = finetune(transfer_setup, tmp_path / "b")["lineage"]["finetune"][0]["phases"][0]
    assert again["feature_cache"]["key"] == first["feature_cache"]["key"]
    assert again["feature_cache"]["hit"] is True
    assert (cache_root() / "features" / f"{first['feature_cache']['key']}.npy").is_file()
    other_data = dict(transfer_setup, data=transfer_setup["other"])
    changed = finetune(other_data, tmp_path / "c")["lineage"]["finetune"][0]["phases"][0]
    assert changed["feature_cache"]["key"] != first["feature_cache"]["key"]
    # new data, same prefix: its ONNX graph is reused
    assert changed["feature_cache"]["hit"] is False and changed["feature_cache"]["graph_hit"]
    ok("pull", "cnn8", "--cut-at", "block3_relu", "--freeze-until", "block1_relu",
       "--head", "gap,dropout:0.1,dense:5:softmax", "--out", tmp_path / "other-freeze")
    refrozen = finetune(dict(transfer_setup, derived=tmp_path / "other-freeze"),
                        tmp_path / "d")["lineage"]["finetune"][0]["phases"][0]
    assert refrozen["feature_cache"]["prefix"] == "block1_pool"
    assert refrozen["feature_cache"]["key"] != first["feature_cache"]["key"]
    # another base: the same architecture trained with another seed
    ok("train", "cnn", "--data", work / "d04.npz", "--epochs", "1", "--seed", "1",
       "--out", tmp_path / "cnn-seed1")
    ok("publish", tmp_path / "cnn-seed1", "cnn8-seed1")
    ok("pull", "cnn8-seed1", "--cut-at", "block3_relu", "--freeze-until", "block2_relu",
       "--head", "gap,dropout:0.1,dense:5:softmax", "--out", tmp_path / "other-base")
    rebased = finetune(dict(transfer_setup, derived=tmp_path / "other-base"),
                       tmp_path / "e")["lineage"]["finetune"][0]["phases"][0]
    assert rebased["feature_cache"]["key"] != first["feature_cache"]["key"]


def test_phase_two_trains_the_full_model(transfer_setup, tmp_path):
    card = finetune(transfer_setup, tmp_path / "p2", "--phase2-unfreeze-from", "block2_conv",
                    "--phase2-epochs", "1")
    first, second = card["lineage"]["finetune"][0]["phases"]
    assert first["feature_cache"] is not None and "feature_cache" not in second
    before, after = load_model(transfer_setup["derived"]), load_model(tmp_path / "p2")
    assert not np.array_equal(before.get_layer("block2_conv").get_weights()[0],
                              after.get_layer("block2_conv").get_weights()[0])
    assert np.array_equal(before.get_layer("block1_conv").get_weights()[0],
                          after.get_layer("block1_conv").get_weights()[0])


def test_a_damaged_cache_is_rebuilt_not_trusted(transfer_setup, tmp_path):
    from zoo.train.onnx_prefix import graph_path

    first = finetune(transfer_setup, tmp_path / "a")["lineage"]["finetune"][0]["phases"][0]
    features = cache_root() / "features" / f"{first['feature_cache']['key']}.npy"
    graph = graph_path(first["feature_cache"]["graph"])
    assert features.is_file() and graph.is_file()
    features.write_bytes(b"\x93NUMPY not really")  # a truncated or foreign file
    graph.write_bytes(b"\x08\x07garbage")  # not an ONNX model onnxruntime can load
    again = finetune(transfer_setup, tmp_path / "b")["lineage"]["finetune"][0]["phases"][0]
    record = again["feature_cache"]
    assert record["hit"] is False and record["graph_hit"] is False
    assert record["runtime"] == "onnxruntime" and record["max_abs_diff"] < 1e-5
    assert record["graph"] == first["feature_cache"]["graph"] and graph.stat().st_size > 1000
    assert np.load(features).dtype == np.float32
    a, b = load_model(tmp_path / "a"), load_model(tmp_path / "b")
    np.testing.assert_array_equal(a.get_layer("head_2_dense").get_weights()[0],
                                  b.get_layer("head_2_dense").get_weights()[0])


def test_a_cached_graph_that_disagrees_with_keras_is_converted_again(transfer_setup,
                                                                     tmp_path):
    """A graph file that loads and runs but is another prefix's: the check on a sample
    catches it before its features are used."""
    import onnx
    from onnx import helper, numpy_helper

    from zoo.train.onnx_prefix import graph_path

    first = finetune(transfer_setup, tmp_path / "a")["lineage"]["finetune"][0]["phases"][0]
    (cache_root() / "features" / f"{first['feature_cache']['key']}.npy").unlink()
    graph = graph_path(first["feature_cache"]["graph"])
    proto = onnx.load(graph)  # scale the output by 2: a graph that runs, off by a lot
    out = proto.graph.output[0].name
    proto.graph.initializer.append(numpy_helper.from_array(np.array(2, np.float32), "two"))
    proto.graph.node.append(helper.make_node("Mul", [out, "two"], ["doubled"]))
    proto.graph.output[0].name = "doubled"
    onnx.save(proto, graph)
    again = finetune(transfer_setup, tmp_path / "b")["lineage"]["finetune"][0]["phases"][0]
    record = again["feature_cache"]
    assert record["runtime"] == "onnxruntime" and record["graph_hit"] is False
    assert record["max_abs_diff"] < 1e-5


def test_a_prefix_onnx_cannot_take_runs_in_keras_and_says_why(tmp_path):
    """Grouped convolutions with several channels per group do not convert (tf2onnx
    1.17): the features come from Keras, the card and a warning say why."""
    import keras

    from conftest import zoo

    keras.utils.set_random_seed(0)
    inputs = keras.Input((12, 12, 3), name="pixels")
    z = keras.layers.Conv2D(8, 3, activation="relu", name="stem")(inputs)
    z = keras.layers.Conv2D(8, 3, groups=2, name="grouped")(z)
    z = keras.layers.ReLU(name="grouped_relu")(z)
    z = keras.layers.Conv2D(8, 3, activation="relu", name="top")(z)
    z = keras.layers.GlobalAveragePooling2D(name="gap")(z)
    keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="out")(z)).save(
        tmp_path / "grouped.keras")
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x=rng.normal(size=(40, 12, 12, 3)).astype(np.float32),
             y=np.arange(40) % 2)
    ok("pack", tmp_path / "grouped.keras", "--name", "grouped", "--license", "MIT",
       "--out", tmp_path / "pkg")
    ok("publish", tmp_path / "pkg", "grouped")
    ok("pull", "grouped", "--cut-at", "top", "--freeze-until", "grouped_relu",
       "--head", "gap,dense:2:softmax", "--out", tmp_path / "derived")
    run = zoo("finetune", tmp_path / "derived", "--data", tmp_path / "d.npz", "--epochs", "1",
              "--out", tmp_path / "tuned")
    assert run.exit_code == 0, run.stderr
    record = card_json(tmp_path / "tuned")["lineage"]["finetune"][0]["phases"][0]["feature_cache"]
    assert record["runtime"] == "keras" and record["hit"] is False
    assert record["reason"].startswith("the ONNX conversion failed")
    assert "frozen prefix ran in Keras: the ONNX conversion failed" in run.stderr
