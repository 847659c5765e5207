"""Chapter regression tests: hygiene of the committed notebooks, and the glued numbers of the
fast gate build, which must satisfy the chapters' scientific invariants."""

from __future__ import annotations

import copy

import nbformat
import pytest

from book_pages import ROOT, chapter_notebooks, markdown_pages
from chapters import ARTIFACTS, built_glue, check_invariants, checked_cells, parameters_cells, write_json

CHAPTERS = chapter_notebooks()
IDS = [p.stem for p in CHAPTERS]


def test_there_are_seven_chapters_all_in_the_toc():
    assert len(CHAPTERS) == 7, [p.name for p in CHAPTERS]
    on_disk = sorted((ROOT / "book").glob("[0-9][0-9]-*.ipynb"))  # numbered notebooks the toc might miss
    assert CHAPTERS == on_disk, "every chapter must appear in _toc.yml, in order"


def test_the_chapter_list_is_read_from_the_toc(tmp_path):
    """The chapters are the toc's .ipynb entries in toc order; a page not written yet is left out."""
    (tmp_path / "book").mkdir()
    for name in ("index.md", "01-a.ipynb", "02-b.ipynb", "notes.md"):
        (tmp_path / "book" / name).write_text("{}")
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: book/index\nparts:\n  - chapters:\n      - file: book/02-b\n"
        "      - file: book/01-a\n      - file: book/03-not-yet\n      - file: book/notes\n")
    assert [p.name for p in chapter_notebooks(tmp_path)] == ["02-b.ipynb", "01-a.ipynb"]
    assert [p.name for p in markdown_pages(tmp_path)] == ["index.md", "notes.md"]


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_exactly_one_parameters_cell_with_fast_switch(path):
    nb = nbformat.read(path, as_version=4)
    cells = parameters_cells(nb)
    assert len(cells) == 1, f"{path.name} must have exactly one cell tagged 'parameters'"
    assert "FAST" in cells[0].source, "the parameters cell must hold the FAST switch"


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_committed_without_outputs_except_checked_cells(path):
    nb = nbformat.read(path, as_version=4)
    checked = {id(c) for c in checked_cells(nb)}
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or id(cell) in checked:
            continue
        assert not cell.get("outputs"), f"{path.name} cell {i} has committed outputs (strip them)"
        assert cell.get("execution_count") is None, f"{path.name} cell {i} has an execution count"
    for cell in checked_cells(nb):
        assert cell.get("outputs"), f"{path.name}: a cell tagged nbval-check-output needs its stored output"


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_chapter_runs_in_fast_mode_and_tells_the_truth(book_html, path):
    """The fast gate build executed the chapter (SUBLIMINAL_FAST=1); its glued numbers must hold.

    myst-nb keeps each executed notebook next to the HTML output, in ``jupyter_execute/``: the
    chapters are executed once per test run, by the build, not again here.
    """
    executed = book_html.parent / "jupyter_execute" / "book" / path.name
    assert executed.exists(), f"the gate build left no executed notebook at {executed}"
    values = built_glue(executed)
    assert values, f"no glued values in the build of {path.name}"
    # the build sets TQDM_DISABLE=1: no training progress bar (a widget view or its text) on the page
    bars = [o for cell in nbformat.read(executed, as_version=4).cells for o in cell.get("outputs", [])
            if "it/s]" in str(o.get("data", {}).get("text/plain", "")) + str(o.get("text", ""))]
    assert not bars, f"{path.name}: {len(bars)} progress bar output(s) in the built page"
    write_json(ARTIFACTS / "executed" / f"{path.stem}.glue.json", values)
    check_invariants(path.stem, values)


