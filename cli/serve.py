"""Hub commands that run a server: zoo hub serve."""

from pathlib import Path

import click


@click.group()
def hub() -> None:
    """Serve a folder hub to teams over the Hugging Face Hub API."""


@hub.command()
@click.option("--hub", "hub_path", type=click.Path(file_okay=False),
              help="The folder hub to serve (default: the one under $ZOO_HOME).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind; 0.0.0.0 shares it on your network (read-only).")
@click.option("--port", default=8090, show_default=True, type=click.IntRange(1, 65535))
@click.option("--state", type=click.Path(file_okay=False),
              help="Folder for olah's config, cache and logs (default: a temporary one).")
def serve(hub_path: str | None, host: str, port: int, state: str | None) -> None:
    """Serve a folder hub read-only over the Hub API (olah) until Ctrl-C.

    Clients pull with HF_ENDPOINT pointing at it:

    \b
        zoo hub serve --hub /srv/zoo-hub --port 8090
        HF_ENDPOINT=http://127.0.0.1:8090 zoo pull hf://zoo/iris@v1 --out iris

    Limits of olah 0.5.4: no /api/models listing, no private repositories,
    model_info needs an explicit revision, a missing file reads as "repository
    not found".
    """
    import signal

    from zoo.hub.serve import start, stop
    from zoo.paths import default_hub_root

    def shutdown(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # SIGTERM stops the server like Ctrl-C, from the start on, so that `stop`
    # (or a failed `start`) always removes a temporary state folder.
    previous = signal.signal(signal.SIGTERM, shutdown)
    try:
        root = Path(hub_path) if hub_path else default_hub_root()
        process = start(root, host, port, Path(state) if state else None)
        try:
            click.echo(f"serving {root} at http://{host}:{port} "
                       f"(HF_ENDPOINT=http://{host}:{port}); Ctrl-C stops", err=True)
            process.wait()
        except KeyboardInterrupt:
            pass
        finally:
            stop(process)
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)
    click.echo("stopped", err=True)


COMMANDS = [hub]
