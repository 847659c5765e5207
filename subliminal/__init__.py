"""Subliminal learning in MNIST: a small library behind the book.

Data flows one way: ``data`` -> ``models`` -> ``training`` -> ``gradients`` /
``mitigations`` -> ``experiments`` -> ``plots`` / ``widgets`` -> chapters.

``import subliminal`` needs only NumPy: the modules that need PyTorch (or SciPy)
are imported when they are first used (``subliminal.experiments`` or
``from subliminal import experiments``), and a missing one is then named in one line.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

from .config import Config, ConfigError  # noqa: E402

__all__ = ["Config", "ConfigError", "__version__"]

_MODULES = ("analysis", "book", "budget", "conditions", "config", "data", "display", "exercises",
            "experiments", "gradients", "losses", "mitigations", "models", "paths",
            "plots", "results", "rng", "speed", "store", "sweeps", "theory", "training",
            "widgets")


def __getattr__(name: str):
    """``subliminal.<module>``, imported on first use; a missing dependency is named."""
    if name not in _MODULES:
        raise AttributeError(f"module 'subliminal' has no attribute {name!r}")
    try:
        return importlib.import_module(f".{name}", __name__)
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name.split(".")[0] == __name__:
            raise
        import sys

        raise ModuleNotFoundError(
            f"subliminal.{name} needs {exc.name}, which cannot be imported in this "
            f"Python ({sys.executable}); install the requirements: "
            "pip install -r requirements.txt",
            name=exc.name) from None
