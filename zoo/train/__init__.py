"""Training: the recipes of the zoo's own base networks, two-phase fine-tuning,
the frozen-feature cache, transfer-versus-scratch comparison and training curves.

May import: `zoo.errors`, `zoo.paths`, `zoo.package`, `zoo.cards`, `zoo.data`, `zoo.build`.
Not the hub or deploy layers. TensorFlow/Keras are imported inside functions.
"""
