"""The in-memory data set (``Ratings``: int64/float64 arrays of shape (N,)) and the data layer's errors."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Ratings", "DataFormatError", "ChecksumError", "DataUnavailableError"]


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
