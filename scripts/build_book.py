"""Build the HTML book: the one build command, run by ``make book``, ``make book-fast`` and the tests.

    python scripts/build_book.py          # full size: _build/html (make book)
    python scripts/build_book.py --fast   # SUBLIMINAL_FAST=1: _build/fast/_build/html (make book-fast, tests)

First the execution guard (``exec_cache_guard.py``): a change to the package re-executes every
chapter, since jupyter-cache only sees the notebooks' own code. Then ``jupyter-book build . -W -n
--keep-going --builder html`` (every warning fails the build, after every page was tried) with
``SUBLIMINAL_STATIC_WIDGETS=1`` (the explorers show precomputed frames) and ``TQDM_DISABLE=1`` (no
training progress bars in the pages; tqdm takes it as its default). The fast book has its own
execution cache, so fast and full outputs never mix. The widget JavaScript must be fetched first
(``scripts/fetch_widget_js.sh``). Exit status: jupyter-book's.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from exec_cache_guard import guard

ROOT = Path(__file__).resolve().parents[1]
FLAGS = ["-W", "-n", "--keep-going", "--builder", "html"]


def build_dir(fast: bool) -> Path:
    """Where jupyter-book writes (relative to the repository root); the pages are in its ``html/``."""
    return Path("_build/fast/_build") if fast else Path("_build")


def command(fast: bool) -> tuple[list[str], dict[str, str]]:
    """The jupyter-book command line (the one next to this Python) and the variables it adds to the environment."""
    jupyter_book = str(Path(sys.executable).parent / "jupyter-book")
    output = ["--path-output", "_build/fast"] if fast else []
    env = {"TQDM_DISABLE": "1", "SUBLIMINAL_STATIC_WIDGETS": "1"} | ({"SUBLIMINAL_FAST": "1"} if fast else {})
    return [jupyter_book, "build", ".", *output, *FLAGS], env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="the small configuration, into _build/fast")
    fast = parser.parse_args(argv).fast
    os.chdir(ROOT)
    guard(build_dir(fast))
    sys.stdout.flush()  # the guard's note before jupyter-book's output
    args, env = command(fast)
    return subprocess.run(args, env=dict(os.environ, **env)).returncode


if __name__ == "__main__":
    sys.exit(main())
