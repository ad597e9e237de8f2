"""zoo.lock: which commit and card each reference resolved to, so a project's
backbones are reproducible. `zoo pull --lock FILE` records; `--locked` pulls
exactly what the lock says and refuses anything else."""

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import hashlib

from filelock import FileLock

from zoo.errors import IntegrityError, ZooError
from zoo.files import atomic_write_text
from zoo.paths import cache_root

LOCK_FILE = "zoo.lock"
LOCK_VERSION = 1


@dataclass(frozen=True)
class LockEntry:
    revision: str
    card_sha256: str


def read_lock(path: Path) -> dict[str, dict]:
    if not Path(path).is_file():
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ZooError(f"{path} is not a readable zoo.lock: {exc}") from exc
    if data.get("version") != LOCK_VERSION or not isinstance(data.get("packages"), dict):
        raise ZooError(f"{path} is not a zoo.lock of version {LOCK_VERSION}")
    return data["packages"]


def locked(path: Path, ref: str) -> LockEntry:
    entry = read_lock(path).get(ref)
    if entry is None:
        raise ZooError(f"{ref} is not in {path}; pull it once without --locked to record it")
    return LockEntry(entry["revision"], entry["card_sha256"])


def check_locked(entry: LockEntry, ref: str, card_sha256: str) -> None:
    if card_sha256 != entry.card_sha256:
        raise IntegrityError(f"{ref}@{entry.revision[:12]} has a card whose sha256 differs "
                             "from the lock; the revision was rewritten or tampered with")


def _mutex(path: Path) -> Path:
    """The lock file guarding `path`: in the zoo's cache, not beside the user's file."""
    key = hashlib.sha256(str(path.absolute()).encode()).hexdigest()[:32]
    folder = cache_root() / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"zoo-lock-{key}.lock"


def record(path: Path, ref: str, revision: str, card_sha256: str) -> None:
    """Add or update one entry, atomically; a lock file in the cache serialises
    concurrent pulls so that none loses another's entry."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(_mutex(path))):
        packages = read_lock(path)
        packages[ref] = {"revision": revision, "card_sha256": card_sha256,
                         "recorded": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        text = json.dumps({"version": LOCK_VERSION,
                           "packages": dict(sorted(packages.items()))}, indent=2) + "\n"
        atomic_write_text(path, text)
