"""How long a folder hub takes to refuse a forged revision of too many entries: the
zoo's bounded listing (one `ls-tree` read until one entry past the limit) against
the per-entry way (the whole listing, then one `git cat-file` per entry up to the
limit), on the same forged tree in the same run.

    python bench/tree_refusal.py [ENTRIES]      (default 200,000; after `make setup`)
"""

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import report

from zoo.errors import IntegrityError
from zoo.hub import FolderHub
from zoo.hub.git import safe_git_env
from zoo.trust.repo_paths import MAX_FILES


def git(repo: Path, *args: str, data: bytes | None = None) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], input=data, capture_output=True,
                          check=True, env=safe_git_env()).stdout.decode().strip()


def forged(hub: FolderHub, entries: int) -> str:
    """A repository whose main holds `entries` names for one small blob."""
    repo = hub.repo_dir("zoo", "wide")
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    blob = git(repo, "hash-object", "-w", "--stdin", data=b"x")
    listing = "".join(f"100644 blob {blob}\tf{i:07d}.txt\n" for i in range(entries))
    sha = git(repo, "commit-tree", git(repo, "mktree", data=listing.encode()), "-m", "wide")
    git(repo, "update-ref", "refs/heads/main", sha)
    (hub.root / "zoo-hub.json").write_text("{}\n")
    return sha


def per_entry(repo: Path, revision: str) -> None:
    """The per-entry way: list everything, then read each small blob on its own."""
    out = subprocess.run(["git", "-C", str(repo), "ls-tree", "-r", "-z", "--long", revision],
                         capture_output=True, check=True, env=safe_git_env()).stdout
    for count, raw in enumerate(filter(None, out.split(b"\0"))):
        if count >= MAX_FILES:
            return
        blob = raw.split(b"\t", 1)[0].split()[2].decode()
        subprocess.run(["git", "-C", str(repo), "cat-file", "blob", blob], capture_output=True,
                       check=True, env=safe_git_env())


def main() -> None:
    entries = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    with tempfile.TemporaryDirectory() as tmp:
        hub = FolderHub(Path(tmp) / "hub")
        revision = forged(hub, entries)
        started = time.perf_counter()
        try:
            hub.files("zoo", "wide", revision)
            raise SystemExit("the zoo listed a tree over its limit")
        except IntegrityError:
            zoo_s = time.perf_counter() - started
        started = time.perf_counter()
        per_entry(hub.repo_dir("zoo", "wide"), revision)
        per_entry_s = time.perf_counter() - started
    report("tree_refusal", ["entries", "zoo refusal (s)", "per-entry way (s)", "ratio"],
           [[f"{entries:,}", f"{zoo_s:.2f}", f"{per_entry_s:.2f}",
             f"{per_entry_s / zoo_s:.0f}x"]])


if __name__ == "__main__":
    main()
