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
    endpoint (for HF_ENDPOINT, and the pages' address)."""
    port = free_port()
    zoo_bin = Path(sys.executable).parent / "zoo"
    server = subprocess.Popen([str(zoo_bin), "hub", "serve", "--hub", str(root), "--port",
                               str(port), "--state", str(state), *options],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 90
    try:
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert server.poll() is None, server.stderr.read()
                assert time.monotonic() < deadline, "zoo hub serve did not start"
                time.sleep(0.3)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        assert server.wait(20) == 0  # stops cleanly on SIGTERM
