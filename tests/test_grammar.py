"""The one-line grammars, without a model: heads, sizes, layer ranges and the
rebuild options, reference spellings."""

import pytest
from zoo.cards.card import LayerEntry, LayerMap
from zoo.cards.layer_map import resolve_layer

from zoo.build.heads import (
    MAX_ITEMS,
    MAX_KERNEL,
    MAX_UNITS,
    head_layer_names,
    head_to_string,
    parse_head,
)
from zoo.build.rebuild import RebuildSpec, frozen_set, parse_size
from zoo.errors import LayerNotFound, RefError, ZooError
from zoo.hub.refs import parse_ref


@pytest.mark.parametrize("spec, canonical", [
    ("dense:4:softmax", "dense:4:softmax"),
    ("dense:4", "dense:4:linear"),
    (" gap , dense:3:softmax ", "gap,dense:3:softmax"),
    ("dropout:0.20,dense:64:relu,dense:4:softmax", "dropout:0.2,dense:64:relu,dense:4:softmax"),
    ("conv:32:3:relu,maxpool,flatten,dense:2:softmax",
     "conv:32:3:relu,maxpool:2,flatten,dense:2:softmax"),
    ("gmp,dropout:0,dense:1:sigmoid", "gmp,dropout:0,dense:1:sigmoid"),
])
def test_head_spec_round_trips_through_its_canonical_string(spec, canonical):
    items = parse_head(spec)
    assert head_to_string(items) == canonical
    assert parse_head(canonical) == items  # the string written to a card reads back the same


@pytest.mark.parametrize("spec, why", [
    ("", "empty head spec"),
    (" , ", "empty head spec"),
    ("gap", "must end with a dense layer"),
    ("dense:4:softmax,dropout:0.1", "must end with a dense layer"),
    ("dense:0", "UNITS must be a whole number >= 1"),
    ("dense:4.5", "UNITS must be a whole number >= 1"),
    ("dense:four", "UNITS must be a whole number >= 1"),
    ("dense:4:softplus", "unknown activation 'softplus'"),
    ("dense", "expected dense:UNITS[:ACTIVATION]"),
    ("dense:4:relu:x", "expected dense:UNITS[:ACTIVATION]"),
    ("conv:8,dense:2", "expected conv:FILTERS:KERNEL[:ACTIVATION]"),
    ("conv:8:0,dense:2", "KERNEL must be a whole number >= 1"),
    ("dropout:1,dense:2", "0 <= RATE < 1"),
    ("dropout:-0.1,dense:2", "0 <= RATE < 1"),
    ("dropout:lots,dense:2", "0 <= RATE < 1"),
    ("maxpool:0,dense:2", "SIZE must be a whole number >= 1"),
    ("maxpool:2:2,dense:2", "expected maxpool[:SIZE]"),
    ("gap:2,dense:2", "'gap' takes no arguments"),
    ("lstm:4,dense:2", "unknown kind 'lstm'"),
])
def test_bad_head_specs_are_refused_with_an_example(spec, why):
    with pytest.raises(ZooError) as caught:
        parse_head(spec)
    assert why in str(caught.value)
    assert "e.g. 'dense:4:softmax'" in str(caught.value)


WHOLE_UNITS = f"UNITS must be a whole number >= 1 and <= {MAX_UNITS}"


@pytest.mark.parametrize("spec, why", [
    ("dense:99999999999", WHOLE_UNITS),  # refused here, not out of memory at build time
    (f"dense:{MAX_UNITS + 1}", WHOLE_UNITS),
    ("dense:" + "9" * 5000, WHOLE_UNITS),  # int() of so many digits raises ValueError
    ("dense:²", WHOLE_UNITS),  # str.isdigit() says yes, int() says no
    ("dense:٣", WHOLE_UNITS),  # an Arabic-Indic digit, which int() would read as 3
    ("dense:１２", WHOLE_UNITS),
    (f"conv:{MAX_UNITS + 1}:3,dense:2", f"FILTERS must be a whole number >= 1 and <= {MAX_UNITS}"),
    (f"conv:8:{MAX_KERNEL + 1},dense:2", f"KERNEL must be a whole number >= 1 and <= {MAX_KERNEL}"),
    ("conv:8:³,dense:2", "KERNEL must be a whole number"),
    (f"maxpool:{MAX_KERNEL + 1},dense:2", f"SIZE must be a whole number >= 1 and <= {MAX_KERNEL}"),
    ("maxpool:²,dense:2", "SIZE must be a whole number"),
    ("dropout:nan,dense:2", "0 <= RATE < 1"),
    ("dropout:inf,dense:2", "0 <= RATE < 1"),
    ("dropout:1e999,dense:2", "0 <= RATE < 1"),
    ("dropout:0.٥,dense:2", "0 <= RATE < 1"),
    ("dropout:0_5,dense:2", "0 <= RATE < 1"),
    ("gap," * MAX_ITEMS + "dense:2", f"more than {MAX_ITEMS}"),
])
def test_head_numbers_are_ascii_digits_within_bounds(spec, why):
    with pytest.raises(ZooError) as caught:
        parse_head(spec)
    message = str(caught.value)
    assert why in message and "e.g. 'dense:4:softmax'" in message
    assert len(message) < 400  # a 5,000-digit item is quoted back shortened


def test_head_sizes_at_the_bounds_are_accepted():
    items = parse_head(f"conv:{MAX_UNITS}:{MAX_KERNEL},maxpool:{MAX_KERNEL},dense:{MAX_UNITS}")
    assert head_to_string(items) == (f"conv:{MAX_UNITS}:{MAX_KERNEL}:linear,maxpool:{MAX_KERNEL},"
                                     f"dense:{MAX_UNITS}:linear")
    assert len(parse_head("gap," * (MAX_ITEMS - 1) + "dense:2")) == MAX_ITEMS


