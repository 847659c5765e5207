"""Partial sharing: a cross-init student that takes some tensors from its teacher's init, and per-tensor init noise."""

import json

import numpy as np
import pytest
import torch

from subliminal import Config, experiments, models
from subliminal.config import TENSOR_NAMES, ConfigError
from subliminal.experiments import (StudentCondition, condition_specs, cross_inits, declaration, run_experiment,
                                    same_run, shared_inits, student_starts)
from subliminal.widgets.frames import plain_baseline

WHOLE = ("W1", "b1", "W2", "b2", "W3", "b3")
FIELDS = ("accuracy", "loss", "cosine", "displacement_cos", "head_restored_accuracy", "curve_acc")


@pytest.fixture(scope="module")
def tiny():
    """hidden 16, 1,024 images, 4 student steps: a run of one condition takes about a second."""
    return Config.fast(hidden=16, n_train=1024, n_noise=1024, teacher_epochs=1, student_epochs=1,
                       teacher_batch_size=256, student_batch_size=256, trait_batch_size=256, curve_every=2,
                       curve_samples=200)


def run(config, condition, seeds=2):
    return run_experiment(config, seeds=seeds, conditions=[condition], cache=False, progress=False)


def assert_same_run(a, b, name_a, name_b):
    for field in FIELDS:
        x, y = getattr(a[name_a], field), getattr(b[name_b], field)
        assert x is not None and y is not None, field
        np.testing.assert_array_equal(x, y, err_msg=field)


def random_params(seed, hidden=4, n_outputs=13, members=2):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(members, *shape, generator=gen) for shape in models.parameter_shapes(hidden, n_outputs)]


def assert_bitwise(a, b):
    assert a.shape == b.shape and a.dtype == b.dtype
    assert torch.equal(a, b)


# --------------------------------------------------------------------------- the layout


def test_tensor_names_are_the_layout():
    assert tuple(models.TENSORS) == TENSOR_NAMES
    assert models.TENSORS["W3_digit"] == (4, slice(0, 10)) and models.TENSORS["b3_aux"] == (5, slice(10, None))
    assert models.tensor_names(["b1", "W1", "b1"]) == ("W1", "b1")  # layout order, no repeats


def test_mix_inits_takes_the_named_tensors_from_the_donor():
    base, donor = random_params(0), random_params(1)
    before = [p.clone() for p in base]
    mixed = models.mix_inits(base, donor, ("W1", "b2"))
    for i, (m, b, d) in enumerate(zip(mixed, base, donor)):
        assert_bitwise(m, d if i in (0, 3) else b)
    for b, kept in zip(base, before):  # the base is not written to
        assert_bitwise(b, kept)
    for m, d in zip(models.mix_inits(base, donor, WHOLE), donor):
        assert_bitwise(m, d)
    for m, b in zip(models.mix_inits(base, donor, ()), base):
        assert_bitwise(m, b)


def test_mix_inits_last_layer_blocks():
    base, donor = random_params(0), random_params(1)
    mixed = models.mix_inits(base, donor, ("W3_digit", "b3_aux"))
    W3, b3 = mixed[4], mixed[5]
    assert_bitwise(W3[..., :10], donor[4][..., :10])
    assert_bitwise(W3[..., 10:], base[4][..., 10:])
    assert_bitwise(b3[..., :10], base[5][..., :10])
    assert_bitwise(b3[..., 10:], donor[5][..., 10:])
    aux = models.mix_inits(base, donor, ("W3_aux",))[4]
    assert_bitwise(aux[..., :10], base[4][..., :10])
    assert_bitwise(aux[..., 10:], donor[4][..., 10:])
    # both blocks are the whole tensor
    for m, d in zip(models.mix_inits(base, donor, ("W3_digit", "W3_aux", "b3_digit", "b3_aux"))[4:], donor[4:]):
        assert_bitwise(m, d)


