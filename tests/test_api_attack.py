"""The public API under hostile or careless input from a notebook: wrong types for
paths, references, sizes and lists; odd hub folders; models built in odd ways; a
pull cache snapshot passed where a package is written. Each is refused with a
`zoo.ZooError` subclass and one line, never a raw TypeError or AttributeError,
a half-written package or a changed cache."""

import hashlib
import subprocess
from pathlib import Path

import numpy as np
import pytest

import zoo


def one_line(error: pytest.ExceptionInfo) -> str:
    text = str(error.value)
    assert text and "\n" not in text, text
    return text


# --- the fast tier: refused before anything loads Keras ---------------------------

@pytest.mark.parametrize("path", [None, 3, b"iris-pkg", np.array(["iris-pkg"])])
def test_package_refuses_a_path_that_is_not_text(path):
    with pytest.raises(zoo.ZooError, match="package must be a path"):
        zoo.Package(path)


@pytest.mark.parametrize("ref", [3, b"iris@v1", np.array(["iris@v1"]), ["iris"]])
def test_pull_refuses_a_reference_that_is_not_text_as_a_ref_error(ref):
    with pytest.raises(zoo.RefError, match="a hub reference is text") as error:
        zoo.pull(ref)
    one_line(error)


@pytest.mark.parametrize("name", [3, b"iris", np.array(["iris"])])
def test_publish_refuses_a_name_that_is_not_text_as_a_ref_error(name, tmp_path):
    with pytest.raises(zoo.RefError, match="a hub reference is text"):
        zoo.publish(tmp_path, name)


@pytest.mark.parametrize("hub", ["", 3, b"hub", np.array(["hub"])])
def test_publish_refuses_a_hub_that_is_not_a_path_and_creates_nothing(hub, tmp_path,
                                                                       monkeypatch):
    monkeypatch.chdir(tmp_path)  # '' once meant the working folder, 3 a folder named '3'
    with pytest.raises(zoo.ZooError, match="hub must be a path"):
        zoo.publish(tmp_path / "pkg", "iris", hub=hub)
    assert list(tmp_path.iterdir()) == []


def test_publish_refuses_a_hub_that_is_a_file(tmp_path):
    hub = tmp_path / "card.json"
    hub.write_text("{}")
    with pytest.raises(zoo.ZooError, match="is a file, not a folder hub"):
        zoo.publish(tmp_path / "pkg", "iris", hub=hub)
    assert hub.read_text() == "{}"


def test_list_refuses_a_hub_that_is_a_file_as_the_cli_does(tmp_path):
    from tests.conftest import zoo as run

    hub = tmp_path / "card.json"
    hub.write_text("{}")
    with pytest.raises(zoo.ZooError, match="is a file, not a folder hub"):
        zoo.list(hub)
    assert run("list", "--hub", hub).exit_code == 2


@pytest.mark.parametrize("hub", [None, 3, b"hub"])
def test_mirror_refuses_a_hub_that_is_not_a_path(hub):
    with pytest.raises(zoo.ZooError, match="hub must be a path"):
        zoo.mirror("hf://acme/iris", hub)


def test_dataset_takes_classes_as_numbers_and_refuses_other_things():
    assert zoo.dataset("digits", classes=[5, 6]).label_names == \
        zoo.dataset("digits", classes="5,6").label_names
    with pytest.raises(zoo.ZooError, match="classes must be text"):
        zoo.dataset("digits", classes=[None])


@pytest.mark.parametrize("keys", [3, b"key.pem", 1.5, [3]])
def test_pull_refuses_trust_keys_that_are_not_paths(keys):
    with pytest.raises(zoo.ZooError, match="trust_keys must be a string or a list"):
        zoo.pull("iris@v1", trust_keys=keys)


@pytest.mark.parametrize("freeze", [5, b"0:2", [0, 2]])
def test_backbone_refuses_freeze_ranges_that_are_not_text_before_any_download(freeze):
    with pytest.raises(zoo.ZooError, match="freeze must be a string or a list"):
        zoo.backbone("no-such-repo", freeze=freeze)


def test_a_list_of_strings_in_any_iterable_is_still_accepted():
    from zoo.api.arguments import texts

    assert texts(("a", Path("b")), "x") == ("a", "b")
    assert texts(iter(["MIT"]), "x") == ("MIT",) and texts("MIT", "x") == ("MIT",)


