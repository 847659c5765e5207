"""Chapter 3's explorer: which steps have cos > tau, per epoch (no training)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .. import analysis, plots
from ..config import fast_mode
from ..results import ExperimentResult
from .explorer import explorer
from .frames import (
    ALIGNMENT_POINTS,
    COSINE,
    FAST_ALIGNMENT_POINTS,
    FRAME_HEIGHT,
    Frame,
    figure_png,
    finish_frame,
    mosaic,
)


def alignment_frame(tau: float, result: ExperimentResult, condition: str = "student_aux", window: int = 15) -> Frame:
    """Which steps of a finished run have cos(g_d, g_t) > ``tau`` (would fire under projection with threshold
    tau, on the unprojected trajectory), their share per epoch, and per seed and epoch against the accuracy
    gained in that epoch. Reads the run's stored traces; trains nothing."""
    cos = np.asarray(result[condition].cosine, dtype=float)
    per_epoch = analysis.steps_per_epoch(result.config)
    above = cos > tau
    rate = analysis.epoch_means(above, per_epoch)  # (N, E)
    gains = 100.0 * analysis.epoch_gains(result, condition, per_epoch)
    fig, panels = mosaic([["trace", "trace"], ["bars", "rel"]], height=FRAME_HEIGHT)
    trace, bars, rel = panels["trace"], panels["bars"], panels["rel"]
    plots.plot_cosine_trace(result, [condition], window=window, per_epoch=per_epoch, ax=trace)
    trace.axhline(tau, color="#D55E00", lw=1.2, ls="--", label=f"τ = {tau:.4g}")
    plots.plot_fired_steps(above, trace, condition, text=f"{COSINE} > τ")
    trace.set_xlabel("distillation step")
    trace.set_title(f"{COSINE} per step, τ = {tau:.4g}")
    plots.plot_epoch_bars({condition: rate}, bars, "steps above τ (%)", scale=100.0)
    bars.set_ylim(0, 100)
    bars.set_title("share of steps above τ")
    plots.plot_epoch_relation(100.0 * rate, gains, rel, xlabel="steps above τ in the epoch (%)",
                              ylabel="accuracy gain (% points)", condition=condition)
    rel.set_title("per seed and epoch")
    for line in rel.get_lines():  # the Pearson r goes into the title, not the legend
        if line.get_label().startswith("r = "):
            rel.set_title(f"per seed and epoch: {line.get_label().split(' over ')[0]}")
            line.set_label("_r")
    first, last = 100.0 * rate[:, 0].mean(), 100.0 * rate[:, -1].mean()
    flat = (100.0 * rate).ravel()
    relation = ""
    if rate.shape[0] >= 2 and np.ptp(flat) > 0:  # within epochs: the common trend over time removed
        within = analysis.within_epoch_correlation(100.0 * rate, gains).r
        relation = f"; within-epoch r(share above τ, accuracy gain) = {within:.2f}"
    caption = (f"τ = {tau:.4g}: {COSINE} > τ on {100.0 * above.mean():.1f} % of steps "
               f"(epoch 1: {first:.1f} %, epoch {rate.shape[1]}: {last:.1f} %); mean {COSINE} = {cos.mean():.4f}"
               f"{relation} over {len(flat)} seed-epochs")
    shade = f"{COSINE} > τ (shade: share of seeds)"
    finish_frame(fig, rename={f"{COSINE} > τ (opacity: share of seeds)": shade})
    return Frame(figure_png(fig), caption)


def alignment_explorer(result: ExperimentResult, static: bool | None = None, *, grid: Sequence[float] | None = None,
                       condition: str = "student_aux", window: int = 15):
    """Chapter 3: a threshold tau over the stored cosine traces of ``result`` (the chapter's run; no training).

    Default grid: evenly spaced from the 5th to the 95th percentile of the pooled per-step cosines, with 0
    (25 points; 7 in fast mode); live, any tau between the 1st and 99th percentile.
    """
    if condition not in result.conditions or result[condition].cosine is None:
        raise ValueError(f"result has no cosine trace for {condition!r}; run it with track_alignment=True")
    cos = np.asarray(result[condition].cosine, dtype=float)
    if grid is None:
        points = FAST_ALIGNMENT_POINTS if fast_mode() else ALIGNMENT_POINTS
        low, high = np.quantile(cos, [0.05, 0.95])
        values = np.linspace(low, high, points - 1)
        grid = sorted(set(np.round(np.append(values, 0.0), 4).tolist()))
    bounds = tuple(float(v) for v in np.quantile(cos, [0.01, 0.99]))
    bounds = (min(bounds[0], min(grid)), max(bounds[1], max(grid)))
    initial = 0.0 if 0.0 in grid else float(grid[0])
    return explorer(grid, lambda tau: alignment_frame(tau, result, condition, window), description="threshold τ",
                     what="τ", static=static, initial=initial, bounds=bounds)


__all__ = [
    "alignment_frame", "alignment_explorer",
]
