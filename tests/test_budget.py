"""The memory/time estimate that guards large runs follows from the configuration."""

from __future__ import annotations

import pytest

from subliminal import budget
from subliminal.config import Config


def test_estimate_matches_the_measured_facts():
    """README, Speed: one paper-scale seed took 35-45 s on a 2-core CPU in fp32 (5.06 TFLOP then; 4.97
    now, with accuracy curves every 10 steps and one pass over the test set for the final measures)."""
    one = budget.estimate(Config(), 1)
    assert one.flops / 1e12 == pytest.approx(4.97, rel=0.01)
    assert 35 <= one.seconds <= 45
    assert budget.estimate(Config(precision="bf16"), 1).seconds < one.seconds


def test_estimate_counts_what_the_run_allocates():
    import torch

    from subliminal import models

    params = models.init_params([torch.Generator().manual_seed(0)], 256, 13, "cpu")
    assert budget.params_per_model(Config()) == sum(p[0].numel() for p in params)
    steps = len(__import__("subliminal.data", fromlist=["x"]).batch_indices(
        12_000, 256, 3, torch.Generator().manual_seed(0)))
    assert budget.distill_steps(Config.fast()) == steps
    # memory and time grow linearly with the seeds; teacher targets are E x n_noise x (10+m) floats
    e1, e2, e3 = (budget.estimate(Config(), n) for n in (1, 2, 3))
    assert e3.memory_bytes - e2.memory_bytes == pytest.approx(e2.memory_bytes - e1.memory_bytes, abs=2)
    assert e2.memory_bytes - e1.memory_bytes > 0
    assert e3.flops == pytest.approx(3 * e1.flops)
    # what one more seed must hold at least, counted from the models themselves (not from budget's
    # formula): every one of its models (1 teacher, 6 students) with its gradient and two Adam
    # moments; each student's imitation target (the teacher's outputs on every noise image); each
    # student's logits on the 10,000 test images when it is evaluated
    config = Config()
    weights = sum(p[0].numel() for p in params) * 4  # bytes of one model's float32 weights
    targets = config.n_noise * config.n_outputs * 4
    per_seed_floor = (1 + 6) * 4 * weights + 6 * targets + 6 * 10_000 * config.n_outputs * 4
    assert e2.memory_bytes - e1.memory_bytes >= per_seed_floor
    # and the data every run holds once: the MNIST images (uint8) and the noise images (float32)
    assert e1.memory_bytes - (e2.memory_bytes - e1.memory_bytes) >= 70_000 * 784 + config.n_noise * 784 * 4
    alone = budget.estimate(Config(data_per_seed=True), 10)  # seeds run one at a time: one seed's peak
    assert e1.memory_bytes < alone.memory_bytes < budget.estimate(Config(), 2).memory_bytes
    assert alone.flops == pytest.approx(10 * e1.flops)
    only_teacher = budget.estimate(Config(), 1, ["teacher"])
    assert "teacher_targets" not in only_teacher.parts and only_teacher.flops < e1.flops / 10


def test_check_budget_refuses_with_the_estimate_and_the_override():
    big = budget.estimate(Config(), 100_000)
    with pytest.raises(budget.BudgetError) as info:
        budget.check_budget(big, available_memory=16 * 2**30)
    assert str(info.value) == (f"this run needs {big.describe()}, but this machine has 16 GiB of memory available; "
                               "use fewer seeds or a smaller configuration, or pass allow_large=True to run it anyway")
    assert budget.check_budget(big, available_memory=16 * 2**30, allow_large=True) is big
    small = budget.estimate(Config.fast(), 1)
    assert budget.check_budget(small, available_memory=16 * 2**30) is small
    assert budget.machine_memory() is None or budget.machine_memory() > 0


def test_library_refuses_a_run_larger_than_the_machine(monkeypatch):
    import subliminal.experiments as experiments

    monkeypatch.setattr(budget, "machine_memory", lambda: 16 * 2**30)
    with pytest.raises(budget.BudgetError, match="allow_large=True"):  # refused before any training
        experiments.run_experiment(Config(), seeds=100_000, cache=False, progress=False)
