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
* **probes** that keep their own per-step logs (:mod:`subliminal.probes`, re-exported here):
  :class:`LossProbe`, :class:`AlignmentProbe`, :class:`UpdateProbe`, :class:`DriveProbe`,
  :class:`CurveProbe`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Protocol, Sequence

import torch
from tqdm.auto import tqdm

from . import models
from .config import N_DIGITS, Config
from .data import batch_indices
from .gradients import Dots, Grads, inner_products, random_like
from .probes import AlignmentProbe, CurveProbe, DriveProbe, LossProbe, Probe, Step, UpdateProbe  # noqa: F401
from .losses import (
    IMITATION,
    digit_confidence,
    digit_cross_entropy,
    digit_label_part,
    kl_to_target,
    log_probs,
    softmax_kl,
)


def progress_bar(iterable, desc: str, progress: bool):
    """``iterable`` with a tqdm bar when ``progress`` and the environment variable TQDM_DISABLE is unset.

    tqdm reads TQDM_DISABLE itself, but its notebook bar (what ``tqdm.auto`` gives in a kernel) sets
    ``disable`` before reading the environment, so the variable is honoured here, explicitly."""
    off = os.environ.get("TQDM_DISABLE", "").strip().lower() not in ("", "0", "false")
    return tqdm(iterable, desc=desc, leave=False, disable=off or not progress)


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
    for idx in progress_bar(batches, "teacher", progress):
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

    name = IMITATION

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

#: Trait kinds whose loss is the digit cross-entropy (their labels are true or shuffled; ``random``
#: and ``permuted`` then replace the gradient by a placebo built from it).
_CROSS_ENTROPY_KINDS = ("labelled", "shuffled", "random", "permuted")


def trait_loss_of(kind: str, logits: torch.Tensor, labels: torch.Tensor,
                  teacher_digits: torch.Tensor | None = None) -> torch.Tensor:
    """(E,) the trait loss of the kind ``kind`` (see ``config.TRAIT_GRADIENTS``) on a batch.

    ``logits`` (E, B, 10+m); ``labels`` (E, B); ``teacher_digits`` (E, B, 10) for ``label_free``."""
    if kind in _CROSS_ENTROPY_KINDS:
        return digit_cross_entropy(logits, labels)
    if kind == "label_free":
        return softmax_kl(logits[..., :N_DIGITS], teacher_digits)
    if kind == "label_only":
        return digit_label_part(logits, labels)
    if kind == "confidence":
        return digit_confidence(logits)
    raise ValueError(f"unknown trait gradient {kind!r}")


