"""Attention for every position of a sequence at once: the reference step (``cells.attention``) batched.

The reference step attends from one query per row. A next-item model needs
a query at every position t of a sequence, each with its own set of visible
history steps (the steps at or before t, within a window), so here the
queries are (B, T, Hq) and the mask is (B, T, S): ``mask[b, t, j] = 1`` when
query t of row b may see key j. Every equation is the reference's, with one
more batch axis t; ``tests/test_attention.py`` checks, in float64, that the
outputs and every gradient equal the reference step run query by query.

The one difference from the reference: 1/sqrt(H) is taken with ``math.sqrt``,
a Python float, because NumPy 2 treats ``np.sqrt(H)`` (a float64 scalar) as
float64 and would silently upcast a float32 model.

``causal_window_mask`` builds the usual mask: query t sees the keys at
positions t - window + 1 .. t that are real.
"""

from __future__ import annotations

import math

import numpy as np

from .._checks import as_rng
from ..cells.attention import SCORES, masked_softmax

__all__ = ["Attention", "causal_window_mask"]


def causal_window_mask(key_mask, query_pos, key_pos, window):
    """(B, T, S) 0/1: query t sees key j when ``0 <= query_pos[t] - key_pos[j] < window`` and key j is real.

    Parameters
    ----------
    key_mask : (B, S) 0/1
    query_pos : (T,) or (B, T) int
        The position of each query in the sequence (per row, or the same for every row).
    key_pos : (S,) int
        The position of each key.
    window : int >= 1
    """
    lag = np.asarray(query_pos)[..., :, None] - np.asarray(key_pos)       # (T, S) or (B, T, S)
    visible = (lag >= 0) & (lag < window)
    return (visible & (np.asarray(key_mask)[:, None, :] > 0)).astype(np.float64)


