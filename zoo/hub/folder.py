"""A folder hub: one git repository per model, in the Hugging Face layout.

`ROOT/models/OWNER/NAME` is a normal git repository whose large files are Git
LFS pointer files, with their content under `.git/lfs/objects/aa/bb/OID`, so a
revision is a commit sha, tags are git tags, history is `git log`, and an
HF-compatible server (olah) can serve the folder as it is.

Publishing writes LFS objects and git objects first and moves `main` and the tag
last, together, in one compare-and-swap `update-ref` transaction, so a crash
leaves the previous state readable and a refused publish moves nothing.

The repositories are as hostile as their folder is shared: git runs only through
`zoo.hub.git.run_git` (no hook, fsmonitor, filter or other program a repository's
config names ever runs; trees are built from blobs and a temporary index, never
from a work tree), and what a revision holds is read bounded: its entries counted
in one listing first, blobs streamed, each size checked before it is read.
"""

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from zoo.cards.card import CARD_FILE, MAX_CARD_BYTES, read_card
from zoo.cards.digest import sha256_file
from zoo.errors import IntegrityError, RefError, UnsafePathError, ZooError
from zoo.files import atomic_writer
from zoo.hub.base import PublishResult, RepoFile
from zoo.hub.git import Blobs, GitFailed, leads_elsewhere, records, run_git, small_blobs
from zoo.hub.lfs import (
    ATTRIBUTES_FILE,
    POINTER_LIMIT,
    TEXT_LIMIT,
    lfs_attributes,
    lfs_pointer,
    object_path,
    parse_lfs_pointer,
    stored_in_lfs,
)
from zoo.hub.refs import HUB_MARKER
from zoo.package import package_tree
from zoo.trust.repo_paths import (
    COMMIT,
    MAX_FILES,
    MAX_PATH_BYTES,
    check_ref_name,
    check_repo_path,
    confined,
)

BRANCH = "main"
ZERO_SHA = "0" * 40
FILE_MODES = frozenset({"100644", "100755"})  # plain files; no symlinks or submodules
# A plain (non-LFS) blob: both backends put every larger file in LFS (the Hub refuses
# larger plain files), so a larger one is refused before a byte of it is read.
MAX_BLOB_BYTES = TEXT_LIMIT
# One `ls-tree --long -z` record: mode, kind, id, size, a tab and a path the grammar allows.
MAX_RECORD_BYTES = 128 + MAX_PATH_BYTES


@dataclass(frozen=True)
class _Entry:
    """A file of a commit as git stores it: a blob, or a pointer to an LFS object."""

    path: str
    blob: str
    lfs_oid: str | None
    size: int
    data: bytes | None = None  # a small plain blob's content, read with the pointers


@dataclass(frozen=True)
class RepoSummary:
    owner: str
    name: str
    revision: str
    tags: list[str]
    version: str
    license: str


def valid_tag(tag: str) -> bool:
    """A name the revision grammar (git's rules) accepts, and not one that reads as a
    commit sha: checked without a git process, since a mirror checks every upstream ref."""
    try:
        check_ref_name(tag)
    except UnsafePathError:
        return False
    return COMMIT.fullmatch(tag) is None


def require_folder_hub(root: Path) -> Path:
    """`root` as an absolute path, if it is a folder hub a publish has written to."""
    root = Path(root).expanduser().absolute()
    if not (root / "models").is_dir():
        raise ZooError(f"{root} is not a folder hub (no models/ inside); publish to it "
                       f"first, e.g. zoo publish PKG file://{root}/NAME")
    return root


def publishable_files(folder: Path) -> list[tuple[str, Path]]:
    """The files a folder publishes, as (repository path, file), both backends: read
    through the package walker (no links, special files or foreign hard links) and
    every path checked against the pull's grammar first, so nothing a later pull
    refuses is ever written. Its own `.gitattributes` is left out (the hub writes the
    one that marks LFS files)."""
    folder = Path(folder)
    names = [name for name in package_tree(folder) if name != ATTRIBUTES_FILE]
    if len(names) > MAX_FILES:
        raise UnsafePathError(f"cannot publish {folder}: more than {MAX_FILES} files")
    for name in names:
        try:
            check_repo_path(name)
        except UnsafePathError as exc:
            raise UnsafePathError(f"cannot publish {folder}: {exc} (every later pull would "
                                  "refuse it; rename the file)") from None
    return [(name, folder.joinpath(*name.split("/"))) for name in names]


