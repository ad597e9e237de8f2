"""Exports with a parity check: every exported file is run (onnxruntime, the
LiteRT interpreter, a reloaded SavedModel) against the Keras model on the same
inputs, and the figures go into the card. A float export above tolerance, or a
quantized one whose top-1 agreement with Keras falls below the threshold, is
refused and the package left as it was. Quantized exports also record size and
latency next to their float baseline, and say so when they are slower."""

import contextlib
import json
import logging
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from zoo.cards.card import Card, ExportRecord
from zoo.cards.digest import sha256_file
from zoo.data.datasets import load_for_input
from zoo.deploy.edge import (
    Int8Result,
    has_convolutions,
    quantize_onnx,
    quantize_tflite,
    saved_model,
    to_tflite,
)
from zoo.deploy.onnx_graph import (
    collected_between_passes,
    depthwise_for_export,
    keep_zero_pads_before_max_pool,
    register_erfc,
    tf2onnx_optimizers_off,
)
from zoo.deploy.runtime import (
    Runner,
    latency_ms,
    onnx_runner,
    onnxruntime_errors,
    predict_batched,
    tflite_runner,
)
from zoo.deploy.settings import (
    DEFAULT_MIN_AGREEMENT,
    DEFAULT_TOLERANCE,
    FORMATS,
    QUANTIZE,
    check_min_agreement,
    check_tolerance,
    export_key,
    export_path,
)
from zoo.errors import ExportError
from zoo.files import place_file, place_tree
from zoo.package import card_path, load_model, read_verified_card, seal, updated_package
from zoo.tensors import batch_rows

ONNX_OPSET = 17  # tf2onnx 1.17 does not support 19
PARITY_SAMPLES = 32
INPUT_NAME = "input"
# Above this much weight, freezing it into the graph would take most of a machine:
# freezing, TensorFlow's grappler and tf2onnx hold ~30 copies of it between them
# (ConvNeXtBase's 350 MB: 9.1 GB peak). Such a model converts with its weights as
# graph inputs (`_weights_as_inputs`), ConvNeXtLarge and XLarge among the 40.
FROZEN_WEIGHTS_LIMIT = 512 * 2**20
ONNX_PROTO_LIMIT = 2**31 - 2**24  # protobuf's 2 GiB, less room for the graph itself


def _labelled(model: Any, data: Path | None, label_names: list[str] | None = None
              ) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The rows of `data` as float32 and their labels, numbered in the package's own
    label order when it has one (None without data)."""
    if data is None:
        return None, None
    table = load_for_input(Path(data), tuple(model.inputs[0].shape[1:]), None, label_names)
    return table.x.astype(np.float32), np.asarray(table.y)


def _rows(model: Any, data: Path | None) -> np.ndarray | None:
    return _labelled(model, data)[0]


def parity_inputs(model: Any, rows: np.ndarray | None, data: Path | None
                  ) -> tuple[np.ndarray, str]:
    """Real rows if given, else seeded random inputs of the model's shape."""
    if rows is not None:
        return rows[:PARITY_SAMPLES], f"{min(len(rows), PARITY_SAMPLES)} rows of {data.name}"
    shape = tuple(model.inputs[0].shape[1:])
    # bounded before allocating (an open dimension, which rng.normal refuses, counts 1)
    count = batch_rows([d or 1 for d in shape], "the model's input", PARITY_SAMPLES)
    rng = np.random.default_rng(0)
    return rng.normal(size=(count, *shape)).astype(np.float32), \
        f"{count} seeded random-normal samples"


@contextlib.contextmanager
def tf_warnings_quiet() -> Iterator[None]:
    """Freezing and tf2onnx call TF1 helpers whose deprecation notices go to the
    "tensorflow" Python logger, which TF_CPP_MIN_LOG_LEVEL does not quiet."""
    tf_logger = logging.getLogger("tensorflow")
    level = tf_logger.level
    tf_logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        tf_logger.setLevel(level)


