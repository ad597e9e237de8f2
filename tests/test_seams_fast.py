"""Seams between modules, and the single helpers: no module reaches into another's
private names, the mirror writes a folder hub only through `FolderHub`'s public
methods, every staged folder goes through `zoo.files.staged_folder`, and every
command reads the policy file through `load_policy`. Real git, real files; no
TensorFlow."""

import ast
import os
from pathlib import Path

import pytest
from zoo.cards.license_policy import LicensePolicy, PolicyFile, load_policy
from zoo.files import staged_folder
from zoo.hub import FolderHub
from zoo.trust.signing import SignaturePolicy

from zoo.errors import CardError

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("zoo", "cards", "cli")  # cards/ and cli/ install as zoo.cards and zoo.cli
TRAILER = "Mirrored-from"


def modules() -> list[Path]:
    return sorted(path for top in SOURCES for path in (ROOT / top).rglob("*.py"))


def private(name: str) -> bool:
    """A leading-underscore name, not a dunder such as `__version__`."""
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_imports(source: str) -> list[str]:
    """Every import of a private name or module, inside functions too."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module != "__future__":
            parts = (node.module or "").split(".")
            found += [f"{node.lineno}: from {'.' * node.level}{node.module or ''} import "
                      f"{alias.name}" for alias in node.names
                      if private(alias.name) or any(map(private, parts))]
        elif isinstance(node, ast.Import):
            found += [f"{node.lineno}: import {alias.name}" for alias in node.names
                      if any(map(private, alias.name.split(".")))]
    return sorted(found, key=lambda hit: int(hit.split(":")[0]))


def test_the_import_rule_sees_private_names_and_lets_dunders_through():
    source = ("from __future__ import annotations\nfrom zoo import __version__\n"
              "def f():\n    from zoo.hub.hf import HfHub, _api\n"
              "import zoo.hub._secret\nfrom ._inner import thing\n")
    assert private_imports(source) == ["4: from zoo.hub.hf import _api",
                                       "5: import zoo.hub._secret",
                                       "6: from ._inner import thing"]


def test_no_module_imports_a_private_name_from_another_module():
    found = {str(path.relative_to(ROOT)): hits for path in modules()
             if (hits := private_imports(path.read_text(encoding="utf-8")))}
    assert found == {}


def test_the_mirror_runs_no_git_and_touches_no_private_part_of_the_hub():
    tree = ast.parse((ROOT / "zoo/hub/mirror.py").read_text(encoding="utf-8"))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                 for alias in node.names}
    assert not imported & {"zoo.hub.git", "subprocess", "tempfile"}
    calls = {node.func.attr for node in ast.walk(tree)
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)}
    assert "git" not in calls
    reached = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)
               and private(node.attr) and not (isinstance(node.value, ast.Name)
                                               and node.value.id == "self")}
    assert reached == set()


@pytest.mark.parametrize("helper", ["read_policy", "policy_file"])
def test_only_the_policy_loader_finds_and_reads_the_policy_file(helper):
    """`load_policy` is the one loader; a command calling the pieces itself would
    be a second one."""
    callers = [str(path.relative_to(ROOT)) for path in modules()
               if path != ROOT / "cards/license_policy.py"
               and any(isinstance(node, ast.Name) and node.id == helper
                       for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))))]
    assert callers == []


# --- the folder hub's public seam -----------------------------------------------------

def test_a_write_that_fails_leaves_no_new_repository_behind(tmp_path):
    hub = FolderHub(tmp_path / "hub")
    with pytest.raises(RuntimeError), hub.writing("acme", "new") as repo:
        assert (repo / ".git").is_dir()
        raise RuntimeError("refused")
    assert not hub.exists("acme", "new") and not hub.repo_dir("acme", "new").exists()
    with hub.writing("acme", "kept"):
        pass
    with pytest.raises(RuntimeError), hub.writing("acme", "kept"):
        raise RuntimeError("refused")
    assert hub.exists("acme", "kept")  # made by an earlier write: not this one's to remove


def test_a_written_commit_keeps_its_message_and_date_and_moves_only_the_refs_asked(tmp_path):
    hub = FolderHub(tmp_path / "hub")
    upstream = "a" * 40
    message = f"Add weights\n\nLonger text.\n\n{TRAILER}: hf://acme/net@{upstream}\n"
    with hub.writing("acme", "net") as repo, hub.scratch(repo, "test-") as scratch:
        assert Path(scratch).parent == repo / ".git"
        tree = hub.write_tree_of(repo, [("a.txt", hub.write_blob(repo, b"a\n"))])
        first = hub.write_commit(repo, tree, message, date="1700000000 +0100")
        second = hub.write_commit(repo, tree, "Plain\n", parent=first)
        assert hub.ref_values(repo, "refs/heads", "refs/tags") == {}  # nothing moved yet
        hub.move_refs(repo, [("refs/heads/main", second, None)])
        hub.git(repo, "tag", "-a", "-m", "annotated", "v1", first)
    raw = hub.git(repo, "cat-file", "commit", first)
    assert raw.endswith(message.rstrip("\n"))  # byte for byte (git output is stripped)
    assert "author backbone-zoo <zoo@localhost> 1700000000 +0100" in raw
    assert "committer backbone-zoo <zoo@localhost> 1700000000 +0100" in raw
    assert f"parent {first}" in hub.git(repo, "cat-file", "commit", second)
    refs = hub.ref_values(repo, "refs/heads", "refs/tags")
    assert refs["refs/heads/main"] == (second, second)
    tag_object, commit = refs["refs/tags/v1"]
    assert commit == first and tag_object != first  # an annotated tag, peeled
    assert hub.trailers(repo, TRAILER) == [(second, ""), (first, f"hf://acme/net@{upstream}")]


def test_an_empty_repository_has_no_trailers_and_no_refs(tmp_path):
    hub = FolderHub(tmp_path / "hub")
    with hub.writing("acme", "empty") as repo:
        assert hub.trailers(repo, TRAILER) == []
        assert hub.ref_values(repo, "refs/heads") == {}


def test_a_published_folder_keeps_the_commit_message_git_m_gave_it(tmp_path):
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / "notes.txt").write_text("hello\n")
    hub = FolderHub(tmp_path / "hub")
    published = hub.commit_folder(folder, "acme", "notes", message="Publish notes 1.0")
    raw = hub.git(hub.repo_dir("acme", "notes"), "cat-file", "commit", published.revision,
                  binary=True)
    assert raw.endswith(b"\n\nPublish notes 1.0\n")


# --- one staged folder ----------------------------------------------------------------

def test_a_staged_folder_appears_only_when_its_block_succeeds(tmp_path):
    dest = tmp_path / "out" / "pkg"
    with pytest.raises(RuntimeError), staged_folder(dest) as staging:
        (staging / "half.txt").write_text("half")
        raise RuntimeError("refused")
    assert not dest.exists() and list((tmp_path / "out").iterdir()) == []
    with staged_folder(dest) as staging:
        assert staging.parent == dest.parent and staging.name.startswith(".pkg.staging-")
        (staging / "whole.txt").write_text("whole")
        assert not dest.exists()
    assert sorted(p.name for p in dest.iterdir()) == ["whole.txt"]
    assert sorted(p.name for p in dest.parent.iterdir()) == ["pkg"]


def test_a_staged_folder_is_made_where_asked_and_named_as_asked(tmp_path):
    downloads, dest = tmp_path / "tmp", tmp_path / "snapshots" / "rev"
    with staged_folder(dest, within=downloads, prefix="pull-") as staging:
        assert staging.parent == downloads and staging.name.startswith("pull-")
        (staging / "card.json").write_text("{}")
    assert (dest / "card.json").is_file() and list(downloads.iterdir()) == []


def test_a_staged_folder_replaces_what_was_there_only_when_asked(tmp_path):
    dest = tmp_path / "pkg"
    dest.mkdir()
    (dest / "old.txt").write_text("old")
    with pytest.raises(OSError), staged_folder(dest) as staging:
        (staging / "new.txt").write_text("new")
    assert sorted(p.name for p in dest.iterdir()) == ["old.txt"]
    with staged_folder(dest, replace=True) as staging:
        (staging / "new.txt").write_text("new")
    assert sorted(p.name for p in dest.iterdir()) == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pkg"]  # no .old or staging left


def test_a_staged_folder_replaces_a_link_without_following_it(tmp_path):
    private = tmp_path / "private"
    private.mkdir()
    (private / "id_ed25519").write_text("key")
    dest = tmp_path / "pkg"
    dest.symlink_to(private, target_is_directory=True)
    with staged_folder(dest, replace=True) as staging:
        (staging / "new.txt").write_text("new")
    assert not dest.is_symlink() and sorted(os.listdir(dest)) == ["new.txt"]
    assert sorted(os.listdir(private)) == ["id_ed25519"]


# --- one policy loader ----------------------------------------------------------------

def test_one_reading_of_the_policy_file_gives_both_halves(tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = tmp_path / "keys" / "team.pub"
    key.parent.mkdir()
    key.write_bytes(ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    path = tmp_path / "policy.toml"
    path.write_text('allow = ["MIT"]\nrequire_signature = true\n'
                    'trusted_keys = ["keys/team.pub"]\n')
    rules = load_policy(path)
    assert rules.path == path
    assert rules.licenses(("BSD-3-Clause",)).allow == {"MIT", "BSD-3-Clause"}
    assert rules.licenses() == LicensePolicy.load(path)
    signatures = SignaturePolicy.from_table(rules.table, rules.path)
    assert signatures == SignaturePolicy((key,), required=True)  # relative to the file


def test_without_a_name_the_loader_reads_the_default_policy_file_if_there_is_one(
        tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_HOME", str(tmp_path))
    assert load_policy(None) == PolicyFile()
    assert load_policy(None).licenses() == LicensePolicy()
    (tmp_path / "policy.toml").write_text('deny = ["GPL-3.0-only"]\n')
    rules = load_policy(None)
    assert rules.path == tmp_path / "policy.toml"
    assert rules.licenses().deny == {"GPL-3.0-only"}


def test_the_loader_refuses_a_named_policy_file_that_is_missing(tmp_path):
    with pytest.raises(CardError, match="does not exist"):
        load_policy(tmp_path / "nowhere.toml")
