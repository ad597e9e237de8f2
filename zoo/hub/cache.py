"""The pull cache: content-addressed blobs and one verified snapshot per revision.

    CACHE/blobs/<sha256>                          file contents, by hash
    CACHE/snapshots/<owner>/<name>/<commit>/...   a revision, hard links to blobs
    CACHE/refs/hf/<owner>/<name>/<rev>            hf:// tag or branch → commit, for offline
                                                  use (kept by `HfHub`)

A revision is downloaded into a temporary folder, checked against its card's
sha256 list, and only then moved into place, so a mismatch leaves nothing
behind. A cached snapshot is re-verified on every use (no second copy is
made) and fetched again if it no longer matches (the cache may be wiped or
damaged at any time).
"""

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from zoo.cards.card import CARD_FILE, Card, read_card
from zoo.cards.digest import sha256_file
from zoo.errors import IntegrityError, ZooError
from zoo.hub import open_hub
from zoo.hub.refs import HubRef
from zoo.package import verify_files
from zoo.paths import cache_root


@dataclass(frozen=True)
class Snapshot:
    ref: HubRef
    revision: str
    path: Path
    card: Card
    card_sha256: str


def _link_blobs(folder: Path, card: Card, blobs: Path) -> None:
    """Move each verified file into the blob store and hard-link it back."""
    blobs.mkdir(parents=True, exist_ok=True)
    for name, digest in card["files"].items():
        file, blob = folder / name, blobs / digest
        if not blob.exists():
            os.replace(file, blob)
        else:
            file.unlink()
        try:
            os.link(blob, file)
        except OSError:
            shutil.copyfile(blob, file)


def _cached(snapshot: Path) -> Card | None:
    """The card of a cached snapshot that still verifies; a damaged one is removed."""
    if not snapshot.is_dir():
        return None
    try:
        card = read_card(snapshot)
        verify_files(snapshot, card)
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
                hub.download(ref.owner, ref.name, revision, incoming)
                card = read_card(incoming)
                try:
                    verify_files(incoming, card)
                except IntegrityError as exc:
                    raise IntegrityError(f"refusing {ref.at(None)}@{revision[:12]}: "
                                         f"{str(exc).split(': ', 1)[1]}") from exc
                _link_blobs(incoming, card, root / "blobs")
                snapshot.parent.mkdir(parents=True, exist_ok=True)
                os.replace(incoming, snapshot)
            finally:
                shutil.rmtree(incoming, ignore_errors=True)
    return Snapshot(ref, revision, snapshot, card, sha256_file(snapshot / CARD_FILE))
