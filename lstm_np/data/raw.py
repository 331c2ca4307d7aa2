"""MovieLens files before and after parsing: read a folder or zip in either layout, write the GroupLens
layout, and verify the ratings against the data set's own checksum."""

from __future__ import annotations

import hashlib
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Iterable, Literal

import numpy as np

from .parsing import parse_atomic, parse_grouplens
from .ratings import ChecksumError, Ratings

__all__ = ["EXPECTED_SHA256", "RawFiles", "read_raw", "read_grouplens", "read_atomic", "read_recbole_wheel",
           "write_grouplens", "checksum", "verify", "load_movielens_100k"]

#: sha256 of MovieLens-100K as computed by :func:`checksum`.
EXPECTED_SHA256 = "ec862504a8c24b195f5194e51fb18bb2d59428d00d96d6d1c63433a3bd5f2f47"
ML100K_COUNTS = (100_000, 943, 1_682)  # ratings, users, items

RECBOLE_INTER_MEMBER = "recbole/dataset_example/ml-100k/ml-100k.inter"
RECBOLE_ITEM_MEMBER = "recbole/dataset_example/ml-100k/ml-100k.item"

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
