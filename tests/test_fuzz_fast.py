"""Property-based fuzzing of the grammars that read what a user or a hub wrote:
references, Git LFS pointers, head specs and cards. Whatever the input, each
parser returns a well-formed value or raises one of the zoo's own errors; any
other exception would reach the user as a crash instead of one line. No
TensorFlow here; the whole file runs in a few seconds."""

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packages import make_package

from zoo.build.heads import (
    ACTIVATIONS,
    MAX_ITEMS,
    MAX_KERNEL,
    MAX_UNITS,
    head_to_string,
    parse_head,
)
from zoo.cards.card import Card, card_from_json
from zoo.errors import ZooError
from zoo.hub.lfs import SPEC, lfs_pointer, parse_lfs_pointer
from zoo.hub.refs import HubRef, parse_ref

REFUSED = object()  # what `outcome` gives back when the parser raised a ZooError


def outcome(parse: Any, value: Any) -> Any:
    """The parser's result, or REFUSED if it raised one of the zoo's own errors;
    any other exception fails the test with its traceback."""
    try:
        return parse(value)
    except ZooError:
        return REFUSED


# --- references ------------------------------------------------------------------

REF_PIECES = st.sampled_from([
    "iris", "acme", "zoo", "A-b_c.d", "v1", "main", "refs/tags/v1", "a" * 96, "é", "a b",
    ".", "..", "", "-x", "x-", "_x", "x.lock", "%2e%2e", "%2F", "%00", "%", "[", "]", ":",
    "~", "\\", "\x00", "\n", "localhost", "::1",
])
REF_SEPARATORS = st.sampled_from(["/", "@", "//", "/../", "@@", ":"])
REF_SCHEMES = st.sampled_from(["", "hf://", "file://", "file:///", "file://localhost/",
                               "file://host/", "file://[", "s3://", "HF://", " ", "hf:/"])
near_refs = st.builds(lambda scheme, parts: scheme + "".join(parts), REF_SCHEMES,
                      st.lists(REF_PIECES | REF_SEPARATORS | st.text(max_size=3), max_size=8))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40) | near_refs)
def test_reference_parser_returns_a_safe_ref_or_a_ref_error(text: str) -> None:
    ref = outcome(parse_ref, text)
    if ref is REFUSED:
        return
    assert isinstance(ref, HubRef)
    for part in (ref.owner, ref.name):  # both become folder names in a folder hub
        assert part and "/" not in part and part not in (".", "..") and "\x00" not in part
    assert ref.revision is None or ".." not in ref.revision.split("/")


# --- Git LFS pointers ------------------------------------------------------------

OID_LINES = st.one_of(
    st.text("0123456789abcdef", min_size=64, max_size=64),
    st.text("0123456789abcdefABCDEF", min_size=60, max_size=68),
    st.sampled_from(["/etc/passwd", "../../x", "", "g" * 64, "0" * 64 + "\x00"]),
    st.text(max_size=70),
).map(lambda oid: f"oid sha256:{oid}")
SIZE_LINES = st.one_of(
    st.integers(0, 2 ** 70), st.integers(-5, -1),
    st.sampled_from(["abc", "", "01", "1.5", "1e3", " 1", "²", "٣", "0x10", "9" * 40]),
    st.text(max_size=8),
).map(lambda size: f"size {size}")
SPEC_LINES = st.one_of(st.just(SPEC), st.sampled_from([SPEC + " ", SPEC.upper(), SPEC[:-1],
                                                       SPEC + "/v2", "version"]))
EXTRA_LINES = st.sampled_from(["", "ext-0-foo sha256:" + "0" * 64, "size 1", "oid x"])


@st.composite
def near_pointers(draw: st.DrawFn) -> bytes:
    """Pointer files made of the spec's lines, each sometimes wrong, reordered,
    joined by the wrong newline or followed by more lines."""
    lines = [draw(SPEC_LINES), draw(OID_LINES), draw(SIZE_LINES)]
    if draw(st.booleans()):
        lines[1:] = draw(st.permutations(lines[1:]))
    lines += draw(st.lists(EXTRA_LINES, max_size=2))
    newline = draw(st.sampled_from(["\n", "\n", "\r\n", "\r"]))
    text = newline.join(lines) + draw(st.sampled_from(["\n", "", "\n\n", " "]))
    data = text.encode()
    if draw(st.booleans()):  # bytes that are no text at all, somewhere inside
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=4)) + data[at:]
    return data


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=200) | near_pointers())
def test_lfs_pointer_parser_accepts_only_strict_pointers_or_refuses(data: bytes) -> None:
    parsed = outcome(parse_lfs_pointer, data)
    if parsed is REFUSED or parsed is None:
        return
    oid, size = parsed
    assert isinstance(oid, str) and re.fullmatch(r"[0-9a-f]{64}", oid), oid
    assert type(size) is int and size >= 0, size
    assert data in (lfs_pointer(oid, size).encode(), lfs_pointer(oid, size).encode()[:-1])


