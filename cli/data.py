"""Data command: write a built-in data set (shipped in scikit-learn) to CSV."""

from pathlib import Path

import click


@click.command()
@click.argument("name", type=click.Choice(["iris", "iris4"]))
@click.option("--split", "part", default="all", show_default=True,
              type=click.Choice(["all", "train", "test"]),
              help="A fixed stratified 70/30 split.")
@click.option("--out", required=True, type=click.Path(dir_okay=False))
def data(name: str, part: str, out: str) -> None:
    """Write a built-in data set to CSV (iris; iris4 = iris with virginica split in two).

    \b
    Example:  zoo data iris4 --split train --out iris4-train.csv
    """
    from zoo.datasets import builtin, split, write_csv

    table = split(builtin(name), part)
    write_csv(table, Path(out))
    click.echo(f"{table.name}: {len(table.y)} rows, {len(table.label_names)} classes -> {out}")


COMMANDS = [data]
