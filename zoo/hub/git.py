"""Running git on repositories that someone else may control.

A folder hub on a shared drive is writable by everyone who publishes to it, so
its repositories' `.git/config`, hooks and attributes are hostile: git must
never run a program they name. Configuration given on git's command line (or,
the same thing, in `GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_n`/`GIT_CONFIG_VALUE_n`)
overrides the repository's own, so every git process the zoo starts, and every
one a server it starts spawns (olah reads repositories through GitPython), gets
`safe_git_env()`: hooks looked up in /dev/null (none found), no fsmonitor, no
signing or signature programs, no automatic gc, no transport, no templates.
Clean/smudge filters cannot be overridden by name (any name can be configured),
so the zoo never runs a command that filters: blobs are written with
`hash-object --no-filters` and trees from an index built with `update-index`.

`run_git` is the one place the zoo starts git: always with that environment, always
naming the repository's `.git` folder, so git never discovers another repository.
What a hub holds is read bounded: `records` stops reading a listing past the count
the caller allows, and `Blobs` streams blobs through one `cat-file --batch` process,
each blob's size checked before any of its bytes are read.
"""

import os
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from zoo.errors import IntegrityError, ZooError

# Each key here names a program git would run, or a behaviour that runs one.
SAFE_CONFIG: dict[str, str] = {
    "core.hooksPath": os.devnull,  # every hook: pre-commit, reference-transaction, ...
    "core.fsmonitor": "false",  # a program run whenever the index is refreshed
    "core.untrackedCache": "false",
    "core.sshCommand": "false",
    "core.askPass": "false",
    "core.alternateRefsCommand": "false",
    "core.pager": "cat",
    "core.editor": "false",
    "credential.helper": "",
    "protocol.allow": "never",  # the zoo's git never talks to another machine
    # ... and a repository's `protocol.<name>.allow` outranks `protocol.allow`: a promisor
    # remote whose url is `ext::COMMAND` would run COMMAND on reading a missing object.
    **{f"protocol.{name}.allow": "never"
       for name in ("ext", "file", "fd", "git", "ssh", "http", "https", "ftp", "ftps")},
    "commit.gpgSign": "false",
    "tag.gpgSign": "false",
    "tag.forceSignAnnotated": "false",
    "log.showSignature": "false",
    "gpg.program": "false",
    "gpg.ssh.program": "false",
    "gpg.x509.program": "false",
    "gc.auto": "0",
    "maintenance.auto": "false",
    "init.templateDir": "",
    "diff.external": "false",
}

# Variables from the caller's environment that would point git somewhere else.
REDIRECTING = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
               "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_NAMESPACE", "GIT_COMMON_DIR",
               "GIT_CONFIG", "GIT_CONFIG_PARAMETERS", "GIT_EXTERNAL_DIFF", "GIT_SSH",
               "GIT_SSH_COMMAND", "GIT_ASKPASS", "GIT_EXEC_PATH", "GIT_TEMPLATE_DIR")

IDENTITY = {"GIT_AUTHOR_NAME": "backbone-zoo", "GIT_AUTHOR_EMAIL": "zoo@localhost",
            "GIT_COMMITTER_NAME": "backbone-zoo", "GIT_COMMITTER_EMAIL": "zoo@localhost"}


def safe_git_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """`base` (default: this process's environment) with every git override above,
    the zoo's commit identity, no system config and no prompts; variables that
    would redirect git to other folders are dropped."""
    env = {key: value for key, value in (os.environ if base is None else base).items()
           if key not in REDIRECTING and not key.startswith("GIT_CONFIG_")}
    env.update(IDENTITY)
    env.update({"GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0",
                "GIT_NO_REPLACE_OBJECTS": "1", "GIT_ATTR_NOSYSTEM": "1",
                "GIT_NO_LAZY_FETCH": "1",  # a missing object is missing, never fetched
                "GIT_CONFIG_COUNT": str(len(SAFE_CONFIG))})
    for i, (key, value) in enumerate(SAFE_CONFIG.items()):
        env[f"GIT_CONFIG_KEY_{i}"] = key
        env[f"GIT_CONFIG_VALUE_{i}"] = value
    return env


