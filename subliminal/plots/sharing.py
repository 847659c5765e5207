"""Figures of Chapter 7, what teacher and student must share: an arm's traces against the two ends."""

from __future__ import annotations

from typing import Mapping

import numpy as np

from .. import analysis
from ..results import mean_ci
from .style import CHANCE, FONT_SMALL, band, figure, legend_outside, style_axes

#: How the two ends are drawn next to an arm: neutral greys (solid: shared init, dashed: cross-model), so that
#: they never take an arm's colour (some arms share a colour with an end elsewhere in the book).
END_STYLES: dict[str, tuple[str, str, str]] = {  # name -> (label, colour, line style)
    "student_aux": ("shared-init student", "#222222", "-"),
    "cross_aux": ("cross-model student", "#8a8a8a", "--"),
}


def _traces(steps, traces: Mapping[str, np.ndarray], styles: Mapping[str, tuple[str, str, str]], ax,
            scale: float = 1.0, window: int = 1, band_kind: str = "ci") -> None:
    """Per name: the mean over seeds of ``traces[name]`` (N, S) at ``steps`` (S,), a band over seeds, and, with
    ``window`` > 1, a thin raw mean under a thick centred moving average over ``window`` points."""
    steps = np.asarray(steps)
    for name, values in traces.items():
        text, colour, dash = styles[name]
        values = scale * np.atleast_2d(np.asarray(values, dtype=float))
        mean = values.mean(axis=0)
        ax.fill_between(steps, *band(values, band_kind), color=colour, alpha=0.14, lw=0)
        if window > 1:
            ax.plot(steps, mean, color=colour, lw=0.6, alpha=0.6, ls=dash)
            mean = analysis.moving_average(mean, window)
        ax.plot(steps, mean, color=colour, lw=2.0, ls=dash, label=text)
    ax.set_xlim(0, max(int(steps[-1]), 1) if len(steps) else 1)
    ax.set_xlabel("distillation step")
    style_axes(ax)


def plot_arm_alignment(steps, cosines: Mapping[str, np.ndarray], styles: Mapping[str, tuple[str, str, str]], ax,
                       window: int = 3, band_kind: str = "ci"):
    """cos(g_d, g_t) on the measured ``steps`` (S,): per name of ``cosines`` ((N, S) each, no NaN), the mean over
    seeds (thin) and its moving average over ``window`` measured steps (thick), a band over seeds (95 %
    t-interval by default); ``styles`` maps a name to (label, colour, line style)."""
    _traces(steps, cosines, styles, ax, window=window, band_kind=band_kind)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_ylabel(r"cos$(g_d, g_t)$")
    return ax.figure


def plot_arm_accuracy(steps, curves: Mapping[str, np.ndarray], styles: Mapping[str, tuple[str, str, str]], ax,
                      band_kind: str = "ci"):
    """Test accuracy (%) during distillation: per name of ``curves`` (fractions (N, P) at ``steps`` (P,)), the
    mean over seeds and a band over seeds; ``styles`` as in :func:`plot_arm_alignment`."""
    _traces(steps, curves, styles, ax, scale=100.0, band_kind=band_kind)
    ax.axhline(CHANCE, color="#888888", lw=0.8, ls=":", zorder=0)
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    return ax.figure




# --------------------------------------------------------------------------- the arms and the doses


def _arm_colour(name: str) -> str:
    from ..sharing import ARMS

    if name in END_STYLES:
        return END_STYLES[name][1]
    return next((a.color for a in ARMS if a.name == name), "#555555")


def plot_sharing_arms(rows: Mapping, labels: Mapping[str, str], verdicts: Mapping[str, dict]):
    """Test accuracy (%) of every row of ``rows`` ({name: ConditionResult}, the two ends first): mean and 95 %
    t-interval over seeds, single seeds as dots, the ends' means as vertical lines; each arm's verdict (from
    ``verdicts``, see ``sharing.compare``) written at the right."""
    from matplotlib.transforms import blended_transform_factory

    names = list(rows)
    fig, ax = figure(height=0.42 * len(names) + 1.0)
    for y, name in enumerate(names):
        acc = 100.0 * np.asarray(rows[name].accuracy, dtype=float)
        mean, half = mean_ci(acc)
        colour = _arm_colour(name)
        ax.scatter(acc, np.full(len(acc), y + 0.18), s=14, color=colour, alpha=0.55, lw=0)
        ax.errorbar(mean, y, xerr=half, fmt="o", color=colour, capsize=3, lw=2, ms=6)
        if name in verdicts:
            ax.text(1.02, y, verdicts[name]["verdict"], transform=blended_transform_factory(ax.transAxes, ax.transData),
                    fontsize=FONT_SMALL, va="center")
    for name, (_, colour, dash) in END_STYLES.items():
        if name in rows:
            ax.axvline(100.0 * float(np.mean(rows[name].accuracy)), color=colour, ls=dash, lw=1, zorder=0)
    ax.axvline(CHANCE, color="#888888", lw=0.8, ls=":", zorder=0)
    ax.set_yticks(range(len(names)), [labels.get(n, n) for n in names])
    ax.set_ylim(len(names) - 0.5, -0.6)
    ax.set_xlabel("test accuracy (%)")
    style_axes(ax)
    return fig


def plot_dose_response(doses: Mapping, shared: np.ndarray, cross: np.ndarray):
    """Accuracy (%) against the relative noise r on one tensor ({(tensor, r): ConditionResult}): mean and 95 %
    t-interval over seeds per tensor, joined to the shared student at r = 0; the cross-model student dashed."""
    fig, ax = figure()
    tensors = list(dict.fromkeys(t for t, _ in doses))
    offsets = np.linspace(-0.015, 0.015, len(tensors)) if len(tensors) > 1 else [0.0]
    start_mean, start_half = mean_ci(100.0 * np.asarray(shared, dtype=float))
    ax.errorbar(0.0, start_mean, yerr=start_half, fmt="s", color=END_STYLES["student_aux"][1], capsize=3,
                label="shared student (r = 0)")
    for tensor, dx, colour in zip(tensors, offsets, TENSOR_COLOURS):
        rs = sorted(r for t, r in doses if t == tensor)
        stats = [mean_ci(100.0 * np.asarray(doses[(tensor, r)].accuracy, dtype=float)) for r in rs]
        ax.plot([0.0, *rs], [start_mean, *[m for m, _ in stats]], color=colour, lw=1.5, alpha=0.7)
        ax.errorbar(np.asarray(rs) + dx, [m for m, _ in stats], yerr=[h for _, h in stats], fmt="o", color=colour,
                    capsize=3, lw=2, label=f"noise on {tensor}")
    ax.axhline(100.0 * float(np.mean(cross)), color=END_STYLES["cross_aux"][1], ls="--", lw=1,
               label="cross-model student")
    ax.axhline(CHANCE, color="#888888", lw=0.8, ls=":", zorder=0)
    ax.set_xlabel("noise std / the tensor's init std (r)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(0, 100)
    style_axes(ax)
    legend_outside(fig)
    return fig


#: One colour per tensor of a dose-response (Okabe-Ito, none of them an end's grey).
TENSOR_COLOURS = ("#0072B2", "#E69F00", "#CC79A7")


__all__ = ["END_STYLES", "TENSOR_COLOURS", "plot_arm_alignment", "plot_arm_accuracy", "plot_sharing_arms",
           "plot_dose_response"]
