"""Training the trainable part of a package, and evaluating one.

`fit_package` trains with a validation split, a fixed seed and optional early
stopping (the best weights are kept), in one or two phases: phase 1 trains
what the package leaves trainable; phase 2 unfreezes the layers from a given
one on (the base's BatchNorm stays frozen, see `zoo.build.freezing`) at a lower
learning rate. Frozen layers stay bit-identical: `trainable=False` keeps them
out of the optimizer. The new package's card records metrics, the history of
both phases, the schedule in its lineage, and a PNG of the curves.
"""

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from zoo.build.freezing import apply_freeze, frozen_layer_names
from zoo.cards.card import (
    Card,
    ConfusionMatrix,
    FeatureCacheRecord,
    FinetunePhase,
    FinetuneRun,
    LayerMap,
    Metric,
    TrainingData,
    read_card,
)
from zoo.cards.layer_map import build_layer_map, graph_operations, resolve_layer
from zoo.data.datasets import Table, load_for_input
from zoo.errors import DataError, ZooError
from zoo.package import (
    load_model,
    read_verified_card,
    refuse_existing,
    save_model,
    seal,
    staged_package,
    updated_package,
)
from zoo.train.curves import CURVES_FILE, plot_history
from zoo.train.distribute import Replicas, start, writes_package
from zoo.train.feature_cache import (
    cache_key,
    frozen_prefix,
    graph_key,
    prefix_features,
    suffix_model,
)
from zoo.train.settings import FitSettings


def load_data_for(package_dir: Path, path: Path, label_column: str | None = None) -> Table:
    """Data read the way the package expects it: its label names, its input shape.
    (The card's hashes are checked when the package itself is loaded.)"""
    pre = read_card(package_dir).preprocessing
    return load_for_input(Path(path), tuple(pre.input_shape), label_column, pre.label_names)


def check_fit(model: Any, table: Table) -> int:
    """The number of classes; refuse data that does not fit the model."""
    want = tuple(model.inputs[0].shape[1:])
    got = tuple(table.x.shape[1:])
    if len(got) != len(want) or any(w is not None and w != g for w, g in zip(want, got)):
        raise DataError(f"{table.name}: each sample has shape {got}, the model takes {want}")
    classes = int(model.outputs[0].shape[-1])
    if len(table.label_names) > classes:
        raise DataError(f"{table.name}: {len(table.label_names)} classes "
                        f"({', '.join(table.label_names)}) but the model outputs {classes}")
    return classes


# Batches per call of the compiled train step when training on cached features: the
# same batches in the same order (so the same weights), without Python's per-batch round
# trip, which was most of a small head's time. Not for whole models: MobileNetV2 at
# 64x64 trained 1.4x slower looped this way here.
FEATURE_STEPS_PER_EXECUTION = 16


def compile_model(model: Any, learning_rate: float, steps_per_execution: int = 1) -> None:
    import keras

    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  steps_per_execution=steps_per_execution)


def verbosity() -> int:
    return 1 if sys.stderr.isatty() else 0


def split_validation(table: Table, fraction: float, seed: int) -> tuple[np.ndarray, ...]:
    from sklearn.model_selection import train_test_split

    if not 0 < fraction < 1:
        raise ZooError("--validation-split must be between 0 and 1")
    samples, counts = len(table.y), np.bincount(table.y)
    held_out = int(np.ceil(fraction * samples))
    if samples < 2 or held_out >= samples:
        raise DataError(f"{table.name}: {samples} sample(s) cannot be split into training "
                        f"and validation at {fraction:g}")
    classes = int((counts > 0).sum())
    fits = counts[counts > 0].min() >= 2 and classes <= held_out <= samples - classes
    stratify = table.y if fits else None  # too few samples to keep every class in both
    return train_test_split(table.x, table.y, test_size=fraction, random_state=seed,
                            stratify=stratify)


