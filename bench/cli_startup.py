"""Wall time of `zoo --help` (no TensorFlow import) and of a pull of an already
cached revision (re-verified, not copied twice), each as a real process.

    python bench/cli_startup.py      (after `make setup`)
"""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import report

RUNS = 5


def wall(args: list[str], env: dict) -> float:
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        subprocess.run(args, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return sorted(times)[len(times) // 2]


def main() -> None:
    zoo = str(Path(sys.executable).parent / "zoo")
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "ZOO_HOME": f"{tmp}/home", "ZOO_CACHE": f"{tmp}/cache"}
        subprocess.run([zoo, "train", "iris", "--epochs", "5", "--out", f"{tmp}/iris"],
                       env=env, check=True, capture_output=True)
        subprocess.run([zoo, "publish", f"{tmp}/iris", "iris"], env=env, check=True,
                       capture_output=True)
        subprocess.run([zoo, "pull", "iris", "--out", f"{tmp}/warm"], env=env, check=True,
                       capture_output=True)
        rows = [["zoo --help", f"{wall([zoo, '--help'], env):.3f}"],
                ["zoo list", f"{wall([zoo, 'list'], env):.3f}"],
                ["zoo inspect iris (cached)", f"{wall([zoo, 'inspect', 'iris'], env):.3f}"],
                ["zoo pull iris (cached)", f"{wall([zoo, 'pull', 'iris', '--force', '--out', f'{tmp}/again'], env):.3f}"]]
    report("cli_startup", ["command", "median seconds"], rows, {"runs": RUNS})


if __name__ == "__main__":
    main()
