"""Interactive explorers for the chapters, backed by the package.

Five explorers, one slider each; every frame is drawn with the functions and
colours of :mod:`subliminal.plots` and carries a caption of numbers computed
from the data it draws:

========================  =======  ====================================================
``single_step_explorer``  ch. 2    teacher step eps -> first-order vs actual change of
                                   the trait loss over the student step alpha, with the
                                   alpha at which first order breaks down
``alignment_explorer``    ch. 3    threshold tau over the cached cosine traces of the
                                   chapter's run: which steps have cos > tau, per epoch,
                                   against the accuracy gained per epoch (no training)
``tau_explorer``          ch. 4    projection threshold tau -> cosine trace with the
                                   steps that fired, firing rate per epoch, accuracy and
                                   distillation loss against the plain student
``liminal_explorer``      ch. 5    liminal scale -> accuracy curve and alignment trace
                                   against the plain student
``learning_rate_explorer`` ch. 6   student learning rate -> steps with cos > 0, mean
                                   cosine and accuracy, shared-init vs cross-init
========================  =======  ====================================================

The experiment explorers take the chapter's own ``config`` and ``seeds`` and
call :func:`subliminal.experiments.run_experiment` with exactly the arguments
the chapter's sweeps use, so a frame that coincides with a chapter run is read
from the on-disk cache instead of being recomputed. ``device=None`` means CUDA
when available.

Each explorer runs in one of two modes:

* **live** (default in a running notebook, ipywidgets 7.7 or 8): a
  ``FloatSlider`` (``FloatLogSlider`` for rates) accepts any value in its range;
  a new value computes its frame on demand (results memoised on disk, frames in
  memory, so a value seen before answers at once);
* **static** (``static=True``, or ``static=None`` with the environment variable
  ``SUBLIMINAL_STATIC_WIDGETS=1``, which the book build sets): the frames of a
  grid of slider values are computed up front and stored in a ``Stack`` whose
  ``selected_index`` is ``jslink``-ed to a ``SelectionSlider``, so the built
  HTML page works without a kernel (only ``@jupyter-widgets/base`` and
  ``controls`` models: they are bundled in the page's local ``embed-amd.js``).
  The page says that it shows a grid.
"""

from __future__ import annotations

import html
import io
import math
import os
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from . import analysis, plots
from .config import Config, fast_mode
from .results import ExperimentResult, mean_ci

STATIC_ENV = "SUBLIMINAL_STATIC_WIDGETS"
#: A frame is shown FRAME_PX CSS pixels wide (the image's max-width: the figure width
#: of the content column at 1280 px), from a PNG of twice as many pixels (sharp on
#: high-density screens). At FRAME_WIDTH inches one point of text is 96 / 72 CSS px
#: at display size, so FRAME_FONT points show at the book's body text size, and every
#: text of a frame is set at least that large (tests/test_figure_style.py checks it).
FRAME_PX = plots.COLUMN_PX
FRAME_WIDTH = FRAME_PX / 96  # inches (7.5)
FRAME_DPI = 2 * 96
FRAME_FONT = plots.BODY_TEXT_PX * 72 * FRAME_WIDTH / FRAME_PX  # points (12)
FRAME_COLORS = 128  # palette of a frame's PNG
FRAME_HEIGHT = 6.2  # inches of a four-panel frame: 595 px, one screen with its slider

#: Default slider grids of the static (book) mode; the chapters pass their own sweep values.
SINGLE_STEP_GRID: tuple[float, ...] = tuple(float(v) for v in np.logspace(-4, np.log10(3.0), 10))
STUDENT_LRS_SINGLE_STEP: tuple[float, ...] = tuple(float(v) for v in np.logspace(-2, 3, 11))
LEARNING_RATE_GRID: tuple[float, ...] = (1e-4, 3e-4, 1e-3)
TAU_GRID: tuple[float, ...] = (-0.01, 0.0, 0.005, 0.01, 0.02)
LIMINAL_GRID: tuple[float, ...] = (0.0, 1.0, 3.0, 10.0, 30.0)
ALIGNMENT_POINTS = 25
#: With ``SUBLIMINAL_FAST=1`` (CI's fast book build) the default grids shrink to these.
FAST_GRIDS: dict[str, tuple[float, ...]] = {
    "single_step": (1e-3, 1e-1, 1.0),
    "learning_rate": (3e-4, 1e-3),
    "tau": (0.0, 0.02),
    "liminal": (0.0, 10.0),
}
FAST_ALIGNMENT_POINTS = 7
#: Live ranges: any value in them can be chosen in a running notebook.
TAU_RANGE = (-0.05, 0.1)
LIMINAL_RANGE = (0.0, 50.0)
LEARNING_RATE_RANGE = (3e-5, 1e-2)
EPSILON_RANGE = (1e-4, 3.0)
#: changes of the trait loss smaller than this are float32 round-off and are not drawn
RESOLUTION = 3e-6
COSINE = "cos(g_d, g_t)"


