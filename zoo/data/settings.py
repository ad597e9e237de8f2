"""The built-in data sets and the parts of a fixed split, in one place.

The CLI shows these as its choices, so this module imports nothing heavy: `zoo
--help` reads it without loading NumPy.
"""

# Built-in data sets (loaders in zoo.data.datasets) and the parts of a fixed split.
BUILTIN_DATASETS = ("iris", "iris4", "digits", "mnist5k")
SPLITS = ("all", "train", "test")
