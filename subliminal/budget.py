"""How much memory and time a run needs, estimated from its configuration before it starts.

``estimate(config, n_seeds, conditions)`` counts what ``run_experiment`` holds at
its peak (parameters, gradients and Adam states of every model, activations of one
minibatch, the noise images and the teacher targets, MNIST, the per-step logs) and
the matrix-product FLOPs it performs, and converts the FLOPs to seconds with the
throughput measured on a 2-core CPU: one seed of the full eight-condition table at
paper scale is 5.06 TFLOP and takes about 35-45 s there in float32 (README, "Speed").
Small configurations (small batches, few models) run far below that throughput, so
their time estimate is a lower bound; the estimate is meant for large runs.
``check_budget`` refuses a run whose memory estimate exceeds what the machine has.

Torch-free: it only needs the configuration's numbers.
"""

from __future__ import annotations

import math
import numbers
import os
from dataclasses import dataclass, field
from typing import Iterable

from .conditions import ALL_CONDITIONS, StudentCondition, student_condition
from .config import INPUT_DIM, N_DIGITS, N_MNIST_TEST, N_MNIST_TRAIN, Config, n_parameters

#: The students of the paper's table (a condition's needs are read from its declaration).
STUDENTS = tuple(name for name in ALL_CONDITIONS if student_condition(name) is not None)
FLOAT = 4  # bytes per float32

#: Effective matrix-product throughput of the whole run on a 2-core CPU (FLOP/s): the
#: 5.06 TFLOP of one paper-scale seed in the 40 s midpoint of the measured 35-45 s.
#: bf16 matrix products ran at 21.5-26 s per seed on the same machine.
CPU_FLOPS = {"fp32": 5.06e12 / 40.0, "bf16": 5.06e12 / 24.0}


#: Allocator slack and temporaries not counted item by item: without it the estimate's growth per
#: seed (202 MiB, fast configuration) fell 6 % short of the peak memory measured on a CPU (214 MiB).
MEMORY_MARGIN = 1.15

#: The most seeds (models per condition) a run may have, even with ``allow_large``:
#: far above any machine's memory for the experiment, and small enough that the list of
#: seeds itself is made in milliseconds (a count is checked before any list is made).
MAX_SEEDS = 1_000_000


class BudgetError(RuntimeError):
    """The run would need more memory than the machine has (the message gives the estimate and the override)."""


@dataclass(frozen=True)
class Estimate:
    """Peak memory (bytes), matrix-product FLOPs and seconds on a 2-core CPU of one run."""

    memory_bytes: int
    flops: float
    seconds: float
    n_seeds: int
    parts: dict[str, int] = field(default_factory=dict)  # memory by item, bytes

    def describe(self) -> str:
        """One line: ``about 1.2 GiB of memory and 6.7 min on a 2-core CPU (50.6 TFLOP)``."""
        return (f"about {format_bytes(self.memory_bytes)} of memory and {format_seconds(self.seconds)} "
                f"on a 2-core CPU ({self.flops / 1e12:.3g} TFLOP) for {self.n_seeds} seed(s)")


def _students(conditions: Iterable) -> list[StudentCondition]:
    """The :class:`~subliminal.conditions.StudentCondition` of every distillation condition among ``conditions``.

    A condition is a built-in name (``"projection_hidden"``) or a ``(name, StudentCondition)`` pair;
    what it needs is read from its declaration (:func:`~subliminal.conditions.student_condition`),
    never guessed from its name. An unknown name is a ValueError that lists the known ones.
    """
    out = []
    for c in conditions:
        spec = student_condition(c)
        if spec is not None:
            out.append(spec)
    return out


def distill_steps(config: Config) -> int:
    """Optimiser steps of one student: epochs x ceil(n_noise / batch) (the last batch may be short)."""
    return config.student_epochs * math.ceil(config.n_noise / config.student_batch_size)


def params_per_model(config: Config) -> int:
    """Weights and biases of one MLP 784 -> H -> H -> 10+m (:func:`subliminal.config.n_parameters`)."""
    return n_parameters(config.hidden, config.n_outputs)


