"""Issue 27, class 4 and the bundle parts of 5, 7 and 8: package folders and deploy
bundles are read and written through one walker that refuses links, special files and
hard links; a bundle's every file is hashed; its ONNX file may not reach outside it or
ask for custom operators; declared tensor sizes are bounded before anything is
allocated. Real symlinks, FIFOs, hard links and ONNX files; no TensorFlow here (every
refusal comes before a model is loaded)."""

import contextlib
import hashlib
import json
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
import pytest
from conftest import ok, refused
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper
from packages import make_package

from zoo.cards.card import ExportRecord, read_card
from zoo.deploy.bundle import write_bundle
from zoo.deploy.predict import (
    parse_input_shape,
    parse_labels,
    parse_manifest,
    predict_bundle,
    read_bundle,
)
from zoo.deploy.runtime import check_onnx_file
from zoo.errors import UnsafePathError, ZooError
from zoo.files import place_file, place_tree, regular_files
from zoo.package import package_files, read_verified_card, seal, staged_package
from zoo.paths import cache_root, zoo_home

KEY = b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA not a real key\n" \
      b"-----END OPENSSH PRIVATE KEY-----\n"


@contextlib.contextmanager
def deadline(seconds: int = 20) -> Iterator[None]:
    """Fail instead of hanging if the code under test opens a FIFO."""
    def expired(*_: object) -> None:
        raise TimeoutError("blocked: the FIFO was opened")
    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def private_folder(tmp_path: Path) -> Path:
    private = tmp_path / "private"
    private.mkdir()
    (private / "id_ed25519").write_bytes(KEY)
    return private