# --------------------------------------------------------------------------- where a partially shared student starts


def test_partially_shared_student_starts_from_both_inits(tiny):
    seeds = [0, 3]
    shared, cross = shared_inits(tiny, seeds, "cpu"), cross_inits(tiny, seeds, "cpu")
    spec = StudentCondition(init="cross", shared=("W1", "b1", "W3_digit"))
    start = student_starts(tiny, seeds, [spec], "cpu")
    assert_bitwise(start[0], shared[0])
    assert_bitwise(start[1], shared[1])
    assert_bitwise(start[2], cross[2])
    assert_bitwise(start[3], cross[3])
    assert_bitwise(start[4][..., :10], shared[4][..., :10])
    assert_bitwise(start[4][..., 10:], cross[4][..., 10:])
    assert_bitwise(start[5], cross[5])  # biases start at 0 in both: equal anyway
    assert not torch.equal(start[2], shared[2]) and not torch.equal(start[4][..., 10:], shared[4][..., 10:])
    # the condition-major ensemble: the plain conditions are untouched by a partial one beside them
    both = student_starts(tiny, seeds, [StudentCondition(), spec, StudentCondition(init="cross")], "cpu")
    for p, s, c, m in zip(both, shared, cross, start):
        assert_bitwise(p[:2], s)
        assert_bitwise(p[2:4], m)
        assert_bitwise(p[4:], c)


def test_sharing_every_tensor_is_the_shared_student_and_none_the_cross_student(tiny):
    full = run(tiny, ("shares_all", StudentCondition(init="cross", shared=WHOLE)))
    blocks = run(tiny, ("shares_blocks", StudentCondition(
        init="cross", shared=("W1", "b1", "W2", "b2", "W3_digit", "W3_aux", "b3_digit", "b3_aux"))))
    assert_same_run(full, run(tiny, "student_aux"), "shares_all", "student_aux")
    assert_same_run(blocks, full, "shares_blocks", "shares_all")
    none = run(tiny, ("shares_none", StudentCondition(init="cross", shared=())))
    assert_same_run(none, run(tiny, "cross_aux"), "shares_none", "cross_aux")


def test_shared_is_part_of_what_a_condition_is(tiny):
    a = StudentCondition(init="cross", shared=["b1", "W1"])  # a list, out of order
    assert a.shared == ("W1", "b1") and a == StudentCondition(init="cross", shared=("W1", "b1"))
    assert hash(a) == hash(StudentCondition(init="cross", shared=("W1", "b1")))
    b = StudentCondition(init="cross", shared=("W1",))
    assert a != b and declaration(a) != declaration(b)
    assert declaration(StudentCondition(init="cross")) != declaration(a)
    with pytest.raises(ValueError, match="used twice for different conditions"):
        condition_specs([("partial", a), ("partial", b)])
    # a run of one partial student does not answer for another under the same name (biases start at 0
    # in every init, so sharing b1 alone changes nothing: the other student shares W2)
    other_spec = StudentCondition(init="cross", shared=("W2",))
    first = run(tiny, ("partial", b), seeds=1)
    again = run_experiment(tiny, seeds=1, conditions=[("partial", b)], cache=False, progress=False, reuse=first)
    np.testing.assert_array_equal(again["partial"].loss, first["partial"].loss)
    other = run_experiment(tiny, seeds=1, conditions=[("partial", other_spec)], cache=False, progress=False,
                           reuse=first)
    assert other.declarations["partial"]["shared"] == ("W2",)
    assert not np.array_equal(other["partial"].loss, first["partial"].loss)


# --------------------------------------------------------------------------- per-tensor init noise


def test_zero_noise_on_every_tensor_is_the_shared_student(tiny):
    zero = tiny.replace(student_init_noise=0.05, student_init_noise_tensors={n: 0.0 for n in WHOLE})
    seeds = [0, 1]
    for p, s in zip(student_starts(zero, seeds, [StudentCondition()], "cpu"), shared_inits(tiny, seeds, "cpu")):
        assert_bitwise(p, s)
    assert_same_run(run(zero, "student_aux"), run(tiny, "student_aux"), "student_aux", "student_aux")


