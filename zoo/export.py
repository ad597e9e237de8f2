"""Exports with a parity check: every exported file is run (onnxruntime, a
reloaded SavedModel) against the Keras model on the same inputs, and the max
abs difference goes into the card; above tolerance the export is refused and
the package is left as it was."""

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from zoo.cards.card import MODEL_FILE
from zoo.cards.digest import sha256_file
from zoo.datasets import load_table
from zoo.errors import ExportError
from zoo.package import card_path, load_model, read_verified_card, seal, updated_package

FORMATS = ("onnx", "savedmodel")
DEFAULT_TOLERANCE = 1e-4
ONNX_OPSET = 17  # tf2onnx 1.17 does not support 19
PARITY_SAMPLES = 32
INPUT_NAME = "input"


def parity_inputs(model: Any, data: Path | None) -> tuple[np.ndarray, str]:
    """Real rows from `data` if given, else seeded random inputs of the model's shape."""
    shape = tuple(model.inputs[0].shape[1:])
    if data is not None:
        x = load_table(data).x[:PARITY_SAMPLES].astype(np.float32)
        if x.shape[1:] != shape:
            raise ExportError(f"{data}: samples have shape {x.shape[1:]}, the model takes {shape}")
        return x, f"{len(x)} rows of {Path(data).name}"
    rng = np.random.default_rng(0)
    return rng.normal(size=(PARITY_SAMPLES, *shape)).astype(np.float32), \
        f"{PARITY_SAMPLES} seeded random-normal samples"


def _onnx(model: Any, path: Path, x: np.ndarray, metadata: dict[str, str]) -> np.ndarray:
    import onnx
    import onnxruntime
    import tensorflow as tf
    import tf2onnx

    spec = (tf.TensorSpec((None, *x.shape[1:]), tf.float32, name=INPUT_NAME),)
    function = tf.function(lambda inputs: model(inputs, training=False))
    proto, _ = tf2onnx.convert.from_function(function, input_signature=spec, opset=ONNX_OPSET)
    onnx.helper.set_model_props(proto, metadata)
    onnx.checker.check_model(proto)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(proto, path)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def _savedmodel(model: Any, path: Path, x: np.ndarray) -> np.ndarray:
    import tensorflow as tf

    model.export(str(path), format="tf_saved_model", verbose=False)
    reloaded = tf.saved_model.load(str(path))
    return np.asarray(reloaded.serve(tf.constant(x)))


def _export_and_run(model: Any, fmt: str, target: Path, x: np.ndarray, card: dict,
                    package_dir: Path) -> np.ndarray:
    if fmt == "savedmodel":
        return _savedmodel(model, target, x)
    metadata = {"zoo.name": card["name"], "zoo.version": card["version"],
                "zoo.license": card["license"],
                "zoo.card_sha256": sha256_file(card_path(package_dir)),
                "zoo.model_sha256": card["files"][MODEL_FILE],
                "zoo.lineage": json.dumps(card.get("lineage") or {}, sort_keys=True)}
    return _onnx(model, target, x, metadata)


def export_package(package_dir: Path, fmt: str, *, tolerance: float = DEFAULT_TOLERANCE,
                   data: Path | None = None, out: Path | None = None) -> dict:
    """Export into the package's exports/ folder, parity-checked; optionally copy to `out`."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format '{fmt}' (one of {', '.join(FORMATS)})")
    card = read_verified_card(package_dir)
    model = load_model(package_dir)
    x, described = parity_inputs(model, data)
    expected = np.asarray(model(x, training=False))
    relative = "exports/model.onnx" if fmt == "onnx" else "exports/saved_model"
    with updated_package(package_dir) as staging:
        target = staging / relative
        if target.exists():
            shutil.rmtree(target) if target.is_dir() else target.unlink()
        try:
            got = _export_and_run(model, fmt, target, x, card, package_dir)
        except (ValueError, TypeError, KeyError, RuntimeError, NotImplementedError) as exc:
            raise ExportError(f"{fmt} export failed: {str(exc).splitlines()[0][:300]}") from exc
        diff = float(np.max(np.abs(np.asarray(got) - expected)))
        if not diff <= tolerance:
            raise ExportError(f"{fmt} export differs from Keras by {diff:.2e} (tolerance "
                              f"{tolerance:.0e}); nothing was written")
        size = sum(p.stat().st_size for p in target.rglob("*") if p.is_file()) \
            if target.is_dir() else target.stat().st_size
        entry = {"path": relative, "max_abs_diff": diff, "tolerance": tolerance,
                 "parity_inputs": described, "size_bytes": size}
        if fmt == "onnx":
            entry["opset"] = ONNX_OPSET
        card.setdefault("exports", {})[fmt] = entry
        seal(staging, card)
    if out is not None:
        source = Path(package_dir) / relative
        out = Path(out)
        if source.is_dir():
            shutil.copytree(source, out, dirs_exist_ok=True)
        else:
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, out)
    return entry
