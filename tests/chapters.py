"""Helpers for the chapter regression tests: find chapters, execute them, read glued numbers.

The invariants below are scientific facts that must hold even in fast mode.
They are kept apart from the tests so a test can also show that a wrong
number is caught (see ``test_chapters.py``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"


def toc_chapters() -> list[Path]:
    """Notebook chapters in ``_toc.yml`` order (paths of the .ipynb files)."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = []

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                files.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc)
    return [ROOT / f"{f}.ipynb" for f in files if (ROOT / f"{f}.ipynb").exists()]


def all_chapter_notebooks() -> list[Path]:
    return sorted((ROOT / "book").glob("[0-9][0-9]-*.ipynb"))


def glued_values(notebook: nbformat.NotebookNode) -> dict[str, object]:
    """Values stored with ``myst_nb.glue`` in an executed notebook (name -> Python value or text)."""
    values = {}
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            meta = output.get("metadata", {}).get("scrapbook")
            if not meta:
                continue
            prefix = meta.get("mime_prefix", "")  # display=False stores under application/papermill.record/
            text = output.get("data", {}).get(prefix + "text/plain", "")
            values[meta["name"]] = _parse(text)
    return values


def _parse(text: str):
    import ast

    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        try:
            return float(text.replace("np.float64(", "").replace("np.float32(", "").rstrip(")"))
        except ValueError:
            return text


def _num(values: dict, key: str) -> float:
    assert key in values, f"glue key {key!r} missing (glued: {sorted(values)})"
    value = values[key]
    assert isinstance(value, (int, float)) and math.isfinite(value), f"{key} = {value!r} is not a finite number"
    return float(value)


def check_invariants(chapter: str, values: dict) -> None:
    """Scientific invariants of each chapter's glued numbers (fast mode or paper scale)."""
    v = lambda key: _num(values, key)  # noqa: E731
    if chapter.startswith("01"):
        assert v("ch1_teacher_acc") > 80, "the teacher must learn digits"
        assert v("ch1_reference_acc") < 20, "the untrained reference is at chance"
        assert v("ch1_cross_aux_acc") < 20, "a cross-model aux student stays at chance"
        assert v("ch1_student_aux_acc") > v("ch1_cross_aux_acc") + 5, "shared init must beat cross-model"
        assert v("ch1_student_all_acc") > v("ch1_student_aux_acc"), "all-logit distillation transfers more"
        assert v("ch1_head_shift_max") == 0.0, "the digit head of an aux-only student never moves"
    elif chapter.startswith("02"):
        assert v("ch2_inner_min") > 0, "the single-step inner product is positive at a shared init"
        assert v("ch2_gn_cos_min") > 0.99, "the student step matches the Gauss-Newton prediction"
        assert 0.9 < v("ch2_linear_ratio") < 1.1, "small steps follow the first-order prediction"
    elif chapter.startswith("03"):
        assert v("ch3_frac_positive") > 50, "alignment is positive in most steps"
        assert v("ch3_mean_cosine") > 0
        assert v("ch3_cross_frac_positive") < v("ch3_frac_positive"), "cross-model alignment is weaker"
    elif chapter.startswith("04"):
        assert v("ch4_projection_acc") < 20, "the projection student stays near chance"
        assert v("ch4_student_aux_acc") > v("ch4_projection_acc") + 5
        assert v("ch4_frac_projected") > 0, "the projection fired"
        assert v("ch4_final_loss_ratio") < 3, "distillation still succeeds under projection"
        assert v("ch4_label_free_acc") < 20, "the label-free projection also holds the student near chance"
    elif chapter.startswith("05"):
        assert v("ch5_liminal_acc") > v("ch5_reference_acc") + 5, "liminal training does not prevent transfer"
        assert v("ch5_liminal_acc") <= v("ch5_student_aux_acc") + 5, "liminal does not increase transfer"
    elif chapter.startswith("06"):
        assert v("ch6_best_lr") > 0
        v("ch6_lr_effect")  # glued and finite


def parameters_cells(notebook: nbformat.NotebookNode) -> list:
    return [c for c in notebook.cells if c.cell_type == "code" and "parameters" in c.metadata.get("tags", [])]


def checked_cells(notebook: nbformat.NotebookNode) -> list:
    return [c for c in notebook.cells if c.cell_type == "code" and "nbval-check-output" in c.metadata.get("tags", [])]


def write_json(path: Path, payload) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=str))
