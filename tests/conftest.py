"""Shared fixtures: one temporary zoo home and cache per session, and the iris
models trained, published, derived and fine-tuned once per session."""

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

from click.testing import CliRunner  # noqa: E402
from zoo.cli.main import cli  # noqa: E402

HEATON = ["--drop-top", "1", "--freeze-until", "hidden2", "--head", "dense:4:softmax"]


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str


def zoo(*args: str) -> Run:
    """Run the real `zoo` command in-process, stdout and stderr apart."""
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    return Run(result.exit_code, result.stdout, result.stderr)


def ok(*args: str) -> Run:
    run = zoo(*args)
    assert run.exit_code == 0, f"zoo {' '.join(map(str, args))} failed: {run.stderr}"
    return run


def refused(*args: str) -> str:
    """Assert the command fails as a user error: exit 2, one line on stderr, no traceback."""
    run = zoo(*args)
    assert run.exit_code == 2, (run.exit_code, run.stdout, run.stderr)
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("zoo: error: "), run.stderr
    assert "Traceback" not in run.stderr
    return lines[0]


@pytest.fixture(scope="session", autouse=True)
def zoo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("zoo-home")
    os.environ["ZOO_HOME"] = str(home / "data")
    os.environ["ZOO_CACHE"] = str(home / "cache")
    os.environ.pop("ZOO_OWNER", None)
    return home


@pytest.fixture(scope="session")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("work")


@pytest.fixture(scope="session")
def iris_pkg(work: Path) -> Path:
    ok("train", "iris", "--out", work / "iris-pkg")
    return work / "iris-pkg"


@pytest.fixture(scope="session")
def iris_revision(iris_pkg: Path) -> str:
    run = ok("publish", iris_pkg, "iris", "--tag", "v1")
    return run.stdout.split("@", 1)[1].split()[0]


@pytest.fixture(scope="session")
def iris4_csv(work: Path) -> tuple[Path, Path]:
    train, test = work / "iris4-train.csv", work / "iris4-test.csv"
    ok("data", "iris4", "--split", "train", "--out", train)
    ok("data", "iris4", "--split", "test", "--out", test)
    return train, test


@pytest.fixture(scope="session")
def derived_pkg(work: Path, iris_revision: str) -> Path:
    ok("pull", "iris@v1", *HEATON, "--license", "MIT", "--out", work / "derived")
    return work / "derived"


@pytest.fixture(scope="session")
def tuned_pkg(work: Path, derived_pkg: Path, iris4_csv: tuple[Path, Path]) -> Path:
    ok("finetune", derived_pkg, "--data", iris4_csv[0], "--epochs", "60", "--lr", "0.02",
       "--out", work / "tuned")
    return work / "tuned"


@pytest.fixture(scope="session")
def small_cnn_pkg(work: Path) -> Path:
    ok("data", "digits", "--classes", "0-4", "--split", "train", "--out", work / "d04.npz")
    ok("train", "cnn", "--data", work / "d04.npz", "--epochs", "2", "--out", work / "cnn8")
    ok("publish", work / "cnn8", "cnn8")
    return work / "cnn8"


@pytest.fixture
def copy_of(tmp_path: Path):
    """A private copy of a session package, for tests that modify it."""
    def make(package: Path) -> Path:
        target = tmp_path / package.name
        shutil.copytree(package, target)
        return target
    return make
