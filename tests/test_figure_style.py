"""Figures a reader can read: text size as shown, legends off the data, units on the axes.

Every figure function the chapters call and every explorer frame is drawn on small
synthetic (or tiny, seconds-long) data, and the text matplotlib actually draws is
recorded. Display size: a chapter figure is a PNG of ``figure.dpi`` pixels per inch,
cropped to its tight bounding box (matplotlib-inline, ``bbox_inches="tight"``) and scaled
down to the column (``plots.COLUMN_PX`` CSS px) when wider; an explorer frame is shown
``widgets.FRAME_PX`` wide. A point of text then shows as ``shown_px / (72 * width_in)``
CSS px. Floors: ``plots.MIN_TEXT_PX`` for chapter figures, the body text
(``plots.BODY_TEXT_PX``) for explorer frames. tests/test_rendered_pages.py checks the
column width and the body text size on the built book.
"""

from __future__ import annotations

import re

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg  # noqa: E402
from fakes import fake_check, fake_result  # noqa: E402

from subliminal import analysis, plots  # noqa: E402
from subliminal.config import Config  # noqa: E402

PAD = 0.1  # inches: savefig.pad_inches around a tight bounding box


def _sweep_frame(
    parameter="student_lr",
    values=(1e-4, 1e-3, 1e-2),
    conditions=("student_aux", "cross_aux"),
):
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        [
            {
                "parameter": parameter,
                "value": v,
                "condition": c,
                "seed": s,
                "accuracy": rng.uniform(0.1, 0.6),
                "frac_projected": rng.uniform(0, 1),
            }
            for v in values
            for c in conditions
            for s in range(3)
        ]
    )


def _with_controls():
    r = fake_result()
    for name in ("student_aux", "cross_aux"):
        r[name].head_restored_accuracy = r[name].accuracy.copy()
    r.conditions["projection"] = r["cross_aux"]
    r.conditions["liminal"] = r["student_all"]
    r["projection"].projected = (
        np.random.default_rng(0).uniform(size=r["projection"].cosine.shape) < 0.5
    )
    return r


CHAPTER_FIGURES = {
    "digits_vs_noise": lambda: plots.plot_digits_vs_noise(
        np.zeros((6, 784)), range(6), np.zeros((6, 784))
    ),
    "accuracy_by_seed": lambda: plots.plot_accuracy_by_seed(
        fake_result(), ["teacher", "student_aux", "cross_aux", "reference"]
    ),
    "accuracy_curves": lambda: plots.plot_accuracy_curves(
        fake_result(), ["student_aux", "cross_aux"], per_epoch=47
    ),
    "single_step_seeds": lambda: plots.plot_single_step_seeds(
        [fake_check()] * 3, [fake_check("cross")] * 3
    ),
    "epsilon_scaling": lambda: plots.plot_epsilon_scaling(
        [fake_check(teacher_lr=e, inner=e) for e in (1e-3, 1e-2, 1e-1)],
        [fake_check("cross", teacher_lr=e, inner=e / 10) for e in (1e-3, 1e-2, 1e-1)],
    ),
    "trait_loss_change": lambda: plots.plot_trait_loss_change(fake_check()),
    "cosine_trace": lambda: plots.plot_cosine_trace(
        fake_result(), ["student_aux", "cross_aux"], per_epoch=47
    ),
    "cosine_histogram": lambda: plots.plot_cosine_histogram(fake_result()),
    "alignment_and_accuracy": lambda: plots.plot_alignment_and_accuracy(
        fake_result(), per_epoch=47
    ),
    "epoch_cosine": lambda: plots.plot_epoch_cosine(fake_result()),
    "critical_period": lambda: plots.plot_critical_period(fake_result()),
    "seed_scatter": lambda: plots.plot_seed_scatter(fake_result()),
    "first_order_accounting": lambda: plots.plot_first_order_accounting(
        {
            "student_aux": analysis.Accounting(
                predicted=-np.ones((3, 3)), measured=-np.ones((3, 3)), window=3
            ),
            "cross_aux": analysis.Accounting(
                predicted=-np.ones((3, 3)), measured=-np.ones((3, 3)), window=3
            ),
        }
    ),
    "mitigation_curves": lambda: plots.plot_mitigation_curves(
        _with_controls(), "projection", per_epoch=47
    ),
    "epoch_comparisons": lambda: plots.plot_epoch_comparisons(
        {
            "liminal": analysis.epoch_difference(
                fake_result(), "student_all", "student_aux"
            )
        },
        ylabel="difference (% points)",
    ),
    "liminal_schedule": lambda: plots.plot_liminal_schedule(Config.fast(), [1.0, 3.0]),
    "liminal_scale_sweep": lambda: plots.plot_liminal_scale_sweep(
        _sweep_frame("liminal_scale", (0.0, 1.0, 10.0), ["liminal"]), reference=0.1
    ),
    "sweep_grid": lambda: plots.plot_sweep_grid(
        pd.concat([_sweep_frame(), _sweep_frame("n_aux", (1, 3, 10))]),
        [("student_lr", "student learning rate"), ("n_aux", "auxiliary logits")],
        defaults={"n_aux": 3},
    ),
}


