"""The built book in a real browser: every explorer's slider changes its frame, offline.

Opens the chapter pages of the fast build (``make book-fast`` ->
``_build/fast/_build/html``; built here first when missing or older than its
sources) from disk in a chromium driven by Playwright (Debian's, or Playwright's
own where Debian's is missing: see ``_executable``), moves each explorer's slider with the keyboard, and checks that
the visible frame and its caption change, that the explorers about alignment
show cosines (their captions, computed from the data drawn, report
cos(g_d, g_t)), that the page says it shows a precomputed grid, and that no
request left ``file://``. Screenshots of each explorer at two slider positions
go to ``test-artifacts/screenshots/`` (``<chapter>-<i>-before.png`` and
``-after.png``).

Set ``SUBLIMINAL_BOOK_HTML`` to test another build (e.g. ``_build/html``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEBIAN_CHROMIUM = "/usr/bin/chromium"  # what `make browser` installs with apt-get (and CI uses)
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
# chapter -> number of explorers it must contain (one per chapter 2-7), and the cosine its captions report
from conftest import EXPLORER_PAGES  # noqa: E402

COSINES = {
    "02-single-step-theorem": "cos(Δθ_T, Δθ_S) = ",  # teacher step vs student step
    "03-sustained-alignment": "cos(g_d, g_t) > τ on ",  # alignment explorer
    "04-projection": "mean cos(g_d, g_t) before projection = ",  # tau explorer
    "05-liminal-training": "mean cos(g_d, g_t) in epoch 1: ",  # liminal explorer
    "06-going-further": "cos(g_d, g_t) > 0 on ",  # learning-rate explorer
    "07-what-is-shared": "cos(g_d, g_t) > 0 on ",  # explorer over the arms
}
LOCAL_SCHEMES = {"file", "data", "blob", "about"}



_SESSION: dict = {}


def _chromium():
    """The session's one chromium: Playwright's sync API runs one instance per thread, and
    tests/test_rendered_pages.py shares it (it imports the ``browser`` fixture)."""
    if "browser" in _SESSION:
        return _SESSION["browser"]
    executable = _executable()
    if executable is not None and not Path(executable).exists():
        _no_chromium(f"SUBLIMINAL_CHROMIUM={executable} does not exist")
    sync_api = pytest.importorskip("playwright.sync_api")
    playwright = sync_api.sync_playwright().start()
    try:
        # scroll bars drawn as a reader's browser draws them (Playwright hides them by default):
        # tests/test_rendered_pages.py checks that wide blocks show one
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True,
                                             ignore_default_args=["--hide-scrollbars"])
    except sync_api.Error as err:
        playwright.stop()
        which = executable or "Playwright's own Chromium"
        _no_chromium(f"{which} does not start: {str(err).strip().splitlines()[0]}")
    _SESSION["playwright"] = playwright
    _SESSION["browser"] = browser
    return browser


def _executable() -> str | None:
    """The chromium to drive: ``$SUBLIMINAL_CHROMIUM`` if set, else Debian's if installed, else
    ``None``, which Playwright takes to mean its own Chromium (``make browser`` installs it with
    ``playwright install chromium`` where apt-get is missing or fails)."""
    if os.environ.get("SUBLIMINAL_CHROMIUM"):
        return os.environ["SUBLIMINAL_CHROMIUM"]
    return DEBIAN_CHROMIUM if Path(DEBIAN_CHROMIUM).exists() else None


def _no_chromium(reason: str):
    """Skip the browser tests, saying how to get a chromium; in CI, fail (CI must run them)."""
    message = (f"no chromium for the browser tests: {reason}. `make browser` installs one "
               f"(`apt-get install chromium` -> {DEBIAN_CHROMIUM}, else `python -m playwright install "
               "chromium`), or set SUBLIMINAL_CHROMIUM to a chromium or chrome executable")
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def browser():
    yield _chromium()
    if "browser" in _SESSION:  # closed once: both modules' fixtures hand out this browser
        _SESSION.pop("browser").close()
        _SESSION.pop("playwright").stop()


def _open(browser, url: str):
    """A fresh page at ``url``; returns (page, requests seen, errors: JS exceptions and failed loads)."""
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    requests, errors = [], []
    page.on("request", lambda request: requests.append(request.url))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("requestfailed", lambda request: errors.append(f"failed to load {request.url}: {request.failure}"))
    page.goto(url, wait_until="load")
    return page, requests, errors


VISIBLE_FRAME_SRC = """explorer => {
    const visible = [...explorer.querySelectorAll('img')].filter(img => {
        const r = img.getBoundingClientRect();
        return r.width > 0 && r.height > 0 && getComputedStyle(img).visibility !== 'hidden';
    });
    return visible.length === 1 && visible[0].complete && visible[0].naturalWidth > 0 ? visible[0].src : null;
}"""
VISIBLE_CAPTION = """explorer => {
    const visible = [...explorer.querySelectorAll('.subliminal-caption')].filter(el => {
        const r = el.getBoundingClientRect();
        return r.width > 0 && r.height > 0;
    });
    return visible.length === 1 ? visible[0].innerText : null;
}"""


@pytest.mark.parametrize("chapter", sorted(EXPLORER_PAGES))
def test_explorer_slider_changes_frame_offline(book_html, browser, chapter):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page_path = book_html / "book" / f"{chapter}.html"
    assert page_path.exists(), f"{page_path} was not built"
    html_text = page_path.read_text()
    for cdn in ("unpkg.com", "jsdelivr", "cdnjs"):
        assert cdn not in html_text, f"{page_path.name} references a CDN ({cdn})"
    page, requests, errors = _open(browser, page_path.as_uri())
    try:
        explorers = page.locator(".subliminal-explorer")
        explorers.first.wait_for(state="visible", timeout=30_000)
        assert explorers.count() == EXPLORER_PAGES[chapter]
        for i in range(explorers.count()):
            explorer = explorers.nth(i)
            explorer.scroll_into_view_if_needed()
            page.wait_for_function(f"() => ({VISIBLE_FRAME_SRC})(document.querySelectorAll('.subliminal-explorer')[{i}])",
                                   timeout=30_000)
            before = explorer.evaluate(VISIBLE_FRAME_SRC)
            caption_before = explorer.evaluate(VISIBLE_CAPTION)
            label_before = explorer.locator(".widget-readout").inner_text()
            assert "precomputed grid" in explorer.inner_text(), "the page must say that it shows a grid"
            _assert_cosine(caption_before, COSINES[chapter])
            explorer.screenshot(path=str(SCREENSHOTS / f"{chapter}-{i}-before.png"))
            handle = explorer.locator(".noUi-handle").first
            handle.focus()
            # one step towards the other end of the grid (the initial value may be the last grid value)
            at_end = handle.get_attribute("aria-valuenow") == handle.get_attribute("aria-valuemax")
            page.keyboard.press("ArrowLeft" if at_end else "ArrowRight")
            page.wait_for_function(
                f"before => ({VISIBLE_FRAME_SRC})(document.querySelectorAll('.subliminal-explorer')[{i}]) "
                "!== before", arg=before, timeout=10_000)
            after = explorer.evaluate(VISIBLE_FRAME_SRC)
            caption_after = explorer.evaluate(VISIBLE_CAPTION)
            label_after = explorer.locator(".widget-readout").inner_text()
            explorer.screenshot(path=str(SCREENSHOTS / f"{chapter}-{i}-after.png"))
            assert after and after != before, "moving the slider must show another frame"
            assert label_after != label_before, "the slider's readout must follow the move"
            _assert_cosine(caption_after, COSINES[chapter])
            assert caption_after != caption_before, "the caption must describe the new frame"
    finally:
        page.close()
    remote = [url for url in requests if urlparse(url).scheme not in LOCAL_SCHEMES]
    assert not remote, f"requests left file://: {remote}"
    assert not errors, f"JavaScript errors on {chapter}: {errors}"


def _assert_cosine(caption: str | None, prefix: str) -> None:
    """The visible caption reports a cosine: ``prefix`` followed by a number."""
    assert caption, "the visible frame must have exactly one caption"
    assert re.search(re.escape(prefix) + r"-?\d", caption), f"no {prefix!r}<number> in the caption {caption!r}"


def test_pages_load_offline_without_errors(book_html, browser):
    """Every page of the book loads from disk without remote requests or JS errors."""
    pages = sorted((book_html / "book").glob("*.html"))
    assert pages
    for page_path in pages:
        page, requests, errors = _open(browser, page_path.as_uri())
        page.wait_for_timeout(300)
        page.close()
        remote = [url for url in requests if urlparse(url).scheme not in LOCAL_SCHEMES]
        assert not remote, f"{page_path.name}: requests left file://: {remote}"
        assert not errors, f"{page_path.name}: JavaScript errors: {errors}"


def test_solution_toggle_reveals_the_solution(book_html, browser):
    """Exercise solutions are hidden by default; clicking "Show solution" shows the solution's code."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page_path = book_html / "book" / "03-sustained-alignment.html"
    assert page_path.exists(), f"{page_path} was not built"
    page, _, errors = _open(browser, page_path.as_uri())
    try:
        toggles = page.locator("details.hide", has=page.locator("summary", has_text="Show solution"))
        assert toggles.count() >= 2, "every chapter has at least two checked exercises with hidden solutions"
        toggle = toggles.first
        toggle.scroll_into_view_if_needed()
        solution = toggle.locator(".cell_input")
        assert not solution.is_visible(), "a solution must be hidden until the reader asks for it"
        check = toggle.locator("xpath=..").locator(".cell_output")
        assert "✓ check_cosine" in check.first.inner_text(), "the solution's check ran in the build and passed"
        toggle.locator("summary").click()
        solution.wait_for(state="visible", timeout=5_000)
        assert "def cosine(" in solution.inner_text()
        assert "assert exercises.check_cosine(cosine)" in solution.inner_text()
        toggle.screenshot(path=str(SCREENSHOTS / "solution-toggle-open.png"))
    finally:
        page.close()
    assert not errors, f"JavaScript errors: {errors}"
