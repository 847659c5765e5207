"""An ensemble of MLPs 784 -> 256 -> 256 -> 10 + m, stored as stacked tensors.

Every parameter carries a leading *ensemble* axis E, so many models (seeds,
conditions) train as one batched model, as the reference code does:

    W1 (E, 784, H)  b1 (E, H)  W2 (E, H, H)  b2 (E, H)  W3 (E, H, 10+m)  b3 (E, 10+m)

Model ``e`` only ever touches slice ``e``; a batch shared by all models is
broadcast to them without copying.
"""

from __future__ import annotations

import contextlib
from typing import Iterable, Mapping, Sequence

import torch

from .config import N_DIGITS, TENSOR_NAMES, tensor_names
from .config import parameter_shapes
from .config import LAYERS  # noqa: F401  (positions in ``Params`` of the whole network and the hidden layers)

Params = list[torch.Tensor]  # [W1, b1, W2, b2, W3, b3], each with leading axis E
#: Every named tensor (and block of the last layer) -> (its position in ``Params``, the slice of
#: its last axis): the digit block is W3's columns and b3's entries 0-9, the aux block 10 on.
TENSORS: dict[str, tuple[int, slice]] = {
    "W1": (0, slice(None)), "b1": (1, slice(None)), "W2": (2, slice(None)), "b2": (3, slice(None)),
    "W3": (4, slice(None)), "b3": (5, slice(None)),
    "W3_digit": (4, slice(0, N_DIGITS)), "W3_aux": (4, slice(N_DIGITS, None)),
    "b3_digit": (5, slice(0, N_DIGITS)), "b3_aux": (5, slice(N_DIGITS, None)),
}
assert tuple(TENSORS) == TENSOR_NAMES, "models.TENSORS and config.TENSOR_NAMES must name the same tensors"


def mix_inits(base: Params, donor: Params, names: Iterable[str]) -> Params:
    """A copy of ``base`` whose tensors (or last-layer blocks) named in ``names`` come from ``donor``.

    E.g. ``mix_inits(cross, shared, ("W1", "b1"))``: a cross init with the shared first layer;
    ``("W3_digit",)`` takes W3's columns 0-9 only. Both ensembles must have the same shapes."""
    names = tensor_names(names)
    out = [p.clone() for p in base]
    for name in names:
        i, cols = TENSORS[name]
        out[i][..., cols] = donor[i][..., cols]
    return out


def permute_hidden(params: Params, orders: Sequence[tuple[torch.Tensor, torch.Tensor]], head: bool = True) -> Params:
    """Relabel the hidden units of every model: ``orders[e] = (p1, p2)``, permutations of the H units of layers
    1 and 2. Unit ``j`` of the result is unit ``p[j]`` of the input: W1's columns and b1 by p1, W2's rows by p1
    and its columns and b2 by p2, and (``head=True``) W3's rows by p2, which computes the same function in
    other coordinates; ``head=False`` leaves W3 as it was. Returns copies."""
    W1, b1, W2, b2, W3, b3 = params
    if len(orders) != len(W1):
        raise ValueError(f"one (p1, p2) per model: got {len(orders)} for {len(W1)} models")
    p1 = torch.stack([o[0] for o in orders]).to(W1.device)  # (E, H)
    p2 = torch.stack([o[1] for o in orders]).to(W1.device)
    rows = torch.arange(len(W1), device=W1.device)[:, None]
    W1 = W1[rows, :, p1].transpose(1, 2)  # indexed (E, H, 784), back to (E, 784, H)
    W2 = W2[rows, p1][rows, :, p2].transpose(1, 2)
    return [W1.contiguous(), b1[rows, p1], W2.contiguous(), b2[rows, p2],
            W3[rows, p2].contiguous() if head else W3.clone(), b3.clone()]


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``"cpu"``, ``"cuda"`` or ``None`` (CUDA when available) -> a usable torch.device.

    Every entry point (experiments, theory, sweeps, explorers, the CLI) resolves its device here."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not isinstance(device, (str, torch.device)):
        raise ValueError(f"device must be None, 'cpu' or 'cuda'; got {device!r}")
    try:
        device = torch.device(device)
    except RuntimeError:
        raise ValueError(f"device must be None, 'cpu' or 'cuda'; got {device!r}") from None
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be None, 'cpu' or 'cuda'; got {str(device)!r}")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was requested but no CUDA GPU is available; use the CPU instead")
    return device


