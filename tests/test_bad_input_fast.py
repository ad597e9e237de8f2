"""Bad input that fails before any model is loaded: one line, exit 2, no
traceback, nothing written. No TensorFlow in this module."""

import hashlib
import json
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from conftest import refused, zoo
from served import free_port

from zoo.data.datasets import load_table, numeric_features
from zoo.deploy.settings import check_min_agreement, check_tolerance
from zoo.errors import DataError, ZooError
from zoo.hub.serve import start, stop


def bundle(tmp_path: Path, **overrides: object) -> Path:
    """A deploy bundle laid out as `zoo export --bundle` writes it, with any bytes
    as the model (the checks under test run before the model is)."""
    folder = tmp_path / "bundle"
    folder.mkdir(exist_ok=True)
    model = b"not run by these tests"
    (folder / "model.onnx").write_bytes(model)
    files = {"bundle.json": {"model": "model.onnx", "sha256": hashlib.sha256(model).hexdigest()},
             "preprocessing.json": {"input_shape": [4]}, "labels.json": ["a", "b", "c"]}
    files.update(overrides)
    for name, content in files.items():
        text = content if isinstance(content, str) else json.dumps(content)
        (folder / name).write_text(text)
    if "bundle.json" not in overrides:  # every file hashed, as `zoo export --bundle` does
        files["bundle.json"]["files"] = {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                                         for p in folder.iterdir() if p.name != "bundle.json"}
        (folder / "bundle.json").write_text(json.dumps(files["bundle.json"]))
    return folder


@pytest.mark.parametrize("case, overrides, expected", [
    ("bundle.json not JSON", {"bundle.json": "{oops"}, "not valid JSON"),
    ("bundle.json a list", {"bundle.json": "[1]"}, "unexpected content"),
    ("model path escapes", {"bundle.json": {"model": "../../etc/passwd", "sha256": "0" * 64}},
     "bad 'model'"),
    ("sha256 not hex", {"bundle.json": {"model": "model.onnx", "sha256": "x"}}, "64 hex"),
    ("preprocessing not JSON", {"preprocessing.json": "\x00"}, "not valid JSON"),
    ("input_shape nonsense", {"preprocessing.json": {"input_shape": [-1, "a"]}}, "input_shape"),
    ("labels not names", {"labels.json": [1, 2]}, "label names"),
])
def test_predict_refuses_a_broken_bundle_in_one_line(tmp_path: Path, case: str,
                                                     overrides: dict, expected: str) -> None:
    inputs = tmp_path / "rows.csv"
    inputs.write_text("1,2,3,4\n")
    line = refused("predict", bundle(tmp_path, **overrides), inputs)
    assert expected in line, (case, line)


def test_predict_reads_a_headerless_csv_and_names_a_short_row(tmp_path: Path) -> None:
    rows = tmp_path / "rows.csv"
    rows.write_text("1,2,3\n")
    assert "row 1 has 3 columns" in refused("predict", bundle(tmp_path), rows)


@pytest.mark.parametrize("arrays, expected", [
    ({"x": np.array([["a", "b", "c", "d"]])}, "must be numbers"),
    ({"x": np.array([[1.0, np.nan, 0, 0]])}, "NaN"),
    ({"x": np.array([[1.0, np.inf, 0, 0]])}, "NaN or infinite"),
])
def test_predict_refuses_npz_features_that_are_not_finite_numbers(
        tmp_path: Path, arrays: dict, expected: str) -> None:
    path = tmp_path / "x.npz"
    np.savez(path, **arrays)
    assert expected in refused("predict", bundle(tmp_path), path)


def test_an_npz_with_python_objects_is_refused_without_unpickling(tmp_path: Path) -> None:
    path = tmp_path / "objects.npz"
    np.savez(path, x=np.array([{"payload": 1}], dtype=object), y=np.array([0]))
    with pytest.raises(DataError, match="unpickling"):
        load_table(path)