@pytest.mark.parametrize("size", [(96.0, 96), (True, False), (-1, 4), (0, 0), (4,),
                                  (1, 2, 3, 4), 96, "abc", (np.float32(9), 9)])
def test_backbone_refuses_a_bad_size_before_any_download(size):
    with pytest.raises(zoo.ZooError, match="bad size"):
        zoo.backbone("no-such-repo", input_size=size)


def test_a_size_may_hold_numpy_integers_as_shapes_do():
    from zoo.api.arguments import size_tuple

    assert size_tuple(tuple(np.zeros((1, 64, 48, 3)).shape[1:3])) == (64, 48)
    assert size_tuple((np.int64(64), np.int32(48), np.uint8(3))) == (64, 48, 3)


@pytest.mark.parametrize("drop_top", ["1", True])
def test_backbone_refuses_a_drop_top_that_is_not_a_count(drop_top):
    with pytest.raises(zoo.ZooError, match="drop.top"):
        zoo.backbone("no-such-repo", drop_top=drop_top)


def test_finetune_refuses_zero_epochs_before_loading_anything(tmp_path):
    with pytest.raises(zoo.ZooError, match="epochs"):
        zoo.finetune(tmp_path / "no-package", (np.zeros((4, 4)), np.zeros(4, int)), epochs=0)


def test_a_pulled_package_names_as_signer_only_the_key_that_verified_it(tmp_path,
                                                                        monkeypatch):
    from packages import make_package
    from test_signing_fast import key_pair
    from zoo.hub import FolderHub
    from zoo.hub.publish import signed_copy
    from zoo.trust.signing import public_key_id

    monkeypatch.setenv("ZOO_CACHE", str(tmp_path / "cache"))
    private, public = key_pair(tmp_path, "acme")
    signed = signed_copy(make_package(tmp_path / "pkg", name="toy"), private, tmp_path / "s")
    hub = FolderHub(tmp_path / "hub")
    hub.publish(signed, "zoo", "toy", tag="v1")
    ref = f"file://{hub.root}/toy@v1"
    assert zoo.pull(ref, trust_keys=public).signer == public_key_id(public)
    with pytest.warns(zoo.ZooWarning, match="signed .* but not checked"):
        unchecked = zoo.pull(ref)
    assert unchecked.signer is None and unchecked.card.signed_by == public_key_id(public)


def test_outputs_inside_the_caches_own_folders_are_refused_and_beside_them_not(
        tmp_path, monkeypatch):
    from zoo.api.arguments import output_path

    monkeypatch.setenv("ZOO_CACHE", str(tmp_path))  # a cache set to a folder of one's own
    for inside in ("snapshots/zoo/iris/abc", "blobs/x", "tmp/pull-1"):
        with pytest.raises(zoo.ZooError, match="inside the pull cache's own folders"):
            output_path(tmp_path / inside)
    assert output_path(tmp_path / "mine") == tmp_path / "mine"
    with pytest.raises(zoo.ZooError, match="inside the pull cache"):
        zoo.dataset("iris", tmp_path / "snapshots" / "iris.csv")
    assert not (tmp_path / "snapshots").exists()


# --- the slow tier: real models, a real folder hub --------------------------------

@pytest.fixture(scope="module")
def iris_v1(zoo_home: Path, iris_pkg: Path) -> zoo.Published:
    """The session's iris network published as iris@v1 into this module's hub."""
    return zoo.publish(iris_pkg, "iris", tag="v1")


@pytest.fixture(scope="module")
def iris_xy() -> tuple[np.ndarray, np.ndarray]:
    table = zoo.dataset("iris", split="test")
    return table.x.astype(np.float32), table.y


def tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def hub_card_sha256(zoo_home: Path, repo: str, revision: str) -> str:
    card = subprocess.run(["git", "-C", zoo_home / "data" / "hub" / "models" / repo, "show",
                           f"{revision}:card.json"], capture_output=True, check=True).stdout
    return hashlib.sha256(card).hexdigest()