@dataclass(frozen=True)
class Frame:
    """One explorer frame: a PNG and a one-line caption of numbers computed from the data drawn."""

    png: bytes
    caption: str


def default_config() -> Config:
    """The chapters' configuration: ``Config.fast()`` in fast mode (``SUBLIMINAL_FAST=1``), else ``Config()``."""
    return Config.fast() if fast_mode() else Config()


def default_seeds() -> int:
    """Seeds per frame when a chapter does not say: 2 in fast mode, else 3 (the chapters' sweep seeds)."""
    return 2 if fast_mode() else 3


def _grid(name: str, grid: Sequence[float] | None, default: Sequence[float]) -> list[float]:
    if grid is not None:
        values = [float(v) for v in grid]
    else:
        values = list(FAST_GRIDS[name] if fast_mode() else default)
    if not values:
        raise ValueError("an explorer needs at least one grid value")
    return values


def static_mode(static: bool | None = None) -> bool:
    """``static`` if given, else True when ``$SUBLIMINAL_STATIC_WIDGETS`` is ``1`` (the book build)."""
    if static is not None:
        return bool(static)
    return os.environ.get(STATIC_ENV, "").strip().lower() in ("1", "true", "yes")


# --------------------------------------------------------------------------- figures


def _figure(nrows: int, ncols: int, height: float):
    fig, axes = plots.figure(nrows, ncols, height=height, width=FRAME_WIDTH)
    return fig, np.atleast_1d(axes).ravel()


def _mosaic(layout: list[list[str]], height: float):
    """A frame-wide figure in the book's style with named panels (``Figure.subplot_mosaic``)."""
    import matplotlib
    import matplotlib.pyplot as plt

    with matplotlib.rc_context(plots.STYLE):
        fig = plt.figure(figsize=(FRAME_WIDTH, height), layout="constrained")
        axes = fig.subplot_mosaic(layout)
    plt.close(fig)
    return fig, axes


def finish_frame(fig, rename: dict | None = None):
    """Set every text of a frame at least ``FRAME_FONT`` and merge the panels' legends
    into one legend above the panels (outside the data); ``rename`` shortens legend
    labels. Returns ``fig``."""
    from matplotlib.text import Text

    for ax in fig.axes:
        ax.tick_params(labelsize=FRAME_FONT)
        for axis in (ax.xaxis, ax.yaxis):
            axis.get_offset_text().set_fontsize(FRAME_FONT)
    for text in fig.findobj(Text):
        if text.get_fontsize() < FRAME_FONT:
            text.set_fontsize(FRAME_FONT)
    plots.legend_outside(fig, fontsize=FRAME_FONT, rename=rename)
    return fig


def _short_axes(*axes) -> None:
    """Shorter axis labels for the frames' large type (panel titles say the rest)."""
    short = {
        "distillation step (Adam updates)": "distillation step",
        "digit accuracy (%)": "accuracy (%)",
        "distillation loss KL (nats, log scale)": "KL loss (nats)",
    }
    for ax in axes:
        for axis in (ax.xaxis, ax.yaxis):
            text = axis.get_label().get_text()
            axis.get_label().set_text(short.get(text, text))


def figure_png(fig) -> bytes:
    """PNG bytes of a figure at the frame resolution (twice the displayed pixels), in a
    palette of ``FRAME_COLORS`` colours: a third of the bytes of full colour, with no
    visible difference in line art (a page stores every frame of its grid)."""
    from PIL import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=FRAME_DPI, facecolor="white")
    image = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    image = image.quantize(
        colors=FRAME_COLORS, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
    )
    out = io.BytesIO()
    image.save(out, format="png", optimize=True)
    return out.getvalue()


def _pm(values, scale: float = 1.0, digits: int = 1) -> str:
    """'mean ± half' (95 % t-interval) of per-seed values, or just the mean for one seed."""
    mean, half = mean_ci(scale * np.asarray(values, dtype=float))
    return f"{mean:.{digits}f}" + ("" if not np.isfinite(half) else f" ± {half:.{digits}f}")


