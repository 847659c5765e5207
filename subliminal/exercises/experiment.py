"""Checked exercises of Chapter 1, the experiment: check_imitation_loss, check_derangement, check_digit_head_shift, check_mean_ci."""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch

from .. import losses, models, results, rng
from ..config import N_DIGITS
from ._checking import _Case, _NotAttempted, _Wrong, _array, _call, _check, _compare, _fmt, _gen, _net, _randn, _ratio, _same


def check_imitation_loss(fn: Callable) -> bool:
    """``fn(student_logits, teacher_logits)``: logits (E, B, 10+m) -> (E,) the distillation loss,
    KL(softmax(teacher aux) || softmax(student aux)) averaged over the batch (temperature 1).

    Reference: :func:`subliminal.losses.softmax_kl` on the auxiliary logits ``[..., 10:]``.
    """
    def reference(s, t):
        return losses.softmax_kl(s[..., N_DIGITS:], t[..., N_DIGITS:])

    def case(E, B, m, seed, same=False):
        def run(fn):
            g = _gen(seed)
            s, t = _randn(g, E, B, N_DIGITS + m), _randn(g, E, B, N_DIGITS + m) * 2
            if same:
                t = s.clone()
            got, expected = _array(_call(fn, s.clone(), t.clone())), reference(s, t)
            hint = "the loss is KL(teacher || student) on the auxiliary logits [..., 10:], mean over the batch"
            if got.shape == (E, B):
                raise _Wrong(f"expected shape {(E,)}, got shape {got.shape}.",
                             "average over the batch axis: one loss per model (E,)")
            if got.shape == expected.shape and not _same(got, expected):
                if _same(got, losses.softmax_kl(t[..., N_DIGITS:], s[..., N_DIGITS:])):
                    hint = ("your numbers are KL(student || teacher): swap the arguments. The teacher's "
                            "probabilities weight the log-ratio, KL(p_T || p_S) = sum p_T (log p_T - log p_S)")
                elif _same(got, losses.softmax_kl(s, t)):
                    hint = ("your numbers are the KL over all 10 + m logits: the aux-only student imitates the "
                            f"auxiliary logits only, indices {N_DIGITS}: (slice [..., {N_DIGITS}:])")
                elif (c := _ratio(got, expected)) is not None and abs(c - B) < 1e-3 * B:
                    hint = f"off by a factor B = {B}: take the mean over the batch, not the sum"
            _compare(got, expected, hint, "one loss per model: shape (E,)")
        return run

    return _check("check_imitation_loss", "subliminal.losses.softmax_kl on the aux logits", fn, [
        _Case("E=3 models, m=3", case(3, 5, 3, 1)),
        _Case("m=30 auxiliary logits", case(2, 4, 30, 2)),
        _Case("student equals teacher (loss 0)", case(2, 3, 3, 3, same=True)),
        _Case("one model, one image", case(1, 1, 3, 4)),
    ])


