"""Small helpers the chapters share: fast mode and glued numbers.

``glue`` stores a value for the book's text (myst-nb) when myst-nb is present,
and simply does nothing elsewhere (e.g. in Colab), so chapters run everywhere.
"""

from __future__ import annotations

import os
from typing import Any


def fast_mode(requested: bool = False) -> bool:
    """True when the chapter should use its tiny configuration: asked for, or ``SUBLIMINAL_FAST=1``."""
    return bool(requested) or os.environ.get("SUBLIMINAL_FAST", "") not in ("", "0")


def glue(name: str, value: Any, display: bool = False) -> Any:
    """``myst_nb.glue`` when available (the book build), a no-op otherwise. Returns ``value``.

    NumPy scalars are stored as plain Python numbers, so that ``{glue:text}`name:.1f```
    can format them.
    """
    if hasattr(value, "item") and getattr(value, "shape", None) == ():
        value = value.item()
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        return value
    myst_glue(name, value, display=display)
    return value


def percent(x: float) -> float:
    """A fraction as a percentage rounded for the text (0.5528 -> 55.3)."""
    return round(100.0 * float(x), 1)
