"""The chapter explorers: static mode (precomputed frames in a jslinked Stack), live mode (any slider value,
computed on demand and memoised), and the numbers each frame's caption reports."""

from __future__ import annotations

import html
import re
import struct

import numpy as np
import pytest

ipywidgets = pytest.importorskip("ipywidgets")

from subliminal import analysis, plots  # noqa: E402
from subliminal import widgets as W  # noqa: E402
from subliminal.config import Config  # noqa: E402
from subliminal.experiments import run_experiment  # noqa: E402
from subliminal.results import ConditionResult, ExperimentResult, mean_ci  # noqa: E402

# a configuration that trains in about a second: 2 epochs of 4 student steps of a tiny network
TINY = Config.fast(hidden=16, n_train=512, n_noise=512, teacher_epochs=1, student_epochs=2,
                   student_batch_size=128, teacher_batch_size=128, trait_batch_size=128, curve_every=1,
                   curve_samples=200)
TINY_THEORY = Config.fast(hidden=16, trait_batch_size=128, student_batch_size=128)
SEEDS = [0, 1]


@pytest.fixture(scope="module")
def base():
    """The 'chapter run' of the tiny configuration: every condition, three seeds."""
    return run_experiment(TINY, seeds=3, progress=False)


def _explorers(base):
    return {
        "learning_rate": lambda **kw: W.learning_rate_explorer(TINY, SEEDS, grid=[1e-3, 1e-2], **kw),
        "tau": lambda **kw: W.tau_explorer(TINY, SEEDS, grid=[-0.5, 1.0], baseline=base, **kw),
        "liminal": lambda **kw: W.liminal_explorer(TINY, SEEDS, grid=[1.0, 30.0], baseline=base, **kw),
        "alignment": lambda **kw: W.alignment_explorer(base, grid=[-1.0, 0.0], **kw),
        "single_step": lambda **kw: W.single_step_explorer(grid=[1e-3, 1.0], config=TINY_THEORY,
                                                           student_lrs=[1.0, 10.0, 100.0], **kw),
    }


NAMES = ["learning_rate", "tau", "liminal", "alignment", "single_step"]
COSINE_EXPLORERS = {"learning_rate", "tau", "alignment", "liminal"}


def _is_png(data: bytes) -> bool:
    return data[:8] == b"\x89PNG\r\n\x1a\n"


def _number(pattern: str, text: str) -> float:
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not in caption {text!r}"
    return float(match.group(1))


@pytest.mark.parametrize("name", NAMES)
def test_static_explorer_links_one_frame_per_grid_value(base, name):
    box = _explorers(base)[name](static=True)
    assert box.static is True
    assert len(box.stack.children) == len(box.grid) == len(box.slider.options) == 2
    assert all(_is_png(f.value) for f in box.frames)
    assert len({f.value for f in box.frames}) == 2, "every grid value must draw a different frame"
    assert len({c.value for c in box.captions}) == 2, "every grid value must have its own caption"
    # the slider drives the stack in the browser: a jslink between slider.index and stack.selected_index
    assert box.link.source == (box.slider, "index") and box.link.target == (box.stack, "selected_index")
    assert box.stack.selected_index == box.slider.index
    # only bundled widget modules (base / controls): embed-amd.js needs no CDN
    for widget in [box, box.slider, box.stack, box.link, *box.stack.children, *box.frames, *box.captions]:
        assert widget._model_module in ("@jupyter-widgets/base", "@jupyter-widgets/controls")
    # the page says that it shows a grid, and which
    note = box.children[-1].value
    assert "precomputed grid" in note and f"{len(box.grid)} values" in note
    if name in COSINE_EXPLORERS:
        assert all("cos(g_d, g_t)" in c.value for c in box.captions)
    else:
        assert all("cos(Δθ_T, Δθ_S)" in c.value for c in box.captions)


