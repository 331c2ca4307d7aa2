"""MovieLens-100K: parsing, verification, caching and download.

Two on-disk layouts hold the same 100,000 ratings:

* the GroupLens layout (``u.data``: ``user<TAB>item<TAB>rating<TAB>timestamp``;
  ``u.item``: ``id|title|...``, latin-1), as in the official ``ml-100k.zip``;
* the "atomic" layout used by RecBole (``ml-100k.inter`` / ``ml-100k.item``,
  tab-separated, UTF-8, with a typed header such as ``user_id:token``).

Every reader (folder, zip member, downloaded bytes) ends in one of the two
byte-level parsers :func:`parse_grouplens` and :func:`parse_atomic`, so all of
them validate the data the same way and report errors as ``<file> line <n>: ...``.

:func:`fetch_movielens_100k` returns the verified data set: from the cache if a
verified copy is there, otherwise from the first source that works (GroupLens,
then the ``recbole==1.2.1`` wheel on PyPI, which ships the same ratings), and
stores it in the cache in the GroupLens layout.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Callable, Iterable, Literal, Sequence, Union

import numpy as np

__all__ = [
    "EXPECTED_SHA256",
    "GROUPLENS_URL",
    "RECBOLE_REQUIREMENT",
    "ChecksumError",
    "DataFormatError",
    "DataUnavailableError",
    "RawFiles",
    "Ratings",
    "Source",
    "checksum",
    "default_cache_dir",
    "default_sources",
    "fetch_movielens_100k",
    "grouplens_source",
    "load_movielens_100k",
    "parse_atomic",
    "parse_grouplens",
    "read_atomic",
    "read_grouplens",
    "read_raw",
    "read_recbole_wheel",
    "recbole_wheel_source",
    "verify",
    "write_grouplens",
]

#: sha256 of MovieLens-100K as computed by :func:`checksum`.
EXPECTED_SHA256 = "ec862504a8c24b195f5194e51fb18bb2d59428d00d96d6d1c63433a3bd5f2f47"
ML100K_COUNTS = (100_000, 943, 1_682)  # ratings, users, items

GROUPLENS_URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
RECBOLE_REQUIREMENT = "recbole==1.2.1"
RECBOLE_INTER_MEMBER = "recbole/dataset_example/ml-100k/ml-100k.inter"
RECBOLE_ITEM_MEMBER = "recbole/dataset_example/ml-100k/ml-100k.item"

CACHE_SUBDIR = "ml-100k"  # <cache>/ml-100k/{u.data,u.item,SHA256SUMS}
#: In the cache folder: sha256 of u.data and u.item as written (``sha256sum -c`` reads it).
CACHE_CHECKSUMS = "SHA256SUMS"
CACHE_FILES = ("u.data", "u.item")
RATING_RANGE = (1.0, 5.0)
# Title columns of an atomic .item file, in order of preference.
TITLE_COLUMNS = ("movie_title", "title")


class DataFormatError(ValueError):
    """A data file is malformed; the message names the file and line."""


class ChecksumError(ValueError):
    """The data parsed cleanly but is not the expected data set."""


class DataUnavailableError(RuntimeError):
    """Every way of obtaining the data failed.

    Attributes
    ----------
    failures : list of (str, str)
        ``(what was tried, why it failed)``, in the order tried.
    """

    def __init__(self, message: str, failures: list[tuple[str, str]]):
        super().__init__(message)
        self.failures = failures


# --------------------------------------------------------------------------
# The in-memory data set
# --------------------------------------------------------------------------

_FIELD_DTYPES = {
    "user": np.dtype(np.int64),
    "item": np.dtype(np.int64),
    "rating": np.dtype(np.float64),
    "timestamp": np.dtype(np.int64),
}


@dataclass(frozen=True, eq=False)
class Ratings:
    """Explicit ratings, one row per (user, item, rating, timestamp).

    Parameters
    ----------
    user : ndarray, shape (N,), int64
        User ids as in the source files (not re-indexed).
    item : ndarray, shape (N,), int64
        Item ids as in the source files (not re-indexed).
    rating : ndarray, shape (N,), float64
        Rating values.
    timestamp : ndarray, shape (N,), int64
        Seconds since the epoch.
    titles : dict of int to str
        Item id -> title; may lack ids that are not described.

    Notes
    -----
    The arrays are checked (1-D, dtype, equal length) but not copied, so
    callers should not modify them afterwards.
    """

    user: np.ndarray
    item: np.ndarray
    rating: np.ndarray
    timestamp: np.ndarray
    titles: dict[int, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        lengths = {}
        for name, dtype in _FIELD_DTYPES.items():
            array = getattr(self, name)
            if not isinstance(array, np.ndarray):
                raise TypeError(f"Ratings.{name}: expected a numpy array, got {type(array).__name__}")
            if array.ndim != 1:
                raise ValueError(f"Ratings.{name}: expected a 1-D array, got shape {array.shape}")
            if array.dtype != dtype:
                raise TypeError(f"Ratings.{name}: expected dtype {dtype}, got {array.dtype}")
            lengths[name] = len(array)
        if len(set(lengths.values())) > 1:
            raise ValueError(f"Ratings: arrays must have equal lengths, got {lengths}")
        if not isinstance(self.titles, dict):
            raise TypeError(f"Ratings.titles: expected a dict, got {type(self.titles).__name__}")

    def __len__(self) -> int:
        return len(self.user)

    def take(self, index: np.ndarray) -> "Ratings":
        """Rows ``index`` (shape (M,), integer or boolean) as a new Ratings, same titles."""
        return Ratings(self.user[index], self.item[index], self.rating[index],
                       self.timestamp[index], self.titles)


# --------------------------------------------------------------------------
# Byte-level parsing (the one place where file contents are validated)
# --------------------------------------------------------------------------

_SEPARATOR_WORDS = {"\t": "tab-separated", "|": "'|'-separated"}


def _decode_lines(data: bytes, name: str, encoding: str) -> list[str]:
    """Decode ``data`` and split it into lines (without line terminators)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        hint = f" (encode it: text.encode({encoding!r}), or pass the file to read_raw)" if isinstance(data, str) else ""
        raise TypeError(f"{name}: expected the file's contents as bytes; got {type(data).__name__}{hint}")
    data = bytes(data)
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise DataFormatError(f"{name} line {line}: not valid {encoding} text ({error.reason})") from None
    # split("\n"), not splitlines(): latin-1 titles may contain \x85 or \x1c,
    # which splitlines() would treat as line breaks.
    lines = text.split("\n")
    if lines[-1] == "":  # a final newline ends the last line; it starts no new one
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def _split_rows(lines: list[str], sep: str, name: str, first_line: int,
                n_fields: int, at_least: bool = False) -> list[list[str]]:
    """Split each line into fields and check the field count.

    ``first_line`` is the 1-based line number of ``lines[0]`` (2 after a header).
    """
    words = _SEPARATOR_WORDS[sep]
    rows = [line.split(sep) for line in lines]
    for offset, row in enumerate(rows):
        if len(row) == n_fields or (at_least and len(row) > n_fields):
            continue
        line_no = first_line + offset
        expected = f"{'at least ' if at_least else ''}{n_fields} {words} fields"
        if lines[offset].strip() == "":
            raise DataFormatError(f"{name} line {line_no}: empty line, expected {expected}")
        raise DataFormatError(f"{name} line {line_no}: expected {expected}, got {len(row)}")
    return rows


