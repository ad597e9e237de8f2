"""Hub commands: publish, list, inspect."""

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from zoo.cli.options import quiet_option, show_progress

if TYPE_CHECKING:
    from zoo.cards.card import Card


@click.command()
@click.argument("package_dir", type=click.Path(file_okay=False))
@click.argument("ref")
@click.option("--tag", help="Name this revision (a git tag), e.g. v1.")
@click.option("--move-tag", is_flag=True, help="Move --tag if it names another revision.")
@click.option("--private", is_flag=True, help="hf:// only: create the repository private.")
@click.option("--sign", "sign_key", type=click.Path(dir_okay=False, exists=True),
              help="Sign the package with this EC P-256 private key (PEM); the signature "
                   "travels as model.sig and the card names the signer.")
@quiet_option
def publish(package_dir: str, ref: str, tag: str | None, move_tag: bool, private: bool,
            sign_key: str | None, quiet: bool) -> None:
    """Validate a package and publish it as a new immutable revision.

    hf:// publishes through huggingface_hub: the repo is created if needed, the
    package committed in one commit and tagged; HF_TOKEN and HF_ENDPOINT apply.

    \b
    Examples:  zoo publish iris-pkg iris --tag v1
               zoo publish iris-pkg file:///srv/zoo-hub/acme/iris
               zoo publish iris-pkg hf://acme/iris --tag v1 --private
               zoo publish iris-pkg iris --tag v2 --sign ~/.zoo/key.pem
    """
    from zoo.hub.hf import set_progress
    from zoo.hub.publish import publish as publish_package

    set_progress(show_progress(quiet))
    hub_ref, result = publish_package(Path(package_dir), ref, tag=tag, move_tag=move_tag,
                                      private=private,
                                      sign_key=Path(sign_key) if sign_key else None)
    state = "published" if result.created else "unchanged, already published as"
    named = f" (tag {result.tag})" if result.tag else ""
    click.echo(f"{state} {hub_ref.at(None)}@{result.revision}{named}")


@click.command("list")
@click.option("--hub", "hub_path", type=click.Path(file_okay=False),
              help="A folder hub (default: the one under $ZOO_HOME).")
def list_(hub_path: str | None) -> None:
    """List the repositories in a folder hub."""
    from zoo.hub import FolderHub
    from zoo.paths import default_hub_root

    hub = FolderHub(Path(hub_path) if hub_path else default_hub_root())
    repos = hub.repos()
    if not repos:
        click.echo(f"no packages in the hub at {hub.root}", err=True)
        return
    rows = [[f"{r.owner}/{r.name}", r.version, r.license, r.revision[:12], ", ".join(r.tags)]
            for r in repos]
    click.echo(format_table(["repository", "version", "license", "revision", "tags"], rows))


def format_table(header: list[str], rows: list[list[Any]]) -> str:
    cells = [header, *[["" if v is None else str(v) for v in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in cells)


def _distribution(run: Any) -> str:
    """How a phase was spread (its card's `distribution`), as `inspect` shows it."""
    if not isinstance(run, dict):
        return ""
    return (f", {run.get('strategy')} on {run.get('replicas')} replica(s), "
            f"{run.get('workers')} worker(s), global batch {run.get('global_batch')}")


def format_card(card: "Card", where: str) -> str:
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
            for phase in run.get("phases", []):
                lines.append(f"finetuned: phase {phase.get('phase')}, {phase.get('epochs_run')} "
                             f"epochs, lr {phase.get('learning_rate')}, "
                             f"{phase.get('trainable_params', 0):,} trainable"
                             + (f", unfrozen from {phase['unfreeze_from']}"
                                if phase.get("unfreeze_from") else "")
                             + _distribution(phase.get("distribution")))
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


@click.command()
@click.argument("target")
@click.option("--json", "as_json", is_flag=True, help="Print the card as JSON.")
def inspect(target: str, as_json: bool) -> None:
    """Show a package's card and layer map: a folder, or a hub reference.

    \b
    Examples:  zoo inspect iris-pkg
               zoo inspect acme/iris@v1 --json
    """
    from zoo.hub.cache import checked_package

    card, where = checked_package(target)
    click.echo(json.dumps(card.to_json(), indent=2) if as_json else format_card(card, where))


COMMANDS = [publish, list_, inspect]
