"""Check the built book's glued numbers against the chapters' scientific invariants.

``make book`` runs this after ``jupyter-book build``: myst-nb leaves every executed chapter in
``<build>/jupyter_execute/book/*.ipynb`` and its glued values beside it in ``*.glue.json``. The invariants are those of ``tests/chapters.py`` (one definition for the
fast tests and for this check); at paper scale the full-size ones are added (intervals that only
10 seeds and the full data can resolve). Exit status 1, with every violated invariant listed,
if the published book would contradict itself.

    python -m scripts.check_full_book [BUILD]          # paper-scale build (default BUILD: _build)
    python -m scripts.check_full_book --fast BUILD     # a fast-mode build: fast invariants only

Run it as a module from the repository root (as ``make book`` does): it imports the invariants
from ``tests/chapters.py`` as ``tests.chapters`` and the chapter list from ``scripts/book_pages.py``
as ``scripts.book_pages``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from scripts.book_pages import chapter_notebooks
from tests.chapters import built_glue, check_invariants


def check_build(build: Path, full: bool = True) -> list[str]:
    """Every problem found in the executed chapters under ``build`` (empty list: the book is consistent)."""
    executed = build / "jupyter_execute" / "book"
    problems = []
    for chapter in chapter_notebooks():
        path = executed / chapter.name
        if not path.exists():
            problems.append(f"{chapter.stem}: no executed notebook at {path} (did the build execute it?)")
            continue
        try:
            values = built_glue(path)  # myst-nb keeps the glued values beside the executed notebook
        except FileNotFoundError as err:
            problems.append(f"{chapter.stem}: {err}")
            continue
        mode = next((value for key, value in values.items() if key.endswith("_run_mode")), None)
        if full and mode == "fast mode":
            problems.append(f"{chapter.stem}: executed in fast mode; run with --fast for a fast build")
            continue
        try:
            check_invariants(chapter.stem, values, full=full)
        except AssertionError as err:
            problems.append(f"{chapter.stem}: {err}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("build", nargs="?", default="_build", help="the jupyter-book output folder (default _build)")
    parser.add_argument("--fast", action="store_true", help="the build ran in fast mode: check fast invariants only")
    args = parser.parse_args(argv)
    build = Path(args.build)
    if not (build / "jupyter_execute").is_dir():
        print(f"error: {build}/jupyter_execute does not exist; build the book first (make book)", file=sys.stderr)
        return 1
    problems = check_build(build, full=not args.fast)
    scale = "fast-mode" if args.fast else "full-size"
    if problems:
        print(f"THE BUILT BOOK CONTRADICTS ITSELF: {len(problems)} {scale} invariant(s) violated", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    print(f"check_full_book: all {scale} invariants hold for {len(chapter_notebooks())} chapters in {build}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
