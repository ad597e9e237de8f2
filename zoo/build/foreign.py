"""Backbones in the shapes the ecosystem publishes them, turned into plain Keras models.

    keras-hub preset   config.json ("registered_name": "keras_hub>ResNetBackbone"),
                       metadata.json (keras_hub_version), model.weights.h5; a task
                       preset adds task.json, preprocessor.json, image_converter.json
    Keras folder       config.json, metadata.json, model.weights.h5: what Keras 3's
                       model.save("hf://…") uploads (saving_lib)

Only the files in `FILES` are read. Every JSON file is scanned (`scan_config`) before
Keras or keras-hub sees it: keras-hub classes are allowed by name in a preset, and
only when keras-hub is installed; anything else is refused as for hub files.
"""

import json
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zoo.build import preprocessing
from zoo.errors import KERAS_ERRORS, ModelError, UnsafeModelError, ZooError, keras_reason
from zoo.trust.model_scan import CONFIG_MEMBER, MAX_CONFIG_BYTES, scan_config

PRESET = "keras-hub preset"
KERAS_FOLDER = "keras folder"
METADATA = "metadata.json"
WEIGHTS = "model.weights.h5"
CONVERTER = "image_converter.json"
README = "README.md"
REQUIRED = (CONFIG_MEMBER, METADATA, WEIGHTS)
OPTIONAL = (README, CONVERTER)
FILES = REQUIRED + OPTIONAL
KERAS_HUB = "keras_hub"
KERAS_HUB_INSTALL = "pip install --no-deps keras-hub==0.32.0 regex tokenizers"
# What a task preset holds beyond the backbone: the zoo adds its own head instead.
TASK_FILES = ("task.json", "task.weights.h5", "preprocessor.json")


@dataclass(frozen=True)
class ForeignFormat:
    format: str  # PRESET or KERAS_FOLDER
    class_name: str | None  # the registered name, e.g. keras_hub>ResNetBackbone
    keras_version: str | None
    keras_hub_version: str | None
    task_files: tuple[str, ...]  # a task preset's files that are left out


def files_to_read(present: set[str], where: str) -> list[str]:
    """The files of a preset or Keras folder that an import reads, given what exists."""
    if missing := [name for name in REQUIRED if name not in present]:
        raise ZooError(f"{where} is neither a keras-hub preset nor a Keras folder: no "
                       f"{', '.join(missing)} (both hold {', '.join(REQUIRED)})")
    if any(name.startswith("assets/") for name in present):
        raise ZooError(f"{where} holds assets/ (tokenizer vocabularies and the like); "
                       "`zoo import` reads image backbones, whose weights are all in "
                       f"{WEIGHTS}")
    return [name for name in FILES if name in present]


