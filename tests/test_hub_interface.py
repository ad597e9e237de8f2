"""The one hub interface, its two backends and the layers around it (Git LFS, the
pull cache, zoo.lock, olah's config, the hf:// name rule), on hand-built packages:
no TensorFlow or Keras is imported here."""

import json
import multiprocessing
import os
import socket
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packages import keras_zip, make_package
from zoo.cards.digest import sha256_file

from zoo.errors import IntegrityError, RefError, ZooError
from zoo.hub import FolderHub, HfHub, Hub, open_hub
from zoo.hub.cache import fetch
from zoo.hub.lfs import (
    TEXT_LIMIT,
    lfs_attributes,
    lfs_pointer,
    object_path,
    parse_lfs_pointer,
    stored_in_lfs,
)
from zoo.hub.lock import read_lock, record
from zoo.hub.refs import parse_ref
from zoo.hub.serve import olah_config, start, stop


def card_files(package: Path) -> dict[str, str]:
    return json.loads((package / "card.json").read_text())["files"]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True).stdout.strip()


@pytest.fixture
def hub(tmp_path) -> FolderHub:
    return FolderHub(tmp_path / "hub")


@pytest.fixture
def package(tmp_path) -> Path:
    return make_package(tmp_path / "pkg", name="toy",
                        files={"model.keras": keras_zip("toy", os.urandom(3000)),
                               "extra/labels.txt": b"a\nb\n"})


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("ZOO_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_open_hub_is_the_one_dispatch_and_both_backends_are_hubs(tmp_path):
    (tmp_path / "team").mkdir()
    backends = {text: open_hub(parse_ref(text))
                for text in ("toy", f"file://{tmp_path}/team/toy", "hf://acme/toy")}
    assert [type(b) for b in backends.values()] == [FolderHub, FolderHub, HfHub]
    assert backends[f"file://{tmp_path}/team/toy"].root == tmp_path / "team"
    assert all(isinstance(b, Hub) for b in backends.values())
    assert [b.readme_is_page for b in backends.values()] == [False, False, True]


def test_publish_then_resolve_names_the_new_commit(hub, package):
    result = hub.publish(package, "zoo", "toy")
    assert result.created and result.tag is None and len(result.revision) == 40
    assert hub.resolve("zoo", "toy", None) == hub.resolve("zoo", "toy", "main") == \
        hub.resolve("zoo", "toy", result.revision[:10]) == result.revision
    assert git(hub.repo_dir("zoo", "toy"), "rev-parse", "main") == result.revision


def test_listed_files_carry_the_hashes_the_card_lists(hub, package):
    revision = hub.publish(package, "zoo", "toy").revision
    files = {f.path: f for f in hub.files("zoo", "toy", revision)}
    assert set(files) == {".gitattributes", "card.json", *card_files(package)}
    assert {p: files[p].sha256 for p in card_files(package)} == card_files(package)
    assert files["card.json"].sha256 == sha256_file(package / "card.json")
    assert {p for p, f in files.items() if f.lfs} == {"model.keras"}
    assert files["model.keras"].size == (package / "model.keras").stat().st_size  # not the pointer's


def test_download_gives_back_the_package_byte_for_byte(hub, package, tmp_path):
    revision = hub.publish(package, "zoo", "toy").revision
    hub.download("zoo", "toy", revision, tmp_path / "out")
    got = sorted(p.relative_to(tmp_path / "out").as_posix()
                 for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert got == ["README.md", "card.json", "extra/labels.txt", "model.keras"]  # no .gitattributes
    assert all((tmp_path / "out" / p).read_bytes() == (package / p).read_bytes() for p in got)


def test_the_same_package_twice_is_one_revision_and_a_new_one_keeps_the_old(hub, package,
                                                                           tmp_path):
    first = hub.publish(package, "zoo", "toy")
    again = hub.publish(package, "zoo", "toy")
    assert (again.created, again.revision) == (False, first.revision)
    second = hub.publish(make_package(tmp_path / "v2", name="toy", version="2.0.0"), "zoo", "toy")
    assert second.created and second.revision != first.revision
    assert hub.resolve("zoo", "toy", None) == second.revision
    old = {f.path: f.sha256 for f in hub.files("zoo", "toy", first.revision)}
    assert old["model.keras"] == card_files(package)["model.keras"]


def test_tags_name_commits_and_move_only_when_asked(hub, package, tmp_path):
    v1 = hub.publish(package, "zoo", "toy", tag="v1")
    assert v1.tag == "v1" and hub.tags("zoo", "toy") == {"v1": v1.revision}
    newer = make_package(tmp_path / "v2", name="toy", version="2.0.0")
    with pytest.raises(RefError, match="--move-tag"):
        hub.publish(newer, "zoo", "toy", tag="v1")
    assert hub.resolve("zoo", "toy", "v1") == v1.revision
    moved = hub.publish(newer, "zoo", "toy", tag="v1", move_tag=True)
    assert hub.tags("zoo", "toy") == {"v1": moved.revision} and moved.revision != v1.revision
    with pytest.raises(RefError, match="bad tag"):
        hub.publish(newer, "zoo", "toy", tag="-rf")


def test_folder_hub_refuses_private_instead_of_ignoring_it(hub, package):
    with pytest.raises(ZooError, match="--private is for hf://"):
        hub.publish(package, "zoo", "toy", private=True)
    assert not hub.exists("zoo", "toy")


def test_unknown_repository_and_revision_are_ref_errors(hub, package):
    with pytest.raises(RefError, match="no repository zoo/nope"):
        hub.resolve("zoo", "nope", None)
    with pytest.raises(RefError, match="no repository zoo/nope"):
        hub.tags("zoo", "nope")
    hub.publish(package, "zoo", "toy", tag="v1")
    with pytest.raises(RefError, match=r"no revision 'v9' \(tags: v1"):
        hub.resolve("zoo", "toy", "v9")


class RecordingHub:
    """A fake hub wrapper: a real FolderHub underneath, recording which interface
    methods the cache calls (nothing else shows which calls were made)."""

    def __init__(self, real: Hub):
        self.real, self.calls = real, []
        self.readme_is_page = real.readme_is_page

    def __getattr__(self, name):
        self.calls.append(name)
        return getattr(self.real, name)


def test_the_cache_fetches_through_the_interface_and_reuses_its_snapshot(
        hub, package, cache, monkeypatch):
    revision = hub.publish(package, "zoo", "toy").revision
    recording = RecordingHub(hub)
    monkeypatch.setattr("zoo.hub.cache.open_hub", lambda ref: recording)
    snapshot = fetch(parse_ref(f"file://{hub.root}/toy"))
    card_first = ["resolve", "files", "download", "download"]  # listing, card, then the rest
    assert recording.calls == card_first
    assert snapshot.revision == revision and snapshot.path.is_relative_to(cache)
    assert snapshot.card_sha256 == sha256_file(package / "card.json")
    assert all(sha256_file(snapshot.path / p) == d for p, d in card_files(package).items())
    again = fetch(parse_ref(f"file://{hub.root}/toy"))
    assert recording.calls == [*card_first, "resolve"] and again.path == snapshot.path


def test_the_cache_refuses_a_tampered_lfs_object_and_keeps_nothing(hub, package, cache):
    revision = hub.publish(package, "zoo", "toy").revision
    lfs = object_path(hub.repo_dir("zoo", "toy"), card_files(package)["model.keras"])
    data = bytearray(lfs.read_bytes())
    data[1500] ^= 0xFF
    lfs.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="sha256 of model.keras does not match"):
        fetch(parse_ref(f"file://{hub.root}/toy"))
    assert not (cache / "snapshots" / "zoo" / "toy" / revision).exists()
    assert not any((cache / "tmp").iterdir()) and not (cache / "blobs").exists()


def test_a_missing_lfs_object_is_an_integrity_error(hub, package, tmp_path):
    revision = hub.publish(package, "zoo", "toy").revision
    object_path(hub.repo_dir("zoo", "toy"), card_files(package)["model.keras"]).unlink()
    with pytest.raises(IntegrityError, match="LFS object for model.keras is missing"):
        hub.download("zoo", "toy", revision, tmp_path / "out")


def test_lfs_pointers_round_trip_and_other_bytes_are_not_pointers():
    oid = "ab" * 32
    assert parse_lfs_pointer(lfs_pointer(oid, 1234).encode()) == (oid, 1234)
    assert parse_lfs_pointer(b"plain text") is None
    for malformed in (b"version https://git-lfs.github.com/spec/v1\nsize 3\n",
                      lfs_pointer("../../../etc/passwd", 3).encode(),
                      lfs_pointer(oid.upper(), 3).encode(),
                      lfs_pointer(oid, 3).encode().replace(b"size 3", b"size abc"),
                      b"version https://git-lfs.github.com/spec/v1\n\xff\xfe"):
        with pytest.raises(IntegrityError, match="malformed Git LFS pointer"):
            parse_lfs_pointer(malformed)
    assert parse_lfs_pointer(lfs_pointer(oid, 1).encode() + b"x" * 2000) is None  # too big
    assert lfs_attributes(["a.keras", "b/c.bin"]) == \
        "a.keras filter=lfs diff=lfs merge=lfs -text\nb/c.bin filter=lfs diff=lfs merge=lfs -text\n"


def test_weights_and_large_text_go_to_lfs_small_text_does_not(tmp_path):
    (tmp_path / "model.keras").write_bytes(b"x")
    (tmp_path / "card.json").write_text("{}")
    with open(tmp_path / "big.txt", "wb") as handle:
        handle.truncate(TEXT_LIMIT + 1)  # sparse: costs no disk
    assert [stored_in_lfs(tmp_path / n) for n in ("model.keras", "card.json", "big.txt")] == \
        [True, False, True]


def test_olah_config_survives_a_quote_in_the_hub_path(tmp_path):
    root = tmp_path / 'the "team" hub'
    path = olah_config(root, "0.0.0.0", 8123, tmp_path)
    config = tomllib.loads(path.read_text())
    assert config["basic"]["mirrors-path"] == [str(root)]
    assert config["basic"]["port"] == 8123 and config["basic"]["host"] == "0.0.0.0"
    assert config["basic"]["mirror-netloc"] == "127.0.0.1:8123"
    assert config["accessibility"]["offline"] is True


def _record_many(lock: Path, writer: int, count: int) -> None:
    for i in range(count):
        record(lock, f"zoo/model-{writer}-{i}", f"{writer:040x}", f"{i:064x}")


def test_concurrent_records_keep_every_entry(tmp_path):
    lock, writers, count = tmp_path / "zoo.lock", 6, 25
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=_record_many, args=(lock, w, count))
                 for w in range(writers)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
    assert [p.exitcode for p in processes] == [0] * writers
    packages = read_lock(lock)
    assert len(packages) == writers * count
    assert packages["zoo/model-3-7"]["revision"] == f"{3:040x}"


