"""The vanilla RNN over a whole sequence: forward, backpropagation through
time, masks, initial state, and weight exchange with PyTorch and Keras.

The equations of one step are in ``lstm_np.cells.rnn``; this module computes
the same numbers for a whole sequence, laid out like
``lstm_np.sequence.lstm``: one GEMM for the input projections of all T
steps, one recurrent GEMM per step, and a backward pass that collects
``dz_t`` for every step and then forms ``dWx``, ``dWh``, ``db`` and ``dx``
with one GEMM each.

Parameters (``RNN.params``; gradients under the same names in ``RNN.grads``)::

    Wx : (D, H)   input weights          z = x Wx + h_prev Wh + b
    Wh : (H, H)   recurrent weights
    b  : (H,)     bias

Masks mean the same as for the LSTM: at a padded step (``mask[b, t] = 0``)
the state passes through unchanged, the output is zero, and no gradient is
received or passed.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._checks import as_float_array, as_sequence, as_state, check_cache, check_finite
from ._base import RecurrentLayer, orthogonal, read_keras_weights, read_torch_state

__all__ = ["RNN", "RNNCache", "rnn_forward", "rnn_backward", "init_rnn_params"]


# --------------------------------------------------------------------------- the sequence


class RNNCache(NamedTuple):
    """What the forward pass keeps for backward (time-major arrays)."""

    x: np.ndarray        # (T*B, D)    inputs, time-major, flattened
    act: np.ndarray      # (T, B, H)   each step's tanh output (before masking)
    hs: np.ndarray       # (T+1, B, H) carried hidden state; hs[0] = h0
    mask: np.ndarray | None  # (T, B, 1) or None
    Wx: np.ndarray
    Wh: np.ndarray


def rnn_forward(x, Wx, Wh, b, h0, mask=None):
    """Run the RNN over a sequence (no argument checks: see ``RNN.forward``).

    Parameters
    ----------
    x : (B, T, D) ndarray
    Wx : (D, H), Wh : (H, H), b : (H,) ndarray
    h0 : (B, H) ndarray
        Initial state.
    mask : (B, T) ndarray of 0/1 in x's dtype, optional

    Returns
    -------
    out : (B, T, H) ndarray
        Hidden state after each step (zero at padded steps).
    h_T : (B, H) ndarray
        Final state (carried through trailing padded steps).
    cache : RNNCache
    """
    B, T, D = x.shape
    H = Wh.shape[0]
    xt = x.transpose(1, 0, 2).copy().reshape(T * B, D)  # a copy even where B or T is 1: the cache keeps it
    # One GEMM for the input projections of every step; the loop adds the
    # recurrent term and overwrites each slice with that step's tanh output.
    act = (xt @ Wx + b).reshape(T, B, H)
    hs = np.empty((T + 1, B, H), dtype=x.dtype)
    hs[0] = h0
    m = None if mask is None else np.ascontiguousarray(mask.T)[:, :, None]

    for t in range(T):
        z = act[t]
        z += hs[t] @ Wh
        h = np.tanh(z, out=z)
        if m is None:
            hs[t + 1] = h
        else:  # a padded step carries the previous state through unchanged
            np.copyto(hs[t + 1], np.where(m[t], h, hs[t]))

    out = hs[1:] if m is None else hs[1:] * m
    out = out.transpose(1, 0, 2).copy()  # never a view of the cache, even where B or T is 1
    return out, hs[T].copy(), RNNCache(xt, act, hs, m, Wx, Wh)


def rnn_backward(dout, cache, dh_T=None):
    """Backpropagation through time (no argument checks: see ``RNN.backward``).

    Parameters
    ----------
    dout : (B, T, H) ndarray
        Gradient of the loss with respect to ``out``.
    cache : RNNCache
        From ``rnn_forward``.
    dh_T : (B, H) ndarray, optional
        Gradient arriving at the final state (e.g. from a later chunk).

    Returns
    -------
    dx : (B, T, D) ndarray
    dh0 : (B, H) ndarray
    grads : dict
        ``{"Wx": (D, H), "Wh": (H, H), "b": (H,)}``.
    """
    xt, act, hs, m, Wx, Wh = cache
    T, B, H = act.shape
    D = xt.shape[1]
    dout_t = dout.transpose(1, 0, 2)  # (T, B, H) view, never written to
    dz = np.empty_like(act)
    dh = np.zeros((B, H), dtype=act.dtype) if dh_T is None else dh_T.copy()

    for t in reversed(range(T)):
        dh_t = dh + dout_t[t]  # from the next step and from this step's output
        if m is None:
            np.multiply(dh_t, 1.0 - act[t] ** 2, out=dz[t])  # h = tanh(z)
            dh = dz[t] @ Wh.T
        else:
            # Where m = 0 the carried state is the previous one: the gradient
            # skips the step, and the step's own output gradient is dropped.
            np.multiply(m[t] * dh_t, 1.0 - act[t] ** 2, out=dz[t])
            dh = dz[t] @ Wh.T + (1 - m[t]) * dh

    dz_flat = dz.reshape(T * B, H)
    grads = {
        "Wx": xt.T @ dz_flat,
        "Wh": hs[:-1].reshape(T * B, H).T @ dz_flat,
        "b": dz_flat.sum(axis=0),
    }
    dx = (dz_flat @ Wx.T).reshape(T, B, D).transpose(1, 0, 2)
    return np.ascontiguousarray(dx), dh, grads


def init_rnn_params(input_size, hidden_size, rng, dtype=np.float64):
    """Initial parameters: Glorot-uniform Wx, orthogonal Wh, zero bias.

    Parameters
    ----------
    input_size, hidden_size : int
        D and H.
    rng : numpy.random.Generator
    dtype : float32 or float64

    Returns
    -------
    dict
        ``{"Wx": (D, H), "Wh": (H, H), "b": (H,)}``; Wx ~ U(-a, a) with
        a = sqrt(6 / (D + H)), Wh a random orthogonal matrix.
    """
    D, H = input_size, hidden_size
    a = np.sqrt(6.0 / (D + H))
    Wx = rng.uniform(-a, a, size=(D, H))
    Wh = orthogonal(H, rng)
    return {"Wx": Wx.astype(dtype), "Wh": Wh.astype(dtype), "b": np.zeros(H, dtype)}


# --------------------------------------------------------------------------- the layer


class RNN(RecurrentLayer):
    """A single-layer tanh RNN over sequences, with explicit BPTT.

    Same interface as ``GRU`` (and, with its extra cell state, ``LSTM``), so
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
        ``"Wx"`` (D, H), ``"Wh"`` (H, H), ``"b"`` (H,). Optimizers update
        these arrays in place.
    grads : dict of ndarray
        Same names and shapes; overwritten by each ``backward``.

    Examples
    --------
    >>> rnn = RNN(input_size=3, hidden_size=4, rng=0)
    >>> x = np.random.default_rng(1).standard_normal((2, 5, 3))   # (B, T, D)
    >>> out, h, cache = rnn.forward(x)
    >>> out.shape, h.shape
    ((2, 5, 4), (2, 4))
    >>> dx, dh0 = rnn.backward(np.ones_like(out), cache)
    """

    def __init__(self, input_size, hidden_size, *, rng=None, dtype=np.float64):
        self._setup(input_size, hidden_size, rng, dtype, init_rnn_params)

    def forward(self, x, h0=None, mask=None):
        """Run the RNN over a batch of sequences.

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
        cache : RNNCache
            Pass to ``backward``.
        """
        D, H, dt = self.input_size, self.hidden_size, self.dtype
        x, mask = as_sequence(x, mask, D, dt)
        B = x.shape[0]
        h0 = as_state("h0", h0, B, H, dt)
        p = self.params
        return rnn_forward(x, p["Wx"], p["Wh"], p["b"], h0, mask)

    def backward(self, dout, cache, dh_T=None):
        """Backpropagation through time; stores the parameter gradients in ``grads``.

        Parameters
        ----------
        dout : (B, T, H) ndarray
            Gradient of the loss with respect to ``out``.
        cache : RNNCache
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
        T, B = check_cache(cache, RNNCache, self.params, lambda T, B: {"x": (T * B, D), "act": (T, B, H), "hs": (T + 1, B, H)}, dt, "RNN")
        dout = as_float_array("dout", dout, ("B", "T", "H"), (B, T, H), dt)
        dh_T = as_state("dh_T", dh_T, B, H, dt, zeros_if_none=False)
        with np.errstate(over="ignore", invalid="ignore"):
            dx, dh0, grads = rnn_backward(dout, cache, dh_T)
        check_finite("RNN.backward", dx=dx, dh0=dh0, **{f"grads[{k!r}]": g for k, g in grads.items()})
        for k, g in grads.items():
            self.grads[k][...] = g
        return dx, dh0

    # ------------------------------------------------------------------ weight exchange

    def to_torch(self):
        """Weights as a PyTorch ``nn.RNN`` (single layer, tanh) state dict of NumPy arrays.

        PyTorch computes ``h = tanh(x W_ih^T + b_ih + h_prev W_hh^T + b_hh)``:
        ``weight_ih_l0`` (H, D) is ``Wx`` transposed, ``weight_hh_l0`` (H, H)
        is ``Wh`` transposed, ``bias_ih_l0`` (H,) holds ``b`` and
        ``bias_hh_l0`` is zero, since only their sum matters.
        """
        p = self.params
        return self._torch_state({
            "weight_ih_l0": p["Wx"].T.copy(),
            "weight_hh_l0": p["Wh"].T.copy(),
            "bias_ih_l0": p["b"].copy(),
            "bias_hh_l0": np.zeros_like(p["b"]),
        })

    @classmethod
    def from_torch(cls, state_dict, dtype=None):
        """Build an RNN from a PyTorch ``nn.RNN`` state dict (single layer, tanh).

        Parameters
        ----------
        state_dict : mapping of str to array
            ``weight_ih_l0`` (H, D), ``weight_hh_l0`` (H, H) and, unless the
            module had ``bias=False``, ``bias_ih_l0`` and ``bias_hh_l0`` (H,).
            Convert tensors first:
            ``{k: v.detach().numpy() for k, v in m.state_dict().items()}``.
            The module must use ``nonlinearity="tanh"`` (the default; a state
            dict cannot tell).
        dtype : float32 or float64, optional
            Defaults to the dtype of ``weight_ih_l0``.

        Returns
        -------
        RNN
            With ``Wx = W_ih^T``, ``Wh = W_hh^T``, ``b = b_ih + b_hh``.
        """
        W_ih, W_hh, b_ih, b_hh = read_torch_state(state_dict, 1, "nn.RNN", dtype)
        b = b_ih + b_hh
        layer = cls._from_params(Wx=W_ih.T, Wh=W_hh.T, b=b)
        layer.torch_bias = "bias_ih_l0" in state_dict  # bias=False: to_torch writes no biases back
        return layer

    def to_keras(self):
        """Weights as a Keras ``SimpleRNN`` layer's ``get_weights()`` list.

        Keras computes ``h = tanh(x kernel + bias + h_prev recurrent_kernel)``
        (default activation), the same layout as ours.

        Returns
        -------
        list of ndarray
            ``[kernel (D, H), recurrent_kernel (H, H), bias (H,)]``.
        """
        return [self.params[k].copy() for k in ("Wx", "Wh", "b")]

    @classmethod
    def from_keras(cls, weights, dtype=None):
        """Build an RNN from a Keras ``SimpleRNN`` layer's ``get_weights()`` list.

        Parameters
        ----------
        weights : sequence of array
            ``[kernel (D, H), recurrent_kernel (H, H), bias (H,)]``; the bias
            may be left out (``use_bias=False``). Default activation (tanh).
        dtype : float32 or float64, optional
            Defaults to the kernel's dtype.

        Returns
        -------
        RNN
        """
        kernel, rec, bias, dtype = read_keras_weights(weights, 1, dtype)
        H = rec.shape[0]
        bias = np.zeros(H, dtype) if bias is None else as_float_array("bias", bias.astype(dtype), ("H",), (H,), dtype)
        return cls._from_params(Wx=kernel, Wh=rec, b=bias)

