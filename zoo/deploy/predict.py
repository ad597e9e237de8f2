"""Predictions from a deploy bundle with onnxruntime or LiteRT and numpy only:
this module and what it imports never load TensorFlow (the edge path)."""

import csv
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zoo.cards.digest import sha256_file
from zoo.data.datasets import numeric_features, read_npz
from zoo.deploy.runtime import (
    BUNDLE_FILE,
    RUNNERS,
    Runner,
    check_onnx_file,
    onnx_input_shape,
    onnxruntime_errors,
    predict_batched,
    runner_for,
)
from zoo.errors import DataError, IntegrityError, UnsafePathError, ZooError, first_line
from zoo.files import regular_files
from zoo.tensors import batch_rows, sample_bytes
from zoo.trust.repo_paths import check_repo_path

SHA256 = re.compile(r"^[0-9a-f]{64}$")
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"})


@dataclass(frozen=True)
class Prediction:
    source: str
    label: str
    probability: float
    scores: list[float]


def _image(path: Path, shape: tuple[int, ...]) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image = image.convert("L" if shape[2] == 1 else "RGB").resize((shape[1], shape[0]))
            pixels = np.asarray(image, dtype=np.float32)
    except (OSError, UnidentifiedImageError) as exc:
        raise DataError(f"{path}: not a readable image ({exc})") from exc
    return pixels.reshape(shape)


def _is_header(row: list[str]) -> bool:
    try:
        [float(v) for v in row]
    except ValueError:
        return True
    return False


def _csv_features(path: Path, size: int) -> np.ndarray:
    """The first `size` columns of every row; a header row is optional and a
    trailing label column (as `zoo data` writes) is ignored."""
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = [row for row in csv.reader(handle) if row]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: not a UTF-8 CSV file ({exc})") from exc
    if rows and _is_header(rows[0]):
        rows = rows[1:]
    if not rows:
        raise DataError(f"{path}: no data rows")
    for number, row in enumerate(rows, start=1):
        if len(row) < size:
            raise DataError(f"{path}: row {number} has {len(row)} columns; the model takes "
                            f"{size} features per row")
    try:
        return np.array([[float(v) for v in row[:size]] for row in rows], dtype=np.float32)
    except ValueError as exc:
        raise DataError(f"{path}: feature columns must be numbers ({exc})") from exc


def _rows(path: Path, shape: tuple[int, ...]) -> np.ndarray:
    size = int(np.prod(shape))
    if path.suffix == ".npz":
        data = read_npz(path)
        if "x" not in data:
            raise DataError(f"{path}: an NPZ needs an array 'x'")
        x = numeric_features(data["x"], f"{path} x")
    else:
        x = numeric_features(_csv_features(path, size), str(path))
    if x.ndim < 2 or int(np.prod(x.shape[1:])) != size:
        raise DataError(f"{path}: samples of shape {tuple(x.shape[1:])} do not fit the model's "
                        f"input {shape}")
    return x.reshape((-1, *shape))


def read_inputs(paths: list[Path], shape: tuple[int, ...]) -> tuple[np.ndarray, list[str]]:
    batches, names = [], []
    for path in map(Path, paths):
        if not path.is_file():
            raise DataError(f"{path}: no such input file")
        if path.suffix.lower() in IMAGE_SUFFIXES:
            if len(shape) != 3:
                raise DataError(f"{path}: the model takes {shape} features, not an image")
            batches.append(_image(path, shape)[None])
            names.append(path.name)
        elif path.suffix in (".csv", ".npz"):
            rows = _rows(path, shape)
            batches.append(rows)
            names += [f"{path.name}:{i}" for i in range(len(rows))]
        else:
            raise DataError(f"{path}: give images, .csv or .npz files")
    return np.concatenate(batches), names


MAX_JSON_BYTES = 1 * 2**20  # a bundle's JSON files: a manifest, a shape, label names
MAX_BUNDLE_FILES = 64
MAX_LABELS = 100_000
REQUIRED = ("preprocessing.json", "labels.json")


