"""Where the package keeps its files: a folder named by an environment variable, or one under the user's cache."""

from __future__ import annotations

import os
from pathlib import Path


def user_folder(env: str, name: str, error: type[Exception], purpose: str, example: str) -> Path:
    """``$env`` if set, else ``$XDG_CACHE_HOME/subliminal/<name>`` (``~/.cache/subliminal/<name>``).

    A ``$env`` that exists but is not a folder, or that lies below a file (so that it
    can never be created), raises ``error`` saying how to fix it: point it at
    ``purpose`` (e.g. ``export <env>=<example>``) or unset it.
    """
    value = os.environ.get(env, "")
    if value.strip():
        folder = Path(value).expanduser()
        fix = f"point {env} at {purpose} (e.g. export {env}={example}) or unset it"
        if folder.exists() and not folder.is_dir():
            raise error(f"{env}={value} is not a folder; {fix}")
        blocker = _file_above(folder)
        if blocker is not None:
            raise error(f"{env}={value} cannot be created: {blocker} is a file, "
                        f"not a folder; {fix}")
        return folder
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "subliminal" / name


def _file_above(folder: Path) -> Path | None:
    """The nearest existing ancestor of a missing ``folder`` if it is not a folder, else
    None."""
    ancestor = folder
    while not os.path.lexists(ancestor):
        if ancestor == ancestor.parent:
            return None
        ancestor = ancestor.parent
    return None if ancestor == folder or ancestor.is_dir() else ancestor
