"""Values from a hub, a server or the cache's own bookkeeping (file paths, commit
shas, LFS oids, git blob ids, sizes, tag and branch names) are checked against
one strict grammar here before any of them names anything on disk, and every
write lands inside its staging folder. Each kind of value has one checker,
imported wherever such a value enters the zoo."""

import re
from pathlib import Path

from zoo.errors import UnsafePathError

MAX_PATH_BYTES = 512
MAX_FILES = 10_000  # files in one revision
MAX_PART_BYTES = 255
MAX_FILE_BYTES = 16 * 1024 ** 3  # one file of a revision: the config scan's member limit
MAX_REVISION_BYTES = 16 * 1024 ** 3  # all files of a revision together
COMMIT = re.compile(r"[0-9a-f]{40}")  # a git commit or blob id (sha1), matched whole
SHA256 = re.compile(r"[0-9a-f]{64}")  # an LFS oid or a card's file hash
# A tag or branch: the Hub's characters; check_ref_name adds git check-ref-format's
# rules (hand-written: hf:// pulls must not need the git program).
REF_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._/-]{0,127}")
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


def _shown(value: object) -> str:
    return repr(value)[:80]


def _hex(value: object, pattern: re.Pattern[str], what: str, where: str, why: str) -> str:
    """`value` if it is text that `pattern` matches whole; else UnsafePathError."""
    if not isinstance(value, str) or pattern.fullmatch(value) is None:
        raise UnsafePathError(f"refusing {what} {_shown(value)} from {where}: not {why}")
    return value


def check_commit(value: object, where: str = "the hub") -> str:
    """A commit sha from a hub or the cache's refs, safe to name a folder: exactly
    40 lowercase hex digits (a path, a 64-digit sha256 id or a number is refused)."""
    return _hex(value, COMMIT, "commit", where, "a commit sha (40 lowercase hex digits)")


def check_blob_id(value: object, where: str = "the hub") -> str:
    """A git blob id from a hub listing: 40 lowercase hex digits."""
    return _hex(value, COMMIT, "git blob id", where, "40 lowercase hex digits")


def check_sha256(value: object, where: str = "the hub") -> str:
    """An LFS oid or a file's sha256, safe to name a blob: 64 lowercase hex digits."""
    return _hex(value, SHA256, "LFS oid", where, "64 lowercase hex digits")


def check_size(value: object, path: str, limit: int = MAX_FILE_BYTES) -> int:
    """A file size a hub lists: a whole number of bytes, from 0 to `limit`."""
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= limit:
        raise UnsafePathError(f"refusing {path!r}: the hub lists its size as {_shown(value)}, "
                              f"not a number of bytes from 0 to {limit:,}")
    return value


def check_ref_name(value: object, where: str = "the hub") -> str:
    """A tag or branch name that may name a file (the cache's refs): exactly what
    `git check-ref-format` accepts over the Hub's characters (no `..`, no trailing
    `.`, no part that is empty, starts with `.` or ends with `.lock`), so no git
    process is needed to tell."""
    if not isinstance(value, str) or REF_NAME.fullmatch(value) is None or ".." in value \
            or value.endswith(".") or any(part == "" or part.startswith(".")
                                          or part.endswith(".lock")
                                          for part in value.split("/")):
        raise UnsafePathError(f"refusing revision name {_shown(value)} from {where}: use "
                              "letters, digits, '-', '_', '.' and '/', no '..'")
    return value
