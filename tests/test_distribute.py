"""Fine-tuning on tf.distribute, in real `zoo` processes: MirroredStrategy over two
logical CPUs in one process, MultiWorkerMirroredStrategy over two worker processes on
loopback ports, and workers that die or never start."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import ok, zoo_env
from packages import card_json
from served import free_ports

from zoo.package import load_model

pytestmark = pytest.mark.slow  # trains Keras models in several processes

ZOO = str(Path(sys.executable).parent / "zoo")
RUN_LIMIT = 240  # seconds any one worker may take here before the test gives up on it


def tf_config(ports: list[int], index: int) -> str:
    return json.dumps({"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
                       "task": {"type": "worker", "index": index}})


def start(args: list, home: Path, config: str | None = None) -> subprocess.Popen:
    env = {**os.environ, "ZOO_HOME": str(home / "data"), "ZOO_CACHE": str(home / "cache")}
    env.pop("TF_CONFIG", None)
    if config:
        env["TF_CONFIG"] = config
    return subprocess.Popen([ZOO, "finetune", *map(str, args)], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish(process: subprocess.Popen) -> tuple[int, str, str]:
    try:
        out, err = process.communicate(timeout=RUN_LIMIT)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        pytest.fail(f"a worker ran past {RUN_LIMIT} s: {err[-2000:]}")
    return process.returncode, out, err


def succeeds(process: subprocess.Popen) -> str:
    code, out, err = finish(process)
    assert code == 0, err[-3000:]
    return out


def weights(package: Path) -> dict[str, list[np.ndarray]]:
    return {layer.name: layer.get_weights() for layer in load_model(package).layers}


def assert_frozen_identical(base: Path, tuned: Path, layers: list[str]) -> None:
    before, after = weights(base), weights(tuned)
    for name in layers:
        assert before[name], name
        for old, new in zip(before[name], after[name]):
            assert np.array_equal(old, new), f"{name} changed"


def assert_close(a: Path, b: Path, layers: list[str], atol: float) -> None:
    left, right = weights(a), weights(b)
    for name in layers:
        for x, y in zip(left[name], right[name]):
            np.testing.assert_allclose(x, y, atol=atol, err_msg=name)


# --- multi-worker: Heaton's iris transfer, phase 1 on cached features, then phase 2 -----

IRIS_RUN = ["--epochs", "12", "--lr", "0.02", "--batch-size", "16",
            "--phase2-unfreeze-from", "hidden2", "--phase2-epochs", "3"]


@pytest.fixture(scope="module")
def iris_single(derived_pkg: Path, iris4_csv, tmp_path_factory) -> Path:
    """One process, one replica, the zoo's loop: what the cluster must reproduce."""
    here = tmp_path_factory.mktemp("single")
    succeeds(start([derived_pkg, "--data", iris4_csv[0], *IRIS_RUN, "--strategy",
                    "multi-worker", "--out", here / "tuned"], here))
    return here / "tuned"


def test_two_workers_on_loopback_match_one_process_and_only_the_chief_writes(
        derived_pkg, iris4_csv, iris_single, tmp_path):
    ports = free_ports(2)
    started = time.perf_counter()
    workers = [start([derived_pkg, "--data", iris4_csv[0], *IRIS_RUN, "--strategy",
                      "multi-worker", "--listen-all-interfaces", "--worker-timeout", "120",
                      "--out",
                      tmp_path / f"out{i}"], tmp_path / f"home{i}", tf_config(ports, i))
               for i in range(2)]
    outputs = [succeeds(worker) for worker in workers]
    print(f"two workers: {time.perf_counter() - started:.1f} s wall")
    assert (tmp_path / "out0").is_dir() and not (tmp_path / "out1").exists()
    assert "the chief writes" in outputs[1] and str(tmp_path / "out0") in outputs[0]
    card = card_json(tmp_path / "out0")
    phases = card["lineage"]["finetune"][-1]["phases"]
    assert [p["distribution"]["replicas"] for p in phases] == [2, 2]
    assert phases[0]["distribution"] | {"local_devices": None} == {
        "strategy": "multi-worker", "replicas": 2, "workers": 2, "global_batch": 16,
        "local_devices": None, "worker_timeout": 120.0}
    assert phases[0]["feature_cache"]["prefix"] == "hidden2"  # each worker computed its own
    single = card_json(iris_single)
    assert single["lineage"]["finetune"][-1]["phases"][0]["distribution"]["replicas"] == 1
    # hidden1 stays frozen through both phases; hidden2 trains in phase 2 only
    assert_frozen_identical(derived_pkg, tmp_path / "out0", ["hidden1"])
    assert_close(tmp_path / "out0", iris_single, ["hidden2", "head_0_dense"], atol=1e-5)
    np.testing.assert_allclose(card["history"]["loss"], single["history"]["loss"], rtol=1e-5)
    assert card["metrics"]["accuracy"]["value"] == pytest.approx(
        single["metrics"]["accuracy"]["value"], abs=1e-6)


