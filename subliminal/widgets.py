"""Interactive explorers for the chapters, backed by the package.

Four explorers, one slider each:

=========================  =======  ===================================================
``single_step_explorer``   ch. 2    teacher step size eps -> predicted vs actual change
                                    of the trait loss after one student step
``tau_explorer``           ch. 4    projection threshold tau -> accuracy and loss curves
``liminal_explorer``       ch. 5    liminal scale -> accuracy curve vs the plain student
``transfer_explorer``      ch. 6    student learning rate -> shared-init vs cross-model
=========================  =======  ===================================================

Each explorer runs in one of two modes:

* **live** (default in a running notebook): moving the slider recomputes the
  frame with :func:`subliminal.experiments.run_experiment` (memoised on disk, so
  a value seen before answers at once) and redraws it;
* **static** (``static=True``, or ``static=None`` with the environment variable
  ``SUBLIMINAL_STATIC_WIDGETS=1``, which the book build sets): every frame of the
  slider's grid is computed up front and stored as a PNG ``Image`` in a ``Stack``
  whose ``selected_index`` is ``jslink``-ed to the slider, so the built HTML
  page works without a kernel (only ``@jupyter-widgets/base`` and ``controls``
  models are used: they are bundled in the page's local ``embed-amd.js``).

Sliders run over a fixed grid, so no value outside it can be chosen. The
experiments use a deliberately small configuration (:func:`explorer_config`)
so that a frame costs seconds on a CPU; the chapters show the full-size runs.
"""

from __future__ import annotations

import html
import io
import os
from typing import Callable, Sequence

import numpy as np

from .config import Config, fast_mode
from .results import CHANCE_PERCENT as CHANCE

STATIC_ENV = "SUBLIMINAL_STATIC_WIDGETS"
FRAME_INCHES = (6.0, 3.0)
FRAME_DPI = 100  # 600 x 300 px frames

#: Default slider grids (the tests pass smaller ones).
SINGLE_STEP_GRID: tuple[float, ...] = tuple(float(v) for v in np.logspace(-4, np.log10(3.0), 10))
STUDENT_LRS_SINGLE_STEP: tuple[float, ...] = tuple(float(v) for v in np.logspace(-2, 3, 11))
TRANSFER_GRID: tuple[float, ...] = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2)
TAU_GRID: tuple[float, ...] = (-0.02, 0.0, 0.01, 0.02, 0.05, 1.0)
LIMINAL_GRID: tuple[float, ...] = (0.0, 0.3, 1.0, 3.0, 10.0)
#: With ``SUBLIMINAL_FAST=1`` (CI's fast book build) the default grids shrink to these.
FAST_GRIDS: dict[str, tuple[float, ...]] = {
    "single_step": (1e-4, 1e-2, 1.0),
    "transfer": (3e-4, 1e-3, 1e-2),
    "tau": (0.0, 0.05, 1.0),
    "liminal": (0.0, 1.0, 10.0),
}
EXPLORER_SEEDS: tuple[int, ...] = (0,)
#: changes of the trait loss smaller than this are float32 round-off and are not drawn
RESOLUTION = 3e-6


def explorer_config(**changes) -> Config:
    """The small configuration behind the experiment explorers.

    Same recipe as the paper (aux-logit KL on uniform noise, Adam, shared init,
    m = 3) but a narrower network (hidden 64), 12,000 training images for a
    3-epoch teacher, and 6,000 noise images seen 3 times in batches of 128 by
    the student (141 steps), so one frame costs a few seconds on a CPU. At this
    size the shared-init student reaches roughly 25-40 % digit accuracy, the
    cross-model student stays at chance.
    """
    small = dict(
        hidden=64, n_train=12_000, n_noise=6_000, teacher_epochs=3, student_epochs=3,
        student_batch_size=128, student_lr=1e-3, track_alignment=False, curve_every=5, curve_samples=1000,
    )
    if fast_mode():  # CI's fast book build: fewer, cheaper frames (47 student steps)
        small.update(n_train=6_000, n_noise=3_000, teacher_epochs=2, student_epochs=2)
    small.update(changes)
    return Config.fast(**small)


