"""A hub that lies: commits forged with git plumbing the way an attacker who owns the
hub would (tests/forge.py), hostile models under resealed cards, a cache damaged in
place, publishes that race or crash. Each case is refused in one line (or healed),
nothing is written outside the cache or the package, and hub and cache stay
consistent. No Keras: packages are hand-built (tests/packages.py)."""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import ok, refused
from forge import commit, files_of, git, lfs_pointer, store_lfs_object
from packages import keras_zip, make_package
from zoo.hub import FolderHub
from zoo.hub.cache import clean_cache, fetch, verify_cache
from zoo.hub.refs import parse_ref

from zoo.errors import IntegrityError, RefError


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("ZOO_CACHE", str(tmp_path / "home" / ".cache" / "zoo"))
    return tmp_path / "home" / ".cache" / "zoo"


@pytest.fixture
def hub(tmp_path) -> FolderHub:
    return FolderHub(tmp_path / "hub")


@pytest.fixture
def published(hub, tmp_path) -> tuple[Path, str]:
    """A well-behaved revision of zoo/toy and its repository."""
    revision = hub.publish(make_package(tmp_path / "pkg", name="toy"), "zoo", "toy").revision
    return hub.repo_dir("zoo", "toy"), revision


def ref(hub: FolderHub, name: str = "toy") -> str:
    return f"file://{hub.root}/{name}"


def resealed(tree: dict, **files: bytes) -> dict:
    """`tree` with `files` replaced, its card's hashes resealed to match, as a hub
    owner can; large files go to LFS the way a well-behaved hub stores them."""
    card = json.loads(tree["card.json"])
    for name, data in files.items():
        card["files"][name] = hashlib.sha256(data).hexdigest()
        tree[name] = data
    return {**tree, "card.json": json.dumps(card).encode()}


def everything_under(root: Path) -> set[Path]:
    """Every file under `root` but the cache's lock files (a pull takes one)."""
    return {p for p in root.rglob("*") if p.is_file() and p.parent.name != "locks"}


def test_a_tree_with_dotdot_entries_writes_nothing_outside_the_cache(hub, published, cache,
                                                                     tmp_path):
    repo, revision = published
    tree = files_of(repo, revision)
    tree[".."] = {"..": {"..": {"..": {"escaped.txt": b"owned"}}}}
    commit(repo, tree)
    before = everything_under(tmp_path)
    line = refused("pull", ref(hub), "--out", tmp_path / "out")
    assert "refusing file path '../../../../escaped.txt'" in line
    assert everything_under(tmp_path) == before  # nothing anywhere, in the cache or above
    assert not (tmp_path / "home" / "escaped.txt").exists() and not (tmp_path / "out").exists()


@pytest.mark.parametrize("entries, why", [
    ({".git": {"config": b"[core]\n\tfsmonitor = touch /tmp/owned\n"}}, "'.git'"),
    ({"a\\b.txt": b"x"}, "control character or one of"),
    ({"bell\x07.txt": b"x"}, "control character or one of"),
    ({" model.keras": b"x"}, "leading or trailing spaces"),
])
def test_tree_entries_outside_the_path_grammar_are_refused(hub, published, cache, tmp_path,
                                                           entries, why):
    repo, revision = published
    commit(repo, {**files_of(repo, revision), **entries})
    assert why in refused("pull", ref(hub), "--out", tmp_path / "out")
    assert not any((cache / "snapshots").rglob("*.txt")) if (cache / "snapshots").exists() \
        else True
    assert not any((cache / "tmp").iterdir())


def test_a_symlink_in_a_tree_is_refused(hub, published, cache, tmp_path):
    repo, revision = published
    blob = git(repo, "hash-object", "-w", "--stdin", data=b"/etc/passwd")
    listing = git(repo, "ls-tree", revision)
    forged = git(repo, "mktree", data=(listing + f"\n120000 blob {blob}\tlink.txt\n").encode())
    sha = git(repo, "commit-tree", forged, "-p", revision, "-m", "symlink")
    git(repo, "update-ref", "refs/heads/main", sha)
    assert "symlinks and submodules are not package files" in refused(
        "pull", ref(hub), "--out", tmp_path / "out")