def to_onnx(model: Any, path: Path, shape: tuple, metadata: dict[str, str],
            optimize: bool = True, weights_as_inputs: bool | None = None) -> None:
    """Keras → TensorFlow graph → ONNX, with one input (`INPUT_NAME`, dynamic batch).
    `optimize=False` skips tf2onnx's own graph optimizers (most of the conversion's time;
    onnxruntime makes the same fusions when it loads the graph), for graphs the zoo
    runs itself rather than ships.

    The graph is frozen here and handed to tf2onnx by name, not through
    `tf2onnx.convert.from_function`: that takes every non-resource tensor of
    `ConcreteFunction.inputs` for a model input, and TensorFlow appends to those the
    Const ops it makes for small captured eager tensors (up to 128 elements). A layer
    that keeps tensors rather than variables (Keras 3 `Normalization`: the mean and
    variance of EfficientNet and EfficientNetV2) then came out as extra ONNX inputs
    with no value, which onnxruntime refuses to run without.

    A model with more than `FROZEN_WEIGHTS_LIMIT` of weights (or `weights_as_inputs`)
    is converted with its weights as graph inputs, which become initializers afterwards
    (`_weights_as_inputs`): freezing them into the graph costs ~30 copies of them.

    Depthwise convolutions written as `Conv2D(groups=C)` (ConvNeXt) are traced as
    `DepthwiseConv2D`, tf2onnx learns `Erfc` (exact GELU), the graph copies its
    optimizer discards are collected as it goes, and zero padding before a max pool is
    kept from onnxruntime's PadFusion: see `onnx_graph`."""
    import onnx

    register_erfc()
    model = depthwise_for_export(model)
    size = weight_bytes(model)
    if size > ONNX_PROTO_LIMIT:
        raise ValueError(f"{size / 2**30:.1f} GiB of weights: over ONNX's 2 GiB file limit "
                         "(the zoo does not write ONNX external data)")
    if weights_as_inputs is None:
        weights_as_inputs = size > FROZEN_WEIGHTS_LIMIT
    proto = _weights_as_inputs(model, shape) if weights_as_inputs \
        else _frozen(model, shape, optimize)
    declared = [i.name for i in proto.graph.input]
    if declared != [INPUT_NAME]:
        raise ValueError(f"the ONNX graph asks for inputs {declared}, expected ['{INPUT_NAME}']")
    keep_zero_pads_before_max_pool(proto)
    onnx.helper.set_model_props(proto, metadata)
    onnx.checker.check_model(proto)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(proto, path)


def weight_bytes(model: Any) -> int:
    """The bytes of all the model's variables, trainable or not."""
    return sum(int(np.prod(v.shape)) * np.dtype(v.dtype).itemsize for v in model.variables)


def _converted(frozen: Any, name: str, optimize: bool) -> Any:
    """tf2onnx on a frozen concrete function: its first input becomes `INPUT_NAME`."""
    import tf2onnx

    inputs = _tensor_names(frozen.inputs)
    outputs = _tensor_names(frozen.outputs)
    passes = collected_between_passes() if optimize else tf2onnx_optimizers_off()
    with passes, tf_warnings_quiet():
        proto, _ = tf2onnx.convert.from_graph_def(
            frozen.graph.as_graph_def(add_shapes=True), name=name,
            input_names=inputs, output_names=outputs, opset=ONNX_OPSET,
            tensors_to_rename={inputs[0]: INPUT_NAME})
    return proto


def _tensor_names(tensors: Any) -> list[str]:
    """A concrete function's input or output names, its captured variables left out."""
    import tensorflow as tf

    return [t.name for t in tensors if t.dtype != tf.resource]


def _freeze(concrete: Any) -> Any:
    """What tf2onnx.convert.from_function does inside, with the captures folded in."""
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    with tf_warnings_quiet():
        return convert_variables_to_constants_v2(concrete, lower_control_flow=False,
                                                 aggressive_inlining=True)


