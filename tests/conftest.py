"""Shared fixtures and the two test tiers.

Every test module gets a zoo home (hub) and cache of its own, so no test depends
on what another module published and any file or test runs alone. The iris and
CNN models are trained once per session, in a session home of their own;
fixtures that publish (`iris_revision`, `cnn8_revision`) publish them into the
hub of the module that asks.

Tests that train, load a Keras model or export are marked `slow`; `pytest -m
"not slow"` (`make test-fast`) runs the rest and fails if TensorFlow or Keras was
imported. This file itself imports nothing that pulls TensorFlow in.
"""

import contextlib
import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

from click.testing import CliRunner
from zoo.cli.main import cli

HEATON = ["--drop-top", "1", "--freeze-until", "hidden2", "--head", "dense:4:softmax"]
HEAVY_MODULES = ("tensorflow", "keras")


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str


def zoo(*args: str) -> Run:
    """Run the real `zoo` command in-process, stdout and stderr apart."""
    result = CliRunner().invoke(cli, [str(a) for a in args], prog_name="zoo",
                                catch_exceptions=False)
    return Run(result.exit_code, result.stdout, result.stderr)


def ok(*args: str) -> Run:
    run = zoo(*args)
    assert run.exit_code == 0, f"zoo {' '.join(map(str, args))} failed: {run.stderr}"
    return run


CATCH_ALL = "failed unexpectedly"  # cli/main.py's last resort: a bug, not a refusal


def refused(*args: str) -> str:
    """Assert the command fails as a user error: exit 2, one line on stderr, no traceback,
    and recognised by the zoo: an error that reached the CLI's catch-all ("failed
    unexpectedly … this is a bug") fails the test, whatever else it says."""
    run = zoo(*args)
    assert run.exit_code == 2, (run.exit_code, run.stdout, run.stderr)
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("zoo: error: "), run.stderr
    assert "Traceback" not in run.stderr
    assert CATCH_ALL not in lines[0], f"refused only through the catch-all: {lines[0]}"
    return lines[0]


def published_revision(*args: str) -> str:
    """`zoo publish ARGS` and the commit it printed (`published OWNER/NAME@SHA …`)."""
    return ok("publish", *args).stdout.split("@", 1)[1].split()[0]


@contextlib.contextmanager
def zoo_env(home: Path) -> Iterator[Path]:
    """ZOO_HOME and ZOO_CACHE under `home` (and the default owner) for the block;
    the previous values come back afterwards."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ZOO_HOME", str(home / "data"))
        patch.setenv("ZOO_CACHE", str(home / "cache"))
        patch.delenv("ZOO_OWNER", raising=False)
        yield home


# --- the fast tier: no TensorFlow -------------------------------------------------

FIRST_HEAVY = pytest.StashKey[tuple[str, list[str]]]()
HEAVY_MESSAGE = pytest.StashKey[str]()


def fast_run(config: pytest.Config) -> bool:
    """Whether this run leaves the slow tests out (`-m "not slow"`)."""
    return "not slow" in " ".join((config.getoption("markexpr") or "").split())


def heavy_imported() -> list[str]:
    return sorted(name for name in HEAVY_MODULES if name in sys.modules)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    """Remember the first fast test after which TensorFlow or Keras was loaded."""
    result = yield
    if fast_run(item.config) and FIRST_HEAVY not in item.config.stash and \
            (heavy := heavy_imported()):
        item.config.stash[FIRST_HEAVY] = (item.nodeid, heavy)
    return result


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A fast run that imported TensorFlow or Keras fails, naming the first culprit.
    Under pytest-xdist each worker checks itself and hands its finding to the
    controller (`pytest_testnodedown`), which fails the run."""
    config = session.config
    if not fast_run(config):
        return
    if heavy := heavy_imported():
        where, _ = config.stash.get(FIRST_HEAVY, ("collection or a conftest", heavy))
        config.stash[HEAVY_MESSAGE] = (
            f"the fast tier imported {' and '.join(heavy)} (first seen after {where}); mark "
            "that test `slow` or keep the import inside the function that needs it")
        if hasattr(config, "workeroutput"):
            config.workeroutput["heavy"] = config.stash[HEAVY_MESSAGE]
    if HEAVY_MESSAGE in config.stash and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    """pytest-xdist, on the controller: a worker's fast-tier finding."""
    if message := getattr(node, "workeroutput", {}).get("heavy"):
        node.config.stash[HEAVY_MESSAGE] = message


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    if message := config.stash.get(HEAVY_MESSAGE, None):
        terminalreporter.write_sep("=", "fast tier failed", red=True, bold=True)
        terminalreporter.write_line(message, red=True)


