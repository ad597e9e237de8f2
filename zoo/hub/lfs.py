"""Git LFS, in one place: which files go to LFS, their pointer files, the
`.gitattributes` that marks them, and where a repository keeps their content.

Both backends store the same files in LFS, so a package looks the same on a
folder hub and on the Hugging Face Hub. Hand-written because the pointer format
is three lines of text (git-lfs spec v1) and no maintained Python library
writes it without the git-lfs program, which the folder hub does not need.
"""

import re
from pathlib import Path

from zoo.errors import IntegrityError
from zoo.trust.repo_paths import check_sha256, confined

SPEC = "version https://git-lfs.github.com/spec/v1"
# Extension lines (ext-…) are not used by the zoo or the Hub and are not accepted.
POINTER = re.compile(rb"version https://git-lfs\.github\.com/spec/v1\n"
                     rb"oid sha256:(?P<oid>[0-9a-f]{64})\nsize (?P<size>0|[1-9][0-9]{0,18})\n?")
POINTER_LIMIT = 1024  # the spec: a pointer file is smaller than this
TEXT_SUFFIXES = frozenset({".json", ".md", ".txt"})
TEXT_LIMIT = 10 * 1024 * 1024  # larger text files go to LFS too, as on the Hub
ATTRIBUTES_FILE = ".gitattributes"


def stored_in_lfs(path: Path) -> bool:
    """Weights and other binary files go to LFS; small text files stay plain git blobs."""
    path = Path(path)
    return path.suffix not in TEXT_SUFFIXES or path.stat().st_size > TEXT_LIMIT


def lfs_attributes(paths: list[str]) -> str:
    """The .gitattributes that marks these paths as Git LFS files."""
    return "".join(f"{p} filter=lfs diff=lfs merge=lfs -text\n" for p in paths)


def lfs_pointer(oid: str, size: int) -> str:
    """The pointer file git stores in place of a file whose sha256 is `oid`."""
    return f"{SPEC}\noid sha256:{oid}\nsize {size}\n"


def parse_lfs_pointer(data: bytes) -> tuple[str, int] | None:
    """(oid, size) if `data` is an LFS pointer file, None if it is a plain file.

    Strict, since a hub is hostile until checked: a blob that starts like a pointer
    must be exactly one (the spec's version line, `oid sha256:` and 64 lowercase hex
    digits, `size` and a decimal integer), or IntegrityError says why it is not."""
    if len(data) >= POINTER_LIMIT or not data.startswith(SPEC.encode()):
        return None
    match = POINTER.fullmatch(data)
    if match is None:
        shown = data[:POINTER_LIMIT].decode("utf-8", "replace").replace("\n", " | ")[:160]
        raise IntegrityError(f"malformed Git LFS pointer ({shown!r}): expected "
                             f"'{SPEC}', 'oid sha256:<64 lowercase hex digits>', "
                             "'size <bytes>', one per line")
    return match["oid"].decode(), int(match["size"])


def object_path(repo: Path, oid: str) -> Path:
    """Where a repository keeps an LFS object's content (what olah serves too), reached
    through no link: a hub owner who makes `.git/lfs` (or a folder below it) a link
    would have publishers and mirrors write, and pulls read, outside the hub."""
    check_sha256(oid)
    return confined(Path(repo) / ".git", f"lfs/objects/{oid[:2]}/{oid[2:4]}/{oid}")
