"""The classic top-N / next-item baselines, each a few lines of NumPy.

Every model scores all I items for a user from the items seen so far; the
evaluation (``ranking.target_ranks``) ranks the held-out next item among
them. Five models, from the one that knows nothing about the user to the
ones that read the history:

========== ====================================================== ==========================
name       what it scores                                         fitted by
========== ====================================================== ==========================
popularity how often the item was interacted with                 counting
itemknn    similarity of the item to the items in the history     one X^T X
transition how often the item followed the history's last item    counting pairs
bprmf      p_u . q_j + b_j, trained to put seen above unseen      minibatch Adam, early stop
ease       x_u B, B the best item-to-item regression, diag(B) = 0 one I x I linear solve
========== ====================================================== ==========================

All share one interface::

    model = make(name, num_items, **setting)     # setting: one point of GRIDS[name]
    model.fit(seqs, TRAIN, rng=0, val=None)      # parts <= TRAIN (or VAL = train + validation)
    scores = model.score(users, histories)       # (n, I) float64, higher = more likely next

``fit`` sets ``epochs_`` (the epochs trained; None for the closed-form
models); an iterative model given ``val`` (a callable ``model -> float``,
higher is better) stops early on it. ``nextitem_protocol.evaluate`` scores
a part; ``nextitem_protocol.choose_and_refit`` runs a model's grid on
validation, refits and scores test once. The shared interface and checks
are in ``ranking_interface``; BPR-MF in ``bprmf``.

Symbols used throughout: X (U, I) the 0/1 user-item matrix of the fitted
parts (a user "has" an item once, however often it occurs); U_i the set of
users who have item i, so |U_i| = sum_u X[u, i]; x_u (I,) the 0/1 vector of
a history; pop (I,) the training interaction counts.

This module depends on NumPy and the project's argument checks and Adam.
"""

from __future__ import annotations

import itertools

import numpy as np

from .._checks import as_scalar, check_sizes
from .bprmf import BPRMF, bpr_gradcheck_case
from .ranking_interface import RankingModel, _binary, _check_fit_args, _check_score_args, _popularity, history_matrix

__all__ = ["Popularity", "ItemKNN", "Transition", "BPRMF", "EASE", "GRIDS", "MODELS", "make", "grid_points",
           "bpr_gradcheck_case", "history_matrix"]


# --------------------------------------------------------------------------- popularity


class Popularity(RankingModel):
    """The most interacted-with items, the same list for everyone.

    score(u, j) = pop_j        the number of training interactions of item j

    The floor every personalised model must clear: on MovieLens the popular
    films are popular because most people do watch them.
    """

    name = "popularity"

    def __init__(self, num_items):
        super().__init__(num_items)

    def fit(self, seqs, upto, *, rng=None, val=None):
        _check_fit_args(self, seqs, upto)
        self.pop = _popularity(seqs, upto, self.num_items)
        self._fitted = True
        return self

    def score(self, users, histories):
        """(n, I): ``pop`` in every row."""
        self._check_fitted()
        _, H = _check_score_args(users, histories, self.num_items)  # H: the n checked histories
        return np.tile(self.pop, (len(H), 1))


# --------------------------------------------------------------------------- item-based kNN


