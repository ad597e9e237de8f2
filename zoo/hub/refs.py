"""The hub reference grammar, in one place.

    [OWNER/]NAME[@REV]                 the default hub ($ZOO_HOME/hub)
    file:///path/to/hub/[OWNER/]NAME[@REV]   another folder hub
    hf://OWNER/NAME[@REV]              the Hugging Face Hub, or any server that speaks
                                       its API ($HF_ENDPOINT, e.g. `zoo hub serve`)

NAME and OWNER use Hugging Face's repo-name characters, so the same names work
on the Hub (an hf:// name is checked by huggingface_hub's own rule); REV is a
tag, a branch or a commit sha (default: main).
"""

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urlparse

from zoo.errors import RefError, UnsafePathError
from zoo.paths import default_hub_root
from zoo.trust.repo_paths import check_ref_name

NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9_])?$")
HUB_MARKER = "zoo-hub.json"
EXAMPLE = ("e.g. 'iris', 'acme/iris@v1', 'file:///srv/zoo-hub/acme/iris@main' or "
           "'hf://acme/iris@v1'")


def default_owner() -> str:
    return os.environ.get("ZOO_OWNER", "zoo")


@dataclass(frozen=True)
class HubRef:
    hub_root: Path | None  # None for hf://
    owner: str
    name: str
    revision: str | None = None
    scheme: str = "local"

    @property
    def repo_id(self) -> str:
        return f"{self.owner}/{self.name}"

    def __str__(self) -> str:
        # the hub path quoted, so that '#', '?', '%' or a space in it read back as written
        prefix = {"file": f"file://{quote(str(self.hub_root))}/",
                  "hf": "hf://"}.get(self.scheme, "")
        suffix = f"@{self.revision}" if self.revision else ""
        return f"{prefix}{self.repo_id}{suffix}"

    def at(self, revision: str | None) -> "HubRef":
        return HubRef(self.hub_root, self.owner, self.name, revision, self.scheme)


def _check_repo_id(owner: str, name: str, text: str) -> None:
    """Refuse what the Hub would refuse, by huggingface_hub's own rule."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(f"{owner}/{name}")
    except HFValidationError as exc:
        raise RefError(f"bad Hub repository '{owner}/{name}' in reference '{text}': "
                       f"{str(exc).split(':', 1)[0]}; {EXAMPLE}") from exc


# Hand-written for folder hubs: their names become folder names, so none may
# start with '.' or '_' or hold '..', which validate_repo_id lets through.
def is_name(part: str) -> bool:
    """Whether `part` may be an owner or repository name (a folder of a folder hub)."""
    return NAME.match(part) is not None and ".." not in part


def _check_part(part: str, what: str, text: str) -> str:
    if not is_name(part):
        raise RefError(f"bad {what} '{part}' in reference '{text}': use letters, digits, "
                       f"'-', '_' and '.'; {EXAMPLE}")
    return part


def _split_revision(text: str, body: str) -> tuple[str, str | None]:
    if "@" not in body:
        return body, None
    body, revision = body.rsplit("@", 1)
    try:
        check_ref_name(revision)
    except UnsafePathError:
        raise RefError(f"bad revision '{revision}' in reference '{text}'; {EXAMPLE}") from None
    return body, revision


def _is_hub(path: Path) -> bool:
    try:
        return (path / HUB_MARKER).is_file()
    except OSError:  # a name too long for this file system is no hub
        return False


def parse_ref(text: str) -> HubRef:
    """Parse a reference; refuse empty, malformed or path-escaping ones."""
    text = (text or "").strip()
    if not text:
        raise RefError(f"empty hub reference; {EXAMPLE}")
    if text.startswith("hf://"):
        body, revision = _split_revision(text, text.removeprefix("hf://"))
        parts = body.split("/")
        if len(parts) != 2:
            raise RefError(f"bad reference '{text}': expected hf://OWNER/NAME[@REV]; {EXAMPLE}")
        _check_repo_id(*parts, text)
        return HubRef(None, parts[0], parts[1], revision, "hf")
    if "://" in text:
        try:
            url = urlparse(text)
        except ValueError as exc:  # e.g. an unbalanced '[' reads as a broken IPv6 host
            raise RefError(f"bad reference '{text}': {exc}; {EXAMPLE}") from None
        if url.scheme != "file":
            raise RefError(f"unsupported hub scheme '{url.scheme}://' in '{text}'; "
                           f"known: the default hub, file:// and hf://; {EXAMPLE}")
        if url.netloc not in ("", "localhost"):
            raise RefError(f"file:// references must be local paths, got host '{url.netloc}'")
        body, revision = _split_revision(text, unquote(url.path))
        if any(ord(c) < 32 or c == "\x7f" for c in body):
            raise RefError(f"bad reference {text!r}: control characters in the path")
        path = Path(body)
        if not path.is_absolute() or ".." in path.parts or len(path.parts) < 3:
            raise RefError(f"'{text}' does not name a repository in a folder hub; {EXAMPLE}")
        # file:///hub/OWNER/NAME when /hub is a hub already, else file:///hub/NAME.
        if _is_hub(path.parent.parent) and not _is_hub(path.parent):
            root, owner = path.parent.parent, path.parent.name
        else:
            root, owner = path.parent, default_owner()
        return HubRef(root, _check_part(owner, "owner", text),
                      _check_part(path.name, "name", text), revision, "file")
    body, revision = _split_revision(text, text)
    parts = body.split("/")
    if len(parts) > 2 or any(p == "" for p in parts):
        raise RefError(f"bad reference '{text}': expected [OWNER/]NAME[@REV]; {EXAMPLE}")
    owner, name = parts if len(parts) == 2 else (default_owner(), parts[0])
    return HubRef(default_hub_root(), _check_part(owner, "owner", text),
                  _check_part(name, "name", text), revision)
