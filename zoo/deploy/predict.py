"""Predictions from a deploy bundle with onnxruntime or LiteRT and numpy only:
this module and what it imports never load TensorFlow (the edge path)."""

import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zoo.cards.digest import sha256_file
from zoo.deploy.runtime import BUNDLE_FILE, predict_batched, runner_for
from zoo.errors import DataError, IntegrityError, UnsafePathError, ZooError
from zoo.train.datasets import numeric_features, read_npz
from zoo.trust.repo_paths import confined

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


def _json_file(path: Path, kind: type | tuple[type, ...]) -> Any:
    """A bundle's JSON file, of the expected top-level type, or one clear error."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: missing from the bundle; export it again with --bundle") \
            from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise DataError(f"{path}: not valid JSON ({str(exc)[:120]})") from exc
    if not isinstance(value, kind):
        raise DataError(f"{path}: unexpected content (a JSON {type(value).__name__})")
    return value


def predict_bundle(bundle: Path, inputs: list[Path]) -> list[Prediction]:
    bundle = Path(bundle)
    manifest_path = bundle / BUNDLE_FILE
    if not manifest_path.is_file():
        raise ZooError(f"{bundle} is not a deploy bundle (no {BUNDLE_FILE}); make one with "
                       "zoo export PACKAGE --format onnx --bundle DIR")
    manifest = _json_file(manifest_path, dict)
    name, digest = manifest.get("model"), manifest.get("sha256")
    if not isinstance(digest, str) or not SHA256.match(digest):
        raise IntegrityError(f"{manifest_path}: 'sha256' must be 64 hex digits")
    try:
        model = confined(bundle, name)
    except UnsafePathError as exc:
        raise IntegrityError(f"{manifest_path}: bad 'model': {exc}") from exc
    if not model.is_file() or sha256_file(model) != digest:
        raise IntegrityError(f"{model}: missing, or its sha256 does not match {BUNDLE_FILE}")
    shape = _json_file(bundle / "preprocessing.json", dict).get("input_shape")
    if not (isinstance(shape, list) and shape and len(shape) <= 4 and all(
            isinstance(d, int) and not isinstance(d, bool) and 0 < d <= 65536 for d in shape)):
        raise DataError(f"{bundle / 'preprocessing.json'}: 'input_shape' must be a list of "
                        f"1 to 4 positive sizes, got {str(shape)[:80]}")
    labels = _json_file(bundle / "labels.json", (list, type(None)))
    if labels is not None and not all(isinstance(label, str) for label in labels):
        raise DataError(f"{bundle / 'labels.json'}: must be a list of label names")
    x, names = read_inputs(inputs, tuple(shape))
    scores = predict_batched(runner_for(model), x)
    labels = labels or [str(i) for i in range(scores.shape[-1])]
    return [Prediction(name, labels[int(np.argmax(row))], float(np.max(row)),
                       [float(v) for v in row]) for name, row in zip(names, scores)]
