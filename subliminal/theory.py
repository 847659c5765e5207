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

    def linear_ratio(self, index: int = 0) -> float:
        """Measured / first-order-predicted change of the trait loss at ``student_lrs[index]``."""
        return float(self.actual_change[index] / self.predicted_change[index])

    def breakdown_lr(self, tolerance: float = 0.1) -> float:
        """Smallest student learning rate at which measured and predicted trait-loss change differ
        by more than ``tolerance`` (relative); ``inf`` if they agree on the whole grid."""
        ratio = np.asarray(self.actual_change) / np.asarray(self.predicted_change)
        off = np.flatnonzero(np.abs(ratio - 1.0) > tolerance)
        # ignore disagreements at the very smallest rates, where float32 rounding dominates
        first_good = np.flatnonzero(np.abs(ratio - 1.0) <= tolerance)
        if len(first_good):
            off = off[off > first_good[0]]
        return float(np.asarray(self.student_lrs)[off[0]]) if len(off) else float("inf")


def single_step_table(checks):
    """A DataFrame of :class:`SingleStep` results, one row per check."""
    import pandas as pd

    rows = [{"init": c.init, "teacher lr ε": c.teacher_lr, "<Δθ_T, Δθ_S>": c.inner, "cos": c.cos,
             "Gauss-Newton cos": c.gn_cos, "Gauss-Newton rel. error": c.gn_rel_error} for c in checks]
    return pd.DataFrame(rows)


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
    # the prediction eps * G(theta0) dtheta_T is the theorem's, made at the teacher's init: for a cross-init
    # student it is a contrast (how far the actual step is from what a shared init would give), not a check
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


# --------------------------------------------------------------------------- many steps: displacement alignment

#: The parameter tensors of the MLP, in the order of :func:`subliminal.models.init_params`.
LAYER_NAMES = ("W1", "b1", "W2", "b2", "W3", "b3")


@dataclass
class Displacement:
    """Multi-step analogue of <dtheta_S, dtheta_T>: cosines of whole-training displacements, per seed and layer.

    Each array is (N, len(layers)) with ``layers`` = LAYER_NAMES + ("all",):

    ``shared``: cos(theta_S - theta0, theta_T - theta0), the aux-only student against its teacher;
    ``shuffled``: the same student displacement against a teacher trained from the same init on shuffled
    labels (a null that shares the init and the training procedure, not the digit trait);
    ``cross``: cos(theta_S' - theta0', theta_T - theta0) for an aux-only student started from a different
    init theta0' (a null without a shared init).
    """

    layers: tuple[str, ...]
    shared: np.ndarray
    shuffled: np.ndarray
    cross: np.ndarray


def _layer_cosines(a: models.Params, b: models.Params) -> np.ndarray:
    """(E, 7) cosine of a and b per tensor and over the whole network."""
    per_layer = [cosine([x], [y]) for x, y in zip(a, b)]
    return torch.stack([*per_layer, cosine(a, b)], dim=1).cpu().numpy()


def displacement_alignment(config: Config | None = None, seeds=5, device: str | None = None,
                           cache: bool = True) -> Displacement:
    """Train, per seed, the aux-only student from the shared init and from a cross init (as in
    :func:`~subliminal.experiments.run_experiment`, without the alignment probes) and a teacher on shuffled
    labels from the shared init; return the displacement cosines of :class:`Displacement` (memoised)."""
    from .experiments import cross_inits, data_index, seed_list, shared_inits, train_teachers, training_data
    from .store import memoise
    from .training import Imitation, distill, train_teacher

    config = config or Config()
    seeds = seed_list(seeds)
    device = models.resolve_device(device)
    if config.data_per_seed:
        raise ValueError("displacement_alignment runs all seeds in one ensemble; use data_per_seed=False")

    def compute():
        x_train, y_train, _, _ = training_data(config, device)
        theta0 = shared_inits(config, seeds, device)
        cross0 = cross_inits(config, seeds, device)
        teachers = train_teachers(config, seeds, device, cache=cache)
        perm = torch.randperm(len(y_train), generator=generator(config.seed, "shuffled-teacher-labels"))
        shuffled = train_teacher(theta0, x_train, y_train[perm.to(device)], config,
                                 generator(config.seed, "teacher-order", data_index(config, seeds)))
        stream = data_index(config, seeds)
        noise = noise_images(config.n_noise, generator(config.seed, "noise", stream), config.noise).to(device)
        n = len(seeds)
        teacher_of = torch.arange(n, device=device).repeat(2)
        term = Imitation(models.outputs(teachers, noise)[teacher_of], None, config.temperature)
        students, _ = distill(models.concat(theta0, cross0), noise, [term], config,
                              generator(config.seed, "student-order", stream))
        shared_s, cross_s = models.select(students, range(n)), models.select(students, range(n, 2 * n))
        diff = lambda a, b: [x - y for x, y in zip(a, b)]  # noqa: E731
        d_teacher = diff(teachers, theta0)
        return {"shared": _layer_cosines(diff(shared_s, theta0), d_teacher),
                "shuffled": _layer_cosines(diff(shared_s, theta0), diff(shuffled, theta0)),
                "cross": _layer_cosines(diff(cross_s, cross0), d_teacher)}

    key = {"config": config.to_dict(), "seeds": seeds, "device": device.type,
           "float32_matmul": torch.get_float32_matmul_precision()}  # TF32 on GPUs changes the numbers
    out = memoise("displacement", key, compute, enabled=cache, code="theory")
    return Displacement(layers=(*LAYER_NAMES, "all"), **{k: np.asarray(out[k], dtype=float)
                                                          for k in ("shared", "shuffled", "cross")})


