"""Checked exercises of Chapter 2, the single step: check_softmax_hessian, check_gauss_newton_product, check_first_order_change."""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch

from .. import losses, models, theory
from ..config import N_DIGITS
from ._checking import _Case, _Wrong, _array, _call, _check, _compare, _flat, _fmt, _gen, _grads_to_list, _images, _net, _randn, _ratio, _same


def check_softmax_hessian(fn: Callable) -> bool:
    """``fn(z)``: logits (K,) -> H (K, K), the Jacobian of softmax at z, which is also the Hessian of
    the KL imitation loss in the student's logits: H = diag(p) - p p^T.

    Reference: ``torch.autograd.functional.jacobian`` of ``torch.softmax`` (the definition of H).
    """
    def case(z):
        def run(fn):
            z_t = torch.tensor(z, dtype=torch.float64)
            got = _array(_call(fn, z_t.clone()))
            expected = torch.autograd.functional.jacobian(lambda v: torch.softmax(v, -1), z_t).numpy()
            hint = "H = diag(p) - p p^T with p = softmax(z) (not z itself)"
            k = len(z)
            if got.shape == (k, k) and not _same(got, expected):
                if np.abs(got @ np.ones(k)).max() > 1e-6 * np.abs(expected).max():
                    hint = ("H @ ones must be 0: adding a constant to every logit leaves the softmax unchanged. "
                            "diag(p) alone (or the identity) misses the - p p^T term")
                elif not np.allclose(got, got.T, atol=1e-9):
                    hint = "H is symmetric: diag(p) - outer(p, p)"
            _compare(got, expected, hint, f"H is K x K = {k} x {k} for K = {k} logits")
        return run

    return _check("check_softmax_hessian", "the Jacobian of torch.softmax", fn, [
        _Case("z = (1, 0, -1)", case([1.0, 0.0, -1.0])),
        _Case("equal logits", case([0.3, 0.3, 0.3, 0.3])),
        _Case("K = 2", case([2.0, -1.0])),
        _Case("nearly one-hot", case([12.0, 0.0, -3.0])),
    ])


def check_gauss_newton_product(fn: Callable) -> bool:
    """``fn(params, x, v, outputs)``: one model's parameters (E = 1) and a direction ``v`` shaped like
    them, inputs x (B, 784), ``outputs`` "aux" or "all" -> E_x[J^T H J] v, a list shaped like params.

    J: Jacobian of the imitated logits; H = diag(p) - p p^T at the model's own softmax; the
    expectation is the mean over the B inputs. Reference: :func:`subliminal.theory.gauss_newton_product`.
    """
    def case(kind, outputs="aux", B=6, hidden=10, seed=0):
        def run(fn):
            params = _net(1, hidden, 3, seed)
            x = _images(seed, B)
            g = _gen(seed + 1)
            v = [_randn(g, *p.shape) for p in params]
            if kind == "shift":  # adds the same constant to every imitated logit
                v = [torch.zeros_like(p) for p in params]
                v[5][..., N_DIGITS if outputs == "aux" else 0:] = 1.0
            expected = theory.gauss_newton_product(params, x, v, outputs)
            scale = float(np.abs(_flat(theory.gauss_newton_product(
                params, x, [_randn(g, *p.shape) for p in params], outputs))).max())
            got_raw = _call(fn, [p.clone() for p in params], x.clone(), [t.clone() for t in v], outputs)
            got = _flat(_grads_to_list(got_raw, params))
            exp = _flat(expected)
            hint = ("compute J v (how the imitated logits move along v), multiply by H = diag(p) - p p^T "
                    "per input, pull back with J^T, and average over the inputs")
            if kind == "shift" and not _same(got, exp, scale):
                hint = ("v adds the same constant to every imitated logit, which leaves the softmax unchanged, so "
                        "J^T H J v must be 0. Yours is not: H must annihilate the all-ones vector "
                        "(H = diag(p) - p p^T; H = I or diag(p) alone does not)")
            elif (c := _ratio(got, exp)) is not None and not math.isclose(c, 1.0, rel_tol=1e-3):
                hint = (f"your answer is {c:.4g} times the expected one"
                        + (f": B = {B} inputs, so take the mean over the batch, not the sum" if
                           math.isclose(c, B, rel_tol=1e-3) else
                           f": 1/B = {1 / B:.4g}, you divided by the batch size twice" if
                           math.isclose(c, 1 / B, rel_tol=1e-3) else ""))
            elif outputs == "all":
                hint = ("with outputs='all' J covers all 10 + m logits, and H is the softmax Jacobian over "
                        "all of them")
            if not _same(got, exp, scale):
                raise _Wrong(f"expected {_fmt(exp)}, got {_fmt(got)} (flattened).", hint)
        return run

    return _check("check_gauss_newton_product", "subliminal.theory.gauss_newton_product", fn, [
        _Case("v shifts every aux logit equally", case("shift")),
        _Case("random v, aux logits", case("random")),
        _Case("random v, all logits", case("random", "all", seed=2)),
        _Case("one input", case("random", B=1, seed=3)),
    ])


