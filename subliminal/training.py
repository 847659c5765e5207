"""Training loops: the teacher on digits, the students on noise.

Both loops train a whole ensemble at once (see ``models``). Every model sees
the same minibatch at every step; models differ in their initialisation and,
for students, in per-model flags that select the loss and the mitigation. The
distillation loop measures, at every step and for every model, the cosine
between the distillation gradient ``g_d`` and the trait gradient ``g_t``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from . import models
from .config import N_DIGITS, Config
from .data import batch_indices
from .gradients import cosine, project_out
from .losses import digit_cross_entropy, kl_to_target, log_probs, softmax_kl
from .mitigations import liminal_lambda


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


@dataclass
class StudentFlags:
    """Per-model switches of a student ensemble, each a bool tensor (E,).

    ``all_logits``: imitate all 10+m logits (else the m auxiliary ones only);
    ``project``: apply the projection mitigation; ``liminal``: add the liminal term.
    """

    all_logits: torch.Tensor
    project: torch.Tensor
    liminal: torch.Tensor


@dataclass
class TraitData:
    """What the trait gradient g_t is computed on.

    ``x`` (N, 784) MNIST training images; ``y`` (N,) their labels (labelled
    variant) or ``None``; ``teacher_digits`` (E, N, 10) the teachers' digit
    logits on ``x`` (label-free variant) or ``None``.
    """

    x: torch.Tensor
    y: torch.Tensor | None = None
    teacher_digits: torch.Tensor | None = None


@dataclass
class DistillLog:
    """Per-step records of a distillation run (all tensors on the CPU).

    ``loss`` (E, S): imitation loss; ``trait_loss`` (E, S); ``cosine`` (E, S):
    cos(g_d, g_t) before any projection; ``projected`` (E, S) bool;
    ``curve_steps`` (P,) and ``curve_acc`` (E, P): digit accuracy on the curve set.
    Without alignment tracking ``trait_loss``, ``cosine`` and ``projected`` are None.
    """

    loss: torch.Tensor
    trait_loss: torch.Tensor | None
    cosine: torch.Tensor | None
    projected: torch.Tensor | None
    curve_steps: torch.Tensor
    curve_acc: torch.Tensor


@dataclass
class ImitationTargets:
    """What the students imitate: the teachers' log-probabilities, normalised once.

    ``aux`` (E, N, m): log-softmax of the auxiliary logits / T; ``all``
    (E, N, 10+m): log-softmax of all logits / T, or None when no student needs it.
    """

    aux: torch.Tensor
    all: torch.Tensor | None = None

    @classmethod
    def from_logits(cls, logits: torch.Tensor, temperature: float = 1.0, with_all: bool = True) -> "ImitationTargets":
        """From teacher logits (E, N, 10+m)."""
        return cls(log_probs(logits[..., N_DIGITS:], temperature), log_probs(logits, temperature) if with_all else None)

    def batch(self, idx: torch.Tensor) -> "ImitationTargets":
        return ImitationTargets(self.aux[:, idx], None if self.all is None else self.all[:, idx])


def imitation_loss(student_logits: torch.Tensor, targets: ImitationTargets,
                   all_logits: torch.Tensor | None, temperature: float = 1.0) -> torch.Tensor:
    """Distillation loss (E,): KL on the aux logits, or on all logits where ``all_logits`` (E,) is set."""
    kl_aux = kl_to_target(student_logits[..., N_DIGITS:], targets.aux, temperature)
    if all_logits is None:
        return kl_aux
    kl_all = kl_to_target(student_logits, targets.all, temperature)
    return torch.where(all_logits, kl_all, kl_aux)


def trait_loss(logits: torch.Tensor, trait: TraitData, idx: torch.Tensor) -> torch.Tensor:
    """Trait loss (E,) of the students' logits (E, B, 10+m) on the trait batch ``idx``:
    digit CE, or KL to the teacher's digit logits."""
    if trait.y is not None:
        return digit_cross_entropy(logits, trait.y[idx])
    return softmax_kl(logits[..., :N_DIGITS], trait.teacher_digits[:, idx])


