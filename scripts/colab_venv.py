"""A virtual environment that mimics Google Colab's runtime, for tests/test_colab.py.

Colab ships its own torch, torchvision and ipywidgets 7.7. This environment pip-installs the
versions of ``scripts/colab-runtime.txt`` (ipywidgets 7.7.1, Colab's numpy/pandas/...) and, to
avoid a multi-gigabyte download, borrows torch and torchvision with exactly their dependency
closure from the project's ``.venv``: symbolic links to those distributions only, in an overlay
folder the new environment reads through a ``.pth`` file. Nothing else of ``.venv`` is visible.

The environment is cached under ``test-artifacts/colab-venv/<key>`` (key: the requirements,
Python and torch versions); a finished one has a ``.ready`` stamp::

    python scripts/colab_venv.py          # prints the environment's folder
"""

from __future__ import annotations

import hashlib
import importlib.metadata as metadata
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT / "scripts" / "colab-runtime.txt"
BORROWED = ("torch", "torchvision")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned_names(requirements: Path = REQUIREMENTS) -> set[str]:
    lines = [l.split("#")[0].strip() for l in requirements.read_text().splitlines()]
    return {_norm(re.split(r"[<>=!~\[; ]", l)[0]) for l in lines if l}


def borrowed_distributions(roots=BORROWED, exclude: set[str] = frozenset()) -> list[metadata.Distribution]:
    """torch, torchvision and everything they require (markers evaluated here), minus ``exclude``."""
    from packaging.requirements import Requirement

    seen, todo, found = set(), list(roots), []
    while todo:
        name = _norm(todo.pop())
        if name in seen or name in exclude:
            continue
        seen.add(name)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # an optional dependency that is not installed
        found.append(dist)
        for line in dist.requires or []:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return found


def _top_level(dist: metadata.Distribution) -> set[str]:
    """The entries of site-packages a distribution owns (package folders, modules, .dist-info)."""
    entries = set()
    for file in dist.files or []:
        first = file.parts[0]
        if first not in ("..", "__pycache__") and not first.endswith(".pth"):
            entries.add(first)
    return entries


def key() -> str:
    import torch

    text = REQUIREMENTS.read_text() + sys.version + torch.__version__ + Path(__file__).read_text()
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def build(folder: Path, log=print) -> Path:
    """Create the environment in ``folder`` (raises CalledProcessError with pip's output on failure)."""
    if folder.exists():
        shutil.rmtree(folder)
    base_python = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base_python, "-m", "venv", str(folder)], check=True)
    python = folder / "bin" / "python"
    site = Path(subprocess.check_output([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                        text=True).strip())
    overlay = folder / "borrowed"
    overlay.mkdir()
    source_site = Path(metadata.distribution("torch").locate_file(""))
    for dist in borrowed_distributions(exclude=pinned_names()):
        for entry in _top_level(dist):
            link = overlay / entry
            if not link.exists() and (source_site / entry).exists():
                link.symlink_to(source_site / entry)
    (site / "zz_borrowed_torch.pth").write_text(str(overlay) + "\n")
    log(f"borrowed from {source_site}: {', '.join(sorted(p.name for p in overlay.iterdir()))}")
    subprocess.run([str(python), "-m", "pip", "install", "--disable-pip-version-check", "--progress-bar", "off",
                    "-r", str(REQUIREMENTS)], check=True, capture_output=True, text=True)
    (folder / ".ready").write_text(key())
    return folder


def ensure(parent: Path = ROOT / "test-artifacts" / "colab-venv", log=print) -> Path:
    """The cached environment for the current requirements (built when missing)."""
    folder = parent / key()
    if not (folder / ".ready").exists():
        log(f"building the Colab-like environment in {folder} ...")
        build(folder, log)
    return folder


if __name__ == "__main__":
    print(ensure())