def _merge(config: Config, seeds: Sequence[int], *parts: tuple[ExperimentResult, str]) -> ExperimentResult:
    """One result holding condition ``name`` of each ``(result, name)`` (same seeds and curve steps)."""
    first = parts[0][0]
    return ExperimentResult(config=config, seeds=list(seeds), conditions={n: r[n] for r, n in parts},
                            curve_steps=first.curve_steps)


def _same_run(a: Config, b: Config, ignore: Sequence[str]) -> bool:
    da, db = a.to_dict(), b.to_dict()
    return all(da[k] == db[k] for k in da if k not in ignore)


def _run(config: Config, seeds, conditions: Sequence[str], device=None,
         reuse: ExperimentResult | None = None) -> ExperimentResult:
    """The run of a frame: rows of ``reuse`` (the chapter's run) where it coincides with it, else memoised."""
    from .experiments import run_experiment

    return run_experiment(config, seeds=seeds, conditions=list(conditions), device=device, cache=True,
                          progress=False, reuse=reuse)


def _seed_list(seeds) -> list[int]:
    from .experiments import seed_list

    return seed_list(seeds)


# --------------------------------------------------------------------------- chapter 2: one step


def single_step_frame(eps: float, config: Config | None = None, student_lrs: Sequence[float] | None = None,
                      seed: int = 0, device=None) -> Frame:
    """Predicted (first order) vs actual change of the trait loss over the student step alpha, after one
    teacher step of size ``eps``; the alpha at which first order breaks down (>10 % off) is marked."""
    from .theory import single_step_check

    check = single_step_check(config or default_config(), seed=seed, teacher_lr=float(eps), device=device,
                              student_lrs=np.asarray(STUDENT_LRS_SINGLE_STEP if student_lrs is None else student_lrs,
                                                     dtype=float))
    fig, (ax, ratio_ax) = _figure(1, 2, height=4.0)
    alpha = np.asarray(check.student_lrs)
    actual, predicted = np.asarray(check.actual_change), np.asarray(check.predicted_change)
    ok = (np.abs(predicted) >= RESOLUTION) & (np.abs(actual) > 0)
    falls = actual < 0
    shade = plots.INIT_COLORS["shared"]
    # magnitudes on log-log axes; the sign of the measured change is the marker
    first = "first order −α⟨Δθ_T, Δθ_S⟩"
    ax.loglog(alpha, np.abs(predicted), color="#444444", label=first)
    down, up = ok & falls, ok & ~falls
    falls_label = "measured, L_T falls"
    ax.loglog(alpha[down], -actual[down], "o", color=shade, ms=7, label=falls_label)
    if up.any():
        ax.loglog(alpha[up], actual[up], "x", color="#D55E00", ms=8, mew=2,
                  label="measured, L_T rises")
    ax.set_xlabel("student step size α")
    ax.set_ylabel("|change of L_T| (nats)")
    ax.set_title(f"teacher step ε = {check.teacher_lr:.2g}")
    ratio = np.where(ok, actual / np.where(predicted == 0, np.nan, predicted), np.nan)
    ratio_ax.plot(alpha, np.clip(ratio, -1.0, 2.0), "o-", color=shade, ms=6)
    ratio_ax.axhline(1.0, color="#444444", lw=1, ls="--", label="first order exact")
    ratio_ax.set_xscale("log")
    ratio_ax.set_ylim(-1.05, 2.05)
    ratio_ax.set_xlabel("student step size α")
    ratio_ax.set_ylabel("measured / first order")
    ratio_ax.set_title("ratio (clipped to [−1, 2])")
    broken = analysis.breakdown_lr(check)
    if np.isfinite(broken):
        for a in (ax, ratio_ax):
            a.axvline(broken, color="#D55E00", lw=1.5, ls=":",
                      label=f"breaks down at α·ε = {broken * check.teacher_lr:.2g}")
        where = f"first order breaks down (>10 % off) at α = {broken:.3g}, α·ε = {broken * check.teacher_lr:.3g}"
    else:
        where = f"first order holds (within 10 %) up to the largest α = {alpha.max():.3g}"
    for a in (ax, ratio_ax):
        plots.style_axes(a)
    finish_frame(fig)
    caption = (f"ε = {check.teacher_lr:.3g}: cos(Δθ_T, Δθ_S) = {check.cos:.4f}, ⟨Δθ_T, Δθ_S⟩ = {check.inner:.3g}; "
               f"{where}")
    return Frame(figure_png(fig), caption)


# --------------------------------------------------------------------------- chapter 3: alignment


