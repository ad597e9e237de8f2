"""Typed JSON records: dataclasses that read and write themselves as JSON objects.

The card's pieces are `Record`s. One pair of functions turns JSON into typed
objects and back, driven by the type hints, so no module reads a card by key.
A key a record does not know (written by a newer zoo) lands in `extra` and is
written back unchanged. A field with a default is left out of the JSON while it
is None or empty, unless its metadata says `always` (a meaningful null).
"""

import dataclasses
import types
import typing
from functools import cache
from typing import Any, Self

ALWAYS = {"always": True}


def json_name(name: str, **more: Any) -> dict[str, Any]:
    """Field metadata for a JSON key that is not a Python name (e.g. 'class')."""
    return {"json": name, **more}


@dataclasses.dataclass(kw_only=True)
class Record:
    extra: dict[str, Any] = dataclasses.field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        """The record for a JSON object already validated against the schema."""
        known = _fields(cls)
        kwargs: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in data.items():
            if key in known:
                name, hint = known[key]
                kwargs[name] = _from_json(hint, value)
            else:
                extra[key] = value
        return cls(**kwargs, extra=extra)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if f.name == "extra":
                continue
            value = getattr(self, f.name)
            optional = (f.default is not dataclasses.MISSING
                        or f.default_factory is not dataclasses.MISSING)
            if optional and not f.metadata.get("always") and value in (None, [], {}):
                continue
            out[f.metadata.get("json", f.name)] = _to_json(value)
        out.update(self.extra)
        return out


@cache
def _fields(cls: type) -> dict[str, tuple[str, Any]]:
    hints = typing.get_type_hints(cls)
    return {f.metadata.get("json", f.name): (f.name, hints[f.name])
            for f in dataclasses.fields(cls) if f.name != "extra"}


def _from_json(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return _from_json(inner[0], value) if len(inner) == 1 else value
    if isinstance(hint, type) and issubclass(hint, Record):
        return hint.from_json(value)
    if origin is list:
        (item,) = typing.get_args(hint) or (Any,)
        return [_from_json(item, v) for v in value]
    if origin is dict:
        _, item = typing.get_args(hint) or (str, Any)
        return {k: _from_json(item, v) for k, v in value.items()}
    return value


def _to_json(value: Any) -> Any:
    if isinstance(value, Record):
        return value.to_json()
    if isinstance(value, (list, tuple)):
        return [_to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _to_json(v) for k, v in value.items()}
    return value
