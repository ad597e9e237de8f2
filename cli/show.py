"""Printing shared by several commands: tables and a card as text."""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from zoo import Package


def format_table(header: list[str], rows: list[list[Any]]) -> str:
    cells = [header, *[["" if v is None else str(v) for v in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in cells)


def _distribution(run: Any) -> str:
    """How a phase was spread (its card's `distribution`), as `inspect` shows it."""
    if run is None:
        return ""
    return (f", {run.strategy} on {run.replicas} replica(s), "
            f"{run.workers} worker(s), global batch {run.global_batch}")


def format_card(package: "Package", where: str) -> str:
    card = package.card
    layer_map, pre = card.layer_map, card.preprocessing
    lines = [f"{card.name} {card.version}  ({where})",
             f"license:   {card.license}"
             + (f" ({card.license_name}, {card.license_link})" if card.license_name else ""),
             f"authors:   {', '.join(card.authors) or 'unknown'}",
             f"data:      {card.training_data.name}",
             f"input:     {pre.input_shape} {pre.dtype}, scaling {pre.scaling}"]
    if pre.label_names:
        lines.append(f"labels:    {', '.join(pre.label_names)}")
    for key, metric in card.metrics.items():
        lines.append(f"metric:    {key} {metric.value:.4f} ({metric.split}, "
                     f"{metric.dataset or ''})")
    if lineage := card.lineage:
        lines += [f"base:      {lineage.base_ref}@{lineage.base_revision} "
                  f"(license {lineage.base_license})",
                  f"cut at:    {lineage.cut_layer}   head: {lineage.head}",
                  f"frozen:    {', '.join(lineage.frozen_layers) or 'none'}"]
        for run in lineage.finetune:  # the schedules, as fine-tuning recorded them
            for phase in run.phases:
                lines.append(f"finetuned: phase {phase.phase}, {phase.epochs_run} "
                             f"epochs, lr {phase.learning_rate}, "
                             f"{phase.trainable_params:,} trainable"
                             + (f", unfrozen from {phase.unfreeze_from}"
                                if phase.unfreeze_from else "")
                             + _distribution(phase.distribution))
    rows = [[layer.index, layer.name, layer.class_name,
             "" if layer.output_shape is None else tuple(layer.output_shape),
             f"{layer.params:,}",
             "-" if layer.stage == "input" or not (layer.params or layer.trainable)
             else "trainable" if layer.trainable else "frozen",
             layer.stage] for layer in layer_map.layers]
    lines += ["", format_table(["#", "layer", "class", "output", "params", "state", "stage"],
                               rows), ""]
    cuts = ", ".join(f"{c.name} (#{c.index}, {c.channels} ch"
                     + (f", /{c.reduction}" if c.reduction else "") + ")"
                     for c in layer_map.cut_points)
    lines += [f"cut points: {cuts or 'none'}",
              f"parameters: {layer_map.total_params:,} total, "
              f"{layer_map.trainable_params:,} trainable, "
              f"{layer_map.non_trainable_params:,} frozen"]
    for fmt, export in card.exports.items():
        lines.append(f"export:     {fmt} {export.path}, max abs diff "
                     f"{export.max_abs_diff:.2e} (tolerance {export.tolerance:.0e})")
    return "\n".join(lines)
