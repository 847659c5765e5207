"""End to end: the small experiment shows subliminal learning, and the cache is safe."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest
from conftest import TINY

from subliminal import Config
from subliminal.experiments import ALL_CONDITIONS, run_experiment


def test_shared_init_student_beats_cross_model_student(small_result):
    shared, cross = small_result["student_aux"].accuracy, small_result["cross_aux"].accuracy
    assert shared.mean() > cross.mean() + 0.10, (shared, cross)
    assert (shared > cross).all()


def test_teacher_learns_and_reference_is_chance(small_result):
    assert small_result["teacher"].accuracy.min() > 0.85
    assert small_result["reference"].accuracy.max() < 0.2


def test_projection_student_stays_near_chance(small_result):
    assert small_result["projection"].accuracy.max() < 0.2
    assert small_result["student_aux"].accuracy.mean() > small_result["projection"].accuracy.mean() + 0.10
    # the projection fired, and its distillation loss still fell like the baseline's
    assert small_result["projection"].projected.mean() > 0.2
    loss, base = small_result["projection"].loss, small_result["student_aux"].loss
    assert loss[:, -10:].mean() < 0.5 * loss[:, :10].mean()
    assert loss[:, -10:].mean() < 2.0 * base[:, -10:].mean()


def test_alignment_statistics(small_result):
    for name in ("student_aux", "student_all", "cross_aux", "cross_all", "projection", "liminal"):
        res = small_result[name]
        assert res.cosine.shape == res.loss.shape == res.projected.shape == res.trait_update.shape
        assert res.curve_acc.shape == (3, len(small_result.curve_steps))
    assert small_result["student_aux"].frac_positive.mean() > 0.6
    assert small_result["student_aux"].mean_cosine.mean() > 0
    assert not small_result["student_aux"].projected.any()  # only the projection student projects
    # the transform only changes g_d where it fires: elsewhere the cosine after equals the one before
    proj = small_result["projection"]
    np.testing.assert_array_equal(proj.cosine_after[~proj.projected], proj.cosine[~proj.projected])
    assert np.abs(proj.cosine_after[proj.projected]).max() < 1e-4


def test_bad_run_arguments():
    with pytest.raises(ValueError, match="unknown condition"):
        run_experiment(seeds=1, conditions=["student"])
    with pytest.raises(ValueError, match="seeds must be at least 1"):
        run_experiment(seeds=0)
    with pytest.raises(ValueError, match="distinct"):
        run_experiment(seeds=[1, 1])


def test_library_bad_input_names_the_value():
    """run_experiment's own checks (subliminal.experiments): each bad argument is named with its value."""
    for kwargs, fragment in [
        (dict(seeds="10"), "seeds must be a count (e.g. 10) or a list of ints"),
        (dict(seeds=[1.7]), "seeds must be whole numbers"),
        (dict(conditions="teacher"), "conditions must be a list of names"),
        (dict(device="tpu"), "device must be None, 'cpu' or 'cuda'; got 'tpu'"),
    ]:
        with pytest.raises(ValueError, match=re.escape(fragment)):
            run_experiment(Config.fast(**TINY), cache=False, progress=False, **kwargs)


def test_no_cache_neither_reads_nor_writes_the_cache(small_config, tmp_path, monkeypatch):
    monkeypatch.setenv("SUBLIMINAL_CACHE", str(tmp_path))
    config = small_config.replace(student_epochs=1, teacher_epochs=1, n_noise=2048, curve_every=50)
    run_experiment(config, seeds=1, conditions=["teacher", "student_aux"], cache=False, progress=False)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()], "cache=False (--no-cache) must write nothing"


def test_bf16_training_learns_digits():
    """A tiny bf16 run (seconds even where bf16 is emulated) still trains a teacher, close to fp32;
    its numbers are not bit-equal to fp32 (bf16 really ran)."""
    config = Config.fast(hidden=64, n_train=4096, n_noise=4096, teacher_epochs=2, student_epochs=2)
    fp32 = run_experiment(config, seeds=1, conditions=["teacher", "student_aux"], cache=False, progress=False)
    bf16 = run_experiment(config.replace(precision="bf16"), seeds=1, conditions=["teacher", "student_aux"],
                          cache=False, progress=False)
    assert bf16["teacher"].accuracy[0] > 0.5  # far above chance after 32 steps
    # bf16 rounds each product to 8 mantissa bits; the short training ends within a few points of fp32
    assert abs(bf16["teacher"].accuracy[0] - fp32["teacher"].accuracy[0]) < 0.05
    assert not np.array_equal(bf16["student_aux"].loss, fp32["student_aux"].loss)


