"""What a folder hub holds, read for its web pages: repositories, revisions, cards,
lineage across the hub, and the checks a pull would make.

Everything is read through the zoo's hardened readers (`FolderHub`, `Blobs`,
`card_from_json`): a repository is hostile until checked, and one that fails a
check is shown with the reason instead of its data. Only repositories the Hub
API would serve are read (`Catalog.holds`): names in the hub's grammar, read
from inside the hub, so neither a lineage naming `../..` nor a linked or
borrowing repository folder reaches a git repository outside it. A commit
never changes, so what is read at a commit sha is kept (bounded); branch and tag
heads are read again on every request, so a publish shows at once.
"""

import tempfile
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from zoo.cards.card import CARD_FILE, MAX_CARD_BYTES, README_FILE, SIGNATURE_FILE, Card, \
    card_from_bytes
from zoo.cards.license_policy import PolicyFile
from zoo.errors import RefError, ZooError, first_line
from zoo.hub.folder import BRANCH, FolderHub, require_folder_hub
from zoo.hub.git import Blobs, records
from zoo.hub.mirror import TRAILER as MIRRORED_FROM
from zoo.hub.olah_guard import MAX_README, inside_hub
from zoo.hub.refs import is_name
from zoo.trust.repo_paths import COMMIT

MAX_REVISIONS = 200  # newest first, in a model page's revision picker
MAX_LINEAGE = 16  # bases followed up the chain: a real chain has a few; a cycle stops here
KEPT = 512  # commits whose reading is kept in memory
KINDS = ("base", "derived", "imported", "mirrored", "no card")

T = TypeVar("T")


@dataclass(frozen=True)
class Revision:
    sha: str
    date: str  # the commit date, ISO 8601
    subject: str
    refs: tuple[str, ...] = ()  # tags and branches naming it


@dataclass(frozen=True)
class FileRow:
    path: str
    size: int
    sha256: str | None
    lfs: bool


