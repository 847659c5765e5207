"""Checked exercises of Chapter 5, liminal training: check_liminal_schedule, check_liminal_anchor."""

from __future__ import annotations

import math
from typing import Callable

import torch

from .. import losses, mitigations
from ..config import N_DIGITS, Config
from ._checking import RTOL, _Case, _Wrong, _array, _call, _check, _compare, _gen, _randn, _ratio, _same


def check_liminal_schedule(fn: Callable) -> bool:
    """``fn(t, lambda0, tau2)`` -> lambda(t) (a float): from lambda0 at t = 0 rising linearly to 1 at
    t = tau2, then falling linearly to 0 at t = 1.

    Reference: :func:`subliminal.mitigations.liminal_lambda`.
    """
    def case(lambda0, tau2):
        def run(fn):
            points = [0.0, tau2 / 2, tau2, tau2 + 1e-3, (1 + tau2) / 2, 0.95, 1.0]
            for t in points:
                out = _call(fn, t, lambda0, tau2)
                try:
                    got = float(out)
                except (TypeError, ValueError) as error:
                    raise _Wrong(f"lambda({t:g}) returned {out!r}", "return one number") from error
                expected = mitigations.liminal_lambda(t, lambda0, tau2)
                if abs(got - expected) <= RTOL * max(1.0, abs(expected)):
                    continue
                if t == 0.0:
                    hint = f"at t = 0 the weight starts at lambda0 = {lambda0}"
                elif t == tau2:
                    hint = "at t = tau2 the warm phase ends at its peak: lambda = 1"
                elif t == 1.0:
                    hint = "at t = 1 the weight has decayed to 0"
                elif t < tau2:
                    hint = "rising phase (t <= tau2): lambda0 + (1 - lambda0) * t / tau2"
                else:
                    hint = "decaying phase (t > tau2): 1 - (t - tau2) / (1 - tau2), measured from tau2, not from 0"
                raise _Wrong(f"lambda(t = {t:g}; lambda0 = {lambda0}, tau2 = {tau2:g}) expected {expected:.5f}, "
                             f"got {got:.5f}.", hint)
        return run

    return _check("check_liminal_schedule", "subliminal.mitigations.liminal_lambda", fn, [
        _Case("lambda0 = 1, tau2 = 0.2", case(1.0, 0.2)),
        _Case("lambda0 = 0.5, tau2 = 0.2", case(0.5, 0.2)),
        _Case("lambda0 = 0, tau2 = 1/3", case(0.0, 1 / 3)),
        _Case("lambda0 = 0.25, tau2 = 0.5", case(0.25, 0.5)),
    ])


def check_liminal_anchor(fn: Callable) -> bool:
    """``fn(student_logits, base_logits, t, config)``: logits (E, B, 10+m) on a noise batch -> (E,)
    the liminal term: liminal_weight(t) = scale * T^2 * lambda(t) times
    KL(softmax(base / T) || softmax(student / T)) over the outputs ``config.liminal_outputs``
    ("aux" or "all"), mean over the batch.

    Reference: :class:`subliminal.mitigations.LiminalAnchor`.
    """
    def case(config, t, seed):
        def run(fn):
            g = _gen(seed)
            E, B = 2, 5
            student, base = _randn(g, E, B, config.n_outputs), _randn(g, E, B, config.n_outputs) * 1.5
            anchor = mitigations.LiminalAnchor(base, torch.ones(E, dtype=torch.bool), config)
            expected = anchor(student, torch.arange(B), t).numpy()
            got = _array(_call(fn, student.clone(), base.clone(), t, config))
            temp = config.liminal_temperature
            hint = "weight scale * T^2 * lambda(t), times the KL between the softened distributions (logits / T)"
            if got.shape == expected.shape and not _same(got, expected):
                c = _ratio(got, expected)
                outputs = slice(N_DIGITS, None) if config.liminal_outputs == "aux" else slice(None)
                kl_t1 = losses.softmax_kl(student[..., outputs], base[..., outputs]).numpy()
                if c is not None and math.isclose(c, 1 / temp ** 2, rel_tol=1e-3):
                    hint = f"missing the factor T^2 = {temp ** 2:g}: it keeps the softened KL's gradient on scale"
                elif (k := _ratio(got, kl_t1)) is not None and not math.isclose(k, 1.0):
                    hint = f"divide the logits by T = {temp:g} before the softmax (both base and student)"
                elif config.liminal_outputs == "all":
                    hint = "config.liminal_outputs = 'all': the KL covers all 10 + m logits here"
                else:
                    hint = ("config.liminal_outputs = 'aux': the KL covers the auxiliary logits [..., 10:] only; "
                            "check also the direction KL(base || student) and the schedule lambda(t)")
            _compare(got, expected, hint, "one term per model: shape (E,)")
        return run

    config = Config()
    return _check("check_liminal_anchor", "subliminal.mitigations.LiminalAnchor", fn, [
        _Case("defaults, t = 0", case(config, 0.0, 0)),
        _Case("defaults, t = 0.5", case(config, 0.5, 1)),
        _Case("defaults, t = 1 (released)", case(config, 1.0, 2)),
        _Case("all outputs, T = 1, scale 3", case(config.replace(liminal_outputs="all", liminal_temperature=1.0,
                                                                   liminal_scale=3.0), 0.1, 3)),
        _Case("lambda0 = 0.5, T = 4", case(config.replace(liminal_lambda0=0.5, liminal_temperature=4.0), 0.1, 4)),
    ])


__all__ = ["check_liminal_schedule", "check_liminal_anchor"]
