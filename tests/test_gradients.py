"""Gradient geometry against hand-computed examples."""

import math

import pytest
import torch

from subliminal.gradients import cosine, flat_dot, flatten, project_out
from subliminal.mitigations import liminal_lambda, project_if_aligned


def two_models(a_rows, b_rows):
    """Gradients of 2 models split over two 'parameter tensors' (a matrix and a vector)."""
    a = torch.tensor(a_rows, dtype=torch.float64)
    b = torch.tensor(b_rows, dtype=torch.float64)
    return [a[:, :2].reshape(2, 1, 2), a[:, 2:]], [b[:, :2].reshape(2, 1, 2), b[:, 2:]]


def test_cosine_matches_hand_example():
    # model 0: (1, 0, 0) vs (1, 1, 0): cos = 1/sqrt(2); model 1: (1, 2, 2) vs (-2, 0, 1): cos = 0
    g_d, g_t = two_models([[1, 0, 0], [1, 2, 2]], [[1, 1, 0], [-2, 0, 1]])
    assert flat_dot(g_d, g_t).tolist() == [1.0, 0.0]
    cos = cosine(g_d, g_t)
    assert cos[0].item() == pytest.approx(1 / math.sqrt(2))
    assert cos[1].item() == pytest.approx(0.0)


def test_cosine_of_zero_gradient_is_zero():
    g_d, g_t = two_models([[0, 0, 0], [1, 0, 0]], [[1, 1, 0], [-3, 0, 0]])
    assert cosine(g_d, g_t).tolist() == [0.0, -1.0]


def test_flatten_concatenates_per_model():
    g, _ = two_models([[1, 2, 3], [4, 5, 6]], [[0, 0, 0], [0, 0, 0]])
    assert flatten(g).tolist() == [[1, 2, 3], [4, 5, 6]]


def test_projection_removes_aligned_component_by_hand():
    # g_d = (3, 4, 0), g_t = (1, 0, 0): projected = (0, 4, 0), orthogonal to g_t
    g_d, g_t = two_models([[3, 4, 0], [3, 4, 0]], [[1, 0, 0], [1, 0, 0]])
    out = project_out(g_d, g_t, torch.tensor([True, False]))
    assert flatten(out)[0].tolist() == [0.0, 4.0, 0.0]
    assert flatten(out)[1].tolist() == [3.0, 4.0, 0.0]  # not flagged: untouched


def test_projected_gradient_is_orthogonal_to_trait_gradient():
    gen = torch.Generator().manual_seed(0)
    g_d = [torch.randn(5, 7, 3, generator=gen, dtype=torch.float64), torch.randn(5, 4, generator=gen, dtype=torch.float64)]
    g_t = [torch.randn(5, 7, 3, generator=gen, dtype=torch.float64), torch.randn(5, 4, generator=gen, dtype=torch.float64)]
    out = project_out(g_d, g_t, torch.ones(5, dtype=torch.bool))
    assert torch.allclose(flat_dot(out, g_t), torch.zeros(5, dtype=torch.float64), atol=1e-12)
    # the removed part is parallel to g_t: g_d - out = c * g_t
    removed = flatten(g_d) - flatten(out)
    assert torch.allclose(cosine([removed], [flatten(g_t)]).abs(), torch.ones(5, dtype=torch.float64))


def test_projection_rule_only_fires_above_threshold():
    # model 0: cos = +0.6 ; model 1: cos = -0.6 ; model 2: cos = +0.6 but projection disabled
    g_d, g_t = [torch.tensor([[3.0, 4.0], [-3.0, 4.0], [3.0, 4.0]])], [torch.tensor([[1.0, 0.0]] * 3)]
    enabled = torch.tensor([True, True, False])
    out, cos, mask = project_if_aligned(g_d, g_t, enabled, tau=0.0)
    assert cos.tolist() == pytest.approx([0.6, -0.6, 0.6])
    assert mask.tolist() == [True, False, False]
    assert out[0].tolist() == [[0.0, 4.0], [-3.0, 4.0], [3.0, 4.0]]
    # with tau = 0.7 nothing is projected: cos <= tau leaves g_d untouched
    out, _, mask = project_if_aligned(g_d, g_t, enabled, tau=0.7)
    assert not mask.any() and torch.equal(out[0], g_d[0])


def test_liminal_schedule():
    assert liminal_lambda(0.0, lambda0=0.5, tau2=0.2) == pytest.approx(0.5)
    assert liminal_lambda(0.1, lambda0=0.5, tau2=0.2) == pytest.approx(0.75)
    assert liminal_lambda(0.2, lambda0=0.5, tau2=0.2) == pytest.approx(1.0)
    assert liminal_lambda(0.6, lambda0=0.5, tau2=0.2) == pytest.approx(0.5)
    assert liminal_lambda(1.0, lambda0=0.5, tau2=0.2) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="t must lie in"):
        liminal_lambda(1.5, lambda0=0.5, tau2=0.2)
    assert liminal_lambda(1.0, lambda0=0.5, tau2=1.0) == pytest.approx(1.0)  # one epoch: the rise only
    with pytest.raises(ValueError, match="tau2 must lie"):
        liminal_lambda(0.5, lambda0=0.5, tau2=0.0)


def test_random_placebo_of_a_model_depends_only_on_its_own_stream():
    from subliminal.gradients import random_like

    grads = [torch.randn(3, 4, 5), torch.randn(3, 5)]
    together = random_like(grads, [torch.Generator().manual_seed(7), torch.Generator().manual_seed(8), None])
    alone = random_like([g[1:2] for g in grads], [torch.Generator().manual_seed(8)])
    for t, a, g in zip(together, alone, grads):
        assert torch.equal(t[1], a[0])  # model 1's direction does not depend on model 0 beside it
        assert torch.equal(t[2], g[2])  # no generator: the gradient is kept
        assert torch.allclose(t[0].norm(), g[0].norm())  # same norm per tensor
    with pytest.raises(ValueError, match="one generator"):
        random_like(grads, [None])
