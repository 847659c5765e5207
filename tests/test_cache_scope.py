"""Caches keep what is still true: a result is keyed on the code that computes it, not the whole package.

* ``code_fingerprint("experiments")`` covers experiments.py and what it imports from the package
  (relative imports, inside functions too), so editing plots/ keeps the results and editing
  training.py drops them; ``code_fingerprint()`` covers every .py, subpackages included;
* end to end, in subprocesses that import a scratch copy of the package (the real one is never
  edited): a run is served after a plots/ edit and is not after a training.py edit;
* ``python -m subliminal cache`` lists the entries and ``--prune`` deletes exactly the unreachable ones;
* the book's execution guard uses the same fingerprint.
"""

from __future__ import annotations

import json
import os
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from subliminal import __main__ as cli
from subliminal import store

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = Path(store.__file__).parent


def scratch_package(tmp_path: Path) -> Path:
    """A copy of the package under ``tmp_path/src/subliminal`` (``tmp_path/src`` goes on PYTHONPATH)."""
    copy = tmp_path / "src" / "subliminal"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def append(path: Path, text: str = "\n# edited\n") -> None:
    path.write_text(path.read_text() + text)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("SUBLIMINAL_CACHE", str(folder))
    return folder


# --------------------------------------------------------------------------- the fingerprint


def test_a_scoped_fingerprint_changes_only_with_the_code_it_covers(tmp_path):
    copy = scratch_package(tmp_path)

    def fingerprints():
        return {root: store.code_fingerprint(root, package_dir=copy)
                for root in ("experiments", "theory", "exercises.alignment", None)}

    before = fingerprints()
    assert before == fingerprints()
    assert before["experiments"] == store.code_fingerprint("experiments")  # the copy is the package
    assert len(set(before.values())) == 4

    append(copy / "plots" / "style.py")  # experiments never imports plots
    after_plots = fingerprints()
    assert after_plots["experiments"] == before["experiments"]
    assert after_plots["theory"] == before["theory"]
    assert after_plots[None] != before[None]

    append(copy / "training.py")
    after_training = fingerprints()
    assert after_training["experiments"] != after_plots["experiments"]
    assert after_training["theory"] != after_plots["theory"]  # theory imports experiments inside a function
    assert after_training[None] != after_plots[None]

    append(copy / "exercises" / "alignment.py")  # a subpackage: only the whole package and itself
    after_exercise = fingerprints()
    assert after_exercise["experiments"] == after_training["experiments"]
    assert after_exercise["exercises.alignment"] != after_training["exercises.alignment"]
    assert after_exercise[None] != after_training[None]

    append(copy / "models.py")  # reached from the exercise by ``from .. import models``
    assert fingerprints()["exercises.alignment"] != after_exercise["exercises.alignment"]


def test_imports_inside_functions_are_followed(tmp_path):
    copy = scratch_package(tmp_path)
    (copy / "helper.py").write_text("X = 1\n")
    before = store.code_fingerprint("experiments", package_dir=copy)
    append(copy / "helper.py")
    assert store.code_fingerprint("experiments", package_dir=copy) == before, "not imported yet"
    append(copy / "experiments.py", "\n\ndef _uses_helper():\n    from .helper import X\n    return X\n")
    with_import = store.code_fingerprint("experiments", package_dir=copy)
    append(copy / "helper.py")
    assert store.code_fingerprint("experiments", package_dir=copy) != with_import


def test_an_unknown_code_root_is_refused():
    with pytest.raises(ValueError, match="not a module of the package"):
        store.code_fingerprint("no_such_module")
    with pytest.raises(ValueError, match="module name"):
        store.code_fingerprint("")


def test_the_stored_key_names_its_code_root(cache):
    store.memoise("experiment", {"k": 1}, lambda: {"x": 1}, code="experiments")
    key = json.loads(store.entry_paths("experiment", {"k": 1}, code="experiments")[1].read_text())["key"]
    assert key["code_root"] == "experiments"
    assert key["code_fingerprint"] == store.code_fingerprint("experiments")
    assert store.lookup("experiment", {"k": 1}, code="experiments") == {"x": 1}
    assert store.lookup("experiment", {"k": 1}) is None, "the whole package's key is another entry"


# --------------------------------------------------------------------------- end to end, through the store


RUN = """
import sys
import subliminal
from subliminal import Config
from subliminal.experiments import cached_result, run_experiment
assert subliminal.__file__.startswith(sys.argv[1]), subliminal.__file__
TINY = Config.fast(hidden=16, n_train=2000, n_noise=512, teacher_epochs=1, student_epochs=1,
                   teacher_batch_size=128, student_batch_size=128, trait_batch_size=128,
                   curve_every=4, curve_samples=200, track_alignment=False)
if sys.argv[2] == "run":
    result = run_experiment(TINY, seeds=1, conditions=["student_aux"], device="cpu", progress=False)
else:
    result = cached_result(TINY, seeds=1, conditions=["student_aux"], device="cpu")
print("none" if result is None else repr(float(result["student_aux"].accuracy[0])))
"""


