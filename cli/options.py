"""Options shared by several commands, defined once."""

import click

force_option = click.option("--force", is_flag=True,
                            help="Replace --out if it exists (atomically).")
out_option = click.option("--out", "out", required=True, type=click.Path(file_okay=False),
                          help="Folder to write the package to.")
unsafe_option = click.option("--unsafe", is_flag=True,
                             help="Load Python code (Lambda layers) in model files: only for "
                                  "files you trust.")


def warn_all(warnings: tuple[str, ...] | list[str]) -> None:
    """The zoo's warnings (a Package's), one `zoo: warning:` line each."""
    for warning in warnings:
        click.echo(f"zoo: warning: {warning}", err=True)


def progress(message: str) -> None:
    """Progress on a terminal only, so scripts and CI see just results and errors."""
    stream = click.get_text_stream("stderr")
    if stream.isatty():
        click.echo(message, err=True)


size_option = click.option("--input-size", help="Input size HxW or HxWxC, e.g. 96x96 or "
                                                "28x28x1.")


quiet_option = click.option("--quiet", is_flag=True, help="No download or upload progress "
                                                         "bars (they show on a terminal only).")


def show_progress(quiet: bool) -> bool:
    return not quiet and click.get_text_stream("stderr").isatty()


data_option = click.option("--data", required=True, type=click.Path(),
                           help="CSV (label column last or --label-column), NPZ (x, y) or an "
                                "image folder (one sub-folder per class).")
label_column_option = click.option("--label-column",
                                   help="CSV column holding the label (default: the last).")
