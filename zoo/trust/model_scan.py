"""A scan of a model file's config before Keras parses it.

Keras safe mode is the second line of defence, and its history (CVE-2024-3660,
CVE-2025-1550, CVE-2025-8747, CVE-2025-9905, CVE-2025-9906) shows it can be
bypassed. The first line is here: read `config.json` out of the `.keras` zip
(or `model_config` out of a legacy HDF5) without Keras, and accept only names
the zoo knows to be inert: the (module, class_name) pairs and function names of
`keras_names.json` (generated from the installed Keras by `zoo.trust.keras_names`),
plus classes of a package the caller explicitly trusts (keras_hub, for `zoo
import` of presets). Anything else is refused with its name: a whole module is
never allowed, so `keras.applications.imagenet_utils.decode_predictions` (which
downloads), `keras.utils.get_file`, `TFSMLayer`, a Lambda, Python's `exec` are
each simply not on the list. Config keys that may name a file (a lookup
layer's string `vocabulary`, `filepath`, ...) are refused wherever they appear.

Before any of that, and before any loader sees the file, `check_archive` bounds
the zip itself: member count, names, symlinks, total and per-member size and
compression ratio, with the limits in `ARCHIVE_LIMITS`.
"""

import contextlib
import json
import re
import stat
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zoo.errors import UnsafeModelError, UnsafePathError
from zoo.trust.keras_names import allowed_names
from zoo.trust.repo_paths import check_repo_path

ZIP_MAGIC = b"PK\x03\x04"
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
CONFIG_MEMBER = "config.json"
KERAS_MEMBERS = frozenset({"config.json", "metadata.json", "model.weights.h5",
                           "model.weights.npz"})
MAX_CONFIG_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class ArchiveLimits:
    """What a `.keras` zip may declare before anything unpacks it. Keras writes its
    members stored, so a real model's ratio is ~1 (its config.json deflates ~50x at
    most); ConvNeXtXLarge, the largest keras.applications model, is 1.4 GB."""

    members: int = 1024
    total_bytes: int = 8 * 1024 ** 3
    ratio: int = 100  # uncompressed / compressed, per member and for the whole archive
    ratio_floor: int = 64 * 1024  # members smaller than this may compress as they like


ARCHIVE_LIMITS = ArchiveLimits()

IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,127}$")
# Serialized data, not code: Keras turns these into values, never imports them.
DATA_MARKERS = frozenset({"__tensor__", "__numpy__", "__bytes__", "__ellipsis__", "__slice__",
                          "__keras_tensor__"})
CODE_CLASSES = frozenset({"Lambda", "__lambda__", "TFOpLambda", "SlicingOpLambda"})
UNSAFE_SWITCH = "enable_unsafe_deserialization"
# Keys whose text value names a file or a place to fetch from: a lookup layer's
# vocabulary file, TFSMLayer's SavedModel, a download's origin. A list value (an
# inline vocabulary) is data.
FILE_KEYS = frozenset({"vocabulary", "filepath", "file_path", "path", "vocabulary_file",
                       "vocab_file", "fname", "origin", "url", "cache_dir", "directory"})
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
    return UnsafeModelError(f"{where}: refusing to load: {why}; the zoo only loads Keras "
                            "layers and functions it knows to be inert (see `zoo inspect` "
                            "docs on trusted packages)")


def _nodes(node: Any, where: str) -> Iterator[tuple[str, dict | str]]:
    """Every object and every string in a config, with its path, in document order.

    A loop, not recursion: a hostile config nested deeper than Python's stack
    must be refused, not crash the scan with RecursionError."""
    stack = [("", node, 0)]
    while stack:
        path, node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _refuse(where, f"the config nests deeper than {MAX_DEPTH} levels")
        if isinstance(node, dict):
            yield path, node
            stack.extend(reversed([(f"{path}/{key}", value, depth + 1)
                                   for key, value in node.items()]))
        elif isinstance(node, list):
            stack.extend(reversed([(f"{path}/{i}", value, depth + 1)
                                   for i, value in enumerate(node)]))
        elif isinstance(node, str):
            yield path, node


