"""Statistics the chapters report: accuracy tables, alignment summaries, correlations.

Everything here works on plain numpy arrays or on the result objects of
:mod:`subliminal.results`; nothing trains a model. The single-step theorem's readings
(first-order ratio, breakdown rate, table) live with the check, in :mod:`subliminal.theory`.
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

from .conditions import IMITATION_CONDITIONS
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
    """Mean of per-step ``values`` (N, S) within each epoch -> (N, n_epochs); NaN steps (not measured) are left out."""
    values = np.atleast_2d(np.asarray(values, dtype=float))
    epochs = epoch_of_step(values.shape[1], per_epoch)
    return np.stack([np.nanmean(values[:, epochs == e], axis=1) for e in range(epochs.max() + 1)], axis=1)


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
    with all later epochs. Steps that were not measured (NaN) are left out of the means.
    """
    values = np.atleast_2d(np.asarray(values, dtype=float))
    if not 0 < early_steps < values.shape[1]:
        raise ValueError(f"early_steps must be between 1 and {values.shape[1] - 1}; got {early_steps}")
    return EarlyLate(np.nanmean(values[:, :early_steps], axis=1), np.nanmean(values[:, early_steps:], axis=1),
                     early_steps)


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


def within_epoch_correlation(x: np.ndarray, y: np.ndarray) -> Correlation:
    """Correlation of per-seed, per-epoch values ``x`` and ``y`` (N, n_epochs) after removing each epoch's
    mean over seeds: whether a seed that is more aligned *in an epoch* also gains more *in that epoch*,
    without the common trend over time that makes both fall together.

    Removing E epoch means costs E degrees of freedom, so the Fisher-z interval uses
    n_eff = N*E - E pairs (NaN when n_eff <= 3). It still treats a seed's epochs as independent;
    where they are correlated the interval is too narrow, so read it as a lower bound on the uncertainty.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 2:
        raise ValueError(f"x and y must both be (seeds, epochs); got {x.shape} and {y.shape}")
    pooled = correlation((x - x.mean(axis=0)).ravel(), (y - y.mean(axis=0)).ravel())
    n_eff = x.size - x.shape[1]
    low = high = float("nan")
    if n_eff > 3 and np.isfinite(pooled.r) and abs(pooled.r) < 1:
        half = stats.norm.ppf(0.975) / np.sqrt(n_eff - 3)
        low, high = float(np.tanh(np.arctanh(pooled.r) - half)), float(np.tanh(np.arctanh(pooled.r) + half))
    return Correlation(r=pooled.r, low=low, high=high, rho=pooled.rho, n=n_eff)


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


def alignment_table(result, conditions: Iterable[str] = IMITATION_CONDITIONS):
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


# --------------------------------------------------------------------------- paired comparisons and verdicts


@dataclass(frozen=True)
class Comparison:
    """Paired difference ``a - b`` over seeds: mean, 95 % t-interval half-width, seeds, and the verdict
    ``"higher"`` / ``"lower"`` (the interval excludes 0) or ``"not shown to differ"``."""

    mean: float
    half: float
    n: int
    verdict: str

    @property
    def low(self) -> float:
        return self.mean - self.half

    @property
    def high(self) -> float:
        return self.mean + self.half


def verdict(mean: float, half: float) -> str:
    """"higher" / "lower" when the interval mean ± half excludes 0, else "not shown to differ"
    (also for an undefined interval, e.g. one seed)."""
    if not np.isfinite(half):
        return "not shown to differ"
    if mean - half > 0:
        return "higher"
    if mean + half < 0:
        return "lower"
    return "not shown to differ"


def paired_difference(a: Sequence[float], b: Sequence[float], confidence: float = 0.95) -> Comparison:
    """Paired difference of per-seed values ``a`` and ``b`` (same seeds, same order): mean_ci of a - b."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"a paired difference needs values of the same seeds; got shapes {a.shape} and {b.shape}")
    mean, half = mean_ci(a - b, confidence)
    return Comparison(mean, half, int(a.size), verdict(mean, half))


def epoch_sums(values: np.ndarray, per_epoch: int) -> np.ndarray:
    """Sum of per-step ``values`` (N, S) within each epoch -> (N, n_epochs)."""
    values = np.atleast_2d(np.asarray(values, dtype=float))
    epochs = epoch_of_step(values.shape[1], per_epoch)
    return np.stack([values[:, epochs == e].sum(axis=1) for e in range(epochs.max() + 1)], axis=1)


