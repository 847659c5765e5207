"""Bad settings and bad command lines fail early with a message that says what to fix."""

import json
import subprocess
import sys

import pytest

from subliminal.config import Config, ConfigError


def test_defaults_are_the_reference_settings():
    c = Config()
    assert (c.hidden, c.n_aux, c.n_outputs) == (256, 3, 13)
    assert (c.teacher_lr, c.student_lr) == (3e-4, 3e-4)
    assert (c.teacher_batch_size, c.student_batch_size, c.teacher_epochs, c.student_epochs) == (1024, 1024, 5, 5)
    assert (c.n_noise, c.temperature, c.noise) == (60_000, 1.0, "uniform")
    assert c.projection_tau == 0.0 and c.tau2 == pytest.approx(0.2)
    assert c.precision == "fp32"  # the reference code's numerics; bf16 is opt-in


@pytest.mark.parametrize("changes, message", [
    ({"student_lr": -1e-3}, "student_lr must be greater than 0"),
    ({"hidden": 0}, "hidden must be at least 1"),
    ({"hidden": 2.5}, "hidden must be an integer"),
    ({"n_aux": 0}, "n_aux must be at least 1"),
    ({"trait_grad": "labels"}, "trait_grad must be one of 'labelled', 'label_free'"),
    ({"projection_tau": 2.0}, "projection_tau must be at most 1.0"),
    ({"liminal_lambda0": 1.5}, "liminal_lambda0 must be at most 1.0"),
    ({"liminal_tau2": 1.0}, "liminal_tau2 must be less than 1.0"),
    ({"n_train": 70_000}, "n_train must be at most 60000"),
    ({"temperature": float("nan")}, "temperature must be a number; got NaN"),
    ({"noise": "pink"}, "noise must be one of"),
    ({"precision": "fp16"}, "precision must be one of 'fp32', 'bf16'"),
])
def test_bad_settings_raise_clear_errors(changes, message):
    with pytest.raises(ConfigError, match=message):
        Config(**changes)


def test_replace_rejects_unknown_settings():
    with pytest.raises(ConfigError, match=r"unknown setting\(s\) \['lr'\]"):
        Config().replace(lr=0.1)


def test_round_trip_through_dict():
    c = Config.fast(student_lr=1e-3)
    assert Config.from_dict(json.loads(json.dumps(c.to_dict()))) == c


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "subliminal", *args], capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("args, message", [
    (["reproduce", "--seeds", "0"], "--seeds must be a positive integer"),
    (["reproduce", "--seeds", "ten"], "--seeds must be a positive integer"),
    (["reproduce", "--device", "tpu"], "invalid choice: 'tpu'"),
    (["reproduce", "--precision", "fp16"], "invalid choice: 'fp16'"),
    (["reproduce", "--json", "/no/such/folder/out.json", "--fast", "--seeds", "1"], "does not exist"),
    (["replicate"], "invalid choice: 'replicate'"),
])
def test_cli_rejects_bad_arguments_in_one_line(args, message):
    out = run_cli(*args)
    assert out.returncode != 0
    assert message in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has a GPU")
def test_cli_explains_missing_gpu():
    out = run_cli("reproduce", "--device", "cuda", "--fast", "--seeds", "1")
    assert out.returncode == 2
    assert "no CUDA GPU is available" in out.stderr and len(out.stderr.strip().splitlines()) == 1
