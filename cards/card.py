"""Reading, writing and validating `card.json` against the v1 JSON Schema.

Every read and every write validates, so a card on disk is always one the
schema accepts. The card is assembled in one place, `new_card`.
"""

import json
import platform
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from zoo.errors import CardError
from zoo.files import atomic_write_bytes

CARD_FILE = "card.json"
README_FILE = "README.md"
MODEL_FILE = "model.keras"
# Files a hub repository may hold that the card cannot list.
UNLISTED_FILES = frozenset({CARD_FILE, ".gitattributes"})

Card = dict[str, Any]


@cache
def _validator() -> jsonschema.Draft202012Validator:
    text = resources.files("zoo.cards").joinpath("schema/card.v1.json").read_text()
    schema = json.loads(text)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def validate_card(card: Card, where: str = "card") -> None:
    """Raise CardError naming the first schema violation, if any."""
    errors = sorted(_validator().iter_errors(card), key=lambda e: list(e.absolute_path))
    if errors:
        error = errors[0]
        path = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        raise CardError(f"{where} is not a valid card at {path}: {error.message}")


def read_card(package_dir: Path) -> Card:
    path = Path(package_dir) / CARD_FILE
    if not path.is_file():
        raise CardError(f"{package_dir} is not a package: it has no {CARD_FILE}")
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CardError(f"{path} cannot be read as JSON: {exc}") from exc
    validate_card(card, where=str(path))
    return card


def card_bytes(card: Card) -> bytes:
    return (json.dumps(card, indent=2, sort_keys=False) + "\n").encode("utf-8")


def write_card(package_dir: Path, card: Card) -> Path:
    """Validate and write the card atomically (a crash leaves the old one)."""
    validate_card(card)
    return atomic_write_bytes(Path(package_dir) / CARD_FILE, card_bytes(card))


def framework_versions() -> dict[str, str]:
    """Versions of what built the model; imports only what is already loaded."""
    import keras

    from zoo import __version__

    versions = {"python": platform.python_version(), "keras": keras.__version__,
                "backend": keras.backend.backend(), "backbone_zoo": __version__}
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        versions["tensorflow"] = tf.__version__
    return versions


def new_card(*, name: str, version: str, license: str, authors: list[str],
             intended_use: str, training_data: dict, preprocessing: dict,
             layer_map: dict, metrics: dict | None = None,
             license_name: str | None = None, license_link: str | None = None,
             description: str | None = None, tags: list[str] | None = None,
             lineage: dict | None = None, history: dict | None = None) -> Card:
    """The one place a card is assembled; `files` is filled in when sealed."""
    card: Card = {
        "card_version": 1,
        "name": name,
        "version": version,
        "license": license,
        "authors": list(authors),
        "intended_use": intended_use,
        "training_data": training_data,
        "metrics": metrics or {},
        "preprocessing": preprocessing,
        "layer_map": layer_map,
        "framework": framework_versions(),
        "files": {},
    }
    optional = {"license_name": license_name, "license_link": license_link,
                "description": description, "tags": tags, "lineage": lineage,
                "history": history}
    card.update({key: value for key, value in optional.items() if value})
    return card
