"""The head spec grammar: a new top for a cut backbone, written on one line.

    SPEC   := ITEM ("," ITEM)*
    ITEM   := "dense:" UNITS [":" ACTIVATION]          dense:64:relu, dense:4:softmax
            | "dropout:" RATE                           dropout:0.2  (0 <= RATE < 1)
            | "conv:" FILTERS ":" KERNEL [":" ACTIVATION]   conv:32:3:relu (valid padding)
            | "maxpool" [":" SIZE]                      maxpool, maxpool:2
            | "gap" | "gmp" | "flatten"                 global average / max pooling, flatten

Numbers are ASCII digits (RATE may have a fraction and an exponent), bounded so a
typo is refused here rather than running out of memory when the head is built:
UNITS and FILTERS up to MAX_UNITS, KERNEL and SIZE up to MAX_KERNEL, at most
MAX_ITEMS items.

Example: `conv:32:3:relu,flatten,dense:2:softmax`. The last item must be a
dense layer: it is the model's output.
"""

import math
import re
from dataclasses import dataclass
from typing import Any

from zoo.errors import ZooError

ACTIVATIONS = ("linear", "relu", "gelu", "swish", "elu", "selu", "tanh", "sigmoid", "softmax")
EXAMPLE = ("e.g. 'dense:4:softmax', 'dropout:0.2,dense:64:relu,dense:4:softmax' or "
           "'conv:32:3:relu,flatten,dense:2:softmax'")
BARE = ("gap", "gmp", "flatten")
MAX_UNITS = 65_536  # dense units and conv filters: wider than any backbone's top
MAX_KERNEL = 64  # conv kernel and max-pool size: larger than the feature maps of a cut backbone
MAX_ITEMS = 64  # layers in one head
SHOWN = 60  # characters of a bad item quoted back
WHOLE = re.compile(r"[0-9]+")  # not str.isdigit(), which takes '²' and other digits int() refuses
DECIMAL = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


@dataclass(frozen=True)
class HeadItem:
    kind: str
    units: int = 0
    kernel: int = 0
    activation: str = "linear"
    rate: float = 0.0

    def __str__(self) -> str:
        if self.kind == "dropout":
            short = f"{self.rate:g}"  # 0.2, not 0.2000…; repr where :g would round
            return f"dropout:{short if float(short) == self.rate else repr(self.rate)}"
        if self.kind == "dense":
            return f"dense:{self.units}:{self.activation}"
        if self.kind == "conv":
            return f"conv:{self.units}:{self.kernel}:{self.activation}"
        if self.kind == "maxpool":
            return f"maxpool:{self.kernel}"
        return self.kind


def _shown(text: str) -> str:
    """A piece of user input short enough to quote back on one line."""
    return text if len(text) <= SHOWN else text[:SHOWN] + "…"


def _bad(item: str, why: str) -> ZooError:
    return ZooError(f"bad head item '{_shown(item)}': {why}; {EXAMPLE}")


def _positive(item: str, text: str, what: str, limit: int) -> int:
    """A whole number in 1..limit, without int() of a 5,000-digit string (which raises)."""
    digits = text.lstrip("0")
    if WHOLE.fullmatch(text) is None or not digits or len(digits) > len(str(limit)) \
            or int(digits) > limit:
        raise _bad(item, f"{what} must be a whole number >= 1 and <= {limit}")
    return int(digits)


def _rate(item: str, args: list[str]) -> float:
    rate = float(args[0]) if len(args) == 1 and DECIMAL.fullmatch(args[0]) else math.nan
    if not (math.isfinite(rate) and 0 <= rate < 1):
        raise _bad(item, "expected dropout:RATE with 0 <= RATE < 1")
    return rate


def _activation(item: str, text: str | None) -> str:
    activation = text or "linear"
    if activation not in ACTIVATIONS:
        raise _bad(item, f"unknown activation '{_shown(activation)}' "
                         f"(one of {', '.join(ACTIVATIONS)})")
    return activation


