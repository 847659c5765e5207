"""The command line: bad input fails before any work in one line (exit 2); Ctrl-C exits 130."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import one_line

from subliminal import __main__ as cli
from subliminal import budget, store
from subliminal.config import Config

ROOT = Path(__file__).resolve().parents[1]

CLI_CASES = [
    # (arguments, exact stderr line, exit status); {tmp} is a fresh folder, {ro} a read-only file in it
    (["reproduce", "--json", "{tmp}"], "subliminal: error: --json {tmp} is a folder; give a file path such as "
     "{tmp}/results.json", 2),
    (["reproduce", "--json", "/proc/x.json"], "subliminal: error: --json /proc/x.json: cannot create files in "
     "/proc ({proc_error}); choose a writable folder", 2),
    (["reproduce", "--json", ""], "subliminal: error: --json needs a file path, e.g. --json results.json; got an "
     "empty string", 2),
    (["reproduce", "--json", "{ro}"], "subliminal: error: --json {ro} is read-only; choose another path or make it "
     "writable (chmod u+w {ro})", 2),
    (["reproduce", "--json", "{tmp}/missing/out.json"], "subliminal: error: --json {tmp}/missing/out.json: folder "
     "{tmp}/missing does not exist; create it first (mkdir -p {tmp}/missing)", 2),
    (["reproduce", "--json", "/dev/null"], "subliminal: error: --json /dev/null is not a regular file; give the "
     "path of a .json file", 2),
    (["reproduce", "--seeds", "0"], "subliminal: error: argument --seeds: --seeds must be a positive integer, e.g. "
     "--seeds 10; got 0 (see `python -m subliminal reproduce --help`)", 2),
    (["reproduce", "--seeds", "1e5"], "subliminal: error: argument --seeds: --seeds must be a positive integer, "
     "e.g. --seeds 10; got '1e5' (see `python -m subliminal reproduce --help`)", 2),
    (["reproduce", "--device", "tpu"], "subliminal: error: argument --device: invalid choice: 'tpu' (choose from "
     "'cpu', 'cuda') (see `python -m subliminal reproduce --help`)", 2),
    (["reproduce", "--precision", "fp16"], "subliminal: error: argument --precision: invalid choice: 'fp16' "
     "(choose from 'fp32', 'bf16') (see `python -m subliminal reproduce --help`)", 2),
]


def _proc_error() -> str:
    try:
        (Path("/proc") / "x.json").open("x").close()
    except OSError as exc:
        return exc.strerror
    raise AssertionError("/proc accepted a file")


@pytest.mark.parametrize("args, message, status", CLI_CASES, ids=[" ".join(c[0][1:]) or "empty" for c in CLI_CASES])
def test_cli_bad_input_fails_before_any_work(args, message, status, tmp_path, capsys, monkeypatch):
    ro = tmp_path / "ro.json"
    ro.write_text("{}")
    ro.chmod(0o444)
    names = dict(tmp=tmp_path, ro=ro, proc_error=_proc_error() if "/proc/x.json" in args else "")
    args = [a.format(**names) for a in args]
    monkeypatch.setattr("subliminal.experiments.run_experiment", _must_not_run)
    try:
        status_seen = cli.main([*args, "--fast", "--seeds", "1"] if "--seeds" not in args else args)
    except SystemExit as exc:  # argparse's own errors
        status_seen = exc.code
    assert status_seen == status
    out = capsys.readouterr()
    assert one_line(out.err) == message.format(**names)
    assert not out.out
    assert ro.read_text() == "{}"


def _must_not_run(*args, **kwargs):
    raise AssertionError("the run started although the input was bad")


def test_cli_environment_variables_pointing_at_files_are_named(tmp_path, monkeypatch, capsys):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    monkeypatch.setattr("subliminal.experiments.run_experiment", _must_not_run)
    for variable, message in [
        ("SUBLIMINAL_CACHE", f"SUBLIMINAL_CACHE={a_file} is not a folder; point SUBLIMINAL_CACHE at a folder "
                             "(e.g. export SUBLIMINAL_CACHE=/tmp/subliminal-cache) or unset it"),
        ("SUBLIMINAL_DATA", f"SUBLIMINAL_DATA={a_file} is not a folder; point SUBLIMINAL_DATA at a folder for "
                            "MNIST (e.g. export SUBLIMINAL_DATA=~/mnist) or unset it"),
    ]:
        with monkeypatch.context() as m:
            m.setenv(variable, str(a_file))
            assert cli.main(["reproduce", "--fast", "--seeds", "1"]) == 2
        assert one_line(capsys.readouterr().err) == f"subliminal: error: {message}"


@pytest.mark.parametrize("flag, env, fast", [([], "0", False), (["--fast"], "0", True), ([], "1", True)])
def test_cli_fast_mode_is_the_flag_or_the_environment(monkeypatch, flag, env, fast):
    """--fast or SUBLIMINAL_FAST=1 gives the chapters' fast configuration, as everywhere else."""
    monkeypatch.setenv("SUBLIMINAL_FAST", env)
    monkeypatch.setattr(cli, "_device", lambda requested: "cpu")
    seen = []

    def record_then_interrupt(config, **kwargs):
        seen.append(config)
        raise KeyboardInterrupt

    monkeypatch.setattr("subliminal.experiments.run_experiment", record_then_interrupt)
    assert cli.main(["reproduce", "--seeds", "1", "--allow-large", *flag]) == 130
    assert seen == [Config.fast() if fast else Config()]


