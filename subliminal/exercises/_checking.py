"""The machinery of the checked exercises: cases, comparisons with tolerances, messages, inputs."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from .. import models, rng
from ..config import INPUT_DIM, N_DIGITS

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
    return torch.rand(n, INPUT_DIM, generator=_gen(seed), dtype=torch.float64) * 2 - 1
