"""A deploy bundle: everything a device needs to run an export, and nothing that
needs TensorFlow.

    model.onnx | model.tflite   the exported network
    labels.json                 class names, in output order
    preprocessing.json          input shape, dtype, scaling, channel order
    card.json                   the package's card, for provenance
    bundle.json                 which file is the model, its format, and the sha256 of
                                every other file: `zoo predict` checks them all before
                                it loads anything (`zoo.deploy.predict.read_bundle`)
    LICENSE                     the license terms, carried forward from the base
"""

import json
import shutil
from pathlib import Path

from zoo.cards.card import Card
from zoo.cards.digest import sha256_file
from zoo.deploy.runtime import BUNDLE_FILE
from zoo.errors import ZooError
from zoo.files import regular_files
from zoo.package import read_verified_card, staged_package


def _license_text(card: Card) -> str:
    lines = [f"{card.name} {card.version} is distributed under: {card.license}"]
    if card.license_name:
        lines.append(f"License: {card.license_name} ({card.license_link or ''})")
    lines.append(f"Authors: {', '.join(card.authors) or 'unknown'}")
    if lineage := card.lineage:
        lines += ["", f"It is derived from {lineage.base_ref} at revision "
                      f"{lineage.base_revision} ({lineage.base_name or ''}), licensed "
                      f"{lineage.base_license}; those terms apply to the base network's "
                      "weights and travel with this bundle."]
    lines += ["", "SPDX license texts: https://spdx.org/licenses/"]
    return "\n".join(lines) + "\n"


def write_bundle(package_dir: Path, export_key: str, out: Path, force: bool = False) -> Path:
    card = read_verified_card(package_dir)
    export = card.exports.get(export_key)
    if export is None:
        raise ZooError(f"{package_dir} has no '{export_key}' export; run zoo export first")
    source = Path(package_dir) / export.path
    if source.is_dir():
        raise ZooError("a deploy bundle holds an ONNX or TFLite file, not a SavedModel")
    channels = card.preprocessing.input_shape[-1]
    with staged_package(out, force=force) as staging:
        shutil.copyfile(source, staging / source.name)
        labels = card.preprocessing.label_names or []
        (staging / "labels.json").write_text(json.dumps(labels, indent=2) + "\n")
        preprocessing = {**card.preprocessing.to_json(),
                         "channel_order": "RGB" if channels == 3 else "gray" if channels == 1
                         else f"{channels} channels"}
        preprocessing.pop("label_names", None)
        (staging / "preprocessing.json").write_text(json.dumps(preprocessing, indent=2) + "\n")
        shutil.copyfile(Path(package_dir) / "card.json", staging / "card.json")
        (staging / "LICENSE").write_text(_license_text(card))
        files = {name: sha256_file(staging / name) for name in regular_files(staging)}
        manifest = {"model": source.name, "format": source.suffix.lstrip("."),
                    "export": export_key, "sha256": files[source.name],
                    "package": card.name, "version": card.version, "files": files}
        (staging / BUNDLE_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
    return Path(out)