def _parse_item(item: str) -> HeadItem:
    kind, *args = item.strip().split(":")
    if kind in BARE:
        if args:
            raise _bad(item, f"'{kind}' takes no arguments")
        return HeadItem(kind)
    if kind == "dense":
        if not 1 <= len(args) <= 2:
            raise _bad(item, "expected dense:UNITS[:ACTIVATION]")
        return HeadItem("dense", units=_positive(item, args[0], "UNITS", MAX_UNITS),
                        activation=_activation(item, args[1] if len(args) == 2 else None))
    if kind == "conv":
        if not 2 <= len(args) <= 3:
            raise _bad(item, "expected conv:FILTERS:KERNEL[:ACTIVATION]")
        return HeadItem("conv", units=_positive(item, args[0], "FILTERS", MAX_UNITS),
                        kernel=_positive(item, args[1], "KERNEL", MAX_KERNEL),
                        activation=_activation(item, args[2] if len(args) == 3 else None))
    if kind == "maxpool":
        if len(args) > 1:
            raise _bad(item, "expected maxpool[:SIZE]")
        return HeadItem("maxpool",
                        kernel=_positive(item, args[0], "SIZE", MAX_KERNEL) if args else 2)
    if kind == "dropout":
        return HeadItem("dropout", rate=_rate(item, args))
    raise _bad(item, f"unknown kind '{_shown(kind)}' "
                     "(dense, dropout, conv, maxpool, gap, gmp, flatten)")


def parse_head(spec: str) -> list[HeadItem]:
    if not isinstance(spec, str):
        raise ZooError(f"a head spec is text, not {type(spec).__name__}; {EXAMPLE}")
    parts = [part for part in spec.split(",") if part.strip()]
    if len(parts) > MAX_ITEMS:
        raise ZooError(f"the head has {len(parts)} items, more than {MAX_ITEMS}; {EXAMPLE}")
    items = [_parse_item(part) for part in parts]
    if not items:
        raise ZooError(f"empty head spec; {EXAMPLE}")
    if items[-1].kind != "dense":
        raise ZooError(f"the head must end with a dense layer (the output); {EXAMPLE}")
    return items


def head_to_string(items: list[HeadItem]) -> str:
    return ",".join(str(item) for item in items)


def head_layer_names(items: list[HeadItem]) -> list[str]:
    return [f"head_{i}_{item.kind}" for i, item in enumerate(items)]


def _layer(item: HeadItem, name: str, seed: int) -> Any:
    import keras

    init = keras.initializers.GlorotUniform(seed)
    if item.kind == "dense":
        return keras.layers.Dense(item.units, activation=item.activation, name=name,
                                  kernel_initializer=init)
    if item.kind == "conv":
        return keras.layers.Conv2D(item.units, item.kernel, activation=item.activation,
                                   name=name, kernel_initializer=init)
    if item.kind == "dropout":
        return keras.layers.Dropout(item.rate, seed=seed, name=name)
    if item.kind == "maxpool":
        return keras.layers.MaxPooling2D(item.kernel, name=name)
    return {"gap": keras.layers.GlobalAveragePooling2D, "gmp": keras.layers.GlobalMaxPooling2D,
            "flatten": keras.layers.Flatten}[item.kind](name=name)


def build_head(features: Any, items: list[HeadItem], seed: int = 0) -> Any:
    """Apply the head to a Keras tensor and return the output tensor."""
    x = features
    for item, name in zip(items, head_layer_names(items)):
        spatial = item.kind in ("conv", "maxpool", "gap", "gmp")
        if spatial and len(x.shape) != 4:
            raise ZooError(f"head item '{item}' needs a 4-D feature map, but the cut layer "
                           f"gives shape {tuple(x.shape)}; cut earlier or use dense items")
        try:
            x = _layer(item, name, seed)(x)
        except ValueError as exc:
            raise ZooError(f"head item '{item}' does not fit its input of shape "
                           f"{tuple(x.shape)}: {str(exc).splitlines()[0][:200]}") from exc
    return x
