"""One validated object that holds every setting of the experiment.

The defaults are the settings of the public reference code (Cloud, Le et al.,
2025): an MLP 784-256-256-(10+3), Adam at 3e-4, batch 1024, five epochs for
teacher and student, 60,000 uniform noise images. Settings that the papers do
not pin down (the trait gradient, the liminal port to MNIST) are parameters
here, with the choice the book explains as default.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np

N_DIGITS = 10
INPUT_DIM = 28 * 28

#: Trait gradients g_t: digit cross-entropy on true labels; KL to the teacher's digit
#: logits (no labels); cross-entropy on shuffled labels (placebo); a random direction
#: with g_t's per-layer norms, redrawn every step (placebo); the two parts of the
#: cross-entropy, CE = (mean_k z_k - z_y) + (logsumexp z - mean_k z_k): the label part
#: ("label_only") and the label-free part, the gradient of KL(uniform || p) ("confidence");
#: and the labelled g_t with its coordinates permuted within each tensor by a permutation
#: fixed per seed ("permuted": a placebo as persistent as the real direction).
TRAIT_GRADIENTS = ("labelled", "label_free", "shuffled", "random", "label_only", "confidence", "permuted")
#: Where the projection acts: on the gradient g_d before the optimiser, or on the update
#: the optimiser applies (theta_new - theta_old, after Adam's rescaling).
PROJECTION_SPACES = ("gradient", "update")
STUDENT_OPTIMIZERS = ("adam", "adamw", "sgd")
#: The parameter tensors of a model, and the two blocks of its last layer (the digit head,
#: columns/entries 0-9, and the auxiliary block, 10 on), by the names a student's partial
#: sharing and per-tensor init noise use (the layout is ``models.TENSORS``).
TENSOR_NAMES = ("W1", "b1", "W2", "b2", "W3", "b3", "W3_digit", "W3_aux", "b3_digit", "b3_aux")
#: Where the projection can act, as positions in a model's parameter list [W1, b1, W2, b2, W3, b3]:
#: the whole network, or the hidden layers (W1, b1, W2, b2). ``models`` reads it from here.
LAYERS: dict[str, tuple[int, ...]] = {"all": (0, 1, 2, 3, 4, 5), "hidden": (0, 1, 2, 3)}


def tensor_names(names: Any, what: str = "tensor names") -> tuple[str, ...]:
    """``names`` checked and put in :data:`TENSOR_NAMES` order without repeats; a ValueError lists the valid names."""
    if isinstance(names, str) or not isinstance(names, Iterable):
        raise ValueError(f"{what} must be a tuple of names from {TENSOR_NAMES}, e.g. ('W1', 'b1'); got {names!r}")
    names = list(names)
    wrong = [n for n in names if not isinstance(n, str) or n not in TENSOR_NAMES]
    if wrong:
        raise ValueError(f"{what}: unknown tensor name(s) {wrong}; valid names are {TENSOR_NAMES}")
    return tuple(n for n in TENSOR_NAMES if n in names)


_CHOICES = {
    "noise": ("uniform", "gaussian"),
    "trait_grad": TRAIT_GRADIENTS,
    "liminal_outputs": ("aux", "all"),
    "precision": ("fp32", "bf16"),
    "projection_layers": tuple(LAYERS),
    "student_weight_decay_mode": ("l2", "decoupled"),
    "student_optimizer": STUDENT_OPTIMIZERS,
    "projection_space": PROJECTION_SPACES,
}


class ConfigError(ValueError):
    """A setting is out of range; the message says which and how to fix it."""


@dataclass(frozen=True)
class Config:
    """All settings of one experiment (by default those of the reference code of Cloud, Le et al., 2025).

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
    # what a seed varies: False = only the initialisation (noise images, batch orders and trait
    # batches are shared by all seeds, as in the reference code); True = the data too
    data_per_seed: bool = False
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
    # "l2": torch.optim.Adam's weight_decay (an L2 term that goes through Adam's scaling);
    # "decoupled": AdamW (weights shrink by lr * decay each step, outside the adaptive step)
    student_weight_decay_mode: str = "l2"
    student_init_noise: float = 0.0
    # the std of the student's init noise per tensor (names of TENSOR_NAMES), e.g.
    # {"W1": 0.05} or (("W1", 0.05),); stored as sorted (name, std) pairs. A tensor named here
    # takes its std from here (a block such as "W3_digit" from its own entry before "W3"'s),
    # every other tensor student_init_noise
    student_init_noise_tensors: tuple[tuple[str, float], ...] = ()
    # the student's optimiser: "adam" (the reference code), "adamw", or "sgd" (plain SGD with
    # optional heavy-ball momentum; with momentum 0 the applied update is exactly -lr * g_d)
    student_optimizer: str = "adam"
    student_momentum: float = 0.0
    # alignment measurement
    track_alignment: bool = True
    trait_grad: str = "labelled"
    trait_batch_size: int = 1024
    # measure the alignment probes (cosine, trait loss, <g_t, update>) at every k-th step only
    # (steps 0, k, 2k, ...; the others are NaN), which saves most of their cost; a projection
    # needs g_t at every step and measures it there whatever k is. The training is unchanged.
    alignment_every: int = 1
    # projection mitigation: remove the fraction `projection_beta` of the g_t component
    # whenever cos(g_d, g_t) > `projection_tau`, from all layers or the hidden ones only;
    # tau = -1 projects at every step (two-sided). `projection_space="update"` projects the
    # update the optimiser applies instead of the gradient it receives (see mitigations)
    projection_tau: float = 0.0
    projection_beta: float = 1.0
    projection_layers: str = "all"
    projection_space: str = "gradient"
    # probes: the first-order drive <grad L_digit, dtheta> on an independent labelled batch of
    # `drive_batch_size` images (an unbiased estimate at any size; smaller is cheaper, noisier)
    track_drive: bool = False
    drive_batch_size: int = 256
    # liminal mitigation (Yanagisawa et al.); tau2=None means 1/student_epochs
    liminal_lambda0: float = 1.0
    liminal_tau2: float | None = None
    liminal_temperature: float = 2.0
    liminal_outputs: str = "aux"
    liminal_scale: float = 1.0
    # accuracy curves: every `curve_every` steps on `curve_samples` test images
    curve_every: int = 10
    curve_samples: int = 1000
    # numerics of training: "fp32" as in the reference code, or "bf16" matrix
    # products (weights, losses, gradients' accumulation and Adam stay float32)
    precision: str = "fp32"

    def __post_init__(self) -> None:
        """Validate every field; each error names the field, the value and a valid example."""
        for name in ["hidden", "n_aux", "n_noise", "teacher_epochs", "student_epochs", "teacher_batch_size",
                     "student_batch_size", "trait_batch_size", "drive_batch_size", "curve_every", "curve_samples",
                     "alignment_every"]:
            self._int(name, minimum=1, why={
                "n_aux": ": the student is distilled on the aux logits",
                "teacher_epochs": ": an untrained teacher has no trait to pass on",
            }.get(name, ""))
        self._int("seed", minimum=0)
        if self.n_train is not None:
            self._int("n_train", minimum=1, maximum=N_MNIST_TRAIN, why=", the size of the MNIST training set")
        self._int("curve_samples", minimum=1, maximum=N_MNIST_TEST, why=", the size of the MNIST test set")
        n_train = self.n_train if self.n_train is not None else N_MNIST_TRAIN
        data = f"the n_train={n_train} training images" if self.n_train is not None else "the MNIST training images"
        self._int("teacher_batch_size", minimum=1, maximum=n_train, why=f", {data} it batches")
        self._int("trait_batch_size", minimum=1, maximum=n_train, why=f", {data} it batches")
        self._int("drive_batch_size", minimum=1, maximum=n_train, why=f", {data} it batches")
        self._int("student_batch_size", minimum=1, maximum=self.n_noise,
                  why=f", the n_noise={self.n_noise} noise images it batches")
        for name in ["teacher_lr", "student_lr", "temperature", "liminal_temperature"]:
            self._float(name, low=0.0, low_open=True)
        for name in ["student_weight_decay", "student_init_noise", "liminal_scale"]:
            self._float(name, low=0.0)
        object.__setattr__(self, "student_init_noise_tensors", _check_tensor_stds(self.student_init_noise_tensors))
        self._float("student_momentum", low=0.0, high=1.0, high_open=True)
        if self.student_momentum > 0 and self.student_optimizer != "sgd":
            _fail("student_momentum", "0 unless student_optimizer='sgd' (Adam has its own moments)",
                  self.student_momentum, "student_momentum=0.0")
        if self.student_optimizer != "adam" and self.student_weight_decay_mode != "l2":
            _fail("student_weight_decay_mode", "'l2' unless student_optimizer='adam' (use "
                  "student_optimizer='adamw' for decoupled decay)", self.student_weight_decay_mode)
        self._float("projection_tau", low=-1.0, high=1.0)
        self._float("projection_beta", low=0.0, high=1.0)
        self._float("liminal_lambda0", low=0.0, high=1.0)
        if self.liminal_tau2 is not None:
            self._float("liminal_tau2", low=0.0, high=1.0, low_open=True, high_open=True)
        _check_bool("track_alignment", self.track_alignment)
        _check_bool("data_per_seed", self.data_per_seed)
        _check_bool("track_drive", self.track_drive)
        for name, options in _CHOICES.items():
            _check_choice(name, getattr(self, name), options)

    def _int(self, name: str, minimum: int, maximum: int | None = None, why: str = "") -> None:
        value = _check_int(name, getattr(self, name), minimum, maximum, why)
        object.__setattr__(self, name, value)  # NumPy integers become plain ints (JSON-able cache keys)

    def _float(self, name: str, **bounds: Any) -> None:
        value = _check_float(name, getattr(self, name), **bounds)
        object.__setattr__(self, name, value)  # ints and NumPy floats become plain floats

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
        """Every setting as plain JSON data (the per-tensor stds as a {name: std} mapping)."""
        values = dataclasses.asdict(self)
        values["student_init_noise_tensors"] = dict(self.student_init_noise_tensors)
        return values

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
        )
        small.update(changes)
        return cls(**small)

    @classmethod
    def for_mode(cls, fast: bool) -> "Config":
        """The chapters' configuration: :meth:`fast` in fast mode, else the paper's (the defaults)."""
        if not isinstance(fast, bool):
            raise ConfigError(f"fast must be True or False; got {fast!r}")
        return cls.fast() if fast else cls()


