"""The parts of distributed fine-tuning that need no TensorFlow: TF_CONFIG, read the
way an attacker or a typo would write it, the watchdog process that ends a worker
stuck on its peers, and the options refused before anything starts."""

import json
import re
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import refused
from hypothesis import given, settings
from hypothesis import strategies as st

from zoo.errors import ZooError
from zoo.train.cluster import Cluster, check_listening, read_cluster
from zoo.train.distribute import _batches
from zoo.train.settings import Distribution


def config(cluster: dict, role: str = "worker", index: int = 0) -> str:
    return json.dumps({"cluster": cluster, "task": {"type": role, "index": index}})


def test_roles_addresses_and_the_chief():
    workers = {"worker": ["10.0.0.1:2222", "10.0.0.2:2222"]}
    assert read_cluster(config(workers, index=1)) == Cluster(
        "worker", 1, ("10.0.0.1:2222", "10.0.0.2:2222"), False)
    assert read_cluster(config(workers)).is_chief
    assert not read_cluster(config(workers, index=1)).is_chief
    with_chief = {"chief": ["[::1]:2222"], "worker": ["host-a:2222", "host.b:2223"]}
    chief = read_cluster(config(with_chief, "chief"))
    assert chief.is_chief and chief.workers == 3 and chief.rank == 0
    worker0 = read_cluster(config(with_chief))
    assert not worker0.is_chief and worker0.rank == 1
    assert worker0.describe() == "worker 0 (2 of 3)"
    assert read_cluster(None) is None and read_cluster("  ") is None


@pytest.mark.parametrize("text, why", [
    ("{", "not JSON"),
    ("[]", "must be a JSON object"),
    (json.dumps({"task": {"type": "worker", "index": 0}}), '"cluster" must be an object'),
    (config({"ps": ["h:1"], "worker": ["h:2"]}), "'ps' are not supported"),
    (config({"evaluator": ["h:1"]}, "evaluator"), "'evaluator' are not supported"),
    (config({"worker": []}), "non-empty list"),
    (config({"worker": "h:1"}), "non-empty list"),
    (config({"worker": ["h:1", 7]}), "non-empty list"),
    (config({"worker": ["h"]}), "is not a \"host:port\" address"),
    (config({"worker": ["h:0"]}), "is not a \"host:port\" address"),
    (config({"worker": ["h:70000"]}), "is not a \"host:port\" address"),
    (config({"worker": ["h:1; rm -rf /"]}), "is not a \"host:port\" address"),
    (config({"worker": ["h:1\n"]}), "is not a \"host:port\" address"),
    (config({"worker": ["h:1", "h:1"]}), "share an address"),
    (config({"chief": ["a:1", "b:1"]}, "chief"), "only one chief"),
    (json.dumps({"cluster": {"worker": ["h:1"]}}), '"task" must be an object'),
    (config({"worker": ["h:1"]}, "chief"), '"task"."type" must be one of'),
    (config({"worker": ["h:1"]}, []), '"task"."type" must be one of'),
    (config({"worker": ["h:1"]}, {"a": 1}), '"task"."type" must be one of'),
    (config({"worker": ["h:1"]}, index=1), '"task"."index" must be an integer from 0 to 0'),
    (config({"worker": ["h:1"]}, index=True), '"task"."index" must be an integer'),
    (config({"worker": ["h:1"]}, index=-1), '"task"."index" must be an integer'),
])
def test_bad_tf_config_is_one_clear_error(text, why):
    with pytest.raises(ZooError, match="^TF_CONFIG: ") as caught:
        read_cluster(text)
    assert why in str(caught.value)


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=12),
                    lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.sampled_from(["cluster", "task", "worker", "chief",
                                                       "type", "index", "ps"]),
                                      inner, max_size=4), max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=80), JSON.map(json.dumps)))
def test_any_tf_config_parses_or_is_refused(text):
    try:
        cluster = read_cluster(text)
    except ZooError as exc:
        assert str(exc).startswith("TF_CONFIG: ")
        return
    assert cluster is None or 0 <= cluster.rank < cluster.workers


TASKS = JSON | st.fixed_dictionaries({"type": JSON | st.sampled_from(["chief", "worker", "ps"]),
                                      "index": JSON | st.integers(-2, 4)})


@settings(max_examples=300, deadline=None)
@given(TASKS)
def test_any_task_of_a_good_cluster_parses_or_is_refused(task):
    text = json.dumps({"cluster": {"chief": ["c:1"], "worker": ["w:1", "w:2"]}, "task": task})
    try:
        cluster = read_cluster(text)
    except ZooError as exc:
        assert str(exc).startswith("TF_CONFIG: ")
        return
    assert 0 <= cluster.rank < cluster.workers == 3


def watched(body: str) -> subprocess.CompletedProcess:
    code = f"from zoo.train.distribute import Watchdog\nimport time\n{body}"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)


