"""`zoo hub mirror`: repositories copied from a Hub API server (`zoo hub serve` on a
folder hub that holds plain files in the Hugging Face layout, no zoo card) into
another folder hub, commit for commit, then served again and read back. Real parts
only: olah, huggingface_hub, git. The fast tests need no Keras; one slow test
mirrors a real keras-hub preset and loads it with plain `from_preset("hf://…")`."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ok, refused
from forge import commit as forge_commit
from presets import commit
from served import served
from zoo.hub.lfs import object_path, parse_lfs_pointer
from zoo.hub.mirror import TRAILER, mirror


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True).stdout.strip()


def repo_of(root: Path, repo_id: str) -> Path:
    return root / "models" / repo_id


def write_files(folder: Path, seed: int, config: str = '{"registered_name": "tiny"}') -> dict:
    """A README, a config.json and a binary `model.weights.h5` (LFS upstream)."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {"README.md": b"---\nlibrary_name: keras-hub\n---\nTiny.\n",
             "config.json": config.encode(),
             "model.weights.h5": os.urandom(4096 + seed)}
    for path, data in files.items():
        (folder / path).write_bytes(data)
    return files


def state(root: Path, repo_id: str) -> tuple[str, list[str]]:
    """What a refused mirror must leave as it was: refs and LFS objects."""
    repo = repo_of(root, repo_id)
    lfs = sorted(p.name for p in (repo / ".git" / "lfs").rglob("*") if p.is_file())
    return git(repo, "for-each-ref"), lfs


@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    """acme/tiny with three commits: c1 (tag v1), c2 (adds sub/extra.bin), c3 (new
    weights, tag v2, main); served over the Hub API."""
    root, work = tmp_path_factory.mktemp("upstream"), tmp_path_factory.mktemp("files")
    folder = work / "tiny"
    first = write_files(folder, 1)
    c1 = commit(root, folder, "acme/tiny", tag="v1", message="Upload tiny")
    (folder / "sub").mkdir()
    (folder / "sub" / "extra.bin").write_bytes(os.urandom(100))
    c2 = commit(root, folder, "acme/tiny", message="Add extra\n\nWith a body.")
    (folder / "model.weights.h5").write_bytes(os.urandom(5000))
    c3 = commit(root, folder, "acme/tiny", tag="v2", message="Retrain")
    with served(root, tmp_path_factory.mktemp("olah-upstream")) as endpoint:
        yield {"root": root, "endpoint": endpoint, "shas": [c1, c2, c3], "first": first,
               "work": work}


