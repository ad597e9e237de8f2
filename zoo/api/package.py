"""`zoo.Package`: a package folder and its verified card."""

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from warnings import warn

from zoo.api.arguments import PathLike, as_path, in_cache
from zoo.errors import ZooError, ZooWarning

if TYPE_CHECKING:
    import keras

    from zoo.cards.card import Card


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


def writable_dir(package: "Package | PathLike", action: str) -> Path:
    """The folder of a package a call writes into, never a pull cache snapshot: the
    cache stands for the hub's revision (lineage records its card's sha256), so a
    snapshot changed in place would make every later pull of it lie."""
    folder = package_dir(package)
    if in_cache(folder):
        raise ZooError(f"{folder} is a read-only pull cache snapshot; {action} writes into "
                       "the package: pull a copy first (zoo.pull(ref, out=FOLDER))")
    return folder