def _grid(name: str, grid: Sequence[float] | None, default: Sequence[float]) -> list[float]:
    if grid is not None:
        return [float(v) for v in grid]
    return list(FAST_GRIDS[name] if fast_mode() else default)


def static_mode(static: bool | None = None) -> bool:
    """``static`` if given, else True when ``$SUBLIMINAL_STATIC_WIDGETS`` is ``1`` (the book build)."""
    if static is not None:
        return bool(static)
    return os.environ.get(STATIC_ENV, "").strip().lower() in ("1", "true", "yes")


# --------------------------------------------------------------------------- plotting helpers


def _figure(ncols: int = 2):
    """A Figure on the Agg canvas (never touches pyplot's global state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=FRAME_INCHES, dpi=FRAME_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, ncols)
    return fig, np.atleast_1d(axes)


def figure_png(fig) -> bytes:
    """PNG bytes of a figure at the frame size."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=FRAME_DPI)
    return buffer.getvalue()


def _accuracy_axes(ax, top: float) -> None:
    ax.axhline(CHANCE, color="0.6", lw=0.8, ls=":", label="chance")
    ax.set_ylim(0, 60 if top < 55 else 100)
    ax.set_xlabel("distillation step")
    ax.set_ylabel("digit accuracy (%)")
    ax.grid(alpha=0.3)


def _curve(result, name: str) -> np.ndarray:
    """Mean accuracy curve (%) over seeds of one condition."""
    return 100 * np.asarray(result[name].curve_acc).mean(axis=0)


def plot_transfer_frame(lr: float, result) -> bytes:
    """Accuracy over distillation steps: shared-init vs cross-model aux-only student."""
    fig, (ax, bar) = _figure(2)
    steps = result.curve_steps
    shared, cross = _curve(result, "student_aux"), _curve(result, "cross_aux")
    ax.plot(steps, shared, color="C0", label="shared init")
    ax.plot(steps, cross, color="C3", label="different init")
    _accuracy_axes(ax, max(shared.max(), cross.max()))
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title(f"student lr = {lr:.0e}", fontsize=9)
    finals = [100 * result["student_aux"].accuracy.mean(), 100 * result["cross_aux"].accuracy.mean()]
    bar.bar(["shared\ninit", "different\ninit"], finals, color=["C0", "C3"])
    bar.axhline(CHANCE, color="0.6", lw=0.8, ls=":")
    for i, value in enumerate(finals):
        bar.text(i, value + 1, f"{value:.1f} %", ha="center", fontsize=8)
    bar.set_ylim(0, 60 if max(finals) < 55 else 100)
    bar.set_ylabel("final accuracy, 10,000 test images (%)", fontsize=8)
    bar.set_title("aux-logit students", fontsize=9)
    return figure_png(fig)


def plot_tau_frame(tau: float, plain, projected) -> bytes:
    """Accuracy and distillation-loss curves of the plain and the projected student."""
    fig, (ax, loss_ax) = _figure(2)
    steps = plain.curve_steps
    a_plain, a_proj = _curve(plain, "student_aux"), _curve(projected, "projection")
    frac = float(np.asarray(projected["projection"].projected).mean())
    ax.plot(steps, a_plain, color="C0", label="plain student")
    ax.plot(projected.curve_steps, a_proj, color="C2", label="projected")
    _accuracy_axes(ax, max(a_plain.max(), a_proj.max()))
    ax.legend(fontsize=7, loc="upper left")
    tau_text = "1 (never)" if tau >= 1 else f"{tau:g}"
    ax.set_title(f"τ = {tau_text}: {100 * frac:.0f} % of steps projected", fontsize=9)
    l_plain = np.asarray(plain["student_aux"].loss).mean(axis=0)
    l_proj = np.asarray(projected["projection"].loss).mean(axis=0)
    loss_ax.semilogy(np.arange(len(l_plain)), l_plain, color="C0", lw=1, label="plain student")
    loss_ax.semilogy(np.arange(len(l_proj)), l_proj, color="C2", lw=1, ls="--", label="projected")
    loss_ax.set_xlabel("distillation step")
    loss_ax.set_ylabel("aux-logit KL to the teacher")
    loss_ax.set_title("distillation loss", fontsize=9)
    loss_ax.legend(fontsize=7)
    loss_ax.grid(alpha=0.3)
    return figure_png(fig)


