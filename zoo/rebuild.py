"""Model surgery: cut a backbone, freeze its lower layers, add a new head.

The one builder that owns cut, freeze, BatchNorm policy and head (like timm's
`build_model_with_cfg`). The kept part is the functional subgraph from the
model's inputs to the cut layer's output: weights are shared with the base,
nothing is re-implemented by hand, so branched graphs cut the same way.
"""

from dataclasses import dataclass
from typing import Any

from zoo.cards.layer_map import LayerMap, resolve_layer
from zoo.errors import ZooError
from zoo.freezing import BATCHNORM_POLICY, apply_freeze
from zoo.heads import build_head, head_layer_names, head_to_string, parse_head


@dataclass(frozen=True)
class RebuildSpec:
    cut_at: str | None = None
    drop_top: int | None = None
    freeze_until: str | None = None
    head: str | None = None

    @property
    def is_empty(self) -> bool:
        return self.cut_at is None and self.drop_top is None and self.freeze_until is None \
            and self.head is None


@dataclass(frozen=True)
class Rebuilt:
    model: Any
    cut_layer: str
    frozen_layers: list[str]
    head: str | None
    head_layers: list[str]

    def lineage_fields(self) -> dict:
        return {"cut_layer": self.cut_layer, "frozen_layers": self.frozen_layers,
                "batchnorm_policy": BATCHNORM_POLICY, "head": self.head}


def _cut_layer(layer_map: LayerMap, spec: RebuildSpec) -> dict:
    layers = layer_map["layers"]
    if spec.cut_at is not None and spec.drop_top is not None:
        raise ZooError("give --cut-at or --drop-top, not both")
    if spec.drop_top is not None:
        if spec.drop_top < 0:
            raise ZooError("--drop-top must be 0 or more")
        index = len(layers) - 1 - spec.drop_top
        if index < 0 or layers[index]["stage"] == "input":
            raise ZooError(f"--drop-top {spec.drop_top} removes every layer; the model has "
                           f"{sum(1 for layer in layers if layer['stage'] != 'input')}")
        return layers[index]
    if spec.cut_at is not None:
        return resolve_layer(layer_map, spec.cut_at, option="--cut-at")
    return layers[-1]


def rebuild(base: Any, layer_map: LayerMap, spec: RebuildSpec, seed: int = 0) -> Rebuilt:
    """A new model: `base` cut at a layer, frozen up to a layer, with a new head."""
    import keras

    cut = _cut_layer(layer_map, spec)
    if len(base.outputs) != 1 and cut is layer_map["layers"][-1]:
        raise ZooError("the base has several outputs; choose one with --cut-at")
    frozen: set[str] = set()
    if spec.freeze_until is not None:
        last = resolve_layer(layer_map, spec.freeze_until, option="--freeze-until")
        if last["index"] > cut["index"]:
            raise ZooError(f"--freeze-until {last['name']} (#{last['index']}) is above the cut "
                           f"at {cut['name']} (#{cut['index']}), so it would be removed")
        frozen = {layer["name"] for layer in layer_map["layers"][: last["index"] + 1]}
    features = base.get_layer(cut["name"]).output
    items = parse_head(spec.head) if spec.head is not None else []
    outputs = build_head(features, items, seed=seed) if items else features
    inputs = base.inputs[0] if len(base.inputs) == 1 else base.inputs
    model = keras.Model(inputs, outputs, name=f"{base.name}_derived")
    return Rebuilt(model=model, cut_layer=cut["name"], frozen_layers=apply_freeze(model, frozen),
                   head=head_to_string(items) if items else None,
                   head_layers=head_layer_names(items))
