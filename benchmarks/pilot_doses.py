"""How Chapter 7 chose the dose of its distance experiment.

    python benchmarks/pilot_doses.py [--seeds 5 6] [--doses 0.1 0.3 1.0] [--device cpu|cuda]

Chapter 7 adds noise to one weight tensor of the shared start, its std r times that tensor's init std.
Its runs could afford one dose per tensor, so the dose was picked where it can tell layers apart: not
where nothing changes and not where nothing is left. This pilot prints, for each tensor and each r,
the shared student's accuracy per seed, on seeds the chapter's verdicts do not use (5 and 6), next
to the shared and cross-model students of those seeds. It trains 2 teachers and about 20 students
(a few minutes on a 2-core CPU); results are memoised like every run.
"""

from __future__ import annotations

import argparse
import time

from subliminal import Config, sharing
from subliminal.experiments import run_experiment


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[5, 6])
    parser.add_argument("--doses", type=float, nargs="+", default=[0.1, 0.3, 1.0])
    parser.add_argument("--device", default=None)
    args = parser.parse_args()
    base = Config(track_alignment=False)
    ends = run_experiment(base, seeds=args.seeds, conditions=list(sharing.ENDS), device=args.device,
                          progress=False)
    print(f"seeds {args.seeds}: shared {100 * ends['student_aux'].accuracy.round(3)} %, "
          f"cross-model {100 * ends['cross_aux'].accuracy.round(3)} %")
    for tensor in sharing.DOSE_TENSORS:
        for r in args.doses:
            start = time.perf_counter()
            run = run_experiment(sharing.dose_config(base, tensor, r), seeds=args.seeds, conditions=["student_aux"],
                                 device=args.device, progress=False)
            print(f"noise on {tensor}, r = {r:g} (start correlation {sharing.start_correlation(r):.2f}): "
                  f"{100 * run['student_aux'].accuracy.round(3)} %  ({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