def state(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under `folder` with its bytes and modification time, and nothing else:
    what must be unchanged after a refusal."""
    return {p.relative_to(folder).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def holding_key(tmp_path: Path, where: str) -> tuple[Path, Path, Path]:
    """A sealed package whose card lists `exports/id_ed25519` (what an attacker's seal
    through a link would have made), then `where` turned into a link to a private folder
    holding the same key, so every sha256 still matches: only the link is wrong.
    Returns (the path to give the zoo, the private folder, the real package)."""
    private = private_folder(tmp_path)
    package = make_package(tmp_path / "pkg", files={
        "model.keras": (make_package(tmp_path / "m") / "model.keras").read_bytes(),
        "exports/id_ed25519": KEY})
    if where == "exports":
        for p in (package / "exports").iterdir():
            p.unlink()
        (package / "exports").rmdir()
        (package / "exports").symlink_to(private, target_is_directory=True)
        return package, private, package
    if where == "file":
        (package / "exports" / "id_ed25519").unlink()
        (package / "exports" / "id_ed25519").symlink_to(private / "id_ed25519")
        return package, private, package
    link = tmp_path / "pkg-link"  # the package root itself
    link.symlink_to(package, target_is_directory=True)
    return link, private, package


def iris_rows(path: Path) -> Path:
    path.write_text("f0,f1,f2,f3,label\n5.1,3.5,1.4,0.2,a\n6.2,2.9,4.3,1.3,b\n")
    return path


def key_anywhere(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and not p.is_symlink()
            and b"OPENSSH PRIVATE KEY" in p.read_bytes()]


# --- the walker ---------------------------------------------------------------------

def test_the_walker_lists_regular_files_and_refuses_each_kind_of_link_or_special_file(
        tmp_path):
    root = make_package(tmp_path / "pkg")
    assert regular_files(root) == ["README.md", "card.json", "model.keras"]
    private = private_folder(tmp_path)
    cases = {
        "a symbolic link": lambda: (root / "exports").symlink_to(private),
        "a FIFO": lambda: os.mkfifo(root / "pipe"),
        "a hard link": lambda: os.link(private / "id_ed25519", root / "id"),
    }
    for kind, make in cases.items():
        make()
        with pytest.raises(UnsafePathError, match=kind):
            regular_files(root)
        for name in ("exports", "pipe", "id"):
            if os.path.lexists(root / name):
                os.unlink(root / name)
    link = tmp_path / "link"
    link.symlink_to(root, target_is_directory=True)
    with pytest.raises(UnsafePathError, match=f"{link}: a symbolic link"):
        regular_files(link)


def test_a_deep_tree_is_walked_without_recursion(tmp_path):
    folder = tmp_path / "deep"
    current = folder
    folder.mkdir()
    for _ in range(300):
        current = current / "d"
        current.mkdir()
    (current / "f").write_bytes(b"x")
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(150)  # a recursive walk would need 300 frames
    try:
        files = regular_files(folder)
    finally:
        sys.setrecursionlimit(limit)
    assert files == ["/".join(["d"] * 300 + ["f"])]


@pytest.mark.parametrize("where", ["exports", "file", "root"])
def test_a_package_reached_through_a_link_is_refused_before_its_card_is_trusted(
        tmp_path, where):
    given_path, private, _ = holding_key(tmp_path, where)
    with pytest.raises(UnsafePathError, match="symbolic link"):
        read_verified_card(given_path)
    with pytest.raises(UnsafePathError, match="symbolic link"):
        package_files(given_path)


def test_seal_refuses_a_link_and_removes_nothing(tmp_path):
    package, private, _ = holding_key(tmp_path, "exports")
    before, card = state(private), read_card(package)
    readme = (package / "README.md").read_bytes()
    with pytest.raises(UnsafePathError, match="exports: a symbolic link"):
        seal(package, card)
    assert state(private) == before and (package / "README.md").read_bytes() == readme


def cache_snapshot(tmp_path: Path, inside_cache: bool) -> Path:
    """A package laid out as the cache keeps it: every file a read-only hard link to a
    blob named by its sha256."""
    source = make_package(tmp_path / "src")
    base = cache_root() if inside_cache else tmp_path / "elsewhere"
    blobs, snapshot = base / "blobs", base / "snapshots" / "o" / "n" / ("a" * 40)
    blobs.mkdir(parents=True, exist_ok=True)
    snapshot.mkdir(parents=True)
    for name in regular_files(source):
        data = (source / name).read_bytes()
        blob = blobs / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        blob.chmod(0o444)
        os.link(blob, snapshot / name)
    return snapshot


def test_hard_links_are_accepted_only_in_the_caches_own_read_only_snapshots(tmp_path):
    snapshot = cache_snapshot(tmp_path, inside_cache=True)
    assert read_verified_card(snapshot).name == "toy"
    outside = cache_snapshot(tmp_path, inside_cache=False)
    with pytest.raises(UnsafePathError, match="a hard link"):
        read_verified_card(outside)
    (snapshot / "model.keras").chmod(0o644)  # the blob too: one inode
    with pytest.raises(UnsafePathError, match="writable hard link"):
        read_verified_card(snapshot)


# --- the commands -------------------------------------------------------------------

@pytest.mark.parametrize("where", ["exports", "file", "root"])
def test_export_refuses_a_package_with_a_link_and_writes_nothing(tmp_path, where):
    given_path, private, package = holding_key(tmp_path, where)
    before, card = state(private), (package / "card.json").read_bytes()
    line = refused("export", given_path, "--format", "onnx", "--out", tmp_path / "out.onnx")
    assert "symbolic link" in line
    assert state(private) == before and (package / "card.json").read_bytes() == card
    assert not (tmp_path / "out.onnx").exists()


@pytest.mark.parametrize("where", ["exports", "file", "root"])
def test_evaluate_record_refuses_a_linked_package_and_leaves_the_link_as_it_was(
        tmp_path, where):
    given_path, private, package = holding_key(tmp_path, where)
    before, packaged = state(private), state(package)
    line = refused("evaluate", given_path, "--data", iris_rows(tmp_path / "rows.csv"),
                   "--record")
    assert "symbolic link" in line
    assert state(private) == before and state(package) == packaged
    if where == "root":
        assert given_path.is_symlink() and given_path.readlink() == package
    assert not [p for p in tmp_path.iterdir() if ".old" in p.name or ".staging" in p.name]


@pytest.mark.parametrize("where", ["exports", "file", "root"])
def test_finetune_refuses_a_linked_package_and_writes_no_out(tmp_path, where):
    given_path, private, _ = holding_key(tmp_path, where)
    before = state(private)
    line = refused("finetune", given_path, "--data", iris_rows(tmp_path / "rows.csv"),
                   "--out", tmp_path / "tuned")
    assert "symbolic link" in line
    assert state(private) == before and not (tmp_path / "tuned").exists()


@pytest.mark.parametrize("where", ["exports", "file", "root"])
def test_publish_refuses_a_linked_package_and_no_key_reaches_a_card_or_the_hub(
        tmp_path, where):
    given_path, private, _ = holding_key(tmp_path, where)
    before = state(private)
    for args in ((), ("--sign", private / "id_ed25519")):
        line = refused("publish", given_path, f"leaky-{where}", *args)
        assert "symbolic link" in line
    assert state(private) == before
    for root in (zoo_home(), cache_root()):  # the hub and the cache
        if root.exists():
            assert not key_anywhere(root) and not list(root.rglob(f"leaky-{where}"))


@pytest.mark.parametrize("special", ["fifo", "hard link"])
@pytest.mark.parametrize("command", ["export", "evaluate", "finetune", "publish"])
def test_a_fifo_or_hard_link_inside_a_package_is_refused_by_every_command(
        tmp_path, special, command):
    package = make_package(tmp_path / "pkg")
    if special == "fifo":
        os.mkfifo(package / "model.keras.partial")
    else:
        private = private_folder(tmp_path)
        os.link(private / "id_ed25519", package / "notes.txt")
    rows = iris_rows(tmp_path / "rows.csv")
    args = {"export": ("--format", "onnx"), "evaluate": ("--data", rows, "--record"),
            "finetune": ("--data", rows, "--out", tmp_path / "tuned"),
            "publish": ("pkg",)}[command]
    with deadline():
        line = refused(command, package, *args)
    assert ("a FIFO" if special == "fifo" else "a hard link") in line


def test_an_out_that_is_a_link_is_neither_written_through_nor_replaced(tmp_path):
    private = private_folder(tmp_path)
    out = tmp_path / "out"
    out.symlink_to(private, target_is_directory=True)
    before = state(private)
    for force in (False, True):
        with pytest.raises(UnsafePathError, match="is a symbolic link"):
            with staged_package(out, force=force) as staging:
                (staging / "x").write_text("x")
    assert out.is_symlink() and state(private) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "private"]


def test_copies_to_out_replace_a_link_there_instead_of_writing_through_it(tmp_path):
    private = private_folder(tmp_path)
    source = tmp_path / "export"
    (source / "variables").mkdir(parents=True)
    (source / "saved_model.pb").write_bytes(b"graph")
    (source / "variables" / "v").write_bytes(b"weights")
    target = tmp_path / "out.onnx"
    target.symlink_to(private / "id_ed25519")
    place_file(source / "saved_model.pb", target)
    assert not target.is_symlink() and target.read_bytes() == b"graph"
    assert (private / "id_ed25519").read_bytes() == KEY
    out = tmp_path / "serving"
    out.mkdir()
    (out / "variables").symlink_to(private, target_is_directory=True)
    with pytest.raises(UnsafePathError, match="variables: a symbolic link"):
        place_tree(source, out)
    assert sorted(p.name for p in private.iterdir()) == ["id_ed25519"]


# --- deploy bundles -----------------------------------------------------------------

WEIGHTS = np.arange(12, dtype=np.float32).reshape(4, 3) / 10


def classifier(weights: np.ndarray = WEIGHTS, *, domain: str = "",
               input_dims: tuple = ("batch", 4)) -> onnx.ModelProto:
    """input [batch, 4] → MatMul → Softmax → output [batch, 3]; `domain` puts the
    Softmax in another operator domain."""
    nodes = [helper.make_node("MatMul", ["input", "w"], ["logits"]),
             helper.make_node("Softmax", ["logits"], ["output"], axis=-1, domain=domain)]
    graph = helper.make_graph(
        nodes, "classifier",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, list(input_dims))],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", 3])],
        [numpy_helper.from_array(weights, "w")])
    opsets = [helper.make_opsetid("", 17)] + ([helper.make_opsetid(domain, 1)] if domain
                                              else [])
    return helper.make_model(graph, opset_imports=opsets, ir_version=8)


def sealed_manifest(folder: Path, model: str = "model.onnx") -> None:
    """bundle.json with the sha256 of every other file, as `zoo export --bundle` writes it."""
    files = {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
             for p in sorted(folder.rglob("*")) if p.is_file() and p.name != "bundle.json"}
    (folder / "bundle.json").write_text(json.dumps(
        {"model": model, "format": "onnx", "export": "onnx", "sha256": files[model],
         "package": "toy", "version": "1.0.0", "files": files}))


def onnx_bundle(folder: Path, model: onnx.ModelProto | None = None, *,
                external: bool = False, shape: list[int] | None = None) -> Path:
    folder.mkdir(parents=True)
    model = model or classifier()
    if external:
        onnx.save_model(model, str(folder / "model.onnx"), save_as_external_data=True,
                        all_tensors_to_one_file=True, location="weights.bin",
                        size_threshold=0)
    else:
        onnx.save_model(model, str(folder / "model.onnx"))
    (folder / "labels.json").write_text(json.dumps(["a", "b", "c"]))
    (folder / "preprocessing.json").write_text(json.dumps({"input_shape": shape or [4]}))
    sealed_manifest(folder)
    return folder


def rows_csv(tmp_path: Path) -> Path:
    path = tmp_path / "rows.csv"
    path.write_text("1,0,0,0\n0,0,0,1\n")
    return path


def scores(run) -> list[list[float]]:
    return [json.loads(line)["scores"] for line in run.stdout.splitlines()]


def test_a_bundle_with_external_data_predicts_and_refuses_a_swapped_data_file(tmp_path):
    bundle = onnx_bundle(tmp_path / "bundle", external=True)
    assert "weights.bin" in json.loads((bundle / "bundle.json").read_text())["files"]
    before = scores(ok("predict", bundle, rows_csv(tmp_path), "--json"))
    swapped = np.ascontiguousarray(WEIGHTS[:, ::-1])  # same size, other scores
    (bundle / "weights.bin").write_bytes(swapped.tobytes())
    line = refused("predict", bundle, rows_csv(tmp_path))
    assert "weights.bin: its sha256 does not match bundle.json" in line
    assert before[0] != pytest.approx(before[0][::-1])  # the swap would have changed them


@pytest.mark.parametrize("change, expected", [
    (lambda b: (b / "extra.bin").write_bytes(b"x"), "does not list: extra.bin"),
    (lambda b: (b / "labels.json").unlink(), "lists are missing: labels.json"),
    (lambda b: (b / "labels.json").write_text('["c", "b", "a"]'), "labels.json: its sha256"),
])
def test_a_bundle_whose_files_differ_from_its_manifest_is_refused(tmp_path, change, expected):
    bundle = onnx_bundle(tmp_path / "bundle")
    change(bundle)
    assert expected in refused("predict", bundle, rows_csv(tmp_path))


@pytest.mark.parametrize("location", ["../secret.bin", "/etc/passwd", "sub/../../x",
                                      "not-in-bundle.bin"])
def test_external_data_outside_the_bundle_is_refused_before_onnxruntime_reads_it(
        tmp_path, location):
    (tmp_path / "secret.bin").write_bytes(WEIGHTS.tobytes())
    bundle = onnx_bundle(tmp_path / "bundle", external=True)
    model = onnx.load(str(bundle / "model.onnx"), load_external_data=False)
    for entry in model.graph.initializer[0].external_data:
        if entry.key == "location":
            entry.value = location
    onnx.save_model(model, str(bundle / "model.onnx"))
    (bundle / "weights.bin").unlink()
    sealed_manifest(bundle)  # the manifest agrees: only the gate stands in the way
    line = refused("predict", bundle, rows_csv(tmp_path))
    assert "keeps its data" in line and ("outside the bundle" in line
                                         or "not a file of the bundle" in line)


def test_a_custom_operator_domain_is_refused_in_one_line(tmp_path):
    bundle = onnx_bundle(tmp_path / "bundle", classifier(domain="evil.custom"))
    assert "custom operator domain 'evil.custom'" in refused("predict", bundle,
                                                             rows_csv(tmp_path))


def test_a_huge_declared_input_is_refused_before_anything_is_allocated(tmp_path):
    bundle = onnx_bundle(tmp_path / "bundle", shape=[65536, 65536, 3])
    image = tmp_path / "white.png"
    image.write_bytes(bytes.fromhex(  # a 1x1 white PNG
        "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de0000000c4944415408"
        "d763f8ffff3f0005fe02fea7d6a4f60000000049454e44ae426082"))
    line = refused("predict", bundle, image)
    assert "over the zoo's limit" in line and "input_shape" in line


def test_a_model_whose_input_or_labels_disagree_with_the_bundle_is_refused(tmp_path):
    bundle = onnx_bundle(tmp_path / "wide", classifier(input_dims=("batch", 5)))
    assert "takes inputs of shape (5,)" in refused("predict", bundle, rows_csv(tmp_path))
    bundle = onnx_bundle(tmp_path / "few")
    (bundle / "labels.json").write_text('["a"]')
    sealed_manifest(bundle)
    assert "names 1 labels, the model gives 3" in refused("predict", bundle,
                                                         rows_csv(tmp_path))


def test_a_bundle_with_a_link_or_fifo_is_refused(tmp_path):
    bundle = onnx_bundle(tmp_path / "bundle")
    private = private_folder(tmp_path)
    (bundle / "labels.json").unlink()
    (bundle / "labels.json").symlink_to(private / "id_ed25519")
    assert "labels.json: a symbolic link" in refused("predict", bundle, rows_csv(tmp_path))
    (bundle / "labels.json").unlink()
    os.mkfifo(bundle / "labels.json")
    with deadline():
        assert "labels.json: a FIFO" in refused("predict", bundle, rows_csv(tmp_path))


def test_a_bundle_whose_manifest_is_a_folder_is_refused_in_one_line(tmp_path):
    bundle = onnx_bundle(tmp_path / "bundle")
    (bundle / "bundle.json").unlink()
    (bundle / "bundle.json").mkdir()
    line = refused("predict", bundle, rows_csv(tmp_path))
    assert "is not a deploy bundle (no bundle.json)" in line


def test_write_bundle_hashes_every_file_and_predict_accepts_it(tmp_path):
    package = make_package(tmp_path / "pkg", files={
        "model.keras": (make_package(tmp_path / "m") / "model.keras").read_bytes(),
        "exports/model.onnx": classifier().SerializeToString()})
    card = read_card(package)
    card.exports["onnx"] = ExportRecord(path="exports/model.onnx", max_abs_diff=0.0,
                                        tolerance=1e-4)
    seal(package, card)
    out = write_bundle(package, "onnx", tmp_path / "bundle")
    manifest = json.loads((out / "bundle.json").read_text())
    assert manifest["files"] == {name: hashlib.sha256((out / name).read_bytes()).hexdigest()
                                 for name in regular_files(out) if name != "bundle.json"}
    assert len(predict_bundle(out, [rows_csv(tmp_path)])) == 2


# --- fuzzing the bundle parsers -----------------------------------------------------

def outcome(parse, *args):
    try:
        return parse(*args)
    except ZooError:
        return None


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=10), children, max_size=4), max_leaves=12)
NEAR_MANIFEST = st.fixed_dictionaries(
    {"model": st.sampled_from(["model.onnx", "../m.onnx", "m.txt", "", "/x.onnx"]) | JSONISH,
     "sha256": st.sampled_from(["0" * 64, "x"]) | JSONISH,
     "files": st.dictionaries(st.sampled_from(["model.onnx", "labels.json", "bundle.json",
                                               "a/../b"]) | st.text(max_size=8),
                              st.sampled_from(["0" * 64, "1" * 63]) | JSONISH,
                              max_size=4) | JSONISH})
NEAR_SHAPE = st.fixed_dictionaries({"input_shape": st.lists(
    st.integers(-2, 2**20) | st.booleans() | st.floats() | st.text(max_size=2),
    max_size=6) | JSONISH})
ANY_BYTES = st.binary(max_size=200) | JSONISH.map(lambda v: json.dumps(v).encode()) | \
    st.sampled_from([b"[" * 100_000, b"\xff\xfe", b'{"input_shape": [1e999]}',
                     b'{"input_shape": [' + b"9" * 5000 + b"]}", b" " * (2**20 + 1)])


@settings(max_examples=200, deadline=None)
@given(ANY_BYTES | NEAR_MANIFEST.map(lambda v: json.dumps(v).encode()))
@example(json.dumps({"model": "model.onnx", "sha256": "0" * 64,
                     "files": {"model.onnx": "0" * 64}}).encode())
def test_any_bundle_json_parses_to_a_manifest_or_is_refused(data):
    manifest = outcome(parse_manifest, data, "bundle.json")
    if manifest is not None:
        assert manifest.files[manifest.model] and ".." not in manifest.model.split("/")


@settings(max_examples=200, deadline=None)
@given(ANY_BYTES | NEAR_SHAPE.map(lambda v: json.dumps(v).encode()))
@example(b'{"input_shape": [65536, 65536]}')
def test_any_preprocessing_json_gives_a_bounded_shape_or_is_refused(data):
    shape = outcome(parse_input_shape, data, "preprocessing.json")
    if shape is not None:
        assert 1 <= len(shape) <= 4 and int(np.prod(shape, dtype=object)) * 4 <= 256 * 2**20


@settings(max_examples=200, deadline=None)
@given(ANY_BYTES)
def test_any_labels_json_gives_label_names_or_is_refused(data):
    labels = outcome(parse_labels, data, "labels.json")
    assert labels is None or all(isinstance(label, str) for label in labels)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300) | st.just(classifier().SerializeToString())
       | st.just(classifier(domain="x").SerializeToString()))
def test_any_bytes_as_a_bundles_onnx_file_parse_or_are_refused(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("onnx") / "model.onnx"
    path.write_bytes(data)
    outcome(check_onnx_file, path, "model.onnx", {"model.onnx"})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["bundle.json", "preprocessing.json", "labels.json"]),
       ANY_BYTES | NEAR_SHAPE.map(lambda v: json.dumps(v).encode()),
       st.booleans())
def test_any_bytes_in_a_bundles_files_give_a_bundle_or_a_refusal(tmp_path_factory, name, data,
                                                                  reseal):
    bundle = onnx_bundle(tmp_path_factory.mktemp("fuzz") / "bundle")
    (bundle / name).write_bytes(data)
    if reseal and name != "bundle.json":
        sealed_manifest(bundle)
    read = outcome(read_bundle, bundle)
    assert read is None or read.model == bundle / "model.onnx"
