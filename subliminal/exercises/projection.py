"""Checked exercises of Chapter 4, projection: check_projection, check_partial_projection,
check_first_adam_step, check_chance_accuracy."""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from .. import analysis, gradients, mitigations
from ._checking import _Case, _Wrong, _array, _call, _check, _flat, _fmt, _gen, _grads_to_list, _net, _randn, _same


def _grads_like_net(E: int) -> list[torch.Tensor]:
    """Zero gradients shaped like a small network's parameters (hidden = 4, m = 3), leading axis E."""
    return [torch.zeros(E, *p.shape[1:], dtype=torch.float64) for p in _net(1, 4, 3)]


def _projection_inputs(seed: int):
    """Network-shaped g_d, g_t for four models whose cosines are +0.9, -0.5, +0.3 (disabled) and +0.3."""
    g = _gen(seed)
    like = _grads_like_net(4)
    g_t = [_randn(g, *t.shape) for t in like]
    noise = [_randn(g, *t.shape) for t in like]
    flat_t = torch.cat([t.reshape(4, -1) for t in g_t], 1)
    flat_n = torch.cat([t.reshape(4, -1) for t in noise], 1)
    flat_n = flat_n - (flat_n * flat_t).sum(1, keepdim=True) / (flat_t * flat_t).sum(1, keepdim=True) * flat_t
    unit_t = flat_t / flat_t.norm(dim=1, keepdim=True)
    unit_n = flat_n / flat_n.norm(dim=1, keepdim=True)
    target = torch.tensor([0.9, -0.5, 0.3, 0.3], dtype=torch.float64)[:, None]
    flat_d = 2.0 * (target * unit_t + (1 - target ** 2).sqrt() * unit_n)
    g_d, start = [], 0
    for t in g_t:
        size = t[0].numel()
        g_d.append(flat_d[:, start:start + size].reshape(t.shape))
        start += size
    enabled = torch.tensor([True, True, False, True])
    return g_d, g_t, enabled


def _projection_hint(got, g_d, g_t, enabled, tau, expected) -> str:
    cos = gradients.cosine(g_d, g_t)
    got_flat = [np.concatenate([x[e].reshape(-1) for x in got]) for e in range(len(cos))]
    for e in range(len(cos)):
        before = np.concatenate([_array(x[e]).reshape(-1) for x in g_d])
        after = np.concatenate([_array(x[e]).reshape(-1) for x in expected])
        mine = got_flat[e]
        if np.allclose(mine, after, rtol=1e-4, atol=1e-9):
            continue
        fires = bool(enabled[e]) and float(cos[e]) > tau
        changed = not np.allclose(mine, before, rtol=1e-6, atol=1e-12)
        if np.isnan(mine).any():
            return (f"model {e}: NaN. When g_t = 0 there is nothing to remove: guard the division by |g_t|^2 "
                    "(e.g. clamp it away from 0) so the coefficient is 0")
        if not bool(enabled[e]) and changed:
            return f"model {e} is not enabled (enabled[{e}] = False): leave its g_d exactly as it is"
        if bool(enabled[e]) and not fires and changed:
            return (f"model {e} has cos = {float(cos[e]):.3f}, not above tau = {tau}: the rule fires only when "
                    "cos(g_d, g_t) > tau. Did you ignore tau (or compare with 0)?")
        if fires and not changed:
            return (f"model {e} has cos = {float(cos[e]):.3f} > tau = {tau}: it must be projected"
                    + (" (a negative threshold also projects anti-aligned steps)" if float(cos[e]) <= 0 else ""))
        t_flat = np.concatenate([_array(x[e]).reshape(-1) for x in g_t])
        if fires and abs(mine @ t_flat) > 1e-6 * np.linalg.norm(mine) * np.linalg.norm(t_flat):
            return (f"model {e}: after projection <g_d, g_t> must be 0, yours is {mine @ t_flat:.3g}. The "
                    "coefficient is <g_d, g_t> / |g_t|^2 (squared norm), over the whole network of that model")
        return (f"model {e}: expected {_fmt(after)}, got {_fmt(mine)}; remove <g_d, g_t>/|g_t|^2 * g_t, "
                "computed per model over all its tensors")
    return "compare model by model with g_d - <g_d, g_t>/|g_t|^2 g_t"


