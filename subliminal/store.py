"""Safe on-disk memoisation: results are stored as data (``.npz`` + JSON), never as code.

``memoise(kind, key, compute, code=ROOT)`` returns ``compute()``'s payload, reading it
from :func:`cache_dir` when an entry for exactly this ``kind`` and ``key`` (plus the
code root and its fingerprint, added here so no caller can forget them) is stored and
intact. The fingerprint of ``code="experiments"`` covers ``experiments.py`` and every
package module it imports (:func:`code_fingerprint`), so editing ``plots.py`` keeps the
results that plots draw; ``code=None`` covers the whole package. :func:`entries` lists
what the cache holds and whether the current code can still reach it; :func:`prune`
deletes what it cannot (``python -m subliminal cache [--prune]``).

A payload is a nested ``dict`` (string keys) whose leaves are NumPy arrays
(numeric or boolean, no objects), NumPy scalars, ``None``, Python
``int``/``float``/``str``/``bool``, or lists of such leaves (a model's six
parameter arrays, say).

One entry is two files in ``cache_dir()/KIND/``, named by the SHA-256 of the
canonical JSON of the key:

* ``NAME.npz``: the arrays, read with ``numpy.load(allow_pickle=False)``;
* ``NAME.json``: the manifest: the full key, the payload's structure (dtype and
  shape of every array, the scalars themselves), the SHA-256 of the ``.npz``
  bytes and a SHA-256 of the manifest's own content.

On load every one of these is checked before an array is parsed; any mismatch
(a flipped byte, a truncated file, an entry copied under another key's name, a
structure that does not match) prints one line saying why on stderr and the
payload is recomputed and rewritten. Nothing is ever unpickled. The checksums
detect damage, not forgery: the safety against a malicious cache comes from
never executing what is read. Files are written to a temporary name and moved
into place (``os.replace``); temporary files left by an interrupted write are
removed by the next call. The two files of an entry are replaced one after the
other, so a reader racing a writer can see a new manifest beside an old ``.npz``:
the checksum then fails and the entry is recomputed, never served.

Only regular files are read (a symbolic link, a FIFO or a device in the cache is
refused without being opened for reading), a manifest at most
:data:`MAX_MANIFEST_BYTES` long, an ``.npz`` only up to the size its manifest
declares; any failure to parse a manifest is "damaged, recompute". Clean-up
removes only files whose names match the exact pattern :func:`atomic_write`
gives its temporary files. Written files get the mode a new file gets under the
umask, or keep the mode of the file they replace.
"""

from __future__ import annotations

import ast
import hashlib
import io
import json
import os
import re
import socket
import stat
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .paths import user_folder

CACHE_ENV = "SUBLIMINAL_CACHE"
FORMAT = "subliminal-store-1"
_KIND = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
_TMP_PREFIX = ".tmp-"
_STALE_AFTER_S = 6 * 3600  # a temp file this old is an orphan even if its writer's pid is reused
#: atomic_write's temporary files: ``<prefix>.tmp-<host>-<pid>-<random>.part``.
_TMP_NAME = re.compile(r"^(?P<prefix>.*)\.tmp-(?P<host>[0-9a-f]{8})"
                       r"-(?P<pid>[0-9]{1,10})-[a-z0-9_]{8}\.part$")
#: A manifest is a few kB (the payload's structure); far larger is not one of ours.
MAX_MANIFEST_BYTES = 16 * 2**20

Payload = dict


class StoreError(ValueError):
    """A cache entry is unreadable or does not answer the request (the reason is the message)."""


# --------------------------------------------------------------------------- where and for which code


def cache_dir() -> Path:
    """Where results are memoised: ``$SUBLIMINAL_CACHE`` or ``$XDG_CACHE_HOME/subliminal/results``
    (``~/.cache/subliminal/results``). A path that exists but is not a folder is an error."""
    folder = user_folder(CACHE_ENV, "results", NotADirectoryError, "a folder", "/tmp/subliminal-cache")
    if not os.environ.get(CACHE_ENV, "").strip() and folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"the result cache {folder} is not a folder; remove it or set {CACHE_ENV}")
    return folder


