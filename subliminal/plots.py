"""Figures of the book: each function takes result objects and returns a matplotlib Figure.

Colours are fixed per condition (:data:`CONDITION_COLORS`, the colour-blind-safe
Okabe-Ito palette), so a condition looks the same in every chapter. Figures are
closed in pyplot before they are returned: a notebook shows a figure once, when
it is the value of a cell (or when it is glued).
"""

from __future__ import annotations

import re
from typing import Iterable, Sequence

import matplotlib
import matplotlib.pyplot as plt  # registers the notebook's figure display
import numpy as np

from . import analysis
from .results import CHANCE_PERCENT as CHANCE
from .results import CONDITIONS, info

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

_STYLE = {
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


def _figure(nrows: int = 1, ncols: int = 1, height: float = 3.2, width: float = WIDTH, **kwargs):
    with matplotlib.rc_context(_STYLE):
        fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), layout="constrained", **kwargs)
    plt.close(fig)  # shown once, as the cell's value, not again by the inline backend
    return fig, axes


def _style(ax) -> None:
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


def _epoch_lines(ax, n_steps: int, per_epoch: int | None) -> None:
    if not per_epoch:
        return
    for boundary in range(per_epoch, n_steps, per_epoch):
        ax.axvline(boundary, color="#bbbbbb", lw=0.8, ls=":", zorder=0)


def _student_conditions(result, conditions: Iterable[str] | None, field: str) -> list[str]:
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


# --------------------------------------------------------------------------- chapter 1


def plot_digits_vs_noise(digits: np.ndarray, labels: Sequence[int], noise: np.ndarray, n: int = 6):
    """Two rows of 28x28 images: MNIST ``digits`` (with their ``labels``) above ``noise`` images.

    ``digits`` and ``noise`` are (>= n, 784) arrays with pixels in [-1, 1].
    """
    fig, axes = _figure(2, n, height=WIDTH * 2 / n * 0.62)
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
    fig, ax = _figure(height=0.42 * len(names) + 1.0)
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
    ax.set_xlabel("digit accuracy on the 10,000 MNIST test images (%)")
    ax.scatter([], [], s=16, color="#777777", label="one seed")
    ax.errorbar([], [], xerr=[], fmt="|", color="black", label="mean ± 95% CI")
    ax.legend(loc="lower right", frameon=False)
    _style(ax)
    legend_outside(fig)
    return fig


