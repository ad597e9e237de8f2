"""Cache commands: zoo cache verify, zoo cache clean."""

import click


@click.group()
def cache() -> None:
    """Check or tidy the pull cache ($ZOO_CACHE); it may be wiped at any time."""


@cache.command()
def verify() -> None:
    """Hash every blob against its name and check every snapshot against its card.

    Changes nothing; exits 2 if anything is damaged (then run 'zoo cache clean').

    \b
    Example:  zoo cache verify
    """
    import zoo
    from zoo.cli.main import fail
    from zoo.paths import cache_root

    problems = 0
    for problem in zoo.verify_cache():
        problems += 1
        click.echo(f"damaged: {problem.path}: {problem.why}")
    if problems:
        fail(f"{problems} damaged item(s) in {cache_root()}; 'zoo cache clean' removes them "
             "and the next pull fetches them again")
    click.echo(f"cache ok: {cache_root()}")


@cache.command()
def clean() -> None:
    """Remove damaged blobs and snapshots, downloads left by killed pulls (older than
    a day) and blobs no snapshot uses; the next pull fetches what it needs again.

    \b
    Example:  zoo cache clean
    """
    import zoo
    from zoo.paths import cache_root

    removed = zoo.clean_cache()
    for path in removed:
        click.echo(f"removed: {path}")
    click.echo(f"{len(removed)} item(s) removed from {cache_root()}")


COMMANDS = [cache]
