"""Deploying: `zoo.export` (SavedModel / ONNX / TFLite, checked against Keras, with
deploy bundles) and `zoo.predict` (a bundle, without TensorFlow)."""

from pathlib import Path
from typing import TYPE_CHECKING

from zoo.api.arguments import PathLike, as_path, optional_output, optional_path, output_path
from zoo.api.package import Package, writable_dir
from zoo.deploy.settings import DEFAULT_MIN_AGREEMENT, DEFAULT_TOLERANCE, export_key

if TYPE_CHECKING:
    from zoo.cards.card import ExportRecord
    from zoo.deploy.predict import Prediction


def export(package: Package | PathLike, format: str, *, out: PathLike | None = None,
           quantize: str | None = None, data: PathLike | None = None,
           calibration: PathLike | None = None, tolerance: float = DEFAULT_TOLERANCE,
           min_agreement: float = DEFAULT_MIN_AGREEMENT, calibration_method: str = "minmax",
           bundle: PathLike | None = None, force: bool = False) -> "ExportRecord":
    """Export a package into its exports/ folder, checked against Keras, like `zoo export`.

    `format` is "savedmodel", "onnx" or "tflite". Every export runs in its own
    runtime on the same inputs as Keras (`data`'s rows, else seeded random ones)
    and its max abs difference must be within `tolerance`. `quantize` is "int8"
    or "int8-dynamic" (ONNX) or "float16" / "int8" (TFLite): it needs `data`, is
    calibrated on `calibration` (default `data`), and its top-1 agreement with
    Keras must reach `min_agreement`. The returned record (also written into the
    card) holds the path, parity, agreement, size and latency. `out` copies the
    export there; `bundle` also writes a deploy bundle (model, labels, card, LICENSE).

    Example:
        >>> record = zoo.export("iris4-tuned", "onnx")
        >>> record.path, record.max_abs_diff
        >>> zoo.export("tuned", "onnx", quantize="int8", data="test.npz", bundle="edge")
    """
    from zoo.deploy.bundle import write_bundle
    from zoo.deploy.export import export_package

    folder = writable_dir(package, "an export")
    record = export_package(folder, format, quantize=quantize, tolerance=tolerance,
                            data=optional_path(data, "data"),
                            calibration=optional_path(calibration, "calibration"),
                            min_agreement=min_agreement, calibration_method=calibration_method,
                            out=optional_output(out))
    if bundle is not None:
        write_bundle(folder, export_key(format, quantize), output_path(bundle, "bundle"),
                     force=force)
    return record


def predict(bundle: PathLike, inputs: list[PathLike] | PathLike) -> list["Prediction"]:
    """Predict with a deploy bundle (onnxruntime or LiteRT, no TensorFlow), like
    `zoo predict`: images (resized to the model's input), CSV rows or NPZ arrays;
    one prediction (source, label, probability, scores) per input row.

    Example:
        >>> for p in zoo.predict("edge-bundle", ["digit.png"]):
        ...     print(p.label, p.probability)
    """
    from zoo.deploy.predict import predict_bundle

    paths = [inputs] if isinstance(inputs, (str, Path)) else list(inputs)
    return predict_bundle(as_path(bundle, "bundle"), [as_path(p, "input") for p in paths])
