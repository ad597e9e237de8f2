"""The folder hub (git + LFS layout) and the verified pull cache."""

import os
import subprocess
from pathlib import Path

import pytest
from conftest import ok, refused
from packages import card_json
from zoo.cards.digest import sha256_file

from zoo.paths import cache_root, default_hub_root

pytestmark = pytest.mark.slow  # trains, loads Keras models or exports


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True).stdout.strip()


def test_published_repo_is_git_with_lfs_pointers(iris_pkg, iris_revision):
    repo = default_hub_root() / "models" / "zoo" / "iris"
    assert git(repo, "rev-parse", "main") == iris_revision
    assert git(repo, "rev-parse", "v1^{commit}") == iris_revision
    pointer = git(repo, "cat-file", "blob", f"{iris_revision}:model.keras")
    oid = sha256_file(iris_pkg / "model.keras")
    assert pointer.splitlines() == ["version https://git-lfs.github.com/spec/v1",
                                    f"oid sha256:{oid}",
                                    f"size {(iris_pkg / 'model.keras').stat().st_size}"]
    assert (repo / ".git/lfs/objects" / oid[:2] / oid[2:4] / oid).is_file()
    assert "model.keras filter=lfs" in git(repo, "show", f"{iris_revision}:.gitattributes")
    card = git(repo, "show", f"{iris_revision}:card.json")
    assert '"name": "iris"' in card  # small text files are plain git blobs


def test_republishing_the_same_package_makes_no_new_revision(iris_pkg, iris_revision):
    run = ok("publish", iris_pkg, "iris")
    assert "unchanged" in run.stdout and iris_revision in run.stdout


def test_new_revision_keeps_the_old_one_and_tags_do_not_move_silently(
        iris_revision, tuned_pkg, tmp_path):
    hub = tmp_path / "team-hub"
    ok("pull", f"iris@{iris_revision}", "--out", tmp_path / "a")
    first = ok("publish", tmp_path / "a", f"file://{hub}/iris", "--tag", "v1").stdout
    second = ok("publish", tuned_pkg, f"file://{hub}/iris").stdout
    rev1, rev2 = (text.split("@", 1)[1].split()[0] for text in (first, second))
    assert rev1 != rev2
    line = refused("publish", tuned_pkg, f"file://{hub}/iris", "--tag", "v1")
    assert "already names" in line and "--move-tag" in line
    ok("pull", f"file://{hub}/zoo/iris@v1", "--out", tmp_path / "old")
    assert card_json(tmp_path / "old")["name"] == "iris"
    ok("pull", f"file://{hub}/iris@{rev2[:10]}", "--out", tmp_path / "new")
    assert card_json(tmp_path / "new")["name"] == "iris-derived"
    listing = ok("list", "--hub", hub).stdout
    assert "zoo/iris" in listing and "v1" in listing


def test_pull_refuses_tampered_weights_and_leaves_cache_clean(iris_pkg, tmp_path):
    hub = tmp_path / "hub"
    rev = ok("publish", iris_pkg, f"file://{hub}/victim").stdout.split("@", 1)[1].split()[0]
    oid = sha256_file(iris_pkg / "model.keras")
    lfs = hub / "models/zoo/victim/.git/lfs/objects" / oid[:2] / oid[2:4] / oid
    data = bytearray(lfs.read_bytes())
    data[len(data) // 2] ^= 0xFF
    lfs.write_bytes(bytes(data))
    line = refused("pull", f"file://{hub}/victim", "--out", tmp_path / "out")
    assert "sha256 of model.keras does not match" in line
    assert not (tmp_path / "out").exists()
    assert not (cache_root() / "snapshots" / "zoo" / "victim" / rev).exists()
    assert not any((cache_root() / "tmp").iterdir())


def test_damaged_cache_is_fetched_again(iris_revision, tmp_path):
    ok("pull", "iris@v1", "--out", tmp_path / "first")
    snapshot = cache_root() / "snapshots" / "zoo" / "iris" / iris_revision
    readme = snapshot / "README.md"
    os.unlink(readme)
    readme.write_text("tampered")
    ok("pull", "iris@v1", "--out", tmp_path / "second")
    assert (tmp_path / "second" / "README.md").read_bytes() == \
        (tmp_path / "first" / "README.md").read_bytes()


def test_unknown_repository_and_revision_are_refused(iris_revision):
    assert "no repository zoo/nosuch" in refused("inspect", "nosuch")
    line = refused("inspect", "iris@v9")
    assert "no revision 'v9'" in line and "v1" in line


def test_inspect_shows_layer_table_cut_points_and_totals(iris_revision, derived_pkg,
                                                         base_iris_revision):
    text = ok("inspect", "iris@v1").stdout
    assert "hidden2" in text and "cut points: hidden1" in text
    assert "1,603 total, 1,603 trainable, 0 frozen" in text
    text = ok("inspect", derived_pkg).stdout
    assert "1,629 total, 104 trainable, 1,525 frozen" in text
    assert f"base:      zoo/iris@{base_iris_revision}" in text
    card = ok("inspect", derived_pkg, "--json").stdout
    assert '"base_revision"' in card