def alignment_frame(tau: float, result: ExperimentResult, condition: str = "student_aux", window: int = 15) -> Frame:
    """Which steps of a finished run have cos(g_d, g_t) > ``tau`` (would fire under projection with threshold
    tau, on the unprojected trajectory), their share per epoch, and per seed and epoch against the accuracy
    gained in that epoch. Reads the run's stored traces; trains nothing."""
    cos = np.asarray(result[condition].cosine, dtype=float)
    per_epoch = analysis.steps_per_epoch(result.config)
    above = cos > tau
    rate = analysis.epoch_means(above, per_epoch)  # (N, E)
    gains = 100.0 * analysis.epoch_gains(result, condition, per_epoch)
    fig, panels = _mosaic([["trace", "trace"], ["bars", "rel"]], height=FRAME_HEIGHT)
    trace, bars, rel = panels["trace"], panels["bars"], panels["rel"]
    plots.plot_cosine_trace(result, [condition], window=window, per_epoch=per_epoch, ax=trace)
    trace.axhline(tau, color="#D55E00", lw=1.2, ls="--", label=f"τ = {tau:.4g}")
    plots.plot_fired_steps(above, trace, condition, text=f"{COSINE} > τ")
    trace.set_xlabel("distillation step")
    trace.set_title(f"{COSINE} per step, τ = {tau:.4g}")
    plots.plot_epoch_bars({condition: rate}, bars, "steps above τ (%)", scale=100.0)
    bars.set_ylim(0, 100)
    bars.set_title("share of steps above τ")
    plots.plot_epoch_relation(100.0 * rate, gains, rel, xlabel="steps above τ in the epoch (%)",
                              ylabel="accuracy gain (% points)", condition=condition)
    rel.set_title("per seed and epoch")
    for line in rel.get_lines():  # the Pearson r goes into the title, not the legend
        if line.get_label().startswith("r = "):
            rel.set_title(f"per seed and epoch: {line.get_label().split(' over ')[0]}")
            line.set_label("_r")
    first, last = 100.0 * rate[:, 0].mean(), 100.0 * rate[:, -1].mean()
    flat = (100.0 * rate).ravel()
    relation = ""
    if rate.shape[0] >= 2 and np.ptp(flat) > 0:  # within epochs: the common trend over time removed
        within = analysis.within_epoch_correlation(100.0 * rate, gains).r
        relation = f"; within-epoch r(share above τ, accuracy gain) = {within:.2f}"
    caption = (f"τ = {tau:.4g}: {COSINE} > τ on {100.0 * above.mean():.1f} % of steps "
               f"(epoch 1: {first:.1f} %, epoch {rate.shape[1]}: {last:.1f} %); mean {COSINE} = {cos.mean():.4f}"
               f"{relation} over {len(flat)} seed-epochs")
    shade = f"{COSINE} > τ (shade: share of seeds)"
    finish_frame(fig, rename={f"{COSINE} > τ (opacity: share of seeds)": shade})
    return Frame(figure_png(fig), caption)


# --------------------------------------------------------------------------- chapter 4: projection


def _plain(config: Config, seeds: list[int], baseline: ExperimentResult | None, device,
           ignore: Sequence[str]) -> ExperimentResult:
    """The plain aux-only student of ``seeds``: rows of ``baseline`` (a chapter run) or a run of its own."""
    if baseline is not None:
        if not _same_run(baseline.config, config, ignore):
            raise ValueError("baseline was run with another configuration than the explorer's; pass the chapter's "
                             "run of the same config")
        return baseline.subset(seeds, ["student_aux"])
    return _run(config, seeds, ["student_aux"], device)


