"""Results of an experiment, their statistics and the one summary table (no torch here).

Everything the CLI, the analysis, the sweeps, the plots and the chapters read
about a finished run lives here: :class:`ConditionResult` (one condition over
N seeds), :class:`ExperimentResult` (all conditions of a run), the 95 %
interval :func:`mean_ci`, and the table :func:`summary_table` /
:func:`format_table`. :data:`CONDITIONS` (declared in :mod:`subliminal.conditions`) names,
describes and colours every condition.

Intervals use Student's t-distribution with N - 1 degrees of freedom: with the
few seeds a CPU affords, the normal quantile 1.96 would be too narrow (by a
factor 6.5 for two seeds, 2.2 for three, 1.15 for ten).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np
from scipy import stats

from .conditions import CONDITIONS, info
from .conditions import Condition as ConditionInfo  # how a condition is named in tables and figures
from .config import N_DIGITS, Config

#: Digit accuracy of guessing (ten classes), as a fraction and in percent.
CHANCE = 1.0 / N_DIGITS
CHANCE_PERCENT = 100.0 * CHANCE
#: Fraction of the steps over which a student's ``initial_loss`` (the first steps) and ``final_loss``
#: (the last steps) average the distillation loss.
FINAL_LOSS_FRACTION = 0.1


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """Mean and half-width of the t-interval ``t_{N-1} * sd / sqrt(N)`` (half-width NaN for one value)."""
    values = np.asarray(values, dtype=float).ravel()
    if len(values) == 0:
        raise ValueError("mean_ci needs at least one value")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie strictly between 0 and 1; got {confidence}")
    if len(values) < 2:
        return float(values.mean()), float("nan")
    sem = values.std(ddof=1) / np.sqrt(len(values))
    return float(values.mean()), float(stats.t.ppf(0.5 + confidence / 2, df=len(values) - 1) * sem)


@dataclass
class ConditionResult:
    """Results of one condition over N seeds (numpy arrays, seed-major).

    ``accuracy`` (N,): final digit accuracy on the 10,000 test images. Students also have,
    per step (N, S): ``loss`` (distillation loss), ``trait_loss``, ``cosine``
    (cos(g_d, g_t) before any gradient transform), ``cosine_after`` (after it), ``projected``
    (bool: a transform fired), ``trait_update`` (<g_t, Δθ>, the first-order change of the
    trait loss caused by the update the optimiser applied); ``curve_acc`` (N, P) at
    ``ExperimentResult.curve_steps``; and per seed (N,): ``digit_head_shift`` (largest change of
    any digit-head weight or bias), ``digit_head_norm_ratio`` (its norm at the end over its norm
    at the start) and ``head_restored_accuracy`` (accuracy with the digit head
    put back to its initial value). Alignment fields are None when alignment was not tracked.
    Per step (N, S), when tracked: ``update_norm`` ||Δθ|| and ``trait_grad_norm`` ||g_t||;
    ``drive`` <∇L_digit, Δθ> on an independent labelled batch and ``drive_loss`` that batch's
    digit loss (``Config.track_drive``). Per seed, for every condition (teacher and reference
    included): ``predicted_counts`` (N, 10), the test images predicted as each digit (the class
    histogram), and ``balanced_accuracy`` (N,), the mean over digits of the share of that digit's
    images predicted right (0.1 for any predictor that ignores its input, however unbalanced its
    histogram); for students ``displacement_cos`` (N, 7):
    cos(θ - θ_start, θ_T - θ_0) per tensor W1, b1, W2, b2, W3, b3 and over all.
    """

    accuracy: np.ndarray
    loss: np.ndarray | None = None
    trait_loss: np.ndarray | None = None
    cosine: np.ndarray | None = None
    cosine_after: np.ndarray | None = None
    projected: np.ndarray | None = None
    trait_update: np.ndarray | None = None
    curve_acc: np.ndarray | None = None
    digit_head_shift: np.ndarray | None = None
    digit_head_norm_ratio: np.ndarray | None = None
    head_restored_accuracy: np.ndarray | None = None
    update_norm: np.ndarray | None = None
    trait_grad_norm: np.ndarray | None = None
    drive: np.ndarray | None = None
    drive_loss: np.ndarray | None = None
    predicted_counts: np.ndarray | None = None
    balanced_accuracy: np.ndarray | None = None
    displacement_cos: np.ndarray | None = None

    @property
    def final_loss(self) -> np.ndarray | None:
        """(N,) the distillation loss averaged over the last FINAL_LOSS_FRACTION of the steps."""
        return None if self.loss is None else self.loss[:, -self._loss_window():].mean(axis=1)

    @property
    def initial_loss(self) -> np.ndarray | None:
        """(N,) the distillation loss averaged over the first FINAL_LOSS_FRACTION of the steps."""
        return None if self.loss is None else self.loss[:, :self._loss_window()].mean(axis=1)

    def _loss_window(self) -> int:
        return max(1, int(round(FINAL_LOSS_FRACTION * self.loss.shape[1])))

    @property
    def frac_positive(self) -> np.ndarray | None:
        """(N,) fraction of the measured steps with cos(g_d, g_t) > 0 (steps not measured are NaN)."""
        if self.cosine is None:
            return None
        measured = ~np.isnan(self.cosine)
        return (self.cosine > 0).sum(axis=1) / measured.sum(axis=1)

    @property
    def mean_cosine(self) -> np.ndarray | None:
        """(N,) mean cosine over the measured steps."""
        return None if self.cosine is None else np.nanmean(self.cosine, axis=1)

    @property
    def class_shares(self) -> np.ndarray | None:
        """(N, 10) share of the test images predicted as each digit."""
        if self.predicted_counts is None:
            return None
        counts = np.asarray(self.predicted_counts, dtype=float)
        return counts / counts.sum(axis=1, keepdims=True)

    @property
    def prediction_entropy(self) -> np.ndarray | None:
        """(N,) entropy (bits) of the predicted-class histogram: log2(10) = 3.32 for a uniform one, 0 for one class."""
        shares = self.class_shares
        if shares is None:
            return None
        with np.errstate(divide="ignore", invalid="ignore"):
            return -np.where(shares > 0, shares * np.log2(shares), 0.0).sum(axis=1)

    @property
    def top_class_share(self) -> np.ndarray | None:
        """(N,) share of the test images predicted as the most predicted digit."""
        return None if self.class_shares is None else self.class_shares.max(axis=1)

    @property
    def classes_used(self) -> np.ndarray | None:
        """(N,) number of digits predicted for more than 1 % of the test images."""
        return None if self.class_shares is None else (self.class_shares > 0.01).sum(axis=1)

    @property
    def frac_projected(self) -> np.ndarray | None:
        """(N,) fraction of steps at which a gradient transform fired."""
        return None if self.projected is None else self.projected.mean(axis=1)

    def fields(self) -> dict[str, np.ndarray]:
        """The arrays that are present, by name."""
        return {name: value for name, value in vars(self).items() if value is not None}


#: The per-step fields the alignment probes record only on measured steps (NaN on the others).
ALIGNMENT_FIELDS = ("cosine", "cosine_after", "trait_loss", "trait_update", "trait_grad_norm")


@dataclass
class ExperimentResult:
    """All conditions of one run: ``conditions`` maps a name to its :class:`ConditionResult`;
    ``curve_steps`` (P,) are the steps at which the accuracy curves were measured;
    ``declarations`` (when recorded) maps a name to what the condition is (its
    ``StudentCondition`` as a dict, None for the teacher and the reference)."""

    config: Config
    seeds: list[int]
    conditions: dict[str, ConditionResult]
    curve_steps: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    declarations: dict[str, dict | None] | None = None

    def __getitem__(self, name: str) -> ConditionResult:
        if name not in self.conditions:
            raise KeyError(f"condition {name!r} was not run; this result holds {list(self.conditions)}")
        return self.conditions[name]

    def subset(self, seeds: Iterable[int], conditions: Iterable[str]) -> "ExperimentResult":
        """The rows of ``seeds`` of ``conditions``: what a run of just those would give, up to float rounding
        (model k of a run gets the same init, data and teacher whatever runs beside it)."""
        seeds, conditions = list(seeds), list(conditions)
        missing = [s for s in seeds if s not in self.seeds]
        if missing:
            raise ValueError(f"this result holds seeds {self.seeds}, not {missing}")
        rows = [self.seeds.index(s) for s in seeds]
        out = {}
        for name in conditions:
            fields = {k: (v[rows] if isinstance(v, np.ndarray) and v.ndim >= 1 else v)
                      for k, v in vars(self[name]).items()}
            out[name] = type(self[name])(**fields)
        declared = None if self.declarations is None else {
            name: self.declarations[name] for name in conditions if name in self.declarations}
        return ExperimentResult(config=self.config, seeds=seeds, conditions=out, curve_steps=self.curve_steps,
                                declarations=declared)

    def on_alignment_steps(self, every: int) -> "ExperimentResult":
        """What this run records when its alignment probes measure only at steps 0, ``every``,
        2 ``every``, ... (``Config.alignment_every``): the fields of :data:`ALIGNMENT_FIELDS` NaN on the
        other steps, the config saying so. Exact when this run measured every step (or every k-th step
        with k dividing ``every``) and none of its conditions projects (a projection measures every step)."""
        measured = self.config.alignment_every
        if every % measured:
            raise ValueError(f"this run measured alignment every {measured} steps, which does not hold the "
                             f"steps of every {every}; pass a multiple of {measured}")
        out = {}
        for name, res in self.conditions.items():
            fields = dict(vars(res))
            for field_name in ALIGNMENT_FIELDS:
                if fields.get(field_name) is not None:
                    values = np.array(fields[field_name])  # a copy, in the logs' own float type
                    values[:, np.arange(values.shape[1]) % every != 0] = np.nan
                    fields[field_name] = values
            out[name] = type(res)(**fields)
        return ExperimentResult(config=self.config.replace(alignment_every=every), seeds=list(self.seeds),
                                conditions=out, curve_steps=self.curve_steps, declarations=self.declarations)

    def summary(self, conditions: Iterable[str] | None = None):
        """The summary table of this run (see :func:`summary_table`)."""
        return summary_table(self, conditions)

    def to_json_dict(self) -> dict:
        """``{"config": {...}, "seeds": [...], "conditions": {NAME: {"accuracy": [...], ...}}}``."""
        conditions = {}
        for name, res in self.conditions.items():
            entry = {"accuracy": [float(a) for a in res.accuracy]}
            if res.cosine is not None:
                entry["frac_positive"] = [float(v) for v in res.frac_positive]
                entry["mean_cosine"] = [float(v) for v in res.mean_cosine]
            conditions[name] = entry
        return {"config": self.config.to_dict(), "seeds": list(self.seeds), "conditions": conditions}


def summary_table(result: ExperimentResult, conditions: Iterable[str] | None = None):
    """One row per condition: accuracy (%) mean, 95 % t-interval half-width, min, max, seeds,
    and for students the % of steps with cos(g_d, g_t) > 0 and the mean cosine (NaN otherwise).

    This is the table the CLI prints and the chapters show.
    """
    import pandas as pd

    rows = []
    for name in (list(conditions) if conditions is not None else list(result.conditions)):
        res = result[name]
        acc = 100.0 * np.asarray(res.accuracy, dtype=float)
        mean, half = mean_ci(acc)
        rows.append({
            "condition": name, "accuracy (%)": mean, "95% CI (±)": half, "min (%)": float(acc.min()),
            "max (%)": float(acc.max()), "seeds": len(acc),
            "steps cos>0 (%)": 100.0 * float(res.frac_positive.mean()) if res.cosine is not None else np.nan,
            "mean cos": float(res.mean_cosine.mean()) if res.cosine is not None else np.nan,
        })
    return pd.DataFrame(rows).set_index("condition")


def _scale(config: Config) -> str:
    """Which configuration ``config`` is, whatever its matrix-product precision."""
    same = config.replace(precision=Config().precision)
    if same == Config():
        return "the paper's configuration"
    if same == Config.fast():
        return "the fast configuration (--fast or SUBLIMINAL_FAST=1)"
    return "a custom configuration"


def format_table(result: ExperimentResult) -> str:
    """:func:`summary_table` as fixed-width text with each condition's description (for the CLI)."""
    table = summary_table(result)
    n = len(result.seeds)
    lines = [
        f"Subliminal learning in MNIST, {_scale(result.config)}: {n} seed(s), m = {result.config.n_aux} "
        f"auxiliary logits, {result.config.precision} matrix products; ± is the 95 % t-interval over seeds",
        f"{'condition':<20} {'accuracy (95% CI)':>20} {'steps cos>0':>12} {'mean cos':>10}   description",
    ]
    for name, row in table.iterrows():
        half = "  n/a" if np.isnan(row["95% CI (±)"]) else f"{row['95% CI (±)']:5.2f}"
        acc = f"{row['accuracy (%)']:6.2f} ± {half} %"
        pos = f"{row['steps cos>0 (%)']:10.1f} %" if not np.isnan(row["mean cos"]) else f"{'':>12}"
        cos = f"{row['mean cos']:10.5f}" if not np.isnan(row["mean cos"]) else f"{'':>10}"
        lines.append(f"{name:<20} {acc:>20} {pos} {cos}   {info(name).description}")
    return "\n".join(lines)


__all__ = ["ALIGNMENT_FIELDS", "CHANCE", "CHANCE_PERCENT", "FINAL_LOSS_FRACTION", "ConditionInfo", "CONDITIONS", "info", "mean_ci", "ConditionResult",
           "ExperimentResult", "summary_table", "format_table"]
