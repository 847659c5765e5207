"""The slider widget every explorer is: live (a frame computed on demand) or static (a precomputed grid)."""

from __future__ import annotations

import html
import math
from typing import Callable, Sequence

from .frames import FRAME_PX, Frame, static_mode


def slider_label(value: float, log: bool) -> str:
    return f"{value:.2g}" if log else f"{value:.4g}"


def caption_widget(frame: Frame):
    """The caption of a frame, as the explorers show it (small text, class ``subliminal-caption``)."""
    import ipywidgets as widgets

    caption = widgets.HTML(f"<small>{html.escape(frame.caption)}</small>")
    caption.add_class("subliminal-caption")
    return caption


def frame_image(frame: Frame):
    """A frame's PNG as an image widget at the frames' width."""
    import ipywidgets as widgets

    return widgets.Image(value=frame.png, format="png",
                         layout=widgets.Layout(width="100%", max_width=f"{FRAME_PX}px", height="auto"))


def frame_stack(frames: Sequence[Frame], selector, start: int):
    """The static explorer's body: a ``Stack`` of (image, caption) pages, one per frame, whose
    ``selected_index`` is jslinked to ``selector.index``. Returns (stack, images, captions, link)."""
    import ipywidgets as widgets

    if not hasattr(widgets, "Stack"):
        raise RuntimeError("static explorers need ipywidgets >= 8 (Stack); call with static=False")
    images = [frame_image(f) for f in frames]
    captions = [caption_widget(f) for f in frames]
    stack = widgets.Stack(children=[widgets.VBox([i, c]) for i, c in zip(images, captions)], selected_index=start)
    return stack, images, captions, widgets.jslink((selector, "index"), (stack, "selected_index"))


def explorer(grid: Sequence[float], render: Callable[[float], Frame], *, description: str, what: str,
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
    if len({slider_label(v, log) for v in grid}) != len(grid):
        raise ValueError(f"grid values must be distinct; got {grid}")
    static = static_mode(static)
    memo: dict[float, Frame] = {}

    def cached(value: float) -> Frame:
        value = float(value)
        if value not in memo:
            memo[value] = render(value)
        return memo[value]

    start = float(initial) if initial is not None and float(initial) in grid else grid[0]
    if static:
        labels = [slider_label(v, log) for v in grid]
        slider = widgets.SelectionSlider(
            options=labels, index=grid.index(start), description=description, continuous_update=True,
            style={"description_width": "initial"}, layout=widgets.Layout(width="100%", max_width="520px"))
        stack, frames, captions, link = frame_stack([cached(v) for v in grid], slider, grid.index(start))
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
        image, caption = frame_image(first), caption_widget(first)
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


__all__ = [
    "slider_label", "caption_widget", "frame_image", "frame_stack", "explorer",
]