def _convert(values: list[str], dtype: type, name: str, column: str, first_line: int) -> np.ndarray:
    """Convert a column of strings, naming the first bad line on failure."""
    try:
        return np.array(values, dtype=dtype)
    except (ValueError, OverflowError):
        pass
    # Same conversion one value at a time, only to find the culprit.
    kind = "an integer" if dtype is np.int64 else "a number"
    for offset, value in enumerate(values):
        try:
            np.array([value], dtype=dtype)
        except (ValueError, OverflowError):
            raise DataFormatError(
                f"{name} line {first_line + offset}: {column} {value!r} is not {kind}") from None
    raise AssertionError("unreachable: the column converted element-wise but not as a whole")


def _reject(bad: np.ndarray, values: np.ndarray, name: str, column: str,
            first_line: int, requirement: str) -> None:
    """Raise for the first ``True`` in ``bad`` (shape (N,)), if any."""
    if bad.any():
        i = int(np.argmax(bad))
        raise DataFormatError(
            f"{name} line {first_line + i}: {column} must be {requirement}, got {values[i].item()!r}")


def _ids(values: list[str], name: str, column: str, first_line: int) -> np.ndarray:
    ids = _convert(values, np.int64, name, column, first_line)
    _reject(ids <= 0, ids, name, column, first_line, "a positive integer")
    return ids


