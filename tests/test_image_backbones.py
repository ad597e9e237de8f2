"""Image backbones: the architecture registry, cuts on branched graphs, input
adaptation, preprocessing in the model, layer ranges, BatchNorm kept frozen."""

from pathlib import Path

import numpy as np
import pytest
from conftest import ok, refused
from packages import card_json

from zoo.build.applications import REGISTRY
from zoo.package import load_model

pytestmark = pytest.mark.slow  # trains, loads Keras models or exports


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_registered_architecture_maps_its_stage_cut_points(name):
    from zoo.cards.layer_map import build_layer_map

    from zoo.build.applications import build

    arch = REGISTRY[name]
    model = build(arch, "none", (arch.min_size, arch.min_size, 3))
    layer_map = build_layer_map(model, cut_names=arch.stages)
    assert [c.name for c in layer_map.cut_points] == list(arch.stages)
    assert layer_map.layers[0].stage == "input"
    reductions = [c.reduction for c in layer_map.cut_points]
    assert reductions == sorted(reductions) and reductions[0] >= 1
    assert all(r & (r - 1) == 0 for r in reductions), reductions  # probed: powers of two


@pytest.fixture(scope="module")
def mobilenet_pkg(zoo_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """MobileNetV2 at 32x32, random weights, published as mnv2-32 in this module's hub."""
    package = tmp_path_factory.mktemp("mnv2") / "mnv2"
    ok("pack", "keras:MobileNetV2", "--weights", "none", "--input-size", "32x32",
       "--out", package)
    ok("publish", package, "mnv2-32")
    return package


def test_cut_on_a_branched_graph_equals_the_intermediate_output(mobilenet_pkg, tmp_path):
    import keras

    # block_13_expand sits after a residual add: a merge in a branched graph.
    ok("pull", "mnv2-32", "--cut-at", "block_13_expand", "--out", tmp_path / "cut")
    cut, base = load_model(tmp_path / "cut"), load_model(mobilenet_pkg)
    reference = keras.Model(base.inputs, base.get_layer("block_13_expand").output)
    x = np.random.default_rng(0).uniform(0, 255, size=(2, 32, 32, 3)).astype(np.float32)
    assert np.max(np.abs(np.asarray(cut(x)) - np.asarray(reference(x)))) < 1e-5
    assert card_json(tmp_path / "cut")["lineage"]["cut_layer"] == "block_13_expand"


def test_imagenet_weights_fail_offline_with_one_line(tmp_path):
    line = refused("pack", "keras:MobileNetV2", "--weights", "imagenet", "--input-size",
                   "32x32", "--out", tmp_path / "o")
    assert "cannot download the ImageNet weights" in line and "--weights" in line
    assert not (tmp_path / "o").exists()


def test_local_weights_file_is_loaded(mobilenet_pkg, tmp_path):
    source = load_model(mobilenet_pkg)
    source.save_weights(tmp_path / "mnv2.weights.h5")
    ok("pack", "keras:MobileNetV2", "--weights", tmp_path / "mnv2.weights.h5",
       "--input-size", "32x32", "--out", tmp_path / "again")
    again = load_model(tmp_path / "again")
    kernel = source.get_layer("Conv1").get_weights()[0]
    assert np.array_equal(again.get_layer("Conv1").get_weights()[0], kernel)
    assert "weights file" in card_json(tmp_path / "again")["training_data"]["name"]


def test_packed_model_applies_its_preprocessing_to_raw_pixels(tmp_path):
    import keras

    inputs = keras.Input((8, 8, 3))
    outputs = keras.layers.Conv2D(2, 3, name="conv")(inputs)
    plain = keras.Model(inputs, outputs)
    plain.save(tmp_path / "plain.keras")
    for mode, expected in (("tf", lambda x: x / 127.5 - 1),
                           ("caffe", lambda x: x[..., ::-1] - [103.939, 116.779, 123.68])):
        ok("pack", tmp_path / "plain.keras", "--name", "p", "--license", "MIT",
           "--preprocess", mode, "--out", tmp_path / mode)
        packed = load_model(tmp_path / mode)
        raw = np.random.default_rng(1).uniform(0, 255, size=(2, 8, 8, 3)).astype(np.float32)
        want = np.asarray(plain(expected(raw).astype(np.float32)))
        assert np.max(np.abs(np.asarray(packed(raw)) - want)) < 1e-3, mode
        assert card_json(tmp_path / mode)["preprocessing"]["scaling"].startswith(mode)


def test_input_size_resizes_and_turns_gray_to_rgb(mobilenet_pkg, tmp_path):
    ok("pull", "mnv2-32", "--cut-at", "out_relu", "--freeze-until", "out_relu",
       "--input-size", "28x28x1", "--head", "gap,dense:3:softmax", "--out", tmp_path / "d")
    card = card_json(tmp_path / "d")
    assert card["preprocessing"]["input_shape"] == [28, 28, 1]
    stages = {layer["name"]: layer["stage"] for layer in card["layer_map"]["layers"]}
    assert stages["input_resize"] == stages["input_gray_to_rgb"] == "adapter"
    out = load_model(tmp_path / "d")(np.zeros((1, 28, 28, 1), np.float32))
    assert tuple(out.shape) == (1, 3)


def test_layer_ranges_freeze_and_unfreeze_by_name_and_index(mobilenet_pkg, tmp_path):
    ok("pull", "mnv2-32", "--cut-at", "block_2_add", "--freeze", ":block_1_project",
       "--trainable", "block_1_depthwise:block_1_depthwise", "--head", "gap,dense:2:softmax",
       "--out", tmp_path / "r")
    layers = {layer["name"]: layer for layer in card_json(tmp_path / "r")["layer_map"]["layers"]}
    assert not layers["Conv1"]["trainable"]
    assert layers["block_1_depthwise"]["trainable"]
    assert not layers["block_1_project"]["trainable"]
    assert layers["block_2_expand"]["trainable"]
    assert not layers["block_2_expand_BN"]["trainable"]  # base BatchNorm never trains
    assert layers["head_1_dense"]["trainable"]
    line = refused("pull", "mnv2-32", "--freeze", "block_2_add:Conv1", "--out", tmp_path / "x")
    assert "range is empty" in line


def test_batchnorm_statistics_do_not_move_in_either_phase(small_cnn_pkg, cnn8_revision,
                                                          tmp_path):
    ok("pull", "cnn8", "--cut-at", "block3_relu", "--freeze-until", "block1_relu",
       "--head", "gap,dense:5:softmax", "--out", tmp_path / "d")
    ok("data", "digits", "--classes", "5-9", "--per-class", "20", "--split", "train",
       "--out", tmp_path / "t.npz")
    ok("finetune", tmp_path / "d", "--data", tmp_path / "t.npz", "--epochs", "2",
       "--phase2-unfreeze-from", "block1_conv", "--phase2-epochs", "2", "--phase2-lr", "1e-4",
       "--out", tmp_path / "f")
    before, after = load_model(small_cnn_pkg), load_model(tmp_path / "f")
    for name in ("block1_bn", "block2_bn", "block3_bn"):
        for old, new in zip(before.get_layer(name).get_weights(),
                            after.get_layer(name).get_weights()):
            assert np.array_equal(old, new), name  # gamma, beta, moving mean and variance
    # block1_conv was unfrozen in phase 2 and did train; block2_conv trained in both phases
    assert not np.array_equal(before.get_layer("block1_conv").get_weights()[0],
                              after.get_layer("block1_conv").get_weights()[0])
    phases = card_json(tmp_path / "f")["lineage"]["finetune"][0]["phases"]
    assert [p["phase"] for p in phases] == [1, 2]
    assert phases[1]["trainable_params"] > phases[0]["trainable_params"]
    history = card_json(tmp_path / "f")["history"]
    assert history["phase"] == [1.0, 1.0, 2.0, 2.0]


def test_image_folder_and_flattened_csv_are_read_as_images(cnn8_revision, tmp_path):
    from PIL import Image

    from zoo.data.datasets import builtin, select, write_csv

    table = select(builtin("digits"), ["0", "1"], per_class=4)
    for i, (image, label) in enumerate(zip(table.x, table.y)):
        folder = tmp_path / "images" / table.label_names[label]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image[..., 0].astype(np.uint8), mode="L").save(folder / f"{i}.png")
    write_csv(table, tmp_path / "pixels.csv")
    ok("pull", "cnn8", "--cut-at", "gap", "--freeze-until", "gap", "--head", "dense:2:softmax",
       "--out", tmp_path / "two")
    for data in (tmp_path / "images", tmp_path / "pixels.csv"):
        run = ok("finetune", tmp_path / "two", "--data", data, "--epochs", "1",
                 "--out", tmp_path / f"tuned-{data.suffix or 'folder'}")
        assert "validation accuracy" in run.stdout
    assert card_json(tmp_path / "tuned-.csv")["preprocessing"]["label_names"] == ["0", "1"]


def test_head_items_that_do_not_fit_are_refused(cnn8_revision, tmp_path):
    line = refused("pull", "cnn8", "--cut-at", "gap", "--head", "conv:8:3,dense:2:softmax",
                   "--out", tmp_path / "o")
    assert "needs a 4-D feature map" in line
    line = refused("pull", "cnn8", "--cut-at", "block3_relu", "--head",
                   "conv:8:9,flatten,dense:2:softmax", "--out", tmp_path / "o")
    assert "does not fit" in line
