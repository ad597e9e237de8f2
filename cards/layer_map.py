"""The layer map: every layer of a model and its recommended cut points.

Built from the model itself, never typed by hand. Cut points are like timm's
`feature_info`: layers whose output alone carries everything the rest of the
network sees, so cutting there keeps a self-contained feature extractor.
"""

import difflib
from typing import Any

from zoo.cards.card import CutPoint, LayerEntry, LayerMap
from zoo.errors import LayerNotFound

# Where a cut makes no sense: inside a new head or an input adapter, or right
# after a layer that only regularizes training.
NOT_CUT_STAGES = frozenset({"head", "adapter", "input"})
NOT_CUT_CLASSES = frozenset({"Dropout", "SpatialDropout2D", "GaussianNoise",
                             "GaussianDropout", "ActivityRegularization", "ConvertToTensor"})


def _keras_histories(node: Any) -> list[str]:
    """Layer names referenced by a serialized inbound node, in order."""
    if isinstance(node, dict):
        history = node.get("config", {}).get("keras_history") if node.get(
            "class_name") == "__keras_tensor__" else None
        if history:
            return [history[0]]
        return [name for value in node.values() for name in _keras_histories(value)]
    if isinstance(node, (list, tuple)):
        return [name for value in node for name in _keras_histories(value)]
    return []


def model_graph(model: Any) -> tuple[dict[str, list[str]], set[str]]:
    """From the model's config: each layer's inbound layer names, and the output layers."""
    config = model.get_config()
    layer_configs = config.get("layers", [])
    if type(model).__name__ == "Sequential":
        names = [c["config"]["name"] for c in layer_configs]
        return {name: names[i - 1:i] for i, name in enumerate(names)}, {names[-1]}
    inbound = {c["name"]: list(dict.fromkeys(_keras_histories(c.get("inbound_nodes", []))))
               for c in layer_configs}
    outputs = config.get("output_layers", [])
    if outputs and isinstance(outputs[0], str):  # a single output: [name, node, tensor]
        outputs = [outputs]
    return inbound, {entry[0] for entry in outputs}


def _output_shape(layer: Any) -> list | None:
    try:
        shape = layer.output.shape
    except (AttributeError, ValueError):
        return None  # a layer used more than once has no single output
    return [None if dim is None else int(dim) for dim in shape]


def _reduction(input_shape: list | None, shape: list | None) -> int | None:
    """How much a 4-D feature map is smaller than the 4-D input (a timm field)."""
    if not input_shape or not shape or len(input_shape) != 4 or len(shape) != 4:
        return None
    if not input_shape[1] or not shape[1]:
        return None
    return max(1, round(input_shape[1] / shape[1]))


def _cut_indices(names: list[str], inbound: dict[str, list[str]],
                 outputs: set[str], skip: set[str]) -> list[int]:
    """Indices whose output is the only tensor still needed after them."""
    position = {name: i for i, name in enumerate(names)}
    last_use: dict[str, int] = {}
    for i, name in enumerate(names):
        for source in inbound.get(name, []):
            last_use[source] = i
    end = len(names)
    for name in outputs:
        last_use[name] = end
    cuts = []
    for i, name in enumerate(names):
        if name in outputs or not inbound.get(name) or name in skip:
            continue
        live = {src for src, last in last_use.items()
                if last > i and position.get(src, -1) <= i}
        if live == {name}:
            cuts.append(i)
    return cuts


def _stage_ends(cuts: list[CutPoint]) -> list[CutPoint]:
    """For feature maps, keep the last cut point before the resolution drops (a stage
    end, like timm's feature_info); cut points without a spatial size all stay."""
    kept = []
    for i, cut in enumerate(cuts):
        later = [c for c in cuts[i + 1:] if c.reduction is not None]
        if cut.reduction is None or not later or later[0].reduction > cut.reduction:
            kept.append(cut)
    return kept


def graph_operations(model: Any) -> list[Any]:
    """The top-level nodes of the graph Keras writes: its layers and also the bare
    `keras.ops` operations (ConvertToTensor, Add, …) a functional graph holds, which
    `model.layers` leaves out but `get_config()` lists. A Sequential has layers only."""
    return list(getattr(model, "operations", None) or model.layers)


