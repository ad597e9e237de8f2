"""Producing and reshaping networks: Keras Applications, preprocessing built
into the model, `pack`, and the one rebuild (cut, freeze, new head).

May import: `zoo.errors`, `zoo.files`, `zoo.paths`, `zoo.tensors`, `zoo.cards`, `zoo.trust`, `zoo.package`, `zoo.data`.
Not the hub, training or deploy layers. TensorFlow/Keras are imported inside
functions.
"""
