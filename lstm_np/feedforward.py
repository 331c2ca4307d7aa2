"""The feed-forward layers around the recurrent ones: embedding and dense head.

Each layer has ``params`` and ``grads`` dicts of arrays (same names), a
``forward`` that returns its output and a cache, and a ``backward`` that
takes the gradient of the loss at the output, stores the parameter
gradients in ``grads`` (overwriting them) and returns the gradient at the
input. The losses are in ``lstm_np.losses``.

A refused call changes nothing: ``backward`` checks its cache (what
``forward`` returned) and ``dout`` first, computes the gradients into new
arrays, checks that they are finite (float32 can overflow), and only then
overwrites ``grads``.
"""

from __future__ import annotations

import numpy as np

from ._checks import (as_float_array, as_float_dtype, as_ids, as_rng, as_scalar, check_finite, check_fits_memory,
                      check_sizes)

__all__ = ["Embedding", "Dense"]


class Embedding:
    """A lookup table: row ``W[id]`` for each integer id.

    Mathematically ``onehot(ids) @ W``; computed as row indexing, and the
    backward pass scatter-adds the output gradient into the rows used, so an
    id that appears several times in a batch collects all its gradients.

    Parameters
    ----------
    num : int
        Number of ids (rows of ``W``).
    dim : int
        Size of each embedding vector.
    rng : numpy.random.Generator or int or None
        Initial weights are N(0, 0.1^2).
    dtype : float32 or float64

    Attributes
    ----------
    params : ``{"W": (num, dim)}``
    grads : ``{"W": (num, dim)}``
    """

    def __init__(self, num, dim, *, rng=None, dtype=np.float64, scale=0.1):
        check_sizes(num=num, dim=dim)
        scale = as_scalar("scale", scale, low=0)
        self.num, self.dim = int(num), int(dim)
        self.dtype = as_float_dtype(dtype)
        check_fits_memory(f"Embedding(num={self.num}, dim={self.dim})", 3 * self.num * self.dim)  # drawn in float64
        W = as_rng(rng).normal(0.0, scale, size=(self.num, self.dim))
        self.params = {"W": W.astype(self.dtype)}
        self.grads = {"W": np.zeros_like(self.params["W"])}

    def forward(self, ids):
        """Look up ``ids`` (any shape S, integers in [0, num)); returns ((*S, dim), cache)."""
        ids = as_ids("ids", ids, self.num)
        return self.params["W"][ids], ids

    def backward(self, dout, ids):
        """Scatter-add ``dout`` (*S, dim) into ``grads["W"]``; ids get no gradient (returns None).

        ``ids`` is the cache ``forward`` returned (the checked int64 ids).
        """
        if not isinstance(ids, np.ndarray) or ids.dtype != np.int64:
            raise TypeError(f"cache (ids) must be the int64 id array forward returned; got "
                            f"{type(ids).__name__}{' ' + str(ids.dtype) if isinstance(ids, np.ndarray) else ''}")
        ids = as_ids("cache (ids)", ids, self.num)
        dims = tuple(f"S{k}" for k in range(ids.ndim)) + ("dim",)
        dout = as_float_array("dout", dout, dims, ids.shape + (self.dim,), self.dtype)
        dW = np.zeros_like(self.grads["W"])
        with np.errstate(over="ignore", invalid="ignore"):
            np.add.at(dW, ids.reshape(-1), dout.reshape(-1, self.dim))
        check_finite("Embedding.backward", **{'grads["W"]': dW})
        self.grads["W"][...] = dW
        return None


class Dense:
    """Affine map ``y = h W + b`` over the last axis (the rating-regression head).

    Parameters
    ----------
    in_features, out_features : int
    rng : numpy.random.Generator or int or None
        ``W`` is Glorot-uniform; ``b`` starts at ``bias`` (e.g. the mean rating).
    dtype : float32 or float64

    Attributes
    ----------
    params : ``{"W": (in_features, out_features), "b": (out_features,)}``
    grads : same names and shapes
    """

    def __init__(self, in_features, out_features, *, rng=None, dtype=np.float64, bias=0.0):
        check_sizes(in_features=in_features, out_features=out_features)
        bias = as_scalar("bias", bias)
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.dtype = as_float_dtype(dtype)
        check_fits_memory(f"Dense(in_features={self.in_features}, out_features={self.out_features})",
                          3 * (self.in_features + 1) * self.out_features)
        a = np.sqrt(6.0 / (self.in_features + self.out_features))
        W = as_rng(rng).uniform(-a, a, size=(self.in_features, self.out_features))
        self.params = {
            "W": W.astype(self.dtype),
            "b": np.full(self.out_features, bias, dtype=self.dtype),
        }
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def forward(self, h):
        """``h`` (*S, in_features) -> (``y`` (*S, out_features), cache)."""
        h = as_float_array("h", h, ("...", "in_features"), (None, self.in_features), self.dtype)
        with np.errstate(over="ignore", invalid="ignore"):
            y = h @ self.params["W"] + self.params["b"]
        check_finite("Dense.forward", y=y)
        return y, h

    def backward(self, dy, h):
        """``dy`` (*S, out_features) -> ``dh`` (*S, in_features); sets ``grads``.

        ``h`` is the cache ``forward`` returned (its input, in the layer's dtype).
        """
        if not isinstance(h, np.ndarray):
            raise TypeError(f"cache (h) must be the array forward returned; got {type(h).__name__}")
        h = as_float_array("cache (h)", h, ("...", "in_features"), (None, self.in_features), self.dtype)
        dims = tuple(f"S{k}" for k in range(h.ndim - 1)) + ("out_features",)
        dy = as_float_array("dy", dy, dims, h.shape[:-1] + (self.out_features,), self.dtype)
        h2 = h.reshape(-1, self.in_features)
        dy2 = dy.reshape(-1, self.out_features)
        with np.errstate(over="ignore", invalid="ignore"):
            dW, db, dh = h2.T @ dy2, dy2.sum(axis=0), dy @ self.params["W"].T
        check_finite("Dense.backward", **{'grads["W"]': dW, 'grads["b"]': db, "dh": dh})
        self.grads["W"][...] = dW
        self.grads["b"][...] = db
        return dh
