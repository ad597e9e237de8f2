"""The conformance sweep's registry and harness: every `keras.applications`
constructor, as a user's own classifier, through the zoo (see test_conformance.py).

Like timm's `tests/test_models.py`, the tests are parametrized over one list, so an
architecture is covered by adding a line here. `$ZOO_CONFORMANCE` picks the tier:

- unset (`make test`, CI): the `fast` architectures (one per family), pack → publish
  → every cut point rebuilt with one training step;
- `fast`: the same architectures the whole way (pull, finetune, ONNX, TFLite);
- `all` (`make conformance`): every architecture the whole way.

Each test writes its measured row (JSON) into `results_dir()`, and
`bench/conformance_table.py` turns the rows into a Markdown table.
"""

import json
import os
import platform
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent.parent / "bench" / "results" / "conformance"
CLASSES = 10  # the user's own classifier
HEAD_CLASSES = 3  # the consumer's new head
HEAD = f"gap,dense:{HEAD_CLASSES}:softmax"
VECTOR_HEAD = f"dense:{HEAD_CLASSES}:softmax"  # a cut point after global pooling
SAMPLES = 20  # images in the fine-tuning NPZ
STEP_BATCH = 2  # images in the one training step of each cut
# The BatchNorm statistics of the user's classifier: the mean of each layer's batch
# statistics over 8 training-mode passes of 64 random images (precise BN). One pass of 8
# images left deep random networks ill-conditioned (EfficientNetV2B1/B2's float32 result
# 1.0 off float64); one pass of 32 still did for EfficientNetB4, B7 and V2M: their last
# stages run at 1x1, so each channel's statistics came from 32 values, and the sampling
# error compounds block after block (on held-out images B4's last BatchNorm put out std 86
# instead of ~1, and a fresh head saturated). With 8 x 64: std 0.31, float32 error 9e-6.
CALIBRATION_BATCHES = 8
CALIBRATION_BATCH = 64
# A backbone without BatchNorm (VGG, ConvNeXt) is scaled per convolution instead, over
# every pixel of the first 32 of those images.
UNIT_VARIANCE_IMAGES = 32


@dataclass(frozen=True)
class Architecture:
    """A `keras.applications` constructor at the smallest input it takes without its
    top: 32x32 (Keras' `obtain_input_shape` minimum) unless it says otherwise."""

    name: str
    family: str
    size: int = 32
    fast: bool = False  # one per family: in `make test` (CI)


ARCHITECTURES = (
    Architecture("ConvNeXtTiny", "ConvNeXt", fast=True),
    Architecture("ConvNeXtSmall", "ConvNeXt"),
    Architecture("ConvNeXtBase", "ConvNeXt"),
    Architecture("ConvNeXtLarge", "ConvNeXt"),
    Architecture("ConvNeXtXLarge", "ConvNeXt"),
    Architecture("DenseNet121", "DenseNet", fast=True),
    Architecture("DenseNet169", "DenseNet"),
    Architecture("DenseNet201", "DenseNet"),
    Architecture("EfficientNetB0", "EfficientNet", fast=True),
    *(Architecture(f"EfficientNetB{i}", "EfficientNet") for i in range(1, 8)),
    Architecture("EfficientNetV2B0", "EfficientNetV2", fast=True),
    *(Architecture(f"EfficientNetV2{v}", "EfficientNetV2") for v in ("B1", "B2", "B3", "S", "M",
                                                                     "L")),
    Architecture("InceptionV3", "Inception", size=75, fast=True),  # valid-padded stem
    Architecture("InceptionResNetV2", "InceptionResNet", size=75, fast=True),
    Architecture("MobileNet", "MobileNet", fast=True),
    Architecture("MobileNetV2", "MobileNetV2", fast=True),
    Architecture("MobileNetV3Small", "MobileNetV3", fast=True),
    Architecture("MobileNetV3Large", "MobileNetV3"),
    # NASNet: channels_last only, not on the torch backend, a static input shape for
    # ImageNet weights, its fixed default size (224 / 331) only with its top; without
    # it, 32x32 at least (reduction cells crop odd sizes themselves)
    Architecture("NASNetMobile", "NASNet", fast=True),
    Architecture("NASNetLarge", "NASNet"),
    Architecture("ResNet50", "ResNet", fast=True),
    Architecture("ResNet101", "ResNet"),
    Architecture("ResNet152", "ResNet"),
    Architecture("ResNet50V2", "ResNetV2", fast=True),
    Architecture("ResNet101V2", "ResNetV2"),
    Architecture("ResNet152V2", "ResNetV2"),
    Architecture("VGG16", "VGG", fast=True),
    Architecture("VGG19", "VGG"),
    Architecture("Xception", "Xception", size=71, fast=True),  # Keras' minimum for it
)
REGISTRY = {a.name: a for a in ARCHITECTURES}

