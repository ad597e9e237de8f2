"""The consumer path: fetch a verified revision, check its license, and either
hand it over as it is or rebuild it into a derived package with lineage."""

import shutil
from dataclasses import dataclass
from pathlib import Path

from zoo.build.freezing import BATCHNORM_POLICY
from zoo.build.pack import pack_model
from zoo.build.rebuild import RebuildSpec, Rebuilt, rebuild
from zoo.cards.card import README_FILE, Card, Lineage
from zoo.cards.card_data import CardData
from zoo.cards.hf_license import readme_file_license
from zoo.cards.license_policy import (
    LicensePolicy,
    LicenseTerms,
    card_license_expression,
    load_policy,
)
from zoo.hub import open_hub
from zoo.hub.cache import Snapshot, fetch
from zoo.hub.lock import LOCK_FILE, check_locked, locked, record
from zoo.hub.refs import parse_ref
from zoo.package import load_model, read_verified_card, staged_package
from zoo.trust.signing import SignaturePolicy


@dataclass(frozen=True)
class PullResult:
    snapshot: Snapshot
    out: Path
    card: Card
    warnings: list[str]


def fetch_checked(ref_text: str, policy: LicensePolicy, lock: Path | None = None,
                  use_lock: bool = False, signatures: SignaturePolicy = SignaturePolicy()
                  ) -> tuple[Snapshot, list[str], str | None]:
    """Fetch a verified revision (pinned by the lock with `use_lock`), check its
    signature against the user's trusted keys, apply the license policy to the card
    and, for the Hub, to the license its page shows. Returns the snapshot, warnings
    and the key id that signed it (None if unsigned or unchecked)."""
    ref = parse_ref(ref_text)
    entry = locked(lock or Path(LOCK_FILE), str(ref)) if use_lock else None
    snapshot = fetch(ref.at(entry.revision) if entry else ref)
    if entry:
        check_locked(entry, str(ref), snapshot.card_sha256)
    signer, warnings = signatures.check(snapshot.path, snapshot.card.signed_by,
                                        f"{ref.at(None)}@{snapshot.revision[:12]}")
    warnings += policy.check(snapshot.card)
    if open_hub(ref).readme_is_page:
        shown = readme_file_license(snapshot.path / README_FILE)
        if shown != card_license_expression(snapshot.card):
            warnings += policy.check(LicenseTerms(name=f"{ref.at(None)} (its Hub page)",
                                                  license=shown or "NONE"))
    return Snapshot(ref, snapshot.revision, snapshot.path, snapshot.card,
                    snapshot.card_sha256), warnings, signer


@dataclass(frozen=True)
class Checked:
    """A fetched revision that passed the signature and license checks."""

    snapshot: Snapshot
    warnings: list[str]
    signer: str | None  # the trusted key that signed it, if checked
    lock: Path | None = None  # where to record ref → commit once the pull succeeds


def checked_snapshot(ref_text: str, *, allow_license: tuple[str, ...] = (),
                     policy_path: Path | None = None, trust_keys: tuple[Path, ...] = (),
                     require_signature: bool = False, lock: Path | None = None,
                     use_lock: bool = False) -> Checked:
    """Fetch and check a revision under the user's policy file (read once: both
    halves of the policy from one reading; a named file that is missing is refused)."""
    rules = load_policy(policy_path)
    policy = rules.licenses(allow_license)
    signatures = SignaturePolicy.from_table(rules.table, rules.path, trust_keys,
                                            require_signature)
    snapshot, warnings, signer = fetch_checked(ref_text, policy, lock, use_lock, signatures)
    return Checked(snapshot, warnings, signer, lock if not use_lock else None)


def record_lock(checked: Checked) -> None:
    """Record the pull in the lock file asked for, once it has succeeded."""
    if checked.lock is not None:
        snapshot = checked.snapshot
        record(checked.lock, str(snapshot.ref), snapshot.revision, snapshot.card_sha256)


def pull(ref_text: str, out: Path, spec: RebuildSpec, *, allow_license: tuple[str, ...] = (),
         policy_path: Path | None = None, license: str | None = None, name: str | None = None,
         authors: list[str] | None = None, unsafe: bool = False, force: bool = False,
         seed: int = 0, lock: Path | None = None, use_lock: bool = False,
         trust_keys: tuple[Path, ...] = (), require_signature: bool = False) -> PullResult:
    checked = checked_snapshot(ref_text, allow_license=allow_license, policy_path=policy_path,
                               trust_keys=trust_keys, require_signature=require_signature,
                               lock=lock, use_lock=use_lock)
    return write_pulled(checked, Path(out), spec, license=license, name=name,
                        authors=authors, unsafe=unsafe, force=force, seed=seed)


def base_lineage(checked: Checked, rebuilt: Rebuilt) -> Lineage:
    """The lineage of a model rebuilt from a checked revision."""
    snapshot = checked.snapshot
    return Lineage(base_ref=str(snapshot.ref.at(None)),
                   base_revision=snapshot.revision,
                   base_card_sha256=snapshot.card_sha256,
                   base_license=card_license_expression(snapshot.card),
                   base_name=snapshot.card.name,
                   base_signed_by=checked.signer,
                   cut_layer=rebuilt.cut_layer, frozen_layers=rebuilt.frozen_layers,
                   batchnorm_policy=BATCHNORM_POLICY, head=rebuilt.head)


def write_pulled(checked: Checked, out: Path, spec: RebuildSpec, *, license: str | None = None,
                 name: str | None = None, authors: list[str] | None = None,
                 unsafe: bool = False, force: bool = False, seed: int = 0) -> PullResult:
    """The pulled package as it is, or the derived package the spec describes."""
    snapshot, warnings = checked.snapshot, checked.warnings
    if spec.is_empty:
        with staged_package(out, force=force) as staging:
            shutil.copytree(snapshot.path, staging, dirs_exist_ok=True,
                            copy_function=shutil.copyfile)  # not the cache's read-only mode
            card = read_verified_card(staging)
        record_lock(checked)
        return PullResult(snapshot, Path(out), card, warnings)
    base = load_model(snapshot.path, unsafe=unsafe)
    rebuilt = rebuild(base, snapshot.card.layer_map, spec, seed=seed)
    card_data = CardData.derived(snapshot.card, base_lineage(checked, rebuilt), name=name,
                                 license=license, authors=authors or ())
    stages = {**{n: "adapter" for n in rebuilt.adapter_layers},
              **{n: "head" for n in rebuilt.head_layers}}
    card = pack_model(rebuilt.model, Path(out), card_data, force=force, stages=stages)
    record_lock(checked)
    return PullResult(snapshot, Path(out), card, warnings)
