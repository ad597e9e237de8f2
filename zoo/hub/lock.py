"""zoo.lock: which commit and card each reference resolved to, so a project's
backbones are reproducible. `zoo pull --lock FILE` records; `--locked` pulls
exactly what the lock says and refuses anything else."""

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import hashlib

from filelock import FileLock

from zoo.errors import IntegrityError, ZooError, first_line
from zoo.files import atomic_write_text
from zoo.paths import cache_root
from zoo.trust.repo_paths import COMMIT, SHA256

LOCK_FILE = "zoo.lock"
LOCK_VERSION = 1


@dataclass(frozen=True)
class LockEntry:
    revision: str
    card_sha256: str


def parse_lock(data: bytes, where: str | Path = LOCK_FILE) -> dict[str, dict[str, str]]:
    """A zoo.lock's entries, each checked for shape: a project's lock file is input
    like any other, and a wrong one is one line, not a crash at the pull that reads it."""
    try:
        lock = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ZooError(f"{where} is not a readable zoo.lock: {first_line(exc)}") from None
    if not isinstance(lock, dict) or lock.get("version") != LOCK_VERSION \
            or not isinstance(lock.get("packages"), dict):
        raise ZooError(f"{where} is not a zoo.lock of version {LOCK_VERSION}")
    for ref, entry in lock["packages"].items():
        _check_entry(ref, entry, where)
    return lock["packages"]


def _check_entry(ref: str, entry: object, where: str | Path) -> None:
    shown = ref[:80].encode("unicode_escape").decode()
    if not isinstance(entry, dict):
        raise ZooError(f"{where}: the entry for {shown} must be an object with "
                       '"revision" and "card_sha256"')
    for key, pattern, what in (("revision", COMMIT, "a commit id (40 hex digits)"),
                               ("card_sha256", SHA256, "a sha256 (64 hex digits)")):
        value = entry.get(key)
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise ZooError(f"{where}: the entry for {shown} has a {key} that is not {what}")
    if not isinstance(entry.get("recorded", ""), str):
        raise ZooError(f"{where}: the entry for {shown} has a recorded time that is not text")


def read_lock(path: Path) -> dict[str, dict[str, str]]:
    """The entries of the lock file at `path` ({} while there is none)."""
    if not Path(path).is_file():
        return {}
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ZooError(f"{path} is not a readable zoo.lock: {exc.strerror or exc}") from exc
    return parse_lock(data, path)


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
