"""`zoo import`: a backbone the ecosystem published (a keras-hub preset or a Keras 3
folder, local or on a hub) becomes a normal zoo package, pinned and hashed.

The order is the point: resolve the revision to its commit, download only the files
the format needs and check each against the hashes the hub lists, check the license
against the user's policy, scan every config, and only then let Keras or keras-hub
build anything. The card records where it all came from (`imported_from`).
"""

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zoo.build import foreign
from zoo.build.pack import (
    behind_input,
    default_preprocessing,
    input_shape_for,
    pack_model,
    raw_pixel_scaling,
)
from zoo.cards.card import Card, ImportSource
from zoo.cards.card_data import CardData
from zoo.cards.digest import sha256_file
from zoo.cards.hf_license import readme_file_license
from zoo.cards.license_policy import LicenseTerms, load_policy, parse_license
from zoo.errors import LicenseRefused, ZooError
from zoo.files import regular_files
from zoo.hub.pinned import fetch_pinned
from zoo.hub.refs import parse_ref

LICENSE_FOUND, LICENSE_ASSERTED = "source", "importer"


@dataclass(frozen=True)
class ImportRequest:
    """What `zoo import SOURCE` was asked for; strings as typed."""

    source: str  # a local folder, or a hub reference (hf://OWNER/NAME[@REV], …)
    name: str | None = None
    license: str | None = None
    version: str = "1.0.0"
    authors: tuple[str, ...] = ()
    input_size: str | None = None
    allow_license: tuple[str, ...] = ()
    policy_path: Path | None = None


@dataclass(frozen=True)
class ImportResult:
    card: Card
    warnings: list[str]
    left_out: tuple[str, ...]  # a task preset's head and preprocessor files


@dataclass(frozen=True)
class _Source:
    folder: Path
    where: str  # what the card and messages call it
    revision: str | None
    sha256: dict[str, str]
    default_name: str
    owner: str | None


def _local(folder: Path) -> tuple[_Source, set[str]]:
    present = set(regular_files(folder))
    names = foreign.files_to_read(present, str(folder))
    return _Source(folder, str(folder.resolve()), None,
                   {name: sha256_file(folder / name) for name in names},
                   folder.resolve().name, None), present


def local_folder(source: str) -> Path | None:
    """The local folder SOURCE names, or None for a hub reference. Whatever is
    spelled as a path (absolute, `./`, `../`, `~`) or exists on disk is a path, so a
    missing folder is reported as one, not parsed as an owner named '.'."""
    if "://" in source:
        return None
    path = Path(source).expanduser()
    spelled = source.startswith(("/", "./", "../", "~")) or source in (".", "..")
    if not spelled and not path.exists():
        return None
    if not path.exists():
        raise ZooError(f"no folder {source} to import (it does not exist); SOURCE is a local "
                       "folder or a hub reference such as hf://OWNER/NAME[@REV]")
    if not path.is_dir():
        raise ZooError(f"{source} is not a folder; zoo import reads a keras-hub preset or "
                       "Keras 3 folder, or a hub reference such as hf://OWNER/NAME[@REV]")
    return path


def _from_hub(source: str, into: Path) -> tuple[_Source, set[str]]:
    ref = parse_ref(source)
    listed: set[str] = set()

    def choose(listing: dict) -> list[str]:
        listed.update(listing)
        return foreign.files_to_read(set(listing), str(ref))

    pinned = fetch_pinned(ref, choose, into)
    return _Source(pinned.folder, str(ref.at(None)), pinned.ref.revision, pinned.sha256,
                   ref.name, ref.owner), listed


def _license(source: _Source, asserted: str | None) -> tuple[str, str]:
    """The license and where it came from: the README's front matter, or --license
    when the source states none. A --license that contradicts the source is refused."""
    found = readme_file_license(source.folder / foreign.README)
    if found:
        if asserted and parse_license(asserted, "--license") != parse_license(found):
            raise LicenseRefused(f"{source.where} states its license as '{found}' (README "
                                 f"front matter); --license '{asserted}' contradicts it")
        return found, LICENSE_FOUND
    if not asserted:
        raise LicenseRefused(f"{source.where} states no license (no 'license:' in its "
                             "README front matter); if you know its terms, pass --license "
                             "SPDX, and the card will record that you asserted it")
    parse_license(asserted, "--license")
    return asserted, LICENSE_ASSERTED


