"""Where the package keeps its files: a folder named by an environment variable, or one under the user's cache."""

from __future__ import annotations

import os
from pathlib import Path


def user_folder(env: str, name: str, error: type[Exception], purpose: str, example: str) -> Path:
    """``$env`` if set, else ``$XDG_CACHE_HOME/subliminal/<name>`` (``~/.cache/subliminal/<name>``).

    A ``$env`` that exists but is not a folder raises ``error`` saying how to fix it: point it at
    ``purpose`` (e.g. ``export <env>=<example>``) or unset it.
    """
    value = os.environ.get(env, "")
    if value.strip():
        folder = Path(value).expanduser()
        if folder.exists() and not folder.is_dir():
            raise error(f"{env}={value} is not a folder; point {env} at {purpose} "
                        f"(e.g. export {env}={example}) or unset it")
        return folder
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "subliminal" / name