@pytest.mark.slow
def test_package_refuses_a_tampered_or_symlinked_file_as_inspect_and_the_cli_do(iris_pkg,
                                                                                tmp_path):
    import os
    import shutil

    from tests.conftest import refused

    tampered, linked = tmp_path / "tampered", tmp_path / "linked"
    shutil.copytree(iris_pkg, tampered)
    (tampered / "README.md").write_text("changed")
    shutil.copytree(iris_pkg, linked)
    os.replace(linked / "model.keras", tmp_path / "elsewhere.keras")
    (linked / "model.keras").symlink_to(tmp_path / "elsewhere.keras")
    for folder, error, says in [(tampered, zoo.IntegrityError, "sha256 of README.md"),
                                (linked, zoo.UnsafePathError, "a symbolic link")]:
        with pytest.raises(error, match=says):
            zoo.Package(folder)
        with pytest.raises(error, match=says):
            zoo.inspect(folder)
        assert says in refused("inspect", folder)


@pytest.mark.slow
def test_export_refuses_the_pull_cache_snapshot_and_leaves_it_as_the_hub_has_it(
        iris_v1, zoo_home):
    from tests.conftest import refused

    snapshot = zoo.pull("iris@v1")
    before = tree_digest(snapshot.path)
    with pytest.raises(zoo.ZooError, match="read-only pull cache snapshot") as error:
        zoo.export(snapshot, "onnx")
    assert "zoo.pull(ref, out=FOLDER)" in one_line(error)
    assert "read-only pull cache snapshot" in refused("export", snapshot.path, "--format", "onnx")
    assert tree_digest(snapshot.path) == before
    again = zoo.pull("iris@v1")
    assert hashlib.sha256((again.path / "card.json").read_bytes()).hexdigest() == \
        hub_card_sha256(zoo_home, "zoo/iris", iris_v1)


@pytest.mark.slow
def test_nothing_is_written_over_a_cache_snapshot_so_the_hub_revision_stays_what_it_was(
        iris_v1, zoo_home, iris_pkg):
    import keras

    from tests.conftest import refused

    snapshot = zoo.pull("iris@v1")
    before = tree_digest(snapshot.path)
    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="other")])
    with pytest.raises(zoo.ZooError, match="inside the pull cache") as error:
        zoo.save(other, snapshot.path, name="other", license="MIT", force=True)
    one_line(error)  # it once replaced the snapshot: zoo.pull("iris@v1") gave "other"
    with pytest.raises(zoo.ZooError, match="inside the pull cache"):
        zoo.pull("iris@v1", out=snapshot.path, force=True)
    assert "inside the pull cache" in refused("pack", iris_pkg / "model.keras", "--name", "x",
                                              "--license", "MIT", "--out", snapshot.path,
                                              "--force")
    assert tree_digest(snapshot.path) == before
    assert zoo.pull("iris@v1").card.name == "iris"


@pytest.mark.slow
def test_evaluate_record_refuses_the_pull_cache_snapshot(iris_v1, iris_xy):
    snapshot = zoo.pull("iris@v1")
    before = tree_digest(snapshot.path)
    with pytest.raises(zoo.ZooError, match="read-only pull cache snapshot"):
        zoo.evaluate(snapshot, iris_xy, record=True)
    assert tree_digest(snapshot.path) == before
    assert zoo.evaluate(snapshot, iris_xy).samples == len(iris_xy[1])  # reading is fine


@pytest.mark.slow
def test_finetune_of_a_cache_snapshot_writes_only_its_out(iris_v1, iris_xy, tmp_path):
    snapshot = zoo.pull("iris@v1")
    before = tree_digest(snapshot.path)
    tuned = zoo.finetune(snapshot, iris_xy, epochs=1, out=tmp_path / "tuned")
    assert tuned.package.path == tmp_path / "tuned"
    assert tree_digest(snapshot.path) == before and not list(zoo.verify_cache())


@pytest.mark.slow
def test_save_and_pack_refuse_a_subclassed_model_holding_a_backbone(iris_v1, iris_xy,
                                                                    tmp_path):
    import keras

    class Net(keras.Model):
        def __init__(self, base):
            super().__init__()
            self.base, self.top = base, keras.layers.Dense(4)

        def call(self, x):
            return self.top(self.base(x))

    net = Net(zoo.backbone("iris@v1", drop_top=1))
    net(iris_xy[0][:2])
    with pytest.raises(zoo.ZooError, match="Net is a subclassed keras.Model") as error:
        zoo.save(net, tmp_path / "net", license="MIT")
    one_line(error)
    with pytest.raises(zoo.ZooError, match="subclassed"):
        zoo.pack(net, tmp_path / "net", name="net", license="MIT")
    assert not (tmp_path / "net").exists()


