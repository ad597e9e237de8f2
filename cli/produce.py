"""Producer commands: train a base network, pack any Keras model."""

from pathlib import Path

import click

from zoo.cli.options import force_option, out_option, progress, unsafe_option


@click.command()
@click.argument("recipe", type=click.Choice(["iris"]))
@out_option
@click.option("--seed", default=0, show_default=True, help="Random seed (fixed for a "
              "reproducible network).")
@click.option("--epochs", default=150, show_default=True, type=click.IntRange(1))
@click.option("--license", "license_", default="Apache-2.0", show_default=True,
              help="SPDX license of the trained network.")
@force_option
def train(recipe: str, out: str, seed: int, epochs: int, license_: str, force: bool) -> None:
    """Train one of the zoo's base networks and package it.

    \b
    Example:  zoo train iris --out iris-pkg
    """
    from zoo.recipes import train_iris

    progress(f"training {recipe} (seed {seed}, {epochs} epochs)…")
    card = train_iris(Path(out), seed=seed, epochs=epochs, license=license_, force=force)
    accuracy = card["metrics"]["accuracy"]["value"]
    click.echo(f"{card['name']} {card['version']}: {card['layer_map']['total_params']:,} "
               f"parameters, held-out accuracy {accuracy:.4f} -> {out}")


@click.command()
@click.argument("model_file", type=click.Path(dir_okay=False))
@click.option("--name", required=True, help="Package name, e.g. 'my-cnn'.")
@click.option("--license", "license_", required=True,
              help="SPDX id or expression (e.g. 'MIT'), or 'other' with --license-name "
                   "and --license-link.")
@click.option("--license-name", help="Name of a license that has no SPDX id.")
@click.option("--license-link", help="URL or file of that license's text.")
@click.option("--author", "authors", multiple=True, help="Author (repeatable).")
@click.option("--version", "version", default="1.0.0", show_default=True)
@click.option("--intended-use", default="Base network for transfer learning.",
              show_default=True)
@click.option("--training-data", default="unknown", show_default=True,
              help="Name of the data the network was trained on.")
@click.option("--scaling", default="none", show_default=True,
              help="How inputs are scaled before the model, as free text.")
@click.option("--labels", help="Comma-separated class names of the output.")
@out_option
@unsafe_option
@force_option
def pack(model_file: str, name: str, license_: str, license_name: str | None,
         license_link: str | None, authors: tuple[str, ...], version: str, intended_use: str,
         training_data: str, scaling: str, labels: str | None, out: str, unsafe: bool,
         force: bool) -> None:
    """Package any Keras 3 model file (.keras) with its card.

    \b
    Example:  zoo pack my_model.keras --name my-net --license MIT \\
                  --author "Ada Lovelace" --out my-net-pkg
    """
    from zoo.pack import pack_file

    card = pack_file(Path(model_file), Path(out), unsafe=unsafe, scaling=scaling,
                     label_names=[s.strip() for s in labels.split(",")] if labels else None,
                     force=force, name=name, version=version, license=license_,
                     license_name=license_name, license_link=license_link,
                     authors=list(authors), intended_use=intended_use,
                     training_data={"name": training_data})
    click.echo(f"packed {card['name']} {card['version']} "
               f"({card['layer_map']['total_params']:,} parameters, "
               f"{len(card['layer_map']['layers'])} layers) -> {out}")


COMMANDS = [train, pack]
