"""Parameter sweeps: tidy frames of the right shape, summaries, and clear errors for bad arguments."""

import numpy as np
import pandas as pd
import pytest

import subliminal.sweeps as sweeps_module
from subliminal.config import Config
from subliminal.sweeps import (TRANSFER_CONDITIONS, SweepError, best_value, run_sweeps, summarize, sweep,
                               sweep_effect, transfer_table)

BASE_COLUMNS = ["parameter", "value", "condition", "seed", "accuracy", "final_loss", "digit_head_shift"]
ALIGNMENT_COLUMNS = ["frac_positive", "mean_cosine", "frac_projected"]


@pytest.fixture(scope="module")
def tiny() -> Config:
    """A configuration that trains in well under a second: tiny network, data and epochs."""
    return Config.fast(hidden=32, n_train=1000, n_noise=1024, teacher_epochs=1, student_epochs=1,
                       teacher_batch_size=256, student_batch_size=256, trait_batch_size=256,
                       track_alignment=False, curve_every=2, curve_samples=100)


@pytest.fixture(scope="module")
def lr_frame(tiny) -> pd.DataFrame:
    return sweep("student_lr", [1e-3, 1e-4], tiny, seeds=2, progress=False)


def test_sweep_returns_tidy_frame(lr_frame):
    assert list(lr_frame.columns) == BASE_COLUMNS  # no alignment columns without tracking
    assert len(lr_frame) == 2 * len(TRANSFER_CONDITIONS) * 2  # values x conditions x seeds
    assert (lr_frame["parameter"] == "student_lr").all()
    assert list(dict.fromkeys(lr_frame["value"])) == [1e-3, 1e-4]  # the order of the sweep is kept
    assert set(lr_frame["condition"]) == set(TRANSFER_CONDITIONS)
    assert sorted(set(lr_frame["seed"])) == [0, 1]
    assert lr_frame["accuracy"].between(0, 1).all()
    assert (lr_frame["final_loss"] >= 0).all()
    assert (lr_frame["digit_head_shift"] == 0).all()  # aux-only students never move their digit head


def test_sweep_with_alignment_has_projection_columns(tiny):
    frame = sweep("projection_tau", [0.0, 1.0], tiny.replace(track_alignment=True), seeds=1,
                  conditions=["projection", "teacher"], progress=False)
    assert len(frame) == 2 * 2
    assert set(ALIGNMENT_COLUMNS) <= set(frame.columns)
    proj = frame[frame["condition"] == "projection"].set_index("value")
    assert proj.loc[1.0, "frac_projected"] == 0.0  # cos > 1 never happens
    assert proj.loc[0.0, "frac_projected"] > 0.0
    teacher = frame[frame["condition"] == "teacher"]
    assert teacher["final_loss"].isna().all()  # the teacher has accuracy only


def test_summaries(lr_frame):
    table = summarize(lr_frame)
    assert len(table) == 2 * len(TRANSFER_CONDITIONS)
    assert {"parameter", "value", "condition", "accuracy", "ci95", "n_seeds", "final_loss"} <= set(table.columns)
    assert (table["n_seeds"] == 2).all() and (table["ci95"] >= 0).all()
    mean = lr_frame.groupby(["value", "condition"])["accuracy"].mean()
    for _, row in table.iterrows():
        assert row["accuracy"] == pytest.approx(mean[(row["value"], row["condition"])])

    wide = transfer_table(lr_frame)
    assert list(wide.columns) == ["student_aux (%)", "cross_aux (%)", "transfer (points)"]
    assert np.allclose(wide["transfer (points)"], wide["student_aux (%)"] - wide["cross_aux (%)"])

    shared = table[table["condition"] == "student_aux"].set_index("value")["accuracy"]
    assert sweep_effect(lr_frame) == pytest.approx(100 * (shared[1e-3] - shared[1e-4]))
    assert best_value(lr_frame) == shared.idxmax()


def test_run_sweeps_concatenates(tiny, lr_frame):
    frame = run_sweeps({"student_lr": [1e-3, 1e-4], "n_aux": [3, 5]}, tiny, seeds=2, conditions=["student_aux"])
    assert list(dict.fromkeys(frame["parameter"])) == ["student_lr", "n_aux"]
    assert len(frame) == 2 * 2 * 2
    # the memoised runs agree with the earlier sweep over the same configurations
    again = frame[frame["parameter"] == "student_lr"].reset_index(drop=True)
    before = lr_frame[lr_frame["condition"] == "student_aux"].reset_index(drop=True)
    assert np.allclose(again["accuracy"], before["accuracy"])
    with pytest.raises(SweepError, match="several sweeps"):
        sweep_effect(frame)
    assert isinstance(sweep_effect(frame, "n_aux"), float)


@pytest.mark.parametrize("parameter, values, match", [
    ("student_learning_rate", [1e-3], "not a Config setting"),
    ("seed", [0, 1], "seeds"),
    ("student_lr", [], "must not be empty"),
    ("student_lr", [1e-3, 1e-3], "distinct"),
    ("student_lr", "1e-3", "list of settings"),
    ("student_lr", [1e-3, -1.0], "bad value -1.0 for 'student_lr'"),
    ("n_aux", [0], "n_aux must be at least 1"),
])
def test_bad_sweep_arguments(tiny, parameter, values, match):
    with pytest.raises(SweepError, match=match):
        sweep(parameter, values, tiny, seeds=1)


def test_bad_conditions_and_frames(tiny):
    with pytest.raises(SweepError, match="unknown condition"):
        sweep("student_lr", [1e-3], tiny, conditions=["student"])
    with pytest.raises(SweepError, match="non-empty mapping"):
        run_sweeps({}, tiny)
    with pytest.raises(SweepError, match="missing column"):
        summarize(pd.DataFrame({"value": [1]}))
    assert issubclass(SweepError, ValueError)


def test_arguments_are_checked_before_training(tiny, monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("run_experiment must not be called")

    monkeypatch.setattr(sweeps_module, "run_experiment", fail)
    with pytest.raises(SweepError, match="teacher_epochs"):
        run_sweeps({"student_lr": [1e-3], "teacher_epochs": [-1]}, tiny)
