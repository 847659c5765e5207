"""The gate build: the whole book builds in fast mode with -W -n --keep-going, offline-clean.

A broken cross-reference, citation or glue key is a Sphinx warning, which -W turns
into a failed build (see the ``book_html`` fixture in conftest.py).
"""

from __future__ import annotations

from book_pages import chapter_notebooks, markdown_pages
from sync_repository import load_repository  # _config.yml's repository section

CDN_PATTERNS = ("unpkg.com", "jsdelivr", "cdnjs", "googleapis.com/ajax", "code.jquery.com")


def test_every_chapter_page_is_built(book_html):
    for notebook in chapter_notebooks():
        page = book_html / "book" / f"{notebook.stem}.html"
        assert page.exists(), f"{page} missing from the build"
        assert "Traceback (most recent call last)" not in page.read_text(), f"{page.name} shows a traceback"
    for page in markdown_pages():  # index, reproduce, glossary, bibliography, notation
        assert (book_html / "book" / f"{page.stem}.html").exists(), page.stem


def test_no_page_shows_a_traceback_or_unresolved_glue(book_html):
    for page in (book_html / "book").glob("*.html"):
        text = page.read_text()
        assert "Traceback (most recent call last)" not in text, f"{page.name} shows a traceback"
        assert "{glue" not in text, f"{page.name} has an unrendered glue role"


def test_built_book_fetches_nothing_from_a_cdn(book_html):
    for page in book_html.rglob("*.html"):
        text = page.read_text()
        for cdn in CDN_PATTERNS:
            assert cdn not in text, f"{page.relative_to(book_html)} references {cdn}"
    static = book_html / "_static"
    assert (static / "mathjax" / "tex-mml-chtml.js").exists()
    assert (static / "requirejs" / "require.js").exists()
    assert (static / "widgets" / "embed-amd.js").exists()


def test_chapter_pages_have_colab_buttons_and_math(book_html):
    for notebook in chapter_notebooks():
        text = (book_html / "book" / f"{notebook.stem}.html").read_text()
        # the launch button opens the Colab edition: the branch and repository of _config.yml
        assert load_repository().colab_link(f"book/{notebook.name}") in text, f"{notebook.stem}: Colab button"
    assert "math notranslate" in (book_html / "book" / "02-single-step-theorem.html").read_text()