def python(copy: Path, *args: str) -> subprocess.CompletedProcess:
    """``python ARGS`` importing the scratch copy ``copy`` of the package, one thread."""
    env = dict(os.environ, PYTHONPATH=str(copy.parent), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, cwd=copy.parent,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def test_a_run_survives_a_plots_edit_and_not_a_training_edit(tmp_path, cache):
    copy = scratch_package(tmp_path)
    computed = python(copy, "-c", RUN, str(copy), "run").stdout.strip()
    assert computed != "none"
    assert python(copy, "-c", RUN, str(copy), "lookup").stdout.strip() == computed

    append(copy / "plots" / "style.py")
    assert python(copy, "-c", RUN, str(copy), "lookup").stdout.strip() == computed, "a plots edit keeps the run"
    listing = python(copy, "-m", "subliminal", "cache").stdout
    assert "total: 2 entries" in listing and "2 reachable" in listing  # the run and its teachers

    append(copy / "training.py")
    assert python(copy, "-c", RUN, str(copy), "lookup").stdout.strip() == "none", "a training edit drops it"
    pruned = python(copy, "-m", "subliminal", "cache", "--prune").stdout
    assert "2 unreachable" in pruned and "freed" in pruned and "in 2 entries" in pruned
    assert not list(cache.glob("*/*.npz")) and not list(cache.glob("*/*.json"))


# --------------------------------------------------------------------------- python -m subliminal cache


def test_the_cache_command_lists_entries_and_prunes_exactly_the_unreachable(cache, capsys):
    current = ("experiment", {"k": 1}, "experiments")
    edited = ("teachers", {"k": 2}, "experiments")
    whole = ("displacement", {"k": 3}, None)
    for kind, key, code in (current, edited, whole):
        store.memoise(kind, key, lambda: {"x": np.arange(100)}, code=code)
    # an entry whose code changed since: its manifest names another fingerprint (checksum kept valid)
    npz_edited, manifest_edited = store.entry_paths(*edited[:2], code=edited[2])
    manifest = json.loads(manifest_edited.read_text())
    manifest["key"]["code_fingerprint"] = "0.1.0-torch0-0000000000000000"
    manifest["manifest_sha256"] = store._manifest_checksum(manifest)
    manifest_edited.write_text(json.dumps(manifest))
    # an entry of an older version of the store: no code root in its key
    old_key = {"k": 4, "code_fingerprint": store.code_fingerprint()}
    old_name = store.entry_name("experiment", old_key)
    old_npz, old_manifest = cache / "experiment" / f"{old_name}.npz", cache / "experiment" / f"{old_name}.json"
    store.save_entry(old_npz, old_manifest, old_key, {"x": 1})
    # files that are not entries of the store are never touched
    foreign = [cache / "experiment" / "notes.txt", cache / "timings" / "main-run-0123456789abcdef.json",
               cache / "Not-a-kind" / f"{'b' * 40}.json", cache / "experiment" / f"{'c' * 39}.npz"]
    for path in foreign:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}")

    assert cli.main(["cache"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[1]: line for line in out.splitlines() if line.split()[0] in
            ("experiment", "teachers", "displacement")}
    assert len(rows) == 4
    assert rows[store.entry_paths(*current[:2], code=current[2])[0].stem].endswith("yes")
    assert rows[store.entry_paths(*whole[:2], code=whole[2])[0].stem].endswith("yes")
    assert "no: its code has changed since" in rows[npz_edited.stem]
    assert "no: no code root" in rows[old_name]
    assert "total: 4 entries" in out and "2 reachable" in out and "2 unreachable" in out
    assert all(path.exists() for path in (npz_edited, manifest_edited, old_npz, old_manifest))

    assert cli.main(["cache", "--prune"]) == 0
    out = capsys.readouterr().out
    assert f"deleted teachers/{npz_edited.stem}" in out and f"deleted experiment/{old_name}" in out
    assert "in 2 entries" in out
    assert not any(path.exists() for path in (npz_edited, manifest_edited, old_npz, old_manifest))
    assert all(path.exists() for path in foreign)
    for kind, key, code in (current, whole):
        assert store.lookup(kind, key, code=code) is not None
    assert cli.main(["cache", "--prune"]) == 0
    assert "freed 0 B in 0 entries" in capsys.readouterr().out


def test_the_cache_command_says_what_is_wrong_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SUBLIMINAL_CACHE", str(tmp_path / "missing"))
    assert cli.main(["cache"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not exist" in err
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("SUBLIMINAL_CACHE", str(tmp_path / "file"))
    assert cli.main(["cache", "--prune"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a folder" in err


# --------------------------------------------------------------------------- the book's execution guard


def test_the_execution_guard_uses_the_store_fingerprint(tmp_path, monkeypatch):
    guard = runpy.run_path(str(ROOT / "scripts" / "exec_cache_guard.py"))
    assert guard["package_hash"]() == store.code_fingerprint(package_dir=ROOT / "subliminal")
    if PACKAGE == ROOT / "subliminal":  # the package under test is this checkout's
        assert guard["package_hash"]() == store.code_fingerprint()
    copy = scratch_package(tmp_path)
    guard["package_hash"].__globals__["PACKAGE"] = copy
    before = guard["package_hash"]()
    assert before == store.code_fingerprint(package_dir=copy)
    append(copy / "exercises" / "alignment.py")  # a subpackage counts: chapters show exercises
    assert guard["package_hash"]() != before
    build = tmp_path / "_build"
    (build / ".jupyter_cache").mkdir(parents=True)
    assert guard["guard"](build) is True  # no stamp yet: the cache is dropped
    (build / ".jupyter_cache").mkdir()
    assert guard["guard"](build) is False
    assert (build / ".package-hash").read_text().strip() == store.code_fingerprint(package_dir=copy)
