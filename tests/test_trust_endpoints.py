"""Values from a server or the cache's own bookkeeping never name a path unchecked.

A real HTTP server on loopback answers hostile JSON where huggingface_hub expects
Hub API answers (a commit sha that is a path, tree listings with impossible sizes,
oids and paths); the cache's refs are poisoned on disk; a forged folder-hub revision
holds an unlisted 50 MB blob. Each is refused in one line before it names anything
on disk, and directories planted around the cache (its parent, a sibling, one
inside its root, an absolute one elsewhere) are untouched. No Keras.
"""

import hashlib
import json
import os
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from conftest import ok, refused
from forge import commit, files_of, lfs_pointer, store_lfs_object
from packages import make_package
from zoo.hub import FolderHub
from zoo.hub.cache import clean_cache, fetch
from zoo.hub.refs import parse_ref
from zoo.trust.repo_paths import (
    check_blob_id,
    check_commit,
    check_ref_name,
    check_sha256,
    check_size,
)

from zoo.errors import UnsafePathError

GOOD_SHA = "c" * 40
REPO = "mallory/net"


# --- a hostile Hub API on loopback -------------------------------------------------

class HostileHub:
    """What the server answers: `info` for model_info, `tree` for list_repo_tree,
    `commits` and `refs` (when set) for list_repo_commits and list_repo_refs."""

    def __init__(self) -> None:
        self.info: object = {"id": REPO, "sha": GOOD_SHA, "siblings": []}
        self.tree: object = []
        self.later_tree: object = None  # what every tree listing after the first answers
        self.commits: object = None
        self.refs: object = None
        self.flood = 0  # bytes every file download streams (0: no file is served)
        self.sent = 0  # bytes of files sent before the client hung up
        self.requests: list[str] = []


def handler_for(hub: HostileHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self, body: bytes | None) -> None:
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            if body and self.command == "GET":
                self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            path = unquote(urlparse(self.path).path)
            hub.requests.append(path)
            if path.startswith(f"/api/models/{REPO}/revision/"):
                self._answer(json.dumps(hub.info).encode())
            elif path.startswith(f"/api/models/{REPO}/tree/"):
                listed_before = sum("/tree/" in seen for seen in hub.requests) > 1
                tree = hub.later_tree if listed_before and hub.later_tree is not None \
                    else hub.tree
                self._answer(json.dumps(tree).encode())
            elif path.startswith(f"/api/models/{REPO}/commits/") and hub.commits is not None:
                self._answer(json.dumps(hub.commits).encode())
            elif path.startswith(f"/api/models/{REPO}/refs") and hub.refs is not None:
                self._answer(json.dumps(hub.refs).encode())
            elif path.startswith(f"/{REPO}/resolve/") and hub.flood:
                self._flood(hub.flood)
            else:  # no file is ever served: a download would be a failure of the test
                self._answer(None)

        def _flood(self, size: int) -> None:
            """A body of `size` bytes, whatever the listing said, until the client hangs up."""
            self.send_response(200)
            self.send_header("Content-Length", str(size))
            self.send_header("X-Repo-Commit", GOOD_SHA)  # what a Hub file answer carries
            self.send_header("ETag", '"' + "d" * 40 + '"')
            self.end_headers()
            chunk = b"x" * (1 << 16)
            try:
                while self.command == "GET" and hub.sent < size:
                    self.wfile.write(chunk)
                    hub.sent += len(chunk)
            except OSError:  # the client stopped reading: what it should do
                pass

        do_HEAD = do_GET  # noqa: N815

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, HostileHub]]:
    hub = HostileHub()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(hub))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", hub
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(10)


