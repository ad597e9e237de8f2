"""`zoo import`: keras-hub presets and Keras 3 folders, made in the session by keras-hub
and Keras themselves, read from a local folder or pinned from a folder hub that holds
them in the Hugging Face layout (no zoo card) and serves them with `zoo hub serve`.

The refusals that need no Keras run in the fast tier on hand-written files; the rest
build real presets (slow).
"""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import ok, published_revision, refused
from packages import card_json
from parity import assert_export_parity
from hypothesis import given, settings
from hypothesis import strategies as st
from served import served

from zoo.build.foreign import identify, read_converter
from zoo.cards.digest import sha256_file
from zoo.errors import IntegrityError, ZooError
from zoo.hub.base import RepoFile
from zoo.hub.lfs import object_path
from zoo.hub.pinned import check_download, git_blob_id
from zoo.trust.model_scan import read_keras_config, scan_model_file


def commit(hub_root: Path, folder: Path, repo: str, tag: str | None = None) -> str:
    from presets import commit as commit_folder

    return commit_folder(hub_root, folder, repo, tag=tag)


def fake_preset(folder: Path, config: dict, readme: str | None = None) -> Path:
    """The three files of a preset, written by hand (for refusals Keras never sees)."""
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "metadata.json").write_text(json.dumps({"keras_version": "3.15.1",
                                                      "keras_hub_version": "0.32.0"}))
    (folder / "model.weights.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(64))
    if readme:
        (folder / "README.md").write_text(readme)
    return folder


PLAIN = {"module": "keras.layers", "class_name": "Dense",
         "config": {"name": "d", "units": 2}, "registered_name": None}
EVIL = {"module": "os", "class_name": "system", "config": {"command": "true"},
        "registered_name": "os>system"}


# --- fast: what is refused before Keras or keras-hub reads anything -----------------

def test_a_folder_that_is_neither_format_is_refused(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "config.json").write_text("{}")
    line = refused("import", tmp_path / "src", "--license", "MIT", "--out", tmp_path / "out")
    assert "neither a keras-hub preset nor a Keras folder: no metadata.json, " \
           "model.weights.h5" in line
    assert not (tmp_path / "out").exists()


def test_a_config_naming_a_module_outside_keras_is_refused(tmp_path):
    src = fake_preset(tmp_path / "src", EVIL)
    line = refused("import", src, "--license", "MIT", "--out", tmp_path / "out")
    assert "config.json" in line and "refusing to load" in line and "'os'" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


def test_no_license_is_refused_and_a_contradicting_one_too(tmp_path):
    src = fake_preset(tmp_path / "src", EVIL, readme="---\nlibrary_name: keras-hub\n---\n")
    line = refused("import", src, "--out", tmp_path / "out")
    assert "states no license" in line and "--license" in line
    (src / "README.md").write_text("---\nlicense: apache-2.0\n---\n")
    line = refused("import", src, "--license", "MIT", "--out", tmp_path / "out")
    assert "states its license as 'Apache-2.0'" in line and "contradicts" in line


def test_the_license_policy_applies_before_anything_is_built(tmp_path):
    src = fake_preset(tmp_path / "src", EVIL, readme="---\nlicense: cc-by-nc-4.0\n---\n")
    policy = tmp_path / "policy.toml"
    policy.write_text('allow = ["MIT", "Apache-2.0"]\n')
    line = refused("import", src, "--policy", policy, "--out", tmp_path / "out")
    assert "CC-BY-NC-4.0" in line and "--allow-license" in line


def test_a_bad_image_converter_is_refused_in_one_line(tmp_path):
    # a config.json that passes the scan, so the refusal can only be the converter's
    src = fake_preset(tmp_path / "src", PLAIN)
    (src / "image_converter.json").write_text(json.dumps(EVIL))
    line = refused("import", src, "--license", "MIT", "--out", tmp_path / "out")
    assert "image_converter.json" in line and "refusing to load" in line


# --- slow: real presets -------------------------------------------------------------

@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A backbone preset, a task preset (32x32 image converter) and a Keras folder."""
    import presets

    root = tmp_path_factory.mktemp("made")
    return {"backbone": presets.backbone_preset(root / "backbone"),
            "task": presets.task_preset(root / "task"),
            "keras": presets.keras_folder(root / "keras-folder")}


@pytest.fixture(scope="module")
def upstream(made, tmp_path_factory):
    """A folder hub holding the presets as the Hub does, with two revisions of one,
    served over the Hub API."""
    root = tmp_path_factory.mktemp("upstream")
    v1 = commit(root, made["task"], "keras/tiny-task", tag="v1")
    second = tmp_path_factory.mktemp("task-v2")
    shutil.copytree(made["task"], second, dirs_exist_ok=True)
    (second / "README.md").write_text("---\nlibrary_name: keras-hub\nlicense: mit\n---\n")
    main = commit(root, second, "keras/tiny-task")
    commit(root, made["keras"], "someone/tiny-cnn")
    with served(root, tmp_path_factory.mktemp("olah-state")) as endpoint:
        yield {"root": root, "endpoint": endpoint, "v1": v1, "main": main}


@pytest.fixture
def hf(upstream, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", upstream["endpoint"])
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return upstream


@pytest.mark.slow
def test_a_local_backbone_preset_imports_with_its_pyramid_as_cut_points(made, tmp_path,
                                                                        zoo_home):
    import keras
    import keras_hub

    line = refused("import", made["backbone"], "--out", tmp_path / "pkg")
    assert "states no license" in line
    ok("import", made["backbone"], "--license", "Apache-2.0", "--name", "tiny-resnet",
       "--out", tmp_path / "pkg")
    card = card_json(tmp_path / "pkg")
    origin = card["imported_from"]
    assert origin["format"] == "keras-hub preset" and origin["revision"] is None
    assert origin["license_from"] == "importer" and card["license"] == "Apache-2.0"
    assert origin["class_name"] == "keras_hub>ResNetBackbone"
    assert origin["keras_hub_version"] == keras_hub.__version__
    assert sorted(origin["files"]) == ["README.md", "config.json", "metadata.json",
                                       "model.weights.h5"]
    cuts = [(c["name"], c["reduction"], c["channels"]) for c in card["layer_map"]["cut_points"]]
    original = keras_hub.models.Backbone.from_preset(str(made["backbone"]))
    assert [name for name, _, _ in cuts] == [
        t._keras_history.operation.name for _, t in sorted(original.pyramid_outputs.items())]
    assert [(r, c) for _, r, c in cuts] == [(4, 64), (8, 16)]  # P2, P3
    # A plain Keras 3 package (no keras-hub class left) that computes what keras-hub does.
    assert "keras_hub" not in json.dumps(read_keras_config(tmp_path / "pkg" / "model.keras"))
    assert scan_model_file(tmp_path / "pkg" / "model.keras").packages == frozenset()
    packed = keras.saving.load_model(tmp_path / "pkg" / "model.keras")
    x = np.random.default_rng(0).normal(size=(2, 48, 40, 3)).astype("float32")
    np.testing.assert_array_equal(np.asarray(packed(x)), np.asarray(original(x)))


@pytest.mark.slow
def test_a_backbone_of_keras_hub_layers_is_refused_naming_them(tmp_path):
    import keras_hub

    keras_hub.models.ViTBackbone(image_shape=(32, 32, 3), patch_size=8, num_layers=1,
                                 num_heads=2, hidden_dim=8, mlp_dim=16
                                 ).save_to_preset(str(tmp_path / "vit"))
    line = refused("import", tmp_path / "vit", "--license", "MIT", "--out", tmp_path / "pkg")
    assert "cannot import keras_hub>ViTBackbone" in line
    assert "ViTEncoder" in line and "ViTPatchingAndEmbedding" in line
    assert not (tmp_path / "pkg").exists()


@pytest.mark.slow
def test_a_keras_folder_imports_with_the_license_its_readme_states(made, tmp_path):
    ok("import", made["keras"], "--input-size", "32x32", "--out", tmp_path / "pkg")
    card = card_json(tmp_path / "pkg")
    assert card["license"] == "Apache-2.0"
    assert card["imported_from"]["license_from"] == "source"
    assert card["imported_from"]["format"] == "keras folder"
    assert card["preprocessing"]["input_shape"] == [32, 32, 3]
    assert [c["name"] for c in card["layer_map"]["cut_points"]] == ["stem_relu", "block1_relu"]


@pytest.mark.slow
@pytest.mark.parametrize("rev", ["v1", "main", "sha"])
def test_hf_import_pins_tag_branch_and_sha_to_the_commit(hf, rev, tmp_path):
    want = hf["main"] if rev == "main" else hf["v1"]
    given = hf["v1"][:12] if rev == "sha" else rev
    args = ["--license", "MIT"] if rev != "main" else []  # main's README states MIT
    out = ok("import", f"hf://keras/tiny-task@{given}", *args, "--out", tmp_path / "pkg")
    assert f"hf://keras/tiny-task@{want}" in out.stdout
    origin = card_json(tmp_path / "pkg")["imported_from"]
    assert origin["source"] == "hf://keras/tiny-task" and origin["revision"] == want
    assert origin["license_from"] == ("source" if rev == "main" else "importer")
    # only what the format needs: not the task's head, weights or preprocessor
    assert sorted(origin["files"]) == ["README.md", "config.json", "image_converter.json",
                                       "metadata.json", "model.weights.h5"]


@pytest.mark.slow
def test_a_tampered_weights_file_is_refused_before_it_is_parsed(made, tmp_path, monkeypatch):
    root = tmp_path / "hub"
    commit(root, made["backbone"], "keras/tampered")
    repo = root / "models" / "keras" / "tampered"
    oid = None
    for blob in (repo / ".git" / "lfs" / "objects").rglob("*"):
        if blob.is_file():
            data = bytearray(blob.read_bytes())
            data[-1] ^= 0xFF  # same size, other bytes: only the hash can tell
            blob.write_bytes(bytes(data))
            oid = blob.name
    assert oid and object_path(repo, oid).is_file()
    with served(root, tmp_path / "state") as endpoint:
        monkeypatch.setenv("HF_ENDPOINT", endpoint)
        line = refused("import", "hf://keras/tampered", "--license", "MIT",
                       "--out", tmp_path / "pkg")
    assert "model.weights.h5" in line and "sha256" in line and "the hub lists" in line
    assert not (tmp_path / "pkg").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".pkg")]


@pytest.mark.slow
def test_an_imported_preset_goes_through_the_whole_consumer_path(hf, tmp_path, zoo_home):
    """pin → import (image converter built in) → publish → pull (cut, freeze, head) →
    finetune → ONNX with parity."""
    ok("import", "hf://keras/tiny-task@main", "--name", "tiny-task", "--out", tmp_path / "pkg")
    card = card_json(tmp_path / "pkg")
    assert card["preprocessing"]["input_shape"] == [32, 32, 3]
    assert "image_converter.json" in card["preprocessing"]["scaling"]
    assert card["layer_map"]["layers"][1]["name"] == "preprocess"  # x / 255, in the model
    published_revision(tmp_path / "pkg", "tiny-task", "--tag", "v1")
    ok("pull", "tiny-task@v1", "--cut-at", "stack1_block0_out",
       "--freeze-until", "stack0_block0_out", "--input-size", "28x28x1",
       "--head", "gap,dense:3:softmax", "--out", tmp_path / "derived")
    derived = card_json(tmp_path / "derived")
    assert derived["lineage"]["cut_layer"] == "stack1_block0_out"
    assert derived["license"] == "MIT"
    ok("data", "mnist5k", "--classes", "0-2", "--per-class", "5", "--split", "train",
       "--out", tmp_path / "few.npz")
    ok("finetune", tmp_path / "derived", "--data", tmp_path / "few.npz", "--epochs", "2",
       "--out", tmp_path / "tuned")
    ok("export", tmp_path / "tuned", "--format", "onnx")
    assert_export_parity(tmp_path / "tuned", "onnx")


# --- fast: the parsers of what a source wrote, fuzzed ---------------------------------

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=12), inner, max_size=4), max_leaves=12)
CONVERTER_CONFIG = st.fixed_dictionaries({}, optional={
    "image_size": JSON | st.lists(st.integers(-2, 10_000), max_size=3),
    "scale": JSON | st.lists(st.floats(), max_size=3), "offset": JSON})


@settings(max_examples=150, deadline=None)
@given(data=JSON | st.fixed_dictionaries({"config": CONVERTER_CONFIG}))
def test_any_image_converter_json_reads_or_is_refused_as_a_zoo_error(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("converter")
    (folder / "image_converter.json").write_text(json.dumps(data))
    try:
        converter = read_converter(folder)
    except ZooError:
        return
    assert converter.size is None or (len(converter.size) == 2 and min(converter.size) > 0)
    for value in (converter.scale, converter.offset):
        assert value is None or isinstance(value, (int, float, list))


@settings(max_examples=150, deadline=None)
@given(config=JSON, metadata=JSON)
def test_any_config_and_metadata_identify_or_are_refused_as_a_zoo_error(tmp_path_factory,
                                                                         config, metadata):
    folder = tmp_path_factory.mktemp("identify")
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "metadata.json").write_text(json.dumps(metadata))
    try:
        found = identify(folder, {"config.json", "metadata.json", "model.weights.h5"})
    except ZooError:
        return
    assert found.format in ("keras-hub preset", "keras folder")
    assert found.class_name is None or isinstance(found.class_name, str)


def test_a_download_is_checked_against_the_listed_blob_id_sha256_and_size(tmp_path):
    import subprocess

    path = tmp_path / "config.json"
    path.write_bytes(b'{"a": 1}\n')
    blob = subprocess.run(["git", "hash-object", str(path)], capture_output=True, text=True,
                          check=True).stdout.strip()
    assert git_blob_id(path) == blob
    size, digest = path.stat().st_size, sha256_file(path)
    assert check_download(path, RepoFile("config.json", None, size, False, blob), "x") == digest
    assert check_download(path, RepoFile("config.json", digest, size, True), "x") == digest
    for listed, why in ((RepoFile("config.json", None, size + 1, False, blob), "bytes"),
                        (RepoFile("config.json", None, size, False, "0" * 40), "not the blob"),
                        (RepoFile("config.json", "0" * 64, size, True), "sha256"),
                        (RepoFile("config.json", None, size, False, None), "lists no hash")):
        with pytest.raises(IntegrityError, match=why):
            check_download(path, listed, "hf://o/n@abc")


def test_an_existing_out_is_refused_before_anything_is_read(tmp_path):
    (tmp_path / "out").mkdir()
    line = refused("import", "hf://keras/never-fetched", "--out", tmp_path / "out")
    assert "already exists" in line and "--force" in line
