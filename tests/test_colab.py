"""Colab: one repository setting, the Colab edition, and a chapter run in a Colab-like environment.

* the repository named in ``_config.yml`` is the one the set-up cells, README, pyproject and
  launch buttons use (scripts/sync_repository.py);
* the Colab edition (scripts/colab_edition.py) has no MyST markup left and reads as the HTML
  book: every value the HTML page pastes appears in the edition, in the same order;
* (slow) the wheel, installed by a chapter's own set-up cell into a fresh environment with
  Colab's package versions (ipywidgets 7.7), runs the chapter's Colab edition under papermill and
  its live explorer renders as an ipywidgets 7 widget.
"""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml
from myst_nb.core.variables import format_plain_text

import colab_edition
import sync_repository
from book_pages import ROOT, chapter_notebooks, markdown_pages
from colab_edition import BookIndex, EditionError, convert, load_citations, markdown, myst_leaks
from sync_repository import first_code_cell, load_repository


def _docname(path: Path) -> str:
    return path.relative_to(ROOT).with_suffix("").as_posix()


# --------------------------------------------------------------------------- one repository setting
def test_repository_section_agrees_with_setup_cells_readme_and_pyproject():
    repo = load_repository()
    assert sync_repository.sync(check=True) == [], "run `make sync`"
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["repository"]["url"] == repo.url
    assert config["launch_buttons"]["colab_url"].rstrip("/") == repo.colab_url
    readme = (ROOT / "README.md").read_text()
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert f'Repository = "{repo.url}"' in pyproject
    assert 'name = "subliminal-book"' in pyproject and repo.requirement.startswith("subliminal-book @ ")
    for notebook in chapter_notebooks():
        cell = first_code_cell(json.loads(notebook.read_text()))
        source = "".join(cell["source"])
        assert f'PACKAGE = "{repo.requirement}"' in source, notebook.name
        assert f"@{config['repository']['install_ref']}" in source, notebook.name
        assert "remove-cell" in cell["metadata"].get("tags", []), f"{notebook.name}: set-up cell not hidden in HTML"
        link = repo.colab_link(f"book/{notebook.name}")
        assert link == (f"https://colab.research.google.com/github/{repo.org}/{repo.name}/blob/"
                        f"{config['repository']['branch']}/book/{notebook.name}")
        assert link in readme, f"README lacks the Colab link of {notebook.name}"
    other = [u for u in re.findall(r"https://github\.com/[\w.-]+/[\w.-]+", readme) if u.rstrip(".") != repo.url]
    assert not other, f"README names another repository: {other}"


def test_sync_check_catches_a_stale_setup_cell(tmp_path):
    notebook = chapter_notebooks()[0]
    copy = tmp_path / notebook.name
    data = json.loads(notebook.read_text())
    cell = first_code_cell(data)
    cell["source"] = "".join(cell["source"]).replace("@", "@stale-").splitlines(keepends=True)
    copy.write_text(json.dumps(data))
    repo = load_repository()
    assert sync_repository._sync_notebook(copy, repo, check=True), "a stale set-up cell went unnoticed"
    assert sync_repository._sync_notebook(copy, repo, check=False)
    assert not sync_repository._sync_notebook(copy, repo, check=True)
    assert f'PACKAGE = "{repo.requirement}"' in "".join(first_code_cell(json.loads(copy.read_text()))["source"])


def test_repository_url_errors_are_one_line(tmp_path):
    config = tmp_path / "_config.yml"
    config.write_text("repository:\n  url: https://gitlab.com/a/b\n  branch: colab\n  install_ref: main\n")
    with pytest.raises(sync_repository.RepositoryError, match="github.com/<org>/<name>"):
        load_repository(config)
    config.write_text("repository:\n  url: https://github.com/a/b\n  branch: colab\n")
    with pytest.raises(sync_repository.RepositoryError, match="install_ref"):
        load_repository(config)


