"""Per-model gradient geometry: inner products, cosines and projection.

A gradient is a list of tensors shaped like the parameters, each with the
leading ensemble axis E. Each model's gradient is the concatenation of its
slices, flattened over the whole network (about 270k numbers at paper scale).
"""

from __future__ import annotations

from typing import Sequence

import torch

Grads = list[torch.Tensor]


def flatten(grads: Grads) -> torch.Tensor:
    """(E, P): each model's whole-network gradient as one vector."""
    return torch.cat([g.reshape(len(g), -1) for g in grads], dim=1)


def flat_dot(a: Grads, b: Grads) -> torch.Tensor:
    """<a_e, b_e> for every model e -> (E,)."""
    return sum((x * y).reshape(len(x), -1).sum(dim=1) for x, y in zip(a, b))


Dots = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def inner_products(a: Grads, b: Grads) -> Dots:
    """(<a_e, b_e>, ||a_e||^2, ||b_e||^2) for every model e, each (E,): all a cosine or a projection needs."""
    return flat_dot(a, b), flat_dot(a, a), flat_dot(b, b)


def cosine(a: Grads, b: Grads, eps: float = 1e-30, dots: Dots | None = None) -> torch.Tensor:
    """cos(a_e, b_e) for every model e -> (E,); 0 where either vector is zero.

    ``dots``: :func:`inner_products` of ``a`` and ``b`` when the caller already has them.
    """
    dot, aa, bb = dots if dots is not None else inner_products(a, b)
    norms = (aa * bb).sqrt()
    return torch.where(norms > eps, dot / norms.clamp_min(eps), torch.zeros_like(dot))


def project_out(g_d: Grads, g_t: Grads, where: torch.Tensor, beta: float = 1.0, eps: float = 1e-30,
                dots: Dots | None = None) -> Grads:
    """Remove the fraction ``beta`` of the g_t component of g_d for the models flagged in ``where`` (E,) bool.

        g_d <- g_d - beta (<g_d, g_t> / ||g_t||^2) g_t

    With ``beta = 1`` the result is orthogonal to g_t for flagged models; unflagged
    models (and ``beta = 0``) keep g_d exactly. ``dots``: :func:`inner_products` (g_d, g_t), if known.
    """
    dot, _, tt = dots if dots is not None else (flat_dot(g_d, g_t), None, flat_dot(g_t, g_t))
    coef = beta * dot / tt.clamp_min(eps)
    coef = torch.where(where, coef, torch.zeros_like(coef))
    return [d - coef.view(-1, *([1] * (d.dim() - 1))) * t for d, t in zip(g_d, g_t)]


def pick(grads: Grads, layers: Sequence[int]) -> Grads:
    """The tensors of ``grads`` at positions ``layers`` (e.g. the hidden layers' weights and biases)."""
    return [grads[i] for i in layers]


def put(grads: Grads, layers: Sequence[int], parts: Grads) -> Grads:
    """A copy of the list ``grads`` with the tensors at ``layers`` replaced by ``parts``."""
    out = list(grads)
    for i, part in zip(layers, parts):
        out[i] = part
    return out


def random_like(grads: Grads, generators: Sequence[torch.Generator | None]) -> Grads:
    """A random direction with the same norm as ``grads`` in every tensor, per model (a placebo g_t).

    Model e's entries are i.i.d. N(0, 1) from ``generators[e]`` (its own stream, so its draws do
    not depend on the other models of the ensemble), rescaled to that tensor's norm in ``grads``;
    a model whose generator is None keeps its gradient.
    """
    if len(generators) != len(grads[0]):
        raise ValueError(f"need one generator (or None) per model: {len(grads[0])}; got {len(generators)}")
    out = []
    for g in grads:
        rows = []
        for row, gen in zip(g, generators):
            if gen is None:
                rows.append(row)
                continue
            noise = torch.randn(row.shape, generator=gen).to(row.device, row.dtype)
            rows.append(noise * (row.norm() / noise.norm().clamp_min(1e-30)))
        out.append(torch.stack(rows))
    return out