@dataclass(frozen=True)
class Manifest:
    """What bundle.json promises: which file is the model, and the sha256 of every
    file of the bundle (bundle.json itself aside)."""
    model: str
    files: dict[str, str]


@dataclass(frozen=True)
class Bundle:
    folder: Path
    model_name: str
    input_shape: tuple[int, ...]
    labels: list[str] | None
    files: frozenset[str]  # every file but bundle.json, each checked against its sha256

    @property
    def model(self) -> Path:
        return self.folder.joinpath(*self.model_name.split("/"))


def _json(data: bytes, where: str, kind: type | tuple[type, ...]) -> Any:
    """One JSON value of the expected top-level type, or one clear error."""
    if len(data) > MAX_JSON_BYTES:
        raise DataError(f"{where}: over {MAX_JSON_BYTES // 2**20} MiB; not a bundle's file")
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # ValueError: JSON's
        # own errors, and integers longer than Python converts (4300 digits)
        raise DataError(f"{where}: not valid JSON ({str(exc)[:120]})") from exc
    if not isinstance(value, kind):
        raise DataError(f"{where}: unexpected content (a JSON {type(value).__name__})")
    return value


def _head(path: Path) -> bytes:
    """At most one byte more than a bundle's JSON file may hold: `_json` refuses more
    without the rest being read."""
    with open(path, "rb") as handle:
        return handle.read(MAX_JSON_BYTES + 1)


def _repo_path(value: object, where: str, what: str) -> str:
    try:
        return check_repo_path(value)
    except UnsafePathError as exc:
        raise IntegrityError(f"{where}: bad {what}: {exc}") from exc


def parse_manifest(data: bytes, where: str) -> Manifest:
    """bundle.json: the model's name and a sha256 for every file; anything else in
    it (format, export, package, version) is provenance, not read."""
    manifest = _json(data, where, dict)
    name, digest = manifest.get("model"), manifest.get("sha256")
    if not isinstance(digest, str) or not SHA256.match(digest):
        raise IntegrityError(f"{where}: 'sha256' must be 64 hex digits")
    name = _repo_path(name, where, "'model'")
    if Path(name).suffix not in RUNNERS:
        raise IntegrityError(f"{where}: bad 'model': {name[:80]!r} is not an .onnx or "
                             ".tflite file")
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise IntegrityError(f"{where}: no 'files' with the sha256 of every file (a bundle "
                             "from an older zoo); export it again with --bundle")
    if len(files) > MAX_BUNDLE_FILES:
        raise IntegrityError(f"{where}: lists {len(files)} files; a bundle has at most "
                             f"{MAX_BUNDLE_FILES}")
    for path, value in files.items():
        _repo_path(path, where, "file name")
        if path == BUNDLE_FILE or not isinstance(value, str) or not SHA256.match(value):
            raise IntegrityError(f"{where}: 'files' must map each file but {BUNDLE_FILE} to "
                                 f"its sha256 (64 hex digits); {path[:80]!r} does not")
    if files.get(name) != digest:
        raise IntegrityError(f"{where}: the model's 'sha256' is not the one 'files' lists")
    return Manifest(name, dict(files))


def parse_input_shape(data: bytes, where: str) -> tuple[int, ...]:
    """preprocessing.json's `input_shape`: 1 to 4 positive sizes whose sample fits the
    zoo's one tensor bound (`zoo.tensors`)."""
    shape = _json(data, where, dict).get("input_shape")
    if not (isinstance(shape, list) and shape and len(shape) <= 4 and all(
            isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape)):
        raise DataError(f"{where}: 'input_shape' must be a list of 1 to 4 positive sizes, got "
                        f"{str(shape)[:80]}")
    sample_bytes(shape, f"{where}: 'input_shape'")
    return tuple(shape)


def parse_labels(data: bytes, where: str) -> list[str] | None:
    labels = _json(data, where, (list, type(None)))
    if labels is not None and not (len(labels) <= MAX_LABELS and all(
            isinstance(label, str) for label in labels)):
        raise DataError(f"{where}: must be a list of label names")
    return labels


