"""What `zoo pack` is asked for, with its defaults, in one place.

The CLI shows these as its choices and defaults, so this module imports nothing
heavy: `zoo --help` reads it without loading the card schema or TensorFlow. The
rules that act on a request live in `zoo.build.pack`.
"""

from dataclasses import dataclass

from zoo.build.applications import PREFIX as APPLICATION_PREFIX

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
