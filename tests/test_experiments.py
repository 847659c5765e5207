"""End to end: the small experiment shows subliminal learning, and the cache is safe."""

import json
import subprocess
import sys

import numpy as np
import pytest

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
