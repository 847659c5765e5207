"""Which code a stored result depends on: :func:`code_fingerprint` hashes the package version, the
torch version and the sources of a module and of every package module it imports (read with
:mod:`ast`, never executed), or of the whole package. The store keys every entry with it; the
book's execution guard (``scripts/exec_cache_guard.py``) uses the whole-package fingerprint.
"""

from __future__ import annotations

import ast
import hashlib
from importlib import metadata
from pathlib import Path

#: Parsed imports per source text (its SHA-256): a module is parsed once per process, and
#: an edited file (another text) is parsed again.
_IMPORTS: dict[bytes, tuple[tuple[int, str | None, tuple[str, ...]], ...]] = {}
_TORCH_VERSION: list[str] = []


def _torch_version() -> str:
    if not _TORCH_VERSION:
        try:
            _TORCH_VERSION.append(metadata.version("torch"))
        except metadata.PackageNotFoundError:  # pragma: no cover - torch is a dependency
            _TORCH_VERSION.append("none")
    return _TORCH_VERSION[0]


def _module_file(package_dir: Path, parts: tuple[str, ...]) -> Path | None:
    """The source of the package's module ``parts`` (``("exercises", "alignment")``), or None."""
    if not all(part.isidentifier() for part in parts):
        return None
    base = package_dir.joinpath(*parts)
    for path in (base.with_name(base.name + ".py") if parts else None, base / "__init__.py"):
        if path is not None and path.is_file():
            return path
    return None


def _imports_of(source: bytes, digest: bytes) -> tuple:
    """``(level, module, names)`` of every ``import``/``from ... import`` in ``source``,
    function bodies included (an import inside a function runs when the function does)."""
    found = _IMPORTS.get(digest)
    if found is None:
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError):  # a broken module imports nothing we can name
            tree = ast.Module(body=[], type_ignores=[])
        found = []
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                found.append((node.level, node.module, tuple(alias.name for alias in node.names)))
            elif isinstance(node, ast.Import):
                found.extend((0, alias.name, ()) for alias in node.names)
        found = _IMPORTS.setdefault(digest, tuple(found))
    return found


def _package_imports(package: str, parts: tuple[str, ...], is_package: bool, imports: tuple) -> set:
    """The package modules (as ``parts`` tuples) that ``imports`` of the module ``parts`` may load."""
    here = parts if is_package else parts[:-1]  # the package a relative import starts from
    targets: set[tuple[str, ...]] = set()
    for level, module, names in imports:
        if level == 0:  # absolute: only ``subliminal`` and its modules are followed
            dotted = (module or "").split(".")
            if dotted[0] != package:
                continue
            base = tuple(dotted[1:])
        else:
            if level - 1 > len(here):
                continue  # above the package: not ours
            base = here[:len(here) - (level - 1)] + (tuple(module.split(".")) if module else ())
        targets.add(base)
        targets.update(base + (name,) for name in names if name != "*")  # ``from . import plots``
    return targets


def _sources(package_dir: Path, root: str | None) -> list[Path]:
    """The files the fingerprint of ``root`` covers: every ``.py`` of the package (``root=None``),
    else ``root``'s own source, the sources of the package modules it imports (transitively),
    and the ``__init__.py`` of every package they are in (Python runs those first)."""
    if root is None:
        return sorted(path for path in package_dir.rglob("*.py")  # not .ipynb_checkpoints and the like
                      if not any(part.startswith(".") for part in path.relative_to(package_dir).parts))
    parts = tuple(root.split("."))
    start = _module_file(package_dir, parts)
    if start is None:
        raise ValueError(f"code root {root!r} is not a module of the package in {package_dir} "
                         "(e.g. 'experiments', 'theory', or None for the whole package)")
    seen: dict[Path, None] = {}
    todo = [parts]
    while todo:
        parts = todo.pop()
        for depth in range(len(parts) + 1):  # the parent packages' __init__.py, then the module
            path = _module_file(package_dir, parts[:depth])
            if path is None or path in seen:
                continue
            seen[path] = None
            source = path.read_bytes()
            imports = _imports_of(source, hashlib.sha256(source).digest())
            relative = path.relative_to(package_dir).with_suffix("").parts
            is_package = relative[-1] == "__init__"
            module = relative[:-1] if is_package else relative
            todo.extend(_package_imports(package_dir.name, module, is_package, imports))
    return sorted(seen)


def code_fingerprint(root: str | None = None, package_dir: Path | None = None) -> str:
    """Package version + torch version + SHA-256 of the package sources that ``root`` depends on.

    ``root`` (a module of the package, ``"experiments"`` or ``"exercises.alignment"``): its source
    and those of every package module it imports, transitively: relative imports (``from . import
    x``, ``from .x import y``, ``from .. import z``) and absolute ones of the package, at module level
    or inside functions (read with :mod:`ast`, never executed; parsed once per process), plus the
    ``__init__.py`` of each package on the way. Editing a module ``root`` never imports (``plots.py``
    for ``"experiments"``) leaves the fingerprint as it was. ``root=None``: every ``.py`` under the
    package, subpackages included. ``package_dir``: the package folder to read (default: this
    package's own), e.g. a scratch copy in a test.

    Part of every memoised key (with ``root`` beside it, as ``code_root``), so editing code a
    result depends on invalidates it.
    """
    from . import __version__

    package_dir = Path(package_dir) if package_dir is not None else Path(__file__).parent
    if root is not None and (not isinstance(root, str) or not root):
        raise ValueError(f"code root must be a module name such as 'experiments', or None; got {root!r}")
    digest = hashlib.sha256(f"{__version__}\0{_torch_version()}\0".encode())
    for path in _sources(package_dir, root):
        digest.update(path.relative_to(package_dir).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return f"{__version__}-torch{_torch_version()}-{digest.hexdigest()[:16]}"


__all__ = ["code_fingerprint"]
