"""The config scan as an allow-list of names, and the zip gate before any loader.

Configs are forged as Keras 3.15 writes them (module, class_name, registered_name),
and `.keras` files as real zips with zipfile: no Keras in the fast tests. The slow
ones build a real Keras model, turn its saved config hostile, and show that `zoo
pack` refuses it in one line before Keras loads anything or any connection is tried.
"""

import json
import os
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import pytest
from conftest import refused
from hypothesis import given, settings
from hypothesis import strategies as st

from zoo.errors import UnsafeModelError
from zoo.trust import keras_names, model_scan
from zoo.trust.keras_names import DENIED_CLASSES, allowed_names
from zoo.trust.model_scan import ArchiveLimits, check_archive, scan_config, scan_model_file

WEIGHTS = b"\x89HDF\r\n\x1a\n" + b"\0" * 64


def layer(class_name: str, module: str | None = "keras.layers", registered=None,
          **config) -> dict:
    return {"module": module, "class_name": class_name, "registered_name": registered,
            "config": {"name": class_name.lower(), **config}}


def fn(module: str, name: str, registered: str | None = None) -> dict:
    return {"module": module, "class_name": "function", "config": name,
            "registered_name": registered if registered is not None else name}


def functional(*layers: dict) -> dict:
    inp = layer("InputLayer", batch_shape=[None, 4])
    return {"module": "keras.src.models.functional", "class_name": "Functional",
            "registered_name": "Functional", "config": {"name": "m", "layers": [inp, *layers]}}