@pytest.mark.slow
def test_finetune_of_a_model_without_a_zoo_backbone_says_to_pack_it(tmp_path):
    import keras

    plain = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    with pytest.raises(zoo.ZooError, match=r"pack a model of your own first: zoo.pack"):
        zoo.finetune(plain, (np.zeros((8, 4), np.float32), np.zeros(8, int)), epochs=1)
    with pytest.raises(zoo.ZooError, match="expected a keras.Model"):
        zoo.finetune(object(), (np.zeros((8, 4), np.float32), np.zeros(8, int)), epochs=1)


@pytest.mark.slow
@pytest.mark.parametrize("labels, why", [
    (["a", "b"], "2 labels for a model with 4 outputs"),
    ("abcd", "1 labels for a model with 4 outputs"),  # text is pack's 'a,b,c' grammar
    (["a,b", "c", "d", "e"], "without commas"),
    (["a", None, "c", "d"], "a list of names"),
    ([], "0 labels"),
])
def test_save_reads_labels_like_pack_and_wants_one_per_output(iris_v1, tmp_path, labels, why):
    model = zoo.backbone("iris@v1", drop_top=1, head="dense:4:softmax")
    with pytest.raises(zoo.ZooError, match=why):
        zoo.save(model, tmp_path / "labelled", labels=labels)
    assert not (tmp_path / "labelled").exists()


@pytest.mark.slow
def test_save_takes_labels_as_a_list_or_as_packs_comma_text(iris_v1, tmp_path):
    model = zoo.backbone("iris@v1", drop_top=1, head="dense:4:softmax")
    saved = zoo.save(model, tmp_path / "text", labels="a, b,c,d")
    assert saved.card.preprocessing.label_names == ["a", "b", "c", "d"]
    saved = zoo.save(model, tmp_path / "list", labels=("w", "x", "y", "z"))
    assert saved.card.preprocessing.label_names == ["w", "x", "y", "z"]


@pytest.mark.slow
def test_derive_and_save_of_the_same_backbone_write_the_same_card(iris_v1, tmp_path):
    """`zoo pull` with rebuild options (zoo.derive) and zoo.save(zoo.backbone(...)) are
    one rebuild: their cards differ only in Keras' generated op-layer names."""
    import json

    options = dict(drop_top=1, freeze_until="hidden2", head="dense:4:softmax")
    derived = zoo.derive("iris@v1", tmp_path / "derived", license="MIT", **options)
    saved = zoo.save(zoo.backbone("iris@v1", **options), tmp_path / "saved", license="MIT")

    def fields(package: zoo.Package) -> dict:
        card = json.loads((package.path / "card.json").read_text())
        for layer in card["layer_map"]["layers"]:
            if layer["class"] == "ConvertToTensor":
                layer["name"] = "convert_to_tensor"
            layer["inbound"] = ["convert_to_tensor" if n.startswith("convert_to_tensor")
                                else n for n in layer.get("inbound", [])]
        return {k: v for k, v in card.items() if k not in ("files", "framework")}

    assert fields(derived) == fields(saved)
    assert saved.card.lineage.frozen_layers == ["hidden1", "hidden2"]


@pytest.mark.slow
def test_a_backbone_shared_by_two_inputs_is_one_base_and_two_backbones_are_refused(
        iris_v1, tmp_path):
    import keras

    base = zoo.backbone("iris@v1", drop_top=1, freeze_until="hidden2")
    left, right = keras.Input((4,)), keras.Input((4,))
    joined = keras.layers.Concatenate(name="pair")([base(left), base(right)])
    siamese = keras.Model([left, right], keras.layers.Dense(2, name="same")(joined))
    saved = zoo.save(siamese, tmp_path / "siamese", license="MIT")
    assert saved.card.lineage.frozen_layers == ["hidden1", "hidden2"]
    assert saved.card.lineage.head == "Concatenate:pair, Dense:same"

    other = zoo.backbone("iris@v1", drop_top=1)
    inputs = keras.Input((4,))
    both = keras.layers.Concatenate()([keras.Sequential([base], name="one")(inputs),
                                       keras.Sequential([other], name="two")(inputs)])
    with pytest.raises(zoo.ZooError, match="holds layers of 2 zoo backbones"):
        zoo.save(keras.Model(inputs, both), tmp_path / "two", license="MIT")
    assert not (tmp_path / "two").exists()


