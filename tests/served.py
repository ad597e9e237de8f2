"""`zoo hub serve` as a test fixture: olah serving a folder hub over the Hub API on
loopback, started as a real subprocess and stopped cleanly (SIGTERM)."""

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path


def free_ports(count: int) -> list[int]:
    """`count` distinct loopback ports free right now (all held open until all are found)."""
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def free_port() -> int:
    return free_ports(1)[0]


@contextlib.contextmanager
def served(root: Path, state: Path, *options: str) -> Iterator[str]:
    """Serve the folder hub at `root` (with more `zoo hub serve` options); yields its
    endpoint (for HF_ENDPOINT, and the pages' address). A port another test worker took
    between choosing it and binding it is given up for a new one."""
    for _ in range(5):
        port = free_port()
        server = _start(root, state, port, options)
        if server is not None:
            break
    else:
        raise AssertionError("zoo hub serve found no free port in 5 tries")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        assert server.wait(20) == 0  # stops cleanly on SIGTERM


def _start(root: Path, state: Path, port: int, options: tuple[str, ...]
           ) -> subprocess.Popen | None:
    """`zoo hub serve` on `port`, answering; None if the port was taken meanwhile."""
    zoo_bin = Path(sys.executable).parent / "zoo"
    server = subprocess.Popen([str(zoo_bin), "hub", "serve", "--hub", str(root), "--port",
                               str(port), "--state", str(state), *options],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 90
    while True:
        if server.poll() is not None:  # exited: the port was taken, or a real failure
            errors = server.stderr.read()
            if "already in use" in errors:
                return None
            raise AssertionError(errors)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        except OSError:
            assert time.monotonic() < deadline, "zoo hub serve did not start"
            time.sleep(0.3)
            continue
        time.sleep(1.0)  # a `zoo hub serve` that found the port taken has exited by now
        if server.poll() is None:  # ours answers (not another worker's server)
            return server
