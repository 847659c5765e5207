"""The statistics of `subliminal.analysis` on hand-made examples, and the figures of `subliminal.plots`.

Everything here runs on small synthetic result objects (no training), in a few seconds.
"""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from subliminal import analysis, plots  # noqa: E402
from subliminal.config import Config  # noqa: E402
from subliminal.results import ConditionResult  # noqa: E402
from fakes import fake_check, fake_result  # noqa: E402

STUDENTS = ("student_aux", "student_all", "cross_aux", "cross_all")


# --------------------------------------------------------------------------- analysis


def test_steps_per_epoch_matches_the_paper_and_fast_configurations():
    assert analysis.steps_per_epoch(Config()) == 59  # 60,000 / 1024, rounded up: 5 epochs = 295 steps
    assert analysis.steps_per_epoch(Config.fast()) == 47


def test_epoch_of_step_and_epoch_means():
    assert list(analysis.epoch_of_step(7, 3)) == [0, 0, 0, 1, 1, 1, 2]
    values = np.array([[1, 1, 2, 2, 3, 3], [0, 2, 0, 4, 0, 6]], dtype=float)
    np.testing.assert_allclose(analysis.epoch_means(values, 2), [[1, 2, 3], [1, 2, 3]])
    with pytest.raises(ValueError):
        analysis.epoch_of_step(5, 0)


def test_early_late_splits_at_the_given_step():
    values = np.array([[1.0, 3.0, 10.0, 20.0, 30.0]])
    split = analysis.early_late(values, 2)
    np.testing.assert_allclose(split.early, [2.0])
    np.testing.assert_allclose(split.late, [20.0])
    np.testing.assert_allclose(split.difference, [-18.0])
    for bad in (0, 5):
        with pytest.raises(ValueError):
            analysis.early_late(values, bad)


def test_moving_average_keeps_length_and_constants():
    np.testing.assert_allclose(analysis.moving_average(np.full(10, 3.0), 4), np.full(10, 3.0))
    np.testing.assert_allclose(analysis.moving_average([0.0, 3.0, 6.0], 3), [1.5, 3.0, 4.5])
    rows = np.arange(12.0).reshape(2, 6)
    assert analysis.moving_average(rows, 3).shape == (2, 6)
    np.testing.assert_allclose(analysis.moving_average(rows, 1), rows)


def test_mean_ci_is_the_t_interval():
    mean, half = analysis.mean_ci([1.0, 2.0, 3.0, 4.0])
    assert mean == 2.5
    # t quantile with 3 degrees of freedom (tables: 3.182), not the normal 1.96
    assert half == pytest.approx(3.182446 * np.std([1, 2, 3, 4], ddof=1) / 2, rel=1e-6)
    two = analysis.mean_ci([0.0, 1.0])[1]
    assert two == pytest.approx(12.7062 * np.std([0, 1], ddof=1) / np.sqrt(2), rel=1e-5)
    assert analysis.mean_ci([0.0, 1.0], confidence=0.9)[1] < two
    mean, half = analysis.mean_ci([5.0])
    assert mean == 5.0 and math.isnan(half)  # one seed: no interval
    with pytest.raises(ValueError):
        analysis.mean_ci([])


def test_correlation_on_hand_examples():
    perfect = analysis.correlation([1, 2, 3, 4, 5], [2, 4, 6, 8, 10])
    assert perfect.r == pytest.approx(1.0) and perfect.rho == pytest.approx(1.0)
    anti = analysis.correlation([1, 2, 3, 4, 5], [5, 4, 3, 2, 1])
    assert anti.r == pytest.approx(-1.0) and anti.rho == pytest.approx(-1.0)
    # r of (1,2,3,4) with (1,3,2,4) is 0.8; the Fisher interval contains it
    c = analysis.correlation([1, 2, 3, 4], [1, 3, 2, 4])
    assert c.r == pytest.approx(0.8)
    assert c.low < 0.8 < c.high
    assert c.high == pytest.approx(math.tanh(math.atanh(0.8) + 1.959964))  # Fisher z, 1/sqrt(n - 3)
    assert math.isnan(analysis.correlation([1, 2, 3, 4], [2, 2, 2, 2]).r)  # constant sample
    # monotone but not linear: Spearman 1, Pearson below 1
    m = analysis.correlation([1, 2, 3, 4, 5], [1, 2, 3, 4, 100])
    assert m.rho == pytest.approx(1.0) and m.r < 0.9
    assert math.isnan(analysis.correlation([1, 2, 3], [1, 2, 3]).low)  # too few pairs for an interval
    with pytest.raises(ValueError):
        analysis.correlation([1, 2], [1, 2, 3])


