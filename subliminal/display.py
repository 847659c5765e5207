"""Show the package's own code on a page: the reader reads what runs.

``show_source(cosine)`` renders the source of a package function, as it is
installed, as a highlighted code block (Markdown, so the book build, Jupyter and
Colab all highlight it). The text, the exercise checks and the experiments then
share one piece of code: nothing is pasted.

``readable(table)`` formats a results table for reading: whole numbers as integers, cosines
in scientific notation (a mean cosine of 0.0075 never shows as ``0.0``), other numbers with a
fixed number of decimals, ``-0.0`` as ``0.0`` and NaN as a dash.
"""

from __future__ import annotations

import inspect
import math
import numbers
import re
from typing import Any


class Source:
    """The source of one function or class; renders as a fenced Python block (``_repr_markdown_``)."""

    def __init__(self, obj: Any):
        if not (inspect.isfunction(obj) or inspect.isclass(obj) or inspect.ismethod(obj)):
            raise TypeError(f"show_source needs a function, method or class; got {type(obj).__name__}")
        self.obj = obj
        self.code = inspect.getsource(obj).rstrip() + "\n"
        self.qualname = f"{obj.__module__}.{obj.__qualname__}"

    def _repr_markdown_(self) -> str:
        longest = max((len(run) for run in re.findall(r"`+", self.code)), default=0)
        fence = "`" * max(3, longest + 1)
        return f"Source of `{self.qualname}`:\n\n{fence}python\n{self.code}{fence}\n"

    def __repr__(self) -> str:
        return f"# {self.qualname}\n{self.code}"


def show_source(obj: Any) -> Source:
    """The source of ``obj`` (a function, method or class of the package), displayed as code.

    Use it as the last line of a notebook cell: ``show_source(gradients.cosine)``.
    """
    return Source(obj)


#: How ``readable`` writes a column: a format string, or one of these kinds.
KINDS = ("int", "fixed", "sci", "general", "text")


def _kind(name: Any, values: list) -> str:
    numbers_only = [v for v in values if isinstance(v, numbers.Real) and not isinstance(v, bool)
                    and not math.isnan(v)]
    if not numbers_only or len(numbers_only) < len([v for v in values if v == v and v is not None]):
        return "text"
    if "%" in str(name):  # a percentage, "steps cos>0 (%)" included
        return "fixed"
    if "cos" in str(name).lower():
        return "sci"
    if all(float(v).is_integer() for v in numbers_only):
        return "int"
    return "fixed"


def _cell(value: Any, kind: str, digits: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if kind == "text" or not isinstance(value, numbers.Real) or isinstance(value, bool):
        return str(value)
    if kind == "int":
        return f"{int(round(value)):,}"
    if kind == "sci":
        return "0" if value == 0 else f"{value:.1e}"
    if kind == "general":
        return f"{value:g}"
    if kind == "fixed":
        return f"{round(float(value), digits) + 0.0:.{digits}f}"  # + 0.0: no "-0.0"
    return kind.format(value)  # a format string such as "{:.3g}"


def readable(table: Any, digits: int = 1, formats: dict[str, str] | None = None) -> Any:
    """A pandas ``Styler`` of ``table`` (DataFrame or Series) formatted for reading.

    Each column gets a kind, unless ``formats`` names one for it (a kind of :data:`KINDS` or a
    format string like ``"{:.3g}"``): a percentage (a "%" in the name) with ``digits`` decimals;
    another column whose name contains "cos" in scientific notation with two significant digits; a column of whole numbers as integers (``512``, not
    ``512.0000``); other numbers with ``digits`` decimals, never as ``-0.0``; NaN as a dash.
    Numeric row and column labels are written with ``{:g}`` (``0.0003``, ``512``).
    """
    import pandas as pd

    if isinstance(table, pd.Series):
        table = table.to_frame()
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"readable needs a pandas DataFrame or Series; got {type(table).__name__}")
    formats = dict(formats or {})
    unknown = [c for c in formats if c not in table.columns]
    if unknown:
        raise KeyError(f"readable: no column(s) {unknown} in the table; its columns are {list(table.columns)}")
    styler = table.style
    for column in table.columns:
        kind = formats.get(column) or _kind(column, table[column].tolist())
        if kind not in KINDS and "{" not in kind:
            raise ValueError(f"readable: format {kind!r} for {column!r} is neither one of {KINDS} "
                             "nor a format string like '{:.3g}'")
        styler = styler.format(lambda v, kind=kind: _cell(v, kind, digits), subset=[column],
                               escape="html")
    def label(v: Any) -> Any:
        return f"{v:g}" if isinstance(v, float) else v

    styler = styler.format_index(label, axis=0, escape="html")
    return styler.format_index(label, axis=1, escape="html")  # "<Δθ_T, Δθ_S>" is no tag


__all__ = ["KINDS", "Source", "readable", "show_source"]
