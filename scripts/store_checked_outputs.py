"""Execute the cells tagged `nbval-check-output` of every chapter and store their outputs.

Those cells are self-contained and deterministic; nbval (``make test``) compares a
fresh run of each chapter against the outputs stored here. All other outputs stay
stripped. Run after editing a checked cell:  .venv/bin/python scripts/store_checked_outputs.py
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

BOOK = Path(__file__).resolve().parents[1] / "book"


def main() -> None:
    for path in sorted(BOOK.glob("[0-9][0-9]-*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        checked = [c for c in nb.cells if c.cell_type == "code" and "nbval-check-output" in c.metadata.get("tags", [])]
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
