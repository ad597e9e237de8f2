"""The frozen-feature cache: train only what trains.

When a derived model's frozen layers form a prefix of its graph (everything up
to a separator layer is frozen) and nothing random (augmentation, dropout,
noise) runs in that prefix, its output on the training data never changes. So
the prefix runs once, the features are cached on disk, and the trainable
suffix (the same layer objects) is trained on them. The same seed gives the
same batches and the same trainable weights as training the whole model
(tested). Phase 2 unfreezes part of the prefix, so it trains the full model.

Features are keyed by a digest of the prefix's weights and layer names, the
base revision and the data's sha256: a new base, another cut or freeze, or
other data never reuses stale features. The prefix runs in onnxruntime when its
graph converts and agrees with Keras (`zoo.train.onnx_prefix`).
"""

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from filelock import FileLock

from zoo.cards.card import FeatureCacheRecord
from zoo.cards.layer_map import separator_names
from zoo.files import atomic_writer
from zoo.paths import cache_root
from zoo.train.onnx_prefix import PrefixRun, onnx_features

RANDOM_CLASSES = ("Random", "Dropout", "Gaussian", "Noise")


def _is_random(layer: Any) -> bool:
    return any(marker in type(layer).__name__ for marker in RANDOM_CLASSES)


def frozen_prefix(model: Any) -> str | None:
    """The deepest separator layer up to which every layer is frozen and
    deterministic, with weights somewhere before it; None if there is none."""
    separators = set(separator_names(model))
    best, weighted = None, False
    for layer in model.layers:
        if type(layer).__name__ == "InputLayer":
            continue
        if (layer.trainable and layer.weights) or _is_random(layer):
            break
        weighted = weighted or bool(layer.weights)
        if weighted and layer.name in separators:
            best = layer.name
    return best


def graph_key(model: Any, prefix: str, base_revision: str | None) -> str:
    """A digest of the prefix's layer names and weights and the base revision: the
    prefix's ONNX graph is the same for any data."""
    digest = hashlib.sha256()
    names = [layer.name for layer in model.layers]
    for layer in model.layers[: names.index(prefix) + 1]:
        digest.update(layer.name.encode())
        for weight in layer.weights:
            digest.update(np.ascontiguousarray(weight.numpy()).tobytes())
    digest.update(f"{base_revision}".encode())
    return digest.hexdigest()


def cache_key(graph: str, data_sha256: str) -> str:
    """The features' key: the prefix's graph key and the data's sha256."""
    return hashlib.sha256(f"{graph}|{data_sha256}".encode()).hexdigest()


def _cached(path: Path, shape: tuple[int | None, ...]) -> np.ndarray | None:
    """Features saved by an earlier run, or None if missing or not a finite float32 array
    of `shape` (None: any size) (a damaged or foreign cache file is recomputed, not
    trusted)."""
    try:
        features = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    ok = isinstance(features, np.ndarray) and features.dtype == np.float32 \
        and len(features.shape) == len(shape) \
        and all(want in (None, got) for want, got in zip(shape, features.shape)) \
        and np.isfinite(features).all()
    return features if ok else None


def prefix_features(model: Any, prefix: str, x: np.ndarray, graph: str, key: str
                    ) -> tuple[np.ndarray, FeatureCacheRecord]:
    """The prefix's output on x: from the cache if present, else from its ONNX graph in
    onnxruntime (checked against Keras), else from Keras; and how it was computed."""
    path = cache_root() / "features" / f"{key}.npy"
    cut = model.get_layer(prefix).output
    shape = (len(x), *cut.shape[1:])
    # One process computes them: workers sharing this cache wait and read its result.
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path.with_suffix(".lock"))):
        if path.is_file() and (features := _cached(path, shape)) is not None:
            return features, FeatureCacheRecord(prefix=prefix, key=key, graph=graph, hit=True)
        features, run = _computed(model, cut, x, graph, path)
    return features, FeatureCacheRecord(
        prefix=prefix, key=key, graph=graph, hit=False, runtime=run.runtime,
        graph_hit=run.graph_hit, check_samples=run.check_samples,
        max_abs_diff=run.max_abs_diff, tolerance=run.tolerance, reason=run.reason)


def _computed(model: Any, cut: Any, x: np.ndarray, graph: str, path: Path
              ) -> tuple[np.ndarray, PrefixRun]:
    """Features computed now (see `prefix_features`) and saved to `path`."""
    import keras

    extractor = keras.Model(model.inputs[0], cut)
    features, run = onnx_features(extractor, x, graph)
    if features is None:
        features = np.asarray(extractor.predict(x, verbose=0, batch_size=128))
    features = features.astype(np.float32, copy=False)
    with atomic_writer(path) as handle:
        np.save(handle, features)
    return features, run


def suffix_model(model: Any, prefix: str) -> Any:
    """The layers after `prefix`, fed from a features input (shared weights)."""
    import keras

    cut = model.get_layer(prefix).output
    features = keras.Input(tuple(cut.shape[1:]), name="features")
    outputs = keras.Model(cut, model.outputs[0]).call(features)
    return keras.Model(features, outputs, name=f"{model.name}_suffix")