def test_a_dropout_rate_keeps_its_precision_in_the_canonical_string():
    items = parse_head("dropout:0.123456789,dense:2")
    assert head_to_string(items) == "dropout:0.123456789,dense:2:linear"
    assert parse_head(head_to_string(items)) == items


def test_head_layers_are_named_by_position_and_kind():
    items = parse_head("conv:8:3,gap,dense:2:softmax")
    assert head_layer_names(items) == ["head_0_conv", "head_1_gap", "head_2_dense"]


@pytest.mark.parametrize("text, size", [("96x96", (96, 96)), ("28X28x1", (28, 28, 1))])
def test_input_sizes_parse(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["96", "0x96", "axb", "1x2x3x4", "-1x5", "96x"])
def test_bad_input_sizes_are_refused(text):
    with pytest.raises(ZooError, match="expected HxW or HxWxC"):
        parse_size(text)


# A base network input → hidden1 → hidden2 → species, rebuilt with the top dropped
# and a new dense head: the layer names the freeze options work on.
BASE_MAP = LayerMap(
    layers=[LayerEntry(index=i, name=name, class_name="Dense", output_shape=None, params=0,
                       trainable=True, stage=stage)
            for i, (name, stage) in enumerate([("input", "input"), ("hidden1", "base"),
                                               ("hidden2", "base"), ("species", "base")])],
    cut_points=[], total_params=0, trainable_params=0, non_trainable_params=0)
REBUILT = ["input", "hidden1", "hidden2", "head_0_dense"]


def frozen(**options) -> set[str]:
    return frozen_set(REBUILT, BASE_MAP, RebuildSpec(**options))


@pytest.mark.parametrize("options, expected", [
    ({"freeze_until": "hidden2"}, {"input", "hidden1", "hidden2"}),
    ({"freeze_until": "1"}, {"input", "hidden1"}),  # an index into the base's layer map
    ({"freeze": ("hidden1:hidden2",)}, {"hidden1", "hidden2"}),
    ({"freeze": ("hidden2:",)}, {"hidden2", "head_0_dense"}),
    ({"freeze": (":hidden1",)}, {"input", "hidden1"}),
    ({"freeze": ("hidden2",)}, {"hidden2"}),
    ({"freeze": ("1:1", "head_0_dense")}, {"hidden1", "head_0_dense"}),
    ({"freeze_until": "hidden2", "unfreeze_from": "hidden2"}, {"input", "hidden1"}),
    ({"freeze": (":",), "trainable": ("hidden1:hidden2",)}, {"input", "head_0_dense"}),
])
def test_freeze_options_apply_in_a_fixed_order(options, expected):
    assert frozen(**options) == expected


@pytest.mark.parametrize("options, message", [
    ({"freeze": ("hidden2:hidden1",)}, "the range is empty (hidden1 comes before hidden2)"),
    ({"freeze_until": "species"}, "is not in the rebuilt model (it is above the cut)"),
    ({"freeze": ("-1:",)}, "is not in the rebuilt model (it is above the cut)"),
    ({"unfreeze_from": "hiden2"}, "no layer named 'hiden2'; did you mean hidden2"),
    ({"trainable": ("9:",)}, "--trainable: index 9 is out of range"),
])
def test_freeze_ranges_that_name_nothing_are_refused(options, message):
    with pytest.raises(ZooError) as caught:
        frozen(**options)
    assert message in str(caught.value)


def test_layer_lookup_by_negative_index_and_suggestion():
    assert resolve_layer(BASE_MAP, "-1").name == "species"
    assert resolve_layer(BASE_MAP, 2).name == "hidden2"
    with pytest.raises(LayerNotFound, match="layers are: input, hidden1, hidden2, species"):
        resolve_layer(BASE_MAP, "zzz")


@pytest.mark.parametrize("options, message", [
    ({"cut_at": "hidden1", "drop_top": 1}, "not both"),
    ({"drop_top": -1}, "--drop-top must be 0 or more"),
    ({"freeze": ("a:b:c",)}, "--freeze 'a:b:c': a layer range is A:B"),
    ({"trainable": (" ",)}, "--trainable ' ': a layer range is A:B"),
    ({"head": "dense:x"}, "bad head item 'dense:x'"),
])
def test_rebuild_options_are_refused_before_any_model_is_seen(options, message):
    with pytest.raises(ZooError) as caught:
        RebuildSpec(**options)
    assert message in str(caught.value)


def test_an_empty_rebuild_spec_means_pull_as_published():
    assert RebuildSpec().is_empty
    assert not RebuildSpec(drop_top=0).is_empty


@pytest.mark.parametrize("text, printed", [
    ("iris", "zoo/iris"), (" acme/iris@v1.2 ", "acme/iris@v1.2"),
    ("hf://acme/iris@main", "hf://acme/iris@main"), ("hf://acme/iris", "hf://acme/iris")])
def test_reference_prints_with_its_owner(text, printed):
    ref = parse_ref(text)
    assert str(ref) == printed
    assert parse_ref(printed) == ref


def test_default_owner_comes_from_zoo_owner(monkeypatch):
    monkeypatch.setenv("ZOO_OWNER", "acme")
    ref = parse_ref("iris@v1")
    assert (ref.owner, ref.repo_id, str(ref.at(None))) == ("acme", "acme/iris", "acme/iris")


def test_file_reference_on_localhost_is_local_and_unquoted(tmp_path):
    ref = parse_ref(f"file://localhost{tmp_path}/my%20hub/iris@v2")
    assert (ref.hub_root, ref.name, ref.revision) == (tmp_path / "my hub", "iris", "v2")
    with pytest.raises(RefError, match="must be local paths"):
        parse_ref("file://server/hub/iris")