def tau_frame(tau: float, config: Config | None = None, seeds=3, baseline: ExperimentResult | None = None,
              device=None, window: int = 15) -> Frame:
    """The projected student at threshold ``tau`` against the plain student: cosine trace with the steps at
    which projection fired, firing rate per epoch, accuracy curves and distillation loss (bands: 95 %
    t-intervals over seeds; for the log-scale loss the range over seeds).

    Runs ``run_experiment(config.replace(projection_tau=tau), seeds, ["projection"], reuse=baseline)``: the
    call of the chapter's tau sweep, so its thresholds are read from the cache (or from ``baseline``, the
    chapter's main run, at the run's own tau).
    """
    config = config or default_config()
    seeds = _seed_list(seeds)
    projected = _run(config.replace(projection_tau=float(tau)), seeds, ["projection"], device, reuse=baseline)
    plain = _plain(config, seeds, baseline, device, ("projection_tau", "projection_beta", "projection_layers"))
    both = _merge(config, seeds, (plain, "student_aux"), (projected, "projection"))
    names = ["student_aux", "projection"]
    per_epoch = analysis.steps_per_epoch(config)
    fired = np.asarray(projected["projection"].projected, dtype=bool)
    fig, (trace, bars, acc, loss) = _figure(2, 2, height=FRAME_HEIGHT)
    plots.plot_cosine_trace(both, names, window=window, per_epoch=per_epoch, ax=trace, band_kind="ci")
    trace.axhline(tau, color="#D55E00", lw=1.0, ls="--", label=f"τ = {tau:.4g}")
    plots.plot_fired_steps(fired, trace, "projection", text="projection fired")
    trace.set_title(f"{COSINE} before projection")
    plots.plot_epoch_bars({"projection": analysis.epoch_means(fired, per_epoch)}, bars, "steps projected (%)",
                          scale=100.0)
    bars.set_ylim(0, 100)
    bars.set_title("firing rate per epoch")
    plots.plot_accuracy_curves(both, names, per_epoch=per_epoch, ax=acc, band_kind="ci")
    acc.set_title("digit accuracy")
    plots.plot_loss_curves(both, names, per_epoch=per_epoch, ax=loss)  # log scale: band = range over seeds
    loss.set_title("distillation loss")
    _short_axes(trace, acc, loss)
    shade = "projection fired (shade: share of seeds)"
    finish_frame(fig, rename={"projection fired (opacity: share of seeds)": shade})
    rate = analysis.epoch_means(fired, per_epoch)
    caption = (f"τ = {tau:.4g}: projection fired on {100.0 * fired.mean():.1f} % of steps (epoch 1: "
               f"{100.0 * rate[:, 0].mean():.1f} %, epoch {rate.shape[1]}: {100.0 * rate[:, -1].mean():.1f} %); "
               f"mean {COSINE} before projection = {projected['projection'].cosine.mean():.4f}; accuracy "
               f"{_pm(projected['projection'].accuracy, 100)} % vs plain student {_pm(plain['student_aux'].accuracy, 100)} % "
               f"({len(seeds)} seeds, 95 % t-intervals)")
    return Frame(figure_png(fig), caption)


# --------------------------------------------------------------------------- chapter 5: liminal


def liminal_frame(scale: float, config: Config | None = None, seeds=3, baseline: ExperimentResult | None = None,
                  device=None, window: int = 15) -> Frame:
    """The liminal student at ``liminal_scale = scale`` against the plain student: accuracy curves, the
    alignment trace and the mean cosine per epoch (bands and bars: 95 % t-intervals over seeds).

    ``baseline`` (the chapter's main run) gives the plain student, and the liminal student itself when
    ``scale`` is the run's own ``liminal_scale``; other scales run ``["liminal"]`` for ``seeds``.
    """
    config = config or default_config()
    seeds = _seed_list(seeds)
    scaled = config.replace(liminal_scale=float(scale))
    plain = _plain(config, seeds, baseline, device, ("liminal_scale",))
    liminal = _run(scaled, seeds, ["liminal"], device, reuse=baseline)
    both = _merge(scaled, seeds, (plain, "student_aux"), (liminal, "liminal"))
    names = ["student_aux", "liminal"]
    per_epoch = analysis.steps_per_epoch(config)
    fig, (acc, trace, bars, loss) = _figure(2, 2, height=FRAME_HEIGHT)
    plots.plot_accuracy_curves(both, names, per_epoch=per_epoch, ax=acc, band_kind="ci")
    acc.set_title(f"digit accuracy, s = {scale:g}")
    caption = (f"s = {scale:g}: accuracy {_pm(liminal['liminal'].accuracy, 100)} % vs plain student "
               f"{_pm(plain['student_aux'].accuracy, 100)} %")
    if liminal["liminal"].cosine is not None and plain["student_aux"].cosine is not None:
        plots.plot_cosine_trace(both, names, window=window, per_epoch=per_epoch, ax=trace, band_kind="ci")
        trace.set_title(f"alignment {COSINE}")
        epochs = {n: analysis.epoch_means(both[n].cosine, per_epoch) for n in names}
        plots.plot_epoch_bars(epochs, bars, f"mean {COSINE}")
        bars.set_xlabel("epoch")
        bars.set_title(f"mean {COSINE} per epoch")
        caption += (f"; mean {COSINE} in epoch 1: {epochs['liminal'][:, 0].mean():.4f} vs plain "
                    f"{epochs['student_aux'][:, 0].mean():.4f}")
    else:
        for ax in (trace, bars):
            ax.set_visible(False)
    plots.plot_loss_curves(both, names, per_epoch=per_epoch, ax=loss)  # log scale: band = range over seeds
    loss.set_title("distillation loss")
    _short_axes(acc, trace, loss)
    finish_frame(fig)
    return Frame(figure_png(fig), caption + f" ({len(seeds)} seeds)")


