"""The parts the hub's web pages embed, without TensorFlow: the layer map as an SVG
picture (zoo.hub.pages.layer_svg) and what changed between two cards
(zoo.hub.pages.changes). Cards are JSON built by hand, typed by `card_from_json`."""

import copy
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zoo.cards.card import Card, LayerMap, card_from_json
from zoo.hub.pages.changes import Change, card_changes
from zoo.hub.pages.layer_svg import MAX_BOXES, MAX_WIDTH, layer_map_svg

NS = "{http://www.w3.org/2000/svg}"
# Every element the picture may hold: nothing that runs, styles or loads.
EMITTED = {"svg", "title", "g", "rect", "text", "line", "path"}
HOSTILE = ['</text><script>alert(1)</script>', '"><script>alert(2)</script>',
           "x]]><script>alert(3)</script>", "a' onload='alert(4)", "&amp;<!--"]


def layer(index: int, name: str, shape: list, stage: str = "base", cls: str = "Conv2D") -> dict:
    return {"index": index, "name": name, "class": cls, "output_shape": shape,
            "params": 10 * index, "trainable": True, "stage": stage}


def cnn_layers(names: dict[int, str] | None = None) -> list[dict]:
    """A small CNN: input, three conv stages (/2, /4, /8), pooling and a head."""
    names = names or {}
    shapes = [[None, 32, 32, 3], [None, 16, 16, 16], [None, 16, 16, 16], [None, 8, 8, 32],
              [None, 8, 8, 32], [None, 4, 4, 64], [None, 64], [None, 10]]
    default = ["input", "conv1", "block_1", "conv2", "block_2", "block_3", "pool", "head"]
    stages = ["input"] + ["base"] * 6 + ["head"]
    return [layer(i, names.get(i, default[i]), shapes[i], stages[i]) for i in range(8)]


def cnn_cuts(names: dict[int, str] | None = None) -> list[dict]:
    names = names or {}
    return [{"name": names.get(2, "block_1"), "index": 2, "channels": 16, "reduction": 2,
             "kind": "feature_map"},
            {"name": names.get(4, "block_2"), "index": 4, "channels": 32, "reduction": 4,
             "kind": "feature_map"},
            {"name": names.get(5, "block_3"), "index": 5, "channels": 64, "reduction": 8,
             "kind": "feature_map"}]


def card_dict(layers: list[dict] | None = None, cut_points: list[dict] | None = None) -> dict:
    """A schema-valid card as JSON (the shape of tests/packages.py's `make_package`)."""
    layers = cnn_layers() if layers is None else layers
    return {
        "card_version": 1, "name": "toy", "version": "1.0.0", "license": "MIT",
        "authors": ["the tests"], "intended_use": "Testing the hub's pages.",
        "training_data": {"name": "digits"},
        "metrics": {"accuracy": {"value": 0.93, "split": "test"}},
        "preprocessing": {"input_shape": [32, 32, 3], "dtype": "float32", "scaling": "0..1"},
        "layer_map": {"layers": layers,
                      "cut_points": cnn_cuts() if cut_points is None else cut_points,
                      "total_params": sum(entry["params"] for entry in layers),
                      "trainable_params": 0, "non_trainable_params": 0},
        "framework": {"keras": "3.15.1"},
        "files": {"README.md": "ab12" * 16, "model.keras": "cd34" * 16},
    }


def typed(data: dict) -> Card:
    return card_from_json(copy.deepcopy(data))


def layer_map(layers: list[dict] | None = None, cut_points: list[dict] | None = None) -> LayerMap:
    return typed(card_dict(layers, cut_points)).layer_map