def _timestamps(values: list[str], name: str, first_line: int) -> np.ndarray:
    # Integers first (exact); atomic files declare timestamps as float, so
    # also accept integral floats such as "881250949.0".
    try:
        return np.array(values, dtype=np.int64)
    except (ValueError, OverflowError):
        pass
    seconds = _convert(values, np.float64, name, "timestamp", first_line)
    bad = ~np.isfinite(seconds) | (seconds != np.round(seconds)) | (np.abs(seconds) >= 2.0**63)
    _reject(bad, seconds, name, "timestamp", first_line, "a whole number of seconds")
    return seconds.astype(np.int64)


def _ratings_table(user: list[str], item: list[str], rating: list[str], timestamp: list[str],
                   name: str, first_line: int) -> tuple[np.ndarray, ...]:
    """Validated (user, item, rating, timestamp) arrays, each shape (N,)."""
    users = _ids(user, name, "user id", first_line)
    items = _ids(item, name, "item id", first_line)
    values = _convert(rating, np.float64, name, "rating", first_line)
    low, high = RATING_RANGE
    bad = ~np.isfinite(values) | (values < low) | (values > high)
    _reject(bad, values, name, "rating", first_line, f"a finite number in [{low:g}, {high:g}]")
    return users, items, values, _timestamps(timestamp, name, first_line)


def _titles(ids: list[str], titles: list[str], name: str, first_line: int) -> dict[int, str]:
    item_ids = _ids(ids, name, "item id", first_line)
    unique, first_index = np.unique(item_ids, return_index=True)
    if len(unique) < len(item_ids):
        seen = np.zeros(len(item_ids), dtype=bool)
        seen[first_index] = True
        i = int(np.argmin(seen))
        raise DataFormatError(f"{name} line {first_line + i}: item id {item_ids[i]} appears twice")
    return dict(zip(item_ids.tolist(), titles))


def parse_grouplens(data: bytes, items: bytes, *, data_name: str = "u.data",
                    items_name: str = "u.item") -> Ratings:
    """Parse the GroupLens layout from bytes.

    Parameters
    ----------
    data : bytes
        Contents of ``u.data``: ``user<TAB>item<TAB>rating<TAB>timestamp`` per line.
    items : bytes
        Contents of ``u.item`` (latin-1): ``id|title|...`` per line (at least
        two fields; the real file has 24).
    data_name, items_name : str
        Names used in error messages.

    Returns
    -------
    Ratings
        N rows in file order.

    Raises
    ------
    DataFormatError
        Naming the file and line of the first malformed line.
    """
    rows = _split_rows(_decode_lines(data, data_name, "latin-1"), "\t", data_name, 1, 4)
    columns = list(zip(*rows)) if rows else [[], [], [], []]
    table = _ratings_table(*map(list, columns), name=data_name, first_line=1)
    item_rows = _split_rows(_decode_lines(items, items_name, "latin-1"), "|", items_name, 1, 2,
                            at_least=True)
    titles = _titles([r[0] for r in item_rows], [r[1] for r in item_rows], items_name, 1)
    return Ratings(*table, titles=titles)


def _header(lines: list[str], name: str) -> dict[str, int]:
    """Column name -> index from a typed header such as ``user_id:token``."""
    if not lines:
        raise DataFormatError(f"{name} line 1: missing header line")
    return {field.split(":", 1)[0].strip(): i for i, field in enumerate(lines[0].split("\t"))}


