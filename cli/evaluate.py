"""zoo evaluate: loss, accuracy and confusion matrix of a package."""

from pathlib import Path

import click
from zoo.cli.options import data_option, label_column_option


@click.command()
@click.argument("target")
@data_option
@label_column_option
@click.option("--record", is_flag=True, help="Write the results into the package's card "
              "(a folder only).")
def evaluate(target: str, data: str, label_column: str | None, record: bool) -> None:
    """Loss, accuracy and confusion matrix of a package (folder or hub reference).

    \b
    Example:  zoo evaluate iris4-tuned --data iris4-test.csv --record
    """
    import zoo

    result = zoo.evaluate(target, data, label_column=label_column, record=record)
    click.echo(f"loss {result.loss:.4f}  accuracy {result.accuracy:.4f}  "
               f"({result.samples} samples)")
    width = max(len(label) for label in result.labels)
    click.echo("confusion matrix (rows: true, columns: predicted):")
    for label, row in zip(result.labels, result.confusion):
        click.echo(f"  {label.rjust(width)}  " + " ".join(f"{v:4d}" for v in row))
    if record:
        click.echo(f"recorded in {Path(target) / 'card.json'}")


COMMANDS = [evaluate]
