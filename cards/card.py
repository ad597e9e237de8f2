"""Reading, writing and validating `card.json` against the v1 JSON Schema.

Every read and every write validates, so a card on disk is always one the
schema accepts. A new card is assembled in one place, `CardData.card`
(`zoo.cards.card_data`).
"""

import json
import platform
from functools import cache
from importlib import metadata, resources
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema

from zoo.cards.records import ALWAYS, Record, json_name
from zoo.errors import CardError
from zoo.files import atomic_write_bytes

CARD_FILE = "card.json"
README_FILE = "README.md"
MODEL_FILE = "model.keras"
SIGNATURE_FILE = "model.sig"
# Files a hub repository may hold that the card cannot list: the card itself, the
# hub's LFS bookkeeping, and the signature, which covers the card.
UNLISTED_FILES = frozenset({CARD_FILE, ".gitattributes", SIGNATURE_FILE})
# A layer map of a thousand-layer network is well under 1 MiB; anything near this
# limit is an attack on memory or a mistake, refused before it is parsed.
MAX_CARD_BYTES = 8 * 1024 * 1024


@dataclass(kw_only=True)
class LayerEntry(Record):
    """One layer of the layer map."""

    index: int
    name: str
    class_name: str = field(metadata=json_name("class"))
    output_shape: list[int | None] | None
    params: int
    trainable: bool
    stage: str  # input, base, adapter or head
    inbound: list[str] = field(default_factory=list)


@dataclass(kw_only=True)
class CutPoint(Record):
    """A recommended cut (timm's feature_info): channels and spatial reduction."""

    name: str
    index: int
    channels: int | None
    # a power of two for a feature map, None for a vector; absent reads as None
    reduction: int | None = field(default=None, metadata=ALWAYS)
    kind: str | None = None  # feature_map (N, H, W, C), vector (N, C), or tensor


@dataclass(kw_only=True)
class LayerMap(Record):
    layers: list[LayerEntry]
    cut_points: list[CutPoint]
    total_params: int
    trainable_params: int
    non_trainable_params: int

    def names(self) -> list[str]:
        return [layer.name for layer in self.layers]

    def stages(self) -> dict[str, str]:
        return {layer.name: layer.stage for layer in self.layers}


@dataclass(kw_only=True)
class TrainingData(Record):
    name: str
    source: str | None = None
    license: str | None = None
    samples: int | None = None
    sha256: str | None = None


@dataclass(kw_only=True)
class Metric(Record):
    value: float
    split: str
    dataset: str | None = None
    samples: int | None = None


@dataclass(kw_only=True)
class ConfusionMatrix(Record):
    labels: list[str]
    matrix: list[list[int]]
    dataset: str | None = None


@dataclass(kw_only=True)
class Preprocessing(Record):
    """What the model takes: shape without the batch, dtype, scaling, names."""

    input_shape: list[int | None]
    dtype: str
    scaling: str
    feature_names: list[str] | None = None
    label_names: list[str] | None = None


@dataclass(kw_only=True)
class FeatureCacheRecord(Record):
    """How phase 1's frozen-prefix features were had: from the cache (`hit`), or run
    now in onnxruntime or Keras (`runtime`; `reason` says why Keras ran instead)."""

    prefix: str  # the separator layer the frozen prefix ends at
    key: str  # the features' cache key: prefix graph and data
    graph: str | None = None  # the prefix's graph key: its layers, weights and base revision
    hit: bool
    runtime: str | None = None  # "onnxruntime" or "keras", when computed now
    graph_hit: bool | None = None  # the ONNX graph came from the cache
    check_samples: int | None = None
    max_abs_diff: float | None = None
    tolerance: float | None = None
    reason: str | None = None
    seconds: float | None = None


@dataclass(kw_only=True)
class DistributionRecord(Record):
    """Where a phase trained under tf.distribute: strategy, replicas and workers."""

    strategy: str  # "mirrored" or "multi-worker"
    replicas: int  # in sync, over every worker
    workers: int
    global_batch: int
    local_devices: list[str]
    worker_timeout: float | None = field(default=None, metadata=ALWAYS)


