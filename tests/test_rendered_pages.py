"""The built book as a reader sees it: every page after MathJax and the widgets have run.

Opens every page of the fast build (``book_html``, see conftest.py) in Debian's
chromium, once at 1280 x 800 (desktop) and once at 390 x 844 (phone), and checks
what a reader sees, not what the source says:

* no raw TeX in the visible prose (a MathJax failure leaves ``\\varepsilon``,
  ``$$`` or a stray ``$`` in the text) and no prose typeset as math (a run of
  single italic letters: "Theleadingterm...");
* no visible ``glue(`` call in a code cell and no bare value box (an output
  that shows only a scalar such as ``10`` or ``0.01``);
* nothing wider than the content column unless it sits in a horizontal scroll
  container whose scroll bar is drawn (a visible cue that there is more);
* each chapter's first screen (1280 x 800) shows its "In this chapter" box;
* the column width and body text that the figure style
  (``subliminal.plots.COLUMN_PX``, ``BODY_TEXT_PX``; tests/test_figure_style.py)
  is designed for.

Screenshots of each chapter's first screen go to ``test-artifacts/screenshots/
first-screen-<chapter>-{desktop,phone}.png``.
"""

from __future__ import annotations

import re

import pytest
from book_pages import chapter_notebooks
from test_browser import SCREENSHOTS, browser  # noqa: F401  (the session's chromium)

from subliminal import plots

PlaywrightTimeout = pytest.importorskip("playwright.sync_api").TimeoutError
CHAPTERS = [notebook.stem for notebook in chapter_notebooks()]  # _toc.yml's, in its order
# a phone has overlay scroll bars (hidden until the reader scrolls), as Chromium's mobile
# emulation does; the desktop draws classic ones
VIEWPORTS = {
    "desktop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "is_mobile": True,
        "has_touch": True,
    },
}
BOX_TITLE = (
    "In this chapter"  # the admonition each chapter opens with (index.md promises it)
)

# every widget view script has been replaced by (or sits next to) the widget it stands for
WIDGETS_DRAWN = """() => [...document.querySelectorAll(
    'script[type="application/vnd.jupyter.widget-view+json"]')].every(
    s => s.parentElement.querySelector('.jupyter-widgets, .widget-container'))"""

# (a) text nodes of the article outside math, code and scripts, that are rendered
VISIBLE_PROSE = """() => {
    const skip = ['mjx-container', 'script', 'style', 'pre', 'code', '.highlight',
                  '.cell_input', 'textarea', 'math', 'mjx-assistive-mml'].join(', ');
    const root = document.querySelector('article.bd-article') || document.body;
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    const out = [];
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const parent = node.parentElement;
        if (!parent || parent.closest(skip) || !node.textContent.trim()) continue;
        const r = parent.getBoundingClientRect();
        if (r.width === 0 && r.height === 0) continue;  // closed toggle, hidden frame
        out.push(node.textContent);
    }
    return out;
}"""
RAW_TEX = re.compile(r"\\[A-Za-z]{2,}|\\[()\[\]{}]|\$|[_^]\{")
# prose typeset as math: ten or more single-letter identifiers in a row
MATH_PROSE = """() => {
    const runs = [];
    const rows = document.querySelectorAll('mjx-assistive-mml math, mjx-assistive-mml mrow');
    for (const row of rows) {
        let run = 0, text = '';
        for (const child of row.children) {
            const letter = child.tagName.toLowerCase() === 'mi'
                           && /^[A-Za-z]$/.test(child.textContent);
            if (letter) { run += 1; text += child.textContent; }
            if (!letter || child === row.lastElementChild) {
                if (run >= 10) runs.push(text.slice(0, 60));
                run = 0; text = '';
            }
        }
    }
    return runs;
}"""

# (b) visible code cells, and the text of visible output areas without pictures or tables
VISIBLE_CODE = """() => [...document.querySelectorAll('.cell .cell_input')]
    .filter(el => el.getBoundingClientRect().height > 0).map(el => el.innerText)"""
PLAIN_OUTPUTS = """() => [...document.querySelectorAll('.cell_output .output')].filter(el => {
    const r = el.getBoundingClientRect();
    return r.height > 0 && !el.querySelector('img, svg, table, .jupyter-widgets, canvas');
}).map(el => el.innerText.trim())"""
BARE_VALUE = re.compile(
    r"[-+]?(\d[\d_,]*\.?\d*(e[-+]?\d+)?|\.\d+|nan|inf)|True|False|None|'[^'\n]{0,20}'",
    re.IGNORECASE,
)

