"""Training commands: finetune, evaluate."""

from pathlib import Path

import click

from zoo.cli.options import force_option, out_option, progress


@click.command()
@click.argument("package_dir", type=click.Path(file_okay=False))
@click.option("--data", required=True, type=click.Path(dir_okay=False),
              help="CSV (header; label column last or --label-column) or NPZ (x, y).")
@click.option("--label-column", help="CSV column holding the label (default: the last).")
@click.option("--epochs", default=50, show_default=True, type=click.IntRange(1))
@click.option("--batch-size", default=16, show_default=True, type=click.IntRange(1))
@click.option("--lr", "learning_rate", default=1e-2, show_default=True,
              type=click.FloatRange(0, min_open=True))
@click.option("--validation-split", default=0.2, show_default=True,
              type=click.FloatRange(0, 1, min_open=True, max_open=True))
@click.option("--seed", default=0, show_default=True)
@out_option
@force_option
def finetune(package_dir: str, data: str, label_column: str | None, epochs: int,
             batch_size: int, learning_rate: float, validation_split: float, seed: int,
             out: str, force: bool) -> None:
    """Train the trainable layers of a package; frozen layers stay bit-identical.

    \b
    Example:  zoo finetune iris4-model --data iris4-train.csv --epochs 100 \\
                  --out iris4-tuned
    """
    from zoo.datasets import load_table
    from zoo.training import FitSettings, fit_package

    table = load_table(Path(data), label_column=label_column)
    progress(f"fine-tuning on {len(table.y)} samples of {len(table.label_names)} classes "
             f"for {epochs} epochs…")
    card = fit_package(Path(package_dir), table, Path(out),
                       FitSettings(epochs, batch_size, learning_rate, validation_split, seed),
                       force=force)
    click.echo(f"validation accuracy {card['metrics']['accuracy']['value']:.4f}, loss "
               f"{card['metrics']['loss']['value']:.4f} -> {out}")


@click.command()
@click.argument("target")
@click.option("--data", required=True, type=click.Path(dir_okay=False),
              help="Held-out CSV or NPZ data.")
@click.option("--label-column", help="CSV column holding the label (default: the last).")
@click.option("--record", is_flag=True, help="Write the results into the package's card "
              "(a folder only).")
def evaluate(target: str, data: str, label_column: str | None, record: bool) -> None:
    """Loss, accuracy and confusion matrix of a package (folder or hub reference).

    \b
    Example:  zoo evaluate iris4-tuned --data iris4-test.csv --record
    """
    from zoo.datasets import load_table
    from zoo.errors import ZooError
    from zoo.package import read_verified_card
    from zoo.training import evaluate_package

    if Path(target).is_dir():
        package = Path(target)
    else:
        if record:
            raise ZooError("--record writes into a package folder; pull the reference first")
        from zoo.cache import fetch
        from zoo.refs import parse_ref

        package = fetch(parse_ref(target)).path
    labels = read_verified_card(package)["preprocessing"].get("label_names")
    table = load_table(Path(data), label_column=label_column, label_names=labels)
    result = evaluate_package(package, table, record=record)
    click.echo(f"loss {result.loss:.4f}  accuracy {result.accuracy:.4f}  "
               f"({result.samples} samples)")
    width = max(len(label) for label in result.labels)
    click.echo("confusion matrix (rows: true, columns: predicted):")
    for label, row in zip(result.labels, result.confusion):
        click.echo(f"  {label.rjust(width)}  " + " ".join(f"{v:4d}" for v in row))
    if record:
        click.echo(f"recorded in {Path(target) / 'card.json'}")


COMMANDS = [finetune, evaluate]
