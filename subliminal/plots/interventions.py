"""Figures of Chapters 4-6: mitigations and sweeps."""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from .. import analysis
from .experiment import plot_accuracy_curves
from .style import (
    CHANCE,
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

# (functions for the later chapters are appended below this line)

# --- mitigations and sweeps (chapters 4-6)


def plot_loss_curves(result, conditions: Iterable[str] = ("student_aux", "projection"), window: int = 5,
                     per_epoch: int | None = None, ax=None, band_kind: str = "range"):
    """Distillation loss per step (log scale): smoothed mean over seeds (line) and a band over seeds
    (``band_kind`` as in :func:`band`, the range by default). The loss is the imitation KL only, without any
    mitigation term."""
    names = student_conditions(result, conditions, "loss")
    own = ax is None
    fig, ax = figure() if ax is None else (ax.figure, ax)
    n_steps = 0
    for name in names:
        loss = np.asarray(result[name].loss, dtype=float)
        steps = np.arange(1, loss.shape[1] + 1)
        n_steps = max(n_steps, loss.shape[1])
        smooth = analysis.moving_average(loss, window)
        ax.fill_between(steps, *band(smooth, band_kind), color=color(name), alpha=0.15, lw=0)
        ax.plot(steps, smooth.mean(axis=0), color=color(name), lw=2, ls="-" if name == names[0] else "--",
                label=label(name))
    epoch_lines(ax, n_steps, per_epoch)
    ax.set_yscale("log")
    ax.set_xlim(1, max(n_steps, 2))
    ax.set_xlabel("distillation step (Adam updates)")
    ax.set_ylabel("distillation loss KL (nats, log scale)")
    ax.legend(frameon=False, loc="upper right")
    style_axes(ax)
    if own:
        legend_outside(fig)
    return fig


def _sweep_axis(ax, table, condition: str, positions, value_order, offset: float = 0.0, dots=None):
    """Mean ± 95 % CI of ``condition`` at categorical ``positions``; per-seed dots from ``dots`` (tidy)."""
    rows = table[table["condition"] == condition].set_index("value").loc[value_order]
    acc, half = 100.0 * rows["accuracy"].to_numpy(), 100.0 * rows["ci95"].to_numpy()
    x = np.asarray(positions, dtype=float) + offset
    if dots is not None:
        seeds = dots[dots["condition"] == condition]
        for pos, value in zip(x, value_order):
            ys = 100.0 * seeds.loc[seeds["value"] == value, "accuracy"].to_numpy()
            ax.scatter(np.full(len(ys), pos), ys, s=12, color=color(condition), alpha=0.35, edgecolor="none",
                       zorder=2)
    ax.errorbar(x, acc, yerr=half, fmt="o-", capsize=3, color=color(condition), label=label(condition), zorder=3)


def _value_labels(values, fmt=None) -> list[str]:
    if fmt is not None:
        return [fmt(v) for v in values]
    out = []
    for v in values:
        if isinstance(v, float) and v != 0 and (abs(v) < 1e-2 or abs(v) >= 1e4):
            out.append(f"{v:.0e}")
        else:
            out.append(f"{v:g}" if isinstance(v, (int, float)) else str(v))
    return out


def plot_sweep(frame, parameter: str | None = None, conditions: Iterable[str] | None = None, xlabel: str | None = None,
               default=None, ax=None, fmt=None):
    """Accuracy against the swept values (equally spaced, in increasing order) of one sweep of a tidy
    frame from :func:`subliminal.sweeps.sweep`: mean ± 95 % CI per condition, seeds as faint dots.

    ``default`` marks the paper's value with a vertical band.
    """
    from ..sweeps import summarize

    parameter = parameter or frame["parameter"].iloc[0]
    part = frame[frame["parameter"] == parameter]
    table = summarize(part)
    names = list(conditions) if conditions is not None else list(dict.fromkeys(part["condition"]))
    values = sorted(dict.fromkeys(part["value"]))
    positions = np.arange(len(values))
    own = ax is None
    fig, ax = figure(height=3.0, width=WIDTH * 0.6) if ax is None else (ax.figure, ax)
    for k, name in enumerate(names):
        _sweep_axis(ax, table, name, positions, values, offset=0.06 * (k - (len(names) - 1) / 2), dots=part)
    if default is not None and default in values:
        i = values.index(default)
        ax.axvspan(i - 0.3, i + 0.3, color="#f0e442", alpha=0.25, lw=0, zorder=0, label="base setting")
    ax.axhline(CHANCE, color="#888888", lw=0.8, ls="--", zorder=0)
    ax.set_xticks(positions)
    ax.set_xticklabels(_value_labels(values, fmt))
    ax.set_xlim(-0.5, len(values) - 0.5)
    ax.set_ylim(0, 100)
    ax.set_xlabel(xlabel or parameter)
    ax.set_ylabel("digit accuracy (%)")
    ax.legend(frameon=False, loc="upper left")
    style_axes(ax)
    if own:
        legend_outside(fig)
    return fig


def plot_sweep_grid(frame, panels: Sequence[tuple[str, str]], defaults: dict | None = None, ncols: int = 2,
                    conditions: Iterable[str] | None = None):
    """One :func:`plot_sweep` panel per (parameter, x-axis label) in ``panels``, in a grid."""
    nrows = -(-len(panels) // ncols)
    fig, axes = figure(nrows, ncols, height=2.9 * nrows)
    axes = np.atleast_1d(axes).ravel()
    for ax, (parameter, xlabel) in zip(axes, panels):
        plot_sweep(frame, parameter, conditions=conditions, xlabel=xlabel, ax=ax,
                   default=(defaults or {}).get(parameter))
    for ax in axes[1:len(panels)]:
        legend = ax.get_legend()
        if legend is not None:
            legend.remove()
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    legend_outside(fig)
    return fig


def plot_liminal_schedule(config, lambda0s: Sequence[float] | None = None, ax=None):
    """The liminal weight λ(t) over the distillation steps of ``config`` (one line per λ0)."""
    from ..analysis import steps_per_epoch
    from ..mitigations import liminal_lambda

    per_epoch = steps_per_epoch(config)
    n_steps = per_epoch * config.student_epochs
    lambda0s = list(lambda0s) if lambda0s is not None else [config.liminal_lambda0]
    own = ax is None
    fig, ax = figure(height=2.6, width=WIDTH * 0.65) if ax is None else (ax.figure, ax)
    steps = np.arange(n_steps)
    shades = ["#CC79A7", "#8e4f74", "#e8b6d3"]
    for k, lam0 in enumerate(lambda0s):
        lam = [liminal_lambda(s / n_steps, lam0, config.tau2) for s in steps]
        ax.plot(steps, lam, color=shades[k % len(shades)], lw=2, label=rf"$\lambda_0 = {lam0:g}$")
    ax.axvline(config.tau2 * n_steps, color="#555555", lw=0.8, ls="--")
    ax.text(
        config.tau2 * n_steps, 1.03, r" $t = \tau_2$", fontsize=FONT_SMALL, va="bottom"
    )
    epoch_lines(ax, n_steps, per_epoch)
    ax.set_ylim(0, 1.12)
    ax.set_xlim(0, n_steps)
    ax.set_xlabel("distillation step (Adam updates)")
    ax.set_ylabel(r"liminal weight $\lambda(t)$")
    ax.legend(frameon=False, loc="upper right")
    style_axes(ax)
    if own:
        legend_outside(fig)
    return fig


def plot_liminal_scale_sweep(frame, reference: float | None = None, condition: str = "liminal"):
    """Final accuracy of the liminal student against ``liminal_scale`` (0 = plain aux-only student)."""
    fig = plot_sweep(frame, "liminal_scale", conditions=[condition],
                     xlabel=r"liminal scale $s$ (weight $s\,\lambda(t)\,T^2$ of the KL to the init)")
    ax = fig.axes[0]
    if reference is not None:
        ax.axhline(100.0 * reference, color=color("reference"), lw=1.2, label=label("reference"))
        legend_outside(fig)
    return fig


def plot_mitigation_curves(result, mitigation: str, baseline: str = "student_aux", per_epoch: int | None = None,
                           window: int = 5):
    """Side by side, a mitigated student against the plain one: distillation loss (left) and digit
    accuracy (right) over the distillation steps."""
    fig, (ax1, ax2) = figure(1, 2, height=3.2)
    plot_loss_curves(result, [baseline, mitigation], window=window, per_epoch=per_epoch, ax=ax1)
    plot_accuracy_curves(result, [baseline, mitigation], per_epoch=per_epoch, ax=ax2)
    ax2.legend(frameon=False, loc="upper left", ncol=1)
    legend_outside(fig)
    return fig


__all__ = [
    "plot_loss_curves", "plot_sweep", "plot_sweep_grid", "plot_liminal_schedule", "plot_liminal_scale_sweep",
    "plot_mitigation_curves",
]
