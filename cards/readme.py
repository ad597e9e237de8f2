"""The human card: README.md rendered from card.json, with the Hugging Face
YAML front matter a Hub page reads (license, library_name, tags, base_model,
datasets, metrics)."""

from typing import Any

from zoo.cards.card import Card
from zoo.cards.license_policy import card_license_expression, licensing

LAYER_ROWS_SHOWN = 40


def hf_license_fields(card: Card) -> dict[str, str]:
    """HF license ids are lower-case SPDX ids; anything else is `other` + name."""
    if card.license == "other":
        return {"license": "other", "license_name": card.license_name or "",
                "license_link": card.license_link or ""}
    expression = card_license_expression(card)
    parsed = licensing().parse(expression)
    if type(parsed).__name__ == "LicenseSymbol":
        return {"license": parsed.key.lower()}
    fields = {"license": "other", "license_name": expression}
    if card.license_link:
        fields["license_link"] = card.license_link
    return fields


def front_matter(card: Card) -> str:
    from huggingface_hub import ModelCardData

    data = ModelCardData(
        library_name="keras",
        tags=sorted({"backbone-zoo", "keras", *card.tags}),
        datasets=[card.training_data.name],
        metrics=sorted(card.metrics),
        base_model=card.lineage.base_ref.removeprefix("hf://") if card.lineage else None,
        **hf_license_fields(card),
    )
    return "---\n" + data.to_yaml() + "\n---\n"


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join("" if v is None else str(v) for v in row) + " |" for row in rows]
    return lines


def render_readme(card: Card) -> str:
    layer_map, pre = card.layer_map, card.preprocessing
    out = [front_matter(card), f"# {card.name} {card.version}", ""]
    if card.description:
        out += [card.description, ""]
    license_text = card.license
    if card.license == "other":
        license_text = f"other: [{card.license_name}]({card.license_link})"
    data = card.training_data
    out += [f"- **License:** {license_text}",
            f"- **Authors:** {', '.join(card.authors) or 'unknown'}",
            f"- **Intended use:** {card.intended_use}",
            f"- **Training data:** {data.name}" + (f" ({data.source})" if data.source else ""),
            f"- **Input:** shape {pre.input_shape}, {pre.dtype}, scaling `{pre.scaling}`",
            ""]
    if pre.label_names:
        out += [f"- **Labels:** {', '.join(pre.label_names)}", ""]
    if card.metrics:
        out += ["## Metrics", ""]
        out += _table(["metric", "value", "split"],
                      [[k, f"{m.value:.4f}", m.split] for k, m in card.metrics.items()])
        out.append("")
    if lineage := card.lineage:
        out += ["## Lineage", "",
                f"Derived from `{lineage.base_ref}` at revision `{lineage.base_revision}` "
                f"(license `{lineage.base_license}`), cut at `{lineage.cut_layer}`, "
                f"head `{lineage.head}`, {len(lineage.frozen_layers)} frozen layers.", ""]
    out += ["## Layer map", "",
            f"{layer_map.total_params:,} parameters: {layer_map.trainable_params:,} "
            f"trainable, {layer_map.non_trainable_params:,} frozen.", ""]
    rows = [[layer.index, layer.name, layer.class_name, layer.output_shape,
             f"{layer.params:,}", "yes" if layer.trainable else "no", layer.stage]
            for layer in layer_map.layers[:LAYER_ROWS_SHOWN]]
    out += _table(["#", "name", "class", "output", "params", "trainable", "stage"], rows)
    if len(layer_map.layers) > LAYER_ROWS_SHOWN:
        out.append(f"\n… {len(layer_map.layers) - LAYER_ROWS_SHOWN} more layers in card.json")
    if layer_map.cut_points:
        out += ["", "Recommended cut points: " + ", ".join(
            f"`{c.name}` (#{c.index}, {c.channels} channels)" for c in layer_map.cut_points)]
    if card.exports:
        out += ["", "## Exports", ""]
        out += _table(["format", "file", "max abs diff vs Keras"],
                      [[fmt, e.path, f"{e.max_abs_diff:.2e}"] for fmt, e in card.exports.items()])
    out += ["", "Every file's sha256 is listed in `card.json`; `zoo pull` checks them "
            "before loading anything.", ""]
    return "\n".join(out)
