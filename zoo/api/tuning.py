"""Training a package: `zoo.finetune` (frozen-feature cache, two phases),
`zoo.evaluate` and `zoo.compare`, on data files or in-memory arrays."""

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.api.arguments import PathLike, as_path, optional_output
from zoo.api.package import Package, package_dir, writable_dir
from zoo.errors import ZooError
from zoo.train.settings import COMPARE_SETTINGS, Distribution, FitSettings, Phase2

if TYPE_CHECKING:
    import keras

    from zoo.cards.card import Card

    from zoo.train.compare import CompareRow
    from zoo.data.datasets import Table
    from zoo.train.training import Evaluation

Data = PathLike | tuple[Any, Any]


@dataclass(frozen=True)
class Finetuned:
    """What `zoo.finetune` returns: the tuned model (a new one: yours is unchanged),
    its per-epoch history (with a `phase` column), its card, and the package it was
    written to (None without `out`, or on a worker that is not the chief)."""

    model: "keras.Model | None" = field(repr=False)
    history: dict[str, list[float]] = field(repr=False)
    card: "Card" = field(repr=False)
    package: Package | None = None


def _table(data: Data, package: Path, label_column: str | None) -> "Table":
    """A data path read the way the package expects it, or `(x, y)` arrays."""
    from zoo.data.datasets import fit_to_input, table_from_arrays
    from zoo.train.training import load_data_for
    from zoo.cards.card import read_card

    if isinstance(data, tuple) and len(data) == 2:
        pre = read_card(package).preprocessing
        return fit_to_input(table_from_arrays(*data, label_names=pre.label_names),
                            tuple(pre.input_shape))
    return load_data_for(package, as_path(data, "data (a path or (x, y) arrays)"), label_column)


def _zoo_model(model: Any) -> "keras.Model":
    """A model `zoo.finetune` can save with its lineage: one built on a zoo backbone.
    Any other needs the name and license only `zoo.pack` asks for."""
    from zoo.api.lineage import origin_of
    from zoo.api.produce import check_keras_model

    check_keras_model(model)
    if origin_of(model) is None:
        raise ZooError("zoo.finetune takes a package or a model built on zoo.backbone; pack "
                       "a model of your own first: zoo.pack(model, out, name=..., license=...)")
    return model


def finetune(package_or_model: "Package | PathLike | keras.Model", data: Data, *,
             epochs: int = FitSettings.epochs, batch_size: int = FitSettings.batch_size,
             lr: float = FitSettings.learning_rate,
             validation_split: float = FitSettings.validation_split,
             patience: int | None = None, phase2_unfreeze_from: str | None = None,
             phase2_lr: float = Phase2.learning_rate, phase2_epochs: int = Phase2.epochs,
             seed: int = FitSettings.seed, feature_cache: bool = True,
             strategy: str = "none", devices: int | None = None,
             worker_timeout: float = Distribution.worker_timeout,
             listen_all_interfaces: bool = False, label_column: str | None = None,
             out: PathLike | None = None, force: bool = False,
             progress: Callable[[str], None] | None = None) -> Finetuned:
    """Fine-tune the trainable layers of a package, like `zoo finetune`.

    `package_or_model` is a package (a `zoo.Package` or its folder) or a model
    built on `zoo.backbone` (it is saved as a derived package first, so lineage
    is kept). `data` is a CSV, NPZ or image folder, or `(x, y)` arrays. Frozen
    layers stay bit-identical. When they form a prefix of the graph, phase 1 runs
    that prefix once (in onnxruntime, checked against Keras on a sample) and
    trains the rest on the cached features. `phase2_unfreeze_from` adds a second
    phase that also trains the layers from there on, at `phase2_lr`.
    `strategy` "mirrored" or "multi-worker" trains on tf.distribute (multi-worker
    needs `listen_all_interfaces`: TensorFlow's worker server listens on every
    interface). `progress` gets a line when training starts.

    Example:
        >>> tuned = zoo.finetune("effnet-head", "train.npz", epochs=10, patience=3,
        ...                      phase2_unfreeze_from="block7a_expand_conv",
        ...                      phase2_lr=1e-5, out="effnet-tuned")
        >>> tuned.card.metrics["accuracy"].value, tuned.package.path
    """
    from zoo.api.lineage import remember_package
    from zoo.api.produce import save
    from zoo.package import load_model
    from zoo.train.training import fit_package

    settings = FitSettings(epochs, batch_size, lr, validation_split, seed, patience,
                           Phase2(phase2_unfreeze_from, phase2_lr, phase2_epochs)
                           if phase2_unfreeze_from else None, feature_cache,
                           Distribution(strategy, devices, worker_timeout,
                                        listen_all_interfaces))
    target = optional_output(out)
    with tempfile.TemporaryDirectory(prefix="zoo-finetune-") as tmp:
        if isinstance(package_or_model, (Package, str, Path)):
            source = package_dir(package_or_model)
        else:
            source = save(_zoo_model(package_or_model), Path(tmp) / "model").path

        def load() -> "Table":
            table = _table(data, source, label_column)
            if progress is not None:
                progress(f"fine-tuning on {len(table.y)} samples of {len(table.label_names)} "
                         f"classes for {epochs} epochs"
                         + (" + phase 2…" if settings.phase2 else "…"))
            return table

        written = fit_package(source, load, target or Path(tmp) / "tuned", settings,
                              force=force)
        if not written.written:
            return Finetuned(None, written.card.history or {}, written.card)
        tuned = Package(target or Path(tmp) / "tuned", card=written.card)
        model = load_model(tuned.path)
        remember_package(model, tuned)
    return Finetuned(model, written.card.history or {}, written.card,
                     tuned if target is not None else None)


def evaluate(package: Package | PathLike, data: Data, *, label_column: str | None = None,
             record: bool = False) -> "Evaluation":
    """Loss, accuracy and confusion matrix of a package on labelled data, like
    `zoo evaluate`; `record=True` writes them into the package's card.

    `package` may also be a hub reference (then `record` is refused).

    Example:
        >>> result = zoo.evaluate("iris4-tuned", "iris4-test.csv")
        >>> result.accuracy, result.confusion
    """
    from zoo.hub.cache import package_folder
    from zoo.train.training import evaluate_package

    if isinstance(package, Package):
        folder = package.path
    else:
        text = str(package)
        if record and not Path(text).is_dir():
            raise ZooError("--record writes into a package folder; pull the reference first")
        folder = package_folder(text).path
    if record:
        writable_dir(folder, "record=True")
    return evaluate_package(folder, _table(data, folder, label_column), record=record)


def compare(package: Package | PathLike, data: Data, test: Data, *,
            epochs: int = COMPARE_SETTINGS.epochs,
            batch_size: int = COMPARE_SETTINGS.batch_size,
            lr: float = COMPARE_SETTINGS.learning_rate,
            seed: int = COMPARE_SETTINGS.seed) -> list["CompareRow"]:
    """Transfer vs scratch, like `zoo compare`: the package and a from-scratch CNN
    trained with the same settings on `data`, scored on `test`; one row each
    (name, accuracy, seconds, trainable and total parameters).

    Example:
        >>> for row in zoo.compare("digits-transfer", "few.npz", "test.npz", epochs=30):
        ...     print(row.name, row.accuracy)
    """
    from dataclasses import replace

    from zoo.train.compare import compare_with_scratch

    folder = package_dir(package)
    return compare_with_scratch(folder, _table(data, folder, None), _table(test, folder, None),
                                replace(COMPARE_SETTINGS, epochs=epochs, batch_size=batch_size,
                                        learning_rate=lr, seed=seed))
