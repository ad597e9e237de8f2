"""Turning a Keras model into a sealed package with its card."""

from pathlib import Path
from typing import Any

from zoo.cards.card import Card, new_card
from zoo.cards.layer_map import build_layer_map
from zoo.cards.license_policy import check_card_license
from zoo.package import load_keras_file, save_model, seal, staged_package


def default_preprocessing(model: Any, scaling: str = "none",
                          label_names: list[str] | None = None,
                          feature_names: list[str] | None = None) -> dict:
    spec = model.inputs[0]
    pre = {"input_shape": [None if d is None else int(d) for d in spec.shape[1:]],
           "dtype": str(spec.dtype), "scaling": scaling}
    if label_names:
        pre["label_names"] = list(label_names)
    if feature_names:
        pre["feature_names"] = list(feature_names)
    return pre


def pack_model(model: Any, out: Path, *, force: bool = False,
               stages: dict[str, str] | None = None, **card_fields: Any) -> Card:
    """Write `model` and its card as a package at `out` (atomically)."""
    card_fields.setdefault("preprocessing", default_preprocessing(model))
    card = new_card(layer_map=build_layer_map(model, stages), **card_fields)
    check_card_license(card)
    with staged_package(out, force=force) as staging:
        save_model(model, staging)
        seal(staging, card)
    return card


def pack_file(model_path: Path, out: Path, *, unsafe: bool = False, scaling: str = "none",
              label_names: list[str] | None = None, force: bool = False,
              **card_fields: Any) -> Card:
    """Package an existing .keras file (Sequential or Functional, nested models too)."""
    model = load_keras_file(Path(model_path), unsafe=unsafe)
    card_fields.setdefault("training_data", {"name": "unknown"})
    return pack_model(model, out, force=force,
                      preprocessing=default_preprocessing(model, scaling, label_names),
                      **card_fields)
