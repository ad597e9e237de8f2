"""Serving a folder hub over the Hugging Face Hub API, read-only, with olah, guarded.

olah (MIT, on PyPI) serves local git repositories in the HF layout, LFS
objects included, to any `huggingface_hub` client. The zoo writes its config
(mirror = the hub folder, upstream = a closed loopback port, offline), starts
it, waits until it answers, and stops it cleanly. A state folder the zoo made
(the default) goes with the server: `stop` removes it, and so does a failed
`start`.

What it serves is hostile until checked, and so is every request: olah runs
through `zoo.hub.olah_guard`, which allows only GET/HEAD on the Hub routes
clients use, with owner, name, revision and file path checked by the zoo's
grammars on the raw path (no `..`, `%2e%2e`, encoded separators, backslashes,
control characters or double encoding); parses README front matter with a
safe loader that refuses tags, anchors and aliases and bounds its size and
depth; serves repositories and LFS objects only from inside the hub, through
no symlink, gitfile or alternates; and streams LFS objects without hashing
them per request. The process runs with `safe_git_env()`: git, which olah
reads repositories through, runs no hook or program a repository configures.

Known limits of olah 0.5.4 (found here, not papered over): clients must pass a
revision to `model_info` (the zoo always does); `/api/models` listing and
private repositories are not supported; a missing file comes back as
"repository not found"; revisions holding '/' cannot be asked for (an encoded
separator is refused).
"""

import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import tomli_w

from zoo.errors import ZooError
from zoo.files import atomic_write_text
from zoo.hub.folder import require_folder_hub
from zoo.hub.git import safe_git_env

CLOSED_UPSTREAM = "127.0.0.1:9"  # the discard port: nothing listens, nothing leaves
READY_TIMEOUT_S = 60.0


def olah_config(hub_root: Path, host: str, port: int, state: Path) -> Path:
    """Write olah's TOML config for serving `hub_root`; return its path."""
    public = f"{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    config = {
        "basic": {
            "host": host,
            "port": port,
            "repos-path": str(state / "repos"),
            "hf-scheme": "http",
            "hf-netloc": CLOSED_UPSTREAM,
            "hf-lfs-netloc": CLOSED_UPSTREAM,
            "mirror-scheme": "http",
            "mirror-netloc": public,
            "mirror-lfs-netloc": public,
            "mirrors-path": [str(hub_root)],
        },
        "accessibility": {"offline": True},
    }
    return atomic_write_text(state / "olah.toml", tomli_w.dumps(config))


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class Server(subprocess.Popen):
    """olah's process, and the temporary state folder `start` made for it, if any."""

    temporary_state: Path | None = None


def start(hub_root: Path, host: str = "127.0.0.1", port: int = 8090,
          state: Path | None = None, policy: Path | None = None,
          trusted_keys: tuple[Path, ...] = ()) -> Server:
    """Start olah on the hub, with its web pages, and wait until it accepts connections.
    The pages judge licenses by `policy` (a policy file) and check signatures with
    `trusted_keys` and the policy's; both are read here first, so a bad one is refused
    before anything starts.

    Without `state`, olah runs in a fresh temporary folder that `stop` removes;
    if anything here fails or is interrupted, the server is stopped and the
    folder removed before the error goes up."""
    hub_root = require_folder_hub(hub_root)
    page_args = _page_args(policy, trusted_keys)
    if _answers("127.0.0.1" if host in ("0.0.0.0", "::") else host, port):
        raise ZooError(f"port {port} on {host} is already in use; choose another with --port")
    temporary = None if state else Path(tempfile.mkdtemp(prefix="zoo-serve-"))
    state = Path(state or temporary)
    process = None
    try:
        state.mkdir(parents=True, exist_ok=True)
        config = olah_config(hub_root, host, port, state)
        with open(state / "olah.log", "wb") as log:  # the child keeps its own handle
            process = Server(
                [sys.executable, "-I", "-m", "zoo.hub.olah_guard", "-c", str(config),
                 "--log-path", str(state / "logs"), *page_args],
                stdout=log, stderr=subprocess.STDOUT, cwd=state, env=safe_git_env())
        process.temporary_state = temporary
        _wait_until_ready(process, host, port, state)
    except BaseException:  # a failure or Ctrl-C: no server and no folder left behind
        if process is not None:
            stop(process)
        _remove(temporary)
        raise
    return process


def _page_args(policy: Path | None, trusted_keys: tuple[Path, ...]) -> list[str]:
    """The pages' options for the server process, after reading them here."""
    from zoo.hub.pages.catalog import read_trust

    read, _ = read_trust(policy, trusted_keys)
    return [*(["--policy", str(read.path)] if read.path else []),
            *(arg for key in trusted_keys for arg in ("--trust-key", str(Path(key).absolute())))]


def _wait_until_ready(process: Server, host: str, port: int, state: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    probe = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    while not _answers(probe, port):
        if process.poll() is not None or time.monotonic() > deadline:
            # Read olah's last words before `stop` removes a temporary state folder.
            tail = (state / "olah.log").read_text(errors="replace").strip().splitlines()[-3:]
            raise ZooError(f"olah did not start on {host}:{port}: {' | '.join(tail)}")
        time.sleep(0.2)


def stop(process: subprocess.Popen, timeout: float = 10.0) -> None:
    """Stop the server: SIGTERM, then SIGKILL if it does not exit in time; then
    remove the temporary state folder `start` made (never one the user named)."""
    try:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    finally:
        if isinstance(process, Server):
            _remove(process.temporary_state)
            process.temporary_state = None


def _remove(folder: Path | None) -> None:
    # Best effort: a folder that will not go must not hide why the server stopped.
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
