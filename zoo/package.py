"""The package: a folder holding model.keras, card.json, README.md and exports.

Packages are written into a staging folder beside their destination and moved
into place only when complete and sealed, so bad input never leaves a
half-written package. Sealing hashes every file into the card and renders the
README from it: the one way a package is finished.
"""

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from zoo.cards.card import (
    CARD_FILE,
    MODEL_FILE,
    README_FILE,
    UNLISTED_FILES,
    Card,
    read_card,
    write_card,
)
from zoo.cards.digest import sha256_file
from zoo.cards.readme import render_readme
from zoo.errors import CardError, IntegrityError, UnsafeModelError, UnsafePathError, ZooError
from zoo.files import atomic_write_text, copy_files, regular_files, staged_folder
from zoo.paths import cache_root
from zoo.tensors import sample_bytes
from zoo.trust.model_scan import check_archive, scan_model_file


def package_tree(package_dir: Path) -> list[str]:
    """Every file of a package, unlisted ones too, through the one walker that refuses
    links, special files and hard links (`zoo.files.regular_files`). Hard links are
    accepted only inside the zoo's own cache snapshots, whose files are deliberate
    links to read-only blobs (`zoo.hub.cache`), and only read-only ones there."""
    package_dir = Path(package_dir)
    if not os.path.lexists(package_dir):
        raise CardError(f"{package_dir} is not a package: no such folder")
    return regular_files(package_dir, read_only_links=_in_cache_snapshots(package_dir))


def _in_cache_snapshots(folder: Path) -> bool:
    """Whether `folder` lies in the cache's snapshots (both sides resolved, so a path
    that only names the cache through a link or `..` is not taken for it)."""
    snapshots = Path(os.path.realpath(cache_root() / "snapshots"))
    return Path(os.path.realpath(folder)).is_relative_to(snapshots)


def package_files(package_dir: Path) -> list[str]:
    """Every file the card must list, as sorted POSIX paths relative to the package."""
    return [name for name in package_tree(package_dir) if name not in UNLISTED_FILES]


def seal(package_dir: Path, card: Card) -> Card:
    """Hash every file into the card, render README.md, write card.json."""
    package_dir = Path(package_dir)
    package_tree(package_dir)  # before anything is removed or written
    readme = package_dir / README_FILE
    readme.unlink(missing_ok=True)
    files = {name: sha256_file(package_dir / name) for name in package_files(package_dir)}
    card.files = files
    atomic_write_text(readme, render_readme(card))
    files[README_FILE] = sha256_file(readme)
    card.files = dict(sorted(files.items()))
    write_card(package_dir, card)
    return card


def verify_files(package_dir: Path, card: Card) -> None:
    """Refuse a package whose files differ from what its card lists."""
    present = set(package_files(package_dir))
    listed = set(card.files)
    if missing := sorted(listed - present):
        raise IntegrityError(f"{package_dir}: file(s) listed in the card are missing: "
                             f"{', '.join(missing)}")
    if extra := sorted(present - listed):
        raise IntegrityError(f"{package_dir}: file(s) not listed in the card: {', '.join(extra)}")
    for name in sorted(listed):
        if sha256_file(Path(package_dir) / name) != card.files[name]:
            raise IntegrityError(f"{package_dir}: sha256 of {name} does not match the card; "
                                 "the package was modified or corrupted")


def read_verified_card(package_dir: Path) -> Card:
    """The card of a package whose files are exactly those it lists; the folder is
    walked before card.json is read, so not even the card is read through a link."""
    package_tree(package_dir)
    card = read_card(package_dir)
    verify_files(package_dir, card)
    return card


def refuse_existing(out: Path, force: bool) -> None:
    """An `--out` that exists needs --force; one that is a link is refused outright:
    replacing it would leave the link's target behind as if it were the package."""
    out = Path(out)
    if out.is_symlink():
        raise UnsafePathError(f"{out.absolute()} is a symbolic link; refusing to write "
                              "through or replace it, name a real folder")
    if out.exists() and not force:
        raise ZooError(f"{out.absolute()} already exists; choose another --out or pass "
                       f"--force")


@contextlib.contextmanager
def staged_package(out: Path, force: bool = False) -> Iterator[Path]:
    """A fresh staging folder that becomes `out` only if the block succeeds."""
    out = Path(out).absolute()
    refuse_existing(out, force)
    with staged_folder(out, replace=force) as staging:
        yield staging
        refuse_existing(out, force)  # what appeared, or became a link, meanwhile


@contextlib.contextmanager
def updated_package(package_dir: Path) -> Iterator[Path]:
    """A staging copy of an existing package that replaces it if the block succeeds;
    the package is walked first, so a link, special file or hard link in it (or a
    package folder that is itself a link) is refused before anything is copied."""
    package_dir = Path(package_dir).absolute()
    names = package_tree(package_dir)
    with staged_package(package_dir, force=True) as staging:
        copy_files(package_dir, names, staging)
        yield staging


