"""Model surgery: cut a backbone, adapt its input, freeze layers, add a new head.

The one builder that owns cut, input adaptation, freeze, BatchNorm policy and
head (like timm's `build_model_with_cfg`). The kept part is the functional
subgraph from the base's inputs to the cut layer's output, replayed on the new
input with `training=False`: the same layer objects (weights shared, nothing
re-implemented by hand), so branched graphs cut the same way, and the base's
BatchNorm layers always run in inference mode.
"""

from dataclasses import dataclass, field
from typing import Any

from zoo.cards.card import LayerEntry, LayerMap
from zoo.cards.layer_map import graph_operations, resolve_layer, unknown_layer
from zoo.errors import KERAS_ERRORS, LayerNotFound, ModelError, ZooError, keras_reason
from zoo.build.freezing import apply_freeze
from zoo.build.heads import build_head, head_layer_names, head_to_string, parse_head

RANGE_HELP = "a layer range is A:B, A: or :B, by name or index (e.g. 'block3_conv2:')"


@dataclass(frozen=True)
class RebuildSpec:
    cut_at: str | None = None
    drop_top: int | None = None
    freeze_until: str | None = None
    unfreeze_from: str | None = None
    freeze: tuple[str, ...] = field(default_factory=tuple)
    trainable: tuple[str, ...] = field(default_factory=tuple)
    head: str | None = None
    input_size: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        """Refuse what is wrong whatever the model, before anything is fetched or loaded."""
        if self.cut_at is not None and self.drop_top is not None:
            raise ZooError("give --cut-at or --drop-top, not both")
        if self.drop_top is not None and (isinstance(self.drop_top, bool)
                                          or not isinstance(self.drop_top, int)
                                          or self.drop_top < 0):
            raise ZooError("--drop-top must be 0 or more")
        for option, ranges in (("--freeze", self.freeze), ("--trainable", self.trainable)):
            for text in ranges:
                if not text.strip() or text.count(":") > 1:
                    raise ZooError(f"{option} '{text}': {RANGE_HELP}")
        if self.head is not None:
            parse_head(self.head)

    @property
    def is_empty(self) -> bool:
        return self == RebuildSpec()


@dataclass(frozen=True)
class Rebuilt:
    model: Any
    cut_layer: str
    frozen_layers: list[str]
    head: str | None
    head_layers: list[str]
    adapter_layers: list[str]


def parse_size(text: str) -> tuple[int, ...]:
    """'96x96' or '28x28x1' → a tuple of positive ints."""
    parts = text.lower().split("x")
    if len(parts) not in (2, 3) or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise ZooError(f"bad size '{text}': expected HxW or HxWxC, e.g. 96x96 or 28x28x1")
    return tuple(int(p) for p in parts)


def _cut_layer(layer_map: LayerMap, spec: RebuildSpec) -> LayerEntry:
    layers = layer_map.layers
    if spec.drop_top is not None:
        index = len(layers) - 1 - spec.drop_top
        if index < 0 or layers[index].stage == "input":
            raise ZooError(f"--drop-top {spec.drop_top} removes every layer; the model has "
                           f"{sum(1 for layer in layers if layer.stage != 'input')}")
        return layers[index]
    if spec.cut_at is not None:
        return resolve_layer(layer_map, spec.cut_at, option="--cut-at")
    return layers[-1]


def replay(base: Any, target: Any, x: Any, training: bool | None = False) -> Any:
    """Call the base's layers, from its inputs to the tensor `target`, on the new
    tensor `x`: the same layer objects (shared weights) in a flat graph."""
    import keras

    sub = keras.Model(base.inputs, target)
    return sub.call(x if len(base.inputs) > 1 else [x], training=training)


def _uses(model: Any, name: str) -> int:
    """How many times the saved graph calls the layer `name` (a shared layer: more than once)."""
    config = model.get_config()
    layer = next((c for c in config.get("layers", []) if c.get("name") == name), {})
    return len(layer.get("inbound_nodes", [])) if isinstance(layer, dict) else 0


def _operations_behind(tensor: Any) -> list[Any]:
    """Every operation a symbolic tensor is computed by, from its Keras history."""
    seen: dict[int, Any] = {}
    stack = [tensor]
    while stack:
        history = getattr(stack.pop(), "_keras_history", None)
        if history is None or id(history.operation) in seen:
            continue
        seen[id(history.operation)] = history.operation
        stack.extend(history.operation._inbound_nodes[history.node_index].input_tensors)
    return list(seen.values())


def unique_operation_names(outputs: Any) -> None:
    """Rename bare `keras.ops` operations that share a name with another node of the
    graph: replaying a graph that already holds a ConvertToTensor adds a new one of
    the same name, which Keras refuses ("used 2 times"). Layers keep their names."""
    import keras

    operations = _operations_behind(outputs)
    taken = {op.name for op in operations}
    seen: set[str] = set()
    for op in sorted(operations, key=lambda o: isinstance(o, keras.layers.Layer), reverse=True):
        if op.name in seen and not isinstance(op, keras.layers.Layer):
            number = 1
            while f"{op.name}_{number}" in taken:
                number += 1
            op.name = f"{op.name}_{number}"
            taken.add(op.name)
        seen.add(op.name)


