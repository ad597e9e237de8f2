"""What the ONNX export does to a model, and to tf2onnx, before converting it.

Two things in Keras' ConvNeXt (and any model written the same way) stopped
tf2onnx 1.17:

* Its depthwise convolutions are `Conv2D(filters=C, groups=C)`. Keras' TensorFlow
  backend runs a grouped convolution through a `tf.function(jit_compile=True)`
  (grouped convolutions are broken on CPU without XLA, keras/src/backend/tensorflow/
  nn.py `conv`), which stays in the traced graph as a nested StatefulPartitionedCall:
  "No Op registered for StatefulPartitionedCall with domain_version of 17", after a
  conversion attempt that used ~65x the graph's size in memory.
  `depthwise_for_export` rebuilds such a model with `DepthwiseConv2D` layers, which
  trace to a plain `DepthwiseConv2dNative`.
* Exact GELU (`approximate=False`) is written by TensorFlow with `Erfc`, for which
  tf2onnx has no handler. `register_erfc` adds one: Erfc(x) = 1 - Erf(x), with ONNX
  `Erf` (opset 9 on).

And one thing onnxruntime gets wrong in the graph tf2onnx writes:

* `ZeroPadding2D` then `MaxPooling2D` (ResNetV2's stem, where the convolution before
  has no activation) becomes `Pad(0)` then `MaxPool`. onnxruntime's PadFusion
  (onnxruntime#18136, a basic-level optimization, on by default) folds the Pad into
  the MaxPool's `pads`, which MaxPool fills with -inf, not 0: wherever a window's real
  values are all negative the answer changes (ResNet50V2: 79.5 off at `pool1_pool`).
  `keep_zero_pads_before_max_pool` makes the Pad's 0 a value computed at run time,
  which PadFusion does not fold (it only folds a constant it can read).
"""

from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

POOLS_THAT_IGNORE_PADDING = ("MaxPool",)
# ops that only move values, which onnxruntime's transpose optimizer moves out of the
# way before PadFusion: a graph converted without tf2onnx's optimizers keeps
# Pad -> Transpose -> MaxPool
LAYOUT_ONLY = ("Transpose", "Identity")


def _is_depthwise(layer: Any) -> bool:
    """A Conv2D with one input channel per group and one filter per group."""
    import keras

    return (type(layer) is keras.layers.Conv2D and layer.groups > 1
            and layer.built and layer.kernel.shape[-2] == 1
            and layer.filters == layer.groups)


def _layers(model: Any) -> list[Any]:
    return list(model._flatten_layers(include_self=False, recursive=True))


def _depthwise(layer: Any) -> Any:
    """The DepthwiseConv2D that computes what `layer` (a Conv2D with groups == C) does."""
    import keras

    config = layer.get_config()
    channels = layer.groups
    replacement = keras.layers.DepthwiseConv2D(
        kernel_size=layer.kernel_size, strides=layer.strides, padding=layer.padding,
        depth_multiplier=1, data_format=layer.data_format,
        dilation_rate=layer.dilation_rate, activation=config["activation"],
        use_bias=layer.use_bias, name=layer.name, dtype=layer.dtype_policy)
    shape = (None, None, None, channels) if layer.data_format == "channels_last" \
        else (None, channels, None, None)
    replacement.build(shape)
    kh, kw = layer.kernel_size
    # Conv2D groups=C keeps (kh, kw, C/groups=1, C); DepthwiseConv2D (kh, kw, C, 1):
    # the same numbers in the same order
    weights = [layer.kernel.numpy().reshape(kh, kw, channels, 1)]
    if layer.use_bias:
        weights.append(layer.bias.numpy())
    replacement.set_weights(weights)
    return replacement


def depthwise_for_export(model: Any) -> Any:
    """`model`, or, when it has depthwise convolutions written as `Conv2D(groups=C)`,
    a copy of it (nested models too) with each of those as an equivalent
    `DepthwiseConv2D`; every other layer is the original one, weights shared.

    For the ONNX export only: Keras runs a grouped Conv2D through an XLA-compiled
    function that tf2onnx cannot convert (see the module docstring). Grouped
    convolutions with several channels per group (1 < groups < C) are left as they
    are, and still fail to convert."""
    import keras

    if not any(_is_depthwise(layer) for layer in _layers(model)):
        return model

    def clone(layer: Any) -> Any:
        return _depthwise(layer) if _is_depthwise(layer) else layer

    return keras.models.clone_model(model, clone_function=clone, recursive=True)


_ERFC_REGISTERED = False


