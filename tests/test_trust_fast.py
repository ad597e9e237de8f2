"""The trust layer without TensorFlow: the repository path grammar, confined
writes, and the model-config scan on hand-built `.keras` zips."""

import json
import os
import stat
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zoo.errors import UnsafeModelError, UnsafePathError, ZooError
from zoo.trust.model_scan import ScannedLayer, layer_differences, scan_config, scan_model_file
from zoo.trust.repo_paths import check_repo_path, confined

GOOD_PATHS = ["model.keras", "card.json", "exports/model.onnx", "exports/saved_model/variables/x",
              "assets/vocab é.txt", ".gitattributes", "a..b", "..."]
BAD_PATHS = ["", "/etc/passwd", "../x", "a/../../b", "a/./b", "a//b", "a/", ".git/config",
             "x/.GIT/hooks/pre-commit", "a\\b", "C:/x", "a\x00b", "a\nb", "a\x7fb", " a", "a ",
             "x" * 600, "d/" + "y" * 300]


@pytest.mark.parametrize("path", GOOD_PATHS)
def test_plain_relative_paths_pass_the_grammar(path: str) -> None:
    assert check_repo_path(path) == path


@pytest.mark.parametrize("path", BAD_PATHS)
def test_escaping_or_ambiguous_paths_are_refused(path: str) -> None:
    with pytest.raises(UnsafePathError):
        check_repo_path(path)


def test_a_path_that_is_not_text_is_refused() -> None:
    with pytest.raises(UnsafePathError):
        check_repo_path(b"model.keras")


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=80))
def test_path_grammar_fuzz_accepts_only_paths_that_stay_inside(path: str) -> None:
    try:
        check_repo_path(path)
    except UnsafePathError:
        return
    parts = path.split("/")
    assert not path.startswith("/") and ".." not in parts and "" not in parts
    assert "\\" not in path and all(ord(c) >= 32 for c in path)
    assert os.path.normpath(path) == path  # nothing a filesystem would reinterpret


def test_confined_write_refuses_a_symlink_leading_out(tmp_path: Path) -> None:
    root = tmp_path / "staging"
    root.mkdir()
    (root / "exports").symlink_to(tmp_path)
    with pytest.raises(UnsafePathError):
        confined(root, "exports/model.onnx")
    assert confined(root, "model.keras") == root.resolve() / "model.keras"


def keras_zip(path: Path, config: dict, members: dict[str, bytes] | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.15.1"}))
        archive.writestr("model.weights.h5", b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
        for name, data in (members or {}).items():
            archive.writestr(name, data)
    return path


def dense(name: str, **extra) -> dict:
    return {"module": "keras.layers", "class_name": "Dense", "registered_name": None,
            "config": {"name": name, "units": 3, "activation": "relu", **extra}}


def functional(*layers: dict) -> dict:
    inp = {"module": "keras.layers", "class_name": "InputLayer", "registered_name": None,
           "config": {"name": "features", "batch_shape": [None, 4]}}
    return {"module": "keras.src.models.functional", "class_name": "Functional",
            "registered_name": "Functional",
            "config": {"name": "m", "layers": [inp, *layers]}}


def test_a_plain_keras_model_scans_clean_with_its_layers(tmp_path: Path) -> None:
    result = scan_model_file(keras_zip(tmp_path / "m.keras", functional(dense("hidden1"))))
    assert result.layers == [ScannedLayer("features", "InputLayer"), ScannedLayer("hidden1", "Dense")]
    assert layer_differences([("features", "InputLayer"), ("hidden1", "Dense")], result) == []
    diffs = layer_differences([("features", "InputLayer"), ("hidden1", "Conv2D")], result)
    assert diffs and "hidden1" in diffs[0]


HOSTILE = {
    "lambda layer": {"module": "keras.layers", "class_name": "Lambda", "config": {"name": "l"}},
    "serialized lambda": dense("d", activation={"class_name": "__lambda__",
                                                 "config": {"code": "4wEAAAA="}}),
    "os.system as a function": dense("d", activation={"module": "os", "class_name": "function",
                                                      "config": "system"}),
    "keras.utils.get_file": dense("d", activation={"module": "keras.utils",
                                                   "class_name": "function",
                                                   "config": "get_file"}),
    "unsafe switch": dense("d", activation={"module": "keras.config", "class_name": "function",
                                            "config": "enable_unsafe_deserialization"}),
    "unsafe switch as a class": {"module": "keras.config",
                                 "class_name": "enable_unsafe_deserialization", "config": {}},
    "foreign module": {"module": "evil_pkg.layers", "class_name": "Payload",
                       "config": {"name": "p"}},
    "keras.saving class": {"module": "keras.src.saving.saving_lib", "class_name": "KerasSaveable",
                           "config": {"name": "p"}},
    "custom registered name on a built-in": {"module": "keras.layers", "class_name": "Dense",
                                             "registered_name": "evil>Dense",
                                             "config": {"name": "p"}},
    "dunder class": {"module": "keras.layers", "class_name": "__init__", "config": {}},
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_configs_are_refused_before_keras_sees_them(tmp_path: Path, case: str) -> None:
    with pytest.raises(UnsafeModelError):
        scan_model_file(keras_zip(tmp_path / "m.keras", functional(HOSTILE[case])))


def test_a_trusted_package_is_allowed_by_name_only(tmp_path: Path) -> None:
    layer = {"module": "keras_hub.src.models.resnet.resnet_backbone",
             "class_name": "ResNetBackbone", "registered_name": "keras_hub>ResNetBackbone",
             "config": {"name": "backbone"}}
    path = keras_zip(tmp_path / "m.keras", functional(layer))
    with pytest.raises(UnsafeModelError):
        scan_model_file(path)
    assert scan_model_file(path, trusted={"keras_hub"}).packages == {"keras_hub"}


@pytest.mark.parametrize("member", ["../evil.py", "/abs", "assets/../../x", "hooks.py"])
def test_zip_members_outside_the_keras_layout_are_refused(tmp_path: Path, member: str) -> None:
    path = tmp_path / "m.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps(functional()))
        archive.writestr(member, b"x")
    with pytest.raises(UnsafeModelError):
        scan_model_file(path)


def test_a_symlink_member_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps(functional()))
        info = zipfile.ZipInfo("assets/link")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, "/etc/passwd")
    with pytest.raises(UnsafeModelError):
        scan_model_file(path)


def test_a_zip_bomb_member_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.keras"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("config.json", json.dumps(functional()))
        archive.writestr("model.weights.h5", b"\0" * (8 << 20))
    with pytest.raises(UnsafeModelError, match="compresses"):
        scan_model_file(path)


@pytest.mark.parametrize("data", [b"", b"not a model", b"PK\x03\x04broken", b"\x89HDF\r\n\x1a\n"])
def test_unreadable_or_hdf5_files_from_a_hub_are_refused(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "model.keras"
    path.write_bytes(data)
    with pytest.raises(UnsafeModelError):
        scan_model_file(path)


def test_config_that_is_not_a_model_is_refused(tmp_path: Path) -> None:
    for config in ([], {"config": {}}, {"class_name": 3}):
        with pytest.raises(UnsafeModelError):
            scan_config(config, "x")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["class_name", "module", "config", "registered_name", "name", "layers",
                         "x"]), children, max_size=5),
    max_leaves=30)


