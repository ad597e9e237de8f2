"""Edge formats: quantized ONNX (onnxruntime.quantization) and TFLite (the
TensorFlow Lite converter, run in the LiteRT interpreter).

Static int8 (QDQ ONNX, full-integer TFLite) is calibrated on real data and made by a
recipe that climbs until it agrees with float on held-out rows: per-channel weights,
then GPTQ-rounded convolution weights (zoo.deploy.gptq, zoo.deploy.tflite_gptq), then,
for ONNX, its most sensitive nodes kept in float (found with onnxruntime's QDQ
debugging tools). Dynamic int8 is allowed only for dense-only networks: on CNNs
onnxruntime's ConvInteger kernels made inference 6-14x slower than fp32 on this
project's CPU (shared/DESIGN.md).
"""

import contextlib
import io
import itertools
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from zoo.cards.card import LayerMap
from zoo.deploy.runtime import native_stderr_silenced, onnx_runner, predict_batched
from zoo.errors import ExportError

CALIBRATION_SAMPLES, MIN_CALIBRATION_SAMPLES = 200, 16
# The int8 recipe: calibration rows after the first CALIBRATION_SAMPLES, held out from
# calibrating, judge its steps (none with fewer than MIN_HELD_OUT).
HELD_OUT, MIN_HELD_OUT, DEBUG_SAMPLES, MAX_FLOAT_NODES = 500, 50, 16, 4
GPTQ_SAMPLES = 128  # calibration rows whose layer inputs GPTQ rounds the weights for
INPUT_SQNR_DB = 100.0  # a graph input is exact before quantization
CONV_CLASSES = ("Conv", "Depthwise", "Separable")
QUANTIZER_NODES = ("QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear")


def calibration_rows(calibration: np.ndarray | None, what: str) -> np.ndarray:
    """The calibration rows as float32, refused when there are too few to set a range."""
    if calibration is None or not len(calibration):
        raise ExportError(f"{what} needs real calibration data: pass --calibration DATA "
                          "(or --data)")
    if len(calibration) < MIN_CALIBRATION_SAMPLES:
        raise ExportError(f"{what} needs at least {MIN_CALIBRATION_SAMPLES} calibration rows "
                          f"to set its ranges; the calibration data has {len(calibration)}")
    return calibration.astype(np.float32)


def has_convolutions(layer_map: LayerMap) -> bool:
    return any(any(c in layer.class_name for c in CONV_CLASSES) for layer in layer_map.layers)


@dataclass
class Int8Result:
    """How a static int8 export (ONNX or TFLite) was made, for the card."""

    calibration_method: str | None  # onnxruntime's calibrator (None: the TFLite converter's)
    calibration_samples: int
    steps: list[str] = field(default_factory=list)  # the recipe's steps that ran, in order
    float_nodes: list[str] = field(default_factory=list)  # kept in float, most sensitive first
    held_out_agreement: float | None = None  # on calibration rows held out from calibrating
    held_out_samples: int = 0
    best_agreement: float = -1.0  # the best held-out agreement of any step, and that step
    best_step: str | None = None


