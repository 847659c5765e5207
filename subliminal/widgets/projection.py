"""Chapter 4's explorer: the projection threshold tau."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .. import analysis, plots
from ..config import Config
from ..results import ExperimentResult
from .explorer import explorer
from .frames import (
    COSINE,
    FRAME_HEIGHT,
    TAU_GRID,
    TAU_RANGE,
    Frame,
    default_config,
    default_seeds,
    figure_png,
    finish_frame,
    frame_figure,
    grid_values,
    merge_results,
    plain_baseline,
    pm,
    run_conditions,
    seed_list,
    short_axes,
)


def tau_frame(tau: float, config: Config | None = None, seeds=3, baseline: ExperimentResult | None = None,
              device=None, window: int = 15) -> Frame:
    """The projected student at threshold ``tau`` against the plain student: cosine trace with the steps at
    which projection fired, firing rate per epoch, accuracy curves and distillation loss (bands: 95 %
    t-intervals over seeds; for the log-scale loss the range over seeds).

    Runs ``run_experiment(config.replace(projection_tau=tau), seeds, ["projection"], reuse=baseline)``: the
    call of the chapter's tau sweep, so its thresholds are read from the cache (or from ``baseline``, the
    chapter's main run, at the run's own tau).
    """
    config = config or default_config()
    seeds = seed_list(seeds)
    projected = run_conditions(config.replace(projection_tau=float(tau)), seeds, ["projection"], device, reuse=baseline)
    plain = plain_baseline(config, seeds, baseline, device, ("projection_tau", "projection_beta", "projection_layers"))
    both = merge_results(config, seeds, (plain, "student_aux"), (projected, "projection"))
    names = ["student_aux", "projection"]
    per_epoch = analysis.steps_per_epoch(config)
    fired = np.asarray(projected["projection"].projected, dtype=bool)
    fig, (trace, bars, acc, loss) = frame_figure(2, 2, height=FRAME_HEIGHT)
    plots.plot_cosine_trace(both, names, window=window, per_epoch=per_epoch, ax=trace, band_kind="ci")
    trace.axhline(tau, color="#D55E00", lw=1.0, ls="--", label=f"τ = {tau:.4g}")
    plots.plot_fired_steps(fired, trace, "projection", text="projection fired")
    trace.set_title(f"{COSINE} before projection")
    plots.plot_epoch_bars({"projection": analysis.epoch_means(fired, per_epoch)}, bars, "steps projected (%)",
                          scale=100.0)
    bars.set_ylim(0, 100)
    bars.set_title("firing rate per epoch")
    plots.plot_accuracy_curves(both, names, per_epoch=per_epoch, ax=acc, band_kind="ci")
    acc.set_title("digit accuracy")
    plots.plot_loss_curves(both, names, per_epoch=per_epoch, ax=loss)  # log scale: band = range over seeds
    loss.set_title("distillation loss")
    short_axes(trace, acc, loss)
    shade = "projection fired (shade: share of seeds)"
    finish_frame(fig, rename={"projection fired (opacity: share of seeds)": shade})
    rate = analysis.epoch_means(fired, per_epoch)
    caption = (f"τ = {tau:.4g}: projection fired on {100.0 * fired.mean():.1f} % of steps (epoch 1: "
               f"{100.0 * rate[:, 0].mean():.1f} %, epoch {rate.shape[1]}: {100.0 * rate[:, -1].mean():.1f} %); "
               f"mean {COSINE} before projection = {projected['projection'].cosine.mean():.4f}; accuracy "
               f"{pm(projected['projection'].accuracy, 100)} % vs plain student {pm(plain['student_aux'].accuracy, 100)} % "
               f"({len(seeds)} seeds, 95 % t-intervals)")
    return Frame(figure_png(fig), caption)


def tau_explorer(config: Config | None = None, seeds=None, static: bool | None = None, *,
                 grid: Sequence[float] | None = None, baseline: ExperimentResult | None = None, device=None):
    """Chapter 4: projection threshold tau (project when cos(g_d, g_t) > tau) for ``seeds`` of ``config``.

    Pass the chapter's sweep values as ``grid`` and its seeds: the frames are then read from the cache of
    the chapter's tau sweep. ``baseline`` (the chapter's main run) supplies the plain student.
    """
    grid = grid_values("tau", grid, TAU_GRID)
    for tau in grid:
        if not -1.0 <= tau <= 1.0:
            raise ValueError(f"tau must lie in [-1, 1]; got {tau}")
    seeds = default_seeds() if seeds is None else seeds
    return explorer(grid, lambda tau: tau_frame(tau, config, seeds, baseline, device), description="threshold τ",
                     what="τ", static=static, initial=0.0, bounds=(min(TAU_RANGE[0], min(grid)),
                                                                   max(TAU_RANGE[1], max(grid))))


__all__ = [
    "tau_frame", "tau_explorer",
]