@dataclass
class TraitGradient:
    """What g_t is, per model: the gradient of a trait loss on a batch of MNIST training images.

    ``x`` (N, 784); ``labels`` (E, N): each model's labels (the true ones, or a fixed shuffle
    of them for the shuffled placebo); ``kinds`` (E,): each model's trait kind (default: all
    ``"labelled"``; ``"label_free"`` models imitate ``teacher_digits`` (E, N, 10) instead).
    ``"random"`` models' g_t is replaced, every step, by a random direction with the same
    per-layer norms, drawn from that model's generator in ``generators`` (E,); ``"permuted"``
    models' by their labelled g_t with each tensor's entries permuted by a permutation fixed per
    seed (``permutations``: per model, one index tensor per parameter tensor).

    Matched placebos: ``placebo`` (E,) names, for some models, a second direction (any kind
    but ``"labelled"`` and ``"label_free"``) that the projection edits along while it fires on g_t;
    ``placebo_labels`` (E, N) are the labels its loss uses.
    """

    x: torch.Tensor
    labels: torch.Tensor
    kinds: Sequence[str] | None = None
    teacher_digits: torch.Tensor | None = None
    generators: Sequence[torch.Generator | None] | None = None
    permutations: Sequence[list[torch.Tensor] | None] | None = None
    placebo: Sequence[str | None] | None = None
    placebo_labels: torch.Tensor | None = None

    def __post_init__(self):
        n = len(self.labels)
        self.kinds = tuple(self.kinds) if self.kinds is not None else ("labelled",) * n
        self.placebo = tuple(self.placebo) if self.placebo is not None else (None,) * n
        if len(self.kinds) != n or len(self.placebo) != n:
            raise ValueError(f"kinds and placebo need one entry per model ({n})")
        self.matched = torch.tensor([p is not None for p in self.placebo], device=self.labels.device)

    def _loss(self, kinds: Sequence[str | None], labels: torch.Tensor, logits: torch.Tensor,
              idx: torch.Tensor) -> torch.Tensor:
        """(E,): each model's loss of its kind in ``kinds`` (0 where None) on the batch ``idx``."""
        out = torch.zeros(len(logits), device=logits.device, dtype=logits.dtype)
        teacher = None if self.teacher_digits is None else self.teacher_digits[:, idx]
        for kind in dict.fromkeys(k for k in kinds if k is not None):
            mask = torch.tensor([k == kind for k in kinds], device=logits.device)
            out = torch.where(mask, trait_loss_of(kind, logits, labels[:, idx], teacher), out)
        return out

    def loss(self, logits: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """(E,) trait loss of the students' logits (E, B, 10+m) on the trait batch ``idx``."""
        return self._loss(self.kinds, self.labels, logits, idx)

    def gradient(self, loss: torch.Tensor, params: models.Params, retain_graph: bool = False) -> Grads:
        """g_t: the gradient of ``loss`` (E,), with the random and permuted placebos applied where asked."""
        g_t = list(torch.autograd.grad(loss.sum(), params, retain_graph=retain_graph))
        return self._placebo_directions(g_t, self.kinds)

    def _placebo_directions(self, grads: Grads, kinds: Sequence[str | None]) -> Grads:
        if "random" in kinds:
            grads = random_like(grads, [gen if k == "random" else None for gen, k in zip(self.generators, kinds)])
        if "permuted" in kinds:
            grads = permute_within(grads, [perm if k == "permuted" else None
                                           for perm, k in zip(self.permutations, kinds)])
        return grads

    @property
    def has_placebo(self) -> bool:
        return any(p is not None for p in self.placebo)

    def placebo_gradient(self, params: models.Params, idx: torch.Tensor, g_t: Grads,
                         precision: str = "fp32") -> Grads:
        """The matched placebos' directions (zero for the other models): the gradient of the placebo's
        loss on the trait batch ``idx``, or (``random``, ``permuted``) a placebo built from the
        labelled g_t. A loss placebo's forward and backward pass runs on its own models only."""
        grads = [torch.zeros_like(g) for g in g_t]
        rows = [e for e, k in enumerate(self.placebo) if k is not None and k not in ("random", "permuted")]
        if rows:
            at = torch.tensor(rows, device=idx.device)
            with models.matmul_precision(precision, idx.device):
                logits = models.forward([p[at] for p in params], self.x[idx])
            loss = self._loss([self.placebo[e] for e in rows], self.placebo_labels[at], logits, idx)
            for g, part in zip(grads, torch.autograd.grad(loss.sum(), params)):
                g[at] = part[at]
        built = [k if k in ("random", "permuted") else None for k in self.placebo]
        if any(k is not None for k in built):
            from_g_t = self._placebo_directions(g_t, built)
            flags = torch.tensor([k is not None for k in built], device=idx.device)
            grads = [torch.where(flags.view(-1, *([1] * (g.dim() - 1))), b, g) for g, b in zip(grads, from_g_t)]
        return grads


def permute_within(grads: Grads, permutations: Sequence[list[torch.Tensor] | None]) -> Grads:
    """Each model's tensors with their entries permuted by that model's fixed index tensors (None: unchanged).

    A placebo direction with the same per-tensor norms as g_t and as persistent as g_t (the same
    permutation at every step), but pointing elsewhere."""
    out = []
    for j, g in enumerate(grads):
        rows = [row if perm is None else row.flatten()[perm[j]].view_as(row) for row, perm in zip(g, permutations)]
        out.append(torch.stack(rows))
    return out


# --------------------------------------------------------------------------- the loop

#: ``transform(vec, g_t, dots, placebo) -> (vec, fired)``, with a ``space`` attribute: ``"gradient"`` (``vec`` is
#: g_d; ``dots`` = inner_products(g_d, g_t) when known, else None) or ``"update"`` (``vec`` is -Δθ)
Transform = Callable[[Grads, Grads, Dots | None, Grads | None], tuple[Grads, torch.Tensor]]


def student_optimizer(params: models.Params, config: Config) -> torch.optim.Optimizer:
    """The students' optimiser (``config.student_optimizer``): Adam (weight decay as an L2 term, or
    decoupled as in AdamW with ``student_weight_decay_mode="decoupled"``), AdamW, or SGD with
    ``student_momentum``. Adam and AdamW are fused: one pass over each parameter."""
    lr, decay = config.student_lr, config.student_weight_decay
    if config.student_optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=config.student_momentum, weight_decay=decay)
    decoupled = config.student_optimizer == "adamw" or config.student_weight_decay_mode == "decoupled"
    adam = torch.optim.AdamW if decoupled else torch.optim.Adam
    return adam(params, lr=lr, weight_decay=decay, fused=True)


