"""Export formats, quantization modes and acceptance thresholds, in one place.

The CLI shows these as its choices and defaults, so this module imports nothing
heavy: `zoo --help` reads it without loading NumPy or TensorFlow.
"""

FORMATS = ("onnx", "savedmodel", "tflite")
QUANTIZE = {"onnx": ("int8", "int8-dynamic"), "tflite": ("float16", "int8"), "savedmodel": ()}
# Every quantization mode once, in the order above.
QUANTIZE_MODES = tuple(dict.fromkeys(mode for fmt in FORMATS for mode in QUANTIZE[fmt]))
DEFAULT_TOLERANCE = 1e-4
DEFAULT_MIN_AGREEMENT = 0.99
