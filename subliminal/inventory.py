"""What the result cache holds: every entry of the store (:func:`entries`), whether the current code can
still reach it, and :func:`prune`, which deletes the ones it cannot (``python -m subliminal cache``)."""

from __future__ import annotations

import json
import re
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from .fingerprint import code_fingerprint
from .files import FileRefused, read_regular_file
from .store import _KIND, FORMAT, MAX_MANIFEST_BYTES, _manifest_checksum, cache_dir, entry_name

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
    except FileRefused as exc:
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


__all__ = ["Entry", "entries", "prune"]