def plot_liminal_frame(scale: float, plain, liminal) -> bytes:
    """Accuracy curve of the liminal student vs the plain student, and the liminal weight."""
    from .mitigations import liminal_weight

    fig, (ax, lam_ax) = _figure(2)
    a_plain, a_lim = _curve(plain, "student_aux"), _curve(liminal, "liminal")
    ax.plot(plain.curve_steps, a_plain, color="C0", label="plain student")
    ax.plot(liminal.curve_steps, a_lim, color="C4", label="liminal")
    _accuracy_axes(ax, max(a_plain.max(), a_lim.max()))
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title(f"liminal scale = {scale:g}" + (" (no liminal term)" if scale == 0 else ""), fontsize=9)
    config = liminal.config
    n_steps = np.asarray(liminal["liminal"].loss).shape[1]
    t = np.arange(n_steps) / n_steps
    weight = [liminal_weight(float(x), config) for x in t]
    lam_ax.plot(np.arange(n_steps), weight, color="C4")
    lam_ax.set_xlabel("distillation step")
    lam_ax.set_ylabel("weight of KL(base ‖ student)")
    lam_ax.set_title("λ(t) · scale · T²", fontsize=9)
    lam_ax.set_ylim(bottom=0, top=max(1.0, max(weight) * 1.1))
    lam_ax.grid(alpha=0.3)
    return figure_png(fig)


def plot_single_step_frame(check) -> bytes:
    """Predicted (first order) vs actual change of the trait loss after one student step."""
    fig, (ax, ratio_ax) = _figure(2)
    alpha = np.asarray(check.student_lrs)
    actual, predicted = np.asarray(check.actual_change), np.asarray(check.predicted_change)
    ok = np.abs(predicted) >= RESOLUTION
    ax.plot(alpha, predicted, color="C0", label="predicted: −α⟨Δθ_T, Δθ_S⟩")
    ax.plot(alpha[ok], actual[ok], "o", color="C1", ms=4, label="actual")
    ax.axhline(0, color="0.5", lw=0.8)
    ax.set_xscale("log")
    ax.set_yscale("symlog", linthresh=RESOLUTION)
    ax.set_xlabel("student step size α")
    ax.set_ylabel("change of trait loss L_T")
    ax.legend(fontsize=7, loc="lower left")
    ax.grid(alpha=0.3)
    ax.set_title(f"ε = {check.teacher_lr:.1e}:  ⟨Δθ_T, Δθ_S⟩ = {check.inner:.1e}", fontsize=9)
    ratio = np.where(ok, actual / np.where(predicted == 0, np.nan, predicted), np.nan)
    ratio_ax.plot(alpha, np.clip(ratio, -1.0, 2.0), "o-", color="C1", ms=4)
    ratio_ax.axhline(1.0, color="C0", lw=1, ls="--", label="first order exact")
    ratio_ax.set_xscale("log")
    ratio_ax.set_ylim(-1.05, 2.05)
    ratio_ax.set_xlabel("student step size α")
    ratio_ax.set_ylabel("actual / predicted (clipped)")
    ratio_ax.legend(fontsize=7, loc="lower left")
    ratio_ax.grid(alpha=0.3)
    ratio_ax.set_title(f"cos(Δθ_T, Δθ_S) = {check.cos:.3f}", fontsize=9)
    return figure_png(fig)


# --------------------------------------------------------------------------- frames (computation)


def _run(config: Config, seeds: Sequence[int], conditions: Sequence[str], device=None):
    from .experiments import run_experiment

    return run_experiment(config, seeds=list(seeds), conditions=list(conditions), device=device, cache=True,
                          progress=False)