def test_a_worker_that_never_starts_ends_the_other_with_one_line(derived_pkg, iris4_csv,
                                                                 tmp_path):
    started = time.perf_counter()
    alone = start([derived_pkg, "--data", iris4_csv[0], "--strategy", "multi-worker",
                   "--listen-all-interfaces", "--worker-timeout", "5", "--out",
                   tmp_path / "out"], tmp_path,
                  tf_config(free_ports(2), 0))
    code, out, err = finish(alone)
    assert code != 0 and not (tmp_path / "out").exists()
    assert err.strip().splitlines() == [
        "zoo: error: worker 0 (1 of 2): no word from the other workers for 5 s while waiting "
        "for every worker to join (one died, hung or never started; --worker-timeout sets "
        "the wait)"]
    print(f"gave up after {time.perf_counter() - started:.1f} s")


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGSTOP], ids=["killed", "hung"])
def test_a_worker_that_dies_or_hangs_mid_training_ends_the_other(derived_pkg, iris4_csv,
                                                                 tmp_path, how):
    ports = free_ports(2)
    run = [derived_pkg, "--data", iris4_csv[0], "--epochs", "100000", "--strategy",
           "multi-worker", "--listen-all-interfaces", "--worker-timeout", "10"]
    chief = start([*run, "--out", tmp_path / "out0"], tmp_path / "h0", tf_config(ports, 0))
    peer = start([*run, "--out", tmp_path / "out1"], tmp_path / "h1", tf_config(ports, 1))
    try:
        time.sleep(20)  # joined and training (100,000 epochs take far longer)
        assert chief.poll() is None and peer.poll() is None, chief.stderr.read()
        peer.send_signal(how)
        code, _, err = finish(chief)
    finally:
        peer.kill()
        peer.communicate()
    assert code != 0 and not (tmp_path / "out0").exists()
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("zoo: error: "), err[-2000:]
    assert "other workers" in lines[0]


# --- mirrored: the zoo's CNN, two logical CPUs, BatchNorm in the trained part -------------

CNN_RUN = ["--epochs", "3", "--lr", "0.01", "--phase2-unfreeze-from", "block3_conv",
           "--phase2-epochs", "2", "--phase2-lr", "1e-3"]


@pytest.fixture(scope="module")
def cnn_transfer(cnn8_revision: str, zoo_home: Path, tmp_path_factory) -> dict[str, Path]:
    here = tmp_path_factory.mktemp("mirrored")
    ok("pull", "cnn8", "--cut-at", "block3_relu", "--freeze-until", "block2_relu",
       "--head", "gap,dense:5:softmax", "--out", here / "derived")
    ok("data", "digits", "--classes", "5-9", "--per-class", "25", "--split", "train",
       "--out", here / "d59.npz")
    return {"derived": here / "derived", "data": here / "d59.npz", "home": here}


def test_mirrored_on_two_devices_matches_one_device(cnn_transfer, tmp_path):
    derived, data = cnn_transfer["derived"], cnn_transfer["data"]
    two = start([derived, "--data", data, *CNN_RUN, "--strategy", "mirrored", "--devices",
                 "2", "--out", tmp_path / "two"], tmp_path)
    one = start([derived, "--data", data, *CNN_RUN, "--strategy", "mirrored", "--out",
                 tmp_path / "one"], tmp_path / "h1")
    succeeds(two), succeeds(one)
    phases = card_json(tmp_path / "two")["lineage"]["finetune"][-1]["phases"]
    record = phases[0]["distribution"]
    assert (record["strategy"], record["replicas"], record["workers"]) == ("mirrored", 2, 1)
    assert record["local_devices"] == ["/job:localhost/replica:0/task:0/device:CPU:0",
                                       "/job:localhost/replica:0/task:0/device:CPU:1"]
    assert phases[0]["feature_cache"]["prefix"] == "block2_pool"
    # the base's BatchNorm stays frozen in phase 2 too: statistics and scale bit-identical
    assert_frozen_identical(derived, tmp_path / "two",
                            ["block1_conv", "block1_bn", "block2_conv", "block2_bn",
                             "block3_bn"])
    assert not np.array_equal(weights(derived)["block3_conv"][0],
                              weights(tmp_path / "two")["block3_conv"][0])
    assert_close(tmp_path / "two", tmp_path / "one", ["block3_conv", "head_1_dense"],
                 atol=1e-5)


def test_mirrored_reads_an_image_folder_after_the_devices_are_set_up(cnn_transfer, tmp_path):
    from PIL import Image

    from zoo.data.datasets import load_table

    table = load_table(cnn_transfer["data"])
    for i, (image, label) in enumerate(zip(table.x, table.y)):
        folder = tmp_path / "images" / table.label_names[label]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image[..., 0].astype(np.uint8), mode="L").save(folder / f"{i}.png")
    succeeds(start([cnn_transfer["derived"], "--data", tmp_path / "images", "--epochs", "1",
                    "--strategy", "mirrored", "--devices", "2", "--out", tmp_path / "tuned"],
                   tmp_path))
    record = card_json(tmp_path / "tuned")["lineage"]["finetune"][-1]["phases"][0]
    assert record["distribution"]["replicas"] == 2


