"""What changed between two cards, so a consumer sees a breaking change before pulling.

Breaking is what makes code written against the old card fail or silently mean
something else: a cut point removed, renamed or reshaped; the input's shape,
dtype, scaling or feature names changed; a layer a consumer may name (a base
layer or a cut point) removed; the license changed to terms not equivalent to
the old. Everything else is reported, not breaking. The sentences hold the
card's strings unchanged: escaping them is the page template's job.
"""

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from license_expression import ExpressionError

from zoo.cards.card import Card, CutPoint, ExportRecord, LayerEntry, Lineage
from zoo.cards.license_policy import card_license_expression, licensing

SHA_SHOWN = 8  # hex digits of a sha256 shown in a sentence
MAX_NAMED = 8  # beyond this many layers, one sentence counts them instead of one each
# The layer stages whose names a consumer passes to pull and rebuild (--cut, --freeze-until).
NAMED_STAGES = frozenset({"base"})


@dataclass(frozen=True)
class Change:
    """One difference between two cards, in a short sentence."""

    area: str
    what: str
    breaking: bool = False


def card_changes(old: Card, new: Card) -> list[Change]:
    """Every difference that matters to a consumer, breaking first, then by area
    in AREAS' order; [] for cards that agree."""
    found = [change for compare in AREAS.values() for change in compare(old, new)]
    order = list(AREAS)
    return sorted(found, key=lambda change: (not change.breaking, order.index(change.area)))


def _license(old: Card, new: Card) -> Iterator[Change]:
    before, after = card_license_expression(old), card_license_expression(new)
    if before != after and not _equivalent(before, after):
        yield Change("license", f"license {_license_text(old)} → {_license_text(new)}", True)
    elif _license_text(old) != _license_text(new) or old.license_link != new.license_link:
        yield Change("license", f"license written {_license_text(old)} → "
                                f"{_license_text(new)}, the same terms")


def _license_text(card: Card) -> str:
    text = card.license_name if card.license == "other" and card.license_name else card.license
    return f"{text} ({card.license_link})" if card.license_link else text


def _equivalent(before: str, after: str) -> bool:
    """The same SPDX terms written differently ('MIT AND Apache-2.0' and its reverse);
    an expression that does not parse equals only itself."""
    try:
        return bool(licensing().is_equivalent(before, after))
    except ExpressionError:
        return False


def _version(old: Card, new: Card) -> Iterator[Change]:
    yield from _field("version", "name", old.name, new.name)
    yield from _field("version", "version", old.version, new.version)


def _input(old: Card, new: Card) -> Iterator[Change]:
    before, after = old.preprocessing, new.preprocessing
    for what in ("input_shape", "dtype", "scaling", "feature_names"):
        yield from _field("input", what.replace("_", " "), getattr(before, what),
                          getattr(after, what), breaking=True)
    yield from _field("input", "label names", before.label_names, after.label_names)


def _cut_points(old: Card, new: Card) -> Iterator[Change]:
    before = {cut.name: cut for cut in old.layer_map.cut_points}
    after = {cut.name: cut for cut in new.layer_map.cut_points}
    added_at = {cut.index: cut for name, cut in after.items() if name not in before}
    for name, cut in before.items():
        if name in after:
            yield from _cut_point_changed(cut, after[name])
        elif (renamed := added_at.pop(cut.index, None)) is not None:
            yield Change("cut points", f"cut point {name} renamed to {renamed.name}", True)
            yield from _cut_point_changed(cut, renamed)
        else:
            yield Change("cut points", f"cut point {name} removed", True)
    for cut in added_at.values():
        yield Change("cut points", f"cut point {cut.name} added ({_cut_shape(cut)})")


def _cut_point_changed(old: CutPoint, new: CutPoint) -> Iterator[Change]:
    if (old.channels, old.reduction, old.kind) != (new.channels, new.reduction, new.kind):
        yield Change("cut points", f"cut point {new.name} {_cut_shape(old)} → "
                                   f"{_cut_shape(new)}", True)
    if old.index != new.index:
        yield Change("cut points", f"cut point {new.name} moved from layer {old.index} "
                                   f"to {new.index}")


def _cut_shape(cut: CutPoint) -> str:
    reduction = f"/{cut.reduction}" if cut.reduction is not None else (cut.kind or "vector")
    return f"{reduction}, {cut.channels if cut.channels is not None else '?'} channels"


def _layers(old: Card, new: Card) -> Iterator[Change]:
    before = {layer.name: layer for layer in old.layer_map.layers}
    after = {layer.name: layer for layer in new.layer_map.layers}
    cut_names = {cut.name for cut in old.layer_map.cut_points}
    removed = [name for name in before if name not in after]
    named = [n for n in removed if n in cut_names or before[n].stage in NAMED_STAGES]
    yield from _layer_names("removed", named, breaking=True)
    yield from _layer_names("removed", [n for n in removed if n not in named])
    yield from _layer_names("added", [name for name in after if name not in before])
    reshaped = [name for name in before if name in after
                and _structure(before[name]) != _structure(after[name])]
    yield from _layer_names("changed (class or output shape)", reshaped)
    yield from _field("layers", "parameters", old.layer_map.total_params,
                      new.layer_map.total_params, shown=lambda n: f"{n:,}")


def _structure(layer: LayerEntry) -> tuple[Any, ...]:
    return layer.class_name, layer.output_shape


