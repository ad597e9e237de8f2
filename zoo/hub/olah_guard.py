"""olah, started with the zoo's guards: `python -m zoo.hub.olah_guard -c CONFIG ...`.

olah 0.5.4 serves a folder hub's git repositories over the Hub API, but it
trusts what it serves and what it is asked: it parsed README front matter with
PyYAML's full loader (a `!!python/object/apply` tag ran code in the server),
joined request path segments into folder names (`..` and `%2e%2e` reached the
git work tree around the hub) and expanded YAML aliases into any size of
answer. This module keeps olah (its Hub API routes, LFS layout and git reading
are what `huggingface_hub` and keras-hub are tested against) and closes that
boundary before olah's app serves anything:

- `RequestGuard`, a pure-ASGI middleware in front of olah, allows only GET and
  HEAD on the routes the zoo's and keras-hub's clients use, with every segment
  of the raw path checked after one percent-decoding: owner and name by the
  hub's name grammar, the revision by the revision grammar, the file path by
  the pull's path grammar; no `.`/`..`/empty segments, no encoded separators,
  double encoding, backslashes or control characters, bounded length.
- README front matter is read with a safe loader that refuses every tag,
  anchor and alias, nests at most `MAX_DEPTH` deep and reads at most
  `MAX_FRONT_MATTER` bytes; a README it refuses has no cardData.
- Repositories and LFS objects are served only when they resolve inside the
  hub, through no symlink, gitfile or alternates; LFS objects are streamed in
  chunks and never hashed per request (the etag is the pointer's oid, as on
  the Hub).

The process runs with `safe_git_env()` (zoo.hub.serve), so git, which olah
reads repositories through, runs no repository's hooks or configured programs.
"""

import json
import os
import re
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote_to_bytes

import yaml

from zoo.errors import IntegrityError, UnsafePathError
from zoo.hub.git import leads_elsewhere
from zoo.hub.lfs import POINTER_LIMIT, object_path, parse_lfs_pointer
from zoo.hub.refs import is_name
from zoo.trust.repo_paths import MAX_FILES, check_ref_name, check_repo_path

MAX_REQUEST_PATH = 2048  # bytes of the raw path: the longest repo path fits with room
MAX_README = 1 << 20  # bytes of a README read for model info (its description)
MAX_FRONT_MATTER = 64 << 10
MAX_DEPTH = 32  # nesting of the front matter; a model card needs a handful
CHUNK = 1 << 20
# Larger files go to LFS (the Hub refuses plain git files over 10 MB): a bigger git
# blob is not served, rather than read whole into the server's memory.
MAX_GIT_BLOB = 64 << 20
ALLOWED_METHODS = ("GET", "HEAD")
REPO_TYPE = "models"  # a folder hub holds models only
# What each API route takes after /api/models/OWNER/NAME: its literal, then how
# many segments follow (a revision, then for `tree` an optional file path).
API_ROUTES = {(): 0, ("revision",): 1, ("refs",): 0, ("commits",): 1, ("tree",): 1}
FORBIDDEN_BYTES = re.compile(rb"[^\x21-\x7e]|\\")  # controls, spaces, non-ASCII, backslash
TRUE = {"1", "true", "yes", "on", "t", "y"}

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class Refused(Exception):
    """A request the guard answers itself: its status and a one-line reason."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status


# --- requests -------------------------------------------------------------------------------

def check_request(method: str, raw_path: bytes, query: bytes = b"") -> None:
    """Refused unless `method raw_path?query` is a read of a route the Hub clients use,
    with every segment inside the hub's grammars."""
    if method not in ALLOWED_METHODS:
        raise Refused(405, f"method {method} not allowed: this hub is read-only")
    if len(raw_path) > MAX_REQUEST_PATH:
        raise Refused(414, f"path longer than {MAX_REQUEST_PATH} bytes")
    if FORBIDDEN_BYTES.search(raw_path) or not raw_path.startswith(b"/"):
        raise Refused(400, "path holds a control character, space, backslash or non-ASCII byte")
    # olah lists a revision's root at tree/REV/ (and redirects tree/REV there).
    root_listing = raw_path.endswith(b"/") and raw_path.count(b"/") == 7
    segments = [decode_segment(raw)
                for raw in raw_path[1:len(raw_path) - root_listing].split(b"/")]
    if root_listing and segments[4:5] != ["tree"]:
        raise Refused(400, "empty path segment")
    _check_route(segments)
    if any(key == "expand" and value.lower() in TRUE for key, value in
           parse_qsl(query.decode("latin-1"), keep_blank_values=True)):
        raise Refused(400, "expand=true is not served (one git log per file)")


