"""The whole spine on real trained iris models: train → publish → pull → fine-tune
→ evaluate → export, and Heaton's numbers exactly."""

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import ok, refused
from parity import assert_export_parity
from packages import card_json

from zoo.package import load_model

pytestmark = pytest.mark.slow  # trains, loads Keras models or exports


def test_train_iris_records_held_out_accuracy(iris_pkg: Path):
    card = card_json(iris_pkg)
    assert card["layer_map"]["total_params"] == 1603
    assert [layer["name"] for layer in card["layer_map"]["layers"]] == \
        ["hidden1", "hidden2", "species"]
    assert card["metrics"]["accuracy"]["split"] == "test"
    assert card["metrics"]["accuracy"]["value"] >= 0.9
    assert [c["name"] for c in card["layer_map"]["cut_points"]] == ["hidden1", "hidden2"]


def test_heaton_transfer_has_exact_parameter_counts(derived_pkg: Path, base_iris_revision: str):
    card = card_json(derived_pkg)
    layer_map = card["layer_map"]
    assert (layer_map["total_params"], layer_map["trainable_params"],
            layer_map["non_trainable_params"]) == (1629, 104, 1525)
    lineage = card["lineage"]
    assert lineage["base_ref"] == "zoo/iris"
    assert lineage["base_revision"] == base_iris_revision
    assert lineage["cut_layer"] == "hidden2"
    assert lineage["frozen_layers"] == ["hidden1", "hidden2"]
    assert lineage["head"] == "dense:4:softmax"
    assert lineage["base_license"] == "Apache-2.0"


def test_derived_license_carries_the_base_license_forward(derived_pkg: Path):
    assert card_json(derived_pkg)["license"] == "Apache-2.0 AND MIT"


def test_finetune_leaves_frozen_weights_bit_identical(derived_pkg: Path, tuned_pkg: Path):
    before, after = load_model(derived_pkg), load_model(tuned_pkg)
    for name in ("hidden1", "hidden2"):
        for old, new in zip(before.get_layer(name).get_weights(),
                            after.get_layer(name).get_weights()):
            assert np.array_equal(old, new), name
    head_before = before.get_layer("head_0_dense").get_weights()[0]
    head_after = after.get_layer("head_0_dense").get_weights()[0]
    assert not np.array_equal(head_before, head_after)


def test_finetune_records_metrics_history_and_schedule(tuned_pkg: Path):
    card = card_json(tuned_pkg)
    assert card["metrics"]["accuracy"]["split"] == "validation"
    assert card["metrics"]["accuracy"]["value"] >= 0.7
    assert len(card["history"]["loss"]) == 60
    assert card["preprocessing"]["label_names"] == \
        ["setosa", "versicolor", "virginica-long", "virginica-short"]
    (run,) = card["lineage"]["finetune"]
    (phase,) = run["phases"]
    assert phase["epochs"] == 60 and phase["learning_rate"] == 0.02
    assert (tuned_pkg / "training_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_evaluate_prints_and_records_confusion_matrix(tuned_pkg, iris4_csv, copy_of):
    package = copy_of(tuned_pkg)
    run = ok("evaluate", package, "--data", iris4_csv[1], "--record")
    assert "accuracy" in run.stdout and "confusion matrix" in run.stdout
    card = card_json(package)
    matrix = card["confusion_matrix"]["matrix"]
    assert sum(map(sum, matrix)) == 45
    accuracy = sum(matrix[i][i] for i in range(4)) / 45
    assert card["metrics"]["test_accuracy"]["value"] == pytest.approx(accuracy)
    ok("publish", package, "iris4-evaluated")  # still a valid, sealed package


def test_pull_without_rebuild_fetches_the_package_as_published(iris_pkg, iris_revision,
                                                                tmp_path):
    ok("pull", f"iris@{iris_revision}", "--out", tmp_path / "copy")
    for name in ("model.keras", "card.json", "README.md"):
        assert (tmp_path / "copy" / name).read_bytes() == (iris_pkg / name).read_bytes()


def test_onnx_export_matches_keras_and_carries_card_metadata(tuned_pkg, iris4_csv, copy_of):
    import onnx
    import onnxruntime

    package = copy_of(tuned_pkg)
    ok("export", package, "--format", "onnx", "--data", iris4_csv[1])
    assert_export_parity(package, "onnx", iris4_csv[1], tol=1e-5)
    card = card_json(package)
    path = package / card["exports"]["onnx"]["path"]
    onnx.checker.check_model(onnx.load(path))
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    assert meta["zoo.license"] == "Apache-2.0 AND MIT"
    assert json.loads(meta["zoo.lineage"])["cut_layer"] == "hidden2"
    assert meta["zoo.model_sha256"] == card["files"]["model.keras"]


def test_savedmodel_export_matches_keras(tuned_pkg, copy_of, tmp_path):
    package = copy_of(tuned_pkg)
    ok("export", package, "--format", "savedmodel", "--out", tmp_path / "serving")
    assert_export_parity(package, "savedmodel", tol=1e-5)
    assert_export_parity(package, "savedmodel", tol=1e-5, exported=tmp_path / "serving")


def test_export_above_tolerance_is_refused_and_package_unchanged(tuned_pkg, copy_of):
    package = copy_of(tuned_pkg)
    before = {p.name: p.read_bytes() for p in package.iterdir() if p.is_file()}
    line = refused("export", package, "--format", "onnx", "--tolerance", "0")
    assert "differs from Keras" in line or "tolerance" in line
    assert {p.name: p.read_bytes() for p in package.iterdir() if p.is_file()} == before
    assert not (package / "exports").exists()


def test_heaton_pull_by_index_gives_the_same_model(iris_revision, tmp_path):
    ok("pull", "iris@v1", "--cut-at", "1", "--freeze-until", "1", "--head", "dense:4:softmax",
       "--out", tmp_path / "by-index")
    layer_map = card_json(tmp_path / "by-index")["layer_map"]
    assert (layer_map["trainable_params"], layer_map["non_trainable_params"]) == (104, 1525)

