"""The hub's pages as an ASGI app beside olah's Hub API, in the same server.

`with_pages(api, pages)` answers the page routes itself and passes every other
request to `api` (olah behind its guard):

    /                               the index (?q= &license= &kind= &allowed=1)
    /OWNER/NAME                     the model page (?rev= a tag, branch or sha)
    /OWNER/NAME/compare/OLD...NEW   what changed between two revisions
    /-/static/FILE                  the stylesheet and the search box's script

Paths are checked by the same grammars as the API's (one percent-decoding, no
`..`, encoded separators or control characters); only GET and HEAD are served.
Pages are rendered in a worker thread, one at a time, so the API stays answered.
Every page is sent with a Content-Security-Policy that runs no inline script.
"""

import re
import threading
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from zoo.errors import RefError, UnsafePathError, ZooError, first_line
from zoo.hub.olah_guard import Refused, decode_segment
from zoo.hub.pages.render import FILTERS, STATIC_FILES, Pages, ServedLinks, static_file
from zoo.hub.refs import is_name
from zoo.trust.repo_paths import check_ref_name

RESERVED_OWNERS = frozenset({"api", "-"})  # the Hub API's and the pages' own prefixes
MAX_QUERY_VALUE = 200
HOST = re.compile(r"[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]{2,45}\](:[0-9]{1,5})?")
SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'none'; script-src 'self'; style-src 'self' "
     b"'unsafe-inline'; img-src 'self' data:; form-action 'self'; base-uri 'none'; "
     b"frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]

App = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def page_route(raw_path: bytes) -> tuple[str, ...] | None:
    """The page a raw request path names: ("index",), ("static", FILE),
    ("model", OWNER, NAME) or ("compare", OWNER, NAME, OLD, NEW); None if it is not
    a page path (the API's, or nothing). UnsafePathError for a page path with a
    revision outside the grammar."""
    if raw_path == b"/":
        return ("index",)
    try:
        segments = [decode_segment(raw) for raw in raw_path[1:].split(b"/")]
    except Refused:
        return None
    if len(segments) == 3 and segments[:2] == ["-", "static"] and segments[2] in STATIC_FILES:
        return ("static", segments[2])
    if len(segments) not in (2, 4) or segments[0] in RESERVED_OWNERS \
            or not (is_name(segments[0]) and is_name(segments[1])):
        return None
    if len(segments) == 2:
        return ("model", *segments)
    if segments[2] != "compare" or "..." not in segments[3]:
        return None
    old, new = segments[3].split("...", 1)
    check_ref_name(old)
    check_ref_name(new)
    return ("compare", segments[0], segments[1], old, new)


class PageServer:
    """Renders pages for requests `page_route` accepts; `endpoint` is the server's own
    address, for requests that name no usable Host."""

    def __init__(self, pages: Pages, endpoint: str):
        self.pages = pages
        self.links = ServedLinks(endpoint)
        self._lock = threading.Lock()  # the catalog's kept readings are not shared safely

    def links_for(self, host: bytes | None) -> ServedLinks:
        """Links whose snippets name the address the browser used (another machine
        reaches a server on 0.0.0.0 by its own name for it)."""
        text = (host or b"").decode("ascii", "replace")
        return ServedLinks(f"http://{text}") if HOST.fullmatch(text) else self.links

    def render(self, route: tuple[str, ...], query: dict[str, str],
               host: bytes | None = None) -> tuple[int, str]:
        links = self.links_for(host)
        with self._lock:
            try:
                if route[0] == "index":
                    return 200, self.pages.index(links, query)
                if route[0] == "model":
                    revision = query.get("rev") or None
                    if revision is not None:
                        check_ref_name(revision)
                    return 200, self.pages.model(links, route[1], route[2], revision)
                return 200, self.pages.compare(links, *route[1:])
            except (RefError, UnsafePathError) as exc:
                return 404, self.pages.error(links, 404, first_line(exc))
            except ZooError as exc:
                return 400, self.pages.error(links, 400, first_line(exc))


def with_pages(api: App, server: PageServer) -> App:
    """An ASGI app answering page routes with `server` and the rest with `api`."""
    from starlette.concurrency import run_in_threadpool

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await api(scope, receive, send)
        raw_path = (scope.get("raw_path") or scope["path"].encode()).split(b"?", 1)[0]
        try:
            route = page_route(raw_path)
        except UnsafePathError:
            route = ("invalid",)
        if route is None:
            return await api(scope, receive, send)
        head = scope["method"] == "HEAD"
        if scope["method"] not in ("GET", "HEAD"):
            return await _send(send, 405, b"read-only", "text/plain; charset=utf-8", head,
                               [(b"allow", b"GET, HEAD")])
        if route[0] == "static":
            return await _send(send, 200, static_file(route[1]), STATIC_FILES[route[1]], head)
        if route[0] == "invalid":
            status, html = 404, server.pages.error(server.links, 404,
                                                    "revision outside the revision grammar")
        else:
            host = dict(scope.get("headers") or []).get(b"host")
            status, html = await run_in_threadpool(server.render, route,
                                                   _query(scope.get("query_string", b"")), host)
        await _send(send, status, html.encode("utf-8"), "text/html; charset=utf-8", head)

    return app


def _query(raw: bytes) -> dict[str, str]:
    """The page parameters of a query string, each bounded; others are ignored."""
    wanted = {*FILTERS, "rev"}
    return {key: value[:MAX_QUERY_VALUE] for key, value
            in parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True) if key in wanted}


async def _send(send: Any, status: int, body: bytes, content_type: str, head: bool,
                extra: list[tuple[bytes, bytes]] | None = None) -> None:
    headers = [(b"content-type", content_type.encode()),
               (b"content-length", str(len(body)).encode()), *SECURITY_HEADERS, *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})
