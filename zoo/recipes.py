"""Recipes for the zoo's own base networks, trained from data that ships in packages."""

from pathlib import Path

from zoo.cards.card import Card
from zoo.datasets import builtin, split
from zoo.pack import default_preprocessing, pack_model

IRIS_EPOCHS = 150


def train_iris(out: Path, *, seed: int = 0, epochs: int = IRIS_EPOCHS,
               license: str = "Apache-2.0", authors: tuple[str, ...] = ("backbone-zoo",),
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
    return pack_model(
        model, out, force=force,
        name="iris", version="1.0.0", license=license, authors=list(authors),
        description="Heaton's iris network: a 4-50-25-3 dense classifier, the smallest "
                    "real backbone for transfer-learning examples.",
        intended_use="Base network for tabular transfer-learning examples; classifies iris "
                     "species from four measurements in cm.",
        training_data={"name": data.name, "source": data.source, "license": data.license,
                       "samples": int(len(train.y)), "sha256": train.sha256},
        metrics={"accuracy": {"value": float(accuracy), **metric},
                 "loss": {"value": float(loss), **metric}},
        preprocessing=default_preprocessing(model, "none (raw measurements in cm)",
                                            data.label_names, data.feature_names),
        tags=["tabular", "iris"])
