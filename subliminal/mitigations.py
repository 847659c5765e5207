"""The two mitigations, as parts of the distillation loop.

*Projection* (Kitkana & Arora) is a **gradient transform**: whenever
cos(g_d, g_t) > tau, remove the fraction beta of the trait-aligned component of
the distillation gradient before the optimiser step (beta = 1, tau = 0 is the
paper's rule), over the whole network or over the hidden layers only.

*Liminal training* (Yanagisawa et al.) is a **loss term**: add
lambda(t) * T^2 * KL(p_base || p_student) to the distillation loss, which holds
the student near its base model (here: the shared initialisation) early in
training and then releases it.

The functions here are the ones the training loop runs; the chapters, the
explorers and the tests call the same code.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .config import N_DIGITS, Config
from .gradients import Dots, Grads, cosine, inner_products, pick, project_out, put
from .losses import kl_to_target, log_probs
from .models import LAYERS


def project_if_aligned(g_d: Grads, g_t: Grads, enabled: torch.Tensor, tau: float = 0.0, beta: float = 1.0,
                       layers: str = "all", dots: Dots | None = None) -> tuple[Grads, torch.Tensor, torch.Tensor]:
    """The projection rule for one step, per model. Returns (new g_d, cos, fired).

    ``layers`` = ``"all"`` (the whole network) or ``"hidden"`` (W1, b1, W2, b2: the last
    layer of g_d is left exactly as it is). ``cos`` (E,) is cos(g_d, g_t) over those
    layers; a model projects (``fired``) where ``enabled`` and ``cos > tau``. ``dots``: the
    whole-network :func:`~subliminal.gradients.inner_products` (g_d, g_t) if the caller has them.
    """
    if layers not in LAYERS:
        raise ValueError(f"layers must be one of {sorted(LAYERS)}; got {layers!r}")
    if layers == "hidden" and len(g_d) != len(LAYERS["all"]):
        raise ValueError(f"layers='hidden' needs the network's {len(LAYERS['all'])} gradient tensors; got {len(g_d)}")
    which = LAYERS[layers] if layers == "hidden" else range(len(g_d))
    d, t = pick(g_d, which), pick(g_t, which)
    if dots is None or layers != "all":
        dots = inner_products(d, t)
    cos = cosine(d, t, dots=dots)
    fired = enabled & (cos > tau)
    return put(g_d, which, project_out(d, t, fired, beta, dots=dots)), cos, fired


@dataclass
class Projection:
    """Gradient transform: the projection rule for the models flagged in ``members`` (E,) bool."""

    members: torch.Tensor
    tau: float = 0.0
    beta: float = 1.0
    layers: str = "all"

    def __call__(self, g_d: Grads, g_t: Grads, dots: Dots | None = None) -> tuple[Grads, torch.Tensor]:
        """(transformed g_d, fired (E,) bool); ``dots``: inner_products(g_d, g_t), if known."""
        new, _, fired = project_if_aligned(g_d, g_t, self.members, self.tau, self.beta, self.layers, dots)
        return new, fired


def liminal_lambda(t: float, lambda0: float, tau2: float) -> float:
    """The liminal schedule lambda(t) at training progress t = step / total_steps in [0, 1].

    Rises linearly from lambda0 to 1 until t = tau2, then falls linearly to 0 at t = 1.
    """
    if not 0.0 <= t <= 1.0:
        raise ValueError(f"t must lie in [0, 1]; got {t}")
    if not 0.0 < tau2 <= 1.0:  # tau2 = 1 (one epoch, tau2 = 1/epochs): the rise lasts the whole run
        raise ValueError(f"tau2 must lie in (0, 1]; got {tau2}")
    if t <= tau2:
        return lambda0 + (1.0 - lambda0) * t / tau2
    return 1.0 - (t - tau2) / (1.0 - tau2)


def liminal_weight(t: float, config: Config) -> float:
    """The weight of the liminal KL term at progress t: scale * T^2 * lambda(t) (the one schedule)."""
    return config.liminal_scale * config.liminal_temperature ** 2 * liminal_lambda(
        t, config.liminal_lambda0, config.tau2)


class LiminalAnchor:
    """Loss term: liminal_weight(t) * KL(p_base^(T) || p_student^(T)) for the models in ``members``.

    ``base_logits`` (E, N, 10+m): the base model's logits on the noise images, normalised once;
    the KL covers the auxiliary logits (``config.liminal_outputs = "aux"``) or all of them.
    """

    name = "liminal"

    def __init__(self, base_logits: torch.Tensor, members: torch.Tensor, config: Config):
        self.outputs = slice(N_DIGITS, None) if config.liminal_outputs == "aux" else slice(None)
        self.base_log_p = log_probs(base_logits[..., self.outputs], config.liminal_temperature)
        self.members = members.to(base_logits.dtype)
        self.config = config

    def __call__(self, logits: torch.Tensor, idx: torch.Tensor, t: float) -> torch.Tensor:
        """(E,) the weighted anchor term of every model on the noise batch ``idx``."""
        kl = kl_to_target(logits[..., self.outputs], self.base_log_p[:, idx], self.config.liminal_temperature)
        return liminal_weight(t, self.config) * self.members * kl


__all__ = ["project_if_aligned", "Projection", "liminal_lambda", "liminal_weight", "LiminalAnchor"]
