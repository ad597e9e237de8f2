"""One export-and-parity check that every export test calls (after keras-hub's
`run_litert_export_test`): run the exported file in its own runtime against the
Keras model on the same inputs, and check that the card's record agrees.

The runtimes are driven here directly (onnxruntime, the LiteRT interpreter, a
reloaded SavedModel), not through `zoo.deploy.runtime`, so a fault in the zoo's
runners cannot hide behind the very code it would break.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from packages import card_json
from zoo.deploy.export import parity_inputs
from zoo.train.training import load_data_for

from zoo.package import load_model

BATCHES = (1, 7, 32)  # the batch dimension is dynamic in every export


@dataclass(frozen=True)
class Parity:
    """What the test measured, next to the card's record of the export."""

    max_abs_diff: float  # on the inputs the export was checked on
    top1_agreement: float | None  # on every held-out row, when there are rows
    record: dict


def run_export(path: Path) -> Any:
    """A callable that runs an exported file or folder on a float32 batch."""
    if path.suffix == ".onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        return lambda x: session.run(None, {name: x})[0]
    if path.suffix == ".tflite":
        from ai_edge_litert.interpreter import Interpreter

        interpreter = Interpreter(model_path=str(path))
        source, target = interpreter.get_input_details()[0], interpreter.get_output_details()[0]

        def run(x: np.ndarray) -> np.ndarray:
            interpreter.resize_tensor_input(source["index"], list(x.shape))
            interpreter.allocate_tensors()
            interpreter.set_tensor(source["index"], x.astype(source["dtype"]))
            interpreter.invoke()
            return interpreter.get_tensor(target["index"]).copy()

        return run
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))  # the closure keeps it: it owns the variables
    return lambda x: np.asarray(loaded.serve(tf.constant(x)))


def in_batches(run: Any, x: np.ndarray, batch: int = 64) -> np.ndarray:
    return np.concatenate([np.asarray(run(x[i:i + batch])) for i in range(0, len(x), batch)])


def assert_export_parity(package_dir: Path, key: str, data: Path | None = None,
                         tol: float = 1e-4, min_agreement: float = 1.0,
                         exported: Path | None = None) -> Parity:
    """The export `key` (e.g. "onnx", "tflite-int8", "savedmodel") of a package.

    A float export must match Keras within `tol` at every batch size; a quantized
    one (and any export given `data`) must agree with Keras on the top-1 class of
    at least `min_agreement` of the held-out rows. The card's recorded figures
    must be the ones measured here. `exported` runs a copy (e.g. `--out`) instead
    of the file the card names."""
    package_dir = Path(package_dir)
    record = card_json(package_dir)["exports"][key]
    run = run_export(exported or package_dir / record["path"])
    model = load_model(package_dir)
    rows = load_data_for(package_dir, data).x.astype(np.float32) if data else None
    x, _ = parity_inputs(model, rows, data)
    expected = np.asarray(model(x, training=False))
    quantized = "quantize" in record

    for batch in BATCHES:
        got = np.asarray(run(x[:batch]))
        assert got.shape == expected[:batch].shape, (key, batch)
        if not quantized:
            assert np.max(np.abs(got - expected[:batch])) <= tol, (key, batch)
    measured = float(np.max(np.abs(in_batches(run, x) - expected)))
    assert record["max_abs_diff"] == pytest.approx(measured, rel=0.1, abs=1e-7), key

    agreement = None
    if rows is not None:
        keras_top1 = np.argmax(model.predict(rows, verbose=0, batch_size=64), -1)
        agreement = float(np.mean(np.argmax(in_batches(run, rows), -1) == keras_top1))
        assert agreement >= min_agreement, (key, agreement)
        assert record["agreement_samples"] == len(rows), key
        # one row either way: Keras predict may round a near-tie differently from run to run
        assert record["top1_agreement"] == pytest.approx(agreement, abs=1.01 / len(rows)), key
    return Parity(measured, agreement, record)
