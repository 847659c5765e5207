"""Sphinx extension: a page loads only what it shows, and nothing from a CDN.

* Jupyter Book 1 always loads sphinx-thebe, which puts ``const THEBE_JS_URL =
  "https://unpkg.com/thebe@…"`` and its loader script on every page even with
  ``launch_buttons.thebe: false``. This book does not use thebe (its notebooks
  open in Colab), so those scripts and the thebe stylesheet are dropped.
* myst-nb adds the widget manager (require.js, ``embed-amd.js``: 3.5 MB) and
  the saved widget state to every notebook page whose metadata holds widget
  state, even when the only widgets were progress bars of the executed run.
  Progress bars are not part of the text: their views are dropped from the
  page (no blank gap where they were), and a page left without widget views
  loads neither the widget manager nor the state.
* ``scroll-cues.css`` (in ``static/``) gives every horizontally scrollable
  block a visible scroll bar.
* One header: pydata-sphinx-theme 0.17 puts a search field into a top navbar
  (``navbar_persistent``) unless the theme options name it, and Jupyter Book 1
  does not; sphinx-book-theme's own empty default is then ignored, and every
  page shows a second, empty header with its own search box above the book's.
  The option is set empty here (search stays in the sidebar and the article
  header).

MathJax, require.js and the widget manager are served from ``_static`` (see
``_config.yml`` and ``scripts/fetch_widget_js.sh``).
"""

from __future__ import annotations

import json
import re

WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
PROGRESS_MODELS = {"FloatProgressModel", "IntProgressModel"}
# an output area that holds nothing but a widget view (myst-nb's HTML for a widget)
VIEW_OUTPUT = re.compile(
    r'<div class="output text_html">\s*'
    r'<script type="application/vnd\.jupyter\.widget-view\+json">'
    r"(?P<json>.*?)</script>\s*</div>",
    re.S,
)
EMPTY_OUTPUT = re.compile(r'<div class="cell_output docutils container">\s*</div>')


def _is_thebe(asset) -> bool:
    filename = str(getattr(asset, "filename", asset) or "")
    body = str(getattr(asset, "attributes", {}).get("body", ""))
    return "thebe" in filename or "THEBE_JS_URL" in body


def _drop_thebe(app, pagename, templatename, context, doctree) -> None:
    for key in ("script_files", "css_files"):
        if key in context:
            context[key] = [asset for asset in context[key] if not _is_thebe(asset)]


def _is_state(asset) -> bool:
    return getattr(asset, "attributes", {}).get("type") == WIDGET_STATE


def _progress_ids(state: dict) -> set[str]:
    """Model ids of progress bars and of the boxes that hold one (tqdm's HBox)."""
    bars = {k for k, m in state.items() if m.get("model_name") in PROGRESS_MODELS}
    boxes = set()
    for key, model in state.items():
        children = model.get("state", {}).get("children", []) or []
        if any(str(c).removeprefix("IPY_MODEL_") in bars for c in children):
            boxes.add(key)
    return bars | boxes


def drop_progress_bars(body: str, state: dict) -> tuple[str, int]:
    """``body`` without the output areas that show only a progress bar, and the number
    of other widget views left in it."""
    progress = _progress_ids(state)

    def keep_or_drop(match: re.Match) -> str:
        try:
            model_id = json.loads(match.group("json")).get("model_id")
        except ValueError:
            return match.group(0)
        return "" if model_id in progress else match.group(0)

    body = EMPTY_OUTPUT.sub("", VIEW_OUTPUT.sub(keep_or_drop, body))
    return body, body.count("application/vnd.jupyter.widget-view+json")


def _widgets_only_where_shown(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files") or []
    states = [asset for asset in scripts if _is_state(asset)]
    if not states or "body" not in context:
        return
    try:
        state = json.loads(states[0].attributes.get("body", "{}")).get("state", {})
    except ValueError:
        return
    context["body"], views = drop_progress_bars(context["body"], state)
    if views:
        return
    manager = set(app.config.nb_ipywidgets_js)  # paths below _static/ (the builder adds it)

    def wanted(asset) -> bool:
        name = str(getattr(asset, "filename", asset) or "").removeprefix("_static/")
        return not _is_state(asset) and name not in manager

    context["script_files"] = [asset for asset in scripts if wanted(asset)]


def _one_header(app, config) -> None:
    options = config.html_theme_options
    if isinstance(options, dict):
        options.setdefault("navbar_persistent", [])


def setup(app):
    app.connect("config-inited", _one_header)
    app.connect("html-page-context", _drop_thebe, priority=900)
    app.connect("html-page-context", _widgets_only_where_shown, priority=900)
    app.add_css_file("scroll-cues.css")
    return {"version": "1.1", "parallel_read_safe": True, "parallel_write_safe": True}
