"""What `zoo train` and `zoo pack` are asked for, with their defaults, in one place.

The CLI shows these as its choices and defaults, so this module imports nothing
heavy: `zoo --help` reads it without loading the card schema or TensorFlow. The
rules that act on a request live in `zoo.build.pack` and `zoo.build.recipes`.
"""

from dataclasses import dataclass

from zoo.build.applications import PREFIX as APPLICATION_PREFIX

# The zoo's own base networks and the epochs each trains for by default.
RECIPE_EPOCHS = {"iris": 150, "cnn": 8}
RECIPE_LICENSE = "Apache-2.0"
APPLICATION_AUTHORS = ("Keras team",)


@dataclass(frozen=True)
class PackRequest:
    """`zoo pack MODEL ...`: a .keras file, or keras:NAME for an Applications architecture.

    Strings are as typed (`input_size` "96x96" or "28x28x1", `labels` a file or a
    comma-separated list); `zoo.build.pack.pack` checks and resolves them."""

    model: str
    name: str | None = None
    license: str | None = None
    license_name: str | None = None
    license_link: str | None = None
    authors: tuple[str, ...] = ()
    version: str = "1.0.0"
    intended_use: str = "Base network for transfer learning."
    training_data: str = "unknown"
    weights: str = "none"  # keras:NAME only: 'imagenet', 'none' or a weights file
    preprocess: str = "none"  # a model file only: one of zoo.build.preprocessing.MODES
    input_size: str | None = None
    labels: str | None = None
    unsafe: bool = False

    @property
    def is_application(self) -> bool:
        return self.model.startswith(APPLICATION_PREFIX)