FAST_ENV = "SUBLIMINAL_FAST"
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")


def env_flag(name: str) -> bool:
    """The on/off environment variable ``name``: 1/true/yes/on or 0/false/no/off/unset (any case);
    anything else is refused with a one-line error, so a typo never silently means "off"."""
    value = os.environ.get(name, "").strip().lower()
    if value not in _TRUE + _FALSE:
        raise ConfigError(f"environment variable {name} must be 1 or 0; got {value!r}")
    return value in _TRUE


def parameter_shapes(hidden: int, n_outputs: int) -> list[tuple[int, ...]]:
    """The shapes of one model's tensors W1, b1, W2, b2, W3, b3 (weights stored as (fan_in, fan_out))."""
    return [(INPUT_DIM, hidden), (hidden,), (hidden, hidden), (hidden,), (hidden, n_outputs), (n_outputs,)]


def n_parameters(hidden: int, n_outputs: int) -> int:
    """Weights and biases of one model 784 -> hidden -> hidden -> n_outputs."""
    return sum(math.prod(shape) for shape in parameter_shapes(hidden, n_outputs))


def fast_mode(requested: bool = False) -> bool:
    """True when chapters, explorers and tests should use their small configuration:
    asked for (``requested``), or ``SUBLIMINAL_FAST=1`` in the environment."""
    if not isinstance(requested, bool):
        raise ConfigError(f"FAST must be True or False; got {requested!r}")
    return env_flag(FAST_ENV) or requested


