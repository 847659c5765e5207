"""Nothing wrong is ever served silently.

* the result store keeps data, never code: a planted pickle is never executed, a
  flipped byte is detected and recomputed, an entry answering another key is never
  served, interrupted writes leave nothing behind;
* bad input fails before any work with one line naming the value and a valid example:
  the command line (exit 2; Ctrl-C exits 130), the library, a chapter's parameters;
* the memory/time estimate that guards large runs follows from the configuration.
"""

from __future__ import annotations

import ast
import io
import json
import os
import pickle
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from subliminal import budget, store
from subliminal import __main__ as cli
from subliminal.book import chapter_parameters
from subliminal.config import Config, ConfigError

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(hidden=32, n_train=2048, n_noise=2048, teacher_epochs=1, student_epochs=1, student_batch_size=512,
            teacher_batch_size=512, trait_batch_size=512, curve_every=50)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A private, empty result cache for one test."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("SUBLIMINAL_CACHE", str(folder))
    return folder


class Plant:
    """Unpickling this creates ``marker`` (what a malicious cache entry would do, harmlessly)."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def payload_of(value: float = 0.4067) -> dict:
    """A payload with every kind of leaf the store accepts (teacher parameters are a list of arrays)."""
    rng = np.random.default_rng(0)
    return {
        "params": [rng.standard_normal((2, 3, 4)).astype(np.float32), np.zeros((2, 4), np.float32)],
        "conditions": {"teacher": {"accuracy": np.array([value, 0.9], dtype=np.float64), "loss": None},
                       "student_aux": {"accuracy": np.array([0.5, 0.6]), "projected": np.array([[True, False]])}},
        "curve_steps": np.arange(5), "n": 3, "x": 1e-4, "nan": float("nan"), "s": "text", "flag": False,
        "scalar": np.float32(0.25),
    }


def assert_same(a, b):
    """Equal payloads: same structure, same types, same dtypes, bit-equal arrays."""
    assert type(a) is type(b), (a, b)
    if isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            assert_same(a[k], b[k])
    elif isinstance(a, list):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y)
    elif isinstance(a, (np.ndarray, np.generic)):
        assert a.dtype == b.dtype and np.shape(a) == np.shape(b)
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
    elif isinstance(a, float) and a != a:
        assert b != b
    else:
        assert a == b


class Counter:
    """A compute function that counts its calls."""

    def __init__(self, value: float = 0.4067):
        self.calls, self.value = 0, value

    def __call__(self):
        self.calls += 1
        return payload_of(self.value)


def one_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    assert len(lines) == 1, text
    return lines[0]


# =========================================================================== the store


def test_store_round_trip_is_exact_and_computes_once(cache):
    compute = Counter()
    first = store.memoise("teachers", {"seeds": [0, 1]}, compute)
    again = store.memoise("teachers", {"seeds": (0, 1)}, compute)  # a tuple is the same key as a list
    assert compute.calls == 1
    assert_same(again, payload_of())
    assert_same(first, payload_of())
    npz, manifest = store.entry_paths("teachers", {"seeds": [0, 1]})
    assert npz.is_file() and manifest.is_file()
    assert json.loads(manifest.read_text())["key"]["code_fingerprint"] == store.code_fingerprint()


def test_disabled_store_neither_reads_nor_writes(cache):
    compute = Counter()
    store.memoise("experiment", {"k": 1}, compute, enabled=False)
    store.memoise("experiment", {"k": 1}, compute, enabled=False)
    assert compute.calls == 2 and not cache.exists()


def _forge(npz: Path, manifest: Path, content: bytes) -> None:
    """Replace an entry's .npz by ``content`` and fix its manifest so every checksum matches."""
    import hashlib

    npz.write_bytes(content)
    meta = json.loads(manifest.read_text())
    meta["npz_sha256"], meta["npz_bytes"] = hashlib.sha256(content).hexdigest(), len(content)
    meta["manifest_sha256"] = store._manifest_checksum(meta)
    manifest.write_text(json.dumps(meta))


