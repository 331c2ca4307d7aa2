"""BPR-MF: matrix factorisation trained to rank (Rendle et al. 2009), one of the ranking baselines.

Registered in ``ranking_baselines.MODELS`` as "bprmf"; its gradients are
checked against central differences (``bpr_gradcheck_case``, in
``lstm-np gradcheck`` as ``bpr_mf``).
"""

from __future__ import annotations

import numpy as np

from .._checks import as_rng, as_scalar, check_sizes
from ..optim import Adam
from .ranking_interface import RankingModel, _check_fit_args, _check_int, _check_score_args

__all__ = ["BPRMF", "bpr_gradcheck_case"]


def _finite_val(v, epoch):
    """A validation score as a float; NaN or inf is an error (it would silently lose every comparison)."""
    v = float(v)
    if not np.isfinite(v):
        raise FloatingPointError(f"the validation score is {v} after epoch {epoch}")
    return v


class BPRMF(RankingModel):
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
