"""The card's dataclasses and `card.v1.json` cannot drift apart.

Every `Record` reachable from `Card` is checked against the schema object that
describes it: the same fields by JSON name, the same nesting (a record field is
an object in the schema, a list an array, a dict an object of values) and the
same primitive types. The `required` rule the code follows:

- every field without a default is required (`Record.from_json` cannot build a
  record without it, so a card the schema accepts must have it), and
- the schema requires nothing else but fields the zoo always writes (metadata
  `always`): a card the zoo writes always validates, while fields added to a
  record later, like `Lineage.cut_layer`, may be absent from older cards.
"""

import dataclasses
import json
import types
import typing
from importlib import resources
from typing import Any

from zoo.cards.card import Card, DistributionRecord, FeatureCacheRecord, FinetunePhase
from zoo.cards.records import Record, json_name

JSON_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean"}


def card_schema() -> dict[str, Any]:
    return json.loads(resources.files("zoo.cards").joinpath("schema/card.v1.json").read_text())


def resolved(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """The node behind a `$ref`, and the one non-null choice of an `anyOf` (T or null)."""
    while True:
        if ref := node.get("$ref"):
            node = root
            for part in ref.removeprefix("#/").split("/"):
                node = node[part]
        elif choices := [c for c in node.get("anyOf", []) if c.get("type") != "null"]:
            if len(choices) != 1:
                return node
            node = choices[0]
        else:
            return node


def without_none(hint: Any) -> Any:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return args[0] if len(args) == 1 else hint
    return hint


def fields_by_json_name(cls: type[Record]) -> dict[str, tuple[dataclasses.Field, Any]]:
    hints = typing.get_type_hints(cls)
    return {f.metadata.get("json", f.name): (f, hints[f.name])
            for f in dataclasses.fields(cls) if f.name != "extra"}


def has_default(f: dataclasses.Field) -> bool:
    return f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING


def drift(cls: type[Record], node: dict[str, Any], root: dict[str, Any],
          where: str = "card") -> list[str]:
    """Every way `cls` and its schema object disagree, nested records included."""
    node = resolved(node, root)
    fields, properties = fields_by_json_name(cls), node.get("properties", {})
    problems = [f"{where}.{name}: a field of {cls.__name__} the schema does not describe"
                for name in fields.keys() - properties.keys()]
    problems += [f"{where}.{name}: in the schema, not a field of {cls.__name__}"
                 for name in properties.keys() - fields.keys()]
    required = set(node.get("required", []))
    needed = {name for name, (f, _) in fields.items() if not has_default(f)}
    written = needed | {name for name, (f, _) in fields.items() if f.metadata.get("always")}
    problems += [f"{where}.{name}: has no default but the schema does not require it"
                 for name in sorted(needed - required)]
    problems += [f"{where}.{name}: required by the schema but the zoo may leave it out"
                 for name in sorted(required - written)]
    for name in sorted(fields.keys() & properties.keys()):
        problems += type_drift(fields[name][1], properties[name], root, f"{where}.{name}")
    return problems


def type_drift(hint: Any, node: dict[str, Any], root: dict[str, Any], where: str) -> list[str]:
    """How a field's type and its schema node disagree (records recursively)."""
    hint, node = without_none(hint), resolved(node, root)
    origin = typing.get_origin(hint)
    kinds = node.get("type", [])
    kinds = [kinds] if isinstance(kinds, str) else kinds
    if isinstance(hint, type) and issubclass(hint, Record):
        if "object" not in kinds:
            return [f"{where}: a {hint.__name__} record, but the schema's is not an object"]
        return drift(hint, node, root, where)
    if origin is list:
        if "array" not in kinds:
            return [f"{where}: a list, but the schema's is not an array"]
        (item,) = typing.get_args(hint)
        return type_drift(item, node["items"], root, f"{where}[]") if "items" in node else []
    if origin is dict:
        if "object" not in kinds:
            return [f"{where}: a dict, but the schema's is not an object"]
        _, value = typing.get_args(hint)
        values = node.get("additionalProperties")
        return type_drift(value, values, root, f"{where}{{}}") if isinstance(values, dict) \
            else []
    if hint in JSON_TYPES:
        wanted = JSON_TYPES[hint]
        if kinds and wanted not in kinds:
            return [f"{where}: {hint.__name__} in the record, {kinds} in the schema"]
        given = node.get("enum", []) + ([node["const"]] if "const" in node else [])
        if any(type(value) is not hint for value in given):
            return [f"{where}: {hint.__name__} in the record, but the schema allows {given}"]
    return []


def records_reachable(cls: type[Record], seen: set[type] | None = None) -> set[type]:
    seen = seen if seen is not None else set()
    seen.add(cls)
    for _, hint in fields_by_json_name(cls).values():
        stack = [hint]
        while stack:
            hint = stack.pop()
            if isinstance(hint, type) and issubclass(hint, Record) and hint not in seen:
                records_reachable(hint, seen)
            stack += typing.get_args(hint)
    return seen


def test_the_card_dataclasses_and_the_schema_describe_the_same_card():
    assert drift(Card, card_schema(), card_schema()) == []


def test_the_check_walks_every_record_down_to_the_finetune_phases():
    reachable = records_reachable(Card)
    assert {FinetunePhase, FeatureCacheRecord, DistributionRecord} <= reachable
    assert len(reachable) >= 15


@dataclasses.dataclass(kw_only=True)
class Collar(Record):
    colour: str


@dataclasses.dataclass(kw_only=True)
class Pet(Record):
    name: str
    kind: str = dataclasses.field(metadata=json_name("class"))
    age: int | None = None
    collars: list[Collar] = dataclasses.field(default_factory=list)


PET_SCHEMA = {
    "type": "object",
    "required": ["name", "class"],
    "properties": {
        "name": {"type": "string"},
        "class": {"type": "string"},
        "age": {"type": ["integer", "null"]},
        "collars": {"type": "array", "items": {"$ref": "#/$defs/collar"}},
    },
    "$defs": {"collar": {"type": "object", "required": ["colour"],
                         "properties": {"colour": {"type": "string"}}}},
}


def changed(schema: dict, path: str, value: Any = None, *, delete: bool = False) -> dict:
    """A copy of `schema` with the node at `path` ('a/b/c') replaced or deleted."""
    schema = json.loads(json.dumps(schema))
    *parents, last = path.split("/")
    node = schema
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if delete:
        del node[last]
    else:
        node[last] = value
    return schema


def test_a_matching_pair_has_no_drift():
    assert drift(Pet, PET_SCHEMA, PET_SCHEMA) == []


def test_a_field_only_the_record_has_is_drift():
    schema = changed(PET_SCHEMA, "properties/age", delete=True)
    assert drift(Pet, schema, schema) == ["card.age: a field of Pet the schema does not describe"]


def test_a_property_only_the_schema_has_is_drift():
    schema = changed(PET_SCHEMA, "$defs/collar/properties/size", {"type": "integer"})
    assert drift(Pet, schema, schema) == ["card.collars[].size: in the schema, not a field of "
                                          "Collar"]


def test_a_required_rule_broken_either_way_is_drift():
    loose = changed(PET_SCHEMA, "required", ["name"])
    assert drift(Pet, loose, loose) == [
        "card.class: has no default but the schema does not require it"]
    strict = changed(PET_SCHEMA, "required", ["name", "class", "age"])
    assert drift(Pet, strict, strict) == [
        "card.age: required by the schema but the zoo may leave it out"]


def test_a_nested_type_that_differs_is_drift():
    not_a_list = changed(PET_SCHEMA, "properties/collars", {"$ref": "#/$defs/collar"})
    assert drift(Pet, not_a_list, not_a_list) == [
        "card.collars: a list, but the schema's is not an array"]
    not_a_record = changed(PET_SCHEMA, "$defs/collar", {"type": "string"})
    assert drift(Pet, not_a_record, not_a_record) == [
        "card.collars[]: a Collar record, but the schema's is not an object"]
    not_a_number = changed(PET_SCHEMA, "properties/age", {"type": "string"})
    assert drift(Pet, not_a_number, not_a_number) == [
        "card.age: int in the record, ['string'] in the schema"]
