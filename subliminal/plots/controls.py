"""Figures of paired epoch comparisons and of the first-order accounting (Chapters 3 and 5)."""

from __future__ import annotations

import numpy as np

from .. import analysis
from .style import (
    WIDTH,
    color,
    figure,
    label,
    legend_outside,
    style_axes,
)


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


__all__ = ["plot_epoch_comparisons", "plot_first_order_accounting"]
