"""`zoo hub serve` against an attacker: a real server on loopback serving a folder hub
that sits inside a git work tree with secrets committed next to it, hostile READMEs
forged with git plumbing (tests/forge.py), repositories whose git config and hooks
name programs, LFS objects and repository folders that are symlinks out of the hub.
Requests go out as raw bytes on a socket, so the path is exactly what an attacker
sends (HTTP clients normalise `..`)."""

import os
import re
import socket
import stat
import sys
import subprocess
from pathlib import Path
from urllib.parse import unquote

import pytest
from forge import commit, files_of, git
from hypothesis import example, given, settings
from hypothesis import strategies as st
from packages import make_package
from served import free_port, served
from zoo.hub import FolderHub
from zoo.hub.olah_guard import MAX_DEPTH, MAX_FRONT_MATTER, MAX_GIT_BLOB, Refused, \
    check_request, parse_front_matter
from zoo.trust.repo_paths import MAX_FILES
from zoo.hub.serve import start, stop

SECRET = b"TOP-SECRET-"
CODE_TAG = '---\nlicense: mit\nx: !!python/object/apply:os.system ["touch {marker}"]\n---\n# hi\n'
ALIAS_BOMB = ("---\na: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n" + "".join(
    f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n" for a, b in zip("abcdef", "bcdefg")) + "---\n")
HOOKS = ("pre-commit", "post-commit", "post-checkout", "reference-transaction", "pre-push",
         "post-index-change", "pre-auto-gc", "post-rewrite", "fsmonitor-watchman")


def program(path: Path, marker: Path) -> Path:
    """An executable that leaves `marker/<its name>` behind if anything runs it."""
    path.write_text(f"#!/bin/sh\ntouch '{marker}/'\"$(basename \"$0\")\"\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def with_readme(repo: Path, readme: str) -> str:
    """Forge a commit on main whose README.md is `readme`; its sha."""
    return commit(repo, {**files_of(repo, "main"), "README.md": readme.encode()})


@pytest.fixture(scope="module")
def lair(tmp_path_factory) -> dict:
    """A hub at work/hub inside the git work tree work/, which commits a secret in
    itself (work/secret.txt) and one in the hub root (work/hub/secret.txt)."""
    base = tmp_path_factory.mktemp("lair")
    work, markers = base / "work", base / "markers"
    (markers / "git").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    hub = FolderHub(work / "hub")
    revisions = {name: hub.publish(make_package(base / f"pkg-{name}", name=name), "zoo",
                                   name).revision
                 for name in ("toy", "payload", "bomb", "hooked", "lfslink", "crowd", "fat")}
    (work / "secret.txt").write_bytes(SECRET + b"enclosing")
    (hub.root / "secret.txt").write_bytes(SECRET + b"hub-root")
    git(work, "add", "secret.txt", "hub/secret.txt")
    git(work, "commit", "-q", "-m", "secrets next to the hub")
    revisions["payload"] = with_readme(hub.repo_dir("zoo", "payload"),
                                       CODE_TAG.format(marker=markers / "yaml-ran"))
    revisions["bomb"] = with_readme(hub.repo_dir("zoo", "bomb"), ALIAS_BOMB)
    revisions["crowd"] = _crowd(hub.repo_dir("zoo", "crowd"), MAX_FILES + 1)
    revisions["fat"] = commit(hub.repo_dir("zoo", "fat"), {**files_of(
        hub.repo_dir("zoo", "fat"), "main"), "big.txt": b"x" * (MAX_GIT_BLOB + 1)})
    _plant_programs(hub.repo_dir("zoo", "hooked"), base / "programs", markers / "git")
    # An LFS object that is a symlink to the secret outside the hub.
    objects = hub.repo_dir("zoo", "lfslink") / ".git" / "lfs" / "objects"
    (lfs := next(p for p in objects.rglob("*") if p.is_file())).unlink()
    lfs.symlink_to(work / "secret.txt")
    # Repository folders that lead out of the hub: a symlink, and a gitfile.
    (hub.root / "models" / "zoo" / "linked").symlink_to(work)
    (hub.root / "models" / "zoo" / "gitfile").mkdir()
    (hub.root / "models" / "zoo" / "gitfile" / ".git").write_text(f"gitdir: {work / '.git'}\n")
    # .git folders that are real folders but read another repository's objects and refs.
    for name, parts in (("commondir", ()), ("objlink", ("objects", "refs"))):
        git_dir = hub.root / "models" / "zoo" / name / ".git"
        git_dir.mkdir(parents=True)
        (git_dir / "HEAD").write_text("ref: refs/heads/main\n")
        if not parts:
            (git_dir / "commondir").write_text(f"{work / '.git'}\n")
        for part in parts:
            (git_dir / part).symlink_to(work / ".git" / part)
    with served(hub.root, base / "state") as endpoint:
        yield {"hub": hub, "endpoint": endpoint, "markers": markers, "revisions": revisions,
               "port": int(endpoint.rsplit(":", 1)[1])}


def _crowd(repo: Path, count: int) -> str:
    """Commit a tree of `count` files (one blob under many names) on main; its sha."""
    blob = git(repo, "hash-object", "-w", "--stdin", data=b"x")
    listing = "".join(f"100644 blob {blob}\tf{i:06d}.txt\n" for i in range(count))
    tree = git(repo, "mktree", data=listing.encode())
    sha = git(repo, "commit-tree", tree, "-m", "crowd", "-p", git(repo, "rev-parse", "main"))
    git(repo, "update-ref", "refs/heads/main", sha)
    return sha


def _plant_programs(repo: Path, folder: Path, markers: Path) -> None:
    """Hooks in .git/hooks and in a core.hooksPath folder, and every configured program
    git would run on read paths (fsmonitor, pager, signature checks)."""
    folder.mkdir()
    (repo / ".git" / "hooks").mkdir(exist_ok=True)  # the zoo's `git init` copies no templates
    for hook in HOOKS:
        program(repo / ".git" / "hooks" / hook, markers)
        program(folder / hook, markers)
    for key, name in (("core.fsmonitor", "fsmonitor"), ("core.pager", "pager"),
                      ("gpg.program", "gpg"), ("diff.external", "diff"),
                      ("core.alternateRefsCommand", "alternate-refs")):
        git(repo, "config", key, str(program(folder / name, markers)))
    git(repo, "config", "core.hooksPath", str(folder))
    git(repo, "config", "log.showSignature", "true")
    git(repo, "config", "core.untrackedCache", "true")


def raw_request(port: int, target: bytes, method: bytes = b"GET",
                limit: int = 256 << 20) -> tuple[int, bytes]:
    """Send `method target` exactly as given; (status, whole response)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(method + b" " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Connection: close\r\n\r\n")
        data = b""
        while len(data) < limit and (chunk := sock.recv(1 << 16)):
            data += chunk
    return int(data.split(b" ", 2)[1]), data


def test_model_info_of_a_readme_with_a_code_tag_runs_nothing(lair):
    from huggingface_hub import HfApi

    api = HfApi(endpoint=lair["endpoint"])
    info = api.model_info("zoo/payload", revision=lair["revisions"]["payload"])
    assert info.sha == lair["revisions"]["payload"] and not info.card_data
    assert not (lair["markers"] / "yaml-ran").exists()
    # A plain README still has its card data.
    assert api.model_info("zoo/toy", revision="main").card_data["license"] == "MIT"


@pytest.mark.parametrize("target", [
    b"/../../resolve/main/secret.txt",
    b"/../../resolve/main/hub/secret.txt",
    b"/%2e%2e/%2e%2e/resolve/main/secret.txt",
    b"/%2E%2E/%2E%2E/resolve/main/hub/secret.txt",
    b"/models/../../resolve/main/secret.txt",
    b"/%252e%252e/%252e%252e/resolve/main/secret.txt",
    b"/..%2F../..%2F../resolve/main/secret.txt",
    b"/..%5C..%5C/x/resolve/main/secret.txt",
    b"/..\\..\\/x/resolve/main/secret.txt",
    b"/zoo/toy/resolve/main/..%2F..%2F..%2F..%2F..%2Fsecret.txt",
    b"/zoo/toy/resolve/main/../../../../../secret.txt",
    b"/zoo/toy/resolve/main/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/secret.txt",
    b"/api/models/../../revision/main",
    b"/api/models/%2e%2e/%2e%2e/revision/main",
    b"/api/models/../../tree/main/",
    b"/api/models/%2e%2e/%2e%2e/tree/main/hub",
    b"/zoo/./toy/resolve/main/secret.txt",
    b"//zoo/toy/resolve/main/secret.txt",
    b"/zoo/toy/resolve/main/secret.txt%00.md",
    b"/zoo/linked/resolve/main/secret.txt",
    b"/api/models/zoo/linked/revision/main",
    b"/zoo/gitfile/resolve/main/secret.txt",
    b"/api/models/zoo/gitfile/tree/main/",
    b"/zoo/lfslink/resolve/main/model.keras",
    b"/zoo/commondir/resolve/main/secret.txt",
    b"/api/models/zoo/commondir/tree/main/",
    b"/zoo/objlink/resolve/main/secret.txt",
    b"/api/models/zoo/objlink/revision/main",
    b"/zoo/toy/resolve/main/" + b"a/" * 1500 + b"secret.txt",
])
def test_paths_outside_the_hub_are_never_served(lair, target):
    for method in (b"GET", b"HEAD"):
        status, response = raw_request(lair["port"], target, method)
        assert SECRET not in response
        assert b"secret.txt" not in response.split(b"\r\n\r\n", 1)[-1]  # no listing of outside
        assert status in (400, 401, 404, 405, 414), (target, response[:300])
        assert b"Traceback" not in response and len(response) < 4096


def test_only_reads_are_served(lair):
    for method in (b"POST", b"PUT", b"DELETE", b"PATCH", b"OPTIONS"):
        status, response = raw_request(lair["port"], b"/api/models/zoo/toy/paths-info/main",
                                          method)
        assert status == 405 and b"read-only" in response


def test_an_alias_bomb_readme_is_answered_small(lair):
    revision = lair["revisions"]["bomb"].encode()
    status, response = raw_request(lair["port"], b"/api/models/zoo/bomb/revision/" + revision)
    assert status == 200 and b'"cardData":null' in response
    assert len(response) < 16_384


@pytest.mark.parametrize("target", [b"/api/models/zoo/crowd/revision/main",
                                    b"/api/models/zoo/crowd/tree/main/?recursive=True",
                                    b"/zoo/fat/resolve/main/big.txt"])
def test_a_revision_too_large_to_pull_is_not_listed_or_read_whole(lair, target):
    status, response = raw_request(lair["port"], target)
    assert status != 200 and len(response) < 4096, response[:300]
    assert raw_request(lair["port"], b"/zoo/fat/resolve/main/README.md")[0] == 200


def test_a_repository_with_hooks_and_configured_programs_runs_none_of_them(lair, tmp_path):
    from huggingface_hub import HfApi, hf_hub_download

    api = HfApi(endpoint=lair["endpoint"])
    info = api.model_info("zoo/hooked", revision="main")
    assert [ref.name for ref in api.list_repo_refs("zoo/hooked").branches] == ["main"]
    listed = [f.path for f in api.list_repo_tree("zoo/hooked", revision="main", recursive=True)]
    for path in listed:
        hf_hub_download("zoo/hooked", path, revision=info.sha, endpoint=lair["endpoint"],
                        local_dir=tmp_path / "out")
    assert (tmp_path / "out" / "model.keras").read_bytes() == \
        (lair["hub"].root.parent.parent / "pkg-hooked" / "model.keras").read_bytes()
    status, _ = raw_request(lair["port"], b"/api/models/zoo/hooked/commits/main")
    assert status == 200
    assert sorted(p.name for p in (lair["markers"] / "git").iterdir()) == []


def test_the_server_process_runs_git_with_the_safe_environment(tmp_path, monkeypatch):
    """GitPython, inside the server, spawns git with the server's environment."""
    hub = FolderHub(tmp_path / "hub")
    hub.publish(make_package(tmp_path / "pkg"), "zoo", "toy")
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "elsewhere"))  # would redirect git
    server = start(hub.root, port=free_port(), state=tmp_path / "state")
    try:
        environ = Path(f"/proc/{server.pid}/environ").read_bytes().split(b"\0")
    finally:
        stop(server)
    config = {entry.split(b"=", 1)[0]: entry.split(b"=", 1)[1] for entry in environ if entry}
    pairs = {config[b"GIT_CONFIG_KEY_%d" % i]: config[b"GIT_CONFIG_VALUE_%d" % i]
             for i in range(int(config[b"GIT_CONFIG_COUNT"]))}
    assert pairs[b"core.hooksPath"] == os.devnull.encode()
    assert pairs[b"core.fsmonitor"] == b"false"
    assert b"GIT_DIR" not in config


def test_a_lfs_object_served_is_the_one_in_the_repository(lair):
    status, response = raw_request(lair["port"], b"/zoo/toy/resolve/main/model.keras")
    body = response.split(b"\r\n\r\n", 1)[1]
    assert status == 200 and b"model.weights.h5" in body


@pytest.mark.parametrize("target", [
    b"/api/models/zoo/toy", b"/api/models/zoo/toy/revision/main", b"/api/models/zoo/toy/refs",
    b"/api/models/zoo/toy/tree/main/", b"/api/models/zoo/toy/tree/v1.0/a/b%20c.txt",
    b"/api/models/zoo/toy/commits/main", b"/zoo/toy/resolve/0123abc/model.keras",
])
def test_the_routes_hub_clients_use_pass_the_guard(target):
    check_request("GET", target, b"recursive=True&expand=False")
    check_request("HEAD", target)


@pytest.mark.parametrize(("method", "target", "query", "status"), [
    ("GET", b"/api/models/zoo/toy/tree/main/", b"recursive=1&expand=True", 400),
    ("GET", b"/api/whoami-v2", b"", 404),
    ("GET", b"/api/models/zoo/toy/xet-read-token/main", b"", 404),
    ("GET", b"/api/models/-zoo/toy", b"", 404),
    ("GET", b"/api/models/zoo/toy/revision/a..b", b"", 404),
    ("GET", b"/zoo/toy/resolve/main/.git/config", b"", 400),
    ("GET", b"/zoo/toy/resolve/main/a\x01b", b"", 400),
    ("GET", b"/zoo/toy/resolve/main/a%0Ab", b"", 400),
    ("GET", b"/zoo/toy/resolve/main/caf\xc3\xa9", b"", 400),
    ("GET", b"/zoo/toy/resolve/main/%ff", b"", 400),
    ("GET", b"/zoo/toy/resolve/main/a b", b"", 400),
    ("GET", b"/" + b"a" * 3000, b"", 414),
    ("POST", b"/api/models/zoo/toy/paths-info/main", b"", 405),
])
def test_requests_outside_the_grammar_are_refused(method, target, query, status):
    with pytest.raises(Refused) as refusal:
        check_request(method, target, query)
    assert refusal.value.status == status


@pytest.mark.parametrize("text", [
    'x: !!python/object/apply:os.system ["true"]',
    "x: !!python/name:os.system",
    "x: !!str 1",
    "x: ! 1",
    "a: &a [1]\nb: *a",
    "a: &a 1",
    "[1]",
    "just text",
    "x: .nan",
    "x: " + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1),
    "x: " + "[" * 100_000,
    "x: '" + "a" * MAX_FRONT_MATTER + "'",
    "x: " + "9" * 5000,
    "{[1, 2]: x}",
])
def test_front_matter_the_safe_loader_refuses_has_no_card_data(text):
    assert parse_front_matter(text) is None


