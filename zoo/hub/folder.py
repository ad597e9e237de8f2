"""A folder hub: one git repository per model, in the Hugging Face layout.

`ROOT/models/OWNER/NAME` is a normal git repository whose large files are Git
LFS pointer files, with their content under `.git/lfs/objects/aa/bb/OID`, so a
revision is a commit sha, tags are git tags, history is `git log`, and an
HF-compatible server (olah) can serve the folder as it is.

Publishing writes LFS objects and git objects first and moves `main` and the tag
last, together, in one compare-and-swap `update-ref` transaction, so a crash
leaves the previous state readable and a refused publish moves nothing.
"""

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from zoo.cards.card import CARD_FILE, read_card
from zoo.cards.digest import sha256_bytes, sha256_file
from zoo.errors import IntegrityError, RefError, UnsafePathError, ZooError
from zoo.files import atomic_writer
from zoo.hub.base import PublishResult, RepoFile
from zoo.hub.lfs import (
    ATTRIBUTES_FILE,
    POINTER_LIMIT,
    lfs_attributes,
    lfs_pointer,
    object_path,
    parse_lfs_pointer,
    stored_in_lfs,
)
from zoo.hub.refs import HUB_MARKER, REVISION
from zoo.trust.repo_paths import MAX_FILES, check_repo_path, confined

BRANCH = "main"
ZERO_SHA = "0" * 40
FILE_MODES = frozenset({"100644", "100755"})  # plain files; no symlinks or submodules
GIT_ENV = {"GIT_AUTHOR_NAME": "backbone-zoo", "GIT_AUTHOR_EMAIL": "zoo@localhost",
           "GIT_COMMITTER_NAME": "backbone-zoo", "GIT_COMMITTER_EMAIL": "zoo@localhost",
           "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0"}


@dataclass(frozen=True)
class _Entry:
    """A file of a commit as git stores it: a blob, or a pointer to an LFS object."""

    path: str
    blob: str
    lfs_oid: str | None
    size: int


@dataclass(frozen=True)
class RepoSummary:
    owner: str
    name: str
    revision: str
    tags: list[str]
    version: str
    license: str


def valid_tag(tag: str) -> bool:
    if tag.startswith("-") or len(tag) == 40 and all(c in "0123456789abcdef" for c in tag):
        return False
    done = subprocess.run(["git", "check-ref-format", f"refs/tags/{tag}"], capture_output=True)
    return done.returncode == 0 and REVISION.match(tag) is not None


