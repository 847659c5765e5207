"""Chapter 4's experiment: does projection *remove* the trait channel, or *break* the student?

Two interventions that are exact to first order, each on the same seeds, each next to matched
placebos that edit as much, on the same steps, along other directions:

* **Adam, update space**: the projection acts on the update Adam applies (Δθ), so the step has
  no component along g_t (two-sided, tau = -1) or none that lowers the trait loss (one-sided);
* **SGD, gradient space**: the paper's place for the rule, under an optimiser that does not rescale
  coordinates. Without momentum the applied update is exactly -lr * g_d', so projecting the gradient
  projects the step; with momentum the step also carries earlier (projected) gradients, and the
  drive probe measures how much of the first-order drive that lets through.

Every arm is a :class:`~subliminal.experiments.StudentCondition`; one ensemble per optimiser.
The drive on the *real* digit loss is measured on an independent labelled batch
(``Config.track_drive``), so it is not zero by construction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import Config
from .experiments import StudentCondition, run_experiment
from .results import ExperimentResult

#: The placebos every primary arm is matched with: the label-free part of the cross-entropy, shuffled
#: labels, and the real g_t with its entries permuted by a permutation fixed per seed (as persistent
#: as the real direction).
PLACEBOS = ("confidence", "shuffled", "permuted")


@dataclass(frozen=True)
class Arm:
    """One condition of the experiment: its name, what it is, and how tables and figures show it."""

    name: str
    condition: StudentCondition
    label: str
    color: str


def _arms(prefix: str, space: str, label: str) -> list[Arm]:
    two_sided = dict(project=True, space=space, tau=-1.0)
    return [
        Arm(f"{prefix}_plain", StudentCondition(), f"{label}: no projection", "#0072B2"),
        Arm(f"{prefix}_one_sided", StudentCondition(project=True, space=space, tau=0.0),
            f"{label}: one-sided", "#E69F00"),
        Arm(f"{prefix}_two_sided", StudentCondition(**two_sided), f"{label}: two-sided", "#009E73"),
        Arm(f"{prefix}_hidden", StudentCondition(**two_sided, layers="hidden"),
            f"{label}: two-sided, hidden layers", "#117733"),
        *[Arm(f"{prefix}_placebo_{p}", StudentCondition(**two_sided, placebo=p),
              f"{label}: placebo ({p})", color)
          for p, color in zip(PLACEBOS, ("#CC79A7", "#88CCEE", "#AA4499"))],
    ]


#: The Adam arms (projection of the applied update) and the SGD arms (projection of the gradient).
ADAM_ARMS = _arms("adam", "update", "Adam, update")
SGD_ARMS = _arms("sgd", "gradient", "SGD, gradient")


def arm(name: str) -> Arm:
    """The :class:`Arm` called ``name``."""
    for a in ADAM_ARMS + SGD_ARMS:
        if a.name == name:
            return a
    raise KeyError(f"no arm {name!r}; arms are {[a.name for a in ADAM_ARMS + SGD_ARMS]}")


def run_arms(config: Config, seeds, sgd_lr: float, sgd_momentum: float = 0.0, device=None,
             progress: bool = True) -> tuple[ExperimentResult, ExperimentResult]:
    """(Adam result, SGD result): every arm on ``seeds`` with the drive probe on, plus teacher and
    reference. The SGD ensemble runs SGD at ``sgd_lr`` with heavy-ball ``sgd_momentum``."""
    config = config.replace(track_drive=True, track_alignment=True)
    base = ["teacher", "reference"]
    adam = run_experiment(config, seeds=seeds, device=device, progress=progress,
                          conditions=base + [(a.name, a.condition) for a in ADAM_ARMS])
    sgd = run_experiment(config.replace(student_optimizer="sgd", student_lr=sgd_lr,
                                        student_momentum=sgd_momentum),
                         seeds=seeds, device=device, progress=progress,
                         conditions=base + [(a.name, a.condition) for a in SGD_ARMS])
    return adam, sgd


def per_seed_values(result: ExperimentResult, names) -> dict[str, dict[str, np.ndarray]]:
    """{name: {accuracy, top_class_share, balanced_accuracy, entropy, head_restored, drive, drive_same_batch,
    head_shift, displacement_W1}} per seed, for the decision rule and the tables (drive: summed over training)."""
    out = {}
    for name in names:
        res = result[name]
        values = {"accuracy": res.accuracy, "top_class_share": res.top_class_share,
                  "balanced_accuracy": res.balanced_accuracy, "entropy": res.prediction_entropy}
        if res.drive is not None:
            values.update(drive=res.drive.sum(axis=1), drive_same_batch=res.trait_update.sum(axis=1),
                          head_restored=res.head_restored_accuracy, head_shift=res.digit_head_shift,
                          displacement_W1=res.displacement_cos[:, 0], displacement_W2=res.displacement_cos[:, 2],
                          frac_projected=res.frac_projected)
        out[name] = {k: np.asarray(v, dtype=float) for k, v in values.items()}
    return out


def behaviour_table(result: ExperimentResult, names, labels=None):
    """One row per condition: mean ± 95 % t-interval over seeds of what a reader needs before calling an
    accuracy "chance": accuracy, balanced accuracy, class entropy and top-class share; for students also
    the accuracy with the initial digit head restored, the summed first-order drive on the digit loss
    (independent batch when measured, else on the trait batches) and the W1 displacement cosine."""
    import pandas as pd

    from .results import info, mean_ci

    def cell(values, scale=1.0, digits=1):
        mean, half = mean_ci(scale * np.asarray(values, dtype=float))
        return f"{mean:.{digits}f} ± {half:.{digits}f}" if np.isfinite(half) else f"{mean:.{digits}f}"

    labels = labels or [info(n).label for n in names]
    rows = []
    for name, label in zip(names, labels):
        res = result[name]
        row = {"": label, "accuracy (%)": cell(res.accuracy, 100),
               "balanced acc. (%)": cell(res.balanced_accuracy, 100),
               "entropy (bits)": cell(res.prediction_entropy, 1, 2),
               "top class (%)": cell(res.top_class_share, 100)}
        if res.head_restored_accuracy is not None:
            drive = res.drive if res.drive is not None else res.trait_update
            row["head restored (%)"] = cell(res.head_restored_accuracy, 100)
            if drive is not None:
                row["drive (nats)"] = cell(drive.sum(axis=1), 1, 2)
            row["W1 disp. cos"] = cell(res.displacement_cos[:, 0], 1, 2)
        rows.append(row)
    return pd.DataFrame(rows).set_index("").fillna("")


def arms_table(result: ExperimentResult, arms, reference: str = "reference"):
    """:func:`behaviour_table` of the untrained network and every arm."""
    return behaviour_table(result, [reference] + [a.name for a in arms],
                           ["untrained network"] + [a.label.split(": ", 1)[1] for a in arms])


def decide(result: ExperimentResult, arms: list[Arm], reference: str = "reference"):
    """Chapter 4's decision rule for one optimiser's arms: (decision for the two-sided arm, the family's
    comparisons after Holm's adjustment, by name).

    The family is every comparison the chapter judges for this optimiser: each projection arm against the
    untrained network (accuracy, top-class share, balanced accuracy) and against the plain student, and
    each matched placebo against the two-sided arm."""
    from .decisions import comparisons_for, holm, removal_or_breakage

    by_kind = {a.name.split("_", 1)[1]: a.name for a in arms}
    placebos = [by_kind[f"placebo_{p}"] for p in PLACEBOS]
    values = per_seed_values(result, [reference] + [a.name for a in arms])
    family = []
    for kind in ("one_sided", "two_sided", "hidden"):
        family += comparisons_for(by_kind[kind], values, placebos if kind == "two_sided" else [],
                                  plain=by_kind["plain"], reference=reference)
    adjusted = {c.name: c for c in holm(family)}
    decision = removal_or_breakage(by_kind["two_sided"], values, placebos, plain=by_kind["plain"],
                                   reference=reference, adjusted=adjusted,
                                   names={by_kind[f"placebo_{p}"]: p for p in PLACEBOS})
    return decision, adjusted


__all__ = ["PLACEBOS", "decide", "Arm", "ADAM_ARMS", "SGD_ARMS", "arm", "run_arms", "per_seed_values", "behaviour_table", "arms_table"]