@pytest.mark.parametrize("name", NAMES)
def test_live_explorer_computes_any_value_in_range_on_demand(base, name):
    box = _explorers(base)[name](static=False)
    assert box.static is False and not hasattr(box, "stack")
    log = name in ("learning_rate", "single_step")
    assert isinstance(box.slider, ipywidgets.FloatLogSlider if log else ipywidgets.FloatSlider)
    first, first_caption = box.image.value, box.caption.value
    # a value between the grid points: live mode is not limited to the grid
    low, high = box.grid
    value = float(np.sqrt(low * high)) if log else (low + high) / 2
    box.slider.value = value
    assert box.slider.value not in box.grid
    assert _is_png(box.image.value) and box.image.value != first
    assert box.caption.value != first_caption
    assert box.slider.value in box.memo and len(box.memo) == 2
    # memoised: the same value again does not compute a new frame
    frame = box.memo[box.slider.value]
    box.memo[box.slider.value] = W.Frame(frame.png, "memo hit")
    assert box.render(box.slider.value).caption == "memo hit"


def test_alignment_frame_counts_steps_above_tau():
    """Synthetic traces with known answers: which steps exceed tau, per epoch, and the accuracy gained."""
    config = Config.fast(n_noise=400, student_batch_size=100, student_epochs=2)  # 4 steps per epoch
    cos = np.array([[0.3, 0.2, -0.1, 0.1, 0.05, -0.2, -0.3, 0.0],
                    [0.1, 0.1, 0.1, -0.1, -0.1, -0.1, -0.1, 0.2]])
    curve = np.array([[0.1, 0.3, 0.35], [0.1, 0.2, 0.2]])  # at steps 0, 4, 8
    result = ExperimentResult(config, [0, 1], {"student_aux": ConditionResult(
        accuracy=curve[:, -1], cosine=cos, curve_acc=curve)}, curve_steps=np.array([0, 4, 8]))
    frame = W.alignment_frame(0.05, result)
    assert _number(r"on ([\d.]+) % of steps", frame.caption) == pytest.approx(100 * 7 / 16, abs=0.05)
    assert _number(r"epoch 1: ([\d.]+) %", frame.caption) == pytest.approx(100 * (3 / 4 + 3 / 4) / 2, abs=0.05)
    assert _number(r"epoch 2: ([\d.]+) %", frame.caption) == pytest.approx(100 * (0 + 1 / 4) / 2, abs=0.05)
    assert _number(r"mean cos\(g_d, g_t\) = (-?[\d.]+)", frame.caption) == pytest.approx(cos.mean(), abs=5e-5)
    rate = 100 * np.array([[0.75, 0.0], [0.75, 0.25]])
    gains = 100 * np.array([[0.2, 0.05], [0.1, 0.0]])
    r = analysis.within_epoch_correlation(rate, gains).r  # the common trend over epochs removed
    assert r != pytest.approx(analysis.correlation(rate.ravel(), gains.ravel()).r, abs=0.05)  # not the pooled r
    assert _number(r"accuracy gain\) = (-?[\d.]+)", frame.caption) == pytest.approx(r, abs=0.005)
    # a higher threshold can only leave fewer steps above it
    assert _number(r"on ([\d.]+) % of steps", W.alignment_frame(0.25, result).caption) == pytest.approx(100 / 16,
                                                                                                       abs=0.05)


def test_tau_frame_reports_the_run_it_draws(base):
    frame = W.tau_frame(-0.5, TINY, [2, 0], baseline=base)
    projected = run_experiment(TINY.replace(projection_tau=-0.5), seeds=[2, 0], conditions=["projection"],
                               progress=False)["projection"]
    assert _number(r"fired on ([\d.]+) %", frame.caption) == pytest.approx(100 * projected.projected.mean(), abs=0.05)
    assert _number(r"projection = (-?[\d.]+)", frame.caption) == pytest.approx(projected.cosine.mean(), abs=5e-5)
    # the plain student is seeds 2 and 0 of the chapter run, in that order
    plain = 100 * base["student_aux"].accuracy[[2, 0]]
    assert _number(r"plain student ([\d.]+)", frame.caption) == pytest.approx(mean_ci(plain)[0], abs=0.05)
    never = W.tau_frame(1.0, TINY, [2, 0], baseline=base)
    assert _number(r"fired on ([\d.]+) %", never.caption) == 0.0


