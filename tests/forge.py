"""Forging commits in a folder hub the way an attacker who owns it would: with
git plumbing (`hash-object`, `mktree`, `commit-tree`, `update-ref`), so trees
can hold names that no work tree could (`..`, `.git`, backslashes)."""

import hashlib
import subprocess
from pathlib import Path

Tree = dict[str, "bytes | Tree"]
GIT_ENV = {"GIT_AUTHOR_NAME": "mallory", "GIT_AUTHOR_EMAIL": "m@example.invalid",
           "GIT_COMMITTER_NAME": "mallory", "GIT_COMMITTER_EMAIL": "m@example.invalid"}


def git(repo: Path, *args: str, data: bytes | None = None) -> str:
    import os

    done = subprocess.run(["git", "-C", str(repo), *args], input=data, capture_output=True,
                          check=True, env={**os.environ, **GIT_ENV})
    return done.stdout.decode().strip()


def lfs_pointer(oid: str, size: int | str) -> bytes:
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {size}\n".encode()


def store_lfs_object(repo: Path, data: bytes) -> str:
    """Put `data` in the repo's LFS store as a well-behaved hub would; its oid."""
    oid = hashlib.sha256(data).hexdigest()
    path = repo / ".git" / "lfs" / "objects" / oid[:2] / oid[2:4] / oid
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return oid


def tree(repo: Path, entries: Tree) -> str:
    """A git tree with exactly these names, nested dicts as sub-trees."""
    lines = []
    for name, value in entries.items():
        if isinstance(value, dict):
            lines.append(f"040000 tree {tree(repo, value)}\t{name}")
        else:
            blob = git(repo, "hash-object", "-w", "--stdin", data=value)
            lines.append(f"100644 blob {blob}\t{name}")
    return git(repo, "mktree", data=("\n".join(lines) + "\n").encode())


def files_of(repo: Path, revision: str) -> Tree:
    """A revision's files as a nested dict of bytes (pointers as they are stored)."""
    out: Tree = {}
    listing = git(repo, "ls-tree", "-r", "-z", revision)
    for entry in filter(None, listing.split("\0")):
        meta, path = entry.split("\t", 1)
        blob = meta.split()[2]
        data = subprocess.run(["git", "-C", str(repo), "cat-file", "blob", blob],
                              capture_output=True, check=True).stdout
        node = out
        *folders, name = path.split("/")
        for folder in folders:
            node = node.setdefault(folder, {})  # type: ignore[assignment]
        node[name] = data
    return out


def commit(repo: Path, entries: Tree, branch: str = "main", message: str = "forged") -> str:
    """Commit `entries` on top of `branch` and move the branch there; the new sha."""
    parent = git(repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}")
    args = ["commit-tree", tree(repo, entries), "-m", message]
    if parent:
        args += ["-p", parent]
    sha = git(repo, *args)
    git(repo, "update-ref", f"refs/heads/{branch}", sha)
    return sha