def _object_array_npz(marker: Path) -> bytes:
    """An .npz whose one array is an object array: loading it with pickles allowed would run Plant."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        with zf.open("a0.npy", "w") as handle:
            np.lib.format.write_array(handle, np.array([Plant(marker)], dtype=object), allow_pickle=True)
    return buffer.getvalue()


@pytest.mark.parametrize("attack", ["pickle_as_npz", "object_array_in_npz", "legacy_joblib_entry", "stray_pickles"])
def test_a_planted_pickle_is_never_executed(cache, tmp_path, capsys, attack):
    marker = tmp_path / "pwned"
    key = {"seeds": [0, 1], "conditions": ["teacher"]}
    compute = Counter()
    store.memoise("experiment", key, compute)
    npz, manifest = store.entry_paths("experiment", key)
    evil = pickle.dumps(Plant(marker))
    pickle.loads(evil)  # the payload really works: unpickling it creates the marker
    assert marker.exists()
    marker.unlink()
    if attack == "pickle_as_npz":  # the attacker even fixes every checksum
        _forge(npz, manifest, evil)
    elif attack == "object_array_in_npz":
        _forge(npz, manifest, _object_array_npz(marker))
    elif attack == "legacy_joblib_entry":  # where the old joblib cache kept its pickles
        legacy = cache / "joblib" / "subliminal" / "experiments" / "_compute_experiment" / "abc123"
        legacy.mkdir(parents=True)
        (legacy / "output.pkl").write_bytes(evil)
        manifest.unlink()
        npz.unlink()
    else:
        for name in ("experiment/evil.pkl", "experiment/evil.npy", "experiment/x.npz.pkl", "teachers/output.pkl"):
            (cache / name).parent.mkdir(exist_ok=True)
            (cache / name).write_bytes(evil)
    capsys.readouterr()
    result = store.memoise("experiment", key, compute)
    assert not marker.exists(), "a pickle from the cache folder was executed"
    assert_same(result, payload_of())
    assert compute.calls == (1 if attack == "stray_pickles" else 2)
    if attack in ("pickle_as_npz", "object_array_in_npz"):
        assert "cannot be read as plain arrays" in one_line(capsys.readouterr().err)


def test_no_module_reads_pickles():
    """No pickle, joblib or unrestricted torch.load anywhere in the package (caches and data are user-writable)."""
    offenders = []
    for path in sorted((ROOT / "subliminal").glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                if any(n.split(".")[0] in ("pickle", "joblib", "dill", "cloudpickle", "shelve") for n in names):
                    offenders.append(f"{path.name}:{node.lineno} imports {names}")
            if isinstance(node, ast.Call):
                name = ast.unparse(node.func)
                kwargs = {k.arg: ast.unparse(k.value) for k in node.keywords}
                if name.endswith("torch.load") and kwargs.get("weights_only") != "True":
                    offenders.append(f"{path.name}:{node.lineno} torch.load without weights_only=True")
                if name.endswith(("np.load", "numpy.load")) and kwargs.get("allow_pickle") == "True":
                    offenders.append(f"{path.name}:{node.lineno} np.load(allow_pickle=True)")
    assert not offenders, offenders


@pytest.mark.parametrize("target", ["npz_bit", "npz_value", "manifest_value", "manifest_truncated", "npz_missing"])
def test_a_damaged_entry_is_detected_recomputed_and_rewritten(cache, capsys, target):
    key = {"seeds": [0]}
    compute = Counter()
    store.memoise("experiment", key, compute)
    npz, manifest = store.entry_paths("experiment", key)
    if target == "npz_bit":  # one flipped bit somewhere in the arrays
        data = bytearray(npz.read_bytes())
        data[len(data) // 2] ^= 0x01
        npz.write_bytes(bytes(data))
    elif target == "npz_value":  # a plausible edit: the teacher's stored 0.4067 changed to 0.99
        data = npz.read_bytes()
        assert data.count(np.float64(0.4067).tobytes()) == 1
        npz.write_bytes(data.replace(np.float64(0.4067).tobytes(), np.float64(0.99).tobytes()))
    elif target == "manifest_value":  # a scalar kept in the manifest, edited
        text = manifest.read_text()
        assert text.count((1e-4).hex()) == 1
        manifest.write_text(text.replace((1e-4).hex(), (0.99).hex()))
    elif target == "manifest_truncated":
        manifest.write_bytes(manifest.read_bytes()[:50])
    else:
        npz.unlink()
    capsys.readouterr()
    again = store.memoise("experiment", key, compute)
    assert compute.calls == 2
    assert_same(again, payload_of())
    why = {"npz_bit": "fails its SHA-256 checksum", "npz_value": "fails its SHA-256 checksum",
           "manifest_value": "its manifest fails its checksum", "manifest_truncated": "its manifest is unreadable",
           "npz_missing": "its .npz file is missing"}[target]
    message = one_line(capsys.readouterr().err)
    assert message.startswith(f"subliminal: cache entry {manifest.name} (experiment) not used: ")
    assert why in message and message.endswith("; recomputing")
    store.memoise("experiment", key, compute)  # rewritten whole: served again without recomputing
    assert compute.calls == 2 and not capsys.readouterr().err


def test_an_entry_answering_another_key_is_never_served(cache, capsys):
    """Seeds [0, 1] copied over the entry of seeds [0, 1, 2] (or of other conditions) are refused."""
    asked = {"seeds": [0, 1, 2], "conditions": ["teacher", "student_aux"]}
    other = {"seeds": [0, 1], "conditions": ["teacher"]}
    store.memoise("experiment", other, Counter(0.99))
    src_npz, src_manifest = store.entry_paths("experiment", other)
    dst_npz, dst_manifest = store.entry_paths("experiment", asked)
    assert dst_npz != src_npz  # different requests live under different names
    shutil.copy(src_npz, dst_npz)
    shutil.copy(src_manifest, dst_manifest)
    compute = Counter(0.4067)
    capsys.readouterr()
    result = store.memoise("experiment", asked, compute)
    assert compute.calls == 1
    assert result["conditions"]["teacher"]["accuracy"][0] == 0.4067
    assert "it answers a different request" in one_line(capsys.readouterr().err)


def test_entries_of_other_code_are_not_served(cache, monkeypatch):
    compute = Counter()
    store.memoise("teachers", {"seeds": [0]}, compute)
    monkeypatch.setattr(store, "code_fingerprint", lambda root=None, package_dir=None: "0.1.0-edited")
    store.memoise("teachers", {"seeds": [0]}, compute)
    assert compute.calls == 2


def test_fingerprint_covers_every_module_of_the_package(tmp_path):
    """Editing or adding any .py of the package (subpackages too) changes the whole-package fingerprint
    (no hand-kept module list)."""
    package = tmp_path / "subliminal"
    shutil.copytree(ROOT / "subliminal", package, ignore=shutil.ignore_patterns("__pycache__"))

    def fingerprint():
        return store.code_fingerprint(package_dir=package)

    before = fingerprint()
    assert before == fingerprint()
    for name in ("plots/style.py", "widgets/frames.py", "analysis.py", "exercises/projection.py"):
        original = (package / name).read_text()
        (package / name).write_text(original + "\n# edited\n")
        assert fingerprint() != before, name
        (package / name).write_text(original)
        assert fingerprint() == before
    (package / "new_module.py").write_text("x = 1\n")
    assert fingerprint() != before


def test_orphaned_temp_files_are_cleaned_on_the_next_run(cache):
    folder = cache / "experiment"
    folder.mkdir(parents=True)
    host = store._host_tag()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    orphan = folder / f".tmp-{host}-{dead}-abc_1234.part"  # its writer has exited
    old = folder / ".tmp-ffffffff-1-xyz_1234.part"  # another machine's, seven hours old
    live = folder / f".tmp-{host}-{os.getpid()}-def_1234.part"  # a write in progress right now
    foreign = folder / ".tmp-mydownload.part"  # not a name the store writes: never touched
    for path in (orphan, old, live, foreign):
        path.write_bytes(b"half a file")
    for path in (old, foreign):
        os.utime(path, (time.time() - 7 * 3600,) * 2)
    store.memoise("experiment", {"k": 1}, Counter())
    assert not orphan.exists() and not old.exists()
    assert live.exists() and foreign.exists()


def test_an_interrupted_write_leaves_nothing_behind(cache, monkeypatch):
    compute = Counter()
    real_replace = os.replace

    def interrupted(src, dst):
        if str(dst).endswith(".json"):  # Ctrl-C between the .npz and its manifest
            raise KeyboardInterrupt
        return real_replace(src, dst)

    monkeypatch.setattr(store.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        store.memoise("experiment", {"k": 1}, compute)
    monkeypatch.setattr(store.os, "replace", real_replace)
    assert not list((cache / "experiment").glob(".tmp-*")), "a temporary file was left behind"
    store.memoise("experiment", {"k": 1}, compute)  # the .npz without a manifest is not trusted
    assert compute.calls == 2
    store.memoise("experiment", {"k": 1}, compute)
    assert compute.calls == 2


def test_a_result_that_cannot_be_stored_is_still_returned(cache, monkeypatch, capsys):
    def disk_full(path, content):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store, "atomic_write", disk_full)
    result = store.memoise("experiment", {"k": 1}, Counter())
    assert_same(result, payload_of())
    assert one_line(capsys.readouterr().err) == (
        f"subliminal: could not store the experiment result in {cache / 'experiment'}: No space left on device; "
        "it was computed but not cached")


def test_unstorable_payloads_are_refused_before_writing(cache):
    for bad in ({"a": np.array([object()], dtype=object)}, {"a": {1: 2}}, {"a": {1, 2}}):
        with pytest.raises(TypeError):
            store.memoise("experiment", {"k": repr(bad)}, lambda bad=bad: bad)
    assert not list(cache.rglob("*.npz"))
    with pytest.raises(TypeError, match="plain JSON data"):
        store.memoise("experiment", {"k": float("inf")}, Counter())
    with pytest.raises(ValueError, match="kind must be a short lower-case name"):
        store.memoise("../escape", {"k": 1}, Counter())


def test_cache_variable_pointing_at_a_file_is_named_before_any_work(tmp_path, monkeypatch):
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    monkeypatch.setenv("SUBLIMINAL_CACHE", str(not_a_folder))
    compute = Counter()
    with pytest.raises(NotADirectoryError) as info:
        store.memoise("experiment", {"k": 1}, compute)
    assert str(info.value) == (f"SUBLIMINAL_CACHE={not_a_folder} is not a folder; point SUBLIMINAL_CACHE at a "
                               "folder (e.g. export SUBLIMINAL_CACHE=/tmp/subliminal-cache) or unset it")
    assert compute.calls == 0


# --------------------------------------------------------------------------- through run_experiment


@pytest.mark.slow
def test_run_experiment_never_serves_a_wrong_or_planted_result(cache, tmp_path, capsys):
    """End to end through run_experiment: a flipped byte is recomputed to the same numbers, a result for
    other seeds or conditions is not served, a planted pickle is not executed."""
    from subliminal import experiments
    config = Config.fast(**TINY)
    first = experiments.run_experiment(config, seeds=[0, 1], conditions=["teacher", "student_aux"], device="cpu",
                                       progress=False)
    entries = sorted((cache / "experiment").glob("*.npz"))
    assert len(entries) == 1 and len(list((cache / "teachers").glob("*.npz"))) == 1
    data = bytearray(entries[0].read_bytes())
    data[len(data) // 2] ^= 0x01
    entries[0].write_bytes(bytes(data))
    marker = tmp_path / "pwned"
    (cache / "experiment" / "output.pkl").write_bytes(pickle.dumps(Plant(marker)))
    capsys.readouterr()
    again = experiments.run_experiment(config, seeds=[0, 1], conditions=["teacher", "student_aux"], device="cpu",
                                       progress=False)
    assert "fails its SHA-256 checksum" in one_line(capsys.readouterr().err)
    assert not marker.exists()
    for name in ("teacher", "student_aux"):
        assert again[name].accuracy.tolist() == first[name].accuracy.tolist()  # bit-deterministic recompute
    fewer = experiments.run_experiment(config, seeds=[1], conditions=["teacher"], device="cpu", progress=False)
    assert list(fewer.conditions) == ["teacher"] and fewer.seeds == [1]
    # model 1 alone gets the same teacher (up to float rounding of a smaller ensemble: a few test images)
    assert abs(fewer["teacher"].accuracy[0] - first["teacher"].accuracy[1]) <= 0.002
    assert len(list((cache / "experiment").glob("*.npz"))) == 2  # its own entry, not the other request's


# =========================================================================== budget: the scale guard


def test_estimate_matches_the_measured_facts():
    """README, Speed: one paper-scale seed is 5.06 TFLOP and takes 35-45 s on a 2-core CPU in fp32."""
    one = budget.estimate(Config(), 1)
    assert one.flops / 1e12 == pytest.approx(5.06, rel=0.01)  # + the restored-head evaluation (0.03 TFLOP)
    assert 35 <= one.seconds <= 45
    assert budget.estimate(Config(precision="bf16"), 1).seconds < one.seconds


def test_estimate_counts_what_the_run_allocates():
    import torch

    from subliminal import models

    params = models.init_params([torch.Generator().manual_seed(0)], 256, 13, "cpu")
    assert budget.params_per_model(Config()) == sum(p[0].numel() for p in params)
    steps = len(__import__("subliminal.data", fromlist=["x"]).batch_indices(
        12_000, 256, 3, torch.Generator().manual_seed(0)))
    assert budget.distill_steps(Config.fast()) == steps
    # memory and time grow linearly with the seeds; teacher targets are E x n_noise x (10+m) floats
    e1, e2, e3 = (budget.estimate(Config(), n) for n in (1, 2, 3))
    assert e3.memory_bytes - e2.memory_bytes == pytest.approx(e2.memory_bytes - e1.memory_bytes, abs=2)
    assert e2.memory_bytes - e1.memory_bytes > 0
    assert e3.flops == pytest.approx(3 * e1.flops)
    # what one more seed must hold at least, counted from the models themselves (not from budget's
    # formula): every one of its models (1 teacher, 6 students) with its gradient and two Adam
    # moments; each student's imitation target (the teacher's outputs on every noise image); each
    # student's logits on the 10,000 test images when it is evaluated
    config = Config()
    weights = sum(p[0].numel() for p in params) * 4  # bytes of one model's float32 weights
    targets = config.n_noise * config.n_outputs * 4
    per_seed_floor = (1 + 6) * 4 * weights + 6 * targets + 6 * 10_000 * config.n_outputs * 4
    assert e2.memory_bytes - e1.memory_bytes >= per_seed_floor
    # and the data every run holds once: the MNIST images (uint8) and the noise images (float32)
    assert e1.memory_bytes - (e2.memory_bytes - e1.memory_bytes) >= 70_000 * 784 + config.n_noise * 784 * 4
    alone = budget.estimate(Config(data_per_seed=True), 10)  # seeds run one at a time: one seed's peak
    assert e1.memory_bytes < alone.memory_bytes < budget.estimate(Config(), 2).memory_bytes
    assert alone.flops == pytest.approx(10 * e1.flops)
    only_teacher = budget.estimate(Config(), 1, ["teacher"])
    assert "teacher_targets" not in only_teacher.parts and only_teacher.flops < e1.flops / 10


def test_check_budget_refuses_with_the_estimate_and_the_override():
    big = budget.estimate(Config(), 100_000)
    with pytest.raises(budget.BudgetError) as info:
        budget.check_budget(big, available_memory=16 * 2**30)
    assert str(info.value) == (f"this run needs {big.describe()}, but this machine has 16 GiB of memory available; "
                               "use fewer seeds or a smaller configuration, or pass allow_large=True to run it anyway")
    assert budget.check_budget(big, available_memory=16 * 2**30, allow_large=True) is big
    small = budget.estimate(Config.fast(), 1)
    assert budget.check_budget(small, available_memory=16 * 2**30) is small
    assert budget.machine_memory() is None or budget.machine_memory() > 0


# =========================================================================== the command line

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


def test_cli_refuses_a_run_larger_than_the_machine(monkeypatch, capsys):
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


def test_library_refuses_a_run_larger_than_the_machine(monkeypatch):
    import subliminal.experiments as experiments

    monkeypatch.setattr(budget, "machine_memory", lambda: 16 * 2**30)
    with pytest.raises(budget.BudgetError, match="allow_large=True"):  # refused before any training
        experiments.run_experiment(Config(), seeds=100_000, cache=False, progress=False)


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


# =========================================================================== the library


def test_library_bad_input_names_the_value():
    """run_experiment's own checks (subliminal.experiments): each bad argument is named with its value."""
    from subliminal import experiments
    for kwargs, fragment in [
        (dict(seeds="10"), "seeds must be a count (e.g. 10) or a list of ints"),
        (dict(seeds=[1.7]), "seeds must be whole numbers"),
        (dict(conditions="teacher"), "conditions must be a list of names"),
        (dict(device="tpu"), "device must be None, 'cpu' or 'cuda'; got 'tpu'"),
    ]:
        with pytest.raises(ValueError, match=re.escape(fragment)):
            experiments.run_experiment(Config.fast(**TINY), cache=False, progress=False, **kwargs)


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


