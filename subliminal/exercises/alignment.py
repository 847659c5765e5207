"""Checked exercises of Chapter 3, alignment over many steps: check_cosine, check_alignment_probe, check_fraction_positive, check_epoch_of_step."""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from .. import analysis, gradients, losses, models, results
from ..config import N_DIGITS
from ._checking import _Case, _array, _call, _check, _compare, _gen, _images, _net, _randn, _same


def check_cosine(fn: Callable) -> bool:
    """``fn(a, b)``: two gradients, lists of tensors with a leading ensemble axis E ->
    (E,) the cosine of each model's whole-network vectors; 0 where either vector is zero.

    Reference: :func:`subliminal.gradients.cosine`.
    """
    def case(kind, seed=0):
        def run(fn):
            g = _gen(seed)
            shapes = [(3, 4, 5), (3, 5), (3, 2)]
            a = [_randn(g, *s) for s in shapes]
            b = [_randn(g, *s) for s in shapes]
            if kind == "hand example":
                a, b = [torch.tensor([[1.0, 0.0, 0.0]], dtype=torch.float64)], [
                    torch.tensor([[1.0, 1.0, 0.0]], dtype=torch.float64)]
            elif kind == "scaled":
                a = [1e3 * t for t in a]
                b = [1e-3 * t for t in b]
            elif kind == "parallel":
                b = [torch.stack([2 * t[0], -t[1], t[2]]) for t in a]
            elif kind == "zero":
                for t in a:
                    t[1] = 0.0
            elif kind == "layers":  # per-layer cosines disagree with the whole-network one
                a[0], b[0] = 10 * a[0], 10 * a[0] + _randn(g, *shapes[0])
                b[1] = -a[1]
            got = _array(_call(fn, [t.clone() for t in a], [t.clone() for t in b]))
            expected = gradients.cosine(a, b).numpy()
            hint = "cos = <a, b> / (|a| |b|), with each model's tensors flattened into one vector"
            if got.shape == expected.shape and not _same(got, expected):
                per_layer = np.mean([gradients.cosine([x], [y]).numpy() for x, y in zip(a, b)], axis=0)
                if np.isnan(got).any() and not np.isnan(expected).any():
                    hint = ("a zero gradient has no direction: return 0 there instead of 0/0 = NaN "
                            "(e.g. torch.where(norms > 0, dot / norms, 0))")
                elif (np.abs(got).max() > 1 + 1e-6 or _same(got, gradients.flat_dot(a, b).numpy())
                      or (kind == "scaled" and not _same(got, expected))):
                    hint = ("not normalised: divide <a, b> by |a| |b|; a cosine lies in [-1, 1] and does not "
                            "change when a or b is scaled")
                elif _same(got, per_layer):
                    hint = ("you averaged per-tensor cosines; flatten all of a model's tensors into one "
                            "vector first (the whole network)")
            _compare(got, expected, hint, "one cosine per model: shape (E,); keep the leading axis, "
                                          "flatten the rest of every tensor")
        return run

    return _check("check_cosine", "subliminal.gradients.cosine", fn, [
        _Case("hand example (1/sqrt 2)", case("hand example")),
        _Case("3 models, 3 tensors", case("random")),
        _Case("scaled inputs", case("scaled", 1)),
        _Case("parallel and antiparallel", case("parallel", 2)),
        _Case("a zero gradient", case("zero", 3)),
        _Case("whole network, not per layer", case("layers", 4)),
    ])


