"""A base model plus an LSTM that reads the user's recent history and corrects the base.

The base (matrix factorisation, the bias model or the global mean; see
``mf.py``) knows *who* the user is and *which* movie it is, but weighs a
rating from two years ago like one from yesterday. The recurrent layer reads
the user's ratings in time order and predicts, for each coming rating, a
correction to the base:

    r_hat_t = base(u, i_t) + h_t w + b            h_t = LSTM(x_1 .. x_t)

At step t the input (``FEATURES``, built by ``make_inputs``) is

    x_t = [ r_{t-1} - base_{t-1}    residual of the previous rating, 0 when it may not be seen
            r_{t-1} - mu            the previous rating itself, 0 when it may not be seen
            known_{t-1}             1 if the previous rating may be seen
            base_t - mu             what the base predicts for the movie of this step
            log(1 + gap_t)          days since the previous rating (the time of a rating may be seen)
            log(1 + since_t)        days since the last rating that may be seen
            log(1 + ahead_t)        steps since the last rating that may be seen (0 in the history)
            log(1 + t) / 5 ]        position in the user's history

**Cuts.** The residuals of ratings the base was fitted on are smaller than
those of ratings it has not seen, so the layer learns from situations made
like the held-out one: for a "prefix level" l, every user's ratings are cut
at a point, a base is fitted on everything before the cuts, and the layer
reads the history up to the cut (its residuals against that base) and is
trained to predict the residuals of the stretch after it (``Histories.ends``
defines the levels). Level 1 ends before the test ratings, level 2 before
validation, each deeper level one test-sized stretch earlier.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from .. import GRU, LSTM, RNN, Adam, Dense, clip_grad_norm, masked_mse
from .._checks import as_int, as_rng, as_scalar, check_fits_memory, unchanged_on_error
from ..data import TEST, TRAIN, VAL, Ratings, Split
from .baselines import mae, rmse

__all__ = ["FEATURES", "CELLS", "Histories", "build_histories", "CorrectionNet", "SequenceConfig", "make_inputs",
           "next_step_inputs", "make_cutset", "predict_cuts", "score_cuts", "train_corrector", "TrainingError"]

FEATURES = ("prev_residual", "prev_rating", "prev_known", "base", "log_gap", "log_since_known", "log_ahead",
            "position")
CELLS = {"lstm": LSTM, "gru": GRU, "rnn": RNN}
DAY = 86400.0


class TrainingError(RuntimeError):
    """Training produced NaN or inf; the net holds the last good parameters (the command line reports it)."""


@dataclass(frozen=True, eq=False)
class Histories:
    """All users' ratings in time order, with user and item indices over the whole data set.

    Item indices cover every item of the data (its identity is known when it
    is scored); an item with no rating before a cut simply has no factors in
    that cut's base.

    Attributes
    ----------
    user_ids, item_ids : (U,), (I,) int64 raw ids of each index
    offsets : (U + 1,) int64; user u's ratings are rows ``offsets[u]:offsets[u + 1]``
    user, item : (N,) int64 indices
    rating : (N,) float64
    time : (N,) float64 seconds
    part : (N,) int8 TRAIN, VAL or TEST
    row : (N,) int64 row in the original ``Ratings``
    """

    user_ids: np.ndarray
    item_ids: np.ndarray
    offsets: np.ndarray
    user: np.ndarray
    item: np.ndarray
    rating: np.ndarray
    time: np.ndarray
    part: np.ndarray
    row: np.ndarray

    @property
    def num_users(self):
        return len(self.user_ids)

    @property
    def num_items(self):
        return len(self.item_ids)

    def count(self, part):
        """(U,) each user's number of ratings in ``part``."""
        return np.bincount(self.user[self.part == part], minlength=self.num_users)

    def ends(self, level, min_history=3):
        """(U,) how many of each user's first ratings prefix level ``level`` keeps.

        Level 0 keeps everything, level 1 everything before test, level 2
        everything before validation (the training part), and each further
        level one more stretch of the user's test size earlier, never fewer
        than ``min_history`` ratings (nor more than level 2).
        """
        n = np.diff(self.offsets)
        n_test, n_val = self.count(TEST), self.count(VAL)
        if level <= 2:
            return n - (n_test if level >= 1 else 0) - (n_val if level >= 2 else 0)
        train = n - n_test - n_val
        return np.minimum(train, np.maximum(train - (level - 2) * n_test, min_history))

    def known(self, level):
        """(N,) bool: the ratings in prefix level ``level``."""
        pos = np.arange(len(self.user)) - self.offsets[self.user]
        return pos < self.ends(level)[self.user]