def test_noise_on_one_tensor_changes_only_that_tensor(tiny):
    seeds = [0, 1]
    shared = shared_inits(tiny, seeds, "cpu")
    everywhere = student_starts(tiny.replace(student_init_noise=0.1), seeds, [StudentCondition()], "cpu")
    start = student_starts(tiny.replace(student_init_noise_tensors={"W2": 0.1}), seeds, [StudentCondition()], "cpu")
    for i, (p, s) in enumerate(zip(start, shared)):
        if i == 2:
            assert (p != s).all()
            assert_bitwise(p, everywhere[2])  # the same draw as the whole-network noise
        else:
            assert_bitwise(p, s)
    aux = student_starts(tiny.replace(student_init_noise_tensors=(("W3_aux", 0.1),)), seeds,
                         [StudentCondition()], "cpu")
    assert_bitwise(aux[4][..., :10], shared[4][..., :10])
    assert (aux[4][..., 10:] != shared[4][..., 10:]).all()
    assert_bitwise(aux[4][..., 10:], everywhere[4][..., 10:])
    for i in (0, 1, 2, 3, 5):
        assert_bitwise(aux[i], shared[i])
    # a block overrides its tensor; the global std fills the tensors not named
    mixed = student_starts(tiny.replace(student_init_noise=0.1, student_init_noise_tensors={"W3": 0.0, "W3_aux": 0.1,
                                                                                           "b1": 0.0}),
                           seeds, [StudentCondition()], "cpu")
    for i in (0, 2, 3, 5):
        assert_bitwise(mixed[i], everywhere[i])
    assert_bitwise(mixed[1], shared[1])
    assert_bitwise(mixed[4], aux[4])
    # the same std on every tensor is exactly the global noise
    uniform = student_starts(tiny.replace(student_init_noise_tensors={n: 0.1 for n in WHOLE}), seeds,
                             [StudentCondition()], "cpu")
    for p, q in zip(uniform, everywhere):
        assert_bitwise(p, q)


def test_per_tensor_noise_is_a_setting_that_survives_json():
    config = Config(student_init_noise_tensors={"b3_aux": 0.02, "W1": 0.05})
    assert config.student_init_noise_tensors == (("W1", 0.05), ("b3_aux", 0.02))  # layout order
    assert Config.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    assert hash(config) == hash(Config(student_init_noise_tensors=[["W1", 0.05], ["b3_aux", 0.02]]))
    assert config != Config(student_init_noise_tensors={"W1": 0.05})


# --------------------------------------------------------------------------- validation


def test_validation_messages():
    with pytest.raises(ValueError, match=r"shared needs init='cross'"):
        StudentCondition(shared=("W1",))
    with pytest.raises(ValueError, match=r"unknown tensor name\(s\) \['W4'\]; valid names are \('W1', 'b1'"):
        StudentCondition(init="cross", shared=("W1", "W4"))
    with pytest.raises(ValueError, match="must be a tuple of names"):
        StudentCondition(init="cross", shared="W1")
    with pytest.raises(ValueError, match="unknown tensor name"):
        models.mix_inits(random_params(0), random_params(1), ("W3_head",))
    with pytest.raises(ConfigError, match=r"student_init_noise_tensors must be keyed by tensor names, one of "
                                          r"'W1', 'b1', .*'b3_aux' .*got 'W4'"):
        Config(student_init_noise_tensors={"W4": 0.1})
    with pytest.raises(ConfigError, match=r"student_init_noise_tensors\['W1'\] must be at least 0.0 .*got -0.1"):
        Config(student_init_noise_tensors={"W1": -0.1})
    with pytest.raises(ConfigError, match=r"student_init_noise_tensors\['b1'\] must be a finite number"):
        Config(student_init_noise_tensors={"b1": float("nan")})
    with pytest.raises(ConfigError, match="given twice"):
        Config(student_init_noise_tensors=[("W1", 0.1), ("W1", 0.2)])
    with pytest.raises(ConfigError, match=r"a mapping from tensor names to stds"):
        Config(student_init_noise_tensors=0.1)


