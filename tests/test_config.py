"""Bad settings and bad command lines fail early with a message that says what to fix."""

import ast
import dataclasses
import json
import re
import subprocess
import sys

import numpy as np
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
    ({"student_lr": -1e-3}, "student_lr must be greater than 0.0 (e.g. student_lr=0.0003); got -0.001"),
    ({"hidden": 0}, "hidden must be at least 1 (e.g. hidden=256); got 0"),
    ({"hidden": 2.5}, "hidden must be a whole number >= 1 (e.g. hidden=256); got 2.5"),
    ({"hidden": True}, "hidden must be a whole number >= 1 (e.g. hidden=256); got True"),
    ({"n_aux": 0}, "n_aux must be at least 1: the student is distilled on the aux logits (e.g. n_aux=3); got 0"),
    ({"trait_grad": "labels"}, "trait_grad must be one of 'labelled', 'label_free', 'shuffled', 'random', "
                               "'label_only', 'confidence', 'permuted' "
                               "(e.g. trait_grad='labelled'); got 'labels'"),
    ({"projection_tau": 2.0}, "projection_tau must be at most 1.0 (e.g. projection_tau=0.0); got 2.0"),
    ({"liminal_lambda0": 1.5}, "liminal_lambda0 must be at most 1.0 (e.g. liminal_lambda0=1.0); got 1.5"),
    ({"liminal_tau2": 1.0}, "liminal_tau2 must be less than 1.0 (e.g. liminal_tau2=0.2); got 1.0"),
    ({"n_train": 70_000}, "n_train must be at most 60000, the size of the MNIST training set (e.g. n_train=12000); "
                          "got 70000"),
    ({"curve_samples": 20_000}, "curve_samples must be at most 10000, the size of the MNIST test set "
                                "(e.g. curve_samples=1000); got 20000"),
    ({"temperature": float("nan")}, "temperature must be a finite number (e.g. temperature=1.0); got nan"),
    ({"liminal_temperature": float("-inf")},
     "liminal_temperature must be a finite number (e.g. liminal_temperature=2.0); got -inf"),
    ({"teacher_lr": "3e-4"}, "teacher_lr must be a number (e.g. teacher_lr=0.0003); got '3e-4'"),
    ({"noise": "pink"}, "noise must be one of 'uniform', 'gaussian' (e.g. noise='uniform'); got 'pink'"),
    ({"precision": "fp16"}, "precision must be one of 'fp32', 'bf16' (e.g. precision='fp32'); got 'fp16'"),
    ({"track_alignment": 1}, "track_alignment must be True or False (e.g. track_alignment=True); got 1"),
    ({"student_epochs": 0}, "student_epochs must be at least 1 (e.g. student_epochs=5); got 0"),
    ({"trait_batch_size": 70_000}, "trait_batch_size must be at most 60000, the MNIST training images it batches "
                                   "(e.g. trait_batch_size=1024); got 70000"),
    ({"n_train": 1000}, "teacher_batch_size must be at most 1000, the n_train=1000 training images it batches "
                        "(e.g. teacher_batch_size=1000); got 1024"),
])
def test_bad_settings_raise_clear_errors(changes, message):
    with pytest.raises(ConfigError) as info:
        Config(**changes)
    assert str(info.value) == message


BAD_VALUES = {int: [2.5, "3", True, None, -7, float("inf")], float: ["1", True, None, float("inf"), float("nan")],
              bool: ["no", 1, None, "True"], str: [1, None, "not-an-option"],
              tuple: [0.1, "W1", None, (("W1",),)]}


@pytest.mark.parametrize("field", [f.name for f in dataclasses.fields(Config)])
def test_every_field_error_names_field_value_and_a_valid_example(field):
    """For every setting and every kind of bad value: the message names the field and the value, and the
    example it gives is itself accepted."""
    default = getattr(Config(), field)
    kind = {"n_train": int, "liminal_tau2": float}.get(field, type(default))
    for value in BAD_VALUES[kind]:
        if field in ("n_train", "liminal_tau2") and value is None:
            continue  # None is a valid choice for these two
        with pytest.raises(ConfigError) as info:
            Config(**{field: value})
        message = str(info.value)
        assert message.startswith(f"{field} must be ") and message.endswith(f"got {value!r}"), message
        example = re.search(r"\(e\.g\. (\w+)=(.+?)\)", message)
        assert example and example.group(1) == field, message
        accepted = getattr(Config(**{field: ast.literal_eval(example.group(2))}), field)
        if isinstance(default, tuple):  # a mapping, stored as (name, value) pairs
            accepted = dict(accepted)
        assert accepted == ast.literal_eval(example.group(2))


def test_numbers_from_numpy_are_accepted_as_plain_python_numbers():
    c = Config(hidden=np.int64(64), teacher_lr=np.float32(0.5), temperature=2, n_train=np.int32(2048))
    assert (type(c.hidden), type(c.teacher_lr), type(c.temperature), type(c.n_train)) == (int, float, float, int)
    assert json.loads(json.dumps(c.to_dict())) == c.to_dict()  # usable as a cache key


def test_batches_may_equal_but_not_exceed_their_data():
    Config(n_train=1024, n_noise=1024)  # batch 1024 of 1024 images: one batch per epoch
    with pytest.raises(ConfigError, match="student_batch_size must be at most 1023"):
        Config(n_noise=1023)
    with pytest.raises(ConfigError, match="trait_batch_size must be at most 512"):
        Config(n_train=512, teacher_batch_size=512)


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


CONFIG_CASES = [
    (dict(teacher_lr=float("inf")), "teacher_lr must be a finite number (e.g. teacher_lr=0.0003); got inf"),
    (dict(student_lr=float("inf")), "student_lr must be a finite number (e.g. student_lr=0.0003); got inf"),
    (dict(temperature=float("inf")), "temperature must be a finite number (e.g. temperature=1.0); got inf"),
    (dict(student_weight_decay=float("inf")),
     "student_weight_decay must be a finite number (e.g. student_weight_decay=0.0); got inf"),
    (dict(track_alignment="no"), "track_alignment must be True or False (e.g. track_alignment=True); got 'no'"),
    (dict(teacher_epochs=0), "teacher_epochs must be at least 1: an untrained teacher has no trait to pass on "
                             "(e.g. teacher_epochs=5); got 0"),
    (dict(n_noise=2048, student_batch_size=4096), "student_batch_size must be at most 2048, the n_noise=2048 noise "
                                                  "images it batches (e.g. student_batch_size=1024); got 4096"),
    (dict(n_train=500, teacher_batch_size=1024, trait_batch_size=256),
     "teacher_batch_size must be at most 500, the n_train=500 training images it batches "
     "(e.g. teacher_batch_size=500); got 1024"),
]


@pytest.mark.parametrize("changes, message", CONFIG_CASES, ids=[next(iter(c)) for c, _ in CONFIG_CASES])
def test_config_bad_input_names_field_value_and_example(changes, message):
    with pytest.raises(ConfigError) as info:
        Config(**changes)
    assert str(info.value) == message


def test_the_configuration_of_a_mode():
    assert Config.for_mode(True) == Config.fast()
    assert Config.for_mode(False) == Config()
    with pytest.raises(ConfigError, match="fast must be True or False; got 'yes'"):
        Config.for_mode("yes")