def _input_spec(shape: tuple) -> Any:
    import tensorflow as tf

    return tf.TensorSpec((None, *shape), tf.float32, name=INPUT_NAME)


def _frozen(model: Any, shape: tuple, optimize: bool) -> Any:
    """The weights frozen into the graph as constants."""
    import tensorflow as tf

    concrete = tf.function(lambda inputs: model(inputs, training=False)) \
        .get_concrete_function(_input_spec(shape))
    frozen = _freeze(concrete)
    inputs = _tensor_names(frozen.inputs)
    if len(inputs) != 1:
        raise ValueError(f"the frozen graph has {len(inputs)} inputs ({', '.join(inputs)}), "
                         "expected the model's one")
    return _converted(frozen, concrete.name, optimize)


def _weights_as_inputs(model: Any, shape: tuple) -> Any:
    """The model traced through `stateless_call` with every variable as a placeholder,
    so freezing, TensorFlow's grappler and tf2onnx see a graph without its weights;
    each weight input then becomes an initializer of the same name, one copy of it.
    tf2onnx's optimizers are skipped (they copy the whole graph before each pass), so
    weight transposes stay nodes, which onnxruntime folds when it loads the graph.
    ConvNeXtTiny (`bench/convnext_onnx.py`): peak RSS 1.3 GB and 9 s, against 3.4 GB and
    25-40 s frozen, the same parity."""
    import onnx
    import tensorflow as tf

    trainable, rest = list(model.trainable_variables), list(model.non_trainable_variables)
    variables = trainable + rest
    names = [f"zoo_weight_{i}" for i in range(len(variables))]

    def call(inputs: Any, *weights: Any) -> Any:
        outputs, _ = model.stateless_call(list(weights[:len(trainable)]),
                                          list(weights[len(trainable):]), inputs,
                                          training=False)
        return outputs

    specs = [tf.TensorSpec(v.shape, v.dtype, name=n) for v, n in zip(variables, names)]
    concrete = tf.function(call).get_concrete_function(_input_spec(shape), *specs)
    proto = _converted(_freeze(concrete), concrete.name, optimize=False)
    values = {f"{n}:0": v for n, v in zip(names, variables)}
    used = _names_used(proto.graph)
    graph_inputs = list(proto.graph.input)
    del proto.graph.input[:]
    for graph_input in graph_inputs:
        if graph_input.name not in values:
            proto.graph.input.append(graph_input)
        elif graph_input.name in used:  # not e.g. a dropout's seed, unused at inference
            proto.graph.initializer.append(onnx.numpy_helper.from_array(
                np.asarray(values[graph_input.name]), graph_input.name))
    return proto


def _names_used(graph: Any) -> set[str]:
    """The tensor names `graph`'s nodes read, subgraphs (If, Loop) included, and its outputs."""
    names = {output.name for output in graph.output}
    for node in graph.node:
        names.update(node.input)
        for attribute in node.attribute:
            subgraphs = [*([attribute.g] if attribute.HasField("g") else []), *attribute.graphs]
            for subgraph in subgraphs:
                names |= _names_used(subgraph)
    return names


def _set_metadata(path: Path, metadata: dict[str, str]) -> None:
    import onnx

    proto = onnx.load(path)
    del proto.metadata_props[:]
    onnx.helper.set_model_props(proto, metadata)
    onnx.checker.check_model(proto)
    onnx.save(proto, path)


def _savedmodel(model: Any, path: Path) -> Runner:
    import tensorflow as tf

    model.export(str(path), format="tf_saved_model", verbose=False)
    reloaded = tf.saved_model.load(str(path))
    return lambda x: np.asarray(reloaded.serve(tf.constant(x)))


