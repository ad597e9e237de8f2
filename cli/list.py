"""zoo list: the repositories in a folder hub."""

from pathlib import Path

import click

from zoo.cli.show import format_table


@click.command("list")
@click.option("--hub", "hub_path", type=click.Path(file_okay=False),
              help="A folder hub (default: the one under $ZOO_HOME).")
def list_(hub_path: str | None) -> None:
    """List the repositories in a folder hub.

    \b
    Examples:  zoo list
               zoo list --hub /srv/zoo-hub
    """
    from zoo.hub import FolderHub
    from zoo.paths import default_hub_root

    hub = FolderHub(Path(hub_path) if hub_path else default_hub_root())
    repos = hub.repos()
    if not repos:
        click.echo(f"no packages in the hub at {hub.root}", err=True)
        return
    rows = [[f"{r.owner}/{r.name}", r.version, r.license, r.revision[:12], ", ".join(r.tags)]
            for r in repos]
    click.echo(format_table(["repository", "version", "license", "revision", "tags"], rows))


COMMANDS = [list_]
