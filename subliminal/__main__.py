"""Command line::

    python -m subliminal reproduce --seeds N [--json PATH] [--device cpu|cuda] [--precision fp32|bf16]
                                   [--fast] [--no-cache] [--allow-large]
    python -m subliminal cache [--prune]

Prints the paper's table: every condition's mean digit accuracy with a 95 %
confidence interval over seeds and, for each distillation condition, the
fraction of steps with positive gradient alignment and the mean cosine. ``--fast``
(or ``SUBLIMINAL_FAST=1``, as for the chapters) runs the small configuration; the
table's first line names the configuration that ran.

``cache`` lists the entries of the result cache (``$SUBLIMINAL_CACHE``): kind, file,
size, date and whether the current code can still reach it (an entry keyed on code
that has changed since is never served again); ``--prune`` deletes those it cannot.

Everything that can be checked is checked before the run starts (arguments,
the ``--json`` path, the cache and data folders, the memory the run needs); an
error is one line on stderr and exit status 2. Ctrl-C prints one line and exits
with 130, leaving no half-written file. The ``--json`` file is written before the
table is printed, so a closed or full stdout (``| head -1``, ``> /dev/full``)
loses nothing: it gives one line and exit status 1.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import stat
import sys
import tempfile
import threading
from pathlib import Path

from . import budget, files, inventory, store
from .config import Config, ConfigError, env_flag, fast_mode
from .errors import one_line, reason
from .speed import NO_MALLOPT_ENV

EXIT_USAGE, EXIT_WRITE, EXIT_INTERRUPTED = 2, 1, 130
#: Runs estimated to take longer than this (seconds on a 2-core CPU) announce their estimate first.
ANNOUNCE_AFTER_S = 600


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, non-zero exit
        self.exit(EXIT_USAGE, f"subliminal: error: {message} (see `{self.prog} --help`)\n")


def _positive_int(text: str) -> int:
    """``--seeds``: read from its digits, bounded by ``budget.MAX_SEEDS`` before any
    number or list of that size exists (``--allow-large`` does not lift the bound)."""
    shown = repr(text) if len(text) <= 24 else f"{text[:20]!r}... ({len(text)} chars)"
    digits = text.strip().lstrip("+")
    positive = "--seeds must be a positive integer, e.g. --seeds 10; got "
    if not digits.isdigit() or not digits.isascii():
        raise argparse.ArgumentTypeError(positive + shown)
    significant = digits.lstrip("0")
    if len(significant) > len(str(budget.MAX_SEEDS)) or int(digits) > budget.MAX_SEEDS:
        raise argparse.ArgumentTypeError(f"--seeds must be at most {budget.MAX_SEEDS} "
                                         f"(even with --allow-large); got {shown}")
    value = int(digits)
    if value < 1:
        raise argparse.ArgumentTypeError(positive + str(value))
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m subliminal", description="Subliminal learning in MNIST.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    rep = commands.add_parser("reproduce", help="train every condition for N seeds and print the table")
    rep.add_argument("--seeds", type=_positive_int, default=10, help="number of seeds (models per condition)")
    rep.add_argument("--json", type=str, metavar="PATH", help="also write per-seed results as JSON to this file")
    rep.add_argument("--device", choices=["cpu", "cuda"], default=None,
                     help="where to train (default: cuda when a GPU is available, else cpu)")
    rep.add_argument("--precision", choices=["fp32", "bf16"], default="fp32",
                     help="matrix products in fp32 (the reference code) or bf16 (about 2x faster on CPUs with "
                          "native bf16 and on GPUs; weights, losses and Adam stay fp32)")
    rep.add_argument("--fast", action="store_true",
                     help="tiny configuration for smoke tests (also on with SUBLIMINAL_FAST=1)")
    rep.add_argument("--no-cache", action="store_true", help="recompute instead of reading memoised results")
    rep.add_argument("--allow-large", action="store_true",
                     help="run even when the estimated memory exceeds what the machine has")
    cache = commands.add_parser("cache", help="list the result cache's entries (and whether the current code "
                                              "can still reach them)")
    cache.add_argument("--prune", action="store_true",
                       help="delete the entries the current code can no longer reach (written by code that has "
                            "changed since)")
    return parser


class UsageError(ValueError):
    """A command-line value that cannot work; the message says what to do instead."""


# --------------------------------------------------------------------------- output path


def check_output_path(text: str, option: str = "--json") -> Path:
    """The file ``text`` names, once it is certain that it can be written atomically; else :class:`UsageError`.

    Refused: an empty path, a folder, an existing file that is not a regular file (a
    device such as /dev/null, a pipe), a file marked read-only, a missing folder, and a
    folder where no file can be created (a read-only mount, /proc).
    """
    if not text or not text.strip():
        raise UsageError(f"{option} needs a file path, e.g. {option} results.json; got an empty string")
    path = Path(text).expanduser()
    if path.is_dir():
        raise UsageError(f"{option} {text} is a folder; give a file path such as {path / 'results.json'}")
    if path.exists():
        path = path.resolve()  # write through a symlink to the file it names
        mode = path.stat().st_mode
        if not stat.S_ISREG(mode):
            raise UsageError(f"{option} {text} is not a regular file; give the path of a .json file")
        if not (mode & 0o222) or not os.access(path, os.W_OK):
            raise UsageError(f"{option} {text} is read-only; choose another path or make it writable "
                             f"(chmod u+w {text})")
    elif path.is_symlink():
        raise UsageError(f"{option} {text} is a broken symbolic link; give the path of a .json file")
    folder = path.parent
    if not folder.exists():
        raise UsageError(f"{option} {text}: folder {folder} does not exist; create it first (mkdir -p {folder})")
    if not folder.is_dir():
        raise UsageError(f"{option} {text}: {folder} is not a folder")
    try:  # what the atomic write will do: create a file beside the target, then rename it
        fd, probe = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".probe")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise UsageError(f"{option} {text}: cannot create files in {folder} ({reason(exc)}); "
                         "choose a writable folder") from None
    return path


def write_json(path: Path, payload: dict) -> None:
    """Serialise first, then write atomically (a temporary file beside ``path``, then
    ``os.replace``).

    The folder is the user's: the only files removed there are this file's own temporary
    files left by an earlier, interrupted write (``.NAME.tmp-<host>-<pid>-<rnd>.part``).
    """
    text = json.dumps(payload, indent=2) + "\n"
    prefix = f".{path.name}"
    files.clean_orphans(path.parent, prefix=prefix)
    files.atomic_write(path, text.encode(), prefix=prefix)


# --------------------------------------------------------------------------- checks before the run


def _device(requested: str | None) -> str:
    """The device of the run, resolved by :func:`subliminal.models.resolve_device` (the one rule)."""
    from .models import resolve_device

    try:
        return resolve_device(requested).type
    except ValueError:
        raise UsageError(f"--device {requested} was requested but no CUDA GPU is available here; use --device cpu "
                         "(or leave --device out)") from None


def _check_budget(config: Config, seeds: int, conditions, device: str, allow_large: bool) -> budget.Estimate:
    estimate = budget.estimate(config, seeds, conditions)
    if device == "cuda":
        import torch

        free, _ = torch.cuda.mem_get_info()
        return budget.check_budget(estimate, free, allow_large, flag="--allow-large", where="the GPU")
    return budget.check_budget(estimate, None, allow_large, flag="--allow-large")


@contextlib.contextmanager
def _interrupt_after():
    """Hold a Ctrl-C that arrives inside the block (importing torch) and raise it when the block ends."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: held.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if held:
        raise KeyboardInterrupt


