"""The Hugging Face Hub as a hub, or any server that speaks its API (`zoo hub
serve`, a mirror), through `huggingface_hub` only: no hand-written HTTP.

`HF_ENDPOINT`, `HF_TOKEN` and `HF_HUB_OFFLINE` are read when a call is made, so
they work however the process was started; the token is left to
huggingface_hub and never printed or written anywhere by the zoo.
"""

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from zoo.cards.card import read_card
from zoo.errors import IntegrityError, RefError, UnsafePathError, ZooError, first_line
from zoo.files import atomic_write_text, atomic_writer
from zoo.hub.base import PublishResult, RepoFile
from zoo.hub.lfs import ATTRIBUTES_FILE, lfs_attributes, stored_in_lfs
from zoo.trust.repo_paths import (
    COMMIT,
    MAX_FILES,
    check_commit,
    check_ref_name,
    check_repo_path,
    confined,
)

MAIN = "main"
MAX_REF_BYTES = 128  # a refs file holds one commit sha and a newline
T = TypeVar("T")


def endpoint() -> str | None:
    return os.environ.get("HF_ENDPOINT") or None


# Hand-written: huggingface_hub.constants reads HF_HUB_OFFLINE once, at import time.
def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def set_progress(show: bool) -> None:
    """huggingface_hub's own tqdm bars: on for a terminal, off with --quiet or in CI."""
    from huggingface_hub.utils import disable_progress_bars, enable_progress_bars

    (enable_progress_bars if show else disable_progress_bars)()


def _api() -> Any:
    from huggingface_hub import HfApi

    return HfApi(endpoint=endpoint())


