"""The sequence recommender: item embedding -> LSTM -> dense head, plus rating biases.

At step t of a user's time-ordered history the model reads

    x_t = [ E[item_t],  r_{t-1} - mu,  known_{t-1} ]          (E + 2 features)

the embedding of the item to be rated now, and the previous rating when it
may be seen (``known`` = 0 marks a rating the model may not use: padding, or
a held-out stretch; see ``sequences.make_batch``). The LSTM's hidden state
h_t summarises the user's history together with the item at hand, and

    r_hat_t = h_t W + b  +  b_item[item_t]  +  b_user[user]

The two bias tables hold the classic item and user effects. They start from
the regularised bias baseline (``init_biases``) and the head's W from zero,
so before training the model predicts exactly what the baseline does, and
training teaches the LSTM what the order of a user's ratings adds.
"""

from __future__ import annotations

import numpy as np

from .._checks import as_rng
from ..sequence import GRU, LSTM, RNN
from ..feedforward import Dense, Embedding
from ..losses import masked_mse
from .sequences import UNKNOWN_ITEM, Batch

__all__ = ["RatingModel", "CELLS"]

#: The recurrent layers the model can use; they share ``forward(x, mask=...)``
#: and ``backward(dout, cache)``, and differ only in their state (the LSTM
#: carries (h, c), the others h).
CELLS = {"lstm": LSTM, "gru": GRU, "rnn": RNN}


class RatingModel:
    """Predicts each step's rating from the user's earlier items and ratings.

    Parameters
    ----------
    num_items : int
        Rows of the item tables; row 0 (``UNKNOWN_ITEM``) is shared by the
        items with no training rating.
    num_users : int
    mean : float
        Mean training rating mu: the head's bias, and the centre of the
        ratings fed back as input.
    embed_dim : int
        E, size of the item embedding.
    hidden_size : int
        H, LSTM hidden units.
    rng : numpy.random.Generator or int
    dtype : float32 or float64
    cell : "lstm", "gru" or "rnn"
        The recurrent layer (``CELLS``); the rest of the model is the same.

    Attributes
    ----------
    layers : dict of name -> layer
        ``item_embed``, the recurrent layer (named after ``cell``), ``head``,
        ``item_bias``, ``user_bias``.
    params, grads : dict of "layer.param" -> ndarray
        The layers' own arrays (not copies): optimizers update the layers.
    config : dict
        The constructor's arguments, as saved with the model.
    """

    def __init__(self, num_items, num_users, mean, *, embed_dim=32, hidden_size=64, rng=0, dtype=np.float64,
                 cell="lstm"):
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {sorted(CELLS)}; got {cell!r}")
        rng = as_rng(rng)
        self.dtype = np.dtype(dtype)
        self.mean = float(mean)
        self.cell = cell
        self.config = {
            "num_items": int(num_items), "num_users": int(num_users), "mean": self.mean,
            "embed_dim": int(embed_dim), "hidden_size": int(hidden_size), "dtype": self.dtype.name, "cell": cell,
        }
        self.layers = {
            "item_embed": Embedding(num_items, embed_dim, rng=rng, dtype=dtype),
            cell: CELLS[cell](embed_dim + 2, hidden_size, rng=rng, dtype=dtype),
            "head": Dense(hidden_size, 1, rng=rng, dtype=dtype, bias=mean),
            "item_bias": Embedding(num_items, 1, rng=rng, dtype=dtype, scale=0.0),
            "user_bias": Embedding(num_users, 1, rng=rng, dtype=dtype, scale=0.0),
        }
        self.layers["head"].params["W"][...] = 0.0
        self.params = {f"{n}.{k}": v for n, layer in self.layers.items() for k, v in layer.params.items()}
        self.grads = {f"{n}.{k}": v for n, layer in self.layers.items() for k, v in layer.grads.items()}

    def init_biases(self, mu, b_item, b_user):
        """Start from a bias model: head bias mu, item biases (I,), user biases (U,).

        Row ``UNKNOWN_ITEM`` of ``b_item`` should be 0: an unseen item gets no
        item effect until the sequence says otherwise.
        """
        self.params["head.b"][...] = mu
        self.params["item_bias.W"][:, 0] = b_item
        self.params["user_bias.W"][:, 0] = b_user
        self.params["item_bias.W"][UNKNOWN_ITEM] = 0.0

    # ------------------------------------------------------------------ forward / backward

    def inputs(self, batch: Batch):
        """The LSTM's input x (B, T, E + 2) and the embedding's cache."""
        e, e_cache = self.layers["item_embed"].forward(batch.items)
        x = np.concatenate([e, batch.prev_rating[..., None], batch.prev_known[..., None]], axis=-1)
        return x, e_cache

    def forward(self, batch: Batch, state=None):
        """Predicted ratings (B, T) for every step of ``batch``, and a cache.

        ``state`` starts the recurrent layer from a given state (see
        ``recommend``): ``(h0, c0)`` for the LSTM, ``h0`` for the others; the
        final state is the last entry of the cache.
        """
        L = self.layers
        x, e_cache = self.inputs(batch)
        if self.cell == "lstm":
            h0, c0 = (None, None) if state is None else state
            out, state, lstm_cache = L["lstm"].forward(x, h0, c0, mask=batch.step_mask)
        else:
            out, state, lstm_cache = L[self.cell].forward(x, state, mask=batch.step_mask)
        y, head_cache = L["head"].forward(out)
        bi, bi_cache = L["item_bias"].forward(batch.items)
        bu, bu_cache = L["user_bias"].forward(batch.users)
        pred = y[..., 0] + bi[..., 0] + bu
        return pred, (e_cache, lstm_cache, head_cache, bi_cache, bu_cache, state)

    def backward(self, dpred, cache):
        """Fill ``grads`` from dL/dpred (B, T)."""
        e_cache, lstm_cache, head_cache, bi_cache, bu_cache, _ = cache
        L = self.layers
        dout = L["head"].backward(dpred[..., None], head_cache)
        L["item_bias"].backward(dpred[..., None], bi_cache)
        L["user_bias"].backward(dpred.sum(axis=1, keepdims=True), bu_cache)
        dx = L[self.cell].backward(dout, lstm_cache)[0]
        L["item_embed"].backward(dx[..., : L["item_embed"].dim], e_cache)

    def loss(self, batch: Batch):
        """Masked MSE over the scored steps; fills ``grads`` and returns the loss."""
        pred, cache = self.forward(batch)
        loss, dpred = masked_mse(pred, batch.target, batch.score_mask)
        self.backward(dpred, cache)
        return loss

    def predict(self, batch: Batch):
        """Predicted ratings (B, T), clipped to [1, 5]."""
        return np.clip(self.forward(batch)[0], 1.0, 5.0)