def epoch_accuracy(result, condition: str, per_epoch: int | None = None) -> np.ndarray:
    """(N, n_epochs + 1) digit accuracy (fraction) at the start of training and at the end of each epoch,
    per seed, read off the accuracy curves (linearly interpolated at the epoch boundaries)."""
    per_epoch = per_epoch or steps_per_epoch(result.config)
    steps = np.asarray(result.curve_steps, dtype=float)
    curves = np.asarray(result[condition].curve_acc, dtype=float)
    if curves.ndim != 2 or len(steps) != curves.shape[1]:
        raise ValueError(f"condition {condition!r} has no accuracy curve matching the run's curve steps")
    n_steps = int(steps[-1])
    bounds = np.append(np.arange(0, n_steps, per_epoch), n_steps).astype(float)
    return np.stack([np.interp(bounds, steps, curve) for curve in curves])


def epoch_difference(result, condition: str, baseline: str, per_epoch: int | None = None) -> list[Comparison]:
    """Per epoch, the paired accuracy difference (percentage points) ``condition - baseline`` at the end of
    each epoch (same seeds, same data): one :class:`Comparison` per epoch."""
    a = 100.0 * epoch_accuracy(result, condition, per_epoch)[:, 1:]
    b = 100.0 * epoch_accuracy(result, baseline, per_epoch)[:, 1:]
    return [paired_difference(a[:, e], b[:, e]) for e in range(a.shape[1])]


def dose_slope(doses: Sequence[float], values: np.ndarray) -> Comparison:
    """Dose-response: the least-squares slope of ``values`` (V doses x N seeds) against ``doses`` fitted
    per seed, and the t-interval of the per-seed slopes (verdict "lower" = falls with the dose)."""
    doses = np.asarray(doses, dtype=float)
    values = np.asarray(values, dtype=float)
    if values.ndim != 2 or values.shape[0] != len(doses) or len(doses) < 2:
        raise ValueError(f"values must be (doses, seeds) with at least two doses; got {values.shape} for "
                         f"{len(doses)} doses")
    slopes = np.polyfit(doses, values, 1)[0]  # (N,) one slope per seed
    mean, half = mean_ci(slopes)
    return Comparison(mean, half, len(slopes), verdict(mean, half))


@dataclass(frozen=True)
class Accounting:
    """First-order accounting of the trait loss, per seed and epoch (N, n_epochs): ``predicted`` is the sum of
    <g_t, Δθ> over the applied updates, ``measured`` the change of the logged trait loss between the
    window means around the epoch boundaries; ``window`` steps are averaged at each boundary."""

    predicted: np.ndarray
    measured: np.ndarray
    window: int