def leads_elsewhere(git_dir: Path) -> bool:
    """True unless `git_dir` is a plain `.git` folder whose objects and refs are its own:
    a `.git` that is a symlink or a file, a `commondir` (even a dangling one), or an
    object store or refs that are links make git read and write another repository."""
    git_dir = Path(git_dir)
    return (git_dir.is_symlink() or not git_dir.is_dir()
            or os.path.lexists(git_dir / "commondir")
            or any((git_dir / part).is_symlink() for part in ("objects", "refs", "packed-refs")))


def _command(git_dir: Path | None, args: tuple[str, ...]) -> list[str]:
    """git naming its repository: with `--git-dir`, git never looks for one in the
    folders above, so a repository whose `.git` is gone is an error, never the
    enclosing repository of whoever holds the hub. A `.git` that is a symlink or a
    file, or that names a `commondir`, would send git (and the zoo's writes) to
    another repository: refused too."""
    if git_dir is None:
        return ["git", *args]
    git_dir = Path(git_dir)
    if leads_elsewhere(git_dir):
        raise ZooError(f"{git_dir.parent} is not a git repository (its .git is missing, not "
                       "a plain folder, or shares another repository's)")
    return ["git", f"--git-dir={git_dir}", *args]


def _where(git_dir: Path | None) -> Path:
    """Where git runs: inside the repository's own .git (no work tree of anyone's
    around it), or the root folder for commands that need no repository."""
    return Path(git_dir) if git_dir is not None else Path("/")


class GitFailed(ZooError):
    """A git command that ran and failed (a missing git is a plain ZooError)."""


def _failure(args: tuple[str, ...], git_dir: Path | None, stderr: bytes) -> GitFailed:
    reason = " ".join(stderr.decode(errors="replace").strip().splitlines()[-1:])
    where = f" in {Path(git_dir).parent}" if git_dir is not None else ""
    return GitFailed(f"git {args[0]} failed{where}: {reason or 'no reason given'}")


def _not_installed() -> ZooError:
    return ZooError("the folder hub needs the 'git' command, which is not installed")


def run_git(git_dir: Path | None, *args: str, stdin: bytes | None = None, binary: bool = False,
            check: bool = True, env: dict[str, str] | None = None,
            stdout: BinaryIO | None = None) -> str | bytes:
    """Run git for the zoo: the one way the zoo starts git.

    `git_dir` is the repository's `.git` folder (None for a command that needs no
    repository: `check-ref-format`, `init DIR`); `env` adds variables (an index
    file, commit dates) on top of `safe_git_env()`. Returns stdout, as text
    without surrounding blanks or as bytes, or writes it to `stdout`. A failure is
    GitFailed naming the command with `check`; without, what git printed."""
    command = _command(git_dir, args)
    try:
        done = subprocess.run(command, input=stdin, stdout=stdout or subprocess.PIPE,
                              stderr=subprocess.PIPE, cwd=_where(git_dir), check=False,
                              env={**safe_git_env(), **(env or {})})
    except FileNotFoundError as exc:
        raise _not_installed() from exc
    if check and done.returncode != 0:
        raise _failure(args, git_dir, done.stderr)
    out = done.stdout or b""
    return out if binary else out.decode(errors="replace").strip()


def _popen(git_dir: Path | None, args: tuple[str, ...], stdin: bool = False
           ) -> tuple[subprocess.Popen, BinaryIO]:
    """A git process whose stdout the caller reads as it comes; stderr in a file."""
    command = _command(git_dir, args)
    errors = tempfile.TemporaryFile()
    try:
        process = subprocess.Popen(command, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=errors, cwd=_where(git_dir),
                                   env=safe_git_env())
    except FileNotFoundError as exc:
        errors.close()
        raise _not_installed() from exc
    return process, errors


def _finish(process: subprocess.Popen, errors: BinaryIO, args: tuple[str, ...],
            git_dir: Path | None, complete: bool) -> None:
    """Stop git (killed if the caller stopped reading early) and, if it ran to the
    end, raise its failure."""
    if not complete and process.poll() is None:
        process.kill()
    for pipe in (process.stdin, process.stdout):
        if pipe:
            pipe.close()
    code = process.wait()
    errors.seek(0)
    stderr = errors.read(64 * 1024)
    errors.close()
    if complete and code != 0:
        raise _failure(args, git_dir, stderr)