# --------------------------------------------------------------------------- the conversion
def _index(**changes) -> BookIndex:
    fields = dict(
        repo=load_repository(),
        glue={"book/ch": {"acc": {"data": {"text/plain": "55.2831"}}, "n": {"data": {"text/plain": "10"}},
                          "name": {"data": {"text/plain": "'1,024'"}}}},
        titles={"book/ch": "Chapter", "book/other": "The other chapter", "book/bibliography": "Bibliography"},
        labels={"sec-a": ("book/other", "sec-a", "A section"), "fig-x": ("book/ch", "fig-x", "")},
        numbers={"fig-x": "1.2", "eq-a": "3"},
        equations={"eq-a": "book/other"},
        citations={"kingma2015adam": (["Kingma", "Ba"], "2015"), "cloud2025": (["Cloud", "Le", "Chua"], "2025")},
    )
    fields.update(changes)
    return BookIndex(**fields)


def test_markdown_becomes_plain_jupyter_markdown():
    site = load_repository().site
    source = "\n".join([
        "(sec-b)=",
        "## Results",
        "% a MyST comment",
        "Accuracy {glue:text}`acc:.1f` % over {glue:text}`n` seeds on {glue:text}`name` images;",
        "see {doc}`other`, {ref}`sec-a`, {ref}`that part <sec-a>`, {numref}`fig-x` and {eq}`eq-a`.",
        "Adam {cite:p}`kingma2015adam`; {cite:t}`cloud2025` found it. The {term}`trait <traits>` and {term}`logit`.",
        "",
        "```{admonition} Theorem (single step)",
        ":class: important",
        "",
        "Inside: {glue:text}`acc:.2f`.",
        "```",
        "",
        ":::{note}",
        "A note.",
        ":::",
        "",
        "```{math}",
        ":label: eq-a",
        "a = b",
        "```",
        "",
        "$$",
        "c = d",
        "$$ (eq-a)",
        "",
        "```python",
        "x = '{glue:text}`kept verbatim in code`'",
        "```",
    ])
    out = markdown(source, "book/ch", _index())
    page = f"{site}book/other.html"
    assert out == "\n".join([
        "## Results",
        "Accuracy 55.3 % over 10 seeds on 1,024 images;",
        f"see [The other chapter]({page}), [A section]({page}#sec-a), [that part]({page}#sec-a), "
        f"[Fig. 1.2]({site}book/ch.html#fig-x) and [(3)]({page}#equation-eq-a).",
        f"Adam ([Kingma and Ba, 2015]({site}book/bibliography.html)); [Cloud et al. (2025)]({site}book/bibliography.html)"
        " found it. The trait and logit.",
        "",
        "> **Theorem (single step)**",
        ">",
        "> Inside: 55.28.",
        "",
        "> **Note**",
        ">",
        "> A note.",
        "",
        "$$",
        "a = b \\tag{3}",
        "$$",
        "",
        "$$",
        "c = d",
        "\\tag{3}",
        "$$",
        "",
        "```python",
        "x = '{glue:text}`kept verbatim in code`'",
        "```",
    ])


@pytest.mark.parametrize("text, problem", [
    ("{glue:text}`missing:.1f`", "glue key 'missing'"),
    ("{cite:p}`nobody2020`", "not in book/references.bib"),
    ("{ref}`nowhere`", "label 'nowhere'"),
    ("{doc}`no-such-page`", "not a page of the book"),
    ("{download}`file.zip`", "role {download}"),
    ("```{figure} x.png\ncaption\n```", "directive {figure}"),
])
def test_markup_without_a_rendering_is_an_error(text, problem):
    with pytest.raises(EditionError, match=re.escape(problem)):
        markdown(text, "book/ch", _index())


def source_index() -> BookIndex:
    """An index built from the sources alone: each glue key gets a distinct placeholder number."""
    glue, titles, labels, numbers, equations = {}, {}, {}, {}, {}
    pages = chapter_notebooks() + markdown_pages()
    for path in pages:
        doc = _docname(path)
        cells = json.loads(path.read_text())["cells"] if path.suffix == ".ipynb" else []
        text = "\n".join("".join(c["source"]) for c in cells) if cells else path.read_text()
        titles[doc] = re.search(r"^# (.+)$", text, re.M).group(1)
        for m in re.finditer(r"^\(([\w:.-]+)\)=\s*\n+#+ (.+)$", text, re.M):
            labels[m.group(1)] = (doc, m.group(1), m.group(2))
        for m in re.finditer(r"\$\$ *\(([\w:.-]+)\)|:label: *([\w:.-]+)", text):
            label = m.group(1) or m.group(2)
            equations[label], numbers[label] = doc, str(len(equations))
        for key in re.findall(r"\{glue(?::\w+)?\}`([\w.-]+)", text):
            glue.setdefault(doc, {})[key] = {"data": {"text/plain": str(90001 + len(glue.get(doc, {})))}}
        for cell in cells:
            figure = cell.get("metadata", {}).get("mystnb", {}).get("figure")
            if figure and figure.get("name"):
                labels[figure["name"]] = (doc, figure["name"], "")
                numbers[figure["name"]] = f"9.{len(numbers)}"
    return _index(glue=glue, titles=titles, labels=labels, numbers=numbers, equations=equations,
                  citations=load_citations())


