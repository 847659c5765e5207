"""Chapter 5's explorer: the liminal scale."""

from __future__ import annotations

from typing import Sequence

from .. import analysis, plots
from ..config import Config
from ..results import ExperimentResult
from .explorer import explorer
from .frames import (
    COSINE,
    FRAME_HEIGHT,
    LIMINAL_GRID,
    LIMINAL_RANGE,
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


def liminal_frame(scale: float, config: Config | None = None, seeds=3, baseline: ExperimentResult | None = None,
                  device=None, window: int = 15) -> Frame:
    """The liminal student at ``liminal_scale = scale`` against the plain student: accuracy curves, the
    alignment trace and the mean cosine per epoch (bands and bars: 95 % t-intervals over seeds).

    ``baseline`` (the chapter's main run) gives the plain student, and the liminal student itself when
    ``scale`` is the run's own ``liminal_scale``; other scales run ``["liminal"]`` for ``seeds``.
    """
    config = config or default_config()
    seeds = seed_list(seeds)
    scaled = config.replace(liminal_scale=float(scale))
    plain = plain_baseline(config, seeds, baseline, device, ("liminal_scale",))
    liminal = run_conditions(scaled, seeds, ["liminal"], device, reuse=baseline)
    both = merge_results(scaled, seeds, (plain, "student_aux"), (liminal, "liminal"))
    names = ["student_aux", "liminal"]
    per_epoch = analysis.steps_per_epoch(config)
    fig, (acc, trace, bars, loss) = frame_figure(2, 2, height=FRAME_HEIGHT)
    plots.plot_accuracy_curves(both, names, per_epoch=per_epoch, ax=acc, band_kind="ci")
    acc.set_title(f"digit accuracy, s = {scale:g}")
    caption = (f"s = {scale:g}: accuracy {pm(liminal['liminal'].accuracy, 100)} % vs plain student "
               f"{pm(plain['student_aux'].accuracy, 100)} %")
    if liminal["liminal"].cosine is not None and plain["student_aux"].cosine is not None:
        plots.plot_cosine_trace(both, names, window=window, per_epoch=per_epoch, ax=trace, band_kind="ci")
        trace.set_title(f"alignment {COSINE}")
        epochs = {n: analysis.epoch_means(both[n].cosine, per_epoch) for n in names}
        plots.plot_epoch_bars(epochs, bars, f"mean {COSINE}")
        bars.set_xlabel("epoch")
        bars.set_title(f"mean {COSINE} per epoch")
        caption += (f"; mean {COSINE} in epoch 1: {epochs['liminal'][:, 0].mean():.4f} vs plain "
                    f"{epochs['student_aux'][:, 0].mean():.4f}")
    else:
        for ax in (trace, bars):
            ax.set_visible(False)
    plots.plot_loss_curves(both, names, per_epoch=per_epoch, ax=loss)  # log scale: band = range over seeds
    loss.set_title("distillation loss")
    short_axes(acc, trace, loss)
    finish_frame(fig)
    return Frame(figure_png(fig), caption + f" ({len(seeds)} seeds)")


def liminal_explorer(config: Config | None = None, seeds=None, static: bool | None = None, *,
                     grid: Sequence[float] | None = None, baseline: ExperimentResult | None = None, device=None):
    """Chapter 5: liminal_scale s (0 = no liminal term) -> accuracy and alignment against the plain student."""
    grid = grid_values("liminal", grid, LIMINAL_GRID)
    for scale in grid:
        if scale < 0:
            raise ValueError(f"liminal_scale must be at least 0; got {scale}")
    seeds = default_seeds() if seeds is None else seeds
    initial = 1.0 if 1.0 in grid else grid[0]
    return explorer(grid, lambda s: liminal_frame(s, config, seeds, baseline, device), description="liminal scale s",
                     what="s", static=static, initial=initial, bounds=(0.0, max(LIMINAL_RANGE[1], max(grid))))


__all__ = [
    "liminal_frame", "liminal_explorer",
]