def records(git_dir: Path | None, *args: str, most: int, longest: int,
            separator: bytes = b"\0") -> list[bytes]:
    """The records git prints (NUL-terminated with `-z`), read as they come: at
    most `most + 1` of them, git stopped as soon as there is one more than `most`,
    so the caller can refuse an oversized listing having read only a bounded part
    of it. A record longer than `longest` bytes is an IntegrityError."""
    process, errors = _popen(git_dir, args)
    out, pending, complete = [], b"", False
    try:
        while len(out) <= most:
            chunk = process.stdout.read1(1 << 16)
            if not chunk:
                complete = True
                break
            *done, pending = (pending + chunk).split(separator)
            out.extend(done)
            if len(pending) > longest or any(len(record) > longest for record in done):
                raise IntegrityError(f"refusing the output of git {args[0]}: an entry longer "
                                     f"than {longest} bytes")
    finally:
        _finish(process, errors, args, git_dir, complete)
    if pending:
        out.append(pending)
    return out[:most + 1]


def small_blobs(git_dir: Path, ids: list[str], limit: int) -> dict[str, bytes]:
    """The content of each of these blobs, all read by one `cat-file --batch` call:
    for blobs the caller knows (from a listing of the same repository) to be at
    most `limit` bytes, so the whole answer is bounded. A missing object, one that
    is not a blob, or a larger one is an IntegrityError."""
    wanted = list(dict.fromkeys(ids))
    if not wanted or any("\n" in name for name in wanted):
        return {}
    out = run_git(git_dir, "cat-file", "--batch", binary=True,
                  stdin="".join(f"{name}\n" for name in wanted).encode())
    found, at = {}, 0
    for name in wanted:
        end = out.find(b"\n", at, at + 256)
        header = out[at:end].split() if end >= 0 else []
        if len(header) != 3 or header[1] != b"blob" or not header[2].isdigit() or \
                int(header[2]) > limit:
            raise IntegrityError(f"refusing git object {name[:40]}: not a blob of at most "
                                 f"{limit} bytes the repository holds")
        start = end + 1
        at = start + int(header[2]) + 1  # the content, then a newline
        found[name] = out[start:at - 1]
    return found


class Blobs:
    """`git cat-file --batch` held open on one repository: blobs are read one after
    another through the one process, each blob's size checked against the caller's
    bound before any of its bytes are read, and its bytes passed on in chunks, so no
    blob is ever held whole in memory unless the caller asks for it."""

    CHUNK = 1 << 20
    ARGS = ("cat-file", "--batch")

    def __init__(self, git_dir: Path):
        self.git_dir = Path(git_dir)

    def __enter__(self) -> "Blobs":
        self.process, self.errors = _popen(self.git_dir, self.ARGS, stdin=True)
        return self

    def __exit__(self, *exc: object) -> None:
        _finish(self.process, self.errors, self.ARGS, self.git_dir, complete=False)

    def copy(self, name: str, limit: int, sink: Callable[[bytes], object],
             what: str | None = None) -> int:
        """Pass blob `name` (an id, or `REV:PATH`) to `sink` in chunks; its size,
        which is returned. A missing object, one that is not a blob, or one larger
        than `limit` bytes is an IntegrityError (and ends this reader)."""
        what = what or name
        if "\n" in name:
            raise IntegrityError(f"refusing git object name {name[:80]!r}")
        try:
            self.process.stdin.write(f"{name}\n".encode())
            self.process.stdin.flush()
        except OSError:  # git ended: a repository it cannot read
            header = []
        else:
            header = self.process.stdout.readline(256).split()
        if len(header) != 3 or header[1] != b"blob" or not header[2].isdigit():
            self._broken()
            raise IntegrityError(f"refusing {what}: not a blob the repository holds")
        size = int(header[2])
        if size > limit:
            self._broken()
            raise IntegrityError(f"refusing {what}: {size:,} bytes, more than the "
                                 f"{limit:,} allowed")
        left = size
        while left:
            chunk = self.process.stdout.read(min(left, self.CHUNK))
            if not chunk:
                self._broken()
                raise IntegrityError(f"refusing {what}: git ended before its last byte")
            sink(chunk)
            left -= len(chunk)
        self.process.stdout.read(1)  # the newline after the content
        return size

    def read(self, name: str, limit: int, what: str | None = None) -> bytes:
        """Blob `name` whole: for small blobs (pointers, cards), bounded by `limit`."""
        parts: list[bytes] = []
        self.copy(name, limit, parts.append, what)
        return b"".join(parts)

    def _broken(self) -> None:
        """What is left of a refused blob is never read: the process ends here."""
        self.process.kill()
