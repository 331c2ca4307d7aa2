"""Ranking metrics for top-N recommendation: every item ranked, ties broken against the model.

A next-item model gives a score to every item; the item the user actually
interacted with next (the *target*) gets a rank among them. With ``s`` the
scores and ``t`` the target::

    rank = 1 + #{ j != t, j not excluded : s_j >= s_t }

so an item tied with the target ranks **above** it: a model that scores
everything alike (a constant) ranks the target last, and gets no credit for
the luck of an index order. ``exclude`` removes items from the ranking (the
items the user has already interacted with: nobody rates a movie twice in
MovieLens); the target itself is never removed.

From the rank, for a cut-off K, averaged over users:

* HR@K (hit rate): 1 if rank <= K;
* NDCG@K: 1 / log2(rank + 1) if rank <= K (one relevant item, so the ideal DCG is 1);
* MRR@K: 1 / rank if rank <= K.

With several relevant items per user (the temporal split's last 10 %),
:func:`top_n_metrics` scores a top-N list: the share of users with at least
one relevant item in it, recall@N and NDCG@N, the list again ordered with
ties broken against the model (among equal scores, relevant items last).
"""

from __future__ import annotations

import numpy as np

__all__ = ["KS", "check_histories", "target_ranks", "ranking_metrics", "pessimistic_top", "top_n_metrics", "exclusion_mask"]

#: The cut-offs reported.
KS = (5, 10, 20)


def _scores(scores):
    scores = np.asarray(scores)
    if scores.ndim != 2 or not np.issubdtype(scores.dtype, np.floating) and not np.issubdtype(scores.dtype,
                                                                                                np.integer):
        raise ValueError(f"scores must be a real (n, I) array; got {scores.dtype} of shape {scores.shape}")
    if np.isnan(scores).any():
        raise ValueError("scores contain NaN: a model that cannot score an item must say so, not rank it at random")
    return scores


def _positive_int(name, v):
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or v < 1:
        raise ValueError(f"{name} must be a positive integer; got {v!r}")
    return int(v)


def _bool_matrix(name, a, shape):
    a = np.asarray(a)
    if a.dtype != bool or a.shape != shape:
        raise ValueError(f"{name} must be a bool array of shape {shape}; got {a.dtype} of shape {a.shape}")
    return a


def check_histories(histories, num_items, name="histories"):
    """Users' histories as a list of 1-D int64 arrays of item indices in [0, num_items), each checked.

    Every model that reads histories checks them here, so nothing is cast
    from floats or text and an index out of range is named.

    Raises
    ------
    TypeError
        ``histories`` is not a list (or tuple, or 2-D array) of sequences.
    ValueError
        A history that is not 1-D integers, or an item outside [0, num_items).
    """
    num_items = _positive_int("num_items", num_items)
    if isinstance(histories, np.ndarray) and histories.ndim == 2:
        histories = list(histories)
    if not isinstance(histories, (list, tuple)):
        raise TypeError(f"{name} must be a list of item-index sequences; got {type(histories).__name__}")
    out = []
    for k, h in enumerate(histories):
        h = np.asarray(h)
        if h.size == 0:
            h = h.astype(np.int64).reshape(0)
        if h.ndim != 1 or not np.issubdtype(h.dtype, np.integer):
            raise ValueError(f"{name}[{k}] must be a 1-D array of integer item indices; got {h.dtype} of shape "
                             f"{h.shape}")
        if h.size and (h.min() < 0 or h.max() >= num_items):
            raise ValueError(f"{name}[{k}] has item {int(h[(h < 0) | (h >= num_items)][0])}; expected items in "
                             f"[0, {num_items})")
        out.append(h.astype(np.int64, copy=False))
    return out


def exclusion_mask(histories, num_items):
    """(n, I) bool: True for the items in each user's history (a list of item-index arrays in [0, I))."""
    histories = check_histories(histories, num_items)
    mask = np.zeros((len(histories), num_items), dtype=bool)
    for k, h in enumerate(histories):
        mask[k, h] = True
    return mask


def target_ranks(scores, targets, exclude=None):
    """The rank of each target among all items, ties counted against the model.

    Parameters
    ----------
    scores : (n, I) array
        One row per user; higher is better. NaN is refused; ``-inf`` is a
        valid score (ranks below every finite one, ties with other ``-inf``).
    targets : (n,) int
        The target item of each row, in [0, I).
    exclude : (n, I) bool array, optional
        Items removed from the ranking (the target never is).

    Returns
    -------
    (n,) int64
        1-based ranks: 1 + the number of other, not excluded items scoring
        at least as high as the target.
    """
    scores = _scores(scores)
    n, I = scores.shape
    targets = np.asarray(targets)
    if targets.shape != (n,) or not np.issubdtype(targets.dtype, np.integer):
        raise ValueError(f"targets must be (n,) = ({n},) integers; got {targets.dtype} of shape {targets.shape}")
    if n and (targets.min() < 0 or targets.max() >= I):
        raise ValueError(f"targets must lie in [0, {I}); got {targets.min()} .. {targets.max()}")
    rows = np.arange(n)
    s_t = scores[rows, targets][:, None]
    at_least = scores >= s_t
    at_least[rows, targets] = False
    if exclude is not None:
        at_least &= ~_bool_matrix("exclude", exclude, scores.shape)
    return 1 + at_least.sum(axis=1).astype(np.int64)