KERAS_SUFFIX = ".keras"
HDF5_SUFFIXES = (".h5", ".hdf5")  # what keras.saving.load_model reads as legacy HDF5


def _check_model_suffix(path: Path, allow_hdf5: bool) -> str:
    """The format a model file's name promises ('keras' or 'hdf5'), checked against
    its first bytes; any other name is refused in one line."""
    from zoo.trust.model_scan import model_format

    if path.suffix == KERAS_SUFFIX:
        expected = "keras"
    elif path.suffix in HDF5_SUFFIXES:
        if not allow_hdf5:
            raise ZooError(f"{path}: a legacy HDF5 model; only `zoo pack` reads HDF5 (a file "
                           "you bring), packages hold Keras 3 '.keras' files")
        expected = "hdf5"
    else:
        raise ZooError(f"{path}: expected a Keras 3 '.keras' file"
                       + (" or a legacy Keras 2 HDF5 file ('.h5' or '.hdf5')" if allow_hdf5
                          else ""))
    found = model_format(path)  # UnsafeModelError for neither a zip nor an HDF5 file
    if found != expected:
        raise UnsafeModelError(f"{path}: named '{path.suffix}' but holds "
                               + ("a Keras 3 .keras zip; name it '.keras'" if found == "keras"
                                  else "an HDF5 file; name it '.h5'"))
    return expected


def load_keras_file(path: Path, unsafe: bool = False, allow_hdf5: bool = False) -> Any:
    """Load a .keras file with Keras safe_mode (no deserialized Python code) and
    call it once, which some exports need after loading.

    With `allow_hdf5` (only `zoo pack` of a file the user brings: a hub's model is
    never HDF5) a legacy Keras 2 `.h5`/`.hdf5` file is read too: its `model_config`
    is scanned like a `.keras` config.json before Keras parses any of it, then Keras
    loads it; whoever saves the result writes Keras 3 native `model.keras`."""
    path = Path(path)
    if not path.is_file():
        raise ZooError(f"{path}: no such model file")
    kind = _check_model_suffix(path, allow_hdf5)
    if not unsafe:  # the zip gate, then the config checked before Keras parses any of it
        try:
            scan_model_file(path, allow_hdf5=kind == "hdf5")
        except UnsafeModelError as exc:
            if "refusing to load" not in str(exc):
                raise  # unreadable, or weights only: --unsafe would not help
            raise UnsafeModelError(f"{exc}; Keras safe mode would refuse it too. Pass "
                                   "--unsafe only if you trust its author") from exc
    elif kind == "keras":
        check_archive(path)  # the zip gate holds with --unsafe too: a bomb is no author's code
    import keras  # only now: refusing a bad path should not wait for TensorFlow
    import numpy as np

    try:
        # Keras documents safe_mode for the Keras 3 (.keras) format only. Keras 3.15
        # also passes it to its HDF5 loader, but older releases did not, and a Keras 2
        # Lambda (marshalled code in a list, not a `__lambda__` object) is not what it
        # looks for: for an HDF5 file the scan above is the guard. compile=False: an
        # HDF5's training_config (optimizer, loss) is never deserialized.
        model = keras.saving.load_model(path, compile=False, safe_mode=not unsafe)
    except ValueError as exc:
        if "safe_mode" in str(exc):
            raise ZooError(f"{path} holds Python code (e.g. a Lambda layer) that safe mode "
                           "refuses to load; pass --unsafe only if you trust its author") from exc
        raise ZooError(f"{path} cannot be loaded: {str(exc).splitlines()[0]}") from exc
    except (OSError, TypeError, KeyError, EOFError) as exc:
        raise ZooError(f"{path} cannot be loaded: {str(exc).splitlines()[0]}") from exc
    if not getattr(model, "inputs", None):
        raise ZooError(f"{path} holds a model with no defined inputs; build it with "
                       "keras.Input(...) so its layers can be mapped")
    # batch 1; a dynamic spatial size gets PROBE_SIZE, as 1 would be below a CNN's stride
    shapes = [[PROBE_SIZE if d is None else d for d in spec.shape[1:]] for spec in model.inputs]
    for shape in shapes:  # a file's declared input is bounded before it is allocated
        sample_bytes(shape, f"{path}: the model's input")
    samples = [np.zeros([1, *shape], dtype=spec.dtype)
               for shape, spec in zip(shapes, model.inputs)]
    if len(samples) == 1 and not isinstance(getattr(model, "input", None), list):
        samples = samples[0]  # a Keras 2 model's inputs are a list; a bare tensor makes Keras warn
    model(samples, training=False)
    return model


PROBE_SIZE = 64


def load_model(package_dir: Path, unsafe: bool = False) -> Any:
    return load_keras_file(Path(package_dir) / MODEL_FILE, unsafe=unsafe)


def save_model(model: Any, package_dir: Path) -> Path:
    path = Path(package_dir) / MODEL_FILE
    model.save(path)
    return path


def card_path(package_dir: Path) -> Path:
    return Path(package_dir) / CARD_FILE
