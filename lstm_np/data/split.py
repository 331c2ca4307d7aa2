"""Per-user temporal train / validation / test split.

For each user, ratings are ordered by (timestamp, item id); the last
``ceil(frac * n)`` are test, the ``ceil(frac * n)`` before them validation,
the rest train. On MovieLens-100K with ``frac=0.1`` this gives
79,122 / 10,439 / 10,439 ratings.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .ratings import Ratings

__all__ = ["TRAIN", "VAL", "TEST", "Split", "temporal_split"]

#: Part labels used by :meth:`Split.labels`.
TRAIN, VAL, TEST = 0, 1, 2


@dataclass(frozen=True, eq=False)
class Split:
    """Index arrays into the rows of a :class:`~lstm_np.data.Ratings`.

    Parameters
    ----------
    train, val, test : ndarray, shape (N_train,), (N_val,), (N_test,), int64
        Row indices, each ordered by (user, timestamp, item).
    """

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray

    def __post_init__(self) -> None:
        for name in ("train", "val", "test"):
            index = getattr(self, name)
            if not isinstance(index, np.ndarray) or index.ndim != 1 or index.dtype != np.int64:
                got = f"{index.dtype} array of shape {index.shape}" if isinstance(index, np.ndarray) \
                    else type(index).__name__
                raise TypeError(f"Split.{name}: expected a 1-D int64 array, got {got}")

    @property
    def sizes(self) -> tuple[int, int, int]:
        """(n_train, n_val, n_test)."""
        return len(self.train), len(self.val), len(self.test)

    def labels(self, n_ratings: int) -> np.ndarray:
        """Part of each rating: shape (n_ratings,), int8, TRAIN / VAL / TEST, -1 if in none."""
        labels = np.full(n_ratings, -1, dtype=np.int8)
        for part, index in ((TRAIN, self.train), (VAL, self.val), (TEST, self.test)):
            labels[index] = part
        return labels


def _ceil_frac(counts: np.ndarray, frac: float) -> np.ndarray:
    """``ceil(frac * counts)`` exactly, for the decimal value the caller wrote.

    In floating point ``0.14 * 50`` is ``7.000000000000001``, whose ceiling
    would move a whole extra rating; so use ``repr(frac)`` as an exact fraction.
    """
    exact = Fraction(repr(float(frac))).limit_denominator(10**6)
    return -((-counts * exact.numerator) // exact.denominator)


def temporal_split(ratings: Ratings, frac: float = 0.1) -> Split:
    """Split each user's ratings by time: train, then validation, then test.

    Parameters
    ----------
    ratings : Ratings
        N ratings; only ``user``, ``item`` and ``timestamp`` are used.
    frac : float
        Fraction of each user's ratings for test and, again, for validation;
        0 < frac < 0.5.

    Returns
    -------
    Split
        Every row index in exactly one part.

    Notes
    -----
    A user's ratings are ordered by (timestamp, item id as an integer), so
    equal timestamps are broken by item id (item 9 before item 10). With n
    ratings, ``n_test = ceil(frac * n)`` and ``n_val = ceil(frac * n)``, but
    test is filled first and validation only from what remains, so train is
    never negative: n = 1 gives 0/0/1, n = 2 gives 0/1/1, n = 3 gives 1/1/1,
    n = 10 gives 8/1/1, n = 11 gives 7/2/2.
    """
    if not isinstance(ratings, Ratings):
        raise TypeError(f"temporal_split: ratings must be a Ratings; got {type(ratings).__name__}")
    if isinstance(frac, bool) or not isinstance(frac, numbers.Real):
        raise TypeError(f"temporal_split: frac must be a number in (0, 0.5), got {type(frac).__name__} {frac!r}")
    if not 0 < frac < 0.5:
        raise ValueError(f"temporal_split: frac must be a number in (0, 0.5), got {frac!r}")
    n = len(ratings.user)
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Split(empty, empty.copy(), empty.copy())

    order = np.lexsort((ratings.item, ratings.timestamp, ratings.user))  # last key sorts first
    sorted_users = ratings.user[order]
    starts = np.flatnonzero(np.r_[True, sorted_users[1:] != sorted_users[:-1]])
    counts = np.diff(np.r_[starts, n])
    n_test = np.minimum(_ceil_frac(counts, frac), counts)
    n_val = np.minimum(_ceil_frac(counts, frac), counts - n_test)

    # For each sorted row: how many of its user's ratings come after it.
    from_end = np.repeat(starts + counts, counts) - 1 - np.arange(n)
    is_test = from_end < np.repeat(n_test, counts)
    is_val = ~is_test & (from_end < np.repeat(n_test + n_val, counts))
    is_train = ~is_test & ~is_val
    # Boolean selection keeps the (user, timestamp, item) order of ``order``.
    return Split(order[is_train].astype(np.int64), order[is_val].astype(np.int64),
                 order[is_test].astype(np.int64))
