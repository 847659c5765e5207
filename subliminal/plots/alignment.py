"""Figures of Chapter 3, alignment over many steps."""

from __future__ import annotations

from typing import Iterable

import numpy as np

from .. import analysis
from ..conditions import TRANSFER_CONDITIONS
from .experiment import plot_accuracy_curves
from .style import (
    CHANCE,
    WIDTH,
    band,
    color,
    epoch_lines,
    figure,
    label,
    legend_outside,
    student_conditions,
    style_axes,
)


def plot_cosine_trace(result, conditions: Iterable[str] = ("student_aux",), window: int = 15,
                      per_epoch: int | None = None, ax=None, band_kind: str = "sd"):
    """Per-step cos(g_d, g_t): mean over seeds (thin), its moving average over about ``window`` steps
    (thick) and a band over seeds (shaded; ``band_kind`` as in :func:`band`, mean ± 1 sd by default).
    A run that measured every k-th step (``Config.alignment_every``) is drawn on its measured steps."""
    names = student_conditions(result, conditions, "cosine")
    own = ax is None
    fig, ax = figure() if ax is None else (ax.figure, ax)
    n_steps = 0
    for name in names:
        cos = np.asarray(result[name].cosine, dtype=float)
        n_steps = max(n_steps, cos.shape[1])
        steps = np.flatnonzero(~np.isnan(cos).any(axis=0))  # the measured steps
        cos = cos[:, steps]
        every = int(steps[1] - steps[0]) if len(steps) > 1 else 1
        points = max(1, round(window / every))
        if every > 1 and points % 2 == 0:
            points += 1  # an odd number of points keeps the average centred on its step
        mean = cos.mean(axis=0)
        ax.fill_between(steps, *band(cos, band_kind), color=color(name), alpha=0.15, lw=0)
        ax.plot(steps, mean, color=color(name), lw=0.6, alpha=0.6)
        ax.plot(steps, analysis.moving_average(mean, points), color=color(name), lw=2.2,
                label=f"{label(name)} ({points * every}-step average)")
    ax.axhline(0, color="black", lw=0.8)
    epoch_lines(ax, n_steps, per_epoch)
    ax.set_xlim(0, max(n_steps - 1, 1))
    ax.set_xlabel("distillation step (Adam updates)")
    ax.set_ylabel(r"cos$(g_d, g_t)$")
    ax.legend(frameon=False, loc="upper right")
    style_axes(ax)
    if own:
        legend_outside(fig)
    return fig


def plot_cosine_histogram(result, conditions: Iterable[str] = TRANSFER_CONDITIONS, bins: int = 60):
    """Distribution of the per-step cosines (all steps of all seeds pooled), one outline per condition."""
    names = student_conditions(result, conditions, "cosine")
    fig, ax = figure(height=3.0)
    pooled = {n: np.asarray(result[n].cosine, dtype=float).ravel() for n in names}
    top = max(np.quantile(np.abs(v), 0.995) for v in pooled.values())
    edges = np.linspace(-top, top, bins + 1)
    for name, values in pooled.items():
        share = 100.0 * (values > 0).mean()
        ax.hist(values, bins=edges, histtype="stepfilled", alpha=0.25, color=color(name))
        ax.hist(values, bins=edges, histtype="step", lw=1.5, color=color(name),
                label=f"{label(name)}: {share:.0f}% of steps > 0")
        ax.axvline(values.mean(), color=color(name), lw=1.5, ls="--")
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlabel(r"cos$(g_d, g_t)$ at one step (dashed: mean)")
    ax.set_ylabel("number of steps (all seeds)")
    ax.legend(frameon=False, loc="upper left")
    style_axes(ax)
    legend_outside(fig)
    return fig


def plot_alignment_and_accuracy(result, condition: str = "student_aux", window: int = 15,
                                per_epoch: int | None = None):
    """The smoothed cosine (top) above the accuracy curve (bottom), on the same steps."""
    fig, (ax1, ax2) = figure(2, 1, height=4.8, sharex=True)
    plot_cosine_trace(result, [condition], window=window, per_epoch=per_epoch, ax=ax1)
    plot_accuracy_curves(result, [condition], per_epoch=per_epoch, ax=ax2)
    ax1.set_xlabel("")
    n_steps = np.asarray(result[condition].cosine).shape[1]
    ax2.set_xlim(0, n_steps)
    ax2.set_ylim(0, max(30.0, 100.0 * float(np.max(result[condition].curve_acc)) + 5))
    legend_outside(fig)
    return fig


