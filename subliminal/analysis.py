"""Statistics the chapters report: accuracy tables, alignment summaries, correlations.

Everything here works on plain numpy arrays or on the result objects of
:mod:`subliminal.results` and :mod:`subliminal.theory`; nothing trains a model.
Intervals come from :func:`subliminal.results.mean_ci` (Student's t), correlations
from :mod:`scipy.stats`.

Shapes follow :class:`~subliminal.experiments.ConditionResult`: per-seed
arrays are (N,), per-step arrays are (N, S) with one row per seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
from scipy import stats

from .config import Config
from .results import mean_ci, summary_table  # the one interval and the one table, re-exported for the chapters

# --------------------------------------------------------------------------- steps and epochs


def steps_per_epoch(config: Config) -> int:
    """Optimiser steps of one student epoch: ceil(n_noise / student_batch_size) (59 at paper scale)."""
    return -(-config.n_noise // config.student_batch_size)


def epoch_of_step(n_steps: int, per_epoch: int) -> np.ndarray:
    """(S,) the epoch (0-based) each step belongs to."""
    if per_epoch < 1:
        raise ValueError(f"per_epoch must be at least 1; got {per_epoch}")
    return np.arange(n_steps) // per_epoch


def epoch_means(values: np.ndarray, per_epoch: int) -> np.ndarray:
    """Mean of per-step ``values`` (N, S) within each epoch -> (N, n_epochs)."""
    values = np.atleast_2d(np.asarray(values, dtype=float))
    epochs = epoch_of_step(values.shape[1], per_epoch)
    return np.stack([values[:, epochs == e].mean(axis=1) for e in range(epochs.max() + 1)], axis=1)


@dataclass(frozen=True)
class EarlyLate:
    """Per-seed means (N,) of a per-step quantity over the first ``early_steps`` steps and the rest."""

    early: np.ndarray
    late: np.ndarray
    early_steps: int

    @property
    def difference(self) -> np.ndarray:
        """(N,) early minus late."""
        return self.early - self.late


def early_late(values: np.ndarray, early_steps: int) -> EarlyLate:
    """Split per-step ``values`` (N, S) into the first ``early_steps`` steps and the remaining ones.

    With ``early_steps = steps_per_epoch(config)`` this compares the first epoch
    with all later epochs.
    """
    values = np.atleast_2d(np.asarray(values, dtype=float))
    if not 0 < early_steps < values.shape[1]:
        raise ValueError(f"early_steps must be between 1 and {values.shape[1] - 1}; got {early_steps}")
    return EarlyLate(values[:, :early_steps].mean(axis=1), values[:, early_steps:].mean(axis=1), early_steps)


def moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average along the last axis, same length (the window shrinks at the ends)."""
    values = np.asarray(values, dtype=float)
    if window < 1:
        raise ValueError(f"window must be at least 1; got {window}")
    if window == 1:
        return values.copy()
    kernel = np.ones(window)
    pad = window // 2
    shape = values.shape
    rows = values.reshape(-1, shape[-1])
    out = np.empty_like(rows)
    counts = np.convolve(np.ones(shape[-1]), kernel, mode="full")[pad: pad + shape[-1]]
    for i, row in enumerate(rows):
        out[i] = np.convolve(row, kernel, mode="full")[pad: pad + shape[-1]] / counts
    return out.reshape(shape)


# --------------------------------------------------------------------------- intervals and correlation


@dataclass(frozen=True)
class Correlation:
    """Pearson ``r`` with its 95 % interval [``low``, ``high``] and Spearman ``rho`` over ``n`` pairs."""

    r: float
    low: float
    high: float
    rho: float
    n: int


def correlation(x: Sequence[float], y: Sequence[float]) -> Correlation:
    """Pearson and Spearman correlation of paired samples (scipy.stats), with the Fisher-z 95 %
    interval for Pearson's r (NaN with fewer than 4 pairs); r is NaN when either sample is constant."""
    x, y = np.asarray(x, dtype=float).ravel(), np.asarray(y, dtype=float).ravel()
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same length; got {len(x)} and {len(y)}")
    if len(x) < 2:
        raise ValueError("correlation needs at least two pairs")
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return Correlation(r=float("nan"), low=float("nan"), high=float("nan"), rho=float("nan"), n=len(x))
    pearson = stats.pearsonr(x, y)
    low = high = float("nan")
    if len(x) > 3:
        interval = pearson.confidence_interval(0.95)
        low, high = float(interval.low), float(interval.high)
    return Correlation(r=float(pearson.statistic), low=low, high=high, rho=float(stats.spearmanr(x, y).statistic),
                       n=len(x))


def loglog_slope(x: Sequence[float], y: Sequence[float]) -> float:
    """Least-squares slope of log|y| against log x (the power p in y ~ x^p)."""
    x, y = np.asarray(x, dtype=float), np.abs(np.asarray(y, dtype=float))
    keep = (x > 0) & (y > 0)
    if keep.sum() < 2:
        raise ValueError("loglog_slope needs at least two positive pairs")
    return float(np.polyfit(np.log(x[keep]), np.log(y[keep]), 1)[0])


# --------------------------------------------------------------------------- experiment summaries


def head_shift_max(result, conditions: Iterable[str] = ("student_aux",)) -> float:
    """Largest absolute change of any digit-head weight or bias over the seeds of ``conditions``."""
    return float(max(np.max(result[name].digit_head_shift) for name in conditions))


