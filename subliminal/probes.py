"""Probes of the distillation loop: each records something at every step into its own logs.

:func:`~subliminal.training.distill` hands every probe a :class:`Step`, what the step computed
(the gradients, the inner products, the update it applied); a probe keeps per-step tensors
(E, S) and returns them, on the CPU, from :meth:`Probe.logs`. :class:`LossProbe` (the loss terms),
:class:`AlignmentProbe` (cos(g_d, g_t)), :class:`UpdateProbe` (<g_t, Δθ>), :class:`DriveProbe` (the
real digit loss's first-order change) and :class:`CurveProbe` (test accuracy during training).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from . import models
from .data import batch_indices
from .gradients import Dots, Grads, cosine, flat_dot
from .losses import IMITATION, digit_cross_entropy


@dataclass
class Step:
    """What one distillation step computed, as the probes see it (all per model, leading axis E).

    ``losses``: each loss term (E,); ``g_d_raw``: the distillation gradient; ``g_d``: after the
    gradient transforms (what the optimiser received); ``g_t`` and ``trait_loss``: None when
    the trait gradient is not computed; ``dots``: inner_products(g_d_raw, g_t), computed once
    per step for the transforms and probes (None without g_t); ``fired`` (E,) bool: a
    transform changed g_d or the update; ``delta``: the update Δθ = θ_new - θ_old the step
    applied, after any update transform (None unless a transform or probe needs it).
    """

    index: int
    t: float
    params: models.Params
    losses: dict[str, torch.Tensor]
    g_d_raw: Grads
    g_d: Grads
    g_t: Grads | None
    trait_loss: torch.Tensor | None
    dots: Dots | None
    fired: torch.Tensor
    delta: Grads | None = None


class Probe:
    """Records something at every step into its own logs; :meth:`logs` returns them (on the CPU)."""

    needs_trait = False
    needs_delta = False

    def start(self, n_models: int, n_steps: int, device: torch.device) -> None:
        self.records: dict[str, torch.Tensor] = {}

    def before_update(self, step: int, params: models.Params) -> None:
        """Called before the optimiser step of ``step`` (parameters as the step found them)."""

    def after_update(self, step: Step) -> None:
        """Called after the optimiser step (``step.params`` are the updated parameters)."""

    def finish(self, params: models.Params) -> None:
        """Called once after the last step with the final parameters."""

    def logs(self) -> dict[str, torch.Tensor]:
        return {name: log.cpu() for name, log in self.records.items()}


class LossProbe(Probe):
    """``loss`` (E, S): the imitation loss at every step."""

    def start(self, n_models, n_steps, device):
        self.records = {"loss": torch.zeros(n_models, n_steps, device=device)}

    def after_update(self, step):
        self.records["loss"][:, step.index] = step.losses[IMITATION].detach()


class AlignmentProbe(Probe):
    """``cosine`` (E, S): cos(g_d, g_t) before the transforms; ``cosine_after``: after them
    (what the optimiser received); ``projected`` (E, S) bool; ``trait_loss`` (E, S)."""

    needs_trait = True

    def start(self, n_models, n_steps, device):
        def zeros(dtype=torch.float32):
            return torch.zeros(n_models, n_steps, dtype=dtype, device=device)

        self.records = {"cosine": zeros(), "cosine_after": zeros(), "projected": zeros(torch.bool),
                        "trait_loss": zeros()}
        for name in ("cosine", "cosine_after", "trait_loss"):
            self.records[name].fill_(float("nan"))  # a step without g_t (alignment_every > 1) stays NaN

    def after_update(self, step):
        if step.g_t is None:
            return
        i = step.index
        self.records["cosine"][:, i] = cosine(step.g_d_raw, step.g_t, dots=step.dots)
        if step.g_d is step.g_d_raw:
            self.records["cosine_after"][:, i] = self.records["cosine"][:, i]
        else:  # ||g_t||^2 is unchanged by the transforms
            after = (flat_dot(step.g_d, step.g_t), flat_dot(step.g_d, step.g_d), step.dots[2])
            self.records["cosine_after"][:, i] = cosine(step.g_d, step.g_t, dots=after)
        self.records["projected"][:, i] = step.fired
        self.records["trait_loss"][:, i] = step.trait_loss.detach()


class UpdateProbe(Probe):
    """The update Δθ the optimiser actually applied, against g_t, per step (E, S):
    ``trait_update`` <g_t, Δθ>, ``update_norm`` ||Δθ||, ``trait_grad_norm`` ||g_t||.

    To first order <g_t, Δθ> is the change of the trait loss caused by the step; it is the product
    ||g_t|| * ||Δθ|| * cos(g_t, Δθ), whose factors say what carries it. Adam rescales each
    coordinate, so even when g_d was made orthogonal to g_t the applied update generally is not.
    """

    needs_trait = True
    needs_delta = True

    def start(self, n_models, n_steps, device):
        self.records = {name: torch.zeros(n_models, n_steps, device=device)
                        for name in ("trait_update", "update_norm", "trait_grad_norm")}
        for name in ("trait_update", "trait_grad_norm"):
            self.records[name].fill_(float("nan"))  # a step without g_t (alignment_every > 1) stays NaN

    def after_update(self, step):
        i = step.index
        self.records["update_norm"][:, i] = flat_dot(step.delta, step.delta).sqrt()
        if step.g_t is not None:
            self.records["trait_update"][:, i] = flat_dot(step.g_t, step.delta)
            self.records["trait_grad_norm"][:, i] = step.dots[2].sqrt()


class DriveProbe(Probe):
    """``drive`` (E, S): <∇L_digit(θ), Δθ>, the first-order change of the *real* digit loss caused by
    each applied update, with ∇L_digit the true-label cross-entropy gradient on an independent
    batch of ``x``, ``y`` (its own order, from ``generator``); ``drive_loss`` (E, S): that loss.

    Independent of the g_t that a projection used, so it is not zero by construction when the
    update was made orthogonal to g_t, and it measures placebo students on the real trait."""

    needs_delta = True

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, generator: torch.Generator,
                 precision: str = "fp32"):
        self.x, self.y, self.batch_size, self.generator, self.precision = x, y, batch_size, generator, precision

    def start(self, n_models, n_steps, device):
        epochs = -(-n_steps * self.batch_size // len(self.x)) + 1
        self.batches = [idx.to(device) for idx in batch_indices(len(self.x), self.batch_size, epochs,
                                                                self.generator)[:n_steps]]
        self.records = {"drive": torch.zeros(n_models, n_steps, device=device),
                        "drive_loss": torch.zeros(n_models, n_steps, device=device)}

    def before_update(self, step, params):
        idx = self.batches[step]
        with models.matmul_precision(self.precision, self.x.device):
            logits = models.forward(params, self.x[idx])
        loss = digit_cross_entropy(logits, self.y[idx])
        self._grad = list(torch.autograd.grad(loss.sum(), params))
        self.records["drive_loss"][:, step] = loss.detach()

    def after_update(self, step):
        self.records["drive"][:, step.index] = flat_dot(self._grad, step.delta)


class CurveProbe(Probe):
    """``curve_acc`` (E, P): digit accuracy on ``x``, ``y`` every ``every`` steps and after the last one;
    ``curve_steps`` (P,)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, every: int):
        self.x, self.y, self.every = x, y, every

    def start(self, n_models, n_steps, device):
        self.points = sorted(set(range(0, n_steps, self.every)) | {n_steps})
        self.accuracies: list[torch.Tensor] = []
        self.records = {}

    def before_update(self, step, params):
        if step in self.points:
            self.accuracies.append(models.accuracy(params, self.x, self.y))

    def finish(self, params):
        self.accuracies.append(models.accuracy(params, self.x, self.y))
        self.records = {"curve_acc": torch.stack(self.accuracies, dim=1), "curve_steps": torch.tensor(self.points)}


__all__ = ["Step", "Probe", "LossProbe", "AlignmentProbe", "UpdateProbe", "DriveProbe", "CurveProbe"]