# (c) each block that reaches past the content column, with what holds it: a scroll container
# with a drawn scroll bar ("scroll": fine), one whose bar takes no room ("no scroll bar"), a
# container that cuts it off ("clipped"), or nothing ("spills over the margin"); and whether
# the page itself scrolls sideways.
OVERFLOW = """() => {
    const column = document.querySelector('article.bd-article');
    const box = column.getBoundingClientRect();
    const skip = 'mjx-assistive-mml, .margin, aside, .sidebar, .visually-hidden, .sr-only';
    const name = el => el.tagName.toLowerCase() + (typeof el.className === 'string'
        && el.className.trim() ? '.' + el.className.trim().split(/\\s+/).slice(0, 2).join('.')
        : '');
    const found = new Map();
    for (const el of column.querySelectorAll('*')) {
        if (el.closest(skip)) continue;
        const r = el.getBoundingClientRect();
        if (r.width === 0 || r.height === 0) continue;
        if (r.right <= box.right + 2 && r.left >= box.left - 2) continue;
        let verdict = 'spills over the margin', holder = el;
        for (let a = el.parentElement; a && a !== column.parentElement; a = a.parentElement) {
            const style = getComputedStyle(a);
            if (['auto', 'scroll'].includes(style.overflowX)) {
                const bar = a.offsetHeight - a.clientHeight
                    - parseFloat(style.borderTopWidth) - parseFloat(style.borderBottomWidth);
                verdict = a.scrollWidth <= a.clientWidth + 1 ? 'clipped'
                          : (bar > 0 ? 'scroll' : 'no scroll bar');
                holder = a;
                break;
            }
            if (['hidden', 'clip'].includes(style.overflowX)) {
                verdict = 'clipped'; holder = a; break;
            }
        }
        if (verdict === 'scroll' || found.has(holder)) continue;
        const h = holder.getBoundingClientRect();
        found.set(holder, `${verdict}: ${name(holder)} (${Math.round(h.left)}-`
            + `${Math.round(Math.max(h.right, r.right))} px, column ${Math.round(box.left)}-`
            + `${Math.round(box.right)}) "${(holder.innerText || '').slice(0, 50)}"`);
    }
    const out = [...found.values()];
    const doc = document.scrollingElement;
    if (doc.scrollWidth > doc.clientWidth + 1) {
        out.push(`the page scrolls sideways (${doc.scrollWidth} px)`);
    }
    return out;
}"""

# (d) where the chapter box sits in the window
FIRST_BOX = """title => {
    for (const box of document.querySelectorAll('article .admonition')) {
        const head = box.querySelector('.admonition-title');
        if (!head || head.innerText.trim() !== title) continue;
        const r = box.getBoundingClientRect(), t = head.getBoundingClientRect();
        return {top: r.top, bottom: r.bottom, titleBottom: t.bottom, height: innerHeight};
    }
    return null;
}"""

# the geometry the figures are designed for
GEOMETRY = """() => {
    const article = document.querySelector('article.bd-article');
    const p = article.querySelector('section p');
    const images = [...article.querySelectorAll('.cell_output img')]
        .filter(img => img.naturalWidth > img.getBoundingClientRect().width + 1);
    return {body: parseFloat(getComputedStyle(p).fontSize),
            shown: images.map(img => img.getBoundingClientRect().width),
            headers: document.querySelectorAll('header.bd-header .bd-header__inner').length,
            search: [...document.querySelectorAll('.search-button-field')]
                .filter(el => el.getBoundingClientRect().height > 0).length};
}"""


def _raw_tex(texts: list[str]) -> list[str]:
    hits = []
    for text in texts:
        for match in RAW_TEX.finditer(text):
            start = max(match.start() - 30, 0)
            hits.append(text[start : match.end() + 30].replace("\n", " "))
    return hits


@pytest.fixture(scope="module")
def rendered(book_html, browser):  # noqa: F811
    """Per (page, viewport): what the probes above see once MathJax and the widgets are
    done; the first screens of the chapters are saved as screenshots."""
    pages = sorted((book_html / "book").glob("*.html"))
    assert pages, f"no pages in {book_html / 'book'}"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    seen = {}
    for path in pages:
        for view, viewport in VIEWPORTS.items():
            page = browser.new_page(**viewport)
            try:
                page.goto(path.as_uri(), wait_until="load")
                if page.evaluate(
                    "() => !!document.querySelector('script[src*=mathjax]')"
                ):
                    page.wait_for_function("() => window.MathJax?.startup?.promise")
                    page.evaluate("() => MathJax.startup.promise.then(() => true)")
                try:  # (whether widgets work at all is test_browser.py's business)
                    page.wait_for_function(WIDGETS_DRAWN, timeout=15_000)
                except PlaywrightTimeout:
                    pass
                page.wait_for_timeout(300)
                if path.stem in CHAPTERS:
                    shot = SCREENSHOTS / f"first-screen-{path.stem}-{view}.png"
                    page.screenshot(path=str(shot))
                seen[path.stem, view] = {
                    "box": page.evaluate(FIRST_BOX, BOX_TITLE),
                    "overflow": page.evaluate(OVERFLOW),
                    **(
                        {
                            "tex": _raw_tex(page.evaluate(VISIBLE_PROSE)),
                            "math_prose": page.evaluate(MATH_PROSE),
                            "code": page.evaluate(VISIBLE_CODE),
                            "outputs": page.evaluate(PLAIN_OUTPUTS),
                            "geometry": page.evaluate(GEOMETRY),
                        }
                        if view == "desktop"
                        else {}
                    ),
                }
            finally:
                page.close()
    return seen