def _check_keys(at: str, node: dict) -> None:
    """Refuse the unsafe switch in a key and keys whose text names a file."""
    for key, value in node.items():
        if not isinstance(key, str):
            continue  # JSON keys are text; a config built in Python may differ
        if UNSAFE_SWITCH in key:
            raise _refuse(at, f"the config mentions '{UNSAFE_SWITCH}'")
        if key in FILE_KEYS and isinstance(value, str):
            raise _refuse(at, f"'{key}' names a file or a place ({value[:80]!r}); only "
                              "inline values are loaded")


def _check_function(at: str, module: Any, name: Any, registered: Any) -> None:
    """A serialized function: an activation, loss or metric on the list, by name.
    Keras writes "builtins" for its own functions by name (never Python's builtins)."""
    allowed = allowed_names().functions
    if not (isinstance(module, str) and isinstance(name, str) and name in allowed.get(module, ())):
        raise _refuse(at, f"function {str(module)[:80]}.{str(name)[:80]} is not an inert Keras "
                          "activation, loss or metric")
    if registered not in (None, name, "function"):
        raise _refuse(at, f"function {name} with the registered name {str(registered)[:80]!r} "
                          "(Keras would look that name up instead)")


def _check_object(at: str, obj: dict, trusted: frozenset[str], legacy: bool) -> str | None:
    """Refuse one serialized object, or return the non-Keras package it needs."""
    class_name = obj.get("class_name")
    if not isinstance(class_name, str):
        raise _refuse(at, "an object with a non-text class_name")
    if class_name in DATA_MARKERS:
        return None
    if UNSAFE_SWITCH in class_name:
        raise _refuse(at, f"the config mentions '{UNSAFE_SWITCH}'")
    if class_name in CODE_CLASSES:
        raise _refuse(at, f"a {class_name} layer holds Python code")
    if class_name.startswith("__"):
        raise _refuse(at, f"serialized object '{class_name[:60]}' is not plain data")
    module = obj.get("module")
    registered = obj.get("registered_name")
    if class_name == "function":
        _check_function(at, module, obj.get("config"), registered)
        return None
    if not IDENTIFIER.match(class_name):
        raise _refuse(at, f"class name {class_name[:60]!r} is not a plain identifier")
    if module is not None and not isinstance(module, str):
        raise _refuse(at, f"class {class_name} has a non-text module")
    package = module.split(".", 1)[0] if module else None
    if package in trusted and package != "keras":
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", module):
            raise _refuse(at, f"class {class_name} from a module named {module[:80]!r}")
        if isinstance(registered, str) and ">" in registered and \
                registered.split(">", 1)[0] not in trusted:
            raise _refuse(at, f"registered name {registered[:80]!r} is from an untrusted package")
        return package
    names = allowed_names()
    if module is None:  # resolved by name alone: Keras' registry (legacy) or nothing
        if class_name not in names.class_names:
            raise _refuse(at, f"class {class_name} is not an inert Keras class")
        if registered not in (None, class_name) and not legacy:
            raise _refuse(at, f"class {class_name} has a registered name but no module")
        return None
    if (module, class_name) not in names.classes:
        trust = (f"nor a class of a trusted package ({', '.join(sorted(trusted))})" if trusted
                 else "(a package's classes load only where the zoo trusts it explicitly)")
        if package != "keras":
            raise _refuse(at, f"class {class_name} from module '{module[:80]}', which is not "
                              f"Keras {trust}")
        raise _refuse(at, f"{module[:80]}.{class_name} is not an inert Keras class {trust}")
    if registered not in (None, class_name):
        raise _refuse(at, f"the Keras class {class_name} with the registered name "
                          f"{str(registered)[:80]!r} (Keras would look that name up instead)")
    return None


def scan_config(config: Any, where: str, trusted: Iterable[str] = (),
                legacy: bool = False) -> ScanResult:
    """Check a parsed model config against the allow-list; the top-level layers."""
    trusted = frozenset(trusted)
    if not isinstance(config, dict) or not isinstance(config.get("class_name"), str):
        raise _refuse(where, "the config is not a serialized Keras model")
    packages = set()
    for path, node in _nodes(config, where):
        at = f"{where} at {path or '/'}"
        if isinstance(node, str):
            if UNSAFE_SWITCH in node:
                raise _refuse(at, f"the config mentions '{UNSAFE_SWITCH}'")
            continue
        _check_keys(at, node)
        if "class_name" in node and (package := _check_object(at, node, trusted, legacy)):
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