class Attention:
    """Scores, masked softmax and weighted sum for queries (B, T, Hq) over keys (B, S, H).

    Parameters
    ----------
    query_size, key_size : int
        Hq and H (``score="dot"`` needs them equal).
    score : "dot" or "additive"
        s = q . k / sqrt(H), or s = v . tanh(q Wq + k Wk) (``cells.attention``).
    attn_size : int
        A, the additive score's hidden size (ignored for "dot").
    rng, dtype :
        The additive score's parameters: Wq, Wk ~ N(0, 1/fan_in), v ~ N(0, 1/A).

    Attributes
    ----------
    params, grads : dict
        ``{}`` for "dot"; ``{"Wq": (Hq, A), "Wk": (H, A), "v": (A,)}`` for "additive".
    """

    def __init__(self, query_size, key_size, score="dot", attn_size=None, *, rng=None, dtype=np.float64):
        if score not in SCORES:
            raise ValueError(f"score must be one of {SCORES}; got {score!r}")
        if score == "dot" and query_size != key_size:
            raise ValueError(f"dot-product attention needs query_size == key_size; got {query_size} and {key_size}")
        self.score, self.dtype = score, np.dtype(dtype)
        self.params = {}
        if score == "additive":
            rng = as_rng(rng)
            A = key_size if attn_size is None else attn_size
            self.params = {"Wq": rng.normal(0, query_size**-0.5, (query_size, A)).astype(self.dtype),
                           "Wk": rng.normal(0, key_size**-0.5, (key_size, A)).astype(self.dtype),
                           "v": rng.normal(0, A**-0.5, A).astype(self.dtype)}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def _check(self, Q, K, V, mask):
        """Shapes, dtypes and finiteness, before anything is computed (``TypeError``/``ValueError`` naming the array)."""
        for name, a in (("Q", Q), ("K", K), ("V", V), ("mask", mask)):
            if not isinstance(a, np.ndarray):
                raise TypeError(f"{name} must be a NumPy array; got {type(a).__name__}")
            if a.ndim != 3:
                raise ValueError(f"{name} has shape {a.shape}; expected 3 axes ({'B, T, S' if name == 'mask' else 'B, *, size'})")
        for name, a in (("Q", Q), ("K", K), ("V", V)):
            if a.dtype != self.dtype:
                raise TypeError(f"{name} has dtype {a.dtype}; expected {self.dtype}, the attention's dtype")
        B, T, S = Q.shape[0], Q.shape[1], K.shape[1]
        if K.shape[0] != B or V.shape[:2] != (B, S) or mask.shape != (B, T, S):
            raise ValueError(f"Q {Q.shape}, K {K.shape}, V {V.shape}, mask {mask.shape}: expected (B, T, Hq), (B, S, H), "
                             f"(B, S, Dv) and (B, T, S) with one B, T and S")
        want_q = K.shape[2] if self.score == "dot" else self.params["Wq"].shape[0]
        want_k = self.params["Wk"].shape[0] if self.score == "additive" else Q.shape[2]
        if Q.shape[2] != want_q or K.shape[2] != want_k:
            raise ValueError(f"Q has size {Q.shape[2]} and K {K.shape[2]}; expected {want_q} and {want_k}")
        if not (np.isfinite(Q).all() and np.isfinite(K).all() and np.isfinite(V).all()):
            raise ValueError("Q, K or V holds NaN or inf")

    def forward(self, Q, K, V, mask):
        """a (B, T, Dv), alpha (B, T, S), cache: query t of row b over the keys its ``mask[b, t]`` lets it see.

        Raises ``TypeError``/``ValueError`` (naming the array) for a wrong type, dtype, shape, or NaN/inf.
        """
        self._check(Q, K, V, mask)
        H = K.shape[-1]
        if self.score == "dot":
            u = None
            s = Q @ K.transpose(0, 2, 1) / math.sqrt(H)                         # (B, T, H)(B, H, S)
        else:
            u = np.tanh((Q @ self.params["Wq"])[:, :, None, :] + (K @ self.params["Wk"])[:, None, :, :])
            s = u @ self.params["v"]                                           # (B, T, S, A)(A,)
        alpha = masked_softmax(s, mask).astype(self.dtype, copy=False)
        a = alpha @ V                                                          # (B, T, S)(B, S, Dv)
        return a, alpha, (Q, K, V, u, alpha)

    def backward(self, da, cache):
        """dQ (B, T, Hq), dK (B, S, H), dV (B, S, Dv); the parameters' gradients into ``grads`` (overwritten)."""
        if not (isinstance(cache, tuple) and len(cache) == 5):
            raise TypeError("cache must be the tuple this Attention's forward returned")
        Q, K, V, u, alpha = cache
        if not isinstance(da, np.ndarray) or da.shape != alpha.shape[:2] + V.shape[2:] or da.dtype != self.dtype:
            raise ValueError(f"da must be a {self.dtype} array of shape {alpha.shape[:2] + V.shape[2:]} (B, T, Dv); got "
                             f"{getattr(da, 'dtype', type(da).__name__)} {getattr(da, 'shape', '')}")
        if not np.isfinite(da).all():
            raise ValueError("da holds NaN or inf")
        H = K.shape[-1]
        dV = alpha.transpose(0, 2, 1) @ da                                     # sum over the queries t
        dalpha = da @ V.transpose(0, 2, 1)                                     # (B, T, S)
        ds = alpha * (dalpha - np.sum(alpha * dalpha, axis=-1, keepdims=True))
        if self.score == "dot":
            dQ = ds @ K / math.sqrt(H)
            dK = ds.transpose(0, 2, 1) @ Q / math.sqrt(H)
            return dQ, dK, dV
        self.grads["v"][...] = np.einsum("bts,btsa->a", ds, u)
        dp = ds[..., None] * self.params["v"] * (1 - u**2)                     # (B, T, S, A)
        dp_q, dp_k = dp.sum(axis=2), dp.sum(axis=1)                            # (B, T, A), (B, S, A)
        dQ = dp_q @ self.params["Wq"].T
        dK = dp_k @ self.params["Wk"].T
        self.grads["Wq"][...] = np.einsum("bth,bta->ha", Q, dp_q)
        self.grads["Wk"][...] = np.einsum("bsh,bsa->ha", K, dp_k)
        return dQ, dK, dV
