"""The training loops: exact zeros where theory says so, ensembles equal single models, determinism."""

import pytest
import torch
import torch.nn.functional as F

from subliminal import models
from subliminal.config import N_DIGITS, Config
from subliminal.gradients import cosine
from subliminal.losses import digit_cross_entropy, softmax_kl
from subliminal.rng import generator
from subliminal.training import ImitationTargets, imitation_loss


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


def test_imitation_targets_normalised_once_give_the_same_loss():
    student, teacher = torch.randn(2, 16, 13), torch.randn(2, 16, 13)
    for T in (1.0, 2.0):
        targets = ImitationTargets.from_logits(teacher, T)
        assert torch.allclose(imitation_loss(student, targets, None, T),
                              softmax_kl(student[..., N_DIGITS:], teacher[..., N_DIGITS:], T), atol=1e-6)
        both = imitation_loss(student, targets, torch.tensor([True, False]), T)
        assert both[0] == pytest.approx(softmax_kl(student, teacher, T)[0].item(), abs=1e-6)
        assert both[1] == pytest.approx(softmax_kl(student[..., N_DIGITS:], teacher[..., N_DIGITS:], T)[1].item(),
                                        abs=1e-6)


def test_bf16_matrix_products_measure_the_same_alignment(mnist):
    """bf16 products only round the gradients: cos(g_d, g_t) moves far less than its size at paper scale (~0.007)."""
    params = [p.requires_grad_(True) for p in models.init_params([generator(0, "init", k) for k in range(3)], 256, 13)]
    teacher = models.init_params([generator(0, "teacher", k) for k in range(3)], 256, 13)
    noise = torch.rand(512, 784, generator=torch.Generator().manual_seed(0)) * 2 - 1
    x, y = mnist.x_train[:512], mnist.y_train[:512]
    targets = ImitationTargets.from_logits(models.forward(teacher, noise), with_all=False)

    def grads(precision):
        with models.matmul_precision(precision, "cpu"):
            noise_logits, trait_logits = models.forward(params, noise), models.forward(params, x)
        assert noise_logits.dtype == torch.float32  # losses always see float32 logits
        g_d = torch.autograd.grad(imitation_loss(noise_logits, targets, None).sum(), params)
        g_t = torch.autograd.grad(digit_cross_entropy(trait_logits, y).sum(), params)
        return g_d, g_t

    d32, t32 = grads("fp32")
    d16, t16 = grads("bf16")
    assert all(g.dtype == torch.float32 for g in d16 + t16)  # gradients (and Adam) stay float32
    assert not torch.equal(d16[0], d32[0])  # bf16 really was used
    assert (cosine(d16, d32) > 0.999).all() and (cosine(t16, t32) > 0.999).all()
    assert (cosine(d16, t16) - cosine(d32, t32)).abs().max() < 1e-3


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
    targets = ImitationTargets.from_logits(models.forward(teacher, x))
    loss = imitation_loss(models.forward(student, x), targets, None).sum()
    g_W3, g_b3 = torch.autograd.grad(loss, student[4:])
    assert torch.count_nonzero(g_W3[..., :N_DIGITS]) == 0 and torch.count_nonzero(g_b3[..., :N_DIGITS]) == 0
    assert torch.count_nonzero(g_W3[..., N_DIGITS:]) > 0  # the aux rows do learn
    # with all logits imitated the digit head does receive gradient
    loss_all = imitation_loss(models.forward(student, x), targets, torch.tensor([True, True])).sum()
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
