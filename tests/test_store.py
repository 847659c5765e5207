"""The result store keeps data, never code.

A planted pickle is never executed, a flipped byte is detected and recomputed, an
entry answering another key is never served, interrupted writes leave nothing behind.
"""

from __future__ import annotations

import ast
import io
import json
import os
import pickle
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY, one_line

from subliminal import files, store
from subliminal.config import Config

ROOT = Path(__file__).resolve().parents[1]


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
    host = files.host_tag()
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
    assert len(entries) == 1 and len(list((cache / "teachers").glob("*.npz"))) == 2  # one teacher per seed
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
    # model 1 alone gets the same teacher: each seed's teacher is trained and stored on its own
    assert fewer["teacher"].accuracy[0] == first["teacher"].accuracy[1]
    assert len(list((cache / "experiment").glob("*.npz"))) == 2  # its own entry, not the other request's
