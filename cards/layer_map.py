"""The layer map: every layer of a model and its recommended cut points.

Built from the model itself, never typed by hand. Cut points are like timm's
`feature_info`: one per stage, at the stage's last layer whose output alone
carries everything the rest of the network sees (so cutting there keeps a
self-contained feature extractor), with its channels and its true reduction
(2, 4, 8, 16, 32), read off a symbolic probe at a reference size so that
models with dynamic inputs get them too. A cut after global pooling is a vector.
"""

import difflib
import math
import warnings
from typing import Any

from zoo.cards.card import CutPoint, LayerEntry, LayerMap
from zoo.errors import LayerNotFound

# Where a cut makes no sense: inside a new head or an input adapter, or right
# after a layer that only regularizes training or converts a tensor.
NOT_CUT_STAGES = frozenset({"head", "adapter", "input"})
NOT_CUT_CLASSES = frozenset({"Dropout", "SpatialDropout1D", "SpatialDropout2D",
                             "SpatialDropout3D", "GaussianNoise", "GaussianDropout",
                             "AlphaDropout", "ActivityRegularization", "ConvertToTensor"})
# Padding and pooling belong to the next stage (they start its downsampling), and
# preprocessing only rescales the raw input: none of them ends a stage.
NOT_CUT_PREFIXES = ("ZeroPadding", "Cropping", "MaxPooling", "AveragePooling")
PREPROCESSING_CLASSES = frozenset({"InputLayer", "Rescaling", "Normalization", "Resizing",
                                   "CenterCrop", "ConvertToTensor"})
# Where a stage ends when no single layer separates it from the next (cells that
# take the two previous cells' outputs, as in NASNet): its last merge or activation.
STAGE_END_CLASSES = ("Add", "Concatenate", "Activation", "ReLU", "Multiply", "ELU",
                     "LeakyReLU", "PReLU")
REFERENCE_SIZE = 224  # the probe's spatial size (or the input's, if larger)


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


def probe_reductions(model: Any, operations: list[Any]) -> dict[str, int]:
    """Each 4-D output's reduction from the image input, as a power of two, read off
    a symbolic run of the graph on a REFERENCE_SIZE input: static shapes at small
    sizes give 7 or 11 (valid padding) and dynamic ones give nothing."""
    import keras

    if len(model.inputs) != 1 or len(model.inputs[0].shape) != 4:
        return {}
    spec = model.inputs[0]
    size = max([REFERENCE_SIZE, *(d for d in spec.shape[1:3] if d)])
    nodes = [op for op in operations if _rank(op) == 4 and type(op).__name__ != "InputLayer"]
    if not nodes:
        return {}
    probe = keras.KerasTensor((1, size, size, spec.shape[-1]), dtype=spec.dtype)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            outs = keras.Model(model.inputs, [op.output for op in nodes]).call([probe])
    except Exception:  # noqa: BLE001 - a graph fixed to its size: fall back to its shapes
        outs = [op.output for op in nodes]
        size = spec.shape[1]
    reductions = {}
    for op, out in zip(nodes, outs if isinstance(outs, (list, tuple)) else [outs]):
        height = out.shape[1]
        if size and height:
            reductions[op.name] = 2 ** max(0, round(math.log2(size / height)))
    return reductions


def _rank(op: Any) -> int | None:
    try:
        return len(op.output.shape)
    except (AttributeError, ValueError, TypeError):
        return None  # an operation with several outputs, or none yet


def _kind(shape: list | None) -> str:
    return "feature_map" if shape and len(shape) == 4 else \
        "vector" if shape and len(shape) == 2 else "tensor"


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
        if not inbound.get(name) or name in skip:
            continue
        live = {src for src, last in last_use.items()
                if last > i and position.get(src, -1) <= i}
        if live == {name}:
            cuts.append(i)
    return cuts


def _stage_ends(cuts: list[CutPoint]) -> list[CutPoint]:
    """For feature maps, keep the last cut point before the resolution drops (a stage
    end, like timm's feature_info); vectors and other cut points all stay."""
    kept = []
    for i, cut in enumerate(cuts):
        later = [c for c in cuts[i + 1:] if c.kind == "feature_map" and c.reduction]
        if cut.kind != "feature_map" or not cut.reduction or not later \
                or later[0].reduction > cut.reduction:
            kept.append(cut)
    return kept


