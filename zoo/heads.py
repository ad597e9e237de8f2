"""The head spec grammar: a new top for a cut backbone, written on one line.

    SPEC   := ITEM ("," ITEM)*
    ITEM   := "dense:" UNITS [":" ACTIVATION]     e.g. dense:64:relu, dense:4:softmax
            | "dropout:" RATE                      e.g. dropout:0.2   (0 <= RATE < 1)

Example: `dropout:0.2,dense:64:relu,dense:4:softmax`. The last item must be a
dense layer: it is the model's output.
"""

from dataclasses import dataclass
from typing import Any

from zoo.errors import ZooError

ACTIVATIONS = ("linear", "relu", "gelu", "swish", "elu", "selu", "tanh", "sigmoid", "softmax")
EXAMPLE = "e.g. 'dense:4:softmax' or 'dropout:0.2,dense:64:relu,dense:4:softmax'"


@dataclass(frozen=True)
class HeadItem:
    kind: str
    units: int = 0
    activation: str = "linear"
    rate: float = 0.0

    def __str__(self) -> str:
        if self.kind == "dropout":
            return f"dropout:{self.rate:g}"
        return f"dense:{self.units}:{self.activation}"


def _bad(item: str, why: str) -> ZooError:
    return ZooError(f"bad head item '{item}': {why}; {EXAMPLE}")


def _parse_item(item: str) -> HeadItem:
    kind, *args = item.strip().split(":")
    if kind == "dense":
        if not 1 <= len(args) <= 2 or not args[0].isdigit() or int(args[0]) < 1:
            raise _bad(item, "expected dense:UNITS[:ACTIVATION] with UNITS >= 1")
        activation = args[1] if len(args) == 2 else "linear"
        if activation not in ACTIVATIONS:
            raise _bad(item, f"unknown activation '{activation}' (one of {', '.join(ACTIVATIONS)})")
        return HeadItem("dense", units=int(args[0]), activation=activation)
    if kind == "dropout":
        try:
            rate = float(args[0]) if len(args) == 1 else -1.0
        except ValueError:
            rate = -1.0
        if not 0 <= rate < 1:
            raise _bad(item, "expected dropout:RATE with 0 <= RATE < 1")
        return HeadItem("dropout", rate=rate)
    raise _bad(item, f"unknown kind '{kind}' (dense or dropout)")


def parse_head(spec: str) -> list[HeadItem]:
    items = [_parse_item(part) for part in spec.split(",") if part.strip()] if spec else []
    if not items:
        raise ZooError(f"empty head spec; {EXAMPLE}")
    if items[-1].kind != "dense":
        raise ZooError(f"the head must end with a dense layer (the output); {EXAMPLE}")
    return items


def head_to_string(items: list[HeadItem]) -> str:
    return ",".join(str(item) for item in items)


def head_layer_names(items: list[HeadItem]) -> list[str]:
    return [f"head_{i}_{item.kind}" for i, item in enumerate(items)]


def build_head(features: Any, items: list[HeadItem], seed: int = 0) -> Any:
    """Apply the head to a Keras tensor and return the output tensor."""
    import keras

    x = features
    for item, name in zip(items, head_layer_names(items)):
        if item.kind == "dense":
            x = keras.layers.Dense(item.units, activation=item.activation, name=name,
                                   kernel_initializer=keras.initializers.GlorotUniform(seed))(x)
        else:
            x = keras.layers.Dropout(item.rate, seed=seed, name=name)(x)
    return x