# --------------------------------------------------------------------------- a permuted start

U = float(torch.finfo(torch.float32).eps) / 2


def test_permuting_the_hidden_units_keeps_the_function_and_moves_every_tensor():
    """Step 0: the permuted start computes the shared start's logits up to summation order. Each logit is
    a sum of K products in float32, accurate to K*U*sum|products| (U the unit roundoff); the two
    orders each err by at most that, so they differ by at most twice it."""
    config, seeds = Config(hidden=32), [0, 1]
    shared = shared_inits(config, seeds, "cpu")
    orders = [(torch.randperm(32, generator=torch.Generator().manual_seed(k)),
               torch.randperm(32, generator=torch.Generator().manual_seed(10 + k))) for k in seeds]
    permuted = models.permute_hidden(shared, orders)
    x = torch.rand(64, 784, generator=torch.Generator().manual_seed(5))
    # the network of absolute values bounds every partial sum; 784 + 2H terms round along the way
    magnitude = ((x.abs() @ shared[0].abs()) @ shared[2].abs()) @ shared[4].abs()
    bound = 2 * (784 + 2 * 32) * U * magnitude
    diff = (models.forward(permuted, x) - models.forward(shared, x)).abs()
    assert (diff <= bound).all()
    for i, (p, s) in enumerate(zip(permuted, shared)):  # every weight tensor is relabelled, not kept
        if i in (0, 2, 4):
            assert not torch.equal(p, s) and torch.equal(p.flatten(1).sort().values, s.flatten(1).sort().values)
    # relabelling the hidden layers but not the head reads the features in the wrong order: another function
    other, same = models.forward(models.permute_hidden(shared, orders, head=False), x), models.forward(shared, x)
    assert (other - same).abs().max() > 0.1 * same.abs().max() > float(bound.max())


def test_a_permuted_student_ends_where_the_shared_student_ends(tiny):
    """Adam acts coordinate by coordinate and the loss reads only the function, so the permuted student's
    whole trajectory is the shared one relabelled: equal up to float32 rounding, judged as in
    test_training's ensemble test (rounding-level drift far below what the book resolves)."""
    config = tiny.replace(hidden=64, student_epochs=2)
    result = run_experiment(config, seeds=3, conditions=["student_aux", ("permuted", StudentCondition(permute="all"))],
                            cache=False, progress=False)
    a, b = result["student_aux"], result["permuted"]
    assert abs(a.loss[:, 0] - b.loss[:, 0]).max() <= 1e-4 * a.loss[:, 0].max()
    assert np.abs(a.cosine[:, 0] - b.cosine[:, 0]).max() <= 10_000 * U
    spread = a.accuracy.std(ddof=1)
    assert np.abs(a.accuracy - b.accuracy).max() <= 0.25 * spread
    standard_error = a.cosine.std(axis=1, ddof=1) / np.sqrt(a.cosine.shape[1])
    assert (np.abs(a.cosine.mean(axis=1) - b.cosine.mean(axis=1)) <= 0.1 * standard_error).all()
    # ... while its displacement, read in the teacher's coordinates, points nowhere in particular
    assert (np.abs(b.displacement_cos[:, -1]) < 0.5 * a.displacement_cos[:, -1]).all()


def test_permute_validation():
    with pytest.raises(ValueError, match=r"permute needs init='shared'"):
        StudentCondition(init="cross", permute="all")
    with pytest.raises(ValueError, match=r"permute must be one of \(None, 'all', 'hidden'\)"):
        StudentCondition(permute="head")
    with pytest.raises(ValueError, match="one \\(p1, p2\\) per model"):
        models.permute_hidden(random_params(0), [(torch.arange(4), torch.arange(4))])