def test_loglog_slope():
    x = np.logspace(-3, 0, 5)
    assert analysis.loglog_slope(x, 3 * x) == pytest.approx(1.0)
    assert analysis.loglog_slope(x, -x ** 2) == pytest.approx(2.0)


def test_result_summaries():
    result = fake_result()
    table = analysis.summary_table(result, ["teacher", "student_aux"])
    assert list(table.index) == ["teacher", "student_aux"]
    assert table.loc["student_aux", "accuracy (%)"] == pytest.approx(100 * result["student_aux"].accuracy.mean())
    assert table.loc["student_aux", "seeds"] == 4
    assert table.loc["student_aux", "steps cos>0 (%)"] == pytest.approx(
        100 * (result["student_aux"].cosine > 0).mean())
    assert np.isnan(table.loc["teacher", "mean cos"])  # the teacher has no alignment record
    assert analysis.head_shift_max(result, ["student_aux", "cross_aux"]) == 0.0
    assert analysis.head_shift_max(result, ["student_all"]) == pytest.approx(0.02)

    stats = analysis.alignment_stats(result, "student_aux")
    cos = result["student_aux"].cosine
    np.testing.assert_allclose(stats.frac_positive, (cos > 0).mean(axis=1))
    np.testing.assert_allclose(stats.early, cos[:, :47].mean(axis=1))
    np.testing.assert_allclose(stats.late, cos[:, 47:].mean(axis=1))
    align = analysis.alignment_table(result)
    assert list(align.index) == list(STUDENTS)
    assert align.loc["student_all", "mean cosine"] > align.loc["cross_aux", "mean cosine"]
    assert analysis.seed_correlation(result).r > 0.9  # built so that alignment predicts accuracy
    with pytest.raises(ValueError):
        analysis.alignment_stats(result, "teacher")


def test_epoch_gains_sum_to_the_total_gain():
    result = fake_result()
    gains = analysis.epoch_gains(result, "student_aux")
    assert gains.shape == (4, 3)
    curves = result["student_aux"].curve_acc
    np.testing.assert_allclose(gains.sum(axis=1), curves[:, -1] - curves[:, 0])
    assert (gains[:, 0] > gains[:, -1]).all()  # the fake curve grows like sqrt(step): fastest early


# --------------------------------------------------------------------------- plots


def _labelled(fig: Figure) -> None:
    assert isinstance(fig, Figure)
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert axes
    for ax in axes:
        if ax.images:  # image panels need no axis labels
            continue
        assert ax.get_xlabel() or ax.get_ylabel(), "every data panel names what it shows"


@pytest.mark.parametrize("make", [
    lambda r: plots.plot_accuracy_by_seed(r, ["teacher", "student_aux", "cross_aux", "reference"]),
    lambda r: plots.plot_accuracy_curves(r, ["student_aux", "cross_aux"], per_epoch=47),
    lambda r: plots.plot_cosine_trace(r, ["student_aux", "cross_aux"], per_epoch=47),
    lambda r: plots.plot_cosine_histogram(r),
    lambda r: plots.plot_alignment_and_accuracy(r, per_epoch=47),
    lambda r: plots.plot_epoch_cosine(r),
    lambda r: plots.plot_critical_period(r),
    lambda r: plots.plot_seed_scatter(r),
])
def test_result_figures_have_labelled_axes_and_legends(make):
    fig = make(fake_result())
    _labelled(fig)
    for ax in fig.axes:
        if not ax.get_xlabel():  # allowed only for the upper panel of a shared-x pair: the panel below names x
            below = [other for other in ax.get_shared_x_axes().get_siblings(ax) if other is not ax]
            assert any(other.get_xlabel() for other in below), "a panel names its x axis or shares it with one that does"
        assert ax.get_ylabel() or any(t.get_text() for t in ax.get_yticklabels())  # or named categories
    assert (fig.legends or any(ax.get_legend() is not None for ax in fig.axes))