def test_plain_front_matter_is_card_data_with_dates_as_text():
    assert parse_front_matter("license: mit\ntags: [a, b]\ndate: 2026-01-01\n"
                              "model-index:\n  - name: x\n    results: []\n") == \
        {"license": "mit", "tags": ["a", "b"], "date": "2026-01-01",
         "model-index": [{"name": "x", "results": []}]}


PATH_PIECES = st.sampled_from(["/", ".", "..", "%2e", "%2E", "%2f", "%2F", "%5c", "\\", "%25",
                               "%00", "%", "a", "zoo", "toy", "resolve", "main", "api",
                               "models", "tree", "revision", ".git", "%c3%a9", " "])


@settings(max_examples=400, deadline=None)
@given(st.lists(PATH_PIECES, max_size=16).map("".join))
@example("/zoo/toy/resolve/main/%2e%2e/%2e%2e/x")
def test_every_path_the_guard_lets_through_decodes_to_plain_segments(tail):
    """What passes is, once decoded, plain segments: none empty, `.` or `..`, and no
    `%`, backslash or control character left to decode again or split on."""
    target = ("/" + tail.lstrip("/")).encode()
    try:
        check_request("GET", target)
    except Refused:
        return
    decoded = unquote(target.decode())
    assert not re.search(r"[%\\\x00-\x1f]", decoded)
    assert all(part not in ("", ".", "..") for part in decoded[1:].removesuffix("/").split("/"))
    assert ".git" not in decoded.split("/")


def test_the_guard_replaces_what_olah_parses_and_reads_in_a_fresh_process():
    code = ("from zoo.hub import olah_guard as g\n"
            "from olah.mirror import repos\nfrom olah import server_mirror\n"
            "g.guard_olah()\n"
            "assert repos.yaml is g._SafeYaml and repos.LocalMirrorRepo.get_file is g.get_file\n"
            "assert server_mirror._mirror_git_paths.__qualname__.startswith('guard_olah')\n"
            "del repos.LocalMirrorRepo.get_file_head\n"
            "try:\n    g.guard_olah()\nexcept RuntimeError as e:\n    print(e)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "not serving unguarded" in done.stdout
