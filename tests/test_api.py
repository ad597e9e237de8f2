"""The public API end to end on real models and a real folder hub, the way a
notebook uses it: pack → publish → backbone (cut, freeze) → the user's own Keras
head → fit → zoo.save → publish → pull → load → export, with the lineage, the
frozen weights, the combined license and the predictions checked at each step."""

import hashlib
from pathlib import Path

import numpy as np
import pytest

import zoo

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def iris_v1(zoo_home: Path, iris_pkg: Path, tmp_path_factory) -> zoo.Published:
    """The session's trained iris network packed again from its model file by zoo.pack,
    under Apache-2.0, and published as iris@v1."""
    packed = zoo.pack(iris_pkg / "model.keras", tmp_path_factory.mktemp("api") / "iris",
                      name="iris", license="Apache-2.0", authors="Heaton",
                      labels=["setosa", "versicolor", "virginica"])
    assert packed.card.preprocessing.label_names == ["setosa", "versicolor", "virginica"]
    return zoo.publish(packed, "iris", tag="v1")


@pytest.fixture(scope="module")
def iris4(iris4_csv: tuple[Path, Path]) -> tuple[np.ndarray, np.ndarray]:
    rows = np.loadtxt(iris4_csv[0], delimiter=",", skiprows=1, dtype=str)
    names = sorted(set(rows[:, -1]))
    return rows[:, :-1].astype(np.float32), np.array([names.index(v) for v in rows[:, -1]])


def weights_of(model, names: list[str]) -> dict[str, list[np.ndarray]]:
    return {name: [w.copy() for w in model.get_layer(name).get_weights()] for name in names}


def assert_same_weights(left: dict, right: dict) -> None:
    assert left.keys() == right.keys()
    for name in left:
        assert all(np.array_equal(a, b) for a, b in zip(left[name], right[name])), name


def card_sha256(package: zoo.Package) -> str:
    return hashlib.sha256((package.path / "card.json").read_bytes()).hexdigest()


def test_publish_returns_the_commit_and_knows_an_unchanged_package(iris_v1):
    assert len(iris_v1) == 40 and iris_v1.created and iris_v1.tag == "v1"
    assert iris_v1.ref == "zoo/iris"
    again = zoo.publish(zoo.pull("iris@v1").path, "iris")
    assert again == iris_v1 and not again.created
    (row,) = [r for r in zoo.list() if r.name == "iris"]
    assert row.revision == iris_v1 and row.tags == ["v1"]


def test_the_users_own_head_round_trips_with_lineage_frozen_weights_and_license(
        iris_v1, iris4, tmp_path):
    import keras

    x, y = iris4
    base = zoo.backbone("iris@v1", drop_top=1, freeze_until="hidden2")
    assert [layer.trainable for layer in base.layers if layer.weights] == [False, False]
    base_weights = weights_of(base, ["hidden1", "hidden2"])
    head = keras.layers.Dense(16, activation="relu", name="adapter16")(base.output)
    head = keras.layers.Dense(4, activation="softmax", name="species4")(head)
    model = keras.Model(base.input, head)
    model.compile(keras.optimizers.Adam(0.02), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    keras.utils.set_random_seed(0)
    model.fit(x, y, epochs=40, verbose=0)
    assert_same_weights(weights_of(model, ["hidden1", "hidden2"]), base_weights)

    saved = zoo.save(model, tmp_path / "mine", license="MIT", authors="me")
    lineage = saved.card.lineage
    pulled_base = zoo.pull("iris@v1")
    assert (lineage.base_ref, lineage.base_revision) == ("zoo/iris", iris_v1)
    assert lineage.base_card_sha256 == card_sha256(pulled_base)
    assert lineage.cut_layer == "hidden2" and lineage.frozen_layers == ["hidden1", "hidden2"]
    assert lineage.head == "Dense:adapter16, Dense:species4"
    assert saved.card.license == "Apache-2.0 AND MIT"
    assert saved.card.authors == ["me"] and saved.card.name == "iris-derived"
    assert saved.card.layer_map.stages()["species4"] == "head"
    assert saved.card.layer_map.stages()["hidden1"] == "base"

    commit = zoo.publish(saved, "iris4-mine", tag="v1")
    pulled = zoo.pull("iris4-mine@v1", out=tmp_path / "pulled")
    assert pulled.revision == commit and pulled.card.lineage == lineage
    loaded = pulled.load()
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert_same_weights(weights_of(loaded, ["hidden1", "hidden2"]), base_weights)

    record = zoo.export(pulled, "onnx")
    assert record.max_abs_diff <= record.tolerance
    assert (pulled.path / record.path).is_file()
    assert zoo.inspect(pulled.path).card.exports["onnx"].max_abs_diff == record.max_abs_diff


def test_a_backbone_nested_in_a_sequential_keeps_its_lineage(iris_v1, iris4, tmp_path):
    import keras

    x, y = iris4
    base = zoo.backbone("iris@v1", drop_top=1)
    base.trainable = False  # the Keras idiom: freeze the whole base
    model = keras.Sequential([base, keras.layers.Dense(4, activation="softmax", name="out4")])
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=2, verbose=0)
    saved = zoo.save(model, tmp_path / "seq", name="iris-seq")
    assert saved.card.lineage.frozen_layers == ["hidden1", "hidden2"]
    assert saved.card.lineage.head == "Dense:out4" and saved.card.name == "iris-seq"
    np.testing.assert_allclose(saved.load().predict(x, verbose=0),
                               model.predict(x, verbose=0), rtol=0, atol=1e-6)


