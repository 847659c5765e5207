"""Verdicts that are computed, never typed: paired tests over seeds, Holm's adjustment for a
family of them, and the decision rule of Chapter 4 ("removal or breakage?").

Torch-free. A chapter states its rule in prose *before* it runs the experiment, then glues
what :func:`removal_or_breakage` returns: the verdict and, criterion by criterion, why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
from scipy import stats

from .results import mean_ci


@dataclass(frozen=True)
class Paired:
    """Paired difference ``a - b`` over N seeds: mean, 95 % t-interval half-width, the two-sided
    p-value of the paired t-test, and (after :func:`holm`) the family-adjusted p-value."""

    name: str
    mean: float
    half: float
    n: int
    p: float
    p_adjusted: float = float("nan")

    @property
    def low(self) -> float:
        return self.mean - self.half

    @property
    def high(self) -> float:
        return self.mean + self.half

    def verdict(self, alpha: float = 0.05) -> str:
        """``"higher"`` / ``"lower"`` when the Holm-adjusted p-value is below ``alpha`` (the unadjusted one
        before :func:`holm`), else ``"not shown to differ"``."""
        p = self.p if np.isnan(self.p_adjusted) else self.p_adjusted
        if not p < alpha:
            return "not shown to differ"
        return "higher" if self.mean > 0 else "lower"

    def say(self, higher: str = "higher", lower: str = "lower", unit: str = " points", digits: int = 1) -> str:
        """The verdict in words: ``higher`` or ``lower`` with its p-value, or "not shown to differ
        (± half-width)", never a word of equality."""
        verdict = self.verdict()
        if verdict == "not shown to differ":
            return f"not shown to differ (± {self.half:.{digits}f}{unit})"
        p = self.p if np.isnan(self.p_adjusted) else self.p_adjusted
        label = "p" if np.isnan(self.p_adjusted) else "Holm p"
        return f"{higher if verdict == 'higher' else lower} ({label} = {p:.2g})"

    def describe(self, unit: str = " points", digits: int = 1) -> str:
        """E.g. ``"+3.2 ± 1.1 points (Holm p = 0.004)"``."""
        p = self.p if np.isnan(self.p_adjusted) else self.p_adjusted
        label = "p" if np.isnan(self.p_adjusted) else "Holm p"
        return f"{self.mean:+.{digits}f} ± {self.half:.{digits}f}{unit} ({label} = {p:.2g})"


def paired(name: str, a: Sequence[float], b: Sequence[float]) -> Paired:
    """The paired comparison of per-seed values ``a`` and ``b`` (same seeds, same order)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"a paired comparison needs one value per seed for both; got shapes {a.shape}, {b.shape}")
    diff = a - b
    mean, half = mean_ci(diff)
    if len(diff) < 2 or np.all(diff == diff[0]):
        p = 0.0 if len(diff) >= 2 and diff[0] != 0 else 1.0
    else:
        p = float(stats.ttest_1samp(diff, 0.0).pvalue)
    return Paired(name, mean, half, int(diff.size), p)


def holm(comparisons: Sequence[Paired]) -> list[Paired]:
    """Holm's step-down adjustment of the family's p-values (controls the chance of any false "differs"
    at the family's level): the k-th smallest p is multiplied by (m - k + 1), made monotone, capped at 1."""
    m = len(comparisons)
    order = np.argsort([c.p for c in comparisons], kind="stable")
    adjusted = np.empty(m)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * comparisons[index].p))
        adjusted[index] = running
    return [Paired(c.name, c.mean, c.half, c.n, c.p, float(q)) for c, q in zip(comparisons, adjusted)]


@dataclass
class Decision:
    """The verdict of :func:`removal_or_breakage` for one projection arm, with every criterion."""

    arm: str
    verdict: str  # "removal", "breakage", "neither" or "uninformative"
    criteria: dict[str, bool] = field(default_factory=dict)
    comparisons: dict[str, Paired] = field(default_factory=dict)
    drive_ratio: float = float("nan")
    transfer_kept: dict[str, float] = field(default_factory=dict)

    def failed(self) -> list[str]:
        return [name for name, ok in self.criteria.items() if not ok]


#: The thresholds of the decision rule, fixed before the experiment (Chapter 4 states them).
DRIVE_RATIO_MAX = 0.25  # "the first-order drive is removed": at most a quarter of the plain student's
TRANSFER_KEPT_MIN = 0.5  # "a placebo leaves transfer": at least half of the plain student's gain over the init


