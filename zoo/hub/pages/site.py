"""`zoo hub site`: the hub's pages as static files, for a hub on a shared drive.

    index.html                                  the index (search and filters in the page)
    models/OWNER/NAME/index.html                the model page at the head of main
    models/OWNER/NAME/SHA.html                  every listed revision's page
    models/OWNER/NAME/compare/OLD...NEW.html    each revision against the one before it
    _static/style.css, _static/search.js

Links are relative, so the folder can be opened from disk or put behind any web
server. The site is written into a staging folder and renamed into place: a
failure leaves the previous site (or nothing), never half of one. A folder that
holds something other than a site written here is not replaced, and the site is
never written inside the hub (the only copy of what was published) nor around it.
"""

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from zoo.errors import ZooError, first_line
from zoo.files import staged_folder
from zoo.hub.pages.catalog import Catalog
from zoo.hub.pages.render import STATIC_FILES, Pages, static_file

MARKER = ".zoo-site"  # in every site written here; only such a folder is replaced
STATIC_FOLDER = "_static"
MODELS = "models"  # the repositories' pages, apart from the site's own files


class StaticLinks:
    """Relative links from a page `depth` folders below the site's root."""

    endpoint = None  # no Hub API: the snippets name the folder hub

    def __init__(self, depth: int, compares: set[tuple[str, str, str, str]]):
        self.prefix = "../" * depth
        self.compares = compares

    def index(self) -> str:
        return f"{self.prefix}index.html"

    def model(self, owner: str, name: str, sha: str | None = None) -> str:
        return f"{self.prefix}{MODELS}/{owner}/{name}/{sha or 'index'}.html"

    def compare(self, owner: str, name: str, old: str, new: str) -> str | None:
        known = (owner, name, old, new) in self.compares
        return f"{self.prefix}{MODELS}/{owner}/{name}/compare/{old}...{new}.html" \
            if known else None

    def static(self, file: str) -> str:
        return f"{self.prefix}{STATIC_FOLDER}/{file}"


@dataclass(frozen=True)
class SiteResult:
    path: Path
    repositories: int
    pages: int


def write_site(catalog: Catalog, out: Path, trusted_keys: tuple[Path, ...] = (),
               progress: Callable[[str], None] | None = None) -> SiteResult:
    """Write every page of the catalog's hub into `out` (replacing a site written
    there before); ZooError if `out` holds anything else."""
    out = Path(out)
    hub = catalog.hub.root.resolve()
    if out.resolve().is_relative_to(hub) or hub.is_relative_to(out.resolve()):
        raise ZooError(f"{out} is inside the hub at {hub} or holds it; write the site "
                       "to a folder outside the hub")
    if os.path.lexists(out) and not (out.is_dir() and not out.is_symlink()
                                     and (not any(out.iterdir()) or (out / MARKER).is_file())):
        raise ZooError(f"{out} exists and is not a site `zoo hub site` wrote; choose a new "
                       "or empty folder (a site written there before is replaced)")
    pages = Pages(catalog, trusted_keys)
    repos = list(catalog.walk())
    compares = {(e.owner, e.name, older.sha, newer.sha) for e, revisions in repos
                for newer, older in zip(revisions, revisions[1:])}
    written = 0
    with staged_folder(out, replace=True) as staging:
        def write(relative: str, html: str) -> None:
            nonlocal written
            target = staging / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(html, encoding="utf-8")
            written += 1

        root = StaticLinks(0, compares)  # each page's path is its link from the root
        write(root.index(), pages.index(root))
        at_model, at_compare = StaticLinks(3, compares), StaticLinks(4, compares)
        for entry, revisions in repos:
            owner, name = entry.owner, entry.name
            if progress:
                progress(f"{entry.repo_id}: {len(revisions)} revision(s)")
            write(root.model(owner, name), pages.model(at_model, owner, name))
            for revision in revisions:
                write(root.model(owner, name, revision.sha),
                      pages.model(at_model, owner, name, revision.sha))
            for newer, older in zip(revisions, revisions[1:]):
                try:
                    html = pages.compare(at_compare, owner, name, older.sha, newer.sha)
                except ZooError as exc:  # a revision without a readable card: say so there
                    html = pages.error(at_compare, 404, first_line(exc))
                write(root.compare(owner, name, older.sha, newer.sha), html)
        (staging / STATIC_FOLDER).mkdir()
        for name in STATIC_FILES:
            (staging / STATIC_FOLDER / name).write_bytes(static_file(name))
        (staging / MARKER).write_text("written by zoo hub site\n")
    return SiteResult(out.absolute(), len(repos), written)