def _never_cut(entry: LayerEntry) -> bool:
    return entry.stage in NOT_CUT_STAGES or entry.class_name in NOT_CUT_CLASSES \
        or entry.class_name.startswith(NOT_CUT_PREFIXES)


def _score_maps(layers: list[LayerEntry], outputs: set[str]) -> set[str]:
    """A classifier made of a last convolution with one channel per class, pooled into
    the output (as in fer's mini-Xception): its score maps are not a stage."""
    out = [e for e in layers if e.name in outputs]
    if len(out) != 1 or _kind(out[0].output_shape) != "vector":
        return set()
    classes = out[0].output_shape[-1]
    last_learned = max((i for i, e in enumerate(layers) if e.params), default=len(layers))
    return {e.name for e in layers[last_learned:]
            if _kind(e.output_shape) == "feature_map" and e.output_shape[-1] == classes}


def _recommended(layers: list[LayerEntry], inbound: dict[str, list[str]], outputs: set[str],
                 reductions: dict[str, int]) -> list[int]:
    """Stage ends: separators that are not padding, pooling or preprocessing, come
    after a learned layer, and are not the model's output (unless it is a feature map,
    the last one of a backbone). A stage no single layer separates from the next gets
    its last merge or activation instead."""
    names = [entry.name for entry in layers]
    learned = [any(e.params and e.class_name not in PREPROCESSING_CLASSES
                   for e in layers[:i + 1]) for i in range(len(layers))]
    skip = {e.name for i, e in enumerate(layers) if _never_cut(e) or not learned[i]
            or (e.name in outputs and _kind(e.output_shape) != "feature_map")}
    skip |= _score_maps(layers, outputs)
    cuts = _cut_indices(names, inbound, outputs, skip)
    covered = {reductions[names[i]] for i in cuts if names[i] in reductions}
    deepest = max(covered, default=0)  # beyond it: squeeze-excite and pooled vectors
    fallback: dict[int, int] = {}
    for i, entry in enumerate(layers):
        level = reductions.get(entry.name)
        if level and level < deepest and level not in covered and entry.name not in skip \
                and entry.class_name.endswith(STAGE_END_CLASSES):
            fallback[level] = i  # the last one at that level wins
    return sorted({*cuts, *fallback.values()})


def graph_operations(model: Any) -> list[Any]:
    """The top-level nodes of the graph Keras writes: its layers and also the bare
    `keras.ops` operations (ConvertToTensor, Add, …) a functional graph holds, which
    `model.layers` leaves out but `get_config()` lists. A Sequential has layers only."""
    return list(getattr(model, "operations", None) or model.layers)


def separator_names(model: Any) -> list[str]:
    """Every layer whose output alone feeds the rest of the graph, in order."""
    inbound, outputs = model_graph(model)
    names = [layer.name for layer in graph_operations(model)]
    return [names[i] for i in _cut_indices(names, inbound, outputs, skip=outputs)]


def build_layer_map(model: Any, stages: dict[str, str] | None = None,
                    cut_names: tuple[str, ...] | None = None) -> LayerMap:
    """The card's layer map for a built Keras model (top-level layers only).

    Cut points are the named stage layers when given (a registry's), else found
    in the graph: layers whose output alone feeds the rest, at stage ends."""
    stages = stages or {}
    inbound, outputs = model_graph(model)
    operations = graph_operations(model)
    layers = []
    for index, layer in enumerate(operations):
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
    reductions = probe_reductions(model, operations)
    indices = [names.index(n) for n in cut_names if n in names] if cut_names \
        else _recommended(layers, inbound, outputs, reductions)
    cut_points = []
    for i in indices:
        shape = layers[i].output_shape
        cut_points.append(CutPoint(name=names[i], index=i, channels=shape[-1] if shape else None,
                                   reduction=reductions.get(names[i]), kind=_kind(shape)))
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
