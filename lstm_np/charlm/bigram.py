"""The baseline: a count-based bigram model with add-k smoothing, k tuned on the training part."""

from __future__ import annotations

import numpy as np

from .._checks import as_ids
from .vocab import split_held_out

__all__ = ["BigramModel", "fit_bigram", "BIGRAM_KS"]


class BigramModel:
    """P(b | a) = (C[a, b] + k) / (sum_b' C[a, b'] + k V), from bigram counts C.

    Parameters
    ----------
    counts : (V, V) ndarray
        ``counts[a, b]`` = times character b followed character a.
    k : float > 0
        Add-k smoothing: every pair is treated as seen k more times.
    """

    def __init__(self, counts, k):
        if not k > 0:
            raise ValueError(f"k must be > 0; got {k!r}")
        self.counts = np.asarray(counts, dtype=np.float64)
        self.k = float(k)
        V = self.counts.shape[0]
        self.log2_prob = np.log2((self.counts + k) / (self.counts.sum(axis=1, keepdims=True) + k * V))

    @staticmethod
    def count(ids, V):
        """(V, V) bigram counts of an id sequence."""
        ids = as_ids("ids", ids, V)
        counts = np.zeros((V, V))
        np.add.at(counts, (ids[:-1], ids[1:]), 1.0)
        return counts

    def bpc(self, ids):
        """Mean -log2 P(ids[t] | ids[t-1]) over t = 1 .. n-1: bits per character."""
        ids = as_ids("ids", ids, self.counts.shape[0])
        return float(-self.log2_prob[ids[:-1], ids[1:]].mean())


#: Smoothing constants tried by ``fit_bigram``.
BIGRAM_KS = (1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0)


def fit_bigram(train_ids, V, ks=BIGRAM_KS, fraction=0.1):
    """The bigram model with k tuned on the last ``fraction`` of the training part.

    k is chosen by the bits per character on that validation part with
    counts from the rest; the returned model is then refitted with that k on
    all of ``train_ids``. The held-out text is never looked at.
    """
    fit_part, val_part = split_held_out(train_ids, fraction)
    counts = BigramModel.count(fit_part, V)
    best = min(ks, key=lambda k: BigramModel(counts, k).bpc(val_part))
    return BigramModel(BigramModel.count(train_ids, V), best)