def init_params(generators: Sequence[torch.Generator], hidden: int, n_outputs: int,
                device: torch.device | str = "cpu") -> Params:
    """One model per generator: weights N(0, 1/fan_in) (std 1/sqrt(fan_in)), biases 0."""
    weight_shapes = parameter_shapes(hidden, n_outputs)[0::2]
    per_model = []
    for gen in generators:
        model = []
        for fan_in, fan_out in weight_shapes:
            model.append(torch.randn(fan_in, fan_out, generator=gen) / fan_in ** 0.5)
            model.append(torch.zeros(fan_out))
        per_model.append(model)
    return [torch.stack(tensors).to(device) for tensors in zip(*per_model)]


def features(params: Params, x: torch.Tensor) -> torch.Tensor:
    """The last hidden layer's activations (E, B, H) for inputs ``x`` (B, 784) shared by all models, or (E, B, 784).

    A shared batch is broadcast, not copied: every layer is one batched matrix
    product with its bias fused in, and all activations stay contiguous (E, B, H).
    The ReLUs work in place (a matrix product's backward never needs its output),
    which saves a pass over memory and a fresh buffer per layer.
    """
    W1, b1, W2, b2 = params[:4]
    if torch.is_autocast_enabled(x.device.type):  # cast the shared batch once, before broadcasting it
        x = x.to(torch.get_autocast_dtype(x.device.type))
    if x.dim() == 2:
        x = x.expand(len(W1), *x.shape)
    h = torch.baddbmm(b1[:, None, :], x, W1).relu_()
    return torch.baddbmm(b2[:, None, :], h, W2).relu_()