def register_erfc() -> None:
    """Give tf2onnx a handler for TensorFlow's `Erfc` (exact GELU): 1 - Erf(x)."""
    global _ERFC_REGISTERED
    if _ERFC_REGISTERED:
        return
    import numpy as np
    from tf2onnx.handler import tf_op

    @tf_op("Erfc")
    class Erfc:  # noqa: F841 (registered by the decorator)
        @classmethod
        def version_9(cls, ctx, node, **kwargs):
            dtype = ctx.get_dtype(node.input[0])
            from tf2onnx import utils

            one = ctx.make_const(utils.make_name(f"{node.name}_one"),
                                 np.array(1, dtype=utils.map_onnx_to_numpy_type(dtype)))
            erf = ctx.make_node("Erf", [node.input[0]], op_name_scope=node.name,
                                shapes=[ctx.get_shape(node.input[0])], dtypes=[dtype])
            node.type = "Sub"
            ctx.replace_inputs(node, [one.output[0], erf.output[0]])

    _ERFC_REGISTERED = True


@contextmanager
def collected_between_passes() -> Iterator[None]:
    """Run tf2onnx's ONNX optimizers with a garbage collection before each pass.

    `tf2onnx.optimizer.optimize_graph` deep-copies the whole graph, weights included,
    before each of its dozen optimizers, over several rounds; a discarded copy is a
    web of cyclic references that only Python's cyclic collector frees, and that
    seldom runs, so the copies piled up: ConvNeXtTiny (111 MB of weights) peaked at
    ~7 GB. Collecting before each pass keeps about two copies alive."""
    import gc

    from tf2onnx import optimizer

    original = optimizer._get_optimizers

    def collecting(factory: Any) -> Any:
        def make() -> Any:
            gc.collect()
            return factory()
        return make

    optimizer._get_optimizers = lambda: OrderedDict(
        (name, collecting(factory)) for name, factory in original().items())
    try:
        yield
    finally:
        optimizer._get_optimizers = original
        gc.collect()


@contextmanager
def tf2onnx_optimizers_off() -> Iterator[None]:
    """Convert without tf2onnx's ONNX optimizers (see `collected_between_passes`)."""
    from tf2onnx import optimizer

    original = optimizer._get_optimizers
    optimizer._get_optimizers = OrderedDict
    try:
        yield
    finally:
        optimizer._get_optimizers = original


def _initializer_value(graph: Any, name: str) -> Any:
    from onnx import numpy_helper

    for tensor in graph.initializer:
        if tensor.name == name:
            return numpy_helper.to_array(tensor)
    for node in graph.node:  # a Constant node
        if node.op_type == "Constant" and node.output[0] == name:
            from onnx import helper
            return numpy_helper.to_array(helper.get_attribute_value(node.attribute[0]))
    return None


def _feeds_a_pool(node: Any, consumers: dict[str, list[Any]]) -> bool:
    """Whether `node`'s output reaches a pool that ignores padding, directly or through
    layout-only ops (a graph output has no consumers)."""
    for consumer in consumers.get(node.output[0], []):
        if consumer.op_type in POOLS_THAT_IGNORE_PADDING or (
                consumer.op_type in LAYOUT_ONLY and _feeds_a_pool(consumer, consumers)):
            return True
    return False


def _zero_pad_feeding_a_pool(graph: Any, pad: Any, consumers: dict[str, list[Any]]) -> bool:
    import numpy as np
    from onnx import helper

    if pad.op_type != "Pad":
        return False
    if not _feeds_a_pool(pad, consumers):
        return False
    mode = next((helper.get_attribute_value(a) for a in pad.attribute if a.name == "mode"),
                b"constant")
    given = pad.input[2] if len(pad.input) > 2 else ""
    value = _initializer_value(graph, given) if given else np.zeros(())
    return mode == b"constant" and value is not None and not np.any(value != 0)


def keep_zero_pads_before_max_pool(proto: Any) -> int:
    """Give each constant zero `Pad` that feeds a MaxPool a pad value computed at run
    time (0 times the batch size, in the padded tensor's type), so that onnxruntime cannot fold it into the pool
    (see the module docstring). Returns how many Pads were changed."""
    import numpy as np
    from onnx import helper, numpy_helper

    graph = proto.graph
    consumers: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    nodes, changed = [], 0
    for node in graph.node:
        if _zero_pad_feeding_a_pool(graph, node, consumers):
            zero = f"{node.name}__runtime_zero"
            graph.initializer.append(numpy_helper.from_array(np.array(0, np.int64),
                                                             f"{zero}_int"))
            nodes += [
                helper.make_node("Shape", [node.input[0]], [f"{zero}_shape"], start=0, end=1,
                                 name=f"{zero}_shape"),
                helper.make_node("ReduceMax", [f"{zero}_shape"], [f"{zero}_batch"],
                                 keepdims=0, name=f"{zero}_batch"),
                helper.make_node("Mul", [f"{zero}_batch", f"{zero}_int"], [f"{zero}_i"],
                                 name=f"{zero}_mul"),
                # the pad value takes the padded tensor's own type (float16 models too)
                helper.make_node("CastLike", [f"{zero}_i", node.input[0]], [zero],
                                 name=f"{zero}_cast")]
            inputs = list(node.input) + [""] * (3 - len(node.input))
            inputs[2] = zero
            del node.input[:]
            node.input.extend(inputs)
            changed += 1
        nodes.append(node)
    del graph.node[:]
    graph.node.extend(nodes)
    return changed
