"""Benchmark of the reproduction table: ensemble vs seed-by-seed vs the FLOP roofline.

    python benchmarks/bench_reproduce.py [--seeds 10] [--device cpu|cuda]
                                         [--precision fp32 bf16] [--skip-seed-by-seed]

Prints, from one run on this machine, for each matmul precision:
  * the wall time of ``run_experiment(Config(precision=...), seeds=N)`` (all eight
    conditions, alignment tracked at every step of the six distillation
    conditions), no cache;
  * the wall time of the same work run seed by seed (ensemble axis of length 1);
  * the roofline: the run's matrix-multiply FLOPs divided by the matmul peak
    measured here in that precision.
Nothing here is asserted: it prints figures.
"""

from __future__ import annotations

import argparse
import time

import torch

from subliminal.budget import run_flops
from subliminal.config import INPUT_DIM, Config
from subliminal.data import load_mnist
from subliminal.experiments import resolve_device, run_experiment


DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def measured_peak_gflops(device: torch.device, precision: str = "fp32", hidden: int = 256, batch: int = 1024,
                         repeats: int = 20) -> float:
    """Best matmul throughput in ``precision`` over shapes this workload uses (GFLOP/s)."""
    best = 0.0
    for width in (hidden * 6, hidden * 60, 2048):
        a = torch.randn(batch, INPUT_DIM if width != 2048 else 2048, device=device, dtype=DTYPES[precision])
        b = torch.randn(a.shape[1], width, device=device, dtype=DTYPES[precision])
        for _ in range(3):
            a @ b
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(repeats):
            a @ b
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds = (time.perf_counter() - start) / repeats
        best = max(best, 2 * a.shape[0] * a.shape[1] * b.shape[1] / seconds / 1e9)
    return best


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--precision", nargs="+", default=["fp32", "bf16"], choices=list(DTYPES))
    parser.add_argument("--skip-seed-by-seed", action="store_true")
    args = parser.parse_args()
    device = resolve_device(args.device)
    load_mnist()  # data loading is not part of the timing
    flops = run_flops(Config(), args.seeds)
    print(f"device: {device}, torch threads: {torch.get_num_threads()}, seeds: {args.seeds}")
    print(f"work (matmul FLOPs)           : {flops / 1e12:8.2f} TFLOP ({flops / args.seeds / 1e12:.2f} per seed)")

    for precision in args.precision:
        config = Config(precision=precision)
        peak = measured_peak_gflops(device, precision)
        roofline = flops / (peak * 1e9)
        print(f"--- {precision} matrix products")
        print(f"measured matmul peak          : {peak:8.1f} GFLOP/s")
        print(f"roofline time                 : {roofline:8.1f} s   ({roofline / args.seeds:.1f} s per seed)")
        ensemble = timed(lambda: run_experiment(config, seeds=args.seeds, device=device, cache=False, progress=False))
        print(f"ensemble ({args.seeds} seeds at once)   : {ensemble:8.1f} s   ({ensemble / args.seeds:.1f} s per seed, "
              f"{ensemble / roofline:.2f}x roofline)", flush=True)
        if not args.skip_seed_by_seed:
            alone = sum(timed(lambda k=k: run_experiment(config, seeds=[k], device=device, cache=False,
                                                         progress=False))
                        for k in range(args.seeds))
            print(f"seed by seed (no ensemble)    : {alone:8.1f} s   ({alone / args.seeds:.1f} s per seed, "
                  f"{alone / roofline:.2f}x roofline)")
            print(f"ensemble speed-up             : {alone / ensemble:8.2f}x", flush=True)


if __name__ == "__main__":
    main()