# --- head specs ------------------------------------------------------------------

NUMBERS = st.one_of(
    st.integers(0, 70).map(str), st.integers(0, 2 ** 40).map(str),
    st.sampled_from(["", "-1", "0", "007", "1.5", "0.2", "1e-5", ".5", "5.", "nan", "inf",
                     "-inf", "1e999", "²", "٣", "１２", "1_000", " 4", "4 ", "0x10", "9" * 5000]),
    st.floats().map(repr),
)
HEAD_ITEMS = st.one_of(
    st.sampled_from(["gap", "gmp", "flatten", "maxpool", "gap:1", ""]),
    st.builds(lambda kind, args: ":".join([kind, *args]),
              st.sampled_from(["dense", "conv", "maxpool", "dropout", "lstm", "DENSE"]),
              st.lists(NUMBERS | st.sampled_from(ACTIVATIONS + ("softplus", "")),
                       max_size=4)),
    st.text(max_size=10),
)
near_heads = st.lists(HEAD_ITEMS, max_size=6).map(",".join)


@settings(max_examples=400, deadline=None)
@given(near_heads | st.text(max_size=40) | st.just("gap," * MAX_ITEMS + "dense:1"))
def test_head_parser_returns_a_bounded_head_that_round_trips_or_refuses(spec: str) -> None:
    items = outcome(parse_head, spec)
    if items is REFUSED:
        return
    assert 1 <= len(items) <= MAX_ITEMS and items[-1].kind == "dense"
    for item in items:
        if item.kind in ("dense", "conv"):
            assert 1 <= item.units <= MAX_UNITS
        if item.kind in ("conv", "maxpool"):
            assert 1 <= item.kernel <= MAX_KERNEL
        assert 0 <= item.rate < 1
    assert parse_head(head_to_string(items)) == items  # what a card records reads back


# --- cards -----------------------------------------------------------------------

json_scalars = (st.none() | st.booleans() | st.integers(-2 ** 70, 2 ** 70) | st.floats()
                | st.text(max_size=12))
json_like = st.recursive(json_scalars, lambda children: st.lists(children, max_size=4)
                         | st.dictionaries(st.text(max_size=12), children, max_size=4),
                         max_leaves=20)


@pytest.fixture(scope="module")
def valid_card(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The JSON of a schema-valid card, as `make_package` writes it."""
    package = make_package(tmp_path_factory.mktemp("fuzz") / "toy")
    data = json.loads((package / "card.json").read_text(encoding="utf-8"))
    assert isinstance(card_from_json(data), Card)
    return data


def places(node: Any, path: tuple = ()) -> list[tuple]:
    """Every place in a JSON value, as the keys and indices that lead to it."""
    found = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            found += places(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += places(value, (*path, i))
    return found


MUTATIONS = st.lists(st.tuples(st.integers(0, 10 ** 6), st.sampled_from(
    ["replace", "delete", "add", "wrap", "duplicate"]), json_like), min_size=1, max_size=3)


def mutate(card: dict, mutations: list[tuple[int, str, Any]]) -> Any:
    """The card with each mutation applied at a place picked by its number: the
    value replaced, deleted, wrapped in a list, its list entry duplicated, or a key
    or entry added inside it."""
    root: list = [copy.deepcopy(card)]  # a holder for the card itself
    for pick, action, value in mutations:
        everywhere = places(root[0])
        *parents, last = (0, *everywhere[pick % len(everywhere)])
        holder = root
        for key in parents:
            holder = holder[key]
        target = holder[last]
        if action == "replace":
            holder[last] = value
        elif action == "delete" and holder is not root:
            del holder[last]
        elif action == "wrap":
            holder[last] = [target]
        elif action == "duplicate" and isinstance(holder, list) and holder is not root:
            holder.append(copy.deepcopy(target))
        elif action == "add" and isinstance(target, dict):
            target[f"extra_{pick % 7}"] = value
        elif action == "add" and isinstance(target, list):
            target.append(value)
    return root[0]


@settings(max_examples=150, deadline=None)
@given(json_like)
def test_card_validator_on_any_json_returns_a_card_or_a_card_error(data: Any) -> None:
    card = outcome(card_from_json, data)
    assert card is REFUSED or isinstance(card, Card)


@settings(max_examples=300, deadline=None)
@given(MUTATIONS)
def test_card_validator_on_mutated_valid_cards_returns_a_card_or_a_card_error(
        valid_card: dict, mutations: list) -> None:
    card = outcome(card_from_json, mutate(valid_card, mutations))
    assert card is REFUSED or isinstance(card, Card)
