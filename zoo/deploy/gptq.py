"""GPTQ weight rounding for a static QDQ ONNX model (Frantar et al., "GPTQ: Accurate
Post-Training Quantization for Generative Pre-trained Transformers", 2022, after
"Optimal Brain Compression", 2022).

onnxruntime rounds each int8 weight to the nearest step of its channel's scale. Here
the weights of each convolution are rounded one input column at a time instead, and
each rounding error is spread over the columns not yet rounded, weighted by the inverse
of the layer's input Hessian (H = Σ xxᵀ over the calibration rows), so that the layer's
output, not each weight, stays closest to float. The scales and zero points
onnxruntime chose are kept; only the integers change. It is closed-form linear algebra
(no gradient descent), which is why it is used here rather than AdaRound: every
AdaRound on ONNX this project could find (AMD Quark, AIMET) needs PyTorch.

Convolutions (plain and depthwise) are rounded; other weighted nodes are left as
onnxruntime rounded them.
"""

from pathlib import Path
from typing import Any

import numpy as np

DAMPING = 0.01  # of the Hessian's mean diagonal, added to it (as GPTQ does)
BATCH_ROWS = 8  # calibration rows run through the float model at once
# input windows per layer the Hessian is summed over, drawn at random past that: it
# bounds the time and memory a large image takes (a 224x224 layer has 50,176 per row)
MAX_WINDOWS = 16384


def hessians(prepared: Path, rows: np.ndarray) -> dict[str, np.ndarray]:
    """Σ xxᵀ of the input windows of each convolution of the float model `prepared`
    over `rows`, by node name: one [C·kh·kw]² matrix for a plain conv, one [kh·kw]² per
    channel for a depthwise one."""
    import onnx

    model = onnx.load(str(prepared))
    shapes = {i.name: tuple(i.dims) for i in model.graph.initializer}
    nodes = [node for node in model.graph.node if _roundable(node, shapes)]
    return _hessians(model, nodes, rows) if nodes else {}


def _roundable(node: Any, shapes: dict[str, tuple]) -> bool:
    """A 2-D Conv, plain or depthwise, with its weights as an initializer, explicit pads
    and no dilation: the convolutions GPTQ rounds (others keep onnxruntime's rounding)."""
    if node.op_type != "Conv" or not node.name or len(node.input) < 2 or \
            node.input[1] not in shapes:
        return False
    shape, attributes = shapes[node.input[1]], _attributes(node)
    group = int(attributes.get("group", 1))
    return len(shape) == 4 and (group == 1 or group == shape[0] and shape[1] == 1) \
        and list(attributes.get("dilations", [1, 1])) == [1, 1] \
        and attributes.get("auto_pad", b"NOTSET") in (b"NOTSET", "NOTSET")


def round_weights(float_model: Any, quantized: Path, hessians: dict[str, np.ndarray]) -> int:
    """Re-round the int8 convolution weights of `quantized` (made from `float_model`, the
    loaded ONNX model `hessians()` read) with GPTQ; returns how many layers were
    re-rounded."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(quantized))
    layers = [layer for layer in _quantized_convolutions(model, float_model)
              if layer[0].name in hessians]
    for float_node, weight, ints, scale in layers:
        bounds = np.iinfo(numpy_helper.to_array(ints).dtype)
        qmin, qmax = _weight_range(ints, bounds)
        rounded = gptq(weight.reshape(len(weight), -1), numpy_helper.to_array(scale),
                       hessians[float_node.name], qmin, qmax)
        ints.CopyFrom(numpy_helper.from_array(
            rounded.reshape(weight.shape).astype(bounds.dtype), ints.name))
    onnx.save(model, str(quantized))
    return len(layers)


def _weight_range(ints: Any, bounds: np.iinfo) -> tuple[int, int]:
    """The integer range onnxruntime rounded these weights to (7-bit with its
    `reduce_range`), read off the weights themselves: symmetric, each channel's largest
    weight at the widest integer."""
    from onnx import numpy_helper

    widest = int(np.abs(numpy_helper.to_array(ints).astype(np.int64)).max())
    return max(-widest, int(bounds.min)), min(widest, int(bounds.max))


def _quantized_convolutions(model: Any, float_model: Any) -> list[tuple]:
    """(float Conv node, its float weight, the int8 weight initializer, the per-channel
    scale initializer) for each Conv of `model` whose weight is a symmetric per-channel
    int8 initializer and whose namesake in `float_model` is `_roundable`."""
    from onnx import numpy_helper

    initializers = {i.name: i for i in model.graph.initializer}
    float_weights = {i.name: i for i in float_model.graph.initializer}
    shapes = {name: tuple(i.dims) for name, i in float_weights.items()}
    float_nodes = {node.name: node for node in float_model.graph.node
                   if _roundable(node, shapes)}
    dequantized = {node.output[0]: node for node in model.graph.node
                   if node.op_type == "DequantizeLinear" and node.input[0] in initializers}
    found = []
    for node in model.graph.node:
        source = dequantized.get(node.input[1]) if node.op_type == "Conv" else None
        float_node = float_nodes.get(node.name)
        if source is None or float_node is None:
            continue
        ints, scale = initializers[source.input[0]], initializers[source.input[1]]
        zero = initializers.get(source.input[2]) if len(source.input) > 2 else None
        weight = numpy_helper.to_array(float_weights[float_node.input[1]])
        per_channel = numpy_helper.to_array(scale).shape == (len(weight),)
        symmetric = zero is None or not numpy_helper.to_array(zero).any()
        if per_channel and symmetric and numpy_helper.to_array(ints).shape == weight.shape:
            found.append((float_node, weight, ints, scale))
    return found


def _attributes(node: Any) -> dict[str, Any]:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _group(node: Any) -> int:
    return int(_attributes(node).get("group", 1))


def _conv_padding(node: Any) -> tuple[tuple[int, int, int, int], tuple[int, int]]:
    """A `_roundable` Conv's (top, left, bottom, right) pads and strides."""
    attributes = _attributes(node)
    return tuple(attributes.get("pads", [0, 0, 0, 0])), tuple(attributes.get("strides", [1, 1]))


