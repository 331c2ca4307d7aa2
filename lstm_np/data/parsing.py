"""Byte-level parsing of the two MovieLens layouts: the one place where file contents are validated.

Every reader (folder, zip member, downloaded bytes) ends in :func:`parse_grouplens`
or :func:`parse_atomic`, so all of them report errors as ``<file> line <n>: ...``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .ratings import DataFormatError, Ratings

__all__ = ["parse_grouplens", "parse_atomic"]

RATING_RANGE = (1.0, 5.0)
# Title columns of an atomic .item file, in order of preference.
TITLE_COLUMNS = ("movie_title", "title")

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


def _require_rows(lines: list[str], name: str, expected: str) -> None:
    """A data set has ratings: an empty file (or a header alone) is not one with none."""
    if not any(line.strip() for line in lines):
        raise DataFormatError(f"{name}: holds no ratings ({'empty' if not lines else 'blank'}); expected {expected}")


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
        Naming the file and line of the first malformed line; also for a file without any rating.
    """
    lines = _decode_lines(data, data_name, "latin-1")
    _require_rows(lines, data_name, "user<TAB>item<TAB>rating<TAB>timestamp lines")
    rows = _split_rows(lines, "\t", data_name, 1, 4)
    columns = list(zip(*rows))
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
        Naming the file and line of the first malformed line; also for a file without any rating.
    """
    lines = _decode_lines(inter, inter_name, "utf-8")
    header = _header(lines, inter_name)
    wanted = [_column(header, (c,), inter_name) for c in ("user_id", "item_id", "rating", "timestamp")]
    _require_rows(lines[1:], inter_name, "a line per rating after the header")
    rows = _split_rows(lines[1:], "\t", inter_name, 2, len(header))
    table = _ratings_table(*([row[c] for row in rows] for c in wanted), name=inter_name, first_line=2)

    item_lines = _decode_lines(items, items_name, "utf-8")
    item_header = _header(item_lines, items_name)
    id_col = _column(item_header, ("item_id",), items_name)
    title_col = _column(item_header, TITLE_COLUMNS, items_name)
    item_rows = _split_rows(item_lines[1:], "\t", items_name, 2, len(item_header))
    titles = _titles([r[id_col] for r in item_rows], [r[title_col] for r in item_rows], items_name, 2)
    return Ratings(*table, titles=titles)
