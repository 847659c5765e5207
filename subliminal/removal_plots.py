"""Figures of Chapter 4 (removal or breakage?), in the book's figure style (see :mod:`subliminal.plots`)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from . import plots
from .config import N_DIGITS
from .models import DISPLACEMENT_PARTS
from .removal import Arm
from .results import CHANCE_PERCENT, ExperimentResult, mean_ci


def _ci(values) -> tuple[float, float]:
    mean, half = mean_ci(values)
    return mean, (half if np.isfinite(half) else 0.0)


def plot_class_histograms(result: ExperimentResult, names: Sequence[str], labels: Sequence[str],
                          colors: Sequence[str]):
    """What "chance" is: the share of the 10,000 test images predicted as each digit (mean over seeds, with
    the seeds' range as a thin line), one group of bars per condition; the dashed line is 10 %."""
    fig, ax = plots.figure(height=3.0)
    width = 0.8 / len(names)
    digits = np.arange(N_DIGITS)
    for i, (name, lab, col) in enumerate(zip(names, labels, colors)):
        shares = 100.0 * result[name].class_shares
        x = digits - 0.4 + width * (i + 0.5)
        ax.bar(x, shares.mean(axis=0), width=width, color=col, label=lab)
        ax.vlines(x, shares.min(axis=0), shares.max(axis=0), color="#333333", lw=0.8)
    ax.axhline(CHANCE_PERCENT, color="#888888", lw=0.8, ls="--", zorder=0)
    ax.set_xticks(digits)
    ax.set_xlabel("predicted digit")
    ax.set_ylabel("test images predicted (%)")
    plots.style_axes(ax)
    plots.legend_outside(fig)
    return fig


def plot_drive_and_accuracy(results: Sequence[ExperimentResult], arm_groups: Sequence[Sequence[Arm]],
                            titles: Sequence[str], reference: str = "reference"):
    """One panel per optimiser: each arm's first-order drive on the real digit loss (summed over training,
    independent batch; nats) against its final digit accuracy (%), mean ± 95 % t-interval on both axes.
    The grey band is the untrained network's accuracy (mean ± interval). Removal sits at drive 0 and in the
    band; a placebo that leaves the channel sits with the plain student."""
    fig, axes = plots.figure(1, len(results), height=3.4, sharey=True)
    axes = np.atleast_1d(axes)
    for ax, result, arms, title in zip(axes, results, arm_groups, titles):
        ref, ref_half = _ci(100.0 * result[reference].accuracy)
        ax.axhspan(ref - ref_half, ref + ref_half, color="#dddddd", zorder=0)
        ax.axvline(0.0, color="#888888", lw=0.8, ls="--", zorder=0)
        for arm in arms:
            res = result[arm.name]
            dx, dx_half = _ci(res.drive.sum(axis=1))
            y, y_half = _ci(100.0 * res.accuracy)
            ax.errorbar(dx, y, xerr=dx_half, yerr=y_half, fmt="o", color=arm.color, capsize=2, ms=6,
                        label=arm.label.split(": ", 1)[1] if ax is axes[0] else None)
        ax.set_title(title)
        ax.set_xlabel("drive on the digit loss (nats)")
        plots.style_axes(ax)
    axes[0].set_ylabel("final digit accuracy (%)")
    plots.legend_outside(fig)
    return fig


def plot_displacement(result: ExperimentResult, arms: Sequence[Arm], null: ExperimentResult | None = None,
                      null_name: str = "cross_aux", layers: Sequence[str] = ("W1", "W2")):
    """Does the representation still move toward the teacher's? cos(θ_S - θ_0, θ_T - θ_0) per hidden layer
    for each arm (mean ± 95 % t-interval, seeds as dots), next to the cross-init student (the null)."""
    columns = [DISPLACEMENT_PARTS.index(layer) for layer in layers]
    fig, axes = plots.figure(1, len(layers), height=3.0, sharey=True)
    axes = np.atleast_1d(axes)
    entries = [(a.label.split(": ", 1)[1], a.color, result[a.name].displacement_cos) for a in arms]
    if null is not None:
        entries.append(("cross-init student (null)", plots.color(null_name), null[null_name].displacement_cos))
    for ax, column, layer in zip(axes, columns, layers):
        for i, (lab, col, cos) in enumerate(entries):
            values = cos[:, column]
            mean, half = _ci(values)
            ax.bar(i, mean, color=col, label=lab if ax is axes[0] else None)
            ax.errorbar(i, mean, yerr=half, color="#333333", capsize=3)
            ax.plot(np.full(len(values), i), values, ".", color="#333333", ms=3)
        ax.axhline(0.0, color="#888888", lw=0.8)
        ax.set_xticks([])
        ax.set_title(f"layer {layer}")
        plots.style_axes(ax)
    axes[0].set_ylabel("displacement cosine\nto the teacher's")
    plots.legend_outside(fig)
    return fig


__all__ = ["plot_class_histograms", "plot_drive_and_accuracy", "plot_displacement"]
