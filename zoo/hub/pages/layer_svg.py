"""The layer map as a picture: an inline SVG that a model page embeds.

A card may be hostile, so the picture is built with ElementTree and every name
from the card is escaped by its serializer, never by hand; only the characters
XML cannot carry at all are replaced first. The picture is bounded whatever the
map holds: at most MAX_BOXES boxes, at most MAX_WIDTH wide, names shortened
with an ellipsis (in full, up to MAX_NAME characters, in each box's hover title).
"""

import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass

from zoo.cards.card import CutPoint, LayerEntry, LayerMap

SVG_NS = "http://www.w3.org/2000/svg"
MAX_BOXES = 24  # beyond this, consecutive segments share a box
MAX_NAME = 256  # the most of one name a title keeps: a real layer name is far shorter
MAX_LISTED = 5  # names listed in a title before "and N more"

# Geometry, in SVG user units (pixels at scale 1).
MARGIN = 16
BOX_WIDTH = 120  # a box's natural width; boxes get narrower once MAX_WIDTH is reached
GAP = 10
MAX_WIDTH = 1200
MIN_WIDTH = 360  # room for the legend of a one-box map
LABEL_ROWS = (16, 30)  # cut point names alternate between two rows above the boxes
BOX_TOP = 48
BOX_HEIGHT = 64
FONT_SIZE = 11
CHAR_WIDTH = 0.62 * FONT_SIZE  # a monospace advance, to know how much text fits

# The palette, chosen to read on white: per stage a light fill and a dark outline.
STAGE_COLOURS = {"input": ("#e4e7eb", "#52606d"), "base": ("#d3e4f5", "#2f5f8f"),
                 "adapter": ("#d4f0ec", "#2c7a70"), "head": ("#fde4c8", "#b35c00")}
OTHER_STAGE = "other"
OTHER_COLOURS = ("#eadcf0", "#7a4b8f")
TEXT_COLOUR = "#1f2933"
FROZEN_COLOUR, FROZEN_OPACITY = "#3e4c59", "0.3"
CUT_POINT_COLOUR = "#c81e1e"
CUT_LAYER_COLOUR = "#6b21a8"

# What XML 1.0 cannot carry (control characters, lone surrogates from JSON escapes):
# the serializer would write it out raw and the document would not parse.
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class Box:
    """Consecutive layers drawn as one box, and the cut points at or inside it."""

    layers: tuple[LayerEntry, ...]
    cuts: tuple[CutPoint, ...]  # in layer order; the box's own is the last if it ends there

    @property
    def end(self) -> LayerEntry:
        return self.layers[-1]

    @property
    def end_cut(self) -> CutPoint | None:
        return self.cuts[-1] if self.cuts and self.cuts[-1].name == self.end.name else None

    @property
    def stage(self) -> str:
        """The stage most of its layers belong to (boxes split at stage changes, so
        only a box merged beyond MAX_BOXES can hold several)."""
        stage = Counter(layer.stage for layer in self.layers).most_common(1)[0][0]
        return stage if stage in STAGE_COLOURS else OTHER_STAGE


