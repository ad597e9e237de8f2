"""The human card: README.md rendered from card.json, with the Hugging Face
YAML front matter a Hub page reads (license, library_name, tags, base_model,
datasets, metrics)."""

from typing import Any

from zoo.cards.license_policy import card_license_expression, licensing

LAYER_ROWS_SHOWN = 40


def hf_license_fields(card: dict[str, Any]) -> dict[str, str]:
    """HF license ids are lower-case SPDX ids; anything else is `other` + name."""
    if card["license"] == "other":
        return {"license": "other", "license_name": card["license_name"],
                "license_link": card["license_link"]}
    expression = card_license_expression(card)
    parsed = licensing().parse(expression)
    if type(parsed).__name__ == "LicenseSymbol":
        return {"license": parsed.key.lower()}
    fields = {"license": "other", "license_name": expression}
    if card.get("license_link"):
        fields["license_link"] = card["license_link"]
    return fields


def front_matter(card: dict[str, Any]) -> str:
    from huggingface_hub import ModelCardData

    lineage = card.get("lineage") or {}
    data = ModelCardData(
        library_name="keras",
        tags=sorted({"backbone-zoo", "keras", *card.get("tags", [])}),
        datasets=[card["training_data"]["name"]],
        metrics=sorted(card["metrics"]),
        base_model=(lineage.get("base_ref") or "").removeprefix("hf://") or None,
        **hf_license_fields(card),
    )
    return "---\n" + data.to_yaml() + "\n---\n"


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join("" if v is None else str(v) for v in row) + " |" for row in rows]
    return lines


def render_readme(card: dict[str, Any]) -> str:
    layer_map = card["layer_map"]
    pre = card["preprocessing"]
    out = [front_matter(card), f"# {card['name']} {card['version']}", ""]
    if card.get("description"):
        out += [card["description"], ""]
    license_text = card["license"]
    if card["license"] == "other":
        license_text = f"other: [{card['license_name']}]({card['license_link']})"
    out += [f"- **License:** {license_text}",
            f"- **Authors:** {', '.join(card['authors']) or 'unknown'}",
            f"- **Intended use:** {card['intended_use']}",
            f"- **Training data:** {card['training_data']['name']}"
            + (f" ({card['training_data']['source']})" if card["training_data"].get("source")
               else ""),
            f"- **Input:** shape {pre['input_shape']}, {pre['dtype']}, scaling `{pre['scaling']}`",
            ""]
    if pre.get("label_names"):
        out += [f"- **Labels:** {', '.join(pre['label_names'])}", ""]
    if card["metrics"]:
        out += ["## Metrics", ""]
        out += _table(["metric", "value", "split"],
                      [[k, f"{v['value']:.4f}", v["split"]] for k, v in card["metrics"].items()])
        out.append("")
    lineage = card.get("lineage")
    if lineage:
        out += ["## Lineage", "",
                f"Derived from `{lineage['base_ref']}` at revision `{lineage['base_revision']}` "
                f"(license `{lineage['base_license']}`), cut at `{lineage.get('cut_layer')}`, "
                f"head `{lineage.get('head')}`, {len(lineage.get('frozen_layers', []))} "
                "frozen layers.", ""]
    out += ["## Layer map", "",
            f"{layer_map['total_params']:,} parameters: {layer_map['trainable_params']:,} "
            f"trainable, {layer_map['non_trainable_params']:,} frozen.", ""]
    rows = [[layer["index"], layer["name"], layer["class"], layer["output_shape"],
             f"{layer['params']:,}", "yes" if layer["trainable"] else "no", layer["stage"]]
            for layer in layer_map["layers"][:LAYER_ROWS_SHOWN]]
    out += _table(["#", "name", "class", "output", "params", "trainable", "stage"], rows)
    if len(layer_map["layers"]) > LAYER_ROWS_SHOWN:
        out.append(f"\n… {len(layer_map['layers']) - LAYER_ROWS_SHOWN} more layers in card.json")
    if layer_map["cut_points"]:
        out += ["", "Recommended cut points: " + ", ".join(
            f"`{c['name']}` (#{c['index']}, {c['channels']} channels)"
            for c in layer_map["cut_points"])]
    if card.get("exports"):
        out += ["", "## Exports", ""]
        out += _table(["format", "file", "max abs diff vs Keras"],
                      [[fmt, e["path"], f"{e['max_abs_diff']:.2e}"]
                       for fmt, e in card["exports"].items()])
    out += ["", "Every file's sha256 is listed in `card.json`; `zoo pull` checks them "
            "before loading anything.", ""]
    return "\n".join(out)
