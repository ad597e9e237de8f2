"""The argument types the public API accepts (paths as str or Path, sizes as tuples
or 'HxW', one name or several), turned into what the layers below take, with the
zoo's own refusal for anything else."""

from collections.abc import Iterable
from numbers import Integral
from pathlib import Path
from typing import Any

from zoo.errors import RefError, ZooError

PathLike = str | Path
Size = tuple[int, int] | tuple[int, int, int] | str


def as_path(value: Any, what: str) -> Path:
    if isinstance(value, (str, Path)) and str(value):
        return Path(value)
    raise ZooError(f"{what} must be a path (str or pathlib.Path), not {type(value).__name__}")


def optional_path(value: PathLike | None, what: str) -> Path | None:
    return None if value is None else as_path(value, what)


def hub_folder(value: PathLike, what: str = "hub") -> Path:
    """A folder hub's path: a file there is refused here, as the CLI's `--hub` refuses it."""
    folder = as_path(value, what)
    if folder.exists() and not folder.is_dir():
        raise ZooError(f"{what} {folder} is a file, not a folder hub")
    return folder


def as_ref(value: Any) -> str:
    """A hub reference is text; anything else would fail deep in the parser as a
    TypeError or AttributeError instead of the zoo's own refusal."""
    if isinstance(value, str):
        return value
    raise RefError(f"a hub reference is text such as 'acme/iris@v1', not {type(value).__name__}")


def output_path(value: PathLike, what: str = "out") -> Path:
    """Where a call writes a new package or file: any folder but the pull cache's, where
    a package written over a snapshot would be served as that hub revision."""
    target = as_path(value, what)
    if in_cache(target):
        raise ZooError(f"{what} {target} is inside the pull cache's own folders "
                       f"({cache_root_folder()}); write packages elsewhere")
    return target


def optional_output(value: PathLike | None, what: str = "out") -> Path | None:
    return None if value is None else output_path(value, what)


def cache_root_folder() -> Path:
    from zoo.paths import cache_root

    return cache_root().resolve()


def in_cache(path: Path) -> bool:
    """Inside the cache's snapshots, blobs or downloads (a cache set to a parent of
    the user's own folders still leaves those writable)."""
    from zoo.hub.cache import REMOVABLE

    resolved = path.resolve()
    return any(resolved.is_relative_to(cache_root_folder() / folder) for folder in REMOVABLE)


def size_text(size: Size | None) -> str | None:
    """(H, W) or (H, W, C) or 'HxW[xC]' → the 'HxW[xC]' text the CLI's rules check."""
    if size is None or isinstance(size, str):
        return size
    if isinstance(size, (tuple, list)) and all(  # numpy's ints too: sizes come from shapes
            isinstance(d, Integral) and not isinstance(d, bool) for d in size):
        return "x".join(str(int(d)) for d in size)
    raise ZooError(f"bad size {size!r}: expected (H, W) or (H, W, C), e.g. (96, 96), "
                   "or 'HxW'")


def size_tuple(size: Size | None) -> tuple[int, ...] | None:
    from zoo.build.rebuild import parse_size

    text = size_text(size)
    return parse_size(text) if text is not None else None


def texts(values: PathLike | Iterable[PathLike] | None, what: str) -> tuple[str, ...]:
    """One string or several → a tuple (a lone string is one value, not its letters;
    bytes or a number are refused, not read as a list of characters or digits)."""
    if values is None:
        return ()
    if isinstance(values, (str, Path)):
        return (str(values),)
    if isinstance(values, Iterable) and not isinstance(values, (bytes, bytearray)):
        items = tuple(values)
        if all(isinstance(v, (str, Path)) for v in items):
            return tuple(str(v) for v in items)
    raise ZooError(f"{what} must be a string or a list of strings, not {values!r:.60}")
