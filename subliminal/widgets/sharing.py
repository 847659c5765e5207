"""Chapter 7's explorer: pick an arm, see its alignment and accuracy against the two ends (no training)."""

from __future__ import annotations

import html
from typing import Mapping, Sequence

import numpy as np

from .. import plots
from ..results import ExperimentResult
from .explorer import caption_widget, frame_image, frame_stack
from .frames import (
    COSINE,
    FRAME_HEIGHT,
    Frame,
    figure_png,
    finish_frame,
    frame_figure,
    pm,
    static_mode,
)

#: The controls an arm can be picked with: a drop-down list, or a slider over the arms' labels.
CONTROLS = ("dropdown", "slider")


def _every(arms_result: ExperimentResult, every: int | None) -> int:
    """The alignment stride: ``every``, else the one the arms were run with (``sharing.run_arms``: ALIGNMENT_EVERY)."""
    every = arms_result.config.alignment_every if every is None else every
    if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1:
        raise ValueError(f"every must be a whole number of steps >= 1; got {every!r}")
    return int(every)


def paired_ends(arms_result: ExperimentResult, ends: ExperimentResult) -> ExperimentResult:
    """The ends (shared-init and cross-model students) of ``ends`` on the seeds of ``arms_result``, in its order;
    a ValueError unless both are runs of one configuration (up to the alignment stride) with the same curve steps."""
    from ..sharing import ENDS

    missing = [name for name in ENDS if name not in ends.conditions]
    if missing:
        raise ValueError(f"ends must hold {list(ENDS)} (the chapter's main run); it lacks {missing}")
    from ..experiments import same_run  # imported when called (this module loads without torch)

    if not same_run(arms_result.config, ends.config, ("alignment_every",)):
        raise ValueError("the arms and the ends were run with different configurations; pass the main run whose "
                         "config the arms were run with")
    paired = ends.subset(arms_result.seeds, ENDS)  # a ValueError names seeds the ends lack
    if not np.array_equal(np.asarray(paired.curve_steps), np.asarray(arms_result.curve_steps)):
        raise ValueError("the arms and the ends measured their accuracy curves at different steps")
    return paired


def _on_steps(cosine_of, every: int, name: str) -> np.ndarray:
    """The arm's or end's cosines on its measured steps (``sharing.measured_cosines``)."""
    from ..sharing import measured_cosines

    return measured_cosines(cosine_of, every, name)


def sharing_frame(arm: str, arms_result: ExperimentResult, ends: ExperimentResult, *, label: str | None = None,
                  color: str | None = None, every: int | None = None, window: int = 15) -> Frame:
    """One arm of Chapter 7 against the shared-init and the cross-model student (``ends``, the main run, paired
    by seed): cos(g_d, g_t) on the measured steps 0, k, 2k, ... (k = ``every``, by default the arms' own
    ``alignment_every``) and the test-accuracy curves; mean over seeds, bands the 95 % t-interval. ``label`` and
    ``color``: the arm's (default: its entry of ``sharing.ARMS``). ``window``: steps of the moving average of the
    cosines. Reads the results; trains nothing."""
    from ..sharing import ARMS, ENDS, alignment_on_steps

    if arm not in arms_result.conditions:
        raise ValueError(f"arm {arm!r} was not run; arms_result holds {list(arms_result.conditions)}")
    every = _every(arms_result, every)
    ends = paired_ends(arms_result, ends)
    res = arms_result[arm]
    rows = {arm: res, **{name: ends[name] for name in ENDS}}
    known = {a.name: a for a in ARMS}
    label = label or (known[arm].label if arm in known else arm)
    color = color or (known[arm].color if arm in known else plots.color(arm))
    styles = {arm: (label, color, "-"), **{n: plots.END_STYLES[n] for n in ENDS}}
    cosines = {name: _on_steps(r, every, name) for name, r in rows.items()}
    if len({c.shape[1] for c in cosines.values()}) != 1:
        raise ValueError("the arm and the ends ran different numbers of steps")
    steps = np.arange(next(iter(rows.values())).cosine.shape[1])[::every]
    curves = {name: r.curve_acc for name, r in rows.items() if r.curve_acc is not None}

    fig, (trace, acc) = frame_figure(2, 1, height=FRAME_HEIGHT)
    plots.plot_arm_alignment(steps, cosines, styles, trace, window=max(1, round(window / every)))
    trace.set_title(f"{COSINE} on steps 0, {every}, {2 * every}, …" if every > 1 else f"{COSINE} per step")
    trace.set_xlabel("")
    if curves:
        plots.plot_arm_accuracy(arms_result.curve_steps, curves, styles, acc)
        acc.set_title("test accuracy during distillation")
    else:
        acc.set_visible(False)
    last = max(int(steps[-1]), int(arms_result.curve_steps[-1]) if len(arms_result.curve_steps) else 0, 1)
    for ax in (trace, acc):
        ax.set_xlim(0, last)
    finish_frame(fig)

    stats = {name: alignment_on_steps(r, every) for name, r in rows.items()}  # (share of cos > 0, mean cos)
    shared, cross = ENDS
    caption = (f"{label}: accuracy {pm(res.accuracy, 100)} % (shared init {pm(rows[shared].accuracy, 100)} %, "
               f"cross-model {pm(rows[cross].accuracy, 100)} %); {COSINE} > 0 on {pm(stats[arm][0], 100)} % of "
               f"{len(steps)} measured steps (shared init {pm(stats[shared][0], 100)} %, cross-model "
               f"{pm(stats[cross][0], 100)} %), mean {COSINE} = {stats[arm][1].mean():.4f} (shared init "
               f"{stats[shared][1].mean():.4f}, cross-model {stats[cross][1].mean():.4f}); {len(res.accuracy)} seeds")
    return Frame(figure_png(fig), caption)


