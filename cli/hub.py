"""zoo hub: serve a folder hub (Hub API and web pages), write its pages as a static
site, mirror Hub repositories into one."""

from pathlib import Path

import click

from zoo.cli.options import progress, quiet_option, show_progress


@click.group()
def hub() -> None:
    """Serve a folder hub to teams (Hugging Face Hub API and web pages), write its pages
    as a static site, and mirror Hub repositories into one."""


policy_option = click.option(
    "--policy", type=click.Path(dir_okay=False),
    help="A license policy file: the pages say which packages it allows, and the index "
         "filters by it.")
trust_key_option = click.option(
    "--trust-key", "trust_keys", multiple=True, type=click.Path(dir_okay=False),
    help="A public key (PEM) the pages check signatures with (repeatable; the policy's "
         "trusted_keys count too).")


@hub.command()
@click.option("--hub", "hub_path", type=click.Path(file_okay=False),
              help="The folder hub to serve (default: the one under $ZOO_HOME).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind; 0.0.0.0 shares it on your network (read-only).")
@click.option("--port", default=8090, show_default=True, type=click.IntRange(1, 65535))
@click.option("--state", type=click.Path(file_okay=False),
              help="Folder for olah's config, cache and logs (default: a temporary one).")
@policy_option
@trust_key_option
def serve(hub_path: str | None, host: str, port: int, state: str | None, policy: str | None,
          trust_keys: tuple[str, ...]) -> None:
    """Serve a folder hub read-only over the Hub API (olah), with a web page for every
    repository, until Ctrl-C.

    Clients pull with HF_ENDPOINT pointing at it; people open it in a browser:

    \b
        zoo hub serve --hub /srv/zoo-hub --port 8090 --policy policy.toml
        HF_ENDPOINT=http://127.0.0.1:8090 zoo pull hf://zoo/iris@v1 --out iris
        open http://127.0.0.1:8090/ (the index), /zoo/iris (a model page),
             /zoo/iris/compare/v1...v2 (what changed between two revisions)

    The server treats the hub's repositories and every request as hostile: only
    GET/HEAD of the Hub API routes, owner/name/revision/file path checked by the
    zoo's grammars (no '..', '%2e%2e', '%2F', backslashes or control characters);
    README front matter read without tags, anchors or aliases, bounded; nothing
    read from outside the hub (no symlinked repositories or LFS objects); git run
    with no repository hooks or configured programs.

    Limits of olah 0.5.4: no /api/models listing, no private repositories,
    model_info needs an explicit revision, a missing file reads as "repository
    not found"; revisions holding '/' cannot be served.
    """
    import signal

    import zoo
    from zoo.paths import default_hub_root

    def shutdown(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # SIGTERM stops the server like Ctrl-C, from the start on, so that `stop`
    # (or a failed `start`) always removes a temporary state folder. SIGINT is set
    # too, so that Ctrl-C or kill -INT stops it even if it started with SIGINT ignored
    # (a non-interactive shell's background job), which Python would keep.
    previous = {sig: signal.signal(sig, shutdown) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        root = Path(hub_path) if hub_path else default_hub_root()
        process = zoo.serve(root, host=host, port=port, state=state, policy=policy,
                            trusted_keys=trust_keys)
        try:
            click.echo(f"serving {root} at http://{host}:{port} (pages: open it in a browser; "
                       f"clients: HF_ENDPOINT=http://{host}:{port}); Ctrl-C stops", err=True)
            process.wait()
        except KeyboardInterrupt:
            pass
        finally:
            zoo.stop_serving(process)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)
    click.echo("stopped", err=True)


@hub.command()
@click.option("--out", required=True, type=click.Path(file_okay=False),
              help="The folder to write the site into (a site written there before is "
                   "replaced).")
@click.option("--hub", "hub_path", type=click.Path(file_okay=False),
              help="The folder hub (default: the one under $ZOO_HOME).")
@policy_option
@trust_key_option
@quiet_option
def site(out: str, hub_path: str | None, policy: str | None, trust_keys: tuple[str, ...],
         quiet: bool) -> None:
    """Write a folder hub's web pages as a static site, for a hub on a shared drive.

    The same pages `zoo hub serve` serves, with relative links: an index with a search
    box and filters, a page per repository and revision (card, layer map, lineage
    across the hub, files, signature and checks, exports), and each revision compared
    with the one before.

    \b
        zoo hub site --hub /mnt/share/zoo-hub --out /mnt/share/zoo-site
        open /mnt/share/zoo-site/index.html
    """
    import zoo

    result = zoo.write_site(out, hub_path, policy=policy, trusted_keys=trust_keys,
                            progress=None if quiet else progress)
    click.echo(f"wrote {result.pages} pages for {result.repositories} "
               f"repositor{'ies' if result.repositories != 1 else 'y'} to {result.path}; "
               f"open {result.path / 'index.html'}")


@hub.command()
@click.argument("refs", nargs=-1, required=True, metavar="hf://OWNER/NAME[@REV]...")
@click.option("--hub", "hub_path", required=True, type=click.Path(file_okay=False),
              help="The folder hub to mirror into (made if missing).")
@quiet_option
def mirror(refs: tuple[str, ...], hub_path: str, quiet: bool) -> None:
    """Copy Hub repositories into a folder hub, commit for commit.

    Any repository (keras-hub presets, Keras folders, zoo packages): every
    commit with the same paths and git blob ids, so the same tree sha; branches
    and tags; the upstream commit sha in a 'Mirrored-from:' trailer. With @REV,
    only REV's history and the refs that point into it. A re-run fetches only
    new commits and files. Reads HF_ENDPOINT (another server, such as `zoo hub
    serve`) and HF_TOKEN.

    \b
        zoo hub mirror hf://keras/resnet_18_imagenet hf://acme/iris@v1 --hub /srv/mirror
        HF_ENDPOINT=http://hub.lab:8090 zoo hub mirror hf://acme/iris --hub /srv/mirror
        zoo hub serve --hub /srv/mirror --port 8090    # then, on the air-gapped side:
        HF_ENDPOINT=http://127.0.0.1:8090 python -c \\
          'import keras_hub; keras_hub.models.Backbone.from_preset("hf://keras/resnet_18_imagenet")'

    Mirrored commits have shas of their own (the upstream sha is in the trailer);
    refs deleted upstream stay in the mirror.
    """
    import zoo

    zoo.progress_bars(show_progress(quiet))
    for ref in refs:
        result = zoo.mirror(ref, hub_path, progress=None if quiet else progress)
        commits = f"{result.new_commits} new commit{'s' * (result.new_commits != 1)}"
        if result.known_commits:
            commits += f" ({result.known_commits} already there)"
        click.echo(f"mirrored {result.ref}: {commits}, {result.fetched} file"
                   f"{'s' * (result.fetched != 1)} fetched ({result.reused} reused), "
                   f"refs {', '.join(result.refs) or 'none'}; head {result.head[:12]}")


COMMANDS = [hub]