def decode_segment(raw: bytes) -> str:
    """One path segment, percent-decoded once; refused if empty, `.`/`..`, or if
    decoding yields a separator, a `%` (double encoding) or a control character."""
    try:
        text = unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "path segment is not UTF-8") from None
    if text in ("", ".", ".."):
        raise Refused(400, "empty, '.' or '..' path segment")
    if re.search(r"[/\\%\x00-\x1f\x7f]", text):
        raise Refused(400, "encoded separator, double encoding or control character in path")
    return text


def _check_route(segments: list[str]) -> None:
    if segments[:2] == ["api", REPO_TYPE] and len(segments) >= 4:
        _check_repo(segments[2], segments[3])
        rest = segments[4:]
        for literal, arguments in API_ROUTES.items():
            if tuple(rest[:len(literal)]) != literal:
                continue
            tail = rest[len(literal):]
            if literal == ("tree",) and len(tail) >= 1:
                _check_revision(tail[0])
                if tail[1:]:
                    _check_file_path(tail[1:])
                return
            if len(tail) == arguments:
                if arguments:
                    _check_revision(tail[0])
                return
    elif len(segments) >= 5 and segments[2] == "resolve":
        _check_repo(segments[0], segments[1])
        _check_revision(segments[3])
        _check_file_path(segments[4:])
        return
    raise Refused(404, "not a route this hub serves")


def _check_repo(owner: str, name: str) -> None:
    if not (is_name(owner) and is_name(name)):
        raise Refused(404, "owner or name outside the hub's name grammar")


def _check_revision(revision: str) -> None:
    try:
        check_ref_name(revision)
    except UnsafePathError:
        raise Refused(404, "revision outside the revision grammar") from None


def _check_file_path(parts: list[str]) -> None:
    try:
        check_repo_path("/".join(parts))
    except UnsafePathError:
        raise Refused(400, "file path outside the hub's path grammar") from None


