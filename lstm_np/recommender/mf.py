"""Biased matrix factorisation, fitted by minibatch SGD: the baseline a sequence model has to beat.

Each user u and item i get a bias and a vector of F latent factors; a rating is predicted as

    r_hat(u, i) = mu + b_u + b_i + p_u . q_i

where mu is the mean training rating (fixed, not learned). The factors are
fitted by minimising, over the training ratings (u, i, r),

    L = 1/2 sum_(u,i,r) [ (r_hat(u, i) - r)^2 + lam_b (b_u^2 + b_i^2) + lam (|p_u|^2 + |q_i|^2) ]

(the regularisation is counted once per rating, as in Funk's SVD; the biases
get their own, weaker lam_b: on MovieLens a shared lam strong enough for the
factors shrinks the biases too much). With e = r_hat - r, one rating's
contribution to the gradient is

    dL/db_u = e + lam_b b_u        dL/dp_u = e q_i + lam p_u
    dL/db_i = e + lam_b b_i        dL/dq_i = e p_u + lam q_i

Minibatch SGD takes the sum of these over a batch of ratings and steps
theta <- theta - lr dL/dtheta. A user (or item) that appears k times in the
batch receives the sum of its k contributions: ``np.add.at`` scatters them
(plain fancy-index assignment would keep only the last one). Users and
items without a training rating keep b = 0 and p = q = 0, so they are
predicted by the biases of the other side alone.

``fit_mf`` tunes the number of factors, the learning rate, lam, lam_b and
the number of epochs on a validation part; ``MatrixFactorization.gradients`` is
checked against central differences of ``loss`` in the tests.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from .._checks import as_array, as_int, as_rng, as_scalar, check_fits_memory, unchanged_on_error
from .baselines import rmse

__all__ = ["MatrixFactorization", "MF_GRID", "GRID_KEYS", "fit_mf", "check_ratings"]

#: The grid ``fit_mf`` searches by default (the epoch count is chosen along each run).
MF_GRID = {"factors": (32, 64), "lr": (0.02,), "reg": (0.1, 0.15), "reg_bias": (0.01,)}

#: The keys a grid of ``fit_mf`` may have.
GRID_KEYS = ("factors", "lr", "reg", "reg_bias")


_SETTINGS = {"epochs": (0, "a non-negative integer"), "lr": (1e-300, "positive"), "reg": (0, "non-negative"),
             "reg_bias": (0, "non-negative"), "batch_size": (1, "a positive integer")}


def _check_settings(epochs, lr, reg, reg_bias, batch_size):
    """The settings of ``fit`` checked: TypeError for what is not a number (a str, None, a bool), ValueError
    for NaN, inf, a value out of range or a fractional count; all of them as Python numbers."""
    settings = {"epochs": epochs, "lr": lr, "reg": reg, "reg_bias": reg_bias, "batch_size": batch_size}
    for k, v in settings.items():
        low, rule = _SETTINGS[k]
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise TypeError(f"fit: {k} must be a number ({rule}), got {type(v).__name__} {v!r}")
        count = k in ("epochs", "batch_size")
        if not (math.isfinite(v) and v >= low) or (count and not isinstance(v, (int, np.integer))):
            raise ValueError(f"fit: {k} must be {rule}, got {v!r}")
        settings[k] = int(v) if count else float(v)
    return tuple(settings.values())


def check_ratings(user, item, rating, num_users, num_items, name="ratings"):
    """(user, item, rating) as int64, int64, float64 arrays of one length, ids in range, ratings finite.

    Raises TypeError (None, text, not numbers) or ValueError naming the array and the problem; nothing
    is changed.
    """
    user, item = as_array(f"{name}: user", user), as_array(f"{name}: item", item)
    rating = as_array(f"{name}: rating", rating)
    if rating.dtype.kind not in "iuf":
        raise TypeError(f"{name}: rating has dtype {rating.dtype}; expected real numbers")
    rating = rating.astype(np.float64, copy=False)
    if not (user.ndim == item.ndim == rating.ndim == 1) or not len(user) == len(item) == len(rating):
        raise ValueError(f"{name}: user, item and rating must be 1-D of one length; got shapes "
                         f"{user.shape}, {item.shape}, {rating.shape}")
    for what, ids, n in (("user", user, num_users), ("item", item, num_items)):
        if ids.dtype.kind not in "iu" and not (ids.size == 0 and ids.dtype.kind == "f"):
            raise TypeError(f"{name}: {what} indices have dtype {ids.dtype}; expected integers")
        if len(ids) and (not np.issubdtype(ids.dtype, np.integer) or ids.min() < 0 or ids.max() >= n):
            raise ValueError(f"{name}: {what} indices must be integers in [0, {n}); got {ids.dtype} "
                             f"from {ids.min()} to {ids.max()}")
    if not np.isfinite(rating).all():
        raise ValueError(f"{name}: rating contains NaN or inf")
    return user.astype(np.int64), item.astype(np.int64), rating


class MatrixFactorization:
    """mu + b_u + b_i + p_u . q_i over user and item indices.

    Parameters
    ----------
    num_users, num_items : int
        U and I: indices run over [0, U) and [0, I).
    factors : int
        F, latent factors per user and item (0 gives the bias model).
    mu : float
        The global mean (``fit`` sets it to the mean training rating).
    rng : numpy.random.Generator or int
        Source of the initial factors, N(0, 0.1^2).

    Attributes
    ----------
    params : dict
        ``b_user`` (U,), ``b_item`` (I,), ``P`` (U, F), ``Q`` (I, F), all float64.
    mu : float
    """

    def __init__(self, num_users, num_items, factors=32, *, mu=0.0, rng=0):
        num_users, num_items = as_int("num_users", num_users, 1), as_int("num_items", num_items, 1)
        factors = as_int("factors", factors, 0)
        mu = as_scalar("mu", mu)
        check_fits_memory(f"MatrixFactorization(num_users={num_users}, num_items={num_items}, factors={factors})",
                          (num_users + num_items) * (factors + 1))
        rng = as_rng(rng)
        self.mu = mu
        self.params = {
            "b_user": np.zeros(num_users),
            "b_item": np.zeros(num_items),
            "P": rng.normal(0.0, 0.1, (num_users, factors)),
            "Q": rng.normal(0.0, 0.1, (num_items, factors)),
        }

    @property
    def shape(self):
        """(U, I, F)."""
        return len(self.params["b_user"]), len(self.params["b_item"]), self.params["P"].shape[1]

    def predict(self, user, item):
        """(N,) predictions, not clipped, for (N,) user and item indices (checked: integers in range)."""
        p = self.params
        user, item = self._ids(user, item)
        return self.mu + p["b_user"][user] + p["b_item"][item] + np.einsum("nf,nf->n", p["P"][user], p["Q"][item])

    def _ids(self, user, item):
        user, item = as_array("user", user), as_array("item", item)
        for what, ids, n in (("user", user, len(self.params["b_user"])), ("item", item, len(self.params["b_item"]))):
            if ids.dtype.kind not in "iu":
                raise TypeError(f"{what} has dtype {ids.dtype}; expected integer indices")
            if ids.size and (ids.min() < 0 or ids.max() >= n):
                raise ValueError(f"{what} indices must be in [0, {n}); got {ids.min()} to {ids.max()}")
        if user.shape != item.shape:
            raise ValueError(f"user has shape {user.shape} but item {item.shape}; expected one shape")
        return user, item

    def loss(self, user, item, rating, reg, reg_bias):
        """L above, summed over the given ratings."""
        user, item, rating = check_ratings(user, item, rating, *self.shape[:2])
        reg, reg_bias = as_scalar("reg", reg, low=0), as_scalar("reg_bias", reg_bias, low=0)
        p = self.params
        e = self.predict(user, item) - rating
        penalty = (reg_bias * (p["b_user"][user] ** 2 + p["b_item"][item] ** 2)
                   + reg * ((p["P"][user] ** 2).sum(1) + (p["Q"][item] ** 2).sum(1)))
        return 0.5 * float(np.sum(e * e + penalty))

    def gradients(self, user, item, rating, reg, reg_bias):
        """dL/dtheta for every parameter (same shapes as ``params``), summed over the given ratings."""
        user, item, rating = check_ratings(user, item, rating, *self.shape[:2])
        reg, reg_bias = as_scalar("reg", reg, low=0), as_scalar("reg_bias", reg_bias, low=0)
        p = self.params
        e = self.predict(user, item) - rating
        Pu, Qi = p["P"][user], p["Q"][item]
        g = {k: np.zeros_like(v) for k, v in p.items()}
        np.add.at(g["b_user"], user, e + reg_bias * p["b_user"][user])
        np.add.at(g["b_item"], item, e + reg_bias * p["b_item"][item])
        np.add.at(g["P"], user, e[:, None] * Qi + reg * Pu)
        np.add.at(g["Q"], item, e[:, None] * Pu + reg * Qi)
        return g

    def sgd_step(self, user, item, rating, lr, reg, reg_bias):
        """theta <- theta - lr * gradients(...) for one minibatch, in place.

        The same sums as ``gradients``, computed only for the rows the batch
        touches (bincount adds a user's contributions just as np.add.at does).
        Checked like ``gradients`` (and ``lr`` > 0); a step that would make a
        parameter NaN or inf is a ``FloatingPointError`` and changes nothing.
        """
        user, item, rating = check_ratings(user, item, rating, *self.shape[:2])
        lr = as_scalar("lr", lr, low=0, low_open=True)
        reg, reg_bias = as_scalar("reg", reg, low=0), as_scalar("reg_bias", reg_bias, low=0)
        with unchanged_on_error(self.params):
            with np.errstate(over="ignore", invalid="ignore"):
                self._sgd_step(user, item, rating, lr, reg, reg_bias)
            bad = [k for k, v in self.params.items() if not np.isfinite(v).all()]
            if bad:
                raise FloatingPointError(f"the step made {', '.join(bad)} NaN or inf (lr {lr:g} too large?); "
                                         "nothing was changed")

    def _sgd_step(self, user, item, rating, lr, reg, reg_bias):
        """``sgd_step`` without its checks: ``fit``'s inner step, given what ``fit`` checked."""
        p = self.params
        e = self.predict(user, item) - rating
        Pu, Qi = p["P"][user], p["Q"][item]
        U, I = len(p["b_user"]), len(p["b_item"])
        p["b_user"] -= lr * np.bincount(user, e + reg_bias * p["b_user"][user], minlength=U)
        p["b_item"] -= lr * np.bincount(item, e + reg_bias * p["b_item"][item], minlength=I)
        np.add.at(p["P"], user, -lr * (e[:, None] * Qi + reg * Pu))
        np.add.at(p["Q"], item, -lr * (e[:, None] * Pu + reg * Qi))

    def fit(self, user, item, rating, *, epochs=20, lr=0.02, reg=0.1, reg_bias=0.01, batch_size=256, rng=0,
            val=None):
        """Minibatch SGD on the ratings (user, item, rating): ``epochs`` passes, each in a new random order.

        Sets ``mu`` to the mean rating and zeroes the factors of users and
        items without a rating here.

        Parameters
        ----------
        user, item : (N,) int indices; rating : (N,) float
        epochs, lr, reg, reg_bias, batch_size : the settings (reg is lam, reg_bias lam_b)
        rng : numpy.random.Generator or int
            Order of the ratings in each epoch.
        val : tuple (user, item, rating), optional
            Scored (RMSE) after every epoch.

        Returns
        -------
        history : list of float
            Validation RMSE after each epoch (empty without ``val``).

        Raises
        ------
        ValueError
            Bad arrays or settings, or NaN/inf appearing during training (lr
            too large; the message names the epoch). Either way the
            parameters are left as they were before ``fit``.
        """
        U, I = len(self.params["b_user"]), len(self.params["b_item"])
        user, item, rating = check_ratings(user, item, rating, U, I)
        if val is not None:
            if not (isinstance(val, (tuple, list)) and len(val) == 3):
                raise TypeError(f"val must be a tuple (user, item, rating); got {type(val).__name__}")
            val = check_ratings(*val, U, I, name="val")
        epochs, lr, reg, reg_bias, batch_size = _check_settings(epochs, lr, reg, reg_bias, batch_size)
        if len(rating) == 0:
            raise ValueError("fit: no ratings")
        rng = as_rng(rng)
        # Everything fit changes (mu, the parameters, the caller's generator) is put back if it raises:
        # divergence at epoch 4, a KeyboardInterrupt, anything.
        with unchanged_on_error(self, rng):
            self.mu = float(rating.mean())
            p = self.params
            p["P"][np.bincount(user, minlength=U) == 0] = 0.0
            p["Q"][np.bincount(item, minlength=I) == 0] = 0.0
            history = []
            for epoch in range(1, epochs + 1):
                order = rng.permutation(len(rating))
                with np.errstate(over="ignore", invalid="ignore"):  # divergence is caught just below
                    for k in range(0, len(order), batch_size):
                        b = order[k : k + batch_size]
                        self._sgd_step(user[b], item[b], rating[b], lr, reg, reg_bias)
                if not all(np.isfinite(v).all() for v in p.values()):
                    raise ValueError(f"fit: the parameters became NaN or inf at epoch {epoch} (lower lr, now "
                                     f"{lr}); the model keeps its parameters (and mu) from before fit")
                if val is not None:
                    history.append(rmse(self.predict(val[0], val[1]), val[2]))
        return history


def fit_mf(num_users, num_items, train, val, *, grid=None, max_epochs=60, patience=5, seed=0, batch_size=256,
           log=None):
    """Choose factors, lr, lam, lam_b and the epoch count on ``val``.

    Every combination of ``grid`` is trained on ``train``, scoring ``val``
    after each epoch, until ``patience`` epochs pass without a better score
    (or ``max_epochs``); the best (combination, epoch) wins. Refitting with
    ``fit(..., epochs=best["epochs"], rng=seed)`` reproduces the winner
    exactly: one Generator seeded with ``seed`` orders the epochs either way.

    Parameters
    ----------
    train, val : tuple of (user, item, rating) index arrays
    grid : dict of "factors", "lr", "reg", "reg_bias" -> tuple of values
        Missing keys take ``MF_GRID``'s.

    Returns
    -------
    best : dict
        ``factors``, ``lr``, ``reg``, ``reg_bias``, ``epochs`` and ``val_rmse`` of the winner.
    table : list of dict
        One row per combination, with its best epoch and validation RMSE.
    """
    num_users, num_items = as_int("num_users", num_users, 1), as_int("num_items", num_items, 1)
    if grid is not None and not isinstance(grid, dict):
        raise TypeError(f"grid must be a dict of {', '.join(GRID_KEYS)} -> values; got {type(grid).__name__}")
    unknown = sorted(set(grid or {}) - set(GRID_KEYS), key=str)
    if unknown:
        raise ValueError(f"grid has unknown keys {unknown}; expected some of {', '.join(GRID_KEYS)}")
    grid = {**MF_GRID, **(grid or {})}
    for k in GRID_KEYS:
        values = grid[k]
        if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
            raise TypeError(f"grid[{k!r}] must be a tuple of values; got {type(values).__name__} {values!r}")
        if len(values) == 0:
            raise ValueError(f"grid[{k!r}] is empty; give at least one value")
        for v in values:
            if k == "factors":
                as_int("grid['factors'] entry", v, 0)
            else:
                _check_settings(1, **{"lr": 1.0, "reg": 0.0, "reg_bias": 0.0, k: v}, batch_size=1)
    max_epochs = as_int("max_epochs", max_epochs, 1)
    patience = as_int("patience", patience, 0)
    batch_size = as_int("batch_size", batch_size, 1)
    seed = as_int("seed", seed, 0)
    if log is not None and not callable(log):
        raise TypeError(f"log must be callable or None; got {type(log).__name__}")
    for name, part in (("train", train), ("val", val)):
        if not (isinstance(part, (tuple, list)) and len(part) == 3):
            raise TypeError(f"{name} must be a tuple (user, item, rating); got {type(part).__name__}")
        check_ratings(*part, num_users, num_items, name=name)
    if len(train[2]) == 0 or len(val[2]) == 0:
        raise ValueError("fit_mf: train and val need at least one rating each")
    check_fits_memory(f"fit_mf's largest model ({num_users} users, {num_items} items, {max(grid['factors'])} "
                      "factors)", (num_users + num_items) * (max(grid["factors"]) + 1) * 3)
    table = []
    for factors, lr, reg, reg_bias in itertools.product(grid["factors"], grid["lr"], grid["reg"], grid["reg_bias"]):
        model = MatrixFactorization(num_users, num_items, factors, rng=seed)
        rng, scores = as_rng(seed), []
        while len(scores) < max_epochs and len(scores) - int(np.argmin(scores or [0])) <= patience:
            scores += model.fit(*train, epochs=1, lr=lr, reg=reg, reg_bias=reg_bias, batch_size=batch_size, rng=rng,
                                val=val)
        epochs = int(np.argmin(scores)) + 1
        row = {"factors": factors, "lr": lr, "reg": reg, "reg_bias": reg_bias, "epochs": epochs,
               "val_rmse": float(scores[epochs - 1])}
        table.append(row)
        if log:
            log(f"MF F={factors:<3d} lr={lr:<6g} lam={reg:<6g} lam_b={reg_bias:<6g} best epoch {epochs:3d}  "
                f"val RMSE {row['val_rmse']:.4f}")
    best = min(table, key=lambda r: r["val_rmse"])
    return dict(best), table
