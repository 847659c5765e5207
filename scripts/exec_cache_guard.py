"""Drop a book build's jupyter-cache when the ``subliminal`` package has changed.

jupyter-cache keys an executed notebook by the notebook's own code only, so after
a change to the package it would serve chapters computed by the old code. This
script keeps a hash of the package's sources next to the cache and deletes the
cache whenever the hash differs, so the next build re-executes every chapter.
The hash is :func:`subliminal.store.code_fingerprint` of the whole package (chapters
show plots and exercises as well as results), the same function the result cache
keys on, so there is one definition of "the code changed". ``scripts/build_book.py`` runs it
before every build; by hand:

    python scripts/exec_cache_guard.py _build          # before `jupyter-book build .`
    python scripts/exec_cache_guard.py _build/fast/_build
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "subliminal"


def package_hash() -> str:
    """The fingerprint of this checkout's package, every ``.py`` under it (subpackages included)."""
    from subliminal.store import code_fingerprint

    return code_fingerprint(None, package_dir=PACKAGE)


def guard(build_dir: Path) -> bool:
    """Remove ``build_dir/.jupyter_cache`` if the package changed since it was filled; True if removed."""
    stamp, cache = build_dir / ".package-hash", build_dir / ".jupyter_cache"
    current = package_hash()
    stale = cache.exists() and (not stamp.exists() or stamp.read_text().strip() != current)
    if stale:
        shutil.rmtree(cache)
        print(f"subliminal changed since {cache} was filled: every chapter will be executed again")
    build_dir.mkdir(parents=True, exist_ok=True)
    stamp.write_text(current + "\n")
    return stale


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python scripts/exec_cache_guard.py BUILD_DIR  (e.g. _build)")
    guard(Path(sys.argv[1]))
