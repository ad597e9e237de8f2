"""Consuming: `zoo.pull` (a verified, license-checked package) and `zoo.backbone`
(the same, rebuilt in memory into a Keras model to compose)."""

from pathlib import Path
from typing import TYPE_CHECKING
from warnings import warn

from zoo.api.arguments import PathLike, Size, as_ref, optional_path, output_path, size_tuple, texts
from zoo.api.package import Package
from zoo.errors import LicenseRefused, ZooError, ZooWarning

if TYPE_CHECKING:
    import keras

    from zoo.build.rebuild import RebuildSpec


def checked_fetch(ref: str, *, allow_license: tuple[str, ...] | str, policy: PathLike | None,
                  trust_keys: tuple[PathLike, ...] | PathLike, require_signature: bool,
                  lock: PathLike | None, locked: bool):
    """The snapshot of `ref` after a pull's checks (hashes, signature, license policy)."""
    from zoo.api.pulling import checked_snapshot

    return checked_snapshot(as_ref(ref), allow_license=texts(allow_license, "allow_license"),
                            policy_path=optional_path(policy, "policy"),
                            trust_keys=tuple(map(Path, texts(trust_keys, "trust_keys"))),
                            require_signature=require_signature,
                            lock=optional_path(lock, "lock"), use_lock=locked)


def pull(ref: str, *, out: PathLike | None = None, allow_license: tuple[str, ...] | str = (),
         policy: PathLike | None = None, trust_keys: tuple[PathLike, ...] | PathLike = (),
         require_signature: bool = False, lock: PathLike | None = None, locked: bool = False,
         force: bool = False) -> Package:
    """Download a package from a hub, verified and license-checked like `zoo pull`.

    Every file's sha256 is checked against the card, the signature against
    `trust_keys` (required with `require_signature`), and the license against your
    policy (`policy`, default `$ZOO_HOME/policy.toml`) plus `allow_license`, before
    anything is loaded. `lock` records ref → commit → card sha256 (`locked=True`
    pulls exactly what it records). Without `out` the package is the read-only cache
    snapshot; with `out` a copy is written there (atomically).

    Example:
        >>> pkg = zoo.pull("iris@v1")
        >>> pkg.revision, pkg.card.license
        >>> model = pkg.load()
    """
    from zoo.build.rebuild import RebuildSpec
    from zoo.api.pulling import write_pulled

    checked = checked_fetch(ref, allow_license=allow_license, policy=policy,
                             trust_keys=trust_keys, require_signature=require_signature,
                             lock=lock, locked=locked)
    snapshot = checked.snapshot
    where, card = snapshot.path, snapshot.card  # verified by the fetch: not hashed again
    if out is not None:
        copied = write_pulled(checked, output_path(out), RebuildSpec(), force=force)
        where, card = copied.out, copied.card
    return Package(where, card=card, ref=str(snapshot.ref.at(None)), revision=snapshot.revision,
                   signer=checked.signer, warnings=tuple(checked.warnings))


def rebuild_spec(*, cut_at: str | int | None = None, drop_top: int | None = None,
                 freeze_until: str | int | None = None,
                 freeze: tuple[str, ...] | str = (), unfreeze_from: str | int | None = None,
                 trainable: tuple[str, ...] | str = (), input_size: Size | None = None,
                 head: str | None = None) -> "RebuildSpec":
    """The rebuild options as the one spec `zoo pull` uses (checked on creation)."""
    from zoo.build.rebuild import RebuildSpec

    def name(value: str | int | None) -> str | None:
        return None if value is None else str(value)

    return RebuildSpec(cut_at=name(cut_at), drop_top=drop_top, freeze_until=name(freeze_until),
                       unfreeze_from=name(unfreeze_from), freeze=texts(freeze, "freeze"),
                       trainable=texts(trainable, "trainable"), head=head,
                       input_size=size_tuple(input_size))


