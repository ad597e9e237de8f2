"""Writing files so that a crash or a refused input never leaves half of one, and
reading folders without following links out of them."""

import contextlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from zoo.errors import UnsafePathError, ZooError

WRITE_BITS = 0o222


@contextlib.contextmanager
def atomic_writer(path: Path) -> Iterator[BinaryIO]:
    """A binary handle on a temporary file beside `path` that replaces `path`
    (`os.replace`) only if the block succeeds; readers see the old file or the
    new one, never a partial one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def staged_folder(dest: Path, *, within: Path | None = None, prefix: str | None = None,
                  replace: bool = False) -> Iterator[Path]:
    """A fresh, empty folder that is renamed to `dest` only if the block succeeds and
    removed if it fails: a refusal or a crash never leaves half a folder at `dest`.
    The one way the zoo stages a folder (packages, pulled snapshots, pinned imports).

    It is made in `within` (default: beside `dest`; either way on `dest`'s file
    system, so the rename is atomic), named `prefix` + random (default
    `.NAME.staging-`). With `replace`, a `dest` already there (a link included,
    never followed) is moved aside before the rename and removed after it, so
    readers see the old folder or the new one; without, the rename replaces nothing
    but an empty folder."""
    dest = Path(dest)
    within = Path(within) if within is not None else dest.parent
    within.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=within, prefix=prefix or f".{dest.name}.staging-"))
    try:
        yield staging
        dest.parent.mkdir(parents=True, exist_ok=True)
        if replace and os.path.lexists(dest):
            old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
            os.replace(dest, old)
            os.replace(staging, dest)
            _discard(old)
        else:
            os.replace(staging, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _discard(path: Path) -> None:
    """Remove what `dest` was: a folder's tree (rmtree removes links inside, never
    what they point to), or a file or link."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    with atomic_writer(path) as handle:
        handle.write(data)
    return Path(path)


def atomic_write_text(path: Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


# --- reading a folder without following what it links to ----------------------------

def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def regular_files(root: Path, *, read_only_links: bool = False) -> list[str]:
    """Every file under `root`, as sorted POSIX paths relative to it, read with
    `lstat` only: a symbolic link anywhere (`root` itself included), a FIFO, socket or
    device, or a file with another name elsewhere (a hard link; with `read_only_links`,
    a writable one) is refused with UnsafePathError naming it. A link would let a
    folder the zoo reads or writes reach a private one (a key sealed into a card, an
    export written into someone's folder); a FIFO blocks whoever opens it; a hard link
    is a private file under a package name. The zoo's own cache snapshots are the one
    place hard links are deliberate, and only to read-only blobs."""
    root = Path(root)
    try:
        mode = os.lstat(root).st_mode
    except FileNotFoundError:
        raise ZooError(f"{root}: no such folder") from None
    if not stat.S_ISDIR(mode):
        if stat.S_ISREG(mode):
            raise ZooError(f"{root}: a file, not a folder")
        raise UnsafePathError(f"{root}: {_kind(mode)}; refusing to follow it (packages and "
                              "bundles are read and written only as real folders)")
    found: list[str] = []
    pending = [root]
    while pending:  # a stack, not recursion: a hostile tree may be deep
        folder = pending.pop()
        try:
            entries = [(Path(entry.path), entry.stat(follow_symlinks=False))
                       for entry in os.scandir(folder)]
        except OSError as exc:
            raise ZooError(f"{folder}: cannot be read ({exc.strerror})") from exc
        for path, info in entries:
            if stat.S_ISDIR(info.st_mode):
                pending.append(path)
            elif not stat.S_ISREG(info.st_mode):
                raise UnsafePathError(f"{path}: {_kind(info.st_mode)}; refusing it (a package "
                                      "or bundle holds only regular files and folders)")
            elif info.st_nlink > 1 and not read_only_links:
                raise UnsafePathError(f"{path}: a hard link (one file with {info.st_nlink} "
                                      "names); refusing it (a package or bundle holds only "
                                      "files of its own)")
            elif info.st_nlink > 1 and info.st_mode & WRITE_BITS:
                raise UnsafePathError(f"{path}: a writable hard link (one file with "
                                      f"{info.st_nlink} names); refusing it (the cache links "
                                      "only read-only blobs)")
            else:
                found.append(path.relative_to(root).as_posix())
    return sorted(found)


def copy_files(source: Path, names: list[str], dest: Path) -> None:
    """Copy `names` (from `regular_files`) from `source` into the fresh folder `dest`,
    never following a link on either side: a file swapped for a link since it was
    listed is copied as the link, which the next walk refuses."""
    for name in names:
        target = Path(dest, *name.split("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(Path(source, *name.split("/")), target, follow_symlinks=False)


def place_file(source: Path, target: Path) -> None:
    """Copy `source` to `target` through a temporary file and `os.replace`: an
    existing `target` (a link included) is replaced, never opened and written
    through; a link among the folders above it inside the destination is refused
    by `place_tree`."""
    target = Path(target)
    if target.is_dir() and not target.is_symlink():
        raise ZooError(f"{target} is a folder; name the file to write")
    with open(source, "rb") as data, atomic_writer(target) as handle:
        shutil.copyfileobj(data, handle)


def place_tree(source: Path, dest: Path) -> None:
    """Copy the regular files of `source` into `dest` (created or merged), each
    through `place_file`; a link inside `dest` on the way to a file is refused."""
    names = regular_files(source)
    dest = Path(dest)
    for name in names:
        parts = name.split("/")
        for depth in range(len(parts)):  # `dest` itself, then each folder on the way
            if (folder := Path(dest, *parts[:depth])).is_symlink():
                raise UnsafePathError(f"{folder}: a symbolic link; refusing to write "
                                      "through it")
        place_file(Path(source, *parts), Path(dest, *parts))