def plot_accuracy_curves(result, conditions: Iterable[str] | None = None, per_epoch: int | None = None,
                         ax=None, band_kind: str = "range"):
    """Digit accuracy during distillation: mean over seeds (line) and a band over seeds (``band_kind``, see
    :func:`band`: the range by default)."""
    names = _student_conditions(result, conditions, "curve_acc")
    own = ax is None
    fig, ax = _figure() if ax is None else (ax.figure, ax)
    steps = np.asarray(result.curve_steps)
    for name in names:
        curves = 100.0 * np.asarray(result[name].curve_acc, dtype=float)
        ax.fill_between(steps, *band(curves, band_kind), color=color(name), alpha=0.18, lw=0)
        ax.plot(steps, curves.mean(axis=0), color=color(name), lw=2, label=label(name))
    ax.axhline(CHANCE, color="#888888", lw=0.8, ls="--", zorder=0)
    _epoch_lines(ax, int(steps[-1]) if len(steps) else 0, per_epoch)
    ax.set_xlabel("distillation step (Adam updates)")
    ax.set_ylabel("digit accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_xlim(0, steps[-1] if len(steps) else 1)
    ax.legend(frameon=False, loc="upper left", ncol=2)
    _style(ax)
    if own:
        legend_outside(fig)
    return fig


# --------------------------------------------------------------------------- chapter 2


def plot_single_step_seeds(shared: Sequence, cross: Sequence):
    """Per seed: cos(Δθ_T, Δθ_S) (left) and the agreement of Δθ_S with the Gauss-Newton prediction
    (right), for students at the teacher's init (``shared``) and at a fresh init (``cross``)."""
    fig, (ax1, ax2) = _figure(1, 2)
    for checks, init, offset in ((shared, "shared", -0.12), (cross, "cross", 0.12)):
        seeds = np.arange(len(checks))
        name = "shared init" if init == "shared" else "different init"
        ax1.bar(seeds + offset, [c.cos for c in checks], width=0.24, color=INIT_COLORS[init], label=name)
        ax2.scatter(seeds, [c.gn_cos for c in checks], color=INIT_COLORS[init], s=22, label=name, zorder=3)
    for ax in (ax1, ax2):
        ax.axhline(0, color="black", lw=0.8)
        ax.set_xlabel("seed")
        ax.set_xticks(np.arange(max(len(shared), len(cross))))
        _style(ax)
    ax1.set_ylabel(r"cos$(\Delta\theta_T, \Delta\theta_S)$")
    ax1.set_title("does the student step point along the teacher's?")
    ax2.set_ylabel(r"cos$(\Delta\theta_S,\ \varepsilon\, G\, \Delta\theta_T)$")
    ax2.set_ylim(-1.05, 1.1)
    ax2.set_title("is it the Gauss-Newton step?")
    ax1.legend(frameon=False, loc="upper right")
    legend_outside(fig)
    return fig


def plot_epsilon_scaling(shared: Sequence, cross: Sequence):
    """Against the teacher's step size ε: |<Δθ_T, Δθ_S>| (left, with a slope-1 guide) and the
    relative error of the Gauss-Newton prediction for the shared-init student (right)."""
    fig, (ax1, ax2) = _figure(1, 2)
    eps_s = np.array([c.teacher_lr for c in shared])
    eps_c = np.array([c.teacher_lr for c in cross])
    inner_s = np.abs([c.inner for c in shared])
    ax1.loglog(eps_s, inner_s, "o-", color=INIT_COLORS["shared"], label="shared init")
    if len(cross):
        ax1.loglog(eps_c, np.abs([c.inner for c in cross]), "s-", color=INIT_COLORS["cross"],
                   label="different init")
    guide = inner_s[0] * eps_s / eps_s[0]
    ax1.loglog(eps_s, guide, ls="--", color="#888888", lw=1, label=r"$\propto \varepsilon$")
    ax1.set_xlabel(r"teacher step size $\varepsilon$")
    ax1.set_ylabel(r"$|\langle \Delta\theta_T, \Delta\theta_S \rangle|$")
    ax1.legend(frameon=False)
    ax2.loglog(eps_s, [c.gn_rel_error for c in shared], "o-", color=INIT_COLORS["shared"], label="shared init")
    ax2.set_xlabel(r"teacher step size $\varepsilon$")
    ax2.set_ylabel(r"$\|\Delta\theta_S - \varepsilon G \Delta\theta_T\| \,/\, \|\Delta\theta_S\|$")
    ax2.legend(frameon=False)
    for ax in (ax1, ax2):
        _style(ax)
    legend_outside(fig)
    return fig


def plot_trait_loss_change(check):
    """Change of the trait loss after a student step of size α: measured vs first order (left),
    and their ratio (right), on a log grid of α."""
    fig, (ax1, ax2) = _figure(1, 2, height=3.9)
    lrs = np.asarray(check.student_lrs)
    actual, predicted = np.asarray(check.actual_change), np.asarray(check.predicted_change)
    c = INIT_COLORS.get(check.init, "#333333")
    ax1.loglog(lrs, np.abs(predicted), "-", color="#444444", lw=1.5,
               label=r"first order: $-\alpha\langle\Delta\theta_T,\Delta\theta_S\rangle$")
    down = actual < 0
    ax1.loglog(lrs[down], -actual[down], "o", color=c, label="measured (loss falls)")
    if (~down).any():
        ax1.loglog(lrs[~down], np.maximum(actual[~down], 1e-12), "x", color="#D55E00", ms=8, mew=2,
                   label="measured (loss rises)")
    ax1.set_xlabel(r"student learning rate $\alpha$")
    ax1.set_ylabel(r"$|L_T(\theta_0 + \alpha\Delta\theta_S) - L_T(\theta_0)|$ (nats)")
    ax1.legend(frameon=False, loc="upper left")
    ax2.semilogx(lrs, actual / predicted, "o-", color=c)
    ax2.axhline(1, color="#444444", lw=1, ls="--")
    ax2.axhline(0, color="black", lw=0.6)
    ax2.set_xlabel(r"student learning rate $\alpha$")
    ax2.set_ylabel("measured / first order")
    for ax in (ax1, ax2):
        _style(ax)
    legend_outside(fig)
    return fig


# --------------------------------------------------------------------------- chapter 3


def plot_cosine_trace(result, conditions: Iterable[str] = ("student_aux",), window: int = 15,
                      per_epoch: int | None = None, ax=None, band_kind: str = "sd"):
    """Per-step cos(g_d, g_t): mean over seeds (thin), its moving average (thick) and a band over seeds
    (shaded; ``band_kind`` as in :func:`band`, mean ± 1 sd by default)."""
    names = _student_conditions(result, conditions, "cosine")
    own = ax is None
    fig, ax = _figure() if ax is None else (ax.figure, ax)
    n_steps = 0
    for name in names:
        cos = np.asarray(result[name].cosine, dtype=float)
        steps = np.arange(cos.shape[1])
        n_steps = max(n_steps, cos.shape[1])
        mean = cos.mean(axis=0)
        ax.fill_between(steps, *band(cos, band_kind), color=color(name), alpha=0.15, lw=0)
        ax.plot(steps, mean, color=color(name), lw=0.6, alpha=0.6)
        ax.plot(steps, analysis.moving_average(mean, window), color=color(name), lw=2.2,
                label=f"{label(name)} ({window}-step average)")
    ax.axhline(0, color="black", lw=0.8)
    _epoch_lines(ax, n_steps, per_epoch)
    ax.set_xlim(0, max(n_steps - 1, 1))
    ax.set_xlabel("distillation step (Adam updates)")
    ax.set_ylabel(r"cos$(g_d, g_t)$")
    ax.legend(frameon=False, loc="upper right")
    _style(ax)
    if own:
        legend_outside(fig)
    return fig


def plot_cosine_histogram(result, conditions: Iterable[str] = ("student_aux", "cross_aux"), bins: int = 60):
    """Distribution of the per-step cosines (all steps of all seeds pooled), one outline per condition."""
    names = _student_conditions(result, conditions, "cosine")
    fig, ax = _figure(height=3.0)
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
    _style(ax)
    legend_outside(fig)
    return fig


def plot_alignment_and_accuracy(result, condition: str = "student_aux", window: int = 15,
                                per_epoch: int | None = None):
    """The smoothed cosine (top) above the accuracy curve (bottom), on the same steps."""
    fig, (ax1, ax2) = _figure(2, 1, height=4.8, sharex=True)
    plot_cosine_trace(result, [condition], window=window, per_epoch=per_epoch, ax=ax1)
    plot_accuracy_curves(result, [condition], per_epoch=per_epoch, ax=ax2)
    ax1.set_xlabel("")
    n_steps = np.asarray(result[condition].cosine).shape[1]
    ax2.set_xlim(0, n_steps)
    ax2.set_ylim(0, max(30.0, 100.0 * float(np.max(result[condition].curve_acc)) + 5))
    legend_outside(fig)
    return fig


def plot_epoch_cosine(result, conditions: Iterable[str] = ("student_aux", "cross_aux"),
                      per_epoch: int | None = None):
    """Mean cosine in each epoch (mean over seeds, with its 95 % interval), one line per condition."""
    names = _student_conditions(result, conditions, "cosine")
    per_epoch = per_epoch or analysis.steps_per_epoch(result.config)
    fig, ax = _figure(height=3.0, width=WIDTH * 0.7)
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
    _style(ax)
    legend_outside(fig)
    return fig


def plot_critical_period(result, condition: str = "student_aux", reference: str | None = "cross_aux",
                         per_epoch: int | None = None):
    """Per epoch: mean cos(g_d, g_t) (left, with ``reference`` for comparison) and the digit accuracy
    gained in that epoch (right); means over seeds with 95 % intervals."""
    per_epoch = per_epoch or analysis.steps_per_epoch(result.config)
    fig, (ax1, ax2) = _figure(1, 2, height=3.6)
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
        _style(ax)
    legend_outside(fig)
    return fig


def plot_seed_scatter(result, conditions: Iterable[str] = ("student_aux", "cross_aux"), x: str = "mean_cosine"):
    """Each seed's alignment statistic ``x`` (a field of :class:`analysis.AlignmentStats`) against
    its final digit accuracy; for the first condition (>= 3 seeds) also a least-squares line and Pearson r."""
    names = _student_conditions(result, conditions, "cosine")
    fig, ax = _figure(height=3.4, width=WIDTH * 0.75)
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
    _style(ax)
    legend_outside(fig)
    return fig


__all__ = [
    "CONDITION_COLORS", "CONDITION_LABELS", "INIT_COLORS", "color", "label",
    "plot_digits_vs_noise", "plot_accuracy_by_seed", "plot_accuracy_curves",
    "plot_single_step_seeds", "plot_epsilon_scaling", "plot_trait_loss_change",
    "plot_cosine_trace", "plot_cosine_histogram", "plot_alignment_and_accuracy", "plot_epoch_cosine",
    "plot_critical_period",
    "plot_seed_scatter",
]

# --------------------------------------------------------------------------- chapters 4-6
# (functions for the later chapters are appended below this line)

# --- mitigations and sweeps (chapters 4-6)


def plot_loss_curves(result, conditions: Iterable[str] = ("student_aux", "projection"), window: int = 5,
                     per_epoch: int | None = None, ax=None, band_kind: str = "range"):
    """Distillation loss per step (log scale): smoothed mean over seeds (line) and a band over seeds
    (``band_kind`` as in :func:`band`, the range by default). The loss is the imitation KL only, without any
    mitigation term."""
    names = _student_conditions(result, conditions, "loss")
    own = ax is None
    fig, ax = _figure() if ax is None else (ax.figure, ax)
    n_steps = 0
    for name in names:
        loss = np.asarray(result[name].loss, dtype=float)
        steps = np.arange(1, loss.shape[1] + 1)
        n_steps = max(n_steps, loss.shape[1])
        smooth = analysis.moving_average(loss, window)
        ax.fill_between(steps, *band(smooth, band_kind), color=color(name), alpha=0.15, lw=0)
        ax.plot(steps, smooth.mean(axis=0), color=color(name), lw=2, ls="-" if name == names[0] else "--",
                label=label(name))
    _epoch_lines(ax, n_steps, per_epoch)
    ax.set_yscale("log")
    ax.set_xlim(1, max(n_steps, 2))
    ax.set_xlabel("distillation step (Adam updates)")
    ax.set_ylabel("distillation loss KL (nats, log scale)")
    ax.legend(frameon=False, loc="upper right")
    _style(ax)
    if own:
        legend_outside(fig)
    return fig


def plot_projection_rate(result, condition: str = "projection", window: int = 15, per_epoch: int | None = None,
                         ax=None):
    """How often the projection fires: share of seeds that projected at each step, smoothed (line)."""
    own = ax is None
    fig, ax = _figure(height=2.6) if ax is None else (ax.figure, ax)
    fired = 100.0 * np.asarray(result[condition].projected, dtype=float)
    steps = np.arange(1, fired.shape[1] + 1)
    ax.plot(steps, analysis.moving_average(fired.mean(axis=0), window), color=color(condition), lw=2,
            label=f"{label(condition)} ({window}-step average)")
    ax.axhline(50, color="#888888", lw=0.8, ls="--", zorder=0)
    _epoch_lines(ax, fired.shape[1], per_epoch)
    ax.set_ylim(0, 100)
    ax.set_xlim(1, max(fired.shape[1], 2))
    ax.set_xlabel("distillation step (Adam updates)")
    ax.set_ylabel("projected at this step (% of seeds)")
    ax.legend(frameon=False, loc="upper right")
    _style(ax)
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
    from .sweeps import summarize

    parameter = parameter or frame["parameter"].iloc[0]
    part = frame[frame["parameter"] == parameter]
    table = summarize(part)
    names = list(conditions) if conditions is not None else list(dict.fromkeys(part["condition"]))
    values = sorted(dict.fromkeys(part["value"]))
    positions = np.arange(len(values))
    own = ax is None
    fig, ax = _figure(height=3.0, width=WIDTH * 0.6) if ax is None else (ax.figure, ax)
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
    _style(ax)
    if own:
        legend_outside(fig)
    return fig


def plot_sweep_grid(frame, panels: Sequence[tuple[str, str]], defaults: dict | None = None, ncols: int = 2,
                    conditions: Iterable[str] | None = None):
    """One :func:`plot_sweep` panel per (parameter, x-axis label) in ``panels``, in a grid."""
    nrows = -(-len(panels) // ncols)
    fig, axes = _figure(nrows, ncols, height=2.9 * nrows)
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


def plot_tau_sweep(frame, baseline=None, condition: str = "projection"):
    """The projection trade-off over the cosine threshold τ: final accuracy (left) and the share of steps
    projected (right). ``baseline`` (per-seed accuracies of the unmitigated student) draws a band."""
    from .sweeps import summarize

    table = summarize(frame)
    rows = table[table["condition"] == condition].sort_values("value")
    taus = rows["value"].to_list()
    x = np.arange(len(taus))
    fig, (ax1, ax2) = _figure(1, 2, height=3.0)
    _sweep_axis(ax1, table, condition, x, taus, dots=frame)
    if baseline is not None:
        mean, half = analysis.mean_ci(100.0 * np.asarray(baseline, dtype=float))
        ax1.axhspan(mean - half, mean + half, color=color("student_aux"), alpha=0.2, lw=0)
        ax1.axhline(mean, color=color("student_aux"), lw=1.5, label=f"{label('student_aux')} (no projection)")
    ax1.axhline(CHANCE, color="#888888", lw=0.8, ls="--", zorder=0)
    ax1.set_ylim(0, 100)
    ax1.set_ylabel("final digit accuracy (%)")
    ax1.legend(frameon=False, loc="upper left")
    ax2.plot(x, 100.0 * rows["frac_projected"].to_numpy(), "o-", color=color(condition))
    ax2.set_ylim(0, 100)
    ax2.set_ylabel("steps projected (%)")
    for ax in (ax1, ax2):
        ax.set_xticks(x)
        ax.set_xticklabels([f"{t:g}" for t in taus])
        ax.set_xlim(-0.5, len(taus) - 0.5)
        ax.set_xlabel(r"threshold $\tau$ (project when cos $> \tau$)")
        _style(ax)
    legend_outside(fig)
    return fig


def plot_trait_gradient_variants(results: dict, conditions: Sequence[str] = ("student_aux", "projection")):
    """Final accuracy of ``conditions`` under several definitions of the trait gradient.

    ``results`` maps a variant name (e.g. "labelled", "label-free") to an ExperimentResult.
    """
    fig, ax = _figure(height=2.9, width=WIDTH * 0.6)
    width = 0.8 / len(conditions)
    variants = list(results)
    x = np.arange(len(variants))
    for k, name in enumerate(conditions):
        stats = [analysis.mean_ci(100.0 * np.asarray(results[v][name].accuracy, dtype=float)) for v in variants]
        pos = x + (k - (len(conditions) - 1) / 2) * width
        ax.bar(pos, [m for m, _ in stats], width=width * 0.9, yerr=[h for _, h in stats], capsize=3,
               color=color(name), label=label(name))
    ax.axhline(CHANCE, color="#888888", lw=0.8, ls="--", zorder=0)
    ax.set_xticks(x)
    ax.set_xticklabels([f"trait gradient: {v}" for v in variants])
    ax.set_ylim(0, 100)
    ax.set_ylabel("final digit accuracy (%)")
    ax.legend(frameon=False, loc="upper right")
    _style(ax)
    legend_outside(fig)
    return fig


def plot_liminal_schedule(config, lambda0s: Sequence[float] | None = None, ax=None):
    """The liminal weight λ(t) over the distillation steps of ``config`` (one line per λ0)."""
    from .analysis import steps_per_epoch
    from .mitigations import liminal_lambda

    per_epoch = steps_per_epoch(config)
    n_steps = per_epoch * config.student_epochs
    lambda0s = list(lambda0s) if lambda0s is not None else [config.liminal_lambda0]
    own = ax is None
    fig, ax = _figure(height=2.6, width=WIDTH * 0.65) if ax is None else (ax.figure, ax)
    steps = np.arange(n_steps)
    shades = ["#CC79A7", "#8e4f74", "#e8b6d3"]
    for k, lam0 in enumerate(lambda0s):
        lam = [liminal_lambda(s / n_steps, lam0, config.tau2) for s in steps]
        ax.plot(steps, lam, color=shades[k % len(shades)], lw=2, label=rf"$\lambda_0 = {lam0:g}$")
    ax.axvline(config.tau2 * n_steps, color="#555555", lw=0.8, ls="--")
    ax.text(
        config.tau2 * n_steps, 1.03, r" $t = \tau_2$", fontsize=FONT_SMALL, va="bottom"
    )
    _epoch_lines(ax, n_steps, per_epoch)
    ax.set_ylim(0, 1.12)
    ax.set_xlim(0, n_steps)
    ax.set_xlabel("distillation step (Adam updates)")
    ax.set_ylabel(r"liminal weight $\lambda(t)$")
    ax.legend(frameon=False, loc="upper right")
    _style(ax)
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
    fig, (ax1, ax2) = _figure(1, 2, height=3.2)
    plot_loss_curves(result, [baseline, mitigation], window=window, per_epoch=per_epoch, ax=ax1)
    plot_accuracy_curves(result, [baseline, mitigation], per_epoch=per_epoch, ax=ax2)
    ax2.legend(frameon=False, loc="upper left", ncol=1)
    legend_outside(fig)
    return fig


__all__ += [
    "plot_mitigation_curves", "plot_loss_curves", "plot_projection_rate", "plot_sweep", "plot_sweep_grid", "plot_tau_sweep",
    "plot_trait_gradient_variants", "plot_liminal_schedule", "plot_liminal_scale_sweep",
]


# --------------------------------------------------------------------------- controls: placebos, doses, paired epochs


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
    fig, ax = _figure(height=3.3)
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
    _style(ax)
    legend_outside(fig)
    return fig


def plot_dose_response(doses: Sequence[float], accuracy: np.ndarray, condition: str = "projection"):
    """Final accuracy (%) against the dose β (fraction of the aligned component removed): ``accuracy`` is
    (V doses, N seeds) in percent; mean ± 95 % t-interval, seeds as dots joined per seed."""
    doses = np.asarray(doses, dtype=float)
    accuracy = np.asarray(accuracy, dtype=float)
    fig, ax = _figure(height=3.0, width=WIDTH * 0.6)
    for seed_curve in accuracy.T:
        ax.plot(doses, seed_curve, "-", color="#bbbbbb", lw=0.8, zorder=1)
    stats = [analysis.mean_ci(v) for v in accuracy]
    ax.errorbar(doses, [m for m, _ in stats], yerr=[0 if not np.isfinite(h) else h for _, h in stats], fmt="o-",
                color=color(condition), capsize=3, lw=2, zorder=3)
    ax.axhline(CHANCE, color="#888888", lw=0.8, ls="--", zorder=0)
    ax.set_xlabel(r"dose $\beta$ (share of the aligned component removed)")
    ax.set_ylabel("final digit accuracy (%)")
    ax.set_ylim(0, 100)
    _style(ax)
    legend_outside(fig)
    return fig


def plot_epoch_comparisons(panels: dict, ylabel: str, xlabel: str = "epoch"):
    """Per-epoch paired comparisons: ``panels`` maps a legend label to a list of
    :class:`~subliminal.analysis.Comparison` (one per epoch); mean ± 95 % t-interval, zero line dashed."""
    fig, ax = _figure(height=2.9, width=WIDTH * 0.65)
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
    _style(ax)
    legend_outside(fig)
    return fig


def plot_first_order_accounting(accounting: dict):
    """Per epoch, the summed first-order trait-loss change sum <g_t, Δθ> (filled) against the measured change
    of the trait loss (open), mean ± 95 % t-interval over seeds; ``accounting`` maps a condition to its
    :class:`~subliminal.analysis.Accounting`."""
    fig, ax = _figure(height=3.0, width=WIDTH * 0.75)
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
    _style(ax)
    legend_outside(fig)
    return fig


__all__ += ["plot_projection_controls", "plot_dose_response", "plot_epoch_comparisons",
            "plot_first_order_accounting"]


# --------------------------------------------------------------------------- explorers
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
    _style(ax)
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
    _style(ax)
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
    _style(ax)
    return ax.figure


__all__ += ["band", "plot_fired_steps", "plot_epoch_bars", "plot_epoch_relation", "CONDITION_STATS",
            "plot_condition_stat"]