def build_histories(ratings: Ratings, split: Split) -> Histories:
    """Order every rating by (user, timestamp, item) and label its part (as ``temporal_split`` does)."""
    rows = np.concatenate([split.train, split.val, split.test])
    part = np.concatenate([np.full(len(p), k, np.int8)
                           for k, p in ((TRAIN, split.train), (VAL, split.val), (TEST, split.test))])
    order = np.lexsort((ratings.item[rows], ratings.timestamp[rows], ratings.user[rows]))
    rows, part = rows[order], part[order]
    user_ids, user = np.unique(ratings.user[rows], return_inverse=True)
    item_ids, item = np.unique(ratings.item[rows], return_inverse=True)
    offsets = np.searchsorted(user, np.arange(len(user_ids) + 1)).astype(np.int64)
    same_user = np.diff(user) == 0
    if np.any(np.diff(part.astype(int))[same_user] < 0):
        raise ValueError("split is not a per-user time prefix: train, then validation, then test")
    return Histories(user_ids, item_ids, offsets, user.astype(np.int64), item.astype(np.int64),
                     ratings.rating[rows].astype(np.float64), ratings.timestamp[rows].astype(np.float64),
                     part, rows.astype(np.int64))


@dataclass(frozen=True, eq=False)
class Inputs:
    """A padded batch of cut sequences; every array (B, T) except ``x`` (B, T, D)."""

    x: np.ndarray
    mask: np.ndarray      # 1 at real steps
    score: np.ndarray     # 1 at the steps to predict (after the cut)
    target: np.ndarray    # r - base at the scored steps, 0 elsewhere
    base: np.ndarray      # the base's prediction at every step (float64)
    rating: np.ndarray    # the rating at the scored steps, 0 elsewhere (float64; never an input)
    rows: np.ndarray      # row in the original Ratings, -1 at padding


def make_inputs(h: Histories, base, mu, users, lo, start, stop, dtype=np.float64) -> Inputs:
    """The layer's inputs for one sequence per entry of ``users``: steps ``lo .. stop - 1``, cut at ``start``.

    Ratings before position ``start`` may be seen, those from ``start`` on
    are predicted; this is the one place inputs are built, and a rating at a
    position >= ``start`` never enters ``x`` (only ``target``).

    Parameters
    ----------
    h : Histories
    base : (N,) float64
        The base's prediction for every rating of ``h`` (fitted before the cut).
    mu : float
        The base's global mean.
    users, lo, start, stop : (B,) int
        User index and positions in that user's history, lo <= start <= stop.
    """
    users = np.asarray(users, np.int64)
    lo, start, stop = (np.asarray(a, np.int64) for a in (lo, start, stop))
    if np.any(lo > start) or np.any(start > stop) or np.any(lo < 0):
        raise ValueError("make_inputs: need 0 <= lo <= start <= stop for every sequence")
    B, T = len(users), int((stop - lo).max())
    t = np.arange(T)[None, :]
    pos = lo[:, None] + t                                    # position in the user's history
    valid = pos < stop[:, None]
    f = np.where(valid, h.offsets[users][:, None] + pos, 0)  # flat index
    fp = np.maximum(f - 1, 0)                                # previous rating's flat index
    prev_known = valid & (pos >= 1) & (pos - 1 < start[:, None])
    last_known = h.offsets[users] + start - 1                # flat index of the last rating that may be seen
    has_known = start >= 1
    seen = pos < start[:, None]
    r, b, tm = h.rating, base, h.time
    x = np.zeros((B, T, len(FEATURES)))
    x[..., 0] = np.where(prev_known, r[fp] - b[fp], 0.0)
    x[..., 1] = np.where(prev_known, r[fp] - mu, 0.0)
    x[..., 2] = prev_known
    x[..., 3] = np.where(valid, b[f] - mu, 0.0)
    x[..., 4] = np.where(valid & (pos >= 1), np.log1p(np.maximum(tm[f] - tm[fp], 0.0) / DAY), 0.0)
    since = np.where(seen, tm[f] - tm[fp], tm[f] - tm[np.maximum(last_known, 0)][:, None])
    x[..., 5] = np.where(valid & (pos >= 1) & has_known[:, None], np.log1p(np.maximum(since, 0.0) / DAY), 0.0)
    x[..., 6] = np.where(valid & ~seen, np.log1p(np.maximum(pos - start[:, None] + 1.0, 0.0)), 0.0)
    x[..., 7] = np.where(valid, np.log1p(pos) / 5.0, 0.0)
    score = valid & ~seen
    bad = ~np.isfinite(x).all(axis=(0, 1))
    if bad.any():
        raise ValueError(f"make_inputs: feature(s) {[FEATURES[k] for k in np.flatnonzero(bad)]} contain NaN or inf "
                         "(a NaN base prediction or rating?)")
    return Inputs(
        x=x.astype(dtype),
        mask=valid.astype(dtype),
        score=score.astype(dtype),
        target=np.where(score, r[f] - b[f], 0.0).astype(dtype),
        base=np.where(valid, b[f], 0.0),
        rating=np.where(score, r[f], 0.0),
        rows=np.where(valid, h.row[f], -1),
    )