N_MNIST_TRAIN, N_MNIST_TEST = 60_000, 10_000
#: Valid examples for the fields whose default (None) would not make a useful example.
_EXAMPLES = {"n_train": 12_000, "liminal_tau2": 0.2, "student_init_noise_tensors": {"W1": 0.05}}


def _example(name: str) -> str:
    """``name=value`` with a valid value (the field's default), for error messages."""
    if name in _EXAMPLES:
        return f"{name}={_EXAMPLES[name]!r}"
    default = {f.name: f.default for f in dataclasses.fields(Config)}[name]
    return f"{name}={default!r}"


def _fail(name: str, rule: str, value: Any, example: str | None = None) -> None:
    raise ConfigError(f"{name} must be {rule} (e.g. {example or _example(name)}); got {value!r}")


def _check_int(name: str, value: Any, minimum: int, maximum: int | None = None, why: str = "") -> int:
    """``value`` as a plain int if it is a whole number in [minimum, maximum] (bools are not numbers)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        _fail(name, f"a whole number >= {minimum}", value)
    value = int(value)
    if value < minimum:
        _fail(name, f"at least {minimum}{why}", value)
    if maximum is not None and value > maximum:
        default = {f.name: f.default for f in dataclasses.fields(Config)}[name]
        example = f"{name}={min(default, maximum)}" if isinstance(default, int) else None
        _fail(name, f"at most {maximum}{why}", value, example)
    return value


def _check_float(name: str, value: Any, low: float | None = None, high: float | None = None,
                 low_open: bool = False, high_open: bool = False, example: str | None = None) -> float:
    """``value`` as a plain float if it is a finite number within the bounds (bools are not numbers)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        _fail(name, "a number", value, example)
    value = float(value)
    if not math.isfinite(value):
        _fail(name, "a finite number", value, example)
    if low is not None and (value < low or (low_open and value == low)):
        _fail(name, f"greater than {low}" if low_open else f"at least {low}", value, example)
    if high is not None and (value > high or (high_open and value == high)):
        _fail(name, f"less than {high}" if high_open else f"at most {high}", value, example)
    return value


