"""The pull cache: content-addressed blobs and one verified snapshot per revision.

    CACHE/blobs/<sha256>                          file contents, by hash, read-only
    CACHE/snapshots/<owner>/<name>/<commit>/...   a revision, hard links to blobs
    CACHE/refs/hf/<owner>/<name>/<rev>            hf:// tag or branch → commit, for offline
                                                  use (kept by `HfHub`)
    CACHE/tmp/pull-*                              downloads in progress (`zoo cache clean`)

A revision is downloaded into a temporary folder, checked (file names against
the path grammar, every file against its card's sha256 list, model.keras's
config against the allow-list and the card's layer map) and only then moved
into place, so a refusal leaves nothing behind. A cached snapshot is checked
the same way on every use and fetched again if it no longer passes.

The cache cannot lie: snapshot files are hard links to read-only blobs (no
second copy on disk), and since a hard link shares its bytes with every other
snapshot that holds the file, and root or a careless script can write a
read-only file anyway, no blob is trusted by its name: its bytes are hashed on
reuse as on download, and a damaged blob is replaced by the fresh verified copy.
"""

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from filelock import FileLock

from zoo.cards.card import CARD_FILE, MODEL_FILE, Card, read_card
from zoo.cards.digest import sha256_file
from zoo.errors import CardError, IntegrityError, ZooError
from zoo.hub import open_hub
from zoo.hub.refs import HubRef
from zoo.package import verify_files
from zoo.paths import cache_root
from zoo.trust.model_scan import layer_differences, scan_model_file
from zoo.trust.repo_paths import check_repo_path

READ_ONLY = 0o444
STALE_DOWNLOAD_S = 24 * 3600  # `zoo cache clean` leaves younger downloads, maybe in progress


@dataclass(frozen=True)
class Snapshot:
    ref: HubRef
    revision: str
    path: Path
    card: Card
    card_sha256: str


def check_snapshot(folder: Path, card: Card) -> None:
    """Everything a pulled revision must pass before anything loads it: file names,
    every file's sha256, and a model.keras whose config is plain Keras and whose
    layers are the ones the card's layer map shows."""
    for name in card.files:
        check_repo_path(name)
    verify_files(folder, card)
    model = folder / MODEL_FILE
    if model.is_file():
        scanned = scan_model_file(model)
        # A Sequential config lists its InputLayer, which Keras' `model.layers` (and so
        # the card) leaves out; input layers hold no weights, so neither side's count.
        scanned = replace(scanned, layers=[layer for layer in scanned.layers
                                           if layer.class_name != "InputLayer"])
        layers = [(layer.name, layer.class_name) for layer in card.layer_map.layers
                  if layer.class_name != "InputLayer"]
        if diffs := layer_differences(layers, scanned):
            raise IntegrityError(f"{folder}: the card's layer map does not match model.keras: "
                                 f"{diffs[0]}" + (f" (and {len(diffs) - 1} more)"
                                                  if len(diffs) > 1 else ""))


def _store_blobs(folder: Path, card: Card, blobs: Path) -> None:
    """Move each verified file into the blob store, read-only, and hard-link it back.
    A blob already there is reused only if its bytes still hash to its name."""
    blobs.mkdir(parents=True, exist_ok=True)
    for name, digest in card.files.items():
        file, blob = folder / name, blobs / digest
        if blob.is_file() and sha256_file(blob) == digest:
            file.unlink()
        else:  # new, or damaged in place: the fresh verified copy takes its name
            os.chmod(file, READ_ONLY)
            os.replace(file, blob)
        try:
            os.link(blob, file)
        except OSError:
            shutil.copyfile(blob, file)


def _cached(snapshot: Path) -> Card | None:
    """The card of a cached snapshot that still passes every check; else it is removed."""
    if not snapshot.is_dir():
        return None
    try:
        card = read_card(snapshot)
        check_snapshot(snapshot, card)
        return card
    except ZooError:
        shutil.rmtree(snapshot)
        return None


def package_folder(target: str) -> tuple[Path, str]:
    """A package folder as given, or the verified snapshot of a hub reference;
    with a label saying which."""
    if Path(target).is_dir():
        return Path(target), str(target)
    from zoo.hub.refs import parse_ref

    snapshot = fetch(parse_ref(target))
    return snapshot.path, str(snapshot.ref.at(snapshot.revision))


def checked_package(target: str) -> tuple[Card, str]:
    """The card of a package folder or hub reference after every check a pull makes
    (hashes, config scan, layer map against model.keras), and where it is."""
    package, where = package_folder(target)
    card = read_card(package)
    check_snapshot(package, card)
    return card, where


def fetch(ref: HubRef) -> Snapshot:
    """The verified snapshot of `ref`, downloading it if not cached."""
    hub = open_hub(ref)
    revision = hub.resolve(ref.owner, ref.name, ref.revision)
    root = cache_root()
    snapshot = root / "snapshots" / ref.owner / ref.name / revision
    (root / "locks").mkdir(parents=True, exist_ok=True)
    with FileLock(str(root / "locks" / f"{ref.owner}--{ref.name}--{revision}.lock")):
        card = _cached(snapshot)
        if card is None:
            (root / "tmp").mkdir(parents=True, exist_ok=True)
            incoming = Path(tempfile.mkdtemp(dir=root / "tmp", prefix="pull-"))
            try:
                try:
                    hub.download(ref.owner, ref.name, revision, incoming)
                    card = read_card(incoming)
                    check_snapshot(incoming, card)
                except (IntegrityError, CardError) as exc:
                    why = str(exc).replace(f"{incoming}/", "").replace(f"{incoming}: ", "")
                    raise type(exc)(f"refusing {ref.at(None)}@{revision[:12]}: {why}") from exc
                _store_blobs(incoming, card, root / "blobs")
                snapshot.parent.mkdir(parents=True, exist_ok=True)
                os.replace(incoming, snapshot)
            finally:
                shutil.rmtree(incoming, ignore_errors=True)
    return Snapshot(ref, revision, snapshot, card, sha256_file(snapshot / CARD_FILE))


@dataclass(frozen=True)
class CacheProblem:
    path: Path
    why: str


def verify_cache(root: Path | None = None) -> Iterator[CacheProblem]:
    """Every blob against its name and every snapshot against its card (like
    `hf cache verify`); yields what fails, changes nothing."""
    root = Path(root or cache_root())
    for blob in sorted((root / "blobs").glob("*")):
        if blob.is_file() and sha256_file(blob) != blob.name:
            yield CacheProblem(blob, "its bytes no longer hash to its name")
    for snapshot in sorted((root / "snapshots").glob("*/*/*")):
        try:
            check_snapshot(snapshot, read_card(snapshot))
        except ZooError as exc:
            yield CacheProblem(snapshot, str(exc).split(": ", 1)[-1])


def clean_cache(root: Path | None = None, stale_after_s: float = STALE_DOWNLOAD_S
                ) -> list[Path]:
    """Remove what `verify_cache` finds, downloads left by killed pulls, and blobs no
    snapshot links to any more; returns what was removed."""
    root = Path(root or cache_root())
    removed = []
    for problem in list(verify_cache(root)):
        _remove(problem.path)
        removed.append(problem.path)
    now = time.time()
    for leftover in sorted((root / "tmp").glob("pull-*")):
        if now - leftover.stat().st_mtime > stale_after_s:
            _remove(leftover)
            removed.append(leftover)
    for blob in sorted((root / "blobs").glob("*")):
        if blob.is_file() and blob.stat().st_nlink == 1:  # no snapshot links to it
            blob.unlink()
            removed.append(blob)
    return removed


def _remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