# =========================================================================== a chapter's parameters

PARAMETER_CASES = [
    (dict(FAST="notabool"), "FAST must be True or False (e.g. FAST = True); got 'notabool'"),
    (dict(FAST=1), "FAST must be True or False (e.g. FAST = True); got 1"),
    (dict(SEEDS=-3), "SEEDS must be a whole number >= 1 (e.g. SEEDS = 10); got -3"),
    (dict(SEEDS="10"), "SEEDS must be a whole number >= 1 (e.g. SEEDS = 10); got '10'"),
    (dict(FAST_SEEDS=1.7), "FAST_SEEDS must be a whole number >= 1 (e.g. FAST_SEEDS = 3); got 1.7"),
    (dict(TAUS=[]), "TAUS must be a non-empty list of projection_tau values (e.g. TAUS = [0.0, 0.02]); got []"),
    (dict(TAUS="0.01"), "TAUS must be a non-empty list of projection_tau values (e.g. TAUS = [0.0, 0.02]); "
                        "got '0.01'"),
    (dict(TAUS=[0.0, 2.0]), "TAUS contains 2.0, not a valid projection_tau (e.g. TAUS = [0.0, 0.02]): "
                            "projection_tau must be at most 1.0 (e.g. projection_tau=0.0); got 2.0"),
    (dict(EPSILONS=[0.01, float("inf")]), "EPSILONS contains inf, not a valid teacher_lr (e.g. EPSILONS = [0.001, "
                                          "0.01, 0.1]): teacher_lr must be a finite number (e.g. teacher_lr=0.0003); "
                                          "got inf"),
    (dict(SWEEPS={"n_aux": [0, 3]}), "SWEEPS['n_aux'] contains 0: n_aux must be at least 1: the student is "
                                     "distilled on the aux logits (e.g. n_aux=3); got 0"),
    (dict(FAST_BETAS=[1.5]), "FAST_BETAS contains 1.5, not a valid projection_beta (e.g. FAST_BETAS = [0.25, 0.5, "
                             "1.0]): projection_beta must be at most 1.0 (e.g. projection_beta=1.0); got 1.5"),
    (dict(DISPLACEMENT_SEEDS=0), "DISPLACEMENT_SEEDS must be a whole number >= 1 (e.g. DISPLACEMENT_SEEDS = 3); got 0"),
    (dict(DEVICE="tpu"), "DEVICE must be None (CUDA when available), 'cpu' or 'cuda' (e.g. DEVICE = 'cpu'); "
                         "got 'tpu'"),
]


