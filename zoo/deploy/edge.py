"""Edge formats: quantized ONNX (onnxruntime.quantization) and TFLite (the
TensorFlow Lite converter, run in the LiteRT interpreter).

Static QDQ int8 is calibrated on real data, and can keep its most sensitive nodes in
float (found with onnxruntime's QDQ debugging tools). Dynamic int8 is allowed only for
dense-only networks: on CNNs onnxruntime's ConvInteger kernels made inference
6-14x slower than fp32 on this project's CPU (shared/DESIGN.md).
"""

import contextlib
import io
import itertools
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from zoo.cards.card import LayerMap
from zoo.deploy.runtime import native_stderr_silenced, onnx_runner, predict_batched
from zoo.errors import ExportError

CALIBRATION_SAMPLES = 200
# The sensitive-node search: calibration rows after the first CALIBRATION_SAMPLES,
# held out from calibrating, judge it (none with fewer than MIN_HELD_OUT).
HELD_OUT, MIN_HELD_OUT, DEBUG_SAMPLES, MAX_FLOAT_NODES = 500, 50, 16, 4
INPUT_SQNR_DB = 100.0  # a graph input is exact before quantization
CONV_CLASSES = ("Conv", "Depthwise", "Separable")
QUANTIZER_NODES = ("QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear")


def has_convolutions(layer_map: LayerMap) -> bool:
    return any(any(c in layer.class_name for c in CONV_CLASSES) for layer in layer_map.layers)


@dataclass
class Int8Result:
    """How a static int8 ONNX export was made, for the card."""

    calibration_method: str
    calibration_samples: int
    float_nodes: list[str] = field(default_factory=list)  # kept in float, most sensitive first
    search_agreement: float | None = None  # on calibration rows held out from calibrating


def quantize_onnx(fp32: Path, target: Path, mode: str, calibration: np.ndarray | None,
                  method: str = "minmax", min_agreement: float | None = None) -> Int8Result | None:
    """fp32 ONNX → int8: dynamic, or static QDQ (per-channel int8 weights, uint8
    activations, for x86's fast U8S8 kernels).

    With `min_agreement`, static int8 that agrees with fp32 on fewer of the calibration
    rows held out from calibrating keeps its most sensitive nodes in float, one at a
    time (up to `MAX_FLOAT_NODES`): the node whose output loses the most signal to
    quantization noise over its inputs' (onnxruntime's QDQ debugging tools, on
    `DEBUG_SAMPLES` rows)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if mode == "int8-dynamic":
        quantize_dynamic(str(fp32), str(target), weight_type=QuantType.QInt8)
        compact_names(target)
        return None
    if calibration is None or not len(calibration):
        raise ExportError("static int8 needs real calibration data: pass --calibration DATA "
                          "(or --data)")
    rows = calibration.astype(np.float32)
    calibrate, held_out = rows[:CALIBRATION_SAMPLES], rows[CALIBRATION_SAMPLES:][:HELD_OUT]
    result = Int8Result(method, int(len(calibrate)))
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(fp32), str(prepared), skip_symbolic_shape=False)
        quantize_static_qdq(prepared, target, calibrate, method, result.float_nodes)
        if min_agreement is not None and len(held_out) >= MIN_HELD_OUT:
            _keep_sensitive_nodes_in_float(prepared, target, calibrate, held_out, min_agreement,
                                           result, Path(tmp))
    compact_names(target)  # last: the search matches fp32's tensor names
    return result


def _keep_sensitive_nodes_in_float(prepared: Path, target: Path, calibrate: np.ndarray,
                                   held_out: np.ndarray, min_agreement: float,
                                   result: Int8Result, tmp: Path) -> None:
    """Quantize `target` again, keeping one more node in float each time, until it
    agrees with fp32 on `min_agreement` of `held_out` or `MAX_FLOAT_NODES` are kept."""
    import onnx

    graph = onnx.load(str(prepared)).graph
    expected = np.argmax(predict_batched(onnx_runner(prepared), held_out), -1)
    for _ in range(MAX_FLOAT_NODES + 1):
        got = np.argmax(predict_batched(onnx_runner(target), held_out), -1)
        result.search_agreement = float(np.mean(got == expected))
        if result.search_agreement >= min_agreement or \
                len(result.float_nodes) == MAX_FLOAT_NODES:
            return
        sensitive = _most_sensitive(graph.node, prepared, target,
                                    _feeds(held_out[:DEBUG_SAMPLES], graph.input[0].name),
                                    set(result.float_nodes), tmp)
        if sensitive is None:
            return
        result.float_nodes.append(sensitive)
        quantize_static_qdq(prepared, target, calibrate, method=result.calibration_method,
                            float_nodes=result.float_nodes)


def compact_names(path: Path) -> None:
    """Give every tensor but the graph's inputs and outputs, and every node the quantizer
    added, a short name. The converter's names ("model/block_1/conv/Conv2D:0"), repeated
    for each quantize/dequantize pair, weigh more than the int8 weights of a small
    network. The other nodes keep theirs (the card names its float nodes). A graph with
    subgraphs, quantization annotations, sparse initializers, training info or external
    data, which refer to tensors by name or hold them elsewhere, is left as it is. The
    int8 names no longer match fp32's, so this runs after the sensitive-node search,
    which matches the two graphs' tensors by name."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    graph = model.graph
    if _names_tensors_elsewhere(model):
        return
    kept = {value.name for value in (*graph.input, *graph.output)}
    kept_nodes = {node.name for node in graph.node if node.op_type not in QUANTIZER_NODES}
    short: dict[str, str] = {}
    fresh = (f"t{n}" for n in itertools.count() if f"t{n}" not in kept)
    fresh_nodes = (f"q{n}" for n in itertools.count() if f"q{n}" not in kept_nodes)

    def renamed(name: str) -> str:
        if not name or name in kept:
            return name
        if name not in short:
            short[name] = next(fresh)
        return short[name]

    for tensor in (*graph.initializer, *graph.value_info):
        tensor.name = renamed(tensor.name)
    for node in graph.node:
        node.input[:] = [renamed(name) for name in node.input]
        node.output[:] = [renamed(name) for name in node.output]
        if node.op_type in QUANTIZER_NODES:
            node.name = next(fresh_nodes)
    onnx.save(model, str(path))