def quantize_onnx(fp32: Path, target: Path, mode: str, calibration: np.ndarray | None,
                  method: str = "minmax", min_agreement: float | None = None,
                  last_step: str = "float-nodes",
                  data: np.ndarray | None = None) -> Int8Result | None:
    """fp32 ONNX → int8: dynamic, or static QDQ (per-channel int8 weights, uint8
    activations, for x86's fast U8S8 kernels).

    Static int8 climbs `INT8_STEPS` until it agrees with fp32 on `min_agreement` of the
    calibration rows held out from calibrating, and stops at the first step that does:
    per-channel weights in a 7-bit range (onnxruntime's `reduce_range`: x86 CPUs
    without VNNI add u8×s8 products in saturating 16-bit pairs, which full-range int8
    weights overflow); then the convolutions' weights rounded with GPTQ
    (zoo.deploy.gptq); then the most sensitive nodes kept in float, one at a time (up to
    `MAX_FLOAT_NODES`): the node whose output loses the most signal to quantization
    noise over its inputs' (onnxruntime's QDQ debugging tools, on `DEBUG_SAMPLES` rows).
    A step holds when the `data` rows (the export's own held-out rows, when given)
    agree as well: calibration rows are often training rows, on which a fine-tuned
    head is surer of itself than on new data. Without `min_agreement`, or without
    enough held-out rows to judge, it takes the first two steps. It takes none past
    `last_step` (bench/int8_real.py measures each)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if mode == "int8-dynamic":
        quantize_dynamic(str(fp32), str(target), weight_type=QuantType.QInt8)
        compact_names(target)
        return None
    calibrate, held_out = _split(calibration_rows(calibration, "static int8"))
    result = Int8Result(method, int(len(calibrate)))
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(fp32), str(prepared), skip_symbolic_shape=False)
        judge = _Judge(onnx_runner(prepared), held_out, data, min_agreement, result)
        _Climb(prepared, target, calibrate, judge, INT8_STEPS.index(last_step), result,
               Path(tmp)).run()
    compact_names(target)  # last: the search matches fp32's tensor names
    return result


def _split(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Calibration rows: the first CALIBRATION_SAMPLES calibrate, the next HELD_OUT
    judge the recipe."""
    return rows[:CALIBRATION_SAMPLES], rows[CALIBRATION_SAMPLES:][:HELD_OUT]


class _Judge:
    """Top-1 agreement with the float model (ONNX or TFLite) on the calibration rows
    held out from calibrating, recorded in the result, and on the export's own `data`
    rows when given; nothing holds without enough held-out rows (MIN_HELD_OUT) or
    without a bar."""

    def __init__(self, float_run: Any, held_out: np.ndarray, data: np.ndarray | None,
                 min_agreement: float | None, result: Int8Result) -> None:
        self.judging = min_agreement is not None and len(held_out) >= MIN_HELD_OUT
        self.held_out, self.min_agreement, self.result = held_out, min_agreement, result
        self.data = data if self.judging and data is not None and len(data) else None
        top1 = lambda rows: np.argmax(predict_batched(float_run, rows), -1)  # noqa: E731
        self.expected = (top1(held_out), None if self.data is None else top1(self.data)) \
            if self.judging else None

    def holds(self, run: Any) -> bool:
        """Whether `run`, the model the last of the result's steps made, agrees well
        enough on both; the held-out agreement is recorded, and the best so far with
        its step."""
        if not self.judging:
            return False
        got = np.argmax(predict_batched(run, self.held_out), -1)
        agreement = float(np.mean(got == self.expected[0]))
        self.result.held_out_agreement, self.result.held_out_samples = agreement, len(got)
        if agreement > self.result.best_agreement:
            self.result.best_agreement, self.result.best_step = agreement, \
                self.result.steps[-1]
        if agreement < self.min_agreement or self.data is None:
            return agreement >= self.min_agreement
        on_data = np.argmax(predict_batched(run, self.data), -1)
        return float(np.mean(on_data == self.expected[1])) >= self.min_agreement


INT8_STEPS = ("per-channel", "gptq", "float-nodes")


