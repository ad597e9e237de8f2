"""`zoo hub mirror`: Hub repositories (any, not only zoo packages) copied into a folder
hub commit for commit, so an air-gapped team serves them with `zoo hub serve` and
plain huggingface_hub or keras-hub clients work against the mirror unchanged.

Each upstream commit, oldest first, becomes a commit with the same paths and the
same git blob ids (so the same tree sha), the upstream title and date, and a trailer
naming the commit it copies (`Mirrored-from: hf://OWNER/NAME@SHA`); the trailers are
how a re-run knows what is there already. The upstream is hostile until checked:
every path passes the hub path grammar, every download is checked against the blob
id, sha256 and size the hub lists, and an LFS pointer we write must hash to the
blob id listed. Git objects go first, LFS objects next and the refs last, in one
compare-and-swap transaction: a refused mirror moves no ref and adds no LFS object,
and a new repository is removed.
"""

import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from zoo.cards.digest import sha256_file
from zoo.errors import IntegrityError, RefError, ZooError
from zoo.hub.base import RepoFile
from zoo.hub.folder import FolderHub, valid_tag
from zoo.hub.hf import HfHub, offline
from zoo.hub.lfs import lfs_pointer, object_path
from zoo.hub.pinned import check_download
from zoo.hub.refs import HubRef, parse_ref
from zoo.trust.repo_paths import COMMIT, confined

TRAILER = "Mirrored-from"
KEPT = "refs/mirrored/"  # keeps a mirrored revision no upstream branch or tag names
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # kept out of commit messages

Progress = Callable[[str], None]


@dataclass(frozen=True)
class UpstreamCommit:
    sha: str
    message: str
    date: str | None  # git's "<unix seconds> <+hhmm>"


@dataclass
class MirrorResult:
    ref: HubRef
    new_commits: int = 0
    known_commits: int = 0  # mirrored by an earlier run
    fetched: int = 0  # files downloaded
    reused: int = 0  # files whose blob or LFS object the mirror held already
    refs: list[str] = field(default_factory=list)  # upstream branches and tags mirrored
    moved: list[str] = field(default_factory=list)  # the ones this run moved
    head: str = ""  # the mirrored commit of the revision asked for (main by default)


def _git_date(value: object) -> str | None:
    """An upstream date (ISO 8601 text or a datetime) in git's raw form."""
    try:
        when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        when = when if when.tzinfo else when.replace(tzinfo=timezone.utc)
        seconds = int(when.timestamp())
    except (ValueError, OverflowError):
        return None
    return f"{seconds} {when.strftime('%z')}" if seconds >= 0 else None  # else: today


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _parse_commit(item: object, repo_id: str) -> UpstreamCommit:
    """One entry of the hub's commit list, checked."""
    try:
        sha, title, body = item["id"], item.get("title") or "", item.get("message") or ""
        date = item.get("date")
    except (TypeError, KeyError, AttributeError):
        raise IntegrityError(f"refusing hf://{repo_id}: the hub's commit list holds "
                             f"{str(item)[:80]!r}, not a commit") from None
    if not isinstance(sha, str) or not COMMIT.fullmatch(sha) or \
            not isinstance(title, str) or not isinstance(body, str) or \
            not _utf8(title) or not _utf8(body):  # JSON can carry lone surrogates
        raise IntegrityError(f"refusing hf://{repo_id}: malformed commit {str(sha)[:60]!r} "
                             "in the hub's commit list")
    text = "\n\n".join(part for part in (CONTROL.sub("", title).strip(),
                                          CONTROL.sub("", body).strip()) if part)
    return UpstreamCommit(sha, text or f"Commit {sha}", _git_date(date))


def history(ref: HubRef, revision: str) -> list[UpstreamCommit]:
    """The commits of `revision` on the upstream hub, oldest first, each checked."""
    items = HfHub().commits(ref.owner, ref.name, revision)
    return [_parse_commit(item, ref.repo_id) for item in reversed(items)]


def upstream_refs(ref: HubRef) -> dict[str, str]:
    """Upstream branches and tags as git ref names → commit sha, each name and sha
    checked before git sees it."""
    refs = {}
    for kind, name, commit in HfHub().branches_and_tags(ref.owner, ref.name):
        # valid_tag's rule (git check-ref-format, no 40-hex names) is the one for
        # branch names too
        if not isinstance(name, str) or not isinstance(commit, str) \
                or not valid_tag(name) or not COMMIT.fullmatch(commit):
            raise IntegrityError(f"refusing hf://{ref.repo_id}: its ref {str(name)[:80]!r} "
                                 f"→ {str(commit)[:60]!r} is not a valid name and commit sha")
        refs[f"refs/{kind}/{name}"] = commit
    return refs


