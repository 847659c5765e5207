"""Training loops: the teacher on digits, the students on noise.

Both loops train a whole ensemble at once (see ``models``): every model sees the
same minibatch at every step, and models differ in their initialisation and in
per-model masks. The student loop :func:`distill` is built from small parts and
reads like the chapters::

    forward -> loss terms -> g_d (and g_t) -> gradient transforms -> optimiser step -> probes

* **loss terms** ``term(logits, idx, t) -> (E,)``: :class:`Imitation` (the teacher's
  aux or all logits) and :class:`~subliminal.mitigations.LiminalAnchor`;
* a **trait gradient** :class:`TraitGradient` ``g_t`` (true labels, the teacher's digit
  logits, shuffled labels, or a random direction with g_t's per-layer norms);
* **gradient transforms** ``transform(g_d, g_t, dots) -> (g_d, fired)``, e.g.
  :class:`~subliminal.mitigations.Projection`;
* **probes** that keep their own per-step logs: :class:`LossProbe`,
  :class:`AlignmentProbe`, :class:`UpdateProbe`, :class:`CurveProbe`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol, Sequence

import torch
from tqdm.auto import tqdm

from . import models
from .config import N_DIGITS, Config
from .data import batch_indices
from .gradients import Dots, Grads, cosine, flat_dot, inner_products, random_like
from .losses import digit_cross_entropy, kl_to_target, log_probs, softmax_kl


def train_teacher(init: models.Params, x: torch.Tensor, y: torch.Tensor, config: Config,
                  generator: torch.Generator, progress: bool = False) -> models.Params:
    """Train every model of ``init`` on digit cross-entropy (logits 0-9 only), with Adam.

    ``x`` (N, 784) and ``y`` (N,) live on the models' device. The auxiliary logits
    receive no loss. Returns the trained parameters (detached).
    """
    params = [p.detach().clone().requires_grad_(True) for p in init]
    optimizer = torch.optim.Adam(params, lr=config.teacher_lr, fused=True)
    batches = [idx.to(x.device) for idx in batch_indices(len(x), config.teacher_batch_size, config.teacher_epochs,
                                                          generator)]  # moved once: no per-step host transfer
    for idx in tqdm(batches, desc="teacher", disable=not progress, leave=False):
        with models.matmul_precision(config.precision, x.device):
            logits = models.forward(params, x[idx])
        loss = digit_cross_entropy(logits, y[idx]).sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return models.detach(params)


# --------------------------------------------------------------------------- loss terms


class LossTerm(Protocol):
    """A term of the students' loss: ``term(logits (E, B, 10+m), idx (B,), t) -> (E,)``."""

    name: str

    def __call__(self, logits: torch.Tensor, idx: torch.Tensor, t: float) -> torch.Tensor: ...


class Imitation:
    """The distillation loss: KL(softmax(teacher / T) || softmax(student / T)) on the noise batch.

    ``teacher_logits`` (E, N, 10+m): each student's teacher on all noise images, normalised
    once (the teacher is frozen). Models flagged in ``all_logits`` (E,) imitate all 10+m
    logits, the others the m auxiliary ones only.
    """

    name = "imitation"

    def __init__(self, teacher_logits: torch.Tensor, all_logits: torch.Tensor | None = None,
                 temperature: float = 1.0):
        self.temperature = temperature
        self.all_logits = all_logits if all_logits is not None and bool(all_logits.any()) else None
        self.aux_log_p = log_probs(teacher_logits[..., N_DIGITS:], temperature)
        self.all_log_p = log_probs(teacher_logits, temperature) if self.all_logits is not None else None

    def __call__(self, logits: torch.Tensor, idx: torch.Tensor, t: float = 0.0) -> torch.Tensor:
        kl_aux = kl_to_target(logits[..., N_DIGITS:], self.aux_log_p[:, idx], self.temperature)
        if self.all_logits is None:
            return kl_aux
        kl_all = kl_to_target(logits, self.all_log_p[:, idx], self.temperature)
        return torch.where(self.all_logits, kl_all, kl_aux)


# --------------------------------------------------------------------------- the trait gradient