def keras_zip(path: Path, config: dict, members: dict[str, bytes] | None = None,
              compression: int = zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.15.1"}))
        archive.writestr("model.weights.h5", WEIGHTS)
        for name, data in (members or {}).items():
            archive.writestr(name, data)
    return path


def nested(obj: dict, depth: int = 40) -> dict:
    """`obj` deep inside a Dense layer's initializer config, under lists and dicts."""
    for i in range(depth):
        obj = {"seed": [obj]} if i % 2 else {"x": obj}
    init = {"module": "keras.initializers", "class_name": "GlorotUniform",
            "registered_name": None, "config": obj}
    return layer("Dense", units=3, kernel_initializer=init)


# --- what Keras 3.15 writes for real models passes ---------------------------------

KERAS_WRITES = {
    "a Dense layer with a string activation": layer("Dense", units=3, activation="relu"),
    "an op of a functional graph": layer("Add", module="keras.src.ops.numpy",
                                         registered="Add"),
    "ConvNeXt's private LayerScale": layer("LayerScale",
                                           module="keras.src.applications.convnext",
                                           registered="LayerScale", init_values=1e-6,
                                           projection_dim=8),
    "a dtype policy nested in a layer": layer("Dense", units=3, dtype={
        "module": "keras", "class_name": "DTypePolicy", "registered_name": None,
        "config": {"name": "float32"}}),
    "a StringLookup with an inline vocabulary": layer("StringLookup", vocabulary=["a", "b"]),
    "an activation function by its public name": layer(
        "Dense", units=3, activation=fn("keras.activations", "gelu")),
    "a compile config's loss as Keras writes it": {
        **layer("Dense", units=3),
        "compile_config": {"loss": fn("builtins", "categorical_crossentropy", "function"),
                           "metrics": [fn("builtins", "top_k_categorical_accuracy", "function")],
                           "optimizer": {"module": "keras.optimizers", "class_name": "Adam",
                                         "registered_name": None,
                                         "config": {"learning_rate": 0.001}}}},
    "tensors and slices as data": layer("Dense", units=3, bias={
        "class_name": "__numpy__", "config": {"value": [1.0], "dtype": "float32"}}),
}


@pytest.mark.parametrize("case", sorted(KERAS_WRITES))
def test_what_keras_writes_for_inert_parts_passes_the_scan(tmp_path: Path, case: str) -> None:
    result = scan_model_file(keras_zip(tmp_path / "m.keras", functional(KERAS_WRITES[case])))
    assert result.packages == frozenset()


def test_a_legacy_config_passes_by_class_name_alone() -> None:
    """fer's Keras 2 HDF5 config names classes without a module."""
    config = {"class_name": "Model", "config": {"layers": [
        {"class_name": "Conv2D", "name": "c", "config": {
            "name": "c", "kernel_regularizer": {"class_name": "L1L2", "config": {"l2": 0.01}},
            "kernel_initializer": {"class_name": "VarianceScaling", "config": {}}}}]}}
    assert scan_config(config, "fer", legacy=True).layers[0].class_name == "Conv2D"
    config["config"]["layers"][0]["class_name"] = "Evil"
    with pytest.raises(UnsafeModelError, match="class Evil is not an inert Keras class"):
        scan_config(config, "fer", legacy=True)


# --- names outside the list are refused, each by its name --------------------------

HOSTILE = {
    "decode_predictions as an activation (downloads its class index)": (
        layer("Dense", units=3,
              activation=fn("keras.applications.imagenet_utils", "decode_predictions")),
        "keras.applications.imagenet_utils.decode_predictions"),
    "a StringLookup whose vocabulary is a file": (
        layer("StringLookup", vocabulary="/etc/passwd"), "'vocabulary' names a file"),
    "an IntegerLookup whose vocabulary is a file": (
        layer("IntegerLookup", vocabulary="~/.ssh/id_rsa"), "'vocabulary' names a file"),
    "a TextVectorization whose vocabulary is a file": (
        layer("TextVectorization", vocabulary="vocab.txt"), "'vocabulary' names a file"),
    "TFSMLayer (loads a SavedModel)": (
        layer("TFSMLayer", filepath="/tmp/saved", call_endpoint="serve"),
        "keras.layers.TFSMLayer is not"),
    "a SavedModel path under any class": (layer("Dense", filepath="/tmp/saved"), "'filepath'"),
    "TorchModuleWrapper": (layer("TorchModuleWrapper"), "keras.layers.TorchModuleWrapper"),
    "JaxLayer": (layer("JaxLayer"), "keras.layers.JaxLayer"),
    "builtins.exec": (layer("Dense", units=3, activation=fn("builtins", "exec")),
                      "function builtins.exec"),
    "builtins.eval": (layer("Dense", units=3, activation=fn("builtins", "eval")),
                      "function builtins.eval"),
    "builtins.open": (layer("Dense", units=3, activation=fn("builtins", "open")),
                      "function builtins.open"),
    "a Keras function by a name that deserializes": (
        layer("Dense", units=3, activation=fn("builtins", "deserialize")),
        "function builtins.deserialize"),
    "keras.utils.get_file as a function": (
        layer("Dense", units=3, activation=fn("keras.utils", "get_file")),
        "keras.utils.get_file"),
    "a keras.ops function (not an activation)": (
        layer("Dense", units=3, activation=fn("keras.ops", "relu")), "keras.ops.relu"),
    "a real class under a module path Keras never writes": (
        layer("Dense", module="keras.src.layers.core.dense"),
        "keras.src.layers.core.dense.Dense is not"),
    "a made-up class in a modelling namespace": (layer("Payload"), "keras.layers.Payload"),
    "a class of keras.applications": (
        layer("MobileNetV2", module="keras.applications"), "keras.applications.MobileNetV2"),
    "a class of keras.saving": (
        layer("KerasSaveable", module="keras.src.saving.saving_lib"), "KerasSaveable"),
    "a class of keras.utils": (layer("FeatureSpace", module="keras.utils"),
                               "keras.utils.FeatureSpace"),
    "a module outside Keras": (layer("system", module="os"), "class system from module 'os'"),
    "a registered name on a built-in class": (
        layer("Dense", registered="keras_hub>Evil", units=3), "registered name 'keras_hub>Evil'"),
    "a registered name on a built-in function": (
        layer("Dense", units=3, activation=fn("keras.activations", "relu", "Custom>relu")),
        "registered name 'Custom>relu'"),
    "a registered name without a module": (
        layer("Dense", module=None, registered="Custom>Payload"), "registered name but no module"),
    "a function deep inside a layer's config": (
        nested(fn("keras.utils", "get_file")), "keras.utils.get_file"),
    "a class deep inside a layer's config": (
        nested(layer("TFSMLayer")), "keras.layers.TFSMLayer"),
    "a file key deep inside a layer's config": (nested({"filepath": "x.pb"}), "'filepath'"),
    "a Lambda": (layer("Lambda", function="x"), "Lambda layer holds Python code"),
    "a type spec (imports its module)": (
        layer("Dense", units=3, bias={"class_name": "__typespec__", "module": "os",
                                      "spec_name": "system", "config": []}), "__typespec__"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_name_outside_the_allow_list_is_refused_by_name(tmp_path: Path, case: str) -> None:
    obj, named = HOSTILE[case]
    with pytest.raises(UnsafeModelError, match="refusing to load") as refusal:
        scan_model_file(keras_zip(tmp_path / "m.keras", functional(obj)))
    assert named in str(refusal.value)


def test_trusted_package_classes_pass_and_keras_names_inside_them_are_still_checked() -> None:
    backbone = layer("ResNetBackbone", module="keras_hub.src.models.resnet.resnet_backbone",
                     registered="keras_hub>ResNetBackbone")
    assert scan_config(functional(backbone), "x", trusted={"keras_hub"}).packages == {"keras_hub"}
    backbone["config"]["dtype"] = layer("TFSMLayer")
    with pytest.raises(UnsafeModelError, match="TFSMLayer"):
        scan_config(functional(backbone), "x", trusted={"keras_hub"})


# --- the allow-list itself -----------------------------------------------------------

def test_the_allow_list_names_nothing_that_fetches_saves_or_runs_code() -> None:
    names = allowed_names()
    modules = {module for module, _ in names.classes}
    assert all(m == "keras" or m.startswith(("keras.", "keras.src.")) for m in modules)
    for banned in ("keras.applications", "keras.utils", "keras.saving", "keras.config",
                   "keras.src.saving", "keras.src.utils", "keras.callbacks", "keras.backend"):
        assert not any(m == banned or m.startswith(banned + ".") for m in modules), banned
    assert not DENIED_CLASSES & names.class_names
    assert set(names.functions) == {"builtins", "keras.activations", "keras.losses",
                                    "keras.metrics"}
    every_function = set().union(*names.functions.values())
    assert not {"exec", "eval", "open", "get", "deserialize", "get_file",
                "decode_predictions"} & every_function
    # what the 40 keras.applications and fer's HDF5 need
    assert {("keras.src.models.functional", "Functional"), ("keras", "Sequential"),
            ("keras.src.applications.convnext", "LayerScale"),
            ("keras.src.applications.inception_resnet_v2", "CustomScaleLayer"),
            ("keras.layers", "Normalization"), ("keras", "DTypePolicy")} <= names.classes
    assert {"Model", "L1L2", "VarianceScaling", "SeparableConv2D"} <= names.class_names


def test_the_scan_imports_neither_tensorflow_nor_keras(tmp_path: Path) -> None:
    path = keras_zip(tmp_path / "m.keras", functional(*KERAS_WRITES.values()))
    code = ("import sys\nfrom zoo.trust.model_scan import scan_model_file\n"
            f"scan_model_file({str(path)!r})\n"
            "print(sorted({'tensorflow', 'keras'} & set(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.slow
def test_the_checked_in_allow_list_is_the_installed_keras_ones() -> None:
    """Stale after a Keras upgrade: `python -m zoo.trust.keras_names --write`."""
    expected = keras_names.render(keras_names.generate())
    assert keras_names.NAMES_FILE.read_text() == expected, \
        "zoo/trust/keras_names.json is stale: run python -m zoo.trust.keras_names --write"


# --- the zip gate ------------------------------------------------------------------

MIB = 1 << 20


def bomb(path: Path, members: int, member_bytes: int, level: int = 9) -> Path:
    """A `.keras` whose assets/ members are zeros deflated: each small, together large."""
    zeros = b"\0" * member_bytes
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED,
                         compresslevel=level) as archive:
        archive.writestr("config.json", json.dumps(functional()))
        archive.writestr("model.weights.h5", WEIGHTS)
        for i in range(members):
            archive.writestr(f"assets/part{i:05d}", zeros)
    return path


def test_a_bomb_of_members_each_under_1_mib_is_refused_at_the_real_limits(
        tmp_path: Path) -> None:
    """The reported shape: assets/ members each under 1 MiB (the old per-member check's
    floor), ~1 GiB together from a ~5 MB file."""
    path = bomb(tmp_path / "m.keras", 1000, MIB - 1024, level=1)
    assert path.stat().st_size < 16 * MIB
    with pytest.raises(UnsafeModelError, match="compresses suspiciously well"):
        check_archive(path)
    with pytest.raises(UnsafeModelError, match="compresses suspiciously well"):
        scan_model_file(path)


def test_a_bomb_of_members_under_the_ratio_floor_is_refused_by_the_whole_archive_ratio(
        tmp_path: Path) -> None:
    path = bomb(tmp_path / "m.keras", 1000, 60 * 1024)
    with pytest.raises(UnsafeModelError, match="the archive compresses suspiciously well"):
        check_archive(path)


def test_too_many_members_are_refused_before_the_directory_is_parsed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = keras_zip(tmp_path / "m.keras", functional(),
                     {f"assets/{i}": b"" for i in range(model_scan.ARCHIVE_LIMITS.members)})
    parsed = []
    monkeypatch.setattr(model_scan, "_check_members", lambda *a: parsed.append(a))
    with pytest.raises(UnsafeModelError, match=r"\d+ members \(at most 1024\)"):
        check_archive(path)
    assert parsed == []


def test_members_expanding_past_the_total_are_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model_scan, "ARCHIVE_LIMITS", ArchiveLimits(total_bytes=4 * MIB))
    path = keras_zip(tmp_path / "m.keras", functional(),
                     {f"assets/{i}": os.urandom(MIB) for i in range(5)})
    with pytest.raises(UnsafeModelError, match="expand to more than 4194304 bytes"):
        check_archive(path)
    monkeypatch.setattr(model_scan, "ARCHIVE_LIMITS", ArchiveLimits(total_bytes=8 * MIB))
    check_archive(path)  # stored random bytes under the limit: a real model's shape


def test_a_real_sized_model_that_compresses_a_little_passes(tmp_path: Path) -> None:
    config = functional(*[layer("Dense", units=3, activation="relu") for _ in range(300)])
    weights = os.urandom(2 * MIB) + b"\0" * MIB  # random kernels, zero biases
    vocabulary = "\n".join(os.urandom(4).hex() for _ in range(20000)).encode()
    path = keras_zip(tmp_path / "m.keras", config, {"assets/vocab.txt": vocabulary},
                     compression=zipfile.ZIP_DEFLATED)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("model.weights.npz", weights)
    check_archive(path)
    assert scan_model_file(path).layers


def test_the_zip_gate_holds_with_unsafe_before_keras_is_imported(tmp_path: Path) -> None:
    path = bomb(tmp_path / "m.keras", 100, MIB - 1024)
    code = ("import sys\nfrom zoo.errors import UnsafeModelError\n"
            "from zoo.package import load_keras_file\n"
            f"try:\n    load_keras_file({str(path)!r}, unsafe=True)\n"
            "except UnsafeModelError as exc:\n    print('refused:', exc)\n"
            "print(sorted({'tensorflow', 'keras'} & set(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    refusal, heavy = done.stdout.strip().splitlines()
    assert refusal.startswith("refused:") and "compresses suspiciously well" in refusal
    assert heavy == "[]"


def test_zoo_pack_of_a_bomb_with_unsafe_exits_2_in_one_line(tmp_path: Path) -> None:
    path = bomb(tmp_path / "m.keras", 100, MIB - 1024)
    line = refused("pack", path, "--name", "bomb", "--license", "MIT", "--unsafe",
                   "--out", tmp_path / "pkg")
    assert "compresses suspiciously well" in line
    assert not (tmp_path / "pkg").exists()


# --- fuzzing: hostile names and shapes anywhere in a config -------------------------

names = allowed_names()
keras_pairs = st.sampled_from(sorted(names.classes))
any_text = st.text(max_size=20)
modules = st.sampled_from(["keras", "keras.layers", "keras.utils", "keras.applications",
                           "keras.src.ops.numpy", "builtins", "os", "keras_hub.src.x",
                           "keras.activations", "keras.losses"]) | any_text
function_names = st.sampled_from(sorted(names.functions["builtins"]) +
                                 ["exec", "get_file", "decode_predictions", "get"]) | any_text
objects = st.one_of(
    keras_pairs.map(lambda pair: {"module": pair[0], "class_name": pair[1],
                                  "registered_name": None, "config": {}}),
    st.builds(lambda m, c, r: {"module": m, "class_name": c, "registered_name": r, "config": {}},
              modules, st.sampled_from(sorted(names.class_names)) | any_text,
              st.none() | any_text),
    st.builds(lambda m, n, r: {"module": m, "class_name": "function", "config": n,
                               "registered_name": r},
              modules, function_names, st.none() | function_names | st.just("function")),
    st.builds(lambda k, v: {k: v}, st.sampled_from(sorted(model_scan.FILE_KEYS)),
              any_text | st.lists(any_text, max_size=2)),
)
configs = st.recursive(objects, lambda children: st.lists(children, max_size=3) | st.builds(
    lambda obj, key, child: {**obj, "config": {key: child}}, objects,
    st.sampled_from(["activation", "kernel_initializer", "dtype", "x"]), children),
    max_leaves=12)


def verdict(config: dict, trusted: frozenset[str] = frozenset()) -> bool:
    """What the allow-list must say, computed the plain way: every object's name is on
    it, and no file key holds text."""
    stack = [config]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        stack.extend(node.values())
        if any(k in model_scan.FILE_KEYS and isinstance(v, str) for k, v in node.items()):
            return False
        if "class_name" not in node:
            continue
        module, cls, reg = node.get("module"), node["class_name"], node.get("registered_name")
        if cls == "function":
            name = node.get("config")
            if not isinstance(name, str) or name not in names.functions.get(module, ()) or \
                    reg not in (None, name, "function"):
                return False
        elif isinstance(module, str) and module.split(".")[0] in trusted - {"keras"}:
            continue
        elif (module, cls) not in names.classes or reg not in (None, cls):
            return False
    return True


@settings(max_examples=400, deadline=None)
@given(configs)
def test_config_scan_fuzz_accepts_exactly_the_listed_names(config: dict) -> None:
    model = functional(layer("Dense", units=3, extra=config))
    try:
        scan_config(model, "fuzz")
    except UnsafeModelError:
        assert not verdict(model)
        return
    assert verdict(model)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["config.json", "metadata.json", "model.weights.h5",
                                           "assets/a", "assets/b/c", "../x", "x.py",
                                           "assets/../x", "/abs"]),
                          st.integers(0, 3 * 64 * 1024), st.booleans()), max_size=6))