GOOD = {
    "01": {"ch1_teacher_acc": 94.0, "ch1_reference_acc": 10.0, "ch1_cross_aux_acc": 10.0,
           "ch1_student_aux_acc": 50.0, "ch1_student_all_acc": 90.0, "ch1_head_shift_max": 0.0,
           "ch1_student_aux_ci": 8.0, "ch1_cross_aux_ci": 0.5},
    "04": {"ch4_current_acc": 10.0, "ch4_plain_acc": 52.0, "ch4_reference_acc": 10.0,
           "ch4_plain_head_shift": 0.0, "ch4_current_head_shift": 0.07,
           "ch4_adam_hidden_head_shift": 0.0, "ch4_sgd_hidden_head_shift": 0.0,
           "ch4_adam_two_sided_frac": 100.0, "ch4_sgd_two_sided_frac": 100.0,
           "ch4_adam_plain_same_drive": -0.75, "ch4_sgd_plain_same_drive": -0.5,
           "ch4_adam_two_sided_same_drive": 1e-5, "ch4_adam_one_sided_same_drive": 0.3,
           "ch4_adam_verdict": "removal", "ch4_adam_failed": "none",
           "ch4_sgd_verdict": "neither", "ch4_sgd_failed": "drive removed",
           "ch4_current_drive": 6.0, "ch4_plain_drive": -0.75, "ch4_adam_drive_ratio": 0.1,
           "ch4_sgd_drive_ratio": 0.3, "ch4_current_top": 90.0, "ch4_reference_top": 85.0,
           "ch4_null_W1": 0.0, "ch4_sgd_plain_acc": 30.0, "ch4_sgd_reference_acc": 10.0},
    "05": {"ch5_liminal_acc": 45.0, "ch5_reference_acc": 10.0, "ch5_student_aux_acc": 50.0,
           "ch5_dent_epoch1": -8.0, "ch5_dent_epoch1_ci": 3.0, "ch5_dent_last": -1.0},
}


@pytest.mark.parametrize("chapter, key, wrong, full", [
    ("01", "ch1_head_shift_max", 0.01, False),   # the digit head moved: a bug in the loss
    ("01", "ch1_cross_aux_acc", 55.0, False),    # a glue that now holds the shared-init number
    ("01", "ch1_student_aux_ci", 45.0, True),    # the aux student's interval reaches chance
    ("04", "ch4_current_acc", 48.0, False),      # the paper's projection no longer holds the student
    ("04", "ch4_adam_hidden_head_shift", 0.01, False),  # the hidden-layer projection moved the head
    ("04", "ch4_adam_two_sided_same_drive", -0.2, False),  # the update projection is not exact
    ("04", "ch4_adam_failed", "histogram as the untrained network's", False),  # verdict vs criteria
    ("05", "ch5_dent_epoch1", 2.0, True),        # liminal above plain after epoch 1
])
def test_invariants_catch_a_wrong_number(chapter, key, wrong, full):
    check_invariants(chapter, GOOD[chapter], full=full)  # the good values pass
    bad = copy.deepcopy(GOOD[chapter])
    bad[key] = wrong
    with pytest.raises(AssertionError):
        check_invariants(chapter, bad, full=full)
    del bad[key]
    with pytest.raises(AssertionError, match="missing"):
        check_invariants(chapter, bad, full=full)


