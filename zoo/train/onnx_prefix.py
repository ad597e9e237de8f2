"""The frozen prefix run in onnxruntime rather than Keras `predict`.

The prefix (the model up to the frozen-feature cache's separator layer) is
converted to ONNX once and kept in the cache under a key of its layers' names and
weights and the base revision, so every later fine-tune of the same base, cut and
freeze reuses it, whatever the data. It is converted without tf2onnx's own
optimizers: they take most of a conversion's time, and onnxruntime makes the same
fusions when it loads the graph (bench/prefix_onnx.py).

Before its features are used, the graph is run on a few samples next to Keras: a
graph that does not load, or that is off by more than the tolerance (a damaged
cache file, a converter fault), is converted again once, and if that does not
agree either, Keras computes the features. `PrefixRun` says which, and why.
"""

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zoo.deploy.runtime import Runner, onnx_runner, predict_batched
from zoo.paths import cache_root

CHECK_SAMPLES = 16
# The features' largest magnitude times this, plus a floor for all-zero features.
RELATIVE_TOLERANCE, ABSOLUTE_FLOOR = 1e-4, 1e-7
BATCH = 256


@dataclass
class PrefixRun:
    """How the prefix's features were computed (the card's `FeatureCacheRecord` says it)."""

    runtime: str  # "onnxruntime" or "keras"
    graph_hit: bool = False  # the ONNX graph came from the cache
    check_samples: int = 0
    max_abs_diff: float | None = None
    tolerance: float | None = None
    reason: str | None = None  # why Keras ran instead


def graph_path(key: str) -> Path:
    return cache_root() / "prefix-onnx" / f"{key}.onnx"


def _convert(extractor: Any, path: Path) -> None:
    """Write the graph beside `path`, then move it there: never half a file."""
    from zoo.deploy.export import to_onnx

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        to_onnx(extractor, Path(name), tuple(extractor.inputs[0].shape[1:]), {},
                optimize=False)
        os.replace(name, path)
    finally:
        Path(name).unlink(missing_ok=True)


def _checked(run: Runner, extractor: Any, x: np.ndarray) -> tuple[float, float]:
    sample = x[:CHECK_SAMPLES].astype(np.float32, copy=False)
    expected = np.asarray(extractor(sample, training=False))
    got = run(sample)
    if got.shape != expected.shape:
        return float("inf"), 0.0
    tolerance = RELATIVE_TOLERANCE * float(np.max(np.abs(expected))) + ABSOLUTE_FLOOR
    return float(np.max(np.abs(got - expected))), tolerance


def onnx_features(extractor: Any, x: np.ndarray, key: str) -> tuple[np.ndarray | None, PrefixRun]:
    """The prefix's features from its ONNX graph (made if missing), or None and the
    reason when it cannot be trusted; Keras then computes them."""
    path = graph_path(key)
    hit = path.is_file()
    for attempt in ("cached", "fresh") if hit else ("fresh",):
        try:
            if attempt == "fresh":
                _convert(extractor, path)
            run = onnx_runner(path)
            diff, tolerance = _checked(run, extractor, x)
            if diff <= tolerance:
                features = predict_batched(run, x, BATCH)
        except Exception as exc:  # noqa: BLE001 (only a speed-up: Keras computes them)
            what = "the ONNX conversion" if attempt == "fresh" else "the cached ONNX graph"
            reason = f"{what} failed: {(str(exc).splitlines() or [type(exc).__name__])[0][:200]}"
            continue
        if diff <= tolerance:
            return features, PrefixRun("onnxruntime", graph_hit=attempt == "cached",
                                       check_samples=min(len(x), CHECK_SAMPLES),
                                       max_abs_diff=diff, tolerance=tolerance)
        reason = f"onnxruntime's features differ from Keras' by {diff:.2e} (tolerance " \
                 f"{tolerance:.1e})"
    path.unlink(missing_ok=True)
    return None, PrefixRun("keras", reason=reason)
