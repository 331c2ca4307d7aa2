"""Saving and loading named arrays as ``.npz`` plus a JSON description, without pickle.

``save(path, arrays, meta)`` writes ``path.npz`` (the arrays) and
``path.json`` (``meta`` plus, for every array, its shape and dtype, and the
SHA-256 of the ``.npz``). Each file is written to a temporary name in the
same folder and renamed into place, so a crash never leaves a half-written
file under the real name. ``load`` reads with ``allow_pickle=False`` and
checks the pair against each other before returning anything.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

__all__ = ["ModelFileError", "save", "load", "atomic_write_bytes"]

FORMAT = "lstm_np.arrays"
VERSION = 1


class ModelFileError(ValueError):
    """A saved file is missing, corrupted, or does not match its description."""


def _stem(path):
    path = Path(path)
    return path.with_suffix("") if path.suffix in (".npz", ".json") else path


def _with(stem, suffix):
    """``stem`` plus ``suffix``, keeping any dots in the stem (``ckpt.epoch5`` -> ``ckpt.epoch5.npz``)."""
    return stem.with_name(stem.name + suffix)


def atomic_write_bytes(path, data: bytes):
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; give it the usual mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save(path, arrays, meta):
    """Save ``arrays`` (dict of name -> ndarray) and ``meta`` (JSON-able dict).

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
    """
    stem = _stem(path)
    for name, a in arrays.items():
        if not isinstance(a, np.ndarray) or a.dtype.hasobject:
            raise TypeError(f"array {name!r} must be a numeric ndarray; got {type(a).__name__}")
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    data = buf.getvalue()
    description = {
        "format": FORMAT,
        "version": VERSION,
        "npz_sha256": hashlib.sha256(data).hexdigest(),
        "arrays": {k: {"shape": list(a.shape), "dtype": a.dtype.str} for k, a in arrays.items()},
        "meta": meta,
    }
    text = json.dumps(description, indent=2, sort_keys=True)
    atomic_write_bytes(_with(stem, ".npz"), data)
    atomic_write_bytes(_with(stem, ".json"), text.encode())
    return _with(stem, ".npz")


def load(path):
    """Load what ``save`` wrote, checking everything before returning.

    Returns
    -------
    arrays : dict of str to ndarray
    meta : dict

    Raises
    ------
    ModelFileError
        A file is missing or unreadable, the JSON is not this format or
        version, the ``.npz`` does not match its recorded checksum, or an
        array's name, shape or dtype differs from the description.
    """
    stem = _stem(path)
    npz_path, json_path = _with(stem, ".npz"), _with(stem, ".json")
    try:
        description = json.loads(json_path.read_text())
    except FileNotFoundError as e:
        raise ModelFileError(f"{e.filename}: file not found") from e
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelFileError(f"{json_path}: not a readable JSON description ({e})") from e
    if not isinstance(description, dict) or description.get("format") != FORMAT:
        raise ModelFileError(f"{json_path}: not an lstm_np model file")
    if description.get("version") != VERSION:
        raise ModelFileError(f"{json_path}: format version {description.get('version')!r}; this lstm_np reads {VERSION}")
    if not isinstance(description.get("arrays"), dict) or not isinstance(description.get("meta"), dict):
        raise ModelFileError(f"{json_path}: the description lacks its 'arrays' or 'meta' table")
    try:
        data = npz_path.read_bytes()
    except OSError as e:
        raise ModelFileError(f"{npz_path}: {'file not found' if isinstance(e, FileNotFoundError) else e}") from e
    if hashlib.sha256(data).hexdigest() != description.get("npz_sha256"):
        raise ModelFileError(f"{npz_path}: contents do not match the checksum in {json_path.name} "
                             "(corrupted, or the two files are from different saves)")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise ModelFileError(f"{npz_path}: unreadable ({e})") from e
    expected = description["arrays"]
    if set(arrays) != set(expected):
        raise ModelFileError(f"{npz_path}: arrays {sorted(arrays)} differ from the description's {sorted(expected)}")
    for k, a in arrays.items():
        want = expected[k]
        if not isinstance(want, dict) or list(a.shape) != want.get("shape") or a.dtype.str != want.get("dtype"):
            raise ModelFileError(f"{npz_path}: array {k!r} is {a.dtype.str}{list(a.shape)}; "
                                 f"the description says {want}")
    return arrays, description["meta"]
