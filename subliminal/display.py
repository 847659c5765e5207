"""Show the package's own code on a page: the reader reads what runs.

``show_source(cosine)`` renders the source of a package function, as it is
installed, as a highlighted code block (Markdown, so the book build, Jupyter and
Colab all highlight it). The text, the exercise checks and the experiments then
share one piece of code: nothing is pasted.
"""

from __future__ import annotations

import inspect
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


__all__ = ["Source", "show_source"]
