"""Predictions from a deploy bundle with onnxruntime or LiteRT and numpy only:
this module and what it imports never load TensorFlow (the edge path)."""

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zoo.cards.digest import sha256_file
from zoo.deploy.runtime import BUNDLE_FILE, predict_batched, runner_for
from zoo.errors import DataError, IntegrityError, ZooError

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


def _rows(path: Path, shape: tuple[int, ...]) -> np.ndarray:
    size = int(np.prod(shape))
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as data:
            if "x" not in data:
                raise DataError(f"{path}: an NPZ needs an array 'x'")
            x = data["x"].astype(np.float32)
    else:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))[1:]
        try:
            # a trailing label column (as `zoo data` writes) is ignored
            x = np.array([[float(v) for v in row[:size]] for row in rows if row],
                         dtype=np.float32)
        except ValueError as exc:
            raise DataError(f"{path}: feature columns must be numbers ({exc})") from exc
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


def predict_bundle(bundle: Path, inputs: list[Path]) -> list[Prediction]:
    bundle = Path(bundle)
    manifest_path = bundle / BUNDLE_FILE
    if not manifest_path.is_file():
        raise ZooError(f"{bundle} is not a deploy bundle (no {BUNDLE_FILE}); make one with "
                       "zoo export PACKAGE --format onnx --bundle DIR")
    manifest = json.loads(manifest_path.read_text())
    model = bundle / manifest["model"]
    if not model.is_file() or sha256_file(model) != manifest["sha256"]:
        raise IntegrityError(f"{model}: missing, or its sha256 does not match {BUNDLE_FILE}")
    preprocessing = json.loads((bundle / "preprocessing.json").read_text())
    labels = json.loads((bundle / "labels.json").read_text())
    x, names = read_inputs(inputs, tuple(preprocessing["input_shape"]))
    scores = predict_batched(runner_for(model), x)
    labels = labels or [str(i) for i in range(scores.shape[-1])]
    return [Prediction(name, labels[int(np.argmax(row))], float(np.max(row)),
                       [float(v) for v in row]) for name, row in zip(names, scores)]