@dataclass
class Entry:
    """One repository at one commit, as its pages show it."""

    owner: str
    name: str
    sha: str
    date: str
    tags: list[str]  # of the repository; those naming this commit are in `refs`
    refs: list[str]
    card: Card | None
    problem: str | None  # why the card or listing could not be read, if so
    readme: str
    files: list[FileRow]
    mirrored_from: str | None
    policy: "Verdict | None" = None

    @property
    def repo_id(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def kind(self) -> str:
        if self.mirrored_from:
            return "mirrored"
        if self.card is None:
            return "no card"
        if self.card.lineage:
            return "derived"
        return "imported" if self.card.imported_from else "base"

    @property
    def license(self) -> str:
        card = self.card
        if card is None:
            return "-"
        return card.license_name or card.license if card.license == "other" else card.license

    @property
    def signed(self) -> bool:
        return any(row.path == SIGNATURE_FILE for row in self.files)

    @property
    def size(self) -> int:
        return sum(row.size for row in self.files)

    @property
    def base(self) -> str | None:
        lineage = self.card.lineage if self.card else None
        return lineage.base_ref if lineage else None

    @property
    def base_repo(self) -> tuple[str, ...] | None:
        """(owner, name) of the base, as its reference names it."""
        return _names(self.base) if self.base else None


@dataclass(frozen=True)
class Verdict:
    """What the user's license policy says of a card: allowed or not, and why."""

    allowed: bool
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class Checks:
    """A pull's checks on one commit: hashes, config scan and layer map (`integrity`),
    and the signature against the server's trusted keys."""

    integrity: str  # "passed", or why it failed
    passed: bool
    signature: str  # "unsigned", "verified by sha256:…", "not checked: …" or why it failed
    signer: str | None = None


@dataclass(frozen=True)
class Step:
    """One link of a lineage chain: the base a package was derived from, and how."""

    ref: str  # as the derived card names it
    revision: str
    entry: Entry | None  # the base in this hub at that commit, when it is here
    cut: str | None
    frozen: tuple[str, ...]
    head: str | None
    schedule: list[str] = field(default_factory=list)


class _Kept(OrderedDict):
    """The last KEPT readings by commit: a commit never changes."""

    def get_or(self, key: Any, make: Callable[[], T]) -> T:
        if key in self:
            self.move_to_end(key)
            return self[key]
        value = self[key] = make()
        while len(self) > KEPT:
            self.popitem(last=False)
        return value


def read_trust(policy: Path | None, trust_keys: Iterable[Path] = ()
               ) -> tuple[PolicyFile, tuple[Path, ...]]:
    """The policy file the pages judge licenses by, checked, and the keys they verify
    signatures with (the ones given and the policy's `trusted_keys`): the one reading
    for `zoo hub serve` (before it starts, and in the server) and `zoo hub site`."""
    from zoo.trust.signing import SignaturePolicy

    read = PolicyFile.read(Path(policy).absolute() if policy else None)
    read.licenses()  # its license rules are refused now, not on the first page
    keys = [Path(key).absolute() for key in trust_keys]
    return read, SignaturePolicy.from_table(read.table, read.path, keys).trusted_keys


class Catalog:
    """A folder hub as its pages read it, with the policy the server applies."""

    def __init__(self, root: Path, policy: PolicyFile | None = None):
        self.hub = FolderHub(require_folder_hub(root))
        self.policy = policy or PolicyFile()
        self._licenses = self.policy.licenses()
        self._entries = _Kept()
        self._checks = _Kept()

    @property
    def has_policy(self) -> bool:
        return self.policy.path is not None

    # --- repositories ---------------------------------------------------------------

    def holds(self, owner: str, name: str) -> bool:
        """Whether owner/name is a repository of this hub as the Hub API serves it: both
        names in the hub's grammar, its folder inside the hub through no link, and its
        .git its own (no gitfile, shared or borrowed objects)."""
        return (is_name(owner) and is_name(name) and self.hub.exists(owner, name)
                and inside_hub(str(self.hub.root), str(self.hub.repo_dir(owner, name))))

    def _held(self, owner: str, name: str) -> Path:
        """The repository's folder; RefError, naming no folder, unless the hub holds it."""
        if not self.holds(owner, name):
            raise RefError(f"no repository {owner}/{name} in this hub")
        return self.hub.repo_dir(owner, name)

    def repo_ids(self) -> list[tuple[str, str]]:
        return [(r.owner, r.name) for r in self.hub.repos() if self.holds(r.owner, r.name)]

    def heads(self) -> list[Entry]:
        """Every repository at the head of its main branch, by name; one git cannot read
        is listed with the reason, not left out (nor does it take the index down)."""
        entries = []
        for owner, name in self.repo_ids():
            try:
                entries.append(self.entry(owner, name))
            except ZooError as exc:
                entries.append(Entry(owner, name, "", "", [], [], None, first_line(exc), "", [],
                                     None))
        return entries

    def entry(self, owner: str, name: str, revision: str | None = None) -> Entry:
        """The repository at `revision` (a tag, branch or sha; default main): RefError
        if there is no such repository or revision."""
        self._held(owner, name)
        main = self.hub.resolve(owner, name, None)
        sha = main if revision is None else self.hub.resolve(owner, name, revision)
        tags = self.hub.tags(owner, name)
        kept = self._entries.get_or((owner, name, sha), lambda: self._read(owner, name, sha))
        refs = sorted(tag for tag, at in tags.items() if at == sha)
        refs += [BRANCH] if main == sha else []
        return Entry(**{**kept.__dict__, "tags": sorted(tags), "refs": refs})

    def _read(self, owner: str, name: str, sha: str) -> Entry:
        repo = self.hub.repo_dir(owner, name)
        date, mirrored = self._commit_facts(repo, sha)
        card, problem, readme, files = None, None, "", []
        try:
            files = [FileRow(f.path, f.size, f.sha256, f.lfs)
                     for f in self.hub.files(owner, name, sha)]
            sizes = {row.path: row.size for row in files}
            with Blobs(repo / ".git") as blobs:
                if sizes.get(README_FILE, 0) > MAX_README:  # the card is still shown
                    readme = (f"*{README_FILE} is {sizes[README_FILE]:,} bytes; a page shows "
                              f"at most {MAX_README:,}.*")
                elif README_FILE in sizes:
                    readme = blobs.read(f"{sha}:{README_FILE}", MAX_README).decode("utf-8",
                                                                                    "replace")
                if CARD_FILE in sizes:
                    text = blobs.read(f"{sha}:{CARD_FILE}", MAX_CARD_BYTES)
                    card = card_from_bytes(text, f"{owner}/{name}@{sha[:12]} {CARD_FILE}")
        except ZooError as exc:
            problem = first_line(exc)
        entry = Entry(owner, name, sha, date, [], [], card, problem, readme, files, mirrored)
        if card is not None:
            entry.policy = self.verdict(card)
        return entry

    def _commit_facts(self, repo: Path, sha: str) -> tuple[str, str | None]:
        out = self.hub.git(repo, "show", "-s", f"--format=%cI%x00%(trailers:key={MIRRORED_FROM},"
                           "valueonly,separator=%x20)", "--end-of-options", sha)
        date, _, mirrored = out.partition("\0")
        return date.strip(), mirrored.strip() or None

    def revisions(self, owner: str, name: str) -> list[Revision]:
        """The repository's commits reachable from a branch or tag, newest first, with
        the refs naming each (at most MAX_REVISIONS)."""
        repo = self._held(owner, name)
        self.hub.resolve(owner, name, None)  # RefError for a repository with no main
        # The subject last: it may hold the separator, which must not make it a ref name.
        lines = records(repo / ".git", "log", "--all", "-z", "--format=%H%x1f%cI%x1f%D%x1f%s",
                        most=MAX_REVISIONS, longest=16 << 10)
        revisions = []
        for line in lines[:MAX_REVISIONS]:
            sha, date, names, subject = line.decode("utf-8", "replace").split("\x1f", 3)
            refs = tuple(part.strip().removeprefix("tag: ").removeprefix("HEAD -> ")
                         for part in names.split(",") if part.strip())
            if COMMIT.fullmatch(sha):
                revisions.append(Revision(sha, date, subject[:200], refs))
        return revisions

    # --- policy and checks ----------------------------------------------------------

    def verdict(self, card: Card) -> Verdict:
        try:
            return Verdict(True, tuple(self._licenses.check(card)))
        except ZooError as exc:
            return Verdict(False, (first_line(exc),))

    def checks(self, entry: Entry, trusted_keys: tuple[Path, ...] = ()) -> Checks:
        """The checks a pull makes, on a copy of the commit (kept per commit)."""
        return self._checks.get_or((entry.owner, entry.name, entry.sha, trusted_keys),
                                   lambda: self._check(entry, trusted_keys))

    def _check(self, entry: Entry, trusted_keys: tuple[Path, ...]) -> Checks:
        from zoo.hub.cache import check_snapshot
        from zoo.trust.signing import verify_package

        if entry.card is None:
            return Checks(entry.problem or "no card.json", False,
                          "signed" if entry.signed else "unsigned")
        with tempfile.TemporaryDirectory(prefix="zoo-page-") as scratch:
            folder = Path(scratch)
            try:
                self.hub.download(entry.owner, entry.name, entry.sha, folder)
                check_snapshot(folder, entry.card)
                integrity, passed = "passed", True
            except ZooError as exc:
                integrity, passed = first_line(exc), False
            if not entry.signed:
                return Checks(integrity, passed, "unsigned")
            if not trusted_keys:
                return Checks(integrity, passed, "signed, not checked: the server was given "
                              "no trusted keys", entry.card.signed_by)
            try:
                signer = verify_package(folder, trusted_keys)
            except ZooError as exc:
                return Checks(integrity, passed, f"does not verify: {first_line(exc)}")
            return Checks(integrity, passed, f"verified by {signer}", signer)

    # --- lineage --------------------------------------------------------------------

    def located(self, ref: str, revision: str) -> Entry | None:
        """The package a lineage names, when this hub holds that repository and commit."""
        owner_name = _names(ref)
        if len(owner_name) != 2 or not COMMIT.fullmatch(revision or ""):
            return None
        owner, name = owner_name
        if not self.holds(owner, name):
            return None
        try:
            return self.entry(owner, name, revision)
        except ZooError:
            return None

    def ancestors(self, entry: Entry) -> list[Step]:
        """The chain of bases from `entry` up to its origin, nearest first."""
        chain, seen, current = [], {entry.sha}, entry
        while current and current.card and current.card.lineage and len(chain) < MAX_LINEAGE:
            lineage = current.card.lineage
            base = self.located(lineage.base_ref, lineage.base_revision)
            schedule = [f"phase {p.phase}: {p.epochs_run} epochs at {p.learning_rate:g}"
                        + (f" from {p.unfreeze_from}" if p.unfreeze_from else "")
                        for run in lineage.finetune for p in run.phases]
            chain.append(Step(lineage.base_ref, lineage.base_revision, base, lineage.cut_layer,
                              tuple(lineage.frozen_layers), lineage.head, schedule))
            if base is None or base.sha in seen:
                break
            seen.add(base.sha)
            current = base
        return chain

    def descendants(self, owner: str, name: str) -> list[Entry]:
        """Every repository whose head is derived from a commit of owner/name that this
        hub holds (a lineage is a claim: one naming no such commit is not listed)."""
        return [entry for entry in self.heads() if entry.card and entry.card.lineage
                and _names(entry.card.lineage.base_ref) == (owner, name)
                and (entry.owner, entry.name) != (owner, name)
                and self.located(entry.card.lineage.base_ref, entry.card.lineage.base_revision)]

    def walk(self) -> Iterator[tuple[Entry, list[Revision]]]:
        for owner, name in self.repo_ids():
            yield self.entry(owner, name), self.revisions(owner, name)


def _names(ref: str) -> tuple[str, ...]:
    return tuple(ref.split("://", 1)[-1].split("@", 1)[0].rstrip("/").split("/")[-2:])