def maybe(strategy: st.SearchStrategy) -> st.SearchStrategy:
    """Mostly the well-typed value, one time in six any JSON value in its place."""
    return st.integers(1, 6).flatmap(lambda roll: json_values if roll == 1 else strategy)


# Saved models almost as Keras writes them, any field missing or of the wrong type:
# layers that are not objects, a class_name that is a number, a name nowhere. The
# values are benign, so the structure is what the scan meets first.
layer_names = st.sampled_from(["features", "hidden1", "dense"]) | st.text(max_size=8)
layer_like = st.fixed_dictionaries({}, optional={
    "module": maybe(st.just("keras.layers")),
    "class_name": maybe(st.sampled_from(["Dense", "InputLayer"])),
    "registered_name": maybe(st.none()),
    "name": maybe(layer_names),
    "config": maybe(st.fixed_dictionaries({}, optional={
        "name": maybe(layer_names), "units": maybe(st.integers(0, 8))})),
})
model_like = st.fixed_dictionaries(
    {"class_name": maybe(st.sampled_from(["Functional", "Sequential", "MyModel"])),
     "config": maybe(st.fixed_dictionaries(
         {"layers": maybe(st.lists(maybe(layer_like), min_size=1, max_size=4))},
         optional={"name": maybe(layer_names)}))},
    optional={"module": maybe(st.just("keras")),
              "registered_name": maybe(st.sampled_from(["Functional", "Sequential"]))})


def scans_or_refuses(config: object) -> None:
    """The scan's whole contract: a result whose layers are all named, or UnsafeModelError."""
    try:
        result = scan_config(config, "fuzz")
    except UnsafeModelError:
        return
    assert isinstance(result.class_name, str)
    assert all(isinstance(layer.name, str) and isinstance(layer.class_name, str)
               for layer in result.layers)


@settings(max_examples=400, deadline=None)
@given(json_values)
def test_config_scan_fuzz_of_any_json_refuses_with_its_own_error(config: object) -> None:
    scans_or_refuses(config)


@settings(max_examples=400, deadline=None)
@given(model_like)
def test_config_scan_fuzz_of_model_shaped_configs_refuses_with_its_own_error(
        config: object) -> None:
    scans_or_refuses(config)


@pytest.mark.parametrize("config", [
    {"class_name": "Functional", "config": {"layers": [{"config": {"name": "x"}}]}},
    {"class_name": "Functional", "config": {"layers": [{"class_name": 3, "name": "x"}]}},
    {"class_name": "Functional", "config": {"layers": ["Dense"]}},
    {"class_name": "Functional", "config": {"layers": [{"class_name": "Dense"}]}},
    {"class_name": "Functional", "config": {"layers": {"0": {"class_name": "Dense"}}}},
    {"class_name": "Sequential", "config": None},
])
def test_a_model_config_with_malformed_layers_is_refused(config: dict) -> None:
    with pytest.raises(UnsafeModelError, match="layer"):
        scan_config(config, "x")


def test_a_config_nested_deeper_than_the_stack_is_refused_not_crashed() -> None:
    config = node = {"class_name": "Functional", "config": {"layers": []}}
    for _ in range(5000):
        node["x"] = node = {}
    with pytest.raises(UnsafeModelError, match="nests deeper"):
        scan_config(config, "x")
