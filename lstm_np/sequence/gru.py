"""The GRU over a whole sequence: forward, backpropagation through time,
masks, initial state, and weight exchange with PyTorch and Keras.

The equations of one step, and the reason the GRU has two bias vectors, are
in ``lstm_np.cells.gru``; this module computes the same numbers for a whole
sequence, laid out like ``lstm_np.sequence.lstm``: one GEMM for the input
projections of all T steps, one recurrent GEMM per step with the element-wise
work done by ``fused.gru_gates_forward`` into the cache's arrays, and a
backward pass that collects ``da_t`` and ``du_t`` for every step
(``fused.gru_gates_backward``) and then forms the weight gradients and
``dx`` with one GEMM each.

Parameters (``GRU.params``; gradients under the same names in ``GRU.grads``)::

    Wx : (D, 3H)   input weights         a = x Wx + bx
    Wh : (H, 3H)   recurrent weights     u = h_prev Wh + bh
    bx : (3H,)     input bias
    bh : (3H,)     recurrent bias

Gate order in every fused array is **r, z, n**, PyTorch's order (Keras uses
z, r, n; ``GRU`` converts).

Masks mean the same as for the LSTM: at a padded step (``mask[b, t] = 0``)
the state passes through unchanged, the output is zero, and no gradient is
received or passed.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._checks import as_float_array, as_sequence, as_state, check_cache, check_finite
from ..cells.gru import GATES
from ._base import RecurrentLayer, orthogonal, read_keras_weights, read_torch_state
from .fused import gru_gates_backward as gates_backward
from .fused import gru_gates_forward as gates_forward

__all__ = [
    "GATES",
    "GRU",
    "GRUCache",
    "gru_forward",
    "gru_backward",
    "init_gru_params",
]

# Keras's gate order (its "h" is our candidate n).
_KERAS_GATES = ("z", "r", "n")


# --------------------------------------------------------------------------- the sequence


class GRUCache(NamedTuple):
    """What the forward pass keeps for backward (time-major arrays)."""

    x: np.ndarray        # (T*B, D)    inputs, time-major, flattened
    act: np.ndarray      # (T, B, 3H)  gate activations r, z, n
    u_n: np.ndarray      # (T, B, H)   candidate's recurrent projection h_prev Wh_n + bh_n
    hs: np.ndarray       # (T+1, B, H) carried hidden state; hs[0] = h0
    mask: np.ndarray | None  # (T, B, 1) or None
    Wx: np.ndarray
    Wh: np.ndarray


def gru_forward(x, Wx, Wh, bx, bh, h0, mask=None):
    """Run the GRU over a sequence (no argument checks: see ``GRU.forward``).

    Parameters
    ----------
    x : (B, T, D) ndarray
    Wx : (D, 3H), Wh : (H, 3H), bx : (3H,), bh : (3H,) ndarray
    h0 : (B, H) ndarray
        Initial state.
    mask : (B, T) ndarray of 0/1 in x's dtype, optional

    Returns
    -------
    out : (B, T, H) ndarray
        Hidden state after each step (zero at padded steps).
    h_T : (B, H) ndarray
        Final state (carried through trailing padded steps).
    cache : GRUCache
    """
    B, T, D = x.shape
    H = Wh.shape[0]
    xt = x.transpose(1, 0, 2).copy().reshape(T * B, D)  # a copy even where B or T is 1: the cache keeps it
    # One GEMM for the input projections of every step; the per-step loop
    # then overwrites each slice with that step's activations r, z, n.
    act = (xt @ Wx + bx).reshape(T, B, 3 * H)
    u_n = np.empty((T, B, H), dtype=x.dtype)
    hs = np.empty((T + 1, B, H), dtype=x.dtype)
    hs[0] = h0
    m = None if mask is None else np.ascontiguousarray(mask.T)[:, :, None]

    for t in range(T):
        u = hs[t] @ Wh + bh
        _, h = gates_forward(act[t], u, hs[t], out=act[t])
        u_n[t] = u[:, 2 * H :]
        if m is None:
            hs[t + 1] = h
        else:  # a padded step carries the previous state through unchanged
            np.copyto(hs[t + 1], np.where(m[t], h, hs[t]))

    out = hs[1:] if m is None else hs[1:] * m
    out = out.transpose(1, 0, 2).copy()  # never a view of the cache, even where B or T is 1
    return out, hs[T].copy(), GRUCache(xt, act, u_n, hs, m, Wx, Wh)


def gru_backward(dout, cache, dh_T=None):
    """Backpropagation through time (no argument checks: see ``GRU.backward``).

    Parameters
    ----------
    dout : (B, T, H) ndarray
        Gradient of the loss with respect to ``out``.
    cache : GRUCache
        From ``gru_forward``.
    dh_T : (B, H) ndarray, optional
        Gradient arriving at the final state (e.g. from a later chunk).

    Returns
    -------
    dx : (B, T, D) ndarray
    dh0 : (B, H) ndarray
    grads : dict
        ``{"Wx": (D, 3H), "Wh": (H, 3H), "bx": (3H,), "bh": (3H,)}``.
    """
    xt, act, u_n, hs, m, Wx, Wh = cache
    T, B, H3 = act.shape
    H = H3 // 3
    D = xt.shape[1]
    dout_t = dout.transpose(1, 0, 2)  # (T, B, H) view, never written to
    da, du = np.empty_like(act), np.empty_like(act)
    dh = np.zeros((B, H), dtype=act.dtype) if dh_T is None else dh_T.copy()

    for t in reversed(range(T)):
        dh_t = dh + dout_t[t]  # from the next step and from this step's output
        if m is None:
            _, _, dh_direct = gates_backward(dh_t, act[t], u_n[t], hs[t], out_a=da[t], out_u=du[t])
            dh = du[t] @ Wh.T + dh_direct
        else:
            # Where m = 0 the carried state is the previous one: the gradient
            # skips the step, and the step's own output gradient is dropped.
            _, _, dh_direct = gates_backward(m[t] * dh_t, act[t], u_n[t], hs[t], out_a=da[t], out_u=du[t])
            dh = du[t] @ Wh.T + dh_direct + (1 - m[t]) * dh

    da_flat, du_flat = da.reshape(T * B, H3), du.reshape(T * B, H3)
    grads = {
        "Wx": xt.T @ da_flat,
        "Wh": hs[:-1].reshape(T * B, H).T @ du_flat,
        "bx": da_flat.sum(axis=0),
        "bh": du_flat.sum(axis=0),
    }
    dx = (da_flat @ Wx.T).reshape(T, B, D).transpose(1, 0, 2)
    return np.ascontiguousarray(dx), dh, grads


def init_gru_params(input_size, hidden_size, rng, dtype=np.float64):
    """Initial parameters: Glorot-uniform Wx, orthogonal Wh blocks, zero biases.

    Each gate's block of ``Wx`` is drawn from U(-a, a) with
    a = sqrt(6 / (D + H)); each gate's block of ``Wh`` is a random orthogonal
    (H, H) matrix; ``bx`` and ``bh`` are zero.

    Parameters
    ----------
    input_size, hidden_size : int
        D and H.
    rng : numpy.random.Generator
    dtype : float32 or float64

    Returns
    -------
    dict
        ``{"Wx": (D, 3H), "Wh": (H, 3H), "bx": (3H,), "bh": (3H,)}``.
    """
    D, H = input_size, hidden_size
    a = np.sqrt(6.0 / (D + H))
    Wx = rng.uniform(-a, a, size=(D, 3 * H))
    Wh = np.concatenate([orthogonal(H, rng) for _ in GATES], axis=1)
    return {
        "Wx": Wx.astype(dtype),
        "Wh": Wh.astype(dtype),
        "bx": np.zeros(3 * H, dtype),
        "bh": np.zeros(3 * H, dtype),
    }


def _reorder_gates(a, src, dst, axis):
    """Permute the three gate blocks of ``a`` along ``axis`` from order src to dst."""
    blocks = np.split(a, 3, axis=axis)
    return np.concatenate([blocks[src.index(k)] for k in dst], axis=axis)


# --------------------------------------------------------------------------- the layer


class GRU(RecurrentLayer):
    """A single-layer GRU over sequences, with explicit BPTT.

    Same interface as ``RNN`` (and, with its extra cell state, ``LSTM``), so
    models can swap the cell.

    Parameters
    ----------
    input_size : int
        D, features per time step.
    hidden_size : int
        H, hidden units.
    rng : numpy.random.Generator or int or None
        Source of the initial weights (an int is a seed).
    dtype : float32 or float64
        Dtype of the parameters; inputs must have the same dtype.

    Attributes
    ----------
    params : dict of ndarray
        ``"Wx"`` (D, 3H), ``"Wh"`` (H, 3H), ``"bx"`` (3H,), ``"bh"`` (3H,);
        gate order r, z, n. Optimizers update these arrays in place.
    grads : dict of ndarray
        Same names and shapes; overwritten by each ``backward``.

    Examples
    --------
    >>> gru = GRU(input_size=3, hidden_size=4, rng=0)
    >>> x = np.random.default_rng(1).standard_normal((2, 5, 3))   # (B, T, D)
    >>> out, h, cache = gru.forward(x)
    >>> out.shape, h.shape
    ((2, 5, 4), (2, 4))
    >>> dx, dh0 = gru.backward(np.ones_like(out), cache)
    """

    def __init__(self, input_size, hidden_size, *, rng=None, dtype=np.float64):
        self._setup(input_size, hidden_size, rng, dtype, init_gru_params)

    def forward(self, x, h0=None, mask=None):
        """Run the GRU over a batch of sequences.

        Parameters
        ----------
        x : (B, T, D) ndarray
        h0 : (B, H) ndarray, optional
            Initial hidden state; zeros when omitted.
        mask : (B, T) array of 0/1 (bool, int or float), optional
            1 for a real step, 0 for padding (see the module docstring).

        Returns
        -------
        out : (B, T, H) ndarray
            Hidden state after each step; zero at padded steps.
        h_T : (B, H) ndarray
            Final state, to continue with the next chunk of the sequences.
        cache : GRUCache
            Pass to ``backward``.
        """
        D, H, dt = self.input_size, self.hidden_size, self.dtype
        x, mask = as_sequence(x, mask, D, dt)
        B = x.shape[0]
        h0 = as_state("h0", h0, B, H, dt)
        p = self.params
        return gru_forward(x, p["Wx"], p["Wh"], p["bx"], p["bh"], h0, mask)

    def backward(self, dout, cache, dh_T=None):
        """Backpropagation through time; stores the parameter gradients in ``grads``.

        Parameters
        ----------
        dout : (B, T, H) ndarray
            Gradient of the loss with respect to ``out``.
        cache : GRUCache
            From ``forward``.
        dh_T : (B, H) ndarray, optional
            Gradient arriving at the final state (from a later chunk, or a
            loss on ``h_T``).

        Returns
        -------
        dx : (B, T, D) ndarray
        dh0 : (B, H) ndarray
            Gradient for the initial state (pass to the previous chunk).
        """
        D, H, dt = self.input_size, self.hidden_size, self.dtype
        T, B = check_cache(cache, GRUCache, self.params, lambda T, B: {"x": (T * B, D), "act": (T, B, 3 * H), "u_n": (T, B, H), "hs": (T + 1, B, H)}, dt, "GRU")
        dout = as_float_array("dout", dout, ("B", "T", "H"), (B, T, H), dt)
        dh_T = as_state("dh_T", dh_T, B, H, dt, zeros_if_none=False)
        with np.errstate(over="ignore", invalid="ignore"):
            dx, dh0, grads = gru_backward(dout, cache, dh_T)
        check_finite("GRU.backward", dx=dx, dh0=dh0, **{f"grads[{k!r}]": g for k, g in grads.items()})
        for k, g in grads.items():
            self.grads[k][...] = g
        return dx, dh0

    # ------------------------------------------------------------------ weight exchange

    def to_torch(self):
        """Weights as a PyTorch ``nn.GRU`` (single layer) state dict of NumPy arrays.

        PyTorch's rows are in the order r, z, n, like ours, and its two
        biases are exactly ours: ``weight_ih_l0`` (3H, D) = ``Wx^T``,
        ``weight_hh_l0`` (3H, H) = ``Wh^T``, ``bias_ih_l0`` (3H,) = ``bx``,
        ``bias_hh_l0`` (3H,) = ``bh``. (Unlike the LSTM's, the two biases
        cannot be merged: PyTorch applies r to ``W_hn h + b_hn``.)
        """
        p = self.params
        return self._torch_state({
            "weight_ih_l0": p["Wx"].T.copy(),
            "weight_hh_l0": p["Wh"].T.copy(),
            "bias_ih_l0": p["bx"].copy(),
            "bias_hh_l0": p["bh"].copy(),
        })

    @classmethod
    def from_torch(cls, state_dict, dtype=None):
        """Build a GRU from a PyTorch ``nn.GRU`` state dict (single layer).

        Parameters
        ----------
        state_dict : mapping of str to array
            ``weight_ih_l0`` (3H, D), ``weight_hh_l0`` (3H, H) and, unless the
            module had ``bias=False``, ``bias_ih_l0`` and ``bias_hh_l0``
            (3H,), gate order r, z, n. Convert tensors first:
            ``{k: v.detach().numpy() for k, v in m.state_dict().items()}``.
        dtype : float32 or float64, optional
            Defaults to the dtype of ``weight_ih_l0``.

        Returns
        -------
        GRU
            With ``Wx = W_ih^T``, ``Wh = W_hh^T``, ``bx = b_ih``,
            ``bh = b_hh``; its outputs equal the PyTorch module's
            (``batch_first=True``) for the same inputs.
        """
        W_ih, W_hh, b_ih, b_hh = read_torch_state(state_dict, 3, "nn.GRU", dtype)
        layer = cls._from_params(Wx=W_ih.T, Wh=W_hh.T, bx=b_ih, bh=b_hh)
        layer.torch_bias = "bias_ih_l0" in state_dict  # bias=False: to_torch writes no biases back
        return layer

    def to_keras(self):
        """Weights as a Keras ``GRU`` layer's ``get_weights()`` list (``reset_after=True``).

        Keras (default ``reset_after=True``, tanh and sigmoid) computes the
        same function with gate columns in the order z, r, h (h is our n)
        and ``h = z * h_prev + (1 - z) * hh``, the same as PyTorch.

        Returns
        -------
        list of ndarray
            ``[kernel (D, 3H), recurrent_kernel (H, 3H), bias (2, 3H)]``,
            ``bias[0]`` the input bias and ``bias[1]`` the recurrent bias;
            load with ``layer.set_weights(...)``.
        """
        p = self.params
        kernel = _reorder_gates(p["Wx"], GATES, _KERAS_GATES, axis=1)
        rec = _reorder_gates(p["Wh"], GATES, _KERAS_GATES, axis=1)
        bias = np.stack([_reorder_gates(p[k], GATES, _KERAS_GATES, axis=0) for k in ("bx", "bh")])
        return [kernel, rec, bias]

    @classmethod
    def from_keras(cls, weights, dtype=None):
        """Build a GRU from a Keras ``GRU`` layer's ``get_weights()`` list.

        Parameters
        ----------
        weights : sequence of array
            ``[kernel (D, 3H), recurrent_kernel (H, 3H), bias (2, 3H)]``,
            gate order z, r, h, ``bias`` = [input bias, recurrent bias]; the
            bias may be left out (``use_bias=False``). The layer must use
            ``reset_after=True`` (the default; a (3H,) bias means
            ``reset_after=False``, a different function) and the default
            activations (tanh, sigmoid).
        dtype : float32 or float64, optional
            Defaults to the kernel's dtype.

        Returns
        -------
        GRU
            With ``Wx = kernel``, ``Wh = recurrent_kernel``,
            ``bx = bias[0]``, ``bh = bias[1]`` (gate blocks reordered to
            r, z, n).
        """
        kernel, rec, bias, dtype = read_keras_weights(weights, 3, dtype)
        H = rec.shape[0]
        if bias is not None:
            if bias.shape == (3 * H,):
                raise ValueError(
                    f"bias has shape {bias.shape}: a Keras GRU with reset_after=False, which applies r "
                    "before the recurrent matrix; only reset_after=True (the default) is supported"
                )
            bias = as_float_array("bias", bias.astype(dtype), ("2", "3H"), (2, 3 * H), dtype)
        else:
            bias = np.zeros((2, 3 * H), dtype)
        return cls._from_params(
            Wx=_reorder_gates(kernel, _KERAS_GATES, GATES, axis=1),
            Wh=_reorder_gates(rec, _KERAS_GATES, GATES, axis=1),
            bx=_reorder_gates(bias[0], _KERAS_GATES, GATES, axis=0),
            bh=_reorder_gates(bias[1], _KERAS_GATES, GATES, axis=0),
        )

