"""zoo compare: transfer vs a from-scratch CNN on the same data."""


import click
from zoo.cli.options import data_option
from zoo.train.settings import COMPARE_SETTINGS


@click.command()
@click.argument("package_dir", type=click.Path(file_okay=False))
@data_option
@click.option("--test", "test_data", required=True, type=click.Path(),
              help="Held-out data both models are scored on.")
@click.option("--epochs", default=COMPARE_SETTINGS.epochs, show_default=True,
              type=click.IntRange(1))
@click.option("--batch-size", default=COMPARE_SETTINGS.batch_size, show_default=True,
              type=click.IntRange(1))
@click.option("--lr", "learning_rate", default=COMPARE_SETTINGS.learning_rate, show_default=True,
              type=click.FloatRange(0, min_open=True))
@click.option("--seed", default=COMPARE_SETTINGS.seed, show_default=True)
def compare(package_dir: str, data: str, test_data: str, epochs: int, batch_size: int,
            learning_rate: float, seed: int) -> None:
    """Transfer vs scratch: the derived package and a from-scratch CNN, same data.

    Both are trained with the same settings on --data and scored on --test;
    prints accuracy, wall time and trainable parameters of each.

    \b
    Example:  zoo compare digits-transfer --data few.npz --test test.npz --epochs 30
    """
    import zoo

    rows = zoo.compare(package_dir, data, test_data, epochs=epochs, batch_size=batch_size,
                       lr=learning_rate, seed=seed)
    click.echo(f"{'model':<10} {'accuracy':>9} {'seconds':>8} {'trainable':>10} {'total':>10}")
    for row in rows:
        click.echo(f"{row.name:<10} {row.accuracy:>9.4f} {row.seconds:>8.1f} "
                   f"{row.trainable_params:>10,} {row.total_params:>10,}")


COMMANDS = [compare]