def test_full_book_check_reads_the_build_and_fails_loudly(tmp_path):
    """scripts/check_full_book.py on a fake build: a consistent chapter passes, a contradiction fails."""
    import subprocess
    import sys

    import json

    from chapters import ROOT
    from nbformat.v4 import new_notebook

    def write_build(path, values):
        """An executed chapter as myst-nb leaves it: the notebook, and its glued values beside it."""
        nbformat.write(new_notebook(), path)
        glue = {k: {"output_type": "display_data", "data": {"text/plain": repr(v)},
                    "metadata": {"scrapbook": {"name": k, "mime_prefix": "application/papermill.record/"}}}
                for k, v in values.items()}
        path.with_suffix(".glue.json").write_text(json.dumps(glue))

    executed = tmp_path / "jupyter_execute" / "book"
    executed.mkdir(parents=True)
    for path in CHAPTERS:  # only chapters 01, 04 and 05 have complete fake values; the others must be reported
        values = GOOD.get(path.stem[:2])
        if values is not None:
            write_build(executed / path.name, values)
    script = [sys.executable, "-m", "scripts.check_full_book"]  # as `make book` runs it
    run = subprocess.run([*script, str(tmp_path)], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 1
    assert "02-" in run.stderr and "no executed notebook" in run.stderr
    assert "01-" not in run.stderr and "04-" not in run.stderr, run.stderr
    bad = dict(GOOD["05"], ch5_dent_epoch1=2.0)
    write_build(executed / [p.name for p in CHAPTERS if p.stem.startswith("05")][0], bad)
    run = subprocess.run([*script, str(tmp_path)], cwd=ROOT, capture_output=True, text=True)
    assert "05-" in run.stderr and "epoch 1" in run.stderr


# ------------------------------------------------------------------ what a reader sees
MAX_COLUMNS = 88


def _first_code_cell(nb) -> int:
    return next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")


def long_code_lines(nb) -> list[str]:
    """Code lines wider than 88 columns (not the set-up cell: `make sync` writes it)."""
    setup = _first_code_cell(nb)
    return [
        f"cell {i}: {line[:60]}… ({len(line)} columns)"
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and i != setup
        for line in cell.source.splitlines()
        if len(line) > MAX_COLUMNS
    ]


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_code_cells_fit_in_88_columns(path):
    """A reader never scrolls a code cell sideways (`ruff format --line-length 88`)."""
    long = long_code_lines(nbformat.read(path, as_version=4))
    assert not long, f"{path.name}: lines over {MAX_COLUMNS} columns: {long[:5]}"


def visible_glue_cells(nb) -> list[int]:
    """Code cells that call glue and that the page shows (not hide-/remove-cell)."""
    return [
        i
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        and "glue(" in cell.source
        and not {"hide-cell", "remove-cell"} & set(cell.metadata.get("tags", []))
    ]


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_glue_calls_live_in_hidden_cells(path):
    """Bookkeeping stays out of the reader's way: every glue call sits in a collapsed
    (hide-cell) or removed (remove-cell) cell."""
    nb = nbformat.read(path, as_version=4)
    assert not visible_glue_cells(nb), (
        f"{path.name}: visible cells call glue: {visible_glue_cells(nb)}"
    )


def display_math_problems(markdown: str) -> list[str]:
    """``$$`` displays not set off by blank lines: inside a directive (an admonition)
    MyST then reads the display as inline math run into the prose (a stray ``$``,
    raw TeX)."""
    lines = markdown.split("\n")
    problems, inside = [], False
    for k, line in enumerate(lines):
        text = line.strip()
        if not text.startswith("$$") and not (inside and "$$" in text):
            continue
        if not inside:
            if k > 0 and lines[k - 1].strip():
                problems.append(
                    f"line {k + 1}: text right before a $$ display: "
                    f"{lines[k - 1].strip()[:50]!r}"
                )
            inside = text.count("$$") == 1  # "$$ x $$" on one line opens and closes
            if (
                not inside
                and k + 1 < len(lines)
                and lines[k + 1].strip()
                and not lines[k + 1].startswith("```")
            ):
                problems.append(
                    f"line {k + 2}: text right after a $$ display: "
                    f"{lines[k + 1].strip()[:50]!r}"
                )
        else:
            inside = False
            after = lines[k + 1].strip() if k + 1 < len(lines) else ""
            if after and not after.startswith("```") and not after.startswith(":::"):
                problems.append(
                    f"line {k + 2}: text right after a $$ display: {after[:50]!r}"
                )
    return problems


def _pages():
    return CHAPTERS + markdown_pages()


@pytest.mark.parametrize("path", _pages(), ids=lambda p: p.name)
def test_display_math_is_set_off_by_blank_lines(path):
    if path.suffix == ".ipynb":
        texts = [
            c.source
            for c in nbformat.read(path, as_version=4).cells
            if c.cell_type == "markdown"
        ]
    else:
        texts = [path.read_text()]
    problems = [p for text in texts for p in display_math_problems(text)]
    assert not problems, f"{path.name}: {problems[:5]}"


def test_display_math_check_catches_the_old_theorem_box():
    """Chapter 2's theorem box as it once was (``$$`` displays not set off by blank lines, which MyST
    then rendered as inline math run into the prose): the check must flag it."""
    old = "\n".join(
        [
            "```{admonition} Theorem",
            ":class: important",
            "**Statement.** For any step,",
            "$$",
            "a = b",
            "$$",
            "The leading term is never negative.",
            "```",
        ]
    )
    assert len(display_math_problems(old)) == 2
    good = "\n".join(
        [
            "```{admonition} Theorem",
            ":class: important",
            "",
            "**Statement.**",
            "",
            "$$",
            "a = b",
            "$$",
            "",
            "The leading term.",
            "```",
        ]
    )
    assert display_math_problems(good) == []


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_every_chapter_opens_with_its_box_and_both_run_times(path):
    """Goals, prerequisites and the run time: alone from a cold cache, and (after
    Chapter 1) this chapter's own measured minutes, both glued."""
    first = next(
        c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown"
    )
    assert "```{admonition} In this chapter" in first.source, (
        f"{path.name}: no 'In this chapter' box"
    )
    for part in ("**You will be able to**", "**It assumes**", "**Run time.**"):
        assert part in first.source, f"{path.name}: the box lacks {part}"
    run_time = first.source[first.source.index("**Run time.**") :]
    prefix = f"ch{int(path.stem[:2])}_"
    assert f"{prefix}cold_time" in run_time and "cold cache" in run_time, (
        f"{path.name}: no cold-cache time"
    )
    if not path.stem.startswith("01"):
        assert f"{prefix}run_minutes" in run_time and "after" in run_time, (
            f"{path.name}: no after-Chapter-1 time"
        )


BUILD_PLUMBING = (
    "memoised",
    "memoized",
    "read back from",
    "result cache",
    "costs no training",
    "book build",
)


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_prose_has_no_build_plumbing(path):
    """How results are cached belongs on the Reproducing page, not in a chapter."""
    prose = "\n".join(
        c.source
        for c in nbformat.read(path, as_version=4).cells
        if c.cell_type == "markdown"
    )
    found = [word for word in BUILD_PLUMBING if word in prose.lower()]
    assert not found, f"{path.name}: {found}"


@pytest.mark.parametrize("path", _pages(), ids=lambda p: p.name)
def test_citations_do_not_repeat_the_author(path):
    """'Cloud et al. {cite}`cloud2025subliminal`' reads "Cloud et al. [Cloud et al.,
    2025]": write {cite:t}`cloud2025subliminal` (author in the text) or {cite:p}."""
    import re

    text = (
        path.read_text()
        if path.suffix == ".md"
        else "\n".join(
            c.source
            for c in nbformat.read(path, as_version=4).cells
            if c.cell_type == "markdown"
        )
    )
    repeats = re.findall(
        r"(?:et al\.|[A-Z][a-z]+ and [A-Z][a-z]+)\s+\{cite(?::p)?\}`", text
    )
    assert not repeats, f"{path.name}: {repeats}"


def backtick_fence_problems(markdown: str) -> list[str]:
    """A backtick fence whose info string holds a backtick is no fence in CommonMark:
    a role in a directive's title (```{admonition} A {cite:t}`x`) breaks it."""
    return [
        line.strip()[:60]
        for line in markdown.split("\n")
        if line.lstrip().startswith("```") and "`" in line.lstrip().lstrip("`")
    ]


@pytest.mark.parametrize("path", _pages(), ids=lambda p: p.name)
def test_directive_titles_hold_no_backticks(path):
    if path.suffix == ".ipynb":
        cells = nbformat.read(path, as_version=4).cells
        texts = [c.source for c in cells if c.cell_type == "markdown"]
    else:
        texts = [path.read_text()]
    problems = [p for text in texts for p in backtick_fence_problems(text)]
    assert not problems, f"{path.name}: {problems[:5]}"
    assert backtick_fence_problems("```{admonition} A {cite:t}`x`\nbody\n```")


@pytest.mark.parametrize("path", _pages(), ids=lambda p: p.name)
def test_no_prose_line_starts_with_a_percent_sign(path):
    """MyST reads a line that starts with % as a comment and drops it: a wrapped
    "55.3\n% of the steps" loses its whole line on the page."""
    if path.suffix == ".ipynb":
        cells = nbformat.read(path, as_version=4).cells
        texts = [c.source for c in cells if c.cell_type == "markdown"]
    else:
        texts = [path.read_text()]
    lines = [ln for text in texts for ln in text.split("\n") if ln.startswith("%")]
    assert not lines, f"{path.name}: lines MyST drops as comments: {lines[:3]}"
