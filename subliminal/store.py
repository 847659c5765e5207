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
declares; any failure to parse a manifest is "damaged, recompute". Reading, writing
and the clean-up of temporary files are :mod:`subliminal.files`'s.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .files import FileRefused, atomic_write, clean_orphans, read_regular_file
from .errors import reason
from .fingerprint import code_fingerprint
from .paths import user_folder

CACHE_ENV = "SUBLIMINAL_CACHE"
FORMAT = "subliminal-store-1"
_KIND = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
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
        _say(f"could not store the {kind} result in {folder}: {reason(exc)}; it was computed but not cached")
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


def _read(path: Path, limit: int, what: str) -> bytes:
    """:func:`~subliminal.files.read_regular_file`, a refused file being a damaged entry."""
    try:
        return read_regular_file(path, limit, what)
    except FileRefused as exc:
        raise StoreError(str(exc)) from None


def load_entry(npz_path: Path, manifest_path: Path, key: dict) -> Payload:
    """Read and verify one entry; :class:`StoreError` says what is wrong with it."""
    raw = _read(manifest_path, MAX_MANIFEST_BYTES, "its manifest")
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
    content = _read(npz_path, size, "its .npz file")
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


__all__ = ["CACHE_ENV", "StoreError", "cache_dir", "check_writable", "code_fingerprint",
           "memoise", "canonical_json", "full_key", "entry_paths", "load_entry",
           "save_entry", "entry_name", "lookup"]
