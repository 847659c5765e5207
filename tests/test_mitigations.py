"""The projection as the optimiser applies it: update-space projection, SGD, matched placebos,
the parts of the cross-entropy, and the class histogram.

Tolerances come from float32 rounding: U is the unit roundoff; writing θ_old + Δθ' rounds each
coordinate by at most U |θ|, so <g_t, Δθ_applied> differs from <g_t, Δθ'> by at most
||g_t|| * U * ||θ|| (Cauchy-Schwarz), plus the rounding of the projection itself (a few U ||Δθ||).
"""

import pytest
import torch

from subliminal import models
from subliminal.experiments import StudentCondition, run_experiment
from subliminal.gradients import cosine, flat_dot
from subliminal.losses import digit_confidence, digit_cross_entropy, digit_label_part
from subliminal.mitigations import Projection
from subliminal.rng import generator
from subliminal.training import Imitation, Probe, TraitGradient, UpdateProbe, distill, permute_within

U = float(torch.finfo(torch.float32).eps) / 2
N_CHECKED = 3  # models in the tiny ensembles


class Recorder(Probe):
    """Keeps what every step handed on, and the parameters before and after it."""

    needs_trait = True
    needs_delta = True

    def start(self, n_models, n_steps, device):
        self.records, self.steps = {}, []

    def before_update(self, step, params):
        self._before = [p.detach().clone() for p in params]

    def after_update(self, step):
        self.steps.append({"g_d_raw": [g.clone() for g in step.g_d_raw], "g_d": [g.clone() for g in step.g_d],
                           "g_t": [g.clone() for g in step.g_t], "fired": step.fired.clone(),
                           "delta": [d.clone() for d in step.delta], "before": self._before,
                           "after": [p.detach().clone() for p in step.params]})


def tiny_loop(config, transforms=(), n=N_CHECKED, kinds=None, placebo=None, permutations=None):
    init = models.init_params([generator(0, "init", k) for k in range(n)], 32, 13)
    teacher = models.init_params([generator(0, "teacher", k) for k in range(n)], 32, 13)
    noise = torch.rand(512, 784, generator=torch.Generator().manual_seed(1)) * 2 - 1
    x = torch.rand(512, 784, generator=torch.Generator().manual_seed(2)) * 2 - 1
    y = torch.randint(0, 10, (512,), generator=torch.Generator().manual_seed(3))
    labels = y.expand(n, -1)
    trait = TraitGradient(x=x, labels=labels, kinds=kinds, permutations=permutations, placebo=placebo,
                          placebo_labels=labels[:, torch.randperm(512, generator=torch.Generator().manual_seed(7))],
                          generators=[torch.Generator().manual_seed(4 + k) for k in range(n)])
    recorder = Recorder()
    _, logs = distill(init, noise, [Imitation(models.outputs(teacher, noise))], config,
                      torch.Generator().manual_seed(5), trait=trait, trait_generator=torch.Generator().manual_seed(6),
                      transforms=transforms, probes=[recorder, UpdateProbe()])
    return logs, recorder


def rounding_bound(step, g_t_norm):
    """(E,) the float32 bound on |<g_t, Δθ_applied>| when the intended update was orthogonal to g_t."""
    theta = flat_dot(step["after"], step["after"]).sqrt()
    delta = flat_dot(step["delta"], step["delta"]).sqrt()
    return g_t_norm * (U * theta + 16 * U * delta)


def test_two_sided_update_projection_leaves_no_first_order_trait_change(tiny_config):
    """Under Adam, projecting the applied update (tau = -1) makes <g_t, Δθ> zero up to rounding at
    every step, where projecting the gradient does not (Adam rotates it)."""
    everyone = torch.ones(N_CHECKED, dtype=torch.bool)
    logs, rec = tiny_loop(tiny_config, [Projection(everyone, tau=-1.0, space="update")])
    assert all(bool(step["fired"].all()) for step in rec.steps)
    for step, dot, g_norm in zip(rec.steps, logs["trait_update"].T, logs["trait_grad_norm"].T):
        assert (dot.abs() <= rounding_bound(step, g_norm)).all()
    gradient_logs, gradient_rec = tiny_loop(tiny_config, [Projection(everyone, tau=-1.0)])
    bounds = torch.stack([rounding_bound(s, n) for s, n in zip(gradient_rec.steps,
                                                                gradient_logs["trait_grad_norm"].T)], 1)
    # the gradient-space rule leaves a first-order trait change far above rounding at most steps
    assert (gradient_logs["trait_update"].abs() > 100 * bounds).float().mean() > 0.5


def test_one_sided_update_projection_never_lowers_the_trait_loss_to_first_order(tiny_config):
    everyone = torch.ones(N_CHECKED, dtype=torch.bool)
    logs, rec = tiny_loop(tiny_config, [Projection(everyone, tau=0.0, space="update")])
    for step, dot, g_norm in zip(rec.steps, logs["trait_update"].T, logs["trait_grad_norm"].T):
        assert (dot >= -rounding_bound(step, g_norm)).all()
    plain, _ = tiny_loop(tiny_config)
    assert (plain["trait_update"] < 0).any(), "the plain student never lowered the trait loss: nothing tested"


