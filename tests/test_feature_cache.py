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
    assert phase["feature_cache"]["prefix"] == "block2_pool"  # weightless layers join it
    assert plain["lineage"]["finetune"][0]["phases"][0]["feature_cache"] is None
    a, b = load_model(tmp_path / "cached"), load_model(tmp_path / "plain")
    for name in ("block3_conv", "head_2_dense"):
        for left, right in zip(a.get_layer(name).get_weights(), b.get_layer(name).get_weights()):
            np.testing.assert_allclose(left, right, atol=1e-5, err_msg=name)
    assert cached["metrics"]["accuracy"]["value"] == pytest.approx(
        plain["metrics"]["accuracy"]["value"], abs=1e-6)
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
