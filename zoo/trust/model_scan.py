"""A scan of a model file's config before Keras parses it.

Keras safe mode is the second line of defence, and its history (CVE-2024-3660,
CVE-2025-1550, CVE-2025-8747, CVE-2025-9905, CVE-2025-9906) shows it can be
bypassed. The first line is here: read `config.json` out of the `.keras` zip
(or `model_config` out of a legacy HDF5) without Keras, and refuse anything
that is not plain Keras modelling: Lambda layers, serialized functions other
than built-in activations, losses and metrics, modules outside Keras' modelling
packages (plus packages the user trusts, e.g. keras_hub), and the
`enable_unsafe_deserialization` switch. The zip itself must be sane: plain
member names, no symlinks, bounded sizes.
"""

import json
import re
import stat
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zoo.errors import UnsafeModelError, UnsafePathError
from zoo.trust.repo_paths import check_repo_path

ZIP_MAGIC = b"PK\x03\x04"
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
CONFIG_MEMBER = "config.json"
KERAS_MEMBERS = frozenset({"config.json", "metadata.json", "model.weights.h5",
                           "model.weights.npz"})
MAX_CONFIG_BYTES = 64 * 1024 * 1024
MAX_MEMBER_BYTES = 16 * 1024 ** 3
MAX_COMPRESSION_RATIO = 200  # zip bombs; real weights barely compress

# Where Keras keeps what a model is made of; not keras.utils, keras.config,
# keras.saving or the backends, whose functions and classes do other things.
MODELLING_MODULES = (
    "layers", "models", "ops", "initializers", "regularizers", "constraints", "optimizers",
    "losses", "metrics", "activations", "dtype_policies", "applications", "quantizers",
    "random", "engine",
)
KERAS_MODULE = re.compile(
    r"^keras(\.src)?(\.(" + "|".join(MODELLING_MODULES) + r")(\.[A-Za-z_][A-Za-z0-9_]*)*)?$")
FUNCTION_MODULE = re.compile(r"^(builtins|keras(\.src)?\.(activations|losses|metrics)"
                             r"(\.[A-Za-z_][A-Za-z0-9_]*)*)$")
IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,127}$")
# Serialized data, not code: Keras turns these into values, never imports them.
DATA_MARKERS = frozenset({"__tensor__", "__numpy__", "__bytes__", "__ellipsis__", "__slice__",
                          "__keras_tensor__"})
UNSAFE_SWITCH = "enable_unsafe_deserialization"
MAX_DEPTH = 512  # nesting levels; a real model's config needs a few dozen
# Keras' own model classes, whose config always holds a list of layers.
LAYERED_MODELS = frozenset({"Functional", "Sequential"})


@dataclass(frozen=True)
class ScannedLayer:
    """A top-level layer as the saved config names it."""
    name: str
    class_name: str


@dataclass(frozen=True)
class ScanResult:
    format: str  # "keras" or "hdf5"
    class_name: str  # the model's class: Functional, Sequential, ...
    layers: list[ScannedLayer]
    packages: frozenset[str]  # non-Keras packages the config needed (trusted ones only)


def _refuse(where: str, why: str) -> UnsafeModelError:
    return UnsafeModelError(f"{where}: refusing to load: {why}; the zoo only loads plain "
                            "Keras layers (see `zoo inspect` docs on trusted packages)")


def _objects(node: Any, where: str) -> Iterator[tuple[str, dict]]:
    """Every serialized object (a dict with a class_name) in a config, with its path.

    A loop, not recursion: a hostile config nested deeper than Python's stack
    must be refused, not crash the scan with RecursionError."""
    stack = [("", node, 0)]
    while stack:
        path, node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _refuse(where, f"the config nests deeper than {MAX_DEPTH} levels")
        if isinstance(node, dict):
            if "class_name" in node:
                yield path, node
            children = []
            for key, value in node.items():
                if isinstance(key, str) and UNSAFE_SWITCH in key:
                    yield f"{path}/{key}", {"class_name": UNSAFE_SWITCH}
                children.append((f"{path}/{key}", value, depth + 1))
            stack.extend(reversed(children))  # depth first, in document order
        elif isinstance(node, list):
            stack.extend(reversed([(f"{path}/{i}", value, depth + 1)
                                   for i, value in enumerate(node)]))
        elif isinstance(node, str) and UNSAFE_SWITCH in node:
            yield path, {"class_name": UNSAFE_SWITCH}