def test_explorers_reuse_the_chapter_run(base, monkeypatch, tmp_path):
    """A frame that coincides with the chapter's run is read from it, not recomputed."""
    import subliminal.experiments as experiments

    def no_training(*args, **kwargs):
        raise AssertionError("this frame must come from the baseline run")

    monkeypatch.setenv("SUBLIMINAL_CACHE", str(tmp_path))  # nothing memoised from earlier runs
    monkeypatch.setattr(experiments, "_compute_experiment", no_training)
    frame = W.liminal_frame(TINY.liminal_scale, TINY, [1, 2], baseline=base)
    acc = 100 * base["liminal"].accuracy[[1, 2]]
    assert _number(r"accuracy ([\d.]+)", frame.caption) == pytest.approx(mean_ci(acc)[0], abs=0.05)
    frame = W.tau_frame(TINY.projection_tau, TINY, [1, 2], baseline=base)
    assert _number(r"fired on ([\d.]+) %", frame.caption) == pytest.approx(
        100 * base["projection"].projected[[1, 2]].mean(), abs=0.05)
    W.learning_rate_frame(TINY.student_lr, TINY, [1, 2], baseline=base)
    with pytest.raises(AssertionError):
        W.liminal_frame(3.0, TINY, [1, 2], baseline=base)


def test_learning_rate_frame_compares_shared_and_cross_init():
    frame = W.learning_rate_frame(1e-2, TINY, SEEDS)
    result = run_experiment(TINY.replace(student_lr=1e-2), seeds=SEEDS, conditions=["student_aux", "cross_aux"],
                            progress=False)
    shared = _number(r"on ([\d.]+)(?: ± [\d.]+)? % of measured steps \(shared", frame.caption)
    cross = _number(r"vs ([\d.]+)(?: ± [\d.]+)? % \(cross", frame.caption)
    assert shared == pytest.approx(100 * result["student_aux"].frac_positive.mean(), abs=0.05)
    assert cross == pytest.approx(100 * result["cross_aux"].frac_positive.mean(), abs=0.05)


def test_bad_input_is_refused(base):
    with pytest.raises(ValueError, match="tau must lie"):
        W.tau_explorer(TINY, SEEDS, static=False, grid=[2.0])
    with pytest.raises(ValueError, match="liminal_scale"):
        W.liminal_explorer(TINY, SEEDS, static=False, grid=[-1.0])
    with pytest.raises(ValueError, match="learning rate"):
        W.learning_rate_explorer(TINY, SEEDS, static=False, grid=[0.0])
    with pytest.raises(ValueError, match="another configuration"):
        W.tau_frame(0.0, TINY.replace(hidden=8), SEEDS, baseline=base)
    with pytest.raises(ValueError, match="seeds"):
        W.tau_frame(0.0, TINY, [0, 7], baseline=base)
    no_cos = ExperimentResult(TINY, [0], {"student_aux": ConditionResult(accuracy=np.array([0.1]))})
    with pytest.raises(ValueError, match="track_alignment"):
        W.alignment_explorer(no_cos)


def test_static_default_follows_the_environment(monkeypatch):
    monkeypatch.setenv(W.STATIC_ENV, "1")
    assert W.static_mode(None) is True and W.static_mode(False) is False
    monkeypatch.setenv(W.STATIC_ENV, "0")
    assert W.static_mode(None) is False and W.static_mode(True) is True
    monkeypatch.delenv(W.STATIC_ENV)
    assert W.static_mode(None) is False


def test_fast_mode_grids_are_small(monkeypatch, base):
    monkeypatch.setenv("SUBLIMINAL_FAST", "1")
    assert W.grid_values("tau", None, W.TAU_GRID) == list(W.FAST_GRIDS["tau"])
    assert len(W.alignment_explorer(base, static=False).grid) <= W.FAST_ALIGNMENT_POINTS
    monkeypatch.setenv("SUBLIMINAL_FAST", "0")
    assert W.grid_values("tau", None, W.TAU_GRID) == list(W.TAU_GRID)
    assert W.default_config() == Config()