def _names_tensors_elsewhere(model: Any) -> bool:
    """Whether anything outside the main graph's nodes refers to its tensors by name
    (subgraphs, quantization annotations, training bindings) or holds them apart
    (sparse or external initializers)."""
    import onnx

    graph = model.graph
    subgraphs = (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
    return bool(graph.quantization_annotation or graph.sparse_initializer
                or model.training_info
                or any(t.data_location == onnx.TensorProto.EXTERNAL for t in graph.initializer)
                or any(a.type in subgraphs for node in graph.node for a in node.attribute))


def _feeds(rows: np.ndarray, name: str) -> list[dict[str, np.ndarray]]:
    """One input feed per row."""
    return [{name: rows[i:i + 1]} for i in range(len(rows))]


def _reader(model_path: Path, rows: np.ndarray) -> Any:
    """The rows as onnxruntime's calibrators read them, fed to the model's input."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader

    name = onnx.load(str(model_path), load_external_data=False).graph.input[0].name

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter(_feeds(rows, name))

        def get_next(self) -> dict | None:
            return next(self.batches, None)

    return Reader()


def quantize_static_qdq(prepared: Path, target: Path, rows: np.ndarray, method: str,
                        float_nodes: list[str], activations: str = "QUInt8",
                        weights: str = "QInt8") -> None:
    """Static QDQ quantization of `prepared` (quant_pre_process'd), calibrated on `rows`,
    per-channel weights; `activations` and `weights` name onnxruntime `QuantType`s
    (the zoo exports the defaults; bench/int8_ablation.py tries the others)."""
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    methods = {"minmax": CalibrationMethod.MinMax, "percentile": CalibrationMethod.Percentile,
               "entropy": CalibrationMethod.Entropy}
    # the histogram calibrators print their progress to stdout, which is the CLI's
    with native_stderr_silenced(), contextlib.redirect_stdout(io.StringIO()):
        quantize_static(str(prepared), str(target), _reader(prepared, rows),
                        quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType[activations], weight_type=QuantType[weights],
                        calibrate_method=methods[method], nodes_to_exclude=list(float_nodes),
                        extra_options={"CalibPercentile": 99.999})


def _most_sensitive(nodes: Any, prepared: Path, quantized: Path, feeds: list[dict],
                    skip: set[str], tmp: Path) -> str | None:
    """The node of `nodes` (the fp32 graph's; not in `skip`) whose output's
    signal-to-quantization-noise ratio against fp32 falls furthest below its inputs'."""
    from onnxruntime.quantization import qdq_loss_debug as debug

    activations = {}
    for label, path in (("float", prepared), ("qdq", quantized)):
        augmented = tmp / f"{label}-augmented.onnx"
        debug.modify_model_output_intermediate_tensors(str(path), str(augmented))
        activations[label] = debug.collect_activations(str(augmented), iter(feeds))
    matched = debug.create_activation_matching(activations["qdq"], activations["float"])
    # compute_activation_error reads match["float"]: only tensors both graphs have
    matched = {name: value for name, value in matched.items() if value.get("float")}
    sqnr = {name: value["xmodel_err"]
            for name, value in debug.compute_activation_error(matched).items()}
    best, worst_drop = None, 0.0
    for node in nodes:
        if node.name in skip or not node.output or node.output[0] not in sqnr:
            continue
        before = [sqnr[i] for i in node.input if i in sqnr]
        drop = (min(before) if before else INPUT_SQNR_DB) - sqnr[node.output[0]]
        if drop > worst_drop:
            best, worst_drop = node.name, drop
    return best


def to_tflite(model: Any, target: Path, mode: str | None,
              calibration: np.ndarray | None) -> None:
    """Keras → SavedModel → TFLite; float16 weights, or int8 (float input and output)."""
    import tensorflow as tf

    with tempfile.TemporaryDirectory() as tmp:
        model.export(tmp, format="tf_saved_model", verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp)
        if mode == "float16":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.target_spec.supported_types = [tf.float16]
        elif mode == "int8":
            if calibration is None or not len(calibration):
                raise ExportError("int8 TFLite needs real calibration data: pass --calibration "
                                  "DATA (or --data)")
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            samples = calibration[:CALIBRATION_SAMPLES].astype(np.float32)
            converter.representative_dataset = lambda: ([samples[i:i + 1]]
                                                        for i in range(len(samples)))
        with native_stderr_silenced():  # the converter's C++ logging
            flatbuffer = converter.convert()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(flatbuffer)