def transfer_frame(lr: float, config: Config | None = None, seeds: Sequence[int] = EXPLORER_SEEDS,
                   device=None) -> bytes:
    config = (config or explorer_config()).replace(student_lr=float(lr))
    return plot_transfer_frame(lr, _run(config, seeds, ["student_aux", "cross_aux"], device))


def tau_frame(tau: float, config: Config | None = None, seeds: Sequence[int] = EXPLORER_SEEDS,
              device=None) -> bytes:
    config = config or explorer_config()
    plain = _run(config, seeds, ["student_aux"], device)  # independent of tau: one cached run for all frames
    projected = _run(config.replace(projection_tau=float(tau)), seeds, ["projection"], device)
    return plot_tau_frame(tau, plain, projected)


def liminal_frame(scale: float, config: Config | None = None, seeds: Sequence[int] = EXPLORER_SEEDS,
                  device=None) -> bytes:
    config = config or explorer_config()
    plain = _run(config, seeds, ["student_aux"], device)
    liminal = _run(config.replace(liminal_scale=float(scale)), seeds, ["liminal"], device)
    return plot_liminal_frame(scale, plain, liminal)


def single_step_frame(eps: float, config: Config | None = None, student_lrs: Sequence[float] | None = None,
                      seed: int = 0, device=None) -> bytes:
    from .theory import single_step_check

    check = single_step_check(config or Config.fast(), seed=seed, teacher_lr=float(eps), device=device,
                              student_lrs=np.asarray(student_lrs or STUDENT_LRS_SINGLE_STEP, dtype=float))
    return plot_single_step_frame(check)


# --------------------------------------------------------------------------- the widget


def _explorer(grid: Sequence[float], labels: Sequence[str], render: Callable[[float], bytes], description: str,
              what: str, static: bool | None, initial: int = 0):
    """A slider over ``grid`` and the frame ``render(value)`` (PNG bytes) it selects.

    Returns a ``VBox`` with extra attributes ``slider``, ``grid``, ``static``,
    and ``stack``, ``frames``, ``link`` (static) or ``image`` (live).
    """
    import ipywidgets as widgets

    grid = [float(v) for v in grid]
    if not grid:
        raise ValueError("an explorer needs at least one grid value")
    if len(set(labels)) != len(labels) or len(labels) != len(grid):
        raise ValueError("grid labels must be distinct, one per grid value")
    static = static_mode(static)
    initial = min(max(int(initial), 0), len(grid) - 1)
    slider = widgets.SelectionSlider(
        options=list(labels), index=initial, description=description, continuous_update=static,
        style={"description_width": "initial"}, layout=widgets.Layout(width="100%", max_width="520px"),
    )
    image_layout = dict(width="100%", max_width=f"{int(FRAME_INCHES[0] * FRAME_DPI)}px", height="auto")
    values = "{" + ", ".join(labels) + "}"
    if static:
        frames = [widgets.Image(value=render(v), format="png", layout=widgets.Layout(**image_layout))
                  for v in grid]
        stack = widgets.Stack(children=frames, selected_index=initial)
        link = widgets.jslink((slider, "index"), (stack, "selected_index"))
        note = widgets.HTML(
            f"<small>Precomputed for {html.escape(what)} ∈ {html.escape(values)}; "
            "run the notebook for live recomputation.</small>")
        box = widgets.VBox([slider, stack, note])
        box.stack, box.frames, box.link = stack, frames, link
    else:
        image = widgets.Image(value=render(grid[initial]), format="png", layout=widgets.Layout(**image_layout))
        status = widgets.HTML(f"<small>Live: moving the slider recomputes the frame for {html.escape(what)} "
                              "(results are memoised on disk).</small>")

        def redraw(change) -> None:
            status.value = f"<small>computing {html.escape(what)} = {html.escape(labels[change['new']])} …</small>"
            try:
                image.value = render(grid[change["new"]])
                status.value = f"<small>{html.escape(what)} = {html.escape(labels[change['new']])}</small>"
            except Exception as error:  # keep the widget alive; say what went wrong
                status.value = f"<small>could not compute this frame: {html.escape(str(error))}</small>"
                raise

        slider.observe(redraw, names="index")
        box = widgets.VBox([slider, image, status])
        box.image, box.redraw = image, redraw
    box.add_class("subliminal-explorer")
    box.slider, box.grid, box.static = slider, grid, static
    return box


