"""Options shared by several commands, defined once."""

import click

force_option = click.option("--force", is_flag=True,
                            help="Replace --out if it exists (atomically).")
out_option = click.option("--out", "out", required=True, type=click.Path(file_okay=False),
                          help="Folder to write the package to.")
unsafe_option = click.option("--unsafe", is_flag=True,
                             help="Load Python code (Lambda layers) in model files: only for "
                                  "files you trust.")