# Exports the zoo refuses on purpose, each with the exact one-line refusal the test
# asserts: (architecture, format) -> line. None today.
REFUSED_EXPORTS: dict[tuple[str, str], str] = {}

# Known converter failures being fixed (xfail, not strict): (family, format) -> reason.
KNOWN_EXPORT_FAILURES: dict[tuple[str, str], str] = {}

TIERS = ("ci", "fast", "all")


def tier() -> str:
    """`$ZOO_CONFORMANCE`: unset is the CI tier; `fast` or `all` go the whole way."""
    chosen = os.environ.get("ZOO_CONFORMANCE", "").strip().lower() or "ci"
    if chosen not in TIERS:
        raise ValueError(f"ZOO_CONFORMANCE={chosen!r}: expected fast or all (or unset)")
    return chosen


def selected(arch: Architecture) -> bool:
    return arch.fast or tier() == "all"


def whole_way() -> bool:
    """Whether this tier takes the deepest cut through pull, finetune and the exports
    (CI stops after the cuts: the exports alone took ~22 of the fast set's 36 minutes)."""
    return tier() != "ci"


def results_dir() -> Path:
    """Where the rows go: $ZOO_CONFORMANCE_RESULTS, else bench/results/conformance/ for
    the fast and full sweeps; the CI tier's partial rows go to a temporary folder, so
    `make test` leaves the tracked table as it was."""
    if given := os.environ.get("ZOO_CONFORMANCE_RESULTS"):
        return Path(given)
    return RESULTS if whole_way() else Path(tempfile.gettempdir()) / "zoo-conformance-ci"


def one_line(exc: BaseException) -> str:
    """An exception as the one line a report can quote (the zoo's own `zoo: error:`
    line when `ok()` failed on a refusal)."""
    text = str(exc).strip()
    for line in text.splitlines():
        if "zoo: error:" in line:
            return line[line.index("zoo: error:"):].strip()[:600]
    first = text.splitlines()[0] if text else ""
    return f"{type(exc).__name__}: {first}"[:600]


@dataclass
class CutResult:
    name: str
    kind: str | None
    reduction: int | None
    channels: int | None
    ok: bool = False
    loss: float | None = None
    error: str | None = None


