"""The pull cache: content-addressed blobs and one verified snapshot per revision.

    CACHE/blobs/<sha256>                          file contents, by hash
    CACHE/snapshots/<owner>/<name>/<commit>/...   a revision, hard links to blobs
    CACHE/refs/hf/<owner>/<name>/<rev>            hf:// tag or branch → commit, for offline use

A revision is downloaded into a temporary folder, checked against its card's
sha256 list, and only then moved into place, so a mismatch leaves nothing
behind. A cached snapshot is re-verified on every use (no second copy is
made) and fetched again if it no longer matches (the cache may be wiped or
damaged at any time).
"""

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from zoo.cards.card import CARD_FILE, Card, read_card
from zoo.cards.digest import sha256_file
from zoo.errors import IntegrityError, RefError, ZooError
from zoo.hub import FolderHub, HfHub, open_hub
from zoo.hub.hf import offline
from zoo.hub.refs import HubRef
from zoo.package import verify_files
from zoo.paths import cache_root

COMMIT = re.compile(r"^[0-9a-f]{40}$")


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


def _download_into(ref: HubRef, revision: str, hub: FolderHub | HfHub,
                   incoming: Path) -> None:
    if isinstance(hub, HfHub):
        hub.download(ref.owner, ref.name, revision, incoming)
        return
    for item in hub.tree(ref.owner, ref.name, revision):
        if item.path != ".gitattributes":
            hub.read_into(ref.owner, ref.name, item, incoming / item.path)


def _ref_file(ref: HubRef, revision: str) -> Path:
    return cache_root() / "refs" / "hf" / ref.owner / ref.name / revision.replace("/", "%2F")


def _resolve(ref: HubRef, hub: FolderHub | HfHub) -> str:
    """The commit sha; hf:// tags and branches resolve from the cache when offline."""
    if ref.scheme != "hf":
        return hub.resolve(ref.owner, ref.name, ref.revision)
    wanted = ref.revision or "main"
    if offline():
        if COMMIT.match(wanted):
            return wanted
        saved = _ref_file(ref, wanted)
        if not saved.is_file():
            raise RefError(f"{ref} is not in the cache and HF_HUB_OFFLINE is set; pull it "
                           "once online")
        return saved.read_text().strip()
    revision = hub.resolve(ref.owner, ref.name, ref.revision)
    saved = _ref_file(ref, wanted)
    saved.parent.mkdir(parents=True, exist_ok=True)
    saved.write_text(revision + "\n")
    return revision


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
    revision = _resolve(ref, hub)
    root = cache_root()
    snapshot = root / "snapshots" / ref.owner / ref.name / revision
    (root / "locks").mkdir(parents=True, exist_ok=True)
    with FileLock(str(root / "locks" / f"{ref.owner}--{ref.name}--{revision}.lock")):
        card = _cached(snapshot)
        if card is None:
            if ref.scheme == "hf" and offline():
                raise RefError(f"{ref} ({revision[:12]}) is not in the cache and "
                               "HF_HUB_OFFLINE is set; pull it once online")
            (root / "tmp").mkdir(parents=True, exist_ok=True)
            incoming = Path(tempfile.mkdtemp(dir=root / "tmp", prefix="pull-"))
            try:
                _download_into(ref, revision, hub, incoming)
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