class FolderHub:
    """The `Hub` for a folder: git does the history, `.git/lfs/objects` holds the weights."""

    readme_is_page = False  # a folder has no web page; its card is what people read
    supports_private = False  # a folder hub is as private as its folder

    def __init__(self, root: Path):
        self.root = Path(root).expanduser().absolute()

    def repo_dir(self, owner: str, name: str) -> Path:
        return self.root / "models" / owner / name

    def git(self, repo: Path, *args: str, env: dict | None = None, check: bool = True,
            binary: bool = False, stdin: bytes | None = None) -> str | bytes:
        """git on the repository in folder `repo` (see `run_git`)."""
        return run_git(repo / ".git", *args, env=env, check=check, binary=binary, stdin=stdin)

    def exists(self, owner: str, name: str) -> bool:
        git_dir = self.repo_dir(owner, name) / ".git"
        return git_dir.is_dir() and not git_dir.is_symlink()

    def _existing(self, owner: str, name: str) -> Path:
        if not self.exists(owner, name):
            known = ", ".join(f"{r.owner}/{r.name}" for r in self.repos()[:8]) or "none"
            raise RefError(f"no repository {owner}/{name} in the hub at {self.root} "
                           f"(repositories: {known})")
        return self.repo_dir(owner, name)

    def resolve(self, owner: str, name: str, revision: str | None) -> str:
        repo = self._existing(owner, name)
        rev = revision or BRANCH
        sha = self.git(repo, "rev-parse", "--verify", "--quiet", "--end-of-options",
                       f"{rev}^{{commit}}", check=False)
        if not sha:
            tags = ", ".join(self.tags(owner, name)) or "none"
            raise RefError(f"{owner}/{name} has no revision '{rev}' (tags: {tags}; "
                           f"or use a branch such as '{BRANCH}' or a commit sha)")
        return sha

    def tags(self, owner: str, name: str) -> dict[str, str]:
        out = self.git(self._existing(owner, name), "tag", "--list",
                       "--format=%(refname:short) %(objectname)")
        return dict(line.split(" ", 1) for line in out.splitlines() if line)

    def _listing(self, repo: Path, revision: str) -> list[tuple[str, str, int]]:
        """(path, blob id, blob size) of every file of a commit, from one `ls-tree`
        read only as far as MAX_FILES entries: an oversized tree is refused before
        any per-entry work. Each path passes the hub path grammar; symlinks and
        submodules are refused."""
        raw_entries = records(repo / ".git", "ls-tree", "-r", "-z", "--long", "--full-tree",
                              "--end-of-options", revision, most=MAX_FILES,
                              longest=MAX_RECORD_BYTES)
        if len(raw_entries) > MAX_FILES:
            raise IntegrityError(f"refusing {revision[:12]}: more than {MAX_FILES} files")
        listing = []
        for raw in raw_entries:
            meta, _, raw_path = raw.partition(b"\t")
            try:
                mode, kind, blob, size = meta.decode("ascii").split()
                path = raw_path.decode("utf-8")
            except (UnicodeDecodeError, ValueError):
                raise UnsafePathError(f"refusing tree entry {raw[:120]!r} of {revision[:12]}: "
                                      "not a UTF-8 path") from None
            check_repo_path(path)
            if kind != "blob" or mode not in FILE_MODES or not size.isdigit():
                raise UnsafePathError(f"refusing {path!r} in {revision[:12]}: a {kind} of mode "
                                      f"{mode} (symlinks and submodules are not package files)")
            listing.append((path, blob, int(size)))
        return listing

    def _tree(self, repo: Path, revision: str) -> list[_Entry]:
        """The files of a commit, each pointer parsed strictly: a hub's tree is hostile
        until checked. Every blob small enough to be an LFS pointer is read by one
        `cat-file --batch` call, not one process per entry (and kept: a small plain
        file is then never read again)."""
        listing = self._listing(repo, revision)
        small = small_blobs(repo / ".git", [blob for _, blob, size in listing
                                            if size < POINTER_LIMIT], POINTER_LIMIT)
        entries = []
        for path, blob, size in listing:
            data = small.get(blob)
            pointer = parse_lfs_pointer(data) if data is not None else None
            if pointer:
                entries.append(_Entry(path, blob, pointer[0], pointer[1]))
            else:
                entries.append(_Entry(path, blob, None, size, data))
        return entries

    @staticmethod
    def _copy_blob(blobs: Blobs, entry: _Entry, sink, where: str) -> None:
        """A plain blob to `sink`: as read with the listing if small, else streamed
        from git, refused unread if larger than a plain blob may be."""
        if entry.data is not None:
            sink(entry.data)
            return
        if entry.size > MAX_BLOB_BYTES:
            raise IntegrityError(f"refusing {entry.path} in {where}: a plain git blob of "
                                 f"{entry.size:,} bytes (larger files are LFS objects; at "
                                 f"most {MAX_BLOB_BYTES:,} bytes)")
        blobs.copy(entry.blob, MAX_BLOB_BYTES, sink, f"{entry.path} in {where}")

    def files(self, owner: str, name: str, revision: str) -> list[RepoFile]:
        """Every file with its sha256: an LFS file's is its oid; a plain blob is hashed
        as it streams from git."""
        repo = self._existing(owner, name)
        listed = []
        with Blobs(repo / ".git") as blobs:
            for e in self._tree(repo, revision):
                digest = e.lfs_oid
                if digest is None:
                    hasher = hashlib.sha256()
                    self._copy_blob(blobs, e, hasher.update, f"{owner}/{name}@{revision[:12]}")
                    digest = hasher.hexdigest()
                listed.append(RepoFile(e.path, digest, e.size, e.lfs_oid is not None, e.blob))
        return listed

    def download(self, owner: str, name: str, revision: str, dest: Path,
                 paths: Iterable[str] | None = None) -> None:
        """Write the revision's files (or only `paths`) into `dest`, each write confined
        to it."""
        repo = self._existing(owner, name)
        wanted = None if paths is None else set(paths)
        with Blobs(repo / ".git") as blobs:
            for entry in self._tree(repo, revision):
                if entry.path == ATTRIBUTES_FILE or \
                        wanted is not None and entry.path not in wanted:
                    continue
                self._download_entry(repo, blobs, entry, Path(dest), owner, name, revision)

    def _download_entry(self, repo: Path, blobs: Blobs, entry: _Entry, dest: Path, owner: str,
                        name: str, revision: str) -> None:
        """One file written inside `dest`: a plain blob streamed from git, an LFS
        object copied after its size is checked against its pointer."""
        target = confined(dest, entry.path)
        target.parent.mkdir(parents=True, exist_ok=True)
        if entry.lfs_oid is None:
            with open(target, "wb") as handle:
                self._copy_blob(blobs, entry, handle.write, f"{owner}/{name}@{revision[:12]}")
            return
        source = object_path(repo, entry.lfs_oid)
        if not source.is_file():
            raise IntegrityError(f"{owner}/{name}: the LFS object for {entry.path} is "
                                 "missing from the hub")
        if source.stat().st_size != entry.size:
            raise IntegrityError(f"{owner}/{name}: the LFS object for {entry.path} has "
                                 f"{source.stat().st_size} bytes, its pointer says "
                                 f"{entry.size}")
        shutil.copyfile(source, target)

    def _init_repo(self, repo: Path) -> Path | None:
        """Make `repo` a repository unless it is one; returns what was created (the
        folder, or its .git where the folder was there already), for removal if
        nothing ends up published. A .git that leads to another repository (a
        symlink, a gitfile, a `commondir`, linked objects or refs) is refused."""
        self.root.mkdir(parents=True, exist_ok=True)
        marker = self.root / HUB_MARKER
        if not marker.exists():
            marker.write_text(json.dumps({"kind": "backbone-zoo folder hub",
                                          "layout": "hf"}) + "\n")
        git_dir = repo / ".git"
        if os.path.lexists(git_dir):
            if leads_elsewhere(git_dir):
                raise ZooError(f"{repo} is not a repository the zoo writes to: its .git "
                               "leads to another repository (a link, a gitfile or a "
                               "commondir)")
            return None
        created = git_dir if repo.exists() else repo
        repo.mkdir(parents=True, exist_ok=True)
        try:
            run_git(None, "init", "-q", "-b", BRANCH, "--", str(repo))
        except BaseException:
            shutil.rmtree(created, ignore_errors=True)
            raise
        return created

    def _store_lfs(self, repo: Path, source: Path, oid: str) -> None:
        target = object_path(repo, oid)
        if target.is_file() and sha256_file(target) == oid:
            return
        with atomic_writer(target) as handle, open(source, "rb") as data:
            shutil.copyfileobj(data, handle)

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
        with self.writing(owner, name) as repo:
            return self._commit(repo, Path(folder), digests or {}, owner, name, tag,
                                move_tag, message)

    def locked(self, owner: str, name: str) -> FileLock:
        """The lock every writer of a repository holds."""
        folder = self.repo_dir(owner, name).parent
        folder.mkdir(parents=True, exist_ok=True)
        return FileLock(str(folder / f".{name}.lock"))

    @contextlib.contextmanager
    def writing(self, owner: str, name: str) -> Iterator[Path]:
        """The repository `owner/name` under the lock every writer holds, made if it is
        not one yet (a .git that leads elsewhere is refused); if the block fails, what
        this made is removed, so a refused publish or mirror leaves no empty repository
        behind."""
        repo = self.repo_dir(owner, name)
        repo.parent.mkdir(parents=True, exist_ok=True)
        with self.locked(owner, name):
            created = self._init_repo(repo)
            try:
                yield repo
            except BaseException:
                if created:
                    shutil.rmtree(created, ignore_errors=True)
                raise

    def scratch(self, repo: Path, prefix: str) -> tempfile.TemporaryDirectory:
        """A temporary folder inside the repository's .git: on the same file system as
        its LFS objects (a staged one moves in with a rename), and in no work tree."""
        return tempfile.TemporaryDirectory(dir=repo / ".git", prefix=prefix)

    def _commit(self, repo: Path, folder: Path, digests: dict[str, str], owner: str,
                name: str, tag: str | None, move_tag: bool, message: str) -> PublishResult:
        parent = self._ref(repo, f"refs/heads/{BRANCH}")
        current_tag = self._ref(repo, f"refs/tags/{tag}") if tag else None
        tree = self._write_tree(repo, folder, digests)
        created = not parent or self.git(repo, "rev-parse", f"{parent}^{{tree}}") != tree
        revision = parent
        if created:
            revision = self.write_commit(repo, tree, f"{message}\n", parent)
        if current_tag and current_tag != revision and not move_tag:
            raise RefError(f"tag '{tag}' already names {current_tag[:12]} in {owner}/{name}; "
                           "pass --move-tag to point it at the new revision")
        updates = [(f"refs/heads/{BRANCH}", revision, parent)] if created else []
        if tag and current_tag != revision:
            updates.append((f"refs/tags/{tag}", revision, current_tag))
        self.move_refs(repo, updates)
        return PublishResult(revision, created, tag)

    def _ref(self, repo: Path, ref: str) -> str | None:
        return self.git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}",
                        check=False) or None

    def _write_tree(self, repo: Path, folder: Path, digests: dict[str, str]) -> str:
        """LFS objects and git objects for the folder, and its tree from a temporary
        index: no work tree, so no clean filter or other attribute the repository
        sets ever runs. Every path is checked before anything is written. Returns the
        tree's sha."""
        files = publishable_files(folder)
        entries, lfs_paths = [], []
        for rel, source in files:
            if stored_in_lfs(source):
                oid = digests.get(rel) or sha256_file(source)
                self._store_lfs(repo, source, oid)
                pointer = lfs_pointer(oid, source.stat().st_size).encode()
                entries.append((rel, self.write_blob(repo, pointer)))
                lfs_paths.append(rel)
            else:
                entries.append((rel, self.write_blob(repo, source)))
        attributes = self.write_blob(repo, lfs_attributes(lfs_paths).encode())
        return self.write_tree_of(repo, [(ATTRIBUTES_FILE, attributes), *entries])

    def present_blobs(self, repo: Path, blobs: Iterable[str]) -> set[str]:
        """Which of these blob ids (40 hex digits, checked by the caller) the repository
        holds."""
        wanted = "".join(f"{blob}\n" for blob in blobs)
        if not wanted:
            return set()
        out = self.git(repo, "cat-file", "--batch-check=%(objectname) %(objecttype)",
                       stdin=wanted.encode())
        return {line.split()[0] for line in out.splitlines() if line.endswith(" blob")}

    def write_blob(self, repo: Path, source: Path | bytes) -> str:
        """Store a file's bytes (or these bytes) as a git blob, as they are (no filters);
        returns its id."""
        if isinstance(source, bytes):
            return self.git(repo, "hash-object", "-w", "--stdin", stdin=source)
        return self.git(repo, "hash-object", "-w", "--no-filters", str(Path(source).absolute()))

    def write_tree_of(self, repo: Path, entries: Iterable[tuple[str, str]]) -> str:
        """A tree of plain files (mode 100644) from (path, blob id) pairs whose blobs the
        repository holds, built in a temporary index; returns the tree's sha."""
        listing = b"".join(f"100644 blob {blob}\t{path}".encode() + b"\0"
                           for path, blob in entries)
        with self.scratch(repo, "tree-") as tmp:
            env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            self.git(repo, "update-index", "-z", "--index-info", env=env, stdin=listing)
            return self.git(repo, "write-tree", env=env)

    def write_commit(self, repo: Path, tree: str, message: str, parent: str | None = None,
                     date: str | None = None) -> str:
        """A commit of `tree` (on `parent`) whose message is `message` byte for byte,
        authored and committed at `date` (git's raw "<unix seconds> <+hhmm>"; None:
        now); no ref moves (see `move_refs`). Returns its sha."""
        dates = {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date} if date else {}
        return self.git(repo, "commit-tree", tree, *(["-p", parent] if parent else []),
                        "-F", "-", env=dates, stdin=message.encode())

    def trailers(self, repo: Path, key: str) -> list[tuple[str, str]]:
        """(commit, the value of its `key` trailer, '' if none) for every commit a ref
        reaches, newest first; git reads only a message's last paragraph as trailers.
        A repository with no commit gives none."""
        out = self.git(repo, "log", "--all", "--format=%H %(trailers:key="
                       f"{key},valueonly,separator=%x20)", check=False)
        return [(commit, value) for commit, _, value
                in (line.partition(" ") for line in out.splitlines())]

    def ref_values(self, repo: Path, *namespaces: str) -> dict[str, tuple[str, str]]:
        """The refs under these namespaces (e.g. 'refs/tags'): full name → (its value,
        the commit it names; they differ for an annotated tag)."""
        out = self.git(repo, "for-each-ref", "--format=%(refname) %(objectname) "
                       "%(*objectname)", *namespaces)
        current = {}
        for line in out.splitlines():
            name, value, *peeled = line.split()
            current[name] = (value, peeled[0] if peeled else value)
        return current

    def move_refs(self, repo: Path, updates: list[tuple[str, str, str | None]]) -> None:
        """Move every ref or none, each only if it still names what was read."""
        if not updates:
            return
        for ref, _, _ in updates:  # left by a publish killed inside git; we hold the lock
            (repo / ".git" / f"{ref}.lock").unlink(missing_ok=True)
        script = "start\n" + "".join(f"update {ref} {new} {old or ZERO_SHA}\n"
                                     for ref, new, old in updates) + "prepare\ncommit\n"
        try:
            self.git(repo, "update-ref", "--stdin", stdin=script.encode())
        except GitFailed as exc:
            raise RefError(f"publishing to {repo.parent.name}/{repo.name} failed, nothing "
                           f"was moved: {str(exc).split(': ', 1)[-1]}") from None

    def repos(self) -> list[RepoSummary]:
        summaries = []
        for git_dir in sorted((self.root / "models").glob("*/*/.git")):
            repo = git_dir.parent
            owner, name = repo.parent.name, repo.name
            if not self.exists(owner, name):
                continue
            head = self.git(repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{BRANCH}",
                            check=False)
            if not head:
                continue
            # a repository with no card (a mirror of a keras-hub preset) is listed too
            try:
                with Blobs(git_dir) as blobs:
                    text = blobs.read(f"{head}:{CARD_FILE}", MAX_CARD_BYTES)
                card = json.loads(text)
            except (IntegrityError, ValueError):  # none, too large, not JSON
                card = {}
            card = card if isinstance(card, dict) else {}
            summaries.append(RepoSummary(owner, name, head, sorted(self.tags(owner, name)),
                                         str(card.get("version", "-")),
                                         str(card.get("license", "-"))))
        return summaries
