"""Turning a Keras model into a sealed package with its card."""

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from zoo.build import preprocessing
from zoo.build.settings import APPLICATION_AUTHORS, PackRequest
from zoo.cards.card import Card, Preprocessing
from zoo.cards.card_data import CardData
from zoo.cards.layer_map import build_layer_map
from zoo.cards.license_policy import check_card_license
from zoo.errors import KERAS_ERRORS, ModelError, ZooError, keras_reason
from zoo.package import load_keras_file, save_model, seal, staged_package


def input_shape_of(model: Any) -> list[int | None]:
    """The model's input shape without the batch, as the card writes it."""
    return [None if d is None else int(d) for d in model.inputs[0].shape[1:]]


def default_preprocessing(model: Any, scaling: str = "none",
                          label_names: list[str] | None = None,
                          feature_names: list[str] | None = None) -> Preprocessing:
    return Preprocessing(input_shape=input_shape_of(model),
                         dtype=str(model.inputs[0].dtype), scaling=scaling,
                         label_names=list(label_names) if label_names else None,
                         feature_names=list(feature_names) if feature_names else None)


def raw_pixel_scaling(mode: str) -> str:
    """How the card describes preprocessing that the model does itself."""
    if mode == "none":
        return "none: the model takes its inputs as they are"
    return f"{preprocessing.describe(mode)}; done inside the model, feed raw 0-255 pixels"


def pack_model(model: Any, out: Path, card_data: CardData, *, force: bool = False,
               stages: dict[str, str] | None = None, cut_names: tuple[str, ...] | None = None,
               unsafe: bool = False) -> Card:
    """Write `model` and its card (what `card_data` says, and what is measured of the
    model) as a package at `out` (atomically).

    The layer map is built from the model as written and read back, never from the
    graph in memory: saving can add layers (a replayed graph's `keras.ops` calls
    become op layers such as ConvertToTensor), and the card must describe the file.
    The card's input shape is the model's, whatever preprocessing `card_data` holds."""
    pre = replace(card_data.preprocessing or default_preprocessing(model),
                  input_shape=input_shape_of(model))
    check_card_license(card_data)  # refuse a bad license before saving
    with staged_package(out, force=force) as staging:
        saved = load_keras_file(save_model(model, staging), unsafe=unsafe)
        card = card_data.card(build_layer_map(saved, stages, cut_names), pre)
        seal(staging, card)
    return card


def input_shape_for(model: Any, size: tuple[int, ...] | None) -> tuple:
    """The model's input shape (no batch), with `size` (H, W[, C]) fixing a dynamic one;
    a size that contradicts a fixed one is refused."""
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ZooError("--preprocess and --input-size need a model with one input and output")
    shape = tuple(model.inputs[0].shape[1:])
    if size is None:
        return shape
    if len(shape) != 3:
        raise ZooError(f"--input-size needs an image model (H, W, C input), not {shape}")
    fixed = [d for d in shape[:2] if d is not None]
    if fixed and tuple(size[:2]) != shape[:2]:
        raise ZooError(f"the model's input is fixed at {shape[0]}x{shape[1]}; "
                       f"--input-size {size[0]}x{size[1]} does not match")
    return (*size[:2], size[2] if len(size) == 3 else shape[2])


def behind_input(model: Any, shape: tuple, transform: Callable[[Any], Any], what: str) -> Any:
    """The model's layers called on a new `pixels` input of `shape` through `transform`
    (preprocessing layers): one flat functional graph, the same layer objects."""
    import keras

    from zoo.build.rebuild import replay, unique_operation_names

    pixels = keras.Input(shape, name="pixels")
    try:
        outputs = replay(model, model.outputs[0], transform(pixels), training=None)
        unique_operation_names(outputs)
        return keras.Model(pixels, outputs, name=model.name)
    except KERAS_ERRORS as exc:
        raise ModelError(f"cannot put the model behind a "
                         f"{'x'.join(str(d) for d in shape)} input with {what}: "
                         f"{keras_reason(exc)}") from exc


def with_raw_input(model: Any, mode: str, size: tuple[int, ...] | None) -> Any:
    """The model behind a new input of `size` that applies preprocessing `mode`."""
    preprocessing.check_mode(mode)
    if mode == "none" and size is None:
        return model
    return behind_input(model, input_shape_for(model, size),
                        lambda x: preprocessing.apply(x, mode), f"--preprocess {mode}")


def read_labels(spec: str | None) -> list[str] | None:
    """--labels: a file with one label per line, or a comma-separated list."""
    if not spec:
        return None
    path = Path(spec)
    if path.is_file():
        labels = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
        return [label for label in labels if label]
    return [label.strip() for label in spec.split(",") if label.strip()]


def legacy_hdf5_note(model_path: Path) -> str | None:
    """The card's description of a model packed from a legacy Keras 2 HDF5 file
    (which Keras wrote it, from its attributes), or None for a .keras file."""
    from zoo.package import HDF5_SUFFIXES

    if model_path.suffix not in HDF5_SUFFIXES:
        return None
    import h5py

    with h5py.File(model_path, "r") as handle:
        version = handle.attrs.get("keras_version")
    if isinstance(version, bytes):
        version = version.decode("utf-8", errors="replace")
    written_by = f"Keras {version}" if isinstance(version, str) and version else "Keras"
    return (f"Packed by `zoo pack` from {model_path.name}, a legacy HDF5 model written by "
            f"{written_by}, held here in the Keras 3 format.")