@pytest.mark.parametrize("values, message", PARAMETER_CASES, ids=[repr(v) for v, _ in PARAMETER_CASES])
def test_chapter_parameters_bad_input(values, message):
    with pytest.raises(ConfigError) as info:
        chapter_parameters(**values)
    assert str(info.value) == message


def test_chapter_parameters_return_checked_values(monkeypatch):
    monkeypatch.setenv("SUBLIMINAL_FAST", "1")
    fast, seeds, taus, device = chapter_parameters(FAST=False, SEEDS=np.int64(4), TAUS=np.array([0, 0.5]),
                                                   DEVICE=None)
    assert fast is True and seeds == 4 and type(seeds) is int and taus == [0.0, 0.5]
    import torch

    assert device == ("cuda" if torch.cuda.is_available() else "cpu")  # resolved in the check cell
    monkeypatch.setenv("SUBLIMINAL_FAST", "0")
    assert chapter_parameters(FAST=False) == (False,)
    with pytest.raises(TypeError, match="no rule for NEW_KNOB"):
        chapter_parameters(NEW_KNOB=1)


def _chapter_cells(path: Path) -> tuple[str, str]:
    cells = json.loads(path.read_text())["cells"]
    index = [i for i, c in enumerate(cells) if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(index) == 1, path
    return "".join(cells[index[0]]["source"]), "".join(cells[index[0] + 1]["source"])


CHAPTERS = sorted((ROOT / "book").glob("0*.ipynb"))


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_every_chapter_checks_all_its_parameters(chapter):
    """The cell after `parameters` passes every parameter through chapter_parameters and keeps the result."""
    params, setup = _chapter_cells(chapter)
    declared = [t.id for node in ast.parse(params).body if isinstance(node, ast.Assign)
                for t in node.targets if isinstance(t, ast.Name)]
    calls = [node for node in ast.walk(ast.parse(setup)) if isinstance(node, ast.Assign)
             and isinstance(node.value, ast.Call) and ast.unparse(node.value.func) == "chapter_parameters"]
    assert len(calls) == 1, f"{chapter.name}: no chapter_parameters(...) call after the parameters cell"
    targets = [t.id for t in ast.walk(calls[0].targets[0]) if isinstance(t, ast.Name)]
    passed = [(k.arg, ast.unparse(k.value)) for k in calls[0].value.keywords]
    assert targets == [name for name, _ in passed] == declared
    assert all(name == value for name, value in passed)
    namespace: dict = {}
    exec(params, namespace)  # the committed defaults pass
    chapter_parameters(**{name: namespace[name] for name in declared})


@pytest.mark.parametrize("injected, message", [
    ("FAST = 'notabool'", "FAST must be True or False (e.g. FAST = True); got 'notabool'"),
    ("SEEDS = -3", "SEEDS must be a whole number >= 1 (e.g. SEEDS = 10); got -3"),
])
def test_a_chapter_refuses_bad_parameters_before_any_work(injected, message, monkeypatch):
    """Chapter 1 as papermill runs it: its parameters cell, an injected override, then its set-up cell."""
    monkeypatch.setenv("SUBLIMINAL_FAST", "0")
    params, setup = _chapter_cells(ROOT / "book" / "01-subliminal-mnist.ipynb")
    namespace: dict = {}
    exec(params, namespace)
    exec(injected, namespace)
    with pytest.raises(ConfigError) as info:
        exec(setup, namespace)
    assert str(info.value) == message
    assert "CONFIG" not in namespace  # stopped before anything was configured or run
