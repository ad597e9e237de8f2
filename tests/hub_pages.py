"""A folder hub for the page tests, made without Keras: packages from
`packages.make_package` whose model.keras configs list the layers their cards
map (so a pull's checks pass), published with the zoo's own FolderHub.

    zoo/base          v1 (cut points dense_1, dense_2), then v2 (dense_2 renamed mid)
    acme/derived-a    derived from zoo/base@v1, cut at dense_2, two layers frozen
    acme/derived-b    derived from acme/derived-a (signed, when a key is given)
    zoo/preset        imported from a keras-hub preset
    evil/evil         every text field of its card, its README and its layer names
                      hold script (`HOSTILE`)
    keras/mirrored    a keras-hub preset's files with no zoo card, as `zoo hub mirror`
                      commits them (a `Mirrored-from:` trailer)
"""

import json
from dataclasses import dataclass
from pathlib import Path

from packages import keras_zip, make_package
from zoo.hub import FolderHub
from zoo.hub.mirror import TRAILER as MIRRORED_FROM

MARKER = "__zoo_injected"  # what a script that ran would set on `window`
HOSTILE = f'"><script>window.{MARKER}=1</script><img src=x onerror="window.{MARKER}=2">'
HOSTILE_README = f"""---
license: mit
---
# Evil {HOSTILE}

<script>window.{MARKER}=3</script>

[click me](javascript:window.{MARKER}=4) and <iframe src="javascript:1"></iframe>
"""


@dataclass(frozen=True)
class PageHub:
    root: Path
    base_v1: str
    base_v2: str
    derived_a: str
    derived_b: str
    preset: str
    evil: str
    mirrored: str


def layer(index: int, name: str, stage: str = "base", units: int = 4) -> dict:
    return {"index": index, "name": name, "class": "Dense", "output_shape": [None, units],
            "params": 4 * units + units, "trainable": True, "stage": stage, "inbound": []}


def cut(name: str, index: int, channels: int = 4) -> dict:
    return {"name": name, "index": index, "channels": channels, "reduction": None,
            "kind": "vector"}


def package(folder: Path, name: str, layers: list[dict], cut_points: list[dict],
            version: str = "1.0.0", readme: str | None = None, **card: object) -> Path:
    """A package whose model.keras lists `layers` and whose card maps them."""
    config = {"module": "keras", "class_name": "Sequential", "registered_name": None,
              "config": {"name": name, "layers": [
                  {"module": "keras.layers", "class_name": "Dense", "registered_name": None,
                   "config": {"name": entry["name"], "units": 4}} for entry in layers]}}
    files = {"model.keras": keras_zip(name, f"{name} {version}".encode() * 32, config)}
    if readme is not None:
        files["README.md"] = readme.encode()
    make_package(folder, name=name, version=version, files=files)
    data = json.loads((folder / "card.json").read_text())
    total = sum(entry["params"] for entry in layers)
    data["layer_map"] = {"layers": layers, "cut_points": cut_points, "total_params": total,
                         "trainable_params": total, "non_trainable_params": 0}
    data.update(card)
    (folder / "card.json").write_text(json.dumps(data, indent=2) + "\n")
    return folder


def lineage(base_ref: str, revision: str, cut_layer: str, frozen: list[str]) -> dict:
    return {"base_ref": base_ref, "base_revision": revision, "base_card_sha256": "0" * 64,
            "base_license": "MIT", "base_name": base_ref.split("/")[-1], "cut_layer": cut_layer,
            "frozen_layers": frozen, "head": "dense(3, softmax)", "finetune": []}


def build_page_hub(work: Path, sign_key: Path | None = None) -> PageHub:
    """The hub described above, under `work`/hub."""
    from zoo.hub.publish import signed_copy

    hub = FolderHub(work / "hub")
    dense = [layer(0, "dense_1"), layer(1, "dense_2"), layer(2, "dense_3")]
    v1 = hub.publish(package(work / "base1", "base", dense, [cut("dense_1", 0),
                                                            cut("dense_2", 1)],
                             description="A small dense base for the page tests.",
                             tags=["tabular"]),
                     "zoo", "base", tag="v1").revision
    renamed = [layer(0, "dense_1"), layer(1, "mid"), layer(2, "dense_3")]
    v2 = hub.publish(package(work / "base2", "base", renamed, [cut("dense_1", 0), cut("mid", 1)],
                             version="2.0.0", tags=["tabular"]), "zoo", "base", tag="v2").revision
    head = [layer(0, "dense_1"), layer(1, "dense_2"), layer(2, "head", "head", 3)]
    derived_a = hub.publish(package(work / "a", "derived-a", head, [cut("dense_2", 1)],
                                    lineage=lineage("zoo/base", v1, "dense_2",
                                                    ["dense_1", "dense_2"])),
                            "acme", "derived-a", tag="v1").revision
    b = package(work / "b", "derived-b", head, [], license="Apache-2.0",
                lineage=lineage("acme/derived-a", derived_a, "dense_2", ["dense_1"]))
    if sign_key is not None:
        b = signed_copy(b, sign_key, work / "b-signed")
    derived_b = hub.publish(b, "acme", "derived-b", tag="v1").revision
    preset = hub.publish(package(
        work / "preset", "preset", dense, [cut("dense_2", 1)], license="Apache-2.0",
        imported_from={"source": "hf://keras/tiny_preset", "revision": "1" * 40,
                       "format": "keras-hub preset", "files": {"config.json": "2" * 64},
                       "license_from": "importer"}), "zoo", "preset").revision
    evil_layers = [layer(0, HOSTILE), layer(1, f"b{HOSTILE}")]
    evil = hub.publish(package(
        work / "evil", "evil", evil_layers, [cut(HOSTILE, 0)], readme=HOSTILE_README,
        description=HOSTILE, authors=[HOSTILE], intended_use=HOSTILE, tags=[HOSTILE],
        license="other", license_name=HOSTILE, license_link=f"javascript:window.{MARKER}=5",
        training_data={"name": HOSTILE, "source": HOSTILE},
        metrics={HOSTILE: {"value": 0.5, "split": HOSTILE}}), "evil", "evil").revision
    upstream = work / "upstream"
    upstream.mkdir()
    (upstream / "config.json").write_text('{"class_name": "ResNetBackbone"}')
    (upstream / "README.md").write_text("---\nlibrary_name: keras-hub\n---\nA preset.\n")
    mirrored = hub.commit_folder(upstream, "keras", "mirrored", message=(
        f"Upload preset\n\n{MIRRORED_FROM}: hf://keras/mirrored@{'4' * 40}\n")).revision
    return PageHub(hub.root, v1, v2, derived_a, derived_b, preset, evil, mirrored)
