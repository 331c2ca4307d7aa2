"""Interaction sequences for next-item recommendation, and the leave-one-out split.

Next-item recommendation treats every rating as an *interaction* (implicit
feedback: the user watched the movie; the rating's value is not used) and
asks, from the items a user has interacted with so far, in order, which item
comes next.

:func:`leave_one_out` is the field's standard split for it (SASRec, BERT4Rec,
RecBole): for each user, in time order, the **last** interaction is test, the
one before it validation, and the rest train.

Order within a user. About half of the consecutive ratings of a MovieLens-100K
user share a timestamp (many were entered in one sitting), so "last" depends
on how ties are broken. ``tie_break="item"`` (the default, and the order of
:func:`~lstm_np.data.temporal_split`) orders by (timestamp, item id);
``tie_break="random"`` breaks ties by a seeded random permutation instead, to
measure how much the results depend on that choice.

:func:`sequences_from_split` builds the same structure from any per-user
time-prefix split (for example the 10 % / 10 % temporal split), so the
next-item models can be scored on it too.

This module knows nothing of the models; it depends on NumPy only.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from .ratings import Ratings
from .split import TEST, TRAIN, VAL, Split

__all__ = ["TIE_BREAKS", "Sequences", "interaction_order", "leave_one_out", "sequences_from_split"]

#: How equal timestamps of one user are ordered.
TIE_BREAKS = ("item", "random")


@dataclass(frozen=True, eq=False)
class Sequences:
    """Every user's interactions in time order, with a part label on each.

    Users and items are indexed ``0 .. U-1`` and ``0 .. I-1`` (raw ids in
    ``user_ids`` / ``item_ids``, ascending); the item vocabulary covers every
    item of the data set, so a model can score an item it has never seen
    interacted with.

    Attributes
    ----------
    user_ids : (U,) int64
    item_ids : (I,) int64
    offsets : (U + 1,) int64
        User u's interactions are entries ``offsets[u] : offsets[u + 1]``, in order.
    item : (N,) int64
        Item index of each interaction.
    time : (N,) int64
        Its timestamp (seconds).
    part : (N,) int8
        ``TRAIN``, ``VAL`` or ``TEST``; within a user always train, then
        validation, then test.
    row : (N,) int64
        Its row in the original :class:`Ratings`.
    """

    user_ids: np.ndarray
    item_ids: np.ndarray
    offsets: np.ndarray
    item: np.ndarray
    time: np.ndarray
    part: np.ndarray
    row: np.ndarray

    @property
    def num_users(self) -> int:
        return len(self.user_ids)

    @property
    def num_items(self) -> int:
        return len(self.item_ids)

    @property
    def user(self) -> np.ndarray:
        """(N,) int64 user index of each interaction."""
        return np.repeat(np.arange(self.num_users, dtype=np.int64), np.diff(self.offsets))

    def known(self, upto: int) -> np.ndarray:
        """(N,) bool: interactions in parts ``<= upto`` (``TRAIN``: train; ``VAL``: train + validation)."""
        return self.part <= upto

    def lengths(self, upto: int) -> np.ndarray:
        """(U,) int64: each user's number of interactions in parts ``<= upto``."""
        return np.bincount(self.user[self.known(upto)], minlength=self.num_users).astype(np.int64)

    def histories(self, upto: int) -> list[np.ndarray]:
        """Each user's items in parts ``<= upto``, in order: a list of U int64 arrays.

        Parts are time prefixes, so this is the first ``lengths(upto)[u]``
        items of user u.
        """
        n = self.lengths(upto)
        return [self.item[self.offsets[u] : self.offsets[u] + n[u]] for u in range(self.num_users)]

    def targets(self, part: int) -> tuple[np.ndarray, np.ndarray]:
        """The interactions of one part: ``(users, items)``, each (M,) int64, in user order.

        With leave-one-out every user has one validation and one test
        interaction; users with too few interactions have none.
        """
        where = self.part == part
        return self.user[where], self.item[where]

    def pairs(self, upto: int) -> tuple[np.ndarray, np.ndarray]:
        """``(users, items)`` of all interactions in parts ``<= upto``, each (M,) int64."""
        where = self.known(upto)
        return self.user[where], self.item[where]

    def counts(self, upto: int) -> np.ndarray:
        """(U, I) float64 interaction counts of parts ``<= upto`` (the user-item matrix X)."""
        u, i = self.pairs(upto)
        X = np.zeros((self.num_users, self.num_items))
        np.add.at(X, (u, i), 1.0)
        return X

    def user_index(self, user_id) -> int:
        """Index of raw user id ``user_id``; ``KeyError`` naming the known range if unknown."""
        k = int(np.searchsorted(self.user_ids, user_id))
        if k >= self.num_users or self.user_ids[k] != user_id:
            raise KeyError(f"user {user_id!r} is not in the data (ids run from {int(self.user_ids[0])} to "
                           f"{int(self.user_ids[-1])}, {self.num_users} users)")
        return k