def _check_object(where: str, path: str, obj: dict, trusted: frozenset[str],
                  legacy: bool) -> str | None:
    """Refuse one serialized object, or return the non-Keras package it needs."""
    class_name = obj.get("class_name")
    at = f"{where} at {path or '/'}"
    if not isinstance(class_name, str):
        raise _refuse(at, "an object with a non-text class_name")
    if class_name in DATA_MARKERS:
        return None
    if class_name == UNSAFE_SWITCH:
        raise _refuse(at, f"the config mentions '{UNSAFE_SWITCH}'")
    if class_name in ("Lambda", "__lambda__", "TFOpLambda", "SlicingOpLambda"):
        raise _refuse(at, f"a {class_name} layer holds Python code")
    if class_name.startswith("__"):
        raise _refuse(at, f"serialized object '{class_name}' is not plain data")
    module = obj.get("module")
    registered = obj.get("registered_name")
    if class_name == "function":
        name = obj.get("config")
        if not (isinstance(module, str) and FUNCTION_MODULE.match(module)
                and isinstance(name, str) and IDENTIFIER.match(name)):
            raise _refuse(at, f"a serialized function {module}.{name} (only built-in "
                              "activations, losses and metrics are allowed)")
        return None
    if not IDENTIFIER.match(class_name):
        raise _refuse(at, f"class name {class_name[:60]!r} is not a plain identifier")
    if module is None:
        if legacy or registered is None:
            return None  # resolved by name against Keras' own registry only
        raise _refuse(at, f"class {class_name} has a registered name but no module")
    if not isinstance(module, str):
        raise _refuse(at, f"class {class_name} has a non-text module")
    package = module.split(".", 1)[0]
    if package == "keras":
        if not KERAS_MODULE.match(module):
            raise _refuse(at, f"{module}.{class_name} is not a Keras modelling class")
        if isinstance(registered, str) and ">" in registered:
            raise _refuse(at, f"a built-in class with the custom registered name {registered!r}")
        return None
    if package in trusted and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", module):
        if isinstance(registered, str) and ">" in registered and \
                registered.split(">", 1)[0] not in trusted:
            raise _refuse(at, f"registered name {registered!r} is from an untrusted package")
        return package
    raise _refuse(at, f"class {class_name} from module '{module}', which is not Keras "
                      + (f"nor a trusted package ({', '.join(sorted(trusted))})" if trusted
                         else "(trust a package explicitly to allow it)"))


def scan_config(config: Any, where: str, trusted: Iterable[str] = (),
                legacy: bool = False) -> ScanResult:
    """Check a parsed model config against the allow-list; the top-level layers."""
    trusted = frozenset(trusted)
    if not isinstance(config, dict) or not isinstance(config.get("class_name"), str):
        raise _refuse(where, "the config is not a serialized Keras model")
    packages = set()
    for path, obj in _objects(config, where):
        package = _check_object(where, path, obj, trusted, legacy)
        if package:
            packages.add(package)
    return ScanResult("hdf5" if legacy else "keras", config["class_name"],
                      _layers(config, where), frozenset(packages))


def _layers(config: dict, where: str) -> list[ScannedLayer]:
    """The top-level layers a model config lists, each with a text name and class.

    A subclassed model's config need not list its layers (none to compare); a
    Functional or Sequential one that does not, or lists something else, is refused."""
    model, inner = config["class_name"], config.get("config")
    if model == "Sequential" and isinstance(inner, list):
        layers = inner  # older Keras 2 saved a Sequential as the list itself; Keras reads it
    else:
        layers = inner.get("layers") if isinstance(inner, dict) else None
    if not isinstance(layers, list):
        if model in LAYERED_MODELS:
            raise _refuse(where, f"a {model} config without a list of layers")
        return []
    scanned = []
    for i, layer in enumerate(layers):
        if not isinstance(layer, dict):
            raise _refuse(where, f"layer {i} of the config is not an object")
        class_name = layer.get("class_name")
        if not isinstance(class_name, str):
            raise _refuse(where, f"layer {i} of the config has no class_name")
        layer_config = layer.get("config")
        name = layer_config.get("name") if isinstance(layer_config, dict) else None
        if not isinstance(name, str):
            name = layer.get("name")
        if not isinstance(name, str):
            raise _refuse(where, f"layer {i} of the config has no name")
        scanned.append(ScannedLayer(name, class_name))
    return scanned