def _layer_names(verb: str, names: list[str], breaking: bool = False) -> Iterator[Change]:
    """One change per layer, or one that counts them when there are many."""
    if len(names) <= MAX_NAMED:
        yield from (Change("layers", f"layer {name} {verb}", breaking) for name in names)
    else:
        yield Change("layers", f"{len(names):,} layers {verb}: {', '.join(names[:3])} and "
                               f"{len(names) - 3:,} more", breaking)


def _lineage(old: Card, new: Card) -> Iterator[Change]:
    before, after = old.lineage, new.lineage
    if before is None or after is None:
        if before is not after:
            yield Change("lineage", f"now derived from {_base(after)}" if after
                         else f"no longer records a base (was {_base(before)})")
        return
    for what, read in LINEAGE_FIELDS.items():
        yield from _field("lineage", what, read(before), read(after))
    frozen_before, frozen_after = set(before.frozen_layers), set(after.frozen_layers)
    if frozen_before != frozen_after:
        yield Change("lineage", f"frozen layers {len(frozen_before):,} → {len(frozen_after):,} "
                                f"({len(frozen_after - frozen_before):,} newly frozen, "
                                f"{len(frozen_before - frozen_after):,} unfrozen)")


def _base(lineage: Lineage) -> str:
    return f"{lineage.base_ref}@{lineage.base_revision}"


LINEAGE_FIELDS: dict[str, Callable[[Lineage], Any]] = {
    "base": _base, "base license": lambda lineage: lineage.base_license,
    "cut layer": lambda lineage: lineage.cut_layer, "head": lambda lineage: lineage.head,
    "BatchNorm policy": lambda lineage: lineage.batchnorm_policy,
    "fine-tune runs": lambda lineage: len(lineage.finetune),
}


def _training_data(old: Card, new: Card) -> Iterator[Change]:
    for what in ("name", "source", "license", "samples", "sha256"):
        yield from _field("training data", f"training data {what}",
                          getattr(old.training_data, what), getattr(new.training_data, what))


def _metrics(old: Card, new: Card) -> Iterator[Change]:
    def described(name: str, metric: Any) -> str:
        return f"metric {name} ({metric.split})"

    for name, (before, after) in _keyed(old.metrics, new.metrics):
        if before is None or after is None:
            yield Change("metrics", f"{described(name, before or after)} "
                                    f"{'added' if before is None else 'removed'}")
        elif before.split != after.split:
            yield Change("metrics", f"metric {name}: split {before.split} → {after.split}, "
                                    f"{before.value:g} → {after.value:g}")
        elif (before.value, before.dataset) != (after.value, after.dataset):
            dataset = f" on {after.dataset}" if before.dataset != after.dataset else ""
            yield Change("metrics", f"{described(name, after)} {before.value:g} → "
                                    f"{after.value:g}{dataset}")


def _exports(old: Card, new: Card) -> Iterator[Change]:
    for name, (before, after) in _keyed(old.exports, new.exports):
        if before is None or after is None:
            yield Change("exports", f"export {name} {'added' if before is None else 'removed'}")
            continue
        for what, read in EXPORT_FIELDS.items():
            yield from _field("exports", f"export {name} {what}", read(before), read(after))


EXPORT_FIELDS: dict[str, Callable[[ExportRecord], Any]] = {
    "file": lambda e: e.path, "quantization": lambda e: e.quantize,
    "parity (max abs diff)": lambda e: e.max_abs_diff,
    "int8 agreement": lambda e: e.top1_agreement, "size in bytes": lambda e: e.size_bytes,
}


def _files(old: Card, new: Card) -> Iterator[Change]:
    for path, (before, after) in _keyed(old.files, new.files):
        if before is None or after is None:
            yield Change("files", f"file {path} {'added' if before is None else 'removed'}")
        elif before != after:
            yield Change("files", f"file {path} changed (sha256 {before[:SHA_SHOWN]}… → "
                                  f"{after[:SHA_SHOWN]}…)")


def _signature(old: Card, new: Card) -> Iterator[Change]:
    before, after = old.signed_by, new.signed_by
    if before != after:
        yield Change("signature", f"now signed by {after}" if before is None else
                     f"no longer signed (was signed by {before})" if after is None else
                     f"signed by another key: {before} → {after}")


def _field(area: str, what: str, before: Any, after: Any, *, breaking: bool = False,
           shown: Callable[[Any], str] = str) -> Iterator[Change]:
    """'WHAT OLD → NEW' when a single value differs ('none' for a missing one)."""
    if before != after:
        old, new = ("none" if v is None else shown(v) for v in (before, after))
        yield Change(area, f"{what} {old} → {new}", breaking)


def _keyed(before: Mapping[str, Any], after: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """Each key of either mapping, in the old order then the new, with (old, new)
    values; None where a side lacks it."""
    for key in dict.fromkeys([*before, *after]):
        yield key, (before.get(key), after.get(key))


# The areas, in the order a page lists them (after the breaking changes).
AREAS: dict[str, Callable[[Card, Card], Iterator[Change]]] = {
    "license": _license, "version": _version, "input": _input, "cut points": _cut_points,
    "layers": _layers, "lineage": _lineage, "training data": _training_data,
    "metrics": _metrics, "exports": _exports, "files": _files, "signature": _signature,
}