@pytest.fixture
def drawn_text(monkeypatch):
    """Draw a figure; return (text, size in points, Text artist) of all the renderer drew."""

    def draw(fig):
        seen = []
        original = RendererAgg.draw_text

        def record(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):
            if s.strip():
                seen.append((s, prop.get_size_in_points(), mtext))
            return original(self, gc, x, y, s, prop, angle, ismath=ismath, mtext=mtext)

        monkeypatch.setattr(RendererAgg, "draw_text", record)
        FigureCanvasAgg(
            fig
        )  # a figure closed in pyplot keeps a bare canvas that draws nothing
        fig.canvas.draw()
        monkeypatch.setattr(RendererAgg, "draw_text", original)
        return seen

    return draw


def _chapter_px_per_pt(fig) -> float:
    width_in = fig.get_tightbbox(fig.canvas.get_renderer()).width + 2 * PAD
    shown_px = min(width_in * fig.dpi, plots.COLUMN_PX)
    return shown_px / width_in / 72


def _legends_off_the_data(fig) -> list[str]:
    """Every legend of ``fig`` that overlaps the data area (the axes patch) of a visible axes,
    or an axis label or title."""
    renderer = fig.canvas.get_renderer()
    legends = list(fig.legends)
    legends += [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    problems = []
    for legend in legends:
        box = legend.get_window_extent(renderer)
        entries = [t.get_text() for t in legend.get_texts()][:3]
        for ax in fig.axes:
            if not ax.get_visible():
                continue
            if box.overlaps(ax.get_window_extent(renderer)):
                problems.append(
                    f"legend {entries} over the data of {ax.get_ylabel()!r}"
                )
            for text in (ax.xaxis.label, ax.yaxis.label, ax.title):
                if text.get_text() and box.overlaps(text.get_window_extent(renderer)):
                    problems.append(
                        f"legend {entries} over the text {text.get_text()!r}"
                    )
    return problems


def _units(fig) -> list[str]:
    """Axis labels that name a loss without nats or an accuracy without percent."""
    problems = []
    for ax in fig.axes:
        for text in (ax.get_xlabel(), ax.get_ylabel()):
            if (
                re.search(r"\bloss\b|L_T", text)
                and "nats" not in text
                and "/" not in text
            ):
                problems.append(f"{text!r} has no unit (nats)")
            if re.search(r"accuracy", text) and "%" not in text:
                problems.append(f"{text!r} has no unit (%)")
    return problems


@pytest.mark.parametrize("name", sorted(CHAPTER_FIGURES))
def test_chapter_figure_is_legible_at_display_size(name, drawn_text):
    fig = CHAPTER_FIGURES[name]()
    seen = drawn_text(fig)
    assert seen, "the figure draws no text"
    px_per_pt = _chapter_px_per_pt(fig)
    small = sorted(
        {
            (round(size * px_per_pt, 1), s)
            for s, size, _ in seen
            if size * px_per_pt < plots.MIN_TEXT_PX
        }
    )
    assert not small, (
        f"text below {plots.MIN_TEXT_PX} CSS px at display size: {small[:5]}"
    )
    assert not _legends_off_the_data(fig)
    assert not _units(fig)


def test_the_checks_catch_small_text_and_legends_on_the_data(drawn_text):
    """The checks fail on the faults they exist for: 6 pt legends over the data, no units."""
    fig, ax = plots.figure()
    ax.plot([0, 1], [0, 1], label="a line")
    ax.set_ylabel("trait loss")
    ax.legend(loc="center", fontsize=6)
    seen = drawn_text(fig)
    assert (
        min(size for _, size, _ in seen) * _chapter_px_per_pt(fig) < plots.MIN_TEXT_PX
    )
    assert _legends_off_the_data(fig)
    assert _units(fig)


# ---------------------------------------------------------------- explorer frames

TINY = Config.fast(
    hidden=16,
    n_train=512,
    n_noise=512,
    teacher_epochs=1,
    student_epochs=2,
    student_batch_size=128,
    teacher_batch_size=128,
    trait_batch_size=128,
    curve_every=1,
    curve_samples=200,
)
TINY_THEORY = Config.fast(hidden=16, trait_batch_size=128, student_batch_size=128)


@pytest.fixture(scope="module")
def base():
    from subliminal.experiments import run_experiment

    return run_experiment(TINY, seeds=2, progress=False)


FRAMES = {
    "single_step": lambda W, base: W.single_step_frame(
        1e-1, TINY_THEORY, [0.1, 1.0, 10.0, 100.0, 1000.0]
    ),
    "alignment": lambda W, base: W.alignment_frame(0.0, base),
    "tau": lambda W, base: W.tau_frame(0.0, TINY, [0, 1], baseline=base),
    "liminal": lambda W, base: W.liminal_frame(10.0, TINY, [0, 1], baseline=base),
    "learning_rate": lambda W, base: W.learning_rate_frame(
        1e-3, TINY, [0, 1], baseline=base
    ),
}


@pytest.mark.parametrize("name", sorted(FRAMES))
def test_explorer_frame_is_sharp_and_legible(name, base, drawn_text, monkeypatch):
    pytest.importorskip("ipywidgets")
    import struct

    from subliminal import widgets as W

    from matplotlib.figure import Figure

    figures = []  # every figure saved while the frame is drawn (the frame's PNG is one save)
    real_savefig = Figure.savefig
    monkeypatch.setattr(
        Figure, "savefig", lambda fig, *a, **k: figures.append(fig) or real_savefig(fig, *a, **k)
    )
    frame = FRAMES[name](W, base)
    (fig,) = figures
    width, height = struct.unpack(">II", frame.png[16:24])
    shown_px = min(W.FRAME_PX, plots.COLUMN_PX)
    assert width >= 2 * shown_px, (
        f"a {width} px frame shown {shown_px} px wide is not at 2x resolution"
    )
    seen = drawn_text(fig)
    px_per_pt = shown_px / fig.get_figwidth() / 72
    small = sorted(
        {
            (round(size * px_per_pt, 1), s)
            for s, size, _ in seen
            if size * px_per_pt < plots.BODY_TEXT_PX - 0.01
        }
    )
    assert not small, (
        f"text smaller than the body text ({plots.BODY_TEXT_PX} px) at display size: {small[:5]}"
    )
    assert not _legends_off_the_data(fig)
    assert fig.legends, "a frame has one legend, above its panels"
    assert not _units(fig)
    renderer = fig.canvas.get_renderer()
    cut = []
    for text, _, artist in seen:
        if artist is None:
            continue
        box = artist.get_window_extent(renderer)
        if (
            box.x0 < -1
            or box.y0 < -1
            or box.x1 > fig.bbox.x1 + 1
            or box.y1 > fig.bbox.y1 + 1
        ):
            cut.append(text)
    assert not cut, f"text cut at the frame's edge: {cut[:5]}"
    assert height / 2 <= 640, (
        f"a frame {height / 2:.0f} px tall does not fit one screen with its slider"
    )
