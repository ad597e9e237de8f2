"""zoo import: a keras-hub preset or a Keras 3 folder as a zoo package (the
module is import_ because `import` is a keyword)."""


import click
from zoo.cli.options import (
    force_option,
    out_option,
    progress,
    quiet_option,
    warn_all,
    show_progress,
    size_option,
)


@click.command("import")
@click.argument("source")
@click.option("--name", help="Package name (default: the repository's or folder's name).")
@click.option("--license", "license_",
              help="SPDX license, for a source that states none (the card records that "
                   "you asserted it); must agree with one the source states.")
@click.option("--author", "authors", multiple=True,
              help="Author (repeatable; default: the repository's owner).")
@click.option("--version", "version", default="1.0.0", show_default=True)
@size_option
@click.option("--allow-license", multiple=True,
              help="Accept this license expression though the policy does not (repeatable).")
@click.option("--policy", "policy_path", type=click.Path(dir_okay=False),
              help="License policy file (default: policy.toml under $ZOO_HOME).")
@out_option
@force_option
@quiet_option
def import_(source: str, name: str | None, license_: str | None, authors: tuple[str, ...],
            version: str, input_size: str | None, allow_license: tuple[str, ...],
            policy_path: str | None, out: str, force: bool, quiet: bool) -> None:
    """Import a keras-hub preset or a Keras 3 folder as a zoo package.

    SOURCE is a local folder, or a hub reference such as hf://OWNER/NAME[@REV]
    (the Hugging Face Hub, or any server that speaks its API via HF_ENDPOINT). A
    revision is pinned to its commit; only config.json, metadata.json,
    model.weights.h5, README.md and image_converter.json are downloaded, each
    checked against the hub's hashes, and the configs are scanned before Keras or
    keras-hub reads them. The license comes from the README front matter, or
    from --license when it states none. A task preset's image converter becomes
    the model's first layer; its head is left out (add your own with zoo pull).

    \b
    Examples:  zoo import hf://keras/resnet_18_imagenet@main --out resnet18
               zoo import ./my_preset --license Apache-2.0 --name my-net --out my-net
               zoo import hf://acme/cnn@v1 --input-size 96x96 --out cnn
    """
    import zoo

    zoo.progress_bars(show_progress(quiet))
    progress(f"importing {source}…")
    package = zoo.import_backbone(source, out, name=name, license=license_, authors=authors,
                                  version=version, input_size=input_size,
                                  allow_license=allow_license, policy=policy_path, force=force)
    warn_all(package.warnings)
    for note in package.notes:
        click.echo(f"zoo: note: {note}", err=True)
    card, origin = package.card, package.card.imported_from
    pinned = f"@{origin.revision}" if origin.revision else ""
    click.echo(f"imported {origin.source}{pinned} as {card.name} {card.version} "
               f"({card.license}, {card.layer_map.total_params:,} parameters, cut points: "
               f"{', '.join(c.name for c in card.layer_map.cut_points) or 'none'}) -> {out}")


COMMANDS = [import_]
