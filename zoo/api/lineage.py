"""What a model built on a zoo backbone remembers of its base, so that `zoo.save`
writes a derived package with full lineage even after the user added their own
layers, compiled and fit it in plain Keras.

`zoo.backbone` (and `Package.load` of a package that came from a hub, or of a
derived package) records each base layer object of the model it returns, with a
digest of its weights at that moment. `zoo.save` finds those layers again in
whatever model holds them (a functional graph over `base.output`, or the
backbone nested in a `keras.Sequential`), checks that every frozen one still holds
the base's weights bit for bit, and describes the rest as the head.
"""

import hashlib
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from zoo.cards.card import Card, Lineage
from zoo.cards.license_policy import card_license_expression
from zoo.errors import ZooError

if TYPE_CHECKING:
    from zoo.api.package import Package


@dataclass(frozen=True, eq=False)
class Origin:
    """The base a model was built from, and the state of its layers then."""

    lineage: Lineage  # base_* fields, cut, BatchNorm policy, head, earlier fine-tuning
    card: Card  # the card the derived one inherits from (the base's, or a derived one's)
    base_layers: frozenset[str]
    adapter_layers: frozenset[str]
    head_layers: frozenset[str]  # a head zoo.backbone(head=...) built, named by `lineage.head`
    digests: dict[str, str]  # base layer name -> sha256 of its weights when recorded


# Layer object -> the origin it belongs to. Weak keys: a notebook that builds many
# models keeps none of them alive through this table.
_ORIGINS: "weakref.WeakKeyDictionary[Any, Origin]" = weakref.WeakKeyDictionary()


def weights_digest(layer: Any) -> str:
    """sha256 over a layer's weights (shape, dtype and bytes of each, in order)."""
    digest = hashlib.sha256()
    for weight in layer.weights:
        value = weight.numpy()
        digest.update(f"{value.shape}{value.dtype}".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


def remember(model: Any, origin_lineage: Lineage, card: Card, *, base_layers: set[str],
             adapter_layers: set[str] = frozenset(), head_layers: set[str] = frozenset()
             ) -> None:
    """Record `model`'s base layers (by object) as coming from the base in `lineage`."""
    layers = {layer.name: layer for layer in model.layers if layer.name in base_layers}
    origin = Origin(lineage=origin_lineage, card=card, base_layers=frozenset(layers),
                    adapter_layers=frozenset(adapter_layers),
                    head_layers=frozenset(head_layers),
                    digests={name: weights_digest(layer) for name, layer in layers.items()})
    for layer in layers.values():
        _ORIGINS[layer] = origin
    _ORIGINS[model] = origin


def remember_package(model: Any, package: "Package") -> None:
    """A loaded package's model keeps its lineage: a derived package's own, or, for a
    package pulled from a hub, the package itself as the base."""
    card = package.card
    stages = card.layer_map.stages()
    if card.lineage is not None:
        remember(model, card.lineage, card,
                 base_layers={n for n, s in stages.items() if s == "base"},
                 adapter_layers={n for n, s in stages.items() if s == "adapter"},
                 head_layers={n for n, s in stages.items() if s == "head"})
    elif package.ref is not None and package.revision is not None:
        from zoo.build.freezing import BATCHNORM_POLICY
        from zoo.cards.card import CARD_FILE
        from zoo.cards.digest import sha256_file

        lineage = Lineage(base_ref=package.ref, base_revision=package.revision,
                          base_card_sha256=sha256_file(package.path / CARD_FILE),
                          base_license=card_license_expression(card), base_name=card.name,
                          base_signed_by=package.signer,  # verified, not the card's claim
                          cut_layer=card.layer_map.names()[-1],
                          batchnorm_policy=BATCHNORM_POLICY)
        remember(model, lineage, card, base_layers={n for n, s in stages.items() if s == "base"})


def _walk(layer: Any) -> Iterator[Any]:
    yield layer
    for sub in getattr(layer, "layers", ()):  # a nested Model or Sequential
        yield from _walk(sub)


def origin_of(model: Any) -> Origin | None:
    """The one zoo base `model` is built on, or None; two bases are refused."""
    found = {id(o): o for layer in _walk(model) if (o := _ORIGINS.get(layer)) is not None}
    if len(found) > 1:
        names = sorted({o.lineage.base_ref for o in found.values()})
        raise ZooError(f"the model holds layers of {len(found)} zoo backbones "
                       f"({', '.join(names)}); a package records one base: save the parts "
                       "separately")
    return next(iter(found.values()), None)


@dataclass(frozen=True)
class DerivedParts:
    lineage: Lineage
    stages: dict[str, str]  # top-level layer name -> adapter / head (base is the default)


def derived_parts(model: Any, origin: Origin) -> DerivedParts:
    """The lineage of `model` now: its frozen base layers (each checked to hold the
    base's weights bit for bit) and the layers the user added (the head)."""
    base = {layer.name: layer for layer in _walk(model)
            if _ORIGINS.get(layer) is origin and layer.name in origin.base_layers}
    frozen = []
    for name, layer in base.items():
        if layer.trainable or not layer.weights:
            continue
        if weights_digest(layer) != origin.digests[name]:
            raise ZooError(f"layer '{name}' is frozen but its weights are no longer the "
                           "base's (it was trained, then frozen again); set its trainable "
                           "back to True before zoo.save to record it as fine-tuned")
        frozen.append(name)
    top = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    added = [layer for layer in top if _ORIGINS.get(layer) is not origin
             and layer.name not in origin.adapter_layers]
    stages = {layer.name: "head" for layer in added}
    stages.update({name: "adapter" for name in origin.adapter_layers})
    # The head: the one zoo.backbone(head=...) built (on top, or inside a nested
    # backbone), then the layers the user added, by class and name.
    parts = [origin.lineage.head] if origin.lineage.head and origin.head_layers else []
    parts += [f"{type(layer).__name__}:{layer.name}" for layer in added
              if layer.name not in origin.head_layers]
    head = ", ".join(parts) or None
    lineage = replace(origin.lineage, frozen_layers=frozen, head=head)
    return DerivedParts(lineage=lineage, stages=stages)
