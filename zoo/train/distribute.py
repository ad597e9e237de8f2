"""Fine-tuning on several devices or hosts, on tf.distribute.

- `mirrored`: `MirroredStrategy` over this machine's GPUs (or `--devices N` logical
  CPUs where there are none).
- `multi-worker`: `MultiWorkerMirroredStrategy` over TF_CONFIG's workers.

Both train in the loop below, on `strategy.run` and the strategy's all-reduce, not in
Keras' `fit`: under MultiWorkerMirroredStrategy `fit` fails with Keras 3
(keras-team/keras#20585), and under MirroredStrategy it fails as soon as a validation
batch does not split evenly over the replicas (Keras 3.15: "Inputs to operation AddN
... must have the same size and shape", e.g. 21 samples on 2 devices). Every worker
sees the same shuffled global batches (one seed) and feeds its own replicas their
slices of each, uneven ones too; the loss is averaged over the global batch, so the
summed gradient is the global batch's and so is the learning rate. One loop for both
strategies gives the same weights for the same global batch, whatever the replicas.

Each strategy trains a replica of the model built under its scope (same layers,
same weights, same trainable flags); its weights are copied back when it is done.
So loading, frozen-feature extraction, scoring and saving only ever see plain
variables, saving needs no collective ops, and frozen weights come back as they
went in, bit for bit.

A worker that dies breaks the others' next collective op: that error becomes one
line. A worker that hangs, or never starts, would leave the others waiting in
TensorFlow forever (it even outlasts SIGTERM), so a watchdog thread ends the
process with one line after `worker_timeout` seconds without progress.
"""

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from zoo.errors import ZooError
from zoo.train.cluster import TF_CONFIG, Cluster, read_cluster
from zoo.train.settings import Distribution, FitSettings

_STARTED_TOO_LATE = ("must be set up before TensorFlow runs anything in this process: run "
                     "it as its own `zoo finetune` command")


# The watchdog's own process: it reads "beat WHAT" and "rest" lines from its stdin; after
# TIMEOUT seconds armed without one, it writes the line and kills the worker; when the
# worker's end of the pipe closes (it exited), it exits too.
_WATCHER = r"""
import os, select, signal, sys
parent, timeout, line = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
armed, what = False, ""
while True:
    ready, _, _ = select.select([0], [], [], timeout if armed else None)
    if not ready:
        sys.stderr.write(line.replace("{what}", what) + "\n")
        sys.stderr.flush()
        os.kill(parent, signal.SIGKILL)
        break
    data = os.read(0, 65536).decode()
    if not data:
        break
    command, _, what = data.splitlines()[-1].partition(" ")
    armed = command == "beat"
"""


class Watchdog:
    """Kills this process with one line on stderr if `beat` is not called for `timeout`
    seconds while armed.

    A worker waiting on a dead or hung peer is stuck inside TensorFlow, holding the
    GIL (a thread of its own never runs) and outlasting SIGTERM, so the watching is
    done by a small process of its own and the kill is SIGKILL. Nothing is being
    written while workers wait on each other: the package is staged and moved into
    place only after the training."""

    def __init__(self, timeout: float, who: str) -> None:
        line = (f"zoo: error: {who}: no word from the other workers for {timeout:g} s while "
                "{what} (one died, hung or never started; --worker-timeout sets the wait)")
        self._watcher = subprocess.Popen(
            [sys.executable, "-c", _WATCHER, str(os.getpid()), str(timeout), line],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)

    def _send(self, message: str) -> None:
        assert self._watcher.stdin is not None
        self._watcher.stdin.write(f"{message}\n".encode())
        self._watcher.stdin.flush()

    def beat(self, what: str) -> None:
        self._send(f"beat {what}")

    def rest(self) -> None:
        self._send("rest")


@dataclass
class Replicas:
    """A started strategy: where the model trains, and who writes the result."""
    name: str
    strategy: Any
    cluster: Cluster | None = None
    watchdog: Watchdog | None = None

    @property
    def is_chief(self) -> bool:
        return self.cluster is None or self.cluster.is_chief

    @property
    def workers(self) -> int:
        return self.cluster.workers if self.cluster else 1

    def who(self) -> str:
        return self.cluster.describe() if self.cluster else "worker 0 (1 of 1)"

    def record(self, global_batch: int) -> dict:
        """What the lineage says of the run."""
        return {"strategy": self.name, "replicas": int(self.strategy.num_replicas_in_sync),
                "workers": self.workers, "global_batch": global_batch,
                "local_devices": list(self.strategy.extended.worker_devices)}

    def fit(self, model: Any, data: tuple[np.ndarray, ...], epochs: int,
            learning_rate: float, settings: FitSettings) -> dict[str, list[float]]:
        """Train a replica of `model` under the strategy, then copy its weights back."""
        with self.strategy.scope():
            replica = _replica(model)
            history = _train(self, replica, data, epochs, learning_rate, settings)
        model.set_weights(replica.get_weights())
        return history

    def finish(self) -> None:
        """Keep watching while TensorFlow waits for every worker at exit."""
        if self.watchdog:
            self.watchdog.beat("finishing together")


