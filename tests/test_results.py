"""Per-seed summaries of a condition's logs (subliminal.results)."""

import numpy as np
import pytest

from subliminal.results import FINAL_LOSS_FRACTION, ConditionResult


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