class FolderHub:
    """The `Hub` for a folder: git does the history, `.git/lfs/objects` holds the weights."""

    readme_is_page = False  # a folder has no web page; its card is what people read
    supports_private = False  # a folder hub is as private as its folder

    def __init__(self, root: Path):
        self.root = Path(root).expanduser().absolute()

    def repo_dir(self, owner: str, name: str) -> Path:
        return self.root / "models" / owner / name

    def _git(self, repo: Path, *args: str, env: dict | None = None, check: bool = True,
             binary: bool = False, stdin: bytes | None = None) -> str | bytes:
        try:
            done = subprocess.run(["git", "-c", "commit.gpgSign=false", "-c", "tag.gpgSign=false",
                                   "-C", str(repo), *args], capture_output=True, check=False,
                                  input=stdin, env={**os.environ, **GIT_ENV, **(env or {})})
        except FileNotFoundError as exc:
            raise ZooError("the folder hub needs the 'git' command, which is not installed") \
                from exc
        if check and done.returncode != 0:
            raise ZooError(f"git {args[0]} failed in {repo}: "
                           f"{done.stderr.decode(errors='replace').strip().splitlines()[-1:]}")
        return done.stdout if binary else done.stdout.decode().strip()

    def exists(self, owner: str, name: str) -> bool:
        return (self.repo_dir(owner, name) / ".git").is_dir()

    def _existing(self, owner: str, name: str) -> Path:
        if not self.exists(owner, name):
            known = ", ".join(f"{r.owner}/{r.name}" for r in self.repos()[:8]) or "none"
            raise RefError(f"no repository {owner}/{name} in the hub at {self.root} "
                           f"(repositories: {known})")
        return self.repo_dir(owner, name)

    def resolve(self, owner: str, name: str, revision: str | None) -> str:
        repo = self._existing(owner, name)
        rev = revision or BRANCH
        sha = self._git(repo, "rev-parse", "--verify", "--quiet", "--end-of-options",
                        f"{rev}^{{commit}}", check=False)
        if not sha:
            tags = ", ".join(self.tags(owner, name)) or "none"
            raise RefError(f"{owner}/{name} has no revision '{rev}' (tags: {tags}; "
                           f"or use a branch such as '{BRANCH}' or a commit sha)")
        return sha

    def tags(self, owner: str, name: str) -> dict[str, str]:
        out = self._git(self._existing(owner, name), "tag", "--list",
                        "--format=%(refname:short) %(objectname)")
        return dict(line.split(" ", 1) for line in out.splitlines() if line)

    def _blob(self, repo: Path, blob: str) -> bytes:
        return self._git(repo, "cat-file", "blob", blob, binary=True)

    def _tree(self, repo: Path, revision: str) -> list[_Entry]:
        """The files of a commit, each path checked against the hub path grammar and
        each pointer parsed strictly: a hub's tree is hostile until checked."""
        out = self._git(repo, "ls-tree", "-r", "-z", "--long", "--full-tree", revision,
                        binary=True)
        entries = []
        for raw in out.split(b"\0"):
            if not raw:
                continue
            meta, _, raw_path = raw.partition(b"\t")
            try:
                mode, kind, blob, size = meta.decode("ascii").split()
                path = raw_path.decode("utf-8")
            except (UnicodeDecodeError, ValueError):
                raise UnsafePathError(f"refusing tree entry {raw[:120]!r} of {revision[:12]}: "
                                      "not a UTF-8 path") from None
            check_repo_path(path)
            if kind != "blob" or mode not in FILE_MODES:
                raise UnsafePathError(f"refusing {path!r} in {revision[:12]}: a {kind} of mode "
                                      f"{mode} (symlinks and submodules are not package files)")
            if len(entries) >= MAX_FILES:
                raise IntegrityError(f"refusing {revision[:12]}: more than {MAX_FILES} files")
            pointer = parse_lfs_pointer(self._blob(repo, blob)) \
                if int(size) < POINTER_LIMIT else None
            oid, size = pointer if pointer else (None, int(size))
            entries.append(_Entry(path, blob, oid, size))
        return entries

    def files(self, owner: str, name: str, revision: str) -> list[RepoFile]:
        """Every file with its sha256: an LFS file's is its oid; a plain blob is hashed."""
        repo = self._existing(owner, name)
        return [RepoFile(e.path, e.lfs_oid or sha256_bytes(self._blob(repo, e.blob)), e.size,
                         e.lfs_oid is not None, e.blob) for e in self._tree(repo, revision)]

    def download(self, owner: str, name: str, revision: str, dest: Path,
                 paths: Iterable[str] | None = None) -> None:
        """Write the revision's files (or only `paths`) into `dest`, each write confined
        to it."""
        repo = self._existing(owner, name)
        wanted = None if paths is None else set(paths)
        for entry in self._tree(repo, revision):
            if entry.path == ATTRIBUTES_FILE or wanted is not None and entry.path not in wanted:
                continue
            target = confined(Path(dest), entry.path)
            target.parent.mkdir(parents=True, exist_ok=True)
            if entry.lfs_oid is None:
                target.write_bytes(self._blob(repo, entry.blob))
                continue
            source = object_path(repo, entry.lfs_oid)
            if not source.is_file():
                raise IntegrityError(f"{owner}/{name}: the LFS object for {entry.path} is "
                                     "missing from the hub")
            if source.stat().st_size != entry.size:
                raise IntegrityError(f"{owner}/{name}: the LFS object for {entry.path} has "
                                     f"{source.stat().st_size} bytes, its pointer says "
                                     f"{entry.size}")
            shutil.copyfile(source, target)

    def _init_repo(self, repo: Path) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        marker = self.root / HUB_MARKER
        if not marker.exists():
            marker.write_text(json.dumps({"kind": "backbone-zoo folder hub", "layout": "hf"}) + "\n")
        if not (repo / ".git").is_dir():
            repo.mkdir(parents=True, exist_ok=True)
            self._git(repo, "init", "-q", "-b", BRANCH)

    def _store_lfs(self, repo: Path, source: Path, oid: str) -> None:
        target = object_path(repo, oid)
        if target.is_file() and sha256_file(target) == oid:
            return
        with atomic_writer(target) as handle, open(source, "rb") as data:
            shutil.copyfileobj(data, handle)

    def _stage_tree(self, repo: Path, package_dir: Path, staging: Path,
                    digests: dict[str, str]) -> None:
        """Copy the package into `staging` as git sees it; `digests` (the card's sha256
        list, verified before publishing) are the LFS oids."""
        lfs_paths = []
        for source in sorted(p for p in package_dir.rglob("*") if p.is_file()):
            rel = source.relative_to(package_dir)
            target = staging / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if stored_in_lfs(source):
                oid = digests.get(rel.as_posix()) or sha256_file(source)
                self._store_lfs(repo, source, oid)
                target.write_text(lfs_pointer(oid, source.stat().st_size))
                lfs_paths.append(rel.as_posix())
            else:
                shutil.copyfile(source, target)
        (staging / ATTRIBUTES_FILE).write_text(lfs_attributes(lfs_paths))

    def publish(self, package_dir: Path, owner: str, name: str, *, tag: str | None = None,
                move_tag: bool = False, private: bool = False,
                message: str | None = None) -> PublishResult:
        """Commit a sealed package as the new head of `main`, and tag it: all or nothing
        (see `commit_folder`); the card's sha256 list, verified before publishing, gives
        the LFS oids."""
        if private:
            raise ZooError("--private is for hf:// repositories; a folder hub is as private as "
                           "its folder")
        card = read_card(package_dir)
        return self.commit_folder(package_dir, owner, name, tag=tag, move_tag=move_tag,
                                  message=message or f"Publish {card.name} {card.version}",
                                  digests=card.files)

    def commit_folder(self, folder: Path, owner: str, name: str, *, message: str,
                      tag: str | None = None, move_tag: bool = False,
                      digests: dict[str, str] | None = None) -> PublishResult:
        """Commit every file of `folder` (any files, a zoo package or not) as the new head
        of `main`, and tag it: all or nothing.

        Every check comes before any ref moves; objects are written first and `main`
        and the tag then move together in one `git update-ref --stdin` transaction,
        compare-and-swap against what was read under the lock. No work tree or index
        of the repository is touched, so a crash leaves it as it was or published."""
        if tag and not valid_tag(tag):
            raise RefError(f"bad tag '{tag}'; e.g. 'v1' or '2026-11-22'")
        repo = self.repo_dir(owner, name)
        repo.parent.mkdir(parents=True, exist_ok=True)
        with self.locked(owner, name):
            new_repo = not self.exists(owner, name)
            try:
                self._init_repo(repo)
                return self._commit(repo, Path(folder), digests or {}, owner, name, tag,
                                    move_tag, message)
            except BaseException:
                if new_repo:  # nothing was published: leave no empty repository behind
                    shutil.rmtree(repo, ignore_errors=True)
                raise

    def locked(self, owner: str, name: str) -> FileLock:
        """The lock every writer of a repository holds."""
        folder = self.repo_dir(owner, name).parent
        folder.mkdir(parents=True, exist_ok=True)
        return FileLock(str(folder / f".{name}.lock"))

    def _commit(self, repo: Path, folder: Path, digests: dict[str, str], owner: str,
                name: str, tag: str | None, move_tag: bool, message: str) -> PublishResult:
        parent = self._ref(repo, f"refs/heads/{BRANCH}")
        current_tag = self._ref(repo, f"refs/tags/{tag}") if tag else None
        tree = self._write_tree(repo, folder, digests)
        created = not parent or self._git(repo, "rev-parse", f"{parent}^{{tree}}") != tree
        revision = parent
        if created:
            revision = self._git(repo, "commit-tree", tree, *(["-p", parent] if parent else []),
                                 "-m", message)
        if current_tag and current_tag != revision and not move_tag:
            raise RefError(f"tag '{tag}' already names {current_tag[:12]} in {owner}/{name}; "
                           "pass --move-tag to point it at the new revision")
        updates = [(f"refs/heads/{BRANCH}", revision, parent)] if created else []
        if tag and current_tag != revision:
            updates.append((f"refs/tags/{tag}", revision, current_tag))
        self.move_refs(repo, updates)
        return PublishResult(revision, created, tag)

    def _ref(self, repo: Path, ref: str) -> str | None:
        return self._git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}",
                         check=False) or None

    def _write_tree(self, repo: Path, folder: Path, digests: dict[str, str]) -> str:
        """LFS objects and git objects for the folder; returns the tree's sha."""
        with tempfile.TemporaryDirectory(dir=repo / ".git", prefix="publish-") as tmp:
            staging, index = Path(tmp) / "tree", Path(tmp) / "index"
            staging.mkdir()
            self._stage_tree(repo, folder, staging, digests)
            env = {"GIT_INDEX_FILE": str(index), "GIT_WORK_TREE": str(staging)}
            self._git(repo, "add", "-A", ".", env=env)
            return self._git(repo, "write-tree", env=env)

    def present_blobs(self, repo: Path, blobs: Iterable[str]) -> set[str]:
        """Which of these blob ids (40 hex digits, checked by the caller) the repository
        holds."""
        wanted = "".join(f"{blob}\n" for blob in blobs)
        if not wanted:
            return set()
        out = self._git(repo, "cat-file", "--batch-check=%(objectname) %(objecttype)",
                        stdin=wanted.encode())
        return {line.split()[0] for line in out.splitlines() if line.endswith(" blob")}

    def write_blob(self, repo: Path, source: Path | bytes) -> str:
        """Store a file's bytes (or these bytes) as a git blob, as they are (no filters);
        returns its id."""
        if isinstance(source, bytes):
            return self._git(repo, "hash-object", "-w", "--stdin", stdin=source)
        return self._git(repo, "hash-object", "-w", "--no-filters", str(Path(source).absolute()))

    def write_tree_of(self, repo: Path, entries: Iterable[tuple[str, str]]) -> str:
        """A tree of plain files (mode 100644) from (path, blob id) pairs whose blobs the
        repository holds, built in a temporary index; returns the tree's sha."""
        listing = b"".join(f"100644 blob {blob}\t{path}".encode() + b"\0"
                           for path, blob in entries)
        with tempfile.TemporaryDirectory(dir=repo / ".git", prefix="tree-") as tmp:
            env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            self._git(repo, "update-index", "-z", "--index-info", env=env, stdin=listing)
            return self._git(repo, "write-tree", env=env)

    def move_refs(self, repo: Path, updates: list[tuple[str, str, str | None]]) -> None:
        """Move every ref or none, each only if it still names what was read."""
        if not updates:
            return
        for ref, _, _ in updates:  # left by a publish killed inside git; we hold the lock
            (repo / ".git" / f"{ref}.lock").unlink(missing_ok=True)
        script = "start\n" + "".join(f"update {ref} {new} {old or ZERO_SHA}\n"
                                     for ref, new, old in updates) + "prepare\ncommit\n"
        done = subprocess.run(["git", "-C", str(repo), "update-ref", "--stdin"],
                              input=script.encode(), capture_output=True,
                              env={**os.environ, **GIT_ENV})
        if done.returncode != 0:
            reason = done.stderr.decode(errors="replace").strip().splitlines()[-1:]
            raise RefError(f"publishing to {repo.parent.name}/{repo.name} failed, nothing "
                           f"was moved: {' '.join(reason)}")

    def repos(self) -> list[RepoSummary]:
        summaries = []
        for git_dir in sorted((self.root / "models").glob("*/*/.git")):
            repo = git_dir.parent
            owner, name = repo.parent.name, repo.name
            head = self._git(repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{BRANCH}",
                             check=False)
            if not head:
                continue
            # a repository with no card (a mirror of a keras-hub preset) is listed too
            text = self._git(repo, "cat-file", "blob", f"{head}:{CARD_FILE}", check=False)
            try:
                card = json.loads(text) if text else {}
            except json.JSONDecodeError:
                card = {}
            card = card if isinstance(card, dict) else {}
            summaries.append(RepoSummary(owner, name, head, sorted(self.tags(owner, name)),
                                         str(card.get("version", "-")),
                                         str(card.get("license", "-"))))
        return summaries
