"""Per-seed summaries of a condition's logs (subliminal.results)."""

import numpy as np
import pytest

from subliminal.config import Config
from subliminal.results import FINAL_LOSS_FRACTION, ConditionResult, ExperimentResult, format_table


@pytest.mark.parametrize("steps, n", [(3, 1), (20, 2), (295, 30)])  # at least one step
def test_initial_and_final_loss_average_the_first_and_last_tenth(steps, n):
    assert FINAL_LOSS_FRACTION == 0.1  # the counts n above are a tenth of the steps
    loss = np.arange(2 * steps, dtype=float).reshape(2, steps) ** 2
    res = ConditionResult(accuracy=np.zeros(2), loss=loss)
    np.testing.assert_allclose(res.initial_loss, loss[:, :n].mean(axis=1))
    np.testing.assert_allclose(res.final_loss, loss[:, steps - n:].mean(axis=1))
    assert (res.initial_loss < res.final_loss).all()  # this made-up loss rises


def test_a_result_without_a_loss_has_neither():
    res = ConditionResult(accuracy=np.zeros(2))
    assert res.initial_loss is None and res.final_loss is None


@pytest.mark.parametrize("config, named", [
    (Config(), "the paper's configuration"),
    (Config(precision="bf16"), "the paper's configuration"),
    (Config.fast(), "the fast configuration (--fast or SUBLIMINAL_FAST=1)"),
    (Config(n_aux=30), "a custom configuration"),
])
def test_the_table_names_the_configuration_that_ran(config, named):
    result = ExperimentResult(config=config, seeds=[0, 1], conditions={
        "teacher": ConditionResult(accuracy=np.array([0.9, 0.92]))}, curve_steps=np.zeros(0, dtype=int))
    first = format_table(result).splitlines()[0]
    assert first.startswith(f"Subliminal learning in MNIST, {named}: 2 seed(s), m = {config.n_aux} ")
    assert f"{config.precision} matrix products" in first