def test_band_edges():
    values = np.array([[1.0, 2.0], [3.0, 6.0], [5.0, 4.0]])
    low, high = plots.band(values, "range")
    assert low.tolist() == [1.0, 2.0] and high.tolist() == [5.0, 6.0]
    low, high = plots.band(values, "ci")
    for j in range(2):
        mean, half = mean_ci(values[:, j])
        assert low[j] == pytest.approx(mean - half) and high[j] == pytest.approx(mean + half)
    low, high = plots.band(values, "sd")
    assert high - low == pytest.approx(2 * values.std(axis=0))
    with pytest.raises(ValueError):
        plots.band(values, "iqr")


def test_frames_are_png_of_the_frame_width(base):
    frame = W.alignment_frame(0.0, base)
    width, _ = struct.unpack(">II", frame.png[16:24])
    assert width == int(W.FRAME_WIDTH * W.FRAME_DPI)
    assert len(frame.png) < 250_000


# --------------------------------------------------------------------------- Chapter 7: the arms of sharing

# 32 student steps of batch 32, alignment on every 10th (sharing.ALIGNMENT_EVERY): measured at steps 0, 10, 20, 30
TINY_SHARING = Config.fast(hidden=16, n_train=1024, n_noise=1024, teacher_epochs=1, student_epochs=1,
                           teacher_batch_size=256, student_batch_size=32, trait_batch_size=256, curve_every=2,
                           curve_samples=200)
ARM_SEEDS = [2, 0]  # a subset of the main run's seeds, in another order: the ends are paired by seed


@pytest.fixture(scope="module")
def sharing_runs():
    """(the arms of sharing.ARMS on seeds 2 and 0, the main run's two ends on seeds 0-2)."""
    from subliminal import sharing

    ends = run_experiment(TINY_SHARING, seeds=3, conditions=list(sharing.ENDS), cache=False, progress=False)
    arms = run_experiment(TINY_SHARING.replace(alignment_every=sharing.ALIGNMENT_EVERY), seeds=ARM_SEEDS,
                          conditions=[(a.name, a.condition) for a in sharing.ARMS], cache=False, progress=False)
    return arms, ends


def test_sharing_explorer_shows_each_arms_own_numbers(sharing_runs):
    from subliminal import sharing

    arms, ends = sharing_runs
    k = sharing.ALIGNMENT_EVERY
    assert np.isnan(arms[sharing.ARMS[0].name].cosine).any()  # only every k-th step is measured
    assert arms[sharing.ARMS[0].name].cosine[:, ::k].shape[1] >= 3
    box = W.sharing_explorer(arms, ends, static=True)
    names = [a.name for a in sharing.ARMS]
    assert box.arms == names and list(box.selector.options) == [a.label for a in sharing.ARMS]
    assert isinstance(box.selector, ipywidgets.Dropdown)
    assert len(box.stack.children) == len(box.frames) == len(box.captions) == len(names)
    assert all(_is_png(f.value) for f in box.frames) and len({f.value for f in box.frames}) == len(names)
    assert box.link.source == (box.selector, "index") and box.link.target == (box.stack, "selected_index")
    for widget in [box, box.selector, box.stack, box.link, *box.stack.children, *box.frames, *box.captions]:
        assert widget._model_module in ("@jupyter-widgets/base", "@jupyter-widgets/controls")
    assert "precomputed grid" in box.children[-1].value
    shared, cross = (ends[n] for n in sharing.ENDS)
    rows = [ends.seeds.index(s) for s in ARM_SEEDS]
    for a, caption in zip(sharing.ARMS, (html.unescape(c.value) for c in box.captions)):
        res = arms[a.name]
        cos = res.cosine[:, ::k]  # the measured steps, computed here from the raw record
        assert caption.startswith(f"<small>{a.label}: ")
        assert _number(r": accuracy ([\d.]+)", caption) == pytest.approx(mean_ci(100 * res.accuracy)[0], abs=0.05)
        assert _number(r"cos\(g_d, g_t\) > 0 on ([\d.]+)", caption) == pytest.approx(100 * (cos > 0).mean(), abs=0.05)
        assert _number(r"mean cos\(g_d, g_t\) = (-?[\d.]+)", caption) == pytest.approx(cos.mean(), abs=5e-5)
        assert f"of {cos.shape[1]} measured steps" in caption and f"{len(ARM_SEEDS)} seeds" in caption
        # the ends: the main run's students on the arms' seeds, on the same measured steps
        assert _number(r"\(shared init ([\d.]+)", caption) == pytest.approx(
            mean_ci(100 * shared.accuracy[rows])[0], abs=0.05)
        assert _number(r"measured steps \(shared init ([\d.]+)", caption) == pytest.approx(
            100 * (shared.cosine[rows, ::k] > 0).mean(), abs=0.05)
        assert _number(r"mean cos\(g_d, g_t\) = -?[\d.]+ \(shared init (-?[\d.]+)", caption) == pytest.approx(
            shared.cosine[rows, ::k].mean(), abs=5e-5)
        assert _number(r", cross-model (-?[\d.]+)\); \d+ seeds", caption) == pytest.approx(
            cross.cosine[rows, ::k].mean(), abs=5e-5)


