"""Hand-built packages for tests of the hub layers, made without Keras: a `.keras`
zip whose config is a layerless Sequential (it passes the config scan; nothing
loads it), any bytes as its weights, and the card written as JSON by hand
(`CardData.card` asks Keras for its version)."""

import hashlib
import io
import json
import zipfile
from pathlib import Path

README = """---
license: {license}
library_name: keras
---

# {name}

A package built by the tests; its model file holds no model.
"""


def keras_zip(name: str, weights: bytes, config: dict | None = None) -> bytes:
    """The bytes of a `.keras` file as Keras lays it out, built by hand (fixed
    timestamps, so the same arguments give the same bytes)."""
    config = config or {"module": "keras", "class_name": "Sequential", "registered_name": None,
                        "config": {"name": name, "layers": []}}
    members = {"metadata.json": json.dumps({"keras_version": "3.15.1"}).encode(),
               "config.json": json.dumps(config).encode(), "model.weights.h5": weights}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for member, data in members.items():
            archive.writestr(zipfile.ZipInfo(member, date_time=(2026, 1, 1, 0, 0, 0)), data)
    return buffer.getvalue()


def make_package(directory: Path, *, name: str = "toy", version: str = "1.0.0",
                 license: str = "MIT", files: dict[str, bytes] | None = None) -> Path:
    """Write `files` (default: a made-up model.keras), a README.md and a schema-valid
    card.json listing the sha256 of every file but itself; return the folder."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    contents = {"model.keras": keras_zip(name, f"weights of {name} {version}".encode() * 64)} \
        if files is None else dict(files)
    contents.setdefault("README.md", README.format(name=name, license=license).encode())
    for path, data in contents.items():
        (directory / path).parent.mkdir(parents=True, exist_ok=True)
        (directory / path).write_bytes(data)
    card = {
        "card_version": 1,
        "name": name,
        "version": version,
        "license": license,
        "authors": ["the tests"],
        "intended_use": "Testing the hub layers.",
        "training_data": {"name": "none"},
        "metrics": {},
        "preprocessing": {"input_shape": [4], "dtype": "float32", "scaling": "none"},
        "layer_map": {"layers": [], "cut_points": [], "total_params": 0,
                      "trainable_params": 0, "non_trainable_params": 0},
        "framework": {"keras": "3.15.1"},
        "files": {path: hashlib.sha256(data).hexdigest()
                  for path, data in sorted(contents.items())},
    }
    (directory / "card.json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    return directory


def card_json(package_dir: Path) -> dict:
    """A package's card as the JSON on disk, after the zoo has validated and typed it:
    what tests of the on-disk contract read."""
    from zoo.cards.card import read_card

    return read_card(Path(package_dir)).to_json()


def license_terms(license: str, **extra: str):
    """License terms named 'net', for the license-policy tests."""
    from zoo.cards.license_policy import LicenseTerms

    return LicenseTerms(name="net", license=license, **extra)


def scaled_classifier(pixels, features, rows, classes: int, name: str,
                      activation: str | None = None):
    """A Dense head on `features` whose logits spread about 1 on `rows`, for random-weight
    backbones: one scale for all channels (their typical spread), so no near-constant
    channel gets a weight that magnifies rounding, and the outputs move with the input."""
    import keras
    import numpy as np

    head = keras.layers.Dense(classes, activation=activation, name="head")
    model = keras.Model(pixels, head(features), name=name)
    seen = np.asarray(keras.Model(pixels, features)(rows, training=False))
    spread = np.sqrt(np.mean(seen.var(axis=0))) + 1e-30
    kernel = np.random.default_rng(1).normal(size=(seen.shape[1], classes)) \
        / (spread * np.sqrt(seen.shape[1]))
    head.set_weights([kernel.astype(np.float32),
                      (-seen.mean(axis=0) @ kernel).astype(np.float32)])
    return model
