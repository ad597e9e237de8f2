"""Git runs none of the hub owner's code. A folder hub on a shared drive is writable by
everyone who publishes to it, so its repositories' `.git/config` (fsmonitor, hooksPath,
clean/smudge filters, signing programs, includes), `.git/info/attributes` and hooks are
planted here the way its owner could, each program writing a marker file; `zoo
publish`, `pull`, `inspect`, `list` and `hub mirror` must leave no marker and publish
exactly the package. Real git, real CLI runs, an HF-speaking server on loopback for
the mirror; packages hand-built without Keras (tests/packages.py) except where `zoo
publish` validates a real model (slow)."""

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ok, refused
from forge import commit, files_of, git
from packages import make_package
from zoo.hub import FolderHub
from zoo.hub.folder import valid_tag
from zoo.hub.git import Blobs, run_git, safe_git_env
from zoo.trust.repo_paths import MAX_FILES

from zoo.errors import IntegrityError, UnsafePathError, ZooError

HOOKS = ("reference-transaction", "pre-commit", "post-commit", "post-index-change",
         "pre-auto-gc", "post-checkout", "pre-receive", "post-update", "prepare-commit-msg",
         "commit-msg", "post-rewrite", "fsmonitor-watchman")


def script(path: Path, markers: Path, name: str, body: str = "") -> Path:
    """An executable that records that it ran (and, as a filter, passes data on)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\ntouch '{markers}/{name}'\n{body}")
    path.chmod(0o755)
    return path


def plant(repo: Path, markers: Path) -> None:
    """Everything a hub owner can put in a repository's .git that names a program."""
    markers.mkdir(parents=True, exist_ok=True)
    git_dir = repo / ".git"
    programs = git_dir.parent.parent / f".{repo.name}-programs"
    for hook in HOOKS:
        script(git_dir / "hooks" / hook, markers, f"hook-{hook}")
        script(programs / "hooks" / hook, markers, f"hookspath-{hook}")
    fsmonitor = script(programs / "fsmonitor", markers, "fsmonitor")
    clean = script(programs / "clean", markers, "filter-clean", "cat\n")
    smudge = script(programs / "smudge", markers, "filter-smudge", "cat\n")
    process = script(programs / "process", markers, "filter-process", "exit 1\n")
    sign = script(programs / "gpg", markers, "gpg", "exit 1\n")
    ssh = script(programs / "ssh", markers, "ssh", "exit 1\n")
    included = programs / "included.config"
    config = (f"[core]\n\tfsmonitor = {fsmonitor}\n\thooksPath = {programs / 'hooks'}\n"
              f"\tsshCommand = {ssh}\n\tuntrackedCache = true\n"
              f"[filter \"lfs\"]\n\tclean = {clean}\n\tsmudge = {smudge}\n"
              f"\tprocess = {process}\n\trequired = true\n"
              f"[filter \"evil\"]\n\tclean = {clean}\n\tsmudge = {smudge}\n"
              f"[commit]\n\tgpgSign = true\n[tag]\n\tgpgSign = true\n"
              f"[gpg]\n\tprogram = {sign}\n[gc]\n\tauto = 1\n\tautoPackLimit = 1\n")
    included.write_text(config.replace("[core]\n", "[core]\n\tpager = " f"{sign}\n"))
    with open(git_dir / "config", "a") as handle:
        handle.write(config + f"[include]\n\tpath = {included}\n")
    (git_dir / "info").mkdir(exist_ok=True)
    (git_dir / "info" / "attributes").write_text("* filter=evil\n*.keras filter=lfs\n")


def owners_repository(root: Path, markers: Path, owner: str = "zoo", name: str = "toy") -> Path:
    """A repository the hub owner made, planted before anyone published to it."""
    repo = root / "models" / owner / name
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    plant(repo, markers)
    return repo


