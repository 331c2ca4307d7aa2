"""The next-item model with attention (NARM-style): the last state, and a look back over the history.

The plain model (``nextitem.NextItemNet``) scores the items from the last
state h_t alone: whatever the LSTM kept of the history. NARM (Li et al.,
CIKM 2017) adds a second, *local* view: attention from h_t over the states
of the recent steps, so that the model can pick out the few movies of the
history that matter for what comes next, however long ago the LSTM read
them. At every position t::

    e_j  = E[s_j]                                  item embeddings
    h_j  = LSTM(e_1 .. e_j)                        the states
    a_t  = attend(q = h_t; keys = values = h_j for t - W < j <= t)   cells.attention
    c_t  = [h_t, a_t]                              (2H,) the global and the local view
    u_t  = c_t Wm + bm                             (H,) mixed down to the output layer's size
    z_t  = u_t W + b                               a score per item (W = E^T when tied)

``W`` is ``config.window``; the attention's score rule is
``config.attention`` ("dot": q . k / sqrt(H); "additive": v . tanh(q Wq + k Wk),
NARM's). Training is the plain model's (``train_next_item``): truncated
BPTT in chunks, so at the start of a chunk the keys of the last W - 1
steps of the previous chunk are carried in the state, like the LSTM's own
state, and no gradient flows into them. Scoring a history attends from its
last state over its last W states.

``make_net(num_items, config)`` builds the plain or the attentive model,
as ``config.attention`` says.
"""

from __future__ import annotations

import numpy as np

from .._checks import unchanged_on_error
from ..feedforward import Dense
from ..sequence.attention import Attention, causal_window_mask
from .nextitem import NextItemConfig, NextItemNet

__all__ = ["AttentiveNextItemNet", "make_net"]


def make_net(num_items, config: NextItemConfig | None = None, *, make_layer=None, rng=None):
    """``NextItemNet`` for ``config.attention == "none"``, else ``AttentiveNextItemNet``."""
    config = NextItemConfig() if config is None else config
    cls = NextItemNet if getattr(config, "attention", "none") == "none" else AttentiveNextItemNet
    return cls(num_items, config, make_layer=make_layer, rng=rng)