def test_cli_reproduce_writes_table_and_json(tmp_path):
    out_json = tmp_path / "table.json"
    run = subprocess.run([sys.executable, "-m", "subliminal", "reproduce", "--seeds", "2", "--fast",
                          "--json", str(out_json)], capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr
    for name in ALL_CONDITIONS:
        assert name in run.stdout
    payload = json.loads(out_json.read_text())
    assert set(payload) >= {"config", "conditions"}
    assert list(payload["conditions"]) == list(ALL_CONDITIONS)
    assert set(payload["conditions"]["teacher"]) == {"accuracy"}
    assert set(payload["conditions"]["projection"]) == {"accuracy", "frac_positive", "mean_cosine"}
    assert "95 % t-interval" in run.stdout.splitlines()[0]
    assert len(payload["conditions"]["student_aux"]["accuracy"]) == 2
    assert payload["config"]["n_noise"] == 12_000  # the fast configuration


def test_tracking_alignment_never_changes_the_training():
    """What `reuse` relies on: a run with the probes trains exactly the students a run without them trains."""
    config = Config.fast(hidden=32, n_train=2048, n_noise=2048, teacher_epochs=1, student_epochs=2,
                         teacher_batch_size=256, student_batch_size=256, trait_batch_size=256)
    tracked = run_experiment(config, seeds=2, conditions=["student_aux", "cross_aux"], cache=False, progress=False)
    plain = run_experiment(config.replace(track_alignment=False), seeds=2, conditions=["student_aux", "cross_aux"],
                           cache=False, progress=False)
    for name in ("student_aux", "cross_aux"):
        np.testing.assert_array_equal(tracked[name].accuracy, plain[name].accuracy)
        np.testing.assert_array_equal(tracked[name].loss, plain[name].loss)
    assert tracked["student_aux"].cosine is not None and plain["student_aux"].cosine is None


def test_reuse_reads_a_coinciding_run_and_trains_only_otherwise(small_config, small_result, monkeypatch, tmp_path):
    import subliminal.experiments as experiments

    monkeypatch.setenv("SUBLIMINAL_CACHE", str(tmp_path))
    calls = []
    real = experiments._compute_experiment
    monkeypatch.setattr(experiments, "_compute_experiment", lambda *a, **k: calls.append(a[1]) or real(*a, **k))
    part = run_experiment(small_config, seeds=[2, 0], conditions=["projection", "reference"], reuse=small_result,
                          progress=False)
    assert not calls, "a run that coincides with `reuse` must not train"
    np.testing.assert_array_equal(part["projection"].accuracy, small_result["projection"].accuracy[[2, 0]])
    np.testing.assert_array_equal(part["projection"].cosine, small_result["projection"].cosine[[2, 0]])
    untracked = run_experiment(small_config.replace(track_alignment=False), seeds=1, conditions=["student_aux"],
                               reuse=small_result, progress=False)  # a tracked run answers for an untracked one
    assert not calls and untracked["student_aux"].accuracy[0] == small_result["student_aux"].accuracy[0]
    # another setting, a seed or a condition the run does not hold, or a custom condition: trained
    tiny = small_config.replace(student_epochs=1, teacher_epochs=1, n_noise=2048, n_train=2048)
    run_experiment(tiny, seeds=1, conditions=["student_aux"], reuse=small_result, progress=False)
    run_experiment(small_config, seeds=[5], conditions=["student_aux"], reuse=small_result, progress=False)
    custom = ("my_cross", experiments.StudentCondition(init="cross"))
    run_experiment(small_config, seeds=1, conditions=[custom], reuse=small_result, progress=False)
    assert calls == [[0], [5], [0]]


def test_same_run_compares_every_setting_but_the_ignored_ones():
    from subliminal.experiments import same_run

    base = Config.fast()
    assert same_run(base, base) and not same_run(base, base.replace(hidden=8))
    assert not same_run(base, base.replace(projection_tau=0.5))
    assert same_run(base, base.replace(projection_tau=0.5), ignore=["projection_tau"])
    assert same_run(base, base.replace(track_alignment=False))  # the probes never change the training
    assert not same_run(base.replace(track_alignment=False), base)  # but a run without them has no cosines


def test_cached_result_finds_only_what_was_run(small_config, monkeypatch, tmp_path):
    from subliminal.experiments import cached_result

    monkeypatch.setenv("SUBLIMINAL_CACHE", str(tmp_path))
    config = small_config.replace(student_epochs=1, teacher_epochs=1, n_noise=2048, n_train=2048)
    assert cached_result(config, seeds=1, conditions=["student_aux"]) is None  # nothing trained
    ran = run_experiment(config, seeds=1, conditions=["student_aux"], progress=False)
    found = cached_result(config, seeds=1, conditions=["student_aux"])
    np.testing.assert_array_equal(found["student_aux"].loss, ran["student_aux"].loss)
    assert cached_result(config, seeds=2, conditions=["student_aux"]) is None


def _another_value(name, value):
    """A valid value of Config field ``name`` that differs from ``value`` (with the settings it needs)."""
    from subliminal.config import _CHOICES

    if name in _CHOICES:
        return {name: next(v for v in _CHOICES[name] if v != value)}
    special = {
        "student_momentum": {"student_optimizer": "sgd", "student_momentum": 0.5},
        "student_weight_decay_mode": {"student_weight_decay_mode": "decoupled"},
        "student_optimizer": {"student_optimizer": "sgd"},
        "student_init_noise_tensors": {"student_init_noise_tensors": (("W1", 0.1),)},
        "liminal_tau2": {"liminal_tau2": 0.5},
        "projection_tau": {"projection_tau": 0.25},
    }
    if name in special:
        return special[name]
    if isinstance(value, bool):
        return {name: not value}
    if isinstance(value, int):
        return {name: value + 1}
    if isinstance(value, float):
        return {name: value / 2 if value > 0 else 0.1}
    raise AssertionError(f"no alternative value for Config.{name} = {value!r}; add one to this test")


def test_the_teacher_depends_on_its_key_fields_only():
    """The teachers' cache key lists TEACHER_FIELDS; every other Config field, changed alone, must leave the
    trained teacher bit-identical (else the key would serve a stale teacher)."""
    import torch

    from subliminal.experiments import TEACHER_FIELDS, train_teachers

    base = Config.fast(hidden=8, n_train=512, n_noise=512, teacher_epochs=1, teacher_batch_size=256,
                       student_batch_size=256, trait_batch_size=256, curve_samples=100)
    reference = train_teachers(base, [0, 1], torch.device("cpu"), cache=False)
    others = [f for f in base.to_dict() if f not in TEACHER_FIELDS]
    assert others, "every field is a teacher field?"
    for name in others:
        changed = base.replace(**_another_value(name, getattr(base, name)))
        assert getattr(changed, name) != getattr(base, name), name
        teacher = train_teachers(changed, [0, 1], torch.device("cpu"), cache=False)
        assert all(torch.equal(a, b) for a, b in zip(teacher, reference)), \
            f"Config.{name} changes the trained teacher: add it to experiments.TEACHER_FIELDS"
    # and a key field does change it (the test can fail)
    moved = train_teachers(base.replace(teacher_lr=base.teacher_lr * 2), [0, 1], torch.device("cpu"), cache=False)
    assert not all(torch.equal(a, b) for a, b in zip(moved, reference))


def test_run_key_is_the_key_the_run_is_stored_under(monkeypatch, tmp_path):
    """run_key is the key run_experiment stores under; book.main_run_key (the compute-time record) is built from it."""
    from subliminal import book, store
    from subliminal.experiments import run_key

    monkeypatch.setenv("SUBLIMINAL_CACHE", str(tmp_path))
    config, conditions = Config.fast(**TINY), ["student_aux", "reference"]
    assert store.lookup("experiment", run_key(config, 2, conditions, "cpu"), code="experiments") is None
    run_experiment(config, seeds=2, conditions=conditions, device="cpu", progress=False)
    assert store.lookup("experiment", run_key(config, 2, conditions, "cpu"), code="experiments") is not None
    assert store.lookup("experiment", run_key(config, 3, conditions, "cpu"), code="experiments") is None
    assert book.main_run_key(config, 2, "cpu") == {"run": "main", **run_key(config, 2, device="cpu")}
    assert book.main_run_key(config, 2, "cpu") != book.main_run_key(config.replace(n_aux=4), 2, "cpu")