# --------------------------------------------------------------------------- chapter 6: learning rate

LR_CONDITIONS = ("student_aux", "cross_aux")


def learning_rate_frame(lr: float, config: Config | None = None, seeds=3, device=None, window: int = 15,
                        baseline: ExperimentResult | None = None) -> Frame:
    """Shared-init vs cross-init aux-only student at student learning rate ``lr``: cosine traces, the share of
    steps with cos > 0, the mean cosine and the final accuracy (95 % t-intervals over seeds). ``baseline``:
    a run (the book's main run) that answers for the frame it coincides with."""
    config = (config or default_config()).replace(student_lr=float(lr), track_alignment=True)
    seeds = _seed_list(seeds)
    result = _run(config, seeds, LR_CONDITIONS, device, reuse=baseline)
    fig, (trace, pos, mean, acc) = _figure(2, 2, height=FRAME_HEIGHT)
    plots.plot_cosine_trace(result, LR_CONDITIONS, window=window, per_epoch=analysis.steps_per_epoch(config),
                            ax=trace, band_kind="ci")
    trace.set_title(f"{COSINE}, student lr = {lr:.2g}")
    _short_axes(trace)
    panels = (
        (pos, "frac_positive", f"steps with {COSINE} > 0"),
        (mean, "mean_cosine", f"mean {COSINE}"),
        (acc, "accuracy", "final digit accuracy"),
    )
    for ax, stat, title in panels:
        plots.plot_condition_stat(result, LR_CONDITIONS, stat, ax)
        ax.set_title(title)
        ax.set_xticklabels([plots.label(n).split(",")[0] for n in LR_CONDITIONS])
    pos.set_ylabel("% of steps")
    mean.set_ylabel(COSINE)
    acc.set_ylabel("accuracy (%)")
    acc.set_ylim(0, 100)
    pos.set_ylim(0, 100)
    finish_frame(fig)
    s, c = result["student_aux"], result["cross_aux"]
    caption = (f"student lr = {lr:.3g}: {COSINE} > 0 on {_pm(s.frac_positive, 100)} % of steps (shared init) vs "
               f"{_pm(c.frac_positive, 100)} % (cross init); mean {COSINE} {_pm(s.mean_cosine, 1, 4)} vs "
               f"{_pm(c.mean_cosine, 1, 4)}; accuracy {_pm(s.accuracy, 100)} % vs {_pm(c.accuracy, 100)} % "
               f"({len(seeds)} seeds, 95 % t-intervals)")
    return Frame(figure_png(fig), caption)


# --------------------------------------------------------------------------- the widget


def _label(value: float, log: bool) -> str:
    return f"{value:.2g}" if log else f"{value:.4g}"


