"""What every ranking baseline shares: the interface, the argument checks, the 0/1 history matrix.

``ranking_baselines`` (popularity, item-kNN, transitions, EASE) and
``bprmf`` (BPR-MF) build on it. Each model subclasses ``RankingModel``::

    model.fit(seqs, upto, rng=None, val=None)    # upto: TRAIN or VAL (train + validation)
    model.score(users, histories)                # (n, I) float64, higher = more likely next

and checks its arguments with the helpers here before it changes anything.
"""

from __future__ import annotations

import numbers

import numpy as np

from .._checks import check_sizes
from ..data.sequences import Sequences
from ..data.split import TRAIN, VAL
from .ranking import check_histories

__all__ = ["RankingModel", "history_matrix"]


def history_matrix(histories, num_items):
    """(n, I) float64 0/1 matrix: row k has a 1 at every item of ``histories[k]``.

    Parameters
    ----------
    histories : list of n int arrays
        Item indices in [0, I); an item that occurs twice still gives a 1.
    num_items : int

    Raises
    ------
    TypeError, ValueError
        As ``ranking.check_histories``: not a list, a history that is not
        1-D integers, or an item outside [0, I).
    """
    arrays = check_histories(histories, num_items)
    H = np.zeros((len(arrays), num_items))
    rows = np.repeat(np.arange(len(arrays)), [len(h) for h in arrays])
    H[rows, np.concatenate(arrays) if arrays else np.zeros(0, np.int64)] = 1.0
    return H


def _check_score_args(users, histories, num_items, num_users=None):
    """The checked ``(users, histories)`` of ``score``: (n,) int64 and n int64 arrays (``check_histories``)."""
    H = check_histories(histories, num_items)
    users = np.asarray(users)
    if users.shape != (len(H),) or (users.size and not np.issubdtype(users.dtype, np.integer)):
        raise ValueError(f"users must be (n,) = ({len(H)},) integer user indices, one per history; got "
                         f"{users.dtype} of shape {users.shape}")
    users = users.astype(np.int64)
    if num_users is not None and users.size and (users.min() < 0 or users.max() >= num_users):
        raise ValueError(f"users must lie in [0, {num_users}) (the users seen by fit); got "
                         f"{users.min()} .. {users.max()}")
    return users, H


def _check_fit_args(model, seqs, upto):
    if not isinstance(seqs, Sequences):
        raise ValueError(f"seqs must be a Sequences (from leave_one_out); got {type(seqs).__name__}")
    if seqs.num_items != model.num_items:
        raise ValueError(f"seqs has {seqs.num_items} items; this {model.name} model was made for "
                         f"num_items = {model.num_items}")
    if isinstance(upto, bool) or upto not in (TRAIN, VAL):
        raise ValueError(f"upto must be TRAIN ({TRAIN}) or VAL ({VAL}); got {upto!r} (fitting on the test part "
                         f"would leak it)")


def _check_int(name, v, low):
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral) or v < low:
        raise ValueError(f"{name} must be an integer >= {low}; got {v!r}")
    return int(v)


def _binary(seqs, upto):
    """X: (U, I) float64, 1 where the user has the item in parts <= upto."""
    return (seqs.counts(upto) > 0).astype(np.float64)


def _popularity(seqs, upto, num_items):
    """pop: (I,) float64 interaction counts in parts <= upto."""
    return np.bincount(seqs.pairs(upto)[1], minlength=num_items).astype(np.float64)


class RankingModel:
    """The base of every ranking baseline: ``num_items``, ``epochs_`` (None for closed-form models), fitted-or-not."""

    name = ""

    def __init__(self, num_items):
        check_sizes(num_items=num_items)
        self.num_items = int(num_items)
        self.epochs_ = None
        self._fitted = False

    def _check_fitted(self):
        if not self._fitted:
            raise RuntimeError(f"this {self.name} model is not fitted; call fit(seqs, upto) first")

    def __repr__(self):
        args = ", ".join(f"{k}={getattr(self, k)!r}" for k in self._setting)
        return f"{type(self).__name__}({self.num_items}{', ' if args else ''}{args})"

    _setting: tuple = ()