def separator_names(model: Any) -> list[str]:
    """Every layer whose output alone feeds the rest of the graph, in order."""
    inbound, outputs = model_graph(model)
    names = [layer.name for layer in graph_operations(model)]
    return [names[i] for i in _cut_indices(names, inbound, outputs, skip=set())]


def build_layer_map(model: Any, stages: dict[str, str] | None = None,
                    cut_names: tuple[str, ...] | None = None) -> LayerMap:
    """The card's layer map for a built Keras model (top-level layers only).

    Cut points are the named stage layers when given (a registry's), else found
    in the graph: layers whose output alone feeds the rest, at stage ends."""
    stages = stages or {}
    inbound, outputs = model_graph(model)
    input_shape = [None if d is None else int(d) for d in model.inputs[0].shape]
    layers = []
    for index, layer in enumerate(graph_operations(model)):
        is_input = type(layer).__name__ == "InputLayer"
        has_weights = hasattr(layer, "count_params") and layer.built  # not a bare op
        layers.append(LayerEntry(
            index=index,
            name=layer.name,
            class_name=type(layer).__name__,
            output_shape=_output_shape(layer),
            params=int(layer.count_params()) if has_weights else 0,
            trainable=bool(getattr(layer, "trainable", False)) and not is_input,
            stage="input" if is_input else stages.get(layer.name, "base"),
            inbound=inbound.get(layer.name, []),
        ))
    names = [entry.name for entry in layers]
    indices = [names.index(n) for n in cut_names if n in names] if cut_names \
        else _cut_indices(names, inbound, outputs, skip={
            entry.name for entry in layers
            if entry.stage in NOT_CUT_STAGES or entry.class_name in NOT_CUT_CLASSES})
    cut_points = []
    for i in indices:
        shape = layers[i].output_shape
        cut_points.append(CutPoint(name=names[i], index=i, channels=shape[-1] if shape else None,
                                   reduction=_reduction(input_shape, shape)))
    if not cut_names:
        cut_points = _stage_ends(cut_points)
    trainable = sum(int(w.numpy().size) for w in model.trainable_weights)
    total = int(model.count_params())
    return LayerMap(layers=layers, cut_points=cut_points, total_params=total,
                    trainable_params=trainable, non_trainable_params=total - trainable)


def resolve_layer(layer_map: LayerMap, spec: str | int, option: str = "layer") -> LayerEntry:
    """The layer named or indexed by `spec`; unknown names get suggestions."""
    layers = layer_map.layers
    text = str(spec).strip()
    if text.lstrip("-").isdigit():
        index = int(text)
        if index < 0:
            index += len(layers)
        if 0 <= index < len(layers):
            return layers[index]
        raise LayerNotFound(f"{option}: index {text} is out of range; "
                            f"the model has layers 0..{len(layers) - 1}")
    for layer in layers:
        if layer.name == text:
            return layer
    raise unknown_layer(text, layer_map.names(), option)


def unknown_layer(text: str, names: list[str], option: str = "layer") -> LayerNotFound:
    """The error for a layer name not among `names`, with the closest ones suggested."""
    close = difflib.get_close_matches(text, names, n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(close)}?" if close else (
        f"layers are: {', '.join(names[:12])}{' …' if len(names) > 12 else ''}")
    return LayerNotFound(f"{option}: no layer named '{text}'; {hint}")


def structure_differences(expected: LayerMap, actual: LayerMap) -> list[str]:
    """Where two layer maps disagree on what the model is (not on trainable)."""
    keys = (("name", "name"), ("class_name", "class"), ("output_shape", "output_shape"),
            ("params", "params"))
    diffs = []
    if len(expected.layers) != len(actual.layers):
        diffs.append(f"{len(expected.layers)} layers in the card, "
                     f"{len(actual.layers)} in the model")
    for want, got in zip(expected.layers, actual.layers):
        for attr, shown in keys:
            if getattr(want, attr) != getattr(got, attr):
                diffs.append(f"layer {want.index} {shown}: card {getattr(want, attr)!r}, "
                             f"model {getattr(got, attr)!r}")
    if expected.total_params != actual.total_params:
        diffs.append(f"total_params: card {expected.total_params}, "
                     f"model {actual.total_params}")
    return diffs