def _column(header: dict[str, int], wanted: Sequence[str], name: str) -> int:
    for column in wanted:
        if column in header:
            return header[column]
    raise DataFormatError(f"{name} line 1: header has no {' or '.join(map(repr, wanted))} column; "
                          f"columns are {', '.join(header)}")


def parse_atomic(inter: bytes, items: bytes, *, inter_name: str = "ml-100k.inter",
                 items_name: str = "ml-100k.item") -> Ratings:
    """Parse the atomic (RecBole) layout from bytes.

    Parameters
    ----------
    inter : bytes
        UTF-8, tab-separated, header with ``user_id``, ``item_id``, ``rating``
        and ``timestamp`` columns (any order, typed as ``name:type``).
    items : bytes
        UTF-8, tab-separated, header with ``item_id`` and a title column
        (``movie_title`` or ``title``).
    inter_name, items_name : str
        Names used in error messages.

    Returns
    -------
    Ratings
        N rows in file order. Ratings and timestamps written as floats
        (``3.0``) are accepted; timestamps must be whole numbers.

    Raises
    ------
    DataFormatError
        Naming the file and line of the first malformed line.
    """
    lines = _decode_lines(inter, inter_name, "utf-8")
    header = _header(lines, inter_name)
    wanted = [_column(header, (c,), inter_name) for c in ("user_id", "item_id", "rating", "timestamp")]
    rows = _split_rows(lines[1:], "\t", inter_name, 2, len(header))
    table = _ratings_table(*([row[c] for row in rows] for c in wanted), name=inter_name, first_line=2)

    item_lines = _decode_lines(items, items_name, "utf-8")
    item_header = _header(item_lines, items_name)
    id_col = _column(item_header, ("item_id",), items_name)
    title_col = _column(item_header, TITLE_COLUMNS, items_name)
    item_rows = _split_rows(item_lines[1:], "\t", items_name, 2, len(item_header))
    titles = _titles([r[id_col] for r in item_rows], [r[title_col] for r in item_rows], items_name, 2)
    return Ratings(*table, titles=titles)


# --------------------------------------------------------------------------
# Raw files from folders and zips
# --------------------------------------------------------------------------

Layout = Literal["grouplens", "atomic"]


@dataclass(frozen=True)
class RawFiles:
    """The two files of one data set, as bytes, before parsing.

    Parameters
    ----------
    layout : {"grouplens", "atomic"}
    ratings, items : bytes
        ``u.data``/``u.item`` or ``*.inter``/``*.item`` contents.
    ratings_name, items_name : str
        Where the bytes came from, for error messages.
    """

    layout: Layout
    ratings: bytes
    items: bytes
    ratings_name: str
    items_name: str

    def parse(self) -> Ratings:
        """Parse with the parser of ``layout``."""
        if self.layout == "grouplens":
            return parse_grouplens(self.ratings, self.items, data_name=self.ratings_name,
                                   items_name=self.items_name)
        if self.layout == "atomic":
            return parse_atomic(self.ratings, self.items, inter_name=self.ratings_name,
                                items_name=self.items_name)
        raise ValueError(f"RawFiles.layout: expected 'grouplens' or 'atomic', got {self.layout!r}")


def _locate(names: Iterable[str], where: str) -> tuple[Layout, str, str]:
    """Find the data files among POSIX relative ``names``.

    GroupLens (``u.data`` next to ``u.item``) wins over atomic (``X.inter``
    next to ``X.item``); among several, the shallowest then alphabetical first.
    """
    available = set(names)
    candidates: list[tuple[int, int, str, str, str]] = []
    for name in available:
        path = PurePosixPath(name)
        if path.name == "u.data":
            pair = str(path.with_name("u.item"))
            rank = 0
        elif path.suffix == ".inter":
            pair = str(path.with_suffix(".item"))
            rank = 1
        else:
            continue
        if pair in available:
            candidates.append((rank, len(path.parts), name, pair, ("grouplens", "atomic")[rank]))
    if not candidates:
        raise FileNotFoundError(f"{where}: found neither u.data + u.item (GroupLens layout) "
                                f"nor X.inter + X.item (atomic layout)")
    _, _, ratings_name, items_name, layout = min(candidates)
    return layout, ratings_name, items_name  # type: ignore[return-value]