def start(distribution: Distribution) -> Replicas | None:
    """The strategy `distribution` names, started (None for 'none'); it must be the
    first thing TensorFlow does in this process."""
    if distribution.strategy == "none":
        return None
    if distribution.strategy == "mirrored":
        return Replicas("mirrored", _mirrored(distribution.devices))
    if distribution.strategy != "multi-worker":
        raise ZooError(f"unknown strategy {distribution.strategy!r}")
    if distribution.devices is not None:
        raise ZooError("--devices is for --strategy mirrored; a multi-worker run uses every "
                       "GPU of each worker, or its CPU")
    return _multi_worker(distribution.worker_timeout)


def _mirrored(devices: int | None) -> Any:
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    wanted = devices or max(len(gpus), 1)
    if gpus and wanted > len(gpus):
        raise ZooError(f"--devices {wanted}: this machine has {len(gpus)} GPU(s)")
    if not gpus and wanted > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        try:
            tf.config.set_logical_device_configuration(
                cpu, [tf.config.LogicalDeviceConfiguration()] * wanted)
        except RuntimeError:
            raise ZooError(f"--devices {_STARTED_TOO_LATE}") from None
    kind = "GPU" if gpus else "CPU"
    return tf.distribute.MirroredStrategy([f"/{kind}:{i}" for i in range(wanted)])


def _multi_worker(timeout: float) -> Replicas:
    if "tensorflow" not in sys.modules and os.environ.get("TF_CPP_MIN_LOG_LEVEL") == "2" \
            and os.environ.get("ZOO_DEBUG", "") in ("", "0"):
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"  # a lost peer is our one line, not ten
    cluster = read_cluster(os.environ.get(TF_CONFIG))  # checked before TensorFlow loads
    import tensorflow as tf

    who = cluster.describe() if cluster else "the only worker"
    watchdog = Watchdog(timeout, who)
    watchdog.beat("waiting for every worker to join")
    try:
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    except RuntimeError as exc:
        if "startup" in str(exc) or "initialized" in str(exc):
            raise ZooError(f"--strategy multi-worker {_STARTED_TOO_LATE}") from None
        raise ZooError(f"{who}: could not join the cluster: {_first_line(exc)}") from None
    except tf.errors.OpError as exc:
        raise ZooError(f"{who}: could not join the cluster: {_first_line(exc)}") from None
    watchdog.rest()
    return Replicas("multi-worker", strategy, cluster, watchdog)


def LOST_PEER_ERRORS(tf: Any) -> tuple[type, ...]:
    """What a collective op raises when a peer is gone."""
    errors = tf.errors
    return (errors.UnavailableError, errors.AbortedError, errors.CancelledError,
            errors.DeadlineExceededError)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


def _replica(model: Any) -> Any:
    """The same network built in the current scope: layers, weights, trainable flags."""
    import keras

    try:
        replica = keras.models.clone_model(model)
    except (TypeError, ValueError, NotImplementedError) as exc:
        raise ZooError(f"{model.name} cannot be rebuilt under a distribution strategy: "
                       f"{_first_line(exc)}") from None
    replica.set_weights(model.get_weights())
    def trains(network: Any) -> list[tuple]:
        return [(layer.name, layer.trainable, [tuple(w.shape) for w in layer.trainable_weights])
                for layer in network.layers]
    if trains(replica) != trains(model):
        raise ZooError(f"{model.name}: its replica does not train the same weights")
    return replica


