"""Safe on-disk memoisation: results are stored as data (``.npz`` + JSON), never as code.

``memoise(kind, key, compute)`` returns ``compute()``'s payload, reading it from
:func:`cache_dir` when an entry for exactly this ``kind`` and ``key`` (plus the
code fingerprint, added here so no caller can forget it) is stored and intact.

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
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import socket
import sys
import tempfile
import time
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


def code_fingerprint() -> str:
    """Package version + torch version + SHA-256 of every ``subliminal/*.py`` file (sorted by name).

    Part of every key, so editing any module of the package invalidates what it memoised.
    """
    from . import __version__

    try:
        torch_version = metadata.version("torch")
    except metadata.PackageNotFoundError:  # pragma: no cover - torch is a dependency
        torch_version = "none"
    digest = hashlib.sha256(f"{__version__}\0{torch_version}\0".encode())
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return f"{__version__}-torch{torch_version}-{digest.hexdigest()[:16]}"


def canonical_json(value: Any) -> str:
    """Deterministic JSON of a key (sorted keys, no spaces; tuples become lists; NaN/inf refused)."""
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"a cache key must be plain JSON data (dicts, lists, str, int, finite float, bool, None): "
                        f"{exc}") from None


def full_key(key: dict) -> dict:
    """The key an entry is stored under: ``key`` plus the code fingerprint."""
    return {**key, "code_fingerprint": code_fingerprint()}


def entry_paths(kind: str, key: dict) -> tuple[Path, Path]:
    """The ``(.npz, .json)`` paths of the entry that answers ``kind`` and ``key`` (as given to memoise)."""
    name = hashlib.sha256(canonical_json({"kind": kind, "key": full_key(key)}).encode()).hexdigest()[:40]
    folder = cache_dir() / kind
    return folder / f"{name}.npz", folder / f"{name}.json"


# --------------------------------------------------------------------------- the one entry point


def memoise(kind: str, key: dict, compute: Callable[[], Payload], enabled: bool = True) -> Payload:
    """``compute()``, memoised on disk under ``kind`` and ``key`` (see the module docstring).

    ``key`` must be JSON data (a config's ``to_dict()``, seed and condition lists, the
    device); the code fingerprint is added to it here. With ``enabled=False`` the cache
    is neither read nor written. A payload that cannot be stored (read-only folder, full
    disk) is returned all the same, with one line on stderr.
    """
    if not _KIND.match(kind or ""):
        raise ValueError(f"kind must be a short lower-case name such as 'teachers'; got {kind!r}")
    if not isinstance(key, dict):
        raise TypeError(f"key must be a dict; got {type(key).__name__}")
    if not enabled:
        return compute()
    stored_key = full_key(key)
    npz_path, manifest_path = entry_paths(kind, key)
    folder = npz_path.parent
    if folder.is_dir():
        clean_orphans(folder)
        if manifest_path.exists() or npz_path.exists():
            try:
                return load_entry(npz_path, manifest_path, stored_key)
            except StoreError as exc:
                _say(f"cache entry {manifest_path.name} ({kind}) not used: {exc}; recomputing")
    payload = compute()
    try:
        save_entry(npz_path, manifest_path, stored_key, payload)
    except OSError as exc:
        _say(f"could not store the {kind} result in {folder}: {exc.strerror or exc}; it was computed but not cached")
    return payload


def lookup(kind: str, key: dict) -> Payload | None:
    """The payload memoised under ``kind`` and ``key`` if it is on disk and intact, else None (nothing is computed)."""
    npz_path, manifest_path = entry_paths(kind, key)
    if not manifest_path.exists():
        return None
    try:
        return load_entry(npz_path, manifest_path, full_key(key))
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
    try:
        manifest = json.loads(manifest_path.read_bytes())
    except FileNotFoundError:
        raise StoreError("its manifest is missing") from None
    except (OSError, ValueError) as exc:
        raise StoreError(f"its manifest is unreadable ({type(exc).__name__})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise StoreError("its manifest is not in the store's format")
    if manifest.get("manifest_sha256") != _manifest_checksum(manifest):
        raise StoreError("its manifest fails its checksum (the file was changed)")
    if canonical_json(manifest.get("key")) != canonical_json(key):
        raise StoreError("it answers a different request (its key differs from this run's)")
    try:
        content = npz_path.read_bytes()
    except FileNotFoundError:
        raise StoreError("its .npz file is missing") from None
    except OSError as exc:
        raise StoreError(f"its .npz file is unreadable ({exc.strerror})") from None
    if len(content) != manifest.get("npz_bytes") or hashlib.sha256(content).hexdigest() != manifest.get("npz_sha256"):
        raise StoreError("its .npz file fails its SHA-256 checksum (truncated or changed)")
    try:
        with np.load(io.BytesIO(content), allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except Exception as exc:  # noqa: BLE001 - any parse failure (incl. refused pickles) means: recompute
        raise StoreError(f"its .npz file cannot be read as plain arrays ({type(exc).__name__})") from None
    try:
        payload = _unflatten(manifest.get("structure"), arrays)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        if isinstance(exc, StoreError):
            raise
        raise StoreError(f"its structure is malformed ({type(exc).__name__})") from None
    if not isinstance(payload, dict):
        raise StoreError("its payload is not a dict")
    return payload


def atomic_write(path: Path, content: bytes) -> None:
    """Write ``content`` to ``path`` via a temporary file in the same folder and ``os.replace``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{_TMP_PREFIX}{_host_tag()}-{os.getpid()}-",
                               suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _host_tag() -> str:
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def clean_orphans(folder: Path) -> list[Path]:
    """Remove temporary files of interrupted writes in ``folder``; return what was removed.

    A temp file is an orphan when its writer (same host, pid in the name) is no longer
    running, or when it is older than six hours.
    """
    removed = []
    host, now = _host_tag(), time.time()
    for path in folder.glob(f"{_TMP_PREFIX}*.part"):
        parts = path.name[len(_TMP_PREFIX):].split("-")
        try:
            same_host, pid = parts[0] == host, int(parts[1])
            age = now - path.stat().st_mtime
        except (IndexError, ValueError, OSError):
            same_host, pid, age = False, -1, math.inf
        if (same_host and not _alive(pid)) or age > _STALE_AFTER_S:
            try:
                path.unlink()
                removed.append(path)
            except OSError:
                pass
    return removed


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


__all__ = ["CACHE_ENV", "StoreError", "cache_dir", "code_fingerprint", "memoise", "canonical_json",
           "full_key", "entry_paths", "load_entry", "save_entry", "atomic_write", "clean_orphans"]
