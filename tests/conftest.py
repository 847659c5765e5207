"""Shared fixtures: an isolated result cache, MNIST, and one small experiment reused by many tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from book_pages import book_pages
from build_book import build_dir
from subliminal.config import Config


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory):
    """Tests memoise into their own folder, never the user's cache.

    ``make test`` sets ``SUBLIMINAL_CACHE`` to a folder of the checkout so that the
    unit tests, the papermill runs, nbval and the fast book build share results;
    run alone, pytest uses a fresh temporary folder.
    """
    if os.environ.get("SUBLIMINAL_CACHE"):
        yield os.environ["SUBLIMINAL_CACHE"]
        return
    folder = tmp_path_factory.mktemp("subliminal-cache")
    os.environ["SUBLIMINAL_CACHE"] = str(folder)
    yield folder
    os.environ.pop("SUBLIMINAL_CACHE", None)


@pytest.fixture(scope="session")
def mnist():
    from subliminal.data import load_mnist

    return load_mnist()


@pytest.fixture(scope="session")
def small_config() -> Config:
    """A few-second configuration in which subliminal transfer still shows."""
    return Config.fast()


@pytest.fixture(scope="session")
def tiny_config() -> Config:
    """A seconds-sized configuration (hidden 32, 2,048 images, 16 student steps)."""
    return Config.fast(hidden=32, n_train=2048, n_noise=2048, teacher_epochs=1, student_epochs=2,
                       teacher_batch_size=256, student_batch_size=256, trait_batch_size=256, curve_every=4)


@pytest.fixture(scope="session")
def small_result(small_config):
    """Every condition for 3 seeds of the fast configuration (computed once per session)."""
    from subliminal.experiments import run_experiment

    return run_experiment(small_config, seeds=3, progress=False)


# --------------------------------------------------------------------------- helpers (`from conftest import ...`)
# a one-epoch configuration for end-to-end runs through run_experiment (Config.fast(**TINY))
TINY = dict(hidden=32, n_train=2048, n_noise=2048, teacher_epochs=1, student_epochs=1, student_batch_size=512,
            teacher_batch_size=512, trait_batch_size=512, curve_every=50)


def one_line(text: str) -> str:
    """The one non-blank line of ``text`` (fails if there are more)."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    assert len(lines) == 1, text
    return lines[0]


# --------------------------------------------------------------------------- the fast book build
ROOT = Path(__file__).resolve().parents[1]
EXPLORER_PAGES = {  # chapter -> number of explorers on its page
    "02-single-step-theorem": 1,
    "03-sustained-alignment": 1,
    "04-projection": 1,
    "05-liminal-training": 1,
    "06-going-further": 1,
    "07-what-is-shared": 1,
}


def _html_dir() -> Path:
    if os.environ.get("SUBLIMINAL_BOOK_HTML"):
        return Path(os.environ["SUBLIMINAL_BOOK_HTML"]).resolve()
    return ROOT / build_dir(fast=True) / "html"


def _sources() -> list[Path]:
    files = [ROOT / "_config.yml", ROOT / "_toc.yml"]
    files += book_pages()
    files += sorted((ROOT / "subliminal").rglob("*.py"))  # subpackages too (plots, widgets, exercises)
    return [f for f in files if f.exists()]


def _stale(html_dir: Path) -> bool:
    stamp = html_dir / "book" / "index.html"
    if not stamp.exists():
        return True
    built = stamp.stat().st_mtime
    return any(src.stat().st_mtime > built for src in _sources())


@pytest.fixture(scope="session")
def book_html() -> Path:
    """The fast gate build of the book (built now by scripts/build_book.py --fast if missing or stale).

    The build log goes to test-artifacts/book-build.log; a warning or a failing
    chapter makes the build, hence every test that uses it, fail.
    """
    html_dir = _html_dir()
    if "SUBLIMINAL_BOOK_HTML" not in os.environ and _stale(html_dir):
        if shutil.which("npm") is None and not (ROOT / "book" / "_widget_assets" / ".versions").exists():
            pytest.fail("npm is needed to fetch the widget JavaScript (scripts/fetch_widget_js.sh)")
        subprocess.run(["bash", str(ROOT / "scripts" / "fetch_widget_js.sh")], cwd=ROOT, check=True)
        build = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_book.py"), "--fast"], cwd=ROOT,
                               capture_output=True, text=True)  # what `make book-fast` runs
        log = ROOT / "test-artifacts" / "book-build.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(build.stdout + "\n" + build.stderr)
        if build.returncode != 0:
            lines = (build.stdout + build.stderr).splitlines()
            problems = [line for line in lines if ("WARNING" in line or "ERROR" in line) and "IPKernelApp" not in line]
            pytest.fail(f"the fast book build failed (exit {build.returncode}); see {log}:\n"
                        + "\n".join(problems[:20] or lines[-30:]))
    assert (html_dir / "book" / "index.html").exists(), f"no built book at {html_dir}"
    return html_dir