def run_flops(config: Config, n_seeds: int, conditions: Iterable = ALL_CONDITIONS) -> float:
    """Matrix-multiply FLOPs of one run (forward, backward, evaluation), 2 per multiply-add."""
    conditions = list(conditions)
    names = [c[0] if isinstance(c, tuple) else c for c in conditions]
    students = _students(conditions)
    H, K = config.hidden, config.n_outputs
    fwd = INPUT_DIM * H + H * H + H * K  # multiply-adds per sample, forward
    train = fwd + (fwd + H * H + H * K)  # forward + backward (weights + activations, not the input)
    n_train = config.n_train or N_MNIST_TRAIN
    steps = distill_steps(config)
    curve_points = len(set(range(0, steps, config.curve_every)) | {steps})
    macs = 0.0
    if students or "teacher" in names:
        macs += config.teacher_epochs * n_train * train
    macs += N_MNIST_TEST * fwd * (("teacher" in names) + ("reference" in names))
    if students:
        liminal = any(s.liminal for s in students)
        macs += config.n_noise * fwd * (1 + liminal)  # teacher targets (+ the init's, for liminal)
        per_student = config.student_epochs * config.n_noise * train
        # g_t for the whole ensemble: at every step when some condition projects, else at every
        # alignment_every-th step for the probes
        if any(s.project for s in students):
            per_student += steps * config.trait_batch_size * train
        elif config.track_alignment:
            per_student += -(-steps // config.alignment_every) * config.trait_batch_size * train
        # a matched placebo built from a loss (not a random or permuted direction) is one more gradient
        placebos = sum(s.placebo not in (None, "random", "permuted") for s in students)
        macs += placebos * steps * config.trait_batch_size * train
        if getattr(config, "track_drive", False):
            per_student += steps * config.drive_batch_size * train  # the drive probe's own batch
        # the accuracy curves, and one pass over the test set for the final measures (own and restored head)
        per_student += curve_points * config.curve_samples * fwd + N_MNIST_TEST * fwd
        macs += len(students) * per_student
    return 2.0 * macs * n_seeds


def estimate(config: Config, n_seeds: int, conditions: Iterable = ALL_CONDITIONS) -> Estimate:
    """Memory and time of ``run_experiment(config, seeds=n_seeds, conditions=conditions)``.

    ``conditions``: built-in names (or (name, StudentCondition) pairs); every condition other than
    ``teacher`` and ``reference`` counts as one distilled student per seed.
    """
    check_seed_count(n_seeds)
    conditions = list(conditions)
    students = _students(conditions)
    # with data_per_seed every seed has its own data and runs alone: the peak is one seed's
    together = 1 if getattr(config, "data_per_seed", False) else n_seeds
    n_students = len(students) * together  # the ensemble axis E of distillation
    n_teachers = together
    P, H, K = params_per_model(config), config.hidden, config.n_outputs
    n_train = config.n_train or N_MNIST_TRAIN
    steps = distill_steps(config)
    curve_points = len(set(range(0, steps, config.curve_every)) | {steps})
    track = config.track_alignment or any(s.project for s in students)
    parts = {
        # 60,000 + 10,000 images as uint8 and as float32 (x_train sliced to n_train stays a view)
        "mnist": (N_MNIST_TRAIN + N_MNIST_TEST) * INPUT_DIM * (1 + FLOAT),
        # teachers in training: params, grads, two Adam moments; then the shared and cross inits
        "teachers": n_teachers * P * FLOAT * 4 + 2 * together * P * FLOAT,
        "teacher_activations": n_teachers * config.teacher_batch_size * (2 * H + K) * FLOAT * 3,
    }
    if students:
        liminal = any(s.liminal for s in students)
        # params, grads, two Adam moments, the init kept for the head shift, the trait
        # gradient and the projected gradient: 7 copies of every student's weights
        parts["students"] = n_students * P * FLOAT * (7 if track else 5)
        batch = config.student_batch_size + (config.trait_batch_size if track else 0)
        parts["student_activations"] = n_students * batch * (2 * H + K) * FLOAT * 3
        parts["noise"] = config.n_noise * INPUT_DIM * FLOAT
        # teacher outputs on the noise per teacher, gathered per student (and the init's, for liminal),
        # and their log-probabilities over the aux and over all logits, computed once
        parts["teacher_targets"] = (n_teachers + n_students * (1 + liminal)) * config.n_noise * K * FLOAT
        parts["target_log_probs"] = n_students * config.n_noise * (config.n_aux + K) * FLOAT
        # accuracy of every student on the 10,000 test images at once: both hidden layers and the logits
        parts["evaluation"] = n_students * N_MNIST_TEST * (2 * H + K) * FLOAT
        traits = [s.trait for s in students]
        if track and (config.trait_grad == "label_free" or "label_free" in traits):
            # the teachers' digit logits on the training images, per student
            parts["teacher_digit_targets"] = (n_teachers + n_students) * n_train * N_DIGITS * FLOAT
        if track:
            parts["labels"] = n_students * n_train * 8  # each member's own (true or shuffled) int64 labels
        logs = 2 + 5 * track  # loss, curve; trait loss, cosine before and after, projected flag, <g_t, update>
        parts["logs"] = len(students) * n_seeds * (steps * logs + curve_points) * FLOAT
    memory = int(MEMORY_MARGIN * sum(parts.values()))  # everything at once, plus the margin
    flops = run_flops(config, n_seeds, conditions)
    seconds = flops / CPU_FLOPS.get(config.precision, CPU_FLOPS["fp32"])
    return Estimate(memory_bytes=memory, flops=flops, seconds=seconds, n_seeds=n_seeds, parts=parts)


def check_seed_count(n_seeds: int, name: str = "seeds") -> int:
    """``n_seeds`` if it is a whole number from 1 to :data:`MAX_SEEDS`, else
    :class:`BudgetError`."""
    whole = isinstance(n_seeds, numbers.Integral) and not isinstance(n_seeds, bool)
    if not whole or not 1 <= n_seeds <= MAX_SEEDS:
        shown = repr(n_seeds)
        if len(shown) > 24:
            shown = (f"a {len(str(n_seeds))}-digit number" if whole
                     else shown[:24] + "...")
        raise BudgetError(f"{name} must be a count from 1 to {MAX_SEEDS} "
                          f"(allow_large does not lift this bound); got {shown}")
    return int(n_seeds)


def machine_memory() -> int | None:
    """Bytes of memory this machine can give a new allocation now (MemAvailable), or None if unknown."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_budget(estimate: Estimate, available_memory: int | None = None, allow_large: bool = False,
                 flag: str = "allow_large=True", where: str = "this machine") -> Estimate:
    """Raise :class:`BudgetError` when ``estimate`` needs more memory than is available.

    ``available_memory`` defaults to this machine's free memory (pass the GPU's free
    memory for a CUDA run). ``allow_large`` skips the check; ``flag`` is how the caller
    spells that override in the message (``--allow-large`` on the command line).
    """
    if allow_large:
        return estimate
    if available_memory is None:
        available_memory = machine_memory()
    if available_memory is not None and estimate.memory_bytes > available_memory:
        raise BudgetError(
            f"this run needs {estimate.describe()}, but {where} has {format_bytes(available_memory)} of memory "
            f"available; use fewer seeds or a smaller configuration, or pass {flag} to run it anyway"
        )
    return estimate


def format_bytes(n: float) -> str:
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{int(n)} B"


def format_seconds(s: float) -> str:
    if s >= 86400:
        return f"{s / 86400:.3g} days"
    if s >= 3600:
        return f"{s / 3600:.3g} h"
    if s >= 60:
        return f"{s / 60:.3g} min"
    return f"{s:.2g} s"


__all__ = ["BudgetError", "Estimate", "estimate", "run_flops", "check_budget",
           "check_seed_count", "machine_memory", "params_per_model", "distill_steps",
           "CPU_FLOPS", "MAX_SEEDS"]