# --------------------------------------------------------------------------- alignment at every k-th step


def test_alignment_every_k_steps_is_an_exact_subsample(tiny, monkeypatch):
    """The probes never change the training: measuring g_t at steps 0, k, 2k, ... gives exactly the
    every-step run's numbers at those steps, NaN at the others, and the same students."""
    config = tiny.replace(student_epochs=3)
    conditions = ["student_aux", "cross_aux"]
    every = run_experiment(config, seeds=2, conditions=conditions, cache=False, progress=False)
    third = run_experiment(config.replace(alignment_every=3), seeds=2, conditions=conditions, cache=False,
                           progress=False)
    for name in conditions:
        a, b = every[name], third[name]
        np.testing.assert_array_equal(a.accuracy, b.accuracy)
        np.testing.assert_array_equal(a.loss, b.loss)
        for field in ("cosine", "trait_loss", "trait_update"):
            x, y = getattr(a, field), getattr(b, field)
            np.testing.assert_array_equal(x[:, ::3], y[:, ::3], err_msg=field)
            assert np.isnan(np.delete(y, np.s_[::3], axis=1)).all(), field
        np.testing.assert_array_equal(a.update_norm, b.update_norm)
        np.testing.assert_array_equal(b.frac_positive, (a.cosine[:, ::3] > 0).mean(axis=1))
        np.testing.assert_allclose(b.mean_cosine, a.cosine[:, ::3].mean(axis=1), rtol=1e-6)
    # a projection needs g_t at every step: it is measured there whatever alignment_every says
    projected_run = run_experiment(config.replace(alignment_every=3), seeds=1, conditions=["projection"],
                                   cache=False, progress=False)
    assert not np.isnan(projected_run["projection"].cosine).any()
    # the every-step run answers for the every-3rd one: reused, it gives what that run measured, and
    # nothing is trained (computing now would fail)
    def no_training(*args, **kwargs):
        raise AssertionError("the reused run should have answered; nothing may be trained")

    monkeypatch.setattr(experiments, "_compute_experiment", no_training)
    reused = run_experiment(config.replace(alignment_every=3), seeds=2, conditions=conditions, cache=False,
                            progress=False, reuse=every)
    assert reused.config.alignment_every == 3
    for name in conditions:
        for field in ("cosine", "cosine_after", "trait_loss", "trait_update", "trait_grad_norm", "accuracy"):
            np.testing.assert_array_equal(getattr(reused[name], field), getattr(third[name], field), err_msg=field)
            assert getattr(reused[name], field).dtype == getattr(third[name], field).dtype, field
    # an explorer's plain student read from such a run is masked the same way
    plain = plain_baseline(config.replace(alignment_every=3), [0, 1], every, None, ())
    np.testing.assert_array_equal(plain["student_aux"].cosine, third["student_aux"].cosine)
    # a projection measures every step: its rows come back whole, labelled with the asked setting
    again = run_experiment(config.replace(alignment_every=6), seeds=1, conditions=["projection"], cache=False,
                           progress=False, reuse=projected_run)
    assert again.config.alignment_every == 6
    np.testing.assert_array_equal(again["projection"].cosine, projected_run["projection"].cosine)
    # ... but the every-3rd run does not answer for an every-step or every-4th one, which need steps it skipped
    assert same_run(every.config, third.config) and same_run(third.config, config.replace(alignment_every=6))
    assert not same_run(third.config, config) and not same_run(third.config, config.replace(alignment_every=4))
    with pytest.raises(ValueError, match="multiple of 3"):
        third.on_alignment_steps(4)
    with pytest.raises(ConfigError, match="alignment_every"):
        Config(alignment_every=0)