def test_every_chapter_converts_and_keeps_its_code():
    index = source_index()
    for notebook in chapter_notebooks():
        doc = _docname(notebook)
        original = json.loads(notebook.read_text())
        edition = convert(original, doc, index)
        assert not myst_leaks(edition), f"{notebook.name}: {myst_leaks(edition)[:3]}"
        text = "\n".join("".join(c["source"]) for c in edition["cells"] if c["cell_type"] == "markdown")
        source = "\n".join("".join(c["source"]) for c in original["cells"] if c["cell_type"] == "markdown")
        roles = re.findall(r"\{glue:text\}`([\w.-]+)(?::([^`]*))?`", source)
        assert {key for key, _ in roles} == set(index.glue.get(doc, {}))
        for key, fmt in roles:  # the placeholder as myst-nb formats it in the HTML book
            value = format_plain_text(index.glue[doc][key]["data"]["text/plain"], fmt or "s")
            assert value in text, f"{notebook.name}: glued {key} ({value}) missing from the edition"
        code = [c for c in edition["cells"] if c["cell_type"] == "code"]
        assert all(not c["outputs"] and c["execution_count"] is None for c in code)
        assert "".join(code[0]["source"]) == "".join(first_code_cell(original)["source"]), "set-up cell changed"
        assert sum("parameters" in c["metadata"].get("tags", []) for c in code) == 1
        kept = {c.get("id") for c in code}
        for cell in original["cells"]:
            if cell["cell_type"] == "code" and cell is not first_code_cell(original):
                removed = "remove-cell" in cell["metadata"].get("tags", [])
                assert (cell.get("id") in kept) != removed, f"{notebook.name}: cell {cell.get('id')}"
        captions = [c for c in edition["cells"] if c.get("id", "").endswith("-caption")]
        figures = [c for c in original["cells"] if c["metadata"].get("mystnb", {}).get("figure", {}).get("caption")]
        assert len(captions) == len(figures), f"{notebook.name}: figure captions lost"


def _code(cell: dict) -> str:
    return "".join(cell["source"])


@pytest.mark.parametrize("notebook", chapter_notebooks(), ids=lambda p: p.stem)
def test_solutions_and_glue_cells_are_collapsed_form_cells(notebook):
    """Colab ignores hide-input: each solution, and each cell of glue bookkeeping,
    becomes a form cell (``cellView: form``, ``# @title ... (double-click to show)``
    first), which Colab shows collapsed, as its title only; the text says how to open
    it."""
    original = json.loads(notebook.read_text())
    edition = convert(original, _docname(notebook), source_index())
    cells = {c.get("id"): c for c in edition["cells"]}
    solutions = 0
    for cell in original["cells"]:
        tags = cell["metadata"].get("tags", [])
        if cell["cell_type"] != "code" or "remove-cell" in tags:
            continue
        prompt = cell["metadata"].get("mystnb", {}).get("code_prompt_show", "")
        out = cells[cell.get("id")]
        if "hide-input" in tags or "hide-cell" in tags:
            title = out["source"][0]
            assert out["metadata"].get("cellView") == "form", (
                f"{notebook.name}: {title}"
            )
            assert title.startswith("# @title ") and "(double-click to show)" in title
            assert _code(out).split("\n", 1)[1] == _code(cell), "the code changed"
            if prompt == "Show solution":
                solutions += 1
                assert title.startswith("# @title Solution (double-click to show)")
        else:
            assert "cellView" not in out["metadata"], (
                f"{notebook.name}: a visible cell is collapsed"
            )
            if cell is not first_code_cell(original):
                assert "glue(" not in _code(out), (
                    f"{notebook.name}: a glue cell is in view"
                )
    prose = "\n".join(
        _code(c) for c in edition["cells"] if c["cell_type"] == "markdown"
    )
    assert "Show solution" not in prose, (
        f"{notebook.name}: the text names the HTML book's button"
    )
    if solutions:
        assert "double-click the title to show the solution" in prose, notebook.name
    assert solutions == sum(
        c["metadata"].get("mystnb", {}).get("code_prompt_show") == "Show solution"
        for c in original["cells"]
    )


