"""The single-step theorem, checked numerically at the shared initialisation."""

import numpy as np
import pytest
import torch

from subliminal import models
from subliminal.config import Config
from subliminal.rng import generator
from subliminal.theory import gauss_newton_product, single_step_check

SMALL = Config(hidden=64, trait_batch_size=256, student_batch_size=256)


def test_gauss_newton_product_matches_explicit_jacobian():
    """J^T H J v computed with jvp/vjp equals the explicit matrix product on a tiny network."""
    params = [p.double() for p in models.init_params([generator(0, "init", 0)], 4, 12)]
    params[1] = params[1] + 0.1  # non-zero biases, so every parameter matters
    x = torch.rand(3, 784, dtype=torch.float64) * 2 - 1
    v = [torch.randn_like(p) for p in params]
    got = torch.cat([g.flatten() for g in gauss_newton_product(params, x, v, outputs="aux")])

    flat = torch.cat([p.flatten() for p in params])
    shapes = [p.shape for p in params]

    def aux_logits(theta):
        parts, i = [], 0
        for s in shapes:
            n = int(np.prod(s))
            parts.append(theta[i:i + n].view(s))
            i += n
        return models.forward(parts, x)[0, :, 10:]  # (B, 2)

    J = torch.autograd.functional.jacobian(aux_logits, flat)  # (B, 2, P)
    p = torch.softmax(aux_logits(flat), -1)
    H = torch.diag_embed(p) - p[:, :, None] * p[:, None, :]
    G = torch.einsum("bkp,bkl,blq->pq", J, H, J) / len(x)
    want = G @ torch.cat([t.flatten() for t in v])
    assert torch.allclose(got, want, rtol=1e-9, atol=1e-12)


def test_shared_init_student_step_is_aligned_with_teacher_step():
    res = single_step_check(SMALL, seed=0, teacher_lr=1e-3, student_lrs=[1.0, 10.0])
    assert res.inner > 0
    assert res.gn_cos > 0.999 and res.gn_rel_error < 0.01  # first-order prediction holds
    # a small student step lowers the teacher's trait loss, as predicted to first order
    assert res.actual_change[0] < 0
    assert res.actual_change[0] == pytest.approx(res.predicted_change[0], rel=0.05)


def test_student_step_scales_linearly_with_teacher_step():
    small = single_step_check(SMALL, seed=1, teacher_lr=1e-3, student_lrs=[1.0])
    large = single_step_check(SMALL, seed=1, teacher_lr=1e-2, student_lrs=[1.0])
    assert large.inner / small.inner == pytest.approx(10.0, rel=0.02)


def test_cross_model_step_does_not_follow_the_teacher():
    res = single_step_check(SMALL, seed=0, teacher_lr=1e-3, init="cross", student_lrs=[1.0])
    assert res.gn_cos < 0.9  # the Gauss-Newton prediction from the teacher's init does not apply


def test_bad_arguments():
    with pytest.raises(ValueError, match="init must be"):
        single_step_check(SMALL, init="other")
    with pytest.raises(ValueError, match="teacher_lr must be positive"):
        single_step_check(SMALL, teacher_lr=0.0)