def fit(model: Any, data: tuple[np.ndarray, ...], epochs: int, learning_rate: float,
        settings: FitSettings, steps_per_execution: int = 1,
        replicas: Replicas | None = None) -> dict[str, list[float]]:
    """One training phase; with patience, stop early and keep the best weights. With
    `replicas`, under their strategy, in the zoo's own loop (`zoo.train.distribute`)."""
    import keras

    keras.utils.set_random_seed(settings.seed)  # same batches whichever way it trains
    if replicas is not None:
        return replicas.fit(model, data, epochs, learning_rate, settings)
    x_train, x_val, y_train, y_val = data
    compile_model(model, learning_rate, steps_per_execution)
    callbacks = [keras.callbacks.EarlyStopping(monitor="val_loss", patience=settings.patience,
                                               restore_best_weights=True)] \
        if settings.patience else []
    history = model.fit(x_train, y_train, validation_data=(x_val, y_val), epochs=epochs,
                        batch_size=settings.batch_size, shuffle=True, callbacks=callbacks,
                        verbose=verbosity())
    return {key: [float(v) for v in values] for key, values in history.history.items()}


def unfreeze_from(model: Any, layer_map: LayerMap, layer: str) -> list[str]:
    """Phase 2: make the layers from `layer` on trainable (base BatchNorm excepted)."""
    names = [op.name for op in graph_operations(model)]  # op nodes too, as in the layer map
    start = names.index(resolve_layer(layer_map, layer, option="--phase2-unfreeze-from").name)
    frozen = set(frozen_layer_names(model)) - set(names[start:])
    base = {entry.name for entry in layer_map.layers if entry.stage == "base"}
    return apply_freeze(model, frozen, base)


class Finetuned(NamedTuple):
    card: Card
    written: bool  # False on a worker that is not the chief: the chief writes


def fit_package(package_dir: Path, load_table: Callable[[], Table], out: Path,
                settings: FitSettings, force: bool = False) -> Finetuned:
    """Fine-tune the package on `load_table()` (called once the strategy is started:
    reading images runs TensorFlow) and write the result to `out`."""
    writes = writes_package(settings.distribution)  # TF_CONFIG checked before all else
    card = read_verified_card(package_dir)
    if writes:
        refuse_existing(out, force)  # before joining and training, not after
    replicas = start(settings.distribution)  # before TensorFlow runs anything
    table = load_table()
    model = load_model(package_dir)
    check_fit(model, table)
    if settings.phase2:  # resolve the layer before spending time on phase 1
        resolve_layer(card.layer_map, settings.phase2.unfreeze_from,
                      option="--phase2-unfreeze-from")
    data = split_validation(table, settings.validation_split, settings.seed)
    started = time.perf_counter()
    history, cached, scorer, scored = _phase1(model, card, table, data, settings, replicas)
    history["phase"] = [1.0] * len(history["loss"])
    distribution = replicas.record(settings.batch_size) if replicas else None
    schedule = [FinetunePhase(
        phase=1, epochs_run=len(history["loss"]), trainable_params=trainable_params(model),
        epochs=settings.epochs, batch_size=settings.batch_size,
        learning_rate=settings.learning_rate, validation_split=settings.validation_split,
        seed=settings.seed, patience=settings.patience, feature_cache=cached,
        distribution=distribution, seconds=_since(started))]
    if settings.phase2:
        started = time.perf_counter()
        unfreeze_from(model, card.layer_map, settings.phase2.unfreeze_from)
        second = fit(model, data, settings.phase2.epochs, settings.phase2.learning_rate,
                     settings, replicas=replicas)
        for key, values in second.items():
            history.setdefault(key, []).extend(values)
        history["phase"] += [2.0] * len(second["loss"])
        schedule.append(FinetunePhase(
            phase=2, epochs_run=len(second["loss"]), trainable_params=trainable_params(model),
            unfreeze_from=settings.phase2.unfreeze_from,
            learning_rate=settings.phase2.learning_rate, epochs=settings.phase2.epochs,
            distribution=distribution, seconds=_since(started)))
        scorer, scored = model, data
    compile_model(scorer, settings.learning_rate)  # the trained part, on what it trained on
    val_loss, val_accuracy = scorer.evaluate(scored[1], scored[3], verbose=0)
    _record_training(card, model, table, history, schedule, float(val_loss),
                     float(val_accuracy), int(len(data[3])))
    if not writes:
        return Finetuned(card, False)
    with staged_package(out, force=force) as staging:
        save_model(model, staging)
        plot_history(history, staging / CURVES_FILE, f"{card.name} on {table.name}")
        seal(staging, card)
    return Finetuned(card, True)