def _check_tensor_stds(value: Any) -> tuple[tuple[str, float], ...]:
    """A per-tensor std (a mapping or (name, std) pairs) -> (name, std) pairs in TENSOR_NAMES order."""
    name = "student_init_noise_tensors"
    if isinstance(value, dict):
        pairs = list(value.items())
    elif isinstance(value, (list, tuple)) and all(isinstance(p, (list, tuple)) and len(p) == 2 for p in value):
        pairs = [tuple(p) for p in value]
    else:
        _fail(name, "a mapping from tensor names to stds, or (name, std) pairs", value)
    stds: dict[str, float] = {}
    for tensor, std in pairs:
        if not isinstance(tensor, str) or tensor not in TENSOR_NAMES:
            _fail(name, "keyed by tensor names, one of " + ", ".join(map(repr, TENSOR_NAMES)), tensor)
        if tensor in stds:
            _fail(name, f"keyed by distinct tensor names ({tensor!r} is given twice)", value)
        stds[tensor] = _check_float(f"{name}[{tensor!r}]", std, low=0.0, example=f"{name}={{{tensor!r}: 0.05}}")
    return tuple((tensor, stds[tensor]) for tensor in TENSOR_NAMES if tensor in stds)


def _check_bool(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        _fail(name, "True or False", value)


def _check_choice(name: str, value: Any, options: tuple) -> None:
    if not isinstance(value, str) or value not in options:
        _fail(name, "one of " + ", ".join(map(repr, options)), value)


__all__ = ["Config", "ConfigError", "N_DIGITS", "INPUT_DIM", "TRAIT_GRADIENTS", "PROJECTION_SPACES",
           "STUDENT_OPTIMIZERS", "TENSOR_NAMES", "LAYERS", "tensor_names", "env_flag", "fast_mode",
           "parameter_shapes", "n_parameters"]