def next_step_inputs(h: Histories, base, mu, user, candidate_base, dtype=np.float64):
    """Inputs (C, 1, D) for scoring C candidate items as the step after user ``user``'s whole history.

    The same features ``make_inputs`` gives a candidate appended to the
    history at the time of the last rating, with the cut just before it (every
    earlier rating seen): ``candidate_base`` (C,) is the base's prediction for
    each candidate.
    """
    last = h.offsets[user + 1] - 1
    n = int(h.offsets[user + 1] - h.offsets[user])
    if n < 1:
        raise ValueError(f"user {user} has no ratings to read")
    C = len(candidate_base)
    x = np.zeros((C, 1, len(FEATURES)))
    x[:, 0, 0] = h.rating[last] - base[last]
    x[:, 0, 1] = h.rating[last] - mu
    x[:, 0, 2] = 1.0
    x[:, 0, 3] = np.asarray(candidate_base, np.float64) - mu
    # features 4 and 5 (days since the previous / last seen rating) are log(1 + 0) = 0
    x[:, 0, 6] = np.log1p(1.0)
    x[:, 0, 7] = np.log1p(n) / 5.0
    return x.astype(dtype)


class CorrectionNet:
    """Recurrent layer -> dense head: a correction (B, T) to the base from inputs (B, T, D).

    Parameters
    ----------
    input_size : int
        D (``len(FEATURES)``).
    hidden_size : int
        H.
    cell : "lstm", "gru" or "rnn"
    rng : numpy.random.Generator or int
    dtype : float32 or float64
    make_layer : callable, optional
        ``make_layer(input_size, hidden_size, rng, dtype)`` builds the
        recurrent layer instead of ``CELLS[cell]`` (for example
        ``VariantLSTM(variant, ...)`` in the LSTM laboratory); the layer must
        have the interface of ``cell``'s layer (for "lstm": ``forward(x, h0,
        c0, mask=)`` and ``backward(dout, cache)``). It receives the same
        generator the default layer would, before the head draws from it.
        Such a net trains and predicts like any other; ``save_model`` knows
        only the ``CELLS`` layers.

    The head's weights start at zero, so the untrained net corrects nothing:
    it predicts exactly the base.
    """

    def __init__(self, input_size=len(FEATURES), hidden_size=32, *, cell="lstm", rng=0, dtype=np.float32,
                 make_layer=None):
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {sorted(CELLS)}; got {cell!r}")
        if make_layer is not None and not callable(make_layer):
            raise TypeError(f"make_layer must be callable (input_size, hidden_size, rng, dtype) -> layer; "
                            f"got {type(make_layer).__name__}")
        rng = as_rng(rng)
        self.cell, self.dtype = cell, np.dtype(dtype)
        with unchanged_on_error(rng):  # a layer or head refused midway leaves the caller's generator as it was
            if make_layer is None:
                layer = CELLS[cell](input_size, hidden_size, rng=rng, dtype=dtype)
            else:
                layer = make_layer(input_size, hidden_size, rng, self.dtype)
                sizes = (getattr(layer, "input_size", None), getattr(layer, "hidden_size", None))
                if sizes != (input_size, hidden_size):
                    raise ValueError(f"make_layer built a layer of (input_size, hidden_size) = {sizes}; "
                                     f"expected ({input_size}, {hidden_size})")
            head = Dense(hidden_size, 1, rng=rng, dtype=dtype)
        self.layers = {cell: layer, "head": head}
        self.layers["head"].params["W"][...] = 0.0
        self.params = {f"{n}.{k}": v for n, layer in self.layers.items() for k, v in layer.params.items()}
        self.grads = {f"{n}.{k}": v for n, layer in self.layers.items() for k, v in layer.grads.items()}
        self.config = {"input_size": int(input_size), "hidden_size": int(hidden_size), "cell": cell,
                       "dtype": self.dtype.name}

    def forward(self, x, mask=None, state=None):
        """Corrections (B, T), and a cache whose last entry is the final state."""
        rnn = self.layers[self.cell]
        if self.cell == "lstm":
            h0, c0 = (None, None) if state is None else state
            out, state, cache = rnn.forward(x, h0, c0, mask=mask)
        else:
            out, state, cache = rnn.forward(x, state, mask=mask)
        y, head_cache = self.layers["head"].forward(out)
        return y[..., 0], (cache, head_cache, state)

    def backward(self, dcorr, cache):
        """Fill ``grads`` from dL/dcorrection (B, T)."""
        rnn_cache, head_cache, _ = cache
        dout = self.layers["head"].backward(dcorr[..., None], head_cache)
        self.layers[self.cell].backward(dout, rnn_cache)

    def loss(self, inputs: Inputs):
        """Masked MSE of the correction against the residual at the scored steps; fills ``grads``."""
        corr, cache = self.forward(inputs.x, inputs.mask)
        loss, dcorr = masked_mse(corr, inputs.target, inputs.score)
        self.backward(dcorr, cache)
        return loss


