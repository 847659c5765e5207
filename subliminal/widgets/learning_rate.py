"""Chapter 6's explorer: the student learning rate, shared-init vs cross-init."""

from __future__ import annotations

from typing import Sequence

from .. import analysis, plots
from ..conditions import TRANSFER_CONDITIONS
from ..config import Config
from ..results import ExperimentResult
from .explorer import explorer
from .frames import (
    COSINE,
    FRAME_HEIGHT,
    LEARNING_RATE_GRID,
    LEARNING_RATE_RANGE,
    Frame,
    default_config,
    default_seeds,
    figure_png,
    finish_frame,
    frame_figure,
    grid_values,
    pm,
    run_conditions,
    seed_list,
    short_axes,
)

LR_CONDITIONS = TRANSFER_CONDITIONS  # shared-init vs cross-init aux-only student


def learning_rate_frame(lr: float, config: Config | None = None, seeds=3, device=None, window: int = 15,
                        baseline: ExperimentResult | None = None) -> Frame:
    """Shared-init vs cross-init aux-only student at student learning rate ``lr``: cosine traces, the share of
    measured steps (every ``config.alignment_every``-th) with cos > 0, the mean cosine and the final
    accuracy (95 % t-intervals over seeds). ``baseline``: a run (the book's main run) that answers for the
    frame it coincides with."""
    config = (config or default_config()).replace(student_lr=float(lr), track_alignment=True)
    seeds = seed_list(seeds)
    result = run_conditions(config, seeds, LR_CONDITIONS, device, reuse=baseline)
    fig, (trace, pos, mean, acc) = frame_figure(2, 2, height=FRAME_HEIGHT)
    plots.plot_cosine_trace(result, LR_CONDITIONS, window=window, per_epoch=analysis.steps_per_epoch(config),
                            ax=trace, band_kind="ci")
    trace.set_title(f"{COSINE}, student lr = {lr:.2g}")
    short_axes(trace)
    panels = (
        (pos, "frac_positive", f"steps with {COSINE} > 0"),
        (mean, "mean_cosine", f"mean {COSINE}"),
        (acc, "accuracy", "final digit accuracy"),
    )
    for ax, stat, title in panels:
        plots.plot_condition_stat(result, LR_CONDITIONS, stat, ax)
        ax.set_title(title)
        ax.set_xticklabels([plots.label(n).split(",")[0] for n in LR_CONDITIONS])
    pos.set_ylabel("% of measured steps")
    mean.set_ylabel(COSINE)
    acc.set_ylabel("accuracy (%)")
    acc.set_ylim(0, 100)
    pos.set_ylim(0, 100)
    finish_frame(fig)
    s, c = result["student_aux"], result["cross_aux"]
    caption = (f"student lr = {lr:.3g}: {COSINE} > 0 on {pm(s.frac_positive, 100)} % of measured steps "
               f"(shared init) vs "
               f"{pm(c.frac_positive, 100)} % (cross init); mean {COSINE} {pm(s.mean_cosine, 1, 4)} vs "
               f"{pm(c.mean_cosine, 1, 4)}; accuracy {pm(s.accuracy, 100)} % vs {pm(c.accuracy, 100)} % "
               f"({len(seeds)} seeds, 95 % t-intervals)")
    return Frame(figure_png(fig), caption)


def learning_rate_explorer(config: Config | None = None, seeds=None, static: bool | None = None, *,
                           grid: Sequence[float] | None = None, baseline: ExperimentResult | None = None,
                           device=None):
    """Chapter 6: student learning rate -> alignment and accuracy of the shared-init and cross-init students.

    Pass the chapter's sweep values as ``grid`` and its seeds (and ``baseline``, the main run, when the
    chapter's sweep reused it): the frames are then the chapter's own runs."""
    grid = grid_values("learning_rate", grid, LEARNING_RATE_GRID)
    for lr in grid:
        if not lr > 0:
            raise ValueError(f"a learning rate must be positive; got {lr}")
    config = config or default_config()
    seeds = default_seeds() if seeds is None else seeds
    initial = config.student_lr if config.student_lr in grid else grid[0]
    return explorer(grid, lambda lr: learning_rate_frame(lr, config, seeds, device, baseline=baseline),
                     description="student learning rate", what="student lr", static=static, initial=initial,
                     bounds=(min(LEARNING_RATE_RANGE[0], min(grid)), max(LEARNING_RATE_RANGE[1], max(grid))),
                     log=True)


__all__ = [
    "learning_rate_frame", "learning_rate_explorer", "LR_CONDITIONS",
]
