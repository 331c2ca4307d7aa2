"""Baselines on the same split: the global mean, and mu + b_user + b_item.

The bias model minimises

    sum over training ratings (r - mu - b_u - b_i)^2 + lam * (sum b_u^2 + sum b_i^2)

by alternating exact least-squares updates (each is a per-user or per-item
average of residuals, shrunk by lam), with lam chosen on validation.
"""

from __future__ import annotations

import numpy as np

__all__ = ["rmse", "mae", "GlobalMean", "BiasModel", "fit_bias_model"]

REG_GRID = (0.0, 1.0, 2.0, 3.0, 5.0, 8.0, 12.0, 20.0, 35.0, 60.0)


def rmse(pred, target):
    """Root mean squared error of predictions clipped to [1, 5]."""
    return float(np.sqrt(np.mean((np.clip(pred, 1.0, 5.0) - target) ** 2)))


def mae(pred, target):
    """Mean absolute error of predictions clipped to [1, 5]."""
    return float(np.mean(np.abs(np.clip(pred, 1.0, 5.0) - target)))


class GlobalMean:
    """Predicts the mean training rating for everything."""

    def __init__(self, rating):
        self.mu = float(np.mean(rating))

    def predict(self, user, item):
        return np.full(len(user), self.mu)


class BiasModel:
    """r_hat = mu + b_user + b_item; unknown users or items get a zero bias.

    Parameters
    ----------
    user, item : (N,) int64 raw ids of the training ratings
    rating : (N,) float
    reg : float
        lam, the shrinkage of each bias toward zero.
    iters : int
        Alternating updates (converges in a few).
    """

    def __init__(self, user, item, rating, reg=5.0, iters=15):
        self.reg = float(reg)
        self.users, u = np.unique(user, return_inverse=True)
        self.items, i = np.unique(item, return_inverse=True)
        self.mu = float(np.mean(rating))
        bu, bi = np.zeros(len(self.users)), np.zeros(len(self.items))
        n_u = np.bincount(u, minlength=len(self.users))
        n_i = np.bincount(i, minlength=len(self.items))
        for _ in range(iters):
            bi = np.bincount(i, rating - self.mu - bu[u], len(self.items)) / (n_i + self.reg)
            bu = np.bincount(u, rating - self.mu - bi[i], len(self.users)) / (n_u + self.reg)
        self.b_user, self.b_item = bu, bi

    def _lookup(self, ids, known, bias):
        pos = np.clip(np.searchsorted(known, ids), 0, len(known) - 1)
        return np.where(known[pos] == ids, bias[pos], 0.0)

    def predict(self, user, item):
        return self.mu + self._lookup(user, self.users, self.b_user) + self._lookup(item, self.items, self.b_item)


def fit_bias_model(train, val, grid=REG_GRID):
    """Fit the bias model on ``train`` with the lam from ``grid`` best on ``val``.

    Parameters
    ----------
    train, val : tuple of (user, item, rating) arrays

    Returns
    -------
    model : BiasModel
    val_rmse : dict of lam -> validation RMSE
    """
    scores = {}
    for reg in grid:
        m = BiasModel(*train, reg=reg)
        scores[reg] = rmse(m.predict(val[0], val[1]), val[2])
    best = min(scores, key=scores.get)
    return BiasModel(*train, reg=best), scores
