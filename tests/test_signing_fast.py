"""Signed packages (OpenSSF model signing, EC P-256 keys) on a real folder hub, with
no Keras: a signed pull passes and names its signer, a resealed revision fails, an
unsigned or untrusted one fails under the policy."""

import hashlib
import json
from pathlib import Path

import pytest
from conftest import ok, refused
from forge import commit, files_of
from packages import keras_zip, make_package
from zoo.cards.license_policy import LicensePolicy
from zoo.hub import FolderHub
from zoo.hub.publish import signed_copy
from zoo.api.pulling import fetch_checked
from zoo.trust.signing import SignaturePolicy, public_key_id

from zoo.errors import SignatureError, ZooError


def key_pair(folder: Path, name: str) -> tuple[Path, Path]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    private, public = folder / f"{name}.pem", folder / f"{name}.pub"
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    public.write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return private, public


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_CACHE", str(tmp_path / "cache"))
    hub = FolderHub(tmp_path / "hub")
    acme = key_pair(tmp_path, "acme")
    package = make_package(tmp_path / "pkg", name="toy")
    signed = signed_copy(package, acme[0], tmp_path / "signed")
    revision = hub.publish(signed, "zoo", "toy", tag="v1").revision
    return hub, acme, revision, tmp_path


def ref(hub: FolderHub) -> str:
    return f"file://{hub.root}/toy"


def test_a_signed_package_names_its_signer_and_the_original_is_left_unsigned(env):
    hub, (_, public), _, tmp_path = env
    card = json.loads((tmp_path / "signed" / "card.json").read_text())
    assert card["signed_by"] == public_key_id(public)
    assert (tmp_path / "signed" / "model.sig").is_file()
    assert not (tmp_path / "pkg" / "model.sig").exists()
    assert "signed_by" not in json.loads((tmp_path / "pkg" / "card.json").read_text())


def test_a_signed_pull_passes_with_the_trusted_key(env):
    hub, (_, public), revision, tmp_path = env
    snapshot, warnings, signer = fetch_checked(
        ref(hub), LicensePolicy(), signatures=SignaturePolicy((public,), required=True))
    assert (snapshot.revision, signer, warnings) == (revision, public_key_id(public), [])
    ok("pull", ref(hub), "--trust-key", public, "--require-signature", "--out", tmp_path / "o")
    assert (tmp_path / "o" / "model.sig").is_file()


def test_a_resealed_revision_fails_its_signature(env):
    hub, (_, public), revision, tmp_path = env
    repo = hub.repo_dir("zoo", "toy")
    tree = files_of(repo, revision)
    other = keras_zip("toy", b"the hub owner's weights" * 50)
    card = json.loads(tree["card.json"])
    card["files"]["model.keras"] = hashlib.sha256(other).hexdigest()
    commit(repo, {**tree, "model.keras": other, "card.json": json.dumps(card).encode()})
    line = refused("pull", ref(hub), "--trust-key", public, "--out", tmp_path / "o")
    assert "signature does not verify with any trusted key" in line
    assert not (tmp_path / "o").exists()


def test_a_signature_by_an_untrusted_key_fails(env):
    hub, _, _, tmp_path = env
    _, stranger = key_pair(tmp_path, "stranger")
    with pytest.raises(SignatureError, match="does not verify with any trusted key"):
        fetch_checked(ref(hub), LicensePolicy(), signatures=SignaturePolicy((stranger,)))


def test_an_unsigned_package_fails_under_the_policy_file(env):
    hub, (_, public), _, tmp_path = env
    hub.publish(make_package(tmp_path / "plain", name="toy", version="2"), "zoo", "toy")
    policy = tmp_path / "policy.toml"
    policy.write_text(f'require_signature = true\ntrusted_keys = ["{public.name}"]\n')
    line = refused("pull", ref(hub), "--policy", policy, "--out", tmp_path / "o")
    assert "is not signed and your policy requires a signature" in line
    ok("pull", f"{ref(hub)}@v1", "--policy", policy, "--out", tmp_path / "o")


def test_a_signed_package_without_trusted_keys_warns_and_a_bad_key_file_is_refused(env):
    hub, _, _, tmp_path = env
    _, warnings, signer = fetch_checked(ref(hub), LicensePolicy())
    assert signer is None and "is signed" in warnings[0] and "not checked" in warnings[0]
    (tmp_path / "junk.pub").write_text("not a key")
    with pytest.raises(ZooError, match="not a PEM public key"):
        SignaturePolicy.load(None, (tmp_path / "junk.pub",))
