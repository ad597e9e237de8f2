"""GPTQ weight rounding (zoo.deploy.gptq) for an int8 TFLite model from the TFLite
converter: the int8 weights of its convolutions are rounded again on the converter's
own per-channel scales, for the layer inputs the float TFLite model of the same
SavedModel computes on the calibration rows.

The two files come from one SavedModel through the same converter, so their
convolutions are the same in the same order; when they are not (a different count,
kind or weight shape), nothing is changed.
"""

from pathlib import Path
from typing import Any

import numpy as np

from zoo.deploy.gptq import batch_share, gptq, window_product, windows

CONVOLUTIONS = ("CONV_2D", "DEPTHWISE_CONV_2D")
QMIN, QMAX = -127, 127  # TFLite's int8 weights are symmetric, -128 unused
INT8 = 9  # the schema's TensorType.INT8


def round_tflite_weights(float_path: Path, quantized: bytes, rows: np.ndarray
                         ) -> tuple[bytes, int]:
    """`quantized` (int8 TFLite bytes) with its convolutions' weights rounded by GPTQ
    over `rows`, run through the float model at `float_path`, and how many layers
    were rounded."""
    from tensorflow.lite.tools import flatbuffer_utils

    int8_model = flatbuffer_utils.read_model_from_bytearray(bytearray(quantized))
    float_model = flatbuffer_utils.read_model(str(float_path))
    float_ops, int8_ops = _convolutions(float_model), _convolutions(int8_model)
    same = len(float_ops) == len(int8_ops) and all(
        kind == other and list(_tensor(float_model, op, 1).shape) ==
        list(_tensor(int8_model, twin, 1).shape)
        for (op, kind), (twin, other) in zip(float_ops, int8_ops))
    if not float_ops or not same:
        return quantized, 0
    hessians = _hessians(float_path, float_model, float_ops, rows)
    rounded = sum(_round_layer(float_model, float_op, int8_model, int8_op, kind, hessian)
                  for (float_op, kind), (int8_op, _), hessian
                  in zip(float_ops, int8_ops, hessians))
    if not rounded:
        return quantized, 0
    return bytes(flatbuffer_utils.convert_object_to_bytearray(int8_model)), rounded


def _convolutions(model: Any) -> list[tuple[Any, str]]:
    """The main graph's undilated plain and depthwise (multiplier 1) convolutions, in
    order, with their kind."""
    from tensorflow.lite.python import schema_py_generated as schema

    names = {value: key for key, value in vars(schema.BuiltinOperator).items()
             if not key.startswith("_")}
    codes = [max(code.builtinCode, code.deprecatedBuiltinCode) for code in model.operatorCodes]
    found = []
    for op in model.subgraphs[0].operators:
        kind = names.get(codes[op.opcodeIndex])
        if kind not in CONVOLUTIONS:
            continue
        options = op.builtinOptions
        dilated = (options.dilationHFactor, options.dilationWFactor) != (1, 1)
        # a grouped conv's filter reads fewer channels than its input has; a depthwise
        # one with a channel multiplier has more outputs than inputs: neither is rounded
        channels = _tensor(model, op, 0).shape[3]
        filter_channels = _tensor(model, op, 1).shape[3]
        if not dilated and channels == filter_channels:
            found.append((op, kind))
    return found


def _tensor(model: Any, op: Any, position: int) -> Any:
    return model.subgraphs[0].tensors[op.inputs[position]]


def _weights(model: Any, op: Any, dtype: Any) -> np.ndarray | None:
    """The op's weights, or None where the file holds them elsewhere (a model over
    2 GB keeps its buffers after the flatbuffer) or not as `dtype`."""
    tensor = _tensor(model, op, 1)
    data = model.buffers[tensor.buffer].data
    if data is None or len(data) != np.dtype(dtype).itemsize * int(np.prod(tensor.shape)):
        return None
    return np.frombuffer(np.asarray(data, np.uint8).tobytes(), dtype).reshape(tensor.shape)