def test_zip_gate_fuzz_refuses_with_its_own_error_or_passes_a_sane_archive(
        tmp_path_factory: pytest.TempPathFactory, members: list) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "m.keras"
    with zipfile.ZipFile(path, "w") as archive, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # duplicate names are part of the fuzz
        for name, size, zeros in members:
            data = b"\0" * size if zeros else os.urandom(size)
            archive.writestr(zipfile.ZipInfo(name), data,
                             compress_type=zipfile.ZIP_DEFLATED)
    try:
        check_archive(path)
    except UnsafeModelError:
        return
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
    assert all(i.filename in model_scan.KERAS_MEMBERS or i.filename.startswith("assets/")
               for i in infos)
    assert all(i.file_size <= 64 * 1024 or i.file_size <= 100 * i.compress_size for i in infos)
    assert len({i.filename for i in infos}) == len(infos)


def test_a_member_stored_twice_is_refused(tmp_path: Path) -> None:
    """zipfile reads the last copy; another reader may take the first one."""
    path = keras_zip(tmp_path / "m.keras", functional())
    with zipfile.ZipFile(path, "a") as archive, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        archive.writestr("config.json", json.dumps(functional(layer("TFSMLayer"))))
    with pytest.raises(UnsafeModelError, match="'config.json' appears twice"):
        check_archive(path)


