"""The training loop and its parts: exact zeros where theory says so, what each part hands on,
ensembles equal single models within float32 rounding, determinism."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from subliminal import models
from subliminal.config import N_DIGITS, Config
from subliminal.experiments import StudentCondition, run_experiment
from subliminal.gradients import cosine, flat_dot
from subliminal.losses import digit_cross_entropy, softmax_kl
from subliminal.mitigations import Projection
from subliminal.rng import generator
from subliminal.training import AlignmentProbe, Imitation, Probe, TraitGradient, UpdateProbe, distill

#: float32 unit roundoff; a float32 sum of K terms is exact to about K * U in the worst case
U = float(torch.finfo(torch.float32).eps) / 2


def tiny_models(n, hidden=32, n_outputs=13, stream="init"):
    return models.init_params([generator(0, stream, k) for k in range(n)], hidden, n_outputs)


class Recorder(Probe):
    """Keeps what every step handed on (for the tests)."""

    needs_trait = True

    def start(self, n_models, n_steps, device):
        self.records, self.steps = {}, []

    def after_update(self, step):
        self.steps.append({"g_d_raw": [g.clone() for g in step.g_d_raw], "g_d": [g.clone() for g in step.g_d],
                           "g_t": [g.clone() for g in step.g_t], "fired": step.fired.clone()})


def tiny_loop(config, transforms=(), n=3, labels=None, probes=(), kinds=None):
    """Distil n tiny students of random teachers, with the given transforms; return (params, logs, recorder)."""
    init, teacher = tiny_models(n), tiny_models(n, stream="teacher")
    noise = torch.rand(512, 784, generator=torch.Generator().manual_seed(1)) * 2 - 1
    x = torch.rand(512, 784, generator=torch.Generator().manual_seed(2)) * 2 - 1
    y = torch.randint(0, 10, (512,), generator=torch.Generator().manual_seed(3))
    trait = TraitGradient(x=x, labels=y.expand(n, -1) if labels is None else labels, kinds=kinds,
                          generators=[torch.Generator().manual_seed(4 + k) for k in range(n)])
    recorder = Recorder()
    params, logs = distill(init, noise, [Imitation(models.outputs(teacher, noise))], config,
                           torch.Generator().manual_seed(5), trait=trait,
                           trait_generator=torch.Generator().manual_seed(6), transforms=transforms,
                           probes=[recorder, AlignmentProbe(), *probes])
    return params, logs, recorder, init


# --------------------------------------------------------------------------- parts


def test_init_follows_reference_scheme():
    W1, b1, W2, b2, W3, b3 = models.init_params([generator(0, "init", 0)], 256, 13)
    assert W1.std().item() == pytest.approx(1 / 28, rel=0.01)  # 1/sqrt(784)
    assert W2.std().item() == pytest.approx(1 / 16, rel=0.02)  # 1/sqrt(256)
    assert all(b.abs().sum().item() == 0 for b in (b1, b2, b3))


def test_shared_input_forward_equals_per_model_forward():
    params = tiny_models(4)
    x = torch.randn(7, 784)
    together = models.forward(params, x)
    for e in range(4):
        alone = models.forward(models.select(params, [e]), x)
        assert torch.allclose(together[e], alone[0], atol=1e-5)


def test_softmax_kl_matches_torch_kl_div():
    s, t = torch.randn(3, 16, 5), torch.randn(3, 16, 5)
    for T in (1.0, 2.0):
        ours = softmax_kl(s, t, T)
        ref = torch.stack([F.kl_div(F.log_softmax(s[e] / T, -1), F.softmax(t[e] / T, -1), reduction="batchmean")
                           for e in range(3)])
        assert torch.allclose(ours, ref, atol=1e-6)


def test_imitation_term_picks_aux_or_all_logits_per_model():
    student, teacher = torch.randn(2, 16, 13), torch.randn(2, 16, 13)
    idx = torch.arange(16)
    for T in (1.0, 2.0):
        aux_only = Imitation(teacher, None, T)(student, idx)
        assert torch.allclose(aux_only, softmax_kl(student[..., N_DIGITS:], teacher[..., N_DIGITS:], T), atol=1e-6)
        mixed = Imitation(teacher, torch.tensor([True, False]), T)(student, idx)
        assert mixed[0] == pytest.approx(softmax_kl(student, teacher, T)[0].item(), abs=1e-6)
        assert mixed[1] == pytest.approx(aux_only[1].item(), abs=1e-6)


def test_digit_cross_entropy_ignores_aux_logits_and_takes_per_model_labels():
    logits, y = torch.randn(2, 8, 13), torch.randint(0, 10, (8,))
    ref = torch.stack([F.cross_entropy(logits[e, :, :10], y) for e in range(2)])
    assert torch.allclose(digit_cross_entropy(logits, y), ref, atol=1e-6)
    changed = logits.clone()
    changed[..., 10:] += 5.0
    assert torch.equal(digit_cross_entropy(changed, y), digit_cross_entropy(logits, y))
    y2 = torch.stack([y, y.flip(0)])
    assert torch.allclose(digit_cross_entropy(logits, y2)[1], F.cross_entropy(logits[1, :, :10], y.flip(0)))


def test_aux_only_distillation_gives_exactly_zero_gradient_on_digit_head():
    student = [p.requires_grad_(True) for p in tiny_models(2)]
    teacher = tiny_models(2, stream="other")
    x = torch.rand(64, 784) * 2 - 1
    idx = torch.arange(64)
    loss = Imitation(models.outputs(teacher, x))(models.forward(student, x), idx).sum()
    g_W3, g_b3 = torch.autograd.grad(loss, student[4:])
    assert torch.count_nonzero(g_W3[..., :N_DIGITS]) == 0 and torch.count_nonzero(g_b3[..., :N_DIGITS]) == 0
    assert torch.count_nonzero(g_W3[..., N_DIGITS:]) > 0  # the aux rows do learn
    loss_all = Imitation(models.outputs(teacher, x), torch.tensor([True, True]))(models.forward(student, x), idx)
    assert torch.count_nonzero(torch.autograd.grad(loss_all.sum(), student[4])[0][..., :N_DIGITS]) > 0


def test_bf16_matrix_products_measure_the_same_alignment():
    """bf16 only rounds the products: cos(g_d, g_t) moves by far less than its typical size (~0.005)."""
    params = [p.requires_grad_(True) for p in tiny_models(2, hidden=64)]
    teacher = tiny_models(2, hidden=64, stream="teacher")
    noise = torch.rand(256, 784, generator=torch.Generator().manual_seed(0)) * 2 - 1
    x = torch.rand(256, 784, generator=torch.Generator().manual_seed(1)) * 2 - 1
    y = torch.randint(0, 10, (256,), generator=torch.Generator().manual_seed(2))
    imitation = Imitation(models.outputs(teacher, noise))

    def grads(precision):
        with models.matmul_precision(precision, "cpu"):
            noise_logits, trait_logits = models.forward(params, noise), models.forward(params, x)
        assert noise_logits.dtype == torch.float32  # losses always see float32 logits
        g_d = torch.autograd.grad(imitation(noise_logits, torch.arange(256)).sum(), params)
        g_t = torch.autograd.grad(digit_cross_entropy(trait_logits, y).sum(), params)
        return g_d, g_t

    d32, t32 = grads("fp32")
    d16, t16 = grads("bf16")
    assert all(g.dtype == torch.float32 for g in d16 + t16)  # gradients (and Adam) stay float32
    assert not torch.equal(d16[0], d32[0])  # bf16 really was used
    # bf16 keeps 8 mantissa bits: relative error of a product sum ~ 2^-8 / sqrt(averaging), far below 1
    assert (cosine(d16, d32) > 0.99).all() and (cosine(t16, t32) > 0.99).all()
    assert (cosine(d16, t16) - cosine(d32, t32)).abs().max() < 0.01


# --------------------------------------------------------------------------- transforms and probes


def test_projection_hands_the_optimiser_a_gradient_orthogonal_to_g_t_when_it_fires(tiny_config):
    enabled = torch.tensor([True, True, False])
    _, logs, rec, _ = tiny_loop(tiny_config, [Projection(enabled, tau=0.0)])
    fired_any = False
    for step in rec.steps:
        fired = step["fired"]
        cos_raw = cosine(step["g_d_raw"], step["g_t"])
        assert torch.equal(fired, enabled & (cos_raw > 0))
        scale = (flat_dot(step["g_d_raw"], step["g_d_raw"]) * flat_dot(step["g_t"], step["g_t"])).sqrt()
        dot = flat_dot(step["g_d"], step["g_t"])
        # orthogonal up to float32 rounding of a ~270k-term... here ~26k-term dot product
        assert (dot[fired].abs() <= 1e-4 * scale[fired]).all()
        for g_new, g_old in zip(step["g_d"], step["g_d_raw"]):  # untouched where it did not fire
            assert torch.equal(g_new[~fired], g_old[~fired])
        fired_any |= bool(fired.any())
    assert fired_any, "the projection never fired: the test saw nothing"
    # the cosine is logged before the projection (it is positive exactly where the projection fired)
    assert torch.equal(logs["projected"], logs["cosine"].gt(0) & enabled[:, None])
    assert (logs["cosine_after"][logs["projected"]].abs() < 1e-4).all()


class UpdateRecorder(Probe):
    """Keeps, in float64, what the optimiser received (g_d), g_t, the applied Δθ and θ after the step."""

    needs_trait = True
    needs_delta = True

    def start(self, n_models, n_steps, device):
        self.records, self.steps = {}, []

    def after_update(self, step):
        as64 = lambda grads: [g.detach().double().clone() for g in grads]  # noqa: E731
        self.steps.append({"g_d": as64(step.g_d), "g_t": as64(step.g_t), "delta": as64(step.delta),
                           "theta": as64(step.params)})


def test_adam_rotates_the_projected_update_off_orthogonal(tiny_config):
    """After projection g_d ⟂ g_t, yet the applied Adam update is not: the probe records <g_t, Δθ> far
    from zero, farther than float32 rounding alone could put it.

    The threshold is what <g_t, Δθ> could be *without* the effect. An optimiser that does not rotate
    (SGD; any step Δθ = -c g_d) would apply Δθ parallel to the g_d it received, so <g_t, Δθ> would be
    -c <g_t, g_d>, which the projection made zero up to its own rounding: computed in float64 from the
    float32 vectors, |<g_t, g_d>| / ||g_d|| * ||Δθ|| is that residual, exactly. What float32 adds on
    top: θ_new is rounded to float32 (error <= U |θ_new_i| per coordinate) and the step's own product
    lr * g is rounded (<= U |Δθ_i|); the recorded Δθ = θ_new - θ_old then differs from the unrotated
    step by at most U (|θ_i| + |Δθ_i|) + U |Δθ_i| per coordinate, so <g_t, Δθ> by at most
    2 U sum_i |g_t,i| (|θ_i| + |Δθ_i|). (With all dot products in float64 here, their own rounding is
    ~1e-16 relative, negligible.) So the no-rotation floor is

        floor = |<g_t, g_d>| ||Δθ|| / ||g_d||  +  2 U sum_i |g_t,i| (|θ_i| + |Δθ_i|),

    here about 1.5e-5 * ||g_t|| ||Δθ|| (the θ term dominates: ||θ|| ~ 9, ||Δθ|| ~ 0.03), while Adam's
    rotation gives |cos(g_t, Δθ)| of about 0.003 to 0.05 (180 to 4000 x floor). Every projected step
    must exceed 10 x floor.
    """
    enabled = torch.ones(3, dtype=torch.bool)
    recorder = UpdateRecorder()
    _, logs, _, _ = tiny_loop(tiny_config, [Projection(enabled, tau=-1.0)], probes=[UpdateProbe(), recorder])
    assert logs["projected"][:, 1:].all()
    for i, step in enumerate(recorder.steps[1:], start=1):
        g_t, g_d, delta, theta = step["g_t"], step["g_d"], step["delta"], step["theta"]
        trait_update = flat_dot(g_t, delta)
        residual = flat_dot(g_t, g_d).abs() * flat_dot(delta, delta).sqrt() / flat_dot(g_d, g_d).sqrt()
        rounding = 2 * U * flat_dot([g.abs() for g in g_t], [th.abs() + d.abs() for th, d in zip(theta, delta)])
        floor = residual + rounding
        assert (trait_update.abs() > 10 * floor).all(), (i, trait_update, floor)
        # the probe's float32 <g_t, Δθ> is this number (to float32 dot-product accuracy)
        assert torch.allclose(logs["trait_update"][:, i].double(), trait_update, rtol=1e-4, atol=0), i


def test_update_probe_measures_the_applied_step(tiny_config):
    """Adam's first (bias-corrected) update is -lr * g / (|g| + eps) per coordinate, so the probe
    must read <g_t, Δθ> = -lr * sum g_t g_d / (|g_d| + eps) at step 0 (not -lr <g_t, g_d>)."""
    _, logs, rec, _ = tiny_loop(tiny_config, probes=[UpdateProbe()])
    first = rec.steps[0]
    adam_step = [g / (g.abs() + 1e-8) for g in first["g_d"]]
    expected = -tiny_config.student_lr * flat_dot(first["g_t"], adam_step)
    assert torch.allclose(logs["trait_update"][:, 0], expected, rtol=1e-4)
    plain_sgd = -tiny_config.student_lr * flat_dot(first["g_t"], first["g_d"])
    assert not torch.allclose(logs["trait_update"][:, 0], plain_sgd, rtol=0.5)


def test_hidden_only_projection_leaves_the_last_layer_untouched(tiny_config):
    enabled = torch.ones(3, dtype=torch.bool)
    _, _, rec, _ = tiny_loop(tiny_config, [Projection(enabled, tau=-1.0, layers="hidden")])
    for step in rec.steps:
        assert step["fired"].all()
        assert torch.equal(step["g_d"][4], step["g_d_raw"][4]) and torch.equal(step["g_d"][5], step["g_d_raw"][5])
        hidden_dot = flat_dot(step["g_d"][:4], step["g_t"][:4])
        scale = (flat_dot(step["g_d_raw"][:4], step["g_d_raw"][:4]) * flat_dot(step["g_t"][:4], step["g_t"][:4])).sqrt()
        assert (hidden_dot.abs() <= 1e-4 * scale).all()


def test_beta_scales_the_removed_component(tiny_config):
    enabled = torch.ones(3, dtype=torch.bool)
    _, _, rec, _ = tiny_loop(tiny_config, [Projection(enabled, tau=-1.0, beta=0.5)])
    step = rec.steps[3]
    before = flat_dot(step["g_d_raw"], step["g_t"])
    after = flat_dot(step["g_d"], step["g_t"])
    assert torch.allclose(after, 0.5 * before, rtol=1e-3)


def test_random_placebo_keeps_per_layer_norms_and_redraws(tiny_config):
    _, _, rec, _ = tiny_loop(tiny_config, kinds=("random", "labelled", "labelled"))
    _, _, plain, _ = tiny_loop(tiny_config)
    first, second = rec.steps[0], rec.steps[1]
    for g_r, g_true in zip(first["g_t"], plain.steps[0]["g_t"]):
        assert torch.allclose(g_r[0].norm(), g_true[0].norm(), rtol=1e-5)  # same norm per layer
        assert torch.equal(g_r[1:], g_true[1:])  # other models keep the true g_t
    assert cosine(first["g_t"], plain.steps[0]["g_t"])[0].abs() < 0.05  # but a random direction
    assert cosine([g[:1] for g in first["g_t"]], [g[:1] for g in second["g_t"]]).abs() < 0.05  # redrawn


# --------------------------------------------------------------------------- conditions end to end


def test_beta_zero_and_liminal_scale_zero_equal_the_plain_student_exactly(tiny_config):
    plain = run_experiment(tiny_config, seeds=2, conditions=["student_aux"], cache=False, progress=False)
    for changes, name in (({"projection_beta": 0.0}, "projection"), ({"liminal_scale": 0.0}, "liminal")):
        other = run_experiment(tiny_config.replace(**changes), seeds=2, conditions=[name], cache=False,
                               progress=False)
        for field in ("accuracy", "loss", "cosine", "curve_acc"):
            assert np.array_equal(getattr(plain["student_aux"], field), getattr(other[name], field)), (name, field)


def test_shuffled_placebo_uses_a_fixed_permutation_of_the_labels(tiny_config, monkeypatch):
    import subliminal.experiments as experiments

    seen = {}
    real = experiments._trait_gradient

    def spy(*args, **kwargs):
        seen["trait"] = trait = real(*args, **kwargs)
        return trait

    monkeypatch.setattr(experiments, "_trait_gradient", spy)
    run_experiment(tiny_config, seeds=2, conditions=["student_aux", "projection_shuffled"], cache=False,
                   progress=False)
    labels = seen["trait"].labels  # (4, N): student_aux seeds 0, 1, then the placebo's seeds 0, 1
    true = labels[0]
    assert torch.equal(labels[1], true)
    for m in (2, 3):
        assert not torch.equal(labels[m], true)
        assert torch.equal(torch.bincount(labels[m], minlength=10), torch.bincount(true, minlength=10))  # a permutation
        assert (labels[m] == true).float().mean() < 0.2  # ~10 % agree by chance
    assert not torch.equal(labels[2], labels[3])  # each seed its own shuffle


def test_digit_head_moves_only_where_something_acts_on_it(tiny_config):
    result = run_experiment(tiny_config, seeds=2, conditions=["student_aux", "student_all", "projection",
                                                               "projection_hidden"], cache=False, progress=False)
    assert result["student_aux"].digit_head_shift.max() == 0.0  # aux-only: exactly zero gradient on the head
    assert result["projection_hidden"].digit_head_shift.max() == 0.0  # g_t's head part never subtracted
    assert result["student_all"].digit_head_shift.min() > 0.0
    assert result["projection"].digit_head_shift.min() > 0.0  # g_d - c g_t has a head component
    # restoring an unmoved head changes nothing
    np.testing.assert_array_equal(result["student_aux"].head_restored_accuracy, result["student_aux"].accuracy)


def test_a_new_condition_is_declared_without_editing_the_package(tiny_config):
    custom = ("cross_liminal", StudentCondition(init="cross", liminal=True))
    result = run_experiment(tiny_config, seeds=1, conditions=["cross_aux", custom], cache=False, progress=False)
    assert list(result.conditions) == ["cross_aux", "cross_liminal"]
    assert not np.array_equal(result["cross_aux"].loss, result["cross_liminal"].loss)
    with pytest.raises(ValueError, match="init must be one of"):
        StudentCondition(init="other")


def test_ensemble_training_equals_seed_by_seed():
    """Seeds trained together give the numbers they give alone, up to float32 rounding.

    BLAS picks different kernels for different ensemble sizes (and CPUs), so the two runs round
    differently. At the first step the parameters are identical, and the cosine of two gradients
    each accurate to ~K*U (K ~ 10^3 terms per sum) may differ by about that much. Adam then
    amplifies rounding (a near-zero gradient coordinate still takes a full step), so later steps
    drift; rounding-level drift must stay far below the statistical resolution of what the book
    reports: the mean cosine within a tenth of its standard error over steps, the final accuracy
    within a quarter of its spread over seeds.
    """
    config = Config.fast(hidden=128, n_train=6144, n_noise=6144, student_epochs=1, teacher_epochs=1)
    conditions = ["teacher", "student_aux", "cross_aux", "projection"]
    together = run_experiment(config, seeds=[0, 1, 2], conditions=conditions, cache=False, progress=False)
    for k in (0, 2):
        alone = run_experiment(config, seeds=[k], conditions=conditions, cache=False, progress=False)
        for name in conditions:
            spread = together[name].accuracy.std(ddof=1)
            assert abs(alone[name].accuracy[0] - together[name].accuracy[k]) <= 0.25 * spread, name
        for name in conditions[1:]:
            a, b = alone[name], together[name]
            assert abs(a.cosine[0, 0] - b.cosine[k, 0]) <= 10_000 * U, name  # first step: K*U with K ~ 10^4 terms
            assert abs(a.loss[0, 0] - b.loss[k, 0]) <= 1e-4 * b.loss[k, 0], name
            standard_error = b.cosine[k].std(ddof=1) / np.sqrt(b.cosine.shape[1])
            assert abs(a.cosine[0].mean() - b.cosine[k].mean()) <= 0.1 * standard_error, name
            assert abs(a.loss[0].mean() - b.loss[k].mean()) <= 1e-3 * b.loss[k].mean(), name


def test_same_seed_same_numbers(tiny_config):
    a = run_experiment(tiny_config, seeds=2, conditions=["student_aux", "liminal"], cache=False, progress=False)
    b = run_experiment(tiny_config, seeds=2, conditions=["student_aux", "liminal"], cache=False, progress=False)
    for name in ("student_aux", "liminal"):
        assert np.array_equal(a[name].accuracy, b[name].accuracy)
        assert np.array_equal(a[name].cosine, b[name].cosine)
    c = run_experiment(tiny_config.replace(seed=1), seeds=2, conditions=["student_aux"], cache=False, progress=False)
    assert not np.array_equal(c["student_aux"].cosine, a["student_aux"].cosine)


def test_data_per_seed_varies_the_data_with_the_seed(tiny_config):
    """Seed 0 reads data stream 0 either way; seed 1 gets its own noise and batch orders only when asked."""
    conditions = ["teacher", "student_aux"]
    shared = run_experiment(tiny_config, seeds=2, conditions=conditions, cache=False, progress=False)
    own = run_experiment(tiny_config.replace(data_per_seed=True), seeds=2, conditions=conditions, cache=False,
                         progress=False)
    alone = run_experiment(tiny_config, seeds=[0], conditions=conditions, cache=False, progress=False)
    # the per-seed run trains seed by seed, seed 0 on the shared streams: equal to seed 0 trained alone
    np.testing.assert_array_equal(own["student_aux"].loss[0], alone["student_aux"].loss[0])
    np.testing.assert_allclose(shared["student_aux"].loss[0], own["student_aux"].loss[0], rtol=1e-3)
    assert not np.allclose(shared["student_aux"].loss[1], own["student_aux"].loss[1], rtol=1e-2)
    assert shared["teacher"].accuracy[1] != own["teacher"].accuracy[1]  # its own teacher batch order too


def test_weight_decay_modes(tiny_config):
    """AdamW decays the weights outside the adaptive step; Adam's L2 goes through it. Without decay the two
    are the same optimiser; with decay the untouched digit head moves under both, differently."""
    runs = {(mode, wd): run_experiment(tiny_config.replace(student_weight_decay=wd, student_weight_decay_mode=mode),
                                       seeds=1, conditions=["student_aux"], cache=False, progress=False)["student_aux"]
            for mode in ("l2", "decoupled") for wd in (0.0, 1e-2)}
    np.testing.assert_array_equal(runs["l2", 0.0].loss, runs["decoupled", 0.0].loss)
    assert runs["l2", 1e-2].digit_head_shift[0] > 0 and runs["decoupled", 1e-2].digit_head_shift[0] > 0
    # AdamW shrinks each weight by lr * wd * w per step: tiny; Adam-L2 normalises the decay term to ~lr per step
    assert runs["decoupled", 1e-2].digit_head_shift[0] < 0.1 * runs["l2", 1e-2].digit_head_shift[0]


def test_liminal_anchor_holds_each_student_near_its_own_start(tiny_config, monkeypatch):
    """The base model of the liminal term is the student's own initialisation: for a cross-init student
    that is the cross init, never its teacher's (shared) init, so the control leaks nothing shared."""
    import subliminal.experiments as experiments

    seen = {}

    class Spy(experiments.LiminalAnchor):
        def __init__(self, base_logits, members, config):
            seen["base"] = base_logits.clone()
            super().__init__(base_logits, members, config)

    monkeypatch.setattr(experiments, "LiminalAnchor", Spy)
    custom = ("cross_liminal", StudentCondition(init="cross", liminal=True))
    run_experiment(tiny_config, seeds=2, conditions=["liminal", custom], cache=False, progress=False)
    noise = experiments.noise_images(tiny_config.n_noise, generator(tiny_config.seed, "noise", 0), "uniform")
    shared = models.outputs(experiments.shared_inits(tiny_config, [0, 1], "cpu"), noise)
    cross = models.outputs(experiments.cross_inits(tiny_config, [0, 1], "cpu"), noise)
    torch.testing.assert_close(seen["base"][:2], shared)  # "liminal": shared init, its own start
    torch.testing.assert_close(seen["base"][2:], cross)  # "cross_liminal": its own (cross) start


def test_accuracy_with_heads_equals_swapping_the_head():
    trained, start = tiny_models(3), tiny_models(3, stream="other")
    x = torch.rand(700, 784, generator=torch.Generator().manual_seed(7))
    y = models.predict_digits(models.with_digit_head(trained, start), x)[0]  # labels some heads get right
    own, restored = models.accuracy_with_heads(trained, [trained, start], x, y, batch_size=256)
    torch.testing.assert_close(own, models.accuracy(trained, x, y), rtol=0, atol=0)
    torch.testing.assert_close(restored, models.accuracy(models.with_digit_head(trained, start), x, y), rtol=0, atol=0)
    assert restored[0] == 1.0 and not torch.equal(own, restored)


def test_class_counts_from_given_predictions_equal_its_own_pass():
    trained = tiny_models(3)
    x = torch.rand(700, 784, generator=torch.Generator().manual_seed(8))
    y = torch.randint(0, 10, (700,), generator=torch.Generator().manual_seed(9))
    own, _ = models.predictions_with_heads(trained, [trained, trained], x, batch_size=256)
    given = models.class_counts(trained, x, y, predicted=own)
    for a, b in zip(given, models.class_counts(trained, x, y)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert int(given[0].sum()) == 3 * 700