def test_strategy_refusals_are_one_line(derived_pkg, iris4_csv, tmp_path):
    bad = start([derived_pkg, "--data", iris4_csv[0], "--strategy", "multi-worker", "--out",
                 tmp_path / "out"], tmp_path, '{"cluster": {"ps": ["h:1"]}, "task": {}}')
    code, _, err = finish(bad)
    assert code == 2 and err.strip().splitlines() == [
        "zoo: error: TF_CONFIG: role(s) 'ps' are not supported: synchronous data-parallel "
        "training uses only chief and worker"]
    # the chief's --out is refused before it waits for a peer (this one never comes)
    (tmp_path / "taken").mkdir()
    taken = start([derived_pkg, "--data", iris4_csv[0], "--strategy", "multi-worker",
                   "--listen-all-interfaces", "--worker-timeout", "60", "--out",
                   tmp_path / "taken"], tmp_path,
                  tf_config(free_ports(2), 0))
    code, _, err = finish(taken)
    assert code == 2 and err.strip().splitlines() == [
        f"zoo: error: {tmp_path / 'taken'} already exists; choose another --out or pass "
        "--force"]
    with zoo_env(tmp_path):
        run = ok("finetune", derived_pkg, "--data", iris4_csv[0], "--epochs", "1",
                 "--out", tmp_path / "plain")
    assert "nothing written" not in run.stdout


def listening(port: int) -> list[str]:
    """The local addresses of the sockets listening on `port` (/proc/net/tcp and tcp6:
    state 0A is LISTEN), as hex the way the kernel writes them."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, _, hex_port = local.rpartition(":")
            if state == "0A" and int(hex_port, 16) == port:
                found.append(address)
    return found


def test_a_worker_listens_on_every_interface_so_joining_needs_the_users_word(
        derived_pkg, iris4_csv, tmp_path):
    """TF_CONFIG names 127.0.0.1, yet TensorFlow's server listens on the wildcard
    address: the zoo refuses to join until the user accepts that. If a TensorFlow ever
    binds to the entry's host instead, this test fails: drop the flag then."""
    port = free_ports(1)[0]
    config = tf_config([port], 0)
    run = [derived_pkg, "--data", iris4_csv[0], "--strategy", "multi-worker"]
    code, _, err = finish(start([*run, "--out", tmp_path / "refused"], tmp_path, config))
    assert code == 2 and not (tmp_path / "refused").exists()
    assert err.strip().splitlines() == [
        f"zoo: error: TF_CONFIG: TensorFlow's worker server listens on every network "
        f"interface (port {port} on 0.0.0.0 and ::), not only on 127.0.0.1 as this worker's "
        "entry names, and it runs what any peer that reaches it sends; on a trusted network "
        "or behind a firewall, pass --listen-all-interfaces to accept that"]
    assert listening(port) == []
    worker = start([*run, "--epochs", "100000", "--listen-all-interfaces", "--out",
                    tmp_path / "tuned"], tmp_path, config)
    try:
        deadline = time.monotonic() + RUN_LIMIT
        while not (addresses := listening(port)) and worker.poll() is None \
                and time.monotonic() < deadline:
            time.sleep(0.2)
        assert worker.poll() is None, worker.communicate()[1][-2000:]
    finally:
        worker.kill()
        worker.communicate()
    wildcard = {"00000000", "0" * 32}  # 0.0.0.0, and :: (which takes IPv4 too)
    loopback = {"0100007F", "00000000000000000000000001000000"}
    assert addresses and set(addresses) <= wildcard, addresses
    assert not set(addresses) & loopback


def test_the_loop_reports_the_loss_as_fit_does_regularization_included():
    """At learning rate 0 the weights stay put, so each epoch's loss is evaluate's."""
    import keras
    import tensorflow as tf
    from sklearn.datasets import load_iris

    from zoo.train.distribute import Replicas
    from zoo.train.settings import FitSettings

    x, y = load_iris(return_X_y=True)
    x = x.astype("float32")
    model = keras.Sequential([keras.Input((4,)),
                              keras.layers.Dense(8, activation="relu",
                                                 kernel_regularizer=keras.regularizers.L2(0.1)),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    expected, accuracy = model.evaluate(x, y, verbose=0)
    assert model.losses  # the penalty is there to be counted
    replicas = Replicas("mirrored", tf.distribute.MirroredStrategy(["/CPU:0"]))
    history = replicas.fit(model, (x, x[:30], y, y[:30]), 1, 0.0, FitSettings(batch_size=7))
    assert history["loss"][0] == pytest.approx(expected, rel=1e-5)
    assert history["accuracy"][0] == pytest.approx(accuracy)
    assert history["val_loss"][0] == pytest.approx(model.evaluate(x[:30], y[:30], verbose=0)[0],
                                                   rel=1e-5)