@pytest.mark.slow
def test_a_derived_package_is_new_so_backbone_does_not_rebuild_its_base_instead(
        iris_v1, tmp_path):
    derived = zoo.derive("iris@v1", tmp_path / "derived", drop_top=1, head="dense:4:softmax")
    assert (derived.ref, derived.revision) == (None, None)
    assert derived.card.lineage.base_revision == iris_v1
    with pytest.raises(zoo.ZooError, match="not one from a hub"):
        zoo.backbone(derived)  # it once rebuilt iris@v1 itself, the head left out
    copy = zoo.derive("iris@v1", tmp_path / "copy")  # no rebuild options: the revision
    assert (copy.ref, copy.revision) == ("zoo/iris", iris_v1)


@pytest.mark.slow
def test_a_loaded_pull_records_as_signer_only_a_key_that_verified_it(iris_pkg, tmp_path):
    """The lineage's base_signed_by is the key that checked the base, as zoo.backbone
    records it; a card's own claim, unsigned and unchecked, is not a signer."""
    import shutil

    from zoo.cards.card import read_card
    from zoo.package import seal

    claims = tmp_path / "claims"
    shutil.copytree(iris_pkg, claims)
    card = read_card(claims)
    card.signed_by = "sha256:" + "0" * 64  # no model.sig: nothing checks this
    seal(claims, card)
    zoo.publish(claims, "claims", tag="v1")
    from_backbone = zoo.save(zoo.backbone("claims@v1", drop_top=1), tmp_path / "b")
    from_load = zoo.save(zoo.pull("claims@v1").load(), tmp_path / "l")
    assert from_backbone.card.lineage.base_signed_by is None
    assert from_load.card.lineage.base_signed_by is None


@pytest.mark.slow
def test_publish_with_an_owner_to_a_fresh_folder_hub_lands_in_that_hub(iris_pkg, tmp_path):
    published = zoo.publish(iris_pkg, "acme/iris", hub=tmp_path / "fresh")
    assert [(r.owner, r.name) for r in zoo.list(tmp_path / "fresh")] == [("acme", "iris")]
    assert published.ref == f"file://{tmp_path}/fresh/acme/iris"


@pytest.mark.slow
def test_publish_to_a_new_hub_inside_a_hub_does_not_write_into_the_outer_one(iris_pkg,
                                                                             tmp_path):
    zoo.publish(iris_pkg, "iris", hub=tmp_path / "outer")
    zoo.publish(iris_pkg, "iris", hub=tmp_path / "outer" / "inner")
    assert [(r.owner, r.name) for r in zoo.list(tmp_path / "outer")] == [("zoo", "iris")]


@pytest.mark.slow
def test_the_ref_publish_returns_pulls_back_from_a_hub_path_with_a_hash(iris_pkg, tmp_path):
    published = zoo.publish(iris_pkg, "iris", hub=tmp_path / "hub#1")
    assert zoo.pull(f"{published.ref}@{published}").revision == published


@pytest.mark.slow
def test_finetune_refuses_empty_arrays_as_a_data_error(iris_v1, tmp_path):
    model = zoo.backbone("iris@v1", drop_top=1, head="dense:4:softmax")
    with pytest.raises(zoo.DataError):
        zoo.finetune(model, (np.zeros((0, 4), np.float32), np.zeros(0, int)), epochs=1)


@pytest.mark.slow
def test_a_nested_backbone_with_a_zoo_head_keeps_that_head_in_the_lineage(iris_v1, tmp_path):
    import keras

    base = zoo.backbone("iris@v1", drop_top=1, freeze_until="hidden2", head="dense:4:softmax")
    model = keras.Sequential([base, keras.layers.Dense(2, name="extra")])
    saved = zoo.save(model, tmp_path / "nested", license="MIT")
    assert "dense:4:softmax" in saved.card.lineage.head