def _hub_error(exc: Exception, repo_id: str, revision: str | None) -> ZooError:
    """One clear line for what huggingface_hub raised."""
    from huggingface_hub.errors import (
        GatedRepoError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    where = endpoint() or "https://huggingface.co"
    if isinstance(exc, RevisionNotFoundError):
        return RefError(f"hf://{repo_id} has no revision '{revision}' at {where}")
    if isinstance(exc, GatedRepoError):
        return RefError(f"hf://{repo_id} is gated: accept its terms on the Hub and set HF_TOKEN")
    if isinstance(exc, RepositoryNotFoundError):
        missing = f"no repository hf://{repo_id}" if revision in (None, MAIN) else \
            f"no repository hf://{repo_id} or no revision '{revision}' in it (servers such " \
            "as olah answer both the same way)"
        return RefError(f"{missing} at {where}; a private one needs HF_TOKEN")
    return ZooError(f"hf://{repo_id} at {where}: {first_line(exc, 300)}")


def _hub_errors() -> tuple[type[Exception], ...]:
    import httpx
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    return (HfHubHTTPError, OfflineModeIsEnabled, httpx.HTTPError, ValueError, OSError)


def _online(repo_id: str, revision: str) -> None:
    """What only the server can answer is refused in one line with HF_HUB_OFFLINE set."""
    if offline():
        raise RefError(f"hf://{repo_id}@{revision[:12]} is not in the cache and "
                       "HF_HUB_OFFLINE is set; pull it once online")


def _answer(call: Callable[[], T], where: str) -> T:
    """What `call` makes of the server's answer; an answer huggingface_hub cannot even
    read into its objects (a field missing, a list where an object belongs) is refused
    in one line, like any other hostile value."""
    try:
        return call()
    except (KeyError, TypeError, AttributeError) as exc:
        raise IntegrityError(f"refusing {where}: the server's answer is malformed "
                             f"({type(exc).__name__}: {str(exc)[:80]})") from None


class _Bounded:
    """A file handle that refuses to hold more than `limit` bytes."""

    def __init__(self, handle: Any, limit: int, where: str):
        self.handle, self.limit, self.where, self.written = handle, limit, where, 0

    def write(self, chunk: bytes) -> int:
        self.written += len(chunk)
        if self.written > self.limit:
            raise IntegrityError(f"refusing {self.where}: the server sent more than the "
                                 f"{self.limit:,} bytes its listing gives")
        return self.handle.write(chunk)

    def tell(self) -> int:
        return self.handle.tell()

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.handle.seek(offset, whence)

    def truncate(self, size: int | None = None) -> int:
        result = self.handle.truncate(size)
        self.written = self.handle.tell() if size is None else size
        return result


def _download_bounded(repo_id: str, revision: str, path: str, size: int, target: Path) -> None:
    """One file through huggingface_hub's own HTTP (session, token, retries, progress),
    written at most `size` bytes deep, and refused unless it is exactly `size` bytes
    (the size the hub lists; both backends' and the mirror's downloads come here)."""
    from huggingface_hub import hf_hub_url
    from huggingface_hub.file_download import http_get
    from huggingface_hub.utils import build_hf_headers

    url = hf_hub_url(repo_id, path, revision=revision, endpoint=endpoint())
    where = f"hf://{repo_id}@{revision[:12]}"
    with atomic_writer(target) as handle:
        http_get(url, _Bounded(handle, size, f"{where}/{path}"), headers=build_hf_headers(),
                 displayed_filename=path)
        if (got := handle.tell()) != size:
            raise IntegrityError(f"refusing {where}: {path} has {got:,} bytes, the hub lists "
                                 f"{size:,}")


def commit_operations(package_dir: Path) -> list[Any]:
    """The one commit a package becomes: every file, plus a .gitattributes that marks
    the same files as Git LFS as the folder hub does."""
    from huggingface_hub import CommitOperationAdd

    from zoo.hub.folder import publishable_files

    files = publishable_files(Path(package_dir))
    lfs = [name for name, path in files if stored_in_lfs(path)]
    operations = [CommitOperationAdd(path_in_repo=ATTRIBUTES_FILE,
                                     path_or_fileobj=lfs_attributes(lfs).encode())]
    operations += [CommitOperationAdd(path_in_repo=name, path_or_fileobj=str(path))
                   for name, path in files]
    return operations


class HfHub:
    """The `Hub` behind the Hugging Face Hub API.

    `refs` is a folder where each tag or branch → commit answer is kept, so a
    revision pulled once resolves again with HF_HUB_OFFLINE set.
    """

    supports_private = True

    readme_is_page = True  # the Hub renders README.md; its front matter is the license shown

    def __init__(self, refs: Path | None = None):
        self.refs = Path(refs) if refs else None
        # A commit's listing, as read once: a commit never changes, and the listing a
        # caller checked (sizes, names) must be the one that bounds its downloads.
        self._listings: dict[tuple[str, str], list[RepoFile]] = {}

    def _ref_file(self, repo_id: str, revision: str) -> Path | None:
        """Where a tag or branch → commit answer is kept: a file named from checked
        parts, under folders that are not links out of the cache."""
        if self.refs is None:
            return None
        check_ref_name(revision, "the reference")
        return confined(self.refs, repo_id).joinpath(revision.replace("/", "%2F"))

    def _saved(self, repo_id: str, rev: str, saved: Path | None) -> str:
        """The commit a refs file keeps, checked: a poisoned one (not a commit sha, a
        link, too long) is dropped, alone, and refused in one line."""
        if saved is None or not (saved.is_file() or saved.is_symlink()):
            raise RefError(f"hf://{repo_id}@{rev} is not in the cache and HF_HUB_OFFLINE "
                           "is set; pull it once online")
        try:
            if saved.is_symlink():
                raise UnsafePathError(f"refusing the cached ref {saved}: it is a link")
            with open(saved, "rb") as handle:
                text = handle.read(MAX_REF_BYTES + 1)
            if len(text) > MAX_REF_BYTES:
                raise UnsafePathError(f"refusing the cached ref {saved}: too long")
            return check_commit(text.decode("ascii").strip(), f"the cached ref {saved}")
        except (UnsafePathError, UnicodeDecodeError, OSError):
            saved.unlink(missing_ok=True)
            raise UnsafePathError(f"refusing the cached ref of hf://{repo_id}@{rev} ({saved}): "
                                  "it does not hold a commit sha, so it was removed; pull "
                                  "it once online") from None

    def resolve(self, owner: str, name: str, revision: str | None) -> str:
        repo_id, rev = f"{owner}/{name}", revision or MAIN
        saved = self._ref_file(repo_id, rev)
        if offline():
            if COMMIT.fullmatch(rev):
                return rev
            return self._saved(repo_id, rev, saved)
        where = f"hf://{repo_id}@{rev} at {endpoint() or 'https://huggingface.co'}"
        try:
            # olah needs the revision spelled out; the Hub accepts it too.
            sha = check_commit(_answer(lambda: _api().model_info(repo_id, revision=rev).sha,
                                       where), where)
        except _hub_errors() as exc:
            raise _hub_error(exc, repo_id, rev) from exc
        if saved is not None:
            saved.unlink(missing_ok=True)  # a link there is replaced, never followed
            atomic_write_text(saved, sha + "\n")
        return sha

    def files(self, owner: str, name: str, revision: str) -> list[RepoFile]:
        """Every file of a commit, each value checked (`RepoFile`); at most MAX_FILES.
        Listed once per commit: `download` and a second call answer from that listing."""
        repo_id = f"{owner}/{name}"
        key = (repo_id, check_commit(revision))
        if key not in self._listings:
            self._listings[key] = self._list(repo_id, revision)
        return list(self._listings[key])

    def _list(self, repo_id: str, revision: str) -> list[RepoFile]:
        from huggingface_hub.hf_api import RepoFile as HfRepoFile

        where = f"hf://{repo_id}@{revision[:12]}"
        _online(repo_id, revision)

        def listing() -> list[RepoFile]:
            listed = []
            for item in _api().list_repo_tree(repo_id, revision=revision, recursive=True):
                if not isinstance(item, HfRepoFile):  # folders are listed too
                    continue
                if len(listed) >= MAX_FILES:
                    raise IntegrityError(f"refusing {where}: more than {MAX_FILES} files")
                listed.append(RepoFile(item.path,  # every value checked by RepoFile
                                       item.lfs.sha256 if item.lfs else None,
                                       item.lfs.size if item.lfs else item.size,
                                       item.lfs is not None, item.blob_id))
            return listed

        try:
            return _answer(listing, where)
        except _hub_errors() as exc:
            raise _hub_error(exc, repo_id, revision) from exc

    def download(self, owner: str, name: str, revision: str, dest: Path,
                 paths: Iterable[str] | None = None) -> None:
        """Every file of a revision (or only `paths`) into `dest`, each one a file the
        revision's listing holds and no larger than the size listed there: the body
        is written through `_Bounded`, so a server that streams more than it listed
        is cut off at the listed size, not after filling the disk. The listing is the
        one `files` already read for the caller, if it did."""
        repo_id = f"{owner}/{name}"
        listing = {f.path: f for f in self.files(owner, name, revision)}
        _online(repo_id, revision)
        wanted = list(listing) if paths is None else [check_repo_path(p) for p in paths]
        if missing := [path for path in wanted if path not in listing]:
            raise IntegrityError(f"refusing hf://{repo_id}@{revision[:12]}: {missing[0]!r} is "
                                 "not a file of the revision")
        for path in wanted:
            if path != ATTRIBUTES_FILE:
                self.download_file(owner, name, revision, path, listing[path].size,
                                   confined(Path(dest), path))

    def download_file(self, owner: str, name: str, revision: str, path: str, size: int,
                      target: Path) -> None:
        """One file of a commit into `target`, cut off at the `size` bytes a listing gives
        and refused unless it is exactly that long; what huggingface_hub raises becomes
        one line. For `download` and for a caller that checks its own listing first
        (the mirror, which copies `.gitattributes` too)."""
        repo_id = f"{owner}/{name}"
        try:
            _download_bounded(repo_id, revision, path, size, target)
        except _hub_errors() as exc:
            raise _hub_error(exc, repo_id, revision) from exc

    def tags(self, owner: str, name: str) -> dict[str, str]:
        """Tag name → commit sha, both checked against the hub grammar."""
        repo_id = f"{owner}/{name}"
        where = f"hf://{repo_id}'s tags"
        try:
            return _answer(lambda: {check_ref_name(ref.name, where):
                                    check_commit(ref.target_commit, where)
                                    for ref in _api().list_repo_refs(repo_id).tags}, where)
        except _hub_errors() as exc:
            raise _hub_error(exc, repo_id, None) from exc

    def commits(self, owner: str, name: str, revision: str) -> list[dict[str, Any]]:
        """The commits of `revision`, newest first, as the server lists them (`id`,
        `title`, `message`, `date`): unchecked, for a caller that checks every value
        (the mirror); what huggingface_hub raises becomes one line."""
        repo_id = f"{owner}/{name}"
        api = _api()
        try:
            try:
                return [{"id": c.commit_id, "title": c.title, "message": c.message,
                         "date": c.created_at}
                        for c in api.list_repo_commits(repo_id, revision=revision)]
            except KeyError:
                # olah lists authors as {name, avatar}, not {user, …}, and list_repo_commits
                # fails on them (KeyError: 'user'): read the same endpoint through
                # huggingface_hub's own session, headers, pagination and error checks.
                from huggingface_hub.utils import build_hf_headers, paginate

                url = f"{api.endpoint}/api/models/{repo_id}/commits/{quote(revision, safe='')}"
                return list(paginate(url, params={}, headers=build_hf_headers()))
        except _hub_errors() as exc:
            raise _hub_error(exc, repo_id, revision) from exc

    def branches_and_tags(self, owner: str, name: str) -> list[tuple[str, Any, Any]]:
        """Every branch and tag as ("heads" or "tags", name, commit sha), as the server
        lists them: unchecked, for a caller that checks each name and sha before git
        sees it (the mirror); what huggingface_hub raises becomes one line."""
        repo_id = f"{owner}/{name}"
        try:
            listed = _api().list_repo_refs(repo_id)
        except _hub_errors() as exc:
            raise _hub_error(exc, repo_id, None) from exc
        return [(kind, item.name, item.target_commit)
                for kind, items in (("heads", listed.branches), ("tags", listed.tags))
                for item in items]

    def publish(self, package_dir: Path, owner: str, name: str, *, tag: str | None = None,
                move_tag: bool = False, private: bool = False) -> PublishResult:
        """Create the repo if needed, commit the package in one commit, tag it."""
        repo_id = f"{owner}/{name}"
        card = read_card(package_dir)
        api = _api()
        try:
            api.create_repo(repo_id, private=private, exist_ok=True)
            tags = self.tags(owner, name) if tag else {}
            if tag in tags and not move_tag:
                raise RefError(f"tag '{tag}' already names {tags[tag][:12]} in hf://{repo_id};"
                               " pass --move-tag to point it at the new revision")
            commit = api.create_commit(repo_id, operations=commit_operations(package_dir),
                                       commit_message=f"Publish {card.name} {card.version}")
            revision = commit.oid
            if tag:
                if tag in tags:
                    api.delete_tag(repo_id, tag=tag)
                api.create_tag(repo_id, tag=tag, revision=revision)
        except _hub_errors() as exc:
            raise _hub_error(exc, repo_id, tag) from exc
        return PublishResult(revision, True, tag)