@dataclass
class TraitGradient:
    """What g_t is, per model: the gradient of a trait loss on a batch of MNIST training images.

    ``x`` (N, 784); ``labels`` (E, N): each model's labels (the true ones, or a fixed
    shuffle of them for the placebo); ``teacher_digits`` (E, N, 10) and ``label_free`` (E,)
    bool: those models imitate their teacher's digit logits (KL) instead of fitting labels;
    ``random`` (E,) bool: those models' g_t is replaced, every step, by a random direction with
    the same per-layer norms, drawn from that model's own generator in ``generators`` (E,).
    """

    x: torch.Tensor
    labels: torch.Tensor
    teacher_digits: torch.Tensor | None = None
    label_free: torch.Tensor | None = None
    random: torch.Tensor | None = None
    generators: Sequence[torch.Generator] | None = None

    def loss(self, logits: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """(E,) trait loss of the students' logits (E, B, 10+m) on the trait batch ``idx``."""
        loss = digit_cross_entropy(logits, self.labels[:, idx])
        if self.label_free is not None and bool(self.label_free.any()):
            imitation = softmax_kl(logits[..., :N_DIGITS], self.teacher_digits[:, idx])
            loss = torch.where(self.label_free, imitation, loss)
        return loss

    def gradient(self, loss: torch.Tensor, params: models.Params) -> Grads:
        """g_t: the gradient of ``loss`` (E,), with the random placebo applied where asked."""
        g_t = list(torch.autograd.grad(loss.sum(), params))
        if self.random is not None and bool(self.random.any()):
            g_t = random_like(g_t, [gen if flag else None for gen, flag in zip(self.generators, self.random.tolist())])
        return g_t


# --------------------------------------------------------------------------- probes


@dataclass
class Step:
    """What one distillation step computed, as the probes see it (all per model, leading axis E).

    ``losses``: each loss term (E,); ``g_d_raw``: the distillation gradient; ``g_d``: after the
    gradient transforms (what the optimiser received); ``g_t`` and ``trait_loss``: None when
    the trait gradient is not computed; ``dots``: inner_products(g_d_raw, g_t), computed once
    per step for the transforms and probes (None without g_t); ``fired`` (E,) bool: a
    transform changed g_d.
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


class Probe:
    """Records something at every step into its own logs; :meth:`logs` returns them (on the CPU)."""

    needs_trait = False

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
        self.records["loss"][:, step.index] = step.losses[Imitation.name].detach()


class AlignmentProbe(Probe):
    """``cosine`` (E, S): cos(g_d, g_t) before the transforms; ``cosine_after``: after them
    (what the optimiser received); ``projected`` (E, S) bool; ``trait_loss`` (E, S)."""

    needs_trait = True

    def start(self, n_models, n_steps, device):
        def zeros(dtype=torch.float32):
            return torch.zeros(n_models, n_steps, dtype=dtype, device=device)

        self.records = {"cosine": zeros(), "cosine_after": zeros(), "projected": zeros(torch.bool),
                        "trait_loss": zeros()}

    def after_update(self, step):
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
    """``trait_update`` (E, S): <g_t, Δθ> for the update Δθ the optimiser actually applied.

    To first order this is the change of the trait loss caused by the step. Adam rescales each
    coordinate, so even when g_d was made orthogonal to g_t the applied update generally is not.
    """

    needs_trait = True

    def start(self, n_models, n_steps, device):
        self.records = {"trait_update": torch.zeros(n_models, n_steps, device=device)}
        self._before: list[torch.Tensor] | None = None  # buffers reused at every step

    def before_update(self, step, params):
        if self._before is None:
            self._before = [p.detach().clone() for p in params]
        else:
            for buffer, p in zip(self._before, params):
                buffer.copy_(p.detach())

    def after_update(self, step):
        for buffer, p in zip(self._before, step.params):
            buffer.sub_(p.detach())  # now -Δθ
        self.records["trait_update"][:, step.index] = -flat_dot(step.g_t, self._before)


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


# --------------------------------------------------------------------------- the loop

#: ``transform(g_d, g_t, dots) -> (g_d, fired)``; ``dots`` = inner_products(g_d, g_t) when known, else None
Transform = Callable[[Grads, Grads, Dots | None], tuple[Grads, torch.Tensor]]


def distill(init: models.Params, noise: torch.Tensor, terms: Sequence[LossTerm], config: Config,
            generator: torch.Generator, trait: TraitGradient | None = None,
            trait_generator: torch.Generator | None = None, transforms: Sequence[Transform] = (),
            probes: Sequence[Probe] = (), progress: bool = False) -> tuple[models.Params, dict[str, torch.Tensor]]:
    """Distil an ensemble of students on ``noise`` (N, 784) and return (parameters, logs).

    At every step: the loss terms on a noise batch give g_d; if a transform or a probe needs
    it, the trait gradient g_t is computed on a batch of ``trait.x`` (order from
    ``trait_generator``); the transforms change g_d; Adam (lr ``config.student_lr``; weight
    decay ``config.student_weight_decay`` as an L2 term, or decoupled as in AdamW) takes the
    step; the probes record. The logs of all probes are merged into one dict of CPU tensors.
    """
    device = noise.device
    n_models = len(init[0])
    needs_trait = bool(transforms) or any(p.needs_trait for p in probes)
    if needs_trait and (trait is None or trait_generator is None):
        raise ValueError("gradient transforms and alignment probes need a `trait` gradient and a `trait_generator`")
    params = [p.detach().clone().requires_grad_(True) for p in init]
    # fused: one pass over each parameter instead of a dozen (same update rule)
    adam = torch.optim.AdamW if config.student_weight_decay_mode == "decoupled" else torch.optim.Adam
    optimizer = adam(params, lr=config.student_lr, weight_decay=config.student_weight_decay, fused=True)
    batches = [idx.to(device) for idx in batch_indices(len(noise), config.student_batch_size, config.student_epochs,
                                                        generator)]
    n_steps = len(batches)
    if needs_trait:
        trait_epochs = -(-n_steps * config.trait_batch_size // len(trait.x)) + 1
        trait_batches = [idx.to(device) for idx in batch_indices(len(trait.x), config.trait_batch_size,
                                                                 trait_epochs, trait_generator)[:n_steps]]
    for probe in probes:
        probe.start(n_models, n_steps, device)
    no_fire = torch.zeros(n_models, dtype=torch.bool, device=device)

    for i, idx in enumerate(tqdm(batches, desc="students", disable=not progress, leave=False)):
        t = i / n_steps
        for probe in probes:
            probe.before_update(i, params)
        with models.matmul_precision(config.precision, device):  # weights cast once for both batches
            logits = models.forward(params, noise[idx])
            trait_logits = models.forward(params, trait.x[trait_batches[i]]) if needs_trait else None
        losses = {term.name: term(logits, idx, t) for term in terms}
        g_d_raw = list(torch.autograd.grad(sum(loss.sum() for loss in losses.values()), params))
        g_t = trait_loss = dots = None
        if needs_trait:
            trait_loss = trait.loss(trait_logits, trait_batches[i])
            g_t = trait.gradient(trait_loss, params)
            dots = inner_products(g_d_raw, g_t)  # once, for the transforms and the probes
        g_d, fired, known = g_d_raw, no_fire, dots
        for transform in transforms:
            g_d, fired_here = transform(g_d, g_t, known)
            fired, known = fired | fired_here, None  # g_d changed: its inner products are no longer known
        for p, g in zip(params, g_d):
            p.grad = g
        optimizer.step()
        step = Step(i, t, params, losses, g_d_raw, g_d, g_t, trait_loss, dots, fired)
        for probe in probes:
            probe.after_update(step)

    logs: dict[str, torch.Tensor] = {}
    for probe in probes:
        probe.finish(params)
        logs.update(probe.logs())
    return models.detach(params), logs


__all__ = ["train_teacher", "LossTerm", "Imitation", "TraitGradient", "Step", "Probe", "LossProbe",
           "AlignmentProbe", "UpdateProbe", "CurveProbe", "distill"]
