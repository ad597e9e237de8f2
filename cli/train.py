"""zoo train: train one of the zoo's base networks and package it."""


import click
from zoo.cli.options import force_option, out_option, progress
from zoo.train.settings import RECIPE_EPOCHS, RECIPE_LICENSE


@click.command()
@click.argument("recipe", type=click.Choice(tuple(RECIPE_EPOCHS)))
@out_option
@click.option("--data", type=click.Path(), help="cnn: training images (NPZ, CSV or an image "
              "folder), e.g. from 'zoo data mnist5k --classes 0-4 --split train'.")
@click.option("--test", "test_data", type=click.Path(),
              help="cnn: held-out images for the card's accuracy.")
@click.option("--seed", default=0, show_default=True, help="Random seed (fixed for a "
              "reproducible network).")
@click.option("--epochs", type=click.IntRange(1), help="Default: " + ", ".join(
    f"{epochs} ({recipe})" for recipe, epochs in RECIPE_EPOCHS.items()) + ".")
@click.option("--license", "license_", default=RECIPE_LICENSE, show_default=True,
              help="SPDX license of the trained network.")
@force_option
def train(recipe: str, out: str, data: str | None, test_data: str | None, seed: int,
          epochs: int | None, license_: str, force: bool) -> None:
    """Train one of the zoo's base networks and package it.

    \b
    iris  Heaton's 4-50-25-3 dense network on scikit-learn's iris.
    cnn   a small CNN feature extractor (conv/BN/ReLU blocks) on your images.

    \b
    Examples:  zoo train iris --out iris-pkg
               zoo data mnist5k --classes 0-4 --split train --out src.npz
               zoo train cnn --data src.npz --out cnn-pkg
    """
    import zoo

    progress(f"training {recipe} (seed {seed})…")
    card = zoo.train_recipe(recipe, out, data=data, test=test_data, seed=seed, epochs=epochs,
                            license=license_, force=force).card
    metric = card.metrics["accuracy"]
    click.echo(f"{card.name} {card.version}: {card.layer_map.total_params:,} "
               f"parameters, {metric.split} accuracy {metric.value:.4f} -> {out}")


COMMANDS = [train]