@dataclass
class Row:
    """One architecture's measured row: what `bench/conformance_table.py` reads."""

    architecture: str
    family: str
    size: int
    tier: str = "ci"
    params: int | None = None
    pack: bool = False
    cuts: list[CutResult] = field(default_factory=list)
    deepest_cut: str | None = None
    pull: bool = False
    finetune: bool = False
    onnx_max_abs_diff: float | None = None
    tflite_max_abs_diff: float | None = None
    output_spread: float | None = None  # std of the tuned model's outputs on the parity rows
    keras_float32_error: float | None = None  # Keras float32 vs the same net in float64
    tolerance: float | None = None  # what the exports were held to (--tolerance)
    calibration: str | None = None  # the classifier's statistics: BN 8x64 (passes x images), LSUV 32
    errors: dict[str, str] = field(default_factory=dict)
    expected_failures: dict[str, str] = field(default_factory=dict)
    refusals: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    machine: str = field(default_factory=lambda: (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"))

    def write(self, directory: Path | None = None) -> Path:
        directory = directory or results_dir()
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{self.architecture}.json"
        path.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")
        return path


class StepFailed(Exception):
    """A required step failed; its one line is in the row already."""


class Sweep:
    """Runs the steps of one architecture, timing each and recording its failure as
    one line; a failed required step stops the rest (StepFailed), an optional one
    does not."""

    def __init__(self, row: Row) -> None:
        self.row = row
        self.failures: list[str] = []

    @contextmanager
    def step(self, name: str, required: bool = True) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        except Exception as exc:
            self.row.errors[name] = one_line(exc)
            self.failures.append(f"{self.row.architecture} {name}: {one_line(exc)}")
            if required:
                raise StepFailed(name) from exc
        finally:
            self.row.seconds[name] = round(
                self.row.seconds.get(name, 0.0) + time.perf_counter() - started, 2)


def user_classifier(arch: Architecture, path: Path) -> tuple[int, str]:
    """What a user saves as their own model: the backbone without its top at the
    architecture's smallest size, average pooling and a 10-way softmax, random
    weights.

    Fresh BatchNorm statistics (mean 0, variance 1) let a random backbone's deep
    features shrink to a near-constant, which makes every head put out the same
    probabilities and every export "match". So the statistics are set here from
    training-mode passes over random images, as a trained network's would be:
    activations keep their scale at every depth, the tuned model's outputs move with
    its input, and the parity figures mean something. Returns the parameter count and
    how the statistics were set (the row's `calibration`)."""
    import keras

    keras.utils.set_random_seed(0)
    backbone = getattr(keras.applications, arch.name)(
        include_top=False, weights=None, input_shape=(arch.size, arch.size, 3))
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool_user")(backbone.output)
    outputs = keras.layers.Dense(CLASSES, activation="softmax", name="predictions_user")(x)
    model = keras.Model(backbone.input, outputs, name=f"{arch.name.lower()}_classifier")
    calibration = images(CALIBRATION_BATCHES * CALIBRATION_BATCH, arch.size, seed=5)
    norms = [layer for layer in model.layers
             if isinstance(layer, keras.layers.BatchNormalization)]
    if norms:
        precise_batch_norm(model, norms, np.split(calibration, CALIBRATION_BATCHES))
        calibration_used = f"BN {CALIBRATION_BATCHES}x{CALIBRATION_BATCH}"
    else:
        unit_variance_convs(model, calibration[:UNIT_VARIANCE_IMAGES])
        calibration_used = f"LSUV {UNIT_VARIANCE_IMAGES}"
    model.save(path)
    return model.count_params(), calibration_used


def precise_batch_norm(model, norms: list, batches: list[np.ndarray]) -> None:
    """Set each BatchNormalization's moving statistics to the mean of its batch
    statistics over `batches`, one training-mode pass each: momentum i/(i+1) on pass i
    makes Keras' moving average an exact running mean (precise BN, Wu & Johnson 2021).
    The layers' own momentum comes back afterwards."""
    momentum = {id(layer): layer.momentum for layer in norms}
    for i, batch in enumerate(batches):
        for layer in norms:
            layer.momentum = i / (i + 1)
        model(batch, training=True)
    for layer in norms:
        layer.momentum = momentum[id(layer)]


def unit_variance_convs(model, x: np.ndarray) -> None:
    """For a backbone with no normalization (VGG), what the BatchNorm pass does for the
    others: scale each convolution, in order, so its output on `x` has unit standard
    deviation (LSUV's rule). With Glorot weights a random VGG19's deepest features
    shrink to ~1e-2 and vary 8% across inputs, so every head's outputs are constant.
    ReLU is positively homogeneous, so dividing kernel and bias by a positive number
    divides the layer's output by it exactly."""
    import keras

    for layer in model.layers:
        if not isinstance(layer, keras.layers.Conv2D):
            continue
        probe = keras.Model(model.input, layer.output)
        scale = float(np.std(np.asarray(probe(x, training=False))))
        if scale > 0:
            layer.set_weights([w / scale for w in layer.get_weights()])


def images(count: int, size: int, seed: int = 0) -> np.ndarray:
    """Raw pixels, 0-255, as users feed them."""
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 255, size=(count, size, size, 3)).astype(np.float32)


def write_npz(path: Path, size: int, count: int = SAMPLES, seed: int = 1) -> Path:
    """Images 0-255 (`x`), labels cycling over the head's classes (`y`), `label_names`."""
    labels = np.arange(count) % HEAD_CLASSES
    np.savez_compressed(path, x=images(count, size, seed=seed), y=labels.astype(np.int64),
                        label_names=np.array([f"class{i}" for i in range(HEAD_CLASSES)]))
    return path


def training_step(model, size: int) -> float:
    """One optimizer step on a tiny random batch; the loss it reports. Eager: tracing
    a whole backbone for a single step costs more than running it once."""
    import keras

    model.compile(optimizer=keras.optimizers.SGD(1e-2), loss="sparse_categorical_crossentropy",
                  run_eagerly=True)
    x = images(STEP_BATCH, size, seed=2)
    y = np.arange(STEP_BATCH) % HEAD_CLASSES
    return float(np.asarray(model.train_on_batch(x, y)).reshape(-1)[0])


def float32_error(model, x: np.ndarray) -> tuple[np.ndarray, float]:
    """Keras' own float32 outputs on `x`, and their max abs difference from the same
    network (same weights) run in float64: the floor under any export's parity figure.
    On these random-weight backbones it is ~1e-4 for ResNet50 and InceptionV3, as large
    as the zoo's default tolerance, so the exports are held to a few times it."""
    import json

    import keras

    outputs = np.asarray(model(x, training=False))
    config = json.loads(json.dumps(model.get_config()).replace('"float32"', '"float64"'))
    twin = keras.Model.from_config(config)
    twin.set_weights([w.astype(np.float64) for w in model.get_weights()])
    exact = np.asarray(twin(x.astype(np.float64), training=False))
    return outputs, float(np.max(np.abs(outputs - exact)))


def export_tolerance(floor: float) -> float:
    """The zoo's default 1e-4, or five times Keras' own float32 error if that is more:
    an export and Keras are each about `floor` off the exact result."""
    return float(f"{max(1e-4, 5 * floor):.1e}")
