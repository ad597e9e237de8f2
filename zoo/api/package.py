"""`zoo.Package`: a package folder and its verified card, and the argument types the
API accepts (paths, sizes) turned into what the layers below take."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from numbers import Integral
from pathlib import Path
from typing import TYPE_CHECKING, Any
from warnings import warn

from zoo.errors import RefError, ZooError, ZooWarning

if TYPE_CHECKING:
    import keras

    from zoo.cards.card import Card

PathLike = str | Path
Size = tuple[int, int] | tuple[int, int, int] | str


@dataclass(frozen=True)
class Package:
    """A package on disk: `model.keras`, its `card.json` and the files the card lists.

    `Package(path)` reads the card and checks every file's sha256 against it. A
    package that came from a hub (`zoo.pull`) also knows its `ref` and `revision`,
    and `signer`: the trusted key that verified its signature (None when none was
    checked; the card's `signed_by` is only a claim); without `out`, its `path` is the
    read-only cache snapshot.

    Example:
        >>> pkg = zoo.Package("iris-pkg")   # made by zoo.train_recipe("iris", "iris-pkg")
        >>> pkg.card.license
        'Apache-2.0'
        >>> model = pkg.load()
    """

    path: Path
    card: "Card" = field(repr=False)
    ref: str | None = None
    revision: str | None = None
    signer: str | None = field(default=None, repr=False)
    warnings: tuple[str, ...] = field(default=(), repr=False)
    notes: tuple[str, ...] = field(default=(), repr=False)  # e.g. what an import left out

    def __init__(self, path: PathLike, *, ref: str | None = None, revision: str | None = None,
                 signer: str | None = None, warnings: tuple[str, ...] = (),
                 notes: tuple[str, ...] = (), card: "Card | None" = None) -> None:
        from zoo.package import read_verified_card

        folder = as_path(path, "package")
        object.__setattr__(self, "path", folder)
        object.__setattr__(self, "card", card if card is not None else read_verified_card(folder))
        object.__setattr__(self, "ref", ref)
        object.__setattr__(self, "revision", revision)
        object.__setattr__(self, "signer", signer)
        object.__setattr__(self, "warnings", tuple(warnings))
        object.__setattr__(self, "notes", tuple(notes))
        for warning in warnings:  # a notebook sees them; the CLI prints them as warnings
            warn(warning, ZooWarning, stacklevel=3)

    @property
    def name(self) -> str:
        return self.card.name

    @property
    def where(self) -> str:
        """Where it came from: ref@revision for a hub's, else its folder."""
        return f"{self.ref}@{self.revision}" if self.ref else str(self.path)

    def load(self, *, unsafe: bool = False) -> "keras.Model":
        """The package's Keras model, loaded in Keras safe mode after its config was
        scanned against the allow-list (`unsafe=True` only for authors you trust). A
        derived package's model remembers its base, so `zoo.save` keeps the lineage."""
        from zoo.api.lineage import remember_package
        from zoo.package import load_model

        model = load_model(self.path, unsafe=unsafe)
        remember_package(model, self)
        return model


def package_dir(package: "Package | PathLike") -> Path:
    """The folder of a `Package` or of a path to one."""
    return package.path if isinstance(package, Package) else as_path(package, "package")


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


def writable_dir(package: "Package | PathLike", action: str) -> Path:
    """The folder of a package a call writes into, never a pull cache snapshot: the
    cache stands for the hub's revision (lineage records its card's sha256), so a
    snapshot changed in place would make every later pull of it lie."""
    folder = package_dir(package)
    if _in_cache(folder):
        raise ZooError(f"{folder} is a read-only pull cache snapshot; {action} writes into "
                       "the package: pull a copy first (zoo.pull(ref, out=FOLDER))")
    return folder


def output_path(value: PathLike, what: str = "out") -> Path:
    """Where a call writes a new package or file: any folder but the pull cache's, where
    a package written over a snapshot would be served as that hub revision."""
    target = as_path(value, what)
    if _in_cache(target):
        raise ZooError(f"{what} {target} is inside the pull cache's own folders "
                       f"({_cache_root()}); write packages elsewhere")
    return target


def optional_output(value: PathLike | None, what: str = "out") -> Path | None:
    return None if value is None else output_path(value, what)


def _cache_root() -> Path:
    from zoo.paths import cache_root

    return cache_root().resolve()


def _in_cache(path: Path) -> bool:
    """Inside the cache's snapshots, blobs or downloads (a cache set to a parent of
    the user's own folders still leaves those writable)."""
    from zoo.hub.cache import REMOVABLE

    resolved = path.resolve()
    return any(resolved.is_relative_to(_cache_root() / folder) for folder in REMOVABLE)


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


def progress_bars(enabled: bool) -> None:
    """Show or hide download and upload progress bars (huggingface_hub's tqdm bars).

    Example:
        >>> zoo.progress_bars(False)
    """
    from zoo.hub.hf import set_progress

    set_progress(enabled)


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
