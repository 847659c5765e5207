"""End to end: the small experiment shows subliminal learning, and the cache is safe."""

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from subliminal.experiments import ALL_CONDITIONS, cache_dir, mean_ci, run_experiment


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


def test_alignment_statistics_are_sane(small_result):
    for name in ("student_aux", "student_all", "cross_aux", "cross_all", "projection", "liminal"):
        res = small_result[name]
        assert np.all(np.abs(res.cosine) <= 1.0)
        assert res.cosine.shape == res.loss.shape == res.projected.shape
        assert res.curve_acc.shape == (3, len(small_result.curve_steps))
    assert small_result["student_aux"].frac_positive.mean() > 0.6
    assert small_result["student_aux"].mean_cosine.mean() > 0
    assert not small_result["student_aux"].projected.any()  # only the projection student projects


def test_mean_ci():
    mean, half = mean_ci([1.0, 2.0, 3.0])
    assert mean == 2.0 and half == pytest.approx(1.96 * 1.0 / np.sqrt(3))
    assert mean_ci([0.5]) == (0.5, 0.0)


def test_bad_run_arguments():
    with pytest.raises(ValueError, match="unknown condition"):
        run_experiment(seeds=1, conditions=["student"])
    with pytest.raises(ValueError, match="seeds must be at least 1"):
        run_experiment(seeds=0)
    with pytest.raises(ValueError, match="distinct"):
        run_experiment(seeds=[1, 1])


def test_corrupted_cache_entry_is_recomputed(small_config, tmp_path, monkeypatch):
    monkeypatch.setenv("SUBLIMINAL_CACHE", str(tmp_path))  # a cache holding only this test's entries
    config = small_config.replace(student_epochs=1, teacher_epochs=1, n_noise=2048, curve_every=50)
    first = run_experiment(config, seeds=1, conditions=["student_aux"], progress=False)
    entries = [p for p in cache_dir().rglob("output.pkl") if "_compute_experiment" in str(p)]
    assert entries, "nothing was cached"
    newest = max(entries, key=lambda p: p.stat().st_mtime)
    newest.write_bytes(b"\x80\x04 this is not a pickle")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = run_experiment(config, seeds=1, conditions=["student_aux"], progress=False)
    assert again["student_aux"].accuracy.tolist() == first["student_aux"].accuracy.tolist()
    import joblib

    rewritten = joblib.load(newest)  # the entry was rewritten whole and reads back
    assert rewritten["conditions"]["student_aux"]["accuracy"].tolist() == first["student_aux"].accuracy.tolist()


def test_no_cache_neither_reads_nor_writes_the_cache(small_config, tmp_path, monkeypatch):
    monkeypatch.setenv("SUBLIMINAL_CACHE", str(tmp_path))
    config = small_config.replace(student_epochs=1, teacher_epochs=1, n_noise=2048, curve_every=50)
    run_experiment(config, seeds=1, conditions=["teacher", "student_aux"], cache=False, progress=False)
    assert not list(tmp_path.rglob("output.pkl")), "cache=False (--no-cache) must recompute everything, teachers too"


def test_cli_reproduce_in_bf16(tmp_path):
    out_json = tmp_path / "bf16.json"
    run = subprocess.run([sys.executable, "-m", "subliminal", "reproduce", "--seeds", "1", "--fast",
                          "--precision", "bf16", "--json", str(out_json)], capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr
    assert "bf16 matrix products" in run.stdout.splitlines()[0]
    payload = json.loads(out_json.read_text())
    assert payload["config"]["precision"] == "bf16"
    assert 0.85 < payload["conditions"]["teacher"]["accuracy"][0] <= 1.0  # bf16 training still learns digits


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
    assert len(payload["conditions"]["student_aux"]["accuracy"]) == 2
    assert payload["config"]["n_noise"] == 12_000  # the fast configuration