class ItemKNN(RankingModel):
    """Item-based nearest neighbours (Sarwar et al. 2001; Deshpande and Karypis 2004).

    Two items are similar when the same users have both; cosine over the
    columns of X, shrunk toward 0 when the evidence is thin::

        C = X^T X                                   C[i, j] = |U_i ∩ U_j|,  C[i, i] = |U_i|
        S[i, j] = C[i, j] / (sqrt(C[i, i] C[j, j]) + shrink),   S[i, i] = 0
        S[:, j] keeps its k largest entries (the k neighbours of j), the rest 0
        score(u, j) = sum_{i in history} S[i, j] = (x_u S)[j]

    Why shrink? Two films each watched by the same single user have cosine 1,
    the highest possible; ``+ shrink`` in the denominator pulls such pairs
    down far more than pairs supported by hundreds of users. Why keep k?
    Many small similarities add up to noise that drowns the few large ones.

    Parameters
    ----------
    num_items : int
    k : int >= 1
        Neighbours kept per item (all when k >= I).
    shrink : float >= 0
    """

    name = "itemknn"
    _setting = ("k", "shrink")

    def __init__(self, num_items, *, k=100, shrink=10.0):
        super().__init__(num_items)
        check_sizes(k=k)
        self.k = int(k)
        self.shrink = as_scalar("shrink", shrink, low=0)

    def fit(self, seqs, upto, *, rng=None, val=None):
        _check_fit_args(self, seqs, upto)
        X = _binary(seqs, upto)
        C = X.T @ X
        n = np.diag(C).copy()                                  # |U_i|
        denom = np.sqrt(np.outer(n, n)) + self.shrink
        S = np.divide(C, denom, out=np.zeros_like(C), where=denom > 0)  # C = 0 wherever denom = 0
        np.fill_diagonal(S, 0.0)
        if self.k < self.num_items:
            # Fast form of "keep the k largest of each column": argpartition finds them without sorting.
            top = np.argpartition(-S, self.k - 1, axis=0)[: self.k]
            S_k = np.zeros_like(S)
            np.put_along_axis(S_k, top, np.take_along_axis(S, top, axis=0), axis=0)
            S = S_k
        self.S = S
        self._fitted = True
        return self

    def score(self, users, histories):
        """(n, I) = H S, H the (n, I) 0/1 history matrix."""
        self._check_fitted()
        _, histories = _check_score_args(users, histories, self.num_items)
        H = history_matrix(histories, self.num_items)          # (n, I) 0/1
        return H @ self.S


# --------------------------------------------------------------------------- first-order Markov chain


class Transition(RankingModel):
    """A first-order Markov chain: what follows the last item?

    Count, in every user's sequence, each consecutive pair: C[i, j] = number
    of times j came right after i. The next item depends only on the last
    one, i; its probability is the row of C, smoothed toward popularity with
    a prior of weight alpha (additive, "Dirichlet" smoothing)::

        p_j = pop_j / sum_j pop_j                               the popularity distribution
        P[i, j] = (C[i, j] + alpha p_j) / (sum_j C[i, j] + alpha)
        score(u, j) = P[last item of u's history, j]            (p_j for an empty history)

    A pair seen once says little: with small alpha the counts decide and
    popularity only breaks their ties; with large alpha the model becomes
    popularity. A row i never followed by anything (sum_j C[i, j] = 0) is
    exactly p. Within one user's ranking the denominator is a constant, so
    only C[i, j] + alpha p_j orders the items: alpha changes the order of two
    items only once alpha p_j is worth a whole count (on MovieLens-100K, with
    max_j p_j = 0.006, not below alpha of about 170; hence the grid's range).

    Parameters
    ----------
    num_items : int
    alpha : float > 0
    """

    name = "transition"
    _setting = ("alpha",)

    def __init__(self, num_items, *, alpha=1.0):
        super().__init__(num_items)
        self.alpha = as_scalar("alpha", alpha, low=0, low_open=True)

    def fit(self, seqs, upto, *, rng=None, val=None):
        _check_fit_args(self, seqs, upto)
        known, user, item = seqs.known(upto), seqs.user, seqs.item
        # Interaction k -> k + 1 is a pair when both belong to one user and k + 1 is known
        # (parts are time prefixes, so then k is known too).
        follows = (user[1:] == user[:-1]) & known[1:]
        C = np.zeros((self.num_items, self.num_items))
        np.add.at(C, (item[:-1][follows], item[1:][follows]), 1.0)
        pop = _popularity(seqs, upto, self.num_items)
        self.C = C
        self.p = pop / max(pop.sum(), 1.0)  # all zeros if nothing was seen: every item ties
        self.P = (C + self.alpha * self.p) / (C.sum(axis=1, keepdims=True) + self.alpha)
        self._fitted = True
        return self

    def score(self, users, histories):
        """(n, I): row k is ``P[histories[k][-1]]``, or ``p`` if the history is empty."""
        self._check_fitted()
        _, histories = _check_score_args(users, histories, self.num_items)
        out = np.tile(self.p, (len(histories), 1))
        rows = [k for k, h in enumerate(histories) if len(h)]
        if rows:
            out[rows] = self.P[[int(histories[k][-1]) for k in rows]]
        return out


