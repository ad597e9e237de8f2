"""The card schema, the layer map on branched graphs, and the rendered README."""

import json
from pathlib import Path

import pytest
from conftest import ok
from packages import card_json
from zoo.cards.card import Card, card_bytes, card_from_json, read_card, validate_card

from zoo.errors import CardError

pytestmark = pytest.mark.slow  # trains, loads Keras models or exports


def branched_model():
    import keras

    inputs = keras.Input((8, 8, 1), name="image")
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="stem")(inputs)
    a = keras.layers.Conv2D(4, 3, padding="same", name="branch_a")(x)
    b = keras.layers.Conv2D(4, 1, name="branch_b")(x)
    x = keras.layers.Add(name="merge")([a, b])
    x = keras.layers.MaxPooling2D(name="pool")(x)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    inner = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="inner_dense")],
                             name="nested_head")
    return keras.Model(inputs, inner(x), name="branched")


def test_layer_map_of_a_branched_graph_has_only_true_cut_points():
    from zoo.cards.layer_map import build_layer_map

    layer_map = build_layer_map(branched_model())
    names = [c.name for c in layer_map.cut_points]
    # stage ends only, never inside the branches: merge (/1), bn (/2), then gap
    assert names == ["merge", "bn", "gap"]
    bn = next(c for c in layer_map.cut_points if c.name == "bn")
    assert (bn.channels, bn.reduction) == (4, 2)
    merge = next(layer for layer in layer_map.layers if layer.name == "merge")
    assert merge.inbound == ["branch_a", "branch_b"]
    assert layer_map.non_trainable_params == 8  # BatchNorm moving mean and variance


def test_pack_takes_a_functional_model_with_a_nested_model(tmp_path: Path):
    branched_model().save(tmp_path / "branched.keras")
    ok("pack", tmp_path / "branched.keras", "--name", "branched", "--license", "MIT",
       "--author", "Ada", "--labels", "a,b,c", "--out", tmp_path / "pkg")
    card = card_json(tmp_path / "pkg")
    assert card["layer_map"]["layers"][-1]["class"] == "Sequential"
    assert card["preprocessing"]["input_shape"] == [8, 8, 1]
    assert card["preprocessing"]["label_names"] == ["a", "b", "c"]
    ok("publish", tmp_path / "pkg", f"file://{tmp_path}/hub/branched")
    ok("pull", f"file://{tmp_path}/hub/branched", "--cut-at", "merge", "--freeze-until", "stem",
       "--head", "dense:2:softmax", "--out", tmp_path / "derived")
    derived = card_json(tmp_path / "derived")
    assert derived["lineage"]["frozen_layers"] == ["stem"]


def test_a_real_card_round_trips_byte_for_byte_and_refuses_bad_hashes(iris_pkg: Path):
    card = read_card(iris_pkg)
    assert isinstance(card, Card) and card.layer_map.layers[1].class_name == "Dense"
    assert card_bytes(card) == (iris_pkg / "card.json").read_bytes()
    data = card.to_json()
    with pytest.raises(CardError, match="files/model.keras"):
        card_from_json({**data, "files": {**data["files"], "model.keras": "abc"}})


def test_readme_front_matter_parses_as_a_hugging_face_model_card(derived_pkg: Path):
    from huggingface_hub import ModelCard

    hf_card = ModelCard((derived_pkg / "README.md").read_text())
    data = hf_card.data.to_dict()
    assert data["library_name"] == "keras"
    assert data["base_model"] == "zoo/iris"
    assert data["license"] == "other" and data["license_name"] == "Apache-2.0 AND MIT"
    assert "backbone-zoo" in data["tags"]
    assert "hidden2" in hf_card.text


def test_readme_of_a_single_license_uses_the_hub_license_id(iris_pkg: Path):
    from huggingface_hub import ModelCard

    data = ModelCard((iris_pkg / "README.md").read_text()).data.to_dict()
    assert data["license"] == "apache-2.0" and data["datasets"] == ["iris"]
    assert json.loads((iris_pkg / "card.json").read_text())["files"]["README.md"]