# --- slow: a real model's saved config, turned hostile, never reaches Keras ----------

NETWORK_GUARD = """
import socket, sys
def _no_network(*args, **kwargs):
    open({marker!r}, "a").write(repr(args) + "\\n")
    raise OSError("network attempted")
socket.socket.connect = _no_network
socket.create_connection = _no_network
socket.getaddrinfo = _no_network
"""


@pytest.fixture(scope="module")
def real_keras_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import keras

    inputs = keras.Input((8, 8, 3), name="image")
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="head")(x)
    path = tmp_path_factory.mktemp("real") / "model.keras"
    keras.Model(inputs, outputs).save(path)
    return path


def turned(real: Path, out: Path, change) -> Path:
    """The real `.keras` file with its config.json changed by `change`."""
    with zipfile.ZipFile(real) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    config = json.loads(members["config.json"])
    change(config)
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out


def head(config: dict) -> dict:
    return next(l for l in config["config"]["layers"] if l["config"]["name"] == "head")


CHANGES = {
    "decode_predictions": lambda c: head(c)["config"].update(
        activation=fn("keras.applications.imagenet_utils", "decode_predictions")),
    "file vocabulary": lambda c: c["config"]["layers"].append(
        layer("StringLookup", vocabulary="/etc/passwd")),
    "TFSMLayer": lambda c: head(c).update(class_name="TFSMLayer"),
    "builtins.exec": lambda c: head(c)["config"].update(activation=fn("builtins", "exec")),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CHANGES))