def check_writable(folder: Path, what: str, fix: str) -> Path:
    """``folder``, once it is certain that files can be created in it (or in the folder
    that will hold it: the nearest existing ancestor must be a writable folder); else
    :class:`OSError` naming ``what`` and ``fix``."""
    ancestor = Path(folder)
    while not os.path.lexists(ancestor) and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise NotADirectoryError(f"{what} {folder} cannot be created: "
                                 f"{ancestor} is not a folder; {fix}")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise PermissionError(f"{what} {folder} is not writable "
                              f"({ancestor}: permission denied); {fix}")
    return folder


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


def canonical_json(value: Any) -> str:
    """Deterministic JSON of a key (sorted keys, no spaces; tuples become lists; NaN/inf refused)."""
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"a cache key must be plain JSON data (dicts, lists, str, int, finite float, bool, None): "
                        f"{exc}") from None


#: ``code`` when a caller gives none: the whole package (any edit invalidates the entry).
WHOLE_PACKAGE = None


def full_key(key: dict, code: str | None = WHOLE_PACKAGE) -> dict:
    """The key an entry is stored under: ``key`` plus ``code_root`` (``code``) and
    ``code_fingerprint`` (:func:`code_fingerprint` of ``code``)."""
    return {**key, "code_root": code, "code_fingerprint": code_fingerprint(code)}


def entry_name(kind: str, stored_key: dict) -> str:
    """The file stem of the entry stored under ``kind`` and ``stored_key`` (a :func:`full_key`)."""
    return hashlib.sha256(canonical_json({"kind": kind, "key": stored_key}).encode()).hexdigest()[:40]


def entry_paths(kind: str, key: dict, code: str | None = WHOLE_PACKAGE) -> tuple[Path, Path]:
    """The ``(.npz, .json)`` paths of the entry that answers ``kind``, ``key`` and ``code`` (as given
    to memoise)."""
    name = entry_name(kind, full_key(key, code))
    folder = cache_dir() / kind
    return folder / f"{name}.npz", folder / f"{name}.json"


# --------------------------------------------------------------------------- the one entry point


def memoise(kind: str, key: dict, compute: Callable[[], Payload], enabled: bool = True,
            code: str | None = WHOLE_PACKAGE) -> Payload:
    """``compute()``, memoised on disk under ``kind`` and ``key`` (see the module docstring).

    ``key`` must be JSON data (a config's ``to_dict()``, seed and condition lists, the
    device); the code fingerprint is added to it here. ``code`` names the module whose
    code (with everything it imports from the package) computes the payload, e.g.
    ``"experiments"``: only an edit of that code invalidates the entry (see
    :func:`code_fingerprint`). The default, ``None``, is the whole package: any edit
    invalidates it. With ``enabled=False`` the cache is neither read nor written. A payload
    that cannot be stored (read-only folder, full disk) is returned all the same, with one
    line on stderr.
    """
    if not _KIND.match(kind or ""):
        raise ValueError(f"kind must be a short lower-case name such as 'teachers'; got {kind!r}")
    if not isinstance(key, dict):
        raise TypeError(f"key must be a dict; got {type(key).__name__}")
    if not enabled:
        return compute()
    stored_key = full_key(key, code)
    npz_path, manifest_path = entry_paths(kind, key, code)
    folder = npz_path.parent
    if folder.is_dir():
        clean_orphans(folder)
        if os.path.lexists(manifest_path) or os.path.lexists(npz_path):
            try:
                return load_entry(npz_path, manifest_path, stored_key)
            except StoreError as exc:
                _say(f"cache entry {manifest_path.name} ({kind}) not used: {exc}; recomputing")
    try:  # said before the work, not after it
        check_writable(folder, "the result cache folder",
                       f"point {CACHE_ENV} at a writable folder")
    except OSError as exc:
        _say(f"{exc}; the {kind} result is computed but will not be cached")
        return compute()
    payload = compute()
    try:
        save_entry(npz_path, manifest_path, stored_key, payload)
    except OSError as exc:
        _say(f"could not store the {kind} result in {folder}: {exc.strerror or exc}; it was computed but not cached")
    return payload