def check_projection(fn: Callable) -> bool:
    """``fn(g_d, g_t, enabled, tau)``: gradients shaped like the network's parameters (a list of six
    tensors W1, b1, W2, b2, W3, b3, each with leading axis E), ``enabled``
    (E,) bool -> the new g_d: for every enabled model with cos(g_d, g_t) > tau,
    g_d - <g_d, g_t>/|g_t|^2 g_t; every other model unchanged.

    Reference: :func:`subliminal.mitigations.project_if_aligned` (its first output).
    """
    def case(kind, tau):
        def run(fn):
            if kind in ("hand example", "equal to tau"):  # the numbers sit in b1; every other entry is 0
                g_d, g_t = _grads_like_net(1), _grads_like_net(1)
                g_d[1][0, :2] = torch.tensor([3.0, 4.0] if kind == "hand example" else [2.0, 0.0])
                g_t[1][0, :2] = torch.tensor([1.0, 0.0])
                enabled = torch.tensor([True])
            elif kind == "zero g_t":
                g_d, g_t, enabled = _projection_inputs(5)
                for t in g_t:
                    t[3] = 0.0
            else:
                g_d, g_t, enabled = _projection_inputs(1)
            expected = mitigations.project_if_aligned(g_d, g_t, enabled, tau=tau)[0]
            got_raw = _call(fn, [t.clone() for t in g_d], [t.clone() for t in g_t], enabled.clone(), tau)
            got = _grads_to_list(got_raw, g_d)
            if not _same(np.concatenate([x.ravel() for x in got]), _flat(expected)):
                raise _Wrong(f"with tau = {tau}: expected {_fmt(_flat(expected))}, got "
                             f"{_fmt(np.concatenate([x.ravel() for x in got]))} (flattened).",
                             _projection_hint(got, g_d, g_t, enabled, tau, expected))
        return run

    return _check("check_projection", "subliminal.mitigations.project_if_aligned", fn, [
        _Case("hand example g_d=(3,4), g_t=(1,0)", case("hand example", 0.0)),
        _Case("4 models, tau = 0", case("ensemble", 0.0)),
        _Case("4 models, tau = 0.5", case("ensemble", 0.5)),
        _Case("4 models, tau = -0.6", case("ensemble", -0.6)),
        _Case("cos exactly equal to tau", case("equal to tau", 1.0)),
        _Case("a zero trait gradient, tau = -0.1", case("zero g_t", -0.1)),
    ])


def check_partial_projection(fn: Callable) -> bool:
    """``fn(g_d, g_t, enabled, tau, beta, layers)``: as :func:`check_projection`, but remove only the
    fraction ``beta`` of the component, and with ``layers="hidden"`` measure the cosine and project
    over W1, b1, W2, b2 only (the last layer of g_d stays exactly as it is).

    Reference: :func:`subliminal.mitigations.project_if_aligned`.
    """
    def case(beta, layers, seed, flip_last=False):
        def run(fn):
            params = _net(3, 6, 3, seed)
            g = _gen(seed + 11)
            g_t = [_randn(g, *p.shape) for p in params]
            g_d = [t * 0.3 + _randn(g, *t.shape) for t in g_t]
            if flip_last:  # the last layer dominates and points the other way
                g_d[4] = -50 * g_t[4]
            enabled = torch.tensor([True, True, False])
            expected, cos, fired = mitigations.project_if_aligned(g_d, g_t, enabled, 0.0, beta, layers)
            got = _grads_to_list(_call(fn, [t.clone() for t in g_d], [t.clone() for t in g_t], enabled.clone(),
                                       0.0, beta, layers), g_d)
            exp = [e.numpy() for e in expected]
            if all(_same(a, b) for a, b in zip(got, exp)):
                return
            hint = "new g_d = g_d - beta * <g_d, g_t>/|g_t|^2 * g_t over the chosen layers, where cos > tau"
            if layers == "hidden" and not _same(got[4], exp[4]) or layers == "hidden" and not _same(got[5], exp[5]):
                hint = "with layers='hidden' the last layer (tensors 4 and 5: W3, b3) of g_d must stay untouched"
            elif layers == "hidden" and flip_last:
                hint = ("with layers='hidden' the cosine that decides is the one over W1, b1, W2, b2 only; here "
                        "the last layer points the other way, so the whole-network cosine has the wrong sign")
            elif beta != 1.0:
                full = mitigations.project_if_aligned(g_d, g_t, enabled, 0.0, 1.0, layers)[0]
                if all(_same(a, b.numpy()) for a, b in zip(got, full)):
                    hint = f"beta = {beta}: remove only that fraction of the aligned component, not all of it"
            raise _Wrong(f"beta = {beta}, layers = {layers!r}: expected {_fmt(_flat(exp))}, got "
                         f"{_fmt(_flat(got))} (flattened).", hint)
        return run

    return _check("check_partial_projection", "subliminal.mitigations.project_if_aligned", fn, [
        _Case("beta = 1, all layers", case(1.0, "all", 0)),
        _Case("beta = 0.5, all layers", case(0.5, "all", 1)),
        _Case("beta = 0, nothing removed", case(0.0, "all", 2)),
        _Case("hidden layers only", case(1.0, "hidden", 3)),
        _Case("hidden layers, last layer anti-aligned", case(1.0, "hidden", 4, flip_last=True)),
    ])


