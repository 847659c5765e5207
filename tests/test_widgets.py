"""The chapter explorers: static mode (precomputed frames in a jslinked Stack) and live mode."""

from __future__ import annotations

import pytest

ipywidgets = pytest.importorskip("ipywidgets")

from subliminal import widgets as W  # noqa: E402
from subliminal.config import Config  # noqa: E402

# a configuration that trains in about a second: a few student steps of a tiny network
TINY = W.explorer_config(hidden=16, n_train=512, n_noise=256, teacher_epochs=1, student_epochs=1,
                         student_batch_size=128, teacher_batch_size=128, trait_batch_size=128,
                         curve_every=1, curve_samples=200)
TINY_THEORY = Config.fast(hidden=16, trait_batch_size=128, student_batch_size=128)

EXPLORERS = {
    "transfer": (W.transfer_explorer, [1e-3, 1e-2], dict(config=TINY)),
    "tau": (W.tau_explorer, [0.0, 1.0], dict(config=TINY)),
    "liminal": (W.liminal_explorer, [0.0, 3.0], dict(config=TINY)),
    "single_step": (W.single_step_explorer, [1e-3, 1.0], dict(config=TINY_THEORY, student_lrs=[1.0, 10.0, 100.0])),
}


def _is_png(data: bytes) -> bool:
    return data[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("name", sorted(EXPLORERS))
def test_static_explorer_has_one_linked_frame_per_grid_value(name):
    make, grid, kwargs = EXPLORERS[name]
    box = make(static=True, grid=grid, **kwargs)
    assert box.static is True
    assert isinstance(box.stack, ipywidgets.Stack)
    assert len(box.stack.children) == len(grid) == len(box.slider.options)
    assert all(isinstance(f, ipywidgets.Image) and _is_png(f.value) for f in box.frames)
    assert len({f.value for f in box.frames}) == len(grid), "every grid value must draw a different frame"
    # the slider drives the stack in the browser: a jslink between slider.index and stack.selected_index
    link = box.link
    assert isinstance(link, ipywidgets.widgets.widget_link.Link)
    assert link.source == (box.slider, "index") and link.target == (box.stack, "selected_index")
    assert box.stack.selected_index == box.slider.index
    # and only bundled widget modules (base / controls): embed-amd.js needs no CDN
    for widget in [box, box.slider, box.stack, link, *box.frames]:
        assert widget._model_module in ("@jupyter-widgets/base", "@jupyter-widgets/controls")
    # the note says which grid was precomputed
    assert "Precomputed for" in box.children[-1].value


@pytest.mark.parametrize("name", sorted(EXPLORERS))
def test_live_explorer_recomputes_when_the_slider_moves(name):
    make, grid, kwargs = EXPLORERS[name]
    box = make(static=False, grid=grid, **kwargs)
    assert box.static is False and not hasattr(box, "stack")
    first = box.image.value
    assert _is_png(first)
    box.slider.index = (box.slider.index + 1) % len(grid)
    assert _is_png(box.image.value) and box.image.value != first


def test_static_default_follows_the_environment(monkeypatch):
    monkeypatch.setenv(W.STATIC_ENV, "1")
    assert W.static_mode(None) is True and W.static_mode(False) is False
    monkeypatch.setenv(W.STATIC_ENV, "0")
    assert W.static_mode(None) is False and W.static_mode(True) is True
    monkeypatch.delenv(W.STATIC_ENV)
    assert W.static_mode(None) is False


def test_sliders_only_offer_the_grid():
    box = W.liminal_explorer(static=False, grid=[0.0], config=TINY)
    assert box.slider.options == ("0",)
    with pytest.raises(Exception):
        box.slider.value = "5"  # not on the grid
    with pytest.raises(ValueError):
        W.tau_explorer(static=False, grid=[2.0], config=TINY)
    with pytest.raises(ValueError):
        W.liminal_explorer(static=False, grid=[-1.0], config=TINY)


def test_frames_are_small_pngs():
    box = W.tau_explorer(static=True, grid=[0.0], config=TINY)
    import struct

    data = box.frames[0].value
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (600, 300)
    assert len(data) < 150_000