def adapt_input(base: Any, size: tuple[int, ...] | None) -> tuple[Any, Any, list[str]]:
    """A new input of `size` (HxW[xC]): a base with a dynamic size (None, None, C)
    just takes it, a fixed-size base gets it resized (and gray→RGB) to its own."""
    import keras

    want = tuple(base.inputs[0].shape[1:])
    name = base.inputs[0].name if hasattr(base.inputs[0], "name") else "pixels"
    if size is None:
        pixels = keras.Input(want, name=name)
        return pixels, pixels, []
    if len(base.inputs) > 1 or len(want) != 3 or want[2] is None:
        raise ZooError(f"--input-size needs a base with one image input (H, W, C), "
                       f"not {len(base.inputs)} input(s) of shape {want}")
    shape = (*size[:2], size[2] if len(size) == 3 else want[2])
    pixels = keras.Input(shape, name=name)
    x, adapters = pixels, []
    if None not in want[:2] and shape[:2] != want[:2]:
        x = keras.layers.Resizing(*want[:2], name="input_resize")(x)
        adapters.append("input_resize")
    if shape[2] != want[2]:
        if shape[2] != 1 or want[2] != 3:
            raise ZooError(f"cannot adapt {shape[2]} input channels to {want[2]}")
        x = keras.layers.Concatenate(name="input_gray_to_rgb")([x, x, x])
        adapters.append("input_gray_to_rgb")
    return pixels, x, adapters


def _endpoint(text: str, names: list[str], base_map: LayerMap, option: str) -> int:
    """A range end by name (base or head layer) or by base index → an index in `names`."""
    if text.lstrip("-").isdigit():
        text = resolve_layer(base_map, text, option=option).name
    if text not in names:
        if text in base_map.names():
            raise LayerNotFound(f"{option}: layer '{text}' is not in the rebuilt model "
                                "(it is above the cut)")
        raise unknown_layer(text, names, option)
    return names.index(text)


def _range(text: str, names: list[str], base_map: LayerMap, option: str) -> range:
    if ":" not in text:
        index = _endpoint(text, names, base_map, option)
        return range(index, index + 1)
    start, _, stop = text.partition(":")
    first = _endpoint(start, names, base_map, option) if start else 0
    last = _endpoint(stop, names, base_map, option) if stop else len(names) - 1
    if last < first:
        raise ZooError(f"{option} '{text}': the range is empty ({names[last]} comes before "
                       f"{names[first]})")
    return range(first, last + 1)


def frozen_set(names: list[str], base_map: LayerMap, spec: RebuildSpec) -> set[str]:
    """Apply the freeze options in a fixed order: freeze-until, freeze ranges,
    unfreeze-from, trainable ranges."""
    frozen: set[str] = set()
    if spec.freeze_until is not None:
        frozen |= set(names[: _endpoint(spec.freeze_until, names, base_map,
                                         "--freeze-until") + 1])
    for text in spec.freeze:
        frozen |= {names[i] for i in _range(text, names, base_map, "--freeze")}
    if spec.unfreeze_from is not None:
        frozen -= set(names[_endpoint(spec.unfreeze_from, names, base_map,
                                      "--unfreeze-from"):])
    for text in spec.trainable:
        frozen -= {names[i] for i in _range(text, names, base_map, "--trainable")}
    return frozen


def rebuild(base: Any, layer_map: LayerMap, spec: RebuildSpec, seed: int = 0) -> Rebuilt:
    """A new model: `base` cut at a layer, its input adapted, with a new head, frozen
    as the spec says."""
    import keras

    cut = _cut_layer(layer_map, spec)
    if len(base.outputs) != 1 and cut is layer_map.layers[-1]:
        raise ZooError("the base has several outputs; choose one with --cut-at")
    if spec.freeze_until is not None:
        last = resolve_layer(layer_map, spec.freeze_until, option="--freeze-until")
        if last.stage != "head" and last.index > cut.index:
            raise ZooError(f"--freeze-until {last.name} (#{last.index}) is above the cut "
                           f"at {cut.name} (#{cut.index}), so it would be removed")
    items = parse_head(spec.head) if spec.head is not None else []
    pixels, x, adapters = adapt_input(base, spec.input_size)
    node = next(op for op in graph_operations(base) if op.name == cut.name)
    if _uses(base, cut.name) > 1:
        raise ModelError(f"cannot cut at {cut.name}: it is used more than once in the graph "
                         "(a shared layer), so it has no single output; cut at a layer "
                         "after it")
    target = node.output
    try:
        features = replay(base, target, x)
        outputs = build_head(features, items, seed=seed) if items else features
        unique_operation_names(outputs)
        model = keras.Model(pixels, outputs, name=f"{base.name}_derived")
    except KERAS_ERRORS as exc:
        raise ModelError(f"cannot rebuild {base.name} cut at {cut.name}"
                         + (f" with --input-size {'x'.join(map(str, spec.input_size))}"
                            if spec.input_size else "") + f": {keras_reason(exc)}") from exc
    names = [op.name for op in graph_operations(model)]  # op nodes too: a cut may be one
    base_layers = set(layer_map.names())
    frozen = frozen_set(names, layer_map, spec)
    return Rebuilt(model=model, cut_layer=cut.name,
                   frozen_layers=apply_freeze(model, frozen, base_layers),
                   head=head_to_string(items) if items else None,
                   head_layers=head_layer_names(items), adapter_layers=adapters)