def decoupled_decay_for(shrink: float, config: Config) -> float:
    """The AdamW coefficient λ under which a parameter that gets no gradient ends at ``shrink`` times
    its initial value after the student's run: each step multiplies it by (1 - lr λ), so
    (1 - lr λ)^T = shrink over T steps. With ``shrink`` measured on an Adam-L2 student's digit head
    (``digit_head_norm_ratio``) this is AdamW *matched in total shrinkage* to that L2 decay."""
    if not 0.0 < shrink <= 1.0:
        raise ValueError(f"shrink must be in (0, 1], the final over the initial norm; got {shrink!r}")
    steps = config.student_epochs * -(-config.n_noise // config.student_batch_size)
    return (1.0 - shrink ** (1.0 / steps)) / config.student_lr


def distill(init: models.Params, noise: torch.Tensor, terms: Sequence[LossTerm], config: Config,
            generator: torch.Generator, trait: TraitGradient | None = None,
            trait_generator: torch.Generator | None = None, transforms: Sequence[Transform] = (),
            probes: Sequence[Probe] = (), progress: bool = False) -> tuple[models.Params, dict[str, torch.Tensor]]:
    """Distil an ensemble of students on ``noise`` (N, 784) and return (parameters, logs).

    At every step: the loss terms on a noise batch give g_d; if a transform or a probe needs
    it, the trait gradient g_t is computed on a batch of ``trait.x`` (order from
    ``trait_generator``; for probes alone, at every ``config.alignment_every``-th step); the gradient transforms change g_d; the optimiser
    (:func:`student_optimizer`) takes the step; the update transforms change the step it took;
    the probes record. The logs of all probes are merged into one dict of CPU tensors.
    """
    device = noise.device
    n_models = len(init[0])
    needs_trait = bool(transforms) or any(p.needs_trait for p in probes)
    if needs_trait and (trait is None or trait_generator is None):
        raise ValueError("gradient transforms and alignment probes need a `trait` gradient and a `trait_generator`")
    params = [p.detach().clone().requires_grad_(True) for p in init]
    optimizer = student_optimizer(params, config)
    on_gradient = [t for t in transforms if getattr(t, "space", "gradient") == "gradient"]
    on_update = [t for t in transforms if getattr(t, "space", "gradient") == "update"]
    needs_delta = bool(on_update) or any(p.needs_delta for p in probes)
    before = [p.detach().clone() for p in params] if needs_delta else None  # θ_old, reused every step
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

    for i, idx in enumerate(progress_bar(batches, "students", progress)):
        t = i / n_steps
        for probe in probes:
            probe.before_update(i, params)
        # g_t at this step: at every step for a transform, at every `alignment_every`-th for the probes
        measure = needs_trait and (bool(transforms) or i % config.alignment_every == 0)
        with models.matmul_precision(config.precision, device):  # weights cast once for both batches
            logits = models.forward(params, noise[idx])
            trait_logits = models.forward(params, trait.x[trait_batches[i]]) if measure else None
        losses = {term.name: term(logits, idx, t) for term in terms}
        g_d_raw = list(torch.autograd.grad(sum(loss.sum() for loss in losses.values()), params))
        g_t = trait_loss = dots = placebo = None
        if measure:
            trait_loss = trait.loss(trait_logits, trait_batches[i])
            g_t = trait.gradient(trait_loss, params)
            if transforms and trait.has_placebo:
                placebo = trait.placebo_gradient(params, trait_batches[i], g_t, config.precision)
            dots = inner_products(g_d_raw, g_t)  # once, for the transforms and the probes
        g_d, fired, known = g_d_raw, no_fire, dots
        for transform in on_gradient:
            g_d, fired_here = transform(g_d, g_t, known, placebo)
            fired, known = fired | fired_here, None  # g_d changed: its inner products are no longer known
        if needs_delta:
            for buffer, p in zip(before, params):
                buffer.copy_(p.detach())
        for p, g in zip(params, g_d):
            p.grad = g
        optimizer.step()
        delta = None
        if needs_delta:
            with torch.no_grad():
                delta = [p - b for p, b in zip(params, before)]
                if on_update:
                    descent = [-d for d in delta]
                    for transform in on_update:
                        descent, fired_here = transform(descent, g_t, None, placebo)
                        fired = fired | fired_here
                    for p, b, d in zip(params, before, descent):
                        p.copy_(b - d)
                    delta = [p - b for p, b in zip(params, before)]  # what was applied, after rounding
        step = Step(i, t, params, losses, g_d_raw, g_d, g_t, trait_loss, dots, fired, delta)
        for probe in probes:
            probe.after_update(step)

    logs: dict[str, torch.Tensor] = {}
    for probe in probes:
        probe.finish(params)
        logs.update(probe.logs())
    return models.detach(params), logs


__all__ = ["train_teacher", "LossTerm", "Imitation", "trait_loss_of", "TraitGradient", "permute_within", "Step",
           "Probe", "LossProbe", "AlignmentProbe", "UpdateProbe", "DriveProbe", "CurveProbe", "student_optimizer", "decoupled_decay_for",
           "distill"]
