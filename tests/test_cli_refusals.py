"""Bad input the `zoo` command refuses before any model is loaded: one line, exit
code 2, nothing written. This module's hub is empty."""

from pathlib import Path

import pytest
from conftest import ok, refused


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """Where a command would write; every test checks nothing is there afterwards."""
    yield tmp_path / "out"
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("options, message", [
    (["a/b/c"], "bad reference 'a/b/c': expected [OWNER/]NAME[@REV]"),
    (["iris@../x"], "bad revision '../x'"),
    (["s3://bucket/iris"], "unsupported hub scheme 's3://'"),
    (["nosuch"], "no repository zoo/nosuch in the hub at"),
    (["iris", "--head", "dense:four"], "bad head item 'dense:four'"),
    (["iris", "--drop-top", "1", "--head", "gap"], "the head must end with a dense layer"),
    (["iris", "--freeze", "a:b:c"], "--freeze 'a:b:c': a layer range is A:B, A: or :B"),
    (["iris", "--cut-at", "hidden1", "--drop-top", "1"], "not both"),
    (["iris", "--drop-top", "-1"], "--drop-top must be 0 or more"),
    (["iris", "--input-size", "32"], "bad size '32'"),
    (["iris", "--allow-license", "MIT AND"], "not a valid SPDX expression"),
    (["iris", "--drop-top", "one"], "'one' is not a valid integer"),
])
def test_pull_refuses_bad_options_before_fetching(options, message, out):
    assert message in refused("pull", *options, "--out", out)


def test_pull_refuses_a_policy_file_that_cannot_be_read(tmp_path, out):
    (tmp_path / "policy.toml").write_text("allow = [\n")
    line = refused("pull", "iris", "--policy", tmp_path / "policy.toml", "--out", out)
    assert f"policy file {tmp_path / 'policy.toml'} cannot be read" in line


def test_locked_pull_refuses_a_reference_the_lock_does_not_hold(tmp_path, out):
    line = refused("pull", "acme/iris@v1", "--locked", "--lock", tmp_path / "zoo.lock",
                   "--out", out)
    assert "acme/iris@v1 is not in" in line and "without --locked to record it" in line


def test_locked_pull_refuses_a_lock_that_is_not_json(tmp_path, out):
    (tmp_path / "zoo.lock").write_text("packages: iris\n")
    line = refused("pull", "iris", "--locked", "--lock", tmp_path / "zoo.lock", "--out", out)
    assert "is not a readable zoo.lock" in line


def test_offline_pull_of_an_uncached_hub_revision_says_so(monkeypatch, out):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing there: must not be used
    line = refused("pull", "hf://acme/iris@v1", "--out", out)
    assert "hf://acme/iris@v1 is not in the cache and HF_HUB_OFFLINE is set" in line


def test_publish_refuses_a_folder_that_is_not_a_package(tmp_path):
    (tmp_path / "empty").mkdir()
    assert "is not a package: it has no card.json" in refused("publish", tmp_path / "empty",
                                                              "iris")
    assert "is not a package" in refused("publish", tmp_path / "missing", "iris")


def test_publish_refuses_a_card_that_is_not_json_or_not_a_card(tmp_path):
    (tmp_path / "garbage").mkdir()
    (tmp_path / "garbage" / "card.json").write_text("{not json")
    assert "cannot be read as JSON" in refused("publish", tmp_path / "garbage", "iris")
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "card.json").write_text('{"name": "half"}')
    line = refused("publish", tmp_path / "half", "iris")
    assert "is not a valid card" in line and "card_version" in line


@pytest.mark.parametrize("target, options, message", [
    ("iris@v1", [], "name the revision with --tag 'v1'"),
    ("iris", ["--private"], "--private is for hf:// repositories"),
    ("bad name", [], "bad name 'bad name'"),
])
def test_publish_refuses_a_target_it_cannot_publish_to(zoo_home, tmp_path, target, options,
                                                       message):
    assert message in refused("publish", tmp_path, target, *options)
    assert not (zoo_home / "data" / "hub" / "models").exists()


def test_pack_refuses_what_is_not_a_keras_file(tmp_path, out):
    (tmp_path / "model.h5").write_bytes(b"HDF")
    assert "neither a Keras 3 .keras zip nor an HDF5 file" in refused(
        "pack", tmp_path / "model.h5", "--name", "x", "--license", "MIT", "--out", out)
    assert f"{tmp_path / 'gone.keras'}: no such model file" in refused(
        "pack", tmp_path / "gone.keras", "--name", "x", "--license", "MIT", "--out", out)


@pytest.mark.parametrize("options, message", [
    (["model.keras"], "needs --name and --license"),
    (["keras:MobileNetV2", "--preprocess", "tf"], "brings its own preprocessing"),
    (["keras:NoSuchNet"], "unknown architecture 'NoSuchNet'; known: keras:MobileNetV2"),
    (["keras:MobileNetV2", "--input-size", "9"], "bad size '9'"),
    (["keras:MobileNetV2", "--preprocess", "gamma"], "'gamma' is not one of"),
])
def test_pack_refuses_bad_options_before_loading(options, message, out):
    assert message in refused("pack", *options, "--out", out)


def test_train_cnn_needs_data(out):
    assert "zoo train cnn needs --data" in refused("train", "cnn", "--out", out)


@pytest.mark.parametrize("options, message", [
    (["nope", "--out", "x.csv"], "'nope' is not one of 'iris', 'iris4', 'digits'"),
    (["iris", "--per-class", "0", "--out", "x.csv"], "0 is not in the range x>=1"),
    (["iris", "--split", "half", "--out", "x.csv"], "'half' is not one of 'all'"),
])
def test_data_refuses_unknown_sets_and_bad_options(options, message):
    assert message in refused("data", *options)


@pytest.mark.parametrize("command", [
    ["finetune", "{folder}", "--data", "{folder}/t.csv", "--out", "{folder}/o"],
    ["evaluate", "{folder}", "--data", "{folder}/t.csv"],
    ["export", "{folder}", "--format", "onnx"],
    ["inspect", "{folder}"],
])
def test_commands_on_a_folder_that_is_not_a_package_are_refused(tmp_path, command):
    args = [part.format(folder=tmp_path) for part in command]
    assert f"{tmp_path} is not a package: it has no card.json" in refused(*args)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_evaluate_record_needs_a_package_folder(tmp_path):
    line = refused("evaluate", "iris@v1", "--data", tmp_path / "t.csv", "--record")
    assert "--record writes into a package folder" in line


def test_predict_refuses_a_folder_that_is_not_a_bundle(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    line = refused("predict", tmp_path, tmp_path / "notes.txt")
    assert "is not a deploy bundle (no bundle.json)" in line


def test_inspect_names_the_empty_hub_and_list_says_it_holds_nothing(zoo_home):
    line = refused("inspect", "acme/nosuch")
    assert "no repository acme/nosuch" in line and "(repositories: none)" in line
    run = ok("list")
    assert run.stdout == "" and "no packages in the hub at" in run.stderr


def test_unknown_command_points_to_help():
    assert "No such command 'bogus'. (see 'zoo --help')" in refused("bogus")
