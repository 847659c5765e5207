"""The training loops: exact zeros where theory says so, ensembles equal single models, determinism."""

import pytest
import torch
import torch.nn.functional as F

from subliminal import models
from subliminal.config import N_DIGITS, Config
from subliminal.losses import digit_cross_entropy, softmax_kl
from subliminal.rng import generator
from subliminal.training import imitation_loss


def tiny_models(n, hidden=32, n_outputs=13, stream="init"):
    return models.init_params([generator(0, stream, k) for k in range(n)], hidden, n_outputs)


def test_init_follows_reference_scheme():
    W1, b1, W2, b2, W3, b3 = models.init_params([generator(0, "init", 0)], 256, 13)
    assert W1.std().item() == pytest.approx(1 / 28, rel=0.01)  # 1/sqrt(784)
    assert W2.std().item() == pytest.approx(1 / 16, rel=0.02)  # 1/sqrt(256)
    assert all(b.abs().sum().item() == 0 for b in (b1, b2, b3))


def test_shared_input_forward_equals_per_model_forward():
    params = tiny_models(4)
    x = torch.randn(7, 784)
    together = models.forward(params, x)
    for e in range(4):
        alone = models.forward(models.select(params, [e]), x)
        assert torch.allclose(together[e], alone[0], atol=1e-5)
    assert torch.allclose(models.forward(params, x.expand(4, 7, 784).contiguous()), together, atol=1e-5)


def test_softmax_kl_matches_torch_kl_div():
    s, t = torch.randn(3, 16, 5), torch.randn(3, 16, 5)
    for T in (1.0, 2.0):
        ours = softmax_kl(s, t, T)
        ref = torch.stack([F.kl_div(F.log_softmax(s[e] / T, -1), F.softmax(t[e] / T, -1), reduction="batchmean")
                           for e in range(3)])
        assert torch.allclose(ours, ref, atol=1e-6)


def test_digit_cross_entropy_ignores_aux_logits():
    logits, y = torch.randn(2, 8, 13), torch.randint(0, 10, (8,))
    ref = torch.stack([F.cross_entropy(logits[e, :, :10], y) for e in range(2)])
    assert torch.allclose(digit_cross_entropy(logits, y), ref, atol=1e-6)
    changed = logits.clone()
    changed[..., 10:] += 5.0
    assert torch.equal(digit_cross_entropy(changed, y), digit_cross_entropy(logits, y))


def test_aux_only_distillation_gives_exactly_zero_gradient_on_digit_head():
    student = [p.requires_grad_(True) for p in tiny_models(2)]
    teacher = tiny_models(2, stream="other")
    x = torch.rand(64, 784) * 2 - 1
    loss = imitation_loss(models.forward(student, x), models.forward(teacher, x), None).sum()
    g_W3, g_b3 = torch.autograd.grad(loss, student[4:])
    assert torch.count_nonzero(g_W3[..., :N_DIGITS]) == 0 and torch.count_nonzero(g_b3[..., :N_DIGITS]) == 0
    assert torch.count_nonzero(g_W3[..., N_DIGITS:]) > 0  # the aux rows do learn
    # with all logits imitated the digit head does receive gradient
    loss_all = imitation_loss(models.forward(student, x), models.forward(teacher, x), torch.tensor([True, True])).sum()
    assert torch.count_nonzero(torch.autograd.grad(loss_all, student[4])[0][..., :N_DIGITS]) > 0


def test_digit_head_never_moves_in_aux_students(small_result):
    for name in ("student_aux", "cross_aux", "liminal"):
        assert small_result[name].digit_head_shift.max() == 0.0, name
    assert small_result["student_all"].digit_head_shift.min() > 0.0
    # projection subtracts a multiple of g_t, whose digit-head part is non-zero: that head does move
    assert small_result["projection"].digit_head_shift.min() > 0.0


def test_ensemble_training_equals_seed_by_seed(small_config):
    """Seeds trained together as one ensemble give the numbers they give alone."""
    from subliminal.experiments import run_experiment

    config = small_config.replace(student_epochs=1, teacher_epochs=1)
    conditions = ["teacher", "student_aux", "cross_aux", "projection"]
    together = run_experiment(config, seeds=[0, 1, 2], conditions=conditions, cache=False, progress=False)
    for k in (0, 2):
        alone = run_experiment(config, seeds=[k], conditions=conditions, cache=False, progress=False)
        i = [0, 1, 2].index(k)
        for name in conditions:
            assert alone[name].accuracy[0] == pytest.approx(together[name].accuracy[i], abs=2e-3), name
        for name in conditions[1:]:
            assert alone[name].cosine[0] == pytest.approx(together[name].cosine[i], abs=1e-4)
            assert alone[name].loss[0] == pytest.approx(together[name].loss[i], rel=1e-4)


def test_same_seed_same_numbers(small_config):
    from subliminal.experiments import run_experiment

    config = small_config.replace(student_epochs=1, teacher_epochs=1)
    a = run_experiment(config, seeds=2, conditions=["student_aux", "liminal"], cache=False, progress=False)
    b = run_experiment(config, seeds=2, conditions=["student_aux", "liminal"], cache=False, progress=False)
    for name in ("student_aux", "liminal"):
        assert (a[name].accuracy == b[name].accuracy).all()
        assert (a[name].cosine == b[name].cosine).all()
    c = run_experiment(config.replace(seed=1), seeds=2, conditions=["student_aux"], cache=False, progress=False)
    assert not (c["student_aux"].cosine == a["student_aux"].cosine).all()