def check_first_order_change(fn: Callable) -> bool:
    """``fn(teacher_step, student_step, alphas)``: two parameter-shaped lists (E = 1) and step sizes
    alphas (L,) -> (L,) the first-order change of the teacher's loss L_T when the student moves by
    alpha * student_step, where teacher_step = -grad L_T.

    Reference: the directional derivative of the package's digit loss
    (:func:`subliminal.losses.digit_cross_entropy`) along the student step, by forward-mode autodiff.
    """
    def case(kind, alphas, seed=0):
        def run(fn):
            params = _net(1, 10, 3, seed)
            x = _images(seed + 5, 8)
            y = torch.arange(8) % N_DIGITS

            def trait_loss(*flat):
                return losses.digit_cross_entropy(models.forward(list(flat), x), y).sum()

            grad = torch.autograd.grad(trait_loss(*[p.requires_grad_(True) for p in params]), params)
            params = [p.detach() for p in params]
            teacher_step = [-gr for gr in grad]
            g = _gen(seed + 9)
            if kind == "same direction":
                student_step = [0.5 * t for t in teacher_step]
            elif kind == "opposite":
                student_step = [-2.0 * t for t in teacher_step]
            else:
                student_step = [t + _randn(g, *t.shape) for t in teacher_step]
            _, slope = torch.func.jvp(trait_loss, tuple(params), tuple(student_step))
            alphas_a = np.asarray(alphas, dtype=float)
            expected = alphas_a * float(slope)
            got = _array(_call(fn, [t.clone() for t in teacher_step], [s.clone() for s in student_step],
                               alphas_a.copy()))
            hint = "the first-order change is alpha * <grad L_T, student_step> = -alpha * <teacher_step, student_step>"
            if got.shape == expected.shape and not _same(got, expected):
                if _same(got, -expected):
                    hint = ("wrong sign: teacher_step = -grad L_T, so the change is -alpha * <teacher_step, "
                            "student_step>; an aligned student step lowers L_T")
                elif (c := _ratio(got, expected)) is not None:
                    hint = (f"your answer is {c:.4g} times the expected one: use the inner product "
                            "(not the cosine) of the whole flattened steps, times alpha")
            _compare(got, expected, hint, "one change per step size: shape (L,) like alphas")
        return run

    return _check("check_first_order_change", "the directional derivative of losses.digit_cross_entropy", fn, [
        _Case("student step along the teacher's", case("same direction", [1e-3, 0.1, 1.0])),
        _Case("random student step", case("random", [0.0, 0.01, 10.0], seed=1)),
        _Case("opposite student step", case("opposite", [1.0], seed=2)),
    ])


__all__ = ["check_softmax_hessian", "check_gauss_newton_product", "check_first_order_change"]
