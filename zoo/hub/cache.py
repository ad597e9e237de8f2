"""The pull cache: content-addressed blobs and one verified snapshot per revision.

    CACHE/blobs/<sha256>                          file contents, by hash, read-only
    CACHE/snapshots/<owner>/<name>/<commit>/...   a revision, hard links to blobs
    CACHE/refs/hf/<owner>/<name>/<rev>            hf:// tag or branch → commit, for offline
                                                  use (kept by `HfHub`)
    CACHE/tmp/pull-*                              downloads in progress (`zoo cache clean`)

Card first: the revision is listed, its card (bounded) downloaded and read, and
the listing must be exactly the card's files (plus `.gitattributes`), each of a
bounded size, before any other byte is downloaded, so an unlisted or oversized
file is refused unread. The rest is then downloaded into a temporary folder,
checked (file names against the path grammar, every file against its card's
sha256 list, model.keras's config against the allow-list and the card's layer
map) and only then moved into place, so a refusal leaves nothing behind. A
cached snapshot is checked the same way on every use and fetched again if it
no longer passes.

Every value that names a path here (owner, name, commit, file path, blob hash)
has passed `zoo.trust.repo_paths` first, and the cache removes only what
resolves strictly inside its own snapshots/, tmp/ or blobs/ (`remove_inside`):
never through a link, never outside.

The cache cannot lie: snapshot files are hard links to read-only blobs (no
second copy on disk), and since a hard link shares its bytes with every other
snapshot that holds the file, and root or a careless script can write a
read-only file anyway, no blob is trusted by its name: its bytes are hashed on
reuse as on download, and a damaged blob is replaced by the fresh verified copy.
"""

import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from filelock import FileLock

from zoo.cards.card import (
    CARD_FILE,
    MAX_CARD_BYTES,
    MODEL_FILE,
    SIGNATURE_FILE,
    UNLISTED_FILES,
    Card,
    read_card,
)
from zoo.cards.digest import sha256_file
from zoo.errors import CardError, IntegrityError, UnsafePathError, ZooError
from zoo.files import staged_folder
from zoo.hub import Hub, open_hub
from zoo.hub.base import RepoFile
from zoo.hub.refs import HubRef
from zoo.package import verify_files
from zoo.paths import cache_root
from zoo.trust.model_scan import layer_differences, scan_model_file
from zoo.trust.repo_paths import (
    MAX_FILES,
    MAX_REVISION_BYTES,
    check_commit,
    check_repo_path,
    check_sha256,
    confined,
)

READ_ONLY = 0o444
STALE_DOWNLOAD_S = 24 * 3600  # `zoo cache clean` leaves younger downloads, maybe in progress
REMOVABLE = ("snapshots", "tmp", "blobs")  # the only folders the cache removes anything from


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
        file, blob = folder / name, blobs / check_sha256(digest, "the card")
        if blob.is_symlink():  # not a blob the cache wrote: the verified copy replaces it
            blob.unlink()
        if blob.is_file() and sha256_file(blob) == digest:
            file.unlink()
        else:  # new, or damaged in place: the fresh verified copy takes its name
            os.chmod(file, READ_ONLY)
            os.replace(file, blob)
        try:
            os.link(blob, file)
        except OSError:
            shutil.copyfile(blob, file)


def remove_inside(root: Path, path: Path) -> None:
    """Remove `path` (a file, a link or a folder tree) only if it lies strictly inside
    the cache's snapshots/, tmp/ or blobs/ once its folders are resolved; a link is
    removed itself, never followed. Anything else is refused, never removed."""
    root = Path(root).resolve()
    path = Path(path)
    parent = path.parent.resolve()
    inside = any(parent == root / folder or parent.is_relative_to(root / folder)
                 for folder in REMOVABLE)
    if not inside or path.name in ("", ".", ".."):
        raise UnsafePathError(f"refusing to remove {path}: it is not inside the cache's "
                              f"{', '.join(REMOVABLE)} at {root}")
    target = parent / path.name
    if target.is_dir() and not target.is_symlink():
        shutil.rmtree(target)
    else:
        target.unlink(missing_ok=True)


def _cached(root: Path, snapshot: Path) -> Card | None:
    """The card of a cached snapshot that still passes every check; else it is removed
    (a link in its place is removed, not followed)."""
    if snapshot.is_symlink():
        remove_inside(root, snapshot)
        return None
    if not snapshot.is_dir():
        return None
    try:
        card = read_card(snapshot)
        check_snapshot(snapshot, card)
        return card
    except ZooError:
        remove_inside(root, snapshot)
        return None


@dataclass(frozen=True)
class Located:
    """A package folder as given, or the verified snapshot of a hub reference."""

    path: Path
    ref: str | None = None  # the reference without its revision, for a hub's
    revision: str | None = None


def package_folder(target: str) -> Located:
    """A package folder as given, or the verified snapshot of a hub reference."""
    if Path(target).is_dir():
        return Located(Path(target))
    from zoo.hub.refs import parse_ref

    snapshot = fetch(parse_ref(target))
    return Located(snapshot.path, str(snapshot.ref.at(None)), snapshot.revision)


