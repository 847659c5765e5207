"""The computed verdicts: paired tests, Holm's adjustment, and Chapter 4's decision rule on
hand-made per-seed values for which the answer is known."""

import numpy as np
import pytest
from scipy import stats

from subliminal.decisions import holm, paired, removal_or_breakage


def test_paired_matches_scipy_and_the_t_interval():
    a, b = np.array([52.0, 47.0, 60.0, 55.0, 49.0]), np.array([10.0, 9.0, 12.0, 11.0, 8.0])
    c = paired("a - b", a, b)
    assert c.p == pytest.approx(stats.ttest_rel(a, b).pvalue)
    d = a - b
    assert c.half == pytest.approx(stats.t.ppf(0.975, 4) * d.std(ddof=1) / np.sqrt(5))
    assert c.verdict() == "higher" and paired("b - a", b, a).verdict() == "lower"


def test_holm_by_hand():
    comps = [paired(str(i), np.array([0.0, 0.0]), np.array([0.0, 0.0])) for i in range(4)]
    comps = [type(c)(c.name, 1.0, 0.5, 5, p) for c, p in zip(comps, [0.01, 0.04, 0.03, 0.005])]
    # sorted p: 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1 = 0.02, 0.03, 0.06, 0.04 -> monotone 0.06 for the last
    adjusted = [c.p_adjusted for c in holm(comps)]
    assert adjusted == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert [c.verdict() for c in holm(comps)] == ["higher", "not shown to differ", "not shown to differ", "higher"]


def _values(arm_acc, placebo_acc, arm_drive=-0.01, plain_acc=None, arm_top=None):
    rng = np.random.default_rng(0)
    ref = 10 + rng.normal(0, 1.0, 6)
    def cond(acc, drive, top):
        return {"accuracy": (acc + rng.normal(0, 1.0, 6)) / 100, "top_class_share": np.full(6, top) / 100
                + rng.normal(0, 0.01, 6), "balanced_accuracy": (acc + rng.normal(0, 1.0, 6)) / 100,
                "drive": drive + rng.normal(0, 0.01, 6)}
    values = {"reference": cond(10, 0.0, 80), "plain": cond(plain_acc or 50, -0.8, 30),
              "arm": cond(arm_acc, arm_drive, arm_top or 80),
              **{f"placebo{i}": cond(placebo_acc, -0.7, 30) for i in range(3)}}
    values["reference"]["accuracy"] = ref / 100
    values["arm"]["accuracy"] = ref / 100 + (arm_acc - 10) / 100 + rng.normal(0, 0.002, 6)
    values["arm"]["top_class_share"] = values["reference"]["top_class_share"] + (arm_top or 80) / 100 - 0.8 \
        + rng.normal(0, 0.002, 6)
    return values


PLACEBOS = ["placebo0", "placebo1", "placebo2"]


def test_removal_when_drive_goes_placebos_transfer_and_the_init_is_kept():
    d = removal_or_breakage("arm", _values(10, 48), PLACEBOS)
    assert d.verdict == "removal", d.criteria


def test_breakage_when_the_placebos_do_what_the_projection_does():
    d = removal_or_breakage("arm", _values(10, 10.5), PLACEBOS)
    assert d.verdict == "breakage"


def test_breakage_when_the_arm_is_pushed_below_the_untrained_network():
    d = removal_or_breakage("arm", _values(4, 48), PLACEBOS)
    assert d.verdict == "breakage"


def test_neither_when_the_drive_is_not_removed():
    d = removal_or_breakage("arm", _values(10, 48, arm_drive=-0.6), PLACEBOS)
    assert d.verdict == "neither" and d.failed() == ["drive removed"]


def test_uninformative_without_transfer_in_the_plain_student():
    d = removal_or_breakage("arm", _values(10, 10.0, plain_acc=10.0), PLACEBOS)
    assert d.verdict == "uninformative"