def removal_or_breakage(arm: str, values: Mapping[str, Mapping[str, np.ndarray]], placebos: Sequence[str],
                        plain: str = "plain", reference: str = "reference",
                        adjusted: Mapping[str, Paired] | None = None,
                        names: Mapping[str, str] | None = None) -> Decision:
    """Chapter 4's decision rule for the projection arm ``arm``.

    ``values[condition]`` holds per-seed arrays (same seeds everywhere): ``accuracy``,
    ``top_class_share``, ``balanced_accuracy`` and ``drive`` (the summed first-order change of the
    real digit loss, measured on an independent batch). ``adjusted``: the family's comparisons after
    :func:`holm`, by name (see :func:`comparisons_for`); computed here, unadjusted, if not given.
    ``names``: how the criteria call each placebo (default: its condition name).

    First, the test must be able to show something: the plain student must show transfer (its accuracy
    shown higher than the reference's); otherwise the verdict is *uninformative*.

    *Removal* needs all of: (1) the drive is removed: |mean drive of the arm| <= DRIVE_RATIO_MAX x
    |mean drive of the plain student|; (2) the arm keeps the untrained network's behaviour: its
    accuracy and its top-class share are not shown to differ from the reference's; (3) every matched
    placebo leaves the transfer: it is shown higher than the arm, and keeps at least TRANSFER_KEPT_MIN
    of the plain student's gain over the reference. *Breakage*: some placebo is not shown higher than
    the arm (the placebo does what the real projection does), or the arm is shown *below* the reference
    in accuracy or balanced accuracy. Anything else is *neither*.
    """
    comparisons = {c.name: c for c in comparisons_for(arm, values, placebos, plain, reference)}
    if adjusted is not None:
        comparisons = {name: adjusted.get(name, c) for name, c in comparisons.items()}
    drive_arm = float(np.mean(values[arm]["drive"]))
    drive_plain = float(np.mean(values[plain]["drive"]))
    drive_ratio = abs(drive_arm) / abs(drive_plain) if drive_plain != 0 else float("inf")
    gain = float(np.mean(values[plain]["accuracy"]) - np.mean(values[reference]["accuracy"]))
    kept = {p: float(np.mean(values[p]["accuracy"]) - np.mean(values[reference]["accuracy"])) / gain
            if gain > 0 else float("nan") for p in placebos}
    c = comparisons
    if c[f"{plain} - {reference}: accuracy"].verdict() != "higher":
        return Decision(arm, "uninformative", {"the plain student shows transfer": False}, comparisons,
                        drive_ratio, kept)
    criteria = {
        "drive removed": drive_ratio <= DRIVE_RATIO_MAX,
        "accuracy as the untrained network's": c[f"{arm} - {reference}: accuracy"].verdict() == "not shown to differ",
        "histogram as the untrained network's":
            c[f"{arm} - {reference}: top-class share"].verdict() == "not shown to differ",
        **{f"the {(names or {}).get(p, p)} placebo leaves the transfer":
           c[f"{p} - {arm}: accuracy"].verdict() == "higher" and kept[p] >= TRANSFER_KEPT_MIN for p in placebos},
    }
    broken = (any(c[f"{p} - {arm}: accuracy"].verdict() != "higher" for p in placebos)
              or c[f"{arm} - {reference}: accuracy"].verdict() == "lower"
              or c[f"{arm} - {reference}: balanced accuracy"].verdict() == "lower")
    verdict = "removal" if all(criteria.values()) else "breakage" if broken else "neither"
    return Decision(arm, verdict, criteria, comparisons, drive_ratio, kept)


def comparisons_for(arm: str, values: Mapping[str, Mapping[str, np.ndarray]], placebos: Sequence[str],
                    plain: str = "plain", reference: str = "reference") -> list[Paired]:
    """The paired comparisons (in percentage points for accuracies and shares) the rule reads for ``arm``."""
    def pct(name, key):
        return 100.0 * np.asarray(values[name][key], dtype=float)

    out = [paired(f"{arm} - {reference}: accuracy", pct(arm, "accuracy"), pct(reference, "accuracy")),
           paired(f"{arm} - {reference}: top-class share", pct(arm, "top_class_share"),
                  pct(reference, "top_class_share")),
           paired(f"{arm} - {reference}: balanced accuracy", pct(arm, "balanced_accuracy"),
                  pct(reference, "balanced_accuracy")),
           paired(f"{arm} - {plain}: accuracy", pct(arm, "accuracy"), pct(plain, "accuracy"))]
    out += [paired(f"{p} - {arm}: accuracy", pct(p, "accuracy"), pct(arm, "accuracy")) for p in placebos]
    if placebos:  # the precondition, once per family
        out.append(paired(f"{plain} - {reference}: accuracy", pct(plain, "accuracy"), pct(reference, "accuracy")))
    return out


__all__ = ["Paired", "paired", "holm", "Decision", "DRIVE_RATIO_MAX", "TRANSFER_KEPT_MIN", "removal_or_breakage",
           "comparisons_for"]
