"""A saved model: ``NAME.npz`` (the arrays) + ``NAME.json`` (the description), ``save``, ``inspect`` and ``load``.

See the package's docstring (``lstm_np.io``) for how the two files form one unit and what ``load`` checks.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import secrets
import stat
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .atomic import _fsync_dir, _remove_stale_temps, _write_tmp
from .errors import ModelFileError
from .runs import _recover_run
from .schema import check_meta

__all__ = ["save", "load", "inspect", "inspect_model", "ModelFileError"]

FORMAT = "lstm_np.arrays"
VERSION = 3           # 2 adds save_id and the embedded description; 3 previous_save_id
READS = (1, 2, 3)
DESCRIPTION_MEMBER = "__description__"
MAX_JSON_BYTES = 16 * 2**20   # a model's description is a few kB
MAX_JSON_DEPTH = 64           # nesting of objects/lists in the description


def _stem(path):
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or path-like; got {type(path).__name__}")
    path = Path(path)
    return path.with_suffix("") if path.suffix in (".npz", ".json") else path


def _with(stem, suffix):
    """``stem`` plus ``suffix``, keeping any dots in the stem (``ckpt.epoch5`` -> ``ckpt.epoch5.npz``)."""
    return stem.with_name(stem.name + suffix)



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
    npz_path, json_path = _with(stem, ".npz"), _with(stem, ".json")
    core = {
        "format": FORMAT,
        "version": VERSION,
        "save_id": secrets.token_hex(16),
        # The save this one replaces: a kill between the two renames below leaves this .npz beside that
        # save's .json, and load accepts the pair only then (an .npz of any other save is refused).
        "previous_save_id": _save_id_on_disk(json_path),
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


def _save_id_on_disk(json_path):
    """The ``save_id`` of the description at ``json_path``, or None (no file, unreadable, not ours)."""
    try:
        with open(json_path, "rb") as f:
            raw = f.read(MAX_JSON_BYTES + 1)
        found = json.loads(raw.decode("utf-8")).get("save_id")
    except (OSError, ValueError, RecursionError, AttributeError):
        return None
    return found if isinstance(found, str) else None


_MISSING = object()


def _canonical(v):
    return json.dumps(v, sort_keys=True, separators=(",", ":"))


def _first_difference(a, b, path=""):
    """``(field, value in a, value in b)`` of the first place where two JSON values differ, or None.

    Types count: 1, 1.0 and true are three different values.
    """
    if type(a) is not type(b):
        return path, a, b
    if isinstance(a, dict):
        for k in sorted(set(a) | set(b), key=str):
            found = _first_difference(a.get(k, _MISSING), b.get(k, _MISSING), f"{path}.{k}" if path else str(k))
            if found:
                return found
        return None
    if isinstance(a, list):
        for i, (x, y) in enumerate(zip(a, b)):
            found = _first_difference(x, y, f"{path}[{i}]")
            if found:
                return found
        return (path, a, b) if len(a) != len(b) else None
    return None if _canonical(a) == _canonical(b) else (path, a, b)


def _check_unedited(description, embedded, json_path):
    """The .json must say exactly what the save wrote, which the .npz carries (and its checksum covers)."""
    stated = {k: v for k, v in description.items() if k != "npz_sha256"}
    if _canonical(stated) == _canonical(embedded):
        return
    field, edited, saved = _first_difference(stated, embedded)

    def show(v):
        text = "missing" if v is _MISSING else repr(v)
        return text if len(text) <= 80 else text[:77] + "..."

    raise ModelFileError(f"{json_path}: field {field} is {show(edited)}, but the save wrote {show(saved)}: the file "
                         "was edited after the save (the .npz holds the description it was saved with; save "
                         "the model again to change it)")


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
    if json_missing or hashlib.sha256(data).hexdigest() != description.get("npz_sha256"):
        embedded = _embedded_description(data)
        other_save = embedded is not None and (json_missing or description.get("save_id") != embedded.get("save_id"))
        if other_save and not json_missing:
            # Version 3 records the save it replaced (None when that .json had no save_id: version 1, or none);
            # an .npz of version 2 predates the field and keeps the old rule (the .npz describes itself).
            replaced = embedded.get("previous_save_id", description.get("save_id"))
            if replaced != description.get("save_id"):
                raise ModelFileError(
                    f"{npz_path}: from another save than {json_path.name} (save_id {embedded.get('save_id')!r} in "
                    f"the .npz, {description.get('save_id')!r} in the .json): the two files do not belong together. "
                    f"If a save of this model was interrupted, delete {json_path.name} to load the .npz with the "
                    "description it carries")
        if other_save:
            # No .json, or a save stopped between its two renames: the .npz is the
            # complete new model (it describes itself); the .json belongs to the save before.
            description, where = embedded, f"{npz_path} (its own description)"
        elif json_missing:
            raise ModelFileError(f"{json_path}: file not found")
        else:
            _check_description(description, json_path)
            if not isinstance(description.get("npz_sha256"), str):
                raise ModelFileError(f"{json_path}: field npz_sha256 is {description.get('npz_sha256', 'missing')!r}; "
                                     "expected the SHA-256 of the .npz (the file was edited)")
            raise ModelFileError(f"{npz_path}: contents do not match the checksum in {json_path.name} "
                                 "(corrupted, or the two files are from different saves)")
    else:
        embedded = _embedded_description(data)
        if embedded is not None:  # version 2 and later: the .json must be what the save wrote
            _check_description(description, json_path)
            _check_unedited(description, embedded, json_path)
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
