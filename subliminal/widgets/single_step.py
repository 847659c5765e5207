"""Chapter 2's explorer: the teacher step eps and the first-order change of the trait loss."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .. import plots
from ..config import Config
from .explorer import explorer
from .frames import (
    EPSILON_RANGE,
    RESOLUTION,
    SINGLE_STEP_GRID,
    STUDENT_LRS_SINGLE_STEP,
    Frame,
    default_config,
    figure_png,
    finish_frame,
    frame_figure,
    grid_values,
)


def single_step_frame(eps: float, config: Config | None = None, student_lrs: Sequence[float] | None = None,
                      seed: int = 0, device=None) -> Frame:
    """Predicted (first order) vs actual change of the trait loss over the student step alpha, after one
    teacher step of size ``eps``; the alpha at which first order breaks down (>10 % off) is marked."""
    from ..theory import single_step_check

    check = single_step_check(config or default_config(), seed=seed, teacher_lr=float(eps), device=device,
                              student_lrs=np.asarray(STUDENT_LRS_SINGLE_STEP if student_lrs is None else student_lrs,
                                                     dtype=float))
    fig, (ax, ratio_ax) = frame_figure(1, 2, height=4.0)
    alpha = np.asarray(check.student_lrs)
    actual, predicted = np.asarray(check.actual_change), np.asarray(check.predicted_change)
    ok = (np.abs(predicted) >= RESOLUTION) & (np.abs(actual) > 0)
    falls = actual < 0
    shade = plots.INIT_COLORS["shared"]
    # magnitudes on log-log axes; the sign of the measured change is the marker
    first = "first order −α⟨Δθ_T, Δθ_S⟩"
    ax.loglog(alpha, np.abs(predicted), color="#444444", label=first)
    down, up = ok & falls, ok & ~falls
    falls_label = "measured, L_T falls"
    ax.loglog(alpha[down], -actual[down], "o", color=shade, ms=7, label=falls_label)
    if up.any():
        ax.loglog(alpha[up], actual[up], "x", color="#D55E00", ms=8, mew=2,
                  label="measured, L_T rises")
    ax.set_xlabel("student step size α")
    ax.set_ylabel("|change of L_T| (nats)")
    ax.set_title(f"teacher step ε = {check.teacher_lr:.2g}")
    ratio = np.where(ok, actual / np.where(predicted == 0, np.nan, predicted), np.nan)
    ratio_ax.plot(alpha, np.clip(ratio, -1.0, 2.0), "o-", color=shade, ms=6)
    ratio_ax.axhline(1.0, color="#444444", lw=1, ls="--", label="first order exact")
    ratio_ax.set_xscale("log")
    ratio_ax.set_ylim(-1.05, 2.05)
    ratio_ax.set_xlabel("student step size α")
    ratio_ax.set_ylabel("measured / first order")
    ratio_ax.set_title("ratio (clipped to [−1, 2])")
    broken = check.breakdown_lr()
    if np.isfinite(broken):
        for a in (ax, ratio_ax):
            a.axvline(broken, color="#D55E00", lw=1.5, ls=":",
                      label=f"breaks down at α·ε = {broken * check.teacher_lr:.2g}")
        where = f"first order breaks down (>10 % off) at α = {broken:.3g}, α·ε = {broken * check.teacher_lr:.3g}"
    else:
        where = f"first order holds (within 10 %) up to the largest α = {alpha.max():.3g}"
    for a in (ax, ratio_ax):
        plots.style_axes(a)
    finish_frame(fig)
    caption = (f"ε = {check.teacher_lr:.3g}: cos(Δθ_T, Δθ_S) = {check.cos:.4f}, ⟨Δθ_T, Δθ_S⟩ = {check.inner:.3g}; "
               f"{where}")
    return Frame(figure_png(fig), caption)


def single_step_explorer(static: bool | None = None, *, grid: Sequence[float] | None = None,
                         config: Config | None = None, student_lrs: Sequence[float] | None = None, seed: int = 0,
                         device=None):
    """Chapter 2: one teacher step of size eps, one student step on the aux-logit KL on noise.

    The slider picks the teacher's step size eps. The frame plots, against the student's step size alpha,
    the first-order prediction -alpha <dtheta_T, dtheta_S> of the change of the teacher's trait loss L_T and
    the measured change, their ratio, and the alpha (and alpha*eps) at which first order breaks down, using
    :func:`subliminal.theory.single_step_check` (plain gradient steps, no Adam) with the chapter's config.
    """
    grid = grid_values("single_step", grid, SINGLE_STEP_GRID)
    config = config or default_config()
    return explorer(grid, lambda eps: single_step_frame(eps, config, student_lrs, seed, device),
                     description="teacher step ε", what="ε", static=static, initial=grid[len(grid) // 2],
                     bounds=EPSILON_RANGE, log=True)


__all__ = [
    "single_step_frame", "single_step_explorer",
]
