"""hf:// through huggingface_hub. Pulls are tested for real against `zoo hub serve`
(olah serving a folder hub over the Hub API on loopback). Publishing needs a server
that accepts uploads, which cannot run offline: it is tested (a) live against the
real Hugging Face Hub when ZOO_LIVE_HF=1 and HF_TOKEN are set, and (b) in CI at the
HfApi boundary with a recording fake that asserts the exact commit."""

import json
import os
import uuid
from pathlib import Path

import pytest
from conftest import HEATON, ok, refused
from packages import card_json
from served import served
from zoo.cards.digest import sha256_file
from zoo.cards.hf_license import hf_license_to_spdx, readme_license

from zoo.paths import cache_root


@pytest.fixture(scope="session")
def served_hub(tmp_path_factory, iris_pkg, tuned_pkg):
    """A folder hub with two revisions of zoo/iris, served by `zoo hub serve`."""
    root = tmp_path_factory.mktemp("served-hub")
    first = ok("publish", iris_pkg, f"file://{root}/iris", "--tag", "v1").stdout
    ok("publish", iris_pkg, f"file://{root}/victim")
    second = ok("publish", tuned_pkg, f"file://{root}/iris").stdout
    revisions = [text.split("@", 1)[1].split()[0] for text in (first, second)]
    with served(root, root.parent / "olah-state") as endpoint:
        yield {"root": root, "endpoint": endpoint, "v1": revisions[0], "main": revisions[1]}