@dataclass(kw_only=True)
class FinetunePhase(Record):
    """One phase of a fine-tune: 1 trains what the package leaves trainable, 2 unfreezes
    from `unfreeze_from` on at a lower rate. The batch, split, seed and patience
    are phase 1's settings, and so the run's."""

    phase: int
    epochs_run: int
    trainable_params: int
    epochs: int
    batch_size: int | None = None
    learning_rate: float
    validation_split: float | None = None
    seed: int | None = None
    patience: int | None = None
    unfreeze_from: str | None = None
    feature_cache: FeatureCacheRecord | None = None
    distribution: DistributionRecord | None = field(default=None, metadata=ALWAYS)
    seconds: float | None = None

    def to_json(self) -> dict[str, Any]:
        """Phase 1 says whether the cache ran and the patience it had, null for none;
        phase 2 has neither (it trains the whole model, with phase 1's patience)."""
        out = super().to_json()
        if self.phase == 1:
            out.setdefault("patience", None)
            out.setdefault("feature_cache", None)
        return out


@dataclass(kw_only=True)
class FinetuneRun(Record):
    """One `zoo finetune` of a derived package: the data it saw and its phases."""

    data_sha256: str
    phases: list[FinetunePhase] = field(default_factory=list)


@dataclass(kw_only=True)
class Lineage(Record):
    """Where a derived package comes from and what was done to its base."""

    base_ref: str
    base_revision: str
    base_card_sha256: str
    base_license: str
    base_name: str | None = None
    base_signed_by: str | None = None  # the key that signed the base, when it was checked
    cut_layer: str | None = field(default=None, metadata=ALWAYS)
    frozen_layers: list[str] = field(default_factory=list, metadata=ALWAYS)
    batchnorm_policy: str | None = None
    head: str | None = field(default=None, metadata=ALWAYS)
    finetune: list[FinetuneRun] = field(default_factory=list)


@dataclass(kw_only=True)
class ImportSource(Record):
    """Where an imported backbone came from (`zoo import`), pinned and hashed."""

    source: str  # hf://OWNER/NAME, or the local folder it was read from
    revision: str | None  # the commit sha, for a hub source
    format: str  # "keras-hub preset" or "keras folder"
    files: dict[str, str]  # every source file read: path -> sha256
    license_from: str  # "source" (its README front matter) or "importer" (--license)
    class_name: str | None = None  # the registered class, e.g. keras_hub>ResNetBackbone
    keras_version: str | None = None
    keras_hub_version: str | None = None


@dataclass(kw_only=True)
class ExportRecord(Record):
    """One export: its file, parity with Keras and, for quantized ones, speed."""

    path: str
    max_abs_diff: float
    tolerance: float
    parity_inputs: str | None = None
    size_bytes: int | None = None
    opset: int | None = None
    top1_agreement: float | None = None
    agreement_samples: int | None = None
    accuracy: float | None = None  # on the labelled --data rows, next to Keras' own
    keras_accuracy: float | None = None
    quantize: str | None = None
    latency_ms: dict[str, float] | None = None
    float_latency_ms: dict[str, float] | None = None
    float_size_bytes: int | None = None
    faster_than_float: dict[str, bool] | None = None
    calibration_method: str | None = None  # static int8 ONNX
    calibration_samples: int | None = None
    float_nodes: list[str] | None = None  # graph nodes kept in float, most sensitive first
    int8_steps: list[str] | None = None  # the int8 recipe's steps that ran, in order
    held_out_agreement: float | None = None  # on calibration rows held out from calibrating
    held_out_samples: int | None = None


