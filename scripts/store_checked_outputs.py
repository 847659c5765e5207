"""Execute the cells tagged `nbval-check-output` of every chapter and store their outputs.

Those cells are self-contained and deterministic; nbval (``make test``) re-runs them and
compares with the outputs stored here. All other outputs stay stripped. Run after
editing a checked cell:  .venv/bin/python scripts/store_checked_outputs.py

``--extract DIR`` instead writes, per chapter, a notebook of only its checked cells with
their stored outputs into DIR, for nbval to run (``make test``): the checked cells are
self-contained, so nbval need not execute whole chapters (the gate build does that once).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from book_pages import chapter_notebooks

BOOK = Path(__file__).resolve().parents[1] / "book"


def checked_cells(nb) -> list:
    return [c for c in nb.cells if c.cell_type == "code" and "nbval-check-output" in c.metadata.get("tags", [])]


def extract(folder: Path) -> None:
    """One notebook of checked cells (with stored outputs) per chapter, into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in chapter_notebooks():
        nb = nbformat.read(path, as_version=4)
        cells = checked_cells(nb)
        if cells:
            nbformat.write(nbformat.v4.new_notebook(cells=cells, metadata=nb.metadata), folder / path.name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extract", type=Path, help="write notebooks of the checked cells into this folder")
    args = parser.parse_args()
    if args.extract is not None:
        extract(args.extract)
        return
    for path in chapter_notebooks():
        nb = nbformat.read(path, as_version=4)
        checked = checked_cells(nb)
        if not checked:
            continue
        scratch = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c.source) for c in checked],
                                           metadata=nb.metadata)
        NotebookClient(scratch, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(BOOK)}}).execute()
        for cell, ran in zip(checked, scratch.cells):
            cell.outputs = ran.outputs
            cell.execution_count = ran.execution_count  # nbval compares only cells that were run
        nbformat.write(nb, path)
        print(f"{path.name}: stored outputs of {len(checked)} checked cell(s)")


if __name__ == "__main__":
    main()