def _check_tie_break(tie_break, seed):
    if tie_break not in TIE_BREAKS:
        raise ValueError(f"tie_break must be one of {TIE_BREAKS}; got {tie_break!r}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0; got {seed!r}")


def interaction_order(ratings: Ratings, tie_break: str = "item", seed: int = 0) -> np.ndarray:
    """Row indices of ``ratings`` ordered by (user, timestamp, tie-break).

    Parameters
    ----------
    ratings : Ratings
    tie_break : "item" or "random"
        Equal timestamps of a user ordered by item id, or by a random
        permutation drawn from ``numpy.random.default_rng(seed)``.
    seed : int >= 0
        Used by ``"random"`` only.

    Returns
    -------
    (N,) int64
    """
    _check_tie_break(tie_break, seed)
    if not isinstance(ratings, Ratings):
        raise TypeError(f"ratings must be a lstm_np.data.Ratings; got {type(ratings).__name__}")
    if tie_break == "item":
        last = ratings.item
    else:
        last = np.random.default_rng(seed).permutation(len(ratings.user))
    return np.lexsort((last, ratings.timestamp, ratings.user)).astype(np.int64)  # last key sorts first


def _build(ratings: Ratings, order: np.ndarray, part: np.ndarray) -> Sequences:
    user_ids, user = np.unique(ratings.user[order], return_inverse=True)
    item_ids = np.unique(ratings.item)
    item = np.searchsorted(item_ids, ratings.item[order])
    offsets = np.searchsorted(user, np.arange(len(user_ids) + 1)).astype(np.int64)
    return Sequences(user_ids.astype(np.int64), item_ids.astype(np.int64), offsets, item.astype(np.int64),
                     ratings.timestamp[order].astype(np.int64), part.astype(np.int8), order.astype(np.int64))


def leave_one_out(ratings: Ratings, *, tie_break: str = "item", seed: int = 0) -> Sequences:
    """Each user's last interaction is test, the one before it validation, the rest train.

    Parameters
    ----------
    ratings : Ratings
        Every rating counts as one interaction.
    tie_break, seed
        How equal timestamps are ordered (see :func:`interaction_order`).

    Returns
    -------
    Sequences
        A user with one interaction has only a test one, a user with two a
        validation and a test one. On MovieLens-100K (every user has at least
        20): 98,114 / 943 / 943 interactions.
    """
    order = interaction_order(ratings, tie_break, seed)
    n = len(order)
    if n == 0:
        raise ValueError("leave_one_out: no ratings")
    user = ratings.user[order]
    ends = np.r_[np.flatnonzero(user[1:] != user[:-1]) + 1, n]  # one past each user's last entry
    counts = np.diff(np.r_[0, ends])
    from_end = np.repeat(ends, counts) - 1 - np.arange(n)        # 0 for a user's last interaction
    part = np.where(from_end == 0, TEST, np.where(from_end == 1, VAL, TRAIN))
    return _build(ratings, order, part)


def sequences_from_split(ratings: Ratings, split: Split) -> Sequences:
    """The interactions of a per-user time-prefix split (e.g. ``temporal_split``) as :class:`Sequences`.

    Ordered by (user, timestamp, item id), the order ``temporal_split`` uses.

    Raises
    ------
    ValueError
        The split does not cover every rating once, or is not train, then
        validation, then test within each user in that order.
    """
    if not isinstance(ratings, Ratings) or not isinstance(split, Split):
        raise TypeError(f"need a Ratings and a Split; got {type(ratings).__name__} and {type(split).__name__}")
    labels = split.labels(len(ratings.user))
    if np.any(labels < 0) or sum(split.sizes) != len(ratings.user):
        raise ValueError("sequences_from_split: the split must hold every rating exactly once")
    order = interaction_order(ratings, "item")
    part = labels[order]
    user = ratings.user[order]
    same = user[1:] == user[:-1]
    if np.any(np.diff(part.astype(np.int64))[same] < 0):
        raise ValueError("sequences_from_split: the split is not a per-user time prefix "
                         "(train, then validation, then test)")
    return _build(ratings, order, part)
