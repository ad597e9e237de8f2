"""Export formats, quantization modes and acceptance thresholds, in one place.

The CLI shows these as its choices and defaults, so this module imports nothing
heavy: `zoo --help` reads it without loading NumPy or TensorFlow.
"""

import math

from zoo.errors import ExportError

FORMATS = ("onnx", "savedmodel", "tflite")
QUANTIZE = {"onnx": ("int8", "int8-dynamic"), "tflite": ("float16", "int8"), "savedmodel": ()}
# Every quantization mode once, in the order above.
QUANTIZE_MODES = tuple(dict.fromkeys(mode for fmt in FORMATS for mode in QUANTIZE[fmt]))
DEFAULT_TOLERANCE = 1e-4
DEFAULT_MIN_AGREEMENT = 0.99
# onnxruntime's calibrators for static int8 ONNX, the default first.
CALIBRATION_METHODS = ("minmax", "percentile", "entropy")


def _finite(value: object, what: str, low: float, high: float | None, example: str) -> float:
    # Testing for out of range (`value < low`, as click.FloatRange does) lets NaN
    # through, since every comparison with NaN is False; a NaN tolerance then
    # passes or fails every parity check, whatever the export's numbers.
    bounds = f"from {low:g} to {high:g}" if high is not None else f">= {low:g}"
    if not (isinstance(value, int | float) and math.isfinite(value) and value >= low
            and (high is None or value <= high)):
        raise ExportError(f"{what} must be a finite number {bounds}, got {value!r}; "
                          f"e.g. {example}")
    return float(value)


def check_tolerance(value: object) -> float:
    """The largest max abs difference from Keras accepted: finite and >= 0."""
    return _finite(value, "the tolerance", 0.0, None, f"{DEFAULT_TOLERANCE:g}")


def check_min_agreement(value: object) -> float:
    """The lowest top-1 agreement with Keras accepted: a finite fraction in [0, 1]."""
    return _finite(value, "the minimum agreement", 0.0, 1.0, f"{DEFAULT_MIN_AGREEMENT:g}")


def export_key(fmt: str, quantize: str | None) -> str:
    """An export's key in the card (and a bundle's manifest): 'onnx', 'onnx-int8', …"""
    return f"{fmt}-{quantize}" if quantize else fmt


def export_path(fmt: str, quantize: str | None) -> str:
    """Where an export lives inside its package."""
    if fmt == "savedmodel":
        return "exports/saved_model"
    return f"exports/model{'.' + quantize if quantize else ''}.{fmt}"