def _as_rows(weight: np.ndarray, kind: str) -> np.ndarray:
    """TFLite's layout → [output channels, the window vector `windows()` makes]:
    OHWI → O×(I·kh·kw); a depthwise 1HWC → C×(kh·kw)."""
    if kind == "CONV_2D":
        return weight.transpose(0, 3, 1, 2).reshape(len(weight), -1)
    return weight[0].reshape(-1, weight.shape[3]).T


def _from_rows(rows: np.ndarray, shape: tuple, kind: str) -> np.ndarray:
    if kind == "CONV_2D":
        out, height, width, channels = shape
        return rows.reshape(out, channels, height, width).transpose(0, 2, 3, 1)
    return rows.T.reshape(shape)


def _padding(op: Any, height: int, width: int, kernel: tuple[int, int]
             ) -> tuple[tuple[int, int, int, int], tuple[int, int]]:
    """(top, left, bottom, right) pads and strides, TensorFlow's SAME or VALID."""
    options = op.builtinOptions
    strides = (options.strideH, options.strideW)
    if options.padding == 1:  # VALID
        return (0, 0, 0, 0), strides
    pads = [max((-(-size // stride) - 1) * stride + k - size, 0)
            for size, stride, k in zip((height, width), strides, kernel)]
    return (pads[0] // 2, pads[1] // 2, pads[0] - pads[0] // 2, pads[1] - pads[1] // 2), strides


def _hessians(float_path: Path, model: Any, ops: list[tuple[Any, str]], rows: np.ndarray
              ) -> list[np.ndarray]:
    """Σ xxᵀ of each op's input windows, the float interpreter run one row at a time."""
    from ai_edge_litert.interpreter import Interpreter

    from zoo.deploy.runtime import native_stderr_silenced

    with native_stderr_silenced():
        interpreter = Interpreter(model_path=str(float_path),
                                  experimental_preserve_all_tensors=True)
        interpreter.allocate_tensors()
    feed = interpreter.get_input_details()[0]["index"]
    rng = np.random.default_rng(0)
    sums: list[Any] = [0] * len(ops)
    for row in rows:
        interpreter.set_tensor(feed, row[None].astype(np.float32))
        interpreter.invoke()
        for index, (op, kind) in enumerate(ops):
            x = interpreter.get_tensor(op.inputs[0]).transpose(0, 3, 1, 2)  # NHWC → NCHW
            kernel = tuple(_tensor(model, op, 1).shape[1:3])
            pads, strides = _padding(op, x.shape[2], x.shape[3], kernel)
            found = windows(x, pads, strides, kernel, batch_share(1, len(rows)), rng)
            sums[index] = sums[index] + window_product(found, kind != "CONV_2D")
    return sums


def _round_layer(float_model: Any, float_op: Any, int8_model: Any, int8_op: Any, kind: str,
                 hessian: np.ndarray) -> bool:
    """The int8 op's weights rounded by GPTQ on its own per-channel scales; whether
    they were (a weight left in float, or quantized per tensor, is not)."""
    tensor = _tensor(int8_model, int8_op, 1)
    if tensor.type != INT8 or tensor.quantization is None or \
            tensor.quantization.scale is None:
        return False
    scale = np.asarray(tensor.quantization.scale, np.float64)
    weight = _weights(float_model, float_op, np.float32)
    if weight is None or _weights(int8_model, int8_op, np.int8) is None:
        return False
    weight = _as_rows(weight, kind)
    if scale.shape != (len(weight),):
        return False
    ints = gptq(weight, scale, hessian, QMIN, QMAX)
    rounded = _from_rows(ints, tuple(tensor.shape), kind).astype(np.int8)
    int8_model.buffers[tensor.buffer].data = np.frombuffer(rounded.tobytes(), np.uint8)
    return True