def check_first_adam_step(fn: Callable) -> bool:
    """``fn(grads, lr)``: ``grads`` a list of gradient tensors (leading axis E) -> the list of updates
    Δθ = θ_new - θ_old that Adam (default betas, eps = 1e-8) applies at its *first* step from a fresh
    state: after bias correction m̂ = g and v̂ = g², so Δθ = -lr g / (|g| + eps), about -lr sign(g).

    The point of the exercise: a gradient made orthogonal to g_t does not give a step orthogonal to g_t.

    Reference: ``torch.optim.Adam`` itself, one step on a copy of the parameters.
    """
    def adam_update(grads, lr):
        params = [torch.zeros_like(g, requires_grad=True) for g in grads]
        opt = torch.optim.Adam(params, lr=lr)
        for p, g in zip(params, grads):
            p.grad = g.clone()
        opt.step()
        return [p.detach() for p in params]

    def case(seed, lr, tiny=False):
        def run(fn):
            g = _gen(seed)
            grads = [_randn(g, 3, 5, 4), _randn(g, 3, 4)]
            if tiny:  # entries near eps: the step is no longer lr in size
                grads[1] = grads[1] * 1e-8
            expected = adam_update(grads, lr)
            got = _grads_to_list(_call(fn, [t.clone() for t in grads], lr), grads)
            exp = [e.numpy() for e in expected]
            if all(_same(a, b, scale=lr) for a, b in zip(got, exp)):
                return
            flat_g, flat_got = _flat(grads), _flat(got)
            hint = "Δθ = -lr * m̂ / (sqrt(v̂) + eps) with m̂ = g and v̂ = g^2 at the first step"
            if _same(flat_got, -lr * flat_g, scale=lr * np.abs(flat_g).max()):
                hint = "that is the SGD step -lr * g; Adam divides by sqrt(v̂) + eps, per coordinate"
            elif _same(flat_got, lr * flat_g / (np.abs(flat_g) + 1e-8), scale=lr):
                hint = "the sign: the update goes against the gradient"
            elif tiny and _same(flat_got, -lr * np.sign(flat_g), scale=lr):
                hint = "keep eps: where |g| is comparable to 1e-8 the step is smaller than lr"
            raise _Wrong(f"lr = {lr}: expected {_fmt(_flat(exp))}, got {_fmt(flat_got)} (flattened).", hint)
        return run

    return _check("check_first_adam_step", "torch.optim.Adam (one step from a fresh state)", fn, [
        _Case("lr = 3e-4", case(0, 3e-4)),
        _Case("lr = 0.1", case(1, 0.1)),
        _Case("entries near eps", case(2, 1e-3, tiny=True)),
    ])


def check_chance_accuracy(fn: Callable) -> bool:
    """``fn(label_counts, predicted_counts)``: two digit histograms (10,) -> the accuracy (a fraction) of a
    predictor that ignores its input but predicts each digit as often as ``predicted_counts``.

    Reference: :func:`subliminal.analysis.chance_accuracy`.
    """
    mnist_test = np.array([980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])  # MNIST test digits

    def case(predicted):
        def run(fn):
            predicted_a = np.asarray(predicted, dtype=float)
            expected = float(analysis.chance_accuracy(mnist_test, predicted_a))
            got = _array(_call(fn, mnist_test.copy(), predicted_a.copy()))
            if got.shape == () and _same(got, expected):
                return
            hint = "the sum over digits k of (share of predictions that are k) x (share of test images that are k)"
            if got.shape == () and abs(float(got) - 0.1) < 1e-9:
                hint = "10 % is chance only for a predictor that spreads its answers uniformly; use both histograms"
            elif got.shape == () and abs(float(got) - 100 * expected) < 1e-6:
                hint = "return a fraction, not a percentage"
            raise _Wrong(f"predicted counts {predicted_a.astype(int).tolist()}: expected {expected:.5f}, got "
                         f"{_fmt(got)}.", hint)
        return run

    return _check("check_chance_accuracy", "subliminal.analysis.chance_accuracy", fn, [
        _Case("always digit 1", case([0, 10_000, 0, 0, 0, 0, 0, 0, 0, 0])),
        _Case("uniform answers", case([1000] * 10)),
        _Case("mostly digit 5", case([100, 0, 0, 300, 0, 9000, 0, 0, 600, 0])),
    ])


__all__ = ["check_projection", "check_partial_projection", "check_first_adam_step", "check_chance_accuracy"]