def first_order_accounting(res, per_epoch: int, window: int = 9) -> Accounting:
    """Sum of the first-order trait-loss changes <g_t, Δθ> per epoch against the measured change.

    The trait loss is logged once per step, on that step's trait batch, *before* the update, so one value
    is noisy (batch sampling). The loss at an epoch boundary b is estimated by the mean over the ``window``
    steps around b (clipped to the run) and assigned to the mean step of that window, c(b); the predicted
    change between two boundaries sums <g_t, Δθ> over exactly the steps from c(b) to c(b'), so both sides
    cover the same stretch of training.
    """
    trait_loss = np.atleast_2d(np.asarray(res.trait_loss, dtype=float))
    update = np.atleast_2d(np.asarray(res.trait_update, dtype=float))
    n_steps = trait_loss.shape[1]
    if window < 1 or window > n_steps:
        raise ValueError(f"window must be between 1 and {n_steps}; got {window}")
    bounds = list(range(0, n_steps, per_epoch)) + [n_steps]
    loss_at, centre = [], []
    for b in bounds:
        lo = min(max(0, b - window // 2), n_steps - window)
        steps = np.arange(lo, lo + window)
        loss_at.append(trait_loss[:, steps].mean(axis=1))
        centre.append(int(round(steps.mean())))
    loss_at = np.stack(loss_at, axis=1)
    measured = np.diff(loss_at, axis=1)
    predicted = np.stack([update[:, centre[e]: centre[e + 1]].sum(axis=1) for e in range(len(bounds) - 1)], axis=1)
    return Accounting(predicted=predicted, measured=measured, window=window)


@dataclass(frozen=True)
class DriveDecomposition:
    """Per seed and epoch (N, n_epochs), the drive sum_k <g_t, Δθ_k> split into its factors: the mean
    trait-gradient norm ``grad_norm``, the mean step size ``step_norm``, the mean per-step cosine
    ``cosine`` and the *effective* cosine ``effective`` = drive / (steps * grad_norm * step_norm), so that
    ``drive = steps * grad_norm * step_norm * effective`` exactly."""

    drive: np.ndarray
    grad_norm: np.ndarray
    step_norm: np.ndarray
    cosine: np.ndarray
    effective: np.ndarray
    steps: np.ndarray  # (n_epochs,) steps in each epoch


def drive_decomposition(res, per_epoch: int) -> DriveDecomposition:
    """Which factor carries an epoch's share of the first-order drive: ||g_t||, ||Δθ|| or cos(g_t, Δθ)?

    The summed drive of :func:`first_order_accounting` matches the measured change of the trait loss on any
    small-step path (it is a discretised line integral of the gradient), so that match is a consistency
    check. Its decomposition per epoch is the measurement."""
    if res.update_norm is None or res.trait_grad_norm is None or res.trait_update is None:
        raise ValueError("drive_decomposition needs a run that tracked alignment (update and gradient norms)")
    update = np.atleast_2d(np.asarray(res.trait_update, dtype=float))
    g = np.atleast_2d(np.asarray(res.trait_grad_norm, dtype=float))
    d = np.atleast_2d(np.asarray(res.update_norm, dtype=float))
    with np.errstate(divide="ignore", invalid="ignore"):
        cos = np.where(g * d > 0, update / (g * d), 0.0)
    epochs = epoch_of_step(update.shape[1], per_epoch)
    steps = np.bincount(epochs)
    drive = epoch_sums(update, per_epoch)
    grad_norm, step_norm, cosine = (epoch_means(x, per_epoch) for x in (g, d, cos))
    with np.errstate(divide="ignore", invalid="ignore"):
        effective = np.where(grad_norm * step_norm > 0, drive / (steps * grad_norm * step_norm), 0.0)
    return DriveDecomposition(drive, grad_norm, step_norm, cosine, effective, steps)


def chance_accuracy(label_counts, predicted_counts) -> np.ndarray:
    """The accuracy of a predictor that ignores its input but predicts each digit as often as
    ``predicted_counts`` (..., 10) says, on a test set whose digits occur ``label_counts`` (10,) times:
    sum_k (predicted share of k) x (share of k among the labels). A constant predictor of digit k scores
    the share of k; only a uniform histogram gives exactly 10 %. Broadcasts over leading axes."""
    labels = np.asarray(label_counts, dtype=float)
    predicted = np.asarray(predicted_counts, dtype=float)
    if labels.shape[-1:] != (10,) or predicted.shape[-1:] != (10,):
        raise ValueError(f"both histograms need 10 digit counts on the last axis; got shapes {labels.shape} "
                         f"and {predicted.shape}")
    return (predicted / predicted.sum(-1, keepdims=True) * labels / labels.sum()).sum(-1)


def sweep_values(frame, parameter: str, condition: str = "student_aux", low=None, high=None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Per-seed accuracies (percentage points) of ``condition`` at two values of a sweep, seeds aligned:
    (at ``high``, at ``low``), by default the largest and the smallest swept value, from a tidy sweep
    frame (:func:`subliminal.sweeps.sweep`). Feed them to a paired comparison."""
    rows = frame[(frame["parameter"] == parameter) & (frame["condition"] == condition)]
    if rows.empty:
        raise ValueError(f"the frame has no rows for parameter {parameter!r} and condition {condition!r}")
    values = sorted(rows["value"].unique())
    low = values[0] if low is None else low
    high = values[-1] if high is None else high
    a = rows[rows["value"] == high].set_index("seed")["accuracy"]
    b = rows[rows["value"] == low].set_index("seed")["accuracy"]
    seeds = sorted(set(a.index) & set(b.index))
    return 100.0 * a.loc[seeds].to_numpy(), 100.0 * b.loc[seeds].to_numpy()


def sweep_comparison(frame, parameter: str, condition: str = "student_aux", low=None, high=None) -> Comparison:
    """Paired accuracy difference (percentage points) between two values of a sweep, seed by seed: ``high``
    minus ``low`` (see :func:`sweep_values`)."""
    return paired_difference(*sweep_values(frame, parameter, condition, low, high))


__all__ = [
    "steps_per_epoch", "epoch_of_step", "epoch_means", "EarlyLate", "early_late", "moving_average",
    "mean_ci", "summary_table", "Correlation", "correlation", "loglog_slope", "head_shift_max",
    "AlignmentStats", "alignment_stats", "alignment_table", "seed_correlation", "epoch_gains",
    "Comparison", "verdict", "paired_difference",
    "epoch_sums", "epoch_accuracy", "epoch_difference", "dose_slope", "Accounting", "first_order_accounting",
    "DriveDecomposition", "drive_decomposition", "chance_accuracy", "sweep_values", "sweep_comparison", "within_epoch_correlation",
]