def _raw_from_zip(archive: zipfile.ZipFile, label: str, members: tuple[Layout, str, str] | None = None
                  ) -> RawFiles:
    layout, ratings_member, items_member = members or _locate(archive.namelist(), label)
    return RawFiles(layout, archive.read(ratings_member), archive.read(items_member),
                    f"{label}:{ratings_member}", f"{label}:{items_member}")


def _raw_from_folder(folder: Path) -> RawFiles:
    # The folder itself and its direct subfolders (so both ".../ml-100k" and
    # its parent work) -- not a full walk, the folder may be large.
    names = [p.relative_to(folder).as_posix()
             for pattern in ("*", "*/*") for p in folder.glob(pattern) if p.is_file()]
    layout, ratings_name, items_name = _locate(names, str(folder))
    ratings_path, items_path = folder / ratings_name, folder / items_name
    return RawFiles(layout, ratings_path.read_bytes(), items_path.read_bytes(),
                    str(ratings_path), str(items_path))


def read_raw(path: str | os.PathLike) -> RawFiles:
    """Raw files from a folder (GroupLens or atomic layout, at its top or one
    level down) or from a zip file such as ``ml-100k.zip``."""
    path = Path(path)
    if path.is_dir():
        return _raw_from_folder(path)
    if path.is_file() and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            return _raw_from_zip(archive, str(path))
    raise FileNotFoundError(f"{path}: expected a folder or a zip file holding MovieLens data")


def read_grouplens(folder: str | os.PathLike) -> Ratings:
    """Read ``folder/u.data`` and ``folder/u.item`` (see :func:`parse_grouplens`)."""
    folder = Path(folder)
    data, items = folder / "u.data", folder / "u.item"
    return parse_grouplens(data.read_bytes(), items.read_bytes(), data_name=str(data),
                           items_name=str(items))


def read_atomic(inter_path: str | os.PathLike, item_path: str | os.PathLike) -> Ratings:
    """Read an atomic ``.inter`` / ``.item`` pair (see :func:`parse_atomic`)."""
    inter_path, item_path = Path(inter_path), Path(item_path)
    return parse_atomic(inter_path.read_bytes(), item_path.read_bytes(), inter_name=str(inter_path),
                        items_name=str(item_path))


def read_recbole_wheel(wheel_path: str | os.PathLike) -> RawFiles:
    """The ML-100K members of a RecBole wheel, read straight from the zip."""
    wheel_path = Path(wheel_path)
    with zipfile.ZipFile(wheel_path) as archive:
        return _raw_from_zip(archive, wheel_path.name,
                             ("atomic", RECBOLE_INTER_MEMBER, RECBOLE_ITEM_MEMBER))