def _train(replicas: Replicas, model: Any, data: tuple[np.ndarray, ...], epochs: int,
           learning_rate: float, settings: FitSettings) -> dict[str, list[float]]:
    """The zoo's loop: Keras' fit, step for step (global batches, Adam, the mean loss,
    early stopping that keeps the best weights), on `strategy.run`."""
    import keras
    import tensorflow as tf

    strategy, watchdog = replicas.strategy, replicas.watchdog
    x_train, x_val, y_train, y_val = data
    optimizer = keras.optimizers.Adam(learning_rate)
    optimizer.build(model.trainable_variables)  # now, in scope: not inside the first step
    per_sample = keras.losses.SparseCategoricalCrossentropy(reduction=None)

    def sums(y: Any, probabilities: Any) -> tuple[Any, Any, Any]:
        losses = per_sample(y, probabilities)
        correct = tf.cast(tf.equal(tf.cast(y, tf.int64), tf.argmax(probabilities, -1)),
                          tf.float32)
        return losses, tf.reduce_sum(losses), tf.reduce_sum(correct)

    def train_replica(x: Any, y: Any, batch: Any) -> tuple[Any, Any]:
        with tf.GradientTape() as tape:
            losses, loss_sum, correct = sums(y, model(x, training=True))
            loss = loss_sum / tf.cast(batch, loss_sum.dtype)  # the global batch's mean
            if model.losses:
                loss += tf.nn.scale_regularization_loss(tf.add_n(model.losses))
        optimizer.apply(tape.gradient(loss, model.trainable_variables),
                        model.trainable_variables)
        return loss_sum, correct

    def score_replica(x: Any, y: Any, batch: Any) -> tuple[Any, Any]:
        return sums(y, model(x, training=False))[1:]

    def step_of(replica_fn: Callable) -> Callable:
        @tf.function(reduce_retracing=True)
        def step(x: Any, y: Any, batch: Any) -> list[Any]:
            totals = strategy.run(replica_fn, args=(x, y, batch))
            return [strategy.reduce("SUM", total, axis=None) for total in totals]
        return step

    train_step, score_step = step_of(train_replica), step_of(score_replica)
    rng = np.random.default_rng(settings.seed)
    history: dict[str, list[float]] = {"loss": [], "accuracy": [], "val_loss": [],
                                       "val_accuracy": []}
    best: tuple[float, list[np.ndarray]] | None = None
    waited = 0
    for epoch in range(1, epochs + 1):
        where = f"training epoch {epoch} of {epochs}"
        loss, accuracy = _run(strategy, train_step, x_train, y_train,
                              rng.permutation(len(y_train)), settings.batch_size, watchdog,
                              where)
        val_loss, val_accuracy = _run(strategy, score_step, x_val, y_val,
                                      np.arange(len(y_val)), settings.batch_size, watchdog,
                                      where)
        for key, value in zip(history, (loss, accuracy, val_loss, val_accuracy)):
            history[key].append(value)
        if replicas.is_chief and sys.stderr.isatty():
            print(f"epoch {epoch}/{epochs}: loss {loss:.4f} accuracy {accuracy:.4f} "
                  f"val_loss {val_loss:.4f} val_accuracy {val_accuracy:.4f}", file=sys.stderr)
        if settings.patience:
            if best is None or val_loss < best[0]:
                best, waited = (val_loss, model.get_weights()), 0
            elif (waited := waited + 1) >= settings.patience:
                break
    if watchdog:
        watchdog.rest()
    if best is not None:
        model.set_weights(best[1])
    return history


def _run(strategy: Any, step: Callable, x: np.ndarray, y: np.ndarray, order: np.ndarray,
         batch_size: int, watchdog: Watchdog | None, where: str) -> tuple[float, float]:
    """Every global batch of `order` through `step`, each split across the replicas;
    the mean loss and accuracy over the samples."""
    import tensorflow as tf

    replicas = strategy.num_replicas_in_sync
    loss_sum = correct = 0.0
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        x_parts, y_parts = np.array_split(x[rows], replicas), np.array_split(y[rows], replicas)
        x_in = strategy.experimental_distribute_values_from_function(
            lambda context: tf.constant(x_parts[context.replica_id_in_sync_group]))
        y_in = strategy.experimental_distribute_values_from_function(
            lambda context: tf.constant(y_parts[context.replica_id_in_sync_group]))
        if watchdog:
            watchdog.beat(where)
        try:
            batch_loss, batch_correct = (float(t) for t in step(x_in, y_in,
                                                                tf.constant(len(rows))))
        except LOST_PEER_ERRORS(tf) as exc:
            raise ZooError(f"lost the other workers while {where}: one stopped answering "
                           f"({type(exc).__name__})") from None
        loss_sum, correct = loss_sum + batch_loss, correct + batch_correct
    return loss_sum / len(order), correct / len(order)
