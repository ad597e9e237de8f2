"""Keras Applications architectures as base networks.

A registry, like timm's: each entry says how to build the architecture, which
`preprocess_input` mode it expects, its default input size and its stage
layers (the conventional cut points; channels and reduction are read off the
built model). Adding an architecture here is all it takes for `zoo pack
keras:NAME` and the registry-wide tests to cover it.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zoo.errors import ZooError
from zoo.build.preprocessing import apply as apply_preprocessing

PREFIX = "keras:"


@dataclass(frozen=True)
class Architecture:
    name: str
    preprocess: str
    input_size: int
    min_size: int
    stages: tuple[str, ...]
    # Keras' code is Apache-2.0; the ImageNet weights carry their original authors' terms.
    weights_license: str = "Apache-2.0"
    license: str = "Apache-2.0"


REGISTRY = {a.name: a for a in (
    Architecture("MobileNetV2", "tf", 224, 32,
                 ("block_1_expand_relu", "block_3_expand_relu", "block_6_expand_relu",
                  "block_13_expand", "block_13_expand_relu", "out_relu")),
    Architecture("VGG16", "caffe", 224, 32,
                 ("block1_pool", "block2_pool", "block3_pool", "block4_pool", "block5_pool"),
                 weights_license="Apache-2.0 AND CC-BY-4.0"),
    Architecture("EfficientNetB0", "none", 224, 32,
                 ("block2a_expand_activation", "block3a_expand_activation",
                  "block4a_expand_activation", "block6a_expand_activation", "top_activation")),
    Architecture("InceptionV3", "tf", 299, 75, ("mixed2", "mixed7", "mixed10")),
    Architecture("ResNet50", "caffe", 224, 32,
                 ("conv2_block3_out", "conv3_block4_out", "conv4_block6_out",
                  "conv5_block3_out"), weights_license="Apache-2.0 AND MIT"),
)}


def architecture(spec: str) -> Architecture:
    name = spec.removeprefix(PREFIX)
    if name not in REGISTRY:
        raise ZooError(f"unknown architecture '{name}'; known: "
                       f"{', '.join(PREFIX + n for n in REGISTRY)}")
    return REGISTRY[name]


def _load_weights(model: Any, path: Path) -> None:
    """Local weights: a .weights.h5 file, or a .keras model whose layers match by name."""
    if not path.is_file():
        raise ZooError(f"--weights {path}: no such file (or use 'imagenet' or 'none')")
    try:
        if path.name.endswith(".weights.h5"):
            model.load_weights(path)
            return
        if path.suffix == ".keras":
            from zoo.package import load_keras_file

            source = load_keras_file(path)
            for layer in model.layers:
                if layer.weights:
                    layer.set_weights(source.get_layer(layer.name).get_weights())
            return
    except (ValueError, KeyError, OSError) as exc:
        raise ZooError(f"--weights {path} does not fit this architecture: "
                       f"{str(exc).splitlines()[0][:200]}") from exc
    raise ZooError(f"--weights {path}: expected a .weights.h5 or .keras file")


def build(arch: Architecture, weights: str, input_shape: tuple[int, int, int]) -> Any:
    """The architecture without its classifier top, taking raw pixels."""
    import keras

    if min(input_shape[:2]) < arch.min_size:
        raise ZooError(f"{arch.name} needs inputs of at least {arch.min_size}x{arch.min_size}")
    pixels = keras.Input(input_shape, name="pixels")
    x = apply_preprocessing(pixels, arch.preprocess)
    constructor = getattr(keras.applications, arch.name)
    keras_weights = "imagenet" if weights == "imagenet" else None
    try:
        model = constructor(include_top=False, weights=keras_weights, input_tensor=x)
    except Exception as exc:  # Keras raises a bare Exception for a failed download
        if keras_weights and "fetch failure" in str(exc):
            raise ZooError(f"cannot download the ImageNet weights of {arch.name} (no network?): "
                           "pass --weights FILE with a local copy, or --weights none") from exc
        raise
    if weights not in ("imagenet", "none"):
        _load_weights(model, Path(weights))
    return keras.Model(pixels, model.outputs[0], name=model.name)  # one tensor in, one out