def checked_package(target: str) -> tuple[Card, Located]:
    """The card of a package folder or hub reference after every check a pull makes
    (hashes, config scan, layer map against model.keras), and where it is."""
    located = package_folder(target)
    card = read_card(located.path)
    check_snapshot(located.path, card)
    return card, located


def snapshot_path(root: Path, ref: HubRef, revision: str) -> Path:
    """Where a revision's snapshot lives: named from checked parts only, under
    folders of the cache that are not links."""
    check_commit(revision, str(ref.at(None)))
    return confined(root, f"snapshots/{ref.owner}/{ref.name}") / revision


def cache_folder(root: Path, name: str) -> Path:
    """One of the cache's own folders (tmp, blobs, locks), made if missing; refused
    if it is a link, so nothing the cache writes lands outside it."""
    folder = confined(root, name)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def check_listing(listing: list[RepoFile], card: Card) -> None:
    """The revision holds exactly the card and its files (and `.gitattributes`, and a
    signature), within the size bounds: checked before any of them is downloaded."""
    listed = {f.path: f for f in listing}
    if len(listed) != len(listing):
        raise IntegrityError("the hub lists a file twice")
    present = set(listed) - UNLISTED_FILES  # the card, the signature, .gitattributes
    for name in sorted(UNLISTED_FILES & set(listed)):
        if listed[name].size > MAX_CARD_BYTES:
            raise IntegrityError(f"{name} is {listed[name].size:,} bytes, more than the "
                                 f"{MAX_CARD_BYTES:,} it may hold")
    if extra := sorted(present - set(card.files)):
        raise IntegrityError(f"file(s) not listed in the card: {', '.join(extra[:8])}")
    if missing := sorted(set(card.files) - present):
        raise IntegrityError(f"file(s) listed in the card are missing: "
                             f"{', '.join(missing[:8])}")
    for name, digest in card.files.items():
        if listed[name].sha256 is not None and listed[name].sha256 != digest:
            raise IntegrityError(f"sha256 of {name} does not match the card (the hub lists "
                                 f"{listed[name].sha256[:12]})")
    if (total := sum(f.size for f in listing)) > MAX_REVISION_BYTES:
        raise IntegrityError(f"its files add up to {total:,} bytes, more than the "
                             f"{MAX_REVISION_BYTES:,} a revision may hold")


def _download(hub: Hub, ref: HubRef, revision: str, incoming: Path) -> Card:
    """Card first: list the revision, download and read its (bounded) card, check the
    listing against it, and only then download the rest."""
    listing = hub.files(ref.owner, ref.name, revision)
    if len(listing) > MAX_FILES:
        raise IntegrityError(f"more than {MAX_FILES} files")
    card_file = next((f for f in listing if f.path == CARD_FILE), None)
    if card_file is None:
        raise CardError(f"it is not a package: it has no {CARD_FILE}")
    if card_file.size > MAX_CARD_BYTES:
        raise CardError(f"{CARD_FILE} is {card_file.size:,} bytes; a card holds at most "
                        f"{MAX_CARD_BYTES:,}")
    hub.download(ref.owner, ref.name, revision, incoming, [CARD_FILE])
    card = read_card(incoming)
    check_listing(listing, card)
    signature = [SIGNATURE_FILE] if any(f.path == SIGNATURE_FILE for f in listing) else []
    if rest := sorted(card.files) + signature:
        hub.download(ref.owner, ref.name, revision, incoming, rest)
    check_snapshot(incoming, card)
    return card


def fetch(ref: HubRef) -> Snapshot:
    """The verified snapshot of `ref`, downloading it if not cached."""
    hub = open_hub(ref)
    revision = check_commit(hub.resolve(ref.owner, ref.name, ref.revision), str(ref.at(None)))
    root = cache_root().resolve()
    snapshot = snapshot_path(root, ref, revision)
    locks = cache_folder(root, "locks")
    with FileLock(str(locks / f"{ref.owner}--{ref.name}--{revision}.lock")):
        card = _cached(root, snapshot)
        if card is None:
            with staged_folder(snapshot, within=cache_folder(root, "tmp"),
                               prefix="pull-") as incoming:
                try:
                    card = _download(hub, ref, revision, incoming)
                except (IntegrityError, CardError) as exc:
                    why = str(exc).replace(f"{incoming}/", "").replace(f"{incoming}: ", "")
                    raise type(exc)(f"refusing {ref.at(None)}@{revision[:12]}: {why}") from exc
                _store_blobs(incoming, card, cache_folder(root, "blobs"))
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
        remove_inside(root, problem.path)
        removed.append(problem.path)
    now = time.time()
    for leftover in sorted((root / "tmp").glob("pull-*")):
        if now - leftover.lstat().st_mtime > stale_after_s:
            remove_inside(root, leftover)
            removed.append(leftover)
    for blob in sorted((root / "blobs").glob("*")):
        if blob.is_symlink() or blob.is_file() and blob.stat().st_nlink == 1:  # unlinked
            remove_inside(root, blob)
            removed.append(blob)
    return removed
