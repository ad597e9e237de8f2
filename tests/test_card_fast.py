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
    DistributionRecord,
    ExportRecord,
    FeatureCacheRecord,
    FinetunePhase,
    FinetuneRun,
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


LINEAGE = {"base_ref": "zoo/iris", "base_revision": "b" * 40, "base_card_sha256": SHA,
           "base_license": "MIT", "cut_layer": "hidden2", "frozen_layers": ["hidden1"],
           "head": "dense:4:softmax"}
# Two runs as `zoo finetune` wrote them before the records were typed: one on cached
# features in onnxruntime, unfrozen in phase 2; one mirrored, without the cache.
FINETUNE = [
    {"data_sha256": SHA, "phases": [
        {"phase": 1, "epochs_run": 3, "trainable_params": 104, "epochs": 3, "batch_size": 32,
         "learning_rate": 0.01, "validation_split": 0.2, "seed": 0, "patience": None,
         "feature_cache": {"prefix": "hidden2", "key": "c" * 64, "graph": "d" * 64,
                           "hit": False, "runtime": "onnxruntime", "graph_hit": False,
                           "check_samples": 16, "max_abs_diff": 1e-7, "tolerance": 1e-4,
                           "seconds": 0.25},
         "distribution": None, "seconds": 1.5},
        {"phase": 2, "epochs_run": 2, "trainable_params": 1354, "unfreeze_from": "hidden1",
         "learning_rate": 1e-5, "epochs": 2, "distribution": None, "seconds": 0.75}]},
    {"data_sha256": SHA, "phases": [
        {"phase": 1, "epochs_run": 1, "trainable_params": 104, "epochs": 1, "batch_size": 8,
         "learning_rate": 0.01, "validation_split": 0.2, "seed": 0, "patience": 2,
         "feature_cache": None,
         "distribution": {"strategy": "mirrored", "replicas": 2, "workers": 1,
                          "global_batch": 8, "local_devices": ["/cpu:0", "/cpu:1"],
                          "worker_timeout": None},
         "seconds": 2.0}]},
]


def card_with_finetune(tmp_path: Path, finetune: list) -> tuple[Path, dict]:
    data = card_data(tmp_path)
    data["lineage"] = {**LINEAGE, "finetune": finetune}
    (tmp_path / "pkg" / "card.json").write_text(json.dumps(data))
    return tmp_path / "pkg", data


def test_finetune_runs_read_as_typed_records(tmp_path):
    package, _ = card_with_finetune(tmp_path, FINETUNE)
    cached, mirrored = read_card(package).lineage.finetune
    assert isinstance(cached, FinetuneRun) and cached.data_sha256 == SHA
    first, second = cached.phases
    assert isinstance(first, FinetunePhase) and first.batch_size == 32
    assert isinstance(first.feature_cache, FeatureCacheRecord)
    assert first.feature_cache.runtime == "onnxruntime" and first.feature_cache.reason is None
    assert second.unfreeze_from == "hidden1" and second.feature_cache is None
    (only,) = mirrored.phases
    assert only.feature_cache is None and only.patience == 2
    assert isinstance(only.distribution, DistributionRecord)
    assert only.distribution.local_devices == ["/cpu:0", "/cpu:1"]


def test_typed_finetune_runs_write_the_json_the_dicts_did(tmp_path):
    package, data = card_with_finetune(tmp_path, FINETUNE)
    write_card(package, read_card(package))
    assert json.loads((package / "card.json").read_text()) == data


def test_the_trainers_records_write_phase_one_nulls_and_leave_phase_two_without(tmp_path):
    run = FinetuneRun(data_sha256=SHA, phases=[
        FinetunePhase(phase=1, epochs_run=1, trainable_params=4, epochs=1, batch_size=8,
                      learning_rate=0.1, validation_split=0.2, seed=0),
        FinetunePhase(phase=2, epochs_run=1, trainable_params=9, epochs=1,
                      learning_rate=1e-5, unfreeze_from="hidden1")])
    first, second = run.to_json()["phases"]
    assert first["feature_cache"] is None and first["patience"] is None
    assert first["distribution"] is None and second["distribution"] is None
    assert "feature_cache" not in second and "patience" not in second
    card = card_from_json(card_data(tmp_path))
    card.lineage = Lineage(**LINEAGE, finetune=[run])
    assert card_from_json(json.loads(card_bytes(card))).lineage.finetune == [run]


def test_a_finetune_run_of_the_first_zoo_versions_still_reads(tmp_path):
    spine = [{"epochs": 100, "batch_size": 32, "learning_rate": 0.01, "optimizer": "adam",
              "validation_split": 0.2, "seed": 0, "data_sha256": SHA}]
    package, data = card_with_finetune(tmp_path, spine)
    (run,) = read_card(package).lineage.finetune
    assert run.phases == [] and run.extra["optimizer"] == "adam"
    write_card(package, read_card(package))
    assert json.loads((package / "card.json").read_text()) == data


def test_a_finetune_phase_the_schema_does_not_describe_is_refused(tmp_path):
    broken = json.loads(json.dumps(FINETUNE))
    del broken[0]["phases"][0]["epochs_run"]
    package, _ = card_with_finetune(tmp_path, broken)
    with pytest.raises(CardError, match="epochs_run"):
        read_card(package)


def test_a_cut_point_without_a_reduction_reads_as_a_vector_cut(tmp_path):
    data = card_data(tmp_path)
    data["layer_map"]["cut_points"] = [{"name": "x", "index": 0, "channels": 4}]
    (cut,) = card_from_json(data).layer_map.cut_points
    assert cut.reduction is None and cut.to_json()["reduction"] is None
