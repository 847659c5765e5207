"""The book's pages, read from its table of contents (``_toc.yml``): the one chapter list.

Every script and test that needs the chapters asks here, so a chapter added to ``_toc.yml`` is
picked up everywhere. The chapters are the entries with a ``.ipynb`` source, in the order of the
table of contents; the other pages (the root ``book/index`` among them) are Markdown.

Import it as ``book_pages`` (scripts run as ``python scripts/...``; pytest, whose ``pythonpath``
holds ``scripts``) or as ``scripts.book_pages`` (``python -m scripts....`` from the repository root).
"""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SOURCE_SUFFIXES = (".ipynb", ".md")


def toc_entries(root: Path = ROOT) -> list[str]:
    """The documents of ``_toc.yml`` in order, the root first (e.g. ``book/01-subliminal-mnist``)."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    entries: list[str] = []

    def walk(node) -> None:
        if isinstance(node, dict):
            entries.extend(node[key] for key in ("root", "file") if key in node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc)
    return entries


def book_pages(root: Path = ROOT) -> list[Path]:
    """The source file of every page in ``_toc.yml`` order; an entry with no source yet is left out."""
    pages = []
    for entry in toc_entries(root):
        names = [entry] if entry.endswith(SOURCE_SUFFIXES) else [entry + suffix for suffix in SOURCE_SUFFIXES]
        pages += [root / name for name in names if (root / name).is_file()][:1]
    return pages


def chapter_notebooks(root: Path = ROOT) -> list[Path]:
    """The chapters: the ``.ipynb`` pages of ``_toc.yml``, in its order."""
    return [page for page in book_pages(root) if page.suffix == ".ipynb"]


def markdown_pages(root: Path = ROOT) -> list[Path]:
    """The other pages (``.md``), in ``_toc.yml`` order."""
    return [page for page in book_pages(root) if page.suffix == ".md"]
