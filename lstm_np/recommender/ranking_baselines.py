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
higher is better) stops early on it. :func:`evaluate` scores a part with
the seen items removed; :func:`tune` runs a model's grid on validation.

Symbols used throughout: X (U, I) the 0/1 user-item matrix of the fitted
parts (a user "has" an item once, however often it occurs); U_i the set of
users who have item i, so |U_i| = sum_u X[u, i]; x_u (I,) the 0/1 vector of
a history; pop (I,) the training interaction counts.

This module depends on NumPy and the project's argument checks and Adam.
"""

from __future__ import annotations

import itertools
import numbers

import numpy as np

from .._checks import as_rng, as_scalar, check_sizes
from ..data.sequences import Sequences
from ..data.split import TRAIN, VAL
from ..optim import Adam
from .ranking import check_histories

__all__ = ["Popularity", "ItemKNN", "Transition", "BPRMF", "EASE", "GRIDS", "MODELS", "make", "grid_points",
           "bpr_gradcheck_case", "history_matrix"]


# --------------------------------------------------------------------------- shared checks


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


class _Base:
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


# --------------------------------------------------------------------------- popularity


class Popularity(_Base):
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


class ItemKNN(_Base):
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


class Transition(_Base):
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


# --------------------------------------------------------------------------- BPR matrix factorisation


def _finite_val(v, epoch):
    """A validation score as a float; NaN or inf is an error (it would silently lose every comparison)."""
    v = float(v)
    if not np.isfinite(v):
        raise FloatingPointError(f"the validation score is {v} after epoch {epoch}")
    return v


class BPRMF(_Base):
    """Matrix factorisation trained with Bayesian Personalised Ranking (Rendle et al. 2009).

    Each user u is a vector p_u, each item a vector q_i and a bias b_i; the
    score is s_ui = p_u . q_i + b_i. BPR never asks for the value of a score,
    only that an item the user has (a positive i) scores above one the user
    does not have (a negative j, drawn uniformly from the items not in u's
    fitted interactions). For one sampled triple (u, i, j)::

        x_uij = p_u . (q_i - q_j) + b_i - b_j                s_ui - s_uj
        loss = -log sigmoid(x_uij) + reg/2 (|p_u|^2 + |q_i|^2 + |q_j|^2 + b_i^2 + b_j^2)

    summed over a minibatch of triples. With g = dloss/dx = -sigmoid(-x_uij)::

        dp_u = g (q_i - q_j) + reg p_u
        dq_i = g p_u + reg q_i
        dq_j = -g p_u + reg q_j
        db_i = g + reg b_i
        db_j = -g + reg b_j

    A user or item that occurs several times in a batch collects one term per
    occurrence (``np.add.at``; plain ``dQ[pos] += ...`` would keep only the last).

    Training: an epoch is every fitted (u, i) once, in a random order, each
    with one fresh negative; a negative that is one of u's items is redrawn
    until it is not (so no triple contradicts the data; users who have every
    item are left out, having no negative). Minibatches of ``batch_size``
    triples, **Adam** (``lstm_np.optim.Adam``) rather than plain SGD: the
    gradient of a popular item is hundreds of times that of a rare one, and
    Adam's per-parameter step size (divided by the running RMS of the
    gradient) lets one ``lr`` serve both and every (factors, reg) of the
    grid, so lr need not be tuned; for the same reason it does not matter
    that the batch loss is a sum and not a mean. With ``val``, validation
    is measured before training (epoch 0) and after each epoch; training
    stops after ``patience`` epochs without a new best, and the best epoch's
    parameters are restored (``epochs_`` = that epoch). (With one target per
    user, validation NDCG@10 over 943 users has a standard error of about
    0.006, as large as a good epoch's gain: the curve is noisy, and the
    chosen epoch is partly chance.)

    Parameters
    ----------
    num_items : int
    factors : int >= 1
        F, the length of p_u and q_i.
    reg : float >= 0
    lr : float > 0
        Adam's step size.
    epochs : int >= 0
        The number of epochs without ``val``; the most with it.
    patience : int >= 1
    batch_size : int >= 1
    init : float > 0
        Standard deviation of the initial P and Q (b starts at 0).
    """

    name = "bprmf"
    _setting = ("factors", "reg", "lr", "epochs", "patience", "batch_size", "init")

    def __init__(self, num_items, *, factors=64, reg=1e-3, lr=1e-2, epochs=30, patience=3, batch_size=1024,
                 init=0.1):
        super().__init__(num_items)
        check_sizes(factors=factors, patience=patience, batch_size=batch_size)
        self.factors, self.patience, self.batch_size = int(factors), int(patience), int(batch_size)
        self.reg = as_scalar("reg", reg, low=0)
        self.lr = as_scalar("lr", lr, low=0, low_open=True)
        self.epochs = _check_int("epochs", epochs, 0)
        self.init = as_scalar("init", init, low=0, low_open=True)
        self.params = None
        self.num_users = None

    def init_params(self, num_users, rng=None):
        """Fresh parameters for ``num_users`` users: P (U, F), Q (I, F) ~ N(0, init^2), b (I,) = 0."""
        check_sizes(num_users=num_users)
        rng = as_rng(rng)
        self.num_users = int(num_users)
        self.params = {"P": self.init * rng.standard_normal((self.num_users, self.factors)),
                       "Q": self.init * rng.standard_normal((self.num_items, self.factors)),
                       "b": np.zeros(self.num_items)}
        return self

    def _triples(self, users, pos, neg):
        if self.params is None:
            raise RuntimeError("bprmf has no parameters yet; call fit or init_params first")
        out = []
        for name, a, num in (("users", users, self.num_users), ("pos", pos, self.num_items),
                             ("neg", neg, self.num_items)):
            a = np.asarray(a)
            if a.ndim != 1 or a.shape != np.shape(users) or (a.size and not np.issubdtype(a.dtype, np.integer)):
                raise ValueError(f"{name} must be (B,) integers like users; got {a.dtype} of shape {a.shape}")
            if a.size and (a.min() < 0 or a.max() >= num):
                raise ValueError(f"{name} must lie in [0, {num}); got {a.min()} .. {a.max()}")
            out.append(a.astype(np.int64))
        return out

    def _x(self, users, pos, neg):
        P, Q, b = self.params["P"], self.params["Q"], self.params["b"]
        p, q_i, q_j = P[users], Q[pos], Q[neg]
        x = np.sum(p * (q_i - q_j), axis=1) + b[pos] - b[neg]  # x_uij, (B,)
        return x, p, q_i, q_j

    def loss(self, users, pos, neg):
        """The batch loss: sum over triples of -log sigmoid(x_uij) + the reg/2 terms. Arrays (B,) int."""
        users, pos, neg = self._triples(users, pos, neg)
        x, p, q_i, q_j = self._x(users, pos, neg)
        b = self.params["b"]
        data = np.sum(np.logaddexp(0.0, -x))                   # -log sigmoid(x) = log(1 + e^-x), without overflow
        norms = np.sum(p * p) + np.sum(q_i * q_i) + np.sum(q_j * q_j) + np.sum(b[pos] ** 2) + np.sum(b[neg] ** 2)
        return float(data + self.reg / 2 * norms)

    def gradients(self, users, pos, neg):
        """dloss/dparams: ``{"P": (U, F), "Q": (I, F), "b": (I,)}``, zero for rows not in the batch."""
        users, pos, neg = self._triples(users, pos, neg)
        x, p, q_i, q_j = self._x(users, pos, neg)
        b, reg = self.params["b"], self.reg
        g = -np.exp(-np.logaddexp(0.0, x))[:, None]           # dloss/dx = -sigmoid(-x), (B, 1)
        dP, dQ, db = (np.zeros_like(self.params[k]) for k in ("P", "Q", "b"))
        np.add.at(dP, users, g * (q_i - q_j) + reg * p)
        np.add.at(dQ, pos, g * p + reg * q_i)
        np.add.at(dQ, neg, -g * p + reg * q_j)
        np.add.at(db, pos, g[:, 0] + reg * b[pos])
        np.add.at(db, neg, -g[:, 0] + reg * b[neg])
        return {"P": dP, "Q": dQ, "b": db}

    @staticmethod
    def _negatives(users, seen, rng):
        """One item per user, uniform over the items the user does not have (redrawn until so)."""
        neg = rng.integers(0, seen.shape[1], size=len(users))
        bad = seen[users, neg]
        while bad.any():
            neg[bad] = rng.integers(0, seen.shape[1], size=int(bad.sum()))
            bad[bad] = seen[users[bad], neg[bad]]
        return neg

    def fit(self, seqs, upto, *, rng=None, val=None):
        _check_fit_args(self, seqs, upto)
        if val is not None and not callable(val):
            raise ValueError(f"val must be a callable model -> float or None; got {type(val).__name__}")
        rng = as_rng(rng)
        self.init_params(seqs.num_users, rng)
        self._fitted = True                                    # val may score the model before the first epoch
        users, items = seqs.pairs(upto)
        seen = np.zeros((self.num_users, self.num_items), dtype=bool)
        seen[users, items] = True
        keep = ~seen.all(axis=1)[users]                        # a user with every item has no negative
        users, items = users[keep], items[keep]
        opt = Adam(self.params, lr=self.lr)
        self.history_ = []                                     # validation score after each epoch (0 = before)
        best, best_epoch, best_params = -np.inf, 0, None
        if val is not None:
            best = _finite_val(val(self), 0)
            self.history_.append(best)
            best_params = {k: v.copy() for k, v in self.params.items()}
        for epoch in range(1, self.epochs + 1):
            order = rng.permutation(len(users))
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                u, i = users[batch], items[batch]
                opt.step(self.gradients(u, i, self._negatives(u, seen, rng)))
            if val is None:
                continue
            score = _finite_val(val(self), epoch)
            self.history_.append(score)
            if score > best:
                best, best_epoch = score, epoch
                best_params = {k: v.copy() for k, v in self.params.items()}
            elif epoch - best_epoch >= self.patience:
                break
        if val is None:
            self.epochs_ = self.epochs
        else:
            for k, v in self.params.items():
                v[...] = best_params[k]
            self.epochs_ = best_epoch
        return self

    def score(self, users, histories):
        """(n, I): s_uj = p_u . q_j + b_j (the history is checked, not used: the user's vector holds it)."""
        self._check_fitted()
        users, _ = _check_score_args(users, histories, self.num_items, self.num_users)
        return self.params["P"][users] @ self.params["Q"].T + self.params["b"]


def bpr_gradcheck_case(rng):
    """``(loss_fn, arrays, analytic)`` for ``gradcheck.check_gradients``: a tiny BPR batch, float64.

    4 users, 5 items, F = 3, reg = 0.1, a batch of 7 triples in which users
    and items repeat (and one item is both a positive and a negative), with
    random biases, so every term of ``BPRMF.gradients`` is exercised.
    """
    rng = as_rng(rng)
    model = BPRMF(5, factors=3, reg=0.1, init=0.7).init_params(4, rng)
    model.params["b"][:] = 0.5 * rng.standard_normal(5)
    users = np.array([0, 1, 1, 3, 0, 2, 1])
    pos = np.array([2, 0, 4, 2, 1, 3, 4])
    neg = np.array([1, 3, 2, 0, 4, 2, 1])

    def loss_fn():
        return model.loss(users, pos, neg)

    return loss_fn, model.params, model.gradients(users, pos, neg)


# --------------------------------------------------------------------------- EASE


class EASE(_Base):
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