def test_cli_refuses_a_bad_allocator_switch_before_the_run(monkeypatch, capsys):
    monkeypatch.setenv("SUBLIMINAL_NO_MALLOPT", "maybe")
    monkeypatch.setattr("subliminal.experiments.run_experiment", _must_not_run)
    assert cli.main(["reproduce", "--fast", "--seeds", "1"]) == 2
    assert one_line(capsys.readouterr().err) == (
        "subliminal: error: environment variable SUBLIMINAL_NO_MALLOPT must be 1 or 0; got 'maybe'")


def test_cli_refuses_a_run_larger_than_the_machine(monkeypatch, capsys):
    monkeypatch.delenv("SUBLIMINAL_FAST", raising=False)  # the paper's configuration
    monkeypatch.setattr(budget, "machine_memory", lambda: 16 * 2**30)
    monkeypatch.setattr("subliminal.experiments.run_experiment", _must_not_run)
    monkeypatch.setattr(cli, "_device", lambda requested: "cpu")
    assert cli.main(["reproduce", "--seeds", "100000"]) == 2
    big = budget.estimate(Config(), 100_000)
    assert one_line(capsys.readouterr().err) == (
        f"subliminal: error: this run needs {big.describe()}, but this machine has 16 GiB of memory available; "
        "use fewer seeds or a smaller configuration, or pass --allow-large to run it anyway")
    # the flag lets it through to the run, and the run is told so (stopped here before any training)
    calls = []

    def record_then_interrupt(*args, **kwargs):
        calls.append(kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr("subliminal.experiments.run_experiment", record_then_interrupt)
    assert cli.main(["reproduce", "--seeds", "100000", "--allow-large"]) == 130
    assert calls and calls[0].get("allow_large") is True


def _interrupt(*args, **kwargs):
    raise KeyboardInterrupt


def test_cli_without_gpu_says_device_cpu(monkeypatch, capsys):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr("subliminal.experiments.run_experiment", _must_not_run)
    assert cli.main(["reproduce", "--device", "cuda", "--fast", "--seeds", "1"]) == 2
    assert one_line(capsys.readouterr().err) == (
        "subliminal: error: --device cuda was requested but no CUDA GPU is available here; use --device cpu "
        "(or leave --device out)")
    assert cli._device(None) == "cpu"


def test_cli_ctrl_c_is_one_line_exit_130_and_writes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("subliminal.experiments.run_experiment", _interrupt)
    out = tmp_path / "out.json"
    assert cli.main(["reproduce", "--fast", "--seeds", "1", "--json", str(out)]) == 130
    assert one_line(capsys.readouterr().err) == "subliminal: interrupted; no partial file was left behind"
    assert list(tmp_path.iterdir()) == []


def test_cli_json_write_failure_after_the_run_is_one_line(tmp_path, monkeypatch, capsys):
    """If the disk fills up after the run, the table is printed, the error is one line, no temp file remains."""
    from subliminal.results import ConditionResult, ExperimentResult

    result = ExperimentResult(config=Config.fast(), seeds=[0], conditions={
        "teacher": ConditionResult(accuracy=np.array([0.9]))})
    monkeypatch.setattr("subliminal.experiments.run_experiment", lambda *a, **k: result)
    monkeypatch.setattr("subliminal.results.format_table", lambda r: "TABLE")

    def full_disk(fd):  # the disk fills up while the JSON is being written
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store.os, "fsync", full_disk)
    out = tmp_path / "out.json"
    assert cli.main(["reproduce", "--fast", "--seeds", "1", "--json", str(out)]) == 1
    captured = capsys.readouterr()
    assert captured.out == "TABLE\n"
    assert one_line(captured.err) == (f"subliminal: error: could not write --json {out} (No space left on device); "
                                      "the table above is the result")
    assert list(tmp_path.iterdir()) == []


def test_cli_json_is_written_atomically_over_an_old_file(tmp_path, monkeypatch, capsys):
    from subliminal.results import ConditionResult, ExperimentResult

    result = ExperimentResult(config=Config.fast(), seeds=[0], conditions={
        "teacher": ConditionResult(accuracy=np.array([0.9]))})
    monkeypatch.setattr("subliminal.experiments.run_experiment", lambda *a, **k: result)
    out = tmp_path / "out.json"
    out.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(out)
    assert cli.main(["reproduce", "--fast", "--seeds", "1", "--json", str(link)]) == 0
    assert json.loads(out.read_text())["conditions"]["teacher"]["accuracy"] == [0.9]
    assert link.is_symlink()  # written through the link, which stays
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.json", "out.json"]


@pytest.mark.slow
def test_cli_real_sigint_once_the_run_started(tmp_path):
    """A real Ctrl-C (SIGINT) after torch is loaded and the run is under way: exit 130, one line, no JSON,
    no result entry, no temporary file."""
    cache, out = tmp_path / "cache", tmp_path / "out.json"
    env = dict(os.environ, SUBLIMINAL_CACHE=str(cache))
    # a terminal delivers Ctrl-C to a process whose SIGINT is not ignored; a test runner started in the
    # background (`cmd &`, nohup) passes SIGINT down as ignored, so restore the default in the child
    proc = subprocess.Popen([sys.executable, "-m", "subliminal", "reproduce", "--fast", "--seeds", "2", "--json",
                             str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while "libtorch" not in Path(f"/proc/{proc.pid}/maps").read_text():  # torch is imported inside main()
        assert proc.poll() is None and time.time() < deadline, proc.communicate()
        time.sleep(0.1)
    time.sleep(2.0)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert one_line(stderr) == "subliminal: interrupted; no partial file was left behind"
    assert not out.exists() and not stdout
    assert not list(cache.glob("experiment/*")) and not list(cache.rglob(".tmp-*"))