@pytest.mark.parametrize("notebook", chapter_notebooks(), ids=lambda p: p.stem)
def test_colab_box_states_both_run_times(notebook):
    """The chapter box keeps its run-time sentence, with the build's numbers: alone
    from a cold cache and (after Chapter 1) the chapter's own time."""
    doc, index = _docname(notebook), source_index()
    edition = convert(json.loads(notebook.read_text()), doc, index)
    box = next(_code(c) for c in edition["cells"] if "**In this chapter**" in _code(c))
    run_time = box[box.index("**Run time.**") :]
    number = int(notebook.stem[:2])
    keys = [f"ch{number}_cold_time"] + (
        [f"ch{number}_run_minutes"] if number > 1 else []
    )
    for key in keys:
        value = format_plain_text(index.glue[doc][key]["data"]["text/plain"], "s")
        assert value.split(".")[0] in run_time, (
            f"{notebook.name}: {key} missing from {run_time!r}"
        )
    assert "cold cache" in run_time


def test_form_cells_and_the_solution_wording():
    cell = {
        "cell_type": "code",
        "id": "a",
        "source": ["x = 1\n", "glue('x', x)"],
        "outputs": [],
        "execution_count": None,
        "metadata": {"tags": ["hide-cell"]},
    }
    assert (
        colab_edition.form_title(cell)
        == "The code behind the numbers in the text (double-click to show)"
    )
    cell["metadata"]["mystnb"] = {"code_prompt_show": "Show solution"}
    assert colab_edition.form_title(cell) == "Solution (double-click to show)"
    form = colab_edition.as_form(cell, colab_edition.form_title(cell))
    assert form["source"] == [
        "# @title Solution (double-click to show)\n",
        "x = 1\n",
        "glue('x', x)",
    ]
    assert form["metadata"]["cellView"] == "form"
    assert colab_edition.form_title({"metadata": {"tags": ["hide-output"]}}) is None
    text = "Run it. Each solution is hidden\nunder *Show solution* below. Then go on."
    out = colab_edition.colab_wording(text)
    assert out.startswith(
        "Run it. Each solution is in a collapsed cell"
    ) and out.endswith(" Then go on.")
    assert "Show solution" not in out