def sharing_explorer(arms_result: ExperimentResult, ends: ExperimentResult, arms: Sequence[str] | None = None,
                     labels: Mapping[str, str] | None = None, static: bool | None = None, *,
                     every: int | None = None, initial: str | None = None, control: str = "dropdown"):
    """Chapter 7: pick an arm of ``arms_result`` (``sharing.run_arms``) and see its alignment trace and accuracy
    curve against the shared-init and cross-model students of ``ends`` (the main run, paired by seed).

    ``arms``: which arms, in order (default: those of ``sharing.ARMS`` in ``arms_result``); ``labels``: their
    names on the control (default: the arms' labels). ``control``: ``"dropdown"`` or ``"slider"`` (a
    ``SelectionSlider`` over the labels). Static (the book): every arm's frame is drawn up front into a ``Stack``
    whose ``selected_index`` is jslinked to the control's ``index``; live: a frame is drawn when its arm is
    picked (memoised). Returns a ``VBox`` with ``selector``, ``arms``, ``static``, ``render``, ``memo`` and
    ``stack``, ``frames``, ``captions``, ``link`` (static) or ``image``, ``caption`` (live).
    """
    import ipywidgets as widgets

    from ..sharing import ARMS

    known = {a.name: a for a in ARMS}
    names = [a.name for a in ARMS if a.name in arms_result.conditions] if arms is None else list(arms)
    if not names:
        raise ValueError(f"no arm to show: arms_result holds {list(arms_result.conditions)}, none of them an arm "
                         f"of sharing.ARMS; pass arms=[...]")
    unknown = [n for n in names if n not in arms_result.conditions]
    if unknown or len(set(names)) != len(names):
        raise ValueError(f"arms must be distinct conditions of arms_result ({list(arms_result.conditions)}); "
                         f"got {names}")
    if control not in CONTROLS:
        raise ValueError(f"control must be one of {CONTROLS}; got {control!r}")
    every = _every(arms_result, every)
    paired = paired_ends(arms_result, ends)
    for name in names:  # refuse a record without the measured steps now, not when the arm is picked
        _on_steps(arms_result[name], every, name)
    labels = {n: (labels or {}).get(n) or (known[n].label if n in known else n) for n in names}
    options = [labels[n] for n in names]
    if len(set(options)) != len(options):
        raise ValueError(f"the arms' labels must be distinct; got {options}")
    if initial is not None and initial not in names:
        raise ValueError(f"initial must be one of the arms {names}; got {initial!r}")
    start = names.index(initial) if initial is not None else 0
    static = static_mode(static)
    memo: dict[str, Frame] = {}

    def render(name: str) -> Frame:
        if name not in memo:
            memo[name] = sharing_frame(name, arms_result, paired, label=labels[name], every=every)
        return memo[name]

    common = dict(options=options, index=start, description="arm", style={"description_width": "initial"},
                  layout=widgets.Layout(width="100%", max_width="520px"))
    selector = (widgets.Dropdown(**common) if control == "dropdown"
                else widgets.SelectionSlider(continuous_update=True, **common))
    if static:
        stack, frames, captions, link = frame_stack([render(n) for n in names], selector, start)
        note = widgets.HTML(f"<small>A precomputed grid: the {len(names)} arms, drawn from the chapter's stored runs "
                            "(nothing is trained on this page).</small>")
        box = widgets.VBox([selector, stack, note])
        box.stack, box.frames, box.captions, box.link = stack, frames, captions, link
    else:
        first = render(names[start])
        image, caption = frame_image(first), caption_widget(first)

        def redraw(change) -> None:
            frame = render(names[change["new"]])
            image.value = frame.png
            caption.value = f"<small>{html.escape(frame.caption)}</small>"

        selector.observe(redraw, names="index")
        box = widgets.VBox([selector, image, caption])
        box.image, box.caption, box.redraw = image, caption, redraw
    box.add_class("subliminal-explorer")
    box.selector, box.arms, box.labels, box.static, box.render, box.memo = selector, names, labels, static, render, memo
    return box


__all__ = ["CONTROLS", "paired_ends", "sharing_frame", "sharing_explorer"]
