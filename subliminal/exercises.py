"""Checked exercises: write a function, and let the package check it against its own code.

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
4 projection           check_projection, check_partial_projection
5 liminal training     check_liminal_schedule, check_liminal_anchor
6 going further        check_steps_per_epoch, check_paired_difference
=====================  =======================================================
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from . import analysis, gradients, losses, mitigations, models, results, rng, theory
from .config import N_DIGITS, Config

RTOL = 1e-4


# --------------------------------------------------------------------------- machinery


class _Wrong(Exception):
    """A case failed: ``detail`` says how, ``hint`` what to look at."""

    def __init__(self, detail: str, hint: str = ""):
        super().__init__(detail)
        self.detail, self.hint = detail, hint


class _NotAttempted(Exception):
    pass


@dataclass
class _Case:
    name: str
    run: Callable[[Callable], None]  # raises _Wrong on a wrong answer


def _call(fn: Callable, *args, **kwargs):
    """fn(*args) with the reader's exceptions turned into a failed case."""
    try:
        return fn(*args, **kwargs)
    except NotImplementedError as error:
        raise _NotAttempted from error
    except Exception as error:  # noqa: BLE001 - any error of the reader's code is a failed case
        raise _Wrong(f"your function raised {type(error).__name__}: {error}",
                     "read the error message; the arguments are described in the exercise") from error


def _say(text: str, indent: str = "") -> None:
    """Print ``text`` wrapped to 96 columns (outputs in the book do not scroll sideways)."""
    print(textwrap.fill(text, width=96, initial_indent=indent, subsequent_indent=indent + "  ",
                        break_long_words=False, break_on_hyphens=False))


def _check(title: str, reference: str, fn: Callable, cases: Sequence[_Case]) -> bool:
    if not callable(fn):
        raise TypeError(f"{title} needs your function itself, e.g. {title}(my_function); got {type(fn).__name__}")
    name = getattr(fn, "__name__", "your function")
    for case in cases:
        try:
            case.run(fn)
        except _NotAttempted:
            _say(f"{title}: {name} is not written yet (it raises NotImplementedError). "
                 "Replace `raise NotImplementedError` with your code and run the cell again.")
            return False
        except _Wrong as wrong:
            _say(f"✗ {title}: case '{case.name}' failed.")
            _say(wrong.detail, "  ")
            if wrong.hint:
                _say(f"Hint: {wrong.hint}", "  ")
            return False
    _say(f"✓ {title}: {name} agrees with {reference} on all {len(cases)} cases "
         f"({'; '.join(c.name for c in cases)}).")
    return True


def _array(value, what: str = "your answer") -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().double().numpy()
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError) as error:
        raise _Wrong(f"{what} is not an array of numbers ({type(value).__name__})",
                     "return a tensor or array of numbers") from error


def _fmt(values) -> str:
    values = np.asarray(values, dtype=float)
    return np.array2string(values.ravel()[:8] if values.size > 8 else values, precision=5,
                           suppress_small=False, max_line_width=120) + (" ..." if values.size > 8 else "")


def _same(got, expected, scale: float | None = None) -> bool:
    got, expected = np.asarray(got, dtype=float), np.asarray(expected, dtype=float)
    if got.shape != expected.shape:
        return False
    if not np.array_equal(np.isnan(got), np.isnan(expected)):
        return False
    keep = ~np.isnan(expected)
    scale = float(np.max(np.abs(expected[keep]), initial=0.0)) if scale is None else scale
    return bool(np.all(np.abs(got[keep] - expected[keep]) <= RTOL * max(scale, 1e-300)))


def _compare(got, expected, hint: str, shape_hint: str = "", scale: float | None = None) -> None:
    """Raise _Wrong unless ``got`` matches ``expected``; the message shows both."""
    got_a, exp_a = _array(got), _array(expected, "expected")
    if got_a.shape != exp_a.shape:
        raise _Wrong(f"expected shape {exp_a.shape}, got shape {got_a.shape}.",
                     shape_hint or "check which axes you keep and which you reduce")
    if not _same(got_a, exp_a, scale):
        raise _Wrong(f"expected {_fmt(exp_a)}, got {_fmt(got_a)}.", hint)


def _ratio(got, expected) -> float | None:
    """The constant c with got = c * expected, if there is one (else None)."""
    got, expected = np.asarray(got, dtype=float).ravel(), np.asarray(expected, dtype=float).ravel()
    if got.shape != expected.shape or not np.all(np.isfinite(got)):
        return None
    big = np.abs(expected) > 1e-8 * np.abs(expected).max(initial=0.0)
    if not big.any():
        return None
    c = got[big] / expected[big]
    return float(c.mean()) if np.allclose(c, c.mean(), rtol=1e-3) else None


def _grads_to_list(value, like: Sequence[torch.Tensor], what: str = "your function") -> list[np.ndarray]:
    if isinstance(value, torch.Tensor) or not isinstance(value, (list, tuple)):
        raise _Wrong(f"{what} returned a {type(value).__name__}, not a list of tensors",
                     f"return a list with one tensor per parameter tensor ({len(like)} of them), "
                     "shaped like the inputs")
    if len(value) != len(like):
        raise _Wrong(f"{what} returned {len(value)} tensors; expected {len(like)} (one per parameter tensor)",
                     "keep every tensor of the list, in order")
    out = []
    for i, (v, ref) in enumerate(zip(value, like)):
        a = _array(v)
        if a.shape != tuple(ref.shape):
            raise _Wrong(f"tensor {i} has shape {a.shape}; expected {tuple(ref.shape)}",
                         "the answer must be shaped like the inputs, leading ensemble axis E included")
        out.append(a)
    return out


def _flat(grads) -> np.ndarray:
    return np.concatenate([_array(g).reshape(-1) for g in grads])


def _gen(seed: int) -> torch.Generator:
    return rng.generator(seed, "exercises")


def _randn(gen: torch.Generator, *shape) -> torch.Tensor:
    return torch.randn(*shape, generator=gen, dtype=torch.float64)


def _net(E: int = 2, hidden: int = 12, n_aux: int = 3, seed: int = 0) -> models.Params:
    """A small float64 ensemble with the package's architecture and initialisation."""
    gens = [rng.generator(seed, "exercise-net", k) for k in range(E)]
    params = [p.double() for p in models.init_params(gens, hidden, N_DIGITS + n_aux)]
    g = _gen(seed + 100)
    return [p + 0.1 * _randn(g, *p.shape) for p in params]  # nonzero biases, broken symmetry


def _images(seed: int, n: int) -> torch.Tensor:
    return torch.rand(n, 784, generator=_gen(seed), dtype=torch.float64) * 2 - 1


# =========================================================================== chapter 1


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


# =========================================================================== chapter 2


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


# =========================================================================== chapter 3


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


# =========================================================================== chapter 4


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


# =========================================================================== chapter 5


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


# =========================================================================== chapter 6


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


ALL_CHECKS: dict[str, Callable[[Callable], bool]] = {
    name: obj for name, obj in globals().items() if name.startswith("check_") and callable(obj)
}

__all__ = [*ALL_CHECKS, "ALL_CHECKS"]