def check_alignment_probe(fn: Callable) -> bool:
    """``fn(params, noise, teacher_logits, x, y)`` -> (E,) cos(g_d, g_t) per model, where g_d is the
    gradient of the aux-only distillation loss on ``noise`` (B, 784) against ``teacher_logits``
    (E, B, 10+m), and g_t the gradient of the digit cross-entropy on labelled images ``x``, ``y``,
    both at ``params`` and over the whole network.

    Reference: the package's parts: :func:`losses.softmax_kl`, :func:`losses.digit_cross_entropy`,
    :func:`gradients.cosine`.
    """
    def probe(params, noise, teacher, x, y, kl_slice=slice(N_DIGITS, None), swap=False):
        params = [p.detach().clone().requires_grad_(True) for p in params]
        student = models.forward(params, noise)[..., kl_slice]
        distill = losses.softmax_kl(teacher[..., kl_slice], student) if swap else \
            losses.softmax_kl(student, teacher[..., kl_slice])
        g_d = torch.autograd.grad(distill.sum(), params)
        g_t = torch.autograd.grad(losses.digit_cross_entropy(models.forward(params, x), y).sum(), params)
        return gradients.cosine(list(g_d), list(g_t)).detach().numpy()

    def case(E, seed):
        def run(fn):
            params = _net(E, 12, 3, seed)
            teacher_params = [p + 0.3 * _randn(_gen(seed + 1), *p.shape) for p in params]
            noise, x = _images(seed + 2, 16), _images(seed + 3, 16)
            y = torch.arange(16) % N_DIGITS
            teacher = models.forward(teacher_params, noise).detach()
            got = _array(_call(fn, [p.detach().clone() for p in params], noise.clone(), teacher.clone(),
                               x.clone(), y.clone()))
            expected = probe(params, noise, teacher, x, y)
            hint = ("g_d: gradient of KL(teacher aux || student aux) on the noise; g_t: gradient of the digit "
                    "cross-entropy on (x, y); both at params, one cosine per model over all six tensors")
            if got.shape == expected.shape and not _same(got, expected):
                if _same(got, probe(params, noise, teacher, x, y, slice(None))):
                    hint = (f"your g_d uses the KL over all 10 + m logits; the aux-only student's loss covers "
                            f"the auxiliary logits [..., {N_DIGITS}:] only")
                elif _same(got, probe(params, noise, teacher, x, y, swap=True)):
                    hint = "your g_d differentiates KL(student || teacher): the loss is KL(teacher || student)"
            _compare(got, expected, hint, "one cosine per model: shape (E,)")
        return run

    return _check("check_alignment_probe", "losses + gradients.cosine as in the training loop", fn, [
        _Case("one model", case(1, 0)),
        _Case("an ensemble of 3", case(3, 1)),
    ])


def check_fraction_positive(fn: Callable) -> bool:
    """``fn(cosines)``: per-step cosines (N, S), one row per seed -> (N,) the fraction of steps with
    cos > 0 (a cosine of exactly 0, e.g. from a zero gradient, is not positive).

    Reference: :attr:`subliminal.results.ConditionResult.frac_positive`.
    """
    def case(values):
        def run(fn):
            cos = np.asarray(values, dtype=float)
            got = _array(_call(fn, cos.copy()))
            expected = results.ConditionResult(accuracy=np.zeros(len(cos)), cosine=cos).frac_positive
            hint = "the mean over steps (axis 1) of cos > 0"
            if got.shape == expected.shape and _same(got, (cos >= 0).mean(axis=1)):
                hint = "a cosine of exactly 0 is not positive: use cos > 0, not >= 0"
            _compare(got, expected, hint, "one fraction per seed: shape (N,); average over the steps, axis 1")
        return run

    g = np.random.default_rng(0)
    return _check("check_fraction_positive", "results.ConditionResult.frac_positive", fn, [
        _Case("3 seeds x 50 steps", case(g.normal(0.005, 0.01, (3, 50)))),
        _Case("exact zeros", case([[0.0, 0.1, -0.1, 0.0], [0.0, 0.0, 0.0, 0.2]])),
        _Case("one seed", case([[0.3, -0.2, 0.1]])),
    ])


def check_epoch_of_step(fn: Callable) -> bool:
    """``fn(n_steps, per_epoch)`` -> (n_steps,) the 0-based epoch of every step (the last epoch may
    be shorter). Reference: :func:`subliminal.analysis.epoch_of_step`."""
    def case(n_steps, per_epoch):
        def run(fn):
            got = _array(_call(fn, n_steps, per_epoch))
            expected = analysis.epoch_of_step(n_steps, per_epoch)
            hint = "step s belongs to epoch s // per_epoch"
            if got.shape == expected.shape and _same(got, expected + 1):
                hint = "epochs count from 0 here, like steps: step 0 is in epoch 0"
            elif got.shape == expected.shape and _same(got, (np.arange(n_steps) + 1) // per_epoch):
                hint = f"step {per_epoch - 1} is the last step of epoch 0: use s // per_epoch for s = 0, 1, ..."
            _compare(got, expected, hint, "one epoch per step: shape (n_steps,)")
        return run

    return _check("check_epoch_of_step", "subliminal.analysis.epoch_of_step", fn, [
        _Case("295 steps, 59 per epoch", case(295, 59)),
        _Case("a shorter last epoch", case(140, 47)),
        _Case("one step per epoch", case(4, 1)),
    ])


__all__ = ["check_cosine", "check_alignment_probe", "check_fraction_positive", "check_epoch_of_step"]
