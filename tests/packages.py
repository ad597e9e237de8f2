"""Hand-built packages for tests of the hub layers, made without Keras: any bytes
serve as `model.keras` when nothing loads the model, and the card is written as
JSON by hand (`new_card` asks Keras for its version)."""

import hashlib
import json
from pathlib import Path

README = """---
license: {license}
library_name: keras
---

# {name}

A package built by the tests; its model file holds no model.
"""


def make_package(directory: Path, *, name: str = "toy", version: str = "1.0.0",
                 license: str = "MIT", files: dict[str, bytes] | None = None) -> Path:
    """Write `files` (default: a made-up model.keras), a README.md and a schema-valid
    card.json listing the sha256 of every file but itself; return the folder."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    contents = {"model.keras": f"weights of {name} {version}".encode() * 64} \
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