def _print_stdout(text: str) -> OSError | None:
    """Print ``text`` on stdout; a closed or full stdout is returned, not raised (and
    silenced, so that Python's own flush at exit does not report it a second time)."""
    try:
        print(text, flush=True)
    except OSError as exc:
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError):
            pass
        return exc
    return None


def _error(message: str) -> None:
    print(f"subliminal: error: {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return _cache(args) if args.command == "cache" else _reproduce(args)
    except KeyboardInterrupt:
        lead = "\n" if sys.stderr.isatty() else ""  # end a progress bar's line first
        print(f"{lead}subliminal: interrupted; no partial file was left behind", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED


def _reproduce(args: argparse.Namespace) -> int:
    try:  # the checks that need no torch first, so that they answer at once
        output = check_output_path(args.json) if args.json is not None else None
        if not args.no_cache:
            fix = f"point {store.CACHE_ENV} at a writable folder or pass --no-cache"
            store.check_writable(store.cache_dir(), "the result cache", fix)
    except (UsageError, OSError) as exc:
        _error(one_line(exc))
        return EXIT_USAGE
    try:  # torch's C++ start-up aborts the process on a Ctrl-C in the middle of it
        with _interrupt_after():
            import torch  # noqa: F401

            from . import experiments  # noqa: F401
            from .data import DataUnavailableError, data_root
    except ImportError as exc:
        missing = getattr(exc, "name", None) or one_line(exc)
        _error(f"{missing} cannot be imported in this Python ({sys.executable}): "
               f"{one_line(exc)}; install the requirements: "
               "pip install -r requirements.txt")
        return EXIT_USAGE

    try:  # every other check that needs no training, before the run
        data_root()
        device = _device(args.device)
        config = Config.for_mode(fast_mode(args.fast)).replace(precision=args.precision)
        env_flag(NO_MALLOPT_ENV)  # read by the run: a value that is not 0/1 is refused now
        from .experiments import ALL_CONDITIONS, run_experiment

        estimate = _check_budget(config, args.seeds, ALL_CONDITIONS, device, args.allow_large)
        if device == "cpu" and estimate.seconds > ANNOUNCE_AFTER_S:
            print(f"subliminal: this run needs {estimate.describe()}", file=sys.stderr, flush=True)
    except (UsageError, ConfigError, budget.BudgetError, DataUnavailableError, OSError, ValueError) as exc:
        _error(one_line(exc))
        return EXIT_USAGE
    try:
        result = run_experiment(config, seeds=args.seeds, conditions=ALL_CONDITIONS, device=device,
                                cache=not args.no_cache, progress=sys.stderr.isatty(), allow_large=args.allow_large)
    except (ConfigError, budget.BudgetError, DataUnavailableError, OSError, ValueError) as exc:
        _error(one_line(exc))
        return EXIT_USAGE
    except MemoryError:
        _error(f"ran out of memory; this run needs {estimate.describe()}: use fewer seeds or --fast")
        return EXIT_USAGE
    except RuntimeError as exc:
        if "out of memory" not in str(exc).lower():
            raise
        _error(f"ran out of memory ({one_line(exc)[:200]}); this run needs {estimate.describe()}: "
               "use fewer seeds or --fast")
        return EXIT_USAGE
    from .results import format_table

    json_error = None
    if output is not None:  # the file first: a failing stdout below must not lose it
        try:
            write_json(output, result.to_json_dict())
        except (OSError, TypeError, ValueError) as exc:
            json_error = reason(exc)
    lines = format_table(result)
    if output is not None and json_error is None:
        lines += f"\nper-seed results written to {args.json}"
    stdout_error = _print_stdout(lines)
    if json_error is not None:
        if stdout_error is None:
            _error(f"could not write --json {args.json} ({json_error}); "
                   "the table above is the result")
        else:
            _error(f"could not write --json {args.json} ({json_error}) nor print the "
                   f"table to stdout ({reason(stdout_error)}); the result is lost")
        return EXIT_WRITE
    if stdout_error is not None:
        kept = (f"the result is in {args.json}" if output is not None
                else "use --json PATH to keep the result")
        _error(f"could not print the table to stdout ({reason(stdout_error)}); {kept}")
        return EXIT_WRITE
    return 0


# --------------------------------------------------------------------------- cache


def size_text(size: float) -> str:
    """``1234567`` -> ``"1.2 MB"`` (decimal units, as ``ls -h --si`` and file managers give them)."""
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"  # pragma: no cover - the loop returns


def _entries(n: int) -> str:
    return f"{n} entry" if n == 1 else f"{n} entries"


def _cache(args: argparse.Namespace) -> int:
    """``python -m subliminal cache [--prune]``: one line per entry, a total, and what --prune freed."""
    import time

    try:
        folder = store.cache_dir()
        if not folder.exists():
            raise UsageError(f"the result cache {folder} does not exist (nothing has been cached there yet); "
                             f"set {store.CACHE_ENV} to list another folder")
        if not folder.is_dir():
            raise UsageError(f"the result cache {folder} is not a folder; point {store.CACHE_ENV} at a folder")
        found = inventory.entries(folder)
        unreachable = [e for e in found if not e.reachable]
        if args.prune:
            for kind in sorted({e.kind for e in unreachable}):
                store.check_writable(folder / kind, "the result cache folder",
                                     "nothing was deleted; run as the cache's owner or fix its permissions")
    except (UsageError, OSError) as exc:
        _error(one_line(exc))
        return EXIT_USAGE
    lines = [f"result cache {folder}"]
    if found:
        width = max(len(e.kind) for e in found)
        lines.append(f"{'kind':<{width}}  {'file (.npz + .json)':<40}  {'size':>9}  {'modified':<16}  reachable")
        for e in found:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(e.modified))
            reach = "yes" if e.reachable else f"no: {e.why}"
            lines.append(f"{e.kind:<{width}}  {e.name:<40}  {size_text(e.size):>9}  {when:<16}  {reach}")
    total = sum(e.size for e in found)
    lost = sum(e.size for e in unreachable)
    lines.append(f"total: {_entries(len(found))}, {size_text(total)}; {len(found) - len(unreachable)} reachable "
                 f"({size_text(total - lost)}), {len(unreachable)} unreachable ({size_text(lost)})"
                 + ("; --prune deletes these" if unreachable and not args.prune else ""))
    error = _print_stdout("\n".join(lines))
    if error is not None:
        _error(f"could not print the list to stdout ({reason(error)})")
        return EXIT_WRITE
    if not args.prune:
        return 0
    try:
        pruned = inventory.prune(found)
    except OSError as exc:
        _error(f"could not delete a cache entry ({reason(exc)}: {exc.filename}); the entries before it were "
               "deleted")
        return EXIT_WRITE
    for e in pruned:
        _print_stdout(f"deleted {e.kind}/{e.name} ({size_text(e.size)}: {e.why})")
    kept = len(unreachable) - len(pruned)
    _print_stdout(f"freed {size_text(sum(e.size for e in pruned))} in {_entries(len(pruned))}"
                  + (f"; kept {kept} .npz without a manifest that may be a write in progress" if kept else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
