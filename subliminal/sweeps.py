"""Parameter sweeps: run the experiment over values of one ``Config`` field.

``sweep(parameter, values, config, seeds, conditions)`` calls
:func:`~subliminal.experiments.run_experiment` once per value (memoised like
every run; teachers are memoised separately, so a sweep over a *student*
setting trains each teacher only once) and returns a tidy pandas DataFrame with
one row per (value, condition, seed)::

    parameter   value   condition    seed  accuracy  final_loss  digit_head_shift  [alignment columns]
    student_lr  0.0003  student_aux  0     0.55      0.0012      0.0

``final_loss`` is the distillation loss averaged over the last 10 % of the
steps and ``digit_head_shift`` the largest change of any digit-head parameter
(students only). The alignment columns ``frac_positive``, ``mean_cosine`` and
``frac_projected`` are present only when the sweep tracks alignment (or a
condition projects). :func:`summarize` turns such a frame into means with 95 %
intervals per (value, condition); :func:`sweep_effect` gives the direction of a
sweep as one number (accuracy at the largest value minus at the smallest).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from .conditions import TRANSFER_CONDITIONS  # the pair a transfer sweep compares
from .config import Config, ConfigError
from .experiments import condition_specs, run_experiment
from .results import mean_ci


_NOT_SWEEPABLE = {
    "seed": "sweep over models with the `seeds` argument instead of the `seed` setting",
}


class SweepError(ValueError):
    """A sweep was asked for with bad arguments; the message says which and how to fix it."""


def _check_arguments(parameter: str, values: Sequence[Any], config: Config,
                     conditions: Sequence[str]) -> tuple[list[Any], list[str], list[Config]]:
    fields = [f.name for f in dataclasses.fields(Config)]
    if not isinstance(parameter, str) or parameter not in fields:
        raise SweepError(f"cannot sweep {parameter!r}: it is not a Config setting; choose one of {fields}")
    if parameter in _NOT_SWEEPABLE:
        raise SweepError(f"cannot sweep {parameter!r}: {_NOT_SWEEPABLE[parameter]}")
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise SweepError(f"values must be a list of settings for {parameter!r}; got {values!r}")
    values = list(values)
    if not values:
        raise SweepError(f"values for {parameter!r} must not be empty")
    if len(set(map(repr, values))) != len(values):
        raise SweepError(f"values for {parameter!r} must be distinct; got {values!r}")
    if isinstance(conditions, str):
        conditions = [conditions]
    try:
        condition_specs(conditions)
    except ValueError as err:
        raise SweepError(str(err)) from None
    conditions = list(dict.fromkeys(conditions))
    configs = []
    for value in values:
        try:
            configs.append(config.replace(**{parameter: value}))
        except ConfigError as err:
            raise SweepError(f"bad value {value!r} for {parameter!r}: {err}") from None
    return values, conditions, configs


def sweep(parameter: str, values: Sequence[Any], config: Config | None = None, seeds: int | Iterable[int] = 3,
          conditions: Sequence[str] = TRANSFER_CONDITIONS, device: str | None = None, cache: bool = True,
          progress: bool = False, reuse=None) -> pd.DataFrame:
    """Run ``conditions`` for every value of the Config setting ``parameter``; a tidy DataFrame.

    ``config`` (default ``Config()``) holds every other setting; set
    ``track_alignment=False`` in it when the cosines are not needed (about
    half the cost). ``seeds`` as in :func:`run_experiment`. ``reuse``: a run at hand (e.g. the
    chapter's main run); the sweep point that coincides with it is read from it, not trained again.
    All arguments are checked before anything is trained; bad ones raise :class:`SweepError`.
    """
    config = config or Config()
    values, conditions, configs = _check_arguments(parameter, values, config, conditions)
    frames = []
    for value, cfg in zip(values, configs):
        result = run_experiment(cfg, seeds=seeds, conditions=conditions, device=device, cache=cache,
                                progress=progress, reuse=reuse)
        frames.append(_tidy(result, parameter, value))
    return pd.concat(frames, ignore_index=True)


def run_sweeps(sweeps: Mapping[str, Sequence[Any]], config: Config | None = None, **kwargs: Any) -> pd.DataFrame:
    """Several one-parameter sweeps around the same ``config``, concatenated into one tidy frame.

    ``sweeps`` maps a Config setting to its values, e.g. ``{"student_lr": [1e-4, 1e-3], "n_aux": [1, 10]}``;
    ``kwargs`` go to :func:`sweep`. Every sweep is checked before any is run.
    """
    config = config or Config()
    if not isinstance(sweeps, Mapping) or not sweeps:
        raise SweepError(f"sweeps must be a non-empty mapping from a Config setting to its values; got {sweeps!r}")
    conditions = kwargs.get("conditions", TRANSFER_CONDITIONS)
    for parameter, values in sweeps.items():
        _check_arguments(parameter, values, config, conditions)
    return pd.concat([sweep(p, v, config, **kwargs) for p, v in sweeps.items()], ignore_index=True)


def _tidy(result, parameter: str, value: Any) -> pd.DataFrame:
    rows = []
    for name, res in result.conditions.items():
        for i, seed in enumerate(result.seeds):
            row = {"parameter": parameter, "value": value, "condition": name, "seed": seed,
                   "accuracy": float(res.accuracy[i])}
            if res.loss is not None:
                row["final_loss"] = float(res.final_loss[i])
            if res.cosine is not None:
                row["frac_positive"] = float(res.frac_positive[i])
                row["mean_cosine"] = float(res.mean_cosine[i])
            if res.projected is not None:
                row["frac_projected"] = float(res.frac_projected[i])
            if res.digit_head_shift is not None:
                row["digit_head_shift"] = float(res.digit_head_shift[i])
            rows.append(row)
    return pd.DataFrame(rows)


def summarize(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean and 95 % t-interval half-width of the accuracy per (parameter, value, condition).

    Other numeric columns of ``frame`` (loss, alignment) are averaged over seeds.
    Rows keep the order in which the values and conditions were swept.
    """
    missing = {"parameter", "value", "condition", "seed", "accuracy"} - set(frame.columns)
    if missing:
        raise SweepError(f"not a sweep frame: missing column(s) {sorted(missing)}")
    keys = ["parameter", "value", "condition"]
    extra = [c for c in frame.columns if c not in keys + ["seed", "accuracy"]]
    rows = []
    for key, group in frame.groupby(keys, sort=False):
        mean, half = mean_ci(group["accuracy"].to_numpy())
        row = dict(zip(keys, key), accuracy=mean, ci95=half, n_seeds=len(group))
        row.update({c: float(group[c].mean()) for c in extra})
        rows.append(row)
    return pd.DataFrame(rows)


def transfer_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean accuracy (%) per (parameter, value) with one column per condition, in sweep order.

    When both conditions of :data:`TRANSFER_CONDITIONS` are present, a column
    ``transfer (points)`` gives their difference (shared-init minus cross-model).
    """
    table = summarize(frame)
    wide = table.pivot_table(index=["parameter", "value"], columns="condition", values="accuracy", sort=False)
    wide = 100.0 * wide[[c for c in dict.fromkeys(table["condition"]) if c in wide.columns]]
    if all(c in wide.columns for c in TRANSFER_CONDITIONS):
        wide["transfer (points)"] = wide[TRANSFER_CONDITIONS[0]] - wide[TRANSFER_CONDITIONS[1]]
    wide.columns.name = None
    return wide.rename(columns={c: f"{c} (%)" for c in table["condition"].unique()})


def sweep_effect(frame: pd.DataFrame, parameter: str | None = None, condition: str = "student_aux") -> float:
    """Direction of a sweep in percentage points: mean accuracy at the largest value minus at the smallest."""
    table = summarize(frame)
    if parameter is not None:
        table = table[table["parameter"] == parameter]
    elif table["parameter"].nunique() > 1:
        raise SweepError(f"the frame holds several sweeps {sorted(table['parameter'].unique())}; name `parameter`")
    table = table[table["condition"] == condition]
    if len(table) < 2:
        raise SweepError(f"need at least two values of condition {condition!r} to measure an effect")
    by_value = table.set_index("value")["accuracy"]
    ordered = by_value.sort_index()
    return float(100.0 * (ordered.iloc[-1] - ordered.iloc[0]))


def best_value(frame: pd.DataFrame, parameter: str | None = None, condition: str = "student_aux") -> Any:
    """The swept value with the highest mean accuracy of ``condition``."""
    table = summarize(frame)
    if parameter is not None:
        table = table[table["parameter"] == parameter]
    table = table[table["condition"] == condition]
    if table.empty:
        raise SweepError(f"no rows for condition {condition!r}" + (f" and parameter {parameter!r}" if parameter else ""))
    value = table.loc[table["accuracy"].idxmax(), "value"]
    return value.item() if isinstance(value, np.generic) else value


__all__ = ["TRANSFER_CONDITIONS", "SweepError", "sweep", "run_sweeps", "summarize", "transfer_table", "sweep_effect",
           "best_value"]
