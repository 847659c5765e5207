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


def derangement(n: int, generator: torch.Generator) -> torch.Tensor:
    """A uniformly random permutation of ``range(n)`` with no fixed point, (n,) long.

    Pairing student ``k`` with teacher ``perm[k]`` then never pairs a model with its
    own teacher (a plain random permutation leaves one in place on average).
    Rejection sampling: redraw until no ``perm[k] == k`` (about e = 2.72 draws).
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ValueError(f"a derangement needs n >= 2 items (n = 1 can only map to itself); got {n!r}")
    while True:
        perm = torch.randperm(n, generator=generator)
        if not bool((perm == torch.arange(n)).any()):
            return perm
