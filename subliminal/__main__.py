"""Command line::

    python -m subliminal reproduce --seeds N [--json PATH] [--device cpu|cuda] [--precision fp32|bf16]
                                   [--fast] [--no-cache]

Prints the paper's table: every condition's mean digit accuracy with a 95 %
confidence interval over seeds and, for each distillation condition, the
fraction of steps with positive gradient alignment and the mean cosine.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from .config import Config, ConfigError
from .data import DataUnavailableError
from .experiments import ALL_CONDITIONS, ExperimentResult, mean_ci, resolve_device, run_experiment

DESCRIPTIONS = {
    "teacher": "trained on MNIST digits",
    "reference": "untrained shared init",
    "student_aux": "shared init, aux logits only",
    "student_all": "shared init, all logits",
    "cross_aux": "different init, aux logits only",
    "cross_all": "different init, all logits",
    "projection": "aux student, aligned gradient removed",
    "liminal": "aux student + liminal KL to its init",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, non-zero exit
        self.exit(2, f"subliminal: error: {message} (see `python -m subliminal reproduce --help`)\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seeds must be a positive integer; got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"--seeds must be a positive integer; got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m subliminal", description="Subliminal learning in MNIST.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    rep = commands.add_parser("reproduce", help="train every condition for N seeds and print the table")
    rep.add_argument("--seeds", type=_positive_int, default=10, help="number of seeds (models per condition)")
    rep.add_argument("--json", type=Path, help="also write per-seed results as JSON to this path")
    rep.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    rep.add_argument("--precision", choices=["fp32", "bf16"], default="fp32",
                     help="matrix products in fp32 (the reference code) or bf16 (about 2x faster on CPUs with "
                          "native bf16 and on GPUs; weights, losses and Adam stay fp32)")
    rep.add_argument("--fast", action="store_true", help="tiny configuration for smoke tests")
    rep.add_argument("--no-cache", action="store_true", help="recompute instead of reading memoised results")
    return parser


def format_table(result: ExperimentResult) -> str:
    """The reproduction table as fixed-width text."""
    n = len(result.seeds)
    lines = [
        f"Subliminal learning in MNIST: {n} seed(s), m = {result.config.n_aux} auxiliary logits, "
        f"{result.config.precision} matrix products",
        f"{'condition':<12} {'accuracy (95% CI)':>20} {'steps cos>0':>12} {'mean cos':>10}   description",
    ]
    for name, res in result.conditions.items():
        mean, half = mean_ci(res.accuracy)
        acc = f"{100 * mean:6.2f} ± {100 * half:5.2f} %"
        pos = f"{100 * res.frac_positive.mean():10.1f} %" if res.cosine is not None else f"{'':>12}"
        cos = f"{res.mean_cosine.mean():10.5f}" if res.cosine is not None else f"{'':>10}"
        lines.append(f"{name:<12} {acc:>20} {pos} {cos}   {DESCRIPTIONS[name]}")
    return "\n".join(lines)


def _write_json_atomically(path: Path, payload: dict) -> None:
    path = path.expanduser()
    if not path.parent.exists():
        raise OSError(f"cannot write --json {path}: folder {path.parent} does not exist")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(payload, handle, indent=2)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        device = resolve_device(args.device)
        if args.json is not None and not args.json.expanduser().parent.exists():
            raise ValueError(f"--json: folder {args.json.expanduser().parent} does not exist")
        config = (Config.fast() if args.fast else Config()).replace(precision=args.precision)
        result = run_experiment(config, seeds=args.seeds, conditions=ALL_CONDITIONS, device=device,
                                cache=not args.no_cache, progress=sys.stderr.isatty())
    except (ConfigError, ValueError, OSError, DataUnavailableError) as exc:
        print(f"subliminal: error: {exc}", file=sys.stderr)
        return 2
    print(format_table(result))
    if args.json is not None:
        _write_json_atomically(args.json, result.to_json_dict())
        print(f"per-seed results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
