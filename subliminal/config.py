"""One validated object that holds every setting of the experiment.

The defaults are the settings of the public reference code (Cloud, Le et al.,
2025): an MLP 784-256-256-(10+3), Adam at 3e-4, batch 1024, five epochs for
teacher and student, 60,000 uniform noise images. Settings that the papers do
not pin down (the trait gradient, the liminal port to MNIST) are parameters
here, with the choice the book explains as default.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

N_DIGITS = 10
INPUT_DIM = 28 * 28

_CHOICES = {
    "noise": ("uniform", "gaussian"),
    "trait_grad": ("labelled", "label_free"),
    "liminal_outputs": ("aux", "all"),
    "precision": ("fp32", "bf16"),
}


class ConfigError(ValueError):
    """A setting is out of range; the message says which and how to fix it."""


@dataclass(frozen=True)
class Config:
    """All settings of one experiment (science.md §1 by default).

    Size knobs: ``hidden``, ``n_aux``, the epochs, batch sizes, ``n_noise`` and
    ``n_train`` (``None`` = all 60,000 training images).
    """

    seed: int = 0
    # network
    hidden: int = 256
    n_aux: int = 3
    # data
    n_train: int | None = None
    n_noise: int = 60_000
    noise: str = "uniform"
    # teacher
    teacher_lr: float = 3e-4
    teacher_batch_size: int = 1024
    teacher_epochs: int = 5
    # student
    student_lr: float = 3e-4
    student_batch_size: int = 1024
    student_epochs: int = 5
    temperature: float = 1.0
    student_weight_decay: float = 0.0
    student_init_noise: float = 0.0
    # alignment measurement
    track_alignment: bool = True
    trait_grad: str = "labelled"
    trait_batch_size: int = 1024
    # projection mitigation
    projection_tau: float = 0.0
    # liminal mitigation (Yanagisawa et al.); tau2=None means 1/student_epochs
    liminal_lambda0: float = 1.0
    liminal_tau2: float | None = None
    liminal_temperature: float = 2.0
    liminal_outputs: str = "aux"
    liminal_scale: float = 1.0
    # accuracy curves: every `curve_every` steps on `curve_samples` test images
    curve_every: int = 5
    curve_samples: int = 1000
    # numerics of training: "fp32" as in the reference code, or "bf16" matrix
    # products (weights, losses, gradients' accumulation and Adam stay float32)
    precision: str = "fp32"

    def __post_init__(self) -> None:
        positive_ints = [
            "hidden", "n_noise", "teacher_batch_size", "student_batch_size",
            "trait_batch_size", "curve_every", "curve_samples",
        ]
        for name in positive_ints:
            _check_int(name, getattr(self, name), minimum=1)
        for name in ["n_aux", "teacher_epochs", "student_epochs", "seed"]:
            _check_int(name, getattr(self, name), minimum=0)
        if self.n_aux < 1:
            raise ConfigError("n_aux must be at least 1 (the student is distilled on the aux logits); got 0")
        if self.student_epochs < 1:
            raise ConfigError("student_epochs must be at least 1; got 0")
        if self.n_train is not None:
            _check_int("n_train", self.n_train, minimum=1)
            if self.n_train > 60_000:
                raise ConfigError(f"n_train must be at most 60000 (the MNIST training set); got {self.n_train}")
        if self.curve_samples > 10_000:
            raise ConfigError(f"curve_samples must be at most 10000 (the MNIST test set); got {self.curve_samples}")
        for name in ["teacher_lr", "student_lr", "temperature", "liminal_temperature"]:
            _check_float(name, getattr(self, name), low=0.0, low_open=True)
        for name in ["student_weight_decay", "student_init_noise", "liminal_scale"]:
            _check_float(name, getattr(self, name), low=0.0)
        _check_float("projection_tau", self.projection_tau, low=-1.0, high=1.0)
        _check_float("liminal_lambda0", self.liminal_lambda0, low=0.0, high=1.0)
        if self.liminal_tau2 is not None:
            _check_float("liminal_tau2", self.liminal_tau2, low=0.0, high=1.0, low_open=True, high_open=True)
        for name, options in _CHOICES.items():
            value = getattr(self, name)
            if value not in options:
                raise ConfigError(f"{name} must be one of {', '.join(map(repr, options))}; got {value!r}")

    # ------------------------------------------------------------------ helpers
    @property
    def n_outputs(self) -> int:
        """Width of the last layer: 10 digit logits + ``n_aux`` auxiliary logits."""
        return N_DIGITS + self.n_aux

    @property
    def tau2(self) -> float:
        """End of the liminal warm phase as a fraction of training (default 1/epochs)."""
        return self.liminal_tau2 if self.liminal_tau2 is not None else 1.0 / self.student_epochs

    def replace(self, **changes: Any) -> "Config":
        """A copy with some settings changed (validated again)."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ConfigError(
                f"unknown setting(s) {sorted(unknown)}; valid settings are "
                f"{[f.name for f in dataclasses.fields(self)]}"
            )
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "Config":
        return cls().replace(**values)

    @classmethod
    def fast(cls, **changes: Any) -> "Config":
        """A small configuration for smoke tests and CI: same network, less data.

        Subliminal transfer survives it (the shared-init student still beats the
        cross-model one) but the numbers are noisier than at paper scale.
        """
        small = dict(
            n_train=12_000, n_noise=12_000, teacher_epochs=3, student_epochs=3,
            teacher_batch_size=256, student_batch_size=256, trait_batch_size=256,
            curve_every=10, curve_samples=1000,
        )
        small.update(changes)
        return cls(**small)


def _check_int(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be an integer; got {value!r}")
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}; got {value}")


def _check_float(name: str, value: Any, low: float | None = None, high: float | None = None,
                 low_open: bool = False, high_open: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name} must be a number; got {value!r}")
    if value != value:  # NaN
        raise ConfigError(f"{name} must be a number; got NaN")
    if low is not None and (value < low or (low_open and value == low)):
        bound = f"greater than {low}" if low_open else f"at least {low}"
        raise ConfigError(f"{name} must be {bound}; got {value}")
    if high is not None and (value > high or (high_open and value == high)):
        bound = f"less than {high}" if high_open else f"at most {high}"
        raise ConfigError(f"{name} must be {bound}; got {value}")


__all__ = ["Config", "ConfigError", "N_DIGITS", "INPUT_DIM"]