def _phase1(model: Any, card: Card, table: Table, data: tuple[np.ndarray, ...],
            settings: FitSettings, replicas: Replicas | None
            ) -> tuple[dict, FeatureCacheRecord | None, Any, tuple]:
    """Phase 1, on cached frozen-prefix features when the model allows it; returns the
    history, the cache record, and the model and data to score it with."""
    prefix = frozen_prefix(model) if settings.feature_cache else None
    if prefix is None:
        history = fit(model, data, settings.epochs, settings.learning_rate, settings,
                      replicas=replicas)
        return history, None, model, data
    base_revision = card.lineage.base_revision if card.lineage else None
    graph = graph_key(model, prefix, base_revision)
    key = cache_key(graph, table.sha256)
    started = time.perf_counter()
    features, cached = prefix_features(model, prefix, table.x, graph, key)
    cached.seconds = _since(started)
    feature_data = split_validation(replace(table, x=features), settings.validation_split,
                                    settings.seed)
    suffix = suffix_model(model, prefix)
    history = fit(suffix, feature_data, settings.epochs, settings.learning_rate, settings,
                  FEATURE_STEPS_PER_EXECUTION, replicas)
    return history, cached, suffix, feature_data


def _since(started: float) -> float:
    """Seconds of a training phase (or of its features), for the card: what the zoo
    spent training, without loading, importing or saving."""
    return round(time.perf_counter() - started, 3)


def trainable_params(model: Any) -> int:
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def _record_training(card: Card, model: Any, table: Table, history: dict,
                     schedule: list[FinetunePhase],
                     val_loss: float, val_accuracy: float, val_samples: int) -> None:
    metric = {"split": "validation", "dataset": table.name, "samples": val_samples}
    card.metrics = {"accuracy": Metric(value=val_accuracy, **metric),
                    "loss": Metric(value=val_loss, **metric)}
    card.preprocessing.label_names = table.label_names
    card.history = history
    card.training_data = TrainingData(name=table.name, sha256=table.sha256,
                                      samples=int(len(table.y)), source=table.source or None)
    card.layer_map = build_layer_map(model, card.layer_map.stages())
    card.exports = {}  # exports of the old weights no longer describe this model
    card.confusion_matrix = None
    if card.lineage is not None:
        card.lineage.frozen_layers = frozen_layer_names(model)
        card.lineage.finetune.append(FinetuneRun(data_sha256=table.sha256, phases=schedule))


@dataclass(frozen=True)
class Evaluation:
    loss: float
    accuracy: float
    samples: int
    labels: list[str]
    confusion: list[list[int]]


def evaluate_model(model: Any, table: Table, labels: list[str] | None) -> Evaluation:
    from sklearn.metrics import confusion_matrix

    classes = check_fit(model, table)
    compile_model(model, 1e-3)
    loss, accuracy = model.evaluate(table.x, table.y, verbose=0, batch_size=256)
    predicted = np.argmax(model.predict(table.x, verbose=0, batch_size=256), axis=-1)
    labels = labels or [str(i) for i in range(classes)]
    matrix = confusion_matrix(table.y, predicted, labels=list(range(len(labels)))).tolist()
    return Evaluation(float(loss), float(accuracy), int(len(table.y)), labels, matrix)


def evaluate_package(package_dir: Path, table: Table, record: bool = False) -> Evaluation:
    card = read_verified_card(package_dir)
    result = evaluate_model(load_model(package_dir), table, card.preprocessing.label_names)
    if record:
        with updated_package(package_dir) as staging:
            for key, value in (("accuracy", result.accuracy), ("loss", result.loss)):
                card.metrics[f"test_{key}"] = Metric(value=value, split="test",
                                                     dataset=table.name, samples=result.samples)
            card.confusion_matrix = ConfusionMatrix(labels=result.labels,
                                                    matrix=result.confusion, dataset=table.name)
            seal(staging, card)
    return result