class AttentiveNextItemNet(NextItemNet):
    """``NextItemNet`` with attention over the last ``config.window`` states (see the module docstring).

    Attributes
    ----------
    params, grads : dict of ndarray
        Those of ``NextItemNet``, plus ``"mix.W"`` (2H, H), ``"mix.b"`` (H,)
        and, for additive attention, ``"attention.Wq"``, ``"attention.Wk"``
        (H, A) and ``"attention.v"`` (A,).
    """

    def __init__(self, num_items, config: NextItemConfig | None = None, *, make_layer=None, rng=None):
        super().__init__(num_items, config, make_layer=make_layer, rng=rng)
        if self.config.attention == "none":
            raise ValueError("AttentiveNextItemNet needs config.attention 'dot' or 'additive'; got 'none' "
                             "(make_net builds the plain model for it)")
        H = self.config.hidden_size
        self.attention = Attention(H, H, self.config.attention, self.config.attn_size, rng=self.rng,
                                   dtype=self.dtype)
        self.mix = Dense(2 * H, H, rng=self.rng, dtype=self.dtype)

    def _parts(self):
        return {**super()._parts(), "attention": self.attention, "mix": self.mix}

    # ------------------------------------------------------------------ forward / backward

    def _memory(self, state, B):
        """The carried state: (the stack's state, keys (B, P, H) of the previous chunk's last steps, their mask)."""
        H, P_max = self.config.hidden_size, self.config.window - 1
        if state is None:
            return None, np.zeros((B, 0, H), self.dtype), np.zeros((B, 0))
        if not (isinstance(state, tuple) and len(state) == 3):
            raise TypeError("state must be None or the state an AttentiveNextItemNet returned: (stack state, keys, "
                            f"key mask); got {type(state).__name__}")
        stack_state, mem, mem_mask = state
        mem, mem_mask = np.asarray(mem), np.asarray(mem_mask)
        if mem.ndim != 3 or mem.shape[0] != B or mem.shape[1] > P_max or mem.shape[2] != H \
                or mem_mask.shape != mem.shape[:2]:
            raise ValueError(f"state's keys have shape {mem.shape} and mask {mem_mask.shape}; expected (B, P, H) = "
                             f"({B}, <= {P_max}, {H}) and (B, P)")
        return stack_state, mem.astype(self.dtype, copy=False), mem_mask

    def _forward(self, ids, mask, state, train, dropout_masks):
        given = dropout_masks or {}
        ids = np.asarray(ids)
        if ids.ndim != 2:
            raise ValueError(f"ids has shape {ids.shape}; expected (B, T)")
        B, T = ids.shape
        H, W = self.config.hidden_size, self.config.window
        stack_state, mem, mem_mask = self._memory(state, B)
        key_mask_now = np.ones((B, T)) if mask is None else np.asarray(mask, dtype=np.float64)
        e, e_cache = self.embedding.forward(ids)
        m_in = self._drop((B, T, self.config.embed_dim), train, given.get("input"))
        x = e if m_in is None else e * m_in
        h, stack_state, s_cache = self.stack.forward(x, stack_state, mask, train=train,
                                                     dropout_masks=given.get("stack"))
        P = mem.shape[1]
        K = np.concatenate([mem, h], axis=1)                                   # (B, P + T, H)
        key_mask = np.concatenate([mem_mask, key_mask_now], axis=1)
        visible = causal_window_mask(key_mask, P + np.arange(T), np.arange(P + T), W)
        a, _, a_cache = self.attention.forward(h, K, K, visible)
        c = np.concatenate([h, a], axis=-1)                                    # (B, T, 2H)
        m_out = self._drop((B, T, 2 * H), train, given.get("output"))
        c_d = c if m_out is None else c * m_out
        u, mix_cache = self.mix.forward(c_d)
        if self.config.tied:
            z, u_cache = u @ self._W_out() + self.head.params["b"], u
        else:
            z, u_cache = self.head.forward(u)
        keep = K.shape[1] - min(W - 1, K.shape[1])
        new_state = (stack_state, K[:, keep:].copy(), key_mask[:, keep:].copy())
        return z, new_state, (e_cache, m_in, s_cache, a_cache, P, m_out, mix_cache, u_cache)

    def backward(self, cache):
        """Gradients of ``loss`` into ``grads`` (none flows into the carried state or keys: truncated BPTT).

        A refused cache leaves every gradient as it was (the head's, the mix's and the attention's, written
        before the recurrent layers check the cache, are put back)."""
        with unchanged_on_error(self.head.grads, self.mix.grads, self.attention.grads):
            self._backward(cache)

    def _backward(self, cache):
        (e_cache, m_in, s_cache, a_cache, P, m_out, mix_cache, u_cache), dz = cache
        H = self.config.hidden_size
        if self.config.tied:
            u2, dz2 = u_cache.reshape(-1, H), dz.reshape(-1, self.num_items)
            du = dz @ self._W_out().T
            dW_emb_out = dz2.T @ u2
            self.head.grads["b"][...] = dz2.sum(axis=0)
        else:
            du = self.head.backward(dz, u_cache)
        dc = self.mix.backward(du, mix_cache)
        if m_out is not None:
            dc = dc * m_out
        dQ, dK, dV = self.attention.backward(dc[..., H:], a_cache)
        dh = dc[..., :H] + dQ + dK[:, P:] + dV[:, P:]                          # h is the query, a key and a value
        dx, _ = self.stack.backward(dh, s_cache)
        if m_in is not None:
            dx = dx * m_in
        self.embedding.backward(dx, e_cache)
        if self.config.tied:
            self.embedding.grads["W"] += dW_emb_out

    # ------------------------------------------------------------------ scoring

    def _attend_last(self, ids, mask):
        """u (B, H) and alpha (B, T): attention from each row's last state over its last ``window`` states."""
        e, _ = self.embedding.forward(ids)
        h, _, _ = self.stack.forward(e, None, mask, train=False)
        n = mask.sum(axis=1).astype(np.int64)
        last = np.maximum(n - 1, 0)
        q = h[np.arange(len(n)), last][:, None, :]                             # (B, 1, H)
        visible = causal_window_mask(mask, last[:, None], np.arange(ids.shape[1]), self.config.window)
        a, alpha, _ = self.attention.forward(q, h, h, visible)
        u, _ = self.mix.forward(np.concatenate([q, a], axis=-1)[:, 0])
        u[n == 0] = 0
        return u, alpha[:, 0]

    def _readout(self, ids, mask):
        return self._attend_last(ids, mask)[0]

    def attention_weights(self, history):
        """(n,) float64: the weight of each step of ``history`` (item ids, oldest first) in the last attention.

        Steps older than the window get 0; the weights sum to 1 (an empty history: an empty array).
        """
        from .ranking import check_histories

        (full,) = check_histories([history], self.num_items)
        hist = full[-self.config.max_len:] if self.config.max_len else full
        if len(hist) == 0:
            return np.zeros(len(full))
        alpha = self._attend_last(hist[None, :], np.ones((1, len(hist))))[1][0].astype(np.float64)
        return np.r_[np.zeros(len(full) - len(hist)), alpha]
