"""Training settings with their defaults, in one place.

The CLI shows these as its choices and defaults, so this module imports nothing
heavy (no NumPy, no TensorFlow): `zoo --help` reads it without paying for them.
"""

from dataclasses import dataclass

from zoo.errors import ZooError


def check_count(value: object, option: str) -> int:
    """A whole number of at least 1 (epochs, batch size, patience)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ZooError(f"{option} must be a whole number of at least 1, not {value!r}")
    return value


def check_rate(value: object, option: str) -> float:
    """A learning rate: a finite number above 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not 0 < value < float("inf"):
        raise ZooError(f"{option} must be a number above 0, not {value!r}")
    return float(value)


@dataclass(frozen=True)
class Phase2:
    unfreeze_from: str
    learning_rate: float = 1e-5
    epochs: int = 5

    def __post_init__(self) -> None:
        check_count(self.epochs, "--phase2-epochs")
        check_rate(self.learning_rate, "--phase2-lr")


# How fine-tuning spreads over devices and hosts (zoo.train.distribute): in this process
# only, over this machine's devices, or over TF_CONFIG's workers; both of the latter in the
# zoo's own loop on tf.distribute (Keras' fit fails under both here).
STRATEGIES = ("none", "mirrored", "multi-worker")
WORKER_TIMEOUT = 300.0  # seconds a worker waits on the others before it gives up


@dataclass(frozen=True)
class Distribution:
    strategy: str = "none"
    devices: int | None = None  # mirrored: this many GPUs, or logical CPUs if there are none
    worker_timeout: float = WORKER_TIMEOUT
    # multi-worker: the user accepts that TensorFlow's worker server listens on every
    # interface, whatever host TF_CONFIG names (see zoo.train.cluster)
    listen_all_interfaces: bool = False

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ZooError(f"unknown strategy {self.strategy!r}: one of {', '.join(STRATEGIES)}")
        if self.devices is not None and self.strategy != "mirrored":
            raise ZooError("--devices needs --strategy mirrored (a multi-worker run uses "
                           "every GPU of each worker, or its CPU)")
        if self.listen_all_interfaces and self.strategy != "multi-worker":
            raise ZooError("--listen-all-interfaces is for --strategy multi-worker, the only "
                           "strategy that starts a worker server")


@dataclass(frozen=True)
class FitSettings:
    epochs: int = 50
    batch_size: int = 32  # Keras' own default for fit
    learning_rate: float = 1e-2
    validation_split: float = 0.2
    seed: int = 0
    patience: int | None = None
    phase2: Phase2 | None = None
    feature_cache: bool = True
    distribution: Distribution = Distribution()

    def __post_init__(self) -> None:
        """The CLI's click ranges, for every caller (the Python API too)."""
        check_count(self.epochs, "--epochs")
        check_count(self.batch_size, "--batch-size")
        check_rate(self.learning_rate, "--lr")
        if self.patience is not None:
            check_count(self.patience, "--patience")
        split = self.validation_split
        if isinstance(split, bool) or not isinstance(split, (int, float)) or not 0 < split < 1:
            raise ZooError(f"--validation-split must be between 0 and 1, not {split!r}")


# The zoo's own base networks (zoo.train.recipes) and the epochs each trains for by default.
RECIPE_EPOCHS = {"iris": 150, "cnn": 8}
RECIPE_LICENSE = "Apache-2.0"

# Transfer vs scratch: fewer epochs at a lower rate, since scratch trains everything.
COMPARE_SETTINGS = FitSettings(epochs=20, learning_rate=1e-3)


# `zoo rank`'s scores, the default first (the one that agreed best with fine-tuned
# accuracy in bench/rank_agreement.py); higher is better for each.
RANK_METRICS: dict[str, str] = {
    "logme": "LogME evidence per row on standardised features (PCA to at most "
             "min(rows/4, 256) dims when wider); higher is better, unbounded",
    "linear": "cross-validated accuracy of a logistic-regression probe on "
              "standardised features (0..1)",
    "knn": "cross-validated accuracy of a k-nearest-neighbour probe (k <= 5, "
           "euclidean on standardised features) (0..1)",
}