def _plain_model(model: Any, converter: foreign.Converter | None,
                 size: tuple[int, ...] | None) -> Any:
    """A plain functional Keras model of the backbone's layers, behind the image
    converter's rescaling and at `size` when those are given."""
    import keras

    if converter is not None or size is not None:
        transform = converter.apply if converter else (lambda x: x)
        what = f"the preset's {foreign.CONVERTER}" if converter else "no preprocessing"
        return behind_input(model, input_shape_for(model, size), transform, what)
    if type(model).__name__ in ("Functional", "Sequential"):  # Keras' own, not a subclass
        return model
    one = len(model.inputs) == 1 and len(model.outputs) == 1  # tensors, not one-item lists
    return keras.Model(model.inputs[0] if one else model.inputs,
                       model.outputs[0] if one else model.outputs, name=model.name)


def _name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-._")[:96] or "imported"


def import_backbone(request: ImportRequest, out: Path, *, force: bool = False) -> ImportResult:
    from zoo.build.rebuild import parse_size

    out = Path(out).absolute()
    if out.exists() and not force:  # before any download, not after
        raise ZooError(f"{out} already exists; choose another --out or pass --force")
    folder = local_folder(request.source)
    policy = load_policy(request.policy_path).licenses(request.allow_license)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.import-") as tmp:
        if folder is not None:
            source, present = _local(folder)
        else:
            source, present = _from_hub(request.source, Path(tmp) / "source")
        fmt = foreign.identify(source.folder, present)
        license, license_from = _license(source, request.license)
        name = request.name or _name(source.default_name)
        warnings = policy.check(LicenseTerms(name=f"{source.where} ({name})", license=license))
        foreign.scan(source.folder, fmt)
        backbone = foreign.load_backbone(source.folder, fmt)
        cuts = foreign.pyramid_layers(backbone)
        converter = foreign.read_converter(source.folder) if fmt.format == foreign.PRESET \
            else None
        size = parse_size(request.input_size) if request.input_size else \
            converter.size if converter else None
        model = _plain_model(backbone, converter, size)
    if classes := foreign.needs_keras_hub(model):
        raise ZooError(f"cannot import {fmt.class_name}: its keras-hub layers "
                       f"({', '.join(classes[:4])}) load only inside the keras-hub backbone "
                       "class, so a cut, a frozen part or a new head of it could not be "
                       "saved and reloaded; the zoo imports backbones of plain Keras layers")
    scaling = converter.describe() if converter and (converter.scale or converter.offset) \
        else raw_pixel_scaling("none") if fmt.format == foreign.KERAS_FOLDER else \
        "as the source expects: a backbone preset holds no image converter (its task presets do)"
    record = ImportSource(source=source.where, revision=source.revision, format=fmt.format,
                          files=dict(sorted(source.sha256.items())), license_from=license_from,
                          class_name=fmt.class_name, keras_version=fmt.keras_version,
                          keras_hub_version=fmt.keras_hub_version)
    at = f"@{source.revision[:12]}" if source.revision else ""
    card_data = CardData.imported(
        record, name=name, version=request.version, license=license,
        authors=list(request.authors) or ([source.owner] if source.owner else []),
        description=(f"Imported by `zoo import` from {source.where}{at}: a {fmt.format} "
                     f"({fmt.class_name or 'model'}), written by Keras "
                     f"{fmt.keras_version or '?'}"
                     + (f" and keras-hub {fmt.keras_hub_version}" if fmt.keras_hub_version
                        else "") + "."),
        preprocessing=default_preprocessing(model, scaling))
    card = pack_model(model, out, card_data, force=force, cut_names=cuts or None)
    return ImportResult(card, warnings, fmt.task_files)
