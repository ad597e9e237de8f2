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
TensorFlow forever (it even outlasts SIGTERM), so while a worker waits on the others
(joining, building the replicas, each step, exiting) a watchdog process ends it with
one line after `worker_timeout` seconds without progress.
"""

import atexit
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from zoo.cards.card import DistributionRecord
from zoo.errors import ZooError, first_line
from zoo.train.cluster import TF_CONFIG, Cluster, check_listening, read_cluster
from zoo.train.settings import Distribution, FitSettings

_STARTED_TOO_LATE = ("must be set up before TensorFlow runs anything in this process: run "
                     "it as its own `zoo finetune` command")


# The watchdog's own process: it reads "beat WHAT" and "rest" lines from its stdin; after
# TIMEOUT seconds armed without one, it writes the line and kills the worker (if it is
# still its parent); when the worker's end of the pipe closes (it exited), it exits too.
_WATCHER = r"""
import os, select, signal, sys
parent, timeout, line = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
armed, what = False, ""
while True:
    ready, _, _ = select.select([0], [], [], timeout if armed else None)
    if not ready:
        if os.getppid() == parent:
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
        # Its own session: Ctrl-C in the terminal stops the worker, and the watcher with it
        # (its pipe closes), rather than the watcher alone.
        self._watcher = subprocess.Popen(
            [sys.executable, "-c", _WATCHER, str(os.getpid()), str(timeout), line],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, start_new_session=True)

    def _send(self, message: str) -> None:
        assert self._watcher.stdin is not None
        try:
            self._watcher.stdin.write(f"{message}\n".encode())
            self._watcher.stdin.flush()
        except OSError:  # the watcher is gone (killed from outside): train unwatched
            pass

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
    worker_timeout: float | None = None
    doing: str = "starting"

    @property
    def is_chief(self) -> bool:
        return self.cluster is None or self.cluster.is_chief

    @property
    def workers(self) -> int:
        return self.cluster.workers if self.cluster else 1

    @property
    def count(self) -> int:
        """Replicas in sync, over every worker."""
        return int(self.strategy.num_replicas_in_sync)

    def record(self, global_batch: int) -> DistributionRecord:
        """What the lineage says of the run."""
        return DistributionRecord(strategy=self.name, replicas=self.count,
                                  workers=self.workers, global_batch=global_batch,
                                  local_devices=list(self.strategy.extended.worker_devices),
                                  worker_timeout=self.worker_timeout)

    def waiting(self, what: str) -> None:
        """From now on this worker may wait on the others, while `what`."""
        self.doing = what
        if self.watchdog:
            self.watchdog.beat(what)

    def fit(self, model: Any, data: tuple[np.ndarray, ...], epochs: int,
            learning_rate: float, settings: FitSettings) -> dict[str, list[float]]:
        """Train a replica of `model` under the strategy, then copy its weights back."""
        import tensorflow as tf

        if settings.batch_size < self.count:
            raise ZooError(f"--batch-size {settings.batch_size} is smaller than the "
                           f"{self.count} replicas: each needs a sample of every batch")
        self.waiting("building the model on every replica")
        try:
            with self.strategy.scope():
                replica = _replica(model)
                history = _train(self, replica, data, epochs, learning_rate, settings)
        except lost_peer_errors(tf) as exc:
            raise ZooError(f"lost the other workers while {self.doing}: one stopped "
                           f"answering ({type(exc).__name__})") from None
        finally:
            if self.watchdog:
                self.watchdog.rest()
        model.set_weights(replica.get_weights())
        return history


def start(distribution: Distribution) -> Replicas | None:
    """The strategy `distribution` names, started (None for 'none'); it must be the
    first thing TensorFlow does in this process."""
    if distribution.strategy == "none":
        return None
    if distribution.strategy == "mirrored":
        return Replicas("mirrored", _mirrored(distribution.devices))
    return _multi_worker(distribution)


def writes_package(distribution: Distribution) -> bool:
    """Whether this process writes the package: all but a multi-worker run's workers
    that are not the chief. Known without TensorFlow, so checked before joining."""
    if distribution.strategy != "multi-worker":
        return True
    cluster = joining(distribution)
    return cluster is None or cluster.is_chief


def joining(distribution: Distribution) -> Cluster | None:
    """The cluster TF_CONFIG names, checked, and refused unless the user accepted the
    worker server's listening on every interface (zoo.train.cluster)."""
    cluster = read_cluster(os.environ.get(TF_CONFIG))
    check_listening(cluster, distribution.listen_all_interfaces)
    return cluster


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


def _multi_worker(distribution: Distribution) -> Replicas:
    if "tensorflow" not in sys.modules and os.environ.get("TF_CPP_MIN_LOG_LEVEL") == "2" \
            and os.environ.get("ZOO_DEBUG", "") in ("", "0"):
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"  # a lost peer is our one line, not ten
    timeout = distribution.worker_timeout
    cluster = joining(distribution)  # checked before TensorFlow loads
    import tensorflow as tf

    who = cluster.describe() if cluster else "the only worker"
    watchdog = None
    if cluster and cluster.workers > 1:  # alone, there is no one to wait for
        watchdog = Watchdog(timeout, who)
        watchdog.beat("waiting for every worker to join")
        # TensorFlow waits for every worker again as this process exits.
        atexit.register(watchdog.beat, "finishing together")
    try:
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    except RuntimeError as exc:
        if "startup" in str(exc) or "initialized" in str(exc):
            raise ZooError(f"--strategy multi-worker {_STARTED_TOO_LATE}") from None
        raise ZooError(f"{who}: could not join the cluster: {first_line(exc, 300)}") from None
    except tf.errors.OpError as exc:
        raise ZooError(f"{who}: could not join the cluster: {first_line(exc, 300)}") from None
    if watchdog:
        watchdog.rest()
    return Replicas("multi-worker", strategy, cluster, watchdog, timeout)