def _explorer(grid: Sequence[float], render: Callable[[float], Frame], *, description: str, what: str,
              static: bool | None, initial: float | None = None, bounds: tuple[float, float] | None = None,
              log: bool = False, step: float | None = None):
    """A slider and the frame ``render(value)`` it selects.

    Static: a ``SelectionSlider`` over ``grid`` jslinked to a ``Stack`` of precomputed frames. Live: a
    ``FloatSlider`` (``FloatLogSlider`` when ``log``) over ``bounds``; a value computes its frame on demand,
    frames are memoised by value. Returns a ``VBox`` with attributes ``slider``, ``grid``, ``static``,
    ``render`` (the memoised renderer) and ``stack``, ``frames``, ``captions``, ``link`` (static) or
    ``image``, ``caption`` (live).
    """
    import ipywidgets as widgets

    grid = [float(v) for v in grid]
    if not grid:
        raise ValueError("an explorer needs at least one grid value")
    if len({_label(v, log) for v in grid}) != len(grid):
        raise ValueError(f"grid values must be distinct; got {grid}")
    static = static_mode(static)
    memo: dict[float, Frame] = {}

    def cached(value: float) -> Frame:
        value = float(value)
        if value not in memo:
            memo[value] = render(value)
        return memo[value]

    start = float(initial) if initial is not None and float(initial) in grid else grid[0]
    image_layout = dict(width="100%", max_width=f"{FRAME_PX}px", height="auto")

    def caption_widget(frame: Frame):
        caption = widgets.HTML(f"<small>{html.escape(frame.caption)}</small>")
        caption.add_class("subliminal-caption")
        return caption

    if static:
        if not hasattr(widgets, "Stack"):
            raise RuntimeError("static explorers need ipywidgets >= 8 (Stack); call with static=False")
        labels = [_label(v, log) for v in grid]
        slider = widgets.SelectionSlider(
            options=labels, index=grid.index(start), description=description, continuous_update=True,
            style={"description_width": "initial"}, layout=widgets.Layout(width="100%", max_width="520px"))
        frames, captions, pages = [], [], []
        for value in grid:
            frame = cached(value)
            image = widgets.Image(value=frame.png, format="png", layout=widgets.Layout(**image_layout))
            caption = caption_widget(frame)
            frames.append(image)
            captions.append(caption)
            pages.append(widgets.VBox([image, caption]))
        stack = widgets.Stack(children=pages, selected_index=grid.index(start))
        link = widgets.jslink((slider, "index"), (stack, "selected_index"))
        note = widgets.HTML(
            f"<small>A precomputed grid: {len(grid)} values of {html.escape(what)} "
            f"({html.escape(', '.join(labels))}). Run the notebook to choose any value in between "
            "(computed on demand).</small>")
        box = widgets.VBox([slider, stack, note])
        box.stack, box.frames, box.captions, box.link = stack, frames, captions, link
    else:
        low, high = bounds if bounds is not None else (min(grid), max(grid))
        if low >= high:
            raise ValueError(f"slider bounds must satisfy low < high; got {(low, high)}")
        common = dict(description=description, continuous_update=False, style={"description_width": "initial"},
                      layout=widgets.Layout(width="100%", max_width="520px"))
        if log:
            if low <= 0:
                raise ValueError(f"a log slider needs positive bounds; got {(low, high)}")
            slider = widgets.FloatLogSlider(value=start, base=10, min=math.log10(low), max=math.log10(high),
                                            step=step or 0.05, readout_format=".2e", **common)
        else:
            slider = widgets.FloatSlider(value=start, min=low, max=high, step=step or (high - low) / 300,
                                         readout_format=".4f", **common)
        first = cached(start)
        image = widgets.Image(value=first.png, format="png", layout=widgets.Layout(**image_layout))
        caption = caption_widget(first)
        status = widgets.HTML(f"<small>Live: any {html.escape(what)} in [{low:g}, {high:g}] is computed when chosen "
                              "(results are memoised on disk and in memory).</small>")

        def redraw(change) -> None:
            value = float(change["new"])
            status.value = f"<small>computing {html.escape(what)} = {value:.4g} …</small>"
            try:
                frame = cached(value)
            except Exception as error:  # keep the widget alive; say what went wrong
                status.value = f"<small>could not compute this frame: {html.escape(str(error))}</small>"
                raise
            image.value = frame.png
            caption.value = f"<small>{html.escape(frame.caption)}</small>"
            status.value = f"<small>{html.escape(what)} = {value:.4g}</small>"

        slider.observe(redraw, names="value")
        box = widgets.VBox([slider, image, caption, status])
        box.image, box.caption, box.redraw = image, caption, redraw
    box.add_class("subliminal-explorer")
    box.slider, box.grid, box.static, box.render, box.memo = slider, grid, static, cached, memo
    return box


