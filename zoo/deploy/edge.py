"""Edge formats: quantized ONNX (onnxruntime.quantization) and TFLite (the
TensorFlow Lite converter, run in the LiteRT interpreter).

Static QDQ int8 is calibrated on real data. Dynamic int8 is allowed only for
dense-only networks: on CNNs onnxruntime's ConvInteger kernels made inference
6-14x slower than fp32 on this project's CPU (shared/DESIGN.md).
"""

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from zoo.cards.card import LayerMap
from zoo.deploy.runtime import native_stderr_silenced
from zoo.errors import ExportError

CALIBRATION_SAMPLES = 200
CONV_CLASSES = ("Conv", "Depthwise", "Separable")


def has_convolutions(layer_map: LayerMap) -> bool:
    return any(any(c in layer.class_name for c in CONV_CLASSES) for layer in layer_map.layers)


def quantize_onnx(fp32: Path, target: Path, mode: str, calibration: np.ndarray | None) -> None:
    """fp32 ONNX → int8: static QDQ (calibrated, per channel) or dynamic."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if mode == "int8-dynamic":
        quantize_dynamic(str(fp32), str(target), weight_type=QuantType.QInt8)
        return
    if calibration is None or not len(calibration):
        raise ExportError("static int8 needs real calibration data: pass --calibration DATA "
                          "(or --data)")

    class Reader(CalibrationDataReader):
        def __init__(self, name: str) -> None:
            self.batches = iter([{name: calibration[i:i + 1].astype(np.float32)}
                                 for i in range(min(len(calibration), CALIBRATION_SAMPLES))])

        def get_next(self) -> dict | None:
            return next(self.batches, None)

    import onnx

    name = onnx.load(str(fp32)).graph.input[0].name
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(fp32), str(prepared), skip_symbolic_shape=False)
        quantize_static(str(prepared), str(target), Reader(name), quant_format=QuantFormat.QDQ,
                        per_channel=True, activation_type=QuantType.QInt8,
                        weight_type=QuantType.QInt8)


def to_tflite(model: Any, target: Path, mode: str | None,
              calibration: np.ndarray | None) -> None:
    """Keras → SavedModel → TFLite; float16 weights, or int8 (float input and output)."""
    import tensorflow as tf

    with tempfile.TemporaryDirectory() as tmp:
        model.export(tmp, format="tf_saved_model", verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp)
        if mode == "float16":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.target_spec.supported_types = [tf.float16]
        elif mode == "int8":
            if calibration is None or not len(calibration):
                raise ExportError("int8 TFLite needs real calibration data: pass --calibration "
                                  "DATA (or --data)")
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            samples = calibration[:CALIBRATION_SAMPLES].astype(np.float32)
            converter.representative_dataset = lambda: ([samples[i:i + 1]]
                                                        for i in range(len(samples)))
        with native_stderr_silenced():  # the converter's C++ logging
            flatbuffer = converter.convert()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(flatbuffer)
