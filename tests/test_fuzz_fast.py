"""Property-based fuzzing of the grammars that read what a user or a hub wrote:
references, Git LFS pointers, head specs and cards. Whatever the input, each
parser returns a well-formed value or raises one of the zoo's own errors; any
other exception would reach the user as a crash instead of one line. No
TensorFlow here; the whole file runs in a few seconds."""

import copy
import json
import re
from typing import Any

import pytest
from hypothesis import example, given, settings
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


def mostly(good: st.SearchStrategy, bad: st.SearchStrategy) -> st.SearchStrategy:
    """`good` three times in four, else `bad`: inputs near the valid ones, where
    parsers go wrong, with the accepting side exercised too."""
    return st.integers(1, 4).flatmap(lambda roll: bad if roll == 1 else good)


# --- references ------------------------------------------------------------------

REF_PIECES = st.sampled_from([
    "iris", "acme", "zoo", "A-b_c.d", "v1", "main", "refs/tags/v1", "a" * 96, "é", "a b",
    ".", "..", "", "-x", "x-", "_x", "x.lock", "%2e%2e", "%2F", "%00", "%", "[", "]", ":",
    "~", "\\", "\x00", "\n", "localhost", "::1",
])
REF_SEPARATORS = st.sampled_from(["/", "@", "//", "/../", "@@", ":"])
REF_SCHEMES = st.sampled_from(["", "hf://", "file://", "file:///", "file://localhost/",
                               "file://host/", "file://[", "s3://", "HF://", " ", "hf:/"])
name_like = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,8}[A-Za-z0-9_]?", fullmatch=True)
revision_like = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9._/-]{0,12}", fullmatch=True)
REF_PART = mostly(name_like, REF_PIECES | st.text(max_size=4))


@st.composite
def near_refs(draw: st.DrawFn) -> str:
    """SCHEME [OWNER/]NAME [@REV], each part sometimes odd, sometimes run together."""
    parts = [draw(REF_PART) for _ in range(draw(st.integers(1, 3)))]
    text = draw(REF_SCHEMES) + draw(mostly(st.just("/"), REF_SEPARATORS)).join(parts)
    if draw(st.booleans()):
        text += "@" + draw(mostly(revision_like, REF_PIECES | st.text(max_size=4)))
    return text


def check_ref(text: str) -> None:
    ref = outcome(parse_ref, text)
    if ref is REFUSED:
        return
    assert isinstance(ref, HubRef)
    for part in (ref.owner, ref.name):  # both become folder names in a folder hub
        assert part and "/" not in part and part not in (".", "..") and "\x00" not in part
    assert ref.revision is None or ".." not in ref.revision.split("/")
    assert ref.hub_root is None or "\x00" not in str(ref.hub_root)
    if ref.scheme != "file":
        assert parse_ref(str(ref)) == ref  # the spelling the zoo prints reads back


def not_a_url(text: str) -> bool:
    body = text.strip()
    return "://" not in body or body.startswith("hf://")


@settings(max_examples=150, deadline=None)
@given((st.text(max_size=40) | near_refs()).filter(not_a_url))
def test_default_hub_and_hf_references_parse_to_a_safe_ref_that_reads_back_or_refuse(
        text: str) -> None:
    check_ref(text)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=40) | near_refs())
@example("A://[")
@example("file://[/x/y/z")
@example("file:///" + "a" * 300 + "/b/c")
@example("file:///x/%00/y/z")
def test_any_reference_with_a_scheme_parses_to_a_safe_ref_or_refuses(text: str) -> None:
    check_ref(text)


# --- Git LFS pointers ------------------------------------------------------------

OID_LINES = mostly(st.text("0123456789abcdef", min_size=64, max_size=64), st.one_of(
    st.text("0123456789abcdefABCDEF", min_size=60, max_size=68),
    st.sampled_from(["/etc/passwd", "../../x", "", "g" * 64, "0" * 64 + "\x00"]),
    st.text(max_size=70),
)).map(lambda oid: f"oid sha256:{oid}")
SIZE_LINES = mostly(st.integers(0, 2 ** 63), st.one_of(
    st.integers(2 ** 63, 2 ** 70), st.integers(-5, -1),
    st.sampled_from(["abc", "", "01", "1.5", "1e3", " 1", "²", "٣", "0x10", "9" * 40]),
    st.text(max_size=8),
)).map(lambda size: f"size {size}")
SPEC_LINES = mostly(st.just(SPEC), st.sampled_from([SPEC + " ", SPEC.upper(), SPEC[:-1],
                                                    SPEC + "/v2", "version"]))
EXTRA_LINES = st.sampled_from(["", "ext-0-foo sha256:" + "0" * 64, "size 1", "oid x"])