def windows(x: np.ndarray, pads: tuple[int, int, int, int], strides: tuple[int, int],
            kernel: tuple[int, int], take: int, rng: np.random.Generator) -> np.ndarray:
    """Up to `take` of a convolution's input windows, at positions drawn at random:
    [N, C, H, W] → [C, windows, kh·kw]."""
    top, left, bottom, right = pads
    padded = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    view = np.lib.stride_tricks.sliding_window_view(padded, kernel, axis=(2, 3))
    view = view[:, :, ::strides[0], ::strides[1]]  # [N, C, Ho, Wo, kh, kw], a view
    rows, _, height, width = view.shape[:4]
    positions = rows * height * width
    chosen = rng.choice(positions, take, replace=False) if positions > take \
        else np.arange(positions)
    n, i, j = np.unravel_index(chosen, (rows, height, width))
    picked = view[n, :, i, j]  # [windows, C, kh, kw], copied
    return picked.reshape(len(chosen), picked.shape[1], -1).transpose(1, 0, 2)


def window_product(found: np.ndarray, depthwise: bool) -> np.ndarray:
    """Σ xxᵀ over `windows()`: one matrix over all channels' windows (the vector a
    plain conv's output channel reads, channel-major), or one per channel."""
    found = found.astype(np.float64)
    if depthwise:
        return np.matmul(found.transpose(0, 2, 1), found)
    flat = found.transpose(1, 0, 2).reshape(found.shape[1], -1)
    return flat.T @ flat


def _hessians(model: Any, nodes: list[Any], rows: np.ndarray) -> dict[str, np.ndarray]:
    import onnx
    import onnxruntime
    from onnx import numpy_helper

    shapes = {i.name: numpy_helper.to_array(i).shape for i in model.graph.initializer}
    inputs = sorted({node.input[0] for node in nodes})
    del model.graph.output[:]
    model.graph.output.extend(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT,
                                                                 None) for name in inputs)
    session = onnxruntime.InferenceSession(model.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    feed = model.graph.input[0].name
    rng = np.random.default_rng(0)
    sums: dict[str, np.ndarray] = {}
    for start in range(0, len(rows), BATCH_ROWS):
        batch = rows[start:start + BATCH_ROWS]
        take = batch_share(len(batch), len(rows))
        values = dict(zip(inputs, session.run(inputs, {feed: batch})))
        for node in nodes:
            pads, strides = _conv_padding(node)
            found = windows(values[node.input[0]], pads, strides,
                            tuple(shapes[node.input[1]][2:]), take, rng)
            product = window_product(found, _group(node) != 1).astype(np.float32)
            sums[node.name] = sums.get(node.name, 0) + product  # float32: a VGG's are 1 GB
    return sums


def batch_share(batch: int, rows: int) -> int:
    """How many of MAX_WINDOWS windows a batch of `batch` of `rows` rows gives."""
    return -(-MAX_WINDOWS * batch // rows)


def gptq(weight: np.ndarray, scale: np.ndarray, hessian: np.ndarray, qmin: int,
         qmax: int) -> np.ndarray:
    """Integers for `weight` [rows, columns] on each row's `scale`, rounded column by
    column with GPTQ. `hessian` is one [columns]² matrix shared by every row, or one per
    row ([rows, columns, columns], a depthwise conv's)."""
    weight = weight.astype(np.float64).copy()
    hessian = np.array(hessian, np.float64, ndmin=3)
    columns = weight.shape[1]
    diagonal = np.arange(columns)
    # an input the calibration rows never set: a unit diagonal, so that its weight is
    # rounded to nearest and passes no error on (it may be set by other data)
    dead = hessian[:, diagonal, diagonal] == 0
    hessian[:, diagonal, diagonal] += dead + DAMPING * np.maximum(
        hessian[:, diagonal, diagonal].mean(1, keepdims=True), 1e-12)
    upper = np.linalg.cholesky(np.linalg.inv(hessian)).transpose(0, 2, 1)  # H⁻¹ = UᵀU
    upper = np.broadcast_to(upper, (len(weight), columns, columns))
    scale = scale.astype(np.float64)
    ints = np.zeros_like(weight)
    for j in range(columns):
        ints[:, j] = np.clip(np.round(weight[:, j] / scale), qmin, qmax)
        error = (weight[:, j] - ints[:, j] * scale) / upper[:, j, j]
        weight[:, j + 1:] -= error[:, None] * upper[:, j, j + 1:]
    return ints