def write_grouplens(ratings: Ratings, folder: str | os.PathLike) -> Path:
    """Write ``ratings`` as ``folder/u.data`` and ``folder/u.item`` (id|title).

    Whole ratings are written as integers (``3``), others with ``repr``.
    Returns ``folder``. Raises ValueError for a title that cannot be stored
    (contains ``|`` or a line break, or is not latin-1).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rating_text = [str(int(r)) if r.is_integer() else repr(r) for r in ratings.rating.tolist()]
    data_lines = [f"{u}\t{i}\t{r}\t{t}\n" for u, i, r, t in
                  zip(ratings.user.tolist(), ratings.item.tolist(), rating_text, ratings.timestamp.tolist())]
    item_lines = []
    for item_id, title in sorted(ratings.titles.items()):
        if any(c in title for c in "|\n\r"):
            raise ValueError(f"write_grouplens: title of item {item_id} contains '|' or a line break: {title!r}")
        item_lines.append(f"{item_id}|{title}\n")
    (folder / "u.data").write_text("".join(data_lines), encoding="latin-1", newline="")
    (folder / "u.item").write_text("".join(item_lines), encoding="latin-1", newline="")
    return folder


# --------------------------------------------------------------------------
# Verification
# --------------------------------------------------------------------------

def checksum(ratings: Ratings) -> str:
    """sha256 hex digest of the ratings, independent of row order.

    The digest is taken over the int64 little-endian array of rows
    ``(user, item, rating, timestamp)``, shape (N, 4), C order, sorted by
    (user, item) -- then timestamp and rating, which only matters if a
    (user, item) pair repeats. Ratings must be whole numbers.
    """
    rating = ratings.rating
    fractional = ~np.isfinite(rating) | (rating != np.round(rating))
    if fractional.any():
        i = int(np.argmax(fractional))
        raise ValueError(f"checksum: ratings must be whole numbers (stored as int64), "
                         f"got {rating[i]!r} in row {i}")
    table = np.stack([ratings.user, ratings.item, rating.astype(np.int64), ratings.timestamp], axis=1)
    order = np.lexsort((rating, ratings.timestamp, ratings.item, ratings.user))  # last key sorts first
    return hashlib.sha256(np.ascontiguousarray(table[order], dtype="<i8").tobytes()).hexdigest()


def verify(ratings: Ratings, expected_sha256: str = EXPECTED_SHA256) -> str:
    """Check :func:`checksum` against ``expected_sha256``; return the digest.

    Raises
    ------
    ChecksumError
        With the expected and received digests and the data's counts.
    """
    got = checksum(ratings)
    if got != expected_sha256:
        counts = (f"{len(ratings):,} ratings, {len(np.unique(ratings.user)):,} users, "
                  f"{len(np.unique(ratings.item)):,} items")
        note = ""
        if expected_sha256 == EXPECTED_SHA256:
            n, u, i = ML100K_COUNTS
            note = f" (MovieLens-100K has {n:,} ratings, {u:,} users, {i:,} items)"
        raise ChecksumError(f"checksum mismatch: expected sha256 {expected_sha256}, got {got}; "
                            f"the data has {counts}{note}")
    return got


def load_movielens_100k(path: str | os.PathLike, *,
                        expected_sha256: str | None = EXPECTED_SHA256) -> Ratings:
    """Load a local copy: a folder in either layout, or ``ml-100k.zip``.

    Parameters
    ----------
    path : path-like
        Folder holding ``u.data`` + ``u.item`` or ``X.inter`` + ``X.item``
        (directly or in a subfolder), or a zip file holding them.
    expected_sha256 : str or None
        Verify against this digest; None skips verification.
    """
    ratings = read_raw(path).parse()
    if expected_sha256 is not None:
        verify(ratings, expected_sha256)
    return ratings


# --------------------------------------------------------------------------
# Sources, cache and fetch
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class Source:
    """A way to obtain the raw files: ``fetch()`` returns :class:`RawFiles`."""

    name: str
    fetch: Callable[[], RawFiles]


SourceLike = Union[Source, Callable[[], RawFiles]]


def grouplens_source(url: str = GROUPLENS_URL, timeout: float = 5.0) -> Source:
    """Download the official zip (into memory) and read ``ml-100k/u.data``/``u.item``.

    The timeout is short so an unreachable host fails fast.
    """
    def fetch() -> RawFiles:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            payload = response.read()
        with zipfile.ZipFile(io.BytesIO(payload)) as archive:
            return _raw_from_zip(archive, PurePosixPath(url).name)

    return Source(f"GroupLens {url}", fetch)


def _pip_download(requirement: str, dest: Path, timeout: float) -> Path:
    """``pip download`` one wheel (no dependencies, never installed) into ``dest``."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               requirement, "-d", str(dest)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
        raise RuntimeError(f"pip download exited with status {done.returncode}: {tail}")
    wheels = sorted(dest.glob("*.whl"))
    if len(wheels) != 1:
        raise RuntimeError(f"pip download: expected one wheel in {dest}, found {[w.name for w in wheels]}")
    return wheels[0]