def plot_epoch_cosine(result, conditions: Iterable[str] = TRANSFER_CONDITIONS,
                      per_epoch: int | None = None):
    """Mean cosine in each epoch (mean over seeds, with its 95 % interval), one line per condition."""
    names = student_conditions(result, conditions, "cosine")
    per_epoch = per_epoch or analysis.steps_per_epoch(result.config)
    fig, ax = figure(height=3.0, width=WIDTH * 0.7)
    for k, name in enumerate(names):
        means = analysis.epoch_means(result[name].cosine, per_epoch)
        epochs = np.arange(1, means.shape[1] + 1)
        stats = [analysis.mean_ci(means[:, e]) for e in range(means.shape[1])]
        ax.errorbar(epochs + 0.06 * (k - (len(names) - 1) / 2), [m for m, _ in stats],
                    yerr=[h for _, h in stats], fmt="o-", capsize=3, color=color(name), label=label(name))
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(epochs)
    ax.set_xlabel("epoch of distillation")
    ax.set_ylabel(r"mean cos$(g_d, g_t)$ in the epoch")
    ax.legend(frameon=False)
    style_axes(ax)
    legend_outside(fig)
    return fig


def plot_critical_period(result, condition: str = "student_aux", reference: str | None = "cross_aux",
                         per_epoch: int | None = None):
    """Per epoch: mean cos(g_d, g_t) (left, with ``reference`` for comparison) and the digit accuracy
    gained in that epoch (right); means over seeds with 95 % intervals."""
    per_epoch = per_epoch or analysis.steps_per_epoch(result.config)
    fig, (ax1, ax2) = figure(1, 2, height=3.6)
    names = [condition] + ([reference] if reference and reference in result.conditions else [])
    for k, name in enumerate(names):
        means = analysis.epoch_means(result[name].cosine, per_epoch)
        epochs = np.arange(1, means.shape[1] + 1)
        stats = [analysis.mean_ci(means[:, e]) for e in range(means.shape[1])]
        ax1.errorbar(epochs + 0.08 * k, [m for m, _ in stats], yerr=[h for _, h in stats], fmt="o-", capsize=3,
                     color=color(name), label=label(name))
    ax1.axhline(0, color="black", lw=0.8)
    ax1.set_xlabel("epoch of distillation")
    ax1.set_ylabel(r"mean cos$(g_d, g_t)$ in the epoch")
    ax1.legend(frameon=False, loc="best")
    gains = 100.0 * analysis.epoch_gains(result, condition, per_epoch)
    epochs = np.arange(1, gains.shape[1] + 1)
    stats = [analysis.mean_ci(gains[:, e]) for e in range(gains.shape[1])]
    ax2.bar(epochs, [m for m, _ in stats], yerr=[h for _, h in stats], capsize=3, color=color(condition),
            alpha=0.8, label=label(condition))
    ax2.set_xlabel("epoch of distillation")
    ax2.set_ylabel("accuracy gained (% points)")
    ax2.legend(frameon=False, loc="best")
    for ax in (ax1, ax2):
        ax.set_xticks(epochs)
        style_axes(ax)
    legend_outside(fig)
    return fig


def plot_seed_scatter(result, conditions: Iterable[str] = TRANSFER_CONDITIONS, x: str = "mean_cosine"):
    """Each seed's alignment statistic ``x`` (a field of :class:`analysis.AlignmentStats`) against
    its final digit accuracy; for the first condition (>= 3 seeds) also a least-squares line and Pearson r."""
    names = student_conditions(result, conditions, "cosine")
    fig, ax = figure(height=3.4, width=WIDTH * 0.75)
    xlabels = {"mean_cosine": r"mean cos$(g_d, g_t)$ over all steps",
               "frac_positive": r"fraction of steps with cos$(g_d, g_t) > 0$",
               "early": r"mean cos$(g_d, g_t)$ in the first epoch"}
    for k, name in enumerate(names):
        s = analysis.alignment_stats(result, name)
        xs, ys = getattr(s, x), 100.0 * s.accuracy
        text = label(name)
        if k == 0 and len(xs) >= 3 and np.ptp(xs) > 0:
            corr = analysis.correlation(xs, ys)
            slope, intercept = np.polyfit(xs, ys, 1)
            grid = np.linspace(xs.min(), xs.max(), 20)
            ax.plot(grid, slope * grid + intercept, color=color(name), lw=1.2, ls="--")
            text += f" (r = {corr.r:.2f})"
        ax.scatter(xs, ys, color=color(name), s=28, label=text, zorder=3)
    ax.axhline(CHANCE, color="#888888", lw=0.8, ls="--", zorder=0)
    ax.axvline(0, color="black", lw=0.6, zorder=0)
    ax.set_xlabel(xlabels.get(x, x))
    ax.set_ylabel("final digit accuracy (%)")
    ax.legend(frameon=False, loc="best")
    style_axes(ax)
    legend_outside(fig)
    return fig


__all__ = [
    "plot_cosine_trace", "plot_cosine_histogram", "plot_alignment_and_accuracy", "plot_epoch_cosine",
    "plot_critical_period", "plot_seed_scatter",
]
