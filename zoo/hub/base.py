"""The one interface every hub backend implements, so the cache, publishing and
pulling never ask which backend they hold (`zoo.hub.open_hub` picks it)."""

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from zoo.trust.repo_paths import check_blob_id, check_repo_path, check_sha256, check_size


@dataclass(frozen=True)
class RepoFile:
    """One file of a revision as the hub lists it; every field is checked against the
    hub grammar when it is made, since a listing is hostile until checked and its
    values name files and bound downloads."""

    path: str
    sha256: str | None  # None where the hub does not say (the HF API, for non-LFS files)
    size: int  # of the content, not of an LFS pointer
    lfs: bool
    blob_id: str | None = None  # git's blob sha1 (of the pointer, for an LFS file)

    def __post_init__(self) -> None:
        check_repo_path(self.path)
        where = f"the hub's listing of {self.path!r}"
        if self.sha256 is not None or self.lfs:
            check_sha256(self.sha256, where)
        check_size(self.size, self.path)
        if self.blob_id is not None:
            check_blob_id(self.blob_id, where)


@dataclass(frozen=True)
class PublishResult:
    revision: str
    created: bool  # False when the hub already held exactly this package
    tag: str | None


@runtime_checkable
class Hub(Protocol):
    """Where packages are published to and pulled from.

    Repositories are named by owner and name; a revision is a tag, a branch or
    a commit sha, and `resolve` turns it into the commit sha everything else takes.
    """

    # Whether the hub shows README.md as the repository's page, so that its front
    # matter, not the card, is the license people see there.
    readme_is_page: bool

    def resolve(self, owner: str, name: str, revision: str | None) -> str:
        """The commit sha a tag, branch or (short) sha names; None means main."""
        ...

    def files(self, owner: str, name: str, revision: str) -> list[RepoFile]:
        """Every file of a commit, `.gitattributes` included."""
        ...

    def download(self, owner: str, name: str, revision: str, dest: Path,
                 paths: Iterable[str] | None = None) -> None:
        """Every file of a commit (or only `paths`) into `dest` (LFS content, not
        pointers), but `.gitattributes`, which is the hub's bookkeeping, not the
        package's."""
        ...

    supports_private: bool  # whether `publish(private=True)` means anything here

    def publish(self, package_dir: Path, owner: str, name: str, *, tag: str | None = None,
                move_tag: bool = False, private: bool = False) -> PublishResult:
        """Commit a sealed package as the new head of main and tag it; a tag that
        names another commit moves only with `move_tag`. A backend refuses an
        option it cannot honour (ZooError) rather than ignoring it."""
        ...

    def tags(self, owner: str, name: str) -> dict[str, str]:
        """Tag name → commit sha."""
        ...
