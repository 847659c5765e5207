"""The checked exercises: each check passes a correct answer and catches plausible wrong ones.

A correct answer is written here the way a reader would write it (not by calling
the package's function), and every wrong answer is a mistake a reader plausibly
makes. The test asserts the check returns False *and* prints the specific hint.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import stats

from subliminal import exercises, models, rng
from subliminal.config import N_DIGITS

# --------------------------------------------------------------------------- reader-style answers


def kl_aux(student, teacher):
    p_t = F.log_softmax(teacher[..., 10:], -1)
    return (p_t.exp() * (p_t - F.log_softmax(student[..., 10:], -1))).sum(-1).mean(-1)


def derangement(n, generator):
    if n < 2:
        raise ValueError("n must be at least 2")
    while True:
        perm = torch.randperm(n, generator=generator)
        if not (perm == torch.arange(n)).any():
            return perm


def head_shift(params, start):
    w = (params[4][..., :10] - start[4][..., :10]).abs().flatten(1).amax(1)
    b = (params[5][..., :10] - start[5][..., :10]).abs().amax(1)
    return torch.maximum(w, b)


def mean_ci(values):
    values = np.asarray(values, float)
    if len(values) < 2:
        return values.mean(), float("nan")
    return values.mean(), stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values))


def softmax_hessian(z):
    p = torch.softmax(z, -1)
    return torch.diag(p) - torch.outer(p, p)


def gauss_newton(params, x, v, outputs):
    def logits(*flat):
        z = models.forward(list(flat), x)
        return z[..., 10:] if outputs == "aux" else z

    z, jv = torch.func.jvp(logits, tuple(params), tuple(v))
    p = torch.softmax(z, -1)
    hjv = p * jv - p * (p * jv).sum(-1, keepdim=True)
    _, pull = torch.func.vjp(logits, *params)
    return list(pull(hjv / x.shape[0]))


def first_order(teacher_step, student_step, alphas):
    inner = sum(float((a * b).sum()) for a, b in zip(teacher_step, student_step))
    return -np.asarray(alphas) * inner


def flat_dot(a, b):
    return sum((x * y).reshape(len(x), -1).sum(1) for x, y in zip(a, b))


def cosine(a, b):
    dot, norms = flat_dot(a, b), (flat_dot(a, a) * flat_dot(b, b)).sqrt()
    return torch.where(norms > 0, dot / norms.clamp_min(1e-300), torch.zeros_like(dot))


def probe(params, noise, teacher, x, y):
    params = [p.clone().requires_grad_(True) for p in params]
    kl = kl_aux(models.forward(params, noise), teacher)
    g_d = torch.autograd.grad(kl.sum(), params)
    ce = F.cross_entropy(models.forward(params, x)[..., :10].transpose(1, 2), y.expand(len(params[0]), -1),
                         reduction="none").mean(1)
    g_t = torch.autograd.grad(ce.sum(), params)
    return cosine(list(g_d), list(g_t))


def project(g_d, g_t, enabled, tau, beta=1.0, layers="all"):
    idx = [0, 1, 2, 3] if layers == "hidden" else list(range(len(g_d)))
    d, t = [g_d[i] for i in idx], [g_t[i] for i in idx]
    fire = enabled & (cosine(d, t) > tau)
    coef = torch.where(fire, beta * flat_dot(d, t) / flat_dot(t, t).clamp_min(1e-300), torch.zeros(len(fire),
                                                                                                     dtype=d[0].dtype))
    out = list(g_d)
    for i in idx:
        out[i] = g_d[i] - coef.view(-1, *[1] * (g_d[i].dim() - 1)) * g_t[i]
    return out


def liminal(t, lambda0, tau2):
    return lambda0 + (1 - lambda0) * t / tau2 if t <= tau2 else 1 - (t - tau2) / (1 - tau2)


def anchor(student, base, t, config):
    sl = slice(10, None) if config.liminal_outputs == "aux" else slice(None)
    T = config.liminal_temperature
    p_b = F.log_softmax(base[..., sl] / T, -1)
    kl = (p_b.exp() * (p_b - F.log_softmax(student[..., sl] / T, -1))).sum(-1).mean(-1)
    return config.liminal_scale * T ** 2 * liminal(t, config.liminal_lambda0, config.tau2) * kl


BLOCKS = {"W1": (0, slice(None)), "b1": (1, slice(None)), "W2": (2, slice(None)), "b2": (3, slice(None)),
          "W3": (4, slice(None)), "b3": (5, slice(None)), "W3_digit": (4, slice(0, 10)),
          "W3_aux": (4, slice(10, None)), "b3_digit": (5, slice(0, 10)), "b3_aux": (5, slice(10, None))}


def partial_init(base, donor, names):
    out = [p.clone() for p in base]
    for name in names:
        i, cols = BLOCKS[name]
        out[i][..., cols] = donor[i][..., cols]
    return out


def relabel(params, p1, p2):
    W1, b1, W2, b2, W3, b3 = params
    return [W1[..., p1], b1[..., p1], W2[:, p1][..., p2], b2[..., p2], W3[:, p2], b3.clone()]


SOLUTIONS = {
    "check_imitation_loss": kl_aux,
    "check_derangement": derangement,
    "check_digit_head_shift": head_shift,
    "check_mean_ci": mean_ci,
    "check_softmax_hessian": softmax_hessian,
    "check_gauss_newton_product": gauss_newton,
    "check_first_order_change": first_order,
    "check_cosine": cosine,
    "check_alignment_probe": probe,
    "check_fraction_positive": lambda cos: (np.asarray(cos) > 0).mean(axis=1),
    "check_epoch_of_step": lambda n, per: np.arange(n) // per,
    "check_projection": project,
    "check_partial_projection": project,
    "check_liminal_schedule": liminal,
    "check_liminal_anchor": anchor,
    "check_steps_per_epoch": lambda c: -(-c.n_noise // c.student_batch_size),
    "check_paired_difference": lambda a, b: mean_ci(np.asarray(a) - np.asarray(b)),
    "check_first_adam_step": lambda grads, lr: [-lr * g / (g.abs() + 1e-8) for g in grads],
    "check_chance_accuracy": lambda labels, predicted: float(
        (np.asarray(predicted) / np.sum(predicted) * np.asarray(labels) / np.sum(labels)).sum()),
    "check_partial_init": partial_init,
    "check_hidden_permutation": relabel,
}

# --------------------------------------------------------------------------- plausible wrong answers


def _reverse_kl(student, teacher):
    return kl_aux(teacher, student)


def _kl_all_logits(student, teacher):
    pad = lambda z: torch.cat([torch.zeros(*z.shape[:-1], 10, dtype=z.dtype), z], -1)  # noqa: E731
    p_t = F.log_softmax(teacher, -1)
    return (p_t.exp() * (p_t - F.log_softmax(student, -1))).sum(-1).mean(-1) + 0 * pad(student).sum()


def _randperm(n, generator):
    return torch.randperm(n, generator=generator)


def _roll(n, generator):
    if n < 2:
        raise ValueError("n >= 2")
    shift = int(torch.randint(1, n, (1,), generator=generator))
    return torch.roll(torch.arange(n), shift)


def _whole_last_layer(params, start):
    return torch.maximum((params[4] - start[4]).abs().flatten(1).amax(1), (params[5] - start[5]).abs().amax(1))


def _normal_ci(values):
    values = np.asarray(values, float)
    return values.mean(), 1.96 * values.std(ddof=1) / math.sqrt(len(values))


def _identity_h(params, x, v, outputs):
    def logits(*flat):
        z = models.forward(list(flat), x)
        return z[..., 10:] if outputs == "aux" else z

    _, jv = torch.func.jvp(logits, tuple(params), tuple(v))
    _, pull = torch.func.vjp(logits, *params)
    return list(pull(jv / x.shape[0]))


def _summed_gn(params, x, v, outputs):
    return [g * x.shape[0] for g in gauss_newton(params, x, v, outputs)]


def _diag_only(z):
    return torch.diag(torch.softmax(z, -1))


def _plus_sign(teacher_step, student_step, alphas):
    return -first_order(teacher_step, student_step, alphas)


def _unnormalised(a, b):
    return flat_dot(a, b)


def _nan_at_zero(a, b):
    return flat_dot(a, b) / (flat_dot(a, a) * flat_dot(b, b)).sqrt()


def _per_layer(a, b):
    return torch.stack([cosine([x], [y]) for x, y in zip(a, b)]).mean(0)


def _probe_all_logits(params, noise, teacher, x, y):
    params = [p.clone().requires_grad_(True) for p in params]
    p_t = F.log_softmax(teacher, -1)
    kl = (p_t.exp() * (p_t - F.log_softmax(models.forward(params, noise), -1))).sum(-1).mean(-1)
    g_d = torch.autograd.grad(kl.sum(), params)
    ce = F.cross_entropy(models.forward(params, x)[..., :10].transpose(1, 2), y.expand(len(params[0]), -1),
                         reduction="none").mean(1)
    g_t = torch.autograd.grad(ce.sum(), params)
    return cosine(list(g_d), list(g_t))


def _ignore_tau(g_d, g_t, enabled, tau):
    return project(g_d, g_t, enabled, 0.0)


def _ignore_enabled(g_d, g_t, enabled, tau):
    return project(g_d, g_t, torch.ones_like(enabled), tau)


def _norm_not_squared(g_d, g_t, enabled, tau):
    fire = enabled & (cosine(g_d, g_t) > tau)
    coef = torch.where(fire, flat_dot(g_d, g_t) / flat_dot(g_t, g_t).sqrt(), torch.zeros(len(fire),
                                                                                         dtype=g_d[0].dtype))
    return [d - coef.view(-1, *[1] * (d.dim() - 1)) * t for d, t in zip(g_d, g_t)]


def _ignore_beta(g_d, g_t, enabled, tau, beta, layers):
    return project(g_d, g_t, enabled, tau, 1.0, layers)


def _all_layers(g_d, g_t, enabled, tau, beta, layers):
    return project(g_d, g_t, enabled, tau, beta, "all")


def _decay_from_zero(t, lambda0, tau2):  # the decay phase not shifted to start at tau2
    return lambda0 + (1 - lambda0) * t / tau2 if t <= tau2 else 1 - t / (1 - tau2)


def _no_warm_phase(t, lambda0, tau2):  # lambda0 ignored: the rise starts at 0
    return t / tau2 if t <= tau2 else 1 - (t - tau2) / (1 - tau2)


def _no_t_squared(student, base, t, config):
    return anchor(student, base, t, config) / config.liminal_temperature ** 2


def _no_softening(student, base, t, config):
    return anchor(student, base, t, config.replace(liminal_temperature=1.0)) * config.liminal_temperature ** 2


def _unpaired(a, b):
    return np.mean(a) - np.mean(b), math.hypot(mean_ci(a)[1], mean_ci(b)[1])


def _rows_not_columns(base, donor, names):  # a block taken as rows (hidden units) of W3
    out = [p.clone() for p in base]
    for name in names:
        i, cols = BLOCKS[name]
        out[i][:, cols] = donor[i][:, cols]
    return out


def _in_place(base, donor, names):
    for name in names:
        i, cols = BLOCKS[name]
        base[i][..., cols] = donor[i][..., cols]
    return base


def _not_copied(base, donor, names):
    out = list(base)
    for name in names:
        i, cols = BLOCKS[name]
        if cols == slice(None):
            out[i] = donor[i]
        else:
            out[i] = out[i].clone()
            out[i][..., cols] = donor[i][..., cols]
    return out


def _w2_axes_swapped(params, p1, p2):
    W1, b1, W2, b2, W3, b3 = params
    return [W1[..., p1], b1[..., p1], W2[:, p2][..., p1], b2[..., p2], W3[:, p2], b3.clone()]


def _head_columns(params, p1, p2):
    out = relabel(params, p1, p2)
    out[4] = params[4][..., p2]
    return out


def _inverse(params, p1, p2):
    return relabel(params, torch.argsort(p1), torch.argsort(p2))


WRONG = [
    ("check_imitation_loss", _reverse_kl, "KL(student || teacher)"),
    ("check_imitation_loss", _kl_all_logits, "over all 10 + m logits"),
    ("check_imitation_loss", lambda s, t: kl_aux(s, t) * s.shape[1], "factor B"),
    ("check_derangement", _randperm, "keep their own teacher"),
    ("check_derangement", _roll, "only 3 of the 9 derangements"),
    ("check_digit_head_shift", _whole_last_layer, "only the auxiliary columns"),
    ("check_digit_head_shift", lambda p, s: (p[4][..., :10] - s[4][..., :10]).abs().flatten(1).amax(1),
     "include the bias"),
    ("check_mean_ci", _normal_ci, "normal quantile 1.96"),
    ("check_softmax_hessian", _diag_only, "H @ ones must be 0"),
    ("check_gauss_newton_product", _identity_h, "H must annihilate the all-ones vector"),
    ("check_gauss_newton_product", _summed_gn, "not the sum"),
    ("check_first_order_change", _plus_sign, "wrong sign"),
    ("check_cosine", _unnormalised, "not normalised"),
    ("check_cosine", _nan_at_zero, "return 0 there"),
    ("check_cosine", _per_layer, "averaged per-tensor cosines"),
    ("check_alignment_probe", _probe_all_logits, "KL over all 10 + m logits"),
    ("check_fraction_positive", lambda cos: (np.asarray(cos) >= 0).mean(axis=1), "not >= 0"),
    ("check_fraction_positive", lambda cos: np.asarray(cos) > 0, "shape (N,)"),
    ("check_epoch_of_step", lambda n, per: np.arange(n) // per + 1, "count from 0"),
    ("check_projection", _ignore_tau, "Did you ignore tau"),
    ("check_projection", _ignore_enabled, "not enabled"),
    ("check_projection", _norm_not_squared, "squared norm"),
    ("check_partial_projection", _ignore_beta, "remove only that fraction"),
    ("check_partial_projection", _all_layers, "must stay untouched"),
    ("check_liminal_schedule", _decay_from_zero, "measured from tau2"),
    ("check_liminal_schedule", _no_warm_phase, "starts at lambda0"),
    ("check_liminal_anchor", _no_t_squared, "missing the factor T^2"),
    ("check_liminal_anchor", _no_softening, "divide the logits by T"),
    ("check_steps_per_epoch", lambda c: c.n_noise // c.student_batch_size, "round up"),
    ("check_paired_difference", _unpaired, "difference them seed by seed"),
    ("check_first_adam_step", lambda grads, lr: [-lr * g for g in grads], "the SGD step"),
    ("check_first_adam_step", lambda grads, lr: [-lr * torch.sign(g) for g in grads], "keep eps"),
    ("check_chance_accuracy", lambda labels, predicted: 0.1, "10 % is chance only"),
    ("check_chance_accuracy", lambda labels, predicted: 100 * SOLUTIONS["check_chance_accuracy"](labels, predicted),
     "a fraction"),
    ("check_partial_init", _rows_not_columns, "not the rows"),
    ("check_partial_init", _in_place, "you wrote into base"),
    ("check_partial_init", _not_copied, "clone what you return"),
    ("check_hidden_permutation", _w2_axes_swapped, "which axis of W2 does p1 act on"),
    ("check_hidden_permutation", _head_columns, "the head's rows, not its columns"),
    ("check_hidden_permutation", _inverse, "inverse permutation"),
]


def test_every_check_has_a_solution_and_a_wrong_answer():
    assert set(SOLUTIONS) == set(exercises.ALL_CHECKS)
    assert {name for name, _, _ in WRONG} == set(exercises.ALL_CHECKS)
    assert len(exercises.ALL_CHECKS) >= 12


@pytest.mark.parametrize("name", sorted(SOLUTIONS))
def test_check_passes_a_correct_answer(name, capsys):
    assert exercises.ALL_CHECKS[name](SOLUTIONS[name]) is True
    out = capsys.readouterr().out
    assert out.startswith("✓") and name in out


@pytest.mark.parametrize("name, wrong, hint", WRONG, ids=[f"{n}-{h[:20]}" for n, _, h in WRONG])
def test_check_catches_a_wrong_answer_with_its_hint(name, wrong, hint, capsys):
    assert exercises.ALL_CHECKS[name](wrong) is False
    out = capsys.readouterr().out
    assert out.startswith("✗"), out
    assert hint in " ".join(out.split()), f"hint {hint!r} not in:\n{out}"  # the output is wrapped


def test_the_package_solutions_pass(capsys):
    """The package's own functions, where they have the reader's signature, pass their checks."""
    from subliminal import analysis, gradients, mitigations, results, theory

    assert exercises.check_derangement(rng.derangement)
    assert exercises.check_cosine(gradients.cosine)
    assert exercises.check_liminal_schedule(mitigations.liminal_lambda)
    assert exercises.check_gauss_newton_product(theory.gauss_newton_product)
    assert exercises.check_mean_ci(results.mean_ci)
    assert exercises.check_epoch_of_step(analysis.epoch_of_step)
    assert exercises.check_steps_per_epoch(analysis.steps_per_epoch)
    assert exercises.check_digit_head_shift(models.digit_head_shift)
    assert exercises.check_projection(lambda *a: mitigations.project_if_aligned(*a)[0])


def test_not_attempted_is_reported_not_raised(capsys):
    def stub(a, b):
        raise NotImplementedError

    assert exercises.check_cosine(stub) is False
    assert "not written yet" in capsys.readouterr().out


def test_an_error_in_the_answer_is_a_failed_case(capsys):
    assert exercises.check_cosine(lambda a, b: a.norm()) is False
    assert "raised AttributeError" in capsys.readouterr().out


def test_misuse_raises():
    with pytest.raises(TypeError, match="needs your function itself"):
        exercises.check_cosine(3.0)


def test_derangement_rejects_n_below_two():
    with pytest.raises(ValueError, match="n >= 2"):
        rng.derangement(1, rng.generator(0, "x"))
    perm = rng.derangement(7, rng.generator(0, "x"))
    assert sorted(perm.tolist()) == list(range(7)) and not (perm == torch.arange(7)).any()
    assert N_DIGITS == 10


def test_show_source_renders_the_package_code():
    from subliminal import gradients
    from subliminal.display import show_source

    shown = show_source(gradients.cosine)._repr_markdown_()
    assert "def cosine(" in shown and "```python" in shown and "subliminal.gradients.cosine" in shown
    with pytest.raises(TypeError, match="function, method or class"):
        show_source(3)


def test_sharing_checks_accept_the_package_functions_and_report_not_attempted(capsys):
    assert exercises.check_partial_init(models.mix_inits)
    assert exercises.check_hidden_permutation(lambda params, p1, p2: models.permute_hidden(
        params, [(p1, p2)] * len(params[0]), head=True))
    assert not exercises.check_hidden_permutation(lambda params, p1, p2: models.permute_hidden(
        params, [(p1, p2)] * len(params[0]), head=False))
    assert "W3's rows are the layer-2 units" in " ".join(capsys.readouterr().out.split())

    def stub(*args):
        raise NotImplementedError

    for check in (exercises.check_partial_init, exercises.check_hidden_permutation):
        assert check(stub) is False
        assert "not written yet" in capsys.readouterr().out
