"""Figures of Chapter 1, the experiment."""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from .. import analysis
from ..config import N_MNIST_TEST
from .style import (
    CHANCE,
    FONT,
    FONT_SMALL,
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


def plot_digits_vs_noise(digits: np.ndarray, labels: Sequence[int], noise: np.ndarray, n: int = 6):
    """Two rows of 28x28 images: MNIST ``digits`` (with their ``labels``) above ``noise`` images.

    ``digits`` and ``noise`` are (>= n, 784) arrays with pixels in [-1, 1].
    """
    fig, axes = figure(2, n, height=WIDTH * 2 / n * 0.62)
    for j in range(n):
        for row, (images, title) in enumerate([(digits, f"label {int(labels[j])}"), (noise, "")]):
            ax = axes[row, j]
            ax.imshow(np.asarray(images[j]).reshape(28, 28), cmap="gray", vmin=-1, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(title, fontsize=FONT_SMALL)
    axes[0, 0].set_ylabel("MNIST", fontsize=FONT)
    axes[1, 0].set_ylabel("noise", fontsize=FONT)
    legend_outside(fig)
    return fig


def plot_accuracy_by_seed(result, conditions: Iterable[str] | None = None, seed=0):
    """Per-seed digit accuracy of every condition (dots), with the mean and its 95 % interval (bar)."""
    names = list(conditions) if conditions is not None else list(result.conditions)
    fig, ax = figure(height=0.42 * len(names) + 1.0)
    rng = np.random.default_rng(seed)
    for i, name in enumerate(names):
        acc = 100.0 * np.asarray(result[name].accuracy, dtype=float)
        y = len(names) - 1 - i
        ax.scatter(acc, y + rng.uniform(-0.15, 0.15, len(acc)), s=16, color=color(name), alpha=0.6,
                   edgecolor="none", zorder=2)
        mean, half = analysis.mean_ci(acc)
        ax.errorbar(mean, y, xerr=half, fmt="|", ms=16, mew=2.2, color="black", elinewidth=1.5, capsize=4,
                    zorder=3)
    ax.axvline(CHANCE, color="#888888", lw=0.8, ls="--", zorder=0)
    ax.text(
        CHANCE, len(names) - 0.4, " chance", color="#666666", fontsize=FONT_SMALL,
        va="bottom",
    )
    ax.set_yticks(range(len(names)))
    ax.set_yticklabels([label(n) for n in reversed(names)])
    ax.set_ylim(-0.6, len(names) - 0.2)
    ax.set_xlim(0, 100)
    ax.set_xlabel(f"digit accuracy on the {N_MNIST_TEST:,} MNIST test images (%)")
    ax.scatter([], [], s=16, color="#777777", label="one seed")
    ax.errorbar([], [], xerr=[], fmt="|", color="black", label="mean ± 95% CI")
    ax.legend(loc="lower right", frameon=False)
    style_axes(ax)
    legend_outside(fig)
    return fig


def plot_accuracy_curves(result, conditions: Iterable[str] | None = None, per_epoch: int | None = None,
                         ax=None, band_kind: str = "range"):
    """Digit accuracy during distillation: mean over seeds (line) and a band over seeds (``band_kind``, see
    :func:`band`: the range by default)."""
    names = student_conditions(result, conditions, "curve_acc")
    own = ax is None
    fig, ax = figure() if ax is None else (ax.figure, ax)
    steps = np.asarray(result.curve_steps)
    for name in names:
        curves = 100.0 * np.asarray(result[name].curve_acc, dtype=float)
        ax.fill_between(steps, *band(curves, band_kind), color=color(name), alpha=0.18, lw=0)
        ax.plot(steps, curves.mean(axis=0), color=color(name), lw=2, label=label(name))
    ax.axhline(CHANCE, color="#888888", lw=0.8, ls="--", zorder=0)
    epoch_lines(ax, int(steps[-1]) if len(steps) else 0, per_epoch)
    ax.set_xlabel("distillation step (Adam updates)")
    ax.set_ylabel("digit accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_xlim(0, steps[-1] if len(steps) else 1)
    ax.legend(frameon=False, loc="upper left", ncol=2)
    style_axes(ax)
    if own:
        legend_outside(fig)
    return fig


__all__ = [
    "plot_digits_vs_noise", "plot_accuracy_by_seed", "plot_accuracy_curves",
]
