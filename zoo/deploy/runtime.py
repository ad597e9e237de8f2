"""Running exported models without TensorFlow: onnxruntime and the LiteRT
interpreter, with numpy only. `zoo predict` and every parity check use these
runners, so what is measured is what runs on the device."""

import contextlib
import functools
import os
import posixpath
import sys
import time
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from zoo.errors import IntegrityError, UnsafeModelError, UnsafePathError, ZooError
from zoo.trust.repo_paths import check_repo_path

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


RUNNERS: dict[str, Callable[[Path], Runner]] = {".onnx": onnx_runner,
                                                ".tflite": tflite_runner}


def runner_for(path: Path) -> Runner:
    path = Path(path)
    if path.suffix not in RUNNERS:
        raise ZooError(f"{path}: no runtime for this file (use .onnx or .tflite)")
    return RUNNERS[path.suffix](path)


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


# --- what a bundle's ONNX file may ask of onnxruntime ---------------------------------

@functools.cache
def builtin_domains() -> frozenset[str]:
    """The operator domains ONNX defines and the installed onnxruntime implements
    itself (its contrib ops among them), read from their own registries; any other
    domain is a custom op that needs a library loaded into the process."""
    import onnx
    from onnxruntime.capi import onnxruntime_pybind11_state as state

    return frozenset({"ai.onnx"} | {schema.domain for schema in
                                    onnx.defs.get_all_schemas_with_history()}
                     | {schema.domain for schema in state.get_all_operator_schema()})


def _subgraphs(graph: Any) -> Iterator[Any]:
    """`graph` and every graph nested in its nodes' attributes (If, Loop, Scan)."""
    pending = [graph]
    while pending:
        current = pending.pop()
        yield current
        for node in current.node:
            for attribute in node.attribute:
                if attribute.HasField("g"):
                    pending.append(attribute.g)
                pending.extend(attribute.graphs)


def _tensors(graph: Any) -> Iterator[Any]:
    """Every tensor a graph holds: initializers (sparse ones too) and attribute values."""
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield from (sparse.values, sparse.indices)
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.HasField("t"):
                yield attribute.t
            yield from attribute.tensors
            if attribute.HasField("sparse_tensor"):
                yield from (attribute.sparse_tensor.values, attribute.sparse_tensor.indices)


def check_onnx_file(path: Path, name: str, files: Collection[str]) -> Any:
    """The parsed graph of the ONNX file `name` of a bundle (at `path`), after refusing
    in one line what onnxruntime would follow out of the bundle or cannot run by itself:
    external data whose location is not one of the bundle's `files` (each hashed in its
    manifest), and operators or functions of a custom domain. Nothing is loaded."""
    import onnx
    from google.protobuf.message import DecodeError

    try:
        model = onnx.load(str(path), load_external_data=False)
    except (DecodeError, ValueError, OSError, RuntimeError) as exc:
        raise IntegrityError(f"{path}: not an ONNX model ({str(exc)[:120]})") from exc
    # the domains of what runs: every node's, in subgraphs and model-local functions
    # too (an opset import that no node uses asks for nothing; quantizers add some)
    graphs = list(_subgraphs(model.graph))
    domains = {function.domain for function in model.functions}
    domains |= {node.domain for function in model.functions for node in function.node}
    domains |= {node.domain for graph in graphs for node in graph.node}
    if custom := sorted(domains - builtin_domains()):
        raise UnsafeModelError(f"{path}: uses the custom operator domain {custom[0][:80]!r}; "
                               "a bundle may use only ONNX's and onnxruntime's own operators")
    folder = posixpath.dirname(name)
    for graph in graphs:
        for tensor in _tensors(graph):
            if tensor.data_location != onnx.TensorProto.EXTERNAL:
                continue
            location = next((entry.value for entry in tensor.external_data
                             if entry.key == "location"), "")
            try:
                check_repo_path(location)
            except UnsafePathError:
                raise UnsafeModelError(f"{path}: tensor {tensor.name[:80]!r} keeps its data "
                                       f"at {location[:120]!r}, outside the bundle") from None
            if posixpath.join(folder, location) not in files:
                raise UnsafeModelError(f"{path}: tensor {tensor.name[:80]!r} keeps its data in "
                                       f"{location[:120]!r}, which is not a file of the bundle")
    if not model.graph.input:
        raise IntegrityError(f"{path}: an ONNX graph with no input")
    return model


def onnx_input_shape(model: Any) -> list[int | None]:
    """The declared shape of a parsed ONNX model's first input, after the batch; None
    for a dimension it leaves open."""
    dims = model.graph.input[0].type.tensor_type.shape.dim[1:]
    return [d.dim_value if d.HasField("dim_value") else None for d in dims]