def _refuse_archive(path: Path, why: str) -> UnsafeModelError:
    return UnsafeModelError(f"{path}: refusing to open the archive: {why}")


def _declared_members(path: Path) -> int:
    """The member count the zip's end record declares, read before `zipfile` parses a
    central directory that may list millions of entries."""
    with open(path, "rb") as handle:
        end = zipfile._EndRecData(handle)  # noqa: SLF001  (the stdlib's own EOCD reader)
    if end is None:
        raise zipfile.BadZipFile("no end of central directory record")
    return end[zipfile._ECD_ENTRIES_TOTAL]  # noqa: SLF001


def _check_members(path: Path, archive: zipfile.ZipFile) -> None:
    limits = ARCHIVE_LIMITS
    members = archive.infolist()
    if len(members) > limits.members:
        raise _refuse_archive(path, f"{len(members)} members (at most {limits.members})")
    total, seen = 0, set()
    for info in members:
        name = info.filename.rstrip("/") if info.is_dir() else info.filename
        if name in seen:  # readers disagree on which copy counts: the scan's or Keras'
            raise _refuse_archive(path, f"zip member {info.filename!r:.80} appears twice")
        seen.add(name)
        try:
            check_repo_path(name)
        except UnsafePathError as exc:
            raise _refuse_archive(path, f"zip member {info.filename!r:.80} has an unsafe name "
                                        f"({str(exc).split(': ', 1)[-1]})") from None
        if stat.S_ISLNK(info.external_attr >> 16):
            raise _refuse_archive(path, f"zip member {info.filename!r} is a symlink")
        top = name.split("/", 1)[0]
        if name not in KERAS_MEMBERS and top != "assets":
            raise _refuse_archive(path, f"unexpected zip member {info.filename!r} (a .keras file "
                                        "holds config.json, metadata.json, model.weights.h5 "
                                        "and assets/)")
        if info.file_size > limits.ratio_floor and \
                info.file_size > limits.ratio * max(info.compress_size, 1):
            raise _refuse_archive(path, f"zip member {info.filename!r} compresses suspiciously "
                                        f"well ({info.file_size} bytes from "
                                        f"{info.compress_size}; a zip bomb?)")
        total += info.file_size
        if total > limits.total_bytes:
            raise _refuse_archive(path, f"the members expand to more than {limits.total_bytes} "
                                        "bytes")
    size = path.stat().st_size
    if total > limits.ratio_floor and total > limits.ratio * size:
        raise _refuse_archive(path, f"the archive compresses suspiciously well ({total} bytes "
                                    f"from a {size}-byte file; a zip bomb?)")


ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError,
              NotImplementedError)


@contextlib.contextmanager
def _gated_archive(path: Path) -> Iterator[zipfile.ZipFile]:
    """The `.keras` zip, open, once it has passed the gate (`check_archive`); a zip
    error while it is read is one line too."""
    try:
        declared = _declared_members(path)
        if declared > ARCHIVE_LIMITS.members:
            raise _refuse_archive(path, f"{declared} members (at most "
                                        f"{ARCHIVE_LIMITS.members})")
        with zipfile.ZipFile(path) as archive:
            _check_members(path, archive)
            yield archive
    except ZIP_ERRORS as exc:
        raise UnsafeModelError(f"{path}: not a readable .keras file ({exc})") from exc


def check_archive(path: Path) -> None:
    """The zip gate, before any loader (the scan, Keras, even with `--unsafe`) opens a
    `.keras` file: member count, names, symlinks, sizes and compression ratios within
    `ARCHIVE_LIMITS`. Reads only the zip's directory; unpacks nothing."""
    with _gated_archive(Path(path)):
        pass


def read_keras_config(path: Path) -> Any:
    """`config.json` of a `.keras` zip, after the archive gate (one read of its
    directory for both)."""
    path = Path(path)
    with _gated_archive(path) as archive:
        try:
            info = archive.getinfo(CONFIG_MEMBER)
        except KeyError:
            raise _refuse(str(path), "the .keras file has no config.json") from None
        if info.file_size > MAX_CONFIG_BYTES:
            raise _refuse(str(path), "config.json is larger than 64 MiB")
        raw = archive.read(info)
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
