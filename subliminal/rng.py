"""Named, reproducible random streams.

Every random draw of an experiment comes from a generator named by
``(seed, stream, index)``: model ``k``'s shared initialisation, its cross-model
initialisation, the noise images, each data order. A model's numbers therefore
do not depend on which other models are trained beside it.
"""

from __future__ import annotations

import zlib

import numpy as np
import torch


def generator(seed: int, stream: str, index: int = 0) -> torch.Generator:
    """A CPU ``torch.Generator`` for the named stream (stable across runs and machines)."""
    entropy = [int(seed), zlib.crc32(stream.encode()), int(index)]
    state = np.random.SeedSequence(entropy).generate_state(2, dtype=np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))
