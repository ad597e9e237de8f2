"""`zoo rank` on real packages: the session's trained iris network and a copy of it with
fresh random weights, ranked on iris4 (iris with four classes, data it transfers to)."""

import json

import numpy as np
import pytest
from conftest import ok, refused

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def candidates(zoo_home, iris_revision, iris_pkg, iris4_csv, tmp_path_factory):
    """iris@v1 (trained) and iris-random@v1 (the same network, weights drawn afresh)."""
    import keras
    import zoo

    work = tmp_path_factory.mktemp("rank")
    trained = zoo.inspect(iris_pkg).load()
    fresh = keras.models.clone_model(trained)
    fresh.build(trained.input_shape)
    fresh.save(work / "random.keras")
    zoo.pack(work / "random.keras", work / "iris-random", name="iris-random",
             license="Apache-2.0")
    ok("publish", work / "iris-random", "iris-random", "--tag", "v1")
    return work, iris4_csv


def test_every_cut_point_comes_from_one_pass_per_backbone(candidates, monkeypatch):
    import keras
    import zoo

    work, (train, _) = candidates
    passes = []
    predict = keras.Model.predict
    monkeypatch.setattr(keras.Model, "predict",
                        lambda self, *a, **k: passes.append(self.name) or predict(self, *a, **k))
    rows = zoo.rank(["iris@v1", "iris-random@v1"], train, metric="knn")
    assert len(passes) == 2  # one per backbone
    assert sorted({(row.ref, row.cut_at) for row in rows}) == [
        ("iris", "hidden1"), ("iris", "hidden2"),
        ("iris-random", "hidden1"), ("iris-random", "hidden2")]
    assert [row.score for row in rows] == sorted((row.score for row in rows), reverse=True)
    passes.clear()
    again = zoo.rank(["iris@v1", "iris-random@v1"], train, metric="linear")
    assert passes == []  # the cached features, another metric
    assert {row.channels for row in again} == {50, 25}


@pytest.mark.parametrize("metric", ["linear", "logme"])
def test_the_trained_network_ranks_above_its_random_twin(candidates, metric):
    import zoo

    work, (train, _) = candidates
    rows = zoo.rank(["iris@v1", "iris-random@v1"], train, cut_points="last", metric=metric)
    assert [row.ref for row in rows] == ["iris", "iris-random"], rows


def test_a_refused_license_is_listed_not_scored(candidates, tmp_path):
    work, (train, _) = candidates
    (tmp_path / "policy.toml").write_text('deny = ["Apache-2.0"]\n')
    run = ok("rank", "iris@v1", "--data", train, "--policy", tmp_path / "policy.toml",
             "--json")
    rows = json.loads(run.stdout)
    assert len(rows) == 1 and rows[0]["score"] is None and "license" in rows[0]["refused"]


def test_json_record_and_plot(candidates, tmp_path):
    work, (train, _) = candidates
    run = ok("rank", "iris@v1", "iris-random@v1", "--data", train, "--json",
             "--record", tmp_path / "ranks.json", "--plot", tmp_path / "ranks.png")
    rows = json.loads(run.stdout)
    assert {"ref", "revision", "cut_at", "score", "metric"} <= set(rows[0])
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)
    report = json.loads((tmp_path / "ranks.json").read_text())
    assert report["rankings"][0]["data_sha256"] and len(report["rankings"][0]["results"]) == 4
    ok("rank", "iris@v1", "--data", train, "--record", tmp_path / "ranks.json")
    assert len(json.loads((tmp_path / "ranks.json").read_text())["rankings"]) == 2
    assert (tmp_path / "ranks.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_table_names_the_winner_and_the_command_that_pulls_it(candidates):
    work, (train, _) = candidates
    out = ok("rank", "iris@v1", "iris-random@v1", "--data", train).stdout
    assert "best: iris@" in out and "zoo pull iris@" in out and "--cut-at" in out


def test_pull_cut_at_best_derives_at_the_ranked_cut(candidates, tmp_path):
    import zoo

    work, (train, _) = candidates
    best = zoo.rank(["iris@v1"], train)[0]
    ok("pull", "iris@v1", "--cut-at", "best", "--freeze-until", "best", "--rank-data", train,
       "--head", "dense:4:softmax", "--license", "MIT", "--out", tmp_path / "best")
    lineage = zoo.inspect(tmp_path / "best").card.lineage
    assert lineage.cut_layer == best.cut_at and lineage.base_revision == best.revision
    assert "--rank-data" in refused("pull", "iris@v1", "--cut-at", "best", "--head",
                                    "dense:4:softmax", "--out", tmp_path / "none")


def test_bad_input_is_one_line(candidates, tmp_path):
    work, (train, _) = candidates
    assert "no layer 'nope'" in refused("rank", "iris@v1", "--data", train,
                                        "--cut-points", "nope")
    one = tmp_path / "one.csv"
    one.write_text("a,b,c,d,label\n" + "1,2,3,4,x\n" * 6)
    assert "one class" in refused("rank", "iris@v1", "--data", one)
    nan = tmp_path / "nan.npz"
    np.savez(nan, x=np.full((8, 4), np.nan, np.float32), y=np.array([0, 1] * 4))
    assert "NaN" in refused("rank", "iris@v1", "--data", nan)
    images = tmp_path / "images.npz"
    np.savez(images, x=np.zeros((8, 8, 8, 1), np.float32), y=np.array([0, 1] * 4))
    assert "shape" in refused("rank", "iris@v1", "--data", images)
    assert "no repository" in refused("rank", "nobody-here@v1", "--data", train)