def check_derangement(fn: Callable) -> bool:
    """``fn(n, generator)`` -> a uniformly random permutation of range(n) (tensor or array of ints)
    with no fixed point; ``n = 1`` must raise ``ValueError`` (no derangement exists).

    Reference: :func:`subliminal.rng.derangement` (n = 2 must give [1, 0]; for n = 4 all 9
    derangements must appear about equally often).
    """
    def as_perm(value, n):
        a = _array(value)
        if a.shape != (n,):
            raise _Wrong(f"for n = {n} expected {n} numbers, got shape {a.shape}",
                         "return one index per model: perm[k] is the teacher of student k")
        if sorted(a.tolist()) != list(range(n)):
            raise _Wrong(f"for n = {n} got {_fmt(a)}, which is not a permutation of 0..{n - 1}",
                         "every teacher must be used exactly once: start from torch.randperm(n, generator=...)")
        return tuple(int(v) for v in a)

    def fixed_points(n, draws):
        def run(fn):
            for i in range(draws):
                perm = as_perm(_call(fn, n, rng.generator(i, "exercise-derangement", n)), n)
                fixed = [k for k in range(n) if perm[k] == k]
                if fixed:
                    raise _Wrong(f"for n = {n} (draw {i}) got {list(perm)}: model(s) {fixed} keep their own "
                                 "teacher", "a derangement has no fixed point; redraw (or repair) while any "
                                 "perm[k] == k. A plain random permutation leaves one model in place on average")
        return run

    def n_two(fn):
        perm = as_perm(_call(fn, 2, rng.generator(0, "exercise-derangement", 2)), 2)
        if perm != (1, 0):
            raise _Wrong(f"for n = 2 got {list(perm)}; the only derangement is [1, 0]",
                         "with two models each must take the other's teacher")

    def n_one(fn):
        try:
            value = fn(1, rng.generator(0, "exercise-derangement", 1))
        except ValueError:
            return
        except NotImplementedError as error:
            raise _NotAttempted from error
        except Exception as error:  # noqa: BLE001
            raise _Wrong(f"for n = 1 your function raised {type(error).__name__}, not ValueError",
                         "raise ValueError with a message: one model cannot avoid its own teacher") from error
        raise _Wrong(f"for n = 1 your function returned {value!r}",
                     "no derangement of one item exists: raise ValueError")

    def uniform(fn):
        from scipy import stats

        n, draws = 4, 900
        counts: dict[tuple, int] = {}
        for i in range(draws):
            perm = as_perm(_call(fn, n, rng.generator(i, "exercise-uniform", n)), n)
            counts[perm] = counts.get(perm, 0) + 1
        reference = {tuple(int(v) for v in rng.derangement(n, rng.generator(0, "exercise-ref", i)))
                     for i in range(200)}  # the package's derangements of 4: all 9 of them
        missing = reference - set(counts)
        if missing:
            raise _Wrong(f"in {draws} draws for n = 4 only {len(counts)} of the {len(reference)} derangements "
                         f"ever appeared (never {sorted(missing)[0]}, ...)",
                         "the draw must be random over *all* derangements: a fixed or random shift "
                         "(roll) reaches only n - 1 of them. Rejection sampling (redraw randperm until no fixed "
                         "point) is uniform")
        observed = np.array([counts.get(p, 0) for p in sorted(reference)])
        p_value = stats.chisquare(observed).pvalue
        if p_value < 1e-6:
            raise _Wrong(f"in {draws} draws for n = 4 the 9 derangements appeared {observed.tolist()} times "
                         f"(chi-square p = {p_value:.1e} for equal frequencies)",
                         "some derangements are favoured: repairing fixed points by swapping with a neighbour "
                         "is biased; redraw the whole permutation instead")

    return _check("check_derangement", "subliminal.rng.derangement", fn, [
        _Case("no fixed points, n = 3..10", lambda fn: [fixed_points(n, 20)(fn) for n in range(3, 11)]),
        _Case("n = 2", n_two),
        _Case("n = 1 raises ValueError", n_one),
        _Case("uniform over the 9 derangements of 4", uniform),
    ])


