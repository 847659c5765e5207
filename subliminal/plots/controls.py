"""Figures of controls: placebos, doses, paired epochs."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .. import analysis
from .style import (
    CHANCE,
    FONT_SMALL,
    WIDTH,
    color,
    figure,
    label,
    legend_outside,
    style_axes,
)


def _mean_bars(ax, x, samples, colors, width=0.8, **kwargs):
    stats = [analysis.mean_ci(np.asarray(v, dtype=float)) for v in samples]
    means = [m for m, _ in stats]
    halves = [0.0 if not np.isfinite(h) else h for _, h in stats]
    ax.bar(x, means, width=width, yerr=halves, capsize=3, color=colors, **kwargs)
    rng = np.random.default_rng(0)
    for xi, v in zip(np.atleast_1d(x), samples):
        v = np.asarray(v, dtype=float)
        ax.plot(xi + rng.uniform(-0.12, 0.12, len(v)) * width, v, "o", ms=3, color="#333333", alpha=0.6, zorder=3)


def plot_projection_controls(result, conditions: Sequence[str], rows: slice | None = None):
    """Per condition: final digit accuracy (solid) and accuracy with the initial digit head restored (hatched),
    mean ± 95 % t-interval with the seeds as dots; ``rows`` picks the same seeds from every condition."""
    rows = rows or slice(None)
    fig, ax = figure(height=3.3)
    x = np.arange(len(conditions))
    cols = [color(n) for n in conditions]
    _mean_bars(ax, x - 0.2, [100.0 * np.asarray(result[n].accuracy)[rows] for n in conditions], cols, width=0.38,
               label="final accuracy")
    _mean_bars(ax, x + 0.2, [100.0 * np.asarray(result[n].head_restored_accuracy)[rows] for n in conditions], cols,
               width=0.38, hatch="//", alpha=0.55, label="digit head restored to its init")
    ax.axhline(CHANCE, color="#888888", lw=0.8, ls="--", zorder=0)
    ax.set_xticks(x)
    ax.set_xticklabels(
        [label(n).replace(", ", ",\n") for n in conditions], fontsize=FONT_SMALL
    )
    ax.set_ylim(0, 100)
    ax.set_ylabel("digit accuracy (%)")
    ax.legend(frameon=False, loc="upper right")
    style_axes(ax)
    legend_outside(fig)
    return fig


def plot_dose_response(doses: Sequence[float], accuracy: np.ndarray, condition: str = "projection"):
    """Final accuracy (%) against the dose β (fraction of the aligned component removed): ``accuracy`` is
    (V doses, N seeds) in percent; mean ± 95 % t-interval, seeds as dots joined per seed."""
    doses = np.asarray(doses, dtype=float)
    accuracy = np.asarray(accuracy, dtype=float)
    fig, ax = figure(height=3.0, width=WIDTH * 0.6)
    for seed_curve in accuracy.T:
        ax.plot(doses, seed_curve, "-", color="#bbbbbb", lw=0.8, zorder=1)
    stats = [analysis.mean_ci(v) for v in accuracy]
    ax.errorbar(doses, [m for m, _ in stats], yerr=[0 if not np.isfinite(h) else h for _, h in stats], fmt="o-",
                color=color(condition), capsize=3, lw=2, zorder=3)
    ax.axhline(CHANCE, color="#888888", lw=0.8, ls="--", zorder=0)
    ax.set_xlabel(r"dose $\beta$ (share of the aligned component removed)")
    ax.set_ylabel("final digit accuracy (%)")
    ax.set_ylim(0, 100)
    style_axes(ax)
    legend_outside(fig)
    return fig


def plot_epoch_comparisons(panels: dict, ylabel: str, xlabel: str = "epoch"):
    """Per-epoch paired comparisons: ``panels`` maps a legend label to a list of
    :class:`~subliminal.analysis.Comparison` (one per epoch); mean ± 95 % t-interval, zero line dashed."""
    fig, ax = figure(height=2.9, width=WIDTH * 0.65)
    n = len(panels)
    for k, (name, comps) in enumerate(panels.items()):
        e = np.arange(1, len(comps) + 1) + (k - (n - 1) / 2) * 0.12
        ax.errorbar(e, [c.mean for c in comps], yerr=[0 if not np.isfinite(c.half) else c.half for c in comps],
                    fmt="o-", capsize=3, color=color(name), label=label(name))
    ax.axhline(0, color="#888888", lw=0.8, ls="--")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_xticks(np.arange(1, max(len(c) for c in panels.values()) + 1))
    ax.legend(frameon=False)
    style_axes(ax)
    legend_outside(fig)
    return fig


def plot_first_order_accounting(accounting: dict):
    """Per epoch, the summed first-order trait-loss change sum <g_t, Δθ> (filled) against the measured change
    of the trait loss (open), mean ± 95 % t-interval over seeds; ``accounting`` maps a condition to its
    :class:`~subliminal.analysis.Accounting`."""
    fig, ax = figure(height=3.0, width=WIDTH * 0.75)
    n = len(accounting)
    for k, (name, acc) in enumerate(accounting.items()):
        epochs = np.arange(1, acc.predicted.shape[1] + 1) + (k - (n - 1) / 2) * 0.25
        for values, marker, what in ((acc.predicted, "o", "first order"), (acc.measured, "s", "measured")):
            stats = [analysis.mean_ci(v) for v in values.T]
            ax.errorbar(epochs + (0.06 if marker == "s" else -0.06), [m for m, _ in stats],
                        yerr=[0 if not np.isfinite(h) else h for _, h in stats], fmt=marker,
                        mfc=color(name) if marker == "o" else "white", color=color(name), capsize=3,
                        label=f"{label(name)}: {what}")
    ax.axhline(0, color="#888888", lw=0.8, ls="--")
    ax.set_xlabel("epoch")
    ax.set_ylabel("change of the trait loss (nats)")
    ax.legend(frameon=False)
    style_axes(ax)
    legend_outside(fig)
    return fig


__all__ = ["plot_projection_controls", "plot_dose_response", "plot_epoch_comparisons", "plot_first_order_accounting"]
