"""The two mitigations, as parts of the distillation loop.

*Projection* (Kitkana & Arora) is a **gradient transform**: whenever
cos(g_d, g_t) > tau, remove the fraction beta of the trait-aligned component of
the distillation gradient before the optimiser step (beta = 1, tau = 0 is the
paper's rule), over the whole network or over the hidden layers only. The same
rule can act on the *update* the optimiser applies instead (``space="update"``),
which makes "the step has no component along g_t" exact under Adam too.

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
from .gradients import Dots, Grads, cosine, flat_dot, inner_products, pick, project_out, put
from .losses import kl_to_target, log_probs
from .models import LAYERS


def project_if_aligned(g_d: Grads, g_t: Grads, enabled: torch.Tensor, tau: float = 0.0, beta: float = 1.0,
                       layers: str = "all", dots: Dots | None = None, placebo: Grads | None = None,
                       matched: torch.Tensor | None = None) -> tuple[Grads, torch.Tensor, torch.Tensor]:
    """The projection rule for one step, per model. Returns (new g_d, cos, fired).

    ``layers`` = ``"all"`` (the whole network) or ``"hidden"`` (W1, b1, W2, b2: the last
    layer of g_d is left exactly as it is). ``cos`` (E,) is cos(g_d, g_t) over those
    layers; a model projects (``fired``) where ``enabled`` and ``cos > tau``; ``tau <= -1``
    fires at every step (two-sided). ``dots``: the whole-network
    :func:`~subliminal.gradients.inner_products` (g_d, g_t) if the caller has them.

    Matched placebo: for the models flagged in ``matched`` (E,) the rule still *fires* on the
    real cosine, but the edit is made along the unit placebo direction û of ``placebo``
    instead of along g_t, with the same size as the real removal (see :func:`shift_along`).
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
    fired = enabled & ((cos > tau) | (tau <= -1.0))
    if matched is None or placebo is None or not bool((fired & matched).any()):
        return put(g_d, which, project_out(d, t, fired, beta, dots=dots)), cos, fired
    real = project_out(d, t, fired & ~matched, beta, dots=dots)
    size = beta * dots[0].abs() / dots[2].clamp_min(1e-30).sqrt()  # |<d, g_t>| / ||g_t||: the real removal
    return put(g_d, which, shift_along(real, pick(placebo, which), fired & matched, size)), cos, fired


def shift_along(vec: Grads, direction: Grads, where: torch.Tensor, size: torch.Tensor) -> Grads:
    """Move ``vec`` by ``size`` (E,) along -sign(<vec, u>) û, û = ``direction`` / ||direction||, where flagged.

    The matched placebo's edit: as large as the real projection's (which removes the
    component of length ``size`` along g_t) but along another direction, and towards
    lowering ``vec``'s component along it, as a removal would.
    """
    dot, uu = flat_dot(vec, direction), flat_dot(direction, direction)
    coef = torch.sign(dot) * size / uu.clamp_min(1e-30).sqrt()
    coef = torch.where(where & (uu > 0), coef, torch.zeros_like(coef))
    return [v - coef.view(-1, *([1] * (v.dim() - 1))) * u for v, u in zip(vec, direction)]


@dataclass
class Projection:
    """The projection rule for the models flagged in ``members`` (E,) bool, as a loop part.

    ``space="gradient"``: a gradient transform, applied to g_d before the optimiser step
    (Kitkana & Arora's rule). Adam then rescales every coordinate, so the update it applies is
    generally *not* orthogonal to g_t, and coordinates where g_d was zero (the digit head
    of an aux-only student) receive a full learning-rate-sized step from the removed
    component. ``space="update"``: an update transform, applied to the step the optimiser
    would take, Δθ = θ_new - θ_old: the rule acts on -Δθ (the descent direction), so with
    ``tau = 0`` it removes the g_t component where the step would *lower* the trait loss
    (<g_t, Δθ> < 0) and with ``tau = -1`` at every step, and writes θ_old + Δθ'. The
    optimiser's moments still saw the unprojected gradient. ``matched`` (E,) bool: those
    members are matched placebos (see :func:`project_if_aligned`).
    """

    members: torch.Tensor
    tau: float = 0.0
    beta: float = 1.0
    layers: str = "all"
    space: str = "gradient"
    matched: torch.Tensor | None = None

    def __call__(self, vec: Grads, g_t: Grads, dots: Dots | None = None,
                 placebo: Grads | None = None) -> tuple[Grads, torch.Tensor]:
        """(transformed vector, fired (E,) bool): ``vec`` is g_d (gradient space) or -Δθ (update
        space); ``dots``: inner_products(vec, g_t), if known; ``placebo``: the placebo directions."""
        new, _, fired = project_if_aligned(vec, g_t, self.members, self.tau, self.beta, self.layers, dots,
                                           placebo, self.matched)
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


__all__ = ["project_if_aligned", "shift_along", "Projection", "liminal_lambda", "liminal_weight", "LiminalAnchor"]
