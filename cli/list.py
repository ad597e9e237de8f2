"""zoo list: the repositories in a folder hub."""


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
    import zoo
    from zoo.paths import default_hub_root

    repos = zoo.list(hub=hub_path)
    if not repos:
        click.echo(f"no packages in the hub at {hub_path or default_hub_root()}", err=True)
        return
    rows = [[f"{r.owner}/{r.name}", r.version, r.license, r.revision[:12], ", ".join(r.tags)]
            for r in repos]
    click.echo(format_table(["repository", "version", "license", "revision", "tags"], rows))


COMMANDS = [list_]
