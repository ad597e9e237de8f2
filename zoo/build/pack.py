"""Turning a Keras model into a sealed package with its card."""

from pathlib import Path
from typing import Any

from zoo.build import preprocessing
from zoo.build.settings import APPLICATION_AUTHORS, PackRequest
from zoo.cards.card import Card, Preprocessing, TrainingData, new_card
from zoo.cards.layer_map import build_layer_map
from zoo.cards.license_policy import check_card_license
from zoo.errors import ZooError
from zoo.package import load_keras_file, save_model, seal, staged_package


def default_preprocessing(model: Any, scaling: str = "none",
                          label_names: list[str] | None = None,
                          feature_names: list[str] | None = None) -> Preprocessing:
    spec = model.inputs[0]
    return Preprocessing(input_shape=[None if d is None else int(d) for d in spec.shape[1:]],
                         dtype=str(spec.dtype), scaling=scaling,
                         label_names=list(label_names) if label_names else None,
                         feature_names=list(feature_names) if feature_names else None)


def raw_pixel_scaling(mode: str) -> str:
    """How the card describes preprocessing that the model does itself."""
    if mode == "none":
        return "none: the model takes its inputs as they are"
    return f"{preprocessing.describe(mode)}; done inside the model, feed raw 0-255 pixels"


def pack_model(model: Any, out: Path, *, force: bool = False,
               stages: dict[str, str] | None = None, cut_names: tuple[str, ...] | None = None,
               **card_fields: Any) -> Card:
    """Write `model` and its card as a package at `out` (atomically).

    The layer map is built from the model as written and read back, never from the
    graph in memory: saving can add layers (a replayed graph's `keras.ops` calls
    become op layers such as ConvertToTensor), and the card must describe the file."""
    card_fields.setdefault("preprocessing", default_preprocessing(model))
    check_card_license(new_card(layer_map=build_layer_map(model, stages, cut_names),
                                **card_fields))  # refuse a bad license before saving
    with staged_package(out, force=force) as staging:
        saved = load_keras_file(save_model(model, staging))
        card = new_card(layer_map=build_layer_map(saved, stages, cut_names), **card_fields)
        seal(staging, card)
    return card


def with_raw_input(model: Any, mode: str, size: tuple[int, ...] | None) -> Any:
    """The model behind a new input of `size` that applies preprocessing `mode`."""
    import keras

    from zoo.build.rebuild import replay

    preprocessing.check_mode(mode)
    if mode == "none" and size is None:
        return model
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ZooError("--preprocess and --input-size need a model with one input and output")
    shape = tuple(model.inputs[0].shape[1:])
    if size is not None:
        if len(shape) != 3:
            raise ZooError(f"--input-size needs an image model (H, W, C input), not {shape}")
        fixed = [d for d in shape[:2] if d is not None]
        if fixed and tuple(size[:2]) != shape[:2]:
            raise ZooError(f"the model's input is fixed at {shape[0]}x{shape[1]}; "
                           f"--input-size {size[0]}x{size[1]} does not match")
        shape = (*size[:2], size[2] if len(size) == 3 else shape[2])
    pixels = keras.Input(shape, name="pixels")
    outputs = replay(model, model.outputs[0], preprocessing.apply(pixels, mode), training=None)
    return keras.Model(pixels, outputs, name=model.name)


def read_labels(spec: str | None) -> list[str] | None:
    """--labels: a file with one label per line, or a comma-separated list."""
    if not spec:
        return None
    path = Path(spec)
    if path.is_file():
        labels = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
        return [label for label in labels if label]
    return [label.strip() for label in spec.split(",") if label.strip()]


def pack_file(model_path: Path, out: Path, *, unsafe: bool = False, preprocess: str = "none",
              input_size: tuple[int, ...] | None = None, label_names: list[str] | None = None,
              force: bool = False, **card_fields: Any) -> Card:
    """Package an existing .keras file (Sequential or Functional, nested models too)."""
    model = with_raw_input(load_keras_file(Path(model_path), unsafe=unsafe), preprocess,
                           input_size)
    card_fields.setdefault("training_data", TrainingData(name="unknown"))
    pre = default_preprocessing(model, raw_pixel_scaling(preprocess), label_names)
    return pack_model(model, out, force=force, preprocessing=pre, **card_fields)


def pack_application(spec: str, out: Path, *, weights: str = "none",
                     input_size: tuple[int, ...] | None = None, force: bool = False,
                     **card_fields: Any) -> Card:
    """Package a Keras Applications architecture (no classifier top) taking raw pixels."""
    from zoo.build import applications

    arch = applications.architecture(spec)
    size = input_size or (arch.input_size, arch.input_size)
    shape = (*size[:2], size[2] if len(size) == 3 else 3)
    model = applications.build(arch, weights, shape)
    random = weights == "none"
    card_fields.setdefault("name", arch.name.lower())
    card_fields.setdefault("license", arch.license if random else arch.weights_license)
    card_fields.setdefault("description", (
        f"Keras Applications {arch.name} without its classifier top, "
        + ("with RANDOM weights (--weights none): for mechanics, not accuracy."
           if random else f"with weights from {weights}.")))
    card_fields.setdefault("intended_use", "Image feature extractor for transfer learning.")
    card_fields.setdefault("training_data", TrainingData(
        name="none (random weights)" if random else "imagenet" if weights == "imagenet"
        else f"weights file {Path(weights).name}"))
    card_fields.setdefault("tags", ["image", "cnn", f"keras-applications-{arch.name.lower()}"])
    pre = default_preprocessing(model, raw_pixel_scaling(arch.preprocess))
    return pack_model(model, out, force=force, preprocessing=pre, cut_names=arch.stages,
                      **card_fields)


def pack(request: PackRequest, out: Path, *, force: bool = False) -> Card:
    """Package what `zoo pack` was asked for: an Applications architecture or a model file.

    The rules of the request live here: keras:NAME brings its own preprocessing
    and authors; a model file needs a name and a license of its own."""
    from zoo.build.rebuild import parse_size

    size = parse_size(request.input_size) if request.input_size else None
    fields: dict[str, Any] = {"version": request.version, "authors": list(request.authors)}
    for key in ("name", "license", "license_name", "license_link"):
        if getattr(request, key):
            fields[key] = getattr(request, key)
    if request.is_application:
        if request.preprocess != "none":
            raise ZooError("keras:NAME brings its own preprocessing; --preprocess is for files")
        fields["authors"] = fields["authors"] or list(APPLICATION_AUTHORS)
        return pack_application(request.model, out, weights=request.weights, input_size=size,
                                force=force, **fields)
    if not request.name or not request.license:
        raise ZooError("packing a model file needs --name and --license "
                       "(e.g. --name my-net --license MIT)")
    return pack_file(Path(request.model), out, unsafe=request.unsafe,
                     preprocess=request.preprocess, input_size=size,
                     label_names=read_labels(request.labels), force=force,
                     intended_use=request.intended_use,
                     training_data=TrainingData(name=request.training_data), **fields)