def ranking_metrics(ranks, ks=KS):
    """HR@K, NDCG@K and MRR@K (means over users) from 1-based ranks.

    Returns
    -------
    dict
        ``{"HR@5": ..., "NDCG@5": ..., "MRR@5": ..., "HR@10": ..., ...}`` and
        ``"n"``, the number of users.
    """
    ranks = np.asarray(ranks)
    if ranks.ndim != 1 or len(ranks) == 0 or not np.issubdtype(ranks.dtype, np.integer) or ranks.dtype == bool \
            or ranks.min() < 1:
        raise ValueError(f"ranks must be a non-empty 1-D array of integer ranks >= 1 (target_ranks gives them); "
                         f"got {ranks.dtype} of shape {ranks.shape}")
    ks = [_positive_int("each K of ks", k) for k in ks]
    r = ranks.astype(np.float64)
    out = {}
    for k in ks:
        hit = r <= k
        out[f"HR@{k}"] = float(hit.mean())
        out[f"NDCG@{k}"] = float(np.where(hit, 1.0 / np.log2(r + 1.0), 0.0).mean())
        out[f"MRR@{k}"] = float(np.where(hit, 1.0 / r, 0.0).mean())
    out["n"] = int(len(r))
    return out


def pessimistic_top(scores, n, relevant=None, exclude=None):
    """The ``n`` best items of each row, ties broken against the model.

    Among items with equal scores the relevant ones (``relevant``, bool (m, I))
    come last and the rest by index; excluded items never appear (a row
    keeps fewer than ``n`` only if fewer are left).

    Returns
    -------
    list of (<= n,) int64 arrays
    """
    scores = _scores(scores)
    n = _positive_int("n", n)
    m, I = scores.shape
    rel = np.zeros((m, I), bool) if relevant is None else _bool_matrix("relevant", relevant, (m, I))
    exclude = None if exclude is None else _bool_matrix("exclude", exclude, (m, I))
    out = []
    for k in range(m):
        keep = np.arange(I) if exclude is None else np.flatnonzero(~exclude[k])
        order = np.lexsort((keep, rel[k, keep], -scores[k, keep]))  # score desc, then relevant last, then index
        out.append(keep[order[:n]].astype(np.int64))
    return out


def top_n_metrics(scores, relevant, n=10, exclude=None):
    """Top-``n`` list metrics when each user has a set of relevant items.

    Parameters
    ----------
    scores : (m, I) array
    relevant : (m, I) bool
        The items each user interacted with in the scored period.
    n : int
    exclude : (m, I) bool, optional
        Items not recommended (already seen).

    Returns
    -------
    dict
        ``users_with_hit`` (share with at least one relevant item in the
        list), ``recall`` (relevant items in the list / relevant items, per
        user), ``ndcg`` (DCG of the list / DCG of a list of the relevant items
        first), means over the users with at least one relevant item; ``n``
        users.
    """
    scores = _scores(scores)
    n = _positive_int("n", n)
    relevant = _bool_matrix("relevant", relevant, scores.shape)
    exclude = None if exclude is None else _bool_matrix("exclude", exclude, scores.shape)
    users = np.flatnonzero(relevant.sum(axis=1) > 0)
    if len(users) == 0:
        raise ValueError("relevant holds no item for any user; the metrics are undefined")
    scores, relevant = scores[users], relevant[users]
    exclude = None if exclude is None else exclude[users]
    tops = pessimistic_top(scores, n, relevant, exclude)
    discount = 1.0 / np.log2(np.arange(2, n + 2))
    hit, recall, ndcg = [], [], []
    for k, top in enumerate(tops):
        gains = relevant[k, top].astype(np.float64)
        n_rel = int(relevant[k].sum())
        hit.append(gains.any())
        recall.append(gains.sum() / n_rel)
        ndcg.append(float((gains * discount[: len(top)]).sum() / discount[: min(n_rel, n)].sum()))
    return {"users_with_hit": float(np.mean(hit)), "recall": float(np.mean(recall)), "ndcg": float(np.mean(ndcg)),
            "n": int(len(users))}
