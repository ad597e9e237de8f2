"""What a caller says about a package, before the zoo measures the model.

A card has two halves: what only the caller knows (name, license, authors, what
it is for, the data it saw, where it came from) and what the zoo reads off the
model (the layer map, the input shape, the framework versions, the files'
hashes). `CardData` is the first half, typed, with a named constructor for
each way a package comes to be; `CardData.card` joins it to the second half
and is the one place a new `Card` is assembled. Like huggingface_hub's
`ModelCardData`: typed keywords, not a dict passed along as `**fields`.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Self

from zoo.cards.card import (
    Card,
    ImportSource,
    LayerMap,
    Lineage,
    Metric,
    Preprocessing,
    TrainingData,
    framework_versions,
)
from zoo.cards.license_policy import card_license_expression, combine_licenses

DEFAULT_VERSION = "1.0.0"
DERIVED_VERSION = "0.1.0"
UNKNOWN_DATA = "unknown"


@dataclass(kw_only=True)
class CardData:
    """The card's fields a caller states. `preprocessing` None: the model's input as it
    is, raw (`zoo.build.pack` fills it in); its input shape is always the model's."""

    name: str
    version: str = DEFAULT_VERSION
    license: str  # SPDX expression, or 'other' with license_name and license_link
    license_name: str | None = None
    license_link: str | None = None
    authors: list[str] = field(default_factory=list)
    intended_use: str = ""
    description: str | None = None
    tags: list[str] = field(default_factory=list)
    training_data: TrainingData = field(default_factory=lambda: TrainingData(name=UNKNOWN_DATA))
    metrics: dict[str, Metric] = field(default_factory=dict)
    preprocessing: Preprocessing | None = None
    lineage: Lineage | None = None
    imported_from: ImportSource | None = None

    @classmethod
    def network(cls, name: str, license: str, *, version: str = DEFAULT_VERSION,
                authors: Sequence[str] = (), license_name: str | None = None,
                license_link: str | None = None,
                intended_use: str = "Base network for transfer learning.",
                description: str | None = None, tags: Sequence[str] = (),
                training_data: TrainingData | str = UNKNOWN_DATA,
                metrics: dict[str, Metric] | None = None,
                preprocessing: Preprocessing | None = None) -> Self:
        """A network someone brings or trains (`zoo pack FILE`, the recipes, `zoo.pack`).

        >>> CardData.network("my-net", "MIT", authors=["me"]).training_data.name
        'unknown'
        """
        if isinstance(training_data, str):
            training_data = TrainingData(name=training_data)
        return cls(name=name, version=version, license=license, license_name=license_name,
                   license_link=license_link, authors=list(authors),
                   intended_use=intended_use, description=description, tags=list(tags),
                   training_data=training_data, metrics=dict(metrics or {}),
                   preprocessing=preprocessing)

    @classmethod
    def application(cls, architecture: str, *, weights: str, license: str,
                    name: str | None = None, version: str = DEFAULT_VERSION,
                    authors: Sequence[str] = (), license_name: str | None = None,
                    license_link: str | None = None) -> Self:
        """A Keras Applications architecture without its classifier top; `weights` is
        'none' (random), 'imagenet' or a weights file, and `license` the terms of what
        is packed (the code's for random weights, the weights' otherwise)."""
        random = weights == "none"
        source = ("none (random weights)" if random else "imagenet" if weights == "imagenet"
                  else f"weights file {Path(weights).name}")
        return cls(
            name=name or architecture.lower(), version=version, license=license,
            license_name=license_name, license_link=license_link, authors=list(authors),
            intended_use="Image feature extractor for transfer learning.",
            description=(f"Keras Applications {architecture} without its classifier top, "
                         + ("with RANDOM weights (--weights none): for mechanics, not "
                            "accuracy." if random else f"with weights from {weights}.")),
            training_data=TrainingData(name=source),
            tags=["image", "cnn", f"keras-applications-{architecture.lower()}"])

    @classmethod
    def derived(cls, base: Card, lineage: Lineage, *, name: str | None = None,
                license: str | None = None, authors: Sequence[str] = ()) -> Self:
        """A package derived from `base` with `lineage` (the hub ref, revision, card
        sha256 and verified signer it was pulled at; the cut, frozen set and head): the
        base's license carried forward AND the user's own `license`, if any. A new
        head has new classes, so the base's label names are dropped. A derived card as
        `base` (a derived package saved again) is its own template.

        Needs no hub: `zoo pull` calls it with a fetched snapshot's facts, `zoo.save`
        with those of the backbone inside the user's model."""
        again = base.lineage is not None
        preprocessing = replace(base.preprocessing,
                                input_shape=list(base.preprocessing.input_shape))
        if lineage.head and lineage.head != (base.lineage.head if again else None):
            preprocessing.label_names = None  # named when the new head is fine-tuned
        return cls(
            name=name or (base.name if again else f"{base.name}-derived"),
            version=DERIVED_VERSION,
            license=combine_licenses(card_license_expression(base), license),
            license_name=base.license_name if base.license == "other" else None,
            license_link=base.license_link, authors=list(authors or base.authors),
            intended_use=base.intended_use if again
            else f"Transfer learning from {base.name} {base.version}.",
            training_data=base.training_data if again else replace(
                base.training_data, name=f"{base.training_data.name} (base network)"),
            tags=list(base.tags) if again else ["derived", *base.tags],
            preprocessing=preprocessing, lineage=lineage)

    @classmethod
    def imported(cls, source: ImportSource, *, name: str, license: str, version: str,
                 authors: Sequence[str], description: str,
                 preprocessing: Preprocessing | None = None) -> Self:
        """A backbone imported by `zoo import` from a keras-hub preset or a Keras folder,
        with its source pinned and hashed."""
        return cls(name=name, version=version, license=license, authors=list(authors),
                   intended_use="Backbone for transfer learning.", description=description,
                   training_data=TrainingData(name="unknown (the source does not say)"),
                   tags=["imported", source.format.replace(" ", "-")],
                   preprocessing=preprocessing, imported_from=source)

    def card(self, layer_map: LayerMap, preprocessing: Preprocessing) -> Card:
        """The one place a new card is assembled: these fields, what was measured of
        the model, and the versions of what built it (`files` is filled in when sealed)."""
        return Card(name=self.name, version=self.version, license=self.license,
                    license_name=self.license_name, license_link=self.license_link,
                    authors=list(self.authors), intended_use=self.intended_use,
                    description=self.description, tags=list(self.tags),
                    training_data=self.training_data, metrics=dict(self.metrics),
                    preprocessing=preprocessing, layer_map=layer_map, lineage=self.lineage,
                    imported_from=self.imported_from, framework=framework_versions())
