"""Per-model gradient geometry: inner products, cosines and projection.

A gradient is a list of tensors shaped like the parameters, each with the
leading ensemble axis E. Each model's gradient is the concatenation of its
slices, flattened over the whole network (about 270k numbers at paper scale).
"""

from __future__ import annotations

import torch

Grads = list[torch.Tensor]


def flatten(grads: Grads) -> torch.Tensor:
    """(E, P): each model's whole-network gradient as one vector."""
    return torch.cat([g.reshape(len(g), -1) for g in grads], dim=1)


def flat_dot(a: Grads, b: Grads) -> torch.Tensor:
    """<a_e, b_e> for every model e -> (E,)."""
    return sum((x * y).reshape(len(x), -1).sum(dim=1) for x, y in zip(a, b))


def cosine(a: Grads, b: Grads, eps: float = 1e-30) -> torch.Tensor:
    """cos(a_e, b_e) for every model e -> (E,); 0 where either vector is zero."""
    dot = flat_dot(a, b)
    norms = (flat_dot(a, a) * flat_dot(b, b)).sqrt()
    return torch.where(norms > eps, dot / norms.clamp_min(eps), torch.zeros_like(dot))


def project_out(g_d: Grads, g_t: Grads, where: torch.Tensor, eps: float = 1e-30) -> Grads:
    """Remove the g_t component of g_d for the models flagged in ``where`` (E,) bool.

        g_d <- g_d - (<g_d, g_t> / ||g_t||^2) g_t

    The result is orthogonal to g_t for flagged models and equal to g_d elsewhere.
    """
    coef = flat_dot(g_d, g_t) / flat_dot(g_t, g_t).clamp_min(eps)
    coef = torch.where(where, coef, torch.zeros_like(coef))
    return [d - coef.view(-1, *([1] * (d.dim() - 1))) * t for d, t in zip(g_d, g_t)]