def _short(ref: str) -> str:
    return ref.removeprefix("refs/heads/").removeprefix("refs/tags/")


class _Mirror:
    """One repository's mirror run; `run` holds the repository's lock."""

    def __init__(self, hub: FolderHub, ref: HubRef, say: Progress):
        self.hub, self.ref, self.say = hub, ref, say
        self.repo = hub.repo_dir(ref.owner, ref.name)
        self.result = MirrorResult(ref)

    def plan(self) -> tuple[list[list[UpstreamCommit]], dict[str, str], str]:
        """The upstream histories to mirror, the refs that point into them, and the
        commit the revision asked for (main by default) names."""
        repo_id = self.ref.repo_id
        # first, for its one-line answer to a missing repository or revision
        head = HfHub().resolve(self.ref.owner, self.ref.name, self.ref.revision)
        listed = history(self.ref, head)  # `resolve` answers a checked commit sha
        if not listed or listed[-1].sha != head:
            raise IntegrityError(f"refusing hf://{repo_id}: the history the hub lists for "
                                 f"{self.ref.revision or 'main'} does not end at its commit "
                                 f"{head!r}")
        histories, seen = [listed], {c.sha for c in listed}
        refs = upstream_refs(self.ref)
        for name in [] if self.ref.revision else sorted(refs):
            if refs[name] not in seen:  # a tag inside a listed history needs no listing
                histories.append(history(self.ref, refs[name]))
                seen.update(c.sha for c in histories[-1])
        return histories, {name: sha for name, sha in refs.items() if sha in seen}, head

    def mirrored(self) -> dict[str, str]:
        """Upstream sha → mirrored commit, from the trailers of every commit the refs
        reach (git reads only a message's last paragraph as trailers, which is ours)."""
        known = {}
        for commit, value in self.hub.trailers(self.repo, TRAILER):
            upstream = value.rsplit("@", 1)[-1].strip()
            if COMMIT.fullmatch(upstream):
                known.setdefault(upstream, commit)
        return known

    def current_refs(self) -> dict[str, tuple[str, str]]:
        """The mirror's refs: name → (value, commit it names)."""
        return self.hub.ref_values(self.repo, "refs/heads", "refs/tags", KEPT.rstrip("/"))

    def run(self) -> MirrorResult:
        histories, refs, head = self.plan()
        # a refusal removes a repository this run made: nothing was mirrored
        with self.hub.writing(self.ref.owner, self.ref.name) as repo, \
                self.hub.scratch(repo, "mirror-") as tmp:
            return self._mirror(histories, refs, head, Path(tmp))

    def _mirror(self, histories: list[list[UpstreamCommit]], refs: dict[str, str],
                head: str, tmp: Path) -> MirrorResult:
        known = self.mirrored()
        before = set(known)
        staged = tmp / "lfs"  # verified LFS objects, installed only once all is checked
        staged.mkdir()
        for commits in histories:
            parent = None
            for upstream in commits:
                if upstream.sha not in known:
                    known[upstream.sha] = self._copy(upstream, parent, staged, tmp)
                parent = known[upstream.sha]
        listed = {c.sha for h in histories for c in h}
        self.result.known_commits = len(listed & before)
        updates = self._ref_updates(refs, known, head)
        for source in staged.iterdir():  # every check passed: now the LFS objects
            target = object_path(self.repo, source.name)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, target)
        self.hub.move_refs(self.repo, updates)
        return self.result

    def _copy(self, upstream: UpstreamCommit, parent: str | None, staged: Path,
              tmp: Path) -> str:
        """Mirror one upstream commit; returns the mirrored commit's sha."""
        where = f"hf://{self.ref.repo_id}@{upstream.sha[:12]}"
        # each value checked (`RepoFile`), at most MAX_FILES of them
        files = HfHub().files(self.ref.owner, self.ref.name, upstream.sha)
        if len({f.path for f in files}) != len(files):
            raise IntegrityError(f"refusing {where}: a path listed twice")
        if bad := next((f for f in files if f.blob_id is None), None):
            raise IntegrityError(f"refusing {where}: {bad.path} has no git blob id")
        present = self.hub.present_blobs(self.repo, {f.blob_id for f in files if not f.lfs})
        downloads = tmp / upstream.sha
        for listed in files:
            if listed.lfs:
                self._lfs(listed, upstream.sha, staged, downloads, where)
            elif listed.blob_id in present:
                self.result.reused += 1
            else:
                blob = self.hub.write_blob(self.repo, self._fetch(listed, upstream.sha,
                                                                  downloads, where))
                present.add(blob)
        shutil.rmtree(downloads, ignore_errors=True)
        tree = self.hub.write_tree_of(self.repo, [(f.path, f.blob_id) for f in files])
        message = f"{upstream.message}\n\n{TRAILER}: hf://{self.ref.repo_id}@{upstream.sha}\n"
        commit = self.hub.write_commit(self.repo, tree, message, parent, upstream.date)
        self.result.new_commits += 1
        self.say(f"{where}: mirrored as {commit[:12]} ({len(files)} files)")
        return commit

    def _lfs(self, listed: RepoFile, sha: str, staged: Path, downloads: Path,
             where: str) -> None:
        """Stage the LFS object unless the mirror holds it already, and write its pointer,
        which must be the very blob the hub lists."""
        oid = listed.sha256
        held = object_path(self.repo, oid)
        if (staged / oid).is_file() or (held.is_file() and held.stat().st_size == listed.size
                                         and sha256_file(held) == oid):
            self.result.reused += 1
        else:
            os.replace(self._fetch(listed, sha, downloads, where), staged / oid)
        if self.hub.write_blob(self.repo, lfs_pointer(oid, listed.size).encode()) \
                != listed.blob_id:
            raise IntegrityError(f"refusing {where}: the LFS pointer of {listed.path} is not "
                                 f"the blob the hub lists ({listed.blob_id[:12]}), so its tree "
                                 "could not be kept as it is")

    def _fetch(self, listed: RepoFile, sha: str, downloads: Path, where: str) -> Path:
        """Download one file of commit `sha`, cut off at its listed size, and check it
        against the listing."""
        path = confined(downloads, listed.path)
        self.say(f"{where}: fetching {listed.path} ({listed.size:,} bytes)")
        HfHub().download_file(self.ref.owner, self.ref.name, sha, listed.path, listed.size,
                              path)
        check_download(path, listed, where)
        self.result.fetched += 1
        return path

    def _ref_updates(self, refs: dict[str, str], known: dict[str, str],
                     head: str) -> list[tuple[str, str, str | None]]:
        """What moves every upstream ref to its mirrored commit, and keeps an asked-for
        revision no ref names; a ref that names a commit not mirrored (a local
        commit) is refused rather than overwritten."""
        current = self.current_refs()
        wanted = {name: known[sha] for name, sha in refs.items()}
        self.result.head = known[head]
        if self.result.head not in wanted.values():
            wanted[f"{KEPT}{head}"] = self.result.head
        mirrored = set(known.values())
        updates = []
        for name, commit in sorted(wanted.items()):
            value, peeled = current.get(name, (None, None))
            if peeled == commit:
                continue
            if peeled and peeled not in mirrored:
                raise RefError(f"refusing to move {_short(name)} in {self.repo}: it names "
                               f"{peeled[:12]}, which is not a mirrored commit (a local "
                               "commit would be lost); mirror into another --hub")
            updates.append((name, commit, value))
            self.result.moved.append(_short(name))
        self.result.refs = sorted(_short(name) for name in refs)
        return updates


def mirror(ref_text: str, hub_root: Path, progress: Progress | None = None) -> MirrorResult:
    """Mirror hf://OWNER/NAME[@REV] (all its branches and tags, or REV's history and
    the refs that point into it) into the folder hub at `hub_root`."""
    ref = parse_ref(ref_text)
    if ref.scheme != "hf":
        raise RefError(f"zoo hub mirror copies from a Hub API server: give "
                       f"hf://OWNER/NAME[@REV], not '{ref_text}' (set HF_ENDPOINT for a "
                       "server other than huggingface.co)")
    if offline():
        raise ZooError(f"cannot mirror {ref}: HF_HUB_OFFLINE is set, and mirroring reads "
                       "the upstream hub")
    return _Mirror(FolderHub(hub_root), ref, progress or (lambda message: None)).run()