def test_sharing_plots_draw_the_measured_steps(sharing_runs):
    from subliminal import sharing

    arms, ends = sharing_runs
    k, name = sharing.ALIGNMENT_EVERY, sharing.ARMS[4].name
    cos = arms[name].cosine[:, ::k]
    steps = np.arange(arms[name].cosine.shape[1])[::k]
    styles = {name: ("arm", "#009E73", "-"), **plots.END_STYLES}
    fig, ax = plots.figure()
    plots.plot_arm_alignment(steps, {name: cos}, styles, ax, window=1)
    line = [ln for ln in ax.get_lines() if ln.get_label() == "arm"][0]
    assert line.get_xdata().tolist() == steps.tolist()
    np.testing.assert_allclose(line.get_ydata(), cos.mean(axis=0))
    fig, ax = plots.figure()
    plots.plot_arm_accuracy(arms.curve_steps, {name: arms[name].curve_acc}, styles, ax)
    line = [ln for ln in ax.get_lines() if ln.get_label() == "arm"][0]
    np.testing.assert_allclose(line.get_ydata(), 100 * arms[name].curve_acc.mean(axis=0))


def test_sharing_explorer_live_and_refusals(sharing_runs):
    from subliminal import sharing

    arms, ends = sharing_runs
    names = [sharing.ARMS[1].name, sharing.ARMS[4].name]
    box = W.sharing_explorer(arms, ends, arms=names, labels={names[0]: "head only"}, static=False,
                             control="slider")
    assert box.static is False and not hasattr(box, "stack")
    assert isinstance(box.selector, ipywidgets.SelectionSlider)
    assert list(box.selector.options) == ["head only", sharing.ARMS[4].label]
    first, first_caption = box.image.value, box.caption.value
    assert first_caption.startswith("<small>head only:") and list(box.memo) == [names[0]]
    box.selector.index = 1
    assert _is_png(box.image.value) and box.image.value != first and box.caption.value != first_caption
    assert list(box.memo) == names
    with pytest.raises(ValueError, match="different configurations"):
        W.sharing_explorer(arms, run_experiment(TINY_SHARING.replace(hidden=8), seeds=1, conditions=["student_aux",
                           "cross_aux"], cache=False, progress=False), static=False)
    with pytest.raises(ValueError, match="seeds"):
        W.sharing_explorer(arms, ends.subset([0, 1], sharing.ENDS), static=False)
    with pytest.raises(ValueError, match="distinct conditions"):
        W.sharing_explorer(arms, ends, arms=["no_such_arm"], static=False)
    with pytest.raises(ValueError, match="not measured at steps 0, 3, 6"):
        W.sharing_explorer(arms, ends, every=3, static=False)
    with pytest.raises(ValueError, match="control"):
        W.sharing_explorer(arms, ends, control="toggle", static=False)