def _check_members(path: Path, archive: zipfile.ZipFile) -> None:
    total = 0
    for info in archive.infolist():
        name = info.filename.rstrip("/") if info.is_dir() else info.filename
        try:
            check_repo_path(name)
        except UnsafePathError as exc:
            raise _refuse(str(path), f"zip member {info.filename!r:.80} has an unsafe name "
                                     f"({str(exc).split(': ', 1)[-1]})") from None
        if stat.S_ISLNK(info.external_attr >> 16):
            raise _refuse(str(path), f"zip member {info.filename!r} is a symlink")
        top = name.split("/", 1)[0]
        if name not in KERAS_MEMBERS and top != "assets":
            raise _refuse(str(path), f"unexpected zip member {info.filename!r} (a .keras file "
                                     "holds config.json, metadata.json, model.weights.h5 and "
                                     "assets/)")
        if info.file_size > MAX_MEMBER_BYTES or (
                info.file_size > 1 << 20
                and info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1)):
            raise _refuse(str(path), f"zip member {info.filename!r} is too large or "
                                     "compresses suspiciously well")
        total += info.file_size
    if total > MAX_MEMBER_BYTES:
        raise _refuse(str(path), "the archive expands to more than 16 GiB")


def read_keras_config(path: Path) -> Any:
    """`config.json` of a `.keras` zip, after checking the zip's members."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            _check_members(path, archive)
            try:
                info = archive.getinfo(CONFIG_MEMBER)
            except KeyError:
                raise _refuse(str(path), "the .keras file has no config.json") from None
            if info.file_size > MAX_CONFIG_BYTES:
                raise _refuse(str(path), "config.json is larger than 64 MiB")
            raw = archive.read(info)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError,
            NotImplementedError) as exc:
        raise UnsafeModelError(f"{path}: not a readable .keras file ({exc})") from exc
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise UnsafeModelError(f"{path}: config.json is not valid JSON ({exc})") from exc


def read_hdf5_config(path: Path) -> Any:
    """`model_config` of a legacy Keras 2 HDF5 file, read with h5py alone."""
    import h5py

    try:
        with h5py.File(path, "r") as handle:
            raw = handle.attrs.get("model_config")
    except (OSError, ValueError) as exc:
        raise UnsafeModelError(f"{path}: not a readable HDF5 file ({exc})") from exc
    if raw is None:
        raise UnsafeModelError(f"{path}: the HDF5 file holds weights only (no model_config); "
                               "rebuild the model in code and load the weights into it")
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", errors="strict")
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise UnsafeModelError(f"{path}: model_config is not valid JSON ({exc})") from exc


def model_format(path: Path) -> str:
    """'keras' (a zip), 'hdf5', or UnsafeModelError."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(8)
    except OSError as exc:
        raise UnsafeModelError(f"{path}: cannot be read ({exc.strerror})") from exc
    if head.startswith(ZIP_MAGIC):
        return "keras"
    if head == HDF5_MAGIC:
        return "hdf5"
    raise UnsafeModelError(f"{path}: neither a Keras 3 .keras zip nor an HDF5 file")


def scan_model_file(path: Path, trusted: Iterable[str] = (), allow_hdf5: bool = False
                    ) -> ScanResult:
    """Scan a model file before any load. HDF5 only where the user brings the
    file (`allow_hdf5`): a hub's model is always a `.keras` zip."""
    path = Path(path)
    kind = model_format(path)
    if kind == "hdf5":
        if not allow_hdf5:
            raise UnsafeModelError(f"{path}: an HDF5 model; the zoo never loads HDF5 models "
                                   "from a hub (only `zoo pack` of a file you trust)")
        return scan_config(read_hdf5_config(path), str(path), trusted, legacy=True)
    return scan_config(read_keras_config(path), str(path), trusted)


def layer_differences(card_layers: Iterable[tuple[str, str]], scanned: ScanResult) -> list[str]:
    """Where the card's layer map (name, class) disagrees with the saved config."""
    card_layers = list(card_layers)
    saved = [(layer.name, layer.class_name) for layer in scanned.layers]
    if not saved:
        return []  # a subclassed model: the config has no layer list to compare
    diffs = []
    if len(card_layers) != len(saved):
        diffs.append(f"the card lists {len(card_layers)} layers, model.keras has {len(saved)}")
    for i, (card, file) in enumerate(zip(card_layers, saved)):
        if tuple(card) != file:
            diffs.append(f"layer {i}: card {card[0]} ({card[1]}), model.keras {file[0]} "
                         f"({file[1]})")
    return diffs
