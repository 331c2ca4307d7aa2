"""Saving and loading named arrays as ``.npz`` plus a JSON description, without pickle.

A saved model is two files, ``path.npz`` (the arrays) and ``path.json``
(``meta`` plus, for every array, its shape and dtype, a random ``save_id``
and the SHA-256 of the ``.npz``), and they are one unit:

* ``save`` writes both to temporary files (``.NAME.npz.PID.RANDOM.tmp``)
  first, then renames the ``.npz`` and then the ``.json`` into place. The
  ``.npz`` also carries a copy of its own description (member
  ``__description__``), so a save killed between the two renames leaves a
  complete new ``.npz`` beside the previous save's ``.json``; ``load``
  recognises that pair (the ``save_id`` differs and the checksum does not
  match) and returns the new model. Before the first rename nothing
  changed; after the second the new pair is in place. So a reader always
  sees the complete old or the complete new model, never a mix.
* Temporary files of a killed save are removed by the next ``save`` or
  ``load`` of the same name (those whose process is no longer running).

``load`` reads with ``allow_pickle=False`` and checks everything before it
reads any array data: the JSON (size, nesting depth, format, version), the
checksum, the archive's structure (a zip of ``.npy`` members) and each
member's header (shape and dtype, compared with the description and with
the member's size), and, when given a ``schema``, the ``meta`` fields
(types, finite numbers, ranges, sizes that must equal an array's
dimension). Every problem is a ``ModelFileError`` naming the file and field.

A training run's folder (model, metrics, figure) is written as a unit with
``run_folder``: the files go into a hidden sibling folder that replaces the
old folder in one atomic exchange. ``check_writable_dir`` says before a run
whether its output folder can be written at all.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import io
import json
import math
import numbers
import os
import re
import secrets
import shutil
import stat
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

__all__ = [
    "ModelFileError", "save", "load", "inspect", "inspect_model", "atomic_write_bytes",
    "Int", "Float", "Str", "Bool", "Any", "check_meta",
    "run_folder", "check_writable_dir",
]

FORMAT = "lstm_np.arrays"
VERSION = 2           # 2 adds save_id and the embedded description; load reads 1 and 2
READS = (1, 2)
DESCRIPTION_MEMBER = "__description__"
MAX_JSON_BYTES = 16 * 2**20   # a model's description is a few kB
MAX_JSON_DEPTH = 64           # nesting of objects/lists in the description


class ModelFileError(ValueError):
    """A saved file is missing, corrupted, or does not match its description."""


# --------------------------------------------------------------------------- names and temporary files


def _stem(path):
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or path-like; got {type(path).__name__}")
    path = Path(path)
    return path.with_suffix("") if path.suffix in (".npz", ".json") else path


def _with(stem, suffix):
    """``stem`` plus ``suffix``, keeping any dots in the stem (``ckpt.epoch5`` -> ``ckpt.epoch5.npz``)."""
    return stem.with_name(stem.name + suffix)


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


# --------------------------------------------------------------------------- save


def _json_depth(obj):
    """Nesting depth of lists/dicts in ``obj`` (iterative: no recursion limit)."""
    depth, stack = 0, [(obj, 1)]
    while stack:
        o, d = stack.pop()
        if isinstance(o, (dict, list)):
            depth = max(depth, d)
            if depth > MAX_JSON_DEPTH:
                return depth
            stack.extend((v, d + 1) for v in (o.values() if isinstance(o, dict) else o))
    return depth


def _npz_bytes(arrays):
    """An uncompressed ``.npz`` (a zip of ``NAME.npy`` members) in memory, as ``numpy.savez`` writes it."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, a in arrays.items():
            with archive.open(name + ".npy", "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.asanyarray(a), allow_pickle=False)
    return buf.getvalue()


def save(path, arrays, meta):
    """Save ``arrays`` (dict of name -> ndarray) and ``meta`` (JSON-able dict) as one unit.

    Parameters
    ----------
    path : path-like
        Stem of the two files (a ``.npz`` or ``.json`` suffix is dropped).
    arrays : dict of str to ndarray
        Numeric arrays only (no object arrays: they would need pickle).
    meta : dict
        Anything JSON can hold; stored under ``"meta"``.

    Returns
    -------
    Path
        The ``.npz`` path.

    Raises
    ------
    TypeError, ValueError
        An array that is not numeric, a reserved or non-string name, or
        ``meta`` that JSON cannot hold; nothing is written then.
    OSError
        The folder cannot be written (full disk, read-only, ...): the
        previous save, if any, is still complete and loads.
    """
    stem = _stem(path)
    if not isinstance(arrays, Mapping):
        raise TypeError(f"arrays must be a dict of name -> ndarray; got {type(arrays).__name__}")
    for name, a in arrays.items():
        if not isinstance(name, str) or not name or name == DESCRIPTION_MEMBER or "/" in name:
            raise ValueError(f"array name {name!r} is not allowed (a non-empty str without '/', "
                             f"not {DESCRIPTION_MEMBER!r})")
        if not isinstance(a, np.ndarray) or a.dtype.hasobject or a.dtype.kind not in "biufc":
            raise TypeError(f"array {name!r} must be a numeric ndarray; got {type(a).__name__}")
    if not isinstance(meta, Mapping):
        raise TypeError(f"meta must be a dict; got {type(meta).__name__}")
    core = {
        "format": FORMAT,
        "version": VERSION,
        "save_id": secrets.token_hex(16),
        "arrays": {k: {"shape": list(a.shape), "dtype": a.dtype.str} for k, a in arrays.items()},
        "meta": meta,
    }
    try:
        embedded = json.dumps(core, sort_keys=True, allow_nan=False).encode()
    except ValueError as e:  # NaN or inf: JSON has no such numbers, and load would refuse them
        raise ValueError(f"meta holds a number that is not finite (NaN or inf), which JSON cannot store ({e})") from None
    except TypeError as e:
        raise TypeError(f"meta cannot be stored as JSON ({e})") from None
    if _json_depth(core) > MAX_JSON_DEPTH:
        raise ValueError(f"meta is nested more than {MAX_JSON_DEPTH - 2} levels deep")
    data = _npz_bytes({**arrays, DESCRIPTION_MEMBER: np.frombuffer(embedded, dtype=np.uint8)})
    text = json.dumps({**core, "npz_sha256": hashlib.sha256(data).hexdigest()}, indent=2, sort_keys=True)
    npz_path, json_path = _with(stem, ".npz"), _with(stem, ".json")
    stem.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(stem.parent, {npz_path.name, json_path.name})
    tmps = []
    try:
        tmps.append(_write_tmp(npz_path, data))
        tmps.append(_write_tmp(json_path, text.encode()))
        # The unit commits in two renames; between them the new .npz (which
        # describes itself) and the old .json form a pair load resolves to the new.
        os.replace(tmps[0], npz_path)
        os.replace(tmps[1], json_path)
    finally:
        for t in tmps:
            t.unlink(missing_ok=True)
    _fsync_dir(stem.parent)
    return npz_path


# --------------------------------------------------------------------------- load


def _check_regular(path):
    """Raise ModelFileError unless ``path`` is a regular file (not a folder, FIFO or device)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError as e:
        raise ModelFileError(f"{path}: file not found") from e
    except OSError as e:
        raise ModelFileError(f"{path}: unreadable ({e})") from e
    if not stat.S_ISREG(mode):
        raise ModelFileError(f"{path}: not a regular file")


def _read_json(json_path):
    """The parsed description, or raise ModelFileError (missing, too big, not JSON, too deep)."""
    _check_regular(json_path)
    try:
        with open(json_path, "rb") as f:
            raw = f.read(MAX_JSON_BYTES + 1)
    except FileNotFoundError as e:
        raise ModelFileError(f"{json_path}: file not found") from e
    except OSError as e:
        raise ModelFileError(f"{json_path}: not a readable JSON description ({e})") from e
    if len(raw) > MAX_JSON_BYTES:
        raise ModelFileError(f"{json_path}: not a readable JSON description (larger than "
                             f"{MAX_JSON_BYTES // 2**20} MiB; a model description is a few kB)")
    try:
        description = json.loads(raw.decode("utf-8"))
    except RecursionError:
        raise ModelFileError(f"{json_path}: not a readable JSON description (nested too deeply)") from None
    except ValueError as e:  # JSONDecodeError, UnicodeDecodeError, an integer of more than 4300 digits
        raise ModelFileError(f"{json_path}: not a readable JSON description ({e})") from None
    if _json_depth(description) > MAX_JSON_DEPTH:
        raise ModelFileError(f"{json_path}: not a readable JSON description (nested more than "
                             f"{MAX_JSON_DEPTH} levels deep)")
    return description


def _check_description(description, where):
    if not isinstance(description, dict) or description.get("format") != FORMAT:
        raise ModelFileError(f"{where}: not an lstm_np model file")
    if description.get("version") not in READS:
        raise ModelFileError(f"{where}: format version {description.get('version')!r}; this lstm_np reads "
                             f"{' and '.join(map(str, READS))}")
    if not isinstance(description.get("arrays"), dict) or not isinstance(description.get("meta"), dict):
        raise ModelFileError(f"{where}: the description lacks its 'arrays' or 'meta' table")
    for k, want in description["arrays"].items():
        ok = (isinstance(want, dict) and isinstance(want.get("shape"), list)
              and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in want["shape"])
              and isinstance(want.get("dtype"), str))
        if not ok:
            raise ModelFileError(f"{where}: array {k!r}: the description says {want}; expected "
                                 "{'shape': [non-negative ints], 'dtype': str}")
    return description


def _npz_members(data, npz_path):
    """``{name: (zipinfo, shape, dtype, offset)}`` of an npz held in ``data``, reading headers only."""
    if data[:6] == b"\x93NUMPY":
        raise ModelFileError(f"{npz_path}: a single .npy array, not an .npz archive of named arrays")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise ModelFileError(f"{npz_path}: not an .npz archive ({e})") from None
    members = {}
    for info in archive.infolist():
        if info.filename[:-4] in members:
            raise ModelFileError(f"{npz_path}: member {info.filename!r} appears twice")
        if not info.filename.endswith(".npy") or info.is_dir():
            raise ModelFileError(f"{npz_path}: member {info.filename!r} is not a .npy array")
        name = info.filename[:-4]
        try:
            with archive.open(info) as f:
                version = np.lib.format.read_magic(f)
                reader = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
                if version not in reader:
                    raise ValueError(f"unsupported .npy version {version}")
                shape, fortran, dtype = reader[version](f, max_header_size=10_000)
                offset = f.tell()
        except (ValueError, OSError, EOFError, zipfile.BadZipFile, RuntimeError) as e:
            raise ModelFileError(f"{npz_path}: member {info.filename!r} is not a readable .npy array ({e})") from None
        if dtype.hasobject:
            raise ModelFileError(f"{npz_path}: member {info.filename!r} holds Python objects (would need pickle)")
        need = math.prod(shape) * dtype.itemsize
        if info.file_size != offset + need:
            raise ModelFileError(f"{npz_path}: member {info.filename!r} says {dtype.str}{list(shape)} "
                                 f"({need} bytes of data) but holds {info.file_size - offset}")
        members[name] = (info, tuple(shape), dtype, fortran)
    return archive, members


def _embedded_description(data):
    """The description a version-2 ``.npz`` carries, or None."""
    try:
        archive, members = _npz_members(data, "npz")
        if DESCRIPTION_MEMBER not in members:
            return None
        with archive.open(members[DESCRIPTION_MEMBER][0]) as f:
            raw = np.lib.format.read_array(f, allow_pickle=False)
        description = json.loads(raw.tobytes().decode("utf-8"))
        return description if isinstance(description, dict) and _json_depth(description) <= MAX_JSON_DEPTH else None
    except (ModelFileError, ValueError, OSError, RecursionError, UnicodeDecodeError, zipfile.BadZipFile):
        return None


class _Inspected:
    """What ``inspect`` found: the description and the array headers, no array data."""

    def __init__(self, npz_path, json_path, description, archive, members):
        self.npz_path, self.json_path = npz_path, json_path
        self.description, self.meta = description, description["meta"]
        self._archive, self._members = archive, members
        self.arrays = {k: (shape, dtype) for k, (_, shape, dtype, _) in members.items() if k != DESCRIPTION_MEMBER}

    def read_arrays(self):
        out = {}
        for k in self.arrays:
            info = self._members[k][0]
            try:
                with self._archive.open(info) as f:
                    out[k] = np.lib.format.read_array(f, allow_pickle=False)
            except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
                raise ModelFileError(f"{self.npz_path}: array {k!r} unreadable ({e})") from None
        return out


def inspect(path, schema=None):
    """Check a saved model without reading its array data.

    Returns an object with ``meta`` (dict), ``arrays`` (name -> (shape,
    dtype) from the ``.npy`` headers) and ``description``. See ``load``
    for what is checked; ``schema`` is as in ``check_meta``.
    """
    stem = _stem(path)
    npz_path, json_path = _with(stem, ".npz"), _with(stem, ".json")
    _recover_run(stem.parent)
    _remove_stale_temps(stem.parent, {npz_path.name, json_path.name})
    json_missing = False
    try:
        description = _read_json(json_path)
    except ModelFileError:
        if json_path.exists() or not npz_path.exists():
            raise
        description, json_missing = None, True
    if not json_missing and (not isinstance(description, dict) or description.get("format") != FORMAT):
        raise ModelFileError(f"{json_path}: not an lstm_np model file")
    _check_regular(npz_path)
    try:
        data = npz_path.read_bytes()
    except FileNotFoundError as e:
        raise ModelFileError(f"{npz_path}: file not found") from e
    except OSError as e:
        raise ModelFileError(f"{npz_path}: unreadable ({e})") from e
    where = json_path
    if json_missing or not isinstance(description, dict) or \
            hashlib.sha256(data).hexdigest() != description.get("npz_sha256"):
        embedded = _embedded_description(data)
        other_save = embedded is not None and (json_missing or description.get("save_id") != embedded.get("save_id"))
        if other_save:
            # A save stopped between its two renames: the .npz is the complete
            # new model (it describes itself); the .json belongs to the save before.
            description, where = embedded, f"{npz_path} (its own description)"
        elif json_missing:
            raise ModelFileError(f"{json_path}: file not found")
        else:
            _check_description(description, json_path)
            raise ModelFileError(f"{npz_path}: contents do not match the checksum in {json_path.name} "
                                 "(corrupted, or the two files are from different saves)")
    description = _check_description(description, where)
    archive, members = _npz_members(data, npz_path)
    found = {k: v for k, v in members.items() if k != DESCRIPTION_MEMBER}
    expected = description["arrays"]
    if set(found) != set(expected):
        raise ModelFileError(f"{npz_path}: arrays {sorted(found)} differ from the description's {sorted(expected)}")
    for k, (_, shape, dtype, _) in found.items():
        want = expected[k]
        if list(shape) != want["shape"] or dtype.str != want["dtype"]:
            raise ModelFileError(f"{npz_path}: array {k!r} is {dtype.str}{list(shape)}; the description says {want}")
    result = _Inspected(npz_path, json_path, description, archive, members)
    if schema is not None:
        check_meta(result.meta, schema, arrays=result.arrays, where=str(json_path))
    return result


def inspect_model(path, kind, schema=None, *, what="model"):
    """``inspect`` a saved model that must be of ``kind`` (its ``meta.kind``), then check ``schema``.

    ``path`` may be the folder holding ``model.npz`` / ``model.json`` or
    either file. Returns what ``inspect`` returns; ``ModelFileError`` when
    the file holds another kind of model (naming ``what`` was expected).
    """
    path = Path(path)
    if path.is_dir():
        path = path / "model"
    found = inspect(path)
    meta, where = found.meta, str(found.json_path)
    if meta.get("kind") != kind:
        raise ModelFileError(f"{where}: holds {meta.get('kind')!r}, not a {what} (field meta.kind should be "
                             f"{kind!r})")
    if schema is not None:
        check_meta(meta, schema, arrays=found.arrays, where=where)
    return found


def load(path, schema=None):
    """Load what ``save`` wrote, checking everything before returning.

    Parameters
    ----------
    path : path-like
        The stem, or the ``.npz`` or ``.json`` file.
    schema : dict, optional
        Rules for ``meta`` (see ``check_meta``), checked against the array
        headers before any array data is read.

    Returns
    -------
    arrays : dict of str to ndarray
    meta : dict

    Raises
    ------
    ModelFileError
        A file is missing or unreadable, the JSON is not this format or
        version (or too large or too deeply nested), the ``.npz`` does not
        match its recorded checksum, is not a zip of ``.npy`` arrays, or an
        array's name, shape or dtype differs from the description, or
        ``meta`` breaks ``schema``.
    """
    found = inspect(path, schema)
    return found.read_arrays(), found.meta


# --------------------------------------------------------------------------- a schema for meta


class _Rule:
    optional = False

    def describe(self):
        raise NotImplementedError


class Int(_Rule):
    """An integer (not a bool) in [min, max].

    ``dim=(array, axis)`` (or a list of such pairs): the value must equal that
    array's size on that axis, and the array must exist.
    """

    def __init__(self, min=None, max=None, *, dim=None, optional=False):
        self.min, self.max, self.optional = min, max, optional
        self.dim = None if dim is None else ([dim] if isinstance(dim[0], str) else list(dim))

    def describe(self):
        lo = "" if self.min is None else f" >= {self.min}"
        hi = "" if self.max is None else f" <= {self.max}"
        return f"an integer{lo}{' and' if lo and hi else ''}{hi}"

    def check(self, v):
        return (isinstance(v, int) and not isinstance(v, bool) and (self.min is None or v >= self.min)
                and (self.max is None or v <= self.max))


class Float(_Rule):
    """A finite real number (JSON int or float) in [min, max]."""

    def __init__(self, min=None, max=None, *, optional=False):
        self.min, self.max, self.optional, self.dim = min, max, optional, None

    def describe(self):
        lo = "" if self.min is None else f" >= {self.min}"
        hi = "" if self.max is None else f" <= {self.max}"
        return f"a finite number{lo}{' and' if lo and hi else ''}{hi}"

    def check(self, v):
        return (isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)
                and (self.min is None or v >= self.min) and (self.max is None or v <= self.max))


class Str(_Rule):
    """A string, optionally one of ``choices``."""

    def __init__(self, choices=None, *, optional=False):
        self.choices, self.optional, self.dim = choices, optional, None

    def describe(self):
        return "a string" if self.choices is None else f"one of {list(self.choices)}"

    def check(self, v):
        return isinstance(v, str) and (self.choices is None or v in self.choices)


class Bool(_Rule):
    """true or false."""

    def __init__(self, *, optional=False):
        self.optional, self.dim = optional, None

    def describe(self):
        return "true or false"

    def check(self, v):
        return isinstance(v, bool)


class Any(_Rule):
    """Anything (checked elsewhere), optionally required to be a dict."""

    def __init__(self, dict_only=False, *, optional=False):
        self.dict_only, self.optional, self.dim = dict_only, optional, None

    def describe(self):
        return "an object" if self.dict_only else "any value"

    def check(self, v):
        return isinstance(v, dict) or not self.dict_only


def check_meta(meta, schema, *, arrays=None, where="meta"):
    """Check ``meta`` against ``schema``; raise ModelFileError naming the first field at fault.

    Parameters
    ----------
    meta : dict
        As ``load`` returns it.
    schema : dict
        Field name -> rule (``Int``, ``Float``, ``Str``, ``Bool``, ``Any``)
        or a nested dict for a nested object. Fields not in the schema are
        allowed. Example::

            {"model": {"num_items": io.Int(1, 10**7, dim=("item_emb.W", 0)),
                       "mean": io.Float(1, 5), "dtype": io.Str(["float32", "float64"])},
             "data": {"name": io.Str(["movielens", "synthetic"]), "seed": io.Int(0, optional=True)}}
    arrays : dict of name -> (shape, dtype), optional
        Array headers (``inspect(path).arrays``) for ``Int(dim=...)`` rules.
    where : str
        Named in the messages (the file).
    """
    stack = [(meta, schema, "meta")]
    while stack:
        obj, rules, label = stack.pop()
        if not isinstance(obj, dict):
            raise ModelFileError(f"{where}: {label} is {type(obj).__name__}; expected an object")
        for key, rule in rules.items():
            field = f"{label}.{key}"
            if key not in obj:
                if isinstance(rule, _Rule) and rule.optional:
                    continue
                raise ModelFileError(f"{where}: field {field} is missing")
            value = obj[key]
            if isinstance(rule, dict):
                stack.append((value, rule, field))
                continue
            if not rule.check(value):
                raise ModelFileError(f"{where}: field {field} is {value!r}; expected {rule.describe()}")
            for name, axis in (rule.dim or []) if arrays is not None else []:
                if name not in arrays:
                    raise ModelFileError(f"{where}: array {name!r} (whose size {field} gives) is missing")
                shape = arrays[name][0]
                if axis >= len(shape) or shape[axis] != value:
                    raise ModelFileError(f"{where}: field {field} is {value!r} but array {name!r} has shape "
                                         f"{tuple(shape)} (axis {axis} must equal it)")
    return meta


# --------------------------------------------------------------------------- run folders


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