@dataclass(kw_only=True)
class Card(Record):
    """The machine card. `files` holds every other file's sha256, filled in when sealed."""

    card_version: int = field(default=1, metadata=ALWAYS)
    name: str
    version: str
    license: str  # SPDX expression, or 'other' with license_name and license_link
    license_name: str | None = None
    license_link: str | None = None
    authors: list[str]
    intended_use: str
    description: str | None = None
    tags: list[str] = field(default_factory=list)
    signed_by: str | None = None  # key id ("sha256:…") of the signature in model.sig
    training_data: TrainingData
    metrics: dict[str, Metric] = field(default_factory=dict, metadata=ALWAYS)
    confusion_matrix: ConfusionMatrix | None = None
    preprocessing: Preprocessing
    layer_map: LayerMap
    lineage: Lineage | None = None
    imported_from: ImportSource | None = None
    history: dict[str, list[float]] | None = None
    exports: dict[str, ExportRecord] = field(default_factory=dict)
    framework: dict[str, str] = field(default_factory=dict, metadata=ALWAYS)
    files: dict[str, str] = field(default_factory=dict, metadata=ALWAYS)

    @property
    def model_sha256(self) -> str:
        return self.files[MODEL_FILE]



@cache
def _validator() -> jsonschema.Draft202012Validator:
    text = resources.files("zoo.cards").joinpath("schema/card.v1.json").read_text()
    schema = json.loads(text)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def validate_card(data: dict[str, Any], where: str = "card") -> None:
    """Raise CardError naming the first schema violation of a card's JSON, if any."""
    try:
        errors = sorted(_validator().iter_errors(data), key=lambda e: list(e.absolute_path))
    except RecursionError:  # JSON shallow enough to parse, too deep to check
        raise CardError(f"{where} nests too deeply to be a card") from None
    if errors:
        error = errors[0]
        path = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        raise CardError(f"{where} is not a valid card at {path}: {error.message}")


def card_from_json(data: Any, where: str = "card") -> Card:
    """The one way JSON becomes a Card: validated against the schema, then typed."""
    validate_card(data, where)
    return Card.from_json(data)


def card_from_bytes(data: bytes, where: str) -> Card:
    """A card from the bytes of a `card.json` (a file or a git blob), checked: JSON, then
    the schema."""
    try:
        parsed = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CardError(f"{where} cannot be read as JSON: {exc}") from exc
    except RecursionError:  # e.g. [[[[…]]]] 100,000 deep: no card nests like that
        raise CardError(f"{where} nests too deeply to be a card") from None
    return card_from_json(parsed, where=where)


def read_card(package_dir: Path) -> Card:
    path = Path(package_dir) / CARD_FILE
    if not path.is_file():
        raise CardError(f"{package_dir} is not a package: it has no {CARD_FILE}")
    if path.stat().st_size > MAX_CARD_BYTES:
        raise CardError(f"{path} is {path.stat().st_size:,} bytes; a card holds at most "
                        f"{MAX_CARD_BYTES:,} (large data belongs in files it lists)")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CardError(f"{path} cannot be read as JSON: {exc}") from exc
    return card_from_bytes(data, str(path))


def card_bytes(card: Card) -> bytes:
    """The one way a Card becomes JSON on disk; validated, so what is written reads back."""
    data = card.to_json()
    validate_card(data)
    try:
        text = json.dumps(data, indent=2, sort_keys=False, allow_nan=False)
    except ValueError as exc:
        raise CardError(f"the card holds a value JSON cannot carry (NaN or infinity): {exc}") \
            from exc
    data = (text + "\n").encode("utf-8")
    if len(data) > MAX_CARD_BYTES:
        raise CardError(f"the card would be {len(data):,} bytes; a card holds at most "
                        f"{MAX_CARD_BYTES:,} (large data belongs in files it lists)")
    return data


def write_card(package_dir: Path, card: Card) -> Path:
    """Validate and write the card atomically (a crash leaves the old one)."""
    return atomic_write_bytes(Path(package_dir) / CARD_FILE, card_bytes(card))


DISTRIBUTION = "backbone-zoo"  # the installed distribution (pyproject's name)


def framework_versions() -> dict[str, str]:
    """Versions of what built the model; imports only what is already loaded. The
    zoo's own comes from its installed metadata: the card layer sits below the
    package root (the public API) and does not import it."""
    import keras

    versions = {"python": platform.python_version(), "keras": keras.__version__,
                "backend": keras.backend.backend(),
                "backbone_zoo": metadata.version(DISTRIBUTION)}
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        versions["tensorflow"] = tf.__version__
    return versions