def distill(init: models.Params, targets: torch.Tensor, noise: torch.Tensor, flags: StudentFlags,
            config: Config, generator: torch.Generator, trait: TraitData | None = None,
            trait_generator: torch.Generator | None = None, base_targets: torch.Tensor | None = None,
            curve_x: torch.Tensor | None = None, curve_y: torch.Tensor | None = None,
            progress: bool = False) -> tuple[models.Params, DistillLog]:
    """Distil an ensemble of students on noise images and record alignment.

    ``targets`` (E, N, 10+m): each student's teacher logits on ``noise`` (N, 784),
    computed once (the teacher is frozen). ``base_targets`` (E, N, 10+m): the
    base model's logits on ``noise``, needed by liminal students. ``trait`` and
    ``trait_generator`` are needed when ``config.track_alignment`` or any student
    projects. Returns the trained parameters and a :class:`DistillLog`.
    """
    device = noise.device
    n_models = len(init[0])
    any_project, any_liminal = bool(flags.project.any()), bool(flags.liminal.any())
    needs_trait = config.track_alignment or any_project
    if needs_trait and (trait is None or trait_generator is None):
        raise ValueError("alignment tracking and projection need `trait` data and a `trait_generator`")
    if any_liminal and base_targets is None:
        raise ValueError("liminal students need `base_targets` (the base model's logits on the noise)")

    all_logits = flags.all_logits if bool(flags.all_logits.any()) else None
    imitated = ImitationTargets.from_logits(targets, config.temperature, with_all=all_logits is not None)
    params = [p.detach().clone().requires_grad_(True) for p in init]
    # fused: one pass over each parameter instead of a dozen (same update rule)
    optimizer = torch.optim.Adam(params, lr=config.student_lr, weight_decay=config.student_weight_decay, fused=True)
    batches = [idx.to(device) for idx in batch_indices(len(noise), config.student_batch_size, config.student_epochs,
                                                        generator)]
    n_steps = len(batches)
    if needs_trait:
        trait_epochs = -(-n_steps * config.trait_batch_size // len(trait.x)) + 1
        trait_batches = [idx.to(device) for idx in batch_indices(len(trait.x), config.trait_batch_size,
                                                                 trait_epochs, trait_generator)[:n_steps]]
    limit = slice(N_DIGITS, None) if config.liminal_outputs == "aux" else slice(None)
    base_log_p = log_probs(base_targets[..., limit], config.liminal_temperature) if any_liminal else None
    liminal_weight = flags.liminal.to(noise.dtype) * config.liminal_scale * config.liminal_temperature ** 2

    loss_log = torch.zeros(n_models, n_steps, device=device)
    trait_log = torch.zeros(n_models, n_steps, device=device) if needs_trait else None
    cos_log = torch.zeros(n_models, n_steps, device=device) if needs_trait else None
    proj_log = torch.zeros(n_models, n_steps, dtype=torch.bool, device=device) if needs_trait else None
    curve_points = sorted(set(range(0, n_steps, config.curve_every)) | {n_steps})
    curve_acc = []

    for step, idx in enumerate(tqdm(batches, desc="students", disable=not progress, leave=False)):
        if curve_x is not None and step in curve_points:
            curve_acc.append(models.accuracy(params, curve_x, curve_y))
        with models.matmul_precision(config.precision, device):  # weights cast once for both batches
            logits = models.forward(params, noise[idx])
            if needs_trait:
                trait_logits = models.forward(params, trait.x[trait_batches[step]])
        loss = imitation_loss(logits, imitated.batch(idx), all_logits, config.temperature)
        total = loss
        if any_liminal:
            lam = liminal_lambda(step / n_steps, config.liminal_lambda0, config.tau2)
            anchor = kl_to_target(logits[..., limit], base_log_p[:, idx], config.liminal_temperature)
            total = total + lam * liminal_weight * anchor
        g_d = list(torch.autograd.grad(total.sum(), params))
        loss_log[:, step] = loss.detach()

        if needs_trait:
            t_loss = trait_loss(trait_logits, trait, trait_batches[step])
            g_t = torch.autograd.grad(t_loss.sum(), params)
            cos = cosine(g_d, g_t)
            mask = flags.project & (cos > config.projection_tau)
            if any_project:
                g_d = project_out(g_d, g_t, mask)
            trait_log[:, step] = t_loss.detach()
            cos_log[:, step] = cos
            proj_log[:, step] = mask

        for p, g in zip(params, g_d):
            p.grad = g
        optimizer.step()

    if curve_x is not None:
        curve_acc.append(models.accuracy(params, curve_x, curve_y))
    else:
        curve_points = []
    to_cpu = lambda t: None if t is None else t.cpu()  # noqa: E731
    log = DistillLog(
        loss=loss_log.cpu(), trait_loss=to_cpu(trait_log), cosine=to_cpu(cos_log), projected=to_cpu(proj_log),
        curve_steps=torch.tensor(curve_points),
        curve_acc=torch.stack(curve_acc, dim=1).cpu() if curve_acc else torch.zeros(n_models, 0),
    )
    return models.detach(params), log