@pytest.fixture
def hf(upstream, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_ENDPOINT", upstream["endpoint"])
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    return upstream


def test_a_repository_is_mirrored_commit_for_commit_with_the_same_trees(hf, tmp_path):
    line = ok("hub", "mirror", "hf://acme/tiny", "--hub", tmp_path / "mirror").stdout
    assert line.startswith("mirrored hf://acme/tiny: 3 new commits, ")
    assert "refs main, v1, v2" in line
    up, down = repo_of(hf["root"], "acme/tiny"), repo_of(tmp_path / "mirror", "acme/tiny")
    mirrored = git(down, "rev-list", "--reverse", "main").split()
    assert len(mirrored) == 3
    for upstream_sha, commit_sha in zip(hf["shas"], mirrored):
        message = git(down, "log", "-1", "--format=%B", commit_sha)
        assert message.endswith(f"{TRAILER}: hf://acme/tiny@{upstream_sha}")
        assert git(up, "log", "-1", "--format=%s", upstream_sha) == message.splitlines()[0]
        assert git(down, "rev-parse", f"{commit_sha}^{{tree}}") == \
            git(up, "rev-parse", f"{upstream_sha}^{{tree}}")
        assert git(down, "log", "-1", "--format=%ct", commit_sha) == \
            git(up, "log", "-1", "--format=%ct", upstream_sha)
    assert "With a body." in git(down, "log", "-1", "--format=%B", mirrored[1])
    assert git(down, "rev-parse", "v1") == mirrored[0]
    assert git(down, "rev-parse", "v2") == mirrored[2]
    assert ".gitattributes" in git(down, "ls-tree", "--name-only", "main")
    for oid in (p.name for p in (up / ".git" / "lfs" / "objects").rglob("*") if p.is_file()):
        assert object_path(down, oid).read_bytes() == object_path(up, oid).read_bytes()
    assert sorted(p.name for p in down.iterdir()) == [".git"]  # no work tree, as upstream
    listed = ok("list", "--hub", tmp_path / "mirror").stdout  # no card: listed all the same
    assert f"acme/tiny   -        -        {mirrored[-1][:12]}  v1, v2" in listed


def test_a_rerun_fetches_only_what_is_new(hf, tmp_path):
    folder, into = hf["work"] / "grow", tmp_path / "mirror"
    write_files(folder, 2)
    commit(hf["root"], folder, "acme/grow", tag="v1")
    first = mirror("hf://acme/grow", into)
    assert (first.new_commits, first.known_commits, first.fetched, first.reused) == (1, 0, 4, 0)
    assert (first.refs, first.moved) == (["main", "v1"], ["main", "v1"])

    again = mirror("hf://acme/grow", into)
    assert (again.new_commits, again.known_commits, again.fetched, again.moved) == (0, 1, 0, [])

    (folder / "config.json").write_text('{"registered_name": "tiny", "layers": 2}')
    second = commit(hf["root"], folder, "acme/grow", tag="v2", message="More layers")
    line = ok("hub", "mirror", "hf://acme/grow", "--hub", into).stdout
    assert line.startswith("mirrored hf://acme/grow: 1 new commit (1 already there), "
                           "1 file fetched (3 reused), refs main, v1, v2")
    down = repo_of(into, "acme/grow")
    assert git(down, "rev-list", "--count", "main") == "2"
    assert git(down, "log", "-1", "--format=%B", "v2").endswith(f"@{second}")
    assert git(down, "rev-parse", "main^{tree}") == \
        git(repo_of(hf["root"], "acme/grow"), "rev-parse", "main^{tree}")


def test_a_revision_mirrors_its_history_and_the_refs_that_point_into_it(hf, tmp_path):
    into = tmp_path / "mirror"
    c1, c2, c3 = hf["shas"]
    by_tag = mirror("hf://acme/tiny@v1", into)
    assert (by_tag.new_commits, by_tag.refs) == (1, ["v1"])
    down = repo_of(into, "acme/tiny")
    assert git(down, "for-each-ref", "--format=%(refname)") == "refs/tags/v1"

    by_sha = mirror(f"hf://acme/tiny@{c2}", into)  # no upstream ref names c2
    assert (by_sha.new_commits, by_sha.known_commits, by_sha.refs) == (1, 1, ["v1"])
    assert git(down, "rev-parse", f"refs/mirrored/{c2}") == by_sha.head
    assert git(down, "log", "-1", "--format=%B", by_sha.head).endswith(f"@{c2}")
    assert git(down, "rev-parse", f"{by_sha.head}^") == by_tag.head

    full = mirror("hf://acme/tiny", into)
    assert (full.new_commits, full.known_commits, full.fetched) == (1, 2, 1)
    assert full.refs == ["main", "v1", "v2"] and sorted(full.moved) == ["main", "v2"]
    assert git(down, "rev-list", "--count", "main") == "3"
    assert git(down, "rev-parse", "main^{tree}") == \
        git(repo_of(hf["root"], "acme/tiny"), "rev-parse", f"{c3}^{{tree}}")


def test_the_mirror_serves_the_same_bytes_and_blob_ids(hf, tmp_path, monkeypatch):
    from huggingface_hub import HfApi, hf_hub_download

    into = tmp_path / "mirror"
    ok("hub", "mirror", "hf://acme/tiny", "--hub", into, "--quiet")
    upstream_tree = {f.path: f.blob_id for f in HfApi(endpoint=hf["endpoint"]).list_repo_tree(
        "acme/tiny", revision="main", recursive=True) if hasattr(f, "blob_id")}
    with served(into, tmp_path / "olah-mirror") as endpoint:
        monkeypatch.setenv("HF_ENDPOINT", endpoint)
        api = HfApi(endpoint=endpoint)
        assert {f.path: f.blob_id for f in api.list_repo_tree(
            "acme/tiny", revision="main", recursive=True) if hasattr(f, "blob_id")} == \
            upstream_tree
        for path, data in hf["first"].items():
            got = hf_hub_download("acme/tiny", path, revision="v1", endpoint=endpoint,
                                  local_dir=tmp_path / "read-back")
            assert Path(got).read_bytes() == data
        weights = hf_hub_download("acme/tiny", "model.weights.h5", revision="main",
                                  endpoint=endpoint, local_dir=tmp_path / "main")
        assert Path(weights).read_bytes() == \
            (hf["work"] / "tiny" / "model.weights.h5").read_bytes()


def test_what_cannot_be_mirrored_is_refused_in_one_line(hf, tmp_path, monkeypatch):
    into = tmp_path / "mirror"
    line = refused("hub", "mirror", "hf://acme/nope", "--hub", into)
    assert "no repository hf://acme/nope" in line
    line = refused("hub", "mirror", "hf://acme/tiny@no-such-tag", "--hub", into)
    assert "no-such-tag" in line
    assert "hf://OWNER/NAME" in refused("hub", "mirror", "acme/tiny", "--hub", into)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert "HF_HUB_OFFLINE" in refused("hub", "mirror", "hf://acme/tiny", "--hub", into)
    assert not into.exists()


def tamper(repo: Path, oid: str, data: bytes) -> None:
    object_path(repo, oid).write_bytes(data)


@pytest.mark.parametrize("damage", ["same size, other bytes", "truncated"])
def test_an_upstream_lfs_object_that_does_not_match_its_pointer_is_refused(hf, tmp_path,
                                                                           damage):
    """First into a new mirror (no repository is left), then as a new commit of an
    existing one (its refs and LFS objects stay exactly as they were)."""
    name = f"acme/bad-{'size' if damage == 'truncated' else 'bytes'}"
    folder, into = hf["work"] / name, tmp_path / "mirror"
    write_files(folder, 3)
    commit(hf["root"], folder, name, tag="v1")
    mirror(f"hf://{name}", into)
    before = state(into, name)

    (folder / "model.weights.h5").write_bytes(b"\x01" * 3000)
    commit(hf["root"], folder, name, tag="v2")
    upstream_repo = repo_of(hf["root"], name)
    oid, _ = parse_lfs_pointer(git(upstream_repo, "cat-file", "blob",
                                   "v2:model.weights.h5").encode() + b"\n")
    tamper(upstream_repo, oid, b"\x02" * 3000 if damage != "truncated" else b"\x01" * 100)
    line = refused("hub", "mirror", f"hf://{name}", "--hub", into)
    assert f"refusing hf://{name}@" in line and "model.weights.h5" in line
    assert "the hub lists" in line
    assert state(into, name) == before

    fresh = tmp_path / "fresh"
    refused("hub", "mirror", f"hf://{name}", "--hub", fresh)
    assert not repo_of(fresh, name).exists()


def test_a_hostile_path_upstream_is_refused_and_nothing_is_left(hf, tmp_path):
    repo = repo_of(hf["root"], "acme/hostile")
    folder = hf["work"] / "hostile"
    write_files(folder, 4)
    commit(hf["root"], folder, "acme/hostile")
    forge_commit(repo, {"README.md": b"hi\n", "evil:name.txt": b"x"})
    line = refused("hub", "mirror", "hf://acme/hostile", "--hub", tmp_path / "mirror")
    assert "evil:name.txt" in line
    assert not repo_of(tmp_path / "mirror", "acme/hostile").exists()


def test_a_mirror_branch_moved_to_a_local_commit_is_not_overwritten(hf, tmp_path):
    into = tmp_path / "mirror"
    mirror("hf://acme/tiny@v1", into)
    local = tmp_path / "local"
    write_files(local, 5)
    commit(into, local, "acme/tiny", message="A local change")  # main: not mirrored
    before = state(into, "acme/tiny")
    line = refused("hub", "mirror", "hf://acme/tiny", "--hub", into)
    assert "refusing to move main" in line and "not a mirrored commit" in line
    assert state(into, "acme/tiny") == before


@pytest.mark.slow
def test_a_mirrored_keras_hub_preset_loads_with_plain_from_preset(hf, tmp_path):
    """The whole air-gapped path: a real preset upstream, mirrored, the mirror served,
    and keras-hub's own `from_preset("hf://…")` (in a fresh process, HF_ENDPOINT set)
    gives bit-identical weights."""
    import keras_hub
    import numpy as np
    import presets

    preset = presets.backbone_preset(tmp_path / "preset")
    commit(hf["root"], preset, "keras/tiny-resnet", tag="v1")
    ok("hub", "mirror", "hf://keras/tiny-resnet", "--hub", tmp_path / "mirror", "--quiet")
    with served(tmp_path / "mirror", tmp_path / "olah-mirror") as endpoint:
        script = ("import sys, numpy, keras_hub\n"
                  "b = keras_hub.models.Backbone.from_preset('hf://keras/tiny-resnet')\n"
                  "numpy.savez(sys.argv[1], *b.get_weights())\n")
        env = {**os.environ, "HF_ENDPOINT": endpoint, "HF_HOME": str(tmp_path / "hf-home")}
        done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "w.npz")],
                              env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
    original = keras_hub.models.Backbone.from_preset(str(preset)).get_weights()
    with np.load(tmp_path / "w.npz") as loaded:
        served_weights = [loaded[f"arr_{i}"] for i in range(len(loaded.files))]
    assert len(served_weights) == len(original) > 0
    for a, b in zip(original, served_weights):
        assert a.dtype == b.dtype and np.array_equal(a, b)
