"""Users' rating histories as padded (B, T) batches for the sequence model.

Each user's ratings are ordered in time (the order of ``temporal_split``)
and labelled train, validation or test; the labels form a prefix structure
(train, then validation, then test), so "the user's history up to a part" is
always a prefix of the sequence.

The information rule lives here, in one place: when a batch is built to
score a part (validation or test), the model sees the identities of all the
items up to and including that part, but the *ratings* only of earlier
parts. A rating it is asked to predict, or any later one, never enters an
input array.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data import TEST, TRAIN, VAL, Ratings, Split

__all__ = ["UNKNOWN_ITEM", "UserSequences", "Batch", "build_sequences", "make_batch"]

#: Index of the shared "item never seen in training" embedding row.
UNKNOWN_ITEM = 0


@dataclass(frozen=True, eq=False)
class UserSequences:
    """All users' time-ordered ratings as flat arrays with per-user offsets.

    Attributes
    ----------
    user_ids : (U,) int64
        Raw user id of each user index.
    item_ids : (I,) int64
        Raw item id of each item index; index 0 (``UNKNOWN_ITEM``) is the
        shared row for items with no training rating, and holds id -1.
    offsets : (U + 1,) int64
        User u's ratings are rows ``offsets[u]:offsets[u + 1]``.
    item : (N,) int64
        Item index of each rating (0 for items unseen in training).
    rating : (N,) float64
    part : (N,) int8
        TRAIN, VAL or TEST.
    row : (N,) int64
        Row of each rating in the original ``Ratings``.
    """

    user_ids: np.ndarray
    item_ids: np.ndarray
    offsets: np.ndarray
    item: np.ndarray
    rating: np.ndarray
    part: np.ndarray
    row: np.ndarray

    @property
    def num_users(self):
        return len(self.user_ids)

    @property
    def num_items(self):
        return len(self.item_ids)

    def lengths(self, upto=TEST):
        """(U,) number of each user's ratings in parts <= ``upto``."""
        counts = np.zeros(self.num_users, dtype=np.int64)
        user = np.repeat(np.arange(self.num_users), np.diff(self.offsets))
        np.add.at(counts, user[self.part <= upto], 1)
        return counts

    def item_index(self, raw_ids):
        """Item indices of raw item ids (0 for ids without a training rating)."""
        raw_ids = np.asarray(raw_ids, dtype=np.int64)
        pos = np.searchsorted(self.item_ids[1:], raw_ids)
        pos = np.minimum(pos, len(self.item_ids) - 2)
        found = self.item_ids[1:][pos] == raw_ids
        return np.where(found, pos + 1, UNKNOWN_ITEM)


def build_sequences(ratings: Ratings, split: Split) -> UserSequences:
    """Order every rating by (user, timestamp, item) and label its part.

    Items are indexed by the training ratings alone, so an item first seen in
    validation or test maps to ``UNKNOWN_ITEM``, exactly as a new item would.
    """
    rows = np.concatenate([split.train, split.val, split.test])
    part = np.concatenate(
        [np.full(len(p), k, np.int8) for k, p in ((TRAIN, split.train), (VAL, split.val), (TEST, split.test))]
    )
    order = np.lexsort((ratings.item[rows], ratings.timestamp[rows], ratings.user[rows]))
    rows, part = rows[order], part[order]
    user_ids, user = np.unique(ratings.user[rows], return_inverse=True)
    offsets = np.searchsorted(user, np.arange(len(user_ids) + 1))
    item_ids = np.concatenate([[-1], np.unique(ratings.item[split.train])])
    seqs = UserSequences(
        user_ids=user_ids,
        item_ids=item_ids,
        offsets=offsets.astype(np.int64),
        item=np.zeros(len(rows), np.int64),
        rating=ratings.rating[rows].astype(np.float64),
        part=part,
        row=rows.astype(np.int64),
    )
    seqs.item[:] = seqs.item_index(ratings.item[rows])
    if np.any(np.diff(part.astype(int))[np.diff(user) == 0] < 0):
        raise ValueError("split is not a per-user time prefix: train, then validation, then test")
    return seqs


@dataclass(frozen=True, eq=False)
class Batch:
    """One padded batch, all arrays (B, T) except ``users`` (B,).

    Attributes
    ----------
    users : user indices
    items : item index at each step (0 at padding)
    prev_rating : previous step's rating minus the mean, 0 where unknown
    prev_known : 1.0 where the previous step's rating is an input, else 0.0
    target : the rating at each step (0 where not scored)
    step_mask : 1 for the steps the model reads
    score_mask : 1 for the steps whose rating is predicted and scored
    rows : row in the original ``Ratings`` of each step (-1 at padding)
    """

    users: np.ndarray
    items: np.ndarray
    prev_rating: np.ndarray
    prev_known: np.ndarray
    target: np.ndarray
    step_mask: np.ndarray
    score_mask: np.ndarray
    rows: np.ndarray


def make_batch(seqs: UserSequences, users, score: int, mean: float, hide=None, dtype=np.float64) -> Batch:
    """A padded batch that scores part ``score`` of each user in ``users``.

    The model reads each user's items up to and including part ``score``;
    ratings are inputs only for parts before ``score`` (for ``score=TRAIN``:
    all training ratings, teacher forcing, except the last ``hide[b]`` of
    them, which are scored without their predecessors' feedback, like a
    held-out stretch).

    Parameters
    ----------
    seqs : UserSequences
    users : (B,) int
        User indices.
    score : TRAIN, VAL or TEST
    mean : float
        Subtracted from the ratings fed back as input.
    hide : (B,) int, optional
        For ``score=TRAIN``: how many of the last training ratings to hide.
    dtype : float dtype of the float arrays

    Returns
    -------
    Batch
    """
    users = np.asarray(users, dtype=np.int64)
    start = seqs.offsets[users]
    length = seqs.lengths(score)[users]
    n_before = seqs.lengths(score - 1)[users] if score > TRAIN else length - (0 if hide is None else np.asarray(hide))
    B, T = len(users), int(length.max())
    t = np.arange(T)[None, :]
    valid = t < length[:, None]
    idx = np.where(valid, start[:, None] + t, 0)

    items = np.where(valid, seqs.item[idx], UNKNOWN_ITEM)
    rating = np.where(valid, seqs.rating[idx], 0.0)
    known = (t < n_before[:, None]) & valid  # this step's rating may be an input to the next step
    scored = valid & (t >= (n_before[:, None] if score > TRAIN else 0))
    prev_known = np.zeros((B, T), dtype=bool)
    prev_known[:, 1:] = known[:, :-1]
    prev_rating = np.zeros((B, T))
    prev_rating[:, 1:] = np.where(known[:, :-1], rating[:, :-1] - mean, 0.0)
    return Batch(
        users=users,
        items=items,
        prev_rating=prev_rating.astype(dtype),
        prev_known=prev_known.astype(dtype),
        target=np.where(scored, rating, 0.0).astype(dtype),
        step_mask=valid.astype(dtype),
        score_mask=scored.astype(dtype),
        rows=np.where(valid, seqs.row[idx], -1),
    )