def _metadata(card: Card, package_dir: Path) -> dict[str, str]:
    return {"zoo.name": card.name, "zoo.version": card.version,
            "zoo.license": card.license,
            "zoo.card_sha256": sha256_file(card_path(package_dir)),
            "zoo.model_sha256": card.model_sha256,
            "zoo.lineage": json.dumps(card.lineage.to_json() if card.lineage else {},
                                      sort_keys=True)}


def _build(model: Any, fmt: str, quantize: str | None, target: Path, float_path: Path,
           metadata: dict[str, str], calibration: np.ndarray | None, method: str,
           min_agreement: float, rows: np.ndarray | None
           ) -> tuple[Runner, Runner, Int8Result | None]:
    """Write the export (and its float baseline at `float_path`); return both runners
    and, for static int8, how it was quantized (judged on `rows` as well)."""
    shape = tuple(model.inputs[0].shape[1:])
    if fmt == "savedmodel":
        run = _savedmodel(model, target)
        return run, run, None
    if fmt == "onnx":
        to_onnx(model, float_path, shape, metadata)
        how = None
        if quantize:
            how = quantize_onnx(float_path, target, quantize, calibration, method, min_agreement,
                                data=rows)
            _set_metadata(target, metadata)
        return onnx_runner(target), onnx_runner(float_path), how
    how = None
    with saved_model(model) as source:
        to_tflite(source, float_path, None, None)
        if quantize == "int8":
            how = quantize_tflite(source, float_path, target, calibration, min_agreement, rows)
        elif quantize:
            to_tflite(source, target, quantize, calibration)
    return tflite_runner(target), tflite_runner(float_path), how


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() \
        else path.stat().st_size


def _check_request(card: Card, fmt: str, quantize: str | None, rows: Any) -> None:
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format '{fmt}' (one of {', '.join(FORMATS)})")
    if quantize and quantize not in QUANTIZE[fmt]:
        allowed = ", ".join(QUANTIZE[fmt]) or "none"
        raise ExportError(f"--quantize {quantize} is not available for {fmt} (choose: {allowed})")
    if quantize == "int8-dynamic" and has_convolutions(card.layer_map):
        raise ExportError("dynamic int8 makes CNNs slower in onnxruntime (ConvInteger, 6-14x "
                          "here); use --quantize int8 (static, calibrated) instead")
    if quantize and rows is None:
        raise ExportError("a quantized export needs held-out --data to measure its top-1 "
                          "agreement with the Keras model")


