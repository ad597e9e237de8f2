"""Seeing and running hubs: `zoo.list`, `zoo.inspect`, `zoo.serve`, `zoo.mirror`, and
the pull cache's `zoo.verify_cache` / `zoo.clean_cache`."""

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from zoo.api.arguments import PathLike, as_path, as_ref, hub_folder, optional_path, \
    output_path
from zoo.api.package import Package

if TYPE_CHECKING:
    from zoo.hub.cache import CacheProblem
    from zoo.hub.folder import RepoSummary
    from zoo.hub.mirror import MirrorResult
    from zoo.hub.pages.site import SiteResult
    from zoo.hub.serve import Server


def list_packages(hub: PathLike | None = None) -> list["RepoSummary"]:
    """The repositories of a folder hub (default: the one under $ZOO_HOME), like
    `zoo list`: owner, name, head revision, tags, version and license of each.

    Example:
        >>> [f"{r.owner}/{r.name}" for r in zoo.list()]
    """
    from zoo.hub import FolderHub
    from zoo.paths import default_hub_root

    return FolderHub(hub_folder(hub) if hub is not None else default_hub_root()).repos()


def inspect(target: Package | PathLike) -> Package:
    """A package (a folder or a hub reference) after the integrity checks a pull makes:
    hashes, the config scan, the layer map against model.keras; like `zoo inspect`.
    Your license policy and trusted keys are not applied (`zoo.pull` applies them).
    Nothing is loaded into Keras; the card is `.card`.

    Example:
        >>> card = zoo.inspect("acme/iris@v1").card
        >>> [c.name for c in card.layer_map.cut_points]
    """
    from zoo.hub.cache import checked_package

    folder = target.path if isinstance(target, Package) else target
    card, located = checked_package(str(folder))
    return Package(located.path, card=card, ref=located.ref, revision=located.revision)


def serve(hub: PathLike | None = None, *, host: str = "127.0.0.1", port: int = 8090,
          state: PathLike | None = None, policy: PathLike | None = None,
          trusted_keys: Iterable[PathLike] = ()) -> "Server":
    """Serve a folder hub read-only over the Hugging Face Hub API (olah), with a web
    page for every repository at its address, like `zoo hub serve`, and return the
    running server once it answers; stop it with `zoo.stop_serving(server)`. Clients
    set HF_ENDPOINT to its address. The pages judge licenses by `policy` and check
    signatures with `trusted_keys` (and the policy's).

    Example:
        >>> server = zoo.serve("/srv/zoo-hub", port=8090)
        >>> zoo.pull("hf://zoo/iris@v1")  # with HF_ENDPOINT=http://127.0.0.1:8090
        >>> zoo.stop_serving(server)
    """
    from zoo.hub.serve import start
    from zoo.paths import default_hub_root

    return start(hub_folder(hub) if hub is not None else default_hub_root(), host, port,
                 optional_path(state, "state"), optional_path(policy, "policy"),
                 tuple(as_path(key, "trusted key") for key in trusted_keys))


def stop_serving(server: "Server") -> None:
    """Stop a server `zoo.serve` started, and remove its temporary state folder.

    Example:
        >>> zoo.stop_serving(zoo.serve(port=8090))
    """
    from zoo.hub.serve import stop

    stop(server)


def write_site(out: PathLike, hub: PathLike | None = None, *, policy: PathLike | None = None,
               trusted_keys: Iterable[PathLike] = (),
               progress: Callable[[str], None] | None = None) -> "SiteResult":
    """Write a folder hub's web pages (the ones `zoo.serve` serves) as a static site in
    `out`, like `zoo hub site`: an index, a page per repository and revision, and each
    revision compared with the one before. Licenses are judged by `policy`, signatures
    checked with `trusted_keys` (and the policy's). A site written there before is
    replaced; any other folder is refused.

    Example:
        >>> site = zoo.write_site("/srv/share/zoo-site", "/srv/share/zoo-hub")
        >>> site.path / "index.html", site.pages
    """
    from zoo.hub.pages.catalog import Catalog, read_trust
    from zoo.hub.pages.site import write_site as write
    from zoo.paths import default_hub_root

    read, keys = read_trust(optional_path(policy, "policy"),
                            [as_path(key, "trusted key") for key in trusted_keys])
    root = hub_folder(hub) if hub is not None else default_hub_root()
    return write(Catalog(root, read), output_path(out), keys, progress)


def mirror(ref: str, hub: PathLike, *, progress: Callable[[str], None] | None = None
           ) -> "MirrorResult":
    """Copy a Hub repository (hf://OWNER/NAME[@REV]) into a folder hub commit for
    commit, like `zoo hub mirror`; a re-run fetches only what is new.

    Example:
        >>> result = zoo.mirror("hf://keras/resnet_18_imagenet", "/srv/mirror")
        >>> result.new_commits, result.refs
    """
    from zoo.hub.mirror import mirror as mirror_repo

    return mirror_repo(as_ref(ref), hub_folder(hub), progress)


def verify_cache() -> Iterator["CacheProblem"]:
    """Every damaged blob or snapshot in the pull cache ($ZOO_CACHE); changes nothing.

    Example:
        >>> damaged = list(zoo.verify_cache())
    """
    from zoo.hub.cache import verify_cache as verify

    return verify()


def clean_cache() -> list[Path]:
    """Remove damaged items, downloads left by killed pulls and unused blobs from the
    pull cache; returns what was removed.

    Example:
        >>> removed = zoo.clean_cache()
    """
    from zoo.hub.cache import clean_cache as clean

    return clean()


def progress_bars(enabled: bool) -> None:
    """Show or hide download and upload progress bars (huggingface_hub's tqdm bars).

    Example:
        >>> zoo.progress_bars(False)
    """
    from zoo.hub.hf import set_progress

    set_progress(enabled)