def read_bundle(folder: Path) -> Bundle:
    """A deploy bundle whose files are exactly those its manifest lists, each with the
    sha256 listed, read through the one walker that refuses links, special files and
    hard links (`zoo.files.regular_files`); nothing is loaded yet."""
    folder = Path(folder)
    manifest_path = folder / BUNDLE_FILE
    # walked only where a manifest is named (a missing folder is no bundle either); a
    # manifest that is a folder or link is no bundle's, and never opened
    present = set(regular_files(folder)) if os.path.lexists(manifest_path) else set()
    if BUNDLE_FILE not in present:
        raise ZooError(f"{folder} is not a deploy bundle (no {BUNDLE_FILE}); make one with "
                       "zoo export PACKAGE --format onnx --bundle DIR")
    present.remove(BUNDLE_FILE)
    manifest = parse_manifest(_head(manifest_path), str(manifest_path))
    for name in (manifest.model, *REQUIRED):
        if name not in manifest.files:
            raise DataError(f"{folder / name}: missing from the bundle; export it again "
                            "with --bundle")
    if missing := sorted(set(manifest.files) - present):
        raise IntegrityError(f"{folder}: file(s) {BUNDLE_FILE} lists are missing: "
                             f"{', '.join(missing)[:200]}")
    if extra := sorted(present - set(manifest.files)):
        raise IntegrityError(f"{folder}: file(s) {BUNDLE_FILE} does not list: "
                             f"{', '.join(extra)[:200]}")
    for name, digest in sorted(manifest.files.items()):
        if sha256_file(folder / name) != digest:
            raise IntegrityError(f"{folder / name}: its sha256 does not match {BUNDLE_FILE}; "
                                 "the bundle was changed after it was made")
    shape = parse_input_shape(_head(folder / "preprocessing.json"),
                              str(folder / "preprocessing.json"))
    labels = parse_labels(_head(folder / "labels.json"), str(folder / "labels.json"))
    return Bundle(folder, manifest.model, shape, labels, frozenset(manifest.files))


def _runner(bundle: Bundle) -> Runner:
    """The bundle's model, gated (`check_onnx_file`) and loaded; whatever the runtime
    still refuses is worded in one line."""
    if bundle.model.suffix == ".onnx":
        declared = onnx_input_shape(check_onnx_file(bundle.model, bundle.model_name,
                                                    bundle.files))
        if len(declared) != len(bundle.input_shape) or any(
                d not in (None, 0, want) for d, want in zip(declared, bundle.input_shape)):
            raise DataError(f"{bundle.model}: takes inputs of shape {tuple(declared)}, but "
                            f"preprocessing.json says {bundle.input_shape}")
    try:
        return runner_for(bundle.model)
    except (*onnxruntime_errors(), ValueError, RuntimeError) as exc:
        raise ZooError(f"{bundle.model}: the runtime refused it: {first_line(exc)}") from exc


def predict_bundle(bundle_dir: Path, inputs: list[Path]) -> list[Prediction]:
    bundle = read_bundle(bundle_dir)
    x, names = read_inputs(inputs, bundle.input_shape)
    run = _runner(bundle)
    batch = batch_rows(bundle.input_shape, str(bundle.folder / "preprocessing.json"), 64)
    try:
        scores = predict_batched(run, x, batch)
    except (*onnxruntime_errors(), ValueError, RuntimeError) as exc:
        raise ZooError(f"{bundle.model}: the runtime could not run it: "
                       f"{first_line(exc)}") from exc
    if scores.ndim != 2:
        raise DataError(f"{bundle.model}: gives outputs of shape {scores.shape[1:]}, not one "
                        "score per class")
    labels = bundle.labels or [str(i) for i in range(scores.shape[-1])]
    if len(labels) != scores.shape[-1]:
        raise DataError(f"{bundle.folder / 'labels.json'}: names {len(labels)} labels, the "
                        f"model gives {scores.shape[-1]} scores")
    return [Prediction(name, labels[int(np.argmax(row))], float(np.max(row)),
                       [float(v) for v in row]) for name, row in zip(names, scores)]
