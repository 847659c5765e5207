"""The look shared by every figure: colours and labels per condition, the column width and font
sizes a reader sees, the figure and axes style, the legend above the panels, bands over seeds."""

from __future__ import annotations

import re
from typing import Iterable

import matplotlib
import matplotlib.pyplot as plt  # registers the notebook's figure display
import numpy as np

from .. import analysis
from ..results import CHANCE_PERCENT as CHANCE
from ..conditions import CONDITIONS, info

CONDITION_COLORS: dict[str, str] = {name: c.color for name, c in CONDITIONS.items()}
CONDITION_LABELS: dict[str, str] = {name: c.label for name, c in CONDITIONS.items()}
INIT_COLORS = {"shared": CONDITION_COLORS["student_aux"], "cross": CONDITION_COLORS["cross_aux"]}
WIDTH = 7.5  # inches: the width of the book's text column at readable font sizes

# What a reader sees. At a 1280 px window the built book shows a figure at most
# COLUMN_PX CSS px wide (its output area in the content column) and sets its body
# text at BODY_TEXT_PX (tests/test_rendered_pages.py measures both on the built
# book). A chapter figure is a PNG of FIGURE_DPI pixels per inch (matplotlib-inline,
# bbox_inches="tight"), scaled down to the column: at WIDTH inches a point of text
# shows as about COLUMN_PX / (72 * 7.7) = 1.2 CSS px, so FONT_SMALL points show at
# 13 px and FONT at 14.3 px, never below MIN_TEXT_PX. tests/test_figure_style.py
# checks every figure against these numbers. (660 px: a browser with classic scroll
# bars, as on Linux and Windows; 672 px with overlay scroll bars.)
COLUMN_PX = 660
BODY_TEXT_PX = 16
FIGURE_DPI = 110
FONT_SMALL = 11  # pt: tick labels, legends, annotations
FONT = 12  # pt: axis labels and titles
MIN_TEXT_PX = 13  # CSS px: the smallest text of a chapter figure at display size

STYLE = {
    "font.size": FONT,
    "axes.titlesize": FONT,
    "axes.labelsize": FONT,
    "legend.fontsize": FONT_SMALL,
    "xtick.labelsize": FONT_SMALL,
    "ytick.labelsize": FONT_SMALL,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.dpi": FIGURE_DPI,
    "savefig.dpi": 150,
}


def color(condition: str) -> str:
    """The colour of a condition (grey for unknown names)."""
    return info(condition).color


def label(condition: str) -> str:
    """The legend label of a condition."""
    return info(condition).label


def figure(nrows: int = 1, ncols: int = 1, height: float = 3.2, width: float = WIDTH, **kwargs):
    with matplotlib.rc_context(STYLE):
        fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), layout="constrained", **kwargs)
    plt.close(fig)  # shown once, as the cell's value, not again by the inline backend
    return fig, axes


def style_axes(ax) -> None:
    for name in ("top", "right"):
        ax.spines[name].set_visible(False)
    ax.tick_params(labelsize=FONT_SMALL)
    ax.xaxis.label.set_size(FONT)
    ax.yaxis.label.set_size(FONT)
    ax.title.set_size(FONT)


_AVERAGE = re.compile(r" \(\d+-step average\)$")
_TEX = re.compile(r"\\[A-Za-z]+|[_^{}]")


def legend_outside(fig, fontsize: float | None = None, rename: dict | None = None):
    """Replace the legends of ``fig``'s axes by one figure legend above all panels,
    outside the data.

    Entries are merged by label (a condition drawn in several panels is listed once,
    without its "(15-step average)" suffix); ``rename`` maps a label to a shorter one.
    The legend takes as many columns as fit the figure's width. Returns the legend
    (None when no axes has labelled artists).
    """
    for old in list(fig.legends):
        old.remove()
    pairs = []
    for ax in fig.axes:
        if ax.get_visible():
            pairs += zip(*ax.get_legend_handles_labels())
        if ax.get_legend() is not None:
            ax.get_legend().remove()
    plain = {text for _, text in pairs}
    entries: dict[str, object] = {}
    for handle, text in pairs:
        if _AVERAGE.sub("", text) in plain:  # also listed without "(15-step average)"
            text = _AVERAGE.sub("", text)
        entries.setdefault((rename or {}).get(text, text), handle)
    if not entries:
        return None
    size = fontsize or FONT_SMALL
    # inches per entry: text (a TeX command counts as one character), marker and gap
    widths = [
        (len(_TEX.sub("x", text).replace("$", "")) * 0.58 + 3.6) * size / 72
        for text in entries
    ]
    ncol = 1
    for n in range(len(widths), 0, -1):  # the most columns that fit, filled by column
        rows = -(-len(widths) // n)
        columns = [widths[c * rows : (c + 1) * rows] for c in range(n)]
        if sum(max(c) for c in columns if c) <= 0.98 * fig.get_figwidth():
            ncol = n
            break
    return fig.legend(
        list(entries.values()),
        list(entries),
        loc="outside upper center",
        ncol=ncol,
        frameon=False,
        fontsize=size,
        handlelength=1.8,
        columnspacing=1.2,
    )


def epoch_lines(ax, n_steps: int, per_epoch: int | None) -> None:
    if not per_epoch:
        return
    for boundary in range(per_epoch, n_steps, per_epoch):
        ax.axvline(boundary, color="#bbbbbb", lw=0.8, ls=":", zorder=0)


def student_conditions(result, conditions: Iterable[str] | None, field: str) -> list[str]:
    names = list(conditions) if conditions is not None else list(result.conditions)
    return [n for n in names if n in result.conditions and getattr(result[n], field) is not None]


BANDS = ("range", "sd", "ci")


def band(values: np.ndarray, kind: str = "range") -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper edge (each (S,)) of a band over seeds of per-step ``values`` (N, S): ``"range"`` (min to
    max), ``"sd"`` (mean ± 1 sd) or ``"ci"`` (mean ± the 95 % t-interval half-width of :func:`results.mean_ci`;
    no band for one seed)."""
    values = np.atleast_2d(np.asarray(values, dtype=float))
    mean = values.mean(axis=0)
    if kind == "range":
        return values.min(axis=0), values.max(axis=0)
    if kind == "sd":
        sd = values.std(axis=0)
        return mean - sd, mean + sd
    if kind == "ci":
        if values.shape[0] < 2:
            return mean, mean
        half = np.array([analysis.mean_ci(column)[1] for column in values.T])
        return mean - half, mean + half
    raise ValueError(f"band must be one of {BANDS}; got {kind!r}")


__all__ = [
    "CONDITION_COLORS", "CONDITION_LABELS", "INIT_COLORS", "WIDTH", "COLUMN_PX", "BODY_TEXT_PX", "FIGURE_DPI",
    "FONT_SMALL", "FONT", "MIN_TEXT_PX", "STYLE", "color", "label", "figure", "style_axes", "legend_outside",
    "epoch_lines", "student_conditions", "BANDS", "band", "CHANCE",
]
