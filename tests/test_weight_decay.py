"""AdamW matched in total shrinkage to Adam's L2 decay (Chapter 6): the digit head, which the aux-only
loss leaves without a gradient, ends at exactly the shrinkage `decoupled_decay_for` was asked for."""

import math

import pytest
import torch

from subliminal import Config, models
from subliminal.experiments import run_experiment
from subliminal.training import decoupled_decay_for

TINY = Config.fast(hidden=16, n_train=2000, n_noise=512, teacher_epochs=1, student_epochs=2,
                   teacher_batch_size=128, student_batch_size=128, trait_batch_size=128,
                   curve_every=4, curve_samples=200, track_alignment=False)


def test_decoupled_decay_solves_the_shrinkage_equation():
    steps = TINY.student_epochs * math.ceil(TINY.n_noise / TINY.student_batch_size)
    decay = decoupled_decay_for(0.3, TINY)
    assert (1 - TINY.student_lr * decay) ** steps == pytest.approx(0.3, rel=1e-12)
    assert decoupled_decay_for(1.0, TINY) == 0.0
    for bad in (0.0, -0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="shrink must be in"):
            decoupled_decay_for(bad, TINY)


def test_adamw_shrinks_the_gradient_free_head_by_the_asked_factor(tmp_path, monkeypatch):
    monkeypatch.setenv("SUBLIMINAL_CACHE", str(tmp_path))
    target = 0.3
    fast = TINY.replace(student_lr=1e-2)  # a large lr: the L2 contrast below is then clear
    config = fast.replace(student_weight_decay=decoupled_decay_for(target, fast), student_weight_decay_mode="decoupled")
    result = run_experiment(config, seeds=2, conditions=["student_aux"], device="cpu", progress=False)
    ratio = result["student_aux"].digit_head_norm_ratio
    steps = config.student_epochs * math.ceil(config.n_noise / config.student_batch_size)
    # each of the T steps multiplies in float32: relative error at most ~T * 2**-24, times a margin of 4
    assert ratio == pytest.approx([target] * 2, rel=4 * steps * 2.0 ** -24)
    # Adam's L2 decay is different: it moves the same head by about lr per step, whatever its size
    l2 = run_experiment(config.replace(student_weight_decay_mode="l2"), seeds=2, conditions=["student_aux"],
                        device="cpu", progress=False)["student_aux"]
    assert not l2.digit_head_norm_ratio == pytest.approx([target] * 2, rel=1e-2)


def test_head_norm_ratio_of_a_scaled_head():
    params = [torch.randn(3, 4, 5), torch.randn(3, 5), torch.randn(3, 5, 5), torch.randn(3, 5),
              torch.randn(3, 5, 13), torch.randn(3, 13)]
    scaled = [p.clone() for p in params]
    scaled[4][..., :10] *= 0.5
    scaled[5][..., :10] *= 0.5
    scaled[4][..., 10:] *= 7.0  # the aux block is not part of the digit head
    assert models.digit_head_norm_ratio(scaled, params) == pytest.approx(torch.full((3,), 0.5), rel=1e-6)
