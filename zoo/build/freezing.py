"""The one place that decides which layers train.

Frozen layers get `trainable = False`. BatchNormalization layers of a base
network never train in a derived model: they are kept frozen even inside an
unfrozen range, and the base is wired with `training=False` (see
`zoo.build.rebuild`), so their moving statistics stay those of the base in both
fine-tuning phases, as the Keras transfer-learning guide recommends.
"""

from typing import Any

BATCHNORM_POLICY = "base BatchNorm frozen, inference mode (training=False) in every phase"


def is_batchnorm(layer: Any) -> bool:
    return "BatchNormalization" in type(layer).__name__


def apply_freeze(model: Any, frozen: set[str], base_layers: set[str] | None = None
                 ) -> list[str]:
    """Freeze exactly the named layers (and the base's BatchNorm), unfreeze the
    rest; return the frozen layers that hold weights, in model order."""
    base_layers = base_layers or set()
    for layer in model.layers:
        keep_bn_frozen = is_batchnorm(layer) and layer.name in base_layers
        layer.trainable = layer.name not in frozen and not keep_bn_frozen
    return frozen_layer_names(model)


def frozen_layer_names(model: Any) -> list[str]:
    return [layer.name for layer in model.layers if not layer.trainable and layer.weights]