# --- one hub per module ------------------------------------------------------------

@pytest.fixture(scope="module", autouse=True)
def zoo_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """This module's own hub and cache."""
    with zoo_env(tmp_path_factory.mktemp("zoo-home")) as home:
        yield home


# --- models trained once per session -----------------------------------------------

@pytest.fixture(scope="session")
def session_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the session's models are made: no module's hub sees it."""
    return tmp_path_factory.mktemp("session-home")


@pytest.fixture(scope="session")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("work")


@pytest.fixture(scope="session")
def iris_pkg(work: Path, session_home: Path) -> Path:
    with zoo_env(session_home):
        ok("train", "iris", "--out", work / "iris-pkg")
    return work / "iris-pkg"


@pytest.fixture(scope="session")
def base_iris_revision(iris_pkg: Path, session_home: Path) -> str:
    """iris@v1 in the session hub: the base the session's derived packages record."""
    with zoo_env(session_home):
        return published_revision(iris_pkg, "iris", "--tag", "v1")


@pytest.fixture(scope="module")
def iris_revision(zoo_home: Path, iris_pkg: Path) -> str:
    """iris@v1 published into this module's hub."""
    return published_revision(iris_pkg, "iris", "--tag", "v1")


@pytest.fixture(scope="session")
def iris4_csv(work: Path, session_home: Path) -> tuple[Path, Path]:
    train, test = work / "iris4-train.csv", work / "iris4-test.csv"
    with zoo_env(session_home):
        ok("data", "iris4", "--split", "train", "--out", train)
        ok("data", "iris4", "--split", "test", "--out", test)
    return train, test


@pytest.fixture(scope="session")
def derived_pkg(work: Path, session_home: Path, base_iris_revision: str) -> Path:
    """Heaton's transfer of iris@v1 (the session hub's), with an MIT license added."""
    with zoo_env(session_home):
        ok("pull", "iris@v1", *HEATON, "--license", "MIT", "--out", work / "derived")
    return work / "derived"


@pytest.fixture(scope="session")
def tuned_pkg(work: Path, session_home: Path, derived_pkg: Path,
              iris4_csv: tuple[Path, Path]) -> Path:
    with zoo_env(session_home):
        ok("finetune", derived_pkg, "--data", iris4_csv[0], "--epochs", "60", "--lr", "0.02",
           "--out", work / "tuned")
    return work / "tuned"


@pytest.fixture(scope="session")
def small_cnn_pkg(work: Path, session_home: Path) -> Path:
    """The zoo's CNN trained on digits 0-4 (`work/d04.npz`)."""
    with zoo_env(session_home):
        ok("data", "digits", "--classes", "0-4", "--split", "train", "--out", work / "d04.npz")
        ok("train", "cnn", "--data", work / "d04.npz", "--epochs", "2", "--out", work / "cnn8")
    return work / "cnn8"


@pytest.fixture(scope="module")
def cnn8_revision(zoo_home: Path, small_cnn_pkg: Path) -> str:
    """The small CNN published as `cnn8` into this module's hub."""
    return published_revision(small_cnn_pkg, "cnn8")


@pytest.fixture
def copy_of(tmp_path: Path):
    """A private copy of a session package, for tests that modify it."""
    def make(package: Path) -> Path:
        target = tmp_path / package.name
        shutil.copytree(package, target)
        return target
    return make


# --- the seed workflows' base networks, shared by the shell examples and the notebooks ---

@pytest.fixture
def seed_base(tmp_path_factory: pytest.TempPathFactory):
    """`seed_base(NAME, zoo_home)`: the seed workflow base NAME, made once per test run
    (across pytest-xdist workers, tests/seed_bases.py), copied into the hub of
    `zoo_home`; pass its `.name` as BASE to the example script or notebook."""
    from seed_bases import install, shared_root

    root = shared_root(tmp_path_factory)
    return lambda name, zoo_home: install(root, name, Path(zoo_home))
