"""A chapter's parameters: bad values fail before any work, naming the value and a valid example."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest

from book_pages import chapter_notebooks
from subliminal.book import chapter_parameters
from subliminal.config import ConfigError

ROOT = Path(__file__).resolve().parents[1]

PARAMETER_CASES = [
    (dict(FAST="notabool"), "FAST must be True or False (e.g. FAST = True); got 'notabool'"),
    (dict(FAST=1), "FAST must be True or False (e.g. FAST = True); got 1"),
    (dict(SEEDS=-3), "SEEDS must be a whole number >= 1 (e.g. SEEDS = 10); got -3"),
    (dict(SEEDS="10"), "SEEDS must be a whole number >= 1 (e.g. SEEDS = 10); got '10'"),
    (dict(FAST_SEEDS=1.7), "FAST_SEEDS must be a whole number >= 1 (e.g. FAST_SEEDS = 3); got 1.7"),
    (dict(TAUS=[]), "TAUS must be a non-empty list of projection_tau values (e.g. TAUS = [0.0, 0.02]); got []"),
    (dict(TAUS="0.01"), "TAUS must be a non-empty list of projection_tau values (e.g. TAUS = [0.0, 0.02]); "
                        "got '0.01'"),
    (dict(TAUS=[0.0, 2.0]), "TAUS contains 2.0, not a valid projection_tau (e.g. TAUS = [0.0, 0.02]): "
                            "projection_tau must be at most 1.0 (e.g. projection_tau=0.0); got 2.0"),
    (dict(EPSILONS=[0.01, float("inf")]), "EPSILONS contains inf, not a valid teacher_lr (e.g. EPSILONS = [0.001, "
                                          "0.01, 0.1]): teacher_lr must be a finite number (e.g. teacher_lr=0.0003); "
                                          "got inf"),
    (dict(SWEEPS={"n_aux": [0, 3]}), "SWEEPS['n_aux'] contains 0: n_aux must be at least 1: the student is "
                                     "distilled on the aux logits (e.g. n_aux=3); got 0"),
    (dict(FAST_BETAS=[1.5]), "FAST_BETAS contains 1.5, not a valid projection_beta (e.g. FAST_BETAS = [0.25, 0.5, "
                             "1.0]): projection_beta must be at most 1.0 (e.g. projection_beta=1.0); got 1.5"),
    (dict(DISPLACEMENT_SEEDS=0), "DISPLACEMENT_SEEDS must be a whole number >= 1 (e.g. DISPLACEMENT_SEEDS = 3); got 0"),
    (dict(DEVICE="tpu"), "DEVICE must be None (CUDA when available), 'cpu' or 'cuda' (e.g. DEVICE = 'cpu'); "
                         "got 'tpu'"),
]


@pytest.mark.parametrize("values, message", PARAMETER_CASES, ids=[repr(v) for v, _ in PARAMETER_CASES])
def test_chapter_parameters_bad_input(values, message):
    with pytest.raises(ConfigError) as info:
        chapter_parameters(**values)
    assert str(info.value) == message


def test_chapter_parameters_return_checked_values(monkeypatch):
    monkeypatch.setenv("SUBLIMINAL_FAST", "1")
    fast, seeds, taus, device = chapter_parameters(FAST=False, SEEDS=np.int64(4), TAUS=np.array([0, 0.5]),
                                                   DEVICE=None)
    assert fast is True and seeds == 4 and type(seeds) is int and taus == [0.0, 0.5]
    import torch

    assert device == ("cuda" if torch.cuda.is_available() else "cpu")  # resolved in the check cell
    monkeypatch.setenv("SUBLIMINAL_FAST", "0")
    assert chapter_parameters(FAST=False) == (False,)
    with pytest.raises(TypeError, match="no rule for NEW_KNOB"):
        chapter_parameters(NEW_KNOB=1)


def _chapter_cells(path: Path) -> tuple[str, str]:
    cells = json.loads(path.read_text())["cells"]
    index = [i for i, c in enumerate(cells) if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(index) == 1, path
    return "".join(cells[index[0]]["source"]), "".join(cells[index[0] + 1]["source"])


CHAPTERS = chapter_notebooks()


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_every_chapter_checks_all_its_parameters(chapter):
    """The cell after `parameters` passes every parameter through chapter_parameters and keeps the result."""
    params, setup = _chapter_cells(chapter)
    declared = [t.id for node in ast.parse(params).body if isinstance(node, ast.Assign)
                for t in node.targets if isinstance(t, ast.Name)]
    calls = [node for node in ast.walk(ast.parse(setup)) if isinstance(node, ast.Assign)
             and isinstance(node.value, ast.Call) and ast.unparse(node.value.func) == "chapter_parameters"]
    assert len(calls) == 1, f"{chapter.name}: no chapter_parameters(...) call after the parameters cell"
    targets = [t.id for t in ast.walk(calls[0].targets[0]) if isinstance(t, ast.Name)]
    passed = [(k.arg, ast.unparse(k.value)) for k in calls[0].value.keywords]
    assert targets == [name for name, _ in passed] == declared
    assert all(name == value for name, value in passed)
    namespace: dict = {}
    exec(params, namespace)  # the committed defaults pass
    chapter_parameters(**{name: namespace[name] for name in declared})


@pytest.mark.parametrize("injected, message", [
    ("FAST = 'notabool'", "FAST must be True or False (e.g. FAST = True); got 'notabool'"),
    ("SEEDS = -3", "SEEDS must be a whole number >= 1 (e.g. SEEDS = 10); got -3"),
])
def test_a_chapter_refuses_bad_parameters_before_any_work(injected, message, monkeypatch):
    """Chapter 1 as papermill runs it: its parameters cell, an injected override, then its set-up cell."""
    monkeypatch.setenv("SUBLIMINAL_FAST", "0")
    params, setup = _chapter_cells(ROOT / "book" / "01-subliminal-mnist.ipynb")
    namespace: dict = {}
    exec(params, namespace)
    exec(injected, namespace)
    with pytest.raises(ConfigError) as info:
        exec(setup, namespace)
    assert str(info.value) == message
    assert "CONFIG" not in namespace  # stopped before anything was configured or run