def ran(markers: Path) -> list[str]:
    return sorted(p.name for p in markers.iterdir())


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("ZOO_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def markers(tmp_path) -> Path:
    return tmp_path / "markers"


def pulled_exactly(ref: str, package: Path, out: Path) -> None:
    """`zoo pull` (which verifies every file against the card) gives the package's
    files, byte for byte, and nothing else."""
    ok("pull", ref, "--out", out)
    files = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert files == {p.relative_to(package).as_posix(): p.read_bytes()
                     for p in package.rglob("*") if p.is_file()}


# --- the planting is real --------------------------------------------------------

def test_the_planted_programs_run_under_plain_git(tmp_path, markers):
    """Without the zoo's runner, the planted repository runs its owner's programs:
    what the tests below assert is not vacuous."""
    repo = owners_repository(tmp_path / "hub", markers)
    (repo / "model.keras").write_bytes(b"weights")
    (repo / "card.json").write_text("{}")

    def plain(*args: str) -> None:  # the owner's programs may well make git fail
        subprocess.run(["git", "-C", str(repo), *args], capture_output=True)

    plain("add", "card.json", "model.keras")
    plain("status")
    empty = git(repo, "mktree", data=b"")
    plain("update-ref", "refs/heads/probe", git(repo, "commit-tree", empty, "-m", "probe"))
    assert {"filter-process", "filter-clean", "fsmonitor",
            "hookspath-reference-transaction"} <= set(ran(markers))


def test_the_planted_programs_do_not_run_under_the_zoos_runner(tmp_path, markers):
    repo = owners_repository(tmp_path / "hub", markers)
    (repo / "model.keras").write_bytes(b"weights")
    blob = run_git(repo / ".git", "hash-object", "-w", "--no-filters", str(repo / "model.keras"))
    env = {"GIT_INDEX_FILE": str(tmp_path / "index")}
    run_git(repo / ".git", "update-index", "-z", "--index-info", env=env,
            stdin=f"100644 blob {blob}\tmodel.keras\0".encode())
    tree = run_git(repo / ".git", "write-tree", env=env)
    sha = run_git(repo / ".git", "commit-tree", tree, "-m", "x")
    run_git(repo / ".git", "update-ref", "refs/heads/main", sha)
    run_git(repo / ".git", "tag", "v1", sha)
    run_git(repo / ".git", "log", "--all", "--format=%H %G?")
    assert ran(markers) == []
    assert git(repo, "cat-file", "blob", f"{sha}:model.keras") == "weights"


# --- publish, pull, inspect, list, mirror ----------------------------------------

def test_publishing_into_a_planted_repository_runs_none_of_its_programs(tmp_path, markers,
                                                                         cache):
    root = tmp_path / "hub"
    repo = owners_repository(root, markers)
    hub = FolderHub(root)
    first = make_package(tmp_path / "v1", version="1.0.0")
    second = make_package(tmp_path / "v2", version="2.0.0")
    one = hub.publish(first, "zoo", "toy", tag="v1")
    two = hub.publish(second, "zoo", "toy", tag="v2")
    assert one.created and two.created and one.revision != two.revision
    assert git(repo, "rev-parse", "main", "v1", "v2").split() == \
        [two.revision, one.revision, two.revision]
    assert git(repo, "rev-parse", f"{two.revision}^") == one.revision
    assert ran(markers) == []
    pulled_exactly(f"file://{root}/toy@v1", first, tmp_path / "out1")
    pulled_exactly(f"file://{root}/toy@v2", second, tmp_path / "out2")
    assert "2.0.0" in ok("inspect", f"file://{root}/toy").stdout
    listing = ok("list", "--hub", root).stdout
    assert "zoo/toy" in listing and "v1, v2" in listing
    # the zoo's own .gitattributes marks model.keras for LFS: with the owner's filter.lfs
    # this is exactly what plain git would have run the clean filter on
    assert "model.keras filter=lfs" in files_of(repo, two.revision)[".gitattributes"].decode()
    assert ran(markers) == []


@pytest.mark.slow
def test_zoo_publish_of_a_real_package_runs_none_of_the_owners_programs(iris_pkg, tmp_path,
                                                                         markers, cache):
    root = tmp_path / "hub"
    repo = owners_repository(root, markers, name="iris")
    run = ok("publish", iris_pkg, f"file://{root}/iris", "--tag", "v1")
    revision = run.stdout.split("@", 1)[1].split()[0]
    assert git(repo, "rev-parse", "v1") == revision
    assert ran(markers) == []
    pulled_exactly(f"file://{root}/iris@v1", iris_pkg, tmp_path / "out")
    ok("inspect", f"file://{root}/iris@v1")
    assert "zoo/iris" in ok("list", "--hub", root).stdout
    assert ran(markers) == []


def test_serving_and_mirroring_planted_repositories_runs_none_of_their_programs(
        tmp_path, markers, monkeypatch):
    from presets import commit as upstream_commit
    from served import served

    upstream, folder = tmp_path / "upstream", tmp_path / "files"
    folder.mkdir()
    (folder / "README.md").write_text("---\nlibrary_name: keras-hub\n---\nTiny.\n")
    (folder / "config.json").write_text('{"registered_name": "tiny"}')
    (folder / "model.weights.h5").write_bytes(os.urandom(5000))
    upstream_commit(upstream, folder, "acme/tiny", tag="v1", message="Upload tiny")
    (folder / "model.weights.h5").write_bytes(os.urandom(6000))
    head = upstream_commit(upstream, folder, "acme/tiny", tag="v2", message="Retrain")
    plant(upstream / "models" / "acme" / "tiny", markers)  # served by `zoo hub serve`
    root = tmp_path / "mirror"
    repo = owners_repository(root, markers, owner="acme", name="tiny")
    with served(upstream, tmp_path / "olah") as endpoint:
        monkeypatch.setenv("HF_ENDPOINT", endpoint)
        monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        line = ok("hub", "mirror", "hf://acme/tiny", "--hub", root).stdout
    assert line.startswith("mirrored hf://acme/tiny: 2 new commits")
    assert ran(markers) == []
    up = upstream / "models" / "acme" / "tiny"
    assert git(repo, "rev-parse", "main^{tree}") == git(up, "rev-parse", f"{head}^{{tree}}")
    assert files_of(repo, "v1") == files_of(up, "v1")
    assert "acme/tiny" in ok("list", "--hub", root).stdout
    assert ran(markers) == []


# --- no other repository ----------------------------------------------------------

@pytest.fixture
def enclosing(tmp_path) -> Path:
    """A project's own git repository, with the hub inside its work tree."""
    project = tmp_path / "project"
    project.mkdir()
    git(project, "init", "-q", "-b", "main")
    (project / "notes.txt").write_text("the project's own file\n")
    git(project, "add", "notes.txt")
    git(project, "commit", "-q", "-m", "project")
    return project


def project_state(project: Path) -> tuple[str, str, list[str]]:
    """The project's refs, HEAD and objects: what the zoo must never change."""
    objects = sorted(str(p.relative_to(project))
                     for p in (project / ".git" / "objects").rglob("*"))
    return git(project, "for-each-ref"), git(project, "rev-parse", "HEAD"), objects


def test_a_repository_without_its_git_folder_never_reaches_the_enclosing_one(
        enclosing, tmp_path, cache):
    root = enclosing / "hub"
    hub = FolderHub(root)
    hub.publish(make_package(tmp_path / "v1"), "zoo", "toy", tag="v1")
    repo = hub.repo_dir("zoo", "toy")
    shutil.rmtree(repo / ".git")  # the repository lost its .git; its files are left
    (repo / "model.keras").write_bytes(b"left behind")
    git(enclosing, "add", "-A")
    git(enclosing, "commit", "-q", "-m", "the hub's leftovers")
    before = project_state(enclosing)
    with pytest.raises(ZooError, match="not a git repository"):
        hub.git(repo, "rev-parse", "HEAD")  # plain `git -C` would answer the project's HEAD
    assert "no repository zoo/toy" in refused("pull", f"file://{root}/toy", "--out",
                                              tmp_path / "out")
    assert "no repository zoo/toy" in refused("inspect", f"file://{root}/toy")
    assert "no packages" in ok("list", "--hub", root).stderr
    assert project_state(enclosing) == before
    # publishing again makes the repository its own .git, and leaves the project alone
    again = hub.publish(make_package(tmp_path / "v2", version="2.0.0"), "zoo", "toy", tag="v2")
    assert (repo / ".git").is_dir() and git(repo, "rev-parse", "v2") == again.revision
    assert project_state(enclosing) == before


def redirect(repo: Path, to: Path, how: str) -> None:
    """Make `repo`'s .git send git to the repository `to` (its .git folder)."""
    if how == "gitdir file":
        (repo / ".git").write_text(f"gitdir: {to}\n")
    elif how == "symlink":
        (repo / ".git").symlink_to(to)
    else:  # a .git of its own whose refs and objects live in `to`
        (repo / ".git").mkdir()
        (repo / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
        if how == "commondir":
            (repo / ".git" / "commondir").write_text(f"{to}\n")
        else:
            for part in ("objects", "refs"):
                (repo / ".git" / part).symlink_to(to / part)


@pytest.mark.parametrize("how", ["gitdir file", "symlink", "commondir", "linked objects"])
def test_a_git_folder_that_leads_to_another_repository_is_refused(enclosing, tmp_path, cache,
                                                                   how):
    root = enclosing / "hub"
    repo = root / "models" / "zoo" / "toy"
    repo.mkdir(parents=True)
    redirect(repo, enclosing / ".git", how)
    before = project_state(enclosing)
    with pytest.raises(ZooError, match="not a (git )?repository"):
        FolderHub(root).publish(make_package(tmp_path / "pkg"), "zoo", "toy", tag="v1")
    assert os.path.lexists(repo / ".git")  # the owner's folder is left as it was
    assert project_state(enclosing) == before
    line = refused("pull", f"file://{root}/toy", "--out", tmp_path / "out")
    assert "no repository zoo/toy" in line or "not a git repository" in line
    with pytest.raises(ZooError, match="not a git repository"):
        run_git(repo / ".git", "rev-parse", "HEAD")
    assert project_state(enclosing) == before


def test_the_runner_drops_variables_that_redirect_git(monkeypatch, tmp_path):
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("GIT_CONFIG_PARAMETERS", "'core.hookspath'='/tmp'")
    env = safe_git_env()
    assert "GIT_DIR" not in env and "GIT_CONFIG_PARAMETERS" not in env
    assert env["GIT_CONFIG_KEY_0"] == "core.hooksPath"


def test_a_missing_git_is_one_line(monkeypatch, tmp_path, cache):
    hub = FolderHub(tmp_path / "hub")
    hub.publish(make_package(tmp_path / "pkg"), "zoo", "toy")
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))
    assert "needs the 'git' command" in refused("pull", f"file://{hub.root}/toy", "--out",
                                                tmp_path / "out")


