"""Recipes for the zoo's own base networks, trained from data that ships in packages."""

from pathlib import Path
from typing import Any

from zoo.build import preprocessing
from zoo.build.pack import default_preprocessing, pack_model, raw_pixel_scaling
from zoo.cards.card import Card, Metric, TrainingData
from zoo.data.datasets import Table, builtin, load_table, split
from zoo.cards.card_data import CardData
from zoo.errors import DataError, ZooError
from zoo.train.settings import RECIPE_EPOCHS, RECIPE_LICENSE

IRIS_EPOCHS = RECIPE_EPOCHS["iris"]


def train_recipe(recipe: str, out: Path, *, data: Path | None = None, test: Path | None = None,
                 seed: int = 0, epochs: int | None = None, license: str = RECIPE_LICENSE,
                 force: bool = False) -> Card:
    """`zoo train RECIPE`: iris trains on data that ships with scikit-learn; cnn needs
    images (`data`), and scores on `test` when given (else its validation split)."""
    if recipe not in RECIPE_EPOCHS:
        raise ZooError(f"unknown recipe '{recipe}' (one of {', '.join(RECIPE_EPOCHS)})")
    epochs = epochs or RECIPE_EPOCHS[recipe]
    if recipe == "iris":
        return train_iris(out, seed=seed, epochs=epochs, license=license, force=force)
    if data is None:
        raise ZooError("zoo train cnn needs --data (e.g. 'zoo data mnist5k --classes 0-4 "
                       "--split train --out src.npz')")
    return train_cnn(load_table(Path(data)), out,
                     test=load_table(Path(test)) if test else None, seed=seed, epochs=epochs,
                     license=license, force=force)


def train_iris(out: Path, *, seed: int = 0, epochs: int = IRIS_EPOCHS,
               license: str = RECIPE_LICENSE, authors: tuple[str, ...] = ("backbone-zoo",),
               force: bool = False) -> Card:
    """Heaton's seed network: 4 inputs → Dense 50 relu → Dense 25 relu → Dense 3
    softmax (1,603 parameters), trained on iris; held-out accuracy in the card."""
    import keras

    data = builtin("iris")
    train, test = split(data, "train", seed), split(data, "test", seed)
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input((4,), name="features"),
        keras.layers.Dense(50, activation="relu", name="hidden1"),
        keras.layers.Dense(25, activation="relu", name="hidden2"),
        keras.layers.Dense(3, activation="softmax", name="species"),
    ], name="iris")
    model.compile(optimizer=keras.optimizers.Adam(1e-2),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(train.x, train.y, epochs=epochs, batch_size=16, verbose=0)
    loss, accuracy = model.evaluate(test.x, test.y, verbose=0)
    metric = {"split": "test", "dataset": test.name, "samples": int(len(test.y))}
    return pack_model(model, out, CardData.network(
        "iris", license, authors=authors,
        description="Heaton's iris network: a 4-50-25-3 dense classifier, the smallest "
                    "real backbone for transfer-learning examples.",
        intended_use="Base network for tabular transfer-learning examples; classifies iris "
                     "species from four measurements in cm.",
        training_data=TrainingData(name=data.name, source=data.source or None,
                                   license=data.license or None, samples=int(len(train.y)),
                                   sha256=train.sha256),
        metrics={"accuracy": Metric(value=float(accuracy), **metric),
                 "loss": Metric(value=float(loss), **metric)},
        preprocessing=default_preprocessing(model, "none (raw measurements in cm)",
                                            data.label_names, data.feature_names),
        tags=["tabular", "iris"]), force=force)


CNN_FILTERS = (16, 32, 64)


def build_cnn(input_shape: tuple[int, ...], classes: int, preprocess: str = "unit") -> Any:
    """A small CNN feature extractor with stable stage names: blockN_conv / _bn / _relu /
    _pool, then gap, dropout and the classifier. Takes raw 0-255 pixels."""
    import keras

    pixels = keras.Input(input_shape, name="pixels")
    x = preprocessing.apply(pixels, preprocess)
    for block, filters in enumerate(CNN_FILTERS, start=1):
        x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False,
                                name=f"block{block}_conv")(x)
        x = keras.layers.BatchNormalization(momentum=0.9, name=f"block{block}_bn")(x)
        x = keras.layers.ReLU(name=f"block{block}_relu")(x)
        if block < len(CNN_FILTERS):
            x = keras.layers.MaxPooling2D(name=f"block{block}_pool")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    x = keras.layers.Dropout(0.2, name="dropout")(x)
    outputs = keras.layers.Dense(classes, activation="softmax", name="predictions")(x)
    return keras.Model(pixels, outputs, name="cnn")


def train_cnn(train: Table, out: Path, *, test: Table | None = None, seed: int = 0,
              epochs: int = RECIPE_EPOCHS["cnn"], license: str = RECIPE_LICENSE,
              authors: tuple[str, ...] = ("backbone-zoo",), force: bool = False) -> Card:
    """Train the small CNN on an image table and package it as a base network."""
    import keras

    from zoo.train.training import split_validation, verbosity

    if train.x.ndim != 4:
        raise DataError(f"{train.name}: the CNN needs images (N, H, W, C), got samples of "
                        f"shape {tuple(train.x.shape[1:])}")
    keras.utils.set_random_seed(seed)
    model = build_cnn(tuple(int(d) for d in train.x.shape[1:]), len(train.label_names))
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x_train, x_val, y_train, y_val = split_validation(train, 0.15, seed)
    model.fit(x_train, y_train, validation_data=(x_val, y_val), epochs=epochs, batch_size=64,
              verbose=verbosity())
    held_out = test or Table(f"{train.name}-validation", x_val, y_val, train.label_names, [], "")
    loss, accuracy = model.evaluate(held_out.x, held_out.y, verbose=0)
    metric = {"split": "test" if test else "validation", "dataset": held_out.name,
              "samples": int(len(held_out.y))}
    return pack_model(model, out, CardData.network(
        "cnn", license, authors=authors,
        description=f"A small CNN feature extractor ({len(CNN_FILTERS)} conv/BN/ReLU blocks) "
                    f"trained on {train.name}.",
        intended_use="Base network for small grayscale image tasks (digits-like inputs).",
        training_data=TrainingData(name=train.name, samples=int(len(train.y)),
                                   sha256=train.sha256, source=train.source or None,
                                   license=train.license or None),
        metrics={"accuracy": Metric(value=float(accuracy), **metric),
                 "loss": Metric(value=float(loss), **metric)},
        preprocessing=default_preprocessing(model, raw_pixel_scaling("unit"), train.label_names),
        tags=["image", "cnn"]), force=force)
