"""Training the trainable part of a package, and evaluating one.

`fit_package` compiles with a loss chosen from the output layer, trains with a
validation split and a fixed seed, and writes a new sealed package whose card
records the metrics, the history and the schedule in its lineage. Frozen layers
stay bit-identical: they are excluded from the optimizer by `trainable=False`.
"""

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zoo.cards.card import Card
from zoo.cards.layer_map import build_layer_map
from zoo.datasets import Table
from zoo.errors import DataError, ZooError
from zoo.freezing import apply_freeze
from zoo.package import load_model, read_verified_card, save_model, seal, staged_package, \
    updated_package


@dataclass(frozen=True)
class FitSettings:
    epochs: int = 50
    batch_size: int = 16
    learning_rate: float = 1e-2
    validation_split: float = 0.2
    seed: int = 0


def _check_fit(model: Any, table: Table) -> int:
    """The number of classes; refuse data that does not fit the model."""
    want = tuple(model.inputs[0].shape[1:])
    if tuple(table.x.shape[1:]) != want:
        raise DataError(f"{table.name}: each sample has shape {tuple(table.x.shape[1:])}, "
                        f"the model takes {want}")
    classes = int(model.outputs[0].shape[-1])
    if len(table.label_names) > classes:
        raise DataError(f"{table.name}: {len(table.label_names)} classes "
                        f"({', '.join(table.label_names)}) but the model outputs {classes}")
    return classes


def _compile(model: Any, learning_rate: float) -> None:
    import keras

    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])


def _verbosity() -> int:
    return 1 if sys.stderr.isatty() else 0


def _split(table: Table, fraction: float, seed: int) -> tuple[np.ndarray, ...]:
    from sklearn.model_selection import train_test_split

    if not 0 < fraction < 1:
        raise ZooError("--validation-split must be between 0 and 1")
    counts = np.bincount(table.y)
    stratify = table.y if counts[counts > 0].min() >= 2 else None
    return train_test_split(table.x, table.y, test_size=fraction, random_state=seed,
                            stratify=stratify)


def fit_package(package_dir: Path, table: Table, out: Path, settings: FitSettings,
                force: bool = False) -> Card:
    import keras

    card = read_verified_card(package_dir)
    model = load_model(package_dir)
    _check_fit(model, table)
    frozen = {name for name in card["lineage"].get("frozen_layers", [])} if card.get(
        "lineage") else {layer["name"] for layer in card["layer_map"]["layers"]
                         if not layer["trainable"] and layer["stage"] != "input"}
    apply_freeze(model, frozen)
    keras.utils.set_random_seed(settings.seed)
    x_train, x_val, y_train, y_val = _split(table, settings.validation_split, settings.seed)
    _compile(model, settings.learning_rate)
    history = model.fit(x_train, y_train, validation_data=(x_val, y_val),
                        epochs=settings.epochs, batch_size=settings.batch_size,
                        shuffle=True, verbose=_verbosity())
    val_loss, val_accuracy = model.evaluate(x_val, y_val, verbose=0)
    card["preprocessing"]["label_names"] = table.label_names
    card["metrics"] = {
        "accuracy": {"value": float(val_accuracy), "split": "validation", "dataset": table.name,
                     "samples": int(len(y_val))},
        "loss": {"value": float(val_loss), "split": "validation", "dataset": table.name,
                 "samples": int(len(y_val))}}
    card["history"] = {key: [float(v) for v in values] for key, values in history.history.items()}
    card["training_data"] = {"name": table.name, "sha256": table.sha256,
                             "samples": int(len(table.y)),
                             **({"source": table.source} if table.source else {})}
    card["layer_map"] = build_layer_map(model, {layer["name"]: layer["stage"]
                                                for layer in card["layer_map"]["layers"]})
    card.pop("exports", None)  # exports of the old weights no longer describe this model
    if card.get("lineage") is not None:
        card["lineage"].setdefault("finetune", []).append({
            "epochs": settings.epochs, "batch_size": settings.batch_size,
            "learning_rate": settings.learning_rate, "optimizer": "adam",
            "validation_split": settings.validation_split, "seed": settings.seed,
            "data_sha256": table.sha256})
    with staged_package(out, force=force) as staging:
        save_model(model, staging)
        seal(staging, card)
    return card


@dataclass(frozen=True)
class Evaluation:
    loss: float
    accuracy: float
    samples: int
    labels: list[str]
    confusion: list[list[int]]


def evaluate_package(package_dir: Path, table: Table, record: bool = False) -> Evaluation:
    from sklearn.metrics import confusion_matrix

    card = read_verified_card(package_dir)
    model = load_model(package_dir)
    classes = _check_fit(model, table)
    _compile(model, 1e-3)
    loss, accuracy = model.evaluate(table.x, table.y, verbose=0, batch_size=256)
    predicted = np.argmax(model.predict(table.x, verbose=0, batch_size=256), axis=-1)
    labels = card["preprocessing"].get("label_names") or [str(i) for i in range(classes)]
    matrix = confusion_matrix(table.y, predicted, labels=list(range(len(labels)))).tolist()
    result = Evaluation(float(loss), float(accuracy), int(len(table.y)), labels, matrix)
    if record:
        with updated_package(package_dir) as staging:
            for key, value in (("accuracy", result.accuracy), ("loss", result.loss)):
                card["metrics"][f"test_{key}"] = {"value": value, "split": "test",
                                                  "dataset": table.name,
                                                  "samples": result.samples}
            card["confusion_matrix"] = {"labels": labels, "matrix": matrix,
                                        "dataset": table.name}
            seal(staging, card)
    return result