def test_zoo_pack_of_a_real_model_turned_hostile_exits_2_before_any_load_or_network(
        real_keras_file: Path, tmp_path: Path, case: str) -> None:
    path = turned(real_keras_file, tmp_path / "model.keras", CHANGES[case])
    marker = tmp_path / "network.log"
    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(NETWORK_GUARD.format(marker=str(marker)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(guard), *filter(None, [os.environ.get("PYTHONPATH")])])}
    code = ("import sys\nfrom zoo.cli.main import cli\n"
            "try:\n    cli.main(sys.argv[1:], prog_name='zoo')\n"
            "finally:\n"
            "    print(sorted({'tensorflow', 'keras'} & set(sys.modules)), file=sys.stdout)")
    done = subprocess.run([sys.executable, "-c", code, "pack", str(path), "--name", "x",
                           "--license", "MIT", "--out", str(tmp_path / "pkg")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("zoo: error: ") and "refusing to load" \
        in lines[0], done.stderr
    assert done.stdout.strip() == "[]"  # Keras was never imported, so never loaded it
    assert not marker.exists()
    assert not (tmp_path / "pkg").exists()


@pytest.mark.slow
def test_the_real_model_itself_packs(real_keras_file: Path, tmp_path: Path) -> None:
    """The control: the same file, unchanged, passes the gate and the scan."""
    check_archive(real_keras_file)
    assert [l.name for l in scan_model_file(real_keras_file).layers] == \
        ["image", "conv", "gap", "head"]
