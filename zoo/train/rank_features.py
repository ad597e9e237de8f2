"""Frozen features at several cut points of one backbone, from one forward pass.

`zoo rank` scores every candidate cut point of a backbone on the user's data. The
network runs once, up to its deepest candidate: a Keras model with one output
per cut point gives every cut's features from that single pass. Feature maps are
global-average-pooled (over height and width, or over the sequence), which is
what a linear head on the cut sees after `GlobalAveragePooling`. The pooled
features are cached by the backbone's weights up to the deepest cut, its
revision and the data's sha256, so ranking again (another metric, more
candidates) runs no network.
"""

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock

from zoo.errors import LayerNotFound
from zoo.files import atomic_writer
from zoo.paths import cache_root
from zoo.train.feature_cache import graph_key

BATCH = 128


def pooled(features: np.ndarray) -> np.ndarray:
    """(N, …, C) features as (N, C): the mean over every axis between rows and channels."""
    features = np.asarray(features, dtype=np.float32)
    if features.ndim > 2:
        features = features.mean(axis=tuple(range(1, features.ndim - 1)))
    return features.reshape(len(features), -1)


def _path(key: str) -> Path:
    return cache_root() / "rank-features" / f"{key}.npz"


def features_key(model: Any, cuts: Sequence[str], revision: str | None, data_sha256: str
                 ) -> str:
    """The cache key: the weights and names up to the deepest cut, the cuts, the base
    revision and the data."""
    names = [layer.name for layer in model.layers]
    deepest = max(cuts, key=names.index)
    text = f"{graph_key(model, deepest, revision)}|{','.join(cuts)}|{data_sha256}"
    return hashlib.sha256(text.encode()).hexdigest()


def _cached(path: Path, cuts: Sequence[str], rows: int) -> dict[str, np.ndarray] | None:
    """Features saved by an earlier ranking, or None if missing, damaged or not what is
    asked (a cache file is checked, not trusted)."""
    try:
        with np.load(path, allow_pickle=False) as saved:
            found = {cut: saved[f"cut{i}"] for i, cut in enumerate(cuts)}
    except (OSError, ValueError, KeyError, EOFError):
        return None
    good = all(f.dtype == np.float32 and f.ndim == 2 and len(f) == rows
               and np.isfinite(f).all() for f in found.values())
    return found if good else None


def cut_features(model: Any, cuts: Sequence[str], x: np.ndarray, revision: str | None,
                 data_sha256: str) -> tuple[dict[str, np.ndarray], bool]:
    """Pooled features of `x` at each cut layer of `model`, from one pass through it
    (or from the cache: the second value says so)."""
    names = {layer.name for layer in model.layers}
    missing = [cut for cut in cuts if cut not in names]
    if missing:
        raise LayerNotFound(f"no layer {missing[0]!r} in {model.name} to cut at")
    path = _path(features_key(model, cuts, revision, data_sha256))
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path.with_suffix(".lock"))):
        if path.is_file() and (found := _cached(path, cuts, len(x))) is not None:
            return found, True
        found = one_pass(model, cuts, x)
        with atomic_writer(path) as handle:
            np.savez(handle, **{f"cut{i}": found[cut] for i, cut in enumerate(cuts)})
    return found, False


def output_in(model: Any, name: str) -> Any:
    """Layer `name`'s output in `model`'s own graph. A rebuilt backbone calls the base's
    layer objects again, so `layer.output` (their first call, in the base's graph) is
    not it: the call that belongs to this model is."""
    mine = {id(node) for nodes in model._nodes_by_depth.values() for node in nodes}
    layer = model.get_layer(name)
    calls = [node for node in layer._inbound_nodes if id(node) in mine]
    if len(calls) != 1:
        raise LayerNotFound(f"layer {name!r} is called {len(calls)} times in {model.name}; "
                            "name a layer called once to cut at")
    return calls[0].output_tensors[0]


def one_pass(model: Any, cuts: Sequence[str], x: np.ndarray) -> dict[str, np.ndarray]:
    """Every cut's pooled features from a single `predict` of a model with one output
    per cut."""
    import keras

    extractor = keras.Model(model.inputs[0], [output_in(model, cut) for cut in cuts])
    outputs = extractor.predict(x, batch_size=BATCH, verbose=0)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    return {cut: pooled(out) for cut, out in zip(cuts, outputs, strict=True)}
