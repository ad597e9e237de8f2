"""Predict command: run a deploy bundle without TensorFlow."""

import json

import click


@click.command()
@click.argument("bundle", type=click.Path(file_okay=False))
@click.argument("inputs", nargs=-1, required=True, type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def predict(bundle: str, inputs: tuple[str, ...], as_json: bool) -> None:
    """Predict with a deploy bundle (onnxruntime or LiteRT, no TensorFlow).

    INPUTS are images (resized to the model's input), CSV rows or NPZ arrays.

    \b
    Example:  zoo predict edge-bundle digit.png more.npz --json
    """
    import zoo

    for item in zoo.predict(bundle, list(inputs)):
        if as_json:
            click.echo(json.dumps({"input": item.source, "label": item.label,
                                   "probability": item.probability, "scores": item.scores}))
        else:
            click.echo(f"{item.source}\t{item.label}\t{item.probability:.4f}")


COMMANDS = [predict]
