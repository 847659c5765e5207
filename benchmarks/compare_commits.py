"""Time the reproduction (or Chapter 4's Adam arms) at two commits side by side, in one run, on this machine.

    python benchmarks/compare_commits.py --base 179ba38 [--head WORKTREE] [--seeds 2] [--rounds 2]
                                         [--workload reproduction|arms]

``--workload arms``: one epoch of Chapter 4's Adam-arms ensemble (teacher, reference and the seven
arms of ``removal.ADAM_ARMS``, alignment and the drive probe on) instead of the reproduction.

Each commit's ``subliminal`` package is exported into a temporary folder (``git archive``;
``--head`` defaults to the working tree) and timed in a fresh Python process:
``run_experiment(Config(), seeds=N, device="cpu", cache=False)`` (teachers and all eight
conditions at paper scale, nothing cached), after a tiny warm-up run that pays the one-time
costs (torch imports its compiler stack when the first optimiser is built, ~2 s) outside the timing. The commits alternate, round by round, so
background load affects both alike. Prints every timing and the ratio head / base of the
medians. Speed is reported, never asserted.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TIMER = """
import sys, time
sys.path.insert(0, {path!r})
import subliminal
from subliminal import Config
from subliminal.experiments import run_experiment
from subliminal.data import load_mnist
load_mnist()  # data loading is not part of the timing, nor are one-time costs (imports, thread pools):
run_experiment(Config(hidden=32, n_train=2048, n_noise=2048, teacher_epochs=1, student_epochs=1, teacher_batch_size=256,
                      student_batch_size=256, trait_batch_size=256), seeds=1, device="cpu", cache=False, progress=False)
start = time.perf_counter()
{work}
print(time.perf_counter() - start)
"""
WORKLOADS = {
    "reproduction": 'run_experiment(Config(), seeds={seeds}, device="cpu", cache=False, progress=False)',
    "arms": ("from subliminal import removal; run_experiment(Config(student_epochs=1).replace(track_drive=True), "
             "seeds={seeds}, device='cpu', cache=False, progress=False, conditions=['teacher', 'reference'] + "
             "[(a.name, a.condition) for a in removal.ADAM_ARMS])"),
}


def export(rev: str, folder: Path) -> Path:
    """The package at ``rev`` (a commit) written into ``folder``; returns the folder."""
    archive = subprocess.run(["git", "archive", "--format=tar", rev, "subliminal"], cwd=ROOT, check=True,
                             capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def time_once(path: Path, seeds: int, workload: str = "reproduction") -> float:
    code = TIMER.format(path=str(path), seeds=seeds, work=WORKLOADS[workload].format(seeds=seeds))
    out = subprocess.run([sys.executable, "-c", code], cwd=tempfile.gettempdir(),
                         check=True, capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the commit to compare against (e.g. the previous one)")
    parser.add_argument("--head", default=None, help="a commit; default: the working tree")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workload", choices=sorted(WORKLOADS), default="reproduction")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = export(args.base, Path(tmp) / "base")
        head = export(args.head, Path(tmp) / "head") if args.head else ROOT
        label = args.head or "working tree"
        times: dict[str, list[float]] = {args.base: [], label: []}
        for r in range(args.rounds):
            for name, path in ((args.base, base), (label, head)):
                seconds = time_once(path, args.seeds, args.workload)
                times[name].append(seconds)
                print(f"round {r + 1}: {name:<14} {seconds:7.1f} s  ({seconds / args.seeds:5.1f} s/seed)", flush=True)
        medians = {name: statistics.median(values) for name, values in times.items()}
        print(f"median s/seed: {args.base} {medians[args.base] / args.seeds:.1f}, "
              f"{label} {medians[label] / args.seeds:.1f}; ratio {label} / {args.base} = "
              f"{medians[label] / medians[args.base]:.3f}")


if __name__ == "__main__":
    main()