# --------------------------------------------------------------------------- (a) raw TeX


def test_raw_tex_finder_flags_what_a_mathjax_failure_leaves():
    """The finder itself: TeX commands, stray dollars, braces; not ordinary prose."""
    assert _raw_tex([r"and $\varepsilon \nabla L_T$ here"])
    assert _raw_tex(["$$", r"\Delta\theta_T", "g_{t}", "costs $"])
    assert not _raw_tex(
        ["cos(g_d, g_t) > 0 on 54 % of steps", "a step ε (Δθ_T)", "C:/x"]
    )


def test_no_raw_tex_in_visible_prose(rendered):
    problems = []
    for (page, view), seen in rendered.items():
        if view == "desktop":
            problems += [f"{page}: raw TeX …{hit}…" for hit in seen["tex"][:5]]
            problems += [
                f"{page}: prose set as math: {r!r}" for r in seen["math_prose"][:3]
            ]
    assert not problems, "MathJax left TeX or set prose as math:\n" + "\n".join(
        problems
    )


# --------------------------------------------------------------------------- (b) bookkeeping


def test_bare_value_pattern():
    values = ("10", "0.01", "1e-05", "-3.5", "True", "'ok'", "nan")
    assert all(BARE_VALUE.fullmatch(v) for v in values)
    texts = ("✓ check_cosine passed", "accuracy 54.2 %", "[1, 2]")
    assert not any(BARE_VALUE.fullmatch(t) for t in texts)


def test_no_glue_calls_or_bare_value_boxes_in_view(rendered):
    problems = []
    for (page, view), seen in rendered.items():
        if view != "desktop":
            continue
        for cell in seen["code"]:
            problems += [
                f"{page}: visible `{line.strip()}`"
                for line in cell.splitlines()
                if re.search(r"\bglue\(", line)
            ]
        problems += [
            f"{page}: bare value box {text!r}"
            for text in seen["outputs"]
            if BARE_VALUE.fullmatch(text)
        ]
    assert not problems, "bookkeeping in the reader's way:\n" + "\n".join(problems)


# --------------------------------------------------------------------------- (c) overflow


@pytest.mark.parametrize("view", sorted(VIEWPORTS))
def test_nothing_wider_than_the_column_without_a_scroll_cue(rendered, view):
    problems = []
    for (page, v), seen in rendered.items():
        if v == view:
            problems += [f"{page}: {line}" for line in seen["overflow"][:6]]
    assert not problems, "wider than the column, no scroll bar:\n" + "\n".join(problems)


# --------------------------------------------------------------------------- (d) first screen


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_first_screen_holds_the_chapter_box(rendered, chapter):
    """At 1280 x 800 the box starts on the first screen: its title and at least 120 px of
    it in view, without scrolling."""
    assert (chapter, "desktop") in rendered, f"{chapter} was not built"
    box = rendered[chapter, "desktop"]["box"]
    assert box is not None, f"{chapter} has no {BOX_TITLE!r} box"
    in_view = box["height"] - box["top"]
    assert box["top"] >= 0 and box["titleBottom"] <= box["height"] and in_view >= 120, (
        f"{chapter}: the {BOX_TITLE!r} box starts at {box['top']:.0f} px, "
        f"{in_view:.0f} px of it on a {box['height']} px first screen"
    )


# --------------------------------------------------------------------------- page furniture


def test_the_figures_are_designed_for_this_column_and_body_text(rendered):
    """plots.COLUMN_PX is the width at which the book shows a wide figure, and
    plots.BODY_TEXT_PX its body text (tests/test_figure_style.py relies on both)."""
    geometry = rendered["01-subliminal-mnist", "desktop"]["geometry"]
    assert geometry["body"] == plots.BODY_TEXT_PX
    assert geometry["shown"], "Chapter 1 has figures wider than the column"
    assert all(abs(w - plots.COLUMN_PX) <= 4 for w in geometry["shown"]), geometry[
        "shown"
    ]


def test_one_header_per_page(rendered):
    """No second, empty header bar with its own search box above the book's own."""
    for (page, view), seen in rendered.items():
        if view == "desktop":
            geometry = seen["geometry"]
            assert geometry["headers"] == 0, f"{page}: a second header bar"
            assert geometry["search"] <= 1, (
                f"{page}: {geometry['search']} search fields"
            )
