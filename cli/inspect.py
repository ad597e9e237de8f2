"""zoo inspect: a package's card and layer map, from a folder or a hub reference."""

import json

import click

from zoo.cli.show import format_card


@click.command()
@click.argument("target")
@click.option("--json", "as_json", is_flag=True, help="Print the card as JSON.")
def inspect(target: str, as_json: bool) -> None:
    """Show a package's card and layer map: a folder, or a hub reference.

    \b
    Examples:  zoo inspect iris-pkg
               zoo inspect acme/iris@v1 --json
    """
    import zoo

    package = zoo.inspect(target)
    where = package.where if package.ref else target
    click.echo(json.dumps(package.card.to_json(), indent=2) if as_json
               else format_card(package, where))


COMMANDS = [inspect]
