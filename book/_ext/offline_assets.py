"""Sphinx extension: keep the built book free of references to CDNs.

Jupyter Book 1 always loads sphinx-thebe, which puts ``const THEBE_JS_URL =
"https://unpkg.com/thebe@…"`` and its loader script on every page even with
``launch_buttons.thebe: false``. This book does not use thebe (its notebooks
open in Colab), so those scripts and the thebe stylesheet are dropped from every
page. MathJax, require.js and the widget manager are served from ``_static``
(see ``_config.yml`` and ``scripts/fetch_widget_js.sh``).
"""

from __future__ import annotations


def _is_thebe(asset) -> bool:
    filename = str(getattr(asset, "filename", asset) or "")
    body = str(getattr(asset, "attributes", {}).get("body", ""))
    return "thebe" in filename or "THEBE_JS_URL" in body


def _drop_thebe(app, pagename, templatename, context, doctree) -> None:
    for key in ("script_files", "css_files"):
        if key in context:
            context[key] = [asset for asset in context[key] if not _is_thebe(asset)]


def setup(app):
    app.connect("html-page-context", _drop_thebe, priority=900)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