def export_package(package_dir: Path, fmt: str, *, quantize: str | None = None,
                   tolerance: float = DEFAULT_TOLERANCE, data: Path | None = None,
                   calibration: Path | None = None,
                   min_agreement: float = DEFAULT_MIN_AGREEMENT,
                   calibration_method: str = "minmax",
                   out: Path | None = None) -> ExportRecord:
    """Export into the package's exports/ folder, checked; optionally copy to `out`."""
    tolerance, min_agreement = check_tolerance(tolerance), check_min_agreement(min_agreement)
    card = read_verified_card(package_dir)
    model = load_model(package_dir)
    rows, labels = _labelled(model, data, card.preprocessing.label_names)
    _check_request(card, fmt, quantize, rows)
    calibration_rows = _rows(model, calibration) if calibration else rows
    x, described = parity_inputs(model, rows, data)
    expected = np.asarray(model(x, training=False))
    relative = export_path(fmt, quantize)
    with updated_package(package_dir) as staging, tempfile.TemporaryDirectory() as tmp:
        target = staging / relative
        if target.exists():
            shutil.rmtree(target) if target.is_dir() else target.unlink()
        target.parent.mkdir(parents=True, exist_ok=True)
        float_path = Path(tmp) / f"float.{fmt}" if quantize else target
        try:
            run, run_float, how = _build(model, fmt, quantize, target, float_path,
                                         _metadata(card, package_dir), calibration_rows,
                                         calibration_method, min_agreement, rows)
            got = predict_batched(run, x)
        except converter_errors() as exc:
            raise ExportError(f"{fmt} export failed: {str(exc).splitlines()[0][:300]}") from exc
        entry = ExportRecord(path=relative, max_abs_diff=float(np.max(np.abs(got - expected))),
                             tolerance=tolerance, parity_inputs=described,
                             size_bytes=_size(target),
                             opset=ONNX_OPSET if fmt == "onnx" else None)
        if rows is not None:
            keras_top1 = np.argmax(np.asarray(model.predict(rows, verbose=0, batch_size=64)), -1)
            top1 = np.argmax(predict_batched(run, rows), -1)
            entry.top1_agreement = float(np.mean(top1 == keras_top1))
            entry.agreement_samples = int(len(rows))
            # accuracy of the export and of Keras on the same labelled rows
            entry.accuracy = float(np.mean(top1 == labels))
            entry.keras_accuracy = float(np.mean(keras_top1 == labels))
        if quantize:
            _against_float(entry, run, run_float, x, _size(float_path))
            entry.quantize = quantize
            if how is not None:
                _record_recipe(entry, how)
            if entry.top1_agreement < min_agreement:
                raise ExportError(
                    f"{fmt} {quantize} agrees with Keras on {entry.top1_agreement:.1%} of "
                    f"{len(rows)} samples{_climbed(how)}, below --min-agreement "
                    f"{min_agreement:.1%}; nothing was written")
        elif not entry.max_abs_diff <= tolerance:
            raise ExportError(f"{fmt} export differs from Keras by {entry.max_abs_diff:.2e} "
                              f"(tolerance {tolerance:.0e}); nothing was written")
        card.exports[export_key(fmt, quantize)] = entry
        seal(staging, card)
    if out is not None:
        _copy(Path(package_dir) / relative, Path(out))
    return entry


def _record_recipe(entry: ExportRecord, how: Int8Result) -> None:
    entry.calibration_method, entry.calibration_samples = \
        how.calibration_method, how.calibration_samples
    entry.int8_steps, entry.float_nodes = how.steps, how.float_nodes
    if how.held_out_samples:
        entry.held_out_agreement, entry.held_out_samples = \
            how.held_out_agreement, how.held_out_samples


def _climbed(how: Int8Result | None) -> str:
    """What the int8 recipe tried, for a refusal: its steps, the best agreement on the
    held-out calibration rows and the nodes that held it back (kept in float)."""
    if how is None or not how.steps:
        return ""
    said = f" after {' + '.join(how.steps)}"
    if how.held_out_samples:
        said += f" (at best {how.best_agreement:.1%} on {how.held_out_samples} held-out " \
            f"calibration rows, after {how.best_step}"
        if how.float_nodes:
            said += f"; the nodes holding it back, kept in float: {', '.join(how.float_nodes)}"
        said += ")"
    return said


def converter_errors() -> tuple[type[BaseException], ...]:
    """What the converters raise for a graph they cannot take (onnx.checker's own
    ValidationError among them): the export is refused in one line, naming it."""
    import onnx

    return (ValueError, TypeError, KeyError, RuntimeError, NotImplementedError,
            onnx.checker.ValidationError, *onnxruntime_errors())


def _against_float(entry: ExportRecord, run: Runner, run_float: Runner, x: np.ndarray,
                   float_size: int) -> None:
    """Latency at batch 1 and 32 and size, next to the float baseline of the same format."""
    entry.latency_ms = {str(b): latency_ms(run, x, b) for b in (1, 32)}
    entry.float_latency_ms = {str(b): latency_ms(run_float, x, b) for b in (1, 32)}
    entry.float_size_bytes = float_size
    entry.faster_than_float = {b: entry.latency_ms[b] < entry.float_latency_ms[b]
                               for b in entry.latency_ms}


def _copy(source: Path, out: Path) -> None:
    """The export, copied to `--out` through temporary files and `os.replace`: an
    existing file there is replaced, never written through if it is a link."""
    if source.is_dir():
        place_tree(source, out)
    else:
        place_file(source, out)