def parsed(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def groups(root: ET.Element, cls: str) -> list[ET.Element]:
    return [g for g in root.iter(f"{NS}g") if cls in g.get("class", "").split()]


def texts(element: ET.Element) -> list[str]:
    return [t.text or "" for t in element.iter(f"{NS}text")]


def dense_layers(count: int) -> list[dict]:
    return [layer(0, "input", [None, 4], "input", "InputLayer")] + \
        [layer(i, f"dense_{i}", [None, 8], cls="Dense") for i in range(1, count - 1)] + \
        [layer(count - 1, "head", [None, 3], "head", "Dense")]


# --- the layer map as a picture -------------------------------------------------------

def test_layer_map_svg_is_a_standalone_image_that_loads_and_runs_nothing():
    svg = layer_map_svg(layer_map(), frozen={"input", "conv1"}, cut_layer="block_3")
    root = parsed(svg)
    assert root.tag == f"{NS}svg" and root.get("role") == "img" and root.get("viewBox")
    assert root[0].tag == f"{NS}title" and "block_1" in root[0].text
    assert {element.tag.removeprefix(NS) for element in root.iter()} <= EMITTED
    assert not any("href" in key or "url(" in value
                   for element in root.iter() for key, value in element.attrib.items())
    assert not svg.startswith("<?xml")  # an element to inline in a page, not a document


def test_cut_points_are_marked_and_named_at_their_segment_ends():
    root = parsed(layer_map_svg(layer_map()))
    marks = groups(root, "cut-point")
    assert [mark.get("data-name") for mark in marks] == ["block_1", "block_2", "block_3"]
    assert [texts(mark) for mark in marks] == [["block_1"], ["block_2"], ["block_3"]]
    boxes = groups(root, "box")
    # input | conv1..block_1 | conv2..block_2 | block_3 | pool | head
    assert [texts(box)[0] for box in boxes] == ["input", "block_1", "block_2", "block_3",
                                                "pool", "head"]
    assert texts(boxes[1])[1:] == ["/2", "16 ch"] and texts(boxes[4])[1:] == ["vector", "64 ch"]


def test_a_cut_point_without_reduction_reads_vector():
    cuts = [{"name": "pool", "index": 6, "channels": 64, "reduction": None, "kind": "vector"}]
    root = parsed(layer_map_svg(layer_map(cut_points=cuts)))
    (pool,) = [box for box in groups(root, "box") if texts(box)[0] == "pool"]
    assert texts(pool)[1:] == ["vector", "64 ch"]


def test_frozen_layers_are_shaded_by_their_share_of_a_box():
    root = parsed(layer_map_svg(layer_map(), frozen={"input", "conv1"}))
    shaded = {texts(box)[0]: (box.find(f"{NS}rect"), box.find(f"{NS}rect[@class='frozen']"))
              for box in groups(root, "box")}
    outline, shade = shaded["input"]
    assert shade.get("width") == outline.get("width")  # the whole box
    outline, shade = shaded["block_1"]
    assert float(shade.get("width")) == pytest.approx(float(outline.get("width")) / 2)
    assert all(shade is None for name, (_, shade) in shaded.items()
               if name not in ("input", "block_1"))
    assert "frozen" in texts(groups(root, "legend")[0])


def test_nothing_is_shaded_when_nothing_is_frozen():
    root = parsed(layer_map_svg(layer_map()))
    assert not [e for e in root.iter() if "frozen" in e.get("class", "")]
    assert "frozen" not in texts(groups(root, "legend")[0])


def test_the_cut_layer_of_a_derived_package_is_marked_apart_from_cut_points():
    root = parsed(layer_map_svg(layer_map(), cut_layer="pool"))
    (mark,) = groups(root, "cut-layer")
    assert mark.get("data-name") == "pool" and texts(mark) == ["cut at pool"]
    assert "pool" not in [g.get("data-name") for g in groups(root, "cut-point")]
    assert not groups(parsed(layer_map_svg(layer_map(), cut_layer="no_such_layer")),
                      "cut-layer")


def test_head_layers_are_drawn_apart_from_the_base_in_another_colour():
    root = parsed(layer_map_svg(layer_map()))
    fill = {box.get("class"): box.find(f"{NS}rect").get("fill") for box in groups(root, "box")}
    assert set(fill) == {"box stage-input", "box stage-base", "box stage-head"}
    assert len(set(fill.values())) == 3


def test_hostile_names_come_out_as_text_never_as_elements():
    names = {i: name for i, name in zip((2, 4, 5, 6, 7), HOSTILE)}
    svg = layer_map_svg(layer_map(cnn_layers(names), cnn_cuts(names)),
                        frozen=set(names.values()), cut_layer=HOSTILE[0])
    root = parsed(svg)
    assert "<script" not in svg and "<!--" not in svg
    assert {element.tag.removeprefix(NS) for element in root.iter()} <= EMITTED
    assert [g.get("data-name") for g in groups(root, "cut-point")] == HOSTILE[:3]
    shown = [text for element in root.iter() for text in [element.text or ""]]
    assert all(any(name in text for text in shown) for name in HOSTILE)


def test_characters_xml_cannot_carry_are_replaced_so_the_picture_still_parses():
    names = {2: "nul\x00bell\x07", 4: "lone\ud800surrogate"}
    root = parsed(layer_map_svg(layer_map(cnn_layers(names), cnn_cuts(names))))
    assert [g.get("data-name") for g in groups(root, "cut-point")][:2] == \
        ["nul\ufffdbell\ufffd", "lone\ufffdsurrogate"]


def test_a_dense_net_without_cut_points_gets_one_box_per_layer():
    root = parsed(layer_map_svg(layer_map(dense_layers(5), [])))
    assert [texts(box)[0] for box in groups(root, "box")] == \
        ["input", "dense_1", "dense_2", "dense_3", "head"]
    assert not groups(root, "cut-point")


def test_a_thousand_layer_map_gives_a_bounded_picture():
    svg = layer_map_svg(layer_map(dense_layers(1000), []), frozen={"dense_1", "dense_2"},
                        cut_layer="dense_500")
    root = parsed(svg)
    boxes = groups(root, "box")
    assert len(boxes) == MAX_BOXES and float(root.get("width")) <= MAX_WIDTH
    assert "stage-input" in boxes[0].get("class") and "stage-head" in boxes[-1].get("class")
    assert len(groups(root, "cut-layer")) == 1 and len(svg) < 30_000


def test_many_cut_points_still_give_at_most_the_bound_of_boxes():
    layers = [layer(i, f"l{i}", [None, 8, 8, 4]) for i in range(300)]
    cuts = [{"name": f"l{i}", "index": i, "channels": 4, "reduction": 4} for i in range(300)]
    root = parsed(layer_map_svg(layer_map(layers, cuts)))
    assert len(groups(root, "box")) == MAX_BOXES
    assert len(groups(root, "cut-point")) == MAX_BOXES  # one per box end


def test_long_names_are_shortened_with_an_ellipsis_and_kept_whole_for_hover():
    long = "a_layer_name_far_longer_than_any_box_can_show"
    root = parsed(layer_map_svg(layer_map(cnn_layers({6: long}))))
    (box,) = [box for box in groups(root, "box") if long in box.find(f"{NS}title").text]
    assert texts(box)[0].endswith("…") and texts(box)[0][:-1] in long
    assert len(texts(box)[0]) < len(long)


def test_an_empty_layer_map_gives_a_picture_that_says_so():
    root = parsed(layer_map_svg(layer_map([], [])))
    assert texts(root) == ["no layers recorded"] and not groups(root, "box")


names = st.text(st.characters(exclude_categories=()), min_size=1, max_size=40)
stages = st.sampled_from(["input", "base", "adapter", "head", "<b>odd</b>"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(names, stages), min_size=0, max_size=60),
       st.sets(st.integers(0, 59), max_size=10), st.sets(names, max_size=5), names)
def test_any_layer_names_and_cut_points_give_well_formed_svg_of_our_elements(
        entries, cut_at, frozen, cut_layer):
    layers = [layer(i, name, [None, 4], stage) for i, (name, stage) in enumerate(entries)]
    cuts = [{"name": layers[i]["name"], "index": i, "channels": 4, "reduction": None}
            for i in sorted(cut_at) if i < len(layers)]
    svg = layer_map_svg(LayerMap.from_json({"layers": layers, "cut_points": cuts,
                                            "total_params": 0, "trainable_params": 0,
                                            "non_trainable_params": 0}),
                        frozen=frozen | {name for name, _ in entries[:3]}, cut_layer=cut_layer)
    root = parsed(svg)
    assert {element.tag.removeprefix(NS) for element in root.iter()} <= EMITTED
    assert len(groups(root, "box")) <= MAX_BOXES


# --- what changed between two cards ---------------------------------------------------

def changed(edit) -> list[Change]:
    """The changes from the base card to a copy that `edit` modified in place."""
    new = card_dict()
    edit(new)
    return card_changes(typed(card_dict()), typed(new))


def test_identical_cards_have_no_changes():
    assert card_changes(typed(card_dict()), typed(card_dict())) == []


def test_a_removed_cut_point_is_a_breaking_change():
    def drop_block_3(card):
        card["layer_map"]["cut_points"].pop()

    assert changed(drop_block_3) == [Change("cut points", "cut point block_3 removed", True)]


def test_a_renamed_cut_point_is_breaking_and_names_both():
    def rename(card):
        card["layer_map"]["cut_points"][0]["name"] = "stage_1"

    assert Change("cut points", "cut point block_1 renamed to stage_1", True) in \
        changed(rename)


def test_a_cut_point_whose_channels_or_reduction_change_is_breaking():
    def widen(card):
        card["layer_map"]["cut_points"][1].update(channels=48, reduction=8)

    assert changed(widen) == [
        Change("cut points", "cut point block_2 /4, 32 channels → /8, 48 channels", True)]


def test_an_added_cut_point_is_not_breaking():
    def add(card):
        card["layer_map"]["cut_points"].append(
            {"name": "pool", "index": 6, "channels": 64, "reduction": None, "kind": "vector"})

    assert changed(add) == [Change("cut points", "cut point pool added (vector, 64 channels)")]


def test_a_metric_change_is_reported_and_not_breaking():
    def better(card):
        card["metrics"]["accuracy"]["value"] = 0.95

    assert changed(better) == [Change("metrics", "metric accuracy (test) 0.93 → 0.95")]


def test_a_license_changed_to_other_terms_is_breaking():
    def relicense(card):
        card["license"] = "Apache-2.0"

    assert changed(relicense) == [Change("license", "license MIT → Apache-2.0", True)]


def test_the_same_license_terms_written_differently_are_not_breaking():
    old, new = card_dict(), card_dict()
    old["license"], new["license"] = "MIT AND Apache-2.0", "Apache-2.0 AND MIT"
    (change,) = card_changes(typed(old), typed(new))
    assert change.area == "license" and not change.breaking


@pytest.mark.parametrize(("field", "value"), [("input_shape", [64, 64, 3]),
                                              ("dtype", "uint8"), ("scaling", "-1..1")])
def test_an_input_shape_dtype_or_scaling_change_is_breaking(field, value):
    def edit(card):
        card["preprocessing"][field] = value

    (change,) = changed(edit)
    assert change.area == "input" and change.breaking and str(value) in change.what


def test_a_removed_base_layer_is_breaking_and_a_removed_head_layer_is_not():
    def drop(card):
        card["layer_map"]["layers"] = [entry for entry in card["layer_map"]["layers"]
                                       if entry["name"] not in ("conv2", "head")]

    found = changed(drop)
    assert Change("layers", "layer conv2 removed", True) in found
    assert Change("layers", "layer head removed", False) in found


def test_many_removed_layers_are_counted_in_one_change():
    old, new = card_dict(dense_layers(100), []), card_dict(dense_layers(100), [])
    new["layer_map"]["layers"] = new["layer_map"]["layers"][:2]
    layers = [c for c in card_changes(typed(old), typed(new)) if c.what.startswith("97 layers")]
    assert layers == [Change("layers", "97 layers removed: dense_2, dense_3, dense_4 and 94 "
                                       "more", True)]


def test_a_changed_file_shows_both_hashes_shortened():
    def retrain(card):
        card["files"]["model.keras"] = "ef56" * 16

    expected = "file model.keras changed (sha256 cd34cd34… → ef56ef56…)"
    assert changed(retrain) == [Change("files", expected)]


def test_signature_lineage_and_exports_changes_are_reported():
    def sign_and_derive(card):
        card["signed_by"] = "sha256:" + "0" * 64
        card["lineage"] = {"base_ref": "zoo/iris", "base_revision": "a" * 40,
                           "base_card_sha256": "b" * 64, "base_license": "MIT"}
        card["exports"] = {"onnx": {"path": "exports/model.onnx", "max_abs_diff": 1e-7,
                                    "tolerance": 1e-4}}

    found = changed(sign_and_derive)
    assert [(c.area, c.breaking) for c in found] == [("lineage", False), ("exports", False),
                                                     ("signature", False)]
    assert found[0].what == f"now derived from zoo/iris@{'a' * 40}"
    assert found[1].what == "export onnx added"


def test_breaking_changes_come_first_then_areas_in_order():
    def many(card):
        card["version"] = "2.0.0"
        card["metrics"]["accuracy"]["value"] = 0.5
        card["layer_map"]["cut_points"].pop(0)
        card["license"] = "Apache-2.0"

    assert [(c.area, c.breaking) for c in changed(many)] == [
        ("license", True), ("cut points", True), ("version", False), ("metrics", False)]


def test_hostile_strings_pass_through_unchanged_as_data():
    names = {5: HOSTILE[0]}
    old = card_dict(cnn_layers(names), cnn_cuts(names))
    new = card_dict(cnn_layers(names), cnn_cuts(names)[:2])
    new["version"] = HOSTILE[1]
    found = card_changes(typed(old), typed(new))
    assert Change("cut points", f"cut point {HOSTILE[0]} removed", True) in found
    assert Change("version", f"version 1.0.0 → {HOSTILE[1]}") in found
