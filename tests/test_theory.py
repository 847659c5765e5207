"""The single-step theorem, checked numerically at the shared initialisation."""

import numpy as np
import pytest
import torch

from subliminal import models
from subliminal.config import Config
from subliminal.rng import generator
from subliminal.theory import gauss_newton_product, single_step_check, single_step_table
from fakes import fake_check

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


def test_toy_linear_net_shows_the_theorem():
    from subliminal.theory import toy_linear_theorem

    small, large = toy_linear_theorem(eps=1e-4), toy_linear_theorem(eps=1e-2)
    assert small.G.shape == (10, 10)
    np.testing.assert_allclose(small.G, small.G.T, atol=1e-15)
    assert small.eigenvalues.min() > -1e-12, "G is positive semi-definite"
    # the student's loss does not read output 0: the rows/columns of W2[0, :] in G are zero
    np.testing.assert_array_equal(small.G[4:6], 0.0)
    # the teacher's squared error on output 0 leaves the auxiliary rows of W2 alone
    np.testing.assert_array_equal(small.teacher_step[6:], 0.0)
    assert small.inner > 0 and small.leading_term > 0
    # first order: the relative error of eps*G*dtheta_T shrinks about linearly with eps
    err = lambda t: np.linalg.norm(t.student_step - t.predicted) / np.linalg.norm(t.student_step)  # noqa: E731
    assert err(small) < 1e-3
    assert 30 < err(large) / err(small) < 300
    with pytest.raises(ValueError, match="eps"):
        toy_linear_theorem(eps=0.0)


def test_displacement_cosines_of_disjoint_last_layer_rows_are_zero(tmp_path, monkeypatch):
    from subliminal.theory import displacement_alignment

    monkeypatch.setenv("SUBLIMINAL_CACHE", str(tmp_path))
    tiny = Config(hidden=32, n_train=512, n_noise=512, teacher_epochs=1, student_epochs=1, teacher_batch_size=256,
                  student_batch_size=256, trait_batch_size=256)
    d = displacement_alignment(tiny, seeds=2, device="cpu", cache=False)
    assert d.layers[-1] == "all" and d.shared.shape == d.shuffled.shape == d.cross.shape == (2, 7)
    # teacher (digit rows) and aux-only student (aux rows) move disjoint rows of W3 and b3
    np.testing.assert_array_equal(d.shared[:, 4:6], 0.0)
    assert np.all(d.shared[:, 0] != d.cross[:, 0])


def test_single_step_readings():
    """The first-order ratio, the rate where it breaks down, and the table, on a made-up check whose
    measured change is the prediction below alpha = 300 and 0.3 of it above."""
    check = fake_check()
    assert check.linear_ratio() == pytest.approx(1.0)
    assert check.linear_ratio(-2) == pytest.approx(0.3)
    assert check.breakdown_lr() == pytest.approx(check.student_lrs[check.student_lrs >= 300][0])
    agreeing = fake_check()
    agreeing.actual_change[:] = agreeing.predicted_change
    assert agreeing.breakdown_lr() == float("inf")
    table = single_step_table([check, fake_check("cross")])
    assert list(table["init"]) == ["shared", "cross"]
