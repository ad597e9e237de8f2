"""The hub's pages as HTML: Jinja2 templates with autoescape on, so every value from a
card, a README or git is text on the page, never markup; READMEs are rendered by
markdown-it with raw HTML off (and its link check, which drops `javascript:` and
like URLs). The same pages are served (`zoo hub serve`) and written as files
(`zoo hub site`): only the links differ (`Links`).
"""

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, urlencode

from zoo.errors import RefError
from zoo.hub.pages.catalog import KINDS, Catalog, Entry
from zoo.hub.pages.changes import card_changes
from zoo.hub.pages.layer_svg import layer_map_svg

FRONT_MATTER = re.compile(r"\A---\r?\n.*?\r?\n---\r?\n", re.S)
FILTERS = ("q", "license", "kind", "allowed")  # the index's query parameters
# The pages' own files, with their content types: a stylesheet and the search box's script.
STATIC_FILES = {"style.css": "text/css; charset=utf-8",
                "search.js": "text/javascript; charset=utf-8"}


class Links(Protocol):
    """Where each page is: a served hub's routes, or a static site's files; and the
    Hub API's address for the snippets (None for a static site)."""

    endpoint: str | None

    def index(self) -> str: ...
    def model(self, owner: str, name: str, sha: str | None = None) -> str: ...
    def compare(self, owner: str, name: str, old: str, new: str) -> str | None: ...
    def static(self, file: str) -> str: ...


class ServedLinks:
    """`zoo hub serve`'s routes: the Hugging Face model page path, `?rev=`, compare;
    `endpoint` is the address the browser reached the server at."""

    def __init__(self, endpoint: str):
        self.endpoint = endpoint

    def index(self) -> str:
        return "/"

    def model(self, owner: str, name: str, sha: str | None = None) -> str:
        path = f"/{quote(owner)}/{quote(name)}"
        return f"{path}?{urlencode({'rev': sha})}" if sha else path

    def compare(self, owner: str, name: str, old: str, new: str) -> str | None:
        return f"/{quote(owner)}/{quote(name)}/compare/{quote(old)}...{quote(new)}"

    def static(self, file: str) -> str:
        return f"/-/static/{file}"


def static_file(name: str) -> bytes:
    """One of STATIC_FILES, as shipped in the package."""
    from importlib import resources

    return resources.files("zoo.hub.pages").joinpath("static", name).read_bytes()


@cache
def _environment() -> Any:
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("zoo.hub.pages", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["size"] = human_size
    env.filters["http_url"] = http_url
    return env


@cache
def _markdown() -> Any:
    from markdown_it import MarkdownIt

    # No images: a page fetches nothing from elsewhere (a static site has no CSP header).
    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table") \
        .disable("image")


def readme_html(text: str) -> str:
    """A README's body (front matter left out) as HTML: markdown, raw HTML shown as text,
    images as their markdown text."""
    return _markdown().render(FRONT_MATTER.sub("", text, count=1))


def http_url(url: str | None) -> str:
    """`url` if it is an http(s) address, else "": a card's link is never a script."""
    return url if url and re.match(r"https?://[^\s\x00-\x1f]+$", url, re.I) else ""


def human_size(size: int | None) -> str:
    if size is None:
        return "-"
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:,} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class Snippets:
    """How to get a revision: the CLI, the Python API and huggingface_hub."""

    cli: str
    python: str
    hf: str | None


class Pages:
    """Renders the index, model and compare pages of one catalog."""

    def __init__(self, catalog: Catalog, trusted_keys: tuple[Path, ...] = ()):
        self.catalog = catalog
        self.trusted_keys = tuple(trusted_keys)

    def _render(self, template: str, links: Links, **values: Any) -> str:
        return _environment().get_template(template).render(links=links, **values)

    def index(self, links: Links, query: dict[str, str] | None = None) -> str:
        query = {key: (query or {}).get(key, "") for key in FILTERS}
        entries = self.catalog.heads()
        shown = [e for e in entries if _matches(e, query)]
        here = {(e.owner, e.name) for e in entries}
        return self._render("index.html", links, entries=entries, shown=shown, query=query,
                            here=here, licenses=sorted({e.license for e in entries}), kinds=KINDS,
                            has_policy=self.catalog.has_policy)

    def model(self, links: Links, owner: str, name: str, revision: str | None = None) -> str:
        entry = self.catalog.entry(owner, name, revision)
        revisions = self.catalog.revisions(owner, name)
        card = entry.card
        frozen = card.lineage.frozen_layers if card and card.lineage else []
        picture = layer_map_svg(card.layer_map, frozen=frozen,
                                cut_layer=card.lineage.cut_layer if card.lineage else None) \
            if card else None
        return self._render(
            "model.html", links, entry=entry, card=card, revisions=revisions,
            readme=readme_html(entry.readme), picture=picture,
            ancestors=self.catalog.ancestors(entry),
            descendants=self.catalog.descendants(owner, name),
            checks=self.catalog.checks(entry, self.trusted_keys),
            snippets=self.snippets(entry, links.endpoint), latest=revision is None,
            has_policy=self.catalog.has_policy)

    def compare(self, links: Links, owner: str, name: str, old: str, new: str) -> str:
        before = self.catalog.entry(owner, name, old)
        after = self.catalog.entry(owner, name, new)
        if before.card is None or after.card is None:
            missing = before if before.card is None else after
            raise RefError(f"{owner}/{name}@{missing.sha[:12]} has no readable card to compare"
                           f"{': ' + missing.problem if missing.problem else ''}")
        changes = card_changes(before.card, after.card)
        return self._render("compare.html", links, before=before, after=after, old=old,
                            new=new, changes=changes)

    def error(self, links: Links, status: int, message: str) -> str:
        return self._render("error.html", links, status=status, message=message)

    def snippets(self, entry: Entry, endpoint: str | None) -> Snippets:
        """Pinned to the commit: over the Hub API at `endpoint`, or from the folder."""
        ref = f"{entry.repo_id}@{entry.sha}"
        if endpoint:
            return Snippets(f"HF_ENDPOINT={endpoint} zoo pull hf://{ref}",
                            f'zoo.pull("hf://{ref}")  # with HF_ENDPOINT={endpoint}',
                            f'huggingface_hub.snapshot_download("{entry.repo_id}", '
                            f'revision="{entry.sha}", endpoint="{endpoint}")')
        where = f"file://{quote(str(self.catalog.hub.root))}/{ref}"
        return Snippets(f"zoo pull {where}", f'zoo.pull("{where}")', None)


def _matches(entry: Entry, query: dict[str, str]) -> bool:
    words = query["q"].lower().split()
    text = " ".join([entry.repo_id, entry.license, entry.kind, entry.base or "",
                     *(entry.card.tags if entry.card else []),
                     entry.card.description or "" if entry.card else ""]).lower()
    return (all(word in text for word in words)
            and (not query["license"] or entry.license == query["license"])
            and (not query["kind"] or entry.kind == query["kind"])
            and (not query["allowed"] or bool(entry.policy and entry.policy.allowed)))
