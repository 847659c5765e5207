"""What every explorer shares: frame sizes and grids, the frame figure and its PNG, default settings,
and running the chapter's conditions."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .. import plots
from ..config import Config, env_flag, fast_mode
from ..results import ExperimentResult, mean_ci

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
    return Config.for_mode(fast_mode())


def default_seeds() -> int:
    """Seeds per frame when a chapter does not say: 2 in fast mode, else 3 (the chapters' sweep seeds)."""
    return 2 if fast_mode() else 3


def grid_values(name: str, grid: Sequence[float] | None, default: Sequence[float]) -> list[float]:
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
    return env_flag(STATIC_ENV)


# --------------------------------------------------------------------------- figures


def frame_figure(nrows: int, ncols: int, height: float):
    fig, axes = plots.figure(nrows, ncols, height=height, width=FRAME_WIDTH)
    return fig, np.atleast_1d(axes).ravel()


def mosaic(layout: list[list[str]], height: float):
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


def short_axes(*axes) -> None:
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


def pm(values, scale: float = 1.0, digits: int = 1) -> str:
    """'mean ± half' (95 % t-interval) of per-seed values, or just the mean for one seed."""
    mean, half = mean_ci(scale * np.asarray(values, dtype=float))
    return f"{mean:.{digits}f}" + ("" if not np.isfinite(half) else f" ± {half:.{digits}f}")


def merge_results(config: Config, seeds: Sequence[int], *parts: tuple[ExperimentResult, str]) -> ExperimentResult:
    """One result holding condition ``name`` of each ``(result, name)`` (same seeds and curve steps)."""
    first = parts[0][0]
    return ExperimentResult(config=config, seeds=list(seeds), conditions={n: r[n] for r, n in parts},
                            curve_steps=first.curve_steps)


def run_conditions(config: Config, seeds, conditions: Sequence[str], device=None,
                   reuse: ExperimentResult | None = None) -> ExperimentResult:
    """The run of a frame: rows of ``reuse`` (the chapter's run) where it coincides with it, else memoised."""
    from ..experiments import run_experiment

    return run_experiment(config, seeds=seeds, conditions=list(conditions), device=device, cache=True,
                          progress=False, reuse=reuse)


def plain_baseline(config: Config, seeds: list[int], baseline: ExperimentResult | None, device,
           ignore: Sequence[str]) -> ExperimentResult:
    """The plain aux-only student of ``seeds``: rows of ``baseline`` (a chapter run) or a run of its own.

    ``ignore``: the explorer's own settings, which the plain student does not depend on."""
    if baseline is not None:
        from ..experiments import same_run  # imported when called (this module loads without torch)

        if not same_run(baseline.config, config, ignore):
            raise ValueError("baseline was run with another configuration than the explorer's; pass the chapter's "
                             "run of the same config")
        rows = baseline.subset(seeds, ["student_aux"])
        if config.track_alignment and config.alignment_every > 1:
            rows = rows.on_alignment_steps(config.alignment_every)  # the steps the explorer's own runs measure
        return rows
    return run_conditions(config, seeds, ["student_aux"], device)


def seed_list(seeds) -> list[int]:
    """:func:`subliminal.experiments.seed_list`, imported when called (this module loads without torch)."""
    from .. import experiments

    return experiments.seed_list(seeds)


__all__ = [
    "default_config", "default_seeds", "grid_values", "static_mode", "frame_figure", "mosaic", "finish_frame",
    "short_axes", "figure_png", "pm", "merge_results", "run_conditions", "plain_baseline",
    "seed_list", "Frame", "STATIC_ENV", "FRAME_PX", "FRAME_WIDTH", "FRAME_DPI", "FRAME_FONT", "FRAME_COLORS",
    "FRAME_HEIGHT", "SINGLE_STEP_GRID", "STUDENT_LRS_SINGLE_STEP", "LEARNING_RATE_GRID", "TAU_GRID",
    "LIMINAL_GRID", "ALIGNMENT_POINTS", "FAST_GRIDS", "FAST_ALIGNMENT_POINTS", "TAU_RANGE", "LIMINAL_RANGE",
    "LEARNING_RATE_RANGE", "EPSILON_RANGE", "RESOLUTION", "COSINE",
]