@pytest.fixture
def place(tmp_path, monkeypatch) -> Path:
    """A cache at PLACE/cache with victims planted around it: in its parent, a sibling,
    inside its root (outside snapshots/) and an absolute folder elsewhere."""
    place = tmp_path / "place"
    for victim in (place / "cache" / "victim", place / "sibling", tmp_path / "victim-abs"):
        victim.mkdir(parents=True)
        (victim / "keep.txt").write_text("the user's own file\n")
    (place / "keep.txt").write_text("in the cache's parent\n")
    monkeypatch.setenv("ZOO_CACHE", str(place / "cache"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return place


@pytest.fixture
def endpoint(server, place, monkeypatch) -> HostileHub:
    url, hub = server
    monkeypatch.setenv("HF_ENDPOINT", url)
    hub.info, hub.tree, hub.requests[:] = {"id": REPO, "sha": GOOD_SHA, "siblings": []}, [], []
    hub.commits = hub.refs = hub.later_tree = None
    hub.flood = hub.sent = 0
    return hub


def everything_under(root: Path) -> dict[Path, bytes]:
    """Every file under `root` and its bytes, but the cache's lock files (a pull takes one)."""
    return {p: p.read_bytes() for p in root.rglob("*")
            if p.is_file() and p.parent.name != "locks"}


def hostile_shas(tmp_path: Path) -> list[object]:
    return [str(tmp_path / "victim-abs"), "../../../victim", "../../../../sibling",
            "../../../..", "a" * 20 + "/" + "a" * 19, "b" * 64, "", 12345, None, ["a" * 40],
            "A" * 40, "c" * 39 + "\n"]


def test_a_sha_that_is_a_path_or_no_sha_is_refused_by_pull_and_inspect(endpoint, place,
                                                                        tmp_path):
    before = everything_under(tmp_path)
    for sha in hostile_shas(tmp_path):
        endpoint.info = {"id": REPO, "sha": sha}
        for args in (("pull", f"hf://{REPO}", "--out", tmp_path / "out"),
                     ("inspect", f"hf://{REPO}@v1")):
            line = refused(*args)
            assert "not a commit sha" in line, (sha, line)
        assert everything_under(tmp_path) == before, sha  # victims and all, byte for byte
        assert not (tmp_path / "out").exists()
        assert not (place / "cache" / "refs").exists()  # the bad value was never kept
    assert any("/revision/" in path for path in endpoint.requests)  # the server was asked


def test_import_refuses_a_path_where_a_sha_belongs_in_one_line(endpoint, place, tmp_path):
    endpoint.info = {"id": REPO, "sha": "../../../victim"}
    line = refused("import", f"hf://{REPO}", "--license", "MIT", "--out", tmp_path / "out")
    assert "not a commit sha" in line and "unexpectedly" not in line
    assert (place / "cache" / "victim" / "keep.txt").is_file()


@pytest.mark.parametrize("answer", [["not", "an", "object"], {"sha": GOOD_SHA}, "text"])
def test_a_model_info_huggingface_hub_cannot_read_is_one_line(endpoint, tmp_path, answer):
    endpoint.info = answer
    line = refused("pull", f"hf://{REPO}", "--out", tmp_path / "out")
    assert "malformed" in line or "not a commit sha" in line


def entry(path: object = "card.json", size: object = 10, oid: object = "d" * 40,
          lfs: object = None) -> dict:
    item = {"type": "file", "path": path, "size": size, "oid": oid}
    return {**item, "lfs": lfs} if lfs is not None else item


HOSTILE_TREES = {
    "a negative size": ([entry(size=-1)], "its size as -1"),
    "a size beyond any file": ([entry(size=2 ** 62)], "its size as"),
    "a size that is text": ([entry(size="12")], "its size as '12'"),
    "a size that is a fraction": ([entry(size=1.5)], "its size as 1.5"),
    "a size that is a boolean": ([entry(size=True)], "its size as True"),
    "no size": ([entry(size=None)], "its size as None"),
    "a blob id that is a path": ([entry(oid="../../../victim")], "git blob id"),
    "a blob id of 64 digits": ([entry(oid="e" * 64)], "git blob id"),
    "an lfs oid that is a path": (
        [entry("model.keras", lfs={"oid": "../../victim", "size": 5, "pointerSize": 130})],
        "LFS oid"),
    "an lfs size below zero": (
        [entry("model.keras", lfs={"oid": "f" * 64, "size": -5, "pointerSize": 130})],
        "its size as -5"),
    "an lfs entry without an oid": ([entry("model.keras", lfs={"size": 5})], "malformed"),
    "a path with ..": ([entry("../../escape.txt")], "refusing file path"),
    "an absolute path": ([entry("/etc/passwd")], "refusing file path"),
    "a path that is a number": ([entry(7)], "not text"),
    "an entry without a type": ([{"path": "card.json"}], "malformed"),
    "an entry that is text": (["card.json"], "malformed"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_TREES))
def test_a_tree_listing_with_hostile_values_is_refused_before_any_download(endpoint, place,
                                                                          tmp_path, case):
    tree, why = HOSTILE_TREES[case]
    endpoint.tree = [entry("README.md", 3), *tree]
    before = everything_under(tmp_path)
    for args in (("pull", f"hf://{REPO}", "--out", tmp_path / "out"),
                 ("inspect", f"hf://{REPO}")):
        line = refused(*args)
        assert why in line, line
    assert everything_under(tmp_path) == {  # only the good sha was kept, in the refs
        **before, place / "cache/refs/hf" / REPO / "main": f"{GOOD_SHA}\n".encode()}
    assert not any((place / "cache" / "tmp").iterdir())
    assert not (place / "cache" / "snapshots").exists()
    assert not any("/resolve/" in path for path in endpoint.requests)  # nothing downloaded


def test_a_server_that_streams_more_than_it_listed_is_cut_off_at_the_listed_size(
        endpoint, place, tmp_path):
    endpoint.tree = [entry("card.json", 100)]
    endpoint.flood = 64 << 20  # 64 MiB for a card listed as 100 bytes
    line = refused("pull", f"hf://{REPO}", "--out", tmp_path / "out")
    assert "more than the 100 bytes its listing gives" in line, line
    assert endpoint.sent < endpoint.flood  # the zoo hung up; it did not read it all
    assert not any((place / "cache" / "tmp").iterdir())
    assert not (tmp_path / "out").exists()


def test_a_pull_lists_the_revision_once_and_that_listing_bounds_every_download(
        endpoint, place, tmp_path):
    endpoint.tree = [entry("card.json", 100)]
    endpoint.later_tree = [entry("card.json", 50 << 20)]  # checked once, then grown
    endpoint.flood = 64 << 20
    line = refused("pull", f"hf://{REPO}", "--out", tmp_path / "out")
    assert "more than the 100 bytes its listing gives" in line, line
    assert sum("/tree/" in path for path in endpoint.requests) == 1
    assert not any((place / "cache" / "tmp").iterdir())


# --- the cache's own refs, poisoned --------------------------------------------------

def poison(place: Path, revision: str, value: bytes) -> Path:
    refs = place / "cache" / "refs" / "hf" / REPO
    refs.mkdir(parents=True, exist_ok=True)
    (refs / revision).write_bytes(value)
    return refs / revision


@pytest.mark.parametrize("value", ["../../../victim", "ABS", "../../../../..", "b" * 64, "",
                                   "x" * 10_000, "\xff\xfe"])
def test_a_poisoned_refs_file_is_refused_offline_and_only_it_is_dropped(place, tmp_path,
                                                                        monkeypatch, value):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing there: never asked
    value = str(tmp_path / "victim-abs") if value == "ABS" else value
    poisoned = poison(place, "v1", value.encode("latin-1") + b"\n")
    good = poison(place, "v2", f"{GOOD_SHA}\n".encode())
    before = everything_under(tmp_path)
    for args in (("pull", f"hf://{REPO}@v1", "--out", tmp_path / "out"),
                 ("inspect", f"hf://{REPO}@v1")):
        line = refused(*args)
        assert "refusing the cached ref" in line or "is not in the cache" in line
    assert not poisoned.exists() and good.read_bytes() == f"{GOOD_SHA}\n".encode()
    del before[poisoned]
    assert everything_under(tmp_path) == before  # the victims are all there
    # the control: the good refs file is read, and only the download needs the server
    assert "is not in the cache and HF_HUB_OFFLINE" in refused("pull", f"hf://{REPO}@v2",
                                                                "--out", tmp_path / "out")


def test_a_refs_file_that_is_a_link_is_dropped_not_followed(place, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    target = tmp_path / "victim-abs" / "keep.txt"
    link = place / "cache" / "refs" / "hf" / REPO / "v1"
    link.parent.mkdir(parents=True)
    link.symlink_to(target)
    assert "refusing the cached ref" in refused("pull", f"hf://{REPO}@v1", "--out",
                                                tmp_path / "out")
    assert not link.is_symlink() and target.read_text() == "the user's own file\n"


def test_a_refs_folder_linked_out_of_the_cache_is_never_written(endpoint, place, tmp_path):
    outside = tmp_path / "victim-abs"
    (place / "cache" / "refs" / "hf").mkdir(parents=True)
    (place / "cache" / "refs" / "hf" / "mallory").symlink_to(outside)
    line = refused("pull", f"hf://{REPO}", "--out", tmp_path / "out")
    assert "symlink" in line
    assert sorted(p.name for p in outside.iterdir()) == ["keep.txt"]


# --- removals stay inside the cache -------------------------------------------------

@pytest.fixture
def folder_hub(tmp_path) -> tuple[FolderHub, Path, str]:
    hub = FolderHub(tmp_path / "hub")
    revision = hub.publish(make_package(tmp_path / "pkg", name="toy"), "zoo", "toy").revision
    return hub, hub.repo_dir("zoo", "toy"), revision


def test_a_snapshot_linked_out_of_the_cache_is_unlinked_not_emptied(folder_hub, place,
                                                                    tmp_path):
    hub, _, revision = folder_hub
    victim = tmp_path / "victim-abs"
    snapshot = place / "cache" / "snapshots" / "zoo" / "toy" / revision
    snapshot.parent.mkdir(parents=True)
    snapshot.symlink_to(victim, target_is_directory=True)
    ok("pull", f"file://{hub.root}/toy", "--out", tmp_path / "out")
    assert (victim / "keep.txt").is_file() and not snapshot.is_symlink()
    assert (snapshot / "card.json").is_file()  # fetched again, as a real folder


def test_a_snapshots_folder_linked_out_of_the_cache_is_refused(folder_hub, place, tmp_path):
    hub, _, revision = folder_hub
    victim = tmp_path / "victim-abs"
    (victim / "toy" / revision).mkdir(parents=True)  # where a pull would look, and remove
    (place / "cache" / "snapshots").mkdir(parents=True)
    (place / "cache" / "snapshots" / "zoo").symlink_to(victim, target_is_directory=True)
    assert "symlink" in refused("pull", f"file://{hub.root}/toy", "--out", tmp_path / "out")
    assert (victim / "keep.txt").is_file() and (victim / "toy" / revision).is_dir()


def test_cache_clean_removes_a_linked_snapshot_not_what_it_points_to(folder_hub, place,
                                                                     tmp_path):
    hub, _, revision = folder_hub
    fetch(parse_ref(f"file://{hub.root}/toy"))
    link = place / "cache" / "snapshots" / "zoo" / "toy" / ("d" * 40)
    link.symlink_to(tmp_path / "victim-abs", target_is_directory=True)
    assert link in clean_cache(place / "cache")
    assert not link.is_symlink() and (tmp_path / "victim-abs" / "keep.txt").is_file()


def test_remove_inside_refuses_everything_not_strictly_inside_the_cache(place, tmp_path):
    from zoo.hub.cache import remove_inside

    cache = place / "cache"
    for folder in ("snapshots", "tmp", "blobs"):
        (cache / folder).mkdir(exist_ok=True)
    (cache / "tmp" / "link").symlink_to(tmp_path / "victim-abs", target_is_directory=True)
    for path in (cache, cache / "victim", cache / "snapshots", cache / "snapshots" / "..",
                 cache / "tmp" / "link" / "keep.txt", place, tmp_path / "victim-abs",
                 cache / "refs" / "x", Path("/")):
        with pytest.raises(UnsafePathError, match="refusing to remove"):
            remove_inside(cache, path)
    remove_inside(cache, cache / "tmp" / "link")  # the link itself goes
    assert not (cache / "tmp" / "link").exists()
    assert (tmp_path / "victim-abs" / "keep.txt").is_file()
    assert (cache / "victim" / "keep.txt").is_file()


# --- card first: nothing unlisted or oversized is read ------------------------------

BIG = 50 * 1024 * 1024


@pytest.fixture
def copied(monkeypatch) -> list[Path]:
    """Every file shutil.copyfile reads (the folder hub copies LFS objects with it),
    recorded before the real copy runs."""
    sources: list[Path] = []
    real_copyfile = shutil.copyfile

    def spy(source, target, *args, **kwargs):
        sources.append(Path(source))
        return real_copyfile(source, target, *args, **kwargs)

    monkeypatch.setattr(shutil, "copyfile", spy)
    return sources


def test_an_unlisted_big_file_is_refused_before_a_byte_of_it_is_read(folder_hub, place,
                                                                     tmp_path, copied):
    hub, repo, revision = folder_hub
    oid = store_lfs_object(repo, b"\0" * BIG)
    big = repo / ".git" / "lfs" / "objects" / oid[:2] / oid[2:4] / oid
    commit(repo, {**files_of(repo, revision), "big.bin": lfs_pointer(oid, BIG)})
    line = refused("pull", f"file://{hub.root}/toy", "--out", tmp_path / "out")
    assert "not listed in the card: big.bin" in line
    assert copied == []  # neither the big object nor model.keras: only the card was read
    assert big.stat().st_size == BIG
    assert not any((place / "cache" / "tmp").iterdir())
    assert not (place / "cache" / "blobs").exists()


@pytest.mark.parametrize("size", [16 * 1024 ** 3 + 1, 10 ** 18])
def test_a_file_listed_larger_than_the_bound_is_refused_before_download(folder_hub, place,
                                                                        tmp_path, size):
    hub, repo, revision = folder_hub
    tree = files_of(repo, revision)
    card = json.loads(tree["card.json"])
    oid = card["files"]["model.keras"]
    commit(repo, {**tree, "model.keras": lfs_pointer(oid, size)})
    assert "its size as" in refused("inspect", f"file://{hub.root}/toy")
    assert "the hub lists its size as" in refused("pull", f"file://{hub.root}/toy", "--out",
                                                  tmp_path / "out")
    assert not (place / "cache" / "blobs").exists()


@pytest.mark.parametrize("name", ["card.json", "model.sig", ".gitattributes"])
def test_a_card_signature_or_attributes_listed_as_huge_is_refused_unread(folder_hub, place,
                                                                       tmp_path, copied,
                                                                       name):
    hub, repo, revision = folder_hub
    commit(repo, {**files_of(repo, revision), name: lfs_pointer("e" * 64, 9 * 1024 ** 2)})
    line = refused("pull", f"file://{hub.root}/toy", "--out", tmp_path / "out")
    assert "9,437,184 bytes" in line and name in line
    assert copied == []


def test_a_card_missing_a_file_it_lists_is_refused_before_the_rest_downloads(folder_hub,
                                                                             place, tmp_path,
                                                                             copied):
    hub, repo, revision = folder_hub
    tree = files_of(repo, revision)
    card = json.loads(tree["card.json"])
    card["files"]["extra.txt"] = hashlib.sha256(b"x").hexdigest()
    commit(repo, {**tree, "card.json": json.dumps(card).encode()})
    line = refused("pull", f"file://{hub.root}/toy", "--out", tmp_path / "out")
    assert "listed in the card are missing: extra.txt" in line
    assert copied == []  # model.keras was never downloaded
    assert not (place / "cache" / "blobs").exists()


# --- the one grammar -----------------------------------------------------------------

@pytest.mark.parametrize("value", ["/tmp/x", "../../victim", "a" * 39, "a" * 41, "b" * 64,
                                   "A" * 40, "", 40, None, "a" * 20 + "/" + "a" * 19,
                                   "a" * 40 + "\n"])
def test_check_commit_refuses_anything_but_40_lowercase_hex(value):
    with pytest.raises(UnsafePathError, match="not a commit sha"):
        check_commit(value)
    with pytest.raises(UnsafePathError):
        check_blob_id(value)


def test_the_grammar_accepts_what_hubs_really_send():
    assert check_commit("0123456789abcdef" * 2 + "01234567") == "0123456789abcdef" * 2 + \
        "01234567"
    assert check_sha256("f" * 64) == "f" * 64 and check_size(0, "x") == 0
    assert check_ref_name("v1.0") == "v1.0" and check_ref_name("release/2026") == "release/2026"
    for bad in ("..", "a/../b", "/abs", "v1.lock", "a//b", "-x", "a b", 7):
        with pytest.raises(UnsafePathError):
            check_ref_name(bad)
    with pytest.raises(UnsafePathError):
        check_sha256("../" + "f" * 61)


# --- zoo import of a folder that is not there ---------------------------------------

@pytest.mark.parametrize("source", ["./missing-folder", "../missing", "/no/such/folder"])
def test_import_of_a_missing_folder_says_it_does_not_exist(tmp_path, source, monkeypatch):
    monkeypatch.chdir(tmp_path)
    line = refused("import", source, "--license", "MIT", "--out", tmp_path / "out")
    assert "does not exist" in line and source in line and "owner" not in line
    assert not (tmp_path / "out").exists()


def test_import_of_a_file_says_it_is_not_a_folder(tmp_path, monkeypatch):
    (tmp_path / "model.keras").write_bytes(b"x")
    monkeypatch.chdir(tmp_path)
    assert "is not a folder" in refused("import", "./model.keras", "--out", tmp_path / "out")
    assert os.listdir(tmp_path) == ["model.keras"]


def upstream_commit(title: str = "first") -> dict:
    return {"id": GOOD_SHA, "title": title, "message": "", "authors": [{"user": "mallory"}],
            "date": "2024-01-01T00:00:00.000Z"}


def upstream_refs(name: object = "main", target: object = GOOD_SHA) -> dict:
    return {"branches": [{"name": name, "ref": "refs/heads/main", "targetCommit": target}],
            "tags": [], "converts": []}


@pytest.mark.parametrize(("commit_", "refs", "says"), [
    (upstream_commit("\ud800 a lone surrogate"), upstream_refs(), "malformed commit"),
    (upstream_commit(), upstream_refs(name=123), "not a valid name"),
    (upstream_commit(), upstream_refs(target=5), "not a valid name"),
    (upstream_commit(), upstream_refs(target=None), "not a valid name"),
])
def test_a_mirror_of_hostile_commits_or_refs_is_refused_in_one_line(endpoint, place, tmp_path,
                                                                    commit_, refs, says):
    """JSON the commit and ref listings can carry (a lone surrogate in a title, a number
    for a ref name or its commit) is the zoo's refusal, not the CLI's catch-all."""
    endpoint.commits, endpoint.refs = [commit_], refs
    assert says in refused("hub", "mirror", f"hf://{REPO}", "--hub", tmp_path / "hub")
    assert not (tmp_path / "hub" / "models" / "mallory" / "net").exists()


def test_a_mirror_cuts_off_a_file_streamed_beyond_its_listed_size(endpoint, place, tmp_path):
    endpoint.commits, endpoint.refs = [upstream_commit()], upstream_refs()
    endpoint.tree = [entry("README.md", 100)]
    endpoint.flood = 64 << 20  # 64 MiB for a README listed as 100 bytes
    line = refused("hub", "mirror", f"hf://{REPO}", "--hub", tmp_path / "hub")
    assert "more than the 100 bytes its listing gives" in line, line
    assert endpoint.sent < endpoint.flood  # the zoo hung up; it did not read it all
    assert not (tmp_path / "hub" / "models" / "mallory" / "net").exists()
