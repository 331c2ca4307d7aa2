"""One test per guarantee of the README's "Model files" paragraph, each failing when its guarantee is removed.

* a save killed at any moment leaves the previous model or the new one, both loadable (a kill at every point
  of ``io.save``, in a forked child that dies with ``os._exit``: no ``finally`` runs, as with SIGKILL);
* the next save or load removes the temporary files of a killed save, and only those: a save still running in
  another process keeps its own;
* ``io.load`` never unpickles: an array of Python objects is refused from its header, whatever the description
  says;
* each array's header is checked against the description (dtype, shape) and against its size before any array
  data is read, so a header claiming 10**12 entries is an error and never an allocation.

Files are crafted as a careful forger would (the ``.json``, the description the ``.npz`` carries and the
checksum all consistent), so that each check is reached on its own.
"""

from __future__ import annotations

import hashlib
import io as _io
import json
import os
import secrets
import time
import zipfile

import numpy as np
import pytest

from lstm_np import io
from lstm_np.io import atomic, model_file

needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="kills a forked child (POSIX only)")

OLD = {"W": np.full((3, 4), 1.0), "b": np.full(5, 1.0), "ids": np.arange(3)}
NEW = {"W": np.full((3, 4), 2.0), "b": np.full(5, 2.0), "ids": np.arange(3) + 10}


def _version(stem):
    """Load, and require one save throughout: every float array and the meta agree (1 = OLD, 2 = NEW)."""
    arrays, meta = io.load(stem)
    v = meta["v"]
    assert v in (1, 2)
    want = OLD if v == 1 else NEW
    assert set(arrays) == set(want)
    for k in want:
        np.testing.assert_array_equal(arrays[k], want[k], err_msg=f"array {k}: a mix of two saves")
    return v


