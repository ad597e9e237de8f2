"""The consumer path: fetch a verified revision, check its license, and either
hand it over as it is or rebuild it into a derived package with lineage."""

import shutil
from dataclasses import dataclass
from pathlib import Path

from zoo.build.freezing import BATCHNORM_POLICY
from zoo.build.pack import pack_model
from zoo.build.rebuild import RebuildSpec, rebuild
from zoo.cards.card import README_FILE, Card
from zoo.cards.card_data import CardData
from zoo.cards.hf_license import readme_file_license
from zoo.cards.license_policy import (
    LicensePolicy,
    LicenseTerms,
    card_license_expression,
    policy_file,
    read_policy,
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


def pull(ref_text: str, out: Path, spec: RebuildSpec, *, allow_license: tuple[str, ...] = (),
         policy_path: Path | None = None, license: str | None = None, name: str | None = None,
         authors: list[str] | None = None, unsafe: bool = False, force: bool = False,
         seed: int = 0, lock: Path | None = None, use_lock: bool = False,
         trust_keys: tuple[Path, ...] = (), require_signature: bool = False) -> PullResult:
    policy_path = policy_file(policy_path)  # a named file that is missing is refused
    table = read_policy(policy_path)  # once: both halves of the policy from one reading
    policy = LicensePolicy.from_table(table, policy_path, allow_license)
    signatures = SignaturePolicy.from_table(table, policy_path, trust_keys, require_signature)
    snapshot, warnings, signer = fetch_checked(ref_text, policy, lock, use_lock, signatures)
    result = _write(snapshot, warnings, Path(out), spec, license=license, name=name,
                    authors=authors, unsafe=unsafe, force=force, seed=seed, signer=signer)
    if lock is not None and not use_lock:  # recorded once the pull has succeeded
        record(lock, str(snapshot.ref), snapshot.revision, snapshot.card_sha256)
    return result


def _write(snapshot: Snapshot, warnings: list[str], out: Path, spec: RebuildSpec, *,
           license: str | None, name: str | None, authors: list[str] | None, unsafe: bool,
           force: bool, seed: int, signer: str | None = None) -> PullResult:
    """The pulled package as it is, or the derived package the spec describes."""
    ref = snapshot.ref
    if spec.is_empty:
        with staged_package(out, force=force) as staging:
            shutil.copytree(snapshot.path, staging, dirs_exist_ok=True,
                            copy_function=shutil.copyfile)  # not the cache's read-only mode
            card = read_verified_card(staging)
        return PullResult(snapshot, Path(out), card, warnings)
    base = load_model(snapshot.path, unsafe=unsafe)
    rebuilt = rebuild(base, snapshot.card.layer_map, spec, seed=seed)
    card_data = CardData.derived(
        snapshot.card, base_ref=str(ref.at(None)), base_revision=snapshot.revision,
        base_card_sha256=snapshot.card_sha256, base_signed_by=signer,
        cut_layer=rebuilt.cut_layer, frozen_layers=rebuilt.frozen_layers,
        batchnorm_policy=BATCHNORM_POLICY, head=rebuilt.head,
        name=name, license=license, authors=authors or ())
    stages = {**{n: "adapter" for n in rebuilt.adapter_layers},
              **{n: "head" for n in rebuilt.head_layers}}
    card = pack_model(rebuilt.model, Path(out), card_data, force=force, stages=stages)
    return PullResult(snapshot, Path(out), card, warnings)
