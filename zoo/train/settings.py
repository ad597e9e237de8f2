"""Training and data settings with their defaults, in one place.

The CLI shows these as its choices and defaults, so this module imports nothing
heavy (no NumPy, no TensorFlow): `zoo --help` reads it without paying for them.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Phase2:
    unfreeze_from: str
    learning_rate: float = 1e-5
    epochs: int = 5


# How fine-tuning spreads over devices and hosts (zoo.train.distribute): in this process
# only, on this machine's devices through Keras' fit, or over TF_CONFIG's workers with the
# zoo's own loop (fit is broken under MultiWorkerMirroredStrategy: keras-team/keras#20585).
STRATEGIES = ("none", "mirrored", "multi-worker")
WORKER_TIMEOUT = 300.0  # seconds a worker waits on the others before it gives up


@dataclass(frozen=True)
class Distribution:
    strategy: str = "none"
    devices: int | None = None  # mirrored: this many GPUs, or logical CPUs if there are none
    worker_timeout: float = WORKER_TIMEOUT


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


# Transfer vs scratch: fewer epochs at a lower rate, since scratch trains everything.
COMPARE_SETTINGS = FitSettings(epochs=20, learning_rate=1e-3)

# Built-in data sets (loaders in zoo.train.datasets) and the parts of a fixed split.
BUILTIN_DATASETS = ("iris", "iris4", "digits", "mnist5k")
SPLITS = ("all", "train", "test")
