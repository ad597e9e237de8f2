"""The one bound on tensors whose shape a file declares (a bundle's preprocessing, a
model's input): checked before anything of that size is allocated, so a file that
declares a 65536×65536 input is refused in one line instead of exhausting memory."""

import math
from collections.abc import Sequence

from zoo.errors import DataError

MAX_BATCH_BYTES = 256 * 2**20  # one batch of inputs as float32; ~28 images of 1024×1024×3
FLOAT32_BYTES = 4


def sample_bytes(shape: Sequence[int], what: str) -> int:
    """The bytes of one sample of `shape`; DataError naming `what` if one sample alone
    is over `MAX_BATCH_BYTES`."""
    size = math.prod(int(d) for d in shape) * FLOAT32_BYTES
    if size > MAX_BATCH_BYTES:
        raise DataError(f"{what}: an input of shape {tuple(shape)} takes "
                        f"{size / 2**20:,.0f} MiB per sample, over the zoo's limit of "
                        f"{MAX_BATCH_BYTES // 2**20} MiB per batch")
    return size


def batch_rows(shape: Sequence[int], what: str, wanted: int) -> int:
    """How many samples of `shape` one batch may hold: up to `wanted`, within
    `MAX_BATCH_BYTES`."""
    return max(1, min(wanted, MAX_BATCH_BYTES // sample_bytes(shape, what)))
