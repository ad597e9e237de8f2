"""Publishing: a package goes to a hub only after every check on its card passes,
signed with the publisher's key when asked."""

import tempfile
from pathlib import Path

from zoo.cards.card import Card
from zoo.cards.layer_map import build_layer_map, structure_differences
from zoo.cards.license_policy import check_card_license
from zoo.errors import CardError, ZooError
from zoo.files import copy_files
from zoo.hub import open_hub
from zoo.hub.base import PublishResult
from zoo.hub.folder import publishable_files
from zoo.hub.refs import HubRef, parse_ref
from zoo.package import load_model, package_tree, read_verified_card, seal
from zoo.trust.signing import SIGNATURE_FILE, private_key_id, sign_package


def validate_package(package_dir: Path) -> Card:
    """Schema, license, sha256 of every file, and a layer map that matches the model."""
    card = read_verified_card(package_dir)
    check_card_license(card)
    actual = build_layer_map(load_model(package_dir))
    if diffs := structure_differences(card.layer_map, actual):
        raise CardError(f"{package_dir}: the card's layer map does not match model.keras: "
                        f"{diffs[0]}" + (f" (and {len(diffs) - 1} more)" if len(diffs) > 1
                                         else ""))
    return card


def signed_copy(package_dir: Path, private_key: Path, dest: Path) -> Path:
    """A copy of a sealed package whose card names its signer, resealed and signed
    into model.sig: what `--sign` publishes (the package folder is left as it was)."""
    key_id = private_key_id(private_key)
    copy_files(package_dir, [name for name in package_tree(package_dir)
                             if name != SIGNATURE_FILE], dest)
    card = read_verified_card(dest)
    card.signed_by = key_id
    seal(dest, card)
    sign_package(dest, private_key)
    return dest


def publish(package_dir: Path, ref_text: str | HubRef, tag: str | None = None,
            move_tag: bool = False, private: bool = False,
            sign_key: Path | None = None) -> tuple[HubRef, PublishResult]:
    ref = ref_text if isinstance(ref_text, HubRef) else parse_ref(ref_text)
    if ref.revision:
        raise CardError(f"publish to '{ref.at(None)}' and name the revision with --tag "
                        f"'{ref.revision}'; a published revision is a new commit")
    hub = open_hub(ref)
    if private and not hub.supports_private:
        raise ZooError("--private is for hf:// repositories; a folder hub is as private as "
                       "its folder")
    publishable_files(Path(package_dir))  # every file name a pull accepts, before anything else
    validate_package(package_dir)
    with tempfile.TemporaryDirectory(prefix="zoo-sign-") as tmp:
        source = signed_copy(Path(package_dir), Path(sign_key), Path(tmp) / "package") \
            if sign_key else Path(package_dir)
        result = hub.publish(source, ref.owner, ref.name, tag=tag, move_tag=move_tag,
                             private=private)
    return ref, result
