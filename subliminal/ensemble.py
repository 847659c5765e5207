"""Where every student of a run starts, and where it sits in the ensemble.

A student starts at its seed's shared initialisation (the teacher's), at a fresh cross one, at a
mix of the two (``StudentCondition(shared=...)``), or at the shared one relabelled
(``StudentCondition(permute=...)``), plus the init noise of the ``Config``; :func:`student_starts`
builds the whole ensemble, condition-major, and :class:`Layout` says which member is which.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from . import models
from .conditions import StudentCondition
from .config import Config
from .rng import generator


def shared_inits(config: Config, seeds: Sequence[int], device) -> models.Params:
    """The shared initialisation of every seed (teacher and student start here)."""
    return models.init_params([generator(config.seed, "init", k) for k in seeds], config.hidden,
                              config.n_outputs, device)


def cross_inits(config: Config, seeds: Sequence[int], device) -> models.Params:
    """A fresh initialisation per seed, drawn from a stream the shared inits never use."""
    return models.init_params([generator(config.seed, "cross-init", k) for k in seeds], config.hidden,
                              config.n_outputs, device)


def student_starts(config: Config, seeds: Sequence[int], specs: Sequence[StudentCondition], device,
                   shared: models.Params | None = None) -> models.Params:
    """Where every student starts: the ensemble (condition-major, ``len(specs) * len(seeds)`` members).

    A shared-init condition starts at its seed's shared init (``shared``, else drawn), a cross one at
    the seed's cross init with the tensors in ``spec.shared`` taken from the shared init (a permuted one at
    the shared init relabelled by :func:`hidden_permutations`); then the
    init noise of ``config`` (``student_init_noise``, per tensor ``student_init_noise_tensors``) is
    added, the same perturbation for every condition of a seed."""
    shared = shared_inits(config, seeds, device) if shared is None else shared
    cross = cross_inits(config, seeds, device) if any(s.init == "cross" for s in specs) else None
    stds = dict(config.student_init_noise_tensors)
    jitter = config.student_init_noise > 0 or any(v > 0 for v in stds.values())
    starts = []
    for spec in specs:
        start = shared
        if spec.init == "cross":
            start = models.mix_inits(cross, shared, spec.shared) if spec.shared else cross
        if spec.permute is not None:
            start = models.permute_hidden(start, hidden_permutations(config, seeds), head=spec.permute == "all")
        if jitter:  # the same perturbation for every condition of a seed
            streams = [generator(config.seed, "init-jitter", k) for k in seeds]
            start = (models.perturb_tensors(start, stds, streams, config.student_init_noise) if stds
                     else models.perturb(start, config.student_init_noise, streams))
        starts.append(start)
    return models.concat(*starts)


def hidden_permutations(config: Config, seeds: Sequence[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per seed, the fixed relabelling (p1, p2) of the hidden units of layers 1 and 2 that a permuted student
    starts with (:func:`models.permute_hidden`): its own stream, the same for every condition of a seed."""
    out = []
    for k in seeds:
        gen = generator(config.seed, "hidden-permutation", k)
        out.append((torch.randperm(config.hidden, generator=gen), torch.randperm(config.hidden, generator=gen)))
    return out


@dataclass(frozen=True)
class Layout:
    """Where each student of a run sits in the ensemble: condition-major, ``len(names) * n_seeds``
    members; member ``m`` is condition ``names[m // n_seeds]`` of seed index ``m % n_seeds``."""

    names: tuple[str, ...]
    specs: tuple[StudentCondition, ...]
    n_seeds: int
    device: torch.device | str = "cpu"

    @classmethod
    def of(cls, students: dict[str, StudentCondition], n_seeds: int, device) -> Layout:
        """The layout of ``{name: spec}`` (in that order) over ``n_seeds`` seeds."""
        return cls(tuple(students), tuple(students.values()), n_seeds, device)

    def per_member(self, value) -> list:
        """``[value(spec) for every member]``: each condition's value repeated over its seeds."""
        return [value(spec) for spec in self.specs for _ in range(self.n_seeds)]

    def members(self, test) -> torch.Tensor:
        """(E,) bool: which members' conditions satisfy ``test(spec)``."""
        return torch.tensor([bool(test(s)) for s in self.specs], device=self.device).repeat_interleave(self.n_seeds)

    def rows(self, name: str) -> slice:
        """The members of condition ``name``: one row per seed."""
        i = self.names.index(name)
        return slice(i * self.n_seeds, (i + 1) * self.n_seeds)

    @property
    def seed_index(self) -> torch.Tensor:
        """(E,) long: each member's seed index, i.e. the teacher (and shared init) it belongs to."""
        return torch.arange(self.n_seeds, device=self.device).repeat(len(self.specs))


__all__ = ["shared_inits", "cross_inits", "student_starts", "hidden_permutations", "Layout"]
