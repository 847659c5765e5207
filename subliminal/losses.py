"""The losses of the experiment, one value per ensemble member.

All take logits of shape (E, B, K) and return a tensor of shape (E,): the
batch mean for each model. Summing over models and differentiating gives each
model its own gradient, because models share no parameters.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .config import N_DIGITS


#: The name of the distillation loss term (``training.Imitation``) in a step's losses and in the logs.
IMITATION = "imitation"


def digit_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the digit logits 0-9 (E, B, 10+m) against labels (B,), or per model (E, B) -> (E,)."""
    digit_log_p = F.log_softmax(logits[..., :N_DIGITS], dim=-1)
    picked = digit_log_p.gather(-1, labels.expand(len(logits), -1).unsqueeze(-1))
    return -picked.squeeze(-1).mean(dim=1)


def digit_label_part(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The label part of the digit cross-entropy, mean_k z_k - z_y (no logsumexp) -> (E,).

    Cross-entropy splits as CE = (mean_k z_k - z_y) + (logsumexp z - mean_k z_k): this part
    carries the labels; :func:`digit_confidence` is the label-free rest.
    """
    z = logits[..., :N_DIGITS]
    picked = z.gather(-1, labels.expand(len(logits), -1).unsqueeze(-1)).squeeze(-1)
    return (z.mean(dim=-1) - picked).mean(dim=1)


def digit_confidence(logits: torch.Tensor) -> torch.Tensor:
    """The label-free part of the digit cross-entropy, logsumexp z - mean_k z_k -> (E,).

    It equals KL(uniform || softmax(z)) + log 10, so its gradient is that KL's: it only
    asks the network to be confident, in any class.
    """
    z = logits[..., :N_DIGITS]
    return (torch.logsumexp(z, dim=-1) - z.mean(dim=-1)).mean(dim=1)


def softmax_kl(student_logits: torch.Tensor, target_logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """KL(softmax(target/T) || softmax(student/T)) per model, batch mean -> (E,).

    This is the distillation loss of the reference code (``kl_div`` with
    ``batchmean``): the student imitates the target's distribution.
    """
    return kl_to_target(student_logits, log_probs(target_logits, temperature), temperature)


def log_probs(logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """log softmax(logits / T) over the last axis (same shape)."""
    return F.log_softmax(logits / temperature, dim=-1)


def kl_to_target(student_logits: torch.Tensor, target_log_p: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """The same KL with the target already given as log-probabilities (E, B, K) -> (E,).

    A frozen teacher's targets never change, so training loops normalise them
    once instead of at every step.
    """
    student_log_p = log_probs(student_logits, temperature)
    kl = (target_log_p.exp() * (target_log_p - student_log_p)).sum(dim=-1)
    return kl.mean(dim=1)