@dataclass
class SequenceConfig:
    """Settings of the correction net and its training.

    Attributes
    ----------
    cell : "lstm", "gru" or "rnn"
    hidden_size : int
    window : int
        The layer reads at most this many ratings before the cut.
    cuts : int
        Training cuts per phase (prefix levels scoring + 1 .. scoring + cuts).
    epochs : int
        Most epochs while choosing the epoch count on validation.
    patience : int
        Stop choosing after this many epochs without a better validation RMSE.
    lr, batch_size, clip : Adam's learning rate, sequences per batch, global-norm clip
    seed : int
    dtype : "float32" or "float64"
    """

    cell: str = "lstm"
    hidden_size: int = 32
    window: int = 100
    cuts: int = 2
    epochs: int = 30
    patience: int = 5
    lr: float = 3e-3
    batch_size: int = 32
    clip: float = 5.0
    seed: int = 0
    dtype: str = "float32"

    def __post_init__(self):
        """Every setting checked here, at the boundary: TypeError for the wrong kind (a str, None, a bool),
        ValueError for a value out of range, fractional or not finite; the first bad one is named."""
        if not isinstance(self.cell, str):
            raise TypeError(f"invalid sequence-model settings: cell must be a str; got {type(self.cell).__name__}")
        if not isinstance(self.dtype, str):
            raise TypeError(f"invalid sequence-model settings: dtype must be 'float32' or 'float64'; "
                            f"got {type(self.dtype).__name__}")
        bad = [k for k, ok in (("cell", self.cell in CELLS), ("dtype", self.dtype in ("float32", "float64"))) if not ok]
        if bad:
            raise ValueError(f"invalid sequence-model settings: {', '.join(f'{k}={getattr(self, k)!r}' for k in bad)}")
        checks = {name: (lambda v, n=name: as_int(n, v, 1))
                  for name in ("hidden_size", "window", "cuts", "epochs", "patience", "batch_size")}
        checks["seed"] = lambda v: as_int("seed", v, 0)
        checks["lr"] = lambda v: as_scalar("lr", v, low=0, low_open=True)
        checks["clip"] = lambda v: as_scalar("clip", v, low=0, low_open=True)
        for name, check in checks.items():
            try:
                check(getattr(self, name))
            except (TypeError, ValueError) as e:
                raise type(e)(f"invalid sequence-model settings: {name}={getattr(self, name)!r}: {e}") from None
        H = self.hidden_size  # the net's layer (at most 4 gates), its gradients and Adam's two buffers
        check_fits_memory(f"hidden_size={H}", 4 * 4 * H * (len(FEATURES) + H + 2), self.dtype)
        check_fits_memory(f"window={self.window} x batch_size={self.batch_size} x hidden_size={H}",
                          10 * self.window * self.batch_size * (H + len(FEATURES)), self.dtype)