def single_step_explorer(static: bool | None = None, *, grid: Sequence[float] | None = None,
                         config: Config | None = None, student_lrs: Sequence[float] | None = None, seed: int = 0,
                         device=None):
    """Chapter 2: one teacher step of size eps, one student step on the aux-logit KL on noise.

    The slider picks the teacher's step size eps. The frame plots, against the student's step size alpha,
    the first-order prediction -alpha <dtheta_T, dtheta_S> of the change of the teacher's trait loss L_T and
    the measured change, their ratio, and the alpha (and alpha*eps) at which first order breaks down, using
    :func:`subliminal.theory.single_step_check` (plain gradient steps, no Adam) with the chapter's config.
    """
    grid = _grid("single_step", grid, SINGLE_STEP_GRID)
    config = config or default_config()
    return _explorer(grid, lambda eps: single_step_frame(eps, config, student_lrs, seed, device),
                     description="teacher step ε", what="ε", static=static, initial=grid[len(grid) // 2],
                     bounds=EPSILON_RANGE, log=True)


def alignment_explorer(result: ExperimentResult, static: bool | None = None, *, grid: Sequence[float] | None = None,
                       condition: str = "student_aux", window: int = 15):
    """Chapter 3: a threshold tau over the stored cosine traces of ``result`` (the chapter's run; no training).

    Default grid: evenly spaced from the 5th to the 95th percentile of the pooled per-step cosines, with 0
    (25 points; 7 in fast mode); live, any tau between the 1st and 99th percentile.
    """
    if condition not in result.conditions or result[condition].cosine is None:
        raise ValueError(f"result has no cosine trace for {condition!r}; run it with track_alignment=True")
    cos = np.asarray(result[condition].cosine, dtype=float)
    if grid is None:
        points = FAST_ALIGNMENT_POINTS if fast_mode() else ALIGNMENT_POINTS
        low, high = np.quantile(cos, [0.05, 0.95])
        values = np.linspace(low, high, points - 1)
        grid = sorted(set(np.round(np.append(values, 0.0), 4).tolist()))
    bounds = tuple(float(v) for v in np.quantile(cos, [0.01, 0.99]))
    bounds = (min(bounds[0], min(grid)), max(bounds[1], max(grid)))
    initial = 0.0 if 0.0 in grid else float(grid[0])
    return _explorer(grid, lambda tau: alignment_frame(tau, result, condition, window), description="threshold τ",
                     what="τ", static=static, initial=initial, bounds=bounds)


def tau_explorer(config: Config | None = None, seeds=None, static: bool | None = None, *,
                 grid: Sequence[float] | None = None, baseline: ExperimentResult | None = None, device=None):
    """Chapter 4: projection threshold tau (project when cos(g_d, g_t) > tau) for ``seeds`` of ``config``.

    Pass the chapter's sweep values as ``grid`` and its seeds: the frames are then read from the cache of
    the chapter's tau sweep. ``baseline`` (the chapter's main run) supplies the plain student.
    """
    grid = _grid("tau", grid, TAU_GRID)
    for tau in grid:
        if not -1.0 <= tau <= 1.0:
            raise ValueError(f"tau must lie in [-1, 1]; got {tau}")
    seeds = default_seeds() if seeds is None else seeds
    return _explorer(grid, lambda tau: tau_frame(tau, config, seeds, baseline, device), description="threshold τ",
                     what="τ", static=static, initial=0.0, bounds=(min(TAU_RANGE[0], min(grid)),
                                                                   max(TAU_RANGE[1], max(grid))))


def liminal_explorer(config: Config | None = None, seeds=None, static: bool | None = None, *,
                     grid: Sequence[float] | None = None, baseline: ExperimentResult | None = None, device=None):
    """Chapter 5: liminal_scale s (0 = no liminal term) -> accuracy and alignment against the plain student."""
    grid = _grid("liminal", grid, LIMINAL_GRID)
    for scale in grid:
        if scale < 0:
            raise ValueError(f"liminal_scale must be at least 0; got {scale}")
    seeds = default_seeds() if seeds is None else seeds
    initial = 1.0 if 1.0 in grid else grid[0]
    return _explorer(grid, lambda s: liminal_frame(s, config, seeds, baseline, device), description="liminal scale s",
                     what="s", static=static, initial=initial, bounds=(0.0, max(LIMINAL_RANGE[1], max(grid))))


def learning_rate_explorer(config: Config | None = None, seeds=None, static: bool | None = None, *,
                           grid: Sequence[float] | None = None, baseline: ExperimentResult | None = None,
                           device=None):
    """Chapter 6: student learning rate -> alignment and accuracy of the shared-init and cross-init students.

    Pass the chapter's sweep values as ``grid`` and its seeds (and ``baseline``, the main run, when the
    chapter's sweep reused it): the frames are then the chapter's own runs."""
    grid = _grid("learning_rate", grid, LEARNING_RATE_GRID)
    for lr in grid:
        if not lr > 0:
            raise ValueError(f"a learning rate must be positive; got {lr}")
    config = config or default_config()
    seeds = default_seeds() if seeds is None else seeds
    initial = config.student_lr if config.student_lr in grid else grid[0]
    return _explorer(grid, lambda lr: learning_rate_frame(lr, config, seeds, device, baseline=baseline),
                     description="student learning rate", what="student lr", static=static, initial=initial,
                     bounds=(min(LEARNING_RATE_RANGE[0], min(grid)), max(LEARNING_RATE_RANGE[1], max(grid))),
                     log=True)


__all__ = [
    "STATIC_ENV", "Frame", "default_config", "static_mode", "fast_mode", "figure_png",
    "single_step_explorer", "alignment_explorer", "tau_explorer", "liminal_explorer", "learning_rate_explorer",
    "single_step_frame", "alignment_frame", "tau_frame", "liminal_frame", "learning_rate_frame",
]