def with_plain_io(model: Any) -> Any:
    """A one-input, one-output model whose input and output are tensors, not one-item
    lists (Keras 2 models are saved that way; calling one with a tensor makes Keras
    warn on every later load). Same layers and weights."""
    import keras

    if len(model.inputs) != 1 or len(model.outputs) != 1 or not (
            isinstance(getattr(model, "input", None), list)
            or isinstance(getattr(model, "output", None), list)):
        return model
    return keras.Model(model.inputs[0], model.outputs[0], name=model.name)


def without_noop_conversions(model: Any) -> Any:
    """The model without the no-op ConvertToTensor nodes that calling it on a new input
    (`with_raw_input`'s replay) adds: Keras 3.15 records one per call, always named
    `convert_to_tensor`, so a package holding one could not be pulled with
    `--input-size`, whose replay adds another of the same name. Same layers, weights
    and outputs; other ops are kept."""
    import keras

    def call(op: Any, *args: Any, **kwargs: Any) -> Any:
        if (type(op).__name__ == "ConvertToTensor" and len(args) == 1 and not kwargs
                and isinstance(args[0], keras.KerasTensor)
                and getattr(op, "dtype", None) in (None, args[0].dtype)
                and not getattr(op, "sparse", None) and not getattr(op, "ragged", None)):
            return args[0]
        return op(*args, **kwargs)

    return keras.models.clone_model(model, clone_function=lambda layer: layer,
                                    call_function=call)


def pack_file(model_path: Path, out: Path, card_data: CardData, *, unsafe: bool = False,
              preprocess: str = "none", input_size: tuple[int, ...] | None = None,
              label_names: list[str] | None = None, force: bool = False) -> Card:
    """Package an existing model file (Sequential or Functional, nested models too): a
    Keras 3 .keras file, or a legacy Keras 2 .h5/.hdf5 file the user brings (its config
    is scanned before Keras reads it; the package is Keras 3 native from then on)."""
    model_path = Path(model_path)
    model = with_plain_io(load_keras_file(model_path, unsafe=unsafe, allow_hdf5=True))
    if preprocess != "none" or input_size is not None:
        model = without_noop_conversions(with_raw_input(model, preprocess, input_size))
    note = legacy_hdf5_note(model_path)
    card_data = replace(card_data, description=card_data.description or note,
                        preprocessing=default_preprocessing(
                            model, raw_pixel_scaling(preprocess), label_names))
    return pack_model(model, out, card_data, force=force, unsafe=unsafe)


def application_card_data(spec: str, *, weights: str = "none", name: str | None = None,
                          license: str | None = None, version: str = "1.0.0",
                          authors: tuple[str, ...] = APPLICATION_AUTHORS,
                          license_name: str | None = None,
                          license_link: str | None = None) -> CardData:
    """What the card of keras:NAME says: the architecture's name, and the license of what
    is packed (Keras' code for random weights, the weights' terms otherwise), unless
    the caller states their own."""
    from zoo.build import applications

    arch = applications.architecture(spec)
    return CardData.application(
        arch.name, weights=weights, name=name, version=version, authors=authors,
        license=license or (arch.license if weights == "none" else arch.weights_license),
        license_name=license_name, license_link=license_link)


def pack_application(spec: str, out: Path, card_data: CardData | None = None, *,
                     weights: str = "none", input_size: tuple[int, ...] | None = None,
                     force: bool = False) -> Card:
    """Package a Keras Applications architecture (no classifier top) taking raw pixels;
    without `card_data`, the card `application_card_data` gives it."""
    from zoo.build import applications

    arch = applications.architecture(spec)
    card_data = card_data or application_card_data(spec, weights=weights)
    size = input_size or (arch.input_size, arch.input_size)
    shape = (*size[:2], size[2] if len(size) == 3 else 3)
    model = applications.build(arch, weights, shape)
    card_data = replace(card_data, preprocessing=default_preprocessing(
        model, raw_pixel_scaling(arch.preprocess)))
    return pack_model(model, out, card_data, force=force, cut_names=arch.stages)


def pack(request: PackRequest, out: Path, *, force: bool = False) -> Card:
    """Package what `zoo pack` was asked for: an Applications architecture or a model file.

    The rules of the request live here: keras:NAME brings its own preprocessing
    and authors; a model file needs a name and a license of its own."""
    from zoo.build.rebuild import parse_size

    size = parse_size(request.input_size) if request.input_size else None
    if request.is_application:
        if request.preprocess != "none":
            raise ZooError("keras:NAME brings its own preprocessing; --preprocess is for files")
        card_data = application_card_data(
            request.model, weights=request.weights, name=request.name,
            license=request.license, version=request.version,
            authors=request.authors or APPLICATION_AUTHORS,
            license_name=request.license_name, license_link=request.license_link)
        return pack_application(request.model, out, card_data, weights=request.weights,
                                input_size=size, force=force)
    if not request.name or not request.license:
        raise ZooError("packing a model file needs --name and --license "
                       "(e.g. --name my-net --license MIT)")
    card_data = CardData.network(
        request.name, request.license, version=request.version, authors=request.authors,
        license_name=request.license_name, license_link=request.license_link,
        intended_use=request.intended_use, training_data=request.training_data)
    return pack_file(Path(request.model), out, card_data, unsafe=request.unsafe,
                     preprocess=request.preprocess, input_size=size,
                     label_names=read_labels(request.labels), force=force)
