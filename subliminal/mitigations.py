"""The two mitigations: gradient projection and liminal training.

*Projection* (Kitkana & Arora): whenever cos(g_d, g_t) > tau, remove the
trait-aligned component of the distillation gradient before the optimiser step.

*Liminal training* (Yanagisawa et al.): add lambda(t) * T^2 * KL(p_base || p_student)
to the distillation loss, which holds the student near its base model (here: the
shared initialisation) early in training and then releases it.
"""

from __future__ import annotations

import torch

from .gradients import Grads, cosine, project_out


def projection_mask(cos: torch.Tensor, enabled: torch.Tensor, tau: float) -> torch.Tensor:
    """(E,) bool: which models project at this step (enabled and cos > tau)."""
    return enabled & (cos > tau)


def project_if_aligned(g_d: Grads, g_t: Grads, enabled: torch.Tensor, tau: float = 0.0):
    """Projection rule for one step. Returns (new g_d, cos before, mask of projected models)."""
    cos = cosine(g_d, g_t)
    mask = projection_mask(cos, enabled, tau)
    return project_out(g_d, g_t, mask), cos, mask


def liminal_lambda(progress: float, lambda0: float = 1.0, tau2: float = 0.2) -> float:
    """Weight lambda(t) of the liminal KL term at training progress t = step / total_steps.

    Rises linearly from lambda0 to 1 until t = tau2, then falls linearly to 0 at t = 1.
    """
    if not 0.0 <= progress <= 1.0:
        raise ValueError(f"progress must lie in [0, 1]; got {progress}")
    if progress <= tau2:
        return lambda0 + (1.0 - lambda0) * progress / tau2
    return 1.0 - (progress - tau2) / (1.0 - tau2)
