"""Checked exercises, one module per chapter: write a function, and let the package check it against its own code.

Every ``check_...(fn)`` calls the reader's ``fn`` on random inputs and on the edge
cases that matter (zero vectors, thresholds, schedule corners, ensembles of
several models), compares each answer with the package's own implementation
(imported, never copied), and prints either a pass or the first failing case with
what was expected, what came back and a hint at what to look at. It returns
True or False and never raises on a wrong answer; it raises ``TypeError`` only
when ``fn`` is not callable.

A body that still says ``raise NotImplementedError`` counts as "not attempted".

Tolerances: inputs are float64; answers must agree to a relative 1e-4 of the
case's scale. That admits a float32 implementation (rounding ~1e-7 per operation)
and rejects every wrong rule, which is off by O(1).

=====================  =======================================================
chapter                checks
=====================  =======================================================
1 the experiment       check_imitation_loss, check_derangement, check_digit_head_shift, check_mean_ci
2 single step          check_softmax_hessian, check_gauss_newton_product, check_first_order_change
3 alignment            check_cosine, check_alignment_probe, check_fraction_positive, check_epoch_of_step
4 projection           check_projection, check_partial_projection, check_first_adam_step,
                       check_chance_accuracy
5 liminal training     check_liminal_schedule, check_liminal_anchor
6 going further        check_steps_per_epoch, check_paired_difference
7 what is shared       check_partial_init, check_hidden_permutation
=====================  =======================================================
"""

from __future__ import annotations

from typing import Callable

from .alignment import *  # noqa: F401,F403
from .experiment import *  # noqa: F401,F403
from .going_further import *  # noqa: F401,F403
from .liminal import *  # noqa: F401,F403
from .projection import *  # noqa: F401,F403
from .sharing import *  # noqa: F401,F403
from .single_step import *  # noqa: F401,F403

ALL_CHECKS: dict[str, Callable[[Callable], bool]] = {
    name: obj for name, obj in globals().items() if name.startswith("check_") and callable(obj)
}

__all__ = [*ALL_CHECKS, "ALL_CHECKS"]