def cut_sequences(h: Histories, level, window):
    """(users, lo, start, stop) of every user's cut at prefix ``level`` (history up to ``window`` long).

    The stretch after the cut runs to the end of level ``level - 1``;
    users whose stretch is empty are left out.
    """
    start, stop = h.ends(level), h.ends(level - 1)
    users = np.flatnonzero(stop > start)
    start, stop = start[users], stop[users]
    return users, np.maximum(start - window, 0), start, stop


@dataclass
class CutSet:
    """Cut sequences with the base (and mu) each one is read against."""

    users: np.ndarray
    lo: np.ndarray
    start: np.ndarray
    stop: np.ndarray
    level: np.ndarray

    def batches(self, batch_size, rng=None):
        """Index arrays of the sequences, grouped by length (little padding), in random order if ``rng``."""
        order = np.argsort(self.stop - self.lo, kind="stable")
        groups = [order[k : k + batch_size] for k in range(0, len(order), batch_size)]
        if rng is not None:
            groups = [groups[k] for k in rng.permutation(len(groups))]
        return groups


def make_cutset(h: Histories, levels, window):
    """Every user's cut at each prefix level in ``levels``, as one CutSet."""
    users, lo, start, stop, level = [], [], [], [], []
    for lv in levels:
        u, a, b, c = cut_sequences(h, lv, window)
        users.append(u), lo.append(a), start.append(b), stop.append(c), level.append(np.full(len(u), lv))
    return CutSet(*(np.concatenate(x) for x in (users, lo, start, stop, level)))


def _inputs(h, bases, mus, cs, idx, dtype):
    """Inputs for sequences ``idx`` of ``cs``; sequences of one batch may use different levels' bases."""
    levels = np.unique(cs.level[idx])
    if len(levels) == 1:
        lv = int(levels[0])
        return make_inputs(h, bases[lv], mus[lv], cs.users[idx], cs.lo[idx], cs.start[idx], cs.stop[idx], dtype)
    parts = [_inputs(h, bases, mus, cs, idx[cs.level[idx] == lv], dtype) for lv in levels]
    T = max(p.x.shape[1] for p in parts)

    def pad(a, value=0):
        widths = [(0, 0), (0, T - a.shape[1])] + [(0, 0)] * (a.ndim - 2)
        return np.pad(a, widths, constant_values=value)

    return Inputs(*(np.concatenate([pad(getattr(p, name), -1 if name == "rows" else 0) for p in parts])
                    for name in ("x", "mask", "score", "target", "base", "rating", "rows")))