@pytest.mark.parametrize("data", [b"", b"plain text", b"PK\x03\x04 broken zip"])
def test_a_file_that_is_not_an_npz_is_refused(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "data.npz"
    path.write_bytes(data)
    with pytest.raises(DataError, match="NPZ"):
        load_table(path)


def test_a_single_npy_array_named_npz_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "data.npz"
    with open(path, "wb") as handle:
        np.save(handle, np.zeros((2, 2)))
    with pytest.raises(DataError, match="not an NPZ archive"):
        load_table(path)


def test_training_csv_with_nan_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "train.csv"
    path.write_text("a,b,label\n1,2,x\nnan,3,y\n")
    with pytest.raises(DataError, match="row 1"):
        load_table(path)


def test_string_labels_with_a_two_dimensional_y_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "train.npz"
    np.savez(path, x=np.zeros((2, 3)), y=np.zeros((2, 2)))
    with pytest.raises(DataError, match="one label per row"):
        load_table(path)


def test_numeric_features_accepts_integers_as_float32() -> None:
    out = numeric_features(np.array([[1, 2], [3, 4]], dtype=np.uint8), "x")
    assert out.dtype == np.float32 and out.tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_an_unexpected_error_is_one_line_naming_the_command_injected_fault(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from zoo.hub import refs

    def broken(text: str) -> None:
        raise RuntimeError("injected fault\nsecond line")

    monkeypatch.setattr(refs, "parse_ref", broken)
    monkeypatch.delenv("ZOO_DEBUG", raising=False)
    run = zoo("inspect", "acme/iris")
    assert run.exit_code == 2
    assert run.stderr.strip().splitlines() == [
        "zoo: error: 'zoo inspect' failed unexpectedly (RuntimeError: injected fault); this is "
        "a bug in the zoo or in what it called: rerun with ZOO_DEBUG=1 for the traceback and "
        "report it"]
    monkeypatch.setenv("ZOO_DEBUG", "1")
    with pytest.raises(RuntimeError, match="injected fault"):
        zoo("inspect", "acme/iris")


# --- export thresholds ---------------------------------------------------------------

@pytest.mark.parametrize("option, value, expected", [
    ("--tolerance", "nan", "the tolerance must be a finite number >= 0, got nan"),
    ("--tolerance", "inf", "the tolerance must be a finite number >= 0, got inf"),
    ("--tolerance", "-1e-6", "the tolerance must be a finite number >= 0, got -1e-06"),
    ("--tolerance", "tight", "the tolerance must be a finite number >= 0, got 'tight'"),
    ("--min-agreement", "nan", "the minimum agreement must be a finite number from 0 to 1"),
    ("--min-agreement", "1.01", "from 0 to 1, got 1.01"),
    ("--min-agreement", "-inf", "from 0 to 1, got -inf"),
])
def test_export_refuses_a_threshold_that_is_not_a_finite_number_in_range(
        tmp_path: Path, option: str, value: str, expected: str) -> None:
    line = refused("export", tmp_path, "--format", "onnx", option, value)
    assert f"Invalid value for '{option}'" in line and expected in line, line
    assert "e.g. " in line
    assert list(tmp_path.iterdir()) == []


def test_export_thresholds_at_their_bounds_are_accepted() -> None:
    assert (check_tolerance(0), check_tolerance(1e-4)) == (0.0, 1e-4)
    assert (check_min_agreement(0), check_min_agreement(1)) == (0.0, 1.0)


def test_pull_refuses_an_absurd_head_size_before_building_anything(tmp_path: Path) -> None:
    line = refused("pull", "iris", "--head", "dense:99999999999", "--out", tmp_path / "out")
    assert "bad head item 'dense:99999999999': UNITS must be a whole number >= 1 and <= " \
        "65536" in line
    assert not (tmp_path / "out").exists()


# --- zoo hub serve: its temporary state folder goes when the server does -------------

@pytest.fixture
def serve_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where `tempfile.mkdtemp` puts the server's state folder during the test."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    monkeypatch.setenv("TMPDIR", str(folder))  # for a `zoo` started as a subprocess
    return folder


@pytest.fixture
def empty_hub(tmp_path: Path) -> Path:
    (tmp_path / "hub" / "models").mkdir(parents=True)
    return tmp_path / "hub"


def state_folders(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("zoo-serve-*"))


def test_serve_removes_its_temporary_state_folder_when_stopped(serve_tmp: Path,
                                                               empty_hub: Path) -> None:
    server = start(empty_hub, port=free_port())
    try:
        (state,) = state_folders(serve_tmp)
        assert (serve_tmp / state / "olah.toml").is_file()
    finally:
        stop(server)
    assert server.returncode is not None and state_folders(serve_tmp) == []


def test_serve_keeps_a_state_folder_the_user_named(tmp_path: Path, empty_hub: Path) -> None:
    server = start(empty_hub, port=free_port(), state=tmp_path / "mine")
    stop(server)
    assert (tmp_path / "mine" / "olah.toml").is_file()


def test_serve_removes_its_temporary_state_folder_when_start_fails(serve_tmp: Path,
                                                                   empty_hub: Path) -> None:
    with pytest.raises(ZooError, match="olah did not start on 192.0.2.1"):
        start(empty_hub, host="192.0.2.1", port=free_port())  # TEST-NET: not ours to bind
    assert state_folders(serve_tmp) == []


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["term", "ctrl-c"])
def test_zoo_hub_serve_removes_its_temporary_state_folder_on_a_signal(
        serve_tmp: Path, empty_hub: Path, stop_signal: signal.Signals) -> None:
    command = [sys.executable, "-m", "zoo.cli.main", "hub", "serve", "--hub", empty_hub,
               "--port", str(free_port())]
    with subprocess.Popen(command, stderr=subprocess.PIPE, text=True) as zoo_serve:
        try:
            assert "serving" in zoo_serve.stderr.readline()
            assert len(state_folders(serve_tmp)) == 1
            zoo_serve.send_signal(stop_signal)
            _, err = zoo_serve.communicate(timeout=60)
        finally:
            zoo_serve.kill()
    assert (zoo_serve.returncode, err.strip()) == (0, "stopped")
    assert state_folders(serve_tmp) == []


def test_keras_errors_become_one_line_naming_the_layer_and_the_reason():
    from zoo.errors import keras_reason

    raised = ValueError("Exception encountered when calling Conv2D.call().\n\n\x1b[1mThe "
                        "convolution operation resulted in an empty output.\x1b[0m\n\n"
                        "Arguments received by Conv2D.call():\n  • inputs=tf.Tensor(...)")
    assert keras_reason(raised) == ("in Conv2D: The convolution operation resulted in an "
                                    "empty output.")
    assert keras_reason(ValueError("plain\nsecond")) == "plain"
    assert keras_reason(KeyError()) == "KeyError"