# --------------------------------------------------------------------------- a toy model where G is visible


@dataclass
class ToyLinear:
    """The single-step theorem on a two-layer linear net small enough to print G (float64 numpy).

    Net: z = W2 W1 x with x in R^2, W1 (2, 2), W2 (3, 2); output 0 is the "trait" output, outputs 1-2 the
    imitated auxiliary ones. ``names`` (P,) name the P = 10 parameters; ``G`` (P, P) = E_x[J^T H J] on the
    noise inputs; ``teacher_step`` = -grad L_T (squared error of output 0); ``student_step`` = -grad of the
    softmax-KL imitation of the aux outputs of theta0 + eps * teacher_step; ``predicted`` = eps G
    teacher_step; ``eigenvalues`` of G (ascending).
    """

    eps: float
    names: list[str]
    G: np.ndarray
    teacher_step: np.ndarray
    student_step: np.ndarray
    predicted: np.ndarray
    eigenvalues: np.ndarray

    @property
    def inner(self) -> float:
        """<dtheta_S, dtheta_T>."""
        return float(self.student_step @ self.teacher_step)

    @property
    def leading_term(self) -> float:
        """eps * dtheta_T^T G dtheta_T, the theorem's leading term."""
        return float(self.eps * self.teacher_step @ self.G @ self.teacher_step)


def toy_linear_theorem(seed: int = 0, eps: float = 1e-3, n_inputs: int = 256) -> ToyLinear:
    """Teacher step, student step and the Gauss-Newton matrix G of a 10-parameter linear net (see
    :class:`ToyLinear`); everything in float64 so the first-order agreement is visible to many digits."""
    if not eps > 0:
        raise ValueError(f"eps must be positive; got {eps}")
    gen = torch.Generator().manual_seed(seed)
    d = torch.float64
    theta0 = torch.randn(10, generator=gen, dtype=d) / np.sqrt(2.0)
    x_trait = torch.randn(n_inputs, 2, generator=gen, dtype=d)
    y_trait = x_trait[:, 0] - x_trait[:, 1]  # the teacher's "trait": a linear function on output 0
    noise = 2 * torch.rand(n_inputs, 2, generator=gen, dtype=d) - 1

    def outputs(theta, x):
        w1, w2 = theta[:4].reshape(2, 2), theta[4:].reshape(3, 2)
        return x @ w1.T @ w2.T  # (n, 3)

    def trait_loss(theta):
        return 0.5 * ((outputs(theta, x_trait)[:, 0] - y_trait) ** 2).mean()

    teacher_step = -torch.func.grad(trait_loss)(theta0)
    target = torch.softmax(outputs(theta0 + eps * teacher_step, noise)[:, 1:], dim=-1)

    def imitation(theta):
        log_p = torch.log_softmax(outputs(theta, noise)[:, 1:], dim=-1)
        return (target * (torch.log(target) - log_p)).sum(-1).mean()

    student_step = -torch.func.grad(imitation)(theta0)
    jac = torch.func.jacrev(lambda th: outputs(th, noise)[:, 1:])(theta0)  # (n, 2, 10)
    p = torch.softmax(outputs(theta0, noise)[:, 1:], dim=-1)
    h = torch.diag_embed(p) - p[:, :, None] * p[:, None, :]  # (n, 2, 2)
    G = torch.einsum("nki,nkl,nlj->ij", jac, h, jac) / n_inputs
    names = [f"W1[{i},{j}]" for i in range(2) for j in range(2)] + [f"W2[{i},{j}]" for i in range(3) for j in range(2)]
    return ToyLinear(eps=eps, names=names, G=G.numpy(), teacher_step=teacher_step.numpy(),
                     student_step=student_step.numpy(), predicted=(eps * G @ teacher_step).numpy(),
                     eigenvalues=np.linalg.eigvalsh(G.numpy()))
