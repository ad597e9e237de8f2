"""Git LFS, in one place: which files go to LFS, their pointer files, the
`.gitattributes` that marks them, and where a repository keeps their content.

Both backends store the same files in LFS, so a package looks the same on a
folder hub and on the Hugging Face Hub. Hand-written because the pointer format
is three lines of text (git-lfs spec v1) and no maintained Python library
writes it without the git-lfs program, which the folder hub does not need.
"""

from pathlib import Path

SPEC = "version https://git-lfs.github.com/spec/v1"
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
    """(oid, size) if `data` is an LFS pointer file, else None (a plain file)."""
    if len(data) >= POINTER_LIMIT or not data.startswith(SPEC.encode()):
        return None
    try:
        lines = data.decode("utf-8").splitlines()[1:]
        fields = dict(line.split(" ", 1) for line in lines if " " in line)
        oid, size = fields["oid"], int(fields["size"])
    except (UnicodeDecodeError, KeyError, ValueError):
        return None
    if not oid.startswith("sha256:"):
        return None
    return oid.removeprefix("sha256:"), size


def object_path(repo: Path, oid: str) -> Path:
    """Where a repository keeps an LFS object's content (what olah serves too)."""
    return Path(repo) / ".git" / "lfs" / "objects" / oid[:2] / oid[2:4] / oid