@st.composite
def near_pointers(draw: st.DrawFn) -> bytes:
    """Pointer files made of the spec's lines, each sometimes wrong, reordered,
    joined by the wrong newline or followed by more lines."""
    lines = [draw(SPEC_LINES), draw(OID_LINES), draw(SIZE_LINES)]
    if draw(st.integers(1, 6)) == 1:
        lines[1:] = draw(st.permutations(lines[1:]))
    if draw(st.integers(1, 6)) == 1:
        lines += draw(st.lists(EXTRA_LINES, min_size=1, max_size=2))
    newline = draw(mostly(st.just("\n"), st.sampled_from(["\r\n", "\r", "\n\n"])))
    text = newline.join(lines) + draw(mostly(st.sampled_from(["\n", ""]),
                                             st.sampled_from(["\n\n", " ", "\x00"])))
    data = text.encode()
    if draw(st.integers(1, 6)) == 1:  # bytes that are no text at all, somewhere inside
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=4)) + data[at:]
    return data


@settings(max_examples=250, deadline=None)
@given(st.binary(max_size=200) | near_pointers())
@example(lfs_pointer("0" * 64, 0).encode())
@example(lfs_pointer("0" * 64, 1).encode()[:-1])
@example(b"version https://git-lfs.github.com/spec/v1\noid sha256:/etc/passwd\nsize 1\n")
def test_lfs_pointer_parser_accepts_only_strict_pointers_or_refuses(data: bytes) -> None:
    parsed = outcome(parse_lfs_pointer, data)
    if parsed is REFUSED or parsed is None:
        return
    oid, size = parsed
    assert isinstance(oid, str) and re.fullmatch(r"[0-9a-f]{64}", oid), oid
    assert type(size) is int and size >= 0, size
    assert data in (lfs_pointer(oid, size).encode(), lfs_pointer(oid, size).encode()[:-1])


# --- head specs ------------------------------------------------------------------

ODD_NUMBERS = st.one_of(
    st.integers(2 ** 16, 2 ** 40).map(str),
    st.sampled_from(["", "-1", "0", "007", "1.5", "1e-5", ".5", "5.", "nan", "inf", "-inf",
                     "1e999", "²", "٣", "１２", "1_000", " 4", "4 ", "0x10", "9" * 5000]),
    st.floats().map(repr),
)
WHOLE = mostly(st.integers(1, 70).map(str), ODD_NUMBERS)
RATE = mostly(st.floats(0, 1, exclude_max=True).map(str), ODD_NUMBERS)
ACTIVATION = mostly(st.sampled_from(ACTIVATIONS), st.sampled_from(["softplus", "", "RELU"]))
WELL_FORMED_ITEMS = st.one_of(
    st.sampled_from(["gap", "gmp", "flatten", "maxpool"]),
    st.builds("dense:{}:{}".format, WHOLE, ACTIVATION),
    st.builds("conv:{}:{}:{}".format, WHOLE, WHOLE, ACTIVATION),
    st.builds("maxpool:{}".format, WHOLE),
    st.builds("dropout:{}".format, RATE),
)
ODD_ITEMS = st.one_of(
    st.sampled_from(["gap:1", "", "lstm:4", "DENSE:4", "dense", "conv:8", "dense:4:relu:x"]),
    st.text(max_size=10),
)
HEAD_ITEM = mostly(WELL_FORMED_ITEMS, ODD_ITEMS)
near_heads = st.builds(lambda items, last: ",".join(items + last),
                       st.lists(HEAD_ITEM, max_size=5),
                       mostly(st.builds("dense:{}".format, WHOLE).map(lambda x: [x]),
                              st.just([])))


@settings(max_examples=250, deadline=None)
@given(near_heads | st.text(max_size=40))
@example("gap," * (MAX_ITEMS - 1) + "dense:1")
@example("gap," * MAX_ITEMS + "dense:1")
@example(f"conv:{MAX_UNITS}:{MAX_KERNEL},maxpool:{MAX_KERNEL},dense:{MAX_UNITS}")
@example(f"dense:{MAX_UNITS + 1}")
@example("dense:²")
@example("dropout:1e-7,dense:2")
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


@settings(max_examples=80, deadline=None)
@given(json_like)
def test_card_validator_on_any_json_returns_a_card_or_refuses(data: Any) -> None:
    card = outcome(card_from_json, data)
    assert card is REFUSED or isinstance(card, Card)


@settings(max_examples=120, deadline=None)
@given(MUTATIONS)
def test_card_validator_on_mutated_valid_cards_returns_a_card_or_refuses(
        valid_card: dict, mutations: list) -> None:
    card = outcome(card_from_json, mutate(valid_card, mutations))
    assert card is REFUSED or isinstance(card, Card)
