"""Export command: SavedModel / ONNX with a parity check."""

from pathlib import Path

import click

from zoo.cli.options import progress


@click.command()
@click.argument("package_dir", type=click.Path(file_okay=False))
@click.option("--format", "fmt", required=True, type=click.Choice(["onnx", "savedmodel"]))
@click.option("--out", type=click.Path(), help="Also copy the exported file or folder here.")
@click.option("--tolerance", default=1e-4, show_default=True, type=click.FloatRange(0),
              help="Largest max abs difference from Keras accepted.")
@click.option("--data", type=click.Path(dir_okay=False),
              help="Check parity on rows of this CSV/NPZ (default: seeded random inputs).")
def export(package_dir: str, fmt: str, out: str | None, tolerance: float,
           data: str | None) -> None:
    """Export a package into its exports/ folder, checked against Keras.

    \b
    Examples:  zoo export iris4-tuned --format onnx
               zoo export iris4-tuned --format savedmodel --out serving/iris4
    """
    from zoo.export import export_package

    progress(f"exporting {package_dir} to {fmt}…")
    entry = export_package(Path(package_dir), fmt, tolerance=tolerance,
                           data=Path(data) if data else None, out=Path(out) if out else None)
    click.echo(f"{fmt}: {entry['path']} ({entry['size_bytes']:,} bytes), max abs diff vs "
               f"Keras {entry['max_abs_diff']:.2e} on {entry['parity_inputs']}"
               + (f"; copied to {out}" if out else ""))


COMMANDS = [export]