def test_a_visible_glue_cell_is_an_error():
    notebook = {
        "cells": [
            {
                "cell_type": "code",
                "id": "s",
                "metadata": {},
                "outputs": [],
                "execution_count": None,
                "source": ["import subliminal"],
            },
            {
                "cell_type": "code",
                "id": "g",
                "metadata": {},
                "outputs": [],
                "execution_count": None,
                "source": ["glue('n', 3)"],
            },
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    with pytest.raises(EditionError, match="calls glue but the book shows it"):
        convert(notebook, "book/ch", _index())


def _plain(text: str) -> str:
    """Undo Sphinx's smart quotes and dashes, which the HTML applies to pasted text too."""
    for fancy, plain in (("\u2019", "'"), ("\u2018", "'"), ("\u201c", '"'), ("\u201d", '"'), ("\u2014", "---"),
                         ("\u2013", "--"), ("\u2026", "...")):
        text = text.replace(fancy, plain)
    return text


def test_colab_edition_of_the_fast_build_reads_like_the_html_book(book_html, tmp_path):
    """Every value the HTML page pastes (glue) appears in the edition's prose, in the page's order."""
    build = book_html.parent  # <build>/html -> <build> (jupyter_execute/, .doctrees/)
    written = colab_edition.write_edition(build, tmp_path / "colab")
    assert sorted(p.name for p in written) == sorted(p.name for p in chapter_notebooks())
    for path in written:
        edition = json.loads(path.read_text())
        assert not myst_leaks(edition), f"{path.name}: {myst_leaks(edition)[:3]}"
        prose = "\n".join("".join(c["source"]) for c in edition["cells"] if c["cell_type"] == "markdown")
        page = (book_html / "book" / f"{path.stem}.html").read_text()
        assert "SUBLIMINAL_INSTALL" not in page, f"{path.stem}.html shows the set-up cell (remove-cell ignored)"
        pasted = [_plain(html.unescape(re.sub(r"<[^>]+>", "", v))) for v in
                  re.findall(r'<span class="pasted-text">(.*?)</span>', page, re.S)]
        prose = _plain(prose)
        assert pasted or "{glue" not in "".join(
            "".join(c["source"]) for c in json.loads((ROOT / "book" / path.name).read_text())["cells"])
        position = 0
        for value in pasted:
            found = prose.find(value, position)
            assert found >= 0, f"{path.stem}: the HTML book shows {value!r} here, the Colab edition does not " \
                                f"(after: {prose[max(0, position - 80):position]!r})"
            position = found + len(value)
        site = load_repository().site
        for url in re.findall(rf"\]\(({re.escape(site)}[^)\s]+)\)", prose):  # links into the published book
            target, _, anchor = url[len(site):].partition("#")
            assert (book_html / target).exists(), f"{path.stem}: link to a page the book lacks: {url}"
            assert not anchor or f'id="{anchor}"' in (book_html / target).read_text(), f"{path.stem}: {url}"


# --------------------------------------------------------------------------- a Colab-like run (slow)
CHAPTER = "02-single-step-theorem"  # has an explorer; fast mode runs in about a minute


def _registry_reachable(python: str) -> bool:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        probe = subprocess.run([python, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
                                "-d", folder, "ipywidgets==7.7.1"], capture_output=True, text=True, timeout=120)
    return probe.returncode == 0


def _colab_environment() -> Path:
    import colab_venv

    try:
        return colab_venv.ensure(log=lambda line: print(line, flush=True))
    except subprocess.CalledProcessError as error:
        if not _registry_reachable(sys.executable):
            pytest.skip("the package registry (PyPI) is unreachable: cannot build the Colab-like environment")
        pytest.fail(f"building the Colab-like environment failed:\n{error.stdout}\n{error.stderr}"[-4000:])


def _wheel(folder: Path) -> Path:
    """Build the wheel from a copy of the sources (setuptools leaves build/ in the folder it builds)."""
    import shutil

    source = folder / "source"
    source.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(ROOT / "subliminal", source / "subliminal", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
                    "-w", str(folder), str(source)], check=True)
    (wheel,) = folder.glob("subliminal_book-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        meta = archive.read(next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    assert "Name: subliminal-book" in meta and "License-Expression: MIT" in meta
    assert "Requires-Dist: torch>=2.4" in meta and "Requires-Dist: ipywidgets>=7.7" in meta
    return wheel


@pytest.mark.slow
def test_chapter_runs_in_a_colab_like_environment(tmp_path, mnist):
    from subliminal.data import data_root

    venv = _colab_environment()
    python = str(venv / "bin" / "python")
    wheel = _wheel(tmp_path / "wheel")
    # the set-up cell must do the installing: start without the package
    subprocess.run([python, "-m", "pip", "uninstall", "-y", "--disable-pip-version-check", "subliminal-book"],
                   capture_output=True, check=False)
    assert subprocess.run([python, "-c", "import subliminal.experiments"], capture_output=True,
                          cwd=tmp_path).returncode != 0, "the package is importable before the set-up cell ran"

    source = ROOT / "book" / f"{CHAPTER}.ipynb"
    chapter = tmp_path / "book" / source.name
    chapter.parent.mkdir()
    chapter.write_text(json.dumps(convert(json.loads(source.read_text()), _docname(source), source_index())))
    env = {k: v for k, v in os.environ.items()
           if k not in ("SUBLIMINAL_STATIC_WIDGETS", "PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", SUBLIMINAL_INSTALL=str(wheel),
               SUBLIMINAL_FAST="1", SUBLIMINAL_DATA=str(data_root()), PYTHONNOUSERSITE="1", MPLBACKEND="agg")
    executed = tmp_path / "executed.ipynb"
    run = subprocess.run([str(venv / "bin" / "papermill"), str(chapter), str(executed), "-k", "python3",
                          "--cwd", str(chapter.parent), "-p", "FAST", "True"],
                         env=env, capture_output=True, text=True, timeout=900)
    print(run.stderr[-3000:])
    assert run.returncode == 0, f"papermill failed:\n{run.stderr[-4000:]}"

    notebook = json.loads(executed.read_text())
    setup = "".join(o.get("text", "") if isinstance(o.get("text"), str) else "".join(o.get("text", []))
                    for o in first_code_cell(notebook)["outputs"])
    print(setup[-1500:])
    assert f"installing {wheel}" in setup and "Successfully installed" in setup and "subliminal-book-" in setup
    import torch

    assert re.search(rf"subliminal \S+, torch {re.escape(torch.__version__)}, device (cpu|cuda)", setup), setup[-500:]

    # the live explorer: an ipywidgets 7 widget (controls 1.5.0 protocol) with its state saved
    views = [o for c in notebook["cells"] if c["cell_type"] == "code" and "_explorer(" in "".join(c["source"])
             for o in c["outputs"] if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert views, "the explorer cell displayed no widget"
    state = notebook["metadata"]["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    versions = {m["model_name"]: m["model_module_version"] for m in state.values()
                if m["model_module"] == "@jupyter-widgets/controls"}
    assert any(name.endswith("SliderModel") for name in versions), f"no slider in the explorer: {versions}"
    assert set(versions.values()) == {"1.5.0"}, f"not the ipywidgets 7 protocol (8 is 2.0.0): {versions}"
    assert views[0]["data"]["application/vnd.jupyter.widget-view+json"]["model_id"] in state
    check = subprocess.run([python, "-c", (
        "import ipywidgets, subliminal.widgets as w; box = w.single_step_explorer(static=False); "
        "assert isinstance(box, ipywidgets.Widget) and not box.static; print(ipywidgets.__version__)")],
        env=env, capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert check.returncode == 0, check.stderr[-2000:]
    assert check.stdout.strip().startswith("7.7."), check.stdout


# --------------------------------------------------------------------------- reading a build
def test_inventory_and_page_numbers_are_read_from_the_public_build(tmp_path):
    """objects.inv (Sphinx's public inventory) and the numbers a page shows: no pickle."""
    import zlib

    body = "\n".join([
        "book/ch std:doc -1 book/ch.html The chapter",
        "sec-a std:label -1 book/ch.html#$ A section",
        "fig-x std:label -1 book/ch.html#fig-x -",
    ]).encode()
    inventory = tmp_path / "html" / "objects.inv"
    inventory.parent.mkdir()
    inventory.write_bytes(b"# Sphinx inventory version 2\n# Project: p\n# Version: \n"
                          b"# The remainder of this file is compressed using zlib.\n" + zlib.compress(body))
    entries = colab_edition.read_inventory(inventory)
    assert ("sec-a", "std:label", "book/ch.html#sec-a", "A section") in entries
    assert ("fig-x", "std:label", "book/ch.html#fig-x", "fig-x") in entries
    page = tmp_path / "html" / "book" / "ch.html"
    page.parent.mkdir()
    page.write_text('<figure class="align-default" id="fig-x"><img src="a.png"/><figcaption><p>'
                    '<span class="caption-number">Fig. 3.2 </span><span class="caption-text">x</span>'
                    '</p></figcaption></figure>\n<div class="math notranslate nohighlight" '
                    'id="equation-eq-a">\n<span class="eqno">(3.1)<a class="headerlink" '
                    'href="#equation-eq-a">#</a></span>\\[a = b\\]</div>')
    (tmp_path / "jupyter_execute" / "book").mkdir(parents=True)
    (tmp_path / "jupyter_execute" / "book" / "ch.glue.json").write_text(
        json.dumps({"n": {"data": {"text/plain": "3"}}}))
    index = colab_edition.load_index(tmp_path)
    assert index.titles == {"book/ch": "The chapter"}
    assert index.labels["sec-a"] == ("book/ch", "sec-a", "A section")
    assert index.numbers == {"fig-x": "3.2", "eq-a": "3.1"} and index.equations == {"eq-a": "book/ch"}
    assert index.figure_format == "Fig. %s" and index.glue["book/ch"]["n"]["data"]["text/plain"] == "3"
    (tmp_path / "html" / "objects.inv").unlink()
    with pytest.raises(EditionError, match="no book build"):
        colab_edition.load_index(tmp_path)