@pytest.fixture
def hf_env(served_hub, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_ENDPOINT", served_hub["endpoint"])
    monkeypatch.setenv("ZOO_CACHE", str(tmp_path / "cache"))  # a cold cache per test
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return served_hub


@pytest.mark.slow
def test_pull_by_tag_branch_and_sha_records_the_exact_commit(hf_env, tmp_path):
    for rev, want in (("v1", hf_env["v1"]), ("main", hf_env["main"]),
                      (hf_env["v1"], hf_env["v1"])):
        ok("pull", f"hf://zoo/iris@{rev}", *HEATON, "--out", tmp_path / rev)
        lineage = card_json(tmp_path / rev)["lineage"]
        assert lineage["base_revision"] == want and lineage["base_ref"] == "hf://zoo/iris"


@pytest.mark.slow
def test_derived_readme_links_to_its_base_on_the_hub(hf_env, tmp_path):
    from huggingface_hub import ModelCard

    ok("pull", "hf://zoo/iris@v1", *HEATON, "--out", tmp_path / "d")
    data = ModelCard((tmp_path / "d" / "README.md").read_text()).data.to_dict()
    assert data["base_model"] == "zoo/iris"


@pytest.mark.slow
def test_pulled_revision_works_offline_and_uncached_fails_clearly(hf_env, tmp_path,
                                                                  monkeypatch):
    ok("pull", "hf://zoo/iris@v1", "--out", tmp_path / "online")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing there: must not be used
    ok("pull", "hf://zoo/iris@v1", "--out", tmp_path / "offline")
    assert (tmp_path / "offline" / "model.keras").read_bytes() == \
        (tmp_path / "online" / "model.keras").read_bytes()
    line = refused("pull", "hf://zoo/iris@main", "--out", tmp_path / "x")
    assert "not in the cache and HF_HUB_OFFLINE is set" in line


@pytest.mark.slow
def test_tampered_lfs_object_is_refused_over_the_hub_api(hf_env, iris_pkg, tmp_path):
    oid = sha256_file(iris_pkg / "model.keras")
    lfs = hf_env["root"] / "models/zoo/victim/.git/lfs/objects" / oid[:2] / oid[2:4] / oid
    data = bytearray(lfs.read_bytes())
    data[100] ^= 0xFF
    lfs.write_bytes(bytes(data))
    line = refused("pull", "hf://zoo/victim@main", "--out", tmp_path / "o")
    assert "model.keras" in line and ("sha256" in line or "does not match" in line)
    assert not (tmp_path / "o").exists()
    assert not list((cache_root() / "snapshots").glob("zoo/victim/*"))


@pytest.mark.slow
def test_unknown_repository_and_revision_are_one_line(hf_env, tmp_path):
    assert "no repository hf://zoo/nope" in refused("pull", "hf://zoo/nope", "--out",
                                                    tmp_path / "o")
    assert "no revision 'v9'" in refused("pull", "hf://zoo/iris@v9", "--out", tmp_path / "o")


@pytest.mark.slow
def test_lock_file_pins_the_commit_and_the_card(hf_env, tmp_path):
    lock = tmp_path / "zoo.lock"
    ok("pull", "hf://zoo/iris@main", "--lock", lock, "--out", tmp_path / "a")
    entry = json.loads(lock.read_text())["packages"]["hf://zoo/iris@main"]
    assert entry["revision"] == hf_env["main"]
    assert entry["card_sha256"] == sha256_file(tmp_path / "a" / "card.json")
    ok("pull", "hf://zoo/iris@main", "--locked", "--lock", lock, "--out", tmp_path / "b")
    assert card_json(tmp_path / "b")["name"] == "iris-derived"
    # the lock pins main to v1: --locked follows the lock, not the moving branch
    ok("pull", f"hf://zoo/iris@{hf_env['v1']}", "--out", tmp_path / "v1")
    data = json.loads(lock.read_text())
    data["packages"]["hf://zoo/iris@main"] = {
        "revision": hf_env["v1"], "card_sha256": sha256_file(tmp_path / "v1" / "card.json")}
    lock.write_text(json.dumps(data))
    ok("pull", "hf://zoo/iris@main", "--locked", "--lock", lock, "--out", tmp_path / "c")
    assert card_json(tmp_path / "c")["name"] == "iris"
    # a card that is not the one locked is refused
    data["packages"]["hf://zoo/iris@main"]["card_sha256"] = "0" * 64
    lock.write_text(json.dumps(data))
    assert "differs from the lock" in refused("pull", "hf://zoo/iris@main", "--locked",
                                              "--lock", lock, "--out", tmp_path / "d")
    assert "not in" in refused("pull", "hf://zoo/other", "--locked", "--lock", lock,
                               "--out", tmp_path / "e")


@pytest.mark.parametrize("hf_id, name, spdx", [
    ("apache-2.0", None, "Apache-2.0"), ("mit", None, "MIT"),
    ("cc-by-nc-4.0", None, "CC-BY-NC-4.0"), ("gpl-3.0", None, "GPL-3.0-only"),
    ("openrail", None, "LicenseRef-hf-openrail"), ("llama3", None, "LicenseRef-hf-llama3"),
    ("other", "Acme Research", "LicenseRef-Acme-Research"), (None, None, None)])
def test_hub_license_ids_map_to_spdx_or_a_license_ref(hf_id, name, spdx):
    assert hf_license_to_spdx(hf_id, name) == spdx


@pytest.mark.slow
def test_readme_license_reads_the_front_matter(derived_pkg):
    assert readme_license((derived_pkg / "README.md").read_text()) == "Apache-2.0 AND MIT"
    assert readme_license("---\nlicense: llama3\n---\n") == "LicenseRef-hf-llama3"
    assert readme_license("no front matter") is None


class RecordingHfApiFake:
    """A fake HfApi that records calls: no server that accepts uploads runs here."""

    def __init__(self, tags: dict[str, str] | None = None):
        self.calls: list[tuple[str, dict]] = []
        self.tags = dict(tags or {})

    def create_repo(self, repo_id, **kwargs):
        self.calls.append(("create_repo", {"repo_id": repo_id, **kwargs}))

    def list_repo_refs(self, repo_id, **kwargs):
        from types import SimpleNamespace

        return SimpleNamespace(tags=[SimpleNamespace(name=n, target_commit=c)
                                     for n, c in self.tags.items()])

    def create_commit(self, repo_id, operations, commit_message, **kwargs):
        from types import SimpleNamespace

        self.calls.append(("create_commit", {"repo_id": repo_id, "operations": operations,
                                             "message": commit_message}))
        return SimpleNamespace(oid="f" * 40)

    def delete_tag(self, repo_id, tag, **kwargs):
        self.calls.append(("delete_tag", {"repo_id": repo_id, "tag": tag}))

    def create_tag(self, repo_id, tag, revision, **kwargs):
        self.calls.append(("create_tag", {"repo_id": repo_id, "tag": tag, "revision": revision}))


@pytest.mark.slow
def test_publish_sends_one_exact_commit_at_the_hfapi_boundary_fake(iris_pkg, monkeypatch):
    fake = RecordingHfApiFake()
    monkeypatch.setattr("zoo.hub.hf._api", lambda: fake)
    run = ok("publish", iris_pkg, "hf://acme/iris", "--tag", "v1", "--private")
    assert f"hf://acme/iris@{'f' * 40}" in run.stdout
    names = [name for name, _ in fake.calls]
    assert names == ["create_repo", "create_commit", "create_tag"]
    assert fake.calls[0][1] == {"repo_id": "acme/iris", "private": True, "exist_ok": True}
    operations = fake.calls[1][1]["operations"]
    assert [op.path_in_repo for op in operations] == \
        [".gitattributes", "README.md", "card.json", "model.keras"]
    attributes = operations[0].path_or_fileobj.decode()
    assert attributes == "model.keras filter=lfs diff=lfs merge=lfs -text\n"  # LFS vs regular
    assert operations[3].path_or_fileobj == str(iris_pkg / "model.keras")
    assert fake.calls[2][1] == {"repo_id": "acme/iris", "tag": "v1", "revision": "f" * 40}


@pytest.mark.slow
def test_publish_refuses_to_move_a_hub_tag_without_move_tag_fake(iris_pkg, monkeypatch):
    fake = RecordingHfApiFake(tags={"v1": "a" * 40})
    monkeypatch.setattr("zoo.hub.hf._api", lambda: fake)
    assert "--move-tag" in refused("publish", iris_pkg, "hf://acme/iris", "--tag", "v1")
    assert [name for name, _ in fake.calls] == ["create_repo"]
    ok("publish", iris_pkg, "hf://acme/iris", "--tag", "v1", "--move-tag")
    assert [name for name, _ in fake.calls][-3:] == ["create_commit", "delete_tag",
                                                      "create_tag"]


@pytest.mark.slow
@pytest.mark.skipif(not (os.environ.get("ZOO_LIVE_HF") == "1" and os.environ.get("HF_TOKEN")),
                    reason="live test against the real Hugging Face Hub: set ZOO_LIVE_HF=1 "
                           "and HF_TOKEN")
def test_live_publish_and_pull_on_the_real_hugging_face_hub(iris_pkg, tmp_path, monkeypatch):
    from huggingface_hub import HfApi

    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    api = HfApi()
    repo = f"{api.whoami()['name']}/backbone-zoo-live-{uuid.uuid4().hex[:8]}"
    try:
        run = ok("publish", iris_pkg, f"hf://{repo}", "--tag", "v1", "--private")
        revision = run.stdout.split("@", 1)[1].split()[0]
        ok("pull", f"hf://{repo}@v1", *HEATON, "--out", tmp_path / "d")
        assert card_json(tmp_path / "d")["lineage"]["base_revision"] == revision
    finally:
        api.delete_repo(repo)


@pytest.mark.slow
def test_a_failed_pull_records_nothing_in_the_lock(hf_env, tmp_path):
    lock = tmp_path / "zoo.lock"
    refused("pull", "hf://zoo/iris@v1", "--drop-top", "1", "--head", "dense:x", "--lock", lock,
            "--out", tmp_path / "o")
    assert not lock.exists() and not (tmp_path / "o").exists()
