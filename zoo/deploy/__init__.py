"""Getting a trained package onto a device: SavedModel/ONNX/TFLite export with
parity, int8 and float16 quantization, deploy bundles, and `zoo predict`'s
runtime (onnxruntime / LiteRT plus numpy).

May import: `zoo.errors`, `zoo.files`, `zoo.paths`, `zoo.tensors`, `zoo.cards`, `zoo.trust`, `zoo.package`, `zoo.data`.
Not the hub, build or training layers. Imports no TensorFlow at module level:
`runtime` and `predict` must load on a device that has only the `[runtime]`
extra.
"""