def test_figures_use_the_condition_palette():
    fig = plots.plot_accuracy_curves(fake_result(), ["student_aux", "cross_aux"])
    colors = {matplotlib.colors.to_hex(line.get_color()) for line in fig.axes[0].get_lines()}
    assert plots.CONDITION_COLORS["student_aux"].lower() in colors
    assert plots.CONDITION_COLORS["cross_aux"].lower() in colors
    assert set(plots.CONDITION_COLORS) >= {"teacher", "reference", *STUDENTS, "projection", "liminal"}


def test_single_step_figures():
    shared = [fake_check(), fake_check(inner=1e-4)]
    cross = [fake_check("cross"), fake_check("cross")]
    for fig in (plots.plot_single_step_seeds(shared, cross),
                plots.plot_epsilon_scaling([fake_check(teacher_lr=e, inner=e) for e in (1e-3, 1e-2)],
                                           [fake_check("cross", teacher_lr=e) for e in (1e-3, 1e-2)]),
                plots.plot_trait_loss_change(fake_check())):
        _labelled(fig)
        assert all(ax.get_xlabel() and ax.get_ylabel() for ax in fig.axes)


def test_digits_vs_noise_figure():
    rng = np.random.default_rng(0)
    fig = plots.plot_digits_vs_noise(rng.uniform(-1, 1, (6, 784)), list(range(6)), rng.uniform(-1, 1, (6, 784)),
                                     n=4)
    assert len(fig.axes) == 8
    assert all(len(ax.images) == 1 for ax in fig.axes)


# --------------------------------------------------------------------------- paired comparisons and controls


def test_paired_difference_and_verdicts():
    a, b = np.array([3.0, 4.0, 5.0, 6.0]), np.array([1.0, 2.1, 2.9, 4.0])
    c = analysis.paired_difference(a, b)
    d = a - b
    assert c.mean == pytest.approx(d.mean())
    assert c.half == pytest.approx(analysis.mean_ci(d)[1])
    assert c.verdict == "higher" and c.low > 0 and c.n == 4
    assert analysis.paired_difference(b, a).verdict == "lower"
    # the pairing matters: a shared seed effect cancels in the difference but not between the groups
    offset = np.array([0.0, 10.0, 20.0, 30.0])
    assert analysis.paired_difference(offset + 1.0 + [0, 0.1, -0.1, 0], offset).verdict == "higher"
    assert analysis.verdict(1.0, 2.0) == "not shown to differ"
    assert analysis.verdict(1.0, float("nan")) == "not shown to differ"
    with pytest.raises(ValueError, match="same seeds"):
        analysis.paired_difference([1, 2], [1, 2, 3])


def test_epoch_sums_and_accounting_on_a_linear_loss():
    per_epoch, n_epochs = 10, 3
    steps = per_epoch * n_epochs
    update = np.full((2, steps), -0.1)  # each applied update lowers the loss by 0.1 to first order
    loss = 5.0 + np.cumsum(np.concatenate([np.zeros((2, 1)), update[:, :-1]], axis=1), axis=1)  # before each step
    np.testing.assert_allclose(analysis.epoch_sums(update, per_epoch), -1.0)
    acc = analysis.first_order_accounting(ConditionResult(accuracy=np.zeros(2), trait_loss=loss,
                                                          trait_update=update), per_epoch, window=3)
    assert acc.predicted.shape == acc.measured.shape == (2, n_epochs)
    # a loss that changes exactly by the first-order amount: the two sides agree step for step
    np.testing.assert_allclose(acc.measured, acc.predicted, atol=1e-12)
    np.testing.assert_allclose(acc.predicted.sum(axis=1), loss[:, -2] - loss[:, 1], atol=1e-12)
    # a curvature that the first order misses shows up as a gap
    bent = loss + 0.01 * np.arange(steps) ** 2
    gap = analysis.first_order_accounting(ConditionResult(accuracy=np.zeros(2), trait_loss=bent, trait_update=update),
                                          per_epoch, window=3)
    assert np.all(gap.measured > gap.predicted)
    with pytest.raises(ValueError, match="window"):
        analysis.first_order_accounting(ConditionResult(accuracy=np.zeros(2), trait_loss=loss, trait_update=update),
                                        per_epoch, window=0)