def lookup(kind: str, key: dict, code: str | None = WHOLE_PACKAGE) -> Payload | None:
    """The payload memoised under ``kind``, ``key`` and ``code`` (as :func:`memoise` takes them) if it
    is on disk and intact, else None (nothing is computed)."""
    npz_path, manifest_path = entry_paths(kind, key, code)
    if not os.path.lexists(manifest_path):
        return None
    try:
        return load_entry(npz_path, manifest_path, full_key(key, code))
    except StoreError:
        return None


def _say(message: str) -> None:
    print(f"subliminal: {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- payload <-> (structure, arrays)


def _flatten(value: Any, arrays: dict[str, np.ndarray], where: str) -> dict:
    """The JSON structure of ``value``; its arrays go into ``arrays`` under names a0, a1, ..."""
    if isinstance(value, dict):
        items = {}
        for name, item in value.items():
            if not isinstance(name, str):
                raise TypeError(f"payload keys must be strings; got {name!r} in {where}")
            items[name] = _flatten(item, arrays, f"{where}.{name}")
        return {"t": "dict", "items": items}
    if isinstance(value, (list, tuple)):
        return {"t": "list", "items": [_flatten(v, arrays, f"{where}[{i}]") for i, v in enumerate(value)]}
    if isinstance(value, (np.ndarray, np.generic)):
        array = np.asarray(value)
        if array.dtype.hasobject or array.dtype.kind not in "biufc":
            raise TypeError(f"{where}: only numeric and boolean arrays can be stored; got dtype {array.dtype}")
        ref = f"a{len(arrays)}"
        arrays[ref] = array
        kind = "scalar" if isinstance(value, np.generic) else "array"
        return {"t": kind, "ref": ref, "dtype": array.dtype.str, "shape": list(array.shape)}
    if value is None:
        return {"t": "none"}
    if isinstance(value, bool):
        return {"t": "bool", "v": value}
    if isinstance(value, int):
        return {"t": "int", "v": str(value)}
    if isinstance(value, float):
        return {"t": "float", "v": value.hex()}  # exact, and inf/nan survive
    if isinstance(value, str):
        return {"t": "str", "v": value}
    raise TypeError(f"{where}: cannot store a {type(value).__name__} (arrays, numbers, str, None, lists, dicts only)")


def _unflatten(node: Any, arrays: dict[str, np.ndarray]) -> Any:
    if not isinstance(node, dict) or "t" not in node:
        raise StoreError("its structure is malformed")
    kind = node["t"]
    if kind == "dict":
        return {name: _unflatten(item, arrays) for name, item in node["items"].items()}
    if kind == "list":
        return [_unflatten(item, arrays) for item in node["items"]]
    if kind in ("array", "scalar"):
        array = arrays.get(node["ref"])
        if array is None:
            raise StoreError(f"array {node['ref']!r} is missing from the .npz")
        if array.dtype.str != node["dtype"] or list(array.shape) != node["shape"]:
            raise StoreError(f"array {node['ref']!r} has dtype {array.dtype.str} and shape {list(array.shape)}, "
                             f"the manifest says {node['dtype']} and {node['shape']}")
        return array[()] if kind == "scalar" else array
    if kind == "none":
        return None
    if kind == "bool" and isinstance(node.get("v"), bool):
        return node["v"]
    if kind == "int":
        return int(node["v"])
    if kind == "float":
        return float.fromhex(node["v"])
    if kind == "str" and isinstance(node.get("v"), str):
        return node["v"]
    raise StoreError(f"its structure has an unknown node {kind!r}")


def _manifest_checksum(manifest: dict) -> str:
    body = {k: v for k, v in manifest.items() if k != "manifest_sha256"}
    return hashlib.sha256(canonical_json(body).encode()).hexdigest()


# --------------------------------------------------------------------------- reading and writing entries


def save_entry(npz_path: Path, manifest_path: Path, key: dict, payload: Payload) -> None:
    """Write one entry: the ``.npz`` first, then the manifest that vouches for it, each atomically."""
    if not isinstance(payload, dict):
        raise TypeError(f"a memoised payload must be a dict; got {type(payload).__name__}")
    arrays: dict[str, np.ndarray] = {}
    structure = _flatten(payload, arrays, "payload")
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    content = buffer.getvalue()
    manifest = {
        "format": FORMAT,
        "key": json.loads(canonical_json(key)),
        "structure": structure,
        "npz_sha256": hashlib.sha256(content).hexdigest(),
        "npz_bytes": len(content),
        "written": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    manifest["manifest_sha256"] = _manifest_checksum(manifest)
    npz_path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(npz_path, content)
    atomic_write(manifest_path, (json.dumps(manifest, indent=1, allow_nan=False) + "\n").encode())


def load_entry(npz_path: Path, manifest_path: Path, key: dict) -> Payload:
    """Read and verify one entry; :class:`StoreError` says what is wrong with it."""
    raw = read_regular_file(manifest_path, MAX_MANIFEST_BYTES, "its manifest")
    try:  # any failure to parse or check it (deep nesting included) means: damaged
        manifest = json.loads(raw)
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise StoreError("its manifest is not in the store's format")
        if manifest.get("manifest_sha256") != _manifest_checksum(manifest):
            raise StoreError("its manifest fails its checksum (the file was changed)")
        if canonical_json(manifest.get("key")) != canonical_json(key):
            raise StoreError("it answers a different request "
                             "(its key differs from this run's)")
    except StoreError:
        raise
    except Exception as exc:  # noqa: BLE001 - RecursionError, MemoryError ...
        raise StoreError(f"its manifest is unreadable ({type(exc).__name__})") from None
    size = manifest.get("npz_bytes")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise StoreError("its manifest does not give the size of the .npz file")
    content = read_regular_file(npz_path, size, "its .npz file")
    digest = hashlib.sha256(content).hexdigest()
    if len(content) != size or digest != manifest.get("npz_sha256"):
        raise StoreError("its .npz file fails its SHA-256 checksum (truncated or changed)")
    try:
        with np.load(io.BytesIO(content), allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except Exception as exc:  # noqa: BLE001 - any parse failure (incl. refused pickles) means: recompute
        raise StoreError(f"its .npz file cannot be read as plain arrays ({type(exc).__name__})") from None
    try:
        payload = _unflatten(manifest.get("structure"), arrays)
    except StoreError:
        raise
    except Exception as exc:  # noqa: BLE001 - RecursionError included: damaged
        raise StoreError(f"its structure is malformed ({type(exc).__name__})") from None
    if not isinstance(payload, dict):
        raise StoreError("its payload is not a dict")
    return payload


def read_regular_file(path: Path, limit: int, what: str) -> bytes:
    """The bytes of ``path`` if it is a regular file (not a link) of at most ``limit``
    bytes, else :class:`StoreError` naming ``what``. Never blocks on a FIFO, never
    follows a link to a device, never reads more than ``limit + 1`` bytes."""
    flags = os.O_RDONLY
    for name in ("O_NOFOLLOW", "O_NONBLOCK", "O_CLOEXEC"):
        flags |= getattr(os, name, 0)
    try:
        before = os.lstat(path)
        if not stat.S_ISREG(before.st_mode):
            kind = _file_kind(before.st_mode)
            raise StoreError(f"{what} is not a regular file ({kind})")
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise StoreError(f"{what} is missing") from None
    except OSError as exc:
        raise StoreError(f"{what} is unreadable ({_reason(exc)})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):  # swapped between the lstat and the open
            kind = _file_kind(info.st_mode)
            raise StoreError(f"{what} is not a regular file ({kind})")
        if info.st_size > limit:
            raise StoreError(f"{what} is {info.st_size} bytes, more than the {limit} "
                             "it may have")
        chunks, left = [], limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        raise StoreError(f"{what} is unreadable ({_reason(exc)})") from None
    finally:
        os.close(fd)
    content = b"".join(chunks)
    if len(content) > limit:
        raise StoreError(f"{what} is longer than the {limit} bytes it may have")
    return content


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


_KINDS = ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISFIFO, "a FIFO"),
          (stat.S_ISDIR, "a folder"), (stat.S_ISCHR, "a device"),
          (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket"))


def _file_kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a plain file")


def new_file_mode(path: Path) -> int:
    """The permission bits a file written to ``path`` gets: those of the regular file it
    replaces, else what ``open()`` gives a new file under the current umask."""
    try:
        current = os.stat(path)
        if stat.S_ISREG(current.st_mode):
            return stat.S_IMODE(current.st_mode)
    except OSError:
        pass
    return 0o666 & ~_umask()


def _umask() -> int:
    try:  # Linux: read, not set (os.umask sets it, for a moment, for every thread)
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: Path, content: bytes, prefix: str = "") -> None:
    """Write ``content`` to ``path`` via a temporary file in the same folder and
    ``os.replace``.

    The temporary file is ``<prefix>.tmp-<host>-<pid>-<random>.part`` (see
    :func:`clean_orphans`); the written file has the mode :func:`new_file_mode` gives.
    """
    mode = new_file_mode(path)
    writer = f"{prefix}{_TMP_PREFIX}{_host_tag()}-{os.getpid()}-"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=writer, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _host_tag() -> str:
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def clean_orphans(folder: Path, prefix: str = "") -> list[Path]:
    """Remove temporary files of interrupted writes in ``folder``; return what was removed.

    Only files named exactly as :func:`atomic_write` names them with this ``prefix``
    (``<prefix>.tmp-<host>-<pid>-<8 random>.part``, regular files) are considered: any
    other file is left alone. One of them is an orphan when its writer (same host, pid
    in the name) is no longer running, or when it is older than six hours.
    """
    removed = []
    for path in folder.glob(f"{glob_escape(prefix)}{_TMP_PREFIX}*.part"):
        match = _TMP_NAME.match(path.name)
        if match is None or match["prefix"] != prefix:
            continue
        try:
            info = path.lstat()
        except OSError:
            continue
        orphan = is_orphan(match["host"], int(match["pid"]), info.st_mtime)
        if stat.S_ISREG(info.st_mode) and orphan:
            try:
                path.unlink()
                removed.append(path)
            except OSError:
                pass
    return removed


def is_orphan(host: str, pid: int, mtime: float) -> bool:
    """Whether a temporary file written by ``pid`` on ``host`` (a :func:`_host_tag`) at
    ``mtime`` is left over: its writer has exited (same host), or it is 6 hours old."""
    exited = host == _host_tag() and not _alive(pid)
    return exited or time.time() - mtime > _STALE_AFTER_S


def glob_escape(text: str) -> str:
    """``text`` with the characters that ``Path.glob`` treats as patterns escaped."""
    return re.sub(r"([*?\[])", r"[\1]", text)


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


# --------------------------------------------------------------------------- what the cache holds


#: The stem of an entry's two files (:func:`entry_name`).
_ENTRY_NAME = re.compile(r"^(?P<name>[0-9a-f]{40})\.(?P<ext>npz|json)$")
#: A ``.npz`` this recent without its manifest may be a write in progress (the manifest follows it).
_WRITE_GRACE_S = 600


@dataclass
class Entry:
    """One entry of the result cache, as :func:`entries` finds it."""

    kind: str
    name: str  #: the 40-hex stem of ``NAME.npz`` and ``NAME.json``
    files: tuple[Path, ...]  #: those of the two that exist (regular files)
    size: int  #: their bytes together
    modified: float  #: the newest modification time of the two
    code_root: str | None
    reachable: bool  #: the current code would serve it (its fingerprint is this code's)
    why: str  #: in a few words: "current code", "its code has changed since", ...


def entries(folder: Path | None = None) -> list[Entry]:
    """Every entry in the result cache ``folder`` (default :func:`cache_dir`), sorted by kind and name.

    Only files the store writes are considered: ``KIND/NAME.npz`` and ``KIND/NAME.json`` with
    ``KIND`` a kind name and ``NAME`` 40 hexadecimal digits, regular files; anything else
    (``timings/``, temporary files, the user's own files) is not an entry. Manifests are read as
    :func:`load_entry` reads them (nothing is executed, the ``.npz`` is not parsed). An entry is
    reachable when its manifest is intact, names a ``code_root`` whose :func:`code_fingerprint` is
    the one it was stored with, and the entry's name is the one its key gives. ``OSError`` if the
    folder cannot be listed.
    """
    folder = cache_dir() if folder is None else Path(folder)
    fingerprints: dict[str | None, str | None] = {}
    found = []
    for kind_dir in sorted(folder.iterdir()):
        if not _KIND.match(kind_dir.name) or kind_dir.is_symlink() or not kind_dir.is_dir():
            continue
        stems: dict[str, list[Path]] = {}
        for path in sorted(kind_dir.iterdir()):
            match = _ENTRY_NAME.match(path.name)
            if match is None:
                continue
            try:
                info = path.lstat()
            except FileNotFoundError:  # removed meanwhile
                continue
            if stat.S_ISREG(info.st_mode):
                stems.setdefault(match["name"], []).append(path)
        for name, files in stems.items():
            infos = [path.lstat() for path in files]
            manifest = kind_dir / f"{name}.json"
            code_root, reachable, why = _reachability(kind_dir.name, name, manifest, fingerprints)
            if manifest not in files:
                newest = max(info.st_mtime for info in infos)
                why = ("no manifest (a write in progress?)" if time.time() - newest < _WRITE_GRACE_S
                       else "no manifest (an interrupted write)")
            found.append(Entry(kind=kind_dir.name, name=name, files=tuple(files),
                               size=sum(info.st_size for info in infos),
                               modified=max(info.st_mtime for info in infos),
                               code_root=code_root, reachable=reachable, why=why))
    return found


def _reachability(kind: str, name: str, manifest_path: Path,
                  fingerprints: dict) -> tuple[str | None, bool, str]:
    """``(code_root, reachable, why)`` of the entry ``kind/name`` from its manifest."""
    try:
        manifest = json.loads(read_regular_file(manifest_path, MAX_MANIFEST_BYTES, "its manifest"))
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            return None, False, "damaged (not in the store's format)"
        if manifest.get("manifest_sha256") != _manifest_checksum(manifest):
            return None, False, "damaged (its manifest fails its checksum)"
        key = manifest.get("key")
        if not isinstance(key, dict):
            return None, False, "damaged (no key)"
    except StoreError as exc:
        return None, False, f"unreadable ({exc})"
    except Exception as exc:  # noqa: BLE001 - any failure to parse it: damaged
        return None, False, f"damaged ({type(exc).__name__})"
    if "code_root" not in key:
        return None, False, "no code root (stored by an older version)"
    root = key["code_root"]
    if root is not None and not isinstance(root, str):
        return None, False, "damaged (its code root is not a module name)"
    if root not in fingerprints:
        try:
            fingerprints[root] = code_fingerprint(root)
        except (ValueError, OSError):
            fingerprints[root] = None
    if fingerprints[root] is None:
        return root, False, f"its code root {root!r} is no longer a module of the package"
    if key.get("code_fingerprint") != fingerprints[root]:
        return root, False, "its code has changed since"
    if entry_name(kind, key) != name:
        return root, False, "stored under another entry's name"
    size = manifest.get("npz_bytes")
    npz = manifest_path.with_suffix(".npz")
    try:
        info = npz.lstat()
    except OSError:
        return root, False, "its .npz file is missing"
    if not stat.S_ISREG(info.st_mode) or info.st_size != size:
        return root, False, "its .npz file is not the one its manifest describes"
    return root, True, "current code"


def prune(found: list[Entry] | None = None) -> list[Entry]:
    """Delete the files of every unreachable entry of ``found`` (default: :func:`entries`) and return
    those entries. A ``.npz`` without a manifest written in the last ten minutes is kept (its manifest
    may be on its way). Only regular files named as the store names them are removed; run it while
    nothing computes into the cache (an entry rewritten meanwhile is at worst recomputed, never served
    wrong). ``OSError`` from the first file that cannot be removed (what was removed before it stays
    removed)."""
    found = entries() if found is None else found
    pruned = []
    for entry in found:
        if entry.reachable or entry.why == "no manifest (a write in progress?)":
            continue
        for path in entry.files:
            try:
                if _ENTRY_NAME.match(path.name) and stat.S_ISREG(path.lstat().st_mode):
                    path.unlink()
            except FileNotFoundError:  # removed meanwhile
                pass
        pruned.append(entry)
    return pruned


__all__ = ["CACHE_ENV", "StoreError", "cache_dir", "check_writable", "code_fingerprint",
           "memoise", "canonical_json", "full_key", "entry_paths", "load_entry",
           "save_entry", "read_regular_file", "new_file_mode", "atomic_write",
           "clean_orphans", "is_orphan", "entry_name", "Entry", "entries", "prune", "lookup"]
