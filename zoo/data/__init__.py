"""Data for training, evaluation, export checks and `zoo predict`: CSV and NPZ
files, image folders, and the built-in sets that ship inside packages. It sits
below build, training and deploy, which all read data.

May import: `zoo.errors`, `zoo.files`, `zoo.paths`, `zoo.tensors`, `zoo.cards`.
Not the hub, build, training or deploy layers. TensorFlow/Keras are imported
inside functions.
"""