@pytest.mark.parametrize("oid", ["/etc/passwd", "../../../../etc/hostname", "A" * 64,
                                 "ab" * 31])
def test_an_lfs_oid_that_is_not_64_hex_digits_never_becomes_a_path(hub, published, cache,
                                                                    tmp_path, oid):
    repo, revision = published
    secret = tmp_path / "secret"
    secret.write_bytes(b"the user's own file")
    tree = resealed(files_of(repo, revision))
    card = json.loads(tree["card.json"])
    card["files"]["model.keras"] = hashlib.sha256(secret.read_bytes()).hexdigest()
    tree["card.json"] = json.dumps(card).encode()
    tree["model.keras"] = lfs_pointer(str(secret) if oid == "/etc/passwd" else oid, 19)
    commit(repo, tree)
    assert "malformed Git LFS pointer" in refused("pull", ref(hub), "--out", tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("pointer", [
    b"version https://git-lfs.github.com/spec/v1\nsize 3\n",
    b"version https://git-lfs.github.com/spec/v1\noid sha256:" + b"a" * 64 + b"\nsize abc\n",
    b"version https://git-lfs.github.com/spec/v1\n\xff\xfe\xfd",
])
def test_malformed_lfs_pointers_are_one_line(hub, published, cache, tmp_path, pointer):
    repo, revision = published
    commit(repo, {**files_of(repo, revision), "model.keras": pointer})
    assert "malformed Git LFS pointer" in refused("pull", ref(hub), "--out", tmp_path / "out")


def test_an_lfs_object_of_another_size_than_its_pointer_is_refused(hub, published, cache,
                                                                   tmp_path):
    repo, revision = published
    data = keras_zip("toy", b"other weights" * 100)
    oid = store_lfs_object(repo, data)
    commit(repo, {**resealed(files_of(repo, revision), **{"model.keras": data}),
                  "model.keras": lfs_pointer(oid, len(data) + 7)})
    assert "its pointer says" in refused("pull", ref(hub), "--out", tmp_path / "out")


HOSTILE_CONFIGS = {
    "a Lambda layer": {"module": "keras.layers", "class_name": "Lambda",
                       "config": {"function": {"class_name": "__lambda__",
                                               "config": {"code": "4wEAAAAAAAAA"}}}},
    "a module outside Keras": {"module": "os", "class_name": "system", "config": {}},
    "the unsafe switch": {"module": "keras.config",
                          "class_name": "enable_unsafe_deserialization", "config": {}},
}


@pytest.mark.parametrize("why", sorted(HOSTILE_CONFIGS))
def test_a_hostile_model_under_a_resealed_card_is_refused_by_pull_and_inspect(
        hub, published, cache, tmp_path, why):
    repo, revision = published
    hostile = keras_zip("toy", b"w" * 100, HOSTILE_CONFIGS[why])
    commit(repo, resealed(files_of(repo, revision), **{"model.keras": hostile}))
    assert "refusing to load" in refused("pull", ref(hub), "--out", tmp_path / "out")
    assert "refusing to load" in refused("inspect", ref(hub))
    assert not (tmp_path / "out").exists() and not (cache / "snapshots").exists()


def test_an_hdf5_model_from_a_hub_is_never_loaded(hub, published, cache, tmp_path):
    repo, revision = published
    hdf5 = b"\x89HDF\r\n\x1a\n" + b"\0" * 600
    commit(repo, resealed(files_of(repo, revision), **{"model.keras": hdf5}))
    assert "never loads HDF5 models from a hub" in refused("pull", ref(hub), "--out",
                                                           tmp_path / "out")


def test_a_card_whose_layer_map_is_not_the_models_is_refused(hub, published, cache, tmp_path):
    repo, revision = published
    config = {"module": "keras", "class_name": "Sequential", "registered_name": None,
              "config": {"name": "toy", "layers": [
                  {"module": "keras.layers", "class_name": "Dense", "registered_name": None,
                   "config": {"name": "what_really_runs", "units": 2}}]}}
    tree = resealed(files_of(repo, revision),
                    **{"model.keras": keras_zip("toy", b"w" * 100, config)})
    card = json.loads(tree["card.json"])
    card["layer_map"]["layers"] = [{"index": 0, "name": "benign", "class": "Dense",
                                    "output_shape": [None, 2], "params": 10,
                                    "trainable": True, "stage": "base"}]
    tree["card.json"] = json.dumps(card).encode()
    commit(repo, tree)
    assert "layer map does not match model.keras" in refused("inspect", ref(hub))


def test_a_huge_card_is_refused_before_it_is_parsed(hub, published, cache, tmp_path):
    repo, revision = published
    tree = files_of(repo, revision)
    card = json.loads(tree["card.json"])
    card["intended_use"] = "x" * (9 * 1024 * 1024)
    tree["card.json"] = json.dumps(card).encode()
    commit(repo, tree)
    assert "a card holds at most" in refused("pull", ref(hub), "--out", tmp_path / "out")


def flip_in_place(path: Path, offset: int = 100) -> None:
    """Change one byte of a file without replacing it (same inode), as a disk fault,
    an editor or a script writing through a hard link would; root ignores 0444."""
    inode = path.stat().st_ino
    with open(path, "r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)
        handle.seek(offset)
        handle.write(bytes([byte[0] ^ 0xFF]))
    assert path.stat().st_ino == inode


def test_cached_files_are_read_only_hard_links_to_blobs(hub, published, cache):
    snapshot = fetch(parse_ref(ref(hub)))
    model = snapshot.path / "model.keras"
    blob = cache / "blobs" / snapshot.card.model_sha256
    assert model.stat().st_ino == blob.stat().st_ino and oct(blob.stat().st_mode)[-3:] == "444"


def test_a_byte_flipped_in_place_is_never_served_and_is_healed(hub, published, cache):
    snapshot = fetch(parse_ref(ref(hub)))
    digest = snapshot.card.model_sha256
    flip_in_place(snapshot.path / "model.keras")
    problems = {p.path.name: p.why for p in verify_cache(cache)}
    assert digest in problems and "no longer hash" in problems[digest]
    assert "sha256 of model.keras does not match" in problems[snapshot.revision]
    again = fetch(parse_ref(ref(hub)))
    assert hashlib.sha256((again.path / "model.keras").read_bytes()).hexdigest() == digest
    assert hashlib.sha256((cache / "blobs" / digest).read_bytes()).hexdigest() == digest
    assert list(verify_cache(cache)) == []


def test_other_valid_weights_written_in_place_are_refused_and_healed(hub, published, cache,
                                                                     tmp_path):
    snapshot = fetch(parse_ref(ref(hub)))
    other = keras_zip("toy", b"0.5" * 1000)
    with open(snapshot.path / "model.keras", "r+b") as handle:  # same inode
        handle.truncate(0)
        handle.write(other)
    ok("pull", ref(hub), "--out", tmp_path / "out")  # fetched again, verified
    data = (tmp_path / "out" / "model.keras").read_bytes()
    assert hashlib.sha256(data).hexdigest() == snapshot.card.model_sha256 and data != other


def test_cache_verify_reports_and_clean_removes_damage_and_killed_downloads(hub, published,
                                                                            cache, tmp_path):
    snapshot = fetch(parse_ref(ref(hub)))
    flip_in_place(snapshot.path / "README.md", 5)
    leftover = cache / "tmp" / "pull-killed"
    leftover.mkdir(parents=True)
    old = time.time() - 3 * 24 * 3600
    os.utime(leftover, (old, old))
    line = refused("cache", "verify")
    assert "1 damaged item(s)" in line or "2 damaged item(s)" in line
    removed = ok("cache", "clean").stdout
    assert "pull-killed" in removed and snapshot.revision in removed
    assert ok("cache", "verify").stdout.startswith("cache ok")
    assert fetch(parse_ref(ref(hub))).path == snapshot.path  # fetched again, intact


def test_a_publish_refused_for_its_tag_moves_nothing(hub, published, tmp_path):
    repo, first = published
    hub.publish(make_package(tmp_path / "v1", name="toy", version="1.1"), "zoo", "toy",
                tag="v1")
    head = hub.resolve("zoo", "toy", "main")
    with pytest.raises(RefError, match="already names"):
        hub.publish(make_package(tmp_path / "v2", name="toy", version="2.0"), "zoo", "toy",
                    tag="v1")
    assert hub.resolve("zoo", "toy", "main") == head == hub.tags("zoo", "toy")["v1"]


def test_a_bad_tag_leaves_no_empty_repository(hub, tmp_path):
    with pytest.raises(RefError, match="bad tag"):
        hub.publish(make_package(tmp_path / "p", name="new"), "zoo", "new", tag="bad..tag")
    assert not hub.repo_dir("zoo", "new").exists()


def test_concurrent_publishes_with_one_tag_publish_exactly_one(hub, published, tmp_path):
    repo, first = published
    packages = [make_package(tmp_path / f"p{i}", name="toy", version=f"3.{i}")
                for i in range(4)]
    outcomes: list[str] = []

    def publish(package: Path) -> None:
        try:
            outcomes.append(hub.publish(package, "zoo", "toy", tag="v3").revision)
        except RefError as exc:
            outcomes.append(f"refused: {exc}")

    threads = [threading.Thread(target=publish, args=(p,)) for p in packages]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    won = [o for o in outcomes if not o.startswith("refused")]
    assert len(won) == 1 and len(outcomes) == 4
    assert git(repo, "rev-list", "--count", "main") == "2"  # the first commit and the winner
    assert hub.resolve("zoo", "toy", "main") == won[0] == hub.tags("zoo", "toy")["v3"]


def test_a_stale_index_lock_does_not_stop_a_publish(hub, published, tmp_path):
    repo, _ = published
    (repo / ".git" / "index.lock").write_text("left by a crash inside git\n")
    (repo / ".git" / "refs" / "heads" / "main.lock").write_text("left by a kill -9\n")
    result = hub.publish(make_package(tmp_path / "v2", name="toy", version="2.0"), "zoo", "toy",
                         tag="v2")
    assert hub.resolve("zoo", "toy", "main") == result.revision == hub.tags("zoo", "toy")["v2"]


PUBLISH = """
import sys
from pathlib import Path
from zoo.hub import FolderHub
FolderHub(Path(sys.argv[1])).publish(Path(sys.argv[2]), "zoo", "toy", tag=sys.argv[3])
"""

PULL = """
import sys
from zoo.hub.cache import fetch
from zoo.hub.refs import parse_ref
fetch(parse_ref(sys.argv[1]))
"""


def killed_at(delay: float, script: str, *args: str) -> int:
    """Run `script` in a new process and SIGKILL it after `delay` seconds (or let it
    finish first); its exit code, negative if killed."""
    process = subprocess.Popen([sys.executable, "-c", script, *args],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        return process.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        return process.wait()


DELAYS = (0.05, 0.15, 0.25, 0.35, 0.45, 0.6, 0.8, 1.2, 10.0)  # a run takes ~0.5-1 s; 10 s lets
# one finish on a loaded machine


def test_kill_9_during_publish_leaves_the_hub_as_it_was_or_published(hub, published, tmp_path):
    repo, first = published
    for i, delay in enumerate(DELAYS):
        package = make_package(tmp_path / f"k{i}", name="toy", version=f"9.{i}")
        before = hub.resolve("zoo", "toy", "main")
        killed_at(delay, PUBLISH, str(hub.root), str(package), f"k{i}")
        head = hub.resolve("zoo", "toy", "main")
        tag = hub.tags("zoo", "toy").get(f"k{i}")
        assert (head, tag) in ((before, None), (tag, tag)), (delay, head, tag)
        subprocess.run(["git", "-C", str(repo), "fsck", "--no-dangling"], check=True,
                       capture_output=True)
        for revision in {before, head}:
            hub.download("zoo", "toy", revision, tmp_path / f"d{i}-{revision[:7]}")
    after = hub.publish(make_package(tmp_path / "last", name="toy", version="10"), "zoo", "toy",
                        tag="last")
    assert hub.resolve("zoo", "toy", "main") == after.revision


def test_kill_9_during_pull_leaves_no_half_snapshot(hub, published, cache, tmp_path):
    outcomes = []
    for delay in DELAYS:
        shutil.rmtree(cache, ignore_errors=True)
        outcomes.append(killed_at(delay, PULL, ref(hub)))
        assert list(verify_cache(cache)) == []  # a snapshot is whole or absent
        leftovers = list((cache / "tmp").glob("*")) if (cache / "tmp").exists() else []
        assert all(p.name.startswith("pull-") for p in leftovers)
        assert clean_cache(cache, stale_after_s=0) == leftovers or leftovers == []
        assert fetch(parse_ref(ref(hub))).path.is_dir()  # and the next pull works
    assert any(code < 0 for code in outcomes) and any(code == 0 for code in outcomes)


def test_a_pull_refused_by_a_forged_tree_keeps_the_cache_clean(hub, published, cache,
                                                               tmp_path):
    repo, revision = published
    fetch(parse_ref(ref(hub)))
    commit(repo, {**files_of(repo, revision), "..": {"x.txt": b"x"}})
    refused("pull", ref(hub), "--out", tmp_path / "out")
    with pytest.raises(IntegrityError):
        fetch(parse_ref(ref(hub)))
    assert list(verify_cache(cache)) == []  # the good revision is still cached, intact
    assert fetch(parse_ref(f"{ref(hub)}@{revision}")).revision == revision


@pytest.mark.slow
def test_a_real_lambda_payload_under_a_resealed_card_never_runs(hub, published, cache,
                                                               tmp_path):
    """A Lambda whose code would write a marker file, saved by Keras itself, put on the
    hub with the card resealed: pull, inspect and a derived pull refuse it, and the
    marker never appears (nothing ran); a legacy HDF5 model fares the same."""
    import keras

    marker = tmp_path / "payload-ran"
    inputs = keras.Input((4,))
    code = f"lambda t: t + 0.0 * float(__import__('pathlib').Path({str(marker)!r}).write_text('x'))"
    payload = keras.layers.Lambda(eval(code), output_shape=(4,))  # the path: a constant
    model = keras.Model(inputs, keras.layers.Dense(2)(payload(inputs)))
    marker.unlink(missing_ok=True)  # tracing the Lambda above ran it once, here, by us
    model.save(tmp_path / "lambda.keras")
    model.save(tmp_path / "legacy.h5")
    repo, revision = published
    for path, why in ((tmp_path / "lambda.keras", "Lambda layer holds Python code"),
                      (tmp_path / "legacy.h5", "never loads HDF5 models from a hub")):
        commit(repo, resealed(files_of(repo, revision), **{"model.keras": path.read_bytes()}))
        assert why in refused("pull", ref(hub), "--out", tmp_path / "out")
        assert why in refused("inspect", ref(hub))
        assert why in refused("pull", ref(hub), "--drop-top", "1", "--head", "dense:2:softmax",
                              "--unsafe", "--out", tmp_path / "derived")
        assert not marker.exists() and not (tmp_path / "out").exists()
    # The control: the payload is real, and runs the moment a user trusts the file.
    keras.saving.load_model(tmp_path / "lambda.keras", safe_mode=False)(keras.ops.zeros((1, 4)))
    assert marker.exists()
