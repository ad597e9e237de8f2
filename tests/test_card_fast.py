"""The typed card: JSON on disk ⇄ `Card`, with no Keras. The schema is the contract
on disk; the dataclasses are what every module reads."""

import json
import math
from pathlib import Path

import pytest
from packages import make_package
from zoo.cards.card import (
    Card,
    CutPoint,
    ExportRecord,
    LayerEntry,
    Lineage,
    card_bytes,
    card_from_json,
    read_card,
    write_card,
)

from zoo.errors import CardError

SHA = "a" * 64


def card_data(tmp_path: Path) -> dict:
    package = make_package(tmp_path / "pkg")
    return json.loads((package / "card.json").read_text())


def test_a_card_reads_as_typed_records(tmp_path):
    data = card_data(tmp_path)
    data["layer_map"]["layers"] = [{"index": 0, "name": "x", "class": "InputLayer",
                                    "output_shape": [None, 4], "params": 0,
                                    "trainable": False, "stage": "input"}]
    data["layer_map"]["cut_points"] = [{"name": "x", "index": 0, "channels": 4,
                                        "reduction": None}]
    data["exports"] = {"onnx": {"path": "exports/model.onnx", "max_abs_diff": 1e-7,
                                "tolerance": 1e-4, "opset": 17}}
    card = card_from_json(data)
    assert card.training_data.name == "none" and card.preprocessing.input_shape == [4]
    layer = card.layer_map.layers[0]
    assert isinstance(layer, LayerEntry) and layer.class_name == "InputLayer"
    assert isinstance(card.layer_map.cut_points[0], CutPoint)
    assert isinstance(card.exports["onnx"], ExportRecord) and card.exports["onnx"].opset == 17
    assert card.lineage is None and card.model_sha256 == data["files"]["model.keras"]
    assert card.to_json() == data


def test_unknown_fields_of_a_newer_card_survive_a_round_trip(tmp_path):
    data = card_data(tmp_path)
    data["provenance"] = {"key": "ops@acme"}
    data["training_data"]["revision"] = "2027-01"
    data["preprocessing"]["mean"] = [0.5, 0.5, 0.5]
    data["lineage"] = {"base_ref": "zoo/iris", "base_revision": "b" * 40,
                       "base_card_sha256": SHA, "base_license": "MIT", "cut_layer": None,
                       "head": "dense:4:softmax", "frozen_layers": [], "distributed": 2}
    package = tmp_path / "pkg"
    (package / "card.json").write_text(json.dumps(data))
    card = read_card(package)
    assert card.extra == {"provenance": {"key": "ops@acme"}}
    assert card.lineage.extra == {"distributed": 2} and card.lineage.cut_layer is None
    write_card(package, card)
    assert json.loads((package / "card.json").read_text()) == data


def test_a_card_the_schema_refuses_is_never_typed_or_written(tmp_path):
    data = card_data(tmp_path)
    with pytest.raises(CardError, match="files/model.keras"):
        card_from_json({**data, "files": {"model.keras": "not-a-sha"}})
    with pytest.raises(CardError, match="layer_map"):
        card_from_json({k: v for k, v in data.items() if k != "layer_map"})
    card = card_from_json(data)
    card.lineage = Lineage(base_ref="zoo/iris", base_revision="short", base_card_sha256=SHA,
                           base_license="MIT")
    with pytest.raises(CardError, match="base_revision"):
        card_bytes(card)


def test_a_card_holding_nan_is_refused_not_written_as_invalid_json(tmp_path):
    card = card_from_json(card_data(tmp_path))
    card.history = {"loss": [0.5, math.nan]}
    with pytest.raises(CardError, match="NaN"):
        card_bytes(card)


def test_a_misspelt_field_fails_where_the_card_is_built(tmp_path):
    data = card_data(tmp_path)
    with pytest.raises(TypeError, match="licence"):
        Card(**{**card_from_json(data).__dict__, "licence": "MIT"})
