"""Transfer vs scratch on the same small data: does the pretrained base pay off?

The transfer model is the derived package as it is (frozen base, new head);
the scratch model is the zoo's small CNN (`zoo.train.recipes.build_cnn`) with random
weights, everything trainable. Both get the same data, seed and settings, and
are scored on the same held-out set.
"""

import time
from dataclasses import dataclass
from pathlib import Path

from zoo.data.datasets import Table
from zoo.package import load_model
from zoo.train.settings import FitSettings
from zoo.train.training import (
    check_fit,
    evaluate_model,
    fit,
    split_validation,
    trainable_params,
)


@dataclass(frozen=True)
class CompareRow:
    name: str
    accuracy: float
    seconds: float
    trainable_params: int
    total_params: int


def _train_and_score(name: str, model, train: Table, test: Table,
                     settings: FitSettings) -> CompareRow:
    check_fit(model, train)
    started = time.perf_counter()  # fit() seeds, so both models see the same batches
    fit(model, split_validation(train, settings.validation_split, settings.seed),
        settings.epochs, settings.learning_rate, settings)
    seconds = time.perf_counter() - started
    accuracy = evaluate_model(model, test, None).accuracy
    return CompareRow(name, accuracy, seconds, trainable_params(model),
                      int(model.count_params()))


def compare_with_scratch(package_dir: Path, train: Table, test: Table,
                         settings: FitSettings) -> list[CompareRow]:
    import keras

    from zoo.train.recipes import build_cnn

    transfer = load_model(package_dir)
    classes = int(transfer.outputs[0].shape[-1])
    shape = tuple(int(d) for d in transfer.inputs[0].shape[1:])
    keras.utils.set_random_seed(settings.seed)  # the scratch model's initial weights
    scratch = build_cnn(shape, classes, preprocess="unit")
    return [_train_and_score("transfer", transfer, train, test, settings),
            _train_and_score("scratch", scratch, train, test, settings)]