def _sci(value: float) -> str:
    return f"{value:.0e}"


def single_step_explorer(static: bool | None = None, *, grid: Sequence[float] | None = None,
                         config: Config | None = None, student_lrs: Sequence[float] | None = None, seed: int = 0,
                         device=None):
    """Chapter 2: one teacher step of size eps, one student step on the aux-logit KL on noise.

    The slider picks the teacher's step size eps (log-spaced, 1e-4 ... 3). The
    frame plots, against the student's step size alpha, the first-order
    prediction -alpha <dtheta_T, dtheta_S> of the change of the teacher's trait
    loss L_T (digit cross-entropy) and the actual change, and their ratio, using
    :func:`subliminal.theory.single_step_check` (plain gradient steps, no Adam).
    """
    grid = _grid("single_step", grid, SINGLE_STEP_GRID)
    labels = [f"{v:.1e}" for v in grid]
    config = config or Config.fast()
    return _explorer(grid, labels, lambda eps: single_step_frame(eps, config, student_lrs, seed, device),
                     "teacher step ε", "ε", static, initial=len(grid) // 2)


def transfer_explorer(static: bool | None = None, *, grid: Sequence[float] | None = None,
                      config: Config | None = None, seeds: Sequence[int] = EXPLORER_SEEDS, device=None):
    """Chapter 6: student learning rate -> shared-init vs cross-model aux-only student."""
    grid = _grid("transfer", grid, TRANSFER_GRID)
    config = config or explorer_config()
    initial = grid.index(config.student_lr) if config.student_lr in grid else 0
    return _explorer(grid, [_sci(v) for v in grid], lambda lr: transfer_frame(lr, config, seeds, device),
                     "student learning rate", "student lr", static, initial=initial)


def tau_explorer(static: bool | None = None, *, grid: Sequence[float] | None = None,
                 config: Config | None = None, seeds: Sequence[int] = EXPLORER_SEEDS, device=None):
    """Chapter 4: projection threshold tau (project when cos(g_d, g_t) > tau; 1 = never)."""
    grid = _grid("tau", grid, TAU_GRID)
    for tau in grid:
        if not -1.0 <= tau <= 1.0:
            raise ValueError(f"tau must lie in [-1, 1]; got {tau}")
    labels = ["1 (never)" if v >= 1 else f"{v:g}" for v in grid]
    initial = grid.index(0.0) if 0.0 in grid else 0
    return _explorer(grid, labels, lambda tau: tau_frame(tau, config, seeds, device), "threshold τ", "τ", static,
                     initial=initial)


def liminal_explorer(static: bool | None = None, *, grid: Sequence[float] | None = None,
                     config: Config | None = None, seeds: Sequence[int] = EXPLORER_SEEDS, device=None):
    """Chapter 5: liminal_scale (0 = no liminal term) -> accuracy curve vs the plain student."""
    grid = _grid("liminal", grid, LIMINAL_GRID)
    for scale in grid:
        if scale < 0:
            raise ValueError(f"liminal_scale must be at least 0; got {scale}")
    initial = grid.index(1.0) if 1.0 in grid else 0
    return _explorer(grid, [f"{v:g}" for v in grid], lambda s: liminal_frame(s, config, seeds, device),
                     "liminal scale", "liminal scale", static, initial=initial)


__all__ = [
    "STATIC_ENV", "explorer_config", "static_mode", "fast_mode", "single_step_explorer", "transfer_explorer", "tau_explorer",
    "liminal_explorer", "plot_single_step_frame", "plot_transfer_frame", "plot_tau_frame", "plot_liminal_frame",
    "figure_png",
]
