"""Files written whole and read with care: the one home of the package's file safety.

:func:`atomic_write` writes to a temporary name in the same folder and moves it into place
(``os.replace``), so a reader never sees half a file; :func:`clean_orphans` removes the temporary
files of interrupted writes, and only those (files named exactly as :func:`atomic_write` names
them, whose writer has exited or which are six hours old). :func:`read_regular_file` reads a
regular file only (never a link, a FIFO or a device) and never more than a given length. Written
files get the mode a new file gets under the umask, or keep the mode of the file they replace.
The result cache (:mod:`subliminal.store`), MNIST (:mod:`subliminal.data`) and the command line
write through here.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import stat
import tempfile
import time
from pathlib import Path

from .errors import reason

_TMP_PREFIX = ".tmp-"
_STALE_AFTER_S = 6 * 3600  # a temp file this old is an orphan even if its writer's pid is reused
#: atomic_write's temporary files: ``<prefix>.tmp-<host>-<pid>-<random>.part``.
_TMP_NAME = re.compile(r"^(?P<prefix>.*)\.tmp-(?P<host>[0-9a-f]{8})"
                       r"-(?P<pid>[0-9]{1,10})-[a-z0-9_]{8}\.part$")


class FileRefused(ValueError):
    """A file is missing, unreadable, not a regular file, or longer than it may be (the message says which)."""


def read_regular_file(path: Path, limit: int, what: str) -> bytes:
    """The bytes of ``path`` if it is a regular file (not a link) of at most ``limit``
    bytes, else :class:`FileRefused` naming ``what``. Never blocks on a FIFO, never
    follows a link to a device, never reads more than ``limit + 1`` bytes."""
    flags = os.O_RDONLY
    for name in ("O_NOFOLLOW", "O_NONBLOCK", "O_CLOEXEC"):
        flags |= getattr(os, name, 0)
    try:
        before = os.lstat(path)
        if not stat.S_ISREG(before.st_mode):
            kind = _file_kind(before.st_mode)
            raise FileRefused(f"{what} is not a regular file ({kind})")
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise FileRefused(f"{what} is missing") from None
    except OSError as exc:
        raise FileRefused(f"{what} is unreadable ({reason(exc)})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):  # swapped between the lstat and the open
            kind = _file_kind(info.st_mode)
            raise FileRefused(f"{what} is not a regular file ({kind})")
        if info.st_size > limit:
            raise FileRefused(f"{what} is {info.st_size} bytes, more than the {limit} "
                             "it may have")
        chunks, left = [], limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        raise FileRefused(f"{what} is unreadable ({reason(exc)})") from None
    finally:
        os.close(fd)
    content = b"".join(chunks)
    if len(content) > limit:
        raise FileRefused(f"{what} is longer than the {limit} bytes it may have")
    return content


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
    writer = f"{prefix}{_TMP_PREFIX}{host_tag()}-{os.getpid()}-"
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


def replace_folder(new: Path, target: Path) -> None:
    """Put the finished folder ``new`` (a sibling of ``target``) at ``target``, replacing what is there.

    The previous folder is moved aside, put back if moving ``new`` in fails or is interrupted, and
    deleted once ``new`` is in place: ``target`` is the old folder or the new one, never half of
    either. A folder left aside by a process killed in between is put back (if ``target`` is missing)
    or deleted, the next time."""
    aside = sorted(target.parent.glob(f".{glob_escape(target.name)}.old-*"))
    if aside and not target.exists():
        aside.pop().rename(target)
    for leftover in aside:
        shutil.rmtree(leftover, ignore_errors=True)
    old = target.with_name(f".{target.name}.old-{host_tag()}-{os.getpid()}") if target.exists() else None
    if old is not None:
        target.rename(old)
    try:
        new.rename(target)
    except BaseException:
        if old is not None:
            old.rename(target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def host_tag() -> str:
    """The first 8 hex digits of the SHA-256 of this machine's host name (in temporary file names)."""
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
    """Whether a temporary file written by ``pid`` on ``host`` (a :func:`host_tag`) at
    ``mtime`` is left over: its writer has exited (same host), or it is 6 hours old."""
    exited = host == host_tag() and not _alive(pid)
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


__all__ = ["FileRefused", "read_regular_file", "new_file_mode", "atomic_write", "replace_folder", "clean_orphans", "is_orphan",
           "glob_escape", "host_tag"]