def read_json(folder: Path, name: str) -> Any:
    path = Path(folder) / name
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise UnsafeModelError(f"{name}: {path.stat().st_size:,} bytes; a config holds at "
                               f"most {MAX_CONFIG_BYTES:,}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ZooError(f"{name} is not JSON: {exc}") from exc


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def identify(folder: Path, present: set[str]) -> ForeignFormat:
    """Which of the two formats a folder is, from config.json and metadata.json
    (a `keras_hub>` registered name, or a keras_hub_version)."""
    config, metadata = read_json(folder, CONFIG_MEMBER), read_json(folder, METADATA)
    if not isinstance(config, dict) or not isinstance(metadata, dict):
        raise ZooError(f"{CONFIG_MEMBER} and {METADATA} must each hold a JSON object")
    registered = _text(config.get("registered_name")) or _text(config.get("class_name"))
    hub_version = _text(metadata.get("keras_hub_version"))
    is_preset = bool(registered and registered.startswith(f"{KERAS_HUB}>")) or bool(hub_version)
    return ForeignFormat(PRESET if is_preset else KERAS_FOLDER, registered,
                         _text(metadata.get("keras_version")), hub_version,
                         tuple(name for name in TASK_FILES if name in present))


def keras_hub_installed() -> bool:
    try:
        import keras_hub  # noqa: F401
    except ImportError:
        return False
    return True


def scan(folder: Path, fmt: ForeignFormat) -> None:
    """The config scan of every JSON file Keras or keras-hub will read."""
    trusted = {KERAS_HUB} if fmt.format == PRESET else set()
    names = [name for name in (CONFIG_MEMBER, CONVERTER) if (Path(folder) / name).is_file()]
    for name in names:
        scanned = scan_config(read_json(folder, name), name, trusted)
        if scanned.packages and not keras_hub_installed():
            raise ZooError(f"{name} names keras-hub classes ({fmt.class_name}) and keras-hub "
                           f"is not installed: {KERAS_HUB_INSTALL}")


def load_backbone(folder: Path, fmt: ForeignFormat) -> Any:
    """The backbone, built by keras-hub's loader (a preset) or Keras' (a folder), from
    the checked local files only."""
    from zoo.package import load_keras_file

    if fmt.format == KERAS_FOLDER:
        with tempfile.TemporaryDirectory() as tmp:
            packed = Path(tmp) / "model.keras"  # the same three files, as a .keras zip
            with zipfile.ZipFile(packed, "w") as archive:
                for name in REQUIRED:
                    archive.write(Path(folder) / name, name)
            return load_keras_file(packed)
    import keras_hub

    try:
        return keras_hub.models.Backbone.from_preset(str(folder))
    except (*KERAS_ERRORS, OSError) as exc:
        raise ModelError(f"keras-hub cannot build {fmt.class_name}: {keras_reason(exc)}") \
            from exc


def pyramid_layers(model: Any) -> tuple[str, ...]:
    """The layers whose outputs a keras-hub backbone lists as `pyramid_outputs`
    (P1…P5): its stage ends, so the cut points."""
    outputs = getattr(model, "pyramid_outputs", None) or {}
    names = []
    for _, tensor in sorted(outputs.items()):
        history = getattr(tensor, "_keras_history", None)
        if history is not None:
            names.append(history.operation.name)
    return tuple(names)


@dataclass(frozen=True)
class Converter:
    """A preset's image_converter.json: resize to `size`, then x * scale + offset."""

    size: tuple[int, int] | None
    scale: Any
    offset: Any

    def describe(self) -> str:
        return (f"x * {self.scale} + {self.offset or 0} (the preset's {CONVERTER}); done "
                "inside the model, feed raw 0-255 pixels")

    def apply(self, x: Any) -> Any:
        import keras

        if self.scale is None and not self.offset:
            return x
        scale = 1.0 if self.scale is None else self.scale
        return keras.layers.Rescaling(scale, self.offset or 0.0,
                                      name=preprocessing.LAYER_NAME)(x)


def _numbers(value: Any, what: str) -> Any:
    if value is None or isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    if isinstance(value, list) and value and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        return value
    raise ZooError(f"{CONVERTER}: {what} must be a number or a list of numbers, not "
                   f"{str(value)[:60]}")


def read_converter(folder: Path) -> Converter | None:
    """The image converter of a task preset, if it has one."""
    if not (Path(folder) / CONVERTER).is_file():
        return None
    data = read_json(folder, CONVERTER)
    config = data.get("config") if isinstance(data, dict) else None
    if not isinstance(config, dict):
        raise ZooError(f"{CONVERTER} must hold an object with a 'config' object")
    size = config.get("image_size")
    if size is not None and not (isinstance(size, list) and len(size) == 2 and all(
            isinstance(d, int) and not isinstance(d, bool) and 0 < d <= 8192 for d in size)):
        raise ZooError(f"{CONVERTER}: image_size must be [height, width], not {size}")
    return Converter(tuple(size) if size else None, _numbers(config.get("scale"), "scale"),
                     _numbers(config.get("offset"), "offset"))


def needs_keras_hub(model: Any) -> list[str]:
    """The keras-hub classes a model's own config still names (none for a graph of
    plain Keras layers)."""
    import keras

    config = keras.saving.serialize_keras_object(model)
    found: set[str] = set()
    stack = [config]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if str(node.get("module", "")).startswith(KERAS_HUB) and "class_name" in node:
                found.add(str(node["class_name"]))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return sorted(found)