def backbone(ref: "str | Package", *, cut_at: str | int | None = None,
             drop_top: int | None = None, freeze_until: str | int | None = None,
             freeze: tuple[str, ...] | str = (), unfreeze_from: str | int | None = None,
             trainable: tuple[str, ...] | str = (), input_size: Size | None = None,
             head: str | None = None, seed: int = 0,
             allow_license: tuple[str, ...] | str = (), policy: PathLike | None = None,
             trust_keys: tuple[PathLike, ...] | PathLike = (), require_signature: bool = False,
             lock: PathLike | None = None, locked: bool = False,
             unsafe: bool = False) -> "keras.Model":
    """A verified, license-checked backbone from a hub as a ready `keras.Model`.

    The same rebuild as `zoo pull` with rebuild options, in memory: cut at a layer
    (`cut_at`, or `drop_top` layers removed), frozen layers not trainable
    (`freeze_until`, then `freeze` ranges 'A:B', then `unfreeze_from`, then
    `trainable` ranges), the base's BatchNorm in inference mode, an optional input
    size ((H, W) or (H, W, C): resized and gray→RGB as needed) and an optional head
    in the CLI's grammar. Compose it with your own layers; `zoo.save` then writes a
    derived package with the base's lineage and license.

    Example:
        >>> import keras, zoo
        >>> base = zoo.backbone("iris@v1", drop_top=1, freeze_until="hidden2")
        >>> outputs = keras.layers.Dense(4, activation="softmax")(base.output)
        >>> model = keras.Model(base.input, outputs)
        >>> model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        >>> model.fit(x, y, epochs=50)
        >>> zoo.save(model, "iris4-pkg", license="MIT")
    """
    from zoo.api.lineage import remember
    from zoo.build.rebuild import rebuild
    from zoo.api.pulling import base_lineage, record_lock
    from zoo.package import load_model

    spec = rebuild_spec(cut_at=cut_at, drop_top=drop_top, freeze_until=freeze_until,
                        freeze=freeze, unfreeze_from=unfreeze_from, trainable=trainable,
                        input_size=input_size, head=head)  # refused before any download
    if isinstance(ref, Package):
        if ref.ref is None or ref.revision is None:
            raise ZooError(f"{ref.path} is a package folder, not one from a hub: publish it "
                           "(zoo.publish) and pass its reference, so the lineage can name it")
        ref = f"{ref.ref}@{ref.revision}"
    checked = checked_fetch(ref, allow_license=allow_license, policy=policy,
                             trust_keys=trust_keys, require_signature=require_signature,
                             lock=lock, locked=locked)
    snapshot = checked.snapshot
    base = load_model(snapshot.path, unsafe=unsafe)
    rebuilt = rebuild(base, snapshot.card.layer_map, spec, seed=seed)
    for warning in checked.warnings:
        warn(warning, ZooWarning, stacklevel=2)
    remember(rebuilt.model, base_lineage(checked, rebuilt), snapshot.card,
             base_layers=set(snapshot.card.layer_map.names()),
             adapter_layers=set(rebuilt.adapter_layers), head_layers=set(rebuilt.head_layers))
    record_lock(checked)
    return rebuilt.model


BEST = "best"  # the cut point `zoo.rank` scores highest


def _best_cut(ref: str, rank_data: PathLike | None, input_size: Size | None,
              allow_license: tuple[str, ...] | str, policy: PathLike | None
              ) -> tuple[str, str]:
    """The ranked revision of `ref` and its best cut point on `rank_data`."""
    from zoo.api.rank import rank

    if rank_data is None:
        raise ZooError("--cut-at best needs --rank-data FILE: the labelled data to rank "
                       "the cut points on")
    best = rank([ref], rank_data, input_size=input_size, allow_license=allow_license,
                policy=policy)[0]
    if best.refused:
        raise LicenseRefused(best.refused)
    return f"{best.ref}@{best.revision}", best.cut_at


def derive(ref: str, out: PathLike, *, cut_at: str | int | None = None,
           drop_top: int | None = None, freeze_until: str | int | None = None,
           freeze: tuple[str, ...] | str = (), unfreeze_from: str | int | None = None,
           trainable: tuple[str, ...] | str = (), input_size: Size | None = None,
           head: str | None = None, seed: int = 0, license: str | None = None,
           name: str | None = None, authors: tuple[str, ...] | str = (),
           allow_license: tuple[str, ...] | str = (), policy: PathLike | None = None,
           trust_keys: tuple[PathLike, ...] | PathLike = (), require_signature: bool = False,
           lock: PathLike | None = None, locked: bool = False, unsafe: bool = False,
           force: bool = False, rank_data: PathLike | None = None) -> Package:
    """`zoo.backbone` written straight to a derived package, like `zoo pull` with
    rebuild options: the same checks, rebuild and lineage, the license carried
    forward (the base's AND `license`); without rebuild options, a plain copy (as
    `zoo.pull(ref, out=...)`). A derived package is new: its `ref` is None and its
    card's lineage names the base revision. `cut_at="best"` (and `freeze_until="best"`)
    is the cut point `zoo.rank` scores highest on `rank_data`, at the revision it ranked.

    Example:
        >>> pkg = zoo.derive("iris@v1", "iris4-model", drop_top=1, freeze_until="hidden2",
        ...                  head="dense:4:softmax", license="MIT")
        >>> pkg.card.lineage.frozen_layers
    """
    from zoo.api.pulling import write_pulled

    if BEST in (cut_at, freeze_until):
        ref, best = _best_cut(ref, rank_data, input_size, allow_license, policy)
        cut_at, freeze_until = (best if value == BEST else value
                                for value in (cut_at, freeze_until))
    spec = rebuild_spec(cut_at=cut_at, drop_top=drop_top, freeze_until=freeze_until,
                        freeze=freeze, unfreeze_from=unfreeze_from, trainable=trainable,
                        input_size=input_size, head=head)
    checked = checked_fetch(ref, allow_license=allow_license, policy=policy,
                             trust_keys=trust_keys, require_signature=require_signature,
                             lock=lock, locked=locked)
    result = write_pulled(checked, output_path(out), spec, license=license, name=name,
                          authors=list(texts(authors, "authors")), unsafe=unsafe, force=force,
                          seed=seed)
    if not spec.is_empty:  # a new package: its card's lineage names the revision it came from
        return Package(result.out, card=result.card, warnings=tuple(result.warnings))
    return Package(result.out, card=result.card, ref=str(checked.snapshot.ref.at(None)),
                   revision=checked.snapshot.revision, signer=checked.signer,
                   warnings=tuple(result.warnings))