def layer_map_svg(layer_map: LayerMap, *, frozen: Collection[str] = (),
                  cut_layer: str | None = None) -> str:
    """The layer map as a standalone `<svg>` element: left to right, one box per
    segment between cut points (per layer when there are none), the cut points
    marked and named, the `frozen` layers' share of each box shaded, and
    `cut_layer` (where a derived package was cut from its base) marked."""
    boxes = layout_boxes(layer_map, cut_layer)
    frozen = set(frozen)
    width, slot, box_width = _geometry(len(boxes))
    height = BOX_TOP + BOX_HEIGHT + 28  # grown below to hold the legend
    svg = ET.Element("svg", {
        "xmlns": SVG_NS, "class": "layer-map", "role": "img",
        "viewBox": f"0 0 {_num(width)} {height}", "width": _num(width), "height": str(height),
        "font-family": "ui-monospace, Menlo, Consolas, monospace",
        "font-size": str(FONT_SIZE), "fill": TEXT_COLOUR})
    _sub(svg, "title", text=_summary(layer_map, boxes))
    if not boxes:
        _sub(svg, "text", x=MARGIN, y=BOX_TOP + BOX_HEIGHT // 2, text="no layers recorded")
        return ET.tostring(svg, encoding="unicode")
    where: dict[str, float] = {}  # the x just after each layer: where a cut there is drawn
    for number, box in enumerate(boxes):
        x = MARGIN + number * slot
        _draw_box(svg, box, x, box_width, frozen)
        for k, layer in enumerate(box.layers, start=1):
            after = x + box_width * k / len(box.layers)  # a box's end: mid-gap
            where.setdefault(layer.name, after + (slot - box_width) / 2 * (k == len(box.layers)))
    drawn_cuts = [box.end_cut for box in boxes if box.end_cut]
    for row, cut in enumerate(drawn_cuts):
        _draw_cut_point(svg, cut, where[cut.name], LABEL_ROWS[row % 2],
                        max(6, int(2 * slot / CHAR_WIDTH)), width)
    marked = cut_layer is not None and cut_layer in where
    if marked:
        _draw_cut_layer(svg, cut_layer, where[cut_layer], width)
    bottom = _draw_legend(svg, [box.stage for box in boxes],
                          frozen=any(_frozen_share(box, frozen) for box in boxes),
                          cut_point=bool(drawn_cuts), cut_layer=marked, width=width)
    svg.set("height", str(bottom + 8))
    svg.set("viewBox", f"0 0 {_num(width)} {bottom + 8}")
    return ET.tostring(svg, encoding="unicode")


def layout_boxes(layer_map: LayerMap, cut_layer: str | None = None) -> list[Box]:
    """The boxes, left to right: a box ends at each cut point (at every layer when the
    map has none), where the stage changes, at `cut_layer` and at the last layer.
    Beyond MAX_BOXES, segments are grouped evenly, never across a stage change or
    `cut_layer` while there are boxes enough to keep those apart."""
    layers = sorted(layer_map.layers, key=lambda layer: layer.index)
    position: dict[str, int] = {}
    for i, layer in enumerate(layers):
        position.setdefault(layer.name, i)
    # A cut point that names no layer of the map cannot be placed and is not drawn.
    cut_at = {position[c.name]: c for c in sorted(
        (c for c in layer_map.cut_points if c.name in position), key=lambda c: position[c.name])}
    hard = {i for i in range(len(layers) - 1) if layers[i].stage != layers[i + 1].stage}
    hard |= {position[cut_layer]} if cut_layer in position else set()
    hard.add(len(layers) - 1)
    soft = set(cut_at) if cut_at else set(range(len(layers)))
    runs: list[list[range]] = [[]]  # segments, in runs between hard ends
    start = 0
    for end in sorted(e for e in hard | soft if e >= 0):
        runs[-1].append(range(start, end + 1))
        start = end + 1
        if end in hard:
            runs.append([])
    runs = [run for run in runs if run]
    if len(runs) > MAX_BOXES:  # a map whose stages alternate: group evenly over all
        runs = [[segment for run in runs for segment in run]]
    shares = _allot([len(run) for run in runs], MAX_BOXES)
    groups = [group for run, share in zip(runs, shares) for group in _even_groups(run, share)]
    return [Box(tuple(layers[i] for i in span),
                tuple(cut_at[i] for i in span if i in cut_at))
            for span in (range(group[0].start, group[-1].stop) for group in groups)]


def _allot(sizes: list[int], most: int) -> list[int]:
    """How many boxes each run gets: one each, the rest to the runs with the most
    segments per box, never more boxes than segments, at most `most` in all."""
    shares = [min(1, size) for size in sizes]
    while sum(shares) < most and any(s < size for s, size in zip(shares, sizes)):
        i = max((i for i, size in enumerate(sizes) if shares[i] < size),
                key=lambda i: sizes[i] / shares[i])
        shares[i] += 1
    return shares


def _even_groups(segments: list[range], boxes: int) -> list[list[range]]:
    count = len(segments)
    return [segments[k * count // boxes:(k + 1) * count // boxes] for k in range(boxes)]


def _geometry(boxes: int) -> tuple[float, float, float]:
    """The picture's width, each box's slot (box plus gap) and the box's width: the
    width grows with the boxes up to MAX_WIDTH, then each box gets narrower."""
    slot = min(BOX_WIDTH + GAP, (MAX_WIDTH - 2 * MARGIN) / max(boxes, 1))
    width = max(MIN_WIDTH, 2 * MARGIN + boxes * slot)
    return width, slot, slot - min(GAP, slot * 0.2)


def _draw_box(svg: ET.Element, box: Box, x: float, width: float, frozen: set[str]) -> None:
    fill, stroke = STAGE_COLOURS.get(box.stage, OTHER_COLOURS)
    group = _sub(svg, "g", {"class": f"box stage-{box.stage}"})
    _sub(group, "title", text=_box_title(box, frozen))
    _sub(group, "rect", x=x, y=BOX_TOP, width=width, height=BOX_HEIGHT, rx=4,
         fill=fill, stroke=stroke)
    if share := _frozen_share(box, frozen):
        _sub(group, "rect", {"class": "frozen"}, x=x, y=BOX_TOP, width=width * share,
             height=BOX_HEIGHT, rx=4, fill=FROZEN_COLOUR, **{"fill-opacity": FROZEN_OPACITY})
    chars = max(2, int((width - 8) / CHAR_WIDTH))
    lines = (box.end.name, _reduction_text(box), _channels_text(box))
    for row, line in enumerate(lines):
        if line:
            _sub(group, "text", x=x + 4, y=BOX_TOP + 18 * (row + 1), text=_shorten(line, chars))


def _draw_cut_point(svg: ET.Element, cut: CutPoint, x: float, label_y: int, chars: int,
                    width: float) -> None:
    group = _sub(svg, "g", {"class": "cut-point", "data-name": _clean(cut.name)})
    _sub(group, "title", text=f"cut point {_clean(cut.name)}: {_describe_cut(cut)}")
    _sub(group, "line", x1=x, y1=BOX_TOP - 10, x2=x, y2=BOX_TOP + BOX_HEIGHT + 4,
         stroke=CUT_POINT_COLOUR, **{"stroke-width": "2", "stroke-dasharray": "4 2"})
    _sub(group, "path", d=f"M{_num(x - 6)} {BOX_TOP - 14}h12l-6 8z", fill=CUT_POINT_COLOUR)
    label = _shorten(cut.name, chars)
    _sub(group, "text", x=x, y=label_y, fill=CUT_POINT_COLOUR, text=label,
         **{"text-anchor": _anchor(x, len(label), width)})


def _draw_cut_layer(svg: ET.Element, name: str, x: float, width: float) -> None:
    group = _sub(svg, "g", {"class": "cut-layer", "data-name": _clean(name)})
    _sub(group, "title", text=f"the derived package was cut from its base after {_clean(name)}")
    _sub(group, "line", x1=x, y1=BOX_TOP - 4, x2=x, y2=BOX_TOP + BOX_HEIGHT + 8,
         stroke=CUT_LAYER_COLOUR, **{"stroke-width": "3"})
    _sub(group, "rect", x=x - 4, y=BOX_TOP + BOX_HEIGHT + 6, width=8, height=8,
         fill=CUT_LAYER_COLOUR)
    label = "cut at " + _shorten(name, 32)
    _sub(group, "text", x=x, y=BOX_TOP + BOX_HEIGHT + 26, fill=CUT_LAYER_COLOUR, text=label,
         **{"text-anchor": _anchor(x, len(label), width)})


def _draw_legend(svg: ET.Element, stages: list[str], *, frozen: bool, cut_point: bool,
                 cut_layer: bool, width: float) -> int:
    """A key to the colours shown, wrapped to the picture's width; returns its bottom."""
    items = [(stage, {"fill": fill, "stroke": stroke})
             for stage in [*STAGE_COLOURS, OTHER_STAGE] if stage in stages
             for fill, stroke in [STAGE_COLOURS.get(stage, OTHER_COLOURS)]]
    items += [("frozen", {"fill": FROZEN_COLOUR, "fill-opacity": FROZEN_OPACITY})] * frozen
    items += [("cut point", {"fill": CUT_POINT_COLOUR})] * cut_point
    items += [("cut layer", {"fill": CUT_LAYER_COLOUR})] * cut_layer
    legend = _sub(svg, "g", {"class": "legend"})
    x, y = MARGIN, BOX_TOP + BOX_HEIGHT + 48
    for label, look in items:
        room = 18 + len(label) * CHAR_WIDTH + 14
        if x + room > width - MARGIN and x > MARGIN:
            x, y = MARGIN, y + 16
        _sub(legend, "rect", look, x=x, y=y - 9, width=12, height=10)
        _sub(legend, "text", x=x + 16, y=y, text=label)
        x += room
    return y


def _summary(layer_map: LayerMap, boxes: list[Box]) -> str:
    names = [_clean(c.name) for box in boxes for c in box.cuts]
    cuts = f"cut points {_listing(names)}" if names else "no cut points"
    return f"Layer map: {len(layer_map.layers):,} layers in {len(boxes)} boxes; {cuts}"


def _box_title(box: Box, frozen: set[str]) -> str:
    first, end = box.layers[0], box.end
    span = _clean(end.name) if len(box.layers) == 1 else \
        f"{_clean(first.name)} … {_clean(end.name)} ({len(box.layers):,} layers)"
    params = sum(layer.params for layer in box.layers)
    text = f"{span}, {_clean(end.class_name)}, stage {_clean(end.stage)}, {params:,} parameters"
    if count := sum(layer.name in frozen for layer in box.layers):
        text += f"; {count:,} of {len(box.layers):,} layers frozen"
    inside = [_clean(c.name) for c in box.cuts if c is not box.end_cut]
    if inside:
        text += f"; cut points inside: {_listing(inside)}"
    return text


def _frozen_share(box: Box, frozen: set[str]) -> float:
    return sum(layer.name in frozen for layer in box.layers) / len(box.layers)


def _reduction_text(box: Box) -> str:
    """'/8' for a cut point's reduction, else what flows out: a vector or a feature map."""
    cut = box.end_cut
    if cut is not None and cut.reduction is not None:
        return f"/{cut.reduction}"
    kind = cut.kind if cut is not None and cut.kind else _shape_kind(box.end.output_shape)
    return {"vector": "vector", "feature_map": "feature map"}.get(kind, "")


def _channels_text(box: Box) -> str:
    cut, shape = box.end_cut, box.end.output_shape
    channels = cut.channels if cut is not None else shape[-1] if shape else None
    return f"{channels:,} ch" if isinstance(channels, int) else ""


def _describe_cut(cut: CutPoint) -> str:
    reduction = f"/{cut.reduction}" if cut.reduction is not None else (cut.kind or "vector")
    channels = f"{cut.channels:,} channels" if cut.channels is not None else "channels unknown"
    return f"{reduction}, {channels}"


def _shape_kind(shape: list[int | None] | None) -> str:
    return "vector" if shape and len(shape) == 2 else \
        "feature_map" if shape and len(shape) == 4 else "tensor"


def _listing(names: list[str]) -> str:
    more = len(names) - MAX_LISTED
    return ", ".join(names[:MAX_LISTED]) + (f" and {more:,} more" if more > 0 else "")


def _anchor(x: float, chars: int, width: float) -> str:
    """Where a label hangs from x, so that it stays inside the picture."""
    half = chars * CHAR_WIDTH / 2
    return "start" if x - half < 2 else "end" if x + half > width - 2 else "middle"


def _clean(text: str) -> str:
    """A card's string made fit for XML and bounded; escaping is the serializer's."""
    return _shorten(NOT_XML.sub("\ufffd", text), MAX_NAME)


def _shorten(text: str, chars: int) -> str:
    text = NOT_XML.sub("\ufffd", text)
    return text if len(text) <= chars else text[:max(chars - 1, 1)] + "…"


def _num(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def _sub(parent: ET.Element, tag: str, attrs: dict[str, str] | None = None, *,
         text: str | None = None, **more: object) -> ET.Element:
    """A child element; numbers are written with one decimal at most."""
    values = {**(attrs or {}), **more}
    element = ET.SubElement(parent, tag, {
        key: _num(value) if isinstance(value, float | int) else str(value)
        for key, value in values.items()})
    if text is not None:
        element.text = NOT_XML.sub("\ufffd", text)
    return element
