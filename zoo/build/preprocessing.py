"""Input preprocessing as part of the model, so users feed raw pixels.

The Keras Applications `preprocess_input` modes, written with standard Keras
pieces that load in safe mode and add no parameters: a `Rescaling` layer named
`preprocess` (per-channel scale and offset) and, for caffe, a channel flip.

    none    the model takes its inputs as they are
    unit    x / 255                              (0..1; the zoo's own CNNs)
    tf      x / 127.5 - 1                        (MobileNetV2, InceptionV3)
    torch   (x / 255 - mean) / std, ImageNet     (DenseNet)
    caffe   RGB→BGR, x - ImageNet mean (BGR)     (VGG16, ResNet50)
"""

from typing import Any

from zoo.errors import ZooError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
LAYER_NAME = "preprocess"

MODES = {
    "none": "inputs as they are",
    "unit": "x / 255",
    "tf": "x / 127.5 - 1",
    "torch": "(x / 255 - ImageNet mean) / ImageNet std, per channel",
    "caffe": "RGB to BGR, then x - ImageNet mean (BGR), per channel",
}


def describe(mode: str) -> str:
    check_mode(mode)
    return f"{mode}: {MODES[mode]}"


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ZooError(f"unknown preprocessing '{mode}' (one of {', '.join(MODES)})")
    return mode


def _affine(mode: str, channels: int) -> tuple[Any, Any]:
    if mode == "unit":
        return 1 / 255, 0.0
    if mode == "tf":
        return 1 / 127.5, -1.0
    if channels != 3:
        raise ZooError(f"'{mode}' preprocessing needs 3-channel RGB input, not {channels}")
    if mode == "torch":
        return ([1 / (255 * s) for s in IMAGENET_STD],
                [-m / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD)])
    return [1.0, 1.0, 1.0], [-m for m in CAFFE_MEAN_BGR]


def apply(x: Any, mode: str) -> Any:
    """Apply a preprocessing mode to a symbolic Keras tensor."""
    import keras

    if check_mode(mode) == "none":
        return x
    scale, offset = _affine(mode, int(x.shape[-1]))
    if mode == "caffe":
        x = keras.ops.flip(x, axis=-1)  # RGB → BGR
    return keras.layers.Rescaling(scale, offset, name=LAYER_NAME)(x)