def test_epoch_accuracy_and_epoch_difference():
    r = fake_result()
    at = analysis.epoch_accuracy(r, "student_aux")
    assert at.shape == (4, 4)  # start + 3 epochs
    np.testing.assert_allclose(at[:, -1], r["student_aux"].curve_acc[:, -1])
    np.testing.assert_allclose(np.diff(at, axis=1), analysis.epoch_gains(r, "student_aux"))
    diffs = analysis.epoch_difference(r, "student_all", "student_aux")
    assert len(diffs) == 3
    assert diffs[-1].mean == pytest.approx(100 * (r["student_all"].curve_acc[:, -1]
                                                  - r["student_aux"].curve_acc[:, -1]).mean())
    assert diffs[-1].verdict == "higher"


def test_dose_slope_per_seed():
    doses = [0.0, 0.5, 1.0]
    values = np.array([[50.0, 52.0, 48.0], [30.0, 33.0, 29.0], [10.0, 11.0, 9.0]])  # (doses, seeds)
    c = analysis.dose_slope(doses, values)
    assert c.mean == pytest.approx(np.mean([-40.0, -41.0, -39.0]))
    assert c.verdict == "lower"
    assert analysis.dose_slope(doses, values[::-1]).verdict == "higher"
    with pytest.raises(ValueError, match="doses"):
        analysis.dose_slope([0.0], values[:1])


def test_within_epoch_correlation_removes_the_common_trend():
    rng = np.random.default_rng(1)
    trend = np.array([1.0, 0.5, 0.2, 0.1])
    x = trend + rng.normal(0, 0.01, (8, 4))  # both fall over time, independently within an epoch
    y = 10 * trend + rng.normal(0, 0.1, (8, 4))
    assert analysis.correlation(x.ravel(), y.ravel()).r > 0.9  # confounded by time
    assert abs(analysis.within_epoch_correlation(x, y).r) < 0.5
    z = 10 * trend + 20 * (x - trend)  # a seed more aligned in an epoch gains more in it
    assert analysis.within_epoch_correlation(x, z).r > 0.99


def test_sweep_comparison():
    import pandas as pd

    frame = pd.DataFrame([{"parameter": "student_lr", "value": v, "condition": "student_aux", "seed": s,
                           "accuracy": 0.3 + v * 100 + 0.01 * s} for v in (1e-4, 1e-3) for s in range(3)])
    c = analysis.sweep_comparison(frame, "student_lr")
    assert c.mean == pytest.approx(100 * (1e-3 - 1e-4) * 100) and c.verdict == "higher"
    with pytest.raises(ValueError, match="no rows"):
        analysis.sweep_comparison(frame, "n_aux")


def test_control_figures():
    r = fake_result()
    for name in ("student_aux", "cross_aux"):
        r[name].head_restored_accuracy = r[name].accuracy.copy()
    figs = [plots.plot_epoch_comparisons({"liminal": analysis.epoch_difference(r, "student_all", "student_aux")},
                                         ylabel="difference"),
            plots.plot_first_order_accounting({"student_aux": analysis.Accounting(
                predicted=-np.ones((3, 2)), measured=-np.ones((3, 2)), window=3)})]
    for fig in figs:
        _labelled(fig)
    assert figs[0].legends


def test_cosine_trace_of_a_run_measured_every_kth_step_draws_its_measured_steps():
    full = fake_result()
    sparse = full.on_alignment_steps(5)
    fig = plots.plot_cosine_trace(sparse, ["student_aux"], window=15, per_epoch=47)
    thin, thick = [line for line in fig.axes[0].get_lines() if len(line.get_xdata()) > 2][:2]
    measured = np.arange(0, full["student_aux"].cosine.shape[1], 5)
    np.testing.assert_array_equal(thin.get_xdata(), measured)
    np.testing.assert_allclose(thin.get_ydata(), full["student_aux"].cosine[:, ::5].mean(axis=0))
    assert not np.isnan(thick.get_ydata()).any()
    assert "15-step average" in thick.get_label()  # 3 measured points, 5 steps apart
    # every 10th step: 15 steps round to 2 points, made 3 so that the average stays centred on its step
    fig = plots.plot_cosine_trace(full.on_alignment_steps(10), ["student_aux"], window=15, per_epoch=47)
    assert any("30-step average" in line.get_label() for line in fig.axes[0].get_lines())