def test_a_frozen_layer_trained_behind_the_zoos_back_is_refused_by_save(iris_v1, tmp_path):
    base = zoo.backbone("iris@v1", drop_top=1, freeze_until="hidden2")
    layer = base.get_layer("hidden1")
    layer.set_weights([w + 1.0 for w in layer.get_weights()])
    with pytest.raises(zoo.ZooError, match="'hidden1' is frozen but its weights are no longer"):
        zoo.save(base, tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


def test_a_model_without_a_zoo_backbone_is_a_plain_package_and_needs_a_license(tmp_path):
    import keras

    model = keras.Sequential([keras.Input((3,), name="xyz"),
                              keras.layers.Dense(2, activation="softmax", name="out")])
    with pytest.raises(zoo.ZooError, match="give it a name and a license"):
        zoo.save(model, tmp_path / "plain")
    saved = zoo.save(model, tmp_path / "plain", name="plain", license="MIT", labels=["a", "b"])
    assert saved.card.lineage is None and saved.card.license == "MIT"
    assert saved.card.preprocessing.label_names == ["a", "b"]
    packed = zoo.pack(model, tmp_path / "packed", name="plain", license="MIT")
    assert packed.card.layer_map.names() == saved.card.layer_map.names()


def test_finetune_on_arrays_keeps_the_base_frozen_and_writes_a_derived_package(
        iris_v1, iris4, tmp_path):
    x, y = iris4
    model = zoo.backbone("iris@v1", drop_top=1, freeze_until="hidden2",
                         head="dense:4:softmax")
    base_weights = weights_of(model, ["hidden1", "hidden2"])
    tuned = zoo.finetune(model, (x, y), epochs=30, lr=0.02, out=tmp_path / "tuned")
    assert tuned.package is not None and tuned.package.path == tmp_path / "tuned"
    assert len(tuned.history["loss"]) == 30 and tuned.card.metrics["accuracy"].value > 0.5
    assert_same_weights(weights_of(tuned.model, ["hidden1", "hidden2"]), base_weights)
    assert tuned.card.lineage.base_revision == iris_v1
    assert tuned.card.lineage.head == "dense:4:softmax"
    again = zoo.save(tuned.model, tmp_path / "again")  # a tuned model keeps its lineage
    assert again.card.lineage.base_ref == "zoo/iris" and again.card.name == tuned.card.name
    evaluation = zoo.evaluate(tuned.package, (x, y))
    assert evaluation.samples == len(y) and 0 <= evaluation.accuracy <= 1