@dataclass(frozen=True)
class AlignmentStats:
    """Alignment of one condition, per seed (N,) except where noted.

    ``frac_positive``: fraction of steps with cos(g_d, g_t) > 0; ``mean_cosine``;
    ``early`` / ``late``: mean cosine in the first epoch and in the later ones;
    ``accuracy``: final digit accuracy (fraction).
    """

    frac_positive: np.ndarray
    mean_cosine: np.ndarray
    early: np.ndarray
    late: np.ndarray
    accuracy: np.ndarray


def alignment_stats(result, condition: str = "student_aux") -> AlignmentStats:
    """Per-seed alignment statistics of a student condition (needs a run with alignment tracking)."""
    res = result[condition]
    if res.cosine is None:
        raise ValueError(f"condition {condition!r} has no cosine record (run with track_alignment=True)")
    cos = np.asarray(res.cosine, dtype=float)
    split = early_late(cos, min(steps_per_epoch(result.config), cos.shape[1] - 1))
    return AlignmentStats(frac_positive=res.frac_positive, mean_cosine=res.mean_cosine,
                          early=split.early, late=split.late, accuracy=np.asarray(res.accuracy, dtype=float))


def alignment_table(result, conditions: Iterable[str] = ("student_aux", "student_all", "cross_aux", "cross_all")):
    """A DataFrame, one row per condition: % steps positive, mean cosine (first epoch, later), accuracy (%).

    Values are means over seeds; the percentages pool all steps of all seeds.
    """
    import pandas as pd

    rows = []
    for name in conditions:
        s = alignment_stats(result, name)
        rows.append({"condition": name, "steps positive (%)": 100.0 * float(s.frac_positive.mean()),
                     "mean cosine": float(s.mean_cosine.mean()), "first epoch": float(s.early.mean()),
                     "later epochs": float(s.late.mean()), "accuracy (%)": 100.0 * float(s.accuracy.mean())})
    return pd.DataFrame(rows).set_index("condition")


def seed_correlation(result, condition: str = "student_aux", x: str = "mean_cosine") -> Correlation:
    """Across seeds: correlation of an alignment statistic (``x``, a field of :class:`AlignmentStats`)
    with the final digit accuracy."""
    s = alignment_stats(result, condition)
    return correlation(getattr(s, x), s.accuracy)


def gain_fraction_by(result, condition: str, step: int) -> float:
    """Share of the final accuracy gain (over the first curve point) reached at ``step``.

    Uses the accuracy curves (mean over seeds); ``step`` is rounded to the
    nearest recorded curve step.
    """
    steps = np.asarray(result.curve_steps)
    curve = np.asarray(result[condition].curve_acc, dtype=float).mean(axis=0)
    i = int(np.argmin(np.abs(steps - step)))
    total = curve[-1] - curve[0]
    return float((curve[i] - curve[0]) / total) if total != 0 else float("nan")


def epoch_gains(result, condition: str, per_epoch: int | None = None) -> np.ndarray:
    """(N, n_epochs) digit accuracy gained in each epoch (fraction), per seed.

    Read off the accuracy curves, linearly interpolated at the epoch
    boundaries (curve points need not fall on them).
    """
    per_epoch = per_epoch or steps_per_epoch(result.config)
    steps = np.asarray(result.curve_steps, dtype=float)
    curves = np.asarray(result[condition].curve_acc, dtype=float)
    n_steps = int(steps[-1])
    bounds = np.append(np.arange(0, n_steps, per_epoch), n_steps).astype(float)
    at = np.stack([np.interp(bounds, steps, curve) for curve in curves])
    return np.diff(at, axis=1)


# --------------------------------------------------------------------------- single-step checks


def single_step_table(checks: Sequence):
    """A DataFrame of :class:`~subliminal.theory.SingleStep` results (one row per check)."""
    import pandas as pd

    rows = [{"init": c.init, "teacher lr ε": c.teacher_lr, "<Δθ_T, Δθ_S>": c.inner, "cos": c.cos,
             "Gauss-Newton cos": c.gn_cos, "Gauss-Newton rel. error": c.gn_rel_error} for c in checks]
    return pd.DataFrame(rows)


def linear_ratio(check, index: int = 0) -> float:
    """Measured / first-order-predicted change of the trait loss at ``check.student_lrs[index]``."""
    return float(check.actual_change[index] / check.predicted_change[index])


def breakdown_lr(check, tolerance: float = 0.1) -> float:
    """Smallest student learning rate at which measured and predicted trait-loss change differ by
    more than ``tolerance`` (relative); ``inf`` if they agree on the whole grid."""
    ratio = np.asarray(check.actual_change) / np.asarray(check.predicted_change)
    off = np.flatnonzero(np.abs(ratio - 1.0) > tolerance)
    # ignore disagreements at the very smallest rates, where float32 rounding dominates
    first_good = np.flatnonzero(np.abs(ratio - 1.0) <= tolerance)
    if len(first_good):
        off = off[off > first_good[0]]
    return float(np.asarray(check.student_lrs)[off[0]]) if len(off) else float("inf")


__all__ = [
    "steps_per_epoch", "epoch_of_step", "epoch_means", "EarlyLate", "early_late", "moving_average",
    "mean_ci", "summary_table", "Correlation", "correlation", "loglog_slope", "head_shift_max",
    "AlignmentStats", "alignment_stats", "alignment_table", "seed_correlation", "gain_fraction_by", "epoch_gains",
    "single_step_table", "linear_ratio", "breakdown_lr",
]