def recbole_wheel_source(requirement: str = RECBOLE_REQUIREMENT, timeout: float = 300.0,
                         download: Callable[[str, Path, float], Path] = _pip_download) -> Source:
    """Fetch the RecBole wheel from PyPI and read its ML-100K members.

    ``download(requirement, dest, timeout) -> wheel path`` defaults to
    ``pip download --no-deps --only-binary=:all:`` into a temporary folder
    (removed afterwards); RecBole is never installed or imported.
    """
    def fetch() -> RawFiles:
        with tempfile.TemporaryDirectory(prefix="lstm_np-wheel-") as tmp:
            return read_recbole_wheel(download(requirement, Path(tmp), timeout))

    return Source(f"PyPI wheel {requirement}", fetch)


def default_sources() -> list[Source]:
    """GroupLens first, then the RecBole wheel on PyPI."""
    return [grouplens_source(), recbole_wheel_source()]


def default_cache_dir() -> Path:
    """``$LSTM_NP_CACHE``, else ``$XDG_CACHE_HOME/lstm_np``, else ``~/.cache/lstm_np``."""
    explicit = os.environ.get("LSTM_NP_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "lstm_np"


def _log_to_stderr(message: str) -> None:
    print(f"lstm_np: {message}", file=sys.stderr)


def _as_source(source: object) -> Source:
    if isinstance(source, Source):
        return source
    if hasattr(source, "name") and callable(getattr(source, "fetch", None)):
        return Source(str(source.name), source.fetch)  # type: ignore[attr-defined]
    if callable(source):
        return Source(getattr(source, "__name__", repr(source)), source)  # type: ignore[arg-type]
    raise TypeError(f"sources: expected Source objects or callables, got {type(source).__name__}")


def _reason(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


def _store(ratings: Ratings, cache_dir: Path, log: Callable[[str], None]) -> None:
    """Write ``cache_dir/ml-100k`` atomically: build it in a temporary folder
    inside ``cache_dir`` and rename it into place, so a failure at any point
    leaves no partial files. A cache that cannot be written is only logged:
    the caller already holds verified data.
    """
    target = cache_dir / CACHE_SUBDIR
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{CACHE_SUBDIR}-partial-", dir=cache_dir))
    except OSError as error:
        log(f"could not write cache {target}: {_reason(error)}")
        return
    old = cache_dir / f"{staging.name}-old"
    try:
        write_grouplens(ratings, staging / CACHE_SUBDIR)
        _write_cache_checksums(staging / CACHE_SUBDIR)
        if target.exists():  # an invalid copy: move it aside, then swap
            os.replace(target, old)
        os.replace(staging / CACHE_SUBDIR, target)
    except (OSError, ValueError) as error:
        if old.exists() and not target.exists():
            os.replace(old, target)  # put back what was there
        log(f"could not write cache {target}: {_reason(error)}")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def _file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_cache_checksums(folder: Path) -> None:
    """Record the sha256 of each cached file in ``folder/SHA256SUMS`` (written atomically)."""
    text = "".join(f"{_file_sha256(folder / name)}  {name}\n" for name in CACHE_FILES)
    tmp = folder / f".{CACHE_CHECKSUMS}.tmp"
    tmp.write_text(text, encoding="ascii")
    os.replace(tmp, folder / CACHE_CHECKSUMS)


def _verify_cache_files(folder: Path) -> bool:
    """Check the cached files against ``SHA256SUMS``; False when there is none (a cache of
    lstm_np <= 0.1). Raises ChecksumError naming the file that changed since it was cached."""
    sums = folder / CACHE_CHECKSUMS
    if not sums.exists():
        return False
    recorded = {}
    for line in sums.read_text(encoding="ascii", errors="replace").splitlines():
        digest, _, name = line.partition("  ")
        recorded[name] = digest
    for name in CACHE_FILES:
        if name not in recorded:
            raise ChecksumError(f"{sums} has no checksum for {name}")
        got = _file_sha256(folder / name)
        if got != recorded[name]:
            raise ChecksumError(f"{folder / name} changed since it was cached "
                                f"(sha256 {got}; {CACHE_CHECKSUMS} records {recorded[name]})")
    return True


def _check_titles(ratings: Ratings, folder: Path) -> None:
    """Every rated item must have a non-empty title (an emptied u.item would not)."""
    items = np.unique(ratings.item)
    missing = [int(i) for i in items if not ratings.titles.get(int(i), "").strip()]
    if missing:
        raise ChecksumError(f"{folder / 'u.item'} lacks the titles of {len(missing)} of the {len(items)} "
                            f"rated items (e.g. item {missing[0]})")


def _unavailable_message(failures: list[tuple[str, str]], target: Path) -> str:
    tried = "\n".join(f"  - {what}: {why}" for what, why in failures)
    return (f"MovieLens-100K is not available; tried, in order:\n{tried}\n"
            f"To use a copy you already have, either put u.data and u.item (GroupLens layout) "
            f"into {target}/, or call lstm_np.data.load_movielens_100k(path) with a folder "
            f"(u.data + u.item, or ml-100k.inter + ml-100k.item) or with ml-100k.zip.")


def fetch_movielens_100k(cache_dir: str | os.PathLike | None = None, *,
                         sources: Sequence[SourceLike] | None = None,
                         expected_sha256: str = EXPECTED_SHA256,
                         log: Callable[[str], None] | None = _log_to_stderr) -> Ratings:
    """MovieLens-100K, verified, from the cache or else from the first working source.

    Parameters
    ----------
    cache_dir : path-like, optional
        Defaults to :func:`default_cache_dir`; the data lives in ``cache_dir/ml-100k``
        as ``u.data`` + ``u.item`` (GroupLens layout) with their sha256 in
        ``SHA256SUMS``; a cached file that no longer matches its checksum (or
        a u.item lacking the title of a rated item) is ignored and fetched again.
    sources : sequence of Source or callables returning RawFiles, optional
        Tried in order; defaults to :func:`default_sources` (GroupLens, then
        the ``recbole==1.2.1`` wheel from PyPI).
    expected_sha256 : str
        Digest the data must have (see :func:`checksum`).
    log : callable, optional
        Receives one line saying where the data came from; None is silent.

    Returns
    -------
    Ratings
        100,000 rows for the real data set.

    Raises
    ------
    DataUnavailableError
        Listing every place tried and why it failed, and how to use a local copy.
    """
    log = log or (lambda message: None)
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = cache_dir / CACHE_SUBDIR
    failures: list[tuple[str, str]] = []
    if target.exists():
        try:
            recorded = _verify_cache_files(target)
            ratings = load_movielens_100k(target, expected_sha256=expected_sha256)
            _check_titles(ratings, target)
        except (OSError, ValueError) as error:  # DataFormatError, ChecksumError included
            failures.append((f"cache {target}", _reason(error)))
            log(f"ignoring cache {target}: {_reason(error)}")
        else:
            if not recorded:  # written by an older lstm_np: the ratings and titles are checked; record them
                try:
                    _write_cache_checksums(target)
                    log(f"cache {target} had no checksum of u.item (an older lstm_np wrote it); "
                        f"titles checked, {CACHE_CHECKSUMS} recorded")
                except OSError as error:
                    log(f"cache {target} has no checksum of u.item and it could not be recorded: {_reason(error)}")
            log(f"MovieLens-100K from cache {target}")
            return ratings
    else:
        failures.append((f"cache {target}", "not present"))

    for source in map(_as_source, default_sources() if sources is None else sources):
        try:
            ratings = source.fetch().parse()
            verify(ratings, expected_sha256)
        except Exception as error:  # any failure means: try the next source
            failures.append((source.name, _reason(error)))
            log(f"{source.name} failed ({_reason(error)[:200]}); trying the next source")
            continue
        _store(ratings, cache_dir, log)
        log(f"MovieLens-100K from {source.name}; cached in {target}")
        return ratings
    raise DataUnavailableError(_unavailable_message(failures, target), failures)
