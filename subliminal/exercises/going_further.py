"""Checked exercises of Chapter 6, going further: check_steps_per_epoch, check_paired_difference."""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from .. import analysis, results
from ..config import Config
from ._checking import _Case, _Wrong, _call, _check, _compare


def check_steps_per_epoch(fn: Callable) -> bool:
    """``fn(config)`` -> the number of optimiser steps in one student epoch (an int): the noise
    images in batches of ``config.student_batch_size``, the last batch possibly smaller.

    Reference: :func:`subliminal.analysis.steps_per_epoch`.
    """
    def case(config):
        def run(fn):
            got = _call(fn, config)
            expected = analysis.steps_per_epoch(config)
            if not isinstance(got, (int, np.integer)) or isinstance(got, bool):
                raise _Wrong(f"expected the int {expected}, got {got!r}", "return a whole number of steps (int)")
            if got != expected:
                hint = "n_noise / student_batch_size, rounded up"
                if got == config.n_noise // config.student_batch_size:
                    hint = "the last, smaller batch is a step too: round up (-(-a // b)), not down"
                raise _Wrong(f"n_noise = {config.n_noise}, batch = {config.student_batch_size}: expected {expected}, "
                             f"got {got}.", hint)
        return run

    return _check("check_steps_per_epoch", "subliminal.analysis.steps_per_epoch", fn, [
        _Case("paper scale", case(Config())),
        _Case("fast mode", case(Config.fast())),
        _Case("batch divides the data", case(Config(n_noise=4096, student_batch_size=1024))),
        _Case("a small last batch", case(Config(n_noise=1000, student_batch_size=300))),
    ])


def check_paired_difference(fn: Callable) -> bool:
    """``fn(a, b)``: per-seed values of two conditions on the *same* seeds (N,) -> (mean, half-width)
    of the 95 % t-interval of the per-seed difference a - b.

    Reference: :func:`subliminal.results.mean_ci` of ``a - b``.
    """
    def case(seed, n, spread):
        def run(fn):
            g = np.random.default_rng(seed)
            shared = g.normal(0.4, spread, n)  # the seed effect both conditions share
            a, b = shared + g.normal(0.05, 0.01, n), shared + g.normal(0.0, 0.01, n)
            out = _call(fn, a.copy(), b.copy())
            try:
                mean, half = (float(v) for v in out)
            except (TypeError, ValueError) as error:
                raise _Wrong(f"expected a pair (mean, half-width), got {out!r}",
                             "return two numbers: the mean difference and its half-width") from error
            exp_mean, exp_half = results.mean_ci(a - b)
            _compare(mean, exp_mean, "the mean of the per-seed differences a - b")
            hint = "the t-interval of the differences: mean_ci(a - b), one difference per seed"
            half_a, half_b = results.mean_ci(a)[1], results.mean_ci(b)[1]
            if half > 3 * exp_half and (abs(half - math.hypot(half_a, half_b)) < 0.3 * half or
                                        abs(half - (half_a + half_b)) < 0.3 * half):
                hint = ("your interval treats a and b as independent; they share seeds, so difference them seed "
                        "by seed first: the seed-to-seed spread cancels")
            _compare(half, exp_half, hint)
        return run

    return _check("check_paired_difference", "subliminal.results.mean_ci of a - b", fn, [
        _Case("10 seeds, large seed spread", case(0, 10, 0.15)),
        _Case("3 seeds", case(1, 3, 0.1)),
    ])


__all__ = ["check_steps_per_epoch", "check_paired_difference"]