def test_the_watchdog_kills_a_process_stuck_while_it_is_armed():
    started = time.perf_counter()
    # time.sleep holds no lock; a collective op holds the GIL too (that is why a
    # process watches, not a thread), which this cannot mimic without TensorFlow
    done = watched("dog = Watchdog(1.0, 'worker 0 (1 of 2)')\ndog.beat('joining')\n"
                   "time.sleep(30)\nprint('not reached')")
    assert done.returncode == -9 and "not reached" not in done.stdout
    assert done.stderr.strip().splitlines() == [
        "zoo: error: worker 0 (1 of 2): no word from the other workers for 1 s while "
        "joining (one died, hung or never started; --worker-timeout sets the wait)"]
    assert time.perf_counter() - started < 30


def test_the_watchdog_lets_a_beating_or_resting_process_be():
    done = watched("dog = Watchdog(1.0, 'w')\nfor _ in range(6):\n"
                   "    dog.beat('step')\n    time.sleep(0.3)\n"
                   "dog.rest()\ntime.sleep(2)\nprint('finished')")
    assert (done.returncode, done.stdout.strip(), done.stderr) == (0, "finished", "")


def test_a_watchdog_killed_from_outside_does_not_break_the_worker():
    done = watched("dog = Watchdog(1.0, 'w')\ndog._watcher.kill()\ndog._watcher.wait()\n"
                   "dog.beat('step')\ndog.rest()\nprint('finished')")
    assert (done.returncode, done.stdout.strip(), done.stderr) == (0, "finished", "")


@pytest.mark.parametrize("samples, batch, least, sizes", [
    (10, 4, 1, [4, 4, 2]),
    (9, 4, 2, [4, 5]),      # a tail of one cannot feed two replicas: it joins the batch before
    (9, 4, 1, [4, 4, 1]),   # scoring: any slice may be empty
    (8, 4, 2, [4, 4]),
    (1, 4, 1, [1]),
])
def test_global_batches_are_fits_and_every_replica_gets_a_sample(samples, batch, least, sizes):
    batches = _batches(np.arange(samples), batch, least)
    assert [len(rows) for rows in batches] == sizes
    assert np.array_equal(np.concatenate(batches), np.arange(samples))


def test_fewer_samples_than_replicas_is_refused():
    with pytest.raises(ZooError, match="1 training sample"):
        _batches(np.arange(1), 4, 2)


def test_devices_or_an_unknown_strategy_are_refused_in_the_settings():
    with pytest.raises(ZooError, match="--devices needs --strategy mirrored"):
        Distribution("multi-worker", devices=2)
    with pytest.raises(ZooError, match="unknown strategy 'ring'"):
        Distribution("ring")


def test_devices_without_mirrored_is_refused_before_anything_loads(tmp_path):
    line = refused("finetune", tmp_path, "--data", tmp_path / "d.csv", "--devices", "2",
                   "--out", tmp_path / "o")
    assert "--devices needs --strategy mirrored" in line


@pytest.mark.parametrize("entry, host", [("127.0.0.1:2222", "127.0.0.1"),
                                         ("10.0.0.2:2223", "10.0.0.2"),
                                         ("[::1]:2224", "[::1]")])
def test_joining_a_cluster_needs_the_users_word_that_every_interface_listens(entry, host):
    cluster = read_cluster(config({"worker": [entry]}))
    with pytest.raises(ZooError, match=f"not only on {re.escape(host)} as this worker's "
                                       "entry names.*pass --listen-all-interfaces"):
        check_listening(cluster, listen_all_interfaces=False)
    check_listening(cluster, listen_all_interfaces=True)
    check_listening(None, listen_all_interfaces=False)  # one worker: no server starts


def test_the_refusal_names_this_workers_own_entry():
    with_chief = {"chief": ["127.0.0.1:2000"], "worker": ["127.0.0.2:2001", "127.0.0.3:2002"]}
    with pytest.raises(ZooError, match="port 2002 on 0.0.0.0 and ::.*not only on 127.0.0.3"):
        check_listening(read_cluster(config(with_chief, index=1)), False)


def test_multi_worker_refuses_to_join_without_the_flag_before_anything_loads(tmp_path,
                                                                             monkeypatch):
    monkeypatch.setenv("TF_CONFIG", config({"worker": ["127.0.0.1:2222"]}))
    line = refused("finetune", tmp_path, "--data", tmp_path / "d.csv", "--strategy",
                   "multi-worker", "--out", tmp_path / "o")
    assert "pass --listen-all-interfaces to accept that" in line
    assert "--listen-all-interfaces is for --strategy multi-worker" in refused(
        "finetune", tmp_path, "--data", tmp_path / "d.csv", "--listen-all-interfaces",
        "--out", tmp_path / "o")
