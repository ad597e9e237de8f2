"""File paths from a hub (git trees, Hub listings, card file lists) are checked
against one strict grammar before anything is written, and every write lands
inside its staging folder."""

import re
from pathlib import Path

from zoo.errors import UnsafePathError

MAX_PATH_BYTES = 512
MAX_FILES = 10_000  # files in one revision
MAX_PART_BYTES = 255
# Characters no hub path needs: separators and escapes of other systems,
# shell and URL metacharacters that make paths ambiguous, controls.
FORBIDDEN = re.compile(r'[\x00-\x1f\x7f\\:*?"<>|]')


def check_repo_path(path: object) -> str:
    """`path` as given if it is a relative POSIX path of plain parts; else
    UnsafePathError naming it. No `..` or `.`, no absolute or empty parts, no
    `.git`, no backslashes or control characters, bounded length."""
    if not isinstance(path, str):
        raise UnsafePathError(f"refusing a file path that is not text: {path!r:.80}")
    shown = repr(path)[:120]
    try:
        size = len(path.encode("utf-8"))
    except UnicodeEncodeError:
        raise UnsafePathError(f"refusing file path {shown}: not valid UTF-8") from None
    if not path or size > MAX_PATH_BYTES:
        raise UnsafePathError(f"refusing file path {shown}: empty or longer than "
                              f"{MAX_PATH_BYTES} bytes")
    if FORBIDDEN.search(path):
        raise UnsafePathError(f"refusing file path {shown}: it holds a control character or one "
                              "of \\ : * ? \" < > |")
    for part in path.split("/"):
        if part in ("", ".", ".."):
            raise UnsafePathError(f"refusing file path {shown}: absolute, empty, '.' or '..' "
                                  "parts are not allowed")
        if part.lower() == ".git" or part.strip() != part:
            raise UnsafePathError(f"refusing file path {shown}: '.git' and parts with leading "
                                  "or trailing spaces are not allowed")
        if len(part.encode("utf-8")) > MAX_PART_BYTES:
            raise UnsafePathError(f"refusing file path {shown}: a part is longer than "
                                  f"{MAX_PART_BYTES} bytes")
    return path


def confined(root: Path, path: str) -> Path:
    """`root / path` after checking the grammar and that no existing part of it is
    a symlink or resolves outside `root`."""
    check_repo_path(path)
    root = Path(root).resolve()
    target = root.joinpath(*path.split("/"))
    current = root
    for part in path.split("/"):
        current = current / part
        if current.is_symlink():
            raise UnsafePathError(f"refusing to write {path!r}: {current} is a symlink")
    if not target.resolve().is_relative_to(root):
        raise UnsafePathError(f"refusing to write {path!r}: it resolves outside {root}")
    return target
