"""Training: the recipes of the zoo's own base networks, two-phase fine-tuning,
the frozen-feature cache, transfer-versus-scratch comparison and training curves.

May import: `zoo.errors`, `zoo.files`, `zoo.paths`, `zoo.tensors`, `zoo.cards`, `zoo.trust`, `zoo.package`, `zoo.data`, `zoo.build`, `zoo.deploy`.
Not the hub layer. The frozen-feature cache runs the frozen prefix with deploy's
ONNX conversion and runtime; deploy never imports training. TensorFlow/Keras are
imported inside functions.
"""
