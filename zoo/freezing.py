"""The one place that decides which layers train.

Frozen layers get `trainable = False`. In Keras 3 a BatchNormalization layer
with `trainable = False` runs in inference mode (moving statistics used and
not updated) whatever `training` flag it is called with, so freezing a layer
also freezes its BatchNorm statistics.
"""

from typing import Any

BATCHNORM_POLICY = "frozen BatchNorm runs in inference mode (Keras 3 trainable=False)"


def apply_freeze(model: Any, frozen: set[str]) -> list[str]:
    """Freeze exactly the named layers, unfreeze the rest; return the frozen names
    that hold weights, in model order."""
    for layer in model.layers:
        layer.trainable = layer.name not in frozen
    return frozen_layer_names(model)


def frozen_layer_names(model: Any) -> list[str]:
    return [layer.name for layer in model.layers if not layer.trainable and layer.weights]
