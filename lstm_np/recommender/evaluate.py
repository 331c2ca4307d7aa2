"""Scoring a held-out part, and recommending unseen items."""

from __future__ import annotations

import numpy as np

from ..data import TEST
from .baselines import mae, rmse
from .sequences import Batch, UserSequences, make_batch

__all__ = ["predict_part", "evaluate_part", "recommend"]


def predict_part(model, seqs: UserSequences, part, batch_size=256):
    """Predictions for every rating of ``part`` (VAL or TEST) under the information rule.

    Each user's sequence is read up to the end of ``part``; ratings of
    ``part`` itself are never inputs (``make_batch``).

    Returns
    -------
    rows : (N,) int64
        Rows of the original ``Ratings``.
    pred : (N,) float64
        Predictions clipped to [1, 5].
    target : (N,) float64
    """
    lengths = seqs.lengths(part) - seqs.lengths(part - 1)
    users = np.flatnonzero(lengths > 0)
    users = users[np.argsort(seqs.lengths(part)[users], kind="stable")]
    rows, preds, targets = [], [], []
    for k in range(0, len(users), batch_size):
        batch = make_batch(seqs, users[k : k + batch_size], part, model.mean, dtype=model.dtype)
        pred = model.predict(batch)
        scored = batch.score_mask > 0
        rows.append(batch.rows[scored])
        preds.append(pred[scored].astype(np.float64))
        targets.append(batch.target[scored].astype(np.float64))
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0), np.zeros(0)
    return np.concatenate(rows), np.concatenate(preds), np.concatenate(targets)


def evaluate_part(model, seqs, part, batch_size=256):
    """RMSE, MAE and count of the predictions for ``part``."""
    _, pred, target = predict_part(model, seqs, part, batch_size)
    return {"rmse": rmse(pred, target), "mae": mae(pred, target), "n": int(len(pred))}


def recommend(model, seqs: UserSequences, user, top=10, exclude_rated=True):
    """The ``top`` items with the highest predicted rating for one user.

    The LSTM reads the user's whole history (every part, all ratings known);
    each candidate item j is then scored as the next step, from that final
    state with input [E[j], r_last - mu, 1].

    Parameters
    ----------
    user : int
        User index (not the raw id).
    top : int
    exclude_rated : bool
        Leave out the items the user has rated.

    Returns
    -------
    items : (top,) int64 item indices, best first
    scores : (top,) float64 predicted ratings (clipped to [1, 5])
    """
    if top < 1:
        raise ValueError(f"top must be a positive integer; got {top}")
    length = int(np.diff(seqs.offsets)[user])
    history = make_batch(seqs, [user], TEST, model.mean, hide=None, dtype=model.dtype)
    # all of the history is known now: feed every rating back
    known = np.zeros_like(history.prev_known)
    known[:, 1:length] = 1.0
    prev = np.zeros_like(history.prev_rating)
    rating = seqs.rating[seqs.offsets[user] : seqs.offsets[user + 1]]
    prev[:, 1:length] = rating[:-1] - model.mean
    history = Batch(history.users, history.items, prev, known, history.target, history.step_mask,
                    history.score_mask, history.rows)
    _, cache = model.forward(history)
    state = cache[-1]  # (h, c) for the LSTM, h for the others

    candidates = np.arange(1, seqs.num_items)  # every known item (not the unknown row)
    if exclude_rated:
        rated = seqs.item[seqs.offsets[user] : seqs.offsets[user + 1]]
        candidates = np.setdiff1d(candidates, rated)
    n = len(candidates)
    dt = model.dtype
    step = Batch(
        users=np.full(n, user),
        items=candidates[:, None],
        prev_rating=np.full((n, 1), rating[-1] - model.mean, dt),
        prev_known=np.ones((n, 1), dt),
        target=np.zeros((n, 1), dt),
        step_mask=np.ones((n, 1), dt),
        score_mask=np.ones((n, 1), dt),
        rows=np.full((n, 1), -1),
    )
    if isinstance(state, tuple):
        state = tuple(np.repeat(s, n, axis=0) for s in state)
    else:
        state = np.repeat(state, n, axis=0)
    scores = np.clip(model.forward(step, state)[0][:, 0], 1.0, 5.0)
    best = np.argsort(-scores, kind="stable")[:top]
    return candidates[best], scores[best].astype(np.float64)
