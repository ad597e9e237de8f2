"""Some files of one pinned commit, each checked against the hash its hub lists
before anything parses it: what `zoo import` reads from repositories the zoo did
not publish (they carry no card, so the hub's own listing is the only hash there is).

An LFS file is checked against its sha256 (the LFS oid), a plain file against its
git blob id (sha1 of "blob SIZE\\0" + content, what `list_repo_tree` and
`git ls-tree` give), and both against their size.
"""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from zoo.cards.digest import sha256_file
from zoo.errors import IntegrityError
from zoo.files import staged_folder
from zoo.hub import open_hub
from zoo.hub.base import RepoFile
from zoo.hub.refs import HubRef
from zoo.trust.repo_paths import MAX_REVISION_BYTES, check_commit, confined

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class PinnedFiles:
    ref: HubRef  # pinned: its revision is the commit sha
    folder: Path
    sha256: dict[str, str]  # every downloaded file, checked


def git_blob_id(path: Path) -> str:
    """The id git gives a file's content (as `git hash-object` computes it)."""
    digest = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def check_download(path: Path, listed: RepoFile, where: str) -> str:
    """The file's sha256, once it matches what the hub lists for it; else refuse."""
    if path.stat().st_size != listed.size:
        raise IntegrityError(f"refusing {where}: {listed.path} has {path.stat().st_size} "
                             f"bytes, the hub lists {listed.size}")
    sha256 = sha256_file(path)
    if listed.lfs:
        if sha256 != listed.sha256:
            raise IntegrityError(f"refusing {where}: the sha256 of {listed.path} is not the "
                                 f"one the hub lists ({sha256[:12]} != {listed.sha256[:12]})")
    elif listed.blob_id:
        if git_blob_id(path) != listed.blob_id:
            raise IntegrityError(f"refusing {where}: {listed.path} is not the blob the hub "
                                 f"lists ({listed.blob_id[:12]})")
    elif listed.sha256 is None or sha256 != listed.sha256:
        raise IntegrityError(f"refusing {where}: the hub lists no hash that {listed.path} "
                             "matches")
    return sha256


def fetch_pinned(ref: HubRef, choose: Callable[[dict[str, RepoFile]], list[str]],
                 dest: Path) -> PinnedFiles:
    """Resolve `ref` to its commit, let `choose` pick paths from the listing, download
    those into `dest` (which must not exist yet) and check each; on any refusal
    nothing is left at `dest`."""
    hub = open_hub(ref)
    revision = check_commit(hub.resolve(ref.owner, ref.name, ref.revision), str(ref.at(None)))
    pinned = ref.at(revision)
    listing = {f.path: f for f in hub.files(ref.owner, ref.name, revision)}  # each checked
    paths = choose(listing)
    if unknown := sorted(set(paths) - set(listing)):
        raise IntegrityError(f"refusing {pinned}: it does not hold {unknown[0]!r}")
    total = sum(listing[path].size for path in paths)
    if total > MAX_REVISION_BYTES:
        raise IntegrityError(f"refusing {pinned}: its files add up to {total:,} bytes, more "
                             f"than the {MAX_REVISION_BYTES:,} an import downloads")
    dest = Path(dest)
    with staged_folder(dest, prefix=f".{dest.name}.incoming-") as incoming:
        for path in paths:
            confined(incoming, path)
        hub.download(ref.owner, ref.name, revision, incoming, paths)
        sha256 = {path: check_download(confined(incoming, path), listing[path], str(pinned))
                  for path in paths}
    return PinnedFiles(pinned, dest, sha256)
