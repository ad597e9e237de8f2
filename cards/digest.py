"""sha256 of files: the one hashing rule for cards, hubs and the cache."""

import hashlib
from pathlib import Path


def sha256_file(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
