"""Figures of axis-level pieces the chapter explorers (subliminal.widgets) draw with."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .. import analysis
from .style import CHANCE, FONT_SMALL, color, label, style_axes

# Axis-level pieces the chapter explorers (subliminal.widgets) draw with, next to the functions above.


def plot_fired_steps(fired: np.ndarray, ax, condition: str = "projection", text: str = "fires"):
    """Mark, along the bottom of a cosine axis, the steps at which a rule fired: one tick per step at which any
    seed fired, its opacity the share of seeds that fired (``fired``: (N, S) bool)."""
    fired = np.atleast_2d(np.asarray(fired, dtype=float))
    share = fired.mean(axis=0)
    steps = np.flatnonzero(share > 0)
    low, high = ax.get_ylim()
    y = low + 0.04 * (high - low)
    if len(steps):
        ax.scatter(steps, np.full(len(steps), y), marker="|", s=60, color=color(condition),
                   alpha=np.clip(share[steps], 0.08, 1.0), lw=1.2, label=f"{text} (opacity: share of seeds)")
    ax.set_ylim(low, high)
    return ax.figure


def plot_epoch_bars(values: dict, ax, ylabel: str, scale: float = 1.0, zero: bool = True):
    """Per epoch, mean ± 95 % t-interval over seeds of a per-epoch quantity, one bar per condition:
    ``values`` maps a condition to an (N, n_epochs) array; ``scale`` multiplies it (100 for percent)."""
    names = list(values)
    width = 0.8 / max(len(names), 1)
    for k, name in enumerate(names):
        v = scale * np.atleast_2d(np.asarray(values[name], dtype=float))
        epochs = np.arange(1, v.shape[1] + 1)
        stats = [analysis.mean_ci(column) for column in v.T]
        ax.bar(epochs + (k - (len(names) - 1) / 2) * width, [m for m, _ in stats], width=width * 0.92,
               yerr=[0.0 if not np.isfinite(h) else h for _, h in stats], capsize=2, color=color(name),
               alpha=0.85, label=label(name))
        ax.set_xticks(epochs)
    if zero:
        ax.axhline(0, color="black", lw=0.8)
    ax.set_xlabel("epoch of distillation")
    ax.set_ylabel(ylabel)
    style_axes(ax)
    return ax.figure


def plot_epoch_relation(x: np.ndarray, y: np.ndarray, ax, xlabel: str, ylabel: str, condition: str = "student_aux"):
    """One dot per (seed, epoch): per-epoch ``x`` against per-epoch ``y`` (both (N, n_epochs)), shaded from dark
    (first epoch) to light (last); the Pearson r over all dots in the legend when it is defined."""
    x = np.atleast_2d(np.asarray(x, dtype=float))
    y = np.atleast_2d(np.asarray(y, dtype=float))
    n_epochs = x.shape[1]
    for e in range(n_epochs):
        ax.scatter(x[:, e], y[:, e], s=18, color=color(condition), alpha=1.0 - 0.7 * e / max(n_epochs - 1, 1),
                   edgecolor="none", label=f"epoch {e + 1}" if e in (0, n_epochs - 1) else None)
    flat_x, flat_y = x.ravel(), y.ravel()
    if len(flat_x) >= 3 and np.ptp(flat_x) > 0 and np.ptp(flat_y) > 0:
        r = analysis.correlation(flat_x, flat_y).r
        ax.plot([], [], " ", label=f"r = {r:.2f} over {len(flat_x)} dots")
    ax.axhline(0, color="#888888", lw=0.6, zorder=0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(frameon=False, loc="best")
    style_axes(ax)
    return ax.figure


CONDITION_STATS = {
    "accuracy": (100.0, "final digit accuracy (%)"),
    "frac_positive": (100.0, r"steps with cos$(g_d, g_t) > 0$ (%)"),
    "mean_cosine": (1.0, r"mean cos$(g_d, g_t)$ over steps"),
    "frac_projected": (100.0, "steps projected (%)"),
}


def plot_condition_stat(result, conditions: Sequence[str], stat: str, ax):
    """One bar per condition: mean ± 95 % t-interval over seeds of a per-seed statistic ``stat`` (a key of
    :data:`CONDITION_STATS`), the seeds as dots."""
    if stat not in CONDITION_STATS:
        raise ValueError(f"stat must be one of {sorted(CONDITION_STATS)}; got {stat!r}")
    scale, ylabel = CONDITION_STATS[stat]
    names = [n for n in conditions if getattr(result[n], stat) is not None]
    x = np.arange(len(names))
    samples = [scale * np.asarray(getattr(result[n], stat), dtype=float) for n in names]
    stats = [analysis.mean_ci(v) for v in samples]
    ax.bar(x, [m for m, _ in stats], yerr=[0.0 if not np.isfinite(h) else h for _, h in stats], capsize=3,
           color=[color(n) for n in names], alpha=0.85, width=0.6)
    rng = np.random.default_rng(0)
    for xi, v in zip(x, samples):
        ax.plot(xi + rng.uniform(-0.1, 0.1, len(v)), v, "o", ms=3, color="#333333", alpha=0.6, zorder=3)
    if stat == "accuracy":
        ax.axhline(CHANCE, color="#888888", lw=0.8, ls="--", zorder=0)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(x)
    ax.set_xticklabels(
        [label(n).replace(", ", ",\n") for n in names], fontsize=FONT_SMALL
    )
    ax.set_ylabel(ylabel)
    style_axes(ax)
    return ax.figure


__all__ = [
    "plot_fired_steps", "plot_epoch_bars", "plot_epoch_relation", "plot_condition_stat", "CONDITION_STATS",
]