def check_digit_head_shift(fn: Callable) -> bool:
    """``fn(params, start)`` -> (E,) the largest absolute change of any digit-head weight or bias
    (rows 0-9 of the last layer: ``W3[..., :10]``, ``b3[..., :10]``) between ``start`` and ``params``.

    Reference: :func:`subliminal.models.digit_head_shift`.
    """
    def case(n_aux, change, hidden=16, E=3, seed=0):
        def run(fn):
            start = _net(E, hidden, n_aux, seed)
            params = [p.clone() for p in start]
            g = _gen(seed + 7)
            if change == "hidden":
                params[2] = params[2] + _randn(g, *params[2].shape)
            elif change == "aux columns":
                params[4][..., N_DIGITS:] += 5 * _randn(g, *params[4][..., N_DIGITS:].shape)
                params[5][..., N_DIGITS:] += 5
            elif change == "digit bias":
                params[5][..., :N_DIGITS] += torch.linspace(0.1, 0.3, E, dtype=torch.float64)[:, None]
            else:  # everything
                params = [p + 0.01 * (k + 1) * _randn(g, *p.shape) for k, p in enumerate(params)]
            got = _array(_call(fn, [p.clone() for p in params], [p.clone() for p in start]))
            expected = models.digit_head_shift(params, start)
            hint = "the digit head is the first ten output columns of the last layer: W3[..., :10] and b3[..., :10]"
            if change == "aux columns":
                hint = ("only the auxiliary columns (10:) of the last layer changed, so the digit head did not: "
                        "slice the output axis, the last one, [..., :10]")
            elif change == "digit bias":
                hint = "only the digit biases b3[..., :10] changed: include the bias, not just W3"
            elif change == "hidden":
                hint = "only a hidden layer changed: the digit head is W3[..., :10], b3[..., :10] only"
            _compare(got, expected, hint, "one number per model: shape (E,); reduce over everything else")
        return run

    return _check("check_digit_head_shift", "subliminal.models.digit_head_shift", fn, [
        _Case("only the aux columns move", case(3, "aux columns")),
        _Case("only the digit biases move", case(3, "digit bias")),
        _Case("only a hidden layer moves", case(3, "hidden")),
        _Case("every layer moves, m=3", case(3, "all")),
        _Case("every layer moves, m=30, hidden=8", case(30, "all", hidden=8, E=2, seed=3)),
    ])


def check_mean_ci(fn: Callable) -> bool:
    """``fn(values)`` -> (mean, half-width) of the 95 % t-interval over N seeds:
    ``t_{0.975, N-1} * sd / sqrt(N)`` with the sample sd (ddof = 1); NaN half-width for N = 1.

    Reference: :func:`subliminal.results.mean_ci`.
    """
    def case(values):
        def run(fn):
            values_c = np.array(values, dtype=float)
            out = _call(fn, values_c.copy())
            try:
                mean, half = (float(v) for v in out)
            except (TypeError, ValueError) as error:
                raise _Wrong(f"expected a pair (mean, half-width), got {out!r}",
                             "return two numbers: the mean and the half-width of the interval") from error
            exp_mean, exp_half = results.mean_ci(values_c)
            _compare(mean, exp_mean, "the first number is the plain mean of the values")
            n = len(values_c)
            hint = "half-width = t_{0.975, N-1} * sd / sqrt(N) with scipy.stats.t.ppf(0.975, N - 1)"
            if n == 1:
                hint = "one value gives no interval: return NaN as the half-width (sd needs two values)"
            elif math.isfinite(half) and exp_half > 0:
                sem = values_c.std(ddof=1) / math.sqrt(n)
                if abs(half - 1.96 * sem) <= 1e-6 * exp_half:
                    hint = (f"you used the normal quantile 1.96; with N = {n} seeds the t quantile "
                            f"t_(0.975, {n - 1}) = {exp_half / sem:.3f} is needed: scipy.stats.t.ppf(0.975, N - 1)")
                elif abs(half - exp_half * math.sqrt((n - 1) / n)) <= 1e-6 * exp_half:
                    hint = "use the sample standard deviation, np.std(values, ddof=1), not ddof=0"
                elif abs(half - exp_half * math.sqrt(n)) <= 1e-6 * exp_half * math.sqrt(n):
                    hint = "divide the standard deviation by sqrt(N): the interval is for the mean"
            _compare(half, exp_half, hint)
        return run

    return _check("check_mean_ci", "subliminal.results.mean_ci", fn, [
        _Case("N = 10", case(np.linspace(0.2, 0.7, 10) ** 2)),
        _Case("N = 2", case([0.31, 0.55])),
        _Case("N = 3", case([0.48, 0.52, 0.61])),
        _Case("all values equal", case([0.1, 0.1, 0.1, 0.1])),
        _Case("N = 1", case([0.5])),
    ])


__all__ = ["check_imitation_loss", "check_derangement", "check_digit_head_shift", "check_mean_ci"]
