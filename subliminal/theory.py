"""Numerical checks of the single-step theorem (Cloud, Le et al., 2025, Theorem 1).

Teacher and student share parameters theta0. The teacher takes one gradient
step of size eps on its trait loss L_T (digit cross-entropy):

    theta_T = theta0 + eps * dtheta_T,       dtheta_T = -grad L_T(theta0).

The student takes one step on an imitation loss l(f_theta(x), f_theta_T(x)) on
noise x. To first order in eps its step is a Gauss-Newton product,

    dtheta_S = -grad_theta l  ~  eps * E_x[J^T H J] dtheta_T,

with J the Jacobian of the imitated outputs and H = diag(p) - p p^T, so
<dtheta_T, dtheta_S> >= 0 and, for a small student step alpha,
L_T(theta0 + alpha dtheta_S) - L_T(theta0) ~ -alpha <dtheta_T, dtheta_S> <= 0.

Everything here works on a single model (ensemble axis of length 1) and plain
gradient steps, exactly the setting of the theorem (no Adam).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.func import jvp, vjp

from . import models
from .config import N_DIGITS, Config
from .data import load_mnist, noise_images
from .gradients import cosine, flat_dot
from .losses import digit_cross_entropy, softmax_kl
from .rng import generator


@dataclass
class SingleStep:
    """Result of :func:`single_step_check` (all plain floats / numpy arrays).

    ``inner``: <dtheta_T, dtheta_S>; ``cos``: their cosine; ``gn_cos`` and
    ``gn_rel_error``: agreement of dtheta_S with the Gauss-Newton prediction
    eps * G dtheta_T; ``student_lrs`` (L,), ``actual_change`` (L,) and
    ``predicted_change`` (L,): change of the teacher's trait loss L_T when the
    student moves by alpha * dtheta_S, measured and to first order.
    """

    teacher_lr: float
    init: str
    outputs: str
    inner: float
    cos: float
    gn_cos: float
    gn_rel_error: float
    student_lrs: np.ndarray
    actual_change: np.ndarray
    predicted_change: np.ndarray


def _imitated(logits: torch.Tensor, outputs: str) -> torch.Tensor:
    return logits[..., N_DIGITS:] if outputs == "aux" else logits


def gauss_newton_product(params: models.Params, x: torch.Tensor, v: models.Params, outputs: str = "aux",
                         temperature: float = 1.0) -> models.Params:
    """E_x[J^T H J] v for the softmax-KL imitation loss at ``params`` (one model).

    J: Jacobian of the imitated logits (divided by T) w.r.t. the parameters;
    H = diag(p) - p p^T, the Hessian of the KL in the student's logits.
    """
    def imitated_logits(*flat):
        return _imitated(models.forward(list(flat), x), outputs) / temperature

    logits, jv = jvp(imitated_logits, tuple(params), tuple(v))
    p = torch.softmax(logits, dim=-1)
    h_jv = p * jv - p * (p * jv).sum(-1, keepdim=True)  # (diag(p) - p p^T) J v, per sample
    _, pullback = vjp(imitated_logits, *params)
    return list(pullback(h_jv / x.shape[0]))  # mean over the batch (E=1)


def single_step_check(config: Config | None = None, seed: int = 0, teacher_lr: float = 1e-3,
                      student_lrs=None, init: str = "shared", outputs: str = "aux",
                      device: str | None = None) -> SingleStep:
    """One teacher step, one student step, and how the trait loss responds.

    ``init="shared"``: the student starts at the teacher's initialisation (the
    theorem's premise); ``"cross"``: at a different random initialisation, with
    the trait loss then measured at the student's own start. ``outputs``:
    imitate the ``"aux"`` logits (as in the experiment) or ``"all"`` logits.
    """
    if init not in ("shared", "cross") or outputs not in ("aux", "all"):
        raise ValueError("init must be 'shared' or 'cross' and outputs 'aux' or 'all'")
    if not teacher_lr > 0:
        raise ValueError(f"teacher_lr must be positive; got {teacher_lr}")
    config = config or Config()
    device = models.resolve_device(device)
    student_lrs = np.logspace(-2, 2, 9) if student_lrs is None else np.asarray(student_lrs, dtype=float)
    data = load_mnist()
    batch = torch.randperm(len(data.x_train), generator=generator(config.seed, "theory-batch", seed))
    batch = batch[: config.trait_batch_size]
    x_trait, y_trait = data.x_train[batch].to(device), data.y_train[batch].to(device)
    noise = noise_images(config.student_batch_size, generator(config.seed, "theory-noise", seed),
                         config.noise).to(device)

    theta0 = models.init_params([generator(config.seed, "init", seed)], config.hidden, config.n_outputs, device)
    start = theta0 if init == "shared" else models.init_params(
        [generator(config.seed, "cross-init", seed)], config.hidden, config.n_outputs, device)

    def trait_loss(params):
        return digit_cross_entropy(models.forward(params, x_trait), y_trait).sum()

    def grad(loss_fn, params):
        params = [p.detach().clone().requires_grad_(True) for p in params]
        return list(torch.autograd.grad(loss_fn(params), params))

    teacher_step = [-g for g in grad(trait_loss, theta0)]  # dtheta_T at the teacher's init
    teacher = [p + teacher_lr * d for p, d in zip(theta0, teacher_step)]
    with torch.no_grad():
        target = _imitated(models.forward(teacher, noise), outputs)

    def imitation(params):
        return softmax_kl(_imitated(models.forward(params, noise), outputs), target, config.temperature).sum()

    student_step = [-g for g in grad(imitation, start)]
    # the trait direction the student's step is compared with: -grad L_T at the student's start
    trait_dir = teacher_step if init == "shared" else [-g for g in grad(trait_loss, start)]
    inner = float(flat_dot(trait_dir, student_step))
    cos = float(cosine(trait_dir, student_step))

    predicted_step = [teacher_lr * g for g in gauss_newton_product(theta0, noise, teacher_step, outputs,
                                                                     config.temperature)]
    gn_cos = float(cosine(student_step, predicted_step))
    diff = [a - b for a, b in zip(student_step, predicted_step)]
    gn_rel_error = float(flat_dot(diff, diff).sqrt() / flat_dot(student_step, student_step).sqrt())

    with torch.no_grad():
        base = float(trait_loss(start))
        actual = [float(trait_loss([p + a * d for p, d in zip(start, student_step)])) - base for a in student_lrs]
    return SingleStep(
        teacher_lr=teacher_lr, init=init, outputs=outputs, inner=inner, cos=cos, gn_cos=gn_cos,
        gn_rel_error=gn_rel_error, student_lrs=student_lrs, actual_change=np.array(actual),
        predicted_change=-student_lrs * inner,
    )
