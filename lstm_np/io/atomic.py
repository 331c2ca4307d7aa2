"""Files that appear whole or not at all: temporary names that record their writer, stale-temporary cleanup,
fsync, ``atomic_write_bytes``."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from pathlib import Path

__all__ = ["atomic_write_bytes"]


def _tmp_name(path):
    """A temporary name beside ``path`` that records the writing process: ``.NAME.PID.RANDOM.tmp``."""
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def _pid_alive(pid):
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists, owned by someone else
    return True


_TMP = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[0-9a-f]{8}\.tmp$")
_OLD_TMP = re.compile(r"^\.(?P<name>.+)\.[A-Za-z0-9_]{8}\.tmp$")  # mkstemp names of lstm_np <= 0.1


def _remove_stale_temps(folder, names):
    """Remove temporary files for ``names`` in ``folder`` left by processes that no longer run.

    Best effort: a folder that cannot be listed or written is left alone.
    """
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for e in entries:
        m = _TMP.match(e.name)
        if m and m["name"] in names:
            stale = not _pid_alive(int(m["pid"]))
        else:
            m = _OLD_TMP.match(e.name)
            stale = bool(m and m["name"] in names)
        if stale:
            with contextlib.suppress(OSError):
                os.unlink(e.path)


def _fsync_dir(folder):
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_tmp(path, data: bytes):
    """Write ``data`` to a new temporary file beside ``path``; return its name (the caller renames it)."""
    tmp = _tmp_name(path)
    try:
        with open(tmp, "xb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def atomic_write_bytes(path, data: bytes):
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename.

    A reader sees the old or the new contents; a temporary file left by a
    killed writer is removed by the next write of the same name.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes; got {type(data).__name__}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(path.parent, {path.name})
    tmp = _write_tmp(path, data)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
