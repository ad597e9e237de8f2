"""zoo pull: a verified, license-checked package; with rebuild options, a derived one
(cut, freeze, head)."""


import click
from zoo.cli.options import (
    force_option,
    out_option,
    quiet_option,
    show_progress,
    size_option,
    unsafe_option,
    warn_all,
)


@click.command()
@click.argument("ref")
@click.option("--cut-at", help="Keep the network up to this layer (name or index), or "
                               "'best': the cut point zoo rank scores highest on "
                               "--rank-data.")
@click.option("--rank-data", type=click.Path(),
              help="Labelled data to choose --cut-at best on (see zoo rank).")
@click.option("--drop-top", type=int, help="Remove this many layers from the top.")
@click.option("--freeze-until", help="Freeze every layer up to and including this one.")
@click.option("--freeze", "freeze", multiple=True, help="Freeze a layer range A:B, A: or "
              ":B (names or indices; repeatable), e.g. 'block3_conv2:'.")
@click.option("--unfreeze-from", help="Make the layers from this one on trainable again.")
@click.option("--trainable", multiple=True, help="Make a layer range A:B trainable "
              "(repeatable); applied last.")
@size_option
@click.option("--head", help="New head, e.g. 'dense:4:softmax' or "
                             "'dropout:0.2,dense:64:relu,dense:4:softmax'.")
@click.option("--allow-license", multiple=True,
              help="Accept this license (SPDX id or LicenseRef-…) beyond your policy; "
                   "repeatable.")
@click.option("--policy", type=click.Path(dir_okay=False),
              help="License and signature policy file (default: $ZOO_HOME/policy.toml if it "
                   "exists).")
@click.option("--trust-key", "trust_keys", multiple=True,
              type=click.Path(dir_okay=False, exists=True),
              help="A public key (PEM) whose signatures you trust; repeatable.")
@click.option("--require-signature", is_flag=True,
              help="Refuse a package not signed by a trusted key.")
@click.option("--license", "license_", help="Your license for the new parts; the derived "
              "package is under the base's license AND this one.")
@click.option("--name", help="Name of the derived package (default: BASE-derived).")
@click.option("--author", "authors", multiple=True, help="Author of the derived package.")
@click.option("--seed", default=0, show_default=True, help="Seed for the new head's weights.")
@click.option("--lock", "lock", type=click.Path(dir_okay=False),
              help="Record ref → commit → card sha256 in this lock file (e.g. zoo.lock).")
@click.option("--locked", is_flag=True, help="Pull exactly the commit the lock file records "
              "(--lock, default ./zoo.lock) and refuse a card that differs.")
@quiet_option
@out_option
@unsafe_option
@force_option
def pull(ref: str, cut_at: str | None, rank_data: str | None, drop_top: int | None,
         freeze_until: str | None, freeze: tuple[str, ...], unfreeze_from: str | None,
         trainable: tuple[str, ...],
         input_size: str | None, head: str | None, allow_license: tuple[str, ...],
         policy: str | None, trust_keys: tuple[str, ...], require_signature: bool,
         license_: str | None, name: str | None, authors: tuple[str, ...], seed: int,
         lock: str | None, locked: bool, quiet: bool, out: str, unsafe: bool,
         force: bool) -> None:
    """Pull a verified package; with rebuild options, derive a new one from it.

    Every file's sha256 is checked against the card and the license against your
    policy before anything is loaded. Freeze options apply in this order:
    --freeze-until, --freeze, --unfreeze-from, --trainable. The base's BatchNorm
    layers always stay frozen, in inference mode. With --input-size, images of
    that size are resized (and gray turned to RGB) to what the base takes.

    \b
    Examples:  zoo pull iris@v1 --out iris-copy
               zoo pull hf://acme/iris@v1 --lock zoo.lock --out iris-copy
               zoo pull acme/iris@v2 --trust-key acme.pub --require-signature --out iris
               zoo pull iris --drop-top 1 --freeze-until hidden2 \\
                   --head dense:4:softmax --out iris4-model
               zoo pull vgg16 --cut-at block3_pool --freeze block3_conv2: \\
                   --head conv:32:3:relu,flatten,dense:2:softmax --out vgg-head
               zoo pull mobilenetv2 --cut-at out_relu --freeze-until out_relu \\
                   --input-size 32x32 --head flatten,dense:10:softmax --out mnv2-small
               zoo pull fer --cut-at best --freeze-until best --rank-data faces.npz \\
                   --head gap,dense:7:softmax --out fer-faces
    """
    import zoo

    zoo.progress_bars(show_progress(quiet))
    package = zoo.derive(ref, out, cut_at=cut_at, drop_top=drop_top, freeze_until=freeze_until,
                         freeze=freeze, unfreeze_from=unfreeze_from, trainable=trainable,
                         input_size=input_size, head=head, seed=seed, license=license_,
                         name=name, authors=authors, allow_license=allow_license,
                         policy=policy, trust_keys=trust_keys,
                         require_signature=require_signature, lock=lock, locked=locked,
                         unsafe=unsafe, force=force, rank_data=rank_data)
    warn_all(package.warnings)
    card, layer_map = package.card, package.card.layer_map
    base = card.lineage if package.ref is None else None  # derived: a new package
    source = f"{base.base_ref}@{base.base_revision[:12]}" if base else \
        f"{package.ref}@{package.revision[:12]}"
    click.echo(f"{'derived' if base else 'pulled'} {card.name} from "
               f"{source}: {layer_map.total_params:,} parameters, "
               f"{layer_map.trainable_params:,} trainable, "
               f"{layer_map.non_trainable_params:,} frozen; license {card.license} -> {out}")


COMMANDS = [pull]