@dataclass
class _Climb:
    """The static int8 ONNX recipe, one step at a time, judged on the held-out rows."""

    prepared: Path
    target: Path
    calibrate: np.ndarray
    judge: _Judge
    last: int  # the index in INT8_STEPS of the last step allowed
    result: Int8Result
    tmp: Path
    hessians: dict = field(default_factory=dict)
    float_model: Any = None  # `prepared`, loaded once

    def run(self) -> None:
        self.result.steps.append("per-channel")
        self._quantize()
        if self._holds() or self.last < 1:
            return
        import onnx

        from zoo.deploy import gptq

        self.float_model = onnx.load(str(self.prepared))
        self.hessians = gptq.hessians(self.prepared, self.calibrate[:GPTQ_SAMPLES])
        if gptq.round_weights(self.float_model, self.target, self.hessians):
            self.result.steps.append("gptq")
            if self._holds():
                return
        if not self.judge.judging or self.last < 2:
            return
        graph = self.float_model.graph
        while len(self.result.float_nodes) < MAX_FLOAT_NODES:
            sensitive = _most_sensitive(graph.node, self.prepared, self.target,
                                        _feeds(self.judge.held_out[:DEBUG_SAMPLES],
                                               graph.input[0].name),
                                        set(self.result.float_nodes), self.tmp)
            if sensitive is None:
                return
            if not self.result.float_nodes:
                self.result.steps.append("float-nodes")
            self.result.float_nodes.append(sensitive)
            self._quantize()
            if self._holds():
                return

    def _quantize(self) -> None:
        """Quantize with the float nodes chosen so far, GPTQ-rounded once it has run."""
        quantize_static_qdq(self.prepared, self.target, self.calibrate,
                            self.result.calibration_method, self.result.float_nodes)
        if "gptq" in self.result.steps:
            from zoo.deploy import gptq

            gptq.round_weights(self.float_model, self.target, self.hessians)

    def _holds(self) -> bool:
        return self.judge.holds(onnx_runner(self.target))


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
                        weights: str = "QInt8", reduce_range: bool = True) -> None:
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
                        reduce_range=reduce_range,
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


@contextlib.contextmanager
def saved_model(model: Any) -> Iterator[Path]:
    """The Keras model exported once as a SavedModel, in a temporary folder, for the
    TFLite converter to convert as many times as an export needs."""
    with tempfile.TemporaryDirectory() as tmp:
        model.export(tmp, format="tf_saved_model", verbose=False)
        yield Path(tmp)


def to_tflite(source: Path, target: Path, mode: str | None,
              calibration: np.ndarray | None) -> None:
    """SavedModel (`saved_model`) → TFLite; float16 weights, or int8 (float input and
    output), calibrated on the first CALIBRATION_SAMPLES rows of `calibration`."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(str(source))
    if mode == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif mode == "int8":
        samples = calibration_rows(calibration, "int8 TFLite")[:CALIBRATION_SAMPLES]
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([samples[i:i + 1]]
                                                    for i in range(len(samples)))
    with native_stderr_silenced():  # the converter's C++ logging
        flatbuffer = converter.convert()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(flatbuffer)


def quantize_tflite(source: Path, float_path: Path, target: Path,
                    calibration: np.ndarray | None, min_agreement: float | None = None,
                    data: np.ndarray | None = None) -> Int8Result:
    """Full-integer int8 TFLite (per-channel weights, float input and output) from the
    TFLite converter, of the SavedModel `source` that made `float_path`; when it agrees
    with the float TFLite model on fewer than `min_agreement` of the calibration rows
    held out from calibrating, or of the `data` rows (as `quantize_onnx` judges), or
    there are none to judge on, its convolutions' weights are rounded again with GPTQ
    (zoo.deploy.tflite_gptq)."""
    from zoo.deploy.runtime import tflite_runner
    from zoo.deploy.tflite_gptq import round_tflite_weights

    calibrate, held_out = _split(calibration_rows(calibration, "int8 TFLite"))
    result = Int8Result(None, len(calibrate), steps=["per-channel"])
    to_tflite(source, target, "int8", calibrate)
    judge = _Judge(tflite_runner(float_path), held_out, data, min_agreement, result)
    if not judge.holds(tflite_runner(target)):
        rounded, layers = round_tflite_weights(float_path, target.read_bytes(),
                                               calibrate[:GPTQ_SAMPLES])
        if layers:
            target.write_bytes(rounded)
            result.steps.append("gptq")
            judge.holds(tflite_runner(target))
    return result
