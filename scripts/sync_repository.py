"""Write the repository named in ``_config.yml`` into every place that repeats it.

``_config.yml``'s ``repository`` section is the one place that names the repository:

* ``url``          the GitHub repository (a fork changes only this line);
* ``branch``       the branch the Colab launch buttons open (the Colab edition lives there);
* ``install_ref``  the git ref (tag or branch) the chapters' first cell installs the package from.

From it this script writes the first code cell of every chapter (the bootstrap cell), the
README's generated block and pyproject's ``Repository`` URL. ``--check`` writes nothing and
exits 1 when a file disagrees (``make sync`` writes, tests/test_colab.py checks)::

    python scripts/sync_repository.py [--check]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from book_pages import chapter_notebooks
from subliminal.files import atomic_write

ROOT = Path(__file__).resolve().parents[1]
DISTRIBUTION = "subliminal-book"  # pyproject's [project] name; the import name is `subliminal`
INSTALL_ENV = "SUBLIMINAL_INSTALL"  # overrides what the bootstrap cell installs (a wheel, a folder, a requirement)
README_BEGIN = "<!-- repository: written by `make sync` from _config.yml; edit _config.yml, not this block -->"
README_END = "<!-- /repository -->"
BOOTSTRAP_TAG = "remove-cell"  # the HTML book hides the set-up cell; the Colab edition keeps it


class RepositoryError(ValueError):
    """_config.yml's repository section is missing or malformed."""


@dataclass(frozen=True)
class Repository:
    url: str           # https://github.com/<org>/<name>
    org: str
    name: str
    branch: str        # where the launch buttons (and the Colab edition) point
    install_ref: str   # what the bootstrap cell installs
    path_to_book: str  # the book's folder inside the repository ("" = root)
    colab_url: str     # https://colab.research.google.com
    site: str          # the published HTML book, ending in "/"

    @property
    def requirement(self) -> str:
        """The pip requirement the bootstrap cell installs: this distribution at ``install_ref``."""
        return f"{DISTRIBUTION} @ git+{self.url}@{self.install_ref}"

    def colab_link(self, page: str) -> str:
        """The Colab launch URL Jupyter Book 1 gives ``page`` (e.g. ``book/01-subliminal-mnist.ipynb``)."""
        prefix = f"{self.path_to_book.strip('/')}/" if self.path_to_book.strip("/") else ""
        return f"{self.colab_url}/github/{self.org}/{self.name}/blob/{self.branch}/{prefix}{page}"

    def page_url(self, docname: str, anchor: str = "") -> str:
        """The published HTML page of ``docname`` (e.g. ``book/02-single-step-theorem``)."""
        return f"{self.site}{docname}.html" + (f"#{anchor}" if anchor else "")


def load_repository(config_path: Path = ROOT / "_config.yml") -> Repository:
    """Read and validate the ``repository`` section (one-line errors say what to fix)."""
    config = yaml.safe_load(Path(config_path).read_text()) or {}
    section = config.get("repository") or {}
    for key in ("url", "branch", "install_ref"):
        if not isinstance(section.get(key), str) or not section[key].strip():
            raise RepositoryError(f"{config_path}: repository.{key} must be set (a non-empty string)")
    url = section["url"].strip().rstrip("/")
    match = re.fullmatch(r"https://github\.com/([\w.-]+)/([\w.-]+?)(?:\.git)?", url)
    if not match:
        raise RepositoryError(f"{config_path}: repository.url must look like https://github.com/<org>/<name> "
                              f"(Colab opens notebooks from GitHub); got {url!r}")
    org, name = match.groups()
    url = f"https://github.com/{org}/{name}"
    launch = config.get("launch_buttons") or {}
    colab_url = str(launch.get("colab_url") or "https://colab.research.google.com").rstrip("/")
    baseurl = str((config.get("html") or {}).get("baseurl") or "").strip()
    site = (baseurl.rstrip("/") + "/") if baseurl else f"https://{org.lower()}.github.io/{name}/"
    return Repository(url=url, org=org, name=name, branch=section["branch"].strip(),
                      install_ref=section["install_ref"].strip(),
                      path_to_book=str(section.get("path_to_book") or ""), colab_url=colab_url, site=site)


