"""A training run's folder written as a unit (``run_folder``), and ``check_writable_dir`` before a run."""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import secrets
import shutil
from pathlib import Path

from .atomic import _fsync_dir, _pid_alive, _remove_stale_temps, _tmp_name

__all__ = ["run_folder", "check_writable_dir"]


def _renameat2_exchange():
    """``f(a, b)`` swapping two paths atomically (Linux renameat2 RENAME_EXCHANGE), or None."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int

    def exchange(a, b):
        if fn(-100, os.fsencode(a), -100, os.fsencode(b), 2) != 0:  # AT_FDCWD, RENAME_EXCHANGE
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err), str(a), None, str(b))

    return exchange


_exchange = _renameat2_exchange()
_COMPLETE = ".lstm_np_run"  # marker: a folder written by run_folder (complete once it exists)
_STAGE = re.compile(r"^\.(?P<name>.+)\.(?P<kind>stage|old)\.(?P<pid>\d+)\.[0-9a-f]{8}$")


def _siblings(out):
    try:
        entries = list(os.scandir(out.parent))
    except OSError:
        return []
    found = []
    for e in entries:
        m = _STAGE.match(e.name)
        if m and m["name"] == out.name:
            found.append((Path(e.path), m["kind"], int(m["pid"])))
    return found


def _recover_run(out):
    """Finish or undo a run-folder swap that a kill interrupted (only without renameat2), and
    remove the hidden staging folders of dead processes. Best effort; never raises."""
    out = Path(out)
    with contextlib.suppress(OSError):
        siblings = [s for s in _siblings(out) if not _pid_alive(s[2])]
        if not os.path.lexists(out):
            complete = [p for p, kind, _ in siblings if kind == "stage" and (p / _COMPLETE).exists()]
            old = [p for p, kind, _ in siblings if kind == "old"]
            for candidate in complete[:1] or old[:1]:
                os.rename(candidate, out)
                siblings = [s for s in siblings if s[0] != candidate]
        for p, _, _ in siblings:
            shutil.rmtree(p, ignore_errors=True)


def _replaceable(out, names):
    """Raise unless the existing folder ``out`` may be replaced by a run."""
    entries = [e.name for e in os.scandir(out)]
    if not entries or _COMPLETE in entries:
        return
    foreign = sorted(set(entries) - set(names or ()))
    if foreign:
        shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
        raise FileExistsError(
            f"{out} holds files that are not part of a run ({shown}); writing the run would replace the folder. "
            "Choose a new or empty folder")


def check_writable_dir(path, *, name="out", replaceable=None, check_contents=True):
    """Raise OSError unless a run can write the folder ``path`` (call before training).

    Checks that ``path`` is not a file, that no part of it is a file, that
    its parent folder can be written (a hidden file is created and removed
    there), and, when ``path`` exists, that it holds nothing but a previous
    run (``run_folder`` replaces the whole folder): files written by
    ``run_folder``, or only names in ``replaceable`` (skipped with
    ``check_contents=False``).

    Raises
    ------
    NotADirectoryError, PermissionError, FileExistsError, OSError
        With ``name`` and the path in the message.
    """
    p = Path(os.path.abspath(path))
    if not p.name:
        raise IsADirectoryError(f"{name} {p}: the root folder cannot hold a run")
    _recover_run(p)
    if p.exists() and not p.is_dir():
        raise NotADirectoryError(f"{name} {p}: is a file, not a folder")
    parent = p.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise NotADirectoryError(f"{name} {p}: {parent} is a file, so no folder can be made under it")
    _remove_stale_temps(parent, {f"{p.name}.probe"})  # a probe left by a process killed right here
    try:
        probe = _tmp_name(parent / f"{p.name}.probe")
        with open(probe, "xb"):
            pass
        probe.unlink()
    except OSError as e:
        error = type(e)(f"{name} {p}: cannot write in {parent} ({e.strerror or e})")
        error.errno = e.errno
        raise error from None
    if check_contents and p.is_dir():
        try:
            _replaceable(p, replaceable)
        except FileExistsError as e:
            raise FileExistsError(f"{name} {e}") from None


@contextlib.contextmanager
def run_folder(out_dir, *, replaceable=None):
    """Write a folder as a unit: ``with run_folder(out) as stage: ...`` writes into ``stage``.

    ``stage`` is a hidden folder beside ``out_dir`` (``.NAME.stage.PID.RANDOM``).
    When the block ends normally, it replaces ``out_dir`` in one atomic
    exchange (Linux ``renameat2``; elsewhere two renames that the next call
    finishes if a kill falls between them) and the previous contents are
    deleted. When the block raises, the stage is deleted and ``out_dir`` is
    untouched. A reader of ``out_dir`` sees the complete previous run or the
    complete new one; stages of killed processes are removed by the next call.

    ``replaceable``: names that an existing ``out_dir`` not written by
    ``run_folder`` may hold (e.g. an older run's files); any other file makes
    it refuse (``FileExistsError``) rather than delete it.
    """
    out = Path(os.path.abspath(out_dir))
    if out.is_symlink():
        out = out.resolve()
    check_writable_dir(out, replaceable=replaceable)
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = out.with_name(f".{out.name}.stage.{os.getpid()}.{secrets.token_hex(4)}")
    stage.mkdir()
    try:
        yield stage
        with open(stage / _COMPLETE, "w") as f:
            f.write("written by lstm_np.io.run_folder; this folder is replaced as a whole\n")
        for root, _, files in os.walk(stage):
            for fn in files:
                with contextlib.suppress(OSError):
                    fd = os.open(os.path.join(root, fn), os.O_RDONLY)
                    os.fsync(fd)
                    os.close(fd)
            _fsync_dir(root)
        _swap_in(stage, out, replaceable)
    finally:
        if stage.exists():
            shutil.rmtree(stage, ignore_errors=True)
    _fsync_dir(out.parent)


def _swap_in(stage, out, replaceable):
    if not out.exists():
        try:
            os.rename(stage, out)  # atomic; fails if out appeared meanwhile
            return
        except OSError:
            if not out.is_dir():
                raise
    _replaceable(out, replaceable)  # again: the folder may have changed since the check
    if _exchange is not None:
        try:
            _exchange(stage, out)  # stage now holds the previous run; the caller deletes it
            return
        except OSError as e:
            if e.errno not in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: fall back below
                raise
    old = out.with_name(f".{out.name}.old.{os.getpid()}.{secrets.token_hex(4)}")
    os.rename(out, old)
    os.rename(stage, out)  # a kill between these two renames is finished by _recover_run
    shutil.rmtree(old, ignore_errors=True)