def test_sgd_with_gradient_projection_applies_exactly_minus_lr_times_the_projected_gradient(tiny_config):
    config = tiny_config.replace(student_optimizer="sgd", student_lr=0.5)
    everyone = torch.ones(N_CHECKED, dtype=torch.bool)
    logs, rec = tiny_loop(config, [Projection(everyone, tau=-1.0)])
    for step in rec.steps:
        for before, after, g in zip(step["before"], step["after"], step["g_d"]):
            expected = before - config.student_lr * g
            # one rounding of the subtraction (and of lr * g): at most U |result| + U |lr g| per entry
            assert ((after - expected).abs() <= 2 * U * (expected.abs() + config.student_lr * g.abs())).all()
        dot = flat_dot(step["g_d"], step["g_t"])
        scale = (flat_dot(step["g_d_raw"], step["g_d_raw"]) * flat_dot(step["g_t"], step["g_t"])).sqrt()
        assert (dot.abs() <= 1e-4 * scale).all()  # so the step itself is orthogonal to g_t


def test_label_part_and_confidence_add_up_to_the_cross_entropy():
    logits = torch.randn(3, 64, 13, dtype=torch.float64, requires_grad=True)
    labels = torch.randint(0, 10, (3, 64))
    parts = [digit_label_part(logits, labels), digit_confidence(logits)]
    assert torch.allclose(parts[0] + parts[1], digit_cross_entropy(logits, labels), atol=1e-12)
    grads = [torch.autograd.grad(p.sum(), logits)[0] for p in parts]
    whole = torch.autograd.grad(digit_cross_entropy(logits, labels).sum(), logits)[0]
    assert torch.allclose(grads[0] + grads[1], whole, atol=1e-12)
    # the confidence part does not depend on the labels; the label part's gradient sums to 0 over digits
    assert torch.allclose(grads[0][..., :10].sum(-1), torch.zeros(3, 64, dtype=torch.float64), atol=1e-12)
    uniform = torch.full((3, 64, 10), 0.1, dtype=torch.float64).log()
    kl = (0.1 * (uniform - torch.log_softmax(logits[..., :10], -1))).sum(-1).mean(1)
    assert torch.allclose(parts[1] - torch.log(torch.tensor(10.0, dtype=torch.float64)), kl, atol=1e-12)


def test_matched_placebo_fires_on_the_real_rule_and_moves_as_far_along_its_own_direction(tiny_config):
    """Model 0 is a matched permuted-g_t placebo, model 1 projects for real, model 2 is a matched
    confidence placebo: both placebos fire where cos(g_d, g_t) > 0 (the real cosine) and remove
    exactly as much as the real rule would, along their own direction."""
    shapes = models.parameter_shapes(32, 13)
    gen = torch.Generator().manual_seed(11)
    perms = [torch.randperm(int(torch.tensor(s).prod()), generator=gen) for s in shapes]
    everyone = torch.ones(N_CHECKED, dtype=torch.bool)
    matched = torch.tensor([True, False, True])
    logs, rec = tiny_loop(tiny_config, [Projection(everyone, tau=0.0, matched=matched)],
                          placebo=("permuted", None, "confidence"), permutations=[perms, None, None])
    fired_placebo = 0
    for step in rec.steps:
        cos_real = cosine(step["g_d_raw"], step["g_t"])
        assert torch.equal(step["fired"], cos_real > 0)
        edit = [a - b for a, b in zip(step["g_d_raw"], step["g_d"])]
        dot, tt = flat_dot(step["g_d_raw"], step["g_t"]), flat_dot(step["g_t"], step["g_t"])
        size = flat_dot(edit, edit).sqrt()
        expected = torch.where(step["fired"], dot.abs() / tt.sqrt(), torch.zeros_like(dot))
        assert torch.allclose(size, expected, rtol=1e-4, atol=1e-12)
        if bool(step["fired"][0]):  # along the fixed permutation of this step's g_t, towards lowering it
            direction = permute_within([g[:1] for g in step["g_t"]], [perms])
            edit_0 = [e[:1] for e in edit]
            assert cosine(edit_0, direction).item() == pytest.approx(
                float(torch.sign(flat_dot([g[:1] for g in step["g_d_raw"]], direction))), abs=1e-4)
            fired_placebo += 1
    assert fired_placebo > 0, "the placebo never fired: nothing tested"


def test_class_histogram_counts_every_test_image(tiny_config):
    result = run_experiment(tiny_config, seeds=2, cache=False, progress=False,
                            conditions=["teacher", "reference", "student_aux",
                                        ("update_projection", StudentCondition(project=True, space="update"))])
    from subliminal.data import load_mnist

    n_test = len(load_mnist().y_test)
    for name, res in result.conditions.items():
        assert (res.predicted_counts.sum(axis=1) == n_test).all(), name
        assert res.prediction_entropy.shape == (2,) and (res.prediction_entropy <= 3.33).all()
        assert ((0.0 <= res.balanced_accuracy) & (res.balanced_accuracy <= 1.0)).all()
    # a predictor that ignores its input has balanced accuracy exactly 0.1, whatever its histogram
    constant = [torch.zeros(1, 784, 4), torch.zeros(1, 4), torch.zeros(1, 4, 4), torch.zeros(1, 4),
                torch.zeros(1, 4, 13), torch.tensor([[0.0] * 3 + [1.0] + [0.0] * 9])]
    data = load_mnist()
    counts, balanced = models.class_counts(constant, data.x_test, data.y_test)
    assert counts[0, 3] == n_test and balanced.item() == pytest.approx(0.1)