# --------------------------------------------------------------------------- EASE


class EASE(RankingModel):
    """Embarrassingly Shallow Autoencoder (Steck 2019): the best linear map from a history to itself.

    Predict each item's column of X from the *other* items, with ridge
    penalty lam; all I regressions at once, as an I x I matrix B whose
    diagonal is held at 0 (or B = identity would be perfect and useless)::

        min_B |X - X B|^2 + lam |B|^2    subject to diag(B) = 0

    Setting the gradient to zero with a Lagrange multiplier per diagonal
    entry gives the closed form::

        G = X^T X + lam I
        P = G^{-1}
        B[i, j] = -P[i, j] / P[j, j]      (column j divided by its diagonal entry)
        B[j, j] = 0
        score(u, j) = (x_u B)[j]

    One I x I inverse (a linear solve against the identity), no iterations.
    Column j of B is exactly the ridge regression of X[:, j] on the other
    columns; B's negative entries matter too (items that make j less
    likely), which an item-kNN's similarities cannot express.

    Parameters
    ----------
    num_items : int
    lam : float > 0
    """

    name = "ease"
    _setting = ("lam",)

    def __init__(self, num_items, *, lam=200.0):
        super().__init__(num_items)
        self.lam = as_scalar("lam", lam, low=0, low_open=True)

    def fit(self, seqs, upto, *, rng=None, val=None):
        _check_fit_args(self, seqs, upto)
        X = _binary(seqs, upto)
        G = X.T @ X + self.lam * np.eye(self.num_items)
        P = np.linalg.inv(G)
        B = -P / np.diag(P)                                    # broadcasting divides column j by P[j, j]
        np.fill_diagonal(B, 0.0)
        self.B = B
        self._fitted = True
        return self

    def score(self, users, histories):
        """(n, I) = H B, H the (n, I) 0/1 history matrix."""
        self._check_fitted()
        _, histories = _check_score_args(users, histories, self.num_items)
        H = history_matrix(histories, self.num_items)          # (n, I) 0/1
        return H @ self.B


# --------------------------------------------------------------------------- registry, evaluation, tuning

MODELS = {m.name: m for m in (Popularity, ItemKNN, Transition, BPRMF, EASE)}

#: The validation grid of each model (MovieLens-100K leave-one-out: all of them in about a minute on one core).
GRIDS = {
    "popularity": {},
    "itemknn": {"k": (10, 50, 200, 500), "shrink": (0.0, 10.0, 100.0)},
    "transition": {"alpha": (1.0, 100.0, 300.0, 1000.0, 10000.0)},
    "bprmf": {"factors": (32, 64), "reg": (1e-3, 1e-2)},
    "ease": {"lam": (50.0, 100.0, 200.0, 500.0, 1000.0)},
}


def make(name, num_items, **setting):
    """A new, unfitted model: ``MODELS[name](num_items, **setting)``."""
    if name not in MODELS:
        raise ValueError(f"name must be one of {sorted(MODELS)}; got {name!r}")
    return MODELS[name](num_items, **setting)


def grid_points(grid):
    """Every setting of a grid ``{param: values}``, as a list of dicts (``[{}]`` for an empty grid).

    Choosing among them on validation, refitting and scoring test is
    ``nextitem_protocol.choose_and_refit``."""
    keys = list(grid)
    return [dict(zip(keys, values)) for values in itertools.product(*(grid[k] for k in keys))]
