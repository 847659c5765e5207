"""Subliminal learning in MNIST: a small library behind the book.

Data flows one way: ``data`` -> ``models`` -> ``training`` -> ``gradients`` /
``mitigations`` -> ``experiments`` -> ``plots`` / ``widgets`` -> chapters.
"""

__version__ = "0.1.0"

from .config import Config, ConfigError

__all__ = ["Config", "ConfigError", "__version__"]