@pytest.mark.parametrize("text", ["hf://acme/a--b", "hf://acme/iris.git", "hf://acme/-iris",
                                  "hf://acme/..", "hf://acme/ir%is", "hf://" + "a" * 97 + "/x"])
def test_hub_names_the_hub_would_refuse_are_refused_in_one_line(text):
    with pytest.raises(RefError) as caught:
        parse_ref(text)
    message = str(caught.value)
    assert "\n" not in message and "bad Hub repository" in message and "e.g." in message


def test_hub_names_the_hub_accepts_parse():
    ref = parse_ref("hf://Acme-Labs/iris_v2.1@v1")
    assert (ref.owner, ref.name, ref.revision, ref.scheme) == \
        ("Acme-Labs", "iris_v2.1", "v1", "hf")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_hub_api_serves_what_the_folder_hub_holds(tmp_path, package, monkeypatch):
    """Both backends, one repository: olah serves the folder hub over the Hub API."""
    folder = FolderHub(tmp_path / "served")
    revision = folder.publish(package, "zoo", "toy", tag="v1").revision
    port = free_port()
    server = start(folder.root, port=port, state=tmp_path / "olah")
    try:
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        api = HfHub(refs=tmp_path / "refs")
        assert api.resolve("zoo", "toy", "v1") == revision
        assert api.tags("zoo", "toy") == folder.tags("zoo", "toy")
        served = {f.path: f for f in api.files("zoo", "toy", revision)}
        held = {f.path: f for f in folder.files("zoo", "toy", revision)}
        assert {p: (f.size, f.lfs) for p, f in served.items()} == \
            {p: (f.size, f.lfs) for p, f in held.items()}
        assert served["model.keras"].sha256 == held["model.keras"].sha256  # the LFS oid
        api.download("zoo", "toy", revision, tmp_path / "out")
        assert sorted(p.name for p in (tmp_path / "out").rglob("*") if p.is_file()) == \
            ["README.md", "card.json", "labels.txt", "model.keras"]
        assert (tmp_path / "out" / "model.keras").read_bytes() == \
            (package / "model.keras").read_bytes()
    finally:
        stop(server)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the server is gone: what was resolved stays
    assert HfHub(refs=tmp_path / "refs").resolve("zoo", "toy", "v1") == revision
    with pytest.raises(RefError, match="HF_HUB_OFFLINE"):
        HfHub(refs=tmp_path / "refs").resolve("zoo", "toy", "main")


def test_the_hub_layers_import_no_tensorflow_or_keras():
    code = ("import sys, packages, zoo.hub.cache, zoo.hub.lock, zoo.hub.publish, zoo.hub.serve\n"
            "print(sorted({'tensorflow', 'keras'} & set(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, cwd=Path(__file__).parent)
    assert done.stdout.strip() == "[]"