def bootstrap_source(repo: Repository) -> str:
    """The first code cell of every chapter: install the package where it is missing, then report."""
    return f'''\
# Set-up (written by `make sync` from _config.yml). Where the book's package is missing (Colab,
# Kaggle, a fresh Jupyter) this installs it, pinned to the book's ref; set the environment
# variable {INSTALL_ENV} to a wheel, a folder or any pip requirement to install that instead.
# Colab: keep results on Google Drive, so one 10-seed run serves every chapter and later sessions
# (uncomment both lines before running this cell):
# from google.colab import drive; drive.mount("/content/drive")
# import os; os.environ["SUBLIMINAL_CACHE"] = "/content/drive/MyDrive/subliminal-cache"
import importlib, os, subprocess, sys

PACKAGE = "{repo.requirement}"
try:
    import subliminal.experiments
except ModuleNotFoundError:
    source = os.environ.get("{INSTALL_ENV}") or PACKAGE
    print(f"installing {{source}}", flush=True)
    with subprocess.Popen([sys.executable, "-m", "pip", "install", "--progress-bar", "off", source],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as pip:
        for line in pip.stdout:  # pip's messages, errors included
            print(line, end="")
    if pip.returncode:
        raise RuntimeError(f"pip could not install {{source}} (exit {{pip.returncode}}); its output is above")
    importlib.invalidate_caches()
    import subliminal.experiments

import torch
import subliminal
from subliminal.experiments import resolve_device

print(f"subliminal {{subliminal.__version__}}, torch {{torch.__version__}}, "
      f"device {{resolve_device(None)}} (DEVICE = None in the next cells: CUDA when available, else CPU)")'''


def readme_block(repo: Repository) -> str:
    """The README's generated block: where the repository, the book and the Colab edition are."""
    chapters = "\n".join(f"  * [{nb.stem}]({repo.colab_link(nb.relative_to(ROOT).as_posix())})"
                         for nb in chapter_notebooks())
    return f"""{README_BEGIN}
* repository: <{repo.url}> (`repository.url` in `_config.yml`)
* the book: <{repo.site}>
* the package, as the chapters install it: `pip install "{repo.requirement}"`
* the chapters in Colab (branch `{repo.branch}`, the Colab edition):
{chapters}
{README_END}"""


def first_code_cell(notebook: dict) -> dict:
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            return cell
    raise RepositoryError("notebook has no code cell")


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) through :func:`subliminal.files.atomic_write`: the old file or the new one."""
    atomic_write(path, text.encode("utf-8"))


def _sync_notebook(path: Path, repo: Repository, check: bool) -> bool:
    """Rewrite the bootstrap cell of one chapter; returns True when it differed."""
    notebook = json.loads(path.read_text())
    cell = first_code_cell(notebook)
    source = bootstrap_source(repo)
    tags = cell.setdefault("metadata", {}).get("tags", [])
    if "".join(cell["source"]) == source and BOOTSTRAP_TAG in tags:
        return False
    if not check:
        cell["source"] = source.splitlines(keepends=True)
        cell["metadata"]["tags"] = [*tags, BOOTSTRAP_TAG] if BOOTSTRAP_TAG not in tags else tags
        cell["outputs"], cell["execution_count"] = [], None
        write_atomic(path, json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")
    return True


def _sync_readme(path: Path, repo: Repository, check: bool) -> bool:
    text = path.read_text()
    if README_BEGIN not in text or README_END not in text:
        raise RepositoryError(f"{path}: the generated block ({README_BEGIN} ... {README_END}) is missing")
    start, end = text.index(README_BEGIN), text.index(README_END) + len(README_END)
    new = text[:start] + readme_block(repo) + text[end:]
    if new != text and not check:
        write_atomic(path, new)
    return new != text


def _sync_pyproject(path: Path, repo: Repository, check: bool) -> bool:
    text = path.read_text()
    new, count = re.subn(r'(?m)^Repository = ".*"$', f'Repository = "{repo.url}"', text)
    if count != 1:
        raise RepositoryError(f'{path}: expected one line `Repository = "..."` under [project.urls]')
    if new != text and not check:
        write_atomic(path, new)
    return new != text


def sync(check: bool = False) -> list[Path]:
    """Bring every file in line with _config.yml (or, with ``check``, only list those that differ)."""
    repo = load_repository()
    stale = [nb for nb in chapter_notebooks() if _sync_notebook(nb, repo, check)]
    if _sync_readme(ROOT / "README.md", repo, check):
        stale.append(ROOT / "README.md")
    if _sync_pyproject(ROOT / "pyproject.toml", repo, check):
        stale.append(ROOT / "pyproject.toml")
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file disagrees")
    args = parser.parse_args(argv)
    try:
        stale = sync(check=args.check)
    except RepositoryError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    names = ", ".join(str(p.relative_to(ROOT)) for p in stale)
    if args.check:
        if stale:
            print(f"out of date with _config.yml's repository section: {names}; run `make sync`", file=sys.stderr)
            return 1
        print("bootstrap cells, README and pyproject agree with _config.yml")
        return 0
    print(f"updated: {names}" if stale else "already in sync with _config.yml")
    return 0


if __name__ == "__main__":
    sys.exit(main())