class RequestGuard:
    """Pure-ASGI middleware: refuses what `check_request` refuses with a small
    JSON body before the app sees the request; passes everything else (and
    lifespan events) through unchanged."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raw_path = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
            try:
                check_request(scope["method"], raw_path.split(b"?", 1)[0],
                              scope.get("query_string", b""))
            except Refused as refusal:
                await _answer(send, refusal, head=scope["method"] == "HEAD")
                return
        elif scope["type"] not in ("lifespan",):
            return  # websockets and anything else: not served
        await self.app(scope, receive, send)


async def _answer(send: Send, refusal: Refused, head: bool) -> None:
    body = ('{"error": "refused: ' + str(refusal) + '"}').encode()
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode())]
    if refusal.status == 405:
        headers.append((b"allow", ", ".join(ALLOWED_METHODS).encode()))
    await send({"type": "http.response.start", "status": refusal.status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})


# --- front matter ---------------------------------------------------------------------------

class FrontMatterLoader(yaml.SafeLoader):
    """PyYAML's safe loader, stricter: no tag of any kind (not even `!!str`), no
    anchors or aliases (no alias bombs), nesting at most MAX_DEPTH."""

    depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise yaml.YAMLError("anchors and aliases are refused")
        if getattr(event, "tag", None) is not None:
            raise yaml.YAMLError(f"tag {event.tag!r:.60} refused")
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise yaml.YAMLError(f"nested deeper than {MAX_DEPTH}")
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


# Dates stay the text they were written as: olah answers in JSON, which has no dates.
FrontMatterLoader.add_constructor("tag:yaml.org,2002:timestamp",
                                  lambda loader, node: loader.construct_scalar(node))


def parse_front_matter(text: str) -> dict[str, Any] | None:
    """The README front matter as a mapping, or None if it is too long, not a
    mapping, not JSON (NaN, odd keys), or anything FrontMatterLoader refuses: a
    README it refuses has no card data, and nothing in it runs."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_FRONT_MATTER:
        return None
    try:
        data = yaml.load(text, Loader=FrontMatterLoader)  # noqa: S506 - the loader is safe
        json.dumps(data, allow_nan=False)  # what olah's JSONResponse will do with it
    except (yaml.YAMLError, ValueError, TypeError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


class _SafeYaml:
    """Stands in for the `yaml` module in olah.mirror.repos: its one call,
    `yaml.load(card, Loader=yaml.CLoader)`, goes to `parse_front_matter`
    whatever loader it names."""

    CLoader = Loader = FullLoader = UnsafeLoader = None

    @staticmethod
    def load(text: str, Loader: Any = None) -> dict[str, Any] | None:  # noqa: N803
        return parse_front_matter(text)


# --- files on disk --------------------------------------------------------------------------

def inside_hub(mirror_root: str, repo_dir: str) -> bool:
    """True if `repo_dir` is a repository folder of the hub at `mirror_root` that
    git will read from there only: it resolves inside the hub, its `.git` is a
    real folder (no gitfile, link, `commondir` or linked objects or refs:
    `zoo.hub.git.leads_elsewhere`) and it borrows no objects (alternates)."""
    root, repo = Path(mirror_root).resolve(), Path(repo_dir)
    git_dir = repo / ".git"
    return (repo.resolve().is_relative_to(root) and not leads_elsewhere(git_dir)
            and not os.path.lexists(git_dir / "objects" / "info" / "alternates"))


def lfs_object(repo_dir: str, oid: str) -> Path | None:
    """The LFS object `oid` of the repository, or None unless it is a regular file
    at exactly .git/lfs/objects/xx/yy/oid with no symlink on the way."""
    try:
        expected = object_path(Path(repo_dir).resolve(), oid)
        return expected if expected.resolve(strict=True) == expected and expected.is_file() \
            else None
    except (OSError, UnsafePathError):
        return None


def _blob_and_object(local: Any, commit_hash: str, path: str) -> tuple[Any, Path | None] | None:
    """(blob, its LFS object or None) of `path` at `commit_hash`; None if there is no
    such file, or its pointer names an object outside the repository's store."""
    import gitdb

    try:
        commit = local._git_repo.commit(commit_hash)
        blob = commit.tree[path]
    except (gitdb.exc.BadName, gitdb.exc.BadObject, ValueError, KeyError, IndexError):
        return None
    if blob.type != "blob" or blob.size > MAX_GIT_BLOB:
        return None
    if blob.size >= POINTER_LIMIT:
        return blob, None
    try:
        pointer = parse_lfs_pointer(blob.data_stream.read())
    except IntegrityError:  # starts like a pointer but is not one: served as it is
        return blob, None
    if pointer is None:
        return blob, None
    found = lfs_object(local._git_repo.working_dir, pointer[0])
    return (blob, found) if found is not None else None


def get_file_head(local: Any, commit_hash: str, path: str) -> dict[str, str] | None:
    """olah's HEAD of a file, without reading it: size from the object, etag the
    LFS oid (what the Hub sends) or the git blob id."""
    found = _blob_and_object(local, commit_hash, path)
    if found is None:
        return None
    blob, lfs = found
    commit = local._git_repo.commit(commit_hash)
    if lfs is None:
        return {"content-length": str(blob.size), "x-repo-commit": commit.hexsha,
                "etag": blob.hexsha}
    try:
        size = lfs.stat().st_size
    except OSError:
        return None
    return {"content-length": str(size), "x-repo-commit": commit.hexsha, "etag": lfs.name}


def get_file(local: Any, commit_hash: str, path: str) -> Iterator[bytes] | None:
    """olah's GET of a file: an LFS object streamed in chunks from a file opened
    now (what is checked is what is sent), a git blob as olah sent it."""
    found = _blob_and_object(local, commit_hash, path)
    if found is None:
        return None
    blob, lfs = found
    if lfs is None:
        return iter([blob.data_stream.read()])
    try:  # the last part may not have become a link since it was checked
        handle = os.fdopen(os.open(lfs, os.O_RDONLY | os.O_NOFOLLOW), "rb")
    except OSError:
        return None

    def chunks() -> Iterator[bytes]:
        with handle:
            while chunk := handle.read(CHUNK):
                yield chunk

    return chunks()


def within_file_limit(local: Any, commit_hash: str) -> bool:
    """False if the revision holds more than MAX_FILES entries (what a pull refuses
    too), counted before olah lists them all into one answer."""
    import gitdb

    try:
        entries = local._git_repo.commit(commit_hash).tree.traverse()
    except (gitdb.exc.BadName, gitdb.exc.BadObject, ValueError):
        return True  # an unknown revision: olah answers it as before
    files = 0
    for count, entry in enumerate(entries, 1):
        files += entry.type == "blob"
        if files > MAX_FILES or count > 4 * MAX_FILES:  # folders are entries too
            return False
    return True


def _bounded(method: Callable[..., Any]) -> Callable[..., Any]:
    """`method` of LocalMirrorRepo answering None (not found) for an oversized revision."""
    def bounded(local: Any, commit_hash: str, *args: Any, **kwargs: Any) -> Any:
        return method(local, commit_hash, *args, **kwargs) \
            if within_file_limit(local, commit_hash) else None
    return bounded


def _read_readme(local: Any, commit: Any) -> str:
    """At most MAX_README bytes of the README, undecodable bytes replaced."""
    if "README.md" not in commit.tree:
        return ""
    return commit.tree["README.md"].data_stream.read(MAX_README).decode("utf-8", "replace")


# --- wiring ---------------------------------------------------------------------------------

def _replace(owner: Any, name: str, value: Any) -> None:
    """Set `owner.name`, which must exist: if olah renames what is guarded here, the
    server does not start, rather than serve unguarded."""
    if not hasattr(owner, name):
        raise RuntimeError(f"olah has no {getattr(owner, '__name__', owner)}.{name} to guard "
                           "(another olah version?): not serving unguarded")
    setattr(owner, name, value)


def guard_olah() -> None:
    """Patch olah's parsing and file access in this process (before it serves)."""
    from olah import server_mirror
    from olah.mirror import repos

    mirror = repos.LocalMirrorRepo
    _replace(repos, "yaml", _SafeYaml)
    _replace(mirror, "_get_readme", _read_readme)
    _replace(mirror, "get_file_head", get_file_head)
    _replace(mirror, "get_file", get_file)
    for name in ("get_meta", "get_tree", "get_pathinfos"):
        _replace(mirror, name, _bounded(getattr(mirror, name, None)))
    unguarded = server_mirror._mirror_git_paths

    def mirror_git_paths(app: Any, repo: Any) -> list[str]:
        roots = app.state.app_settings.config.mirrors_path
        return [path for root, path in zip(roots, unguarded(app, repo), strict=True)
                if os.path.exists(path) and inside_hub(root, path)]

    _replace(server_mirror, "_mirror_git_paths", mirror_git_paths)


def page_options(argv: list[str]) -> tuple[Any, list[str]]:
    """The zoo's own options (--policy, --trust-key) and what is left for olah."""
    import argparse

    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--policy", type=Path)
    parser.add_argument("--trust-key", type=Path, action="append", default=[])
    parser.add_argument("-c", "--config", type=Path)
    ours, rest = parser.parse_known_args(argv)
    return ours, [*rest, *(["-c", str(ours.config)] if ours.config else [])]


def page_server(options: Any) -> Any:
    """The pages of the hub olah's config serves, with the policy and keys given."""
    import tomllib

    from zoo.hub.pages.app import PageServer
    from zoo.hub.pages.catalog import Catalog, read_trust
    from zoo.hub.pages.render import Pages

    basic = tomllib.loads(options.config.read_text())["basic"]
    policy, keys = read_trust(options.policy, options.trust_key)
    return PageServer(Pages(Catalog(Path(basic["mirrors-path"][0]), policy), keys),
                      f"{basic['mirror-scheme']}://{basic['mirror-netloc']}")


def main(argv: list[str] | None = None) -> None:
    """olah's own command line (`-c CONFIG --log-path DIR`), guarded, with the hub's
    pages beside its API (`--policy FILE`, `--trust-key KEY` for their verdicts)."""
    options, rest = page_options(sys.argv[1:] if argv is None else argv)
    guard_olah()
    from olah import server

    from zoo.hub.pages.app import with_pages

    sys.argv = [sys.argv[0], *rest]
    args = server.init()
    pages = page_server(options)
    # run_server serves the module's `app`
    _replace(server, "app", with_pages(RequestGuard(server.app), pages))
    server.run_server(args)


if __name__ == "__main__":
    main()