def lost_peer_errors(tf: Any) -> tuple[type, ...]:
    """What a collective op raises when a peer is gone."""
    errors = tf.errors
    return (errors.UnavailableError, errors.AbortedError, errors.CancelledError,
            errors.DeadlineExceededError)


def _replica(model: Any) -> Any:
    """The same network built in the current scope: layers, weights, trainable flags."""
    import keras

    try:
        replica = keras.models.clone_model(model)
    except (TypeError, ValueError, NotImplementedError) as exc:
        raise ZooError(f"{model.name} cannot be rebuilt under a distribution strategy: "
                       f"{first_line(exc, 300)}") from None
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

    strategy = replicas.strategy
    x_train, x_val, y_train, y_val = data
    optimizer = keras.optimizers.Adam(learning_rate)
    optimizer.build(model.trainable_variables)  # now, in scope: not inside the first step
    per_sample = keras.losses.SparseCategoricalCrossentropy(reduction=None)

    def sums(x: Any, y: Any, training: bool) -> tuple[Any, Any, Any]:
        """This replica's summed loss and correct answers, and the regularization loss
        (which Keras adds to each batch's mean loss, in training and scoring alike)."""
        probabilities = model(x, training=training)
        loss_sum = tf.reduce_sum(per_sample(y, probabilities))
        correct = tf.cast(tf.equal(tf.cast(y, tf.int64), tf.argmax(probabilities, -1)),
                          tf.float32)
        penalty = tf.add_n(model.losses) if model.losses else tf.zeros((), loss_sum.dtype)
        return loss_sum, penalty, tf.reduce_sum(correct)

    def reported(loss_sum: Any, penalty: Any, y: Any) -> Any:
        """The loss as fit reports it, summed: each sample's plus the penalty."""
        return loss_sum + penalty * tf.cast(tf.shape(y)[0], loss_sum.dtype)

    def train_replica(x: Any, y: Any, batch: Any) -> tuple[Any, Any]:
        with tf.GradientTape() as tape:
            loss_sum, penalty, correct = sums(x, y, training=True)
            loss = loss_sum / tf.cast(batch, loss_sum.dtype)  # the global batch's mean
            loss += tf.nn.scale_regularization_loss(penalty)
        optimizer.apply(tape.gradient(loss, model.trainable_variables),
                        model.trainable_variables)
        return reported(loss_sum, penalty, y), correct

    def score_replica(x: Any, y: Any, batch: Any) -> tuple[Any, Any]:
        loss_sum, penalty, correct = sums(x, y, training=False)
        return reported(loss_sum, penalty, y), correct

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
        replicas.waiting(f"training epoch {epoch} of {epochs}")
        order = rng.permutation(len(y_train))
        loss, accuracy = _run(replicas, train_step, x_train, y_train,
                              _batches(order, settings.batch_size, replicas.count))
        val_loss, val_accuracy = _run(replicas, score_step, x_val, y_val,
                                      _batches(np.arange(len(y_val)), settings.batch_size))
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
    if best is not None:
        model.set_weights(best[1])
    return history


def _batches(order: np.ndarray, batch_size: int, least: int = 1) -> list[np.ndarray]:
    """`order` in global batches, as fit makes them; a last batch of fewer than `least`
    samples (one per replica, to train: BatchNorm on an empty slice is NaN) joins the one
    before it."""
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    if len(batches) > 1 and len(batches[-1]) < least:
        batches[-2:] = [np.concatenate(batches[-2:])]
    if not batches or len(batches[0]) < least:
        raise ZooError(f"{len(order)} training sample(s) cannot feed {least} replicas")
    return batches


def _run(replicas: Replicas, step: Callable, x: np.ndarray, y: np.ndarray,
         batches: list[np.ndarray]) -> tuple[float, float]:
    """Every global batch through `step`, each split across the replicas; the mean loss
    and accuracy over the samples."""
    import tensorflow as tf

    strategy, count = replicas.strategy, replicas.count
    loss_sum = correct = 0.0
    for rows in batches:
        x_parts, y_parts = np.array_split(x[rows], count), np.array_split(y[rows], count)
        x_in = strategy.experimental_distribute_values_from_function(
            lambda context: tf.constant(x_parts[context.replica_id_in_sync_group]))
        y_in = strategy.experimental_distribute_values_from_function(
            lambda context: tf.constant(y_parts[context.replica_id_in_sync_group]))
        replicas.waiting(replicas.doing)
        batch_loss, batch_correct = (float(t) for t in step(x_in, y_in,
                                                            tf.constant(len(rows))))
        loss_sum, correct = loss_sum + batch_loss, correct + batch_correct
    samples = sum(len(rows) for rows in batches)
    return loss_sum / samples, correct / samples