# --- bounds -------------------------------------------------------------------------

def forged_wide_tree(repo: Path, entries: int) -> str:
    """A commit whose tree holds `entries` small files (one blob, many names)."""
    blob = git(repo, "hash-object", "-w", "--stdin", data=b"x")
    listing = "".join(f"100644 blob {blob}\tf{i:07d}.txt\n" for i in range(entries))
    tree = git(repo, "mktree", data=listing.encode())
    sha = git(repo, "commit-tree", tree, "-m", "wide")
    git(repo, "update-ref", "refs/heads/main", sha)
    return sha


@contextlib.contextmanager
def counted_git_processes(monkeypatch) -> Iterator[list[list[str]]]:
    """The git commands started in the block (every process the zoo starts goes
    through subprocess.Popen, subprocess.run included)."""
    started: list[list[str]] = []
    real = subprocess.Popen

    class Counting(real):  # type: ignore[misc, valid-type]
        def __init__(self, args, *rest, **kwargs):
            started.append([str(a) for a in args][:4])
            super().__init__(args, *rest, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", Counting)
    yield started
    monkeypatch.setattr(subprocess, "Popen", real)


def test_a_tree_of_too_many_entries_is_refused_before_any_per_entry_work(tmp_path, cache,
                                                                        monkeypatch):
    hub = FolderHub(tmp_path / "hub")
    hub.publish(make_package(tmp_path / "pkg"), "zoo", "toy")
    revision = forged_wide_tree(hub.repo_dir("zoo", "toy"), 20 * MAX_FILES)
    with counted_git_processes(monkeypatch) as started:
        with pytest.raises(IntegrityError, match=f"more than {MAX_FILES} files"):
            hub.files("zoo", "toy", revision)
    assert len(started) <= 3, started  # one listing, not a git process per entry
    assert f"more than {MAX_FILES} files" in refused("pull", f"file://{hub.root}/toy",
                                                     "--out", tmp_path / "out")


def test_pointer_candidates_are_read_in_one_process(tmp_path, cache, monkeypatch):
    """MAX_FILES small files, every one a pointer candidate: listed in seconds."""
    hub = FolderHub(tmp_path / "hub")
    hub.publish(make_package(tmp_path / "pkg"), "zoo", "toy")
    revision = forged_wide_tree(hub.repo_dir("zoo", "toy"), MAX_FILES)
    with counted_git_processes(monkeypatch) as started:
        files = hub.files("zoo", "toy", revision)
    assert len(files) == MAX_FILES
    assert len(started) <= 4, started  # the listing and one cat-file --batch, not 10,000
    assert {f.sha256 for f in files} == {hashlib.sha256(b"x").hexdigest()}


def test_an_unlisted_huge_blob_is_refused_unread(tmp_path, cache):
    """A revision holding a 256 MiB plain blob: refused by its size, in a process that
    never holds it (before: the whole blob in memory, twice)."""
    hub = FolderHub(tmp_path / "hub")
    hub.publish(make_package(tmp_path / "pkg"), "zoo", "toy")
    repo = hub.repo_dir("zoo", "toy")
    zeros = tmp_path / "zeros"
    with open(zeros, "wb") as handle:
        handle.truncate(256 << 20)  # a sparse file: no test process holds it either
    blob = git(repo, "hash-object", "-w", str(zeros))
    listing = git(repo, "ls-tree", "main") + f"\n100644 blob {blob}\tunlisted.bin\n"
    revision = git(repo, "commit-tree", git(repo, "mktree", data=listing.encode()), "-m", "x")
    git(repo, "update-ref", "refs/heads/main", revision)
    probe = ("from pathlib import Path\nfrom zoo.hub import FolderHub\n"
             "from zoo.errors import IntegrityError\n"
             f"try:\n    FolderHub(Path({str(hub.root)!r})).files('zoo', 'toy', {revision!r})\n"
             "except IntegrityError as exc:\n    print(exc)\n"
             "print(next(line.split()[1] for line in open('/proc/self/status')\n"
             "           if line.startswith('VmHWM:')))\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True)
    message, peak_kib = done.stdout.strip().splitlines()
    assert "unlisted.bin" in message and "plain git blob of 268,435,456 bytes" in message
    assert int(peak_kib) < 128 * 1024
    line = refused("pull", f"file://{hub.root}/toy", "--out", tmp_path / "out")
    assert "unlisted.bin" in line
    assert not (tmp_path / "out").exists()


def test_blobs_are_streamed_and_bounded(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    data = os.urandom(3 << 20)
    blob = git(repo, "hash-object", "-w", "--stdin", data=data)
    small = git(repo, "hash-object", "-w", "--stdin", data=b"small")
    chunks: list[bytes] = []
    with Blobs(repo / ".git") as blobs:
        assert blobs.copy(blob, len(data), chunks.append) == len(data)
        assert blobs.read(small, 5) == b"small"  # the same process, in step
        with pytest.raises(IntegrityError, match="more than the 4 allowed"):
            blobs.read(small, 4)
    assert b"".join(chunks) == data and len(chunks) > 1


def test_a_tree_entry_longer_than_any_allowed_path_is_refused(tmp_path, cache):
    hub = FolderHub(tmp_path / "hub")
    hub.publish(make_package(tmp_path / "pkg"), "zoo", "toy")
    repo = hub.repo_dir("zoo", "toy")
    revision = commit(repo, {**files_of(repo, "main"), "a" * 4000: b"x"})
    with pytest.raises(IntegrityError):
        hub.files("zoo", "toy", revision)


# --- publish applies the pull's path grammar ------------------------------------------

@pytest.mark.parametrize("bad", ["notes\n.txt", "tab\there.txt", "back\\slash.txt",
                                 "sub/ trailing.txt"])
def test_publish_refuses_a_file_name_every_pull_would_refuse(tmp_path, cache, monkeypatch,
                                                             bad):
    from served import free_port

    package = make_package(tmp_path / "pkg", files={"model.keras": b"w" * 2000,
                                                   bad: b"a note"})
    root = tmp_path / "hub"
    line = refused("publish", package, f"file://{root}/toy", "--tag", "v1")
    assert "cannot publish" in line and "refusing file path" in line
    assert not root.exists()  # nothing written: no repository, no LFS object
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{free_port()}")  # nothing listens
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    assert refused("publish", package, "hf://acme/toy") == line


def test_the_folder_hub_refuses_such_a_name_before_writing_anything(tmp_path, cache):
    hub = FolderHub(tmp_path / "hub")
    first = hub.publish(make_package(tmp_path / "good"), "zoo", "toy", tag="v1")
    repo = hub.repo_dir("zoo", "toy")
    before = git(repo, "for-each-ref"), sorted((repo / ".git" / "lfs").rglob("*")), \
        git(repo, "count-objects")
    package = make_package(tmp_path / "bad", files={"model.keras": b"other" * 500,
                                                   "notes\n.txt": b"x"})
    with pytest.raises(UnsafePathError, match="refusing file path"):
        hub.publish(package, "zoo", "toy", tag="v2")
    assert (git(repo, "for-each-ref"), sorted((repo / ".git" / "lfs").rglob("*")),
            git(repo, "count-objects")) == before
    assert hub.resolve("zoo", "toy", None) == first.revision


def test_hf_commit_operations_check_every_path(tmp_path):
    from zoo.hub.hf import commit_operations

    package = make_package(tmp_path / "pkg", files={"model.keras": b"w", "a\nb.txt": b"x"})
    with pytest.raises(UnsafePathError):
        commit_operations(package)


# --- a promisor remote: reading a missing object fetches it -----------------------

MISSING = "1" * 40


def plant_promisor(repo: Path, markers: Path) -> None:
    """A partial clone whose promisor remote is an `ext::` command, with the repository's
    own `protocol.ext.allow` (which outranks a command line's `protocol.allow`), and
    `main` holding a tree entry whose blob is missing: any read of that blob makes git
    lazily fetch it, running the command."""
    markers.mkdir(parents=True, exist_ok=True)
    listing = git(repo, "ls-tree", "main") + f"\n100644 blob {MISSING}\tmissing.bin\n"
    tree = git(repo, "mktree", "--missing", data=listing.encode())
    git(repo, "update-ref", "refs/heads/main", git(repo, "commit-tree", tree, "-m", "x"))
    with open(repo / ".git" / "config", "a") as handle:
        handle.write("[core]\n\trepositoryformatversion = 1\n"
                     "[extensions]\n\tpartialClone = origin\n"
                     f"[remote \"origin\"]\n\turl = ext::touch {markers}/lazy-fetch\n"
                     "\tpromisor = true\n[protocol \"ext\"]\n\tallow = always\n"
                     "[protocol \"file\"]\n\tallow = always\n")


def test_a_promisor_remote_runs_nothing_when_an_object_is_missing(tmp_path, cache, markers):
    hub = FolderHub(tmp_path / "hub")
    hub.publish(make_package(tmp_path / "pkg"), "zoo", "toy")
    repo = hub.repo_dir("zoo", "toy")
    plant_promisor(repo, markers)
    subprocess.run(["git", "-C", str(repo), "-c", "protocol.allow=never", "cat-file", "-p",
                    MISSING], capture_output=True)
    assert ran(markers) == ["lazy-fetch"]  # plain git, even with protocol.allow=never
    (markers / "lazy-fetch").unlink()
    assert "missing.bin" in refused("pull", f"file://{hub.root}/toy", "--out", tmp_path / "out")
    answer = run_git(repo / ".git", "cat-file", "--batch", stdin=f"{MISSING}\n".encode())
    assert answer == f"{MISSING} missing"
    assert ran(markers) == []
    assert not (tmp_path / "out").exists()


def test_a_linked_lfs_store_is_never_written_or_read_through(tmp_path, cache):
    """The hub owner makes a repository's .git/lfs a link to a folder outside the hub:
    publishing must not write the package's LFS objects there, nor a pull read them."""
    hub = FolderHub(tmp_path / "hub")
    hub.publish(make_package(tmp_path / "v1"), "zoo", "toy", tag="v1")
    lfs = hub.repo_dir("zoo", "toy") / ".git" / "lfs"
    elsewhere = tmp_path / "elsewhere"
    shutil.move(lfs, elsewhere)  # the objects as they were, now outside the hub
    lfs.symlink_to(elsewhere)
    before = sorted(p for p in elsewhere.rglob("*"))
    with pytest.raises(UnsafePathError, match="symlink"):
        hub.publish(make_package(tmp_path / "v2", version="2.0.0"), "zoo", "toy", tag="v2")
    assert sorted(p for p in elsewhere.rglob("*")) == before
    assert "symlink" in refused("pull", f"file://{hub.root}/toy@v1", "--out", tmp_path / "out")
    assert not (tmp_path / "out").exists()


REF_NAMES = ["v1", "2026-11-22", "a/b", "release/v1.2", "_x", "a-", "a/-b", "a..b", "a.",
             "a/", "a//b", "a.lock", "a.lock/b", "b/a.lock", "a/.b", ".a", "a/b.", "a.b.lock.c",
             "x.lockx", "-x", "a b", "a@{b", "a~1", "a^", "a:b", "a*", "a[b", "a\\b", "é",
             "a" * 40, "a" * 39, "A" * 40, "a" * 129]


@pytest.mark.parametrize("name", REF_NAMES)
def test_the_tag_rule_is_git_check_ref_format_without_a_git_process(name, monkeypatch):
    """A mirror checks every upstream ref: the grammar gives git's answer (and refuses
    what reads as a commit sha or leaves the Hub's characters), and starts no git."""
    git_says = subprocess.run(["git", "check-ref-format", f"refs/tags/{name}"],
                              capture_output=True).returncode == 0
    hub_chars = all(c.isascii() and (c.isalnum() or c in "._/-") for c in name) \
        and len(name) <= 128 and name[0] not in ".-/"
    with counted_git_processes(monkeypatch) as started:
        assert valid_tag(name) == (git_says and hub_chars and name != "a" * 40), name
    assert started == []