def _temporaries(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def _in_child(body):
    """Run ``body()`` in a forked child that ends with os._exit (status 0, or 1 on an exception); return it."""
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        status = 1
        try:
            body()
            status = 0
        except BaseException:
            pass
        finally:
            os._exit(status)
    return pid


# --------------------------------------------------------------------------- a kill at every point of a save

# The steps of a save, in order: each temporary file written (the second argument: half of it, then killed
# mid-write), then the two renames. A kill before step k leaves steps 0 .. k-1 done.
STEPS = ["write npz tmp", "write json tmp", "rename 1", "rename 2"]


KILLS = [(k, False) for k in range(len(STEPS) + 1)] + [(0, True), (1, True)]


@needs_fork
@pytest.mark.parametrize("kill_before, mid_write", KILLS,
                         ids=[f"in {STEPS[k]}" if mid else f"before {STEPS[k]}" if k < len(STEPS) else "after rename 2"
                              for k, mid in KILLS])
def test_a_save_killed_at_any_point_leaves_the_old_or_the_new_model(tmp_path, kill_before, mid_write):
    stem = tmp_path / "model"
    io.save(stem, OLD, {"v": 1})
    steps = []

    def step(name):
        if len(steps) == kill_before:
            os._exit(0)  # killed: no cleanup of any kind
        steps.append(name)

    real_write, real_replace = model_file._write_tmp, model_file.os.replace

    def write_tmp(path, data):
        if mid_write and len(steps) == kill_before:
            tmp = atomic._tmp_name(path)
            tmp.write_bytes(data[: len(data) // 2])
            os._exit(0)
        step("write")
        return real_write(path, data)

    def replace(src, dst):
        step("rename")
        real_replace(src, dst)
        if len(steps) == len(STEPS):
            step("done")

    def save():
        model_file._write_tmp = write_tmp
        model_file.os.replace = replace  # model_file's os is the os module: only this child is affected
        io.save(stem, NEW, {"v": 2})

    pid = _in_child(save)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert bool(_temporaries(tmp_path)) == (mid_write or 0 < kill_before < len(STEPS))  # what the kill left
    expected = 2 if kill_before >= 3 else 1  # the new .npz (it describes itself) in place: the new model
    assert _version(stem) == expected
    assert _version(stem) == expected  # loading again gives the same: load guesses nothing
    assert _temporaries(tmp_path) == []  # the load removed the dead save's temporary files
    io.save(stem, OLD, {"v": 1})  # and the next save is a normal one
    assert _version(stem) == 1 and sorted(p.name for p in tmp_path.iterdir()) == ["model.json", "model.npz"]


@needs_fork
def test_a_load_cleans_up_a_dead_saves_temporaries_but_not_a_running_saves(tmp_path):
    """A child's save is held between writing its temporary files and renaming them; a load in this process
    meanwhile must keep them (their writer is alive) and still load the old model; released, the save completes."""
    stem = tmp_path / "model"
    io.save(stem, OLD, {"v": 1})
    dead = tmp_path / f".model.npz.{_dead_pid()}.{secrets.token_hex(4)}.tmp"
    dead.write_bytes(b"left by a killed save")
    go_read, go_write = os.pipe()

    def save_held_before_renaming():
        os.close(go_write)
        real_replace = model_file.os.replace

        def held(src, dst):
            os.read(go_read, 1)  # wait for the parent's load
            real_replace(src, dst)

        model_file.os.replace = held
        io.save(stem, NEW, {"v": 2})

    pid = _in_child(save_held_before_renaming)
    os.close(go_read)
    try:
        deadline = time.monotonic() + 30
        while len([n for n in _temporaries(tmp_path) if f".{pid}." in n]) < 2:  # both temporaries written
            assert time.monotonic() < deadline, "the child's save did not start"
            time.sleep(0.005)
        running = [n for n in _temporaries(tmp_path) if f".{pid}." in n]
        assert _version(stem) == 1  # the load runs while the save is in progress
        assert _temporaries(tmp_path) == running  # the dead save's file is gone, the running save's are not
    finally:
        os.write(go_write, b"xx")
        os.close(go_write)
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "the running save failed: its temporary files were removed"
    assert _version(stem) == 2 and _temporaries(tmp_path) == []


@needs_fork
@pytest.mark.parametrize("then", ["save", "load"])
def test_the_next_save_or_load_removes_a_dead_saves_temporaries_of_that_name_only(tmp_path, then):
    stem = tmp_path / "model"
    io.save(stem, OLD, {"v": 1})
    pid = _dead_pid()
    left = [f".model.npz.{pid}.{secrets.token_hex(4)}.tmp", f".model.json.{pid}.{secrets.token_hex(4)}.tmp"]
    other = f".other.npz.{pid}.{secrets.token_hex(4)}.tmp"  # another model's: not this save's business
    for name in left + [other]:
        (tmp_path / name).write_bytes(b"half a save")
    if then == "save":
        io.save(stem, NEW, {"v": 2})
        assert _temporaries(tmp_path) == [other]  # before any load
    assert _version(stem) == (2 if then == "save" else 1)
    assert _temporaries(tmp_path) == [other]


def _dead_pid():
    pid = _in_child(lambda: None)
    os.waitpid(pid, 0)
    return pid


# --------------------------------------------------------------------------- crafted files


def _npy(a, *, allow_pickle=False):
    buf = _io.BytesIO()
    np.lib.format.write_array(buf, a, allow_pickle=allow_pickle)
    return buf.getvalue()


def _forge(stem, members, described, *, embed=True):
    """Write ``stem``.npz holding ``members`` (name -> .npy bytes) and a consistent ``stem``.json whose
    description says ``described`` (name -> (shape, dtype str)); ``embed``: the .npz carries its description
    (format 3), else a format-1 file (no embedded description)."""
    core = {"format": model_file.FORMAT, "version": 3 if embed else 1,
            "arrays": {k: {"shape": list(s), "dtype": d} for k, (s, d) in described.items()}, "meta": {"v": 9}}
    if embed:
        core.update(save_id=secrets.token_hex(16), previous_save_id=None)
        members = {**members, model_file.DESCRIPTION_MEMBER: _npy(
            np.frombuffer(json.dumps(core, sort_keys=True).encode(), dtype=np.uint8))}
    buf = _io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for name, data in members.items():
            z.writestr(name + ".npy", data)
    data = buf.getvalue()
    stem.with_suffix(".npz").write_bytes(data)
    stem.with_suffix(".json").write_text(json.dumps({**core, "npz_sha256": hashlib.sha256(data).hexdigest()}))


class _Detonator:
    """Unpickling this calls os.mkdir(marker): if the marker exists, a pickle ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


@pytest.mark.parametrize("embed", [True, False], ids=["format 3", "format 1"])
def test_an_array_of_python_objects_is_refused_and_never_unpickled(tmp_path, embed):
    marker = tmp_path / "unpickled"
    payload = np.array([_Detonator(marker), 1], dtype=object)
    stem = tmp_path / "model"
    # The one pickle in the repository, on purpose: a hostile file, written here so that the test can prove
    # io.inspect and io.load refuse it from its header and never unpickle it (the package never pickles).
    _forge(stem, {"W": _npy(payload, allow_pickle=True), "b": _npy(np.ones(2))},
           {"W": ((2,), payload.dtype.str), "b": ((2,), "<f8")}, embed=embed)
    for reader in (io.inspect, io.load):
        with pytest.raises(io.ModelFileError, match=r"member 'W.npy' holds Python objects"):
            reader(stem)
    assert not marker.exists(), "io.load unpickled an object"


def test_the_forged_files_load_when_nothing_is_wrong(tmp_path):
    """Control: the forger's files are accepted when they hold what they say, so that the refusals below are the
    checks' doing."""
    stem = tmp_path / "model"
    _forge(stem, {"W": _npy(np.ones((2, 3))), "n": _npy(np.arange(4, dtype=np.int32))},
           {"W": ((2, 3), "<f8"), "n": ((4,), "<i4")})
    arrays, meta = io.load(stem)
    assert meta == {"v": 9} and arrays["W"].shape == (2, 3) and arrays["n"].dtype == np.int32


@pytest.mark.parametrize("embed", [True, False], ids=["format 3", "format 1"])
@pytest.mark.parametrize("array, described, culprit", [
    (np.ones((2, 3), np.float32), ((2, 3), "<f8"), r"array 'W' is <f4\[2, 3\]; the description says"),
    (np.ones((2, 3), np.int64), ((2, 3), "<f8"), r"array 'W' is <i8\[2, 3\]"),
    (np.ones((2, 3), ">f8"), ((2, 3), "<f8"), r"array 'W' is >f8\[2, 3\]"),
    (np.ones((3, 2)), ((2, 3), "<f8"), r"array 'W' is <f8\[3, 2\]"),
], ids=["float32", "int64", "big-endian", "transposed"])
def test_an_array_unlike_its_description_is_refused(tmp_path, embed, array, described, culprit):
    stem = tmp_path / "model"
    _forge(stem, {"W": _npy(array)}, {"W": described}, embed=embed)
    with pytest.raises(io.ModelFileError, match=culprit):
        io.load(stem)


def _npy_claiming(shape, data):
    """A .npy member whose header says float64 of ``shape`` but which holds only ``data`` (bytes) after it."""
    buf = _io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": shape})
    return buf.getvalue() + data


@pytest.mark.parametrize("n", [10**12, 9, 1])
def test_a_header_claiming_another_size_than_the_member_holds_is_refused_before_reading(tmp_path, n):
    """A header saying n float64 entries over 2 entries' bytes, with a description that agrees: refused from the
    member's size. For 10**12 (8 TB) that means never an allocation (a MemoryError would fail this test)."""
    stem = tmp_path / "model"
    _forge(stem, {"W": _npy_claiming((n,), np.ones(2).tobytes())}, {"W": ((n,), "<f8")})
    with pytest.raises(io.ModelFileError, match=r"member 'W.npy' says <f8\[%d\] \(%d bytes of data\) but holds 16"
                       % (n, 8 * n)):
        io.load(stem)


# --------------------------------------------------------------------------- found by the mutation run


def test_a_save_in_progress_in_this_process_keeps_its_temporaries_when_this_process_loads(tmp_path, monkeypatch):
    """The writer's pid is this process's own (another thread saving): its temporaries are not stale."""
    import threading

    stem = tmp_path / "model"
    io.save(stem, OLD, {"v": 1})
    held, release, real_replace = threading.Event(), threading.Event(), os.replace

    def replace(src, dst):
        held.set()
        release.wait(30)
        real_replace(src, dst)

    monkeypatch.setattr(model_file.os, "replace", replace)
    saver = threading.Thread(target=io.save, args=(stem, NEW, {"v": 2}))
    saver.start()
    try:
        assert held.wait(30)
        running = _temporaries(tmp_path)
        assert len(running) == 2
        arrays, meta = io.load(stem)  # no rename happens in a load of an intact pair
        assert meta["v"] == 1 and _temporaries(tmp_path) == running
    finally:
        release.set()
        saver.join(30)
    monkeypatch.undo()
    assert _version(stem) == 2 and _temporaries(tmp_path) == []


def test_a_save_that_fails_while_writing_leaves_no_temporary_and_the_old_model(tmp_path, monkeypatch):
    stem = tmp_path / "model"
    io.save(stem, OLD, {"v": 1})

    def full_disk(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space left"):
        io.save(stem, NEW, {"v": 2})
    monkeypatch.undo()
    assert _temporaries(tmp_path) == [] and _version(stem) == 1


def test_saved_files_have_the_usual_permissions_and_the_umask_is_left_alone(tmp_path):
    umask = os.umask(0o022)
    try:
        io.save(tmp_path / "model", OLD, {"v": 1})
        assert os.umask(0o022) == 0o022  # save restored it
        for name in ("model.npz", "model.json"):
            assert (tmp_path / name).stat().st_mode & 0o777 == 0o644, name  # not mkstemp's 0600
    finally:
        os.umask(umask)


def test_a_save_creates_missing_folders_and_keeps_empty_arrays(tmp_path):
    stem = tmp_path / "a" / "b" / "model"
    arrays = {"empty": np.zeros((0, 3)), "none": np.zeros(0, np.int64), "W": np.ones((2, 0, 4))}
    io.save(stem, arrays, {"v": 0})
    loaded, meta = io.load(stem)
    assert meta == {"v": 0}
    for k, v in arrays.items():
        assert loaded[k].shape == v.shape and loaded[k].dtype == v.dtype, k


def test_a_member_with_a_version_2_header_loads(tmp_path):
    """numpy writes .npy format 2.0 when a header does not fit 1.0's 64 KiB; load reads both."""
    buf = _io.BytesIO()
    np.lib.format.write_array(buf, np.arange(6.0).reshape(2, 3), version=(2, 0))
    stem = tmp_path / "model"
    _forge(stem, {"W": buf.getvalue()}, {"W": ((2, 3), "<f8")})
    np.testing.assert_array_equal(io.load(stem)[0]["W"], np.arange(6.0).reshape(2, 3))