def head(W3: torch.Tensor, b3: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """Logits (E, B, k), never below float32, of the last layer ``W3`` (E, H, k), ``b3`` (E, k) on features ``h``."""
    logits = torch.baddbmm(b3[:, None, :], h, W3)
    return logits.float() if logits.dtype in (torch.bfloat16, torch.float16) else logits


def forward(params: Params, x: torch.Tensor) -> torch.Tensor:
    """Logits (E, B, 10+m) for inputs ``x`` (B, 784) shared by all models, or (E, B, 784)."""
    return head(params[4], params[5], features(params, x))


def matmul_precision(precision: str, device: torch.device | str):
    """A context for training forward passes: ``"fp32"`` changes nothing; ``"bf16"``
    runs the matrix products (and their backward) in bfloat16 through autocast,
    while parameters, logits, losses, gradients and the optimiser stay float32.

    bf16 halves the cost of every matrix product on CPUs with native bf16
    (AVX512-BF16, AMX) and on GPUs; elsewhere it can be slower than fp32.
    """
    if precision == "fp32":
        return contextlib.nullcontext()
    if precision == "bf16":
        return torch.autocast(torch.device(device).type, dtype=torch.bfloat16)
    raise ValueError(f"precision must be 'fp32' or 'bf16'; got {precision!r}")


def predict_digits(params: Params, x: torch.Tensor, batch_size: int = 5000) -> torch.Tensor:
    """Digit predictions (E, N): argmax over logits 0-9 (the auxiliary logits are ignored)."""
    with torch.no_grad():
        return torch.cat([forward(params, chunk)[..., :N_DIGITS].argmax(-1) for chunk in x.split(batch_size)], dim=1)


def predictions_with_heads(params: Params, heads_from: Sequence[Params], x: torch.Tensor,
                           batch_size: int = 5000) -> list[torch.Tensor]:
    """Digit predictions (E, N) of ``params`` with the digit head of each ensemble in ``heads_from``;
    the hidden layers run once for all heads."""
    predicted = [[] for _ in heads_from]
    with torch.no_grad():
        for chunk in x.split(batch_size):
            h = features(params, chunk)
            for out, source in zip(predicted, heads_from):
                out.append(head(*digit_head(source), h).argmax(-1))
    return [torch.cat(out, dim=1) for out in predicted]


def accuracy_with_heads(params: Params, heads_from: Sequence[Params], x: torch.Tensor, y: torch.Tensor,
                        batch_size: int = 5000) -> list[torch.Tensor]:
    """Digit accuracy (E,) of ``params`` with the digit head of each ensemble in ``heads_from``.

    Equal to ``[accuracy(with_digit_head(params, h), x, y) for h in heads_from]``; the
    hidden layers run once for all heads."""
    return [fraction_correct(p, y) for p in predictions_with_heads(params, heads_from, x, batch_size)]


def class_counts(params: Params, x: torch.Tensor, y: torch.Tensor, batch_size: int = 5000,
                 predicted: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(predicted_counts (E, 10), balanced_accuracy (E,)): how many images each model assigns to each
    digit, and the mean over digits of the share of that digit's images it gets right.
    ``predicted``: the models' digit predictions (E, N) on ``x`` when the caller has them."""
    predicted = predict_digits(params, x, batch_size) if predicted is None else predicted
    y = y.to(x.device).expand_as(predicted)
    counts = torch.zeros(len(predicted), N_DIGITS, dtype=torch.long, device=x.device)
    correct = torch.zeros_like(counts)
    counts.scatter_add_(1, predicted, torch.ones_like(predicted))
    correct.scatter_add_(1, y, (predicted == y).long())
    sizes = torch.bincount(y[0], minlength=N_DIGITS).clamp_min(1)
    return counts, (correct / sizes).mean(dim=1)


def displacement_cosines(params: Params, start: Params, teacher: Params, teacher_start: Params) -> torch.Tensor:
    """(E, 7): cos(θ - θ_start, θ_T - θ_T,start) per tensor (W1, b1, W2, b2, W3, b3) and over all of them.

    The multi-step analogue of <Δθ_S, Δθ_T>: does the student's whole-training displacement
    point where its teacher's did? 0 where either displacement is zero."""
    student = [(a - b).flatten(1) for a, b in zip(params, start)]
    teach = [(a - b).flatten(1) for a, b in zip(teacher, teacher_start)]
    parts = [*zip(student, teach), (torch.cat(student, 1), torch.cat(teach, 1))]
    out = []
    for s, t in parts:
        norms = s.norm(dim=1) * t.norm(dim=1)
        out.append(torch.where(norms > 0, (s * t).sum(1) / norms.clamp_min(1e-30), torch.zeros_like(norms)))
    return torch.stack(out, dim=1)


#: The columns of :func:`displacement_cosines`.
DISPLACEMENT_PARTS = ("W1", "b1", "W2", "b2", "W3", "b3", "all")


def digit_head(params: Params) -> tuple[torch.Tensor, torch.Tensor]:
    """The digit head: columns 0-9 of W3 and entries 0-9 of b3, W3[..., :10] (E, H, 10) and b3[..., :10] (E, 10)."""
    return params[4][..., :N_DIGITS], params[5][..., :N_DIGITS]


def digit_head_shift(params: Params, start: Params) -> torch.Tensor:
    """(E,) the largest absolute change of any digit-head weight or bias between ``start`` and ``params``."""
    return torch.stack([(now - then).abs().flatten(1).amax(1)
                        for now, then in zip(digit_head(params), digit_head(start))]).amax(0)


def digit_head_norm_ratio(params: Params, start: Params) -> torch.Tensor:
    """(E,) ||digit head of ``params``|| / ||digit head of ``start``|| (weights and biases together):
    how much a weight decay shrank the head, which the aux-only loss leaves without a gradient."""
    def norm(p: Params) -> torch.Tensor:
        return torch.stack([t.flatten(1).square().sum(1) for t in digit_head(p)]).sum(0).sqrt()

    return norm(params) / norm(start)


def with_digit_head(params: Params, head_from: Params) -> Params:
    """A copy of ``params`` whose digit head is taken from ``head_from`` (e.g. the initial head)."""
    W3, b3 = params[4].clone(), params[5].clone()
    W3[..., :N_DIGITS], b3[..., :N_DIGITS] = digit_head(head_from)
    return [*params[:4], W3, b3]


def accuracy(params: Params, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Digit accuracy (E,) of every model on images ``x`` (N, 784) with labels ``y`` (N,)."""
    return fraction_correct(predict_digits(params, x), y)


def fraction_correct(predicted: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Accuracy (E,) of predicted digits ``predicted`` (E, N) against labels ``y`` (N,)."""
    return (predicted == y.to(predicted.device)).float().mean(dim=1)


def outputs(params: Params, x: torch.Tensor, batch_size: int = 8192) -> torch.Tensor:
    """All logits (E, N, 10+m) without gradients, computed in chunks."""
    with torch.no_grad():
        return torch.cat([forward(params, chunk) for chunk in x.split(batch_size)], dim=1)


def perturb(params: Params, sigma: float, generators: Sequence[torch.Generator]) -> Params:
    """Add N(0, sigma^2) noise to every parameter of every model (one generator per model)."""
    noise = [[torch.randn(p.shape[1:], generator=g) for p in params] for g in generators]
    return [p + sigma * torch.stack(per_param).to(p.device) for p, per_param in zip(params, zip(*noise))]


def tensor_stds(stds: Mapping[str, float], default: float, params: Params) -> list[torch.Tensor]:
    """The std of every column (last-axis entry) of every tensor of ``params``: ``default``, then the whole
    tensors named in ``stds``, then the blocks named in it (a block overrides its tensor). Float64 on the CPU."""
    names = tensor_names(stds, "per-tensor stds")
    out = [torch.full((p.shape[-1],), float(default), dtype=torch.float64) for p in params]
    for name in sorted(names, key=lambda n: TENSORS[n][1] != slice(None)):  # whole tensors first
        i, cols = TENSORS[name]
        out[i][cols] = float(stds[name])
    return out


def perturb_tensors(params: Params, stds: Mapping[str, float], generators: Sequence[torch.Generator],
                    default: float = 0.0) -> Params:
    """Add N(0, std^2) noise with a std per tensor or block (see :func:`tensor_stds`), one generator per model.

    The noise is drawn as :func:`perturb` draws it (every tensor of every model, whatever its std), so a
    tensor's noise is the same whichever others are perturbed; a tensor (or block) with std 0 is kept
    bit for bit, and a tensor whose std is uniform gets exactly ``perturb``'s ``p + std * noise``."""
    per_column = tensor_stds(stds, default, params)
    noise = [[torch.randn(p.shape[1:], generator=g) for p in params] for g in generators]
    out = []
    for p, per_param, std in zip(params, zip(*noise), per_column):
        n = torch.stack(per_param).to(p.device)
        values = sorted(set(std.tolist()))
        if values == [0.0]:
            out.append(p)
        elif len(values) == 1:
            out.append(p + values[0] * n)
        else:
            q = p.clone()
            for sigma in values:
                if sigma > 0:
                    cols = (std == sigma).to(p.device)
                    q[..., cols] = p[..., cols] + sigma * n[..., cols]
            out.append(q)
    return out


def select(params: Params, members: Sequence[int] | torch.Tensor) -> Params:
    """The sub-ensemble of the given members (copies)."""
    index = torch.as_tensor(members, dtype=torch.long, device=params[0].device)
    return [p.index_select(0, index) for p in params]


def concat(*ensembles: Params) -> Params:
    """Stack several ensembles into one, in order."""
    return [torch.cat(tensors) for tensors in zip(*ensembles)]


def detach(params: Params) -> Params:
    return [p.detach().clone() for p in params]


def to_numpy(params: Params) -> list:
    return [p.detach().cpu().numpy() for p in params]


def from_numpy(arrays: list, device: torch.device | str = "cpu") -> Params:
    return [torch.as_tensor(a).to(device) for a in arrays]
