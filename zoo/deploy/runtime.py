"""Running exported models without TensorFlow: onnxruntime and the LiteRT
interpreter, with numpy only. `zoo predict` and every parity check use these
runners, so what is measured is what runs on the device."""

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from zoo.errors import ZooError

Runner = Callable[[np.ndarray], np.ndarray]
BUNDLE_FILE = "bundle.json"  # a deploy bundle's manifest (see zoo.deploy.bundle)


def onnxruntime_errors() -> tuple[type[BaseException], ...]:
    """What onnxruntime raises for a graph it will not load or run: its own classes,
    which derive from Exception, not RuntimeError."""
    from onnxruntime.capi import onnxruntime_pybind11_state as state

    names = ("Fail", "InvalidArgument", "InvalidProtobuf", "InvalidGraph", "NoSuchFile",
             "NoModel", "RuntimeException", "NotImplemented")
    return tuple(getattr(state, name) for name in names if hasattr(state, name))


def onnx_runner(path: Path) -> Runner:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(str(path), options,
                                           providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name

    def run(x: np.ndarray) -> np.ndarray:
        return session.run(None, {name: x.astype(np.float32)})[0]

    return run


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """LiteRT's C++ runtime prints an INFO line on stderr; keep the CLI's stderr clean."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def tflite_runner(path: Path) -> Runner:
    from ai_edge_litert.interpreter import Interpreter

    with native_stderr_silenced():
        interpreter = Interpreter(model_path=str(path))
        interpreter.allocate_tensors()
    source = interpreter.get_input_details()[0]
    target = interpreter.get_output_details()[0]
    state = {"batch": None}

    def run(x: np.ndarray) -> np.ndarray:
        if state["batch"] != len(x):
            interpreter.resize_tensor_input(source["index"], [len(x), *x.shape[1:]])
            interpreter.allocate_tensors()
            state["batch"] = len(x)
        interpreter.set_tensor(source["index"], x.astype(source["dtype"]))
        interpreter.invoke()
        return interpreter.get_tensor(target["index"]).copy()

    return run


def runner_for(path: Path) -> Runner:
    path = Path(path)
    if path.suffix == ".onnx":
        return onnx_runner(path)
    if path.suffix == ".tflite":
        return tflite_runner(path)
    raise ZooError(f"{path}: no runtime for this file (use .onnx or .tflite)")


def predict_batched(run: Runner, x: np.ndarray, batch: int = 64) -> np.ndarray:
    return np.concatenate([run(x[i:i + batch]) for i in range(0, len(x), batch)])


def latency_ms(run: Runner, sample: np.ndarray, batch: int, repeats: int = 20) -> float:
    """Median wall time of one call at this batch size, after a warm-up."""
    x = np.repeat(sample[:1], batch, axis=0)
    run(x)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run(x)
        times.append(time.perf_counter() - started)
    return float(np.median(times) * 1000)