def predict_cuts(net: CorrectionNet, h, bases, mus, cs: CutSet, batch_size=256):
    """(rows, prediction clipped to [1, 5], rating) of every scored step of ``cs``."""
    rows, preds, targets = [], [], []
    for idx in cs.batches(batch_size):
        inp = _inputs(h, bases, mus, cs, idx, net.dtype)
        corr = net.forward(inp.x, inp.mask)[0]
        s = inp.score > 0
        rows.append(inp.rows[s])
        preds.append(np.clip(inp.base[s] + corr[s].astype(np.float64), 1.0, 5.0))
        targets.append(inp.rating[s])
    return np.concatenate(rows), np.concatenate(preds), np.concatenate(targets)


def score_cuts(net, h, bases, mus, cs, batch_size=256):
    """RMSE, MAE and count of the predictions for ``cs``."""
    _, pred, target = predict_cuts(net, h, bases, mus, cs, batch_size)
    return {"rmse": rmse(pred, target), "mae": mae(pred, target), "n": int(len(pred))}


@dataclass
class TrainLog:
    history: list = field(default_factory=list)
    best_epoch: int = 0
    best_val_rmse: float = math.inf


def train_corrector(net: CorrectionNet, h, bases, mus, train_cuts: CutSet, config: SequenceConfig, *, epochs=None,
                    val_cuts: CutSet | None = None, log=print):
    """Adam on ``train_cuts``; with ``val_cuts``, keep the parameters of the best validation epoch.

    ``epochs`` (default ``config.epochs``) passes; with ``val_cuts`` the
    run stops after ``config.patience`` epochs without improvement.

    Returns
    -------
    TrainLog
        Per-epoch training MSE (and validation RMSE), the best epoch.

    Raises
    ------
    TrainingError
        NaN or inf in the loss or a gradient, naming the epoch and step; the
        net keeps the best parameters seen so far.
    """
    epochs = config.epochs if epochs is None else epochs
    rng = np.random.default_rng([config.seed, 1])
    opt = Adam(net.params, lr=config.lr)
    result = TrainLog()
    best = {k: v.copy() for k, v in net.params.items()}
    if val_cuts is not None:
        result.best_val_rmse = score_cuts(net, h, bases, mus, val_cuts)["rmse"]
        result.history.append({"epoch": 0, "train_mse": None, "val_rmse": result.best_val_rmse, "elapsed": 0.0})
    start, stale = time.perf_counter(), 0
    for epoch in range(1, epochs + 1):
        total = count = 0.0
        for step, idx in enumerate(train_cuts.batches(config.batch_size, rng), 1):
            inp = _inputs(h, bases, mus, train_cuts, idx, net.dtype)
            try:  # every part refuses an overflow (FloatingPointError): named here with where it happened
                loss = net.loss(inp)
                if not math.isfinite(loss) or not all(np.isfinite(g).all() for g in net.grads.values()):
                    raise FloatingPointError("NaN or inf in the loss or a gradient")
                clip_grad_norm(net.grads, config.clip)
                opt.step(net.grads)
            except FloatingPointError as e:
                for k, v in best.items():
                    net.params[k][...] = v
                raise TrainingError(f"NaN or inf in the loss or a gradient at epoch {epoch}, step {step} "
                                    f"({e}); the net keeps the parameters of epoch {result.best_epoch}") from e
            n = float(inp.score.sum())
            total, count = total + loss * n, count + n
        entry = {"epoch": epoch, "train_mse": total / count, "elapsed": time.perf_counter() - start}
        if val_cuts is not None:
            entry["val_rmse"] = score_cuts(net, h, bases, mus, val_cuts)["rmse"]
        result.history.append(entry)
        improved = val_cuts is None or entry["val_rmse"] < result.best_val_rmse
        if log:
            val = f"  val RMSE {entry['val_rmse']:.4f}{'  *' if improved else '   '}" if val_cuts is not None else ""
            log(f"epoch {epoch:2d}  train MSE {entry['train_mse']:.4f}{val}  {entry['elapsed']:6.1f} s")
        if improved:
            result.best_epoch, stale = epoch, 0
            if val_cuts is not None:
                result.best_val_rmse = entry["val_rmse"]
                best = {k: v.copy() for k, v in net.params.items()}
        else:
            stale += 1
            if stale >= config.patience:
                break
    if val_cuts is not None:
        for k, v in best.items():
            net.params[k][...] = v
    return result
