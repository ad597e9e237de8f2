"""Signed packages, with OpenSSF model signing (`model-signing`, key method).

Hashes in a card protect nothing against a hub owner who reseals them; a
signature by a key the user trusts does. The signature covers every file of
the package, `card.json` included, and travels with the revision as
`model.sig` (a Sigstore bundle). Verification tries the user's trusted public
keys and names the one that matched.

Keys are EC P-256 PEM files, e.g.
    openssl ecparam -name prime256v1 -genkey -noout -out key.pem
    openssl ec -in key.pem -pubout -out key.pub
"""

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zoo.cards.card import SIGNATURE_FILE
from zoo.cards.license_policy import PolicyFile
from zoo.errors import SignatureError, ZooError, first_line
# Not signed: the signature itself, and the file a git hub adds for LFS.
UNSIGNED_FILES = (SIGNATURE_FILE, ".gitattributes")


def _hashing_config():
    from model_signing import hashing

    return hashing.Config().set_ignored_paths(paths=list(UNSIGNED_FILES),
                                              ignore_git_paths=True)


def public_key_id(public_key: Path) -> str:
    """`sha256:<hex>` of the key's DER SubjectPublicKeyInfo: who signed, as data."""
    from cryptography.hazmat.primitives import serialization

    try:
        key = serialization.load_pem_public_key(Path(public_key).read_bytes())
    except (OSError, ValueError, TypeError) as exc:
        raise ZooError(f"{public_key}: not a PEM public key ({exc})") from exc
    der = key.public_bytes(serialization.Encoding.DER,
                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(der).hexdigest()


def private_key_id(private_key: Path, password: str | None = None) -> str:
    """The id of the public half of a PEM private key."""
    from cryptography.hazmat.primitives import serialization

    try:
        key = serialization.load_pem_private_key(
            Path(private_key).read_bytes(), password.encode() if password else None)
    except (OSError, ValueError, TypeError) as exc:
        raise ZooError(f"{private_key}: not a usable PEM private key ({exc})") from exc
    der = key.public_key().public_bytes(serialization.Encoding.DER,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(der).hexdigest()


def sign_package(package_dir: Path, private_key: Path, password: str | None = None) -> str:
    """Sign every file of the package into `model.sig`; the signer's key id."""
    from model_signing import signing

    package_dir = Path(package_dir)
    key_id = private_key_id(private_key, password)
    (package_dir / SIGNATURE_FILE).unlink(missing_ok=True)
    try:
        (signing.Config().use_elliptic_key_signer(private_key=Path(private_key),
                                                  password=password)
         .set_hashing_config(_hashing_config())
         .sign(package_dir, package_dir / SIGNATURE_FILE))
    except (ValueError, TypeError, OSError) as exc:
        raise ZooError(f"signing {package_dir} with {private_key} failed: {exc}") from exc
    return key_id


def verify_package(package_dir: Path, trusted_keys: Iterable[Path]) -> str:
    """The id of the trusted key whose signature covers the package exactly, or
    SignatureError saying what is wrong."""
    from model_signing import verifying

    package_dir = Path(package_dir)
    signature = package_dir / SIGNATURE_FILE
    keys = list(trusted_keys)
    if not signature.is_file():
        raise SignatureError(f"{package_dir.name}: the package is not signed (no "
                             f"{SIGNATURE_FILE})")
    if not keys:
        raise SignatureError("no trusted public keys to check the signature with; add one "
                             "with --trust-key KEY.pub or trusted_keys in the policy file")
    reasons = []
    for key in keys:
        try:
            (verifying.Config().use_elliptic_key_verifier(public_key=Path(key))
             .set_hashing_config(_hashing_config())
             .verify(package_dir, signature))
        except Exception as exc:  # noqa: BLE001 - model-signing raises many kinds; each is a 'no'
            reasons.append(f"{Path(key).name}: {first_line(exc, 160)}")
            continue
        return public_key_id(key)
    raise SignatureError(f"{package_dir.name}: the signature does not verify with any trusted "
                         f"key ({'; '.join(reasons)})")


@dataclass(frozen=True)
class SignaturePolicy:
    """Which keys the user trusts and whether a package must be signed by one of them:
    `trusted_keys` and `require_signature` in the policy file, widened by
    --trust-key and --require-signature."""

    trusted_keys: tuple[Path, ...] = ()
    required: bool = False

    @classmethod
    def load(cls, path: Path | None, trust_keys: Iterable[Path] = (),
             require: bool = False) -> "SignaturePolicy":
        """The policy file's signature rules (None: no file), widened by the options."""
        policy = PolicyFile.read(path)
        return cls.from_table(policy.table, policy.path, trust_keys, require)

    @classmethod
    def from_table(cls, data: dict[str, Any], path: Path | None,
                   trust_keys: Iterable[Path] = (), require: bool = False
                   ) -> "SignaturePolicy":
        """The signature rules of a policy table `read_policy` read from `path` (key
        files it lists are relative to it), widened by --trust-key/--require-signature."""
        listed = data.get("trusted_keys", [])
        if not isinstance(listed, list) or not all(isinstance(k, str) for k in listed):
            raise ZooError(f"policy {path}: trusted_keys must be a list of key file paths")
        if not isinstance(data.get("require_signature", False), bool):
            raise ZooError(f"policy {path}: require_signature must be true or false")
        keys = [Path(k) for k in trust_keys]
        keys += [(Path(path).parent / k).expanduser() for k in listed]
        required = require or data.get("require_signature", False)
        for key in keys:
            public_key_id(key)  # a key that cannot be read is refused before any pull
        return cls(tuple(keys), required)

    def check(self, package_dir: Path, signed_by: str | None, what: str
              ) -> tuple[str | None, list[str]]:
        """The key id that verified `package_dir`'s signature (None if unsigned and not
        required) and warnings; SignatureError where the policy refuses it."""
        signed = (Path(package_dir) / SIGNATURE_FILE).is_file()
        if not signed and not self.required:
            return None, []
        if not signed:
            raise SignatureError(f"{what} is not signed and your policy requires a signature "
                                 "(require_signature / --require-signature)")
        if not self.trusted_keys:
            if self.required:
                raise SignatureError(f"{what} is signed, but no trusted key was given to check "
                                     "it; pass --trust-key KEY.pub or set trusted_keys")
            return None, [f"{what} is signed ({signed_by or 'signer not named'}) but not "
                          "checked: no trusted keys (--trust-key KEY.pub)"]
        key_id = verify_package(package_dir, self.trusted_keys)
        if signed_by is not None and signed_by != key_id:
            raise SignatureError(f"{what}: its card names signer {signed_by}, but the signature "
                                 f"that verifies is by {key_id}")
        return key_id, []

